//! Who is calling a replica, decided before a request's body is read.
//!
//! Callers are `[[callers]]` entries, each with a token (kept as its SHA-256), a role and the
//! municipalities it speaks for; over TLS a node's certificate must name the municipality too
//! (see [`Callers`]). [`Callers`] is the [`Gate`] in front of the replica's gRPC server, as the
//! node's staff are in front of the node's (`renkei_proto::server::access::GateLayer`): a call to a client service (`PrefectureLedger`,
//! `Federation`, `PrefectureSurvey`, `ClusterAdmin`, `Backup`) from a caller it cannot identify
//! is answered UNAUTHENTICATED from its headers alone, and an identified call carries its
//! [`Identity`] to the handler, which checks the role and municipalities the method needs. The
//! Raft service identifies peers by their certificates (`grpc::raft`); health checking and
//! reflection are open.

use std::collections::HashMap;
use std::sync::Arc;

use renkei_proto::MunicipalityCode;
use renkei_proto::server::access::Gate;
use renkei_proto::tls::PeerNames;
use tonic::{Request, Status};

use crate::config::{Caller, Role, token_digest};
use crate::error::{FederationError, to_status};

/// The callers the configuration knows, by the SHA-256 of their token (compared in full, so the
/// lookup does not reveal a token by timing).
///
/// Over TLS a caller needs both: its token, known by a `[[callers]]` entry (removing the entry
/// revokes it), and, to write facts or submit surveys, a node certificate ([`renkei_proto::tls`])
/// naming the municipality; facts are accepted only for municipalities both allow.
#[derive(Debug, Clone)]
pub struct Callers {
    by_digest: Arc<HashMap<[u8; 32], Arc<Caller>>>,
    /// Over TLS: municipalities only from a node certificate.
    node_certificates: bool,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Identity {
    /// No callers are configured and no TLS: anyone may speak for any municipality of the
    /// prefecture (development only).
    Open,
    Known(Arc<Caller>),
    /// Over TLS: the caller, and the municipalities its client certificate names (none without
    /// a node certificate): only those may have facts written.
    Certified(Arc<Caller>, Vec<MunicipalityCode>),
}

impl Identity {
    pub(crate) fn caller(&self) -> Option<&Caller> {
        match self {
            Identity::Open => None,
            Identity::Known(c) | Identity::Certified(c, _) => Some(c),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.caller().map_or("anonymous", |c| &c.name)
    }

    fn may_speak_for(&self, m: MunicipalityCode) -> bool {
        self.caller().is_none_or(|c| c.municipalities.contains(&m))
    }

    /// Refuses facts for `m` unless the caller speaks for it and, over TLS, the certificate of
    /// the connection names it.
    pub(crate) fn check_writes_facts_for(
        &self,
        m: MunicipalityCode,
    ) -> Result<(), FederationError> {
        self.check_certified_for(m, "write facts")
    }

    /// Refuses `action` for `m` (writing its facts, submitting its survey) unless the caller
    /// speaks for it and, over TLS, the certificate of the connection names it.
    pub(crate) fn check_certified_for(
        &self,
        m: MunicipalityCode,
        action: &str,
    ) -> Result<(), FederationError> {
        self.check_speaks_for(m)?;
        match self {
            Identity::Certified(_, certified) if !certified.contains(&m) => {
                Err(FederationError::PermissionDenied {
                    caller: self.name().to_owned(),
                    action: format!(
                        "{action} for municipality {m} (its TLS client certificate does not name {m})"
                    ),
                })
            }
            _ => Ok(()),
        }
    }

    /// Refuses (PERMISSION_DENIED) a caller whose role is below `role`; anyone may do anything
    /// on an open cluster (no callers configured: development only).
    pub(crate) fn check_role(&self, role: Role, action: &str) -> Result<(), FederationError> {
        match self.caller() {
            None => Ok(()),
            Some(c) if c.role >= role => Ok(()),
            Some(_) => Err(FederationError::PermissionDenied {
                caller: self.name().to_owned(),
                action: format!("{action} (needs role {role:?})").to_lowercase(),
            }),
        }
    }

    pub(crate) fn check_speaks_for(&self, m: MunicipalityCode) -> Result<(), FederationError> {
        if self.may_speak_for(m) {
            Ok(())
        } else {
            Err(FederationError::PermissionDenied {
                caller: self.name().to_owned(),
                action: format!("speak for municipality {m}"),
            })
        }
    }
}

impl Callers {
    pub fn new(callers: &[Caller]) -> Self {
        Self {
            by_digest: Arc::new(
                callers
                    .iter()
                    .map(|c| (c.token_digest, Arc::new(c.clone())))
                    .collect(),
            ),
            node_certificates: false,
        }
    }

    /// Takes the municipalities a caller may speak for from its TLS node certificate (set when
    /// the replica serves TLS).
    pub fn with_node_certificates(mut self, on: bool) -> Self {
        self.node_certificates = on;
        self
    }

    /// True when no caller is configured and the service is open to anyone.
    pub fn is_open(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// Identifies the caller of a request by its bearer token and, over TLS, the certificate of
    /// its connection (read from the request's extensions, where the server put it).
    fn identify_http(
        &self,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
    ) -> Result<Identity, FederationError> {
        let peer = self
            .node_certificates
            .then(|| PeerNames::of_extensions(extensions));
        self.identify_with(headers, peer)
    }

    /// `peer`: `None` over plaintext; over TLS, the client certificate's names if it gave one.
    fn identify_with(
        &self,
        headers: &http::HeaderMap,
        peer: Option<Option<PeerNames>>,
    ) -> Result<Identity, FederationError> {
        let by_token = if self.is_open() {
            None
        } else {
            self.by_token(headers)?
        };
        let Some(peer) = peer else {
            if self.is_open() {
                return Ok(Identity::Open);
            }
            return by_token.map(Identity::Known).ok_or_else(|| {
                FederationError::Unauthenticated(
                    "no `authorization: Bearer <token>` metadata".to_owned(),
                )
            });
        };
        let certified = peer
            .as_ref()
            .map(|p| p.municipalities.clone())
            .unwrap_or_default();
        let caller = match (by_token, peer) {
            (Some(c), _) => return Ok(Identity::Certified(c, certified)),
            // Open (development) but over TLS: a node certificate speaks for its
            // municipalities; anyone else may read, never administer (no anonymous admin).
            (None, peer) if self.is_open() => Caller {
                name: peer
                    .as_ref()
                    .map_or_else(|| "anonymous".to_owned(), |p| p.common_name.clone()),
                token_digest: [0; 32],
                municipalities: certified.clone(),
                role: if certified.is_empty() {
                    Role::Viewer
                } else {
                    Role::Node
                },
            },
            // A certificate alone identifies no one: a node needs its [[callers]] entry too, so
            // removing the entry revokes the node at the next restart, whatever certificate it
            // still holds.
            (None, _) => {
                return Err(FederationError::Unauthenticated(
                    "no `authorization: Bearer <token>` metadata (a certificate alone does not \
                     identify a caller: a node presents its [sync] token, known by a [[callers]] \
                     entry)"
                        .to_owned(),
                ));
            }
        };
        Ok(Identity::Certified(Arc::new(caller), certified))
    }

    /// The caller a token names, for signing in to the web console (the token as typed).
    pub(crate) fn by_token_text(&self, token: &str) -> Option<Arc<Caller>> {
        self.by_digest.get(&token_digest(token.trim())).cloned()
    }

    /// The caller named by the bearer token, if the request carries one; an unknown or
    /// malformed token is refused.
    fn by_token(&self, headers: &http::HeaderMap) -> Result<Option<Arc<Caller>>, FederationError> {
        let Some(header) = headers.get("authorization") else {
            return Ok(None);
        };
        let header = header.to_str().map_err(|_| {
            FederationError::Unauthenticated("authorization is not ASCII".to_owned())
        })?;
        let token = header.strip_prefix("Bearer ").ok_or_else(|| {
            FederationError::Unauthenticated("authorization must be `Bearer <token>`".to_owned())
        })?;
        self.by_digest
            .get(&token_digest(token.trim()))
            .map(|c| Some(c.clone()))
            .ok_or_else(|| FederationError::Unauthenticated("unknown token".to_owned()))
    }
}

/// True for the methods of the replica's client services, which only identified callers reach.
fn is_client_method(path: &str) -> bool {
    path.starts_with("/renkei.v1.") && !path.starts_with("/renkei.v1.RaftService/")
}

/// The caller the gate identified for a call; a call that did not pass the layer
/// (a service served without it) is refused.
pub(crate) fn identity<T>(request: &Request<T>) -> Result<Identity, Status> {
    request
        .extensions()
        .get::<Identity>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("the caller was not identified"))
}

/// Identifies the caller of every call to a client service from its headers and connection,
/// before the body is read (the replica's gRPC server runs behind
/// `renkei_proto::server::access::GateLayer(callers)`).
impl Gate for Callers {
    type Caller = Identity;

    fn admit(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
    ) -> Result<Option<Identity>, Status> {
        if !is_client_method(path) {
            return Ok(None);
        }
        self.identify_http(headers, extensions)
            .map(Some)
            .map_err(|e| {
                tracing::warn!(method = path, refused = %e, "call refused");
                to_status(e)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_tls_replica_gives_anonymous_clients_no_admin_role() {
        // given a replica serving TLS with no [[callers]]
        let callers = Callers::new(&[]).with_node_certificates(true);
        // when a client without a certificate, or with a replica's, calls
        for peer in [
            None,
            Some(PeerNames {
                common_name: "someone".into(),
                municipalities: vec![],
                replica: None,
            }),
        ] {
            let who = callers
                .identify_with(&http::HeaderMap::new(), Some(peer))
                .unwrap();
            // then it may read but not administer, approve or write facts
            assert!(who.check_role(Role::Viewer, "read").is_ok());
            for role in [Role::Operator, Role::Admin] {
                assert!(who.check_role(role, "administer").is_err(), "{role:?}");
            }
            let toyama: MunicipalityCode = "162019".parse().unwrap();
            assert!(who.check_writes_facts_for(toyama).is_err());
        }
        // and a node certificate speaks for the municipalities it names, and no more
        let toyama: MunicipalityCode = "162019".parse().unwrap();
        let node = callers
            .identify_with(
                &http::HeaderMap::new(),
                Some(Some(PeerNames {
                    common_name: "node-162019".into(),
                    municipalities: vec![toyama],
                    replica: None,
                })),
            )
            .unwrap();
        assert!(node.check_writes_facts_for(toyama).is_ok());
        assert!(node.check_role(Role::Operator, "approve").is_err());
    }

    #[test]
    fn a_node_certificate_alone_identifies_no_one_when_callers_are_configured() {
        let token = "a-node-token-0123456789abcdefghijklmnop";
        let toyama: MunicipalityCode = "162019".parse().unwrap();
        let callers = Callers::new(&[Caller {
            name: "node".into(),
            token_digest: token_digest(token),
            municipalities: vec![toyama],
            role: Role::Node,
        }])
        .with_node_certificates(true);
        let certificate = || {
            Some(Some(PeerNames {
                common_name: "node-162019".into(),
                municipalities: vec![toyama],
                replica: None,
            }))
        };
        // the certificate alone: refused
        let err = callers
            .identify_with(&http::HeaderMap::new(), certificate())
            .expect_err("refused");
        assert!(matches!(err, FederationError::Unauthenticated(_)), "{err}");
        // with the token its entry knows: allowed for its municipality
        let mut metadata = http::HeaderMap::new();
        metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
        let who = callers.identify_with(&metadata, certificate()).unwrap();
        assert!(who.check_writes_facts_for(toyama).is_ok());
    }
}
