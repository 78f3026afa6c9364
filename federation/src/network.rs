//! The outgoing Raft transport: openraft's `RaftNetworkFactory` over gRPC (`RaftService`).
//!
//! Messages travel as serde_json bytes inside [`RaftPayload`]. Channels connect lazily and
//! reconnect by themselves (tonic); every call is bounded by openraft's per-RPC deadline
//! (`RPCOption::hard_ttl`) and connection attempts by [`NetworkOptions::connect_timeout`]. A peer
//! that cannot be reached is reported as `Unreachable`, so openraft backs off before retrying.

use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use renkei_proto::v1::{RaftPayload, RaftServiceClient};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;

use crate::types::{NodeId, TypeConfig};

/// The largest Raft message accepted or sent (snapshot chunks and append batches stay below).
pub const MAX_RAFT_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Timeouts of the Raft transport.
#[derive(Debug, Clone, Copy)]
pub struct NetworkOptions {
    /// How long a TCP connection attempt to a peer may take.
    pub connect_timeout: Duration,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(500),
        }
    }
}

/// Creates one [`PeerClient`] per peer replica.
#[derive(Debug, Clone, Default)]
pub struct GrpcNetwork {
    options: NetworkOptions,
    tls: renkei_proto::tls::ClientTls,
}

impl GrpcNetwork {
    pub fn new(options: NetworkOptions) -> Self {
        Self {
            options,
            tls: renkei_proto::tls::ClientTls::Plaintext,
        }
    }

    /// Calls peers over TLS, presenting this replica's certificate (plaintext unless set).
    pub fn with_tls(mut self, tls: renkei_proto::tls::ClientTls) -> Self {
        self.tls = tls;
        self
    }
}

/// The Raft connection to one peer.
#[derive(Debug)]
pub struct PeerClient {
    target: NodeId,
    address: String,
    /// `None` when the peer's address is not a valid URI (reported on every call).
    client: Option<RaftServiceClient<Channel>>,
}

#[derive(Debug, thiserror::Error)]
enum TransportError {
    #[error("peer {target} address {address:?} is not a valid URI")]
    BadAddress { target: NodeId, address: String },
    #[error("rpc to peer {target} timed out after {after:?}")]
    Timeout { target: NodeId, after: Duration },
    #[error("rpc to peer {target}: {status}")]
    Status {
        target: NodeId,
        status: tonic::Status,
    },
    #[error("cannot encode or decode a raft message: {0}")]
    Codec(#[from] serde_json::Error),
}

impl RaftNetworkFactory<TypeConfig> for GrpcNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        let client = self.tls.endpoint(&node.addr).ok().map(|endpoint| {
            let channel = endpoint
                .connect_timeout(self.options.connect_timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(10))
                .keep_alive_timeout(Duration::from_secs(5))
                .connect_lazy();
            RaftServiceClient::new(channel)
                .max_decoding_message_size(MAX_RAFT_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_RAFT_MESSAGE_BYTES)
        });
        PeerClient {
            target,
            address: node.addr.clone(),
            client,
        }
    }
}

/// Which `RaftService` method a call goes to.
#[derive(Clone, Copy)]
enum Method {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

impl PeerClient {
    /// Sends one message and decodes the peer's `Result<Resp, Err>`.
    async fn call<Req, Resp, Err>(
        &mut self,
        method: Method,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, Err>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        Err: std::error::Error + DeserializeOwned,
    {
        let target = self.target;
        let Some(client) = self.client.as_mut() else {
            return Err(RPCError::Unreachable(Unreachable::new(
                &TransportError::BadAddress {
                    target,
                    address: self.address.clone(),
                },
            )));
        };
        let json = serde_json::to_vec(request)
            .map_err(|e| RPCError::Network(NetworkError::new(&TransportError::Codec(e))))?;
        let mut grpc_request = tonic::Request::new(RaftPayload { json });
        let ttl = option.hard_ttl();
        grpc_request.set_timeout(ttl);
        let call = async {
            match method {
                Method::AppendEntries => client.append_entries(grpc_request).await,
                Method::Vote => client.vote(grpc_request).await,
                Method::InstallSnapshot => client.install_snapshot(grpc_request).await,
            }
        };
        let reply = match tokio::time::timeout(ttl, call).await {
            Err(_) => {
                return Err(RPCError::Network(NetworkError::new(
                    &TransportError::Timeout { target, after: ttl },
                )));
            }
            // Refused or reset connections: openraft backs off before trying this peer again.
            Ok(Err(status)) if status.code() == tonic::Code::Unavailable => {
                let e = TransportError::Status { target, status };
                return Err(RPCError::Unreachable(Unreachable::new(&e)));
            }
            Ok(Err(status)) => {
                let e = TransportError::Status { target, status };
                return Err(RPCError::Network(NetworkError::new(&e)));
            }
            Ok(Ok(reply)) => reply.into_inner(),
        };
        let result: Result<Resp, Err> = serde_json::from_slice(&reply.json)
            .map_err(|e| RPCError::Network(NetworkError::new(&TransportError::Codec(e))))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Method::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(Method::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Method::Vote, &rpc, &option).await
    }
}
