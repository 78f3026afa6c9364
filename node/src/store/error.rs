use renkei_proto::MunicipalityCode;
use thiserror::Error;

use super::{EventId, ExpectedVersion, GlobalPosition};

/// Everything that can go wrong with the event store. Bad input names the field and the value;
/// a storage failure is never reported as bad input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// A request field holds a value the store does not accept.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidArgument {
        field: String,
        value: String,
        reason: String,
    },
    /// The municipality is not one this store hosts.
    #[error("unknown municipality {0}: this node does not host it")]
    UnknownTenant(MunicipalityCode),
    /// The stream's version is not the one the append expected. Nothing was written.
    #[error(
        "wrong expected version for stream {stream:?}: expected {expected}, actual version {actual}"
    )]
    WrongExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        actual: u64,
    },
    /// An event id in the batch is already recorded, but the batch is not a faithful retry of it.
    /// Nothing was written.
    #[error(
        "events[{index}].event_id {event_id} is already recorded at position {position}: {reason}"
    )]
    EventIdConflict {
        index: usize,
        event_id: EventId,
        position: GlobalPosition,
        reason: String,
    },
    /// RocksDB failed; the operation may not have happened (an append then wrote nothing).
    #[error("storage failure: {0}")]
    Storage(String),
    /// A stored record could not be decoded.
    #[error("corrupt record at {key}: {reason}")]
    Corrupt { key: String, reason: String },
    /// The store is closing or closed.
    #[error("the event store is shut down")]
    Closed,
}

impl StoreError {
    /// Builds an `InvalidArgument` naming the field and the value.
    pub fn invalid(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        StoreError::InvalidArgument {
            field: field.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

impl From<rocksdb::Error> for StoreError {
    fn from(e: rocksdb::Error) -> Self {
        StoreError::Storage(e.into_string())
    }
}
