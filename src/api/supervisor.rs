//! SupervisorService: live queue figures for duty supervisors, the cases waiting, and the
//! recorded actions that steer flow (move, urgency, release).

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::convert::{duration, millis, timestamp, wire};
use super::{
    AppState, CaseView, access_entry, id_field, invalid, now_ms, parse_id, purpose, quote,
    refusal_status, required, store_status,
};
use crate::auth::{Caller, Role, Teams};
use crate::board::Board;
use crate::domain::routing::ALERT_QUEUE;
use crate::domain::steering::{self, CaseFacts};
use crate::domain::{Channel, Urgency};
use crate::pb::{self, supervisor_service_server::SupervisorService};
use crate::store::AccessEntry;
use crate::store::{Action, BOARD_QUEUES};

type BoardStream = Pin<Box<dyn Stream<Item = Result<pb::WatchQueuesResponse, Status>> + Send>>;

pub struct SupervisorApi {
    pub state: AppState,
}

#[tonic::async_trait]
impl SupervisorService for SupervisorApi {
    type WatchQueuesStream = BoardStream;

    #[tracing::instrument(name = "ListQueues", skip_all)]
    async fn list_queues(
        &self,
        request: Request<pb::ListQueuesRequest>,
    ) -> Result<Response<pb::ListQueuesResponse>, Status> {
        let team = self.team_filter(Caller::of(&request)?, &request.get_ref().team_id)?;
        // The board's figures, read now (one pipelined round trip for every team), or while
        // Redis does not answer the board's last figures, marked stale.
        let s = &self.state;
        let board = match crate::board::read_board(&s.store, &s.config(), &s.metrics).await {
            Ok(board) => board,
            Err(e) if e.is_unavailable() => s.board.last_known().ok_or_else(|| store_status(e))?,
            Err(e) => return Err(store_status(e)),
        }
        .only(&team);
        let queues = board
            .teams
            .iter()
            .flat_map(|t| {
                t.queues.iter().map(|q| pb::QueueSummary {
                    team_id: t.team_id.clone(),
                    queue: q.queue.clone(),
                    depth: q.depth as u32,
                    oldest_wait: q.oldest_wait_secs.map(|w| duration(Duration::from_secs(w))),
                    due_within_hour: (q.due_within_hour + q.past_deadline) as u32,
                    available_professionals: q.available_professionals as u32,
                    emergencies_waiting: if q.queue == ALERT_QUEUE {
                        q.depth as u32
                    } else {
                        0
                    },
                    offered: q.offered as u32,
                    unstaffed: q.unstaffed,
                    stale: q.stale as u32,
                })
            })
            .collect();
        Ok(Response::new(pb::ListQueuesResponse {
            queues,
            stale: board.stale,
        }))
    }

    #[tracing::instrument(name = "GetStats", skip_all)]
    async fn get_stats(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let team = self.team_filter(&caller, &req.team_id)?;
        let now = now_ms();
        let at = |field: &str, t: &Option<prost_types::Timestamp>| {
            t.as_ref()
                .map(|t| millis(t).ok_or_else(|| invalid(field, "not a valid time")))
                .transpose()
        };
        let to = at("to", &req.to)?.unwrap_or(now);
        // Figures are kept 31 days: a window ending before that, or more than a day ahead
        // (clock skew), asks for nothing there is.
        if to > now + 86_400_000 {
            return Err(invalid("to", "must not be more than a day in the future"));
        }
        if to < now - 31 * 86_400_000 {
            return Err(invalid(
                "to",
                "at most 31 days back: older figures are not kept",
            ));
        }
        let from = at("from", &req.from)?.unwrap_or(to - 86_400_000);
        if from > to {
            return Err(invalid("from", "must not be after `to`"));
        }
        if from < now - 31 * 86_400_000 {
            return Err(invalid(
                "from",
                "at most 31 days back: older figures are not kept",
            ));
        }
        // Summed page by page: a month of a county is hundreds of thousands of entries.
        let mut sum = StatsSum {
            continuity_wait_ms: 1000 * self.state.config().routing.continuity_wait_secs as i64,
            ..StatsSum::default()
        };
        self.state
            .store
            .for_each_stats_entry(from, to, |e| {
                if team.is_empty() || e.get("team").map(String::as_str) == Some(team.as_str()) {
                    sum.add(e);
                }
            })
            .await
            .map_err(store_status)?;
        self.state
            .store
            .for_each_triage_entry(from, to, |e| {
                if team.is_empty() || e.get("team").map(String::as_str) == Some(team.as_str()) {
                    sum.add_first_look(e);
                }
            })
            .await
            .map_err(store_status)?;
        Ok(Response::new(pb::GetStatsResponse {
            stats: Some(sum.finish()),
        }))
    }

    #[tracing::instrument(name = "WatchQueues", skip_all)]
    async fn watch_queues(
        &self,
        request: Request<pb::WatchQueuesRequest>,
    ) -> Result<Response<Self::WatchQueuesStream>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let team = self.team_filter(&caller, &req.team_id)?;
        let permit = self.state.streams.open_for(&caller.subject)?;
        let heartbeat = match req.heartbeat {
            None => Duration::from_secs(5),
            Some(d) if d.seconds >= 1 && d.seconds <= 3600 => Duration::from_secs(d.seconds as u64),
            Some(_) => return Err(invalid("heartbeat", "must be between 1 s and 1 h")),
        };
        let mut rx = self.state.board.subscribe();
        rx.mark_unchanged();
        // The first snapshot is read now, so that a one-shot look (`luotsi queues`) sees what
        // was just done; the shared refresh serves everything after it.
        let s = &self.state;
        let first = match crate::board::read_board(&s.store, &s.config(), &s.metrics).await {
            Ok(b) => std::sync::Arc::new(b),
            Err(_) => s.board.current(),
        };
        let stream = async_stream_board(first, rx, team, heartbeat).map(move |board| {
            // The place is the stream's while it lives.
            let _held = &permit;
            board
        });
        Ok(Response::new(Box::pin(stream)))
    }

    #[tracing::instrument(name = "ListQueuedCases", skip_all)]
    async fn list_queued_cases(
        &self,
        request: Request<pb::ListQueuedCasesRequest>,
    ) -> Result<Response<pb::ListQueuedCasesResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let team = self.team_filter(&caller, &req.team_id)?;
        if team.is_empty() {
            return Err(invalid("team_id", "required"));
        }
        let purpose = purpose(req.purpose)?;
        let queues: Vec<&str> = match id_field("queue", &req.queue)? {
            "" => BOARD_QUEUES.to_vec(),
            q => vec![
                *BOARD_QUEUES
                    .iter()
                    .find(|b| **b == q)
                    .ok_or_else(|| invalid("queue", "must be alert, phone, chat or e_service"))?,
            ],
        };
        let limit = match req.limit {
            0 => 100,
            n if n <= 1000 => n as usize,
            _ => return Err(invalid("limit", "at most 1000")),
        };
        let rows = self
            .state
            .store
            .queued_cases(&team, &queues, limit)
            .await
            .map_err(store_status)?;
        let ids: Vec<&str> = rows.iter().map(|r| r.case_id.as_str()).collect();
        self.state
            .store
            .log_reads(&ids, &access_entry(&caller, "list_queued", purpose))
            .await
            .map_err(store_status)?;
        let now = now_ms();
        let cases = rows
            .into_iter()
            .map(|r| pb::QueuedCase {
                queue: r.queue,
                needs: r.needs.iter().map(|n| n.code().to_string()).collect(),
                urgency: wire::<_, pb::Urgency>(r.urgency),
                channel: wire::<_, pb::Channel>(r.channel),
                language: r.language.code().to_string(),
                deadline: Some(timestamp(r.deadline_ms)),
                deadline_rule: r.deadline_rule,
                waited: Some(duration(Duration::from_millis(
                    (now - r.created_ms).max(0) as u64
                ))),
                routing_reasons: r.reasons,
                interpreter_needed: r.interpreter_needed,
                case_id: r.case_id,
            })
            .collect();
        Ok(Response::new(pb::ListQueuedCasesResponse { cases }))
    }

    #[tracing::instrument(name = "MoveCase", skip_all, fields(case_id = %request.get_ref().case_id))]
    async fn move_case(
        &self,
        request: Request<pb::MoveCaseRequest>,
    ) -> Result<Response<pb::MoveCaseResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let id = parse_id("case_id", &req.case_id)?;
        let why = actor(&caller, &req.supervisor_id, &req.reason)?;
        let access = access_entry(&caller, "move", purpose(req.purpose)?);
        let channel = match id_field("queue", &req.queue)? {
            "" => None,
            q => Some(
                q.parse::<Channel>()
                    .map_err(|_| invalid("queue", "must be phone, chat or e_service"))?,
            ),
        };
        let team = id_field("team_id", &req.team_id)?;
        if team.is_empty() && channel.is_none() {
            return Err(invalid(
                "team_id",
                "name a team or a queue to move the case to",
            ));
        }
        let rec = self.case_of_team(&caller, &id).await?;
        if !team.is_empty() {
            let config = self.state.config();
            let t = config
                .county
                .team(team)
                .ok_or_else(|| invalid("team_id", format!("no team `{}`", quote(team))))?;
            steering::team_fits(t, &rec.professions).map_err(refusal_status)?;
        }
        let case = self
            .act(&id, why, &Action::Move { team, channel }, &access)
            .await?;
        Ok(Response::new(pb::MoveCaseResponse { case: Some(case) }))
    }

    #[tracing::instrument(name = "SetUrgency", skip_all, fields(case_id = %request.get_ref().case_id))]
    async fn set_urgency(
        &self,
        request: Request<pb::SetUrgencyRequest>,
    ) -> Result<Response<pb::SetUrgencyResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let id = parse_id("case_id", &req.case_id)?;
        let why = actor(&caller, &req.supervisor_id, &req.reason)?;
        let access = access_entry(&caller, "urgency", purpose(req.purpose)?);
        let urgency: Urgency =
            required("urgency", req.urgency, "EMERGENCY, URGENT, SOON or ROUTINE")?;
        let rec = self.case_of_team(&caller, &id).await?;
        let created = chrono::DateTime::from_timestamp_millis(rec.created_ms)
            .unwrap_or_else(crate::clock::now);
        let change = steering::after_urgency_change(
            &CaseFacts {
                needs: &rec.needs,
                channel: rec.channel,
                urgency: rec.urgency,
                created,
                deadline_ms: rec.deadline_ms,
                deadline_rule: &rec.deadline_rule,
                deadline_law: &rec.deadline_law,
                age: rec.age,
                marks: rec.marks,
                queue: &rec.queue,
                sub_queue: &rec.sub_queue,
            },
            urgency,
            &self.state.config().deadlines,
            now_ms(),
        );
        let case = self
            .act(&id, why, &Action::Urgency(&change), &access)
            .await?;
        Ok(Response::new(pb::SetUrgencyResponse { case: Some(case) }))
    }

    #[tracing::instrument(name = "ReleaseOffer", skip_all, fields(case_id = %request.get_ref().case_id))]
    async fn release_offer(
        &self,
        request: Request<pb::ReleaseOfferRequest>,
    ) -> Result<Response<pb::ReleaseOfferResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let id = parse_id("case_id", &req.case_id)?;
        let why = actor(&caller, &req.supervisor_id, &req.reason)?;
        let access = access_entry(&caller, "release", purpose(req.purpose)?);
        self.case_of_team(&caller, &id).await?;
        let case = self.act(&id, why, &Action::Release, &access).await?;
        self.state.metrics.offer("released");
        Ok(Response::new(pb::ReleaseOfferResponse { case: Some(case) }))
    }

    #[tracing::instrument(name = "ListDisconnectedHolders", skip_all)]
    async fn list_disconnected_holders(
        &self,
        request: Request<pb::ListDisconnectedHoldersRequest>,
    ) -> Result<Response<pb::ListDisconnectedHoldersResponse>, Status> {
        let team = self.team_filter(Caller::of(&request)?, &request.get_ref().team_id)?;
        let rows = self
            .state
            .store
            .disconnected_holders(&team)
            .await
            .map_err(store_status)?;
        let holders = rows
            .into_iter()
            .map(|h| pb::DisconnectedHolder {
                case_id: h.case_id,
                professional_id: h.professional,
                team_id: h.team,
                channel: wire::<_, pb::Channel>(h.channel),
                urgency: wire::<_, pb::Urgency>(h.urgency),
                disconnected_at: Some(timestamp(h.since_ms)),
            })
            .collect();
        Ok(Response::new(pb::ListDisconnectedHoldersResponse {
            holders,
        }))
    }

    #[tracing::instrument(name = "PlanStaffing", skip_all)]
    async fn plan_staffing(
        &self,
        request: Request<pb::PlanStaffingRequest>,
    ) -> Result<Response<pb::PlanStaffingResponse>, Status> {
        let team = self.team_filter(Caller::of(&request)?, &request.get_ref().team_id)?;
        let date = staffing_date(&request.get_ref().date)?;
        let config = self.state.config();
        let plan = crate::forecast::plan(&self.state.store, &config, date, &team)
            .await
            .map_err(store_status)?;
        Ok(Response::new(pb::PlanStaffingResponse {
            date: plan.date.to_string(),
            weeks: plan.weeks,
            csv: plan.csv(),
            hours: plan
                .hours
                .into_iter()
                .map(|h| pb::StaffingHour {
                    hour: h.hour,
                    team_id: h.team,
                    channel: wire::<_, pb::Channel>(h.channel),
                    arrivals: h.arrivals,
                    average_handling: Some(duration(h.aht)),
                    professionals: h.professionals,
                    service_level: h.service_level,
                    occupancy: h.occupancy,
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "GetMonthlyReport", skip_all)]
    async fn get_monthly_report(
        &self,
        request: Request<pb::GetMonthlyReportRequest>,
    ) -> Result<Response<pb::GetMonthlyReportResponse>, Status> {
        let team = self.team_filter(Caller::of(&request)?, &request.get_ref().team_id)?;
        let month = request.get_ref().month.trim().to_string();
        if chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_err() {
            return Err(invalid("month", "a month as YYYY-MM"));
        }
        let report = crate::report::monthly(&self.state.store, &month, &team)
            .await
            .map_err(|e| Status::unavailable(format!("the report could not be read: {e}")))?;
        let county = self.state.config().county.name.clone();
        Ok(Response::new(pb::GetMonthlyReportResponse {
            csv: report.csv(),
            html: report.html(&county),
            month: report.month,
            missing_days: report.missing_days.iter().map(|d| d.to_string()).collect(),
            days_to_come: report.days_to_come,
            rows: report
                .rows
                .into_iter()
                .map(|r| pb::MonthlyReportRow {
                    team_id: r.team,
                    channel: r.channel,
                    counters: r.counters.0.into_iter().collect(),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "ListUnreachable", skip_all)]
    async fn list_unreachable(
        &self,
        request: Request<pb::ListUnreachableRequest>,
    ) -> Result<Response<pb::ListUnreachableResponse>, Status> {
        let team = self.team_filter(Caller::of(&request)?, &request.get_ref().team_id)?;
        let rows = self
            .state
            .store
            .unreachable(UNREACHABLE_LISTED)
            .await
            .map_err(store_status)?;
        let cases = rows
            .into_iter()
            .filter(|u| team.is_empty() || u.team == team)
            .map(|u| pb::UnreachableCase {
                case_id: u.case_id,
                team_id: u.team,
                since: Some(timestamp(u.since_ms)),
                attempts: u.attempts,
                reason: u.why,
                deadline: Some(timestamp(u.deadline_ms)),
            })
            .collect();
        Ok(Response::new(pb::ListUnreachableResponse { cases }))
    }
}

/// The day a staffing forecast is for: `YYYY-MM-DD`, or today (Helsinki) when empty.
fn staffing_date(v: &str) -> Result<chrono::NaiveDate, Status> {
    if v.trim().is_empty() {
        return Ok(crate::domain::calendar::local_date(crate::clock::now()));
    }
    chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        .map_err(|_| invalid("date", "a day as YYYY-MM-DD"))
}

/// How many unreachable call-backs `ListUnreachable` reads, oldest first.
const UNREACHABLE_LISTED: usize = 1000;

impl SupervisorApi {
    /// A case the supervisor may act on: one of their teams' (any, when county-wide).
    async fn case_of_team(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<crate::store::CaseRecord, Status> {
        let rec = self.state.store.load_case(id).await.map_err(store_status)?;
        caller.may_supervise(&rec.team)?;
        Ok(rec)
    }

    /// Carries out a recorded action, asks the board to refresh, and reads the case back.
    async fn act(
        &self,
        id: &str,
        why: &str,
        action: &Action<'_>,
        access: &AccessEntry,
    ) -> Result<pb::Case, Status> {
        let by = access.by.as_str();
        let did = self
            .state
            .store
            .supervise(id, by, why, action, access)
            .await
            .map_err(store_status)?;
        tracing::info!(supervisor = by, action = %did, "supervisor action");
        self.state.board.poke();
        self.state.case(id, CaseView::Routing).await
    }

    /// A team id to filter on: empty for all, else a configured team. A supervisor who is not
    /// county-wide sees their own teams only: their one team when they name none.
    fn team_filter(&self, caller: &Caller, team_id: &str) -> Result<String, Status> {
        let t = id_field("team_id", team_id)?;
        if !t.is_empty() && self.state.config().county.team(t).is_none() {
            return Err(invalid("team_id", format!("no team `{}`", quote(t))));
        }
        if caller.role != Role::Supervisor || caller.teams == Teams::All {
            return Ok(t.to_string());
        }
        if t.is_empty() {
            return match &caller.teams {
                Teams::Only(mine) if mine.len() == 1 => Ok(mine[0].clone()),
                _ => Err(invalid(
                    "team_id",
                    "required: name one of your teams (your token is not county-wide)",
                )),
            };
        }
        caller.may_supervise(t)?;
        Ok(t.to_string())
    }
}

/// Why an action is taken (required, short). It is recorded under the token's subject;
/// `supervisor_id`, when given, must be that subject.
fn actor<'a>(caller: &Caller, supervisor_id: &str, reason: &'a str) -> Result<&'a str, Status> {
    let named = super::id_field("supervisor_id", supervisor_id)?;
    if !named.is_empty() && named != caller.subject {
        return Err(Status::permission_denied(
            "supervisor_id: actions are recorded under your own credential's subject",
        ));
    }
    super::one_line("reason", reason)
}

/// The board as the API shows it.
pub fn board_pb(b: &Board) -> pb::QueueBoard {
    pb::QueueBoard {
        as_of: Some(timestamp(b.as_of_ms)),
        stale: b.stale,
        teams: b
            .teams
            .iter()
            .map(|t| pb::TeamBoard {
                team_id: t.team_id.clone(),
                name: t.name.clone(),
                names: t.names.clone().into_iter().collect(),
                queues: t
                    .queues
                    .iter()
                    .map(|q| pb::QueueTile {
                        queue: q.queue.clone(),
                        depth: q.depth as u32,
                        oldest_wait: q.oldest_wait_secs.map(|s| duration(Duration::from_secs(s))),
                        emergency: q.emergency as u32,
                        urgent: q.urgent as u32,
                        soon: q.soon as u32,
                        routine: q.routine as u32,
                        due_within_hour: q.due_within_hour as u32,
                        past_deadline: q.past_deadline as u32,
                        available_professionals: q.available_professionals as u32,
                        online_professionals: q.online_professionals as u32,
                        offered: q.offered as u32,
                        unstaffed: q.unstaffed,
                        stale: q.stale as u32,
                    })
                    .collect(),
                staff: t
                    .staff
                    .iter()
                    .map(|s| pb::StaffFigures {
                        profession: s.profession.clone(),
                        available: s.available,
                        busy: s.busy,
                        on_break: s.on_break,
                        offline: s.offline,
                    })
                    .collect(),
                taken_today: t.taken_today as u32,
                taken_late_today: t.taken_late_today as u32,
                first_look_overdue: t.first_look_overdue as u32,
                stale_open: t.stale_open as u32,
            })
            .collect(),
    }
}

/// Sends the board at once, on every change, and after `heartbeat` of quiet.
fn async_stream_board(
    first: std::sync::Arc<Board>,
    rx: tokio::sync::watch::Receiver<std::sync::Arc<Board>>,
    team: String,
    heartbeat: Duration,
) -> impl Stream<Item = Result<pb::WatchQueuesResponse, Status>> + Send {
    futures::stream::unfold((rx, Some(first)), move |(mut rx, first)| {
        let team = team.clone();
        async move {
            if let Some(b) = first {
                let board = Some(board_pb(&b.only(&team)));
                return Some((Ok(pb::WatchQueuesResponse { board }), (rx, None)));
            }
            // A change or the heartbeat: send. The sender gone: the instance is shutting down.
            if let Ok(Err(_)) = tokio::time::timeout(heartbeat, rx.changed()).await {
                return None;
            }
            let board = rx.borrow_and_update().only(&team);
            let board = Some(board_pb(&board));
            Some((Ok(pb::WatchQueuesResponse { board }), (rx, None)))
        }
    })
}

/// Sums statistics entries as they are read, page by page: counts, and the first-response
/// waits for the median and p90.
#[derive(Default)]
pub struct StatsSum {
    /// The configured continuity wait (ms): a shorter one was shortened for a near deadline.
    pub continuity_wait_ms: i64,
    out: pb::Stats,
    waits: Vec<i64>,
    looks: Vec<i64>,
}

impl StatsSum {
    pub fn add(&mut self, e: &std::collections::HashMap<String, String>) {
        let get = |k: &str| e.get(k).map(String::as_str).unwrap_or("");
        let out = &mut self.out;
        match get("k") {
            "contact" => {
                out.contacts += 1;
                if get("joined") == "1" {
                    out.joined_contacts += 1;
                    out.recontacts_within_7_days += 1;
                } else {
                    out.cases += 1;
                    if get("recontact") == "1" {
                        out.recontacts_within_7_days += 1;
                    }
                }
            }
            "first" => {
                self.waits.push(get("wait").parse().unwrap_or(0));
                if !get("lang").is_empty() {
                    let row = out
                        .language_fulfilment
                        .entry(get("lang").to_string())
                        .or_default();
                    row.first_responses += 1;
                    if get("interp") == "1" {
                        row.with_interpreter += 1;
                    } else {
                        row.in_own_language += 1;
                    }
                }
                match get("own") {
                    "" => {}
                    "kept" => out.continuity_kept += 1,
                    why => {
                        out.continuity_broken += 1;
                        let shortened = get("own_wait")
                            .parse::<i64>()
                            .is_ok_and(|w| w < self.continuity_wait_ms);
                        let why = if why == "wait_ended" && shortened {
                            "deadline_near"
                        } else {
                            why
                        };
                        *out.continuity_broken_by.entry(why.to_string()).or_default() += 1;
                    }
                }
                if get("late") == "1" {
                    out.deadlines_missed += 1;
                } else {
                    out.deadlines_met += 1;
                }
            }
            "attempt" => {
                *out.call_attempts
                    .entry(get("outcome").to_string())
                    .or_default() += 1;
            }
            "unreachable" => out.unreachable += 1,
            "done" => {
                out.completed += 1;
                *out.outcomes.entry(get("outcome").to_string()).or_default() += 1;
                if get("outcome") == "resolved_at_first_contact" && get("contacts") == "1" {
                    out.resolved_with_one_contact += 1;
                }
            }
            _ => {}
        }
    }

    /// A first look (the `triage` record): its time, and what happened to the urgency and
    /// needs, counted under the need the classifier gave first.
    pub fn add_first_look(&mut self, e: &std::collections::HashMap<String, String>) {
        let get = |k: &str| e.get(k).map(String::as_str).unwrap_or("");
        self.looks.push(get("wait").parse().unwrap_or(0));
        let out = &mut self.out;
        out.first_looks += 1;
        if get("late") == "1" {
            out.first_looks_late += 1;
        }
        let need = get("needs_from")
            .split(',')
            .next()
            .unwrap_or("")
            .to_string();
        let row = out.triage_by_need.entry(need).or_default();
        match get("direction") {
            "raised" => row.urgency_raised += 1,
            "lowered" => row.urgency_lowered += 1,
            _ => row.urgency_kept += 1,
        }
        if get("needs_changed") == "1" {
            row.needs_changed += 1;
        }
    }

    pub fn finish(mut self) -> pb::Stats {
        let mut out = self.out;
        for row in out.language_fulfilment.values_mut() {
            if row.first_responses > 0 {
                row.share_in_own_language =
                    f64::from(row.in_own_language) / f64::from(row.first_responses);
            }
        }
        if out.completed > 0 {
            out.one_contact_share =
                f64::from(out.resolved_with_one_contact) / f64::from(out.completed);
        }
        self.waits.sort_unstable();
        self.looks.sort_unstable();
        let pick = |waits: &[i64], q: f64| -> Option<prost_types::Duration> {
            if waits.is_empty() {
                return None;
            }
            // Nearest rank.
            let i = ((q * waits.len() as f64).ceil() as usize).clamp(1, waits.len()) - 1;
            Some(duration(Duration::from_millis(waits[i].max(0) as u64)))
        };
        out.first_response_median = pick(&self.waits, 0.5);
        out.first_response_p90 = pick(&self.waits, 0.9);
        out.first_look_median = pick(&self.looks, 0.5);
        out.first_look_p90 = pick(&self.looks, 0.9);
        out
    }
}
