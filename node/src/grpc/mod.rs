//! gRPC adapters: decode the wire request into domain types, call one store or domain function,
//! encode the answer. No business rule lives here.

mod convert;
mod event_log;

pub use event_log::EventLogService;

use crate::store::StoreError;

/// Maps a store error to its gRPC status; the one place where this is decided.
pub fn status_from_store(e: StoreError) -> tonic::Status {
    use tonic::Code;
    let code = match &e {
        StoreError::InvalidArgument { .. } => Code::InvalidArgument,
        StoreError::UnknownTenant(_) => Code::NotFound,
        StoreError::WrongExpectedVersion { .. } => Code::FailedPrecondition,
        StoreError::EventIdConflict { .. } => Code::AlreadyExists,
        StoreError::Closed => Code::Unavailable,
        StoreError::Storage(_) | StoreError::Corrupt { .. } => Code::Internal,
    };
    tonic::Status::new(code, e.to_string())
}
