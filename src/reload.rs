//! What may change while the service runs, on SIGHUP: the classifier (a county edits its
//! lexicon or installs a retrained model) and the county itself (teams, professionals,
//! municipalities) with the routing, deadline and triage settings. New files are validated
//! completely before they replace the old ones, all at once or not at all: a broken file leaves
//! what is in use as it was, with the file and line in the log.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::background::Background;
use crate::classify::{Classifier, ClassifyError, ModelMode};
use crate::config::Config;

/// The configuration in use, replaced whole by a reload.
pub struct ConfigCell {
    current: RwLock<Arc<Config>>,
}

impl ConfigCell {
    pub fn new(config: Config) -> Self {
        Self {
            current: RwLock::new(Arc::new(config)),
        }
    }

    /// The configuration to use for one request or one round of a loop.
    pub fn get(&self) -> Arc<Config> {
        self.current.read().expect("config lock").clone()
    }

    fn set(&self, config: Arc<Config>) {
        *self.current.write().expect("config lock") = config;
    }
}

/// What a county reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CountyReloaded {
    pub teams: usize,
    pub professionals: usize,
    /// Professionals signed out because the new county no longer has them as they signed in
    /// (removed, or moved to another team or profession).
    pub signed_out: Vec<String>,
    /// Professionals online whose languages, needs and the e-service-during-a-call policy were
    /// brought up to date.
    pub updated_online: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(
        "{} change only with a restart; nothing was changed (put the file back, or restart)",
        .0.join(", ")
    )]
    RestartOnly(Vec<&'static str>),
    #[error(
        "the new configuration is in use, but bringing professionals online up to date failed: {0}"
    )]
    Store(#[from] crate::store::StoreError),
}

/// Puts `new` in use in place of the configuration `state` runs on: refused whole when a
/// setting that needs a restart differs. A professional the new county no longer has as they
/// signed in is signed out (offers placed again, cases they hold listed as "holder
/// disconnected"), and their Offers stream here ends; those online are brought up to date.
pub async fn reload_county(
    state: &crate::app::AppState,
    new: Config,
) -> Result<CountyReloaded, ReloadError> {
    let old = state.config();
    let restart_only = old.restart_only_changes(&new);
    if !restart_only.is_empty() {
        return Err(ReloadError::RestartOnly(restart_only));
    }
    let members = |c: &Config| -> HashMap<String, (crate::domain::routing::Member, String)> {
        c.county
            .teams
            .iter()
            .flat_map(|t| {
                t.members
                    .iter()
                    .map(|m| (m.id.clone(), (m.clone(), t.id.clone())))
            })
            .collect()
    };
    let (before, after) = (members(&old), members(&new));
    let new = Arc::new(new);
    state.config.set(new.clone());
    state.store.set_policy(
        Some(new.routing.offer_timeout()),
        new.routing.e_service_during_call,
    );
    let mut done = CountyReloaded {
        teams: new.county.teams.len(),
        professionals: after.len(),
        ..Default::default()
    };
    let mut gone: Vec<_> = before
        .iter()
        .filter(|(id, (m, team))| {
            after
                .get(*id)
                .is_none_or(|(n, t)| t != team || n.profession != m.profession)
        })
        .collect();
    gone.sort_by(|a, b| a.0.cmp(b.0));
    for (id, (member, team)) in gone {
        state.dispatcher.end_removed(id);
        let was = state.store.sign_out(member, team).await?;
        tracing::info!(professional = %id, presence = ?was.presence, "signed out: no longer in the county as they signed in");
        done.signed_out.push(id.clone());
    }
    let staying: Vec<&str> = after
        .keys()
        .filter(|id| !done.signed_out.contains(id))
        .map(String::as_str)
        .collect();
    let connections = state.store.connections(&staying).await?;
    for (id, token) in staying.iter().zip(connections) {
        if token.is_none() {
            continue;
        }
        let (member, team) = &after[*id];
        state.dispatcher.update_member(member, team);
        state
            .store
            .set_presence(member, team, &crate::store::PresenceChange::default())
            .await?;
        done.updated_online += 1;
    }
    state.board.poke();
    Ok(done)
}

pub struct ClassifierCell {
    dir: PathBuf,
    mode: ModelMode,
    current: RwLock<Arc<Classifier>>,
}

impl ClassifierCell {
    /// Loads the lexicon, rules and (unless `mode` is off) the trained model from `dir`.
    pub fn load(dir: PathBuf, mode: ModelMode) -> Result<Self, ClassifyError> {
        let c = Classifier::load_with(&dir, mode)?;
        Ok(Self {
            dir,
            mode,
            current: RwLock::new(Arc::new(c)),
        })
    }

    /// The classifier to use for one request.
    pub fn get(&self) -> Arc<Classifier> {
        self.current.read().expect("classifier lock").clone()
    }

    /// Reads the lexicon, rules and model again; replaces the classifier only when all of it
    /// loads.
    pub fn reload(&self) -> Result<(), ClassifyError> {
        let c = Classifier::load_with(&self.dir, self.mode)?;
        *self.current.write().expect("classifier lock") = Arc::new(c);
        Ok(())
    }

    /// Reloads on every SIGHUP until `background` stops. The handler is installed before this
    /// returns, so a SIGHUP sent right after start reloads rather than ends the process.
    pub fn reload_on_sighup(self: Arc<Self>, background: &mut Background) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup())?;
        background.spawn("classifier reload", |stop| async move {
            // A reload under way when the stop comes is finished; none starts after it.
            while let Some(Some(())) = stop.run_until_cancelled(hup.recv()).await {
                // Reading and stemming the lexicon is file and CPU work: off the runtime.
                let cell = self.clone();
                let reloaded = tokio::task::spawn_blocking(move || cell.reload())
                    .await
                    .expect("the reload task runs to its end");
                match reloaded {
                    Ok(()) => tracing::info!(dir = %self.dir.display(), "classifier reloaded"),
                    Err(e) => tracing::error!(
                        error = %e,
                        "classifier NOT reloaded: the files have an error; the previous lexicon stays in use"
                    ),
                }
            }
        });
        Ok(())
    }
}
