//! The `luotsi` command: parses the command line, loads the configuration and hands over to
//! the command in `cli/` (`serve`, the default, runs the service).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use luotsi::config::Config;

mod cli;

// The service allocates a little for every call (protobuf, Redis arguments, the classifier's
// tokens); glibc's allocator spent about a fifth of the service's CPU on it (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    Bench(cli::bench::BenchArgs),
    /// Print the queue board of a running Luotsi as a table (`--watch` keeps it live).
    Queues(cli::queues::QueuesArgs),
    /// Classify JSON lines from stdin (`{"text": …, "channel": …, "lang": …}`), one JSON line
    /// out per line in: needs, urgency, red flags, evidence. For the people who tune the lexicon.
    Classify,
    /// Train the classifier's model from the labelled lines (`tests/data`) and write
    /// `config/classifier/model.{bin,toml}`; `--check` fails if the committed files differ.
    Train(cli::train::TrainArgs),
    /// Evaluate the classifier on a labelled JSON-lines file: rules, model and the two
    /// combined, per language, with 95 % intervals.
    Eval(cli::train::EvalArgs),
    /// Print a development access token (only while no issuer is configured), e.g.
    /// `luotsi token --role professional --as suu-hh-1`.
    Token(cli::auth::TokenArgs),
    /// The access log (Act 703/2023) as JSON lines, e.g. for a citizen's request:
    /// `luotsi access-log --citizen 131052-308T --from 2026-01-01`.
    AccessLog(cli::auth::AccessLogArgs),
    /// The permission table (which roles may call each RPC) as Markdown.
    Permissions,
    /// Print every first look (confirmed or corrected triage) between two times as JSON lines,
    /// pseudonymised, for the county's own evaluation. Reads only; retrains nothing.
    Corrections(cli::corrections::CorrectionsArgs),
    /// The staffing forecast for a day: professionals needed per hour, team and channel (Erlang C
    /// for phone and chat, workload for e-service), from the same weekday's statistics.
    Staffing(cli::staffing::StaffingArgs),
    /// The county's monthly report per team and channel (CSV, or `--html` to print), from the
    /// daily roll-ups kept 400 days.
    Report(cli::report::ReportArgs),
    /// Call-backs nobody reached, as JSON lines with the number opened, for the county's SMS
    /// gateway (`--follow` keeps waiting; needs the service's data key file).
    Notifications(cli::notifications::NotificationsArgs),
    /// Wrap every stored data key again under the configured key file, unwrapping them with
    /// `--old-key-file` (every instance stopped): how a key file is replaced.
    Rewrap(cli::rewrap::RewrapArgs),
    /// Exit 0 when the running service is ready (`/readyz` on the HTTP port answers 200), else
    /// 1 with the reason: the container's HEALTHCHECK, needing no shell.
    Health(cli::health::HealthArgs),
}

fn main() -> ExitCode {
    let command_line = Cli::parse();
    luotsi::telemetry::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let config = match Config::load(&command_line.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("luotsi: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match command_line.command.unwrap_or(Command::Serve) {
        Command::Classify => cli::classify::run(&config),
        Command::Train(args) => cli::train::train(&config, &args),
        Command::Eval(args) => cli::train::eval(&config, &args),
        Command::Serve => runtime.block_on(cli::serve::run(config, command_line.config.clone())),
        Command::Bench(args) => runtime.block_on(cli::bench::run(config, args)),
        Command::Queues(args) => runtime.block_on(cli::queues::run(config, args)),
        Command::Token(args) => cli::auth::token(&config, &args),
        Command::AccessLog(args) => runtime.block_on(cli::auth::access_log(config, args)),
        Command::Permissions => cli::auth::permissions(),
        Command::Corrections(args) => runtime.block_on(cli::corrections::run(config, args)),
        Command::Staffing(args) => runtime.block_on(cli::staffing::run(config, args)),
        Command::Report(args) => runtime.block_on(cli::report::run(config, args)),
        Command::Rewrap(args) => runtime.block_on(cli::rewrap::run(config, args)),
        Command::Notifications(args) => runtime.block_on(cli::notifications::run(config, args)),
        Command::Health(args) => runtime.block_on(cli::health::run(config, args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("luotsi: {e}");
            ExitCode::FAILURE
        }
    }
}
