//! The safety net that does not depend on the classifier: every new case's needs and urgency
//! are provisional until a professional confirms or corrects them (the first look). A
//! correction re-routes the case at once: its deadline and place follow the new urgency as a
//! supervisor's change does (`steering::after_urgency_change`), and a change of need moves it
//! to the professions, and if need be the team, of the new need.

use std::fmt;
use std::str::FromStr;

use super::routing::{self, ALERT_QUEUE, RoutingRequest, Team};
use super::steering::{self, CaseFacts, UrgencyChange};
use super::{Language, Need, Profession, Refusal, UnknownCode, Urgency};
use crate::domain::deadline::DeadlinePolicy;

codes! {
    /// Why a professional changed a provisional classification: a category, never free text.
    TriageReason {
        MoreSevere => "more_severe",
        LessSevere => "less_severe",
        OtherNeed => "other_need",
        PastEvent => "past_event",
        NewInformation => "new_information",
        Other => "other",
    }
}

codes! {
    /// What a person did with the classifier's urgency.
    UrgencyDirection {
        Kept => "kept",
        Raised => "raised",
        Lowered => "lowered",
    }
}

impl UrgencyDirection {
    pub fn between(from: Urgency, to: Urgency) -> Self {
        match to.rank().cmp(&from.rank()) {
            std::cmp::Ordering::Less => UrgencyDirection::Raised,
            std::cmp::Ordering::Greater => UrgencyDirection::Lowered,
            std::cmp::Ordering::Equal => UrgencyDirection::Kept,
        }
    }
}

/// By when a person must have looked at a case that arrived at `created_ms`, with the
/// channel's first-look time. Plain elapsed time: the clock runs at night and at weekends too,
/// so a county that staffs triage only in office hours sees the night's contacts overdue in
/// the morning, which is what it should see.
pub fn first_look_due(created_ms: i64, first_look_secs: u64) -> i64 {
    created_ms.saturating_add(1000 * first_look_secs as i64)
}

/// A change of needs or urgency must say why; keeping both needs no reason.
pub fn reason_needed(changed: bool, reason: Option<TriageReason>) -> Result<(), MissingReason> {
    match (changed, reason) {
        (true, None) => Err(MissingReason),
        _ => Ok(()),
    }
}

/// A correction without its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("required when needs or urgency change")]
pub struct MissingReason;

/// The case after a person's first look: its needs, urgency (with deadline and place), the
/// professions and team that take it now.
#[derive(Debug, Clone, PartialEq)]
pub struct Retriage {
    pub needs: Vec<Need>,
    pub needs_changed: bool,
    pub direction: UrgencyDirection,
    /// Deadline, queue and sub-queue for the confirmed urgency and needs.
    pub urgency: UrgencyChange,
    pub team: String,
    pub professions: Vec<Profession>,
    /// What to record among the case's routing reasons.
    pub reasons: Vec<String>,
}

/// What a confirmation looks at beyond the case's facts.
#[derive(Debug, Clone, Copy)]
pub struct RetriageContext<'a> {
    /// The case's team now.
    pub team: &'a Team,
    pub teams: &'a [Team],
    pub language: Language,
    pub deadlines: &'a DeadlinePolicy,
}

/// Confirms or corrects a case. `needs` empty keeps the case's needs; `urgency` None keeps
/// its urgency. A raise to emergency takes the alert queue (and an emergency without a clinical
/// need goes to clinical staff, as at intake); a new primary need moves the case to that need's
/// professions, in its own team when someone there has one, else to the team routing chooses.
pub fn retriage(
    case: &CaseFacts<'_>,
    needs: &[Need],
    urgency: Option<Urgency>,
    ctx: &RetriageContext<'_>,
    now_ms: i64,
) -> Result<Retriage, Refusal> {
    let to = urgency.unwrap_or(case.urgency);
    let new_needs: Vec<Need> = if needs.is_empty() {
        case.needs.to_vec()
    } else {
        needs.to_vec()
    };
    let needs_changed = new_needs != case.needs;
    let direction = UrgencyDirection::between(case.urgency, to);
    let facts = CaseFacts {
        needs: &new_needs,
        ..*case
    };
    let mut change = steering::after_urgency_change(&facts, to, ctx.deadlines, now_ms);
    let mut reasons = Vec::new();
    let mut team = ctx.team.id.clone();
    let primary = new_needs.first().copied().unwrap_or(Need::ServiceGuidance);
    let routed = if to == Urgency::Emergency && primary == Need::ServiceGuidance {
        Need::AcuteSymptoms
    } else {
        primary
    };
    let professions = routed.professions().to_vec();
    if needs_changed {
        if steering::team_fits(ctx.team, &professions).is_err() {
            let decision = routing::route(
                ctx.teams,
                &RoutingRequest {
                    needs: &new_needs,
                    urgency: to,
                    channel: case.channel,
                    language: ctx.language,
                    municipality: None,
                },
            )
            .ok_or(Refusal::NoTeamForNeed)?;
            reasons.push(format!(
                "triage: team {} has no one for {routed}: moved to team {}",
                ctx.team.id, decision.team_id
            ));
            team = decision.team_id;
        }
        if change.queue != ALERT_QUEUE {
            change.sub_queue = routed.code().to_string();
        }
    }
    Ok(Retriage {
        needs: new_needs,
        needs_changed,
        direction,
        urgency: change,
        team,
        professions,
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel;
    use crate::domain::deadline::Marks;
    use crate::domain::routing::{Capacity, Member};

    fn team(id: &str, professions: &[Profession]) -> Team {
        Team {
            id: id.into(),
            name: id.into(),
            names: Default::default(),
            municipalities: vec![],
            county_wide: true,
            languages: vec![Language::Finnish],
            members: professions
                .iter()
                .enumerate()
                .map(|(i, p)| Member {
                    id: format!("{id}-{i}"),
                    profession: *p,
                    languages: vec![Language::Finnish],
                    capacity: Capacity::default(),
                })
                .collect(),
        }
    }

    fn facts(needs: &[Need], urgency: Urgency) -> CaseFacts<'_> {
        CaseFacts {
            needs,
            channel: Channel::Chat,
            urgency,
            created: chrono::DateTime::from_timestamp_millis(1_790_000_000_000).unwrap(),
            deadline_ms: 1_790_000_000_000 + 86_400_000,
            deadline_rule: "r",
            deadline_law: "",
            age: None,
            marks: Marks::default(),
            queue: "chat",
            sub_queue: needs[0].code(),
        }
    }

    #[test]
    fn a_change_needs_a_reason_and_keeping_does_not() {
        assert_eq!(reason_needed(true, None), Err(MissingReason));
        assert_eq!(reason_needed(true, Some(TriageReason::MoreSevere)), Ok(()));
        assert_eq!(reason_needed(false, None), Ok(()));
    }

    #[test]
    fn the_direction_follows_the_urgency_rank() {
        use Urgency::*;
        assert_eq!(
            UrgencyDirection::between(Soon, Emergency),
            UrgencyDirection::Raised
        );
        assert_eq!(
            UrgencyDirection::between(Urgent, Routine),
            UrgencyDirection::Lowered
        );
        assert_eq!(
            UrgencyDirection::between(Soon, Soon),
            UrgencyDirection::Kept
        );
    }

    #[test]
    fn a_raise_to_emergency_takes_the_alert_queue_and_is_due_now() {
        let teams = [team("t", &[Profession::Nurse])];
        let deadlines = DeadlinePolicy::default();
        let ctx = RetriageContext {
            team: &teams[0],
            teams: &teams,
            language: Language::Finnish,
            deadlines: &deadlines,
        };
        let now = 1_790_000_100_000;
        let r = retriage(
            &facts(&[Need::AcuteSymptoms], Urgency::Soon),
            &[],
            Some(Urgency::Emergency),
            &ctx,
            now,
        )
        .unwrap();
        assert_eq!(r.direction, UrgencyDirection::Raised);
        assert!(!r.needs_changed);
        assert_eq!(r.urgency.queue, ALERT_QUEUE);
        assert_eq!(r.urgency.deadline_ms, now);
        assert_eq!(r.team, "t");
    }

    #[test]
    fn a_new_need_no_one_in_the_team_has_moves_the_case_to_a_team_that_has() {
        let teams = [
            team("health", &[Profession::Nurse]),
            team("dental", &[Profession::DentalNurse]),
        ];
        let deadlines = DeadlinePolicy::default();
        let ctx = RetriageContext {
            team: &teams[0],
            teams: &teams,
            language: Language::Finnish,
            deadlines: &deadlines,
        };
        let r = retriage(
            &facts(&[Need::AcuteSymptoms], Urgency::Soon),
            &[Need::OralHealth],
            None,
            &ctx,
            1_790_000_100_000,
        )
        .unwrap();
        assert!(r.needs_changed);
        assert_eq!(r.direction, UrgencyDirection::Kept);
        assert_eq!(r.team, "dental");
        assert_eq!(r.urgency.sub_queue, "oral_health");
        assert_eq!(r.professions, Need::OralHealth.professions());
    }

    #[test]
    fn an_emergency_about_service_guidance_goes_to_clinical_staff() {
        let teams = [team(
            "t",
            &[Profession::Nurse, Profession::ServiceCounsellor],
        )];
        let deadlines = DeadlinePolicy::default();
        let ctx = RetriageContext {
            team: &teams[0],
            teams: &teams,
            language: Language::Finnish,
            deadlines: &deadlines,
        };
        let r = retriage(
            &facts(&[Need::ServiceGuidance], Urgency::Routine),
            &[],
            Some(Urgency::Emergency),
            &ctx,
            1_790_000_100_000,
        )
        .unwrap();
        assert_eq!(r.professions, Need::AcuteSymptoms.professions());
        assert_eq!(r.urgency.queue, ALERT_QUEUE);
    }
}
