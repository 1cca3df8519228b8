//! Intake: from a checked contact and its assessment to a **case plan** — where the case goes,
//! who may take it and until when, its overflow steps, its deadlines and its place in the
//! queue, with the reason for each choice. One pure function, so the whole routing policy of a
//! new contact can be read (and tested) in one place; the store only writes the plan.

use chrono::{DateTime, Utc};

use super::deadline::{Deadline, DeadlineFacts, DeadlinePolicy, Marks};
use super::routing::{self, ALERT_QUEUE, RoutingRequest, Team};
use super::{Channel, Language, Need, Profession, Refusal, Urgency};

/// What intake knows of the contact itself, after validation.
#[derive(Debug, Clone, Copy)]
pub struct ContactFacts<'a> {
    pub channel: Channel,
    /// A municipality of the county (validated).
    pub municipality: Option<&'a str>,
    /// The language the citizen chose, if any.
    pub language: Option<Language>,
    pub age: Option<u32>,
    /// The citizen's own professional, named on the contact (a member of the county).
    pub own_professional: Option<&'a str>,
    /// The citizen's own team, named on the contact (a team of the county).
    pub own_team: Option<&'a str>,
    /// Structured hints: what the deadline rules read from them (an application form, a marked
    /// group).
    pub form_category: Option<Need>,
    pub phone_menu: Option<Need>,
    /// A call-back time the citizen chose (phone and e-service): not offered before the first,
    /// ordered by the second (ms since the epoch; validated: first < second).
    pub callback_window: Option<(i64, i64)>,
}

/// What the classifier said, as far as routing is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Assessment<'a> {
    /// Best first; never empty.
    pub needs: &'a [Need],
    pub urgency: Urgency,
    /// The language the text was written in.
    pub language: Language,
}

/// The citizen's open case, when they have one: continuity goes to its team and holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCase {
    pub team: String,
    /// The professional holding it, if anyone does.
    pub holder: Option<String>,
}

/// The county's rules that intake applies.
#[derive(Debug, Clone, Copy)]
pub struct IntakePolicy<'a> {
    pub teams: &'a [Team],
    pub deadlines: &'a DeadlinePolicy,
    pub language_wait_secs: u64,
    pub continuity_wait_secs: u64,
    pub overflow_after_secs: &'a [u64],
    pub sami_homeland: &'a [String],
}

/// One step of a case's overflow plan: when nobody has taken it by `at_ms`, it moves to `team`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverflowStep {
    pub team: String,
    pub at_ms: i64,
}

/// Who alone may take a case for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuity {
    pub professional: String,
    pub until_ms: i64,
}

/// Everything the store needs to write a new case, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePlan {
    pub channel: Channel,
    /// Best first, as classified.
    pub needs: Vec<Need>,
    pub urgency: Urgency,
    /// The language the case is served in (after the Sámi homeland rule).
    pub language: Language,
    pub team: String,
    /// The channel's queue, or `alert` for an emergency.
    pub queue: String,
    /// The sub-queue inside it: the routed need, or `any` in the alert queue.
    pub sub_queue: String,
    /// The need the case is routed on.
    pub routed_need: Need,
    /// A professional must have one of these to be offered the case.
    pub professions: Vec<Profession>,
    pub continuity: Option<Continuity>,
    /// Until then only speakers of `language` may take the case.
    pub language_wait_until_ms: i64,
    pub overflow: Vec<OverflowStep>,
    /// The earliest applicable deadline: the queue orders by it.
    pub deadline: Deadline,
    /// The statutory limit shown with the case, when one applies.
    pub statutory: Option<Deadline>,
    /// What the statutory limit was counted from, kept so that a change of urgency can count
    /// it again.
    pub age: Option<u32>,
    pub marks: Marks,
    /// Queue order: urgency class, then deadline.
    pub score: f64,
    pub created_ms: i64,
    pub reasons: Vec<String>,
    /// The chosen call-back window, when there is one: offered to nobody before its start,
    /// ordered by its end.
    pub window: Option<(i64, i64)>,
}

/// Plans a new case. Refuses only when no team of the county can take the need.
pub fn plan(
    contact: &ContactFacts<'_>,
    assessment: &Assessment<'_>,
    open: Option<&OpenCase>,
    policy: &IntakePolicy<'_>,
    now: DateTime<Utc>,
) -> Result<CasePlan, Refusal> {
    let (language, language_reason) = routing::service_language(
        contact.language.unwrap_or(assessment.language),
        contact.municipality,
        policy.sami_homeland,
    );
    let mut decision = routing::route(
        policy.teams,
        &RoutingRequest {
            needs: assessment.needs,
            urgency: assessment.urgency,
            channel: contact.channel,
            language,
            municipality: contact.municipality,
        },
    )
    .ok_or(Refusal::NoTeamForNeed)?;
    // Continuity: the own team named on the contact, else the team of the citizen's open case;
    // the own professional named, else the one holding that case. An own team named on the
    // contact wins over the open case, which is then not consulted at all.
    let open = open.filter(|_| contact.own_team.is_none());
    let own_team = match (contact.own_team, open) {
        (Some(t), _) => Some((t, "the citizen's own team")),
        (None, Some(o)) => Some((o.team.as_str(), "the team of the citizen's open case")),
        _ => None,
    };
    let own_professional = contact
        .own_professional
        .or(open.and_then(|o| o.holder.as_deref()));
    let own = routing::apply_continuity(policy.teams, &mut decision, own_team, own_professional);
    decision.reasons.extend(language_reason);
    let now_ms = now.timestamp_millis();
    let marks = policy
        .deadlines
        .marks(contact.channel, contact.form_category, contact.phone_menu);
    let facts = DeadlineFacts {
        needs: assessment.needs,
        urgency: assessment.urgency,
        channel: contact.channel,
        contact_at: now,
        age: contact.age,
        marks,
    };
    let deadline = policy.deadlines.deadline(&facts);
    let statutory = policy.deadlines.statutory(&facts);
    // A chosen call-back time must end by the deadline; an emergency is never held for one.
    let window = match contact.callback_window {
        Some(_) if assessment.urgency == Urgency::Emergency => {
            decision
                .reasons
                .push("chosen call-back time ignored: an emergency is taken at once".into());
            None
        }
        Some((_, to)) if to != i64::MAX && to > deadline.at.timestamp_millis() => {
            return Err(Refusal::WindowPastDeadline {
                latest: deadline.at,
            });
        }
        // No end given: the deadline ends it.
        Some((from, i64::MAX)) => Some((from, deadline.at.timestamp_millis())),
        Some(w) => Some(w),
        None => None,
    };
    // Continuity and the first team keep a case only while waiting for them does not put its
    // deadline at risk: the own professional alone for at most half the time left, each
    // overflow step at the latest at its share of it (of two steps: a third, two thirds).
    let left_ms = (deadline.at.timestamp_millis() - now_ms).max(0);
    let planned = routing::overflow_plan(
        policy.teams,
        &decision,
        contact.municipality,
        policy.overflow_after_secs,
        now_ms,
    );
    let steps = planned.len() as i64;
    let mut shortened = false;
    let mut previous = now_ms;
    let overflow: Vec<OverflowStep> = planned
        .into_iter()
        .enumerate()
        .map(|(i, (team, at_ms))| {
            // Never sooner than a minute after the step before: each team gets its moment.
            let latest = (now_ms + left_ms * (i as i64 + 1) / (steps + 1))
                .max(previous + MIN_OVERFLOW_STEP_MS);
            shortened |= latest < at_ms;
            previous = at_ms.min(latest);
            OverflowStep {
                team,
                at_ms: previous,
            }
        })
        .collect();
    if shortened {
        decision
            .reasons
            .push("overflow: steps brought forward so that the deadline is not put at risk".into());
    }
    let continuity = own.map(|professional| {
        // ... and never past the first overflow step, which takes continuity away.
        let first_step = overflow.first().map_or(i64::MAX, |o| o.at_ms - now_ms);
        let wait_ms = (1000 * policy.continuity_wait_secs as i64)
            .min(left_ms / 2)
            .min(first_step);
        decision.reasons.push(format!(
            "continuity: offered first to own professional {professional} for up to {} min{}",
            wait_ms / 60_000,
            if wait_ms < 1000 * policy.continuity_wait_secs as i64 {
                " (shortened: the deadline is near)"
            } else {
                ""
            }
        ));
        Continuity {
            professional,
            until_ms: now_ms + wait_ms,
        }
    });
    // Queued cases wait in a sub-queue per routed need, so that a professional's pull reads
    // only the heads of the sub-queues their profession serves.
    let sub_queue = if decision.queue == ALERT_QUEUE {
        ANY_NEED.to_string()
    } else {
        decision.need.code().to_string()
    };
    Ok(CasePlan {
        channel: contact.channel,
        needs: assessment.needs.to_vec(),
        urgency: assessment.urgency,
        language,
        // Ordered by the chosen window's end when there is one (it is never after the deadline).
        score: routing::priority_score(
            assessment.urgency,
            window.map_or(deadline.at.timestamp_millis(), |(_, to)| to),
        ),
        team: decision.team_id,
        queue: decision.queue,
        sub_queue,
        routed_need: decision.need,
        professions: decision.professions,
        continuity,
        language_wait_until_ms: now_ms + 1000 * policy.language_wait_secs as i64,
        overflow,
        deadline,
        statutory,
        age: contact.age,
        marks,
        created_ms: now_ms,
        reasons: decision.reasons,
        window,
    })
}

/// The shortest time between overflow steps when a near deadline brings them forward.
pub const MIN_OVERFLOW_STEP_MS: i64 = 60_000;

/// The sub-queue of the alert queue: emergencies wait there whatever their need.
pub const ANY_NEED: &str = "any";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::routing::{Capacity, Member};
    use chrono::TimeZone;

    fn member(id: &str, profession: Profession) -> Member {
        Member {
            id: id.into(),
            profession,
            languages: vec![Language::Finnish],
            capacity: Capacity::default(),
        }
    }

    fn team(id: &str, municipalities: &[&str], members: Vec<Member>) -> Team {
        Team {
            id: id.into(),
            name: id.into(),
            names: Default::default(),
            municipalities: municipalities.iter().map(|m| m.to_string()).collect(),
            county_wide: false,
            languages: vec![Language::Finnish],
            members,
        }
    }

    fn county() -> Vec<Team> {
        vec![
            team(
                "joensuu",
                &["Joensuu"],
                vec![
                    member("j-nurse", Profession::Nurse),
                    member("j-doctor", Profession::Doctor),
                ],
            ),
            team(
                "lieksa",
                &["Lieksa"],
                vec![member("l-nurse", Profession::Nurse)],
            ),
        ]
    }

    fn policy<'a>(teams: &'a [Team], deadlines: &'a DeadlinePolicy) -> IntakePolicy<'a> {
        IntakePolicy {
            teams,
            deadlines,
            language_wait_secs: 300,
            continuity_wait_secs: 600,
            overflow_after_secs: &[900, 1800],
            sami_homeland: &[],
        }
    }

    fn contact(channel: Channel) -> ContactFacts<'static> {
        ContactFacts {
            channel,
            municipality: Some("Joensuu"),
            language: None,
            age: Some(40),
            own_professional: None,
            own_team: None,
            form_category: None,
            phone_menu: None,
            callback_window: None,
        }
    }

    fn tuesday_ten() -> DateTime<Utc> {
        crate::domain::deadline::TZ
            .with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    const COUGH: Assessment<'static> = Assessment {
        needs: &[Need::AcuteSymptoms],
        urgency: Urgency::Soon,
        language: Language::Finnish,
    };

    #[test]
    fn a_contact_is_planned_into_its_municipalitys_team_with_deadline_and_overflow() {
        let (teams, d) = (county(), DeadlinePolicy::default());
        let now = tuesday_ten();
        let p = plan(
            &contact(Channel::Phone),
            &COUGH,
            None,
            &policy(&teams, &d),
            now,
        )
        .unwrap();
        assert_eq!((p.team.as_str(), p.queue.as_str()), ("joensuu", "phone"));
        assert_eq!(p.sub_queue, "acute_symptoms");
        assert_eq!(p.continuity, None);
        assert_eq!(p.language_wait_until_ms, now.timestamp_millis() + 300_000);
        // One other team has the professions: one step, after the first wait.
        assert_eq!(
            p.overflow,
            [OverflowStep {
                team: "lieksa".into(),
                at_ms: now.timestamp_millis() + 900_000
            }]
        );
        assert!(p.deadline.at > now);
        assert_eq!(
            p.score,
            routing::priority_score(Urgency::Soon, p.deadline.at.timestamp_millis())
        );
    }

    #[test]
    fn an_emergency_goes_to_the_alert_queue_without_waits_of_continuity_or_overflow() {
        let (teams, d) = (county(), DeadlinePolicy::default());
        let emergency = Assessment {
            urgency: Urgency::Emergency,
            ..COUGH
        };
        let open = OpenCase {
            team: "lieksa".into(),
            holder: Some("l-nurse".into()),
        };
        let p = plan(
            &contact(Channel::Chat),
            &emergency,
            Some(&open),
            &policy(&teams, &d),
            tuesday_ten(),
        )
        .unwrap();
        assert_eq!((p.queue.as_str(), p.sub_queue.as_str()), ("alert", "any"));
        assert_eq!(p.continuity, None);
        assert!(p.overflow.is_empty());
    }

    #[test]
    fn the_open_case_gives_its_team_and_holder_the_case_first() {
        let (teams, d) = (county(), DeadlinePolicy::default());
        let open = OpenCase {
            team: "lieksa".into(),
            holder: Some("l-nurse".into()),
        };
        let now = tuesday_ten();
        let p = plan(
            &contact(Channel::Phone),
            &COUGH,
            Some(&open),
            &policy(&teams, &d),
            now,
        )
        .unwrap();
        assert_eq!(p.team, "lieksa");
        assert_eq!(
            p.continuity,
            Some(Continuity {
                professional: "l-nurse".into(),
                until_ms: now.timestamp_millis() + 600_000
            })
        );
        assert!(p.reasons.iter().any(|r| r.contains("open case")));
    }

    /// An urgent call-back an hour from its deadline: the overflow steps at the latest at a
    /// third and two thirds of that hour, the own professional alone for at most half of it and
    /// never past the first step.
    #[test]
    fn continuity_and_overflow_give_way_as_the_deadline_nears() {
        let mut teams = county();
        teams.push(team(
            "kitee",
            &["Kitee"],
            vec![member("k-nurse", Profession::Nurse)],
        ));
        let d = DeadlinePolicy {
            urgent_hours: 1,
            ..DeadlinePolicy::default()
        };
        let open = OpenCase {
            team: "joensuu".into(),
            holder: Some("j-nurse".into()),
        };
        let now = tuesday_ten();
        let urgent = Assessment {
            urgency: Urgency::Urgent,
            ..COUGH
        };
        let policy = IntakePolicy {
            continuity_wait_secs: 1500,
            overflow_after_secs: &[1800, 1800],
            ..policy(&teams, &d)
        };
        let p = plan(&contact(Channel::Phone), &urgent, Some(&open), &policy, now).unwrap();
        let t0 = now.timestamp_millis();
        let min = 60_000;
        assert_eq!(p.deadline.at.timestamp_millis(), t0 + 60 * min);
        let at: Vec<i64> = p.overflow.iter().map(|o| o.at_ms - t0).collect();
        // Configured: 30 min, then 30 more; brought forward to 20 and 40.
        assert_eq!(at, vec![20 * min, 40 * min]);
        assert_eq!(
            p.continuity.unwrap().until_ms,
            t0 + 20 * min,
            "25 configured, but not past the first step"
        );
        assert!(
            p.reasons.iter().any(|r| r.contains("shortened")),
            "{:?}",
            p.reasons
        );
        assert!(
            p.reasons.iter().any(|r| r.contains("brought forward")),
            "{:?}",
            p.reasons
        );

        // Three months to the deadline: the configured waits stand.
        let routine = Assessment {
            urgency: Urgency::Routine,
            ..COUGH
        };
        let p = plan(
            &contact(Channel::Phone),
            &routine,
            Some(&open),
            &policy,
            now,
        )
        .unwrap();
        assert_eq!(p.continuity.unwrap().until_ms, t0 + 25 * min);
        let at: Vec<i64> = p.overflow.iter().map(|o| o.at_ms - t0).collect();
        assert_eq!(at, vec![30 * min, 60 * min]);
        assert!(
            !p.reasons
                .iter()
                .any(|r| r.contains("shortened") || r.contains("forward"))
        );
    }

    /// A chosen call-back time orders the case by its end; one ending after the deadline is
    /// refused with the latest allowed end; an emergency is never held for one.
    #[test]
    fn a_chosen_window_orders_by_its_end_ends_by_the_deadline_and_never_holds_an_emergency() {
        let (teams, d) = (county(), DeadlinePolicy::default());
        let now = tuesday_ten();
        let t0 = now.timestamp_millis();
        let with = |w| ContactFacts {
            callback_window: Some(w),
            ..contact(Channel::Phone)
        };
        let plain = plan(
            &contact(Channel::Phone),
            &COUGH,
            None,
            &policy(&teams, &d),
            now,
        )
        .unwrap();
        let deadline = plain.deadline.at.timestamp_millis();
        let p = plan(
            &with((t0 + 60_000, t0 + 120_000)),
            &COUGH,
            None,
            &policy(&teams, &d),
            now,
        )
        .unwrap();
        assert_eq!(p.window, Some((t0 + 60_000, t0 + 120_000)));
        assert!(
            p.score < plain.score,
            "ordered by the window's end, before the deadline"
        );
        let open_ended = plan(
            &with((t0, i64::MAX)),
            &COUGH,
            None,
            &policy(&teams, &d),
            now,
        )
        .unwrap();
        assert_eq!(open_ended.window, Some((t0, deadline)));
        let late = plan(
            &with((t0, deadline + 1)),
            &COUGH,
            None,
            &policy(&teams, &d),
            now,
        );
        assert!(
            matches!(late, Err(Refusal::WindowPastDeadline { latest }) if latest == plain.deadline.at)
        );
        let emergency = Assessment {
            urgency: Urgency::Emergency,
            ..COUGH
        };
        let e = plan(
            &with((t0 + 60_000, t0 + 120_000)),
            &emergency,
            None,
            &policy(&teams, &d),
            now,
        )
        .unwrap();
        assert_eq!(e.window, None);
    }

    #[test]
    fn an_own_team_named_on_the_contact_wins_over_the_open_case() {
        let (teams, d) = (county(), DeadlinePolicy::default());
        let open = OpenCase {
            team: "lieksa".into(),
            holder: Some("l-nurse".into()),
        };
        let c = ContactFacts {
            own_team: Some("joensuu"),
            ..contact(Channel::Phone)
        };
        let p = plan(&c, &COUGH, Some(&open), &policy(&teams, &d), tuesday_ten()).unwrap();
        assert_eq!(p.team, "joensuu");
        assert_eq!(
            p.continuity, None,
            "the open case's holder is not consulted"
        );
    }

    #[test]
    fn a_need_no_team_can_take_is_refused() {
        let d = DeadlinePolicy::default();
        let teams = vec![team("tiny", &["Joensuu"], vec![])];
        let r = plan(
            &contact(Channel::Phone),
            &COUGH,
            None,
            &policy(&teams, &d),
            tuesday_ten(),
        );
        assert_eq!(r, Err(Refusal::NoTeamForNeed));
    }
}
