//! The gRPC services of a prefecture replica and the one mapping of errors to gRPC codes.
//!
//! - [`RaftPeerService`]: the internal `RaftService`, for peers only;
//! - [`LedgerService`]: the client-facing `PrefectureLedger` (writes and reads of facts);
//! - [`FederationService`]: the `Federation` sync service municipal nodes call (facts up, items
//!   down);
//! - [`SurveyService`]: `PrefectureSurvey` — tallies, exports, completeness, submissions and
//!   reviews, regions;
//! - [`ReplicaBackupService`]: `Backup` (an online checkpoint of the replica's database);
//! - [`AdminService`]: `ClusterAdmin` (initialise, add learner, change membership, remove,
//!   status).
//!
//! Callers reach the client services identified by [`crate::access`]; each handler checks the
//! role and municipalities its method needs. Handlers decode into domain types, call the Raft instance or the ledger reader once, and map
//! errors through [`to_status`]. No ledger rule lives here.

mod admin;
mod backup;
mod federation;
mod ledger;
mod raft;
mod survey;

pub use admin::{AdminService, cluster_status};
pub use backup::ReplicaBackupService;
pub use federation::FederationService;
pub use ledger::LedgerService;
pub use raft::RaftPeerService;
pub use survey::{SurveyService, tally_reply};

use tonic::Status;

use crate::error::FederationError;
use crate::ledger::MAX_REQUEST_ID_BYTES;

/// The response metadata key naming the leader's address when a follower refuses a request.
pub use renkei_proto::cluster::LEADER_METADATA_KEY;

/// Checks the request id of a command that takes effect once per id (a write of facts, a
/// publication down, a survey command): 1 to [`MAX_REQUEST_ID_BYTES`] bytes. The state machine
/// deduplicates by it (see `store::state_machine::requests`).
pub(crate) fn check_request_id(request_id: &str) -> Result<(), FederationError> {
    if request_id.is_empty() || request_id.len() > MAX_REQUEST_ID_BYTES {
        return Err(FederationError::InvalidArgument {
            field: "request_id",
            reason: format!(
                "{} bytes; must be 1 to {MAX_REQUEST_ID_BYTES}",
                request_id.len()
            ),
        });
    }
    Ok(())
}

/// Maps an error to its gRPC status. Bad input is never reported as an internal error, nor a
/// storage failure as bad input.
pub fn to_status(error: FederationError) -> Status {
    let message = error.to_string();
    if matches!(
        error,
        FederationError::Unauthenticated(_) | FederationError::PermissionDenied { .. }
    ) {
        // Who was refused what, for the audit trail.
        tracing::warn!(refused = %message, "call refused");
    }
    match error {
        FederationError::InvalidArgument { .. } | FederationError::OutsidePrefecture { .. } => {
            Status::invalid_argument(message)
        }
        FederationError::NotLeader { leader_address, .. } => {
            let mut status = Status::unavailable(message);
            if let Some(address) = leader_address
                && let Ok(value) = address.parse()
            {
                status.metadata_mut().insert(LEADER_METADATA_KEY, value);
            }
            status
        }
        FederationError::NodeIdRetired(_) | FederationError::FailedPrecondition(_) => {
            Status::failed_precondition(message)
        }
        FederationError::Stopped(_) => Status::unavailable(message),
        FederationError::Unauthenticated(_) => Status::unauthenticated(message),
        FederationError::PermissionDenied { .. } => Status::permission_denied(message),
        FederationError::Storage(_) => Status::internal(message),
    }
}
