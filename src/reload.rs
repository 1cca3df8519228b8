//! The classifier in use, replaceable while the service runs: a county edits its lexicon and
//! sends SIGHUP (or installs a retrained model); the new files are validated completely before they replace the old ones, and a
//! broken file leaves the running classifier as it was, with the file and line in the log.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::background::Background;
use crate::classify::{Classifier, ClassifyError, ModelMode};

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
