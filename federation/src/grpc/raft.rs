//! The internal `RaftService`: receives openraft messages from peers and hands them to the local
//! Raft instance. Requests and answers are serde_json inside `RaftPayload`.
//!
//! Over TLS a caller must present the certificate of a replica of this prefecture, and the
//! message must come from the replica that certificate names: the sender of an AppendEntries or
//! InstallSnapshot (the leader) or of a Vote (the candidate) is the certificate's node id. A
//! candidate must also be a voter of the membership this replica knows (when it knows one), so a
//! removed replica cannot stand for election here. Leaders are not held to the membership this
//! replica knows: a replica that was down while another joined must still accept the new member
//! as leader to learn of it.

use renkei_proto::PrefectureCode;
use renkei_proto::tls::PeerNames;
use renkei_proto::v1::{RaftPayload, RaftService};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status};

use crate::types::{NodeId, Raft};

/// Why the Raft service refused a peer's message. Mapped to a gRPC status once, by its `From`
/// impl; openraft's own errors travel inside the answer's JSON instead.
#[derive(Debug, thiserror::Error)]
enum RaftServiceError {
    /// Over TLS, the caller's certificate does not name a replica of this prefecture.
    #[error(
        "{method}: only replicas of prefecture {prefecture} may call the Raft service, not {who}"
    )]
    NotAReplica {
        method: &'static str,
        prefecture: PrefectureCode,
        who: String,
    },
    /// The message's sender is not the replica the certificate names.
    #[error(
        "{method}: the message is from {sender}, but the certificate names replica {certified}"
    )]
    WrongSender {
        method: &'static str,
        sender: String,
        certified: NodeId,
    },
    /// A candidate that is not a voter of the membership this replica knows.
    #[error("Vote: replica {candidate} is not a voter of this cluster")]
    NotAVoter { candidate: NodeId },
    /// The message is not the JSON of the request the method takes.
    #[error("malformed raft message: {0}")]
    Malformed(serde_json::Error),
    /// The local answer could not be encoded.
    #[error("cannot encode raft answer: {0}")]
    Encode(serde_json::Error),
}

impl From<RaftServiceError> for Status {
    fn from(e: RaftServiceError) -> Self {
        let message = e.to_string();
        match e {
            RaftServiceError::NotAReplica { .. }
            | RaftServiceError::WrongSender { .. }
            | RaftServiceError::NotAVoter { .. } => Status::permission_denied(message),
            RaftServiceError::Malformed(_) => Status::invalid_argument(message),
            RaftServiceError::Encode(_) => Status::internal(message),
        }
    }
}

/// Serves peers' Raft RPCs.
#[derive(Clone)]
pub struct RaftPeerService {
    raft: Raft,
    /// Over TLS: only replicas of this prefecture (by their certificate) may call.
    peers_of: Option<PrefectureCode>,
}

impl RaftPeerService {
    /// Serves any caller: for plaintext development clusters and in-process tests.
    pub fn new(raft: Raft) -> Self {
        Self {
            raft,
            peers_of: None,
        }
    }

    /// Serves only callers whose TLS certificate names a replica of `prefecture`.
    pub fn only_replicas_of(raft: Raft, prefecture: PrefectureCode) -> Self {
        Self {
            raft,
            peers_of: Some(prefecture),
        }
    }

    /// Over TLS, the replica id the caller's certificate names (refusing any other caller);
    /// `None` when the service serves any caller.
    fn check_peer<T>(
        &self,
        request: &Request<T>,
        method: &'static str,
    ) -> Result<Option<NodeId>, RaftServiceError> {
        let Some(prefecture) = self.peers_of else {
            return Ok(None);
        };
        let names = PeerNames::of_request(request);
        match names.as_ref().and_then(|n| n.replica) {
            Some((p, id)) if p == prefecture => Ok(Some(id)),
            _ => {
                let who = names.map_or_else(
                    || "a caller without a certificate".to_owned(),
                    |n| n.to_string(),
                );
                tracing::warn!(caller = %who, action = %method, "call refused");
                Err(RaftServiceError::NotAReplica {
                    method,
                    prefecture,
                    who,
                })
            }
        }
    }

    /// Refuses a message whose sender is not the replica the certificate names.
    fn check_sender(
        certified: Option<NodeId>,
        sender: Option<NodeId>,
        method: &'static str,
    ) -> Result<(), RaftServiceError> {
        match certified {
            Some(id) if sender != Some(id) => {
                let sender =
                    sender.map_or_else(|| "no replica".to_owned(), |s| format!("replica {s}"));
                tracing::warn!(certificate = id, %sender, action = %method, "call refused");
                Err(RaftServiceError::WrongSender {
                    method,
                    sender,
                    certified: id,
                })
            }
            _ => Ok(()),
        }
    }

    /// Refuses a candidate that is not a voter of the membership this replica knows.
    fn check_candidate(&self, candidate: NodeId) -> Result<(), RaftServiceError> {
        let voters: Vec<NodeId> = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect();
        if voters.is_empty() || voters.contains(&candidate) {
            return Ok(());
        }
        tracing::warn!(
            candidate,
            "vote request from a replica that is not a voter refused"
        );
        Err(RaftServiceError::NotAVoter { candidate })
    }
}

fn decode<T: DeserializeOwned>(request: Request<RaftPayload>) -> Result<T, RaftServiceError> {
    serde_json::from_slice(&request.into_inner().json).map_err(RaftServiceError::Malformed)
}

fn encode<T: Serialize>(result: &T) -> Result<Response<RaftPayload>, RaftServiceError> {
    serde_json::to_vec(result)
        .map(|json| Response::new(RaftPayload { json }))
        .map_err(RaftServiceError::Encode)
}

#[tonic::async_trait]
impl RaftService for RaftPeerService {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let certified = self.check_peer(&request, "AppendEntries")?;
        let rpc: openraft::raft::AppendEntriesRequest<crate::types::TypeConfig> = decode(request)?;
        Self::check_sender(certified, rpc.vote.leader_id().voted_for(), "AppendEntries")?;
        encode(&self.raft.append_entries(rpc).await).map_err(Status::from)
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let certified = self.check_peer(&request, "Vote")?;
        let rpc: openraft::raft::VoteRequest<NodeId> = decode(request)?;
        let candidate = rpc.vote.leader_id().voted_for();
        Self::check_sender(certified, candidate, "Vote")?;
        if certified.is_some()
            && let Some(candidate) = candidate
        {
            self.check_candidate(candidate)?;
        }
        encode(&self.raft.vote(rpc).await).map_err(Status::from)
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let certified = self.check_peer(&request, "InstallSnapshot")?;
        let rpc: openraft::raft::InstallSnapshotRequest<crate::types::TypeConfig> =
            decode(request)?;
        Self::check_sender(
            certified,
            rpc.vote.leader_id().voted_for(),
            "InstallSnapshot",
        )?;
        encode(&self.raft.install_snapshot(rpc).await).map_err(Status::from)
    }
}
