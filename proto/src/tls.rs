//! Mutual TLS between renkei's nodes: what a certificate names, loading a node's certificate
//! files, and issuing development certificates.
//!
//! Every link between machines — a municipal node pushing facts to its prefecture, a replica
//! replicating to another — runs over TLS with a certificate on both ends, signed by the
//! federation's certificate authority. The certificate says who the peer is, as URI subject
//! alternative names (part of the contract between nodes, like the `.proto` files):
//! - `urn:renkei:municipality:162019` — a municipal node that may speak for 富山市 (162019); a
//!   node hosting several municipalities carries one such name per code;
//! - `urn:renkei:replica:16:3` — replica 3 of prefecture 16's cluster.
//!
//! The prefecture refuses facts for a municipality the caller's certificate does not name, and
//! its internal Raft service answers only replicas of its own prefecture. Operators and tools
//! need no certificate: they verify the server against the CA and authenticate with a token.
//!
//! [`DevCa`] issues such certificates for development and tests (`renkei certs`); production
//! deployments may use any CA that puts the same names in the certificates.

use std::fmt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, Channel, Endpoint, Identity, ServerTlsConfig};

use crate::{MunicipalityCode, PrefectureCode};

mod client;
pub use client::{Connector, Expected, PeerStream, PeerTls, PeerVerifier};

/// The URI prefix naming a municipality a node may speak for.
pub const MUNICIPALITY_URI: &str = "urn:renkei:municipality:";
/// The URI prefix naming a prefecture replica: `urn:renkei:replica:{prefecture}:{node id}`.
pub const REPLICA_URI: &str = "urn:renkei:replica:";

/// Why certificates could not be loaded, read or issued.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{field}: cannot read {path:?}: {source}")]
    Read {
        field: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{field}: {path:?} holds no PEM {what}")]
    NoPem {
        field: String,
        path: PathBuf,
        what: &'static str,
    },
    #[error("{field}: {path:?} is not a valid certificate: {reason}")]
    BadCertificate {
        field: String,
        path: PathBuf,
        reason: String,
    },
    #[error("{field}: {path:?} is not signed by the CA in {ca:?}")]
    NotSignedByCa {
        field: String,
        path: PathBuf,
        ca: PathBuf,
    },
    #[error("cannot issue a certificate: {0}")]
    Issue(String),
    #[error("certificate name {value:?}: {reason}")]
    BadName { value: String, reason: String },
    /// The client side could not be set up from the PEM texts it was given.
    #[error("TLS client: {0}")]
    Client(String),
}

/// Where a node's TLS material lives: the `[tls]` table of a node's or a replica's config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The CA certificate (PEM) peers' certificates must be signed by.
    pub ca: PathBuf,
    /// This node's certificate (PEM), signed by the CA.
    pub cert: PathBuf,
    /// This node's private key (PEM).
    pub key: PathBuf,
}

/// Who a certificate says its holder is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerNames {
    /// The certificate's common name, for logs.
    pub common_name: String,
    /// The municipalities a municipal node's certificate lets it speak for.
    pub municipalities: Vec<MunicipalityCode>,
    /// The prefecture replica the certificate belongs to, if it is a replica's.
    pub replica: Option<(PrefectureCode, u64)>,
}

impl fmt::Display for PeerNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "certificate {:?}", self.common_name)
    }
}

impl PeerNames {
    /// Reads the names of a DER certificate. Names under `urn:renkei:` that do not parse are an
    /// error: a certificate meant to carry them must carry them right.
    pub fn of_der(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
        let mut names = PeerNames {
            common_name: cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .unwrap_or("")
                .to_owned(),
            ..PeerNames::default()
        };
        let Some(san) = cert.subject_alternative_name().map_err(|e| e.to_string())? else {
            return Ok(names);
        };
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::URI(uri) = name {
                names.add_uri(uri)?;
            }
        }
        Ok(names)
    }

    fn add_uri(&mut self, uri: &str) -> Result<(), String> {
        if let Some(code) = uri.strip_prefix(MUNICIPALITY_URI) {
            let code: MunicipalityCode = code
                .parse()
                .map_err(|e| format!("subject alternative name {uri:?}: {e}"))?;
            if !self.municipalities.contains(&code) {
                self.municipalities.push(code);
            }
        } else if let Some(rest) = uri.strip_prefix(REPLICA_URI) {
            let parsed = rest.split_once(':').and_then(|(p, id)| {
                Some((p.parse::<PrefectureCode>().ok()?, id.parse::<u64>().ok()?))
            });
            match parsed {
                Some(replica) => self.replica = Some(replica),
                None => {
                    return Err(format!(
                        "subject alternative name {uri:?} is not {REPLICA_URI}<prefecture>:<node id>"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The names of the client certificate a request came with over TLS: `None` for a
    /// plaintext connection or a client that presented no certificate. A certificate that
    /// cannot be read counts as none (the TLS layer already verified it against the CA).
    pub fn of_request<T>(request: &tonic::Request<T>) -> Option<Self> {
        Self::of_certificates(request.peer_certs()?)
    }

    /// The names of the client certificate of the connection a request arrived on, read from
    /// the HTTP request's extensions (where the gRPC server put the connection's details), for
    /// layers that decide before the request reaches a service.
    pub fn of_extensions(extensions: &tonic::codegen::http::Extensions) -> Option<Self> {
        use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
        let info = extensions.get::<TlsConnectInfo<TcpConnectInfo>>()?;
        Self::of_certificates(info.peer_certs()?)
    }

    fn of_certificates(
        certs: std::sync::Arc<Vec<tonic::transport::CertificateDer<'static>>>,
    ) -> Option<Self> {
        let leaf = certs.first()?;
        match Self::of_der(leaf.as_ref()) {
            Ok(names) => Some(names),
            Err(reason) => {
                tracing::warn!(%reason, "a client certificate's names cannot be read");
                None
            }
        }
    }
}

/// A node's loaded TLS material: the CA to verify peers by, and its own certificate and key.
#[derive(Clone)]
pub struct Tls {
    ca: Certificate,
    ca_pem: Vec<u8>,
    identity: Identity,
    names: PeerNames,
    /// The certificate chain and key as read, for servers other than gRPC (the web pages).
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("names", &self.names).finish()
    }
}

/// The largest certificate or key file read: PEM files are a few KiB; a path naming a device
/// or a huge file is refused instead of read without end.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

fn read(field: &str, path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read;
    let fail = |source| TlsError::Read {
        field: field.to_owned(),
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(fail(std::io::Error::other(format!(
            "larger than {MAX_PEM_BYTES} bytes: not a PEM file"
        ))));
    }
    Ok(bytes)
}

/// The DER certificates of a PEM text.
fn certificates(pem_text: &[u8]) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem_text)
        .filter_map(Result::ok)
        .filter(|p| p.label == "CERTIFICATE")
        .map(|p| p.contents)
        .collect()
}

/// The first certificate of the PEM text read from `path` for `field`, as DER.
fn first_certificate(field: &str, path: &Path, pem_text: &[u8]) -> Result<Vec<u8>, TlsError> {
    certificates(pem_text)
        .into_iter()
        .next()
        .ok_or_else(|| TlsError::NoPem {
            field: field.to_owned(),
            path: path.to_owned(),
            what: "certificate",
        })
}

/// Parses the DER certificate read from `path` for `field`.
fn parse_certificate<'a>(
    field: &str,
    path: &Path,
    der: &'a [u8],
) -> Result<x509_parser::certificate::X509Certificate<'a>, TlsError> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| TlsError::BadCertificate {
            field: field.to_owned(),
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

impl Tls {
    /// Reads and checks the files of a `[tls]` table named `table` (e.g. `tls`): the CA and the
    /// certificate must parse, the certificate must be signed by the CA, the key must be PEM.
    pub fn load(table: &str, files: &TlsFiles) -> Result<Self, TlsError> {
        let field = |k: &str| format!("{table}.{k}");
        let ca_pem = read(&field("ca"), &files.ca)?;
        let cert_pem = read(&field("cert"), &files.cert)?;
        let key_pem = read(&field("key"), &files.key)?;
        let ca_der = first_certificate(&field("ca"), &files.ca, &ca_pem)?;
        let ca = parse_certificate(&field("ca"), &files.ca, &ca_der)?;
        let leaf_der = first_certificate(&field("cert"), &files.cert, &cert_pem)?;
        let leaf = parse_certificate(&field("cert"), &files.cert, &leaf_der)?;
        leaf.verify_signature(Some(ca.public_key()))
            .map_err(|_| TlsError::NotSignedByCa {
                field: field("cert"),
                path: files.cert.clone(),
                ca: files.ca.clone(),
            })?;
        let names = PeerNames::of_der(&leaf_der).map_err(|reason| TlsError::BadCertificate {
            field: field("cert"),
            path: files.cert.clone(),
            reason,
        })?;
        let has_key = x509_parser::pem::Pem::iter_from_buffer(&key_pem)
            .filter_map(Result::ok)
            .any(|p| p.label.ends_with("PRIVATE KEY"));
        if !has_key {
            return Err(TlsError::NoPem {
                field: field("key"),
                path: files.key.clone(),
                what: "private key",
            });
        }
        Ok(Self {
            ca: Certificate::from_pem(&ca_pem),
            ca_pem,
            identity: Identity::from_pem(&cert_pem, &key_pem),
            names,
            cert_pem,
            key_pem,
        })
    }

    /// This node's certificate chain and private key as PEM text, for the HTTPS pages it serves
    /// with the same certificate as its gRPC port.
    pub fn identity_pem(&self) -> (&[u8], &[u8]) {
        (&self.cert_pem, &self.key_pem)
    }

    /// What this node's own certificate names.
    pub fn names(&self) -> &PeerNames {
        &self.names
    }

    /// The server side: this node's certificate, and client certificates verified against the
    /// CA when presented (operators and tools present none and authenticate with a token; the
    /// services that need a peer certificate check for one).
    pub fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity.clone())
            .client_ca_root(self.ca.clone())
            .client_auth_optional(true)
    }

    /// The client side: verify the server against the CA, check that it is the `expected` peer,
    /// and present this node's certificate.
    pub fn client(&self, expected: Expected) -> Result<ClientTls, TlsError> {
        PeerTls::new(
            &self.ca_pem,
            Some((&self.cert_pem, &self.key_pem)),
            expected,
        )
        .map(ClientTls::Tls)
    }
}

/// A client's view of transport security: plaintext, or TLS with a CA, the peer expected and,
/// for a node or a replica, its own certificate.
#[derive(Debug, Clone, Default)]
pub enum ClientTls {
    /// Plaintext HTTP/2: local development only.
    #[default]
    Plaintext,
    Tls(PeerTls),
}

impl ClientTls {
    /// A client that verifies servers against the CA certificate in `ca_pem`, accepts any
    /// renkei node or replica, and presents no certificate of its own (an operator's tool).
    pub fn verify_with(ca_pem: &[u8]) -> Result<Self, TlsError> {
        PeerTls::new(ca_pem, None, Expected::Peer).map(ClientTls::Tls)
    }

    /// A client that verifies servers against the CA certificate in `ca_pem`, expects
    /// `expected`, and presents the certificate and key of `identity` (a node or a replica).
    pub fn mutual(ca_pem: &[u8], identity: &Issued, expected: Expected) -> Result<Self, TlsError> {
        PeerTls::new(
            ca_pem,
            Some((identity.cert_pem.as_bytes(), identity.key_pem.as_bytes())),
            expected,
        )
        .map(ClientTls::Tls)
    }

    /// The same client expecting another peer (plaintext stays plaintext).
    pub fn expecting(&self, expected: Expected) -> Result<Self, TlsError> {
        match self {
            ClientTls::Plaintext => Ok(ClientTls::Plaintext),
            ClientTls::Tls(tls) => tls.expecting(expected).map(ClientTls::Tls),
        }
    }

    /// The same client, narrowed to replica `node_id` when it expects a prefecture's replicas
    /// (a Raft peer dials one replica by id); otherwise unchanged.
    pub fn to_replica(&self, node_id: u64) -> Result<Self, TlsError> {
        match self {
            ClientTls::Tls(tls) => match tls.expected() {
                Expected::Replica { prefecture, .. } => self.expecting(Expected::Replica {
                    prefecture,
                    node_id: Some(node_id),
                }),
                _ => Ok(self.clone()),
            },
            ClientTls::Plaintext => Ok(ClientTls::Plaintext),
        }
    }

    /// A dial to `address` (`host:port`): the endpoint's settings, then a channel over TLS
    /// when configured. (There is deliberately no way to get at a bare endpoint: connecting one
    /// would skip the TLS and the peer check.)
    pub fn dial(&self, address: &str) -> Result<Dial, tonic::transport::Error> {
        Ok(Dial {
            endpoint: Endpoint::from_shared(format!("http://{address}"))?,
            tls: self.clone(),
        })
    }
}

/// An endpoint and the TLS it will be connected with; made by [`ClientTls::dial`].
#[derive(Debug, Clone)]
pub struct Dial {
    endpoint: Endpoint,
    tls: ClientTls,
}

impl Dial {
    /// Sets the endpoint's options (timeouts, keep-alive, …).
    pub fn configure(self, f: impl FnOnce(Endpoint) -> Endpoint) -> Self {
        Self {
            endpoint: f(self.endpoint),
            ..self
        }
    }

    /// A channel that connects on first use.
    pub fn connect_lazy(&self) -> Channel {
        match &self.tls {
            ClientTls::Plaintext => self.endpoint.connect_lazy(),
            ClientTls::Tls(tls) => self.endpoint.connect_with_connector_lazy(tls.connector()),
        }
    }

    /// A channel, connected now.
    pub async fn connect(&self) -> Result<Channel, tonic::transport::Error> {
        match &self.tls {
            ClientTls::Plaintext => self.endpoint.connect().await,
            ClientTls::Tls(tls) => self.endpoint.connect_with_connector(tls.connector()).await,
        }
    }
}

/// How a node or replica talks to its peers, as configured: `[tls]`, or `plaintext = true`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// No TLS: explicitly configured, for local development only.
    #[default]
    Plaintext,
    /// Mutual TLS with these files.
    Tls(TlsFiles),
}

impl Transport {
    /// Validates the `plaintext` key and the `[tls]` table of a configuration, pushing each
    /// problem (naming the key) onto `problems`. `required`: one of the two must be given (a
    /// component that talks to other machines); otherwise plaintext is the default. The files
    /// are read and checked; `check` may add rules about the certificate's names.
    pub fn from_config(
        plaintext: Option<bool>,
        tls: Option<TlsFiles>,
        required: bool,
        problems: &mut Vec<String>,
        check: impl FnOnce(&PeerNames, &TlsFiles, &mut Vec<String>),
    ) -> Transport {
        match (plaintext, tls) {
            (Some(true), Some(_)) => {
                problems
                    .push("plaintext: true, but a [tls] table is given too: choose one".to_owned());
                Transport::Plaintext
            }
            (_, Some(files)) => {
                match Tls::load("tls", &files) {
                    Ok(tls) => check(tls.names(), &files, problems),
                    Err(e) => problems.push(e.to_string()),
                }
                Transport::Tls(files)
            }
            (Some(true), None) => Transport::Plaintext,
            (Some(false), None) if required => {
                problems.push(
                    "tls: plaintext = false but no [tls] table: set tls.ca, tls.cert and tls.key"
                        .to_owned(),
                );
                Transport::Plaintext
            }
            (None, None) if required => {
                problems.push(
                    "tls: missing: set tls.ca, tls.cert and tls.key (see `renkei certs`), or \
                     plaintext = true for local development"
                        .to_owned(),
                );
                Transport::Plaintext
            }
            (_, None) => Transport::Plaintext,
        }
    }

    /// Loads the TLS material, if configured (the files were checked at validation, but may
    /// have changed since).
    pub fn load(&self) -> Result<Option<Tls>, TlsError> {
        match self {
            Transport::Plaintext => Ok(None),
            Transport::Tls(files) => Tls::load("tls", files).map(Some),
        }
    }
}

/// What a development certificate is for.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A municipal node speaking for these municipalities.
    Node {
        municipalities: Vec<MunicipalityCode>,
    },
    /// Replica `node_id` of `prefecture`'s cluster.
    Replica {
        prefecture: PrefectureCode,
        node_id: u64,
    },
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A development certificate authority: issues node and replica certificates.
pub struct DevCa {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for DevCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevCa").finish_non_exhaustive()
    }
}

fn issue_err(e: rcgen::Error) -> TlsError {
    TlsError::Issue(e.to_string())
}

impl DevCa {
    /// A new CA with a fresh key, valid for ten years.
    pub fn generate(name: &str) -> Result<Self, TlsError> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "renkei");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, 3650);
        let key = KeyPair::generate().map_err(issue_err)?;
        let cert = params.self_signed(&key).map_err(issue_err)?;
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA from its certificate and key (PEM), to issue more certificates.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        let key = KeyPair::from_pem(key_pem).map_err(issue_err)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).map_err(issue_err)?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer,
        })
    }

    /// The CA's certificate (PEM): what every node trusts.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key (PEM): keep it off the nodes.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues a certificate for `subject`, valid for `hosts` (DNS names or IP addresses the
    /// holder serves on) for `days` days; usable as server and as client certificate.
    pub fn issue(
        &self,
        subject: &Subject,
        hosts: &[String],
        days: u32,
    ) -> Result<Issued, TlsError> {
        let mut params = CertificateParams::default();
        let (common_name, uris): (String, Vec<String>) = match subject {
            Subject::Node { municipalities } => {
                if municipalities.is_empty() {
                    return Err(TlsError::BadName {
                        value: String::new(),
                        reason: "a node certificate names at least one municipality".into(),
                    });
                }
                let codes: Vec<String> = municipalities.iter().map(ToString::to_string).collect();
                (
                    format!("renkei node {}", codes.join(",")),
                    codes
                        .iter()
                        .map(|c| format!("{MUNICIPALITY_URI}{c}"))
                        .collect(),
                )
            }
            Subject::Replica {
                prefecture,
                node_id,
            } => (
                format!("renkei replica {prefecture}-{node_id}"),
                vec![format!("{REPLICA_URI}{prefecture}:{node_id}")],
            ),
        };
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "renkei");
        for uri in uris {
            let value = uri.clone();
            params
                .subject_alt_names
                .push(SanType::URI(uri.try_into().map_err(|_| {
                    TlsError::BadName {
                        value,
                        reason: "not an ASCII URI".into(),
                    }
                })?));
        }
        for host in hosts {
            let san = match host.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => {
                    let bad = || TlsError::BadName {
                        value: host.clone(),
                        reason: "not a DNS name or an IP address".into(),
                    };
                    let dns_like = !host.is_empty()
                        && host.len() <= 253
                        && host.split('.').all(|label| {
                            !label.is_empty()
                                && label.len() <= 63
                                && label
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
                        });
                    if !dns_like {
                        return Err(bad());
                    }
                    SanType::DnsName(host.clone().try_into().map_err(|_| bad())?)
                }
            };
            params.subject_alt_names.push(san);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, days);
        let key = KeyPair::generate().map_err(issue_err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(issue_err)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Valid from a day ago (clock skew between machines) for `days` days.
fn set_validity(params: &mut CertificateParams, days: u32) {
    let now = rcgen::date_time_ymd(1970, 1, 1)
        + std::time::Duration::from_secs(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
    params.not_before = now - std::time::Duration::from_secs(86_400);
    params.not_after = now + std::time::Duration::from_secs(86_400 * u64::from(days));
}

/// The hosts a development certificate is valid for when none are given: this machine.
pub fn local_hosts() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> MunicipalityCode {
        s.parse().unwrap()
    }

    #[test]
    fn a_node_certificate_names_its_municipalities_and_a_replica_certificate_its_replica() {
        let ca = DevCa::generate("test CA").unwrap();
        let node = ca
            .issue(
                &Subject::Node {
                    municipalities: vec![code("162019"), code("162027")],
                },
                &local_hosts(),
                30,
            )
            .unwrap();
        let der = certificates(node.cert_pem.as_bytes());
        let names = PeerNames::of_der(&der[0]).unwrap();
        assert_eq!(names.municipalities, vec![code("162019"), code("162027")]);
        assert_eq!(names.replica, None);
        assert_eq!(names.common_name, "renkei node 162019,162027");

        let replica = ca
            .issue(
                &Subject::Replica {
                    prefecture: "16".parse().unwrap(),
                    node_id: 3,
                },
                &local_hosts(),
                30,
            )
            .unwrap();
        let der = certificates(replica.cert_pem.as_bytes());
        let names = PeerNames::of_der(&der[0]).unwrap();
        assert!(names.municipalities.is_empty());
        assert_eq!(names.replica, Some(("16".parse().unwrap(), 3)));
    }

    #[test]
    fn loading_checks_the_certificate_is_signed_by_the_ca_and_names_the_field() {
        let dir = std::env::temp_dir().join(format!("renkei-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = DevCa::generate("test CA").unwrap();
        let other = DevCa::generate("another CA").unwrap();
        let subject = Subject::Node {
            municipalities: vec![code("162019")],
        };
        let good = ca.issue(&subject, &local_hosts(), 30).unwrap();
        let foreign = other.issue(&subject, &local_hosts(), 30).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.cert_pem()).unwrap();
        std::fs::write(dir.join("good.pem"), &good.cert_pem).unwrap();
        std::fs::write(dir.join("good.key"), &good.key_pem).unwrap();
        std::fs::write(dir.join("foreign.pem"), &foreign.cert_pem).unwrap();
        let files = |cert: &str| TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join(cert),
            key: dir.join("good.key"),
        };
        let tls = Tls::load("tls", &files("good.pem")).unwrap();
        assert_eq!(tls.names().municipalities, vec![code("162019")]);
        let err = Tls::load("tls", &files("foreign.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("tls.cert:") && err.contains("not signed by the CA"),
            "{err}"
        );
        let err = Tls::load("tls", &files("missing.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("tls.cert:") && err.contains("missing.pem"),
            "{err}"
        );
        let mut no_key = files("good.pem");
        no_key.key = dir.join("good.pem");
        let err = Tls::load("tls", &no_key).unwrap_err().to_string();
        assert!(
            err.starts_with("tls.key:") && err.contains("private key"),
            "{err}"
        );

        // Issuing from a CA read back from its PEM works and chains to the same CA.
        let again = DevCa::from_pem(ca.cert_pem(), ca.key_pem()).unwrap();
        let later = again.issue(&subject, &local_hosts(), 30).unwrap();
        std::fs::write(dir.join("later.pem"), &later.cert_pem).unwrap();
        std::fs::write(dir.join("later.key"), &later.key_pem).unwrap();
        let mut files = files("later.pem");
        files.key = dir.join("later.key");
        Tls::load("tls", &files).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn malformed_renkei_names_are_refused() {
        let mut names = PeerNames::default();
        assert!(names.add_uri("urn:renkei:municipality:162018").is_err());
        assert!(names.add_uri("urn:renkei:replica:16").is_err());
        assert!(names.add_uri("urn:renkei:replica:99:1").is_err());
        assert!(names.add_uri("https://example.org/").is_ok());
    }

    #[test]
    fn hosts_must_be_dns_names_or_ip_addresses() {
        let ca = DevCa::generate("test CA").unwrap();
        let subject = Subject::Replica {
            prefecture: "16".parse().unwrap(),
            node_id: 1,
        };
        for good in [
            "localhost",
            "pref1.example.lg.jp",
            "10.0.0.11",
            "::1",
            "*.example.org",
        ] {
            ca.issue(&subject, &[good.to_owned()], 1).unwrap();
        }
        for bad in ["not a host", "", "a..b", "host_name"] {
            let err = ca.issue(&subject, &[bad.to_owned()], 1).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }
}
