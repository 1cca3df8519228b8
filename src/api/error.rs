//! The one map from failures to gRPC statuses: a bad field, a refusal of the county's rules, and
//! what the store answered.

use tonic::Status;

use crate::domain::Refusal;
use crate::store::StoreError;

/// `INVALID_ARGUMENT` naming the field, in the message and as a `google.rpc.BadRequest` field
/// violation, so that a front end can show it beside the field.
pub fn invalid(field: &str, why: impl std::fmt::Display) -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    // A safety net under `quote`: an error must stay far below the 16 KB header limit, or the
    // client sees only a reset stream.
    let why: String = why.to_string().chars().take(300).collect();
    let field: String = field.chars().take(64).collect();
    let field = field.as_str();
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        format!("{field}: {why}"),
        ErrorDetails::with_bad_request_violation(field, why),
    )
}

/// A refusal by the county's rules: the request was well formed, the state or policy says no.
pub fn refusal_status(r: Refusal) -> Status {
    match &r {
        // The team was named in the request: the field is the problem.
        Refusal::TeamCannotTake { .. } => invalid("team_id", &r),
        Refusal::WindowPastDeadline { .. } => invalid("callback_window.not_after", &r),
        Refusal::NoTeamForNeed | Refusal::NoColleagueAvailable { .. } => {
            Status::failed_precondition(r.to_string())
        }
    }
}

pub fn store_status(e: StoreError) -> Status {
    // A connection lost or Redis still loading is worth a retry; anything else (a script error,
    // a wrong type) is a defect and must not be dressed up as a passing outage.
    if e.is_unavailable() {
        tracing::warn!(error = %e, "redis unavailable");
        return Status::unavailable("storage is unavailable; retry shortly");
    }
    match e {
        StoreError::Redis(e) => {
            tracing::error!(error = %e, "redis refused the request");
            Status::internal("storage refused the request")
        }
        StoreError::Connect(e) => {
            tracing::warn!(error = %e, "redis unavailable");
            Status::unavailable("storage is unavailable; retry shortly")
        }
        StoreError::NotFound(what) => Status::not_found(format!("{what} not found")),
        StoreError::Conflict(why) => Status::failed_precondition(why),
        StoreError::Corrupt(why) => {
            tracing::error!(error = %why, "damaged record");
            Status::internal("stored data is damaged")
        }
        // The message names key ids only, never a value.
        StoreError::Seal(e) => {
            tracing::error!(error = %e, "a sealed value does not open");
            Status::internal("stored data cannot be opened")
        }
    }
}
