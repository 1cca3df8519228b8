//! The gRPC services. Each handler reads like a recipe: parse the request into domain types
//! (naming the bad field), decide with `domain`, make one store call, convert the answer.
//! Conversions live in `convert.rs`, the status map in `error.rs`, what the citizen is told in
//! `messages.rs`.

pub mod contact;
pub mod convert;
pub mod error;
pub mod messages;
pub mod supervisor;
pub mod work;

use std::time::Duration;

use tonic::Status;

pub use crate::app::AppState;
use crate::domain::{self, CaseStatus, Channel};
use crate::pb;
use crate::store::CaseRecord;

pub use convert::CaseView;
pub use error::{invalid, refusal_status, store_status};

impl AppState {
    /// Estimated wait of a queued case from its place and the professionals available.
    pub fn estimated_wait(&self, rec: &CaseRecord) -> Option<Duration> {
        (rec.status == CaseStatus::Queued).then(|| {
            domain::routing::estimate_wait(
                rec.position.unwrap_or(0),
                rec.available,
                Duration::from_secs(self.config.routing.average_handling_secs.get(rec.channel)),
                rec.queue == domain::routing::ALERT_QUEUE,
            )
        })
    }

    /// Reads a case and shows it as the API does.
    pub async fn case(&self, id: &str, view: CaseView) -> Result<pb::Case, Status> {
        let rec = self.store.load_case(id).await.map_err(store_status)?;
        Ok(self.case_pb(&rec, view))
    }

    /// The case as the API shows it, with the live wait estimate and, for a queued phone case,
    /// the call-back window.
    pub fn case_pb(&self, rec: &CaseRecord, view: CaseView) -> pb::Case {
        let wait = self.estimated_wait(rec);
        let window = wait
            .filter(|_| rec.channel == Channel::Phone)
            .map(|w| domain::routing::callback_window(now_ms(), w, rec.deadline_ms));
        convert::case_pb(rec, view, wait, window)
    }
}

pub fn now_ms() -> i64 {
    crate::clock::now_ms()
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

/// A case id as the API hands them out: a UUID. Checked before it goes into a key name.
pub fn parse_id(field: &str, v: &str) -> Result<String, Status> {
    uuid::Uuid::parse_str(v)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| invalid(field, "must be an id returned by Luotsi"))
}

/// A required enum field of a request, naming the field and the values it takes.
pub fn required<T: convert::FromPb>(field: &str, v: i32, values: &str) -> Result<T, Status> {
    T::from_pb(v).ok_or_else(|| invalid(field, format!("must be {values}")))
}
