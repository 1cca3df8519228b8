//! `luotsi staffing --date 2026-11-24`: the professionals each hour of a day needs, per team and
//! channel, from the statistics of the same weekday in recent weeks (`luotsi::forecast`), as a
//! table or CSV. It only reads.

use luotsi::config::Config;

#[derive(clap::Args)]
pub struct StaffingArgs {
    /// The day (YYYY-MM-DD, Helsinki). Default: today.
    #[arg(long)]
    date: Option<String>,
    /// One team only.
    #[arg(long, default_value = "")]
    team: String,
    /// CSV instead of a table.
    #[arg(long)]
    csv: bool,
    /// Redis to read; default: the configured `redis.url` or `redis.cluster`, else the
    /// embedded Redis's socket in the data directory.
    #[arg(long)]
    redis: Option<String>,
}

pub async fn run(config: Config, args: StaffingArgs) -> Result<(), Box<dyn std::error::Error>> {
    let date = match &args.date {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| format!("--date: `{d}` is not a day (YYYY-MM-DD)"))?,
        None => luotsi::domain::calendar::local_date(luotsi::clock::now()),
    };
    if !args.team.is_empty() && config.county.team(&args.team).is_none() {
        return Err(format!("--team: no team `{}` in the county", args.team).into());
    }
    let store = super::read_store(&config, args.redis).await?;
    let plan = luotsi::forecast::plan(&store, &config, date, &args.team).await?;
    print!("{}", if args.csv { plan.csv() } else { plan.table() });
    Ok(())
}
