//! The `luotsi` commands, apart from the library: `serve` runs the service as a process (signals,
//! the grace period, the embedded Redis); `health` is the container's health check; `bench` (and its `--soak`), `queues`, `classify`, `train`, `eval` and `corrections` are tools for the
//! people who run and tune it, used from a terminal only.

pub mod auth;
pub mod bench;
pub mod classify;
pub mod corrections;
pub mod health;
pub mod notifications;
pub mod queues;
pub mod report;
pub mod rewrap;
pub mod serve;
pub mod soak;
pub mod staffing;
pub mod train;

/// The county's Redis for a command that only reads: `redis` when given, else the configured
/// `redis.url` or `redis.cluster`, else the embedded Redis's socket in the data directory.
pub(crate) async fn read_store(
    config: &luotsi::config::Config,
    redis: Option<String>,
) -> Result<luotsi::store::Store, Box<dyn std::error::Error>> {
    use luotsi::store::Store;
    let (county, offer_ttl, options) = (
        &config.county.id,
        config.routing.offer_timeout(),
        config.redis.connect_options(),
    );
    let store = match (redis, config.redis.cluster_seeds()) {
        (None, Some(seeds)) => Store::connect_cluster(&seeds, county, offer_ttl, options)
            .await
            .map_err(|e| format!("cannot read the Redis Cluster: {e}"))?,
        (url, _) => {
            let url = match url.or(config.redis.url.as_ref().map(|u| u.expose().to_string())) {
                Some(url) => url,
                None => {
                    let dir = config
                        .redis
                        .data_dir
                        .clone()
                        .unwrap_or_else(|| "data".into());
                    luotsi::embedded::EmbeddedRedis::url_for(&dir)
                        .map_err(|e| format!("the embedded Redis of {}: {e}", dir.display()))?
                        .expose()
                        .to_string()
                }
            };
            Store::connect_with(&url, county, offer_ttl, options)
                .await
                .map_err(|e| {
                    format!(
                        "cannot read Redis at {}: {e}",
                        luotsi::store::connect::redacted(&url)
                    )
                })?
        }
    };
    Ok(store)
}
