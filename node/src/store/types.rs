//! The store's validated value types: ids, positions, events as proposed and as recorded.

use std::fmt;

use chrono::{DateTime, Utc};
use renkei_proto::MunicipalityCode;
use uuid::Uuid;

use super::StoreError;

/// The longest stream name accepted, in bytes.
pub const MAX_STREAM_ID_LEN: usize = 200;
/// The longest event type and actor accepted, in bytes.
pub const MAX_NAME_LEN: usize = 200;

/// The name of a stream, e.g. `consultation-desk` or `meeting/0192f5c0`: 1–200 bytes of ASCII
/// letters, digits and `-_.:/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(String);

impl StreamId {
    /// Validates a stream name; `field` names it in the error.
    pub fn parse(field: &str, value: &str) -> Result<Self, StoreError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.:/".contains(c);
        if value.is_empty() || value.len() > MAX_STREAM_ID_LEN || !value.chars().all(ok_char) {
            return Err(StoreError::invalid(
                field,
                value,
                format!("must be 1-{MAX_STREAM_ID_LEN} characters of A-Z a-z 0-9 - _ . : /"),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// Wraps a name read back from the store, where it was validated on the way in.
    pub(crate) fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event's id: a UUIDv7 chosen by whoever proposes the event, the key of idempotent retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(Uuid);

impl EventId {
    /// Returns a new UUIDv7 for the current time.
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }

    /// Validates a textual UUIDv7; `field` names it in the error.
    pub fn parse(field: &str, value: &str) -> Result<Self, StoreError> {
        let uuid = Uuid::parse_str(value)
            .map_err(|_| StoreError::invalid(field, value, "is not a UUID"))?;
        Self::from_uuid(field, uuid)
    }

    /// Accepts a UUID if it is version 7.
    pub fn from_uuid(field: &str, uuid: Uuid) -> Result<Self, StoreError> {
        if uuid.get_version_num() != 7 {
            return Err(StoreError::invalid(
                field,
                uuid,
                format!("must be a UUIDv7, not version {}", uuid.get_version_num()),
            ));
        }
        Ok(Self(uuid))
    }

    pub(crate) fn from_stored(bytes: &[u8]) -> Self {
        // Stored ids were 16 bytes when written; a corrupt value shows as the nil id.
        Self(Uuid::from_slice(bytes).unwrap_or_default())
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A position in one tenant's log of all events: 1 for its first event, then one more per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GlobalPosition(pub u64);

impl GlobalPosition {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for GlobalPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The version a stream is expected to have for an append to go ahead (optimistic concurrency).
/// A stream's version is the number of events in it; a stream that does not exist has version 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the version.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be at exactly this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Returns whether a stream at `actual` satisfies the expectation.
    pub fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => actual == v,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// An event proposed for appending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: EventId,
    /// The event type, e.g. `ConsultationDeskOpened` (past tense).
    pub event_type: String,
    /// The payload's schema version, >= 1.
    pub schema_version: u32,
    /// When it happened (business time).
    pub occurred_at: DateTime<Utc>,
    /// Who recorded it.
    pub actor: String,
    /// The content, opaque to the store.
    pub payload: Vec<u8>,
}

impl NewEvent {
    /// Returns an event with a fresh UUIDv7, schema version 1, that occurred now.
    pub fn new(event_type: &str, actor: &str, payload: impl Into<Vec<u8>>) -> Self {
        Self {
            event_id: EventId::new_v7(),
            event_type: event_type.to_owned(),
            schema_version: 1,
            occurred_at: Utc::now(),
            actor: actor.to_owned(),
            payload: payload.into(),
        }
    }

    /// Checks what the type system does not: names and the payload size. `index` is the event's
    /// place in its batch, used to name the field in the error.
    pub(crate) fn validate(&self, index: usize, max_payload: usize) -> Result<(), StoreError> {
        let field = |name: &str| format!("events[{index}].{name}");
        let name_ok = |s: &str| {
            let printable = if s.is_ascii() {
                s.bytes().all(|b| b >= 0x20 && b != 0x7f)
            } else {
                s.chars().all(|c| !c.is_control())
            };
            !s.is_empty() && s.len() <= MAX_NAME_LEN && printable
        };
        if !name_ok(&self.event_type) {
            return Err(StoreError::invalid(
                field("type"),
                &self.event_type,
                format!("must be 1-{MAX_NAME_LEN} bytes without control characters"),
            ));
        }
        if !name_ok(&self.actor) {
            return Err(StoreError::invalid(
                field("actor"),
                &self.actor,
                format!("must be 1-{MAX_NAME_LEN} bytes without control characters"),
            ));
        }
        if self.schema_version == 0 {
            return Err(StoreError::invalid(
                field("schema_version"),
                0,
                "must be at least 1",
            ));
        }
        if self.payload.len() > max_payload {
            return Err(StoreError::invalid(
                field("payload"),
                format!("{} bytes", self.payload.len()),
                format!("exceeds the limit of {max_payload} bytes"),
            ));
        }
        if self.occurred_at.timestamp_nanos_opt().is_none() {
            return Err(StoreError::invalid(
                field("occurred_at"),
                self.occurred_at,
                "must lie between 1678 and 2261",
            ));
        }
        Ok(())
    }
}

/// An event as stored, with its place in its stream and in the tenant's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub tenant: MunicipalityCode,
    pub event_id: EventId,
    pub stream: StreamId,
    /// 1 for the stream's first event.
    pub stream_version: u64,
    pub global_position: GlobalPosition,
    pub event_type: String,
    pub schema_version: u32,
    /// When it happened (business time).
    pub occurred_at: DateTime<Utc>,
    /// When the store committed it (recorded time).
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub payload: Vec<u8>,
}

/// The result of an append: where the batch's events are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    pub first_stream_version: u64,
    pub last_stream_version: u64,
    pub first_position: GlobalPosition,
    pub last_position: GlobalPosition,
    /// True when the batch had been appended before: nothing was written.
    pub deduplicated: bool,
}

/// Which way to read a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}
