//! Connections to municipal nodes and prefecture replicas: channels with short connect
//! deadlines, bearer tokens, and calls to a cluster that follow its leader.

use std::time::Duration;

use renkei_proto::cluster::{ClusterCallError, Replicas};
use renkei_proto::tls::ClientTls;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::failure::Failure;

/// How long connecting to one address may take before the address counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The deadline of one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest message exchanged (survey exports of a large prefecture are several MiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// How connections are secured: set once from `--ca` before any connection.
static TLS: std::sync::OnceLock<ClientTls> = std::sync::OnceLock::new();

/// Makes every connection of this process TLS, verifying servers against the CA certificate
/// in `ca` (PEM).
pub fn use_ca(ca: &std::path::Path) -> Result<(), Failure> {
    let pem = std::fs::read(ca)
        .map_err(|e| Failure::usage(format!("--ca: cannot read {}: {e}", ca.display())))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(Failure::usage(format!(
            "--ca: {} holds no PEM certificate",
            ca.display()
        )));
    }
    use_tls(
        ClientTls::verify_with(&pem)
            .map_err(|e| Failure::usage(format!("--ca: {}: {e}", ca.display())))?,
    );
    Ok(())
}

/// Makes every connection of this process use `tls` (the first call wins).
pub fn use_tls(tls: ClientTls) {
    let _ = TLS.set(tls);
}

fn tls() -> ClientTls {
    TLS.get().cloned().unwrap_or_default()
}

/// Connects to `address` (`host:port`), failing with a runtime error naming it.
pub async fn connect(address: &str) -> Result<Channel, Failure> {
    tls()
        .dial(address)
        .map_err(|_| Failure::usage(format!("{address:?} is not HOST:PORT")))?
        .configure(|e| {
            e.connect_timeout(CONNECT_TIMEOUT)
                .timeout(CALL_TIMEOUT)
                .tcp_nodelay(true)
        })
        .connect()
        .await
        .map_err(|e| {
            // The reason (a refused connection, a certificate not the peer's) is in the chain.
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = format!("{reason}: {s}");
                source = s.source();
            }
            Failure::runtime(format!("cannot reach {address}: {reason}"))
        })
}

/// A bearer token ready to be sent as `authorization` metadata.
pub type Auth = Option<AsciiMetadataValue>;

/// The token read from `--token-file`, used where no `--token` is given.
static TOKEN_FROM_FILE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Reads the caller's token from `path` (its first line; at most 4 KiB).
pub fn use_token_file(path: &std::path::Path) -> Result<(), Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::usage(format!("--token-file: cannot read {}: {e}", path.display()))
    })?;
    let text = std::str::from_utf8(&bytes[..bytes.len().min(4096)]).unwrap_or("");
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err(Failure::usage(format!(
            "--token-file: {} holds no token on its first line",
            path.display()
        )));
    }
    let _ = TOKEN_FROM_FILE.set(token.to_owned());
    Ok(())
}

/// Prepares `authorization: Bearer <token>` for a token, if one is given (`--token`, else
/// `--token-file`); warns on stderr when it would travel in plaintext.
pub fn bearer(token: Option<&str>) -> Result<Auth, Failure> {
    let token = token.or(TOKEN_FROM_FILE.get().map(String::as_str));
    if token.is_some() && matches!(tls(), ClientTls::Plaintext) {
        eprintln!(
            "renkei: warning: the token is sent in plaintext (no --ca): anyone on the network \
             path can read it and act as its holder"
        );
    }
    token
        .map(|t| {
            format!("Bearer {}", t.trim())
                .parse()
                .map_err(|_| Failure::usage("--token must be printable ASCII"))
        })
        .transpose()
}

/// Wraps a message in a request carrying the bearer token, if any.
pub fn authed<T>(auth: &Auth, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(value) = auth {
        request
            .metadata_mut()
            .insert("authorization", value.clone());
    }
    request
}

/// A prefecture cluster reached through any of its replicas; calls follow leader redirects.
pub struct ClusterClient {
    replicas: Replicas,
}

impl ClusterClient {
    /// A client of the replicas at `addresses` (the first is tried first).
    pub fn new(addresses: Vec<String>) -> Self {
        Self {
            replicas: Replicas::new(addresses)
                .with_tls(tls())
                .with_retry_for(Duration::from_secs(20))
                .with_request_timeout(CALL_TIMEOUT)
                .failing_fast()
                // A person names any replica of the cluster they chose; calls follow its leader.
                .following_any_leader(),
        }
    }

    /// Returns the address calls currently go to first.
    pub fn current(&self) -> &str {
        self.replicas.current()
    }

    /// Calls `f` with a channel to the leader (as far as known); `what` names the call in errors.
    pub async fn call<T, F, Fut>(&mut self, what: &str, f: F) -> Result<T, Failure>
    where
        F: FnMut(Channel) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        self.replicas.call(f).await.map_err(|e| match e {
            ClusterCallError::Refused(status) => Failure::from_status(what, &status),
            ClusterCallError::BadAddress(a) => Failure::usage(format!("{a:?} is not HOST:PORT")),
            other @ ClusterCallError::GaveUp { .. } => {
                Failure::runtime(format!("{what}: no replica answered: {other}"))
            }
            other @ ClusterCallError::Unreachable { .. } => {
                Failure::runtime(format!("{what}: {other}"))
            }
        })
    }
}
