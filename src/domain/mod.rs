//! Pure routing logic: the words of the domain (needs, urgency, channels, languages,
//! professions), identity codes, the working-day calendar, deadlines, matching and ordering.
//!
//! Nothing here does I/O, awaits, or knows that Redis exists: every function is plain and
//! tested with plain unit tests. The store and the API call in here; never the other way.

pub mod calendar;
pub mod deadline;
pub mod hetu;
pub mod model;
pub mod routing;

pub use model::*;
