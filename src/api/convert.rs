//! Every conversion between protobuf and domain types, in one place.

use std::time::Duration;

use crate::classify::{Classification, NeedScore};
use crate::domain::triage::TriageReason;
use crate::domain::{CaseStatus, Channel, Outcome, Presence, Urgency};
use crate::pb;
use crate::store::{CaseRecord, Reserved, UnconfirmedCase};

pub fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds since the epoch, or None for a timestamp outside what a request may name
/// (negative or out-of-range nanos).
pub fn millis(t: &prost_types::Timestamp) -> Option<i64> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return None;
    }
    t.seconds
        .checked_mul(1000)?
        .checked_add(i64::from(t.nanos) / 1_000_000)
}

pub fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

impl From<Channel> for pb::Channel {
    fn from(c: Channel) -> Self {
        match c {
            Channel::Phone => pb::Channel::Phone,
            Channel::Chat => pb::Channel::Chat,
            Channel::EService => pb::Channel::EService,
        }
    }
}

impl From<Urgency> for pb::Urgency {
    fn from(u: Urgency) -> Self {
        match u {
            Urgency::Emergency => pb::Urgency::Emergency,
            Urgency::Urgent => pb::Urgency::Urgent,
            Urgency::Soon => pb::Urgency::Soon,
            Urgency::Routine => pb::Urgency::Routine,
        }
    }
}

impl From<CaseStatus> for pb::CaseStatus {
    fn from(s: CaseStatus) -> Self {
        match s {
            CaseStatus::Queued => pb::CaseStatus::Queued,
            CaseStatus::Offered => pb::CaseStatus::Offered,
            CaseStatus::InProgress => pb::CaseStatus::InProgress,
            CaseStatus::Completed => pb::CaseStatus::Completed,
            CaseStatus::Cancelled => pb::CaseStatus::Cancelled,
            CaseStatus::Unreachable => pb::CaseStatus::Unreachable,
        }
    }
}

impl From<Outcome> for pb::Outcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::ResolvedAtFirstContact => pb::Outcome::ResolvedAtFirstContact,
            Outcome::FollowUpBooked => pb::Outcome::FollowUpBooked,
            Outcome::ReferredOn => pb::Outcome::ReferredOn,
            Outcome::CitizenNotReached => pb::Outcome::CitizenNotReached,
        }
    }
}

impl From<Option<Presence>> for pb::Presence {
    fn from(p: Option<Presence>) -> Self {
        match p {
            Some(Presence::Available) => pb::Presence::Available,
            Some(Presence::Busy) => pb::Presence::Busy,
            Some(Presence::OnBreak) => pb::Presence::OnBreak,
            Some(Presence::Offline) | None => pb::Presence::Offline,
        }
    }
}

/// A protobuf enum value a request carries: the domain value, or None when unspecified or
/// unknown (the caller names the field).
pub trait FromPb: Sized {
    fn from_pb(v: i32) -> Option<Self>;
}

impl FromPb for Channel {
    fn from_pb(v: i32) -> Option<Self> {
        match pb::Channel::try_from(v).ok()? {
            pb::Channel::Phone => Some(Channel::Phone),
            pb::Channel::Chat => Some(Channel::Chat),
            pb::Channel::EService => Some(Channel::EService),
            pb::Channel::Unspecified => None,
        }
    }
}

impl FromPb for Urgency {
    fn from_pb(v: i32) -> Option<Self> {
        match pb::Urgency::try_from(v).ok()? {
            pb::Urgency::Emergency => Some(Urgency::Emergency),
            pb::Urgency::Urgent => Some(Urgency::Urgent),
            pb::Urgency::Soon => Some(Urgency::Soon),
            pb::Urgency::Routine => Some(Urgency::Routine),
            pb::Urgency::Unspecified => None,
        }
    }
}

impl FromPb for Outcome {
    fn from_pb(v: i32) -> Option<Self> {
        match pb::Outcome::try_from(v).ok()? {
            pb::Outcome::ResolvedAtFirstContact => Some(Outcome::ResolvedAtFirstContact),
            pb::Outcome::FollowUpBooked => Some(Outcome::FollowUpBooked),
            pb::Outcome::ReferredOn => Some(Outcome::ReferredOn),
            pb::Outcome::CitizenNotReached => Some(Outcome::CitizenNotReached),
            pb::Outcome::Unspecified => None,
        }
    }
}

impl FromPb for crate::domain::CallOutcome {
    fn from_pb(v: i32) -> Option<Self> {
        use crate::domain::CallOutcome;
        match pb::CallOutcome::try_from(v).ok()? {
            pb::CallOutcome::Answered => Some(CallOutcome::Answered),
            pb::CallOutcome::NoAnswer => Some(CallOutcome::NoAnswer),
            pb::CallOutcome::Busy => Some(CallOutcome::Busy),
            pb::CallOutcome::WrongNumber => Some(CallOutcome::WrongNumber),
            pb::CallOutcome::Unspecified => None,
        }
    }
}

impl FromPb for Presence {
    fn from_pb(v: i32) -> Option<Self> {
        match pb::Presence::try_from(v).ok()? {
            pb::Presence::Available => Some(Presence::Available),
            pb::Presence::Busy => Some(Presence::Busy),
            pb::Presence::OnBreak => Some(Presence::OnBreak),
            pb::Presence::Offline => Some(Presence::Offline),
            pb::Presence::Unspecified => None,
        }
    }
}

impl FromPb for TriageReason {
    fn from_pb(v: i32) -> Option<Self> {
        match pb::TriageReason::try_from(v).ok()? {
            pb::TriageReason::MoreSevere => Some(TriageReason::MoreSevere),
            pb::TriageReason::LessSevere => Some(TriageReason::LessSevere),
            pb::TriageReason::OtherNeed => Some(TriageReason::OtherNeed),
            pb::TriageReason::PastEvent => Some(TriageReason::PastEvent),
            pb::TriageReason::NewInformation => Some(TriageReason::NewInformation),
            pb::TriageReason::Other => Some(TriageReason::Other),
            pb::TriageReason::Unspecified => None,
        }
    }
}

/// A case waiting for its first look, as the triage nurse's list shows it.
pub fn unconfirmed_pb(c: UnconfirmedCase, now_ms: i64) -> pb::UnconfirmedCase {
    let class: Option<pb::Classification> =
        prost::Message::decode(c.classification.as_slice()).ok();
    pb::UnconfirmedCase {
        needs: c.needs.iter().map(|n| n.code().to_string()).collect(),
        urgency: wire::<_, pb::Urgency>(c.urgency),
        classification_provisional: true,
        channel: wire::<_, pb::Channel>(c.channel),
        status: wire::<_, pb::CaseStatus>(c.status),
        queue: c.queue,
        arrived_at: Some(timestamp(c.created_ms)),
        first_look_due: c.first_look_due_ms.map(timestamp),
        overdue: c.first_look_due_ms.is_some_and(|d| d < now_ms),
        needs_triage: class.as_ref().is_some_and(|c| c.needs_triage),
        model_raised: class.as_ref().is_some_and(|c| c.model_raised),
        case_id: c.case_id,
    }
}

/// Enum value as the wire carries it.
pub fn wire<T: Into<E>, E: Into<i32>>(v: T) -> i32 {
    v.into().into()
}

impl From<&Classification> for pb::Classification {
    fn from(c: &Classification) -> Self {
        let score = |n: &NeedScore| pb::NeedScore {
            need: n.need.code().to_string(),
            confidence: n.confidence,
        };
        pb::Classification {
            needs: c.needs.iter().map(score).collect(),
            urgency: wire::<_, pb::Urgency>(c.urgency),
            red_flags: c.red_flags.clone(),
            language: c.language.code().to_string(),
            evidence: c
                .evidence
                .iter()
                .map(|e| pb::Evidence {
                    kind: e.kind.code().to_string(),
                    detail: e.detail.clone(),
                    supports: e.supports.clone(),
                })
                .collect(),
            needs_triage: c.needs_triage,
            suggestions: c.suggestions.iter().map(score).collect(),
            model_raised: c.model_raised,
        }
    }
}

/// Who reads a case: the holder also sees the citizen's words and number; the citizen's own
/// front end sees no staff ids, routing reasons, consultations or linked cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseView {
    Routing,
    Holder,
    Citizen,
}

/// A purpose of use from the wire; None when unspecified or unknown.
pub fn purpose_from_pb(v: i32) -> Option<crate::domain::Purpose> {
    use crate::domain::Purpose;
    match pb::PurposeOfUse::try_from(v).ok()? {
        pb::PurposeOfUse::Unspecified => None,
        pb::PurposeOfUse::CareRelationship => Some(Purpose::CareRelationship),
        pb::PurposeOfUse::Consultation => Some(Purpose::Consultation),
        pb::PurposeOfUse::Supervision => Some(Purpose::Supervision),
        pb::PurposeOfUse::QualityAssurance => Some(Purpose::QualityAssurance),
        pb::PurposeOfUse::CitizenRequest => Some(Purpose::CitizenRequest),
    }
}

/// A purpose's wire value (own_contact, which no caller sends, is unspecified).
pub fn purpose_pb(code: &str) -> pb::PurposeOfUse {
    use crate::domain::Purpose;
    match Purpose::from_code(code) {
        Some(Purpose::CareRelationship) => pb::PurposeOfUse::CareRelationship,
        Some(Purpose::Consultation) => pb::PurposeOfUse::Consultation,
        Some(Purpose::Supervision) => pb::PurposeOfUse::Supervision,
        Some(Purpose::QualityAssurance) => pb::PurposeOfUse::QualityAssurance,
        Some(Purpose::CitizenRequest) => pb::PurposeOfUse::CitizenRequest,
        _ => pb::PurposeOfUse::Unspecified,
    }
}

/// The case as the API shows it, with its estimated wait and call-back window (computed by
/// the caller from the live queue).
pub fn case_pb(
    rec: &CaseRecord,
    view: CaseView,
    wait: Option<Duration>,
    window: Option<(i64, i64)>,
) -> pb::Case {
    let holder = view == CaseView::Holder;
    let staff = view != CaseView::Citizen;
    let staff_only = |v: Vec<String>| if staff { v } else { Vec::new() };
    pb::Case {
        callback_window_start: window.map(|w| timestamp(w.0)),
        callback_window_end: window.map(|w| timestamp(w.1)),
        case_id: rec.id.clone(),
        status: wire::<_, pb::CaseStatus>(rec.status),
        channel: wire::<_, pb::Channel>(rec.channel),
        needs: rec.needs.iter().map(|n| n.code().to_string()).collect(),
        urgency: wire::<_, pb::Urgency>(rec.urgency),
        language: rec.language.code().to_string(),
        team_id: rec.team.clone(),
        queue: rec.queue.clone(),
        deadline: Some(timestamp(rec.deadline_ms)),
        created_at: Some(timestamp(rec.created_ms)),
        estimated_wait: wait.map(duration),
        professional_id: rec.holder.clone().filter(|_| staff).unwrap_or_default(),
        outcome: rec.outcome.map(wire::<_, pb::Outcome>).unwrap_or_default(),
        contact_ids: rec.contacts.clone(),
        classification: prost::Message::decode(rec.classification.as_slice()).ok(),
        routing_reasons: staff_only(rec.reasons.clone()),
        deadline_rule: rec.deadline_rule.clone(),
        citizen_text: rec.text.clone().filter(|_| holder).unwrap_or_default(),
        interpreter_needed: rec.interpreter_needed,
        callback_number: rec
            .callback_number
            .clone()
            .filter(|_| holder)
            .unwrap_or_default(),
        linked_case_ids: staff_only(rec.linked_cases.clone()),
        recontact: rec.recontact,
        callback_offered: rec.callback_offered,
        statutory_deadline: rec.statutory.as_ref().map(|s| timestamp(s.at_ms)),
        statutory_rule: rec
            .statutory
            .as_ref()
            .map(|s| s.rule.clone())
            .unwrap_or_default(),
        deadline_law: rec.deadline_law.clone(),
        statutory_law: rec
            .statutory
            .as_ref()
            .map(|s| s.law.clone())
            .unwrap_or_default(),
        consultations: staff_only(
            rec.consultations
                .iter()
                .map(|(who, state)| format!("{who}:{state}"))
                .collect(),
        ),
        classification_provisional: rec.triage_confirmed.is_none(),
        first_look_due: rec.first_look_due_ms.map(timestamp),
        triage_confirmed_at: rec.triage_confirmed.as_ref().map(|(at, _)| timestamp(*at)),
        triage_confirmed_by: rec
            .triage_confirmed
            .as_ref()
            .map(|(_, by)| by.clone())
            .filter(|_| staff)
            .unwrap_or_default(),
    }
}

impl From<Reserved> for pb::Offer {
    fn from(r: Reserved) -> Self {
        pb::Offer {
            case_id: r.case_id,
            expires_at: (r.expires_ms > 0).then(|| timestamp(r.expires_ms)),
            channel: r
                .channel
                .parse::<Channel>()
                .map(wire::<_, pb::Channel>)
                .unwrap_or_default(),
            needs: r
                .needs
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            urgency: r
                .urgency
                .parse::<Urgency>()
                .map(wire::<_, pb::Urgency>)
                .unwrap_or_default(),
            language: r.language,
            deadline: Some(timestamp(r.deadline_ms)),
            team_id: r.team,
            interpreter_needed: r.interpreter_needed,
            consultation: !r.consultation_for.is_empty(),
            requested_by: r.consultation_for,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_bad_nanos_are_refused() {
        let t = timestamp(-1);
        assert_eq!((t.seconds, t.nanos), (-1, 999_000_000));
        assert_eq!(millis(&timestamp(1_234_567)), Some(1_234_567));
        let bad = prost_types::Timestamp {
            seconds: 1,
            nanos: -5,
        };
        assert_eq!(millis(&bad), None);
        let huge = prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(millis(&huge), None);
    }

    #[test]
    fn every_domain_enum_survives_the_wire() {
        for c in Channel::ALL {
            assert_eq!(Channel::from_pb(wire::<_, pb::Channel>(*c)), Some(*c));
        }
        for u in Urgency::ALL {
            assert_eq!(Urgency::from_pb(wire::<_, pb::Urgency>(*u)), Some(*u));
        }
        for o in Outcome::ALL {
            assert_eq!(Outcome::from_pb(wire::<_, pb::Outcome>(*o)), Some(*o));
        }
        for r in TriageReason::ALL {
            let code = format!("TRIAGE_REASON_{}", r.code().to_ascii_uppercase());
            let v = pb::TriageReason::from_str_name(&code).expect("a wire value per reason");
            assert_eq!(TriageReason::from_pb(v as i32), Some(*r));
        }
        assert_eq!(Channel::from_pb(0), None);
        assert_eq!(Urgency::from_pb(99), None);
    }
}
