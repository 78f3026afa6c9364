//! A client of a prefecture cluster that finds the leader by itself (see
//! [`renkei_proto::cluster`]) and retries a write with the same request id — so a write retried
//! across a leader change still takes effect once (the state machine deduplicates).

use std::time::Duration;

use renkei_proto::cluster::Replicas;
use renkei_proto::v1::{self, PrefectureLedgerClient};

pub use renkei_proto::cluster::ClusterCallError as ClientError;

/// How long a call keeps retrying before giving up.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(15);

/// The largest message a client sends or accepts.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// A leader-seeking client of `PrefectureLedger`.
#[derive(Debug)]
pub struct LedgerClient {
    replicas: Replicas,
}

fn ledger(channel: tonic::transport::Channel) -> PrefectureLedgerClient<tonic::transport::Channel> {
    PrefectureLedgerClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

impl LedgerClient {
    /// Returns a client of the cluster whose replicas listen at `addresses` (`host:port`).
    pub fn new(addresses: Vec<String>) -> Self {
        Self {
            replicas: Replicas::new(addresses).with_retry_for(DEFAULT_RETRY_FOR),
        }
    }

    /// Sets how long a call keeps retrying.
    pub fn with_retry_for(mut self, retry_for: Duration) -> Self {
        self.replicas = self.replicas.with_retry_for(retry_for);
        self
    }

    /// Writes facts, retrying with the same request id until a leader commits them.
    pub async fn write_facts(
        &mut self,
        request: v1::WriteFactsRequest,
    ) -> Result<v1::WriteFactsResponse, ClientError> {
        self.replicas
            .call(|channel| {
                let request = request.clone();
                async move { ledger(channel).write_facts(request).await }
            })
            .await
    }

    /// Reads a municipality's acknowledged sequence with the given consistency.
    pub async fn read_sequence(
        &mut self,
        municipality: &str,
        consistency: v1::ReadConsistency,
    ) -> Result<v1::ReadSequenceResponse, ClientError> {
        let request = v1::ReadSequenceRequest {
            municipality: municipality.to_owned(),
            consistency: consistency as i32,
        };
        self.replicas
            .call(|channel| {
                let request = request.clone();
                async move { ledger(channel).read_sequence(request).await }
            })
            .await
    }
}
