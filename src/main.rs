//! The `luotsi` command: `serve` runs the service (the default), `bench` drives a running or
//! embedded service with load and reports throughput and latency.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use luotsi::config::Config;
use luotsi::embedded::EmbeddedRedis;

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
    /// Train the classifier's model from the labelled lines (`tests/data`) and write
    /// `model.bin` and `model.toml` into the classifier directory; `--check` only compares.
    Train(TrainArgs),
    /// Measure rules, model and their combination on a labelled JSON-lines file: need top-1,
    /// urgency, emergencies, per language with Wilson 95 % intervals.
    Eval(EvalArgs),
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Directory of the labelled data: `classify_tune.jsonl`, `classify_heldout.jsonl`,
    /// `voices/*.jsonl`.
    #[arg(long, default_value = "tests/data")]
    data: PathBuf,
    /// Retrain in memory and fail if the result differs from the committed files.
    #[arg(long)]
    check: bool,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// A labelled JSON-lines file (`#` lines are comments).
    file: PathBuf,
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
        Command::Train(args) => train(&config, &args),
        Command::Eval(args) => eval(&config, &args),
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

/// Starts Redis (embedded unless a URL is configured), then serves until Ctrl-C or SIGTERM.
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
    let state = luotsi::server::state(config, &url).await?;
    state.classifier.clone().reload_on_sighup()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let http = tokio::spawn(luotsi::http::serve(state.clone(), http_listener, {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.changed().await;
        }
    }));
    let serving = luotsi::server::serve(state, listener, async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    // Graceful, but bounded: open streams (offers, watchers) would otherwise hold the process
    // forever. Whatever is offered and unanswered is placed again by the reapers.
    let mut stopping = stop_rx.clone();
    let result = tokio::select! {
        r = serving => r,
        _ = async {
            let _ = stopping.changed().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "streams still open after the grace period: closing them");
            Ok(())
        }
    };
    http.abort();
    if let Some(e) = embedded {
        e.stop().await;
    }
    Ok(result?)
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

fn classify(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let classifier =
        luotsi::classify::Classifier::load_with(&config.classifier_dir, config.classifier.model)?;
    let stdout = std::io::stdout();
    let n = luotsi::classify::batch::classify_jsonl(
        std::io::stdin().lock(),
        stdout.lock(),
        &classifier,
    )?;
    eprintln!("luotsi classify: {n} lines");
    Ok(())
}

fn train(config: &Config, args: &TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    use luotsi::classify::{dataset, train};
    let files = dataset::training_files(&args.data)?;
    let data = dataset::load(&files)?;
    let root = args
        .data
        .parent()
        .and_then(|p| p.parent())
        .unwrap_or(&args.data);
    let started = std::time::Instant::now();
    let trained = train::train(&data, root);
    let dir = &config.classifier_dir;
    eprintln!(
        "luotsi train: {} lines from {} files, {} buckets kept, {} bytes, {:.1} s",
        data.items.len(),
        files.len(),
        trained.signal.rows(),
        trained.weights.len(),
        started.elapsed().as_secs_f64()
    );
    if args.check {
        return match train::check(&trained, dir) {
            None => {
                eprintln!("luotsi train --check: {} matches the training data", dir.display());
                Ok(())
            }
            Some(diff) => Err(format!(
                "train --check: {diff} in {}: the committed model is not what the data and code give; run `luotsi train` and commit",
                dir.display()
            )
            .into()),
        };
    }
    train::write(&trained, dir)?;
    eprintln!(
        "luotsi train: wrote model.bin and model.toml in {}",
        dir.display()
    );
    Ok(())
}

fn eval(config: &Config, args: &EvalArgs) -> Result<(), Box<dyn std::error::Error>> {
    use luotsi::classify::{Classifier, ModelMode, dataset, eval};
    let classifier = Classifier::load_with(&config.classifier_dir, ModelMode::RaiseOnly)?;
    let items = dataset::load_file(&args.file)?;
    let report = eval::evaluate(&classifier, &items);
    print!(
        "{}",
        eval::render(&args.file.display().to_string(), &report)
    );
    Ok(())
}

/// How long a stopping service waits for open calls and streams to finish.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

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
