//! The decisions behind steering a case after intake: a supervisor's change of urgency (the
//! deadline and place follow), a move to another team (the team must have someone for it), and
//! the colleague a professional may consult.

use chrono::{DateTime, Utc};

use super::deadline::{Deadline, DeadlineFacts, DeadlinePolicy, Marks};
use super::intake::ANY_NEED;
use super::routing::{self, ALERT_QUEUE, Member, Team};
use super::{Channel, Need, Profession, Refusal, Urgency};

/// What a change of urgency looks at on the case.
#[derive(Debug, Clone, Copy)]
pub struct CaseFacts<'a> {
    pub needs: &'a [Need],
    pub channel: Channel,
    pub urgency: Urgency,
    pub created: DateTime<Utc>,
    pub deadline_ms: i64,
    pub deadline_rule: &'a str,
    pub deadline_law: &'a str,
    /// What the statutory limit was counted from at intake.
    pub age: Option<u32>,
    pub marks: Marks,
    pub queue: &'a str,
    pub sub_queue: &'a str,
}

/// The case after a change of urgency: its deadline, rule, queue and place.
#[derive(Debug, Clone, PartialEq)]
pub struct UrgencyChange {
    pub urgency: Urgency,
    pub deadline_ms: i64,
    pub rule: String,
    pub law: String,
    /// The statutory limit counted again for the new urgency: an emergency or urgent case has
    /// no non-urgent care-guarantee limit, and lowering it brings the limit back.
    pub statutory: Option<Deadline>,
    pub queue: String,
    pub sub_queue: String,
    pub score: f64,
}

/// The deadlines follow the new urgency, counted from when the case arrived with the facts it
/// arrived with; raising never moves the handling deadline later than it was, and an emergency
/// is due now. An emergency goes to the alert
/// queue; lowered from one, the case returns to its channel's queue under its primary need.
pub fn after_urgency_change(
    case: &CaseFacts<'_>,
    to: Urgency,
    deadlines: &DeadlinePolicy,
    now_ms: i64,
) -> UrgencyChange {
    let facts = DeadlineFacts {
        needs: case.needs,
        urgency: to,
        channel: case.channel,
        contact_at: case.created,
        age: case.age,
        marks: case.marks,
    };
    let rule = deadlines.deadline(&facts);
    let law = rule.law.unwrap_or("").to_string();
    let (deadline_ms, rule, law) =
        if to.rank() < case.urgency.rank() && case.deadline_ms < rule.at.timestamp_millis() {
            (
                case.deadline_ms,
                case.deadline_rule.to_string(),
                case.deadline_law.to_string(),
            )
        } else if to == Urgency::Emergency {
            (now_ms, rule.name, law)
        } else {
            (rule.at.timestamp_millis(), rule.name, law)
        };
    let (queue, sub_queue) = if to == Urgency::Emergency {
        (ALERT_QUEUE.to_string(), ANY_NEED.to_string())
    } else if case.queue == ALERT_QUEUE {
        let primary = case.needs.first().copied().unwrap_or(Need::AcuteSymptoms);
        (case.channel.code().to_string(), primary.code().to_string())
    } else {
        (case.queue.to_string(), case.sub_queue.to_string())
    };
    UrgencyChange {
        urgency: to,
        score: routing::priority_score(to, deadline_ms),
        deadline_ms,
        rule,
        law,
        statutory: deadlines.statutory(&facts),
        queue,
        sub_queue,
    }
}

/// A case may be moved to a team only when someone there has one of its professions.
pub fn team_fits(team: &Team, professions: &[Profession]) -> Result<(), Refusal> {
    if team
        .members
        .iter()
        .any(|m| professions.contains(&m.profession))
    {
        return Ok(());
    }
    Err(Refusal::TeamCannotTake {
        team: team.id.clone(),
        professions: professions
            .iter()
            .map(|p| p.code())
            .collect::<Vec<_>>()
            .join(","),
    })
}

/// The colleague to consult when a profession is asked for: a member of the holder's team with
/// that profession who is available now (`online`), not the holder.
pub fn available_colleague<'t>(
    team: &'t Team,
    holder: &str,
    profession: Profession,
    online: &[String],
) -> Result<&'t Member, Refusal> {
    team.members
        .iter()
        .filter(|m| m.profession == profession && m.id != holder)
        .find(|m| online.contains(&m.id))
        .ok_or(Refusal::NoColleagueAvailable {
            profession,
            team: team.id.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language;
    use crate::domain::routing::Capacity;
    use chrono::TimeZone;

    fn case(urgency: Urgency, deadline_ms: i64, queue: &'static str) -> CaseFacts<'static> {
        CaseFacts {
            needs: &[Need::AcuteSymptoms],
            channel: Channel::Phone,
            urgency,
            created: crate::domain::deadline::TZ
                .with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
                .unwrap()
                .with_timezone(&Utc),
            deadline_ms,
            deadline_rule: "old rule",
            deadline_law: "",
            age: Some(40),
            marks: Marks::default(),
            queue,
            sub_queue: if queue == ALERT_QUEUE {
                "any"
            } else {
                "acute_symptoms"
            },
        }
    }

    #[test]
    fn raising_urgency_never_moves_the_deadline_later() {
        let d = DeadlinePolicy::default();
        let early = case(Urgency::Routine, 1, "phone");
        let c = after_urgency_change(&early, Urgency::Soon, &d, 5);
        assert_eq!((c.deadline_ms, c.rule.as_str()), (1, "old rule"));
        assert_eq!(c.score, routing::priority_score(Urgency::Soon, 1));
    }

    #[test]
    fn an_emergency_is_due_now_in_the_alert_queue_and_lowering_returns_it_to_its_channel() {
        let d = DeadlinePolicy::default();
        let c = after_urgency_change(
            &case(Urgency::Soon, i64::MAX / 4, "phone"),
            Urgency::Emergency,
            &d,
            42,
        );
        assert_eq!(c.deadline_ms, 42);
        assert_eq!((c.queue.as_str(), c.sub_queue.as_str()), ("alert", "any"));
        let back = after_urgency_change(
            &case(Urgency::Emergency, 42, "alert"),
            Urgency::Soon,
            &d,
            50,
        );
        assert_eq!(
            (back.queue.as_str(), back.sub_queue.as_str()),
            ("phone", "acute_symptoms")
        );
        assert!(
            back.deadline_ms > 42,
            "lowering gives the later deadline of the new class"
        );
    }

    fn team_of(members: &[(&str, Profession)]) -> Team {
        Team {
            id: "t".into(),
            name: "t".into(),
            names: Default::default(),
            municipalities: vec![],
            county_wide: false,
            languages: vec![Language::Finnish],
            members: members
                .iter()
                .map(|(id, p)| Member {
                    id: id.to_string(),
                    profession: *p,
                    languages: vec![Language::Finnish],
                    capacity: Capacity::default(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_team_fits_only_with_one_of_the_professions() {
        let t = team_of(&[("n", Profession::Nurse)]);
        assert!(team_fits(&t, &[Profession::Doctor, Profession::Nurse]).is_ok());
        assert!(matches!(
            team_fits(&t, &[Profession::Dentist]),
            Err(Refusal::TeamCannotTake { .. })
        ));
    }

    #[test]
    fn the_colleague_is_available_of_the_profession_and_not_the_holder() {
        let t = team_of(&[
            ("d1", Profession::Doctor),
            ("d2", Profession::Doctor),
            ("n", Profession::Nurse),
        ]);
        let online = vec!["d1".to_string(), "d2".to_string()];
        let c = available_colleague(&t, "d1", Profession::Doctor, &online).unwrap();
        assert_eq!(c.id, "d2");
        assert!(available_colleague(&t, "n", Profession::Psychologist, &online).is_err());
        assert!(available_colleague(&t, "d1", Profession::Doctor, &["d1".into()]).is_err());
    }
}
