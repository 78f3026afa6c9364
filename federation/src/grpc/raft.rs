//! The internal `RaftService`: receives openraft messages from peers and hands them to the local
//! Raft instance. Requests and answers are serde_json inside `RaftPayload`.

use renkei_proto::PrefectureCode;
use renkei_proto::tls::PeerNames;
use renkei_proto::v1::{RaftPayload, RaftService};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status};

use crate::types::Raft;

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

    fn check_peer<T>(&self, request: &Request<T>, method: &str) -> Result<(), Status> {
        let Some(prefecture) = self.peers_of else {
            return Ok(());
        };
        let names = PeerNames::of_request(request);
        match names.as_ref().and_then(|n| n.replica) {
            Some((p, _)) if p == prefecture => Ok(()),
            _ => {
                let who = names.map_or_else(
                    || "a caller without a certificate".to_owned(),
                    |n| n.to_string(),
                );
                tracing::warn!(caller = %who, action = %method, "call refused");
                Err(Status::permission_denied(format!(
                    "{method}: only replicas of prefecture {prefecture} may call the Raft service, not {who}"
                )))
            }
        }
    }
}

fn decode<T: DeserializeOwned>(request: Request<RaftPayload>) -> Result<T, Status> {
    serde_json::from_slice(&request.into_inner().json)
        .map_err(|e| Status::invalid_argument(format!("malformed raft message: {e}")))
}

fn encode<T: Serialize>(result: &T) -> Result<Response<RaftPayload>, Status> {
    serde_json::to_vec(result)
        .map(|json| Response::new(RaftPayload { json }))
        .map_err(|e| Status::internal(format!("cannot encode raft answer: {e}")))
}

#[tonic::async_trait]
impl RaftService for RaftPeerService {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        self.check_peer(&request, "AppendEntries")?;
        let rpc = decode(request)?;
        encode(&self.raft.append_entries(rpc).await)
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        self.check_peer(&request, "Vote")?;
        let rpc = decode(request)?;
        encode(&self.raft.vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        self.check_peer(&request, "InstallSnapshot")?;
        let rpc = decode(request)?;
        encode(&self.raft.install_snapshot(rpc).await)
    }
}
