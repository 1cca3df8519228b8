//! The time Luotsi routes by. Normally the system clock; a simulation can freeze it and move it
//! forward (`set_virtual`) to run a working day in seconds. Every deadline, wait, offer expiry and
//! statistic reads this clock — including the `NOW` every Lua script receives.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// 0: the system clock; otherwise the virtual time in ms since the epoch.
static VIRTUAL: AtomicI64 = AtomicI64::new(0);

pub fn now_ms() -> i64 {
    match VIRTUAL.load(Ordering::Relaxed) {
        0 => Utc::now().timestamp_millis(),
        v => v,
    }
}

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(now_ms()).expect("a representable time")
}

/// Freezes the clock at `ms` (for simulations: the whole process runs on virtual time).
pub fn set_virtual(ms: i64) {
    assert!(ms > 0, "a virtual time after the epoch");
    VIRTUAL.store(ms, Ordering::Relaxed);
}
