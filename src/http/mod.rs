//! The HTTP port (default 127.0.0.1:8080): the queue board for wall screens and laptops, its
//! JSON, Prometheus metrics, and liveness / readiness for orchestrators.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::auth::{Role, Teams};

const BOARD_PAGE: &str = include_str!("board.html");

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(board_page))
        .route("/board", get(board_page))
        .route("/api/board", get(board_json))
        .route("/api/board/cases", get(board_cases))
        .route("/api/board/staffing", get(board_staffing))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Serves the HTTP port until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let Some(tls) = state.tls.clone() else {
        tracing::info!(%addr, "HTTP listening in PLAIN TEXT (queue board, metrics, health; development)");
        return axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown)
            .await;
    };
    tracing::info!(%addr, "HTTPS listening (queue board, metrics, health)");
    let app = router(state);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let acceptor = tls.acceptor();
        let app = app.clone();
        tokio::spawn(async move {
            let Some(stream) = crate::tls::handshake(acceptor, stream, peer).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
        });
    }
}

async fn board_page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-cache")], Html(BOARD_PAGE))
}

#[derive(Deserialize)]
struct BoardQuery {
    #[serde(default)]
    team: String,
}

/// The board's reader: a supervisor or ops with the same bearer token as on the gRPC port,
/// narrowed to a team the caller may see (`team` empty: all, or the caller's only team).
async fn board_reader(
    s: &AppState,
    headers: &axum::http::HeaderMap,
    team: &mut String,
    roles: &[Role],
) -> Result<crate::auth::Caller, Response> {
    let caller = match s
        .auth
        .identify(
            headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()),
            None,
            None,
        )
        .await
    {
        Ok(c) if roles.iter().any(|r| c.has(*r)) => c,
        Ok(_) => {
            s.metrics.unauthorized("permission");
            let who = if roles.contains(&Role::Ops) {
                "the board is for supervisors and ops\n"
            } else {
                "the board's case list is for supervisors\n"
            };
            return Err((StatusCode::FORBIDDEN, who).into_response());
        }
        Err(e) => {
            s.metrics.unauthorized(e.label());
            return Err((
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                format!("{e}\n"),
            )
                .into_response());
        }
    };
    if !team.is_empty() && s.config().county.team(team).is_none() {
        let shown: String = team.chars().take(40).collect();
        return Err((
            StatusCode::BAD_REQUEST,
            format!("team: no team `{shown}`\n"),
        )
            .into_response());
    }
    if !caller.has(Role::Ops) {
        match &caller.teams {
            Teams::All => {}
            Teams::Only(mine) if team.is_empty() && mine.len() == 1 => *team = mine[0].clone(),
            Teams::Only(mine) if mine.contains(team) => {}
            Teams::Only(_) => {
                return Err(
                    (StatusCode::FORBIDDEN, "team: name one of your teams\n").into_response()
                );
            }
        }
    }
    Ok(caller)
}

async fn board_json(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(mut q): Query<BoardQuery>,
) -> Response {
    // The board shows no personal data, but it is the county's live operations: supervisors
    // and ops only.
    if let Err(refused) =
        board_reader(&s, &headers, &mut q.team, &[Role::Supervisor, Role::Ops]).await
    {
        return refused;
    }
    let mut board = s.board.current();
    // Before the refresh loop's first read an instance that has just started has no figures:
    // read them now rather than show an empty county.
    if board.as_of_ms == 0
        && let Ok(read) = crate::board::read_board(&s.store, &s.config(), &s.metrics).await
    {
        board = std::sync::Arc::new(read);
    }
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(board.only(&q.team)),
    )
        .into_response()
}

/// One waiting case in a team's drill-down: routing facts only (no words, number, citizen or
/// reasons).
#[derive(serde::Serialize)]
struct BoardCase {
    /// The first 8 characters of the case id, enough to find it with the case's own tools.
    case: String,
    queue: String,
    needs: Vec<String>,
    urgency: String,
    language: String,
    interpreter_needed: bool,
    waited_secs: u64,
    deadline_ms: i64,
    past_deadline: bool,
}

/// How many waiting cases the drill-down lists, most urgent first.
const DRILL_DOWN_LIMIT: usize = 200;

/// A team's waiting cases for the board's drill-down: supervisors only (ops see figures, not
/// cases), one team at a time, recorded in the access log as a supervision read.
async fn board_cases(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(mut q): Query<BoardQuery>,
) -> Response {
    let caller = match board_reader(&s, &headers, &mut q.team, &[Role::Supervisor]).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    if q.team.is_empty() {
        return (StatusCode::BAD_REQUEST, "team: required\n").into_response();
    }
    let rows = match s
        .store
        .queued_cases(&q.team, &crate::store::BOARD_QUEUES, DRILL_DOWN_LIMIT)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "board case list failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable\n").into_response();
        }
    };
    let ids: Vec<&str> = rows.iter().map(|r| r.case_id.as_str()).collect();
    let entry =
        crate::api::access_entry(&caller, "board_cases", crate::domain::Purpose::Supervision);
    if let Err(e) = s.store.log_reads(&ids, &entry).await {
        tracing::warn!(error = %e, "access log write failed; case list not shown");
        return (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable\n").into_response();
    }
    let now = crate::clock::now_ms();
    let cases: Vec<BoardCase> = rows
        .into_iter()
        .map(|r| BoardCase {
            case: r.case_id.chars().take(8).collect(),
            queue: r.queue,
            needs: r.needs.iter().map(|n| n.code().to_string()).collect(),
            urgency: r.urgency.code().to_string(),
            language: r.language.code().to_string(),
            interpreter_needed: r.interpreter_needed,
            waited_secs: ((now - r.created_ms).max(0) / 1000) as u64,
            deadline_ms: r.deadline_ms,
            past_deadline: r.deadline_ms < now,
        })
        .collect();
    ([(header::CACHE_CONTROL, "no-store")], Json(cases)).into_response()
}

/// Today's staffing per team for the board's chart: professionals recommended per hour (all
/// channels; `luotsi::forecast`) and signed in now. Figures only; supervisors and ops.
#[derive(serde::Serialize)]
struct TeamStaffing {
    team_id: String,
    /// Index = Helsinki hour.
    recommended: [u32; 24],
    online_now: u32,
    hour_now: u32,
}

async fn board_staffing(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(mut q): Query<BoardQuery>,
) -> Response {
    if let Err(refused) =
        board_reader(&s, &headers, &mut q.team, &[Role::Supervisor, Role::Ops]).await
    {
        return refused;
    }
    let config = s.config();
    let today = crate::domain::calendar::local_date(crate::clock::now());
    let plan = match crate::forecast::plan(&s.store, &config, today, &q.team).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "staffing forecast failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable\n").into_response();
        }
    };
    let board = s.board.current();
    let hour_now = {
        use chrono::Timelike;
        crate::clock::now()
            .with_timezone(&crate::domain::calendar::TZ)
            .hour()
    };
    let teams: Vec<TeamStaffing> = config
        .county
        .teams
        .iter()
        .filter(|t| q.team.is_empty() || t.id == q.team)
        .map(|t| {
            let mut recommended = [0u32; 24];
            for h in plan.hours.iter().filter(|h| h.team == t.id) {
                recommended[h.hour as usize % 24] += h.professionals;
            }
            let online_now = board
                .teams
                .iter()
                .find(|b| b.team_id == t.id)
                .map_or(0, |b| b.staff.iter().map(|st| st.available + st.busy).sum());
            TeamStaffing {
                team_id: t.id.clone(),
                recommended,
                online_now,
                hour_now,
            }
        })
        .collect();
    ([(header::CACHE_CONTROL, "no-store")], Json(teams)).into_response()
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: Redis answers, as the gRPC health service's overall status.
async fn readyz(State(s): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(1), s.health_store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable\n").into_response(),
    }
}
