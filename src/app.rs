//! The application, apart from any transport: what the gRPC services and the HTTP port share
//! (`AppState`), and the running instance that owns it together with its background work
//! (`App`), started together and stopped together.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::layer::Authenticator;
use crate::background::{Background, Stopped};
use crate::board::BoardFeed;
use crate::config::Config;
use crate::dispatch::{Dispatcher, Timing};
use crate::identity::Pseudonymizer;
use crate::metrics::Metrics;
use crate::reload::{ClassifierCell, ConfigCell};
use crate::store::Store;
use crate::tls::ServerTls;

/// How long stopping waits for the background loops (they stop at once; the bound is for a
/// clean-up stuck on an unanswered Redis call).
const STOP_WITHIN: Duration = Duration::from_secs(3);

/// What every service shares. Built once at start.
#[derive(Clone)]
pub struct AppState {
    /// The configuration in use (the county and routing settings are replaced on SIGHUP): read
    /// it with [`AppState::config`].
    pub config: Arc<ConfigCell>,
    /// The classifier in use (replaced on SIGHUP).
    pub classifier: Arc<ClassifierCell>,
    pub store: Store,
    /// The same Redis on a connection of its own, for the health checks (the gRPC health
    /// status, `/readyz`): a flood of calls cannot make a healthy instance look down.
    pub health_store: Store,
    pub dispatcher: Dispatcher,
    pub pseudonyms: Pseudonymizer,
    pub metrics: Arc<Metrics>,
    pub board: BoardFeed,
    /// Verifies callers' credentials (gRPC and the board).
    pub auth: Arc<Authenticator>,
    /// Both ports' TLS; None only for plain text on loopback (development).
    pub tls: Option<Arc<ServerTls>>,
    /// Open streams per caller and per case (`limits`).
    pub streams: Arc<crate::limits::StreamLimits>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("classifier: {0}")]
    Classifier(#[from] crate::classify::ClassifyError),
    #[error("cannot connect to redis: {0}")]
    Redis(#[from] crate::store::StoreError),
    #[error("security settings: {0}")]
    Security(#[from] crate::auth::SetupError),
}

impl AppState {
    /// The configuration in use now.
    pub fn config(&self) -> Arc<Config> {
        self.config.get()
    }
}

/// The county's pseudonymizer: the configured key, or in development (no `auth.issuer`) the
/// random key of the development issuer's directory, made on first start. Production without a
/// key never gets here (`Config::validate_pseudonym_key`); checked again because a `Config`
/// can be built by hand.
pub fn pseudonymizer(config: &Config) -> Result<Pseudonymizer, crate::auth::SetupError> {
    config
        .validate_pseudonym_key()
        .map_err(|e| crate::auth::SetupError::Config(e.to_string()))?;
    let key = match &config.pseudonym_key {
        Some(key) => key.clone(),
        None => {
            let dev = crate::auth::dev::DevAuthority::open(&crate::auth::dev_dir(config))?;
            dev.pseudonym_key()?
        }
    };
    let pseudonyms = Pseudonymizer::new(&key);
    tracing::info!(key_id = pseudonyms.key_id(), "pseudonym key in use");
    Ok(pseudonyms)
}

/// The sealer of data at rest: the key-encryption key from `privacy.data_key_file`, or in
/// development one made on first start (`<dev dir>/data-key`, 0600).
pub fn sealer(config: &Config) -> Result<crate::store::seal::Sealer, crate::auth::SetupError> {
    let setup = |m: String| crate::auth::SetupError::Config(m);
    let secret = match &config.data_key_file {
        Some(path) => read_key_file(path).map_err(setup)?,
        None if config.auth.is_development() => {
            let dev = crate::auth::dev::DevAuthority::open(&crate::auth::dev_dir(config))?;
            dev.data_key()?
        }
        None => {
            return Err(setup(
                "privacy.data_key_file is required with auth.issuer set".into(),
            ));
        }
    };
    let sealer = crate::store::seal::Sealer::new(&secret);
    tracing::info!(key_id = sealer.kek_id(), "data key file in use");
    Ok(sealer)
}

/// Reads a key file: at least 32 characters (`openssl rand -hex 32`). A file others may read
/// is named in a warning.
fn read_key_file(path: &std::path::Path) -> Result<crate::secret::Secret, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("privacy.data_key_file {shown} cannot be read: {e}"))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(file = %shown, "the data key file can be read by others: chmod 600 it");
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("privacy.data_key_file {shown} cannot be read: {e}"))?;
    let key = text.trim();
    if key.chars().count() < 32 {
        return Err(format!(
            "privacy.data_key_file {shown} must hold at least 32 characters \
             (`openssl rand -hex 32 > {shown}`)"
        ));
    }
    Ok(crate::secret::Secret::new(key))
}

/// A running instance: its shared state and the background loops that serve it (the
/// dispatcher's event listener, reaper and stream clean-up, the board refresh, and the SIGHUP
/// reload when asked for). [`App::stop`] ends them all; dropping an `App` aborts them.
pub struct App {
    state: AppState,
    background: Background,
}

impl App {
    /// Loads the classifier, connects to Redis, starts the dispatcher and the board. Redis is
    /// the standalone one at `redis_url`, unless `redis.cluster` names a cluster (then
    /// `redis_url` is not used).
    pub async fn start(config: Config, redis_url: &str) -> Result<App, StartError> {
        let (auth, tls) = crate::auth::setup(&config)?;
        let pseudonyms = pseudonymizer(&config)?;
        let sealer = sealer(&config)?;
        // The numbering plan is read on first use (tens of milliseconds): not on a citizen's call.
        crate::identity::load_numbering_plan();
        let classifier =
            ClassifierCell::load(config.classifier_dir.clone(), config.classifier.model)?;
        let (county, offer_ttl, options) = (
            &config.county.id,
            config.routing.offer_timeout(),
            config.redis.connect_options(),
        );
        let store = match config.redis.cluster_seeds() {
            Some(seeds) => Store::connect_cluster(&seeds, county, offer_ttl, options).await?,
            None => Store::connect_with(redis_url, county, offer_ttl, options).await?,
        }
        .with_durability(config.redis.durability())
        .with_e_service_during_call(config.routing.e_service_during_call)
        .with_presence_lease(config.dispatch.presence_lease())
        .with_sealer(sealer);
        store.ping().await?;
        // Every stored data key opens with this key file, or the start stops naming both.
        store.open_data_keys().await?;
        // Events travel by sharded pub/sub: a Redis without it, or a user who may not
        // subscribe, is refused here rather than leaving offers undelivered.
        drop(store.follow_events().await?);
        let professionals: Vec<&str> = config
            .county
            .teams
            .iter()
            .flat_map(|t| t.members.iter().map(|m| m.id.as_str()))
            .collect();
        let unleased = store.lease_unleased_connections(&professionals).await?;
        if unleased > 0 {
            tracing::info!(
                professionals = unleased,
                "connections without a presence lease given one: they lapse unless renewed"
            );
        }
        // The calls share one connection; what keeps the instance honest and its work moving
        // has its own, so that calls queued on theirs cannot starve it.
        let health_store = store.with_own_connection().await?;
        let board_store = store.with_own_connection().await?;
        let reaper_store = store.with_own_connection().await?;
        let lease_store = store.with_own_connection().await?;
        let mut background = Background::new();
        let metrics = Arc::new(Metrics::new());
        let dispatcher = Dispatcher::start(
            store.clone(),
            reaper_store,
            lease_store,
            Timing {
                offer_ttl: config.routing.offer_timeout(),
                presence_lease: config.dispatch.presence_lease(),
            },
            metrics.clone(),
            &mut background,
        );
        // Each finished day's statistics summed into a roll-up kept 13 months and more (the
        // monthly report), and data keys past their retention destroyed, hourly from five
        // minutes after start: whichever instance comes first does it, the others find it done.
        let rollup_store = store.clone();
        background.spawn("daily roll-up", |stop| async move {
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(300),
                Duration::from_secs(3600),
            );
            while stop.run_until_cancelled(tick.tick()).await.is_some() {
                match crate::report::roll_up_missing(&rollup_store).await {
                    Ok(0) => {}
                    Ok(days) => tracing::info!(days, "statistics rolled up into daily aggregates"),
                    Err(e) => {
                        tracing::warn!(error = %e, "daily roll-up failed; retried in an hour")
                    }
                }
                // Data keys past their retention destroyed (crypto-shredding, `store::seal`).
                match rollup_store
                    .shred_keys(crate::store::seal::REASONS_KEEP_DAYS)
                    .await
                {
                    Ok(s) if s.held_open > 0 => tracing::info!(
                        destroyed = s.destroyed.len(),
                        kept_for_open_cases = s.held_open,
                        "data keys past their day kept while open cases are sealed with them"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "data keys not swept; retried in an hour"),
                }
            }
        });
        let config = Arc::new(ConfigCell::new(config));
        let board = BoardFeed::start(
            board_store,
            config.clone(),
            metrics.clone(),
            dispatcher.changes(),
            &mut background,
        );
        let state = AppState {
            streams: Arc::new(crate::limits::StreamLimits::new(&config.get().limits)),
            pseudonyms,
            config,
            classifier: Arc::new(classifier),
            store,
            health_store,
            dispatcher,
            metrics,
            board,
            auth: Arc::new(auth),
            tls: tls.map(Arc::new),
        };
        Ok(App { state, background })
    }

    /// The state to hand to the gRPC services and the HTTP port.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Reloads the classifier on every SIGHUP until the instance stops. The handler is in place
    /// when this returns.
    pub fn reload_on_sighup(&mut self) -> std::io::Result<()> {
        self.state
            .classifier
            .clone()
            .reload_on_sighup(&mut self.background)?;
        self.reload_tls_on_sighup()
    }

    /// Also reads the configuration at `path` again on every SIGHUP and puts the county,
    /// routing, deadline and triage settings in use (`reload::reload_county`): all of it or,
    /// when a file is broken or a setting that needs a restart differs, none of it.
    pub fn reload_county_on_sighup(&mut self, path: std::path::PathBuf) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup())?;
        let state = self.state.clone();
        self.background.spawn("county reload", |stop| async move {
            while let Some(Some(())) = stop.run_until_cancelled(hup.recv()).await {
                let file = path.clone();
                let loaded = tokio::task::spawn_blocking(move || Config::load(&file))
                    .await
                    .expect("the configuration is read to its end");
                let reloaded = match loaded {
                    Ok(new) => crate::reload::reload_county(&state, new).await,
                    Err(e) => Err(e.into()),
                };
                match reloaded {
                    Ok(r) => {
                        state
                            .metrics
                            .config_reloads
                            .get_or_create(&crate::metrics::ResultLabels {
                                result: "ok".into(),
                            })
                            .inc();
                        tracing::info!(
                            teams = r.teams,
                            professionals = r.professionals,
                            signed_out = r.signed_out.len(),
                            online_updated = r.updated_online,
                            "county reloaded"
                        )
                    }
                    Err(e) => {
                        state
                            .metrics
                            .config_reloads
                            .get_or_create(&crate::metrics::ResultLabels {
                                result: "refused".into(),
                            })
                            .inc();
                        tracing::error!(
                            error = %e,
                            "county NOT reloaded: the configuration in use stays"
                        )
                    }
                }
            }
        });
        Ok(())
    }

    fn reload_tls_on_sighup(&mut self) -> std::io::Result<()> {
        if let Some(tls) = self.state.tls.clone() {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hup = signal(SignalKind::hangup())?;
            self.background.spawn("TLS reload", |stop| async move {
                while let Some(Some(())) = stop.run_until_cancelled(hup.recv()).await {
                    match tls.reload() {
                        Ok(()) => tracing::info!("TLS certificate and key re-read"),
                        Err(e) => tracing::error!(
                            error = %e,
                            "TLS NOT reloaded: the previous certificate stays in use"
                        ),
                    }
                }
            });
        }
        Ok(())
    }

    /// Stops the background loops and waits for them. Call it after the servers have stopped:
    /// the dispatcher's clean-up first disconnects the Offers streams already closed.
    pub async fn stop(self) -> Stopped {
        self.background.stop(STOP_WITHIN).await
    }
}
