//! Calling a replicated prefecture cluster without knowing its leader: [`Replicas::call`] follows
//! the `x-renkei-leader` redirect a follower answers with when it names one of the configured
//! replicas (an address outside them only for the interactive tool), tries the other replicas when one is unreachable or
//! knows no leader, and gives up after a while. Both the prefecture's own client
//! and the municipal node's sync client use it, with the generated client of their service.
//!
//! A retried write must be safe to repeat: the callers send the same request id (or the same
//! sequences) again, and the prefecture's state machine applies it once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tonic::transport::Channel;
use tonic::{Code, Status};

/// The response metadata key naming the leader's address when a follower refuses a request.
pub const LEADER_METADATA_KEY: &str = "x-renkei-leader";

/// Why a call to a cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterCallError {
    #[error("invalid replica address {0:?}")]
    BadAddress(String),
    #[error("gave up after {elapsed:?}; last error: {last}")]
    GaveUp { elapsed: Duration, last: Status },
    #[error("refused: {0}")]
    Refused(Status),
    /// Every replica refused the connection: nothing listens at any address (only with
    /// [`Replicas::failing_fast`]).
    #[error("no replica is listening at {}: connection refused", addresses.join(", "))]
    Unreachable { addresses: Vec<String> },
}

impl ClusterCallError {
    /// The error with the causes of the last failure (a refused handshake's reason is deep in
    /// the chain of a transport error), for logs and sync states.
    pub fn reason(&self) -> String {
        let mut text = self.to_string();
        let (ClusterCallError::GaveUp { last, .. } | ClusterCallError::Refused(last)) = self else {
            return text;
        };
        let mut source = std::error::Error::source(last);
        while let Some(e) = source {
            let part = e.to_string();
            if !text.contains(&part) {
                text = format!("{text}: {part}");
            }
            source = e.source();
        }
        text
    }
}

/// Whether a call failed because the address refused the TCP connection (nothing listens there),
/// as opposed to a timeout, a follower's redirect or a refusal by the server.
fn connection_refused(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = e.source();
    }
    status.message().contains("Connection refused")
}

/// Whether a call failed because its deadline passed (the channel's timeout, or the server's).
fn timed_out(status: &Status) -> bool {
    matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded)
}

/// What to do after a failed call.
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

/// The replicas of one cluster and a channel to each, created lazily and reused.
#[derive(Debug, Clone)]
pub struct Replicas {
    addresses: Vec<String>,
    current: usize,
    channels: HashMap<String, Channel>,
    retry_for: Duration,
    request_timeout: Duration,
    tls: crate::tls::ClientTls,
    fail_fast: bool,
    /// Follow a redirect to a leader outside `addresses` (the interactive tool only).
    follow_any_leader: bool,
}

impl Replicas {
    /// The replicas listening at `addresses` (`host:port`); calls retry for 15 s by default.
    pub fn new(addresses: Vec<String>) -> Self {
        Self {
            addresses,
            current: 0,
            channels: HashMap::new(),
            retry_for: Duration::from_secs(15),
            request_timeout: Duration::from_secs(5),
            tls: crate::tls::ClientTls::Plaintext,
            fail_fast: false,
            follow_any_leader: false,
        }
    }

    /// Follows a redirect to a leader the caller did not name, for a person at a terminal who
    /// named one replica of a cluster they chose (`renkei --addr`). Servers never do: a node
    /// sends its token only to the replicas its configuration lists.
    pub fn following_any_leader(mut self) -> Self {
        self.follow_any_leader = true;
        self
    }

    /// Makes a call give up at once when every address refuses the connection, instead of
    /// retrying for the configured time: for a person at a terminal, who mistyped an address or
    /// whose cluster is down. Servers keep retrying (a replica restarting refuses for a moment).
    pub fn failing_fast(mut self) -> Self {
        self.fail_fast = true;
        self
    }

    /// Sets how calls are secured (plaintext unless set).
    pub fn with_tls(mut self, tls: crate::tls::ClientTls) -> Self {
        self.tls = tls;
        self.channels.clear();
        self
    }

    /// Sets how long a call keeps retrying.
    pub fn with_retry_for(mut self, retry_for: Duration) -> Self {
        self.retry_for = retry_for;
        self
    }

    /// Sets the deadline of each attempt.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Returns the address calls go to first: the last one that answered.
    pub fn current(&self) -> &str {
        self.addresses
            .get(self.current)
            .map(String::as_str)
            .unwrap_or("")
    }

    fn channel(&mut self, address: &str) -> Result<Channel, ClusterCallError> {
        if let Some(c) = self.channels.get(address) {
            return Ok(c.clone());
        }
        let timeout = self.request_timeout;
        let channel = self
            .tls
            .dial(address)
            .map_err(|_| ClusterCallError::BadAddress(address.to_owned()))?
            .configure(|e| {
                // A connection that stops answering (a stalled link, a hung peer) is closed
                // within seconds by the HTTP/2 pings, failing the calls waiting on it.
                e.connect_timeout(Duration::from_millis(500))
                    .timeout(timeout)
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(2))
                    .keep_alive_timeout(Duration::from_secs(2))
                    .keep_alive_while_idle(true)
            })
            .connect_lazy();
        self.channels.insert(address.to_owned(), channel.clone());
        Ok(channel)
    }

    /// Calls `f` with a channel to the leader (as far as known), following redirects and trying
    /// the other replicas until it succeeds, is refused for a reason other than leadership or
    /// reachability, or has retried for the configured time.
    pub async fn call<T, F, Fut>(&mut self, mut f: F) -> Result<T, ClusterCallError>
    where
        F: FnMut(Channel) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let started = Instant::now();
        let mut target = self
            .addresses
            .get(self.current)
            .cloned()
            .ok_or_else(|| ClusterCallError::BadAddress(String::new()))?;
        let mut pause = Duration::from_millis(10);
        // The addresses that refused the connection since the last other answer.
        let mut refused: Vec<String> = Vec::new();
        loop {
            let channel = self.channel(&target)?;
            let status = match f(channel).await {
                Ok(reply) => {
                    match self.addresses.iter().position(|a| *a == target) {
                        Some(i) => self.current = i,
                        // A leader the caller did not name (`following_any_leader` only).
                        None => {
                            self.addresses.push(target.clone());
                            self.current = self.addresses.len() - 1;
                        }
                    }
                    return Ok(reply.into_inner());
                }
                Err(status) => status,
            };
            if timed_out(&status) {
                // The connection may be stalled mid-stream (a peer or a link that hangs without
                // closing): a lazy channel would keep it and every later call would time out
                // too. The next call to this address dials afresh.
                self.channels.remove(&target);
            }
            if self.fail_fast && connection_refused(&status) {
                if !refused.contains(&target) {
                    refused.push(target.clone());
                }
                if self.addresses.iter().all(|a| refused.contains(a)) {
                    return Err(ClusterCallError::Unreachable { addresses: refused });
                }
            } else {
                refused.clear();
            }
            let elapsed = started.elapsed();
            let leader = match classify(&status) {
                Next::Done => return Err(ClusterCallError::Refused(status)),
                _ if elapsed >= self.retry_for => {
                    return Err(ClusterCallError::GaveUp {
                        elapsed,
                        last: status,
                    });
                }
                Next::Redirect(leader) if leader != target => Some(leader),
                Next::Redirect(_) | Next::TryAnother => None,
            };
            match leader {
                Some(leader) if self.follow_any_leader || self.addresses.contains(&leader) => {
                    target = leader;
                }
                other => {
                    if let Some(leader) = other {
                        // A replica naming a leader this client was not configured with is not
                        // followed there: the call goes on with the configured replicas only.
                        tracing::warn!(
                            from = %target,
                            leader = %leader,
                            "a redirect names a leader outside the configured replicas; not followed"
                        );
                    }
                    self.current = (self.current + 1) % self.addresses.len().max(1);
                    target = self.addresses[self.current].clone();
                    // Back off a little while an election runs: a client retry, not a test wait.
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns a loopback address nothing listens at (a port just released).
    fn closed_address() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        address
    }

    /// Calls `EventLog.ReadAll` through `replicas`.
    async fn read_all_through(
        replicas: &mut Replicas,
    ) -> Result<crate::v1::ReadAllResponse, ClusterCallError> {
        replicas
            .call(|channel| async move {
                crate::v1::EventLogClient::new(channel)
                    .read_all(crate::v1::ReadAllRequest::default())
                    .await
            })
            .await
    }

    /// A follower: answers every `EventLog` call UNAVAILABLE with a redirect to `leader`.
    #[derive(Clone)]
    struct Follower {
        leader: String,
    }

    impl tonic::server::NamedService for Follower {
        const NAME: &'static str = "renkei.v1.EventLog";
    }

    impl tower::Service<tonic::codegen::http::Request<tonic::body::Body>> for Follower {
        type Response = tonic::codegen::http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: tonic::codegen::http::Request<tonic::body::Body>) -> Self::Future {
            let mut metadata = tonic::metadata::MetadataMap::new();
            metadata.insert(LEADER_METADATA_KEY, self.leader.parse().unwrap());
            let status = Status::with_metadata(Code::Unavailable, "not the leader", metadata);
            std::future::ready(Ok(status.into_http()))
        }
    }

    /// Serves a [`Follower`] redirecting to `leader` on a loopback port; returns its address.
    async fn redirecting_to(leader: String) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(Follower { leader })
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        address
    }

    #[tokio::test]
    async fn a_redirect_to_an_address_outside_the_configured_replicas_is_not_followed() {
        // An address a stranger controls: counts the connections it receives.
        let stranger = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stranger_address = stranger.local_addr().unwrap().to_string();
        let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = reached.clone();
        tokio::spawn(async move {
            while stranger.accept().await.is_ok() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let follower = redirecting_to(stranger_address.clone()).await;
        let mut replicas =
            Replicas::new(vec![follower.clone()]).with_retry_for(Duration::from_millis(300));
        let e = read_all_through(&mut replicas).await.unwrap_err();
        assert!(matches!(e, ClusterCallError::GaveUp { .. }), "{e:?}");
        assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(replicas.current(), follower);
        // The interactive tool, told so, follows it.
        let mut tool = Replicas::new(vec![follower])
            .with_retry_for(Duration::from_millis(300))
            .with_request_timeout(Duration::from_millis(200))
            .following_any_leader();
        let _ = read_all_through(&mut tool).await;
        assert!(reached.load(std::sync::atomic::Ordering::SeqCst) > 0);
    }

    #[tokio::test]
    async fn a_call_that_timed_out_dials_afresh_instead_of_reusing_a_stalled_connection() {
        // A peer that accepts connections and never answers on them (a stalled link).
        let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = stalled.local_addr().unwrap().to_string();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = stalled.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(socket);
            }
        });
        let mut replicas = Replicas::new(vec![address])
            .with_retry_for(Duration::ZERO)
            .with_request_timeout(Duration::from_millis(200));
        for _ in 0..2 {
            let e = read_all_through(&mut replicas).await.unwrap_err();
            assert!(matches!(e, ClusterCallError::GaveUp { .. }), "{e:?}");
        }
        // Reusing the first connection, the second call would have stalled on it as well.
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_call_failing_fast_gives_up_when_every_address_refuses_the_connection() {
        let addresses = vec![closed_address(), closed_address()];
        // Without failing fast the call would retry for 30 s and end as GaveUp.
        let mut replicas = Replicas::new(addresses.clone())
            .with_retry_for(Duration::from_secs(30))
            .failing_fast();
        let e = read_all_through(&mut replicas).await.unwrap_err();
        match e {
            ClusterCallError::Unreachable {
                addresses: mut seen,
            } => {
                seen.sort();
                let mut expected = addresses;
                expected.sort();
                assert_eq!(seen, expected);
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }
}
