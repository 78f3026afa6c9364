//! gRPC adapters: decode the wire request into domain types, call one store or domain function,
//! encode the answer. No business rule lives here.

mod backup;
mod convert;
pub mod decode;
mod event_log;
mod program;
mod sync;

pub use backup::{NodeBackupService, backup_reply, status_from_backup};
pub use event_log::EventLogService;
pub use program::MunicipalProgramService;
pub use sync::NodeSyncService;

use crate::domain::DomainError;
use crate::personal::VaultError;
use crate::programme::ProgrammeError;
use crate::programme::import::ImportError;
use crate::store::StoreError;

/// Runs a read that may block on RocksDB (a page of the log, a status board's first fold) on
/// Tokio's blocking pool, so that readers never hold the async workers that serve every other
/// call; a read that panicked answers INTERNAL.
pub(crate) async fn blocking<T, F>(read: F) -> Result<T, tonic::Status>
where
    F: FnOnce() -> Result<T, tonic::Status> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| tonic::Status::internal(format!("a read failed: {e}")))?
}

/// Maps a store error to its gRPC status; the one place where this is decided.
pub fn status_from_store(e: StoreError) -> tonic::Status {
    use tonic::Code;
    let code = match &e {
        StoreError::InvalidArgument { .. } => Code::InvalidArgument,
        StoreError::UnknownTenant(_) => Code::NotFound,
        StoreError::WrongExpectedVersion { .. } => Code::FailedPrecondition,
        StoreError::EventIdConflict { .. } => Code::AlreadyExists,
        StoreError::Closed => Code::Unavailable,
        StoreError::Storage(_) | StoreError::Corrupt { .. } => {
            // The operator learns of a failing or damaged store from the log, not only the caller
            // (a damaged table file is found by the reads that touch it, naming the file).
            tracing::error!(error = %e, "a call failed on the event store");
            Code::Internal
        }
    };
    tonic::Status::new(code, e.to_string())
}

/// Maps a programme error to its gRPC status; the one place where this is decided. Bad input is
/// INVALID_ARGUMENT, a missing record NOT_FOUND, a contradiction of what is recorded
/// FAILED_PRECONDITION, an id already recorded with other content ALREADY_EXISTS; storage and key
/// failures are INTERNAL.
pub fn status_from_programme(e: ProgrammeError) -> tonic::Status {
    use tonic::Code;
    let code = match &e {
        ProgrammeError::Store(s) => return status_from_store(s.clone()),
        ProgrammeError::Domain(DomainError::Invalid { .. }) => Code::InvalidArgument,
        ProgrammeError::Domain(DomainError::NotFound { .. }) => Code::NotFound,
        ProgrammeError::Domain(DomainError::Conflict { .. }) => Code::FailedPrecondition,
        ProgrammeError::Domain(DomainError::AlreadyRecorded { .. }) => Code::AlreadyExists,
        ProgrammeError::Personal(VaultError::Erased(_)) => Code::FailedPrecondition,
        ProgrammeError::Contended(_) => Code::Aborted,
        ProgrammeError::Personal(_) | ProgrammeError::Unreadable { .. } => Code::Internal,
    };
    tonic::Status::new(code, e.to_string())
}

/// Maps an import's error to its gRPC status: a file that cannot be read as a resource list is
/// INVALID_ARGUMENT; what recording it met is mapped as every programme error.
pub fn status_from_import(e: ImportError) -> tonic::Status {
    match e {
        ImportError::Programme(e) => status_from_programme(e),
        other => tonic::Status::invalid_argument(format!("invalid csv: {other}")),
    }
}
