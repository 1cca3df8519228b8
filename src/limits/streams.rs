//! Open streams per caller identity and WatchCase streams per case. A permit is taken when a
//! stream opens and travels with the stream: when tonic drops the stream (the client went away,
//! or it ended), the place is free again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tonic::Status;

use crate::config::LimitsConfig;

/// The stream counters of one instance.
#[derive(Debug)]
pub struct StreamLimits {
    per_caller: Counter,
    per_case: Counter,
}

impl StreamLimits {
    pub fn new(limits: &LimitsConfig) -> Self {
        Self {
            per_caller: Counter::new(limits.streams_per_caller),
            per_case: Counter::new(limits.watchers_per_case),
        }
    }

    /// A place for one more open stream of the caller with this credential subject.
    pub fn open_for(&self, subject: &str) -> Result<StreamPermit, Status> {
        self.per_caller.take(subject).ok_or_else(|| {
            Status::resource_exhausted(format!(
                "at most {} open streams per caller (limits.streams_per_caller); close one first",
                self.per_caller.cap
            ))
        })
    }

    /// A place for one more WatchCase stream on this case.
    pub fn watch_case(&self, case_id: &str) -> Result<StreamPermit, Status> {
        self.per_case.take(case_id).ok_or_else(|| {
            Status::resource_exhausted(format!(
                "at most {} WatchCase streams per case (limits.watchers_per_case); close one first",
                self.per_case.cap
            ))
        })
    }
}

#[derive(Debug)]
struct Counter {
    cap: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl Counter {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            open: Arc::default(),
        }
    }

    fn take(&self, key: &str) -> Option<StreamPermit> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key.to_string()).or_default();
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(StreamPermit {
            open: self.open.clone(),
            key: key.to_string(),
        })
    }
}

/// One open stream's place; given back on drop.
#[derive(Debug)]
pub struct StreamPermit {
    open: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_given_back_when_its_stream_goes() {
        let limits = StreamLimits::new(&LimitsConfig {
            streams_per_caller: 2,
            ..LimitsConfig::default()
        });
        let a = limits.open_for("anna").unwrap();
        let _b = limits.open_for("anna").unwrap();
        let err = limits.open_for("anna").unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert!(
            limits.open_for("bertta").is_ok(),
            "another caller is unaffected"
        );
        drop(a);
        assert!(limits.open_for("anna").is_ok());
    }
}
