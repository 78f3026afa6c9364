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
pub use status::{ItemStatus, RecordEvent, StatusBoard, SurveyStatus};
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
    /// The command contradicts what is recorded (e.g. a case closed before the action).
    #[error("{what} {id:?}: {reason}")]
    Conflict {
        what: &'static str,
        id: String,
        reason: String,
    },
    /// The command's record is already recorded with other content: the same id was used for
    /// something else (an identical retry is not refused, see [`decide_in_history`]).
    #[error(
        "{what} {id:?} is already recorded with other content; a retry must repeat the original request, and something new needs a new id"
    )]
    AlreadyRecorded { what: &'static str, id: String },
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

/// The record a command writes, by which its retries are recognised: what it is and its id
/// (e.g. `training` `t-2024-01`, `training evaluation` `t-2024-01`). Every event a command causes
/// carries the command's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordKey {
    pub what: &'static str,
    pub id: String,
}

impl RecordKey {
    /// Returns the key of `what` `id`.
    pub fn new(what: &'static str, id: impl std::fmt::Display) -> Self {
        Self {
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

    /// The record `command` writes; `None` for a command that records nothing of its own (an
    /// erasure, which is idempotent by itself).
    fn command_key(command: &Self::Command) -> Option<RecordKey>;

    /// The record `event` belongs to: the key of the command that caused it.
    fn event_key(event: &Self::Event) -> Option<RecordKey>;

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

/// Decides `command` against the whole history of its register, under the retry contract of the
/// API: a command whose record (its [`RecordKey`]) is already recorded is a retry when, decided
/// against the history as it stood before that record, it causes exactly the events recorded
/// for it. A retry causes nothing, at any later time (whatever was recorded since: a training's
/// evaluation, a case's closing). The same key with other content is refused with
/// [`DomainError::AlreadyRecorded`]. `same` compares a recorded event with one the command would
/// cause (personal details are sealed anew on every request, so the caller compares those in
/// clear).
pub fn decide_in_history<A: Aggregate>(
    history: &[A::Event],
    command: A::Command,
    same: impl Fn(&A::Event, &A::Event) -> bool,
) -> Result<Vec<A::Event>, DomainError> {
    let key = A::command_key(&command);
    let first = key.as_ref().and_then(|k| {
        history
            .iter()
            .position(|e| A::event_key(e).as_ref() == Some(k))
    });
    let (Some(key), Some(first)) = (key, first) else {
        return A::from_events(history).decide(command);
    };
    let recorded: Vec<&A::Event> = history[first..]
        .iter()
        .filter(|e| A::event_key(e).as_ref() == Some(&key))
        .collect();
    let would = A::from_events(&history[..first]).decide(command)?;
    let faithful = would.is_empty()
        || (would.len() == recorded.len() && would.iter().zip(&recorded).all(|(w, r)| same(r, w)));
    if faithful {
        Ok(vec![])
    } else {
        Err(DomainError::AlreadyRecorded {
            what: key.what,
            id: key.id,
        })
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
