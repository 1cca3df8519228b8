//! By when a case must be handled: the statutory and channel deadlines of the domain brief §4,
//! as a configurable policy. The earliest applicable rule wins and is named on the case.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::{Channel, Need, Urgency, calendar};

/// Deadline policy of one county. Defaults are the domain brief's.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlinePolicy {
    /// Hour (local time) at which a working day's office hours end.
    pub office_close_hour: u32,
    /// An urgent case must be handled within this many hours.
    pub urgent_hours: i64,
    /// A chat must be answered within this many minutes.
    pub chat_answer_minutes: i64,
    /// An e-service message must be answered within this many working days.
    pub e_service_working_days: u32,
    /// Social welfare: service-need assessment starts by this working day (SHL 1301/2014 §36).
    pub social_assessment_working_days: u32,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        Self {
            office_close_hour: 16,
            urgent_hours: 3,
            chat_answer_minutes: 10,
            e_service_working_days: 1,
            social_assessment_working_days: 7,
        }
    }
}

/// What the deadline depends on.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineFacts<'a> {
    pub needs: &'a [Need],
    pub urgency: Urgency,
    pub channel: Channel,
    pub now: DateTime<Utc>,
}

/// A deadline and the rule that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub at: DateTime<Utc>,
    pub rule: &'static str,
}

pub const TZ: Tz = chrono_tz::Europe::Helsinki;

impl DeadlinePolicy {
    /// The earliest of the rules that apply.
    pub fn deadline(&self, f: &DeadlineFacts<'_>) -> Deadline {
        let mut candidates: Vec<Deadline> = Vec::with_capacity(4);
        match f.urgency {
            Urgency::Emergency => {
                return Deadline {
                    at: f.now,
                    rule: "emergency: immediately (112)",
                };
            }
            Urgency::Urgent => candidates.push(Deadline {
                at: f.now + Duration::hours(self.urgent_hours),
                rule: "urgent: same day, within hours",
            }),
            Urgency::Soon | Urgency::Routine => {}
        }
        candidates.push(match f.channel {
            Channel::Phone => Deadline {
                at: self.close_of_working_day(f.now, 0),
                rule: "phone: call-back the same working day",
            },
            Channel::Chat => Deadline {
                at: f.now + Duration::minutes(self.chat_answer_minutes),
                rule: "chat: answered within minutes",
            },
            Channel::EService => Deadline {
                at: self.close_of_working_day(f.now, self.e_service_working_days),
                rule: "e-service: answered within working days",
            },
        });
        if f.needs.iter().any(|n| !n.is_social_welfare()) {
            candidates.push(Deadline {
                at: self.close_of_working_day(f.now, 0),
                rule: "health care: care need assessed the same working day (THL §51)",
            });
        }
        if f.needs.iter().any(|n| n.is_social_welfare()) {
            candidates.push(Deadline {
                at: self.close_of_working_day(f.now, self.social_assessment_working_days),
                rule: "social welfare: assessment by the 7th working day (SHL §36)",
            });
        }
        candidates
            .into_iter()
            .min_by_key(|d| d.at)
            .expect("the channel rule always applies")
    }

    /// Office close of the working day `n` working days from `now` — counting today only if
    /// `now` is a working day before close.
    fn close_of_working_day(&self, now: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let local = now.with_timezone(&TZ);
        let mut day = local.date_naive();
        let close = NaiveTime::from_hms_opt(self.office_close_hour, 0, 0).expect("valid hour");
        if !calendar::is_working_day(day) || local.time() >= close {
            day = calendar::add_working_days(day + Duration::days(1), 0);
        }
        let day = calendar::add_working_days(day, n);
        local_time(day, close)
    }
}

fn local_time(day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    TZ.from_local_datetime(&day.and_time(time))
        .earliest()
        .expect("office hours never fall in a DST gap")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        local_time(
            NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            NaiveTime::from_hms_opt(h, min, 0).unwrap(),
        )
    }

    fn facts(needs: &[Need], urgency: Urgency, channel: Channel, now: DateTime<Utc>) -> Deadline {
        DeadlinePolicy::default().deadline(&DeadlineFacts {
            needs,
            urgency,
            channel,
            now,
        })
    }

    #[test]
    fn emergency_is_now() {
        let now = at(2026, 11, 23, 10, 0);
        let d = facts(
            &[Need::AcuteSymptoms],
            Urgency::Emergency,
            Channel::Chat,
            now,
        );
        assert_eq!(d.at, now);
    }

    #[test]
    fn phone_call_back_same_working_day() {
        // Monday 10:00 → Monday 16:00.
        let d = facts(
            &[Need::Medication],
            Urgency::Routine,
            Channel::Phone,
            at(2026, 11, 23, 10, 0),
        );
        assert_eq!(d.at, at(2026, 11, 23, 16, 0));
        // Friday 17:00 before Independence Day weekend → Monday 7 Dec 2026 16:00.
        let d = facts(
            &[Need::Medication],
            Urgency::Routine,
            Channel::Phone,
            at(2026, 12, 4, 17, 0),
        );
        assert_eq!(d.at, at(2026, 12, 7, 16, 0));
    }

    #[test]
    fn urgent_is_within_hours_and_wins_over_later_rules() {
        let d = facts(
            &[Need::MentalHealth],
            Urgency::Urgent,
            Channel::EService,
            at(2026, 11, 23, 9, 0),
        );
        assert_eq!(d.at, at(2026, 11, 23, 12, 0));
        assert!(d.rule.starts_with("urgent"));
    }

    #[test]
    fn social_e_service_gets_the_channel_promise() {
        // Tue 22 Dec 2026 after office hours counts from Wed 23; one working day later,
        // past Christmas Eve, Christmas Day, Boxing Day and the weekend, is Mon 28.
        let d = facts(
            &[Need::SocialSupport],
            Urgency::Routine,
            Channel::EService,
            at(2026, 12, 22, 17, 0),
        );
        assert_eq!(d.at, at(2026, 12, 28, 16, 0));
        assert!(d.rule.starts_with("e-service"));
    }

    #[test]
    fn chat_is_answered_within_minutes() {
        let now = at(2026, 11, 23, 10, 0);
        let d = facts(&[Need::Lifestyle], Urgency::Routine, Channel::Chat, now);
        assert_eq!(d.at, now + Duration::minutes(10));
    }
}
