//! The outgoing Raft transport: openraft's `RaftNetworkFactory` over gRPC (`RaftService`).
//!
//! Messages travel as serde_json bytes inside [`RaftPayload`]. Channels connect lazily and
//! reconnect by themselves (tonic); every call is bounded by openraft's per-RPC deadline
//! (`RPCOption::hard_ttl`) and connection attempts by [`NetworkOptions::connect_timeout`]. A peer
//! that cannot be reached is reported as `Unreachable`, so openraft backs off before retrying.
//!
//! An AppendEntries message is bounded in bytes as well as in entries: when its encoding would
//! exceed [`MAX_APPEND_BYTES`], it is not sent and openraft is told how many of its entries fit
//! (`PayloadTooLarge`), so it sends fewer at once (an entry larger than the bound goes alone; the
//! write path keeps every entry within [`renkei_proto::MAX_WRITE_FACT_BYTES`] of facts).

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
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

/// The most bytes of encoded entries one AppendEntries message carries, unless a single entry
/// is larger (it then travels alone). openraft 0.9 gives each AppendEntries one heartbeat
/// interval to complete, so a follower catching up must be able to take a message in that time.
pub const MAX_APPEND_BYTES: usize = 1024 * 1024;

/// How often a peer connection is pinged, and how long a ping may go unanswered before the
/// connection is closed (the fault suite's stalled links: it bounds how long replication waits).
pub const PING_INTERVAL: Duration = Duration::from_secs(1);

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
    /// Where to dial a peer instead of its advertised address (the configuration's
    /// `peer_routes`).
    routes: BTreeMap<NodeId, String>,
}

impl GrpcNetwork {
    pub fn new(options: NetworkOptions) -> Self {
        Self {
            options,
            tls: renkei_proto::tls::ClientTls::Plaintext,
            routes: BTreeMap::new(),
        }
    }

    /// Dials the peers named in `routes` at the address given there, the others at the address
    /// they advertise.
    pub fn with_routes(mut self, routes: BTreeMap<NodeId, String>) -> Self {
        self.routes = routes;
        self
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
        // The peer must present replica `target`'s certificate (of this prefecture), not merely
        // one of the CA's.
        let tls = self.tls.to_replica(target);
        let address = self.routes.get(&target).unwrap_or(&node.addr).clone();
        let dial = tls.ok().and_then(|tls| tls.dial(&address).ok());
        let connect_timeout = self.options.connect_timeout;
        let client = dial.map(|dial| {
            let channel = dial
                .configure(|e| {
                    // A connection that stops answering mid-stream (a stalled link) holds every
                    // AppendEntries sent on it until the pings close it: within about 2 s, so
                    // that replication resumes on a new connection.
                    e.connect_timeout(connect_timeout)
                        .tcp_nodelay(true)
                        .http2_keep_alive_interval(PING_INTERVAL)
                        .keep_alive_timeout(PING_INTERVAL)
                        .keep_alive_while_idle(true)
                })
                .connect_lazy();
            RaftServiceClient::new(channel)
                .max_decoding_message_size(MAX_RAFT_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_RAFT_MESSAGE_BYTES)
        });
        PeerClient {
            target,
            address,
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
    /// Encodes and sends one message and decodes the peer's `Result<Resp, Err>`.
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
        let json = serde_json::to_vec(request)
            .map_err(|e| RPCError::Network(NetworkError::new(&TransportError::Codec(e))))?;
        self.send(method, json, option).await
    }

    /// Sends one encoded message and decodes the peer's `Result<Resp, Err>`.
    async fn send<Resp, Err>(
        &mut self,
        method: Method,
        json: Vec<u8>,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, Err>>
    where
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
        let json = serde_json::to_vec(&rpc)
            .map_err(|e| RPCError::Network(NetworkError::new(&TransportError::Codec(e))))?;
        if json.len() > MAX_APPEND_BYTES && rpc.entries.len() > 1 {
            let fit = entries_within(&rpc.entries, MAX_APPEND_BYTES);
            metrics::counter!("renkei_raft_append_split_total").increment(1);
            tracing::debug!(
                target = self.target,
                bytes = json.len(),
                entries = rpc.entries.len(),
                fit,
                "AppendEntries over the byte bound: openraft sends fewer entries"
            );
            return Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(fit),
            ));
        }
        self.send(Method::AppendEntries, json, &option).await
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

/// How many of `entries`, from the first, fit in `bound` bytes of JSON (at least one: a larger
/// entry travels alone).
fn entries_within(entries: &[openraft::Entry<TypeConfig>], bound: usize) -> u64 {
    let mut bytes = 0;
    let mut fit = 0u64;
    for entry in entries {
        // An entry that cannot be encoded fails the send that follows; count it as large.
        bytes += serde_json::to_vec(entry).map_or(bound, |json| json.len() + 1);
        if bytes > bound {
            break;
        }
        fit += 1;
    }
    fit.max(1)
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Vote};

    use super::*;
    use crate::ledger::FactRecord;
    use crate::types::Command;

    fn entry(index: u64, payload_bytes: usize) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Command::WriteFacts {
                request_id: format!("r{index}"),
                facts: vec![FactRecord {
                    municipality: "162019".parse().expect("municipality"),
                    sequence: index,
                    payload: vec![7; payload_bytes],
                }],
            }),
        }
    }

    fn request(entries: Vec<Entry<TypeConfig>>) -> AppendEntriesRequest<TypeConfig> {
        AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: None,
            leader_commit: None,
            entries,
        }
    }

    /// A peer at an address that is not a URI: a message that passes the byte bound is
    /// reported `Unreachable`, one that does not never gets that far.
    fn unreachable_peer() -> PeerClient {
        PeerClient {
            target: 2,
            address: "not a uri".to_owned(),
            client: None,
        }
    }

    #[tokio::test]
    async fn append_entries_are_bounded_in_bytes_and_openraft_is_told_how_many_fit() {
        let option = RPCOption::new(Duration::from_millis(100));
        // Three entries of 600 KB of facts (800 KB of base64 each): only one fits in 1 MiB.
        let big = request((1..=3).map(|i| entry(i, 600 * 1024)).collect());
        match unreachable_peer().append_entries(big, option.clone()).await {
            Err(RPCError::PayloadTooLarge(too_large)) => assert_eq!(too_large.entries_hint(), 1),
            other => panic!("expected PayloadTooLarge, got {other:?}"),
        }
        // Four entries of 200 KB: three fit.
        let four = request((1..=4).map(|i| entry(i, 200 * 1024)).collect());
        match unreachable_peer()
            .append_entries(four, option.clone())
            .await
        {
            Err(RPCError::PayloadTooLarge(too_large)) => assert_eq!(too_large.entries_hint(), 3),
            other => panic!("expected PayloadTooLarge, got {other:?}"),
        }
        // One entry over the bound travels alone; small messages go as they are.
        for alone in [
            vec![entry(1, 2 * 1024 * 1024)],
            vec![entry(1, 10), entry(2, 10)],
        ] {
            match unreachable_peer()
                .append_entries(request(alone), option.clone())
                .await
            {
                Err(RPCError::Unreachable(_)) => {}
                other => panic!("expected the message to be sent, got {other:?}"),
            }
        }
    }
}
