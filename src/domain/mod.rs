//! Pure routing logic: the words of the domain (needs, urgency, channels, languages,
//! professions), identity codes, the working-day calendar, deadlines, matching and ordering.
//!
//! Nothing here does I/O, awaits, or knows that Redis exists: every function is plain and
//! tested with plain unit tests. The store and the API call in here; never the other way.

pub mod calendar;
pub mod deadline;
pub mod hetu;
pub mod intake;
#[macro_use]
pub mod model;
pub mod routing;
pub mod staffing;
pub mod steering;
pub mod triage;

pub use model::*;

/// A request the county's rules refuse. The API maps each to a status in one place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no team of the county can take this need")]
    NoTeamForNeed,
    #[error("team `{team}` has no professional for this case ({professions})")]
    TeamCannotTake { team: String, professions: String },
    #[error("no {profession} of team {team} is available now")]
    NoColleagueAvailable {
        profession: Profession,
        team: String,
    },
    /// A chosen call-back time ends after the case's deadline.
    #[error("ends after the case's deadline; the latest allowed end is {}", crate::domain::calendar::local_text(*latest))]
    WindowPastDeadline {
        latest: chrono::DateTime<chrono::Utc>,
    },
}
