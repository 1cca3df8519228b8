//! The `luotsi` commands, apart from the library: `serve` runs the service as a process (signals,
//! the grace period, the embedded Redis); `bench`, `queues`, `classify`, `train`, `eval` and `corrections` are tools for the
//! people who run and tune it, used from a terminal only.

pub mod auth;
pub mod bench;
pub mod classify;
pub mod corrections;
pub mod queues;
pub mod serve;
pub mod train;
