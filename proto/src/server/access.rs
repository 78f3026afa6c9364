//! Credentials both tiers' servers share: bearer tokens configured as a token or its SHA-256
//! (weak and placeholder tokens refused), the rule that a server reachable from other machines
//! needs someone configured to call it, and [`Gate`] / [`GateLayer`], the tower layer that decides
//! a gRPC call from its path, headers and connection before its body is read. The node's staff
//! (`renkei_node::access`) and the prefecture's callers (`renkei_federation::access`) are the two
//! gates.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use sha2::Digest;

/// The SHA-256 of a bearer token.
pub fn token_digest(token: &str) -> [u8; 32] {
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// The tokens written in the shipped example configurations (`ops/examples/`): placeholders that
/// anyone who has read the repository knows, refused wherever a token is configured.
pub const EXAMPLE_TOKENS: [&str; 3] = [
    "change-me-to-a-long-random-token",
    "change-me-to-another-long-random-token",
    "change-me-to-a-third-long-random-token",
];

/// The shortest token accepted.
pub const MIN_TOKEN_CHARS: usize = 32;

/// Why a token may not be configured, or `None` when it may: a placeholder of the examples, shorter
/// than [`MIN_TOKEN_CHARS`], with spaces, or not random-looking (fewer than 12 distinct
/// characters, e.g. `aaaa…` or `0101…`). Generate one with `openssl rand -hex 32`.
pub fn weak_token(token: &str) -> Option<String> {
    let lower = token.to_ascii_lowercase();
    if EXAMPLE_TOKENS.contains(&token) || lower.contains("change-me") || lower.contains("changeme")
    {
        return Some(
            "is a placeholder of the example configurations, not a secret (generate one with `openssl rand -hex 32`)"
                .to_owned(),
        );
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("must not contain spaces or control characters".to_owned());
    }
    let chars = token.chars().count();
    if chars < MIN_TOKEN_CHARS {
        return Some(format!(
            "is {chars} characters; at least {MIN_TOKEN_CHARS} random ones are needed (`openssl rand -hex 32`)"
        ));
    }
    let distinct: std::collections::BTreeSet<char> = token.chars().collect();
    if distinct.len() < 12 {
        return Some(format!(
            "does not look random ({} distinct characters; `openssl rand -hex 32`)",
            distinct.len()
        ));
    }
    None
}

/// Why a configured `token_sha256` may not be used: the digest of an example placeholder, or all
/// zeros (the examples' stand-in).
fn weak_digest(digest: &[u8; 32]) -> Option<&'static str> {
    if digest.iter().all(|b| *b == 0) {
        return Some("is the example configurations' placeholder (all zeros)");
    }
    EXAMPLE_TOKENS
        .iter()
        .any(|t| token_digest(t) == *digest)
        .then_some("is the digest of a placeholder of the example configurations")
}

/// Why a server listening on `listen` with nobody configured to call it must not start, or
/// `None` when it may: only a loopback address, or an explicit `open = true`, may serve without
/// `[[staff]]` / `[[callers]]`. `who` names the missing table.
pub fn open_door(
    listen: std::net::SocketAddr,
    nobody: bool,
    open: bool,
    who: &str,
) -> Option<String> {
    (nobody && !open && !listen.ip().is_loopback()).then(|| {
        format!(
            "{who}: none configured while listen = {listen} is reachable from other machines, so anyone there could call every service (read and erase personal details, change the cluster); add {who} entries, listen on 127.0.0.1, or set open = true (development only)"
        )
    })
}

/// Why `/metrics` must not be served on `listen`, or `None` when it may: it has no
/// authentication, so it listens on a loopback address (scraped by a local agent) unless the
/// configuration says `metrics_public = true` (a scraper on another machine, behind a firewall).
pub fn open_metrics(listen: std::net::SocketAddr, public: bool) -> Option<String> {
    (!public && !listen.ip().is_loopback()).then(|| {
        format!(
            "metrics_listen: {listen} is reachable from other machines and /metrics has no authentication (it shows each municipality's sync and the process's state); listen on 127.0.0.1, or set metrics_public = true if a firewall admits only the scraper"
        )
    })
}

/// Validates a configured credential given as `token` (at least 32 random-looking characters) or
/// `token_sha256` (64 hex digits), never both; `at` names the entry in problems (e.g.
/// `staff[0]`).
pub fn credential(
    at: &str,
    name: &str,
    token: Option<&str>,
    token_sha256: Option<&str>,
    problems: &mut Vec<String>,
) -> Option<[u8; 32]> {
    match (token, token_sha256) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "{at}: give token or token_sha256, not both ({name:?})"
            ));
            None
        }
        (None, None) => {
            problems.push(format!("{at}.token_sha256: missing (or token) ({name:?})"));
            None
        }
        (Some(token), None) => {
            if let Some(why) = weak_token(token) {
                problems.push(format!("{at}.token: {why} ({name:?})"));
                None
            } else {
                Some(token_digest(token))
            }
        }
        (None, Some(hex)) => {
            let parsed = parse_digest(hex);
            match &parsed {
                None => problems.push(format!(
                    "{at}.token_sha256: {hex:?} is not 64 hex digits ({name:?})"
                )),
                Some(d) => {
                    if let Some(why) = weak_digest(d) {
                        problems.push(format!("{at}.token_sha256: {why} ({name:?})"));
                        return None;
                    }
                }
            }
            parsed
        }
    }
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// What decides, from a call's path, headers and connection alone, whether it may reach a
/// service — before its body is read. The node's staff are one; the prefecture's
/// callers are another.
pub trait Gate: Clone + Send + Sync + 'static {
    /// What the gate learnt of the caller, handed to the handler in the request's extensions.
    type Caller: Clone + Send + Sync + 'static;

    /// Who is calling (`None`: nothing to hand on), or the refusal to answer instead.
    fn admit(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
    ) -> Result<Option<Self::Caller>, tonic::Status>;
}

/// A tower layer putting a [`Gate`] in front of every call of a tonic server.
#[derive(Clone)]
pub struct GateLayer<G>(pub G);

impl<S, G: Gate> tower::Layer<S> for GateLayer<G> {
    type Service = Gated<S, G>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated {
            inner,
            gate: self.0.clone(),
        }
    }
}

/// The service [`GateLayer`] wraps around a server's routes.
#[derive(Clone)]
pub struct Gated<S, G> {
    inner: S,
    gate: G,
}

impl<S, G, B> tower::Service<http::Request<B>> for Gated<S, G>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    G: Gate,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let admitted = self.gate.admit(
            request.uri().path(),
            request.headers(),
            request.extensions(),
        );
        match admitted {
            Ok(who) => {
                // The handlers read who is calling from the request (the audit trail's actor).
                if let Some(who) = who {
                    request.extensions_mut().insert(who);
                }
                Box::pin(self.inner.call(request))
            }
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn credentials_are_a_token_or_its_digest_never_both() {
        let mut problems = Vec::new();
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(
            credential("staff[0]", "a", None, Some(hex), &mut problems),
            Some(token_digest("test"))
        );
        assert!(credential("staff[1]", "b", Some("short"), None, &mut problems).is_none());
        assert!(credential("staff[2]", "c", Some("x"), Some(hex), &mut problems).is_none());
        assert!(credential("staff[3]", "d", None, Some("zz"), &mut problems).is_none());
        let all = problems.join("\n");
        assert!(
            all.contains("staff[1].token: is 5 characters; at least 32"),
            "{all}"
        );
        assert!(
            all.contains("staff[2]: give token or token_sha256"),
            "{all}"
        );
        assert!(all.contains("staff[3].token_sha256: \"zz\""), "{all}");
    }

    #[test]
    fn placeholders_short_and_patterned_tokens_are_not_secrets() {
        let mut problems = Vec::new();
        // the examples' placeholders, as a token or as the all-zero or placeholder digest
        for (i, t) in EXAMPLE_TOKENS.iter().enumerate() {
            assert!(
                credential(&format!("staff[{i}]"), "x", Some(t), None, &mut problems).is_none()
            );
        }
        let zeros = "0".repeat(64);
        assert!(credential("staff[3]", "x", None, Some(&zeros), &mut problems).is_none());
        let digest: String = token_digest(EXAMPLE_TOKENS[0])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(credential("staff[4]", "x", None, Some(&digest), &mut problems).is_none());
        // 31 characters, and 40 of only two kinds
        let short = "abcdefghijklmnopqrstuvwxyz01234";
        assert!(credential("staff[5]", "x", Some(short), None, &mut problems).is_none());
        let patterned = "01".repeat(20);
        assert!(credential("staff[6]", "x", Some(&patterned), None, &mut problems).is_none());
        let all = problems.join("\n");
        for needle in [
            "staff[0].token: is a placeholder",
            "staff[2].token: is a placeholder",
            "staff[3].token_sha256: is the example configurations' placeholder",
            "staff[4].token_sha256: is the digest of a placeholder",
            "staff[5].token: is 31 characters",
            "staff[6].token: does not look random",
        ] {
            assert!(all.contains(needle), "{needle} missing from:\n{all}");
        }
        // what `openssl rand -hex 32` gives is accepted
        let good = "3f9a0c27be41d85e6a1f0b9c7d2e4a6813579bdf02468ace13579bdf02468ace";
        assert_eq!(weak_token(good), None);
    }

    #[test]
    fn only_loopback_or_an_explicit_open_serves_without_anyone_configured() {
        let any: std::net::SocketAddr = "0.0.0.0:7401".parse().unwrap();
        let lan: std::net::SocketAddr = "10.0.0.21:7401".parse().unwrap();
        let local: std::net::SocketAddr = "127.0.0.1:7401".parse().unwrap();
        let problem = open_door(any, true, false, "[[staff]]").unwrap();
        assert!(
            problem.starts_with("[[staff]]: none configured while listen = 0.0.0.0:7401"),
            "{problem}"
        );
        assert!(open_door(lan, true, false, "[[staff]]").is_some());
        assert!(open_door(local, true, false, "[[staff]]").is_none());
        assert!(open_door(any, true, true, "[[staff]]").is_none());
        assert!(open_door(any, false, false, "[[staff]]").is_none());
    }

    #[test]
    fn metrics_listen_on_loopback_unless_said_public() {
        let any: std::net::SocketAddr = "0.0.0.0:9401".parse().unwrap();
        let local: std::net::SocketAddr = "127.0.0.1:9401".parse().unwrap();
        let problem = open_metrics(any, false).unwrap();
        assert!(
            problem.starts_with("metrics_listen: 0.0.0.0:9401 is reachable from other machines"),
            "{problem}"
        );
        assert!(open_metrics(local, false).is_none());
        assert!(open_metrics(any, true).is_none());
    }
}
