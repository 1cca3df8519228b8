//! `luotsi report --month 2026-11`: the county's monthly report per team and channel, as a
//! table-like CSV (default) or a printable HTML page (`--html`), from the daily roll-ups
//! (`luotsi::report`). It rolls up finished days still missing, and otherwise only reads.

use luotsi::config::Config;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The month, YYYY-MM.
    #[arg(long)]
    month: String,
    /// One team only.
    #[arg(long, default_value = "")]
    team: String,
    /// A printable HTML page instead of CSV.
    #[arg(long)]
    html: bool,
    /// Redis to read; default: the configured `redis.url` or `redis.cluster`, else the
    /// embedded Redis's socket in the data directory.
    #[arg(long)]
    redis: Option<String>,
}

pub async fn run(config: Config, args: ReportArgs) -> Result<(), Box<dyn std::error::Error>> {
    if !args.team.is_empty() && config.county.team(&args.team).is_none() {
        return Err(format!("--team: no team `{}` in the county", args.team).into());
    }
    let store = super::read_store(&config, args.redis).await?;
    let report = luotsi::report::monthly(&store, &args.month, &args.team).await?;
    if args.html {
        print!("{}", report.html(&config.county.name));
    } else {
        print!("{}", report.csv());
        if !report.missing_days.is_empty() {
            eprintln!(
                "missing days (no statistics kept): {}",
                report
                    .missing_days
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}
