//! Choosing the team and queue for a case: need → professions → the team that serves the
//! citizen's municipality and has those professions. Every choice records its reasons.

use serde::Deserialize;

use super::{Channel, Language, Need, Profession, Urgency};

/// A multiprofessional team, as the county configures it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: String,
    /// The name in Finnish (and the fallback in every language).
    pub name: String,
    /// The name in other languages, by language code: `names = { sv = "…", en = "…" }`.
    #[serde(default)]
    pub names: std::collections::BTreeMap<Language, String>,
    /// Municipalities served. Empty with `county_wide` set: serves the whole county.
    #[serde(default)]
    pub municipalities: Vec<String>,
    #[serde(default)]
    pub county_wide: bool,
    pub languages: Vec<Language>,
    #[serde(default, rename = "member")]
    pub members: Vec<Member>,
}

/// A professional in a team.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub id: String,
    pub profession: Profession,
    pub languages: Vec<Language>,
    /// Capacity per channel: how many cases of that channel at once. A channel not named is not
    /// taken.
    pub capacity: Capacity,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Capacity {
    pub phone: u32,
    pub chat: u32,
    pub e_service: u32,
}

impl Capacity {
    pub fn get(&self, ch: Channel) -> u32 {
        match ch {
            Channel::Phone => self.phone,
            Channel::Chat => self.chat,
            Channel::EService => self.e_service,
        }
    }

    pub fn set(&mut self, ch: Channel, v: u32) {
        match ch {
            Channel::Phone => self.phone = v,
            Channel::Chat => self.chat = v,
            Channel::EService => self.e_service = v,
        }
    }
}

impl Team {
    pub fn serves(&self, municipality: Option<&str>) -> bool {
        match municipality {
            Some(m) => self
                .municipalities
                .iter()
                .any(|x| x.eq_ignore_ascii_case(m)),
            None => false,
        }
    }

    fn has_profession_for(&self, need: Need) -> bool {
        self.members
            .iter()
            .any(|m| need.professions().contains(&m.profession))
    }

    fn speakers_of(&self, lang: Language) -> usize {
        self.members
            .iter()
            .filter(|m| m.languages.contains(&lang))
            .count()
    }
}

/// What routing needs to know about a contact.
#[derive(Debug, Clone)]
pub struct RoutingRequest<'a> {
    /// Best first.
    pub needs: &'a [Need],
    pub urgency: Urgency,
    pub channel: Channel,
    pub language: Language,
    pub municipality: Option<&'a str>,
}

/// Where a case goes and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingDecision {
    pub team_id: String,
    /// The queue inside the team: the channel's, or `alert` for an emergency.
    pub queue: String,
    /// The need the case is routed on (the primary one, or what an emergency escalated to).
    pub need: Need,
    /// A professional must have one of these to be offered the case.
    pub professions: Vec<Profession>,
    pub reasons: Vec<String>,
}

/// The queue name used for emergencies: checked before any channel queue and regardless of
/// capacity, so that an emergency never waits behind normal work.
pub const ALERT_QUEUE: &str = "alert";

/// Chooses a team. Prefers a team serving the municipality that covers every need (one case,
/// one team), then a county-wide team covering every need, then any team covering the primary
/// need, then service guidance. Among equals, the team with more speakers of the language wins.
pub fn route(teams: &[Team], req: &RoutingRequest<'_>) -> Option<RoutingDecision> {
    let mut primary = *req.needs.first()?;
    let mut escalated = None;
    if req.urgency == Urgency::Emergency && primary == Need::ServiceGuidance {
        // An emergency never waits for triage by a service counsellor: the duty nurse takes it.
        primary = Need::AcuteSymptoms;
        escalated =
            Some("emergency without a clear need: routed as acute symptoms to clinical staff");
    }
    let needs: Vec<Need> = match escalated {
        Some(_) => vec![primary],
        None => req.needs.to_vec(),
    };
    let req = &RoutingRequest {
        needs: &needs,
        ..req.clone()
    };
    let covers_all = |t: &Team| req.needs.iter().all(|n| t.has_profession_for(*n));
    let local = |t: &Team| t.serves(req.municipality);
    type Fits<'f> = &'f dyn Fn(&Team) -> bool;
    let tiers: [(&str, Fits<'_>); 4] = [
        ("serves the municipality and covers every need", &|t| {
            local(t) && covers_all(t)
        }),
        ("county-wide team covering every need", &|t| {
            t.county_wide && covers_all(t)
        }),
        ("covers the primary need", &|t| {
            t.has_profession_for(primary)
        }),
        ("service guidance", &|t| {
            t.has_profession_for(Need::ServiceGuidance)
        }),
    ];
    for (why, fits) in tiers {
        let best = teams.iter().filter(|t| fits(t)).max_by_key(|t| {
            (
                local(t),
                t.speakers_of(req.language),
                std::cmp::Reverse(&t.id),
            )
        });
        if let Some(team) = best {
            let need = if why == "service guidance" {
                Need::ServiceGuidance
            } else {
                primary
            };
            let mut reasons = vec![format!("team {}: {why}", team.id)];
            reasons.extend(escalated.map(String::from));
            if team.speakers_of(req.language) == 0 {
                reasons.push(format!(
                    "no {} speaker in team: interpreter needed",
                    req.language
                ));
            }
            let queue = if req.urgency == Urgency::Emergency {
                reasons.push("emergency: alert queue, offered before any other work".into());
                ALERT_QUEUE.to_string()
            } else {
                req.channel.code().to_string()
            };
            return Some(RoutingDecision {
                team_id: team.id.clone(),
                queue,
                need,
                professions: need.professions().to_vec(),
                reasons,
            });
        }
    }
    None
}

/// Sámi language rights (Sámi Language Act 1086/2003) hold in the Sámi homeland: there a Sámi
/// speaker goes first to Sámi-speaking staff; elsewhere they are served in Finnish. Returns the
/// language to route on and the reason to record.
pub fn service_language(
    lang: Language,
    municipality: Option<&str>,
    homeland: &[String],
) -> (Language, Option<String>) {
    if !lang.is_sami() {
        return (lang, None);
    }
    match municipality.filter(|m| homeland.iter().any(|h| h.eq_ignore_ascii_case(m))) {
        Some(m) => (
            lang,
            Some(format!("Sámi homeland ({m}): Sámi-speaking staff first")),
        ),
        None => (
            Language::Finnish,
            Some(format!(
                "{} speaker outside the Sámi homeland: served in Finnish",
                lang.code()
            )),
        ),
    }
}

/// Continuity: the citizen's own team (`own_team`, with why it is theirs) takes the case when it
/// has the professions; the own professional, when a member of the chosen team with one of the
/// professions, is returned to be offered the case first. Emergencies are left as routed.
pub fn apply_continuity(
    teams: &[Team],
    decision: &mut RoutingDecision,
    own_team: Option<(&str, &str)>,
    own_professional: Option<&str>,
) -> Option<String> {
    if decision.queue == ALERT_QUEUE {
        return None;
    }
    let has_professions = |t: &Team| {
        t.members
            .iter()
            .any(|m| decision.professions.contains(&m.profession))
    };
    if let Some((id, why)) = own_team
        && id != decision.team_id
        && let Some(t) = teams.iter().find(|t| t.id == id && has_professions(t))
    {
        decision.reasons = vec![format!("team {}: continuity, {why}", t.id)];
        decision.team_id = t.id.clone();
    }
    let team = teams.iter().find(|t| t.id == decision.team_id)?;
    team.members
        .iter()
        .find(|m| {
            Some(m.id.as_str()) == own_professional && decision.professions.contains(&m.profession)
        })
        .map(|m| m.id.clone())
}

/// The overflow plan of a routed case: the teams of its steps (`overflow_teams`) and when each
/// step is due, the waits of `after_secs` counted one after the other from `now_ms`.
pub fn overflow_plan(
    teams: &[Team],
    decision: &RoutingDecision,
    municipality: Option<&str>,
    after_secs: &[u64],
    now_ms: i64,
) -> Vec<(String, i64)> {
    if decision.queue == ALERT_QUEUE {
        return Vec::new();
    }
    let steps = overflow_teams(
        teams,
        &decision.team_id,
        &decision.professions,
        municipality,
        after_secs.len(),
    );
    let mut at = now_ms;
    steps
        .into_iter()
        .zip(after_secs)
        .map(|(team, secs)| {
            at += 1000 * *secs as i64;
            (team, at)
        })
        .collect()
}

/// The overflow steps of a case routed to `team`: first another team serving the citizen's
/// municipality, then any team of the county — each with someone of the professions, the team
/// with the most such members first, no team twice. At most `steps` teams.
pub fn overflow_teams(
    teams: &[Team],
    team: &str,
    professions: &[Profession],
    municipality: Option<&str>,
    steps: usize,
) -> Vec<String> {
    let able = |t: &Team| {
        t.members
            .iter()
            .filter(|m| professions.contains(&m.profession))
            .count()
    };
    let mut out: Vec<String> = Vec::new();
    let pick = |filter: &dyn Fn(&Team) -> bool, out: &mut Vec<String>| {
        let best = teams
            .iter()
            .filter(|t| t.id != team && !out.contains(&t.id) && able(t) > 0 && filter(t))
            .max_by_key(|t| (able(t), std::cmp::Reverse(t.id.clone())));
        if let Some(t) = best {
            out.push(t.id.clone());
        }
    };
    pick(
        &|t: &Team| municipality.is_some() && (t.county_wide || t.serves(municipality)),
        &mut out,
    );
    while out.len() < steps {
        let before = out.len();
        pick(&|_| true, &mut out);
        if out.len() == before {
            break;
        }
    }
    out.truncate(steps);
    out
}

/// When the county's professionals call citizens back: working days, local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficeHours {
    pub open_hour: u32,
    pub close_hour: u32,
}

/// The call-back window promised to a citizen waiting for a call: from the estimated wait, but
/// never outside office hours (a contact at 19:30 hears the next working morning), at least
/// half an hour wide (wider when the wait is long) and within the day's office hours, ending by
/// the deadline when the deadline allows. Milliseconds since the epoch.
pub fn callback_window(
    now_ms: i64,
    wait: std::time::Duration,
    deadline_ms: i64,
    hours: OfficeHours,
) -> (i64, i64) {
    use super::calendar::{office_close_on, office_open_at};
    const HALF_HOUR: i64 = 30 * 60_000;
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let open =
        |ms: i64| office_open_at(at(ms), hours.open_hour, hours.close_hour).timestamp_millis();
    let close = |ms: i64| office_close_on(at(ms), hours.close_hour).timestamp_millis();
    let mut start = open(now_ms + wait.as_millis() as i64);
    // Less than half an hour of the day left: the next working morning.
    if close(start) - start < HALF_HOUR {
        start = open(close(start));
    }
    let width = (wait.as_millis() as i64 / 2).max(HALF_HOUR);
    let end = (start + width).min(close(start));
    let end = if deadline_ms > start + 10 * 60_000 {
        end.min(deadline_ms)
    } else {
        end
    };
    (start, end)
}

/// Queue order: urgency class first, then earliest deadline. Ties keep arrival order because
/// case ids are time-ordered (UUIDv7) and Redis orders equal scores by member.
pub fn priority_score(urgency: Urgency, deadline_ms: i64) -> f64 {
    // 1e13 ms is about 317 years: ranks never overlap, and the sum stays exact in an f64.
    urgency.rank() as f64 * 1e13 + deadline_ms.max(0) as f64
}

#[cfg(test)]
mod window_tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};
    use std::time::Duration;

    const HOURS: OfficeHours = OfficeHours {
        open_hour: 8,
        close_hour: 16,
    };

    /// Helsinki local time on a day of 2026 as ms.
    fn at(month: u32, day: u32, h: u32, m: u32) -> i64 {
        crate::domain::calendar::local_time(
            NaiveDate::from_ymd_opt(2026, month, day).unwrap(),
            NaiveTime::from_hms_opt(h, m, 0).unwrap(),
        )
        .timestamp_millis()
    }

    fn window(now: i64, wait_mins: u64, deadline: i64) -> (i64, i64) {
        callback_window(now, Duration::from_secs(wait_mins * 60), deadline, HOURS)
    }

    #[test]
    fn a_call_back_window_is_half_an_hour_or_more_and_ends_by_the_deadline() {
        let monday = |h, m| at(11, 23, h, m);
        let close = monday(16, 0);
        assert_eq!(
            window(monday(10, 0), 10, close),
            (monday(10, 10), monday(10, 40))
        );
        assert_eq!(
            window(monday(10, 0), 120, close),
            (monday(12, 0), monday(13, 0))
        );
        // The deadline cuts it short...
        assert_eq!(
            window(monday(10, 0), 10, monday(10, 25)),
            (monday(10, 10), monday(10, 25))
        );
        // ...unless the wait already runs past it: then the honest window, late.
        assert_eq!(
            window(monday(10, 0), 10, monday(10, 5)),
            (monday(10, 10), monday(10, 40))
        );
        // Within the day's office hours.
        assert_eq!(
            window(monday(15, 0), 10, monday(23, 0)),
            (monday(15, 10), monday(15, 40))
        );
        assert_eq!(
            window(monday(15, 20), 0, monday(23, 0)),
            (monday(15, 20), monday(15, 50))
        );
    }

    #[test]
    fn after_hours_the_window_is_the_next_working_morning() {
        let tuesday = |h, m| at(11, 24, h, m);
        // Monday 19:30 (the walk-through's hour) and 15:45 (a quarter of an hour left).
        assert_eq!(
            window(at(11, 23, 19, 30), 3, tuesday(16, 0)),
            (tuesday(8, 0), tuesday(8, 30))
        );
        assert_eq!(
            window(at(11, 23, 15, 45), 1, tuesday(16, 0)),
            (tuesday(8, 0), tuesday(8, 30))
        );
        // A wait that runs past closing time.
        assert_eq!(
            window(at(11, 23, 15, 0), 60, tuesday(16, 0)),
            (tuesday(8, 0), tuesday(8, 30))
        );
        // Before opening: at opening.
        assert_eq!(
            window(tuesday(7, 0), 5, tuesday(16, 0)),
            (tuesday(8, 0), tuesday(8, 30))
        );
        // Saturday: Monday morning; Christmas Eve: the Monday after Christmas.
        assert_eq!(
            window(at(11, 28, 10, 0), 5, at(11, 30, 16, 0)),
            (at(11, 30, 8, 0), at(11, 30, 8, 30))
        );
        assert_eq!(
            window(at(12, 24, 10, 0), 5, at(12, 28, 16, 0)),
            (at(12, 28, 8, 0), at(12, 28, 8, 30))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, p: Profession, langs: &[Language]) -> Member {
        Member {
            id: id.into(),
            profession: p,
            languages: langs.to_vec(),
            capacity: Capacity {
                phone: 1,
                chat: 3,
                e_service: 10,
            },
        }
    }

    fn teams() -> Vec<Team> {
        use Language::*;
        use Profession::*;
        vec![
            Team {
                id: "joensuu".into(),
                name: "Joensuu".into(),
                names: Default::default(),
                municipalities: vec!["Joensuu".into()],
                county_wide: false,
                languages: vec![Finnish],
                members: vec![
                    member("n1", Nurse, &[Finnish]),
                    member("s1", SocialWorker, &[Finnish]),
                ],
            },
            Team {
                id: "dental".into(),
                name: "Suun terveydenhuolto".into(),
                names: Default::default(),
                municipalities: vec![],
                county_wide: true,
                languages: vec![Finnish, Swedish],
                members: vec![member("d1", Dentist, &[Finnish, Swedish])],
            },
            Team {
                id: "guidance".into(),
                name: "Palveluneuvonta".into(),
                names: Default::default(),
                municipalities: vec![],
                county_wide: true,
                languages: vec![Finnish],
                members: vec![member("g1", ServiceCounsellor, &[Finnish])],
            },
        ]
    }

    /// The test county plus an area team of its own for Lieksa, with one nurse.
    fn with_lieksa() -> Vec<Team> {
        let mut teams = teams();
        teams.push(Team {
            id: "lieksa".into(),
            name: "Lieksa".into(),
            names: Default::default(),
            municipalities: vec!["Lieksa".into()],
            county_wide: false,
            languages: vec![Language::Finnish],
            members: vec![member("n9", Profession::Nurse, &[Language::Finnish])],
        });
        teams
    }

    fn req<'a>(needs: &'a [Need], municipality: Option<&'static str>) -> RoutingRequest<'a> {
        RoutingRequest {
            needs,
            urgency: Urgency::Soon,
            channel: Channel::Phone,
            language: Language::Finnish,
            municipality,
        }
    }

    #[test]
    fn local_team_covering_all_needs_wins() {
        let d = route(
            &teams(),
            &req(&[Need::AcuteSymptoms, Need::SocialSupport], Some("joensuu")),
        )
        .unwrap();
        assert_eq!(d.team_id, "joensuu");
        assert_eq!(d.queue, "phone");
        assert_eq!(d.professions, vec![Profession::Nurse, Profession::Doctor]);
    }

    #[test]
    fn sami_rights_hold_in_the_homeland_only() {
        let homeland = vec!["Inari".to_string()];
        let (l, why) = service_language(Language::NorthSami, Some("inari"), &homeland);
        assert_eq!(l, Language::NorthSami);
        assert!(why.unwrap().starts_with("Sámi homeland"));
        let (l, why) = service_language(Language::SkoltSami, Some("Joensuu"), &homeland);
        assert_eq!(l, Language::Finnish);
        assert!(why.unwrap().contains("outside the Sámi homeland"));
        assert_eq!(
            service_language(Language::Swedish, Some("Joensuu"), &homeland),
            (Language::Swedish, None)
        );
    }

    #[test]
    fn continuity_takes_the_own_team_and_professional_only_when_they_fit() {
        let teams = with_lieksa();
        let mut d = route(&teams, &req(&[Need::AcuteSymptoms], Some("Lieksa"))).unwrap();
        assert_eq!(d.team_id, "lieksa");
        let own = apply_continuity(&teams, &mut d, Some(("joensuu", "own team")), Some("n1"));
        assert_eq!(d.team_id, "joensuu");
        assert_eq!(d.reasons, ["team joensuu: continuity, own team"]);
        assert_eq!(own.as_deref(), Some("n1"));
        // A social worker is not the own professional for acute symptoms; a team without the
        // professions is not chosen.
        let mut d = route(&teams, &req(&[Need::AcuteSymptoms], Some("Lieksa"))).unwrap();
        assert_eq!(
            apply_continuity(&teams, &mut d, Some(("dental", "own team")), Some("s1")),
            None
        );
        assert_eq!(d.team_id, "lieksa");
        // Emergencies are left as routed.
        let mut e = route(
            &teams,
            &RoutingRequest {
                urgency: Urgency::Emergency,
                ..req(&[Need::AcuteSymptoms], Some("Lieksa"))
            },
        )
        .unwrap();
        assert_eq!(
            apply_continuity(&teams, &mut e, Some(("joensuu", "x")), Some("n1")),
            None
        );
        assert_eq!(e.team_id, "lieksa");
    }

    #[test]
    fn overflow_steps_are_timed_one_after_the_other() {
        let teams = with_lieksa();
        let d = route(&teams, &req(&[Need::AcuteSymptoms], Some("Joensuu"))).unwrap();
        assert_eq!(d.team_id, "joensuu");
        let plan = overflow_plan(&teams, &d, Some("Joensuu"), &[900, 1800], 1_000);
        assert_eq!(plan, [("lieksa".to_string(), 901_000)]);
        assert!(overflow_plan(&teams, &d, Some("Joensuu"), &[], 0).is_empty());
    }

    #[test]
    fn county_wide_team_takes_what_locals_cannot() {
        let d = route(&teams(), &req(&[Need::OralHealth], Some("Joensuu"))).unwrap();
        assert_eq!(d.team_id, "dental");
    }

    #[test]
    fn unknown_need_coverage_falls_back_to_guidance() {
        let d = route(&teams(), &req(&[Need::Rehabilitation], None)).unwrap();
        assert_eq!(d.team_id, "guidance");
        assert_eq!(d.professions, vec![Profession::ServiceCounsellor]);
    }

    #[test]
    fn emergency_goes_to_the_alert_queue() {
        let mut r = req(&[Need::AcuteSymptoms], Some("Joensuu"));
        r.urgency = Urgency::Emergency;
        assert_eq!(route(&teams(), &r).unwrap().queue, ALERT_QUEUE);
    }

    #[test]
    fn an_emergency_without_a_need_goes_to_clinical_staff() {
        let mut r = req(&[Need::ServiceGuidance], Some("Joensuu"));
        r.urgency = Urgency::Emergency;
        let d = route(&teams(), &r).unwrap();
        assert_eq!(d.team_id, "joensuu");
        assert_eq!(d.professions, vec![Profession::Nurse, Profession::Doctor]);
        assert_eq!(d.queue, ALERT_QUEUE);
    }

    #[test]
    fn missing_language_is_flagged() {
        let mut r = req(&[Need::AcuteSymptoms], Some("Joensuu"));
        r.language = Language::Swedish;
        let d = route(&teams(), &r).unwrap();
        assert!(d.reasons.iter().any(|x| x.contains("interpreter")));
    }

    #[test]
    fn score_orders_urgency_before_deadline() {
        let early_routine = priority_score(Urgency::Routine, 1_000);
        let late_urgent = priority_score(Urgency::Urgent, 4_000_000_000_000);
        assert!(late_urgent < early_routine);
        assert!(priority_score(Urgency::Soon, 1) < priority_score(Urgency::Soon, 2));
    }
}

/// Estimated wait for the case at 0-based `position` in its queue, with `available`
/// professionals on its channel each taking `handling` per case. With nobody available it
/// assumes one professional will come, so the estimate grows with the queue rather than
/// pretending to be zero. Emergencies are never estimated to wait.
pub fn estimate_wait(
    position: u64,
    available: u64,
    handling: std::time::Duration,
    emergency: bool,
) -> std::time::Duration {
    if emergency {
        return std::time::Duration::ZERO;
    }
    // Whole rounds of work ahead, plus on average half a case still in hand.
    let rounds_ahead = position / available.max(1);
    handling.mul_f64(rounds_ahead as f64 + 0.5)
}

#[cfg(test)]
mod wait_tests {
    use super::estimate_wait;
    use std::time::Duration;

    #[test]
    fn wait_grows_with_position_and_shrinks_with_staff() {
        let h = Duration::from_secs(600);
        let first = estimate_wait(0, 1, h, false);
        let tenth = estimate_wait(9, 1, h, false);
        let tenth_with_five = estimate_wait(9, 5, h, false);
        assert!(first < tenth);
        assert!(tenth_with_five < tenth);
        assert_eq!(estimate_wait(9, 0, h, false), estimate_wait(9, 1, h, false));
        assert_eq!(estimate_wait(50, 3, h, true), Duration::ZERO);
    }
}
