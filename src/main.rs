//! The `luotsi` command: `serve` runs the service (the default), `bench` drives a running or
//! embedded service with load and reports throughput and latency.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use luotsi::app::App;
use luotsi::config::Config;
use luotsi::embedded::EmbeddedRedis;
use tokio_util::sync::CancellationToken;

mod bench;
mod queues;

#[derive(Parser)]
#[command(
    name = "luotsi",
    version,
    about = "Multichannel citizen contact routing"
)]
struct Cli {
    /// Service configuration file.
    #[arg(
        long,
        env = "LUOTSI_CONFIG",
        default_value = "config/luotsi.toml",
        global = true
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Load-test: many concurrent submitters and professionals over real gRPC.
    Bench(bench::BenchArgs),
    /// Print the queue board of a running Luotsi as a table (`--watch` keeps it live).
    Queues(queues::QueuesArgs),
    /// Classify JSON lines from stdin (`{"text": …, "channel": …, "lang": …}`), one JSON line
    /// out per line in: needs, urgency, red flags, evidence. For the people who tune the lexicon.
    Classify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    luotsi::telemetry::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("luotsi: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    // Classifying is synchronous stdin-to-stdout work: it needs no runtime.
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Classify => classify(&config),
        Command::Serve => runtime.block_on(serve(config)),
        Command::Bench(args) => runtime.block_on(bench::run(config, args)),
        Command::Queues(args) => runtime.block_on(queues::run(config, args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("luotsi: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How long a stopping service waits for open calls and streams to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Starts Redis (embedded unless a URL is configured) and the instance, serves until Ctrl-C or
/// SIGTERM, then stops: both ports with a bounded grace, the background loops, Redis last.
async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
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

fn classify(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let classifier = luotsi::classify::Classifier::load(&config.classifier_dir)?;
    let stdout = std::io::stdout();
    let n = luotsi::classify::batch::classify_jsonl(
        std::io::stdin().lock(),
        stdout.lock(),
        &classifier,
    )?;
    eprintln!("luotsi classify: {n} lines");
    Ok(())
}

async fn redis_for(
    config: &Config,
) -> Result<(String, Option<EmbeddedRedis>), Box<dyn std::error::Error>> {
    match &config.redis.url {
        Some(url) => Ok((url.clone(), None)),
        None => {
            let dir = config
                .redis
                .data_dir
                .clone()
                .unwrap_or_else(|| "data".into());
            let e = EmbeddedRedis::start(&dir).await?;
            Ok((e.url(), Some(e)))
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
