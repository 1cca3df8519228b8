//! The background work of one running instance: the loops beside the request handlers (event
//! listener, offer reaper, stream clean-up, board refresh, SIGHUP reload). Each is handed the one
//! stop signal when it starts and must return soon after it fires; stopping the instance fires it
//! and awaits every task, so no loop outlives the instance that started it.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

/// Tasks started together and stopped together. Dropping it without [`Background::stop`] aborts
/// them (a test that panics, a start that fails half-way).
pub struct Background {
    stop: CancellationToken,
    tasks: JoinSet<()>,
    /// Names for the log when a task does not stop in time or has panicked.
    names: HashMap<Id, &'static str>,
}

impl Default for Background {
    fn default() -> Self {
        Self::new()
    }
}

impl Background {
    pub fn new() -> Self {
        Self {
            stop: CancellationToken::new(),
            tasks: JoinSet::new(),
            names: HashMap::new(),
        }
    }

    /// Starts `task` with the stop signal it must watch (typically in a `select!` at each wait).
    pub fn spawn<F, Fut>(&mut self, name: &'static str, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = self.tasks.spawn(task(self.stop.clone()));
        self.names.insert(handle.id(), name);
    }

    /// Fires the stop signal and waits for every task, at most `within`: a task still running
    /// then is aborted and named in the log, so that stopping is bounded even when a task is
    /// stuck on an unanswered network call.
    pub async fn stop(mut self, within: Duration) -> Stopped {
        self.stop.cancel();
        let deadline = tokio::time::Instant::now() + within;
        let mut stopped = Stopped::default();
        loop {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(None) => break,
                Ok(Some(Ok((id, ())))) => {
                    let task = self.names.remove(&id).unwrap_or("?");
                    tracing::debug!(task, "background task stopped");
                }
                Ok(Some(Err(e))) => {
                    let task = self.names.remove(&e.id()).unwrap_or("?");
                    tracing::error!(task, error = %e, "background task failed");
                    stopped.failed.push(task);
                }
                Err(_) => {
                    for task in self.names.values() {
                        tracing::warn!(
                            task,
                            within_ms = within.as_millis() as u64,
                            "background task did not stop in time: aborted"
                        );
                        stopped.aborted.push(task);
                    }
                    self.tasks.shutdown().await;
                    break;
                }
            }
        }
        stopped
    }
}

/// How the background work ended: the names of the tasks that did not end well (both empty
/// when every task stopped on the signal).
#[derive(Debug, Default, PartialEq)]
pub struct Stopped {
    /// Still running after the bound: aborted.
    pub aborted: Vec<&'static str>,
    /// Panicked before or while stopping.
    pub failed: Vec<&'static str>,
}

impl Stopped {
    pub fn is_clean(&self) -> bool {
        self.aborted.is_empty() && self.failed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Records that a task's future was dropped (it finished or was aborted).
    struct SetOnDrop(Arc<AtomicBool>);

    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn stop_signals_every_task_and_waits_for_it_to_finish() {
        let mut bg = Background::new();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        bg.spawn("slow to finish", move |stop| async move {
            stop.cancelled().await;
            // Work after the signal (a last clean-up) still completes before stop returns.
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        });
        let stopped = bg.stop(Duration::from_secs(5)).await;
        assert!(stopped.is_clean(), "{stopped:?}");
        assert!(finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_task_that_ignores_the_signal_is_aborted_after_the_bound() {
        let mut bg = Background::new();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        bg.spawn("stuck", move |_stop| async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let started = std::time::Instant::now();
        let stopped = bg.stop(Duration::from_millis(100)).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(stopped.aborted, ["stuck"]);
        assert!(dropped.load(Ordering::SeqCst), "the stuck task was aborted");
    }

    #[tokio::test]
    async fn a_task_that_panics_is_reported_and_the_others_still_stop() {
        let mut bg = Background::new();
        bg.spawn("panics", |_stop| async { panic!("a defect") });
        bg.spawn("well behaved", |stop| async move { stop.cancelled().await });
        tokio::task::yield_now().await;
        let stopped = bg.stop(Duration::from_secs(5)).await;
        assert_eq!(
            stopped,
            Stopped {
                aborted: vec![],
                failed: vec!["panics"]
            }
        );
    }

    #[tokio::test]
    async fn dropping_the_owner_aborts_its_tasks() {
        let mut bg = Background::new();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        bg.spawn("forever", move |_stop| async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
        drop(bg);
        // Abort takes effect when the runtime next polls the task.
        for _ in 0..100 {
            if dropped.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(dropped.load(Ordering::SeqCst));
    }
}
