//! The municipal programme's domain core (在宅医療・介護連携推進事業): what a municipality records
//! for each of the eight items (ア)–(ク) and its annual plan, and the rules that decide what may be
//! recorded. It must never do I/O: no store, no clock, no network, no randomness.
//!
//! Layout:
//! - [`values`]: validated value types (official codes, ids, texts, dates) and the vocabularies;
//! - one module per aggregate: [`resources`] (ア), [`meetings`] (イ), [`arrangements`] (ウ),
//!   [`tools`] (エ), [`consultation`] (オ), [`trainings`] (カ), [`awareness`] (キ),
//!   [`wide_area`] (ク), [`plan`] (the annual plan and its indicators);
//! - [`events`]: [`ProgrammeEvent`], every event of every aggregate, as stored (JSON payloads);
//! - [`status`]: the implementation status of each item, derived from the events;
//! - [`facts`]: what each event tells the prefecture (non-personal facts).
//!
//! Each aggregate is one register per municipality (one per fiscal year for the plan):
//! `decide(state, command)` checks a command against the state and returns the events it causes,
//! or a [`DomainError`] naming the field and value; `apply(state, &event)` folds an event in and
//! never refuses one.

pub mod arrangements;
pub mod awareness;
pub mod consultation;
pub mod events;
pub mod facts;
pub mod meetings;
pub mod plan;
pub mod resources;
pub mod status;
pub mod tools;
pub mod trainings;
pub mod values;
pub mod wide_area;

pub use events::ProgrammeEvent;
pub use status::{ItemStatus, StatusBoard, SurveyStatus};
pub use values::Item;

/// Why the domain refused a command. Every variant names what was wrong and with which value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A field holds a value the programme does not accept.
    #[error("invalid {field} {value:?}: {reason}")]
    Invalid {
        field: String,
        value: String,
        reason: String,
    },
    /// The command refers to something that is not recorded.
    #[error("{what} {id:?} is not recorded")]
    NotFound { what: &'static str, id: String },
    /// The command contradicts what is recorded (e.g. the same id with other details).
    #[error("{what} {id:?}: {reason}")]
    Conflict {
        what: &'static str,
        id: String,
        reason: String,
    },
}

impl DomainError {
    /// Returns an [`DomainError::Invalid`] for `field` holding `value`.
    pub fn invalid(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            field: field.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// Returns a [`DomainError::Conflict`].
    pub fn conflict(
        what: &'static str,
        id: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Self::Conflict {
            what,
            id: id.to_string(),
            reason: reason.into(),
        }
    }

    /// Returns a [`DomainError::NotFound`].
    pub fn not_found(what: &'static str, id: impl std::fmt::Display) -> Self {
        Self::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

/// An aggregate: the state a register rebuilds from its events, and its rules.
pub trait Aggregate: Default {
    /// What a user asks for.
    type Command;
    /// What happened, in the past tense.
    type Event;

    /// Checks `command` against the state and returns the events it causes (none when it asks
    /// for what is already recorded, so retries and re-imports add nothing).
    fn decide(&self, command: Self::Command) -> Result<Vec<Self::Event>, DomainError>;

    /// Folds one event into the state. Never refuses: the event happened.
    fn apply(&mut self, event: &Self::Event);

    /// Rebuilds the state from its events.
    fn from_events<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for e in events {
            state.apply(e);
        }
        state
    }
}

/// Test helper: runs given / when and returns the outcome.
#[cfg(test)]
pub(crate) fn given_when<A: Aggregate>(
    given: &[A::Event],
    when: A::Command,
) -> Result<Vec<A::Event>, DomainError> {
    A::from_events(given).decide(when)
}
