//! `luotsi serve`: the service as a process. Starts Redis (embedded unless a URL is configured)
//! and the instance, serves gRPC and the HTTP port until Ctrl-C or SIGTERM, then stops in order:
//! both servers stop taking work and get a bounded grace period, the background loops stop and
//! are awaited, and the embedded Redis flushes and exits last.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use luotsi::app::App;
use luotsi::config::Config;
use luotsi::embedded::EmbeddedRedis;

/// How long a stopping service waits for open calls and streams to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub async fn run(
    config: Config,
    config_path: std::path::PathBuf,
) -> Result<(), Box<dyn std::error::Error>> {
    let (url, embedded) = redis_for(&config).await?;
    let addr = config.server.grpc_addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let http_addr = config.server.http_addr;
    let http_listener = tokio::net::TcpListener::bind(http_addr)
        .await
        .map_err(|e| format!("cannot listen on {http_addr}: {e}"))?;
    let mut app = App::start(config, &url).await?;
    app.reload_on_sighup()?;
    app.reload_county_on_sighup(config_path)?;

    // Fired by the signal, or by the gRPC server ending for any other reason: both ports stop.
    let stopping = CancellationToken::new();
    let grpc = {
        let stopping = stopping.clone();
        let serving = luotsi::server::serve(
            app.state().clone(),
            listener,
            stopping.clone().cancelled_owned(),
        );
        async move {
            let served = serving.await;
            stopping.cancel();
            served
        }
    };
    let http = {
        let serving = luotsi::http::serve(
            app.state().clone(),
            http_listener,
            stopping.clone().cancelled_owned(),
        );
        async move {
            if let Err(e) = serving.await {
                tracing::error!(error = %e, "HTTP port failed");
            }
        }
    };
    // Graceful, but bounded: open streams (offers, watchers) would otherwise hold the process
    // forever. Whatever is offered and unanswered is placed again by the reapers.
    let result = tokio::select! {
        (served, ()) = async { tokio::join!(grpc, http) } => served,
        () = async {
            shutdown_signal().await;
            stopping.cancel();
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "streams still open after the grace period: closing them");
            Ok(())
        }
    };
    app.stop().await;
    if let Some(e) = embedded {
        e.stop().await;
    }
    Ok(result?)
}

async fn redis_for(
    config: &Config,
) -> Result<(String, Option<EmbeddedRedis>), Box<dyn std::error::Error>> {
    if !config.redis.cluster.is_empty() {
        // A cluster is reached through `redis.cluster`; there is no URL and nothing to start.
        return Ok((String::new(), None));
    }
    match &config.redis.url {
        Some(url) => Ok((url.expose().to_string(), None)),
        None => {
            let dir = config
                .redis
                .data_dir
                .clone()
                .unwrap_or_else(|| "data".into());
            let e = EmbeddedRedis::start(&dir, config.redis.appendfsync).await?;
            Ok((e.url().expose().to_string(), Some(e)))
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
