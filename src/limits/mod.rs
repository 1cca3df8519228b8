//! Abuse limits: what one caller may ask of an instance, so that one misbehaving client or a
//! stolen token cannot take the service from everyone else. Each limit is in `[limits]` of the
//! configuration.
//!
//! - [`deadline`]: every unary call is answered within `limits.call_timeout_ms`, else
//!   DEADLINE_EXCEEDED; streams are not cut.
//! - [`rate`]: calls per caller identity (the credential's subject), per role, refused
//!   RESOURCE_EXHAUSTED with a retry hint; health checks never.
//! - [`streams`]: open streams per caller identity and WatchCase streams per case, refused
//!   RESOURCE_EXHAUSTED. Streams per connection are HTTP/2's own setting (`server.rs`).
//!
//! Field lengths and characters are checked where each field is parsed (`api/`), and a
//! malformed message is refused by the codec (`codec.rs`).

pub mod deadline;
pub mod rate;
pub mod streams;

pub use deadline::DeadlineLayer;
pub use rate::RateLimitLayer;
pub use streams::{StreamLimits, StreamPermit};
