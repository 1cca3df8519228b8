//! `luotsi rewrap --old-key-file PATH`: replaces the key file that wraps the data keys. Every
//! stored data key is unwrapped with the old file and wrapped again under the configured one
//! (`privacy.data_key_file`), in one step; then the old file can be destroyed, and a backup of
//! the Redis files taken before is unreadable without it. Stop every instance of the county
//! first, and start them with the new file after.

use std::path::PathBuf;

use luotsi::config::Config;

#[derive(clap::Args)]
pub struct RewrapArgs {
    /// The key file the stored data keys are wrapped under now.
    #[arg(long)]
    old_key_file: PathBuf,
    /// Redis to write; default: the configured `redis.url` or `redis.cluster`, else the
    /// embedded Redis's socket in the data directory.
    #[arg(long)]
    redis: Option<String>,
}

pub async fn run(config: Config, args: RewrapArgs) -> Result<(), Box<dyn std::error::Error>> {
    let new = luotsi::app::sealer(&config)?;
    let mut old_config = config.clone();
    old_config.data_key_file = Some(args.old_key_file);
    let old = luotsi::app::sealer(&old_config)?;
    if old.kek_id() == new.kek_id() {
        return Err(
            "--old-key-file holds the key configured now: give the key file the data \
                    keys are wrapped under, and configure the new one"
                .into(),
        );
    }
    let store = super::read_store(&config, args.redis)
        .await?
        .with_sealer(new);
    let n = store.rewrap_data_keys(&old).await?;
    // Every key now opens with the new file, or this says which does not.
    store.open_data_keys().await?;
    println!(
        "{n} data keys wrapped again under key {} (was {}); the old key file can be destroyed",
        store.sealer().kek_id(),
        old.kek_id()
    );
    Ok(())
}
