//! The client side of TLS between renkei's machines: a server is accepted only if its
//! certificate is signed by the federation's CA, valid for the host dialled, **and** names the
//! peer the client expects — a replica of the right prefecture (and the right replica, for Raft
//! peers) or a municipal node. Without the last check any certificate of the CA would do: a
//! municipal node's certificate on a hijacked address could pose as the prefecture and collect
//! the facts and the tokens sent to it.
//!
//! tonic's own TLS client has no hook for such a check, so connections are made by
//! [`Connector`] (TCP, then a rustls handshake with [`PeerVerifier`]) and handed to tonic.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tonic::codegen::http::Uri;

use super::{PeerNames, TlsError};
use crate::PrefectureCode;

/// The server a client expects at the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A replica of `prefecture`'s cluster (any prefecture when `None`); replica `node_id` when
    /// given (a Raft peer dials one replica by id).
    Replica {
        prefecture: Option<PrefectureCode>,
        node_id: Option<u64>,
    },
    /// A municipal node.
    Node,
    /// A node or a replica: an operator's tool, pointed at either.
    Peer,
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Replica {
                prefecture: Some(p),
                node_id: Some(id),
            } => write!(f, "replica {id} of prefecture {p}"),
            Expected::Replica {
                prefecture: Some(p),
                node_id: None,
            } => write!(f, "a replica of prefecture {p}"),
            Expected::Replica { .. } => f.write_str("a prefecture replica"),
            Expected::Node => f.write_str("a municipal node"),
            Expected::Peer => f.write_str("a renkei node or replica"),
        }
    }
}

impl Expected {
    /// Whether a certificate with `names` is the server expected; the reason when not.
    pub fn check(&self, names: &PeerNames) -> Result<(), String> {
        let is_node = !names.municipalities.is_empty();
        let fits = match (self, names.replica) {
            (
                Expected::Replica {
                    prefecture,
                    node_id,
                },
                Some((p, id)),
            ) => prefecture.is_none_or(|want| want == p) && node_id.is_none_or(|want| want == id),
            (Expected::Replica { .. }, None) => false,
            (Expected::Node, replica) => is_node && replica.is_none(),
            (Expected::Peer, replica) => is_node || replica.is_some(),
        };
        if fits {
            return Ok(());
        }
        let is = match names.replica {
            Some((p, id)) => format!("replica {id} of prefecture {p}"),
            None if is_node => format!(
                "a municipal node's ({})",
                names
                    .municipalities
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "no renkei peer's".to_owned(),
        };
        Err(format!(
            "the server's {names} is {is}, not {self}: refusing to talk to it"
        ))
    }
}

/// Verifies a server's certificate against the CA (as any TLS client does), then checks that it
/// names the [`Expected`] peer.
#[derive(Debug)]
pub struct PeerVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    expected: Expected,
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let names = PeerNames::of_der(end_entity.as_ref())
            .map_err(|e| rustls::Error::General(format!("server certificate: {e}")))?;
        self.expected.check(&names).map_err(|reason| {
            tracing::warn!(%reason, "a server's certificate is not the peer expected");
            rustls::Error::General(reason)
        })?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// What a TLS client is made of: the CA, its own certificate when it has one, and the peer it
/// expects. Cheap to clone.
#[derive(Clone)]
pub struct PeerTls {
    ca: Arc<Vec<CertificateDer<'static>>>,
    identity: Option<Arc<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>>,
    expected: Expected,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls")
            .field("expected", &self.expected)
            .field("identity", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

fn pem_error(what: &'static str, reason: impl std::fmt::Display) -> TlsError {
    TlsError::Client(format!("{what}: {reason}"))
}

impl PeerTls {
    /// A client trusting the CA certificate(s) in `ca_pem`, presenting `identity` (certificate
    /// chain and key, PEM) when given, and expecting `expected`.
    pub fn new(
        ca_pem: &[u8],
        identity: Option<(&[u8], &[u8])>,
        expected: Expected,
    ) -> Result<Self, TlsError> {
        use rustls::pki_types::pem::PemObject;
        let ca: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| pem_error("CA certificate", e))?;
        if ca.is_empty() {
            return Err(pem_error(
                "CA certificate",
                "no certificate in the PEM text",
            ));
        }
        let identity = match identity {
            None => None,
            Some((cert_pem, key_pem)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
                    .collect::<Result<_, _>>()
                    .map_err(|e| pem_error("certificate", e))?;
                let key = PrivateKeyDer::from_pem_slice(key_pem)
                    .map_err(|e| pem_error("private key", e))?;
                Some(Arc::new((chain, key)))
            }
        };
        let config = Self::config(&ca, identity.as_deref(), expected)?;
        Ok(Self {
            ca: Arc::new(ca),
            identity,
            expected,
            config,
        })
    }

    /// The same client, expecting `expected` instead.
    pub fn expecting(&self, expected: Expected) -> Result<Self, TlsError> {
        Ok(Self {
            config: Self::config(&self.ca, self.identity.as_deref(), expected)?,
            expected,
            ..self.clone()
        })
    }

    /// The peer this client expects.
    pub fn expected(&self) -> Expected {
        self.expected
    }

    fn config(
        ca: &[CertificateDer<'static>],
        identity: Option<&(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        expected: Expected,
    ) -> Result<Arc<ClientConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for cert in ca {
            roots
                .add(cert.clone())
                .map_err(|e| pem_error("CA certificate", e))?;
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| pem_error("CA certificate", e))?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| pem_error("TLS versions", e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PeerVerifier { webpki, expected }));
        let mut config = match identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| pem_error("certificate and key", e))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// The connector tonic dials with.
    pub fn connector(&self) -> Connector {
        Connector {
            config: self.config.clone(),
        }
    }
}

/// Dials a `http://host:port` URI over TCP and runs the TLS handshake with the peer check; what
/// tonic's `Endpoint::connect_with_connector` takes (its connect timeout bounds both steps).
#[derive(Clone)]
pub struct Connector {
    config: Arc<ClientConfig>,
}

/// A TLS connection to a peer, as hyper reads and writes it.
pub type PeerStream = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;

impl tower::Service<Uri> for Connector {
    type Response = PeerStream;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<PeerStream, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let config = self.config.clone();
        Box::pin(async move {
            let invalid = |what: &str| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{uri}: {what}"))
            };
            let host = uri.host().ok_or_else(|| invalid("no host"))?;
            let port = uri.port_u16().ok_or_else(|| invalid("no port"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(host.to_owned())
                .map_err(|_| invalid("not a host name or address"))?;
            let tcp = TcpStream::connect((host, port)).await?;
            // Best effort: a socket that refuses the option still works, only slower.
            let _ = tcp.set_nodelay(true);
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok(TokioIo::new(tls))
        })
    }
}
