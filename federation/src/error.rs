//! The errors of the prefecture tier's services. Each says what went wrong with which value;
//! [`to_status`] maps them to gRPC codes, once (for the gate in [`crate::access`] and the
//! services in [`crate::grpc`] alike).

use openraft::error::{
    CheckIsLeaderError, ClientWriteError, ForwardToLeader, InitializeError, RaftError,
};
use openraft::{BasicNode, StorageError};
use renkei_proto::cluster::LEADER_METADATA_KEY;
use tonic::Status;

use crate::support::{SupportError, SupportRefusal};
use crate::tally::SurveyRefusal;
use crate::types::NodeId;

/// Why a request to a prefecture replica failed.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The request is malformed: a field is missing, too long or not a valid id.
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    /// A record with this id exists already, with other content (e.g. a support activity).
    #[error("{field} exists already: {reason}")]
    AlreadyExists { field: &'static str, reason: String },
    /// A fact names a municipality of another prefecture.
    #[error("municipality {municipality} is not in prefecture {prefecture}")]
    OutsidePrefecture {
        municipality: String,
        prefecture: String,
    },
    /// The caller presented no token, or one this prefecture does not know.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The caller may not do this (e.g. speak for a municipality that is not its own).
    #[error("caller {caller:?} may not {action}")]
    PermissionDenied { caller: String, action: String },
    /// This replica is not the leader; the request must go to `leader_address` (if known).
    #[error("not the leader; leader is {}", leader_address.as_deref().unwrap_or("unknown"))]
    NotLeader {
        leader_id: Option<NodeId>,
        leader_address: Option<String>,
    },
    /// A node id that was a member once and has been removed may not join again.
    #[error("node id {0} was removed from the cluster and may not be reused")]
    NodeIdRetired(NodeId),
    /// The cluster cannot do this now (already initialised, membership change in progress, a
    /// voter that is not a learner yet, ...).
    #[error("{0}")]
    FailedPrecondition(String),
    /// Raft has stopped on this replica (shutting down, or a fatal storage error).
    #[error("raft stopped on this replica: {0}")]
    Stopped(String),
    /// The replica's storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError<NodeId>),
}

fn not_leader(f: &ForwardToLeader<NodeId, BasicNode>) -> FederationError {
    FederationError::NotLeader {
        leader_id: f.leader_id,
        leader_address: f.leader_node.as_ref().map(|n| n.addr.clone()),
    }
}

/// A survey command the state machine refused contradicts what is recorded.
impl From<SurveyRefusal> for FederationError {
    fn from(refusal: SurveyRefusal) -> Self {
        FederationError::FailedPrecondition(refusal.to_string())
    }
}

/// A support activity that cannot be recorded as given: bad input, naming its field.
impl From<SupportError> for FederationError {
    fn from(error: SupportError) -> Self {
        FederationError::InvalidArgument {
            field: error.field(),
            reason: error.to_string(),
        }
    }
}

/// A support activity the state machine refused: its id is taken by another activity.
impl From<SupportRefusal> for FederationError {
    fn from(refusal: SupportRefusal) -> Self {
        match refusal {
            SupportRefusal::IdTaken { .. } => FederationError::AlreadyExists {
                field: "id",
                reason: refusal.to_string(),
            },
        }
    }
}

impl From<RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>> for FederationError {
    fn from(e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> Self {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => not_leader(&f),
            RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
                FederationError::FailedPrecondition(c.to_string())
            }
            RaftError::Fatal(f) => FederationError::Stopped(f.to_string()),
        }
    }
}

impl From<RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>> for FederationError {
    fn from(e: RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>) -> Self {
        match e {
            RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => not_leader(&f),
            RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)) => {
                // Leadership could not be confirmed: the caller may retry, here or elsewhere.
                FederationError::NotLeader {
                    leader_id: None,
                    leader_address: None,
                }
                .with_context(q.to_string())
            }
            RaftError::Fatal(f) => FederationError::Stopped(f.to_string()),
        }
    }
}

impl From<RaftError<NodeId, InitializeError<NodeId, BasicNode>>> for FederationError {
    fn from(e: RaftError<NodeId, InitializeError<NodeId, BasicNode>>) -> Self {
        match e {
            RaftError::APIError(api) => FederationError::FailedPrecondition(api.to_string()),
            RaftError::Fatal(f) => FederationError::Stopped(f.to_string()),
        }
    }
}

impl FederationError {
    fn with_context(self, context: String) -> Self {
        tracing::debug!(%context, "leadership not confirmed");
        self
    }
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
        FederationError::AlreadyExists { .. } => Status::already_exists(message),
        FederationError::NodeIdRetired(_) | FederationError::FailedPrecondition(_) => {
            Status::failed_precondition(message)
        }
        FederationError::Stopped(_) => Status::unavailable(message),
        FederationError::Unauthenticated(_) => Status::unauthenticated(message),
        FederationError::PermissionDenied { .. } => Status::permission_denied(message),
        FederationError::Storage(_) => Status::internal(message),
    }
}
