//! `luotsi notifications [--after ID] [--follow]`: the county's outbound notifications (call-backs
//! nobody reached) as JSON lines on standard output, the call-back number opened, for the
//! county's SMS gateway to read. The number is stored sealed; this command needs the same data
//! key file as the service (`privacy.data_key_file`; in development, the one it made).

use luotsi::config::Config;

#[derive(clap::Args)]
pub struct NotificationsArgs {
    /// Print the notifications after this entry id (the `id` of the last one handled); `0`:
    /// every one still kept (2 days).
    #[arg(long, default_value = "0")]
    after: String,
    /// Keep waiting for new ones (stop with Ctrl-C).
    #[arg(long)]
    follow: bool,
    /// Redis to read; default: the configured `redis.url` or `redis.cluster`, else the
    /// embedded Redis's socket in the data directory.
    #[arg(long)]
    redis: Option<String>,
}

pub async fn run(
    config: Config,
    args: NotificationsArgs,
) -> Result<(), Box<dyn std::error::Error>> {
    let valid = args.after == "0"
        || args
            .after
            .split_once('-')
            .is_some_and(|(ms, n)| ms.parse::<u64>().is_ok() && n.parse::<u64>().is_ok());
    if !valid {
        return Err(format!(
            "--after: `{}` is not a notification id (like 1764000000000-0)",
            args.after.chars().take(40).collect::<String>()
        )
        .into());
    }
    let sealer = luotsi::app::sealer(&config)?;
    let store = super::read_store(&config, args.redis)
        .await?
        .with_sealer(sealer);
    store.open_data_keys().await?;
    let mut after = args.after;
    loop {
        let block = args.follow.then_some(5_000);
        let batch = store.notifications(&after, 100, block).await?;
        for n in &batch {
            println!("{}", serde_json::to_string(n)?);
        }
        match batch.last() {
            Some(last) => after = last.id.clone(),
            None if !args.follow => return Ok(()),
            None => {}
        }
    }
}
