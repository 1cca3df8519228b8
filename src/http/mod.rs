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

async fn board_json(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<BoardQuery>,
) -> Response {
    // The board shows no personal data, but it is the county's live operations: supervisors
    // and ops only, with the same bearer token as on the gRPC port.
    let caller = match s
        .auth
        .identify(
            headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()),
            None,
            None,
        )
        .await
    {
        Ok(c) if c.has(Role::Supervisor) || c.has(Role::Ops) => c,
        Ok(_) => {
            s.metrics.unauthorized("permission");
            return (
                StatusCode::FORBIDDEN,
                "the board is for supervisors and ops\n",
            )
                .into_response();
        }
        Err(e) => {
            s.metrics.unauthorized(e.label());
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                format!("{e}\n"),
            )
                .into_response();
        }
    };
    let mut board = s.board.current();
    // Before the refresh loop's first read an instance that has just started has no figures:
    // read them now rather than show an empty county.
    if board.as_of_ms == 0
        && let Ok(read) = crate::board::read_board(&s.store, &s.config, &s.metrics).await
    {
        board = std::sync::Arc::new(read);
    }
    if !q.team.is_empty() && s.config.county.team(&q.team).is_none() {
        return (
            StatusCode::BAD_REQUEST,
            format!("team: no team `{}`", q.team),
        )
            .into_response();
    }
    let mut q = q;
    if !caller.has(Role::Ops) {
        match &caller.teams {
            Teams::All => {}
            Teams::Only(mine) if q.team.is_empty() && mine.len() == 1 => q.team = mine[0].clone(),
            Teams::Only(mine) if mine.contains(&q.team) => {}
            Teams::Only(_) => {
                return (StatusCode::FORBIDDEN, "team: name one of your teams\n").into_response();
            }
        }
    }
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(board.only(&q.team)),
    )
        .into_response()
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
