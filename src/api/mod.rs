//! The gRPC services. Each handler reads like a recipe: parse the request into domain types
//! (naming the bad field), decide with `domain`, make one store call, convert the answer.
//! Conversions live in `convert.rs`, the status map in `error.rs`, what the citizen is told in
//! `messages.rs`.

pub mod access_log;
pub mod contact;
pub mod convert;
pub mod error;
pub mod messages;
pub mod supervisor;
pub mod work;

use std::time::Duration;

use tonic::Status;

pub use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::domain::{self, CaseStatus, Channel, Purpose};
use crate::pb;
use crate::store::{AccessEntry, CaseRecord};

pub use convert::CaseView;
pub use error::{invalid, refusal_status, store_status};

impl AppState {
    /// Estimated wait of a queued case from its place and the professionals available.
    pub fn estimated_wait(&self, rec: &CaseRecord) -> Option<Duration> {
        (rec.status == CaseStatus::Queued).then(|| {
            domain::routing::estimate_wait(
                rec.position.unwrap_or(0),
                rec.available,
                Duration::from_secs(self.config().routing.average_handling_secs.get(rec.channel)),
                rec.queue == domain::routing::ALERT_QUEUE,
            )
        })
    }

    /// Reads a case and shows it as the API does.
    pub async fn case(&self, id: &str, view: CaseView) -> Result<pb::Case, Status> {
        let rec = self.store.load_case(id).await.map_err(store_status)?;
        Ok(self.case_pb(&rec, view))
    }

    /// The call-back window for a wait, in the county's office hours.
    pub fn callback_window(&self, now_ms: i64, wait: Duration, deadline_ms: i64) -> (i64, i64) {
        let d = &self.config().deadlines;
        domain::routing::callback_window(
            now_ms,
            wait,
            deadline_ms,
            domain::routing::OfficeHours {
                open_hour: d.office_open_hour,
                close_hour: d.office_close_hour,
            },
        )
    }

    /// The case as the API shows it, with the live wait estimate and, for a queued phone case,
    /// the call-back window.
    pub fn case_pb(&self, rec: &CaseRecord, view: CaseView) -> pb::Case {
        let now = now_ms();
        let wait = self.estimated_wait(rec);
        // The window the citizen chose, while it waits: nobody calls before it opens.
        let chosen = rec.window.filter(|_| rec.status == CaseStatus::Queued);
        let wait = match (wait, chosen) {
            (Some(w), Some((from, _))) => {
                Some(w.max(Duration::from_millis((from - now).max(0) as u64)))
            }
            (w, _) => w,
        };
        let window = chosen.or_else(|| {
            wait.filter(|_| rec.channel == Channel::Phone)
                .map(|w| self.callback_window(now, w, rec.deadline_ms))
        });
        convert::case_pb(rec, view, wait, window)
    }
}

/// The access-log entry for a call: the caller from their credential, the action, the purpose.
pub fn access_entry(caller: &Caller, action: &'static str, purpose: Purpose) -> AccessEntry {
    AccessEntry {
        by: caller.subject.clone(),
        role: caller.role.name(),
        organisation: caller.organisation.clone(),
        action,
        purpose,
        source: caller.source.map(|s| s.to_string()).unwrap_or_default(),
    }
}

/// The purpose of use a staff call must give.
pub fn purpose(value: i32) -> Result<Purpose, Status> {
    convert::purpose_from_pb(value).ok_or_else(|| {
        invalid(
            "purpose",
            "required: why the citizen's data is used (CARE_RELATIONSHIP, CONSULTATION, SUPERVISION, QUALITY_ASSURANCE, CITIZEN_REQUEST)",
        )
    })
}

impl AppState {
    /// Reads a case for a caller and says how they see it. A front end needs the case's
    /// access token (a wrong one is NOT_FOUND, like a case that does not exist); a
    /// professional reads cases offered to them, held by them or where they are consulted; a
    /// supervisor the cases of their teams. A staff read is logged before it is answered.
    pub async fn case_for(
        &self,
        caller: &Caller,
        id: &str,
        token: &str,
        purpose_pb: i32,
        action: &'static str,
    ) -> Result<(CaseRecord, CaseView), Status> {
        let not_found = || Status::not_found(format!("no case {id}"));
        let token = id_field("case_access_token", token)?;
        if caller.role.is_front_end() {
            let rec = match self.store.load_case(id).await {
                Err(crate::store::StoreError::NotFound(_)) => return Err(not_found()),
                other => other.map_err(store_status)?,
            };
            if !rec.accepts_token(&crate::auth::case_token::hash(token.trim())) {
                return Err(not_found());
            }
            return Ok((rec, CaseView::Citizen));
        }
        let purpose = purpose(purpose_pb)?;
        let rec = self.store.load_case(id).await.map_err(store_status)?;
        let view = match caller.role {
            Role::Professional => {
                let me = caller.professional.as_deref().unwrap_or("");
                let holds = rec.holder.as_deref() == Some(me);
                let consulted = rec.consultations.iter().any(|(who, _)| who == me);
                if !holds && !consulted {
                    return Err(Status::permission_denied(
                        "a professional reads only cases offered to them, held by them or where they are consulted",
                    ));
                }
                if holds && rec.status == CaseStatus::InProgress {
                    CaseView::Holder
                } else {
                    CaseView::Routing
                }
            }
            _ => {
                caller.may_supervise(&rec.team)?;
                CaseView::Routing
            }
        };
        self.store
            .log_reads(&[id], &access_entry(caller, action, purpose))
            .await
            .map_err(store_status)?;
        Ok((rec, view))
    }
}

pub fn now_ms() -> i64 {
    crate::clock::now_ms()
}

/// Longest id, key or code a request may carry.
pub const MAX_ID_CHARS: usize = 128;

/// Longest reason staff may write.
pub const MAX_REASON_CHARS: usize = 300;

/// At most this much of a bad value is quoted back in an error: enough to recognise it, never
/// a whole 20 000-character field (a gRPC error travels in a header of at most 16 KB).
const QUOTED_CHARS: usize = 32;

/// A short, printable prefix of a value for an error message.
pub fn quote(v: &str) -> String {
    let mut q: String = v
        .chars()
        .take(QUOTED_CHARS)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if v.chars().nth(QUOTED_CHARS).is_some() {
        q.push('…');
    }
    q
}

/// An id, key or code: trimmed, at most [`MAX_ID_CHARS`] characters and no control
/// characters. Empty stays empty: the caller says whether the field is required.
pub fn id_field<'a>(field: &str, v: &'a str) -> Result<&'a str, Status> {
    let v = v.trim();
    if v.chars().nth(MAX_ID_CHARS).is_some() {
        return Err(invalid(field, format!("at most {MAX_ID_CHARS} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(v)
}

/// A short free-text field written by staff (a reason): required, one line, at most 300
/// characters.
pub fn one_line<'a>(field: &str, value: &'a str) -> Result<&'a str, Status> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(field, "required"));
    }
    if v.chars().nth(MAX_REASON_CHARS).is_some() || v.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("one line of at most {MAX_REASON_CHARS} characters"),
        ));
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
