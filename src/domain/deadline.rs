//! By when a case must be handled: the statutory and channel deadlines of the domain brief §4,
//! as a configurable policy, every one counted on the calendar of `calendar.rs`.
//!
//! A case carries two deadlines:
//! - its **handling deadline** (`DeadlinePolicy::deadline`), which orders the queue and decides
//!   whether the first response was in time: the earliest of the urgency rule, the channel's
//!   promise and the law's first steps (the care need assessed the same working day, a
//!   child-welfare notification's urgency assessed at once);
//! - its **statutory deadline** (`DeadlinePolicy::statutory`), shown with the case: the earliest
//!   limit the law sets for what follows (care guarantee, oral care, brief psychotherapy,
//!   service-need assessment, social assistance, child-welfare decision).
//!
//! Each deadline names its rule and the section of law it comes from. A date limit means the end
//! of its last day in Helsinki (see `calendar`); a limit in hours or minutes is that instant.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::calendar::{self, Limit, Period};
use super::{Channel, Need, Urgency};

/// Luotsi counts days in Finnish local time.
pub use super::calendar::TZ;

/// Below this age the care guarantee, oral care and brief psychotherapy rules for children and
/// young people apply (Health Care Act 1326/2010 §51 a, §53).
pub const YOUNG_UNDER: u32 = 23;

/// Deadline policy of one county. Defaults are the domain brief's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlinePolicy {
    /// Hour (local time) at which a working day's office hours begin: the earliest a call-back
    /// can be promised.
    pub office_open_hour: u32,
    /// Hour (local time) at which a working day's office hours end.
    pub office_close_hour: u32,
    /// An urgent case, and a child-welfare notification's urgency, within this many hours.
    pub urgent_hours: i64,
    /// A chat must be answered within this many minutes.
    pub chat_answer_minutes: i64,
    /// An e-service message must be answered within this many working days.
    pub e_service_working_days: u32,
    /// Health care: the care need assessed (Health Care Act 1326/2010 §51).
    pub care_need_assessment: Limit,
    /// Non-urgent care, aged 23 or more (Health Care Act 1326/2010 §51 a).
    pub care_guarantee: Limit,
    /// Non-urgent care, under 23 (Health Care Act 1326/2010 §51 a).
    pub care_guarantee_under_23: Limit,
    /// Non-urgent oral care, aged 23 or more (Health Care Act 1326/2010 §51 a).
    pub oral_care: Limit,
    /// Non-urgent oral care, under 23 (Health Care Act 1326/2010 §51 a).
    pub oral_care_under_23: Limit,
    /// Brief psychotherapy started, under 23 (Health Care Act 1326/2010 §53).
    pub brief_psychotherapy_under_23: Limit,
    /// Social welfare: the service-need assessment started (Social Welfare Act 1301/2014 §36).
    pub service_need_assessment: ServiceNeedAssessment,
    /// The decision on a social-assistance application (Act on Social Assistance 1412/1997 §14 a).
    pub social_assistance: SocialAssistance,
    /// The decision whether to open a child-welfare investigation (Child Welfare Act 417/2007 §26).
    pub child_welfare_decision: Limit,
}

/// Social Welfare Act 1301/2014 §36: the service-need assessment starts by the 7th working day
/// for a person aged 75 or more, a recipient of the highest care allowances or a child needing
/// special support.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceNeedAssessment {
    pub period: Period,
    pub next_working_day: bool,
    /// From this age, every social-welfare contact (other than a child-welfare notification).
    pub from_age: u32,
    /// E-service form categories and phone-menu choices that the county uses for the other
    /// groups the law names; a contact with one of them gets the assessment limit at any age.
    pub marked_hints: Vec<Need>,
}

/// Act on Social Assistance 1412/1997 §14 a: a decision by the 7th working day after the
/// application arrived; an urgent one the same or the next working day.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocialAssistance {
    pub period: Period,
    pub urgent_period: Period,
    pub next_working_day: bool,
    /// E-service form categories that are the county's social-assistance application: a
    /// contact through the e-service with one of them is an application.
    pub form_categories: Vec<Need>,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        Self {
            office_open_hour: 8,
            office_close_hour: 16,
            urgent_hours: 3,
            chat_answer_minutes: 10,
            e_service_working_days: 1,
            care_need_assessment: Limit::new(Period::WorkingDays(0)),
            care_guarantee: Limit::new(Period::Months(3)),
            care_guarantee_under_23: Limit::new(Period::Days(14)),
            oral_care: Limit::new(Period::Months(6)),
            oral_care_under_23: Limit::new(Period::Months(3)),
            brief_psychotherapy_under_23: Limit::new(Period::Days(28)),
            service_need_assessment: ServiceNeedAssessment::default(),
            social_assistance: SocialAssistance::default(),
            child_welfare_decision: Limit::new(Period::WorkingDays(7)),
        }
    }
}

impl Default for ServiceNeedAssessment {
    fn default() -> Self {
        Self {
            period: Period::WorkingDays(7),
            next_working_day: false,
            from_age: 75,
            marked_hints: Vec::new(),
        }
    }
}

impl Default for SocialAssistance {
    fn default() -> Self {
        Self {
            period: Period::WorkingDays(7),
            urgent_period: Period::WorkingDays(1),
            next_working_day: false,
            form_categories: vec![Need::SocialSupport],
        }
    }
}

/// What the contact's hints tell the rules, as the county's settings read them. Kept on the
/// case so that a later change of urgency can count the statutory deadline again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// The contact is an application for social assistance.
    pub social_assistance_application: bool,
    /// The contact comes from one of the groups the county marks for the service-need
    /// assessment limit (beyond age).
    pub service_need_group: bool,
}

impl Marks {
    const APPLICATION: &'static str = "social_assistance_application";
    const GROUP: &'static str = "service_need_group";

    /// The marks as comma-separated codes ("" for none).
    pub fn codes(self) -> String {
        let mut out = Vec::new();
        if self.social_assistance_application {
            out.push(Self::APPLICATION);
        }
        if self.service_need_group {
            out.push(Self::GROUP);
        }
        out.join(",")
    }

    /// Reads `codes`; unknown codes are ignored.
    pub fn from_codes(s: &str) -> Self {
        let has = |c: &str| s.split(',').any(|x| x.trim() == c);
        Marks {
            social_assistance_application: has(Self::APPLICATION),
            service_need_group: has(Self::GROUP),
        }
    }
}

/// What the deadline depends on.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineFacts<'a> {
    pub needs: &'a [Need],
    pub urgency: Urgency,
    pub channel: Channel,
    /// When the contact arrived: every limit counts from its Helsinki date.
    pub contact_at: DateTime<Utc>,
    /// The citizen's age on the day of the contact, when known (from the identity code or
    /// given). Without it the rules for adults apply.
    pub age: Option<u32>,
    pub marks: Marks,
}

/// The rules a deadline can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    Emergency,
    Urgent,
    PhoneCallBack,
    ChatAnswer,
    EServiceAnswer,
    CareNeedAssessment,
    ChildWelfareUrgency,
    CareGuarantee,
    CareGuaranteeUnder23,
    OralCare,
    OralCareUnder23,
    BriefPsychotherapyUnder23,
    ServiceNeedAssessment,
    SocialAssistance,
    SocialAssistanceUrgent,
    ChildWelfareDecision,
}

impl Rule {
    /// The section of law the rule comes from; none for the county's own service promises.
    pub fn law(self) -> Option<&'static str> {
        const HEALTH_51: &str = "Health Care Act 1326/2010 §51";
        const HEALTH_51A: &str = "Health Care Act 1326/2010 §51 a";
        const CHILD_26: &str = "Child Welfare Act 417/2007 §26";
        const ASSISTANCE_14A: &str = "Act on Social Assistance 1412/1997 §14 a";
        Some(match self {
            Rule::Emergency
            | Rule::Urgent
            | Rule::PhoneCallBack
            | Rule::ChatAnswer
            | Rule::EServiceAnswer => return None,
            Rule::CareNeedAssessment => HEALTH_51,
            Rule::ChildWelfareUrgency | Rule::ChildWelfareDecision => CHILD_26,
            Rule::CareGuarantee
            | Rule::CareGuaranteeUnder23
            | Rule::OralCare
            | Rule::OralCareUnder23 => HEALTH_51A,
            Rule::BriefPsychotherapyUnder23 => "Health Care Act 1326/2010 §53",
            Rule::ServiceNeedAssessment => "Social Welfare Act 1301/2014 §36",
            Rule::SocialAssistance | Rule::SocialAssistanceUrgent => ASSISTANCE_14A,
        })
    }
}

/// A deadline, the rule that set it, in words, and the section of law behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub at: DateTime<Utc>,
    pub rule: Rule,
    /// The rule in a sentence fragment, with its period as configured.
    pub name: String,
    pub law: Option<&'static str>,
}

impl Deadline {
    fn new(rule: Rule, at: DateTime<Utc>, name: String) -> Self {
        Deadline {
            at,
            rule,
            name,
            law: rule.law(),
        }
    }
}

impl DeadlinePolicy {
    /// The handling deadline: the earliest of the rules that apply to the first response.
    pub fn deadline(&self, f: &DeadlineFacts<'_>) -> Deadline {
        let now = f.contact_at;
        if f.urgency == Urgency::Emergency {
            return Deadline::new(Rule::Emergency, now, "emergency: immediately (112)".into());
        }
        let mut candidates: Vec<Deadline> = Vec::with_capacity(4);
        if f.urgency == Urgency::Urgent {
            candidates.push(Deadline::new(
                Rule::Urgent,
                now + Duration::hours(self.urgent_hours),
                format!("urgent: same day, within {} hours", self.urgent_hours),
            ));
        }
        let close = self.office_close_hour;
        candidates.push(match f.channel {
            Channel::Phone => Deadline::new(
                Rule::PhoneCallBack,
                calendar::office_close(now, close, 0),
                "phone: call-back the same working day".into(),
            ),
            Channel::Chat => Deadline::new(
                Rule::ChatAnswer,
                now + Duration::minutes(self.chat_answer_minutes),
                format!("chat: answered within {} minutes", self.chat_answer_minutes),
            ),
            Channel::EService => Deadline::new(
                Rule::EServiceAnswer,
                calendar::office_close(now, close, self.e_service_working_days),
                format!(
                    "e-service: answered within {}",
                    Period::WorkingDays(self.e_service_working_days)
                ),
            ),
        });
        if f.needs.iter().any(|n| !n.is_social_welfare()) {
            // §51 binds the health centre "on working days in office hours": a contact made
            // outside them reaches it on the next working day, and is counted from that day.
            let limit = self.care_need_assessment;
            let day = limit.last_day(calendar::office_day(now, close));
            candidates.push(Deadline::new(
                Rule::CareNeedAssessment,
                calendar::end_of_day(day),
                format!("care need assessed {}", by(limit.period)),
            ));
        }
        if f.needs.contains(&Need::ChildWelfare) {
            candidates.push(Deadline::new(
                Rule::ChildWelfareUrgency,
                now + Duration::hours(self.urgent_hours),
                "child-welfare notification: urgency assessed at once".into(),
            ));
        }
        candidates
            .into_iter()
            .min_by_key(|d| d.at)
            .expect("the channel rule always applies")
    }

    /// The statutory deadline that follows the first contact, when the law sets one for the
    /// needs, the urgency and the citizen's facts: the earliest that applies. It does not
    /// order the queue — the handling deadline does — but it is shown with the case.
    ///
    /// An emergency or urgent contact is not non-urgent care: the care guarantees, oral care
    /// and brief psychotherapy limits do not apply to it, and social assistance is decided on
    /// the urgent schedule. The social-welfare limits that do not depend on urgency (the
    /// service-need assessment, the child-welfare decision) apply at every urgency.
    pub fn statutory(&self, f: &DeadlineFacts<'_>) -> Option<Deadline> {
        let non_urgent = matches!(f.urgency, Urgency::Soon | Urgency::Routine);
        let young = f.age.is_some_and(|a| a < YOUNG_UNDER);
        let age_group = match f.age {
            Some(_) if young => format!("under {YOUNG_UNDER}"),
            Some(_) => format!("aged {YOUNG_UNDER}+"),
            None => format!("aged {YOUNG_UNDER}+ (no age given)"),
        };
        let limit = |rule: Rule, limit: Limit, what: &str, who: &str| {
            let mut name = format!("{what} {}", by(limit.period));
            if !who.is_empty() {
                name = format!("{name}, {who}");
            }
            Deadline::new(rule, limit.ends(f.contact_at), name)
        };
        let assistance = |period| Limit {
            period,
            next_working_day: self.social_assistance.next_working_day,
        };
        let mut c: Vec<Deadline> = Vec::new();
        for &need in f.needs {
            c.push(match need {
                Need::OralHealth if non_urgent && young => limit(
                    Rule::OralCareUnder23,
                    self.oral_care_under_23,
                    "non-urgent oral care",
                    &age_group,
                ),
                Need::OralHealth if non_urgent => limit(
                    Rule::OralCare,
                    self.oral_care,
                    "non-urgent oral care",
                    &age_group,
                ),
                Need::MentalHealth if non_urgent && young => limit(
                    Rule::BriefPsychotherapyUnder23,
                    self.brief_psychotherapy_under_23,
                    "brief psychotherapy started",
                    &age_group,
                ),
                n if non_urgent && has_care_guarantee(n) && young => limit(
                    Rule::CareGuaranteeUnder23,
                    self.care_guarantee_under_23,
                    "non-urgent care",
                    &age_group,
                ),
                n if non_urgent && has_care_guarantee(n) => limit(
                    Rule::CareGuarantee,
                    self.care_guarantee,
                    "non-urgent care",
                    &age_group,
                ),
                Need::SocialSupport if f.marks.social_assistance_application && non_urgent => {
                    limit(
                        Rule::SocialAssistance,
                        assistance(self.social_assistance.period),
                        "social-assistance decision",
                        "",
                    )
                }
                Need::SocialSupport if f.marks.social_assistance_application => limit(
                    Rule::SocialAssistanceUrgent,
                    assistance(self.social_assistance.urgent_period),
                    "urgent social-assistance decision",
                    "",
                ),
                Need::ChildWelfare => limit(
                    Rule::ChildWelfareDecision,
                    self.child_welfare_decision,
                    "decision on a child-welfare investigation",
                    "",
                ),
                _ => continue,
            });
        }
        let s = &self.service_need_assessment;
        let by_age = f.age.is_some_and(|a| a >= s.from_age)
            && f.needs
                .iter()
                .any(|n| n.is_social_welfare() && *n != Need::ChildWelfare);
        if by_age || f.marks.service_need_group {
            let who = if by_age {
                format!("aged {}+", s.from_age)
            } else {
                "a group the county marks".to_string()
            };
            c.push(limit(
                Rule::ServiceNeedAssessment,
                Limit {
                    period: s.period,
                    next_working_day: s.next_working_day,
                },
                "service-need assessment started",
                &who,
            ));
        }
        c.into_iter().min_by_key(|d| d.at)
    }

    /// What the contact's hints mean to the rules: a social-assistance application is an
    /// e-service contact whose form category is one of the county's application forms; a
    /// marked group is a form category or phone-menu choice the county lists.
    pub fn marks(
        &self,
        channel: Channel,
        form_category: Option<Need>,
        phone_menu: Option<Need>,
    ) -> Marks {
        let listed = |list: &[Need], hint: Option<Need>| hint.is_some_and(|h| list.contains(&h));
        Marks {
            social_assistance_application: channel == Channel::EService
                && listed(&self.social_assistance.form_categories, form_category),
            service_need_group: listed(&self.service_need_assessment.marked_hints, form_category)
                || listed(&self.service_need_assessment.marked_hints, phone_menu),
        }
    }

    /// Settings that cannot work, named.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=23).contains(&self.office_close_hour) {
            return Err("deadlines.office_close_hour must be an hour from 1 to 23".into());
        }
        if self.office_open_hour >= self.office_close_hour {
            return Err("deadlines.office_open_hour must be before office_close_hour".into());
        }
        if self.urgent_hours < 0 || self.chat_answer_minutes < 0 {
            return Err("deadlines.urgent_hours and chat_answer_minutes cannot be negative".into());
        }
        Ok(())
    }
}

/// Whether a first response at `response_ms` met the handling deadline `deadline_ms`: at or
/// before the instant (for a date limit, any time on its last day). An emergency's deadline is
/// the moment it arrived, so it is met whenever it is taken. This is the definition GetStats,
/// the service level and the deadline-miss metric count by; `accept.lua` applies it
/// (`deadline_missed`) in the same step as the acceptance.
pub fn missed(deadline_ms: i64, response_ms: i64, urgency: Urgency) -> bool {
    urgency != Urgency::Emergency && response_ms > deadline_ms
}

/// Non-urgent primary care with a care guarantee: health needs other than oral care (which has
/// its own limit) and service guidance (which is not care).
fn has_care_guarantee(need: Need) -> bool {
    !need.is_social_welfare() && !matches!(need, Need::OralHealth | Need::ServiceGuidance)
}

/// "within 3 months", "by the 7th working day", "the same working day".
fn by(period: Period) -> String {
    match period {
        Period::WorkingDays(0) => "the same working day".into(),
        Period::WorkingDays(1) => "the same or the next working day".into(),
        Period::WorkingDays(n) => format!("by the {} working day", ordinal(n)),
        p => format!("within {p}"),
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn at(s: &str) -> DateTime<Utc> {
        let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        calendar::local_time(t.date(), t.time())
    }

    fn end(date: &str) -> DateTime<Utc> {
        calendar::end_of_day(chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap())
    }

    fn facts(needs: &[Need], urgency: Urgency, channel: Channel, when: &str) -> Deadline {
        DeadlinePolicy::default().deadline(&DeadlineFacts {
            needs,
            urgency,
            channel,
            contact_at: at(when),
            age: None,
            marks: Marks::default(),
        })
    }

    fn statutory(
        needs: &[Need],
        urgency: Urgency,
        age: Option<u32>,
        when: &str,
    ) -> Option<Deadline> {
        DeadlinePolicy::default().statutory(&DeadlineFacts {
            needs,
            urgency,
            channel: Channel::EService,
            contact_at: at(when),
            age,
            marks: Marks::default(),
        })
    }

    #[test]
    fn an_80_year_old_gets_the_7th_working_day_assessment_over_easter() {
        // Wed 1 Apr 2026. Good Friday (3 Apr) and Easter Monday (6 Apr) are holidays, so the
        // working days after the contact are Thu 2, Tue 7, Wed 8, Thu 9, Fri 10, Mon 13 and
        // the 7th is Tue 14 April.
        let d = statutory(
            &[Need::ElderlyServices],
            Urgency::Routine,
            Some(80),
            "2026-04-01 10:00",
        )
        .unwrap();
        assert_eq!(d.at, end("2026-04-14"));
        assert_eq!(d.rule, Rule::ServiceNeedAssessment);
        assert!(
            d.name.contains("7th working day") && d.name.contains("75+"),
            "{}",
            d.name
        );
        assert_eq!(d.law, Some("Social Welfare Act 1301/2014 §36"));
        // Aged 60: no such rule for social welfare.
        assert!(
            statutory(
                &[Need::ElderlyServices],
                Urgency::Routine,
                Some(60),
                "2026-04-01 10:00"
            )
            .is_none()
        );
    }

    #[test]
    fn a_child_welfare_notification_is_assessed_at_once_and_decided_by_the_7th_working_day() {
        let d = facts(
            &[Need::ChildWelfare],
            Urgency::Routine,
            Channel::EService,
            "2026-11-23 09:00",
        );
        assert_eq!(d.at, at("2026-11-23 12:00"));
        assert_eq!(d.rule, Rule::ChildWelfareUrgency);
        assert_eq!(d.law, Some("Child Welfare Act 417/2007 §26"));
        // Mon 23 Nov, in the evening too: the 7th working day after is Wed 2 Dec 2026.
        for when in ["2026-11-23 09:00", "2026-11-23 17:17"] {
            let s = statutory(&[Need::ChildWelfare], Urgency::Routine, None, when).unwrap();
            assert_eq!(s.at, end("2026-12-02"), "{when}");
            assert_eq!(s.rule, Rule::ChildWelfareDecision);
        }
    }

    #[test]
    fn the_care_guarantee_depends_on_age_and_counts_calendar_months() {
        let when = "2026-11-23 09:00";
        let young = statutory(&[Need::AcuteSymptoms], Urgency::Routine, Some(19), when).unwrap();
        assert_eq!(
            (young.rule, young.at),
            (Rule::CareGuaranteeUnder23, end("2026-12-07"))
        );
        let adult = statutory(&[Need::AcuteSymptoms], Urgency::Routine, Some(40), when).unwrap();
        assert_eq!(
            (adult.rule, adult.at),
            (Rule::CareGuarantee, end("2027-02-23"))
        );
        assert_eq!(adult.name, "non-urgent care within 3 months, aged 23+");
        assert_eq!(adult.law, Some("Health Care Act 1326/2010 §51 a"));
        let teeth = statutory(&[Need::OralHealth], Urgency::Routine, Some(40), when).unwrap();
        assert_eq!((teeth.rule, teeth.at), (Rule::OralCare, end("2027-05-23")));
        let young_teeth = statutory(&[Need::OralHealth], Urgency::Soon, Some(15), when).unwrap();
        assert_eq!(
            (young_teeth.rule, young_teeth.at),
            (Rule::OralCareUnder23, end("2027-02-23"))
        );
    }

    #[test]
    fn under_23s_get_the_28_day_psychotherapy_rule_for_mental_health() {
        let d = statutory(
            &[Need::MentalHealth],
            Urgency::Routine,
            Some(19),
            "2026-11-23 09:00",
        )
        .unwrap();
        assert_eq!(d.rule, Rule::BriefPsychotherapyUnder23);
        assert_eq!(d.at, end("2026-12-21"));
        assert_eq!(
            d.name,
            "brief psychotherapy started within 28 days, under 23"
        );
        // With another health need the earliest limit wins.
        let both = statutory(
            &[Need::MentalHealth, Need::AcuteSymptoms],
            Urgency::Routine,
            Some(19),
            "2026-11-23 09:00",
        )
        .unwrap();
        assert_eq!(both.rule, Rule::CareGuaranteeUnder23);
        // At 30 the care guarantee for mental health.
        let adult = statutory(
            &[Need::MentalHealth],
            Urgency::Routine,
            Some(30),
            "2026-11-23 09:00",
        )
        .unwrap();
        assert_eq!(adult.rule, Rule::CareGuarantee);
    }

    #[test]
    fn emergencies_and_urgent_contacts_carry_no_care_guarantee() {
        for u in [Urgency::Emergency, Urgency::Urgent] {
            for needs in [
                &[Need::AcuteSymptoms][..],
                &[Need::OralHealth],
                &[Need::MentalHealth],
            ] {
                assert_eq!(
                    statutory(needs, u, Some(40), "2026-11-23 09:00"),
                    None,
                    "{u:?} {needs:?}"
                );
                assert_eq!(
                    statutory(needs, u, Some(19), "2026-11-23 09:00"),
                    None,
                    "{u:?} {needs:?}"
                );
            }
        }
        // The child-welfare decision is due whatever the urgency.
        let d = statutory(
            &[Need::ChildWelfare],
            Urgency::Emergency,
            None,
            "2026-11-23 09:00",
        )
        .unwrap();
        assert_eq!(d.rule, Rule::ChildWelfareDecision);
    }

    #[test]
    fn a_social_assistance_application_is_decided_in_7_working_days_or_at_once_when_urgent() {
        let p = DeadlinePolicy::default();
        let marks = p.marks(Channel::EService, Some(Need::SocialSupport), None);
        assert!(marks.social_assistance_application);
        assert!(
            !p.marks(Channel::Phone, Some(Need::SocialSupport), None)
                .social_assistance_application
        );
        assert!(
            !p.marks(Channel::EService, Some(Need::ChildWelfare), None)
                .social_assistance_application
        );
        let f = |urgency, when| {
            p.statutory(&DeadlineFacts {
                needs: &[Need::SocialSupport],
                urgency,
                channel: Channel::EService,
                contact_at: at(when),
                age: Some(40),
                marks,
            })
            .unwrap()
        };
        let d = f(Urgency::Routine, "2026-11-23 17:17");
        assert_eq!((d.rule, d.at), (Rule::SocialAssistance, end("2026-12-02")));
        assert_eq!(d.law, Some("Act on Social Assistance 1412/1997 §14 a"));
        // Urgent on a Friday: the same day or the next working day, Monday.
        let d = f(Urgency::Urgent, "2026-11-27 15:00");
        assert_eq!(
            (d.rule, d.at),
            (Rule::SocialAssistanceUrgent, end("2026-11-30"))
        );
        assert_eq!(
            d.name,
            "urgent social-assistance decision the same or the next working day"
        );
        // Without the form it is not an application.
        assert!(
            statutory(
                &[Need::SocialSupport],
                Urgency::Routine,
                Some(40),
                "2026-11-23 09:00"
            )
            .is_none()
        );
    }

    #[test]
    fn a_county_can_mark_other_groups_for_the_service_need_assessment() {
        let p = DeadlinePolicy {
            service_need_assessment: ServiceNeedAssessment {
                marked_hints: vec![Need::FamilyServices],
                ..Default::default()
            },
            ..Default::default()
        };
        let marks = p.marks(Channel::Phone, None, Some(Need::FamilyServices));
        assert!(marks.service_need_group);
        let d = p
            .statutory(&DeadlineFacts {
                needs: &[Need::FamilyServices],
                urgency: Urgency::Routine,
                channel: Channel::Phone,
                contact_at: at("2026-11-23 09:00"),
                age: Some(8),
                marks,
            })
            .unwrap();
        // Under 23, family services also have the 14-day care guarantee (7 Dec); the 7th
        // working day (2 Dec) is earlier.
        assert_eq!(
            (d.rule, d.at),
            (Rule::ServiceNeedAssessment, end("2026-12-02"))
        );
        assert!(d.name.ends_with("a group the county marks"), "{}", d.name);
    }

    #[test]
    fn marks_are_kept_as_codes() {
        for m in [
            Marks::default(),
            Marks {
                social_assistance_application: true,
                service_need_group: false,
            },
            Marks {
                social_assistance_application: true,
                service_need_group: true,
            },
        ] {
            assert_eq!(Marks::from_codes(&m.codes()), m);
        }
        assert_eq!(Marks::default().codes(), "");
    }

    #[test]
    fn emergency_is_now() {
        let d = facts(
            &[Need::AcuteSymptoms],
            Urgency::Emergency,
            Channel::Chat,
            "2026-11-23 10:00",
        );
        assert_eq!((d.rule, d.at), (Rule::Emergency, at("2026-11-23 10:00")));
    }

    #[test]
    fn a_phone_call_back_is_due_by_office_close_of_the_same_working_day() {
        let d = facts(
            &[Need::Medication],
            Urgency::Routine,
            Channel::Phone,
            "2026-11-23 10:00",
        );
        assert_eq!(
            (d.rule, d.at),
            (Rule::PhoneCallBack, at("2026-11-23 16:00"))
        );
        assert_eq!(d.law, None, "a county's promise, not a law");
        // Friday 17:00 before the Independence Day weekend: Monday 7 Dec 2026 16:00.
        let d = facts(
            &[Need::Medication],
            Urgency::Routine,
            Channel::Phone,
            "2026-12-04 17:00",
        );
        assert_eq!(d.at, at("2026-12-07 16:00"));
    }

    #[test]
    fn the_care_need_is_assessed_the_same_working_day_as_the_health_centre_has_the_contact() {
        // An e-service message on Monday morning: assessed by the end of Monday.
        let d = facts(
            &[Need::AcuteSymptoms],
            Urgency::Routine,
            Channel::EService,
            "2026-11-23 10:00",
        );
        assert_eq!(
            (d.rule, d.at),
            (Rule::CareNeedAssessment, end("2026-11-23"))
        );
        assert_eq!(d.name, "care need assessed the same working day");
        assert_eq!(d.law, Some("Health Care Act 1326/2010 §51"));
        // After office hours, and on Saturday: the next working day.
        let d = facts(
            &[Need::AcuteSymptoms],
            Urgency::Routine,
            Channel::EService,
            "2026-11-23 17:17",
        );
        assert_eq!(d.at, end("2026-11-24"));
        let d = facts(
            &[Need::AcuteSymptoms],
            Urgency::Routine,
            Channel::EService,
            "2026-11-28 10:00",
        );
        assert_eq!(d.at, end("2026-11-30"));
    }

    #[test]
    fn urgent_is_within_hours_and_wins_over_later_rules() {
        let d = facts(
            &[Need::MentalHealth],
            Urgency::Urgent,
            Channel::EService,
            "2026-11-23 09:00",
        );
        assert_eq!((d.rule, d.at), (Rule::Urgent, at("2026-11-23 12:00")));
        assert!(d.name.starts_with("urgent"));
    }

    #[test]
    fn a_social_e_service_message_gets_the_channel_promise() {
        // Tue 22 Dec 2026 after office hours reaches the office on Wed 23; one working day
        // later, past Christmas Eve, Christmas Day, Boxing Day and the weekend, is Mon 28.
        let d = facts(
            &[Need::SocialSupport],
            Urgency::Routine,
            Channel::EService,
            "2026-12-22 17:00",
        );
        assert_eq!(
            (d.rule, d.at),
            (Rule::EServiceAnswer, at("2026-12-28 16:00"))
        );
        assert_eq!(d.name, "e-service: answered within 1 working day");
    }

    #[test]
    fn chat_is_answered_within_minutes() {
        let d = facts(
            &[Need::SocialSupport],
            Urgency::Routine,
            Channel::Chat,
            "2026-11-23 10:00",
        );
        assert_eq!((d.rule, d.at), (Rule::ChatAnswer, at("2026-11-23 10:10")));
    }

    #[test]
    fn a_first_response_at_the_deadline_meets_it_and_an_emergency_always_does() {
        assert!(!missed(1000, 1000, Urgency::Routine));
        assert!(missed(1000, 1001, Urgency::Routine));
        assert!(!missed(1000, 99_999, Urgency::Emergency));
    }

    #[test]
    fn ordinals_read_as_english() {
        let o: Vec<String> = [1, 2, 3, 4, 7, 11, 12, 13, 21, 22, 23].map(ordinal).into();
        assert_eq!(
            o,
            [
                "1st", "2nd", "3rd", "4th", "7th", "11th", "12th", "13th", "21st", "22nd", "23rd"
            ]
        );
    }

    #[test]
    fn settings_are_checked() {
        assert!(DeadlinePolicy::default().validate().is_ok());
        let bad = DeadlinePolicy {
            office_close_hour: 24,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
