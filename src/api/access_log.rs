//! AccessLogService: the access log for `ops` — for a citizen's request to see who used their
//! data, and for the county's log system. Reading it is itself a use, and is logged.

use tonic::{Request, Response, Status};

use super::convert::{millis, purpose_pb, timestamp};
use super::{AppState, access_entry, invalid, parse_id, purpose, store_status};
use crate::auth::Caller;
use crate::domain::hetu;
use crate::pb::{self, access_log_service_server::AccessLogService};
use crate::store::{AccessQuery, LoggedAccess};

pub struct AccessLogApi {
    pub state: AppState,
}

#[tonic::async_trait]
impl AccessLogService for AccessLogApi {
    #[tracing::instrument(name = "ReadAccessLog", skip_all)]
    async fn read_access_log(
        &self,
        request: Request<pb::ReadAccessLogRequest>,
    ) -> Result<Response<pb::ReadAccessLogResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let purpose = purpose(req.purpose)?;
        let from = req
            .from
            .as_ref()
            .ok_or_else(|| invalid("from", "required"))
            .and_then(|t| millis(t).ok_or_else(|| invalid("from", "not a valid time")))?;
        let to = req
            .to
            .as_ref()
            .map(|t| millis(t).ok_or_else(|| invalid("to", "not a valid time")))
            .transpose()?;
        if to.is_some_and(|t| t < from) {
            return Err(invalid("to", "must not be before `from`"));
        }
        let citizen = match req.citizen_identity_code.trim() {
            "" => None,
            code => {
                hetu::validate(code).map_err(|e| invalid("citizen_identity_code", e))?;
                Some(self.state.pseudonyms.identity_code(code))
            }
        };
        let case_id = match req.case_id.trim() {
            "" => None,
            id => Some(parse_id("case_id", id)?),
        };
        let limit = match req.limit {
            0 => 1000,
            n if n <= 10_000 => n as usize,
            _ => return Err(invalid("limit", "at most 10000")),
        };
        let after = match super::id_field("page_token", &req.page_token)? {
            "" => None,
            t if is_stream_id(t) => Some(t.to_string()),
            _ => return Err(invalid("page_token", "not a token from a previous answer")),
        };
        // The read is logged first: a log nobody can read without leaving a trace.
        self.state
            .store
            .log_log_read(&access_entry(&caller, "read_access_log", purpose))
            .await
            .map_err(store_status)?;
        let (entries, more) = self
            .state
            .store
            .access_log(&AccessQuery {
                from_ms: from,
                to_ms: to,
                after,
                citizen,
                case_id,
                limit,
            })
            .await
            .map_err(store_status)?;
        let next_page_token = if more {
            entries.last().map(|e| e.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ReadAccessLogResponse {
            entries: entries.iter().map(entry_pb).collect(),
            next_page_token,
        }))
    }
}

fn is_stream_id(t: &str) -> bool {
    let mut parts = t.split('-');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

pub fn entry_pb(e: &LoggedAccess) -> pb::AccessLogEntry {
    pb::AccessLogEntry {
        at: Some(timestamp(e.at_ms)),
        subject: e.by.clone(),
        role: e.role.clone(),
        organisation: e.organisation.clone(),
        action: e.action.clone(),
        case_id: e.case_id.clone(),
        citizen: e.citizen.clone(),
        purpose: purpose_pb(&e.purpose) as i32,
        source: e.source.clone(),
    }
}
