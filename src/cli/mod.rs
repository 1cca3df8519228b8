//! The `luotsi` commands, apart from the library: `serve` runs the service as a process (signals,
//! the grace period, the embedded Redis); `health` is the container's health check; `bench` (and its `--soak`), `queues`, `classify`, `train`, `eval` and `corrections` are tools for the
//! people who run and tune it, used from a terminal only.

pub mod auth;
pub mod bench;
pub mod classify;
pub mod corrections;
pub mod health;
pub mod queues;
pub mod serve;
pub mod soak;
pub mod train;
