//! A client of a prefecture cluster that finds the leader by itself: it follows the
//! `x-renkei-leader` redirect a follower answers with, tries the other replicas when one is
//! unreachable or knows no leader, and retries a write with the same request id — so a write
//! retried across a leader change still takes effect once (the state machine deduplicates).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use renkei_proto::v1::{self, PrefectureLedgerClient};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::grpc::LEADER_METADATA_KEY;

/// How long a call keeps retrying before giving up.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(15);

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid replica address {0:?}")]
    BadAddress(String),
    #[error("gave up after {elapsed:?}; last error: {last}")]
    GaveUp { elapsed: Duration, last: Status },
    #[error("refused: {0}")]
    Refused(Status),
}

/// A leader-seeking client of `PrefectureLedger`.
#[derive(Debug)]
pub struct LedgerClient {
    addresses: Vec<String>,
    current: usize,
    clients: HashMap<String, PrefectureLedgerClient<Channel>>,
    retry_for: Duration,
}

enum Next {
    Done,
    Redirect(String),
    TryAnother,
}

fn classify(status: &Status) -> Next {
    match status.code() {
        Code::Unavailable | Code::Unknown | Code::DeadlineExceeded | Code::Cancelled => {
            match status
                .metadata()
                .get(LEADER_METADATA_KEY)
                .and_then(|v| v.to_str().ok())
            {
                Some(leader) => Next::Redirect(leader.to_owned()),
                None => Next::TryAnother,
            }
        }
        _ => Next::Done,
    }
}

impl LedgerClient {
    /// Returns a client of the cluster whose replicas listen at `addresses` (`host:port`).
    pub fn new(addresses: Vec<String>) -> Self {
        Self {
            addresses,
            current: 0,
            clients: HashMap::new(),
            retry_for: DEFAULT_RETRY_FOR,
        }
    }

    /// Sets how long a call keeps retrying.
    pub fn with_retry_for(mut self, retry_for: Duration) -> Self {
        self.retry_for = retry_for;
        self
    }

    fn client(&mut self, address: &str) -> Result<PrefectureLedgerClient<Channel>, ClientError> {
        if let Some(c) = self.clients.get(address) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|_| ClientError::BadAddress(address.to_owned()))?
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        let client = PrefectureLedgerClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024);
        self.clients.insert(address.to_owned(), client.clone());
        Ok(client)
    }

    async fn call<T, F, Fut>(&mut self, mut f: F) -> Result<T, ClientError>
    where
        F: FnMut(PrefectureLedgerClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let started = Instant::now();
        let mut target = self
            .addresses
            .get(self.current)
            .cloned()
            .ok_or_else(|| ClientError::BadAddress(String::new()))?;
        let mut pause = Duration::from_millis(10);
        loop {
            let client = self.client(&target)?;
            let status = match f(client).await {
                Ok(reply) => {
                    if let Some(i) = self.addresses.iter().position(|a| *a == target) {
                        self.current = i;
                    }
                    return Ok(reply.into_inner());
                }
                Err(status) => status,
            };
            let elapsed = started.elapsed();
            match classify(&status) {
                Next::Done => return Err(ClientError::Refused(status)),
                _ if elapsed >= self.retry_for => {
                    return Err(ClientError::GaveUp {
                        elapsed,
                        last: status,
                    });
                }
                Next::Redirect(leader) if leader != target => {
                    target = leader;
                    continue;
                }
                Next::Redirect(_) | Next::TryAnother => {
                    self.current = (self.current + 1) % self.addresses.len().max(1);
                    target = self.addresses[self.current].clone();
                    // Back off a little while an election runs; a client retry, not a test wait.
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
            }
        }
    }

    /// Writes facts, retrying with the same request id until a leader commits them.
    pub async fn write_facts(
        &mut self,
        request: v1::WriteFactsRequest,
    ) -> Result<v1::WriteFactsResponse, ClientError> {
        self.call(|mut c| {
            let request = request.clone();
            async move { c.write_facts(request).await }
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
        self.call(|mut c| {
            let request = request.clone();
            async move { c.read_sequence(request).await }
        })
        .await
    }
}
