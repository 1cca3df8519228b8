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
    /// The citizen's age, when known (from the identity code or given).
    pub age: Option<u32>,
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
        if f.needs.contains(&Need::ChildWelfare) {
            candidates.push(Deadline {
                at: f.now + Duration::hours(self.urgent_hours),
                rule: "child-welfare notification: urgency assessed at once (LsL §26)",
            });
        }
        candidates
            .into_iter()
            .min_by_key(|d| d.at)
            .expect("the channel rule always applies")
    }

    /// The statutory deadline that follows the first contact, when the law sets one for the
    /// need and the citizen's facts (the earliest that applies). It does not order the queue —
    /// the contact deadline does — but it is shown with the case.
    pub fn statutory(&self, f: &DeadlineFacts<'_>) -> Option<Deadline> {
        let mut c: Vec<Deadline> = Vec::new();
        let days = |d: i64| f.now + Duration::days(d);
        if f.age.is_some_and(|a| a >= 75) && f.needs.iter().any(|n| n.is_social_welfare()) {
            c.push(Deadline {
                at: self.close_of_working_day(f.now, self.social_assessment_working_days),
                rule: "service-need assessment started by the 7th working day, aged 75+ (SHL §36)",
            });
        }
        if f.needs.contains(&Need::ChildWelfare) {
            c.push(Deadline {
                at: self.close_of_working_day(f.now, self.social_assessment_working_days),
                rule: "decision on a child-welfare investigation within 7 working days (LsL §26)",
            });
        }
        let under_23 = f.age.is_some_and(|a| a < 23);
        if under_23 && f.needs.contains(&Need::MentalHealth) {
            c.push(Deadline {
                at: days(28),
                rule: "brief psychotherapy started within 28 days, under 23 (THL §53)",
            });
        }
        if f.needs
            .iter()
            .any(|n| !n.is_social_welfare() && *n != Need::OralHealth)
        {
            c.push(if under_23 {
                Deadline {
                    at: days(14),
                    rule: "non-urgent care within 14 days, under 23 (THL §51)",
                }
            } else {
                Deadline {
                    at: days(91),
                    rule: "non-urgent care within 3 months (THL §51)",
                }
            });
        }
        if f.needs.contains(&Need::OralHealth) && f.age.is_some_and(|a| a >= 23) {
            c.push(Deadline {
                at: days(182),
                rule: "non-urgent oral care within 6 months, aged 23+ (THL §51)",
            });
        }
        c.into_iter().min_by_key(|d| d.at)
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
            age: None,
        })
    }

    fn statutory(needs: &[Need], age: Option<u32>, now: DateTime<Utc>) -> Option<Deadline> {
        DeadlinePolicy::default().statutory(&DeadlineFacts {
            needs,
            urgency: Urgency::Routine,
            channel: Channel::EService,
            now,
            age,
        })
    }

    #[test]
    fn an_80_year_old_gets_the_7th_working_day_assessment_over_easter() {
        // Wed 1 Apr 2026 10:00. Good Friday (3 Apr) and Easter Monday (6 Apr) are holidays, so
        // the working days after the contact are Thu 2, Tue 7, Wed 8, Thu 9, Fri 10, Mon 13 and
        // the 7th is Tue 14 April.
        let d = statutory(&[Need::ElderlyServices], Some(80), at(2026, 4, 1, 10, 0)).unwrap();
        assert_eq!(d.at, at(2026, 4, 14, 16, 0));
        assert!(d.rule.contains("75+"));
        // Aged 60: no such rule for social welfare.
        assert!(statutory(&[Need::ElderlyServices], Some(60), at(2026, 4, 1, 10, 0)).is_none());
    }

    #[test]
    fn child_welfare_notification_is_assessed_at_once_and_decided_in_7_working_days() {
        let now = at(2026, 11, 23, 9, 0);
        let d = facts(
            &[Need::ChildWelfare],
            Urgency::Routine,
            Channel::EService,
            now,
        );
        assert_eq!(d.at, now + Duration::hours(3));
        assert!(d.rule.starts_with("child-welfare"));
        let s = statutory(&[Need::ChildWelfare], None, now).unwrap();
        // Mon 23 Nov + 7 working days = Wed 2 Dec 2026.
        assert_eq!(s.at, at(2026, 12, 2, 16, 0));
    }

    #[test]
    fn care_guarantee_depends_on_age() {
        let now = at(2026, 11, 23, 9, 0);
        let young = statutory(&[Need::AcuteSymptoms], Some(19), now).unwrap();
        assert_eq!(young.at, now + Duration::days(14));
        let adult = statutory(&[Need::AcuteSymptoms], Some(40), now).unwrap();
        assert_eq!(adult.at, now + Duration::days(91));
        let therapy = statutory(&[Need::MentalHealth], Some(19), now).unwrap();
        assert_eq!(
            therapy.at,
            now + Duration::days(14),
            "the earliest rule wins"
        );
        let teeth = statutory(&[Need::OralHealth], Some(40), now).unwrap();
        assert_eq!(teeth.at, now + Duration::days(182));
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
