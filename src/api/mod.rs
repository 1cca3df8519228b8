//! The gRPC services: validate the request, call the domain and the store, map errors to
//! `Status`. Validation failures name the field and happen before anything is written.

pub mod contact;
pub mod supervisor;
pub mod work;

use std::time::Duration;

use tonic::Status;

pub use crate::app::AppState;
use crate::domain::{self, CaseStatus, Channel, Outcome, Urgency};
use crate::pb;
use crate::store::{CaseRecord, StoreError};

/// `INVALID_ARGUMENT` naming the field.
pub fn invalid(field: &str, why: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {why}"))
}

pub fn store_status(e: StoreError) -> Status {
    match e {
        // A connection lost or Redis still loading is worth a retry; anything else (a script
        // error, a wrong type) is a defect and must not be dressed up as a passing outage.
        StoreError::Redis(e) if matches!(e.retry_method(), redis::RetryMethod::NoRetry) => {
            tracing::error!(error = %e, "redis refused the request");
            Status::internal("storage refused the request")
        }
        StoreError::Redis(e) => {
            tracing::warn!(error = %e, "redis unavailable");
            Status::unavailable("storage is unavailable; retry shortly")
        }
        StoreError::NotFound(what) => Status::not_found(format!("{what} not found")),
        StoreError::Conflict(why) => Status::failed_precondition(why),
        StoreError::Corrupt(why) => {
            tracing::error!(error = %why, "damaged record");
            Status::internal("stored data is damaged")
        }
    }
}

pub fn now_ms() -> i64 {
    crate::clock::now_ms()
}

pub fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

pub fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

pub fn channel_pb(c: Channel) -> pb::Channel {
    match c {
        Channel::Phone => pb::Channel::Phone,
        Channel::Chat => pb::Channel::Chat,
        Channel::EService => pb::Channel::EService,
    }
}

pub fn channel_from_pb(v: i32) -> Option<Channel> {
    match pb::Channel::try_from(v).ok()? {
        pb::Channel::Phone => Some(Channel::Phone),
        pb::Channel::Chat => Some(Channel::Chat),
        pb::Channel::EService => Some(Channel::EService),
        pb::Channel::Unspecified => None,
    }
}

pub fn urgency_pb(u: Urgency) -> pb::Urgency {
    match u {
        Urgency::Emergency => pb::Urgency::Emergency,
        Urgency::Urgent => pb::Urgency::Urgent,
        Urgency::Soon => pb::Urgency::Soon,
        Urgency::Routine => pb::Urgency::Routine,
    }
}

pub fn status_pb(s: CaseStatus) -> pb::CaseStatus {
    match s {
        CaseStatus::Queued => pb::CaseStatus::Queued,
        CaseStatus::Offered => pb::CaseStatus::Offered,
        CaseStatus::InProgress => pb::CaseStatus::InProgress,
        CaseStatus::Completed => pb::CaseStatus::Completed,
        CaseStatus::Cancelled => pb::CaseStatus::Cancelled,
    }
}

pub fn outcome_pb(o: Outcome) -> pb::Outcome {
    match o {
        Outcome::ResolvedAtFirstContact => pb::Outcome::ResolvedAtFirstContact,
        Outcome::FollowUpBooked => pb::Outcome::FollowUpBooked,
        Outcome::ReferredOn => pb::Outcome::ReferredOn,
        Outcome::CitizenNotReached => pb::Outcome::CitizenNotReached,
    }
}

pub fn outcome_from_pb(v: i32) -> Option<Outcome> {
    match pb::Outcome::try_from(v).ok()? {
        pb::Outcome::ResolvedAtFirstContact => Some(Outcome::ResolvedAtFirstContact),
        pb::Outcome::FollowUpBooked => Some(Outcome::FollowUpBooked),
        pb::Outcome::ReferredOn => Some(Outcome::ReferredOn),
        pb::Outcome::CitizenNotReached => Some(Outcome::CitizenNotReached),
        pb::Outcome::Unspecified => None,
    }
}

impl AppState {
    /// Estimated wait of a queued case from its place and the professionals available.
    pub fn estimated_wait(&self, rec: &CaseRecord) -> Option<Duration> {
        if rec.str("status") != "queued" {
            return None;
        }
        let channel: Channel = rec.str("channel").parse().ok()?;
        Some(domain::routing::estimate_wait(
            rec.position.unwrap_or(0),
            rec.available,
            Duration::from_secs(self.config.routing.average_handling_secs.get(channel)),
            rec.str("queue") == domain::routing::ALERT_QUEUE,
        ))
    }

    /// Reads a case and shows it as the API does.
    pub async fn case(&self, id: &str, for_holder: bool) -> Result<pb::Case, Status> {
        let rec = self.store.load_case(id).await.map_err(store_status)?;
        self.case_pb(id, &rec, for_holder)
    }

    /// The case as the API shows it. `for_holder` adds the free text and call-back number.
    pub fn case_pb(
        &self,
        id: &str,
        rec: &CaseRecord,
        for_holder: bool,
    ) -> Result<pb::Case, Status> {
        let status = rec.status().map_err(store_status)?;
        let classification: Option<pb::Classification> =
            prost::Message::decode(rec.bytes("class")).ok();
        let wait = self.estimated_wait(rec);
        let window = match wait {
            Some(w) if rec.str("channel") == "phone" => Some(domain::routing::callback_window(
                now_ms(),
                w,
                rec.int("deadline"),
            )),
            _ => None,
        };
        Ok(pb::Case {
            callback_window_start: window.map(|w| timestamp(w.0)),
            callback_window_end: window.map(|w| timestamp(w.1)),
            case_id: id.to_string(),
            status: status_pb(status) as i32,
            channel: rec
                .str("channel")
                .parse()
                .map(channel_pb)
                .unwrap_or_default() as i32,
            needs: csv_list(rec.str("needs")),
            urgency: rec
                .str("urgency")
                .parse()
                .map(urgency_pb)
                .unwrap_or_default() as i32,
            language: rec.str("lang").to_string(),
            team_id: rec.str("team").to_string(),
            queue: rec.str("queue").to_string(),
            deadline: Some(timestamp(rec.int("deadline"))),
            created_at: Some(timestamp(rec.int("created"))),
            estimated_wait: wait.map(duration),
            professional_id: rec.str("pro").to_string(),
            outcome: rec
                .str("outcome")
                .parse()
                .map(outcome_pb)
                .unwrap_or_default() as i32,
            contact_ids: rec.contacts.clone(),
            classification,
            routing_reasons: rec.str("reasons").lines().map(String::from).collect(),
            deadline_rule: rec.str("rule").to_string(),
            citizen_text: if for_holder {
                rec.str("text").to_string()
            } else {
                String::new()
            },
            interpreter_needed: rec.str("interpreter") == "1",
            callback_number: if for_holder {
                rec.str("callback").to_string()
            } else {
                String::new()
            },
            linked_case_ids: csv_list(rec.str("linked")),
            recontact: rec.str("recontact") == "1",
            callback_offered: !rec.str("cb_offered").is_empty(),
            statutory_deadline: (rec.int("stat_deadline") > 0)
                .then(|| timestamp(rec.int("stat_deadline"))),
            statutory_rule: rec.str("stat_rule").to_string(),
            consultations: {
                let mut c: Vec<String> = rec
                    .fields
                    .iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix("consult:")
                            .map(|p| format!("{p}:{}", String::from_utf8_lossy(v)))
                    })
                    .collect();
                c.sort();
                c
            },
        })
    }
}

/// A short free-text field written by staff (a reason): required, one line, at most 300
/// characters.
pub fn one_line<'a>(field: &str, value: &'a str) -> Result<&'a str, Status> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(field, "required"));
    }
    if v.chars().count() > 300 || v.contains(['\n', '\r']) {
        return Err(invalid(field, "one line of at most 300 characters"));
    }
    Ok(v)
}

pub fn urgency_from_pb(v: i32) -> Option<Urgency> {
    match pb::Urgency::try_from(v).ok()? {
        pb::Urgency::Emergency => Some(Urgency::Emergency),
        pb::Urgency::Urgent => Some(Urgency::Urgent),
        pb::Urgency::Soon => Some(Urgency::Soon),
        pb::Urgency::Routine => Some(Urgency::Routine),
        pb::Urgency::Unspecified => None,
    }
}

/// The codes of a comma-separated field, empty ones left out.
pub fn csv_list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// A case id as the API hands them out: a UUID. Checked before it goes into a key name.
pub fn parse_id(field: &str, v: &str) -> Result<String, Status> {
    uuid::Uuid::parse_str(v)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| invalid(field, "must be an id returned by Luotsi"))
}
