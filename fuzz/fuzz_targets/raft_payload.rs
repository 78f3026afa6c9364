//! Arbitrary bytes as the JSON of a `RaftPayload`, read with the exact types a prefecture replica
//! reads them with: the requests `grpc::raft` decodes from a peer (`AppendEntriesRequest` of the
//! cluster's `TypeConfig`, whose entries carry its `Command`s; `VoteRequest`; the
//! `InstallSnapshotRequest`) and the answers `network` decodes from a peer's reply (each a
//! `Result` of openraft's response and `RaftError`). Never panics; what decodes encodes, and its
//! encoding decodes to the same message (compared with `==` where openraft has it, and by `Debug`)
//! that encodes to the same bytes, so nothing is lost or changed by a hop; the sender a replica
//! checks against the peer's certificate (`vote.leader_id().voted_for()`) is read from every
//! request that decodes.

#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use renkei_federation::types::{NodeId, TypeConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decodes `data` as `T` as the replica does (`serde_json::from_slice`); what decodes must
/// survive the next hop unchanged. Returns the message and its encoding.
fn hop<T: Serialize + DeserializeOwned + Debug>(data: &[u8]) -> Option<(T, T)> {
    let first: T = serde_json::from_slice(data).ok()?;
    let json = serde_json::to_vec(&first).expect("a decoded message encodes");
    let second: T = serde_json::from_slice(&json)
        .unwrap_or_else(|e| panic!("{first:?} encodes to JSON it cannot decode: {e}"));
    assert_eq!(format!("{first:?}"), format!("{second:?}"));
    let again = serde_json::to_vec(&second).expect("a decoded message encodes");
    assert_eq!(json, again, "the encoding of {first:?} is not stable");
    Some((first, second))
}

/// [`hop`] for the messages openraft compares with `==`.
fn hop_eq<T: Serialize + DeserializeOwned + Debug + PartialEq>(data: &[u8]) -> Option<T> {
    let (first, second) = hop::<T>(data)?;
    assert_eq!(first, second);
    Some(first)
}

fuzz_target!(|data: &[u8]| {
    // Requests, as `RaftPeerService` decodes them.
    if let Some((rpc, _)) = hop::<AppendEntriesRequest<TypeConfig>>(data) {
        let _: Option<NodeId> = rpc.vote.leader_id().voted_for();
        for entry in &rpc.entries {
            // What a follower would store: each entry encodes alone too.
            let _ = serde_json::to_vec(entry).expect("an entry of a decoded request encodes");
        }
    }
    if let Some(rpc) = hop_eq::<VoteRequest<NodeId>>(data) {
        let _: Option<NodeId> = rpc.vote.leader_id().voted_for();
    }
    if let Some(rpc) = hop_eq::<InstallSnapshotRequest<TypeConfig>>(data) {
        let _: Option<NodeId> = rpc.vote.leader_id().voted_for();
    }
    // Answers, as `PeerClient::send` decodes them.
    hop_eq::<Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>>(data);
    hop_eq::<Result<VoteResponse<NodeId>, RaftError<NodeId>>>(data);
    hop_eq::<Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>>(
        data,
    );
});
