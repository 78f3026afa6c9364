//! The replica's configuration: a TOML file, then `RENKEI_PREFECTURE_*` environment variables,
//! then command-line flags, each overriding the one before. Unknown keys are refused. Validation
//! collects every problem at once, each naming the key and the value.
//!
//! Raft timing. The disk of the reference machine fsyncs a 4 KiB write in 0.2–4 ms depending on
//! the load of its neighbours (`dd oflag=dsync`, and the benchmark's raw fsync phase), and a
//! committed write costs one fsync on the leader and one on a follower plus a loopback round
//! trip: the benchmark measured commit latency p50 2.2 ms / p99 14 ms for single facts and p50
//! 14 ms / p99 33 ms for batches of 1,000 facts (one writer).
//! - openraft 0.9 bounds every AppendEntries RPC by the heartbeat interval, so the heartbeat
//!   must exceed the time to encode, send and fsync one replication message: 80 ms, with at
//!   most 4 entries and [`crate::network::MAX_APPEND_BYTES`] (1 MiB) per message;
//! - openraft's FAQ asks for an election timeout of at least 10× the append latency: 200 ms is
//!   ≥ 10× the single-fact p99 (2–7 ms) and the batched p99 (11–13 ms) the benchmark measures.
//!   Each replica draws its timeout from 200–320 ms. A voter refuses a candidate while the
//!   leader's lease (openraft: the maximum election timeout since the last heartbeat) runs, so
//!   a follower stands only after lease + its own timeout (520–640 ms of silence) and a failover
//!   (leader lost → next write committed) adds a vote round and the client's retry: the
//!   benchmark measures a median of 0.7–0.8 s. (250–450 ms with a 100 ms heartbeat gave
//!   0.84–0.97 s; 500–1000 ms gave 1.8 s; 300–600 ms gave 1.1 s.) The benchmark also counts
//!   leader changes during its write phases (single writes from 1 and 12 writers, batches of
//!   1,000 from 4): none at these settings, 6.5 heartbeats being missed before any follower
//!   stands.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use renkei_proto::PrefectureCode;
use renkei_proto::tls::Transport;
use serde::{Deserialize, Serialize};

use crate::types::NodeId;

/// The prefix of environment variables that override the file, e.g. `RENKEI_PREFECTURE_LISTEN`.
pub const ENV_PREFIX: &str = "RENKEI_PREFECTURE_";

/// The default address the replica listens on.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7501";
/// The default heartbeat interval, in milliseconds.
pub const DEFAULT_HEARTBEAT_MS: u64 = 80;
/// The default lower bound of the election timeout, in milliseconds.
pub const DEFAULT_ELECTION_TIMEOUT_MIN_MS: u64 = 200;
/// The default upper bound of the election timeout, in milliseconds.
pub const DEFAULT_ELECTION_TIMEOUT_MAX_MS: u64 = 320;
/// The default number of log entries after which a snapshot is built (and the log purged).
pub const DEFAULT_SNAPSHOT_AFTER_LOGS: u64 = 5000;

/// The configuration as written: every key optional, nothing validated yet.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// This replica's node id (a positive integer, never reused).
    pub node_id: Option<u64>,
    /// Address of the gRPC port (peers, clients, admin, health, reflection).
    pub listen: Option<String>,
    /// The address peers and clients reach this replica at; defaults to the bound address.
    pub advertise: Option<String>,
    /// Where to dial a peer instead of the address it advertises, by its node id, e.g.
    /// `peer_routes = { "2" = "10.0.0.7:7501" }` (a tunnel, or a test's network proxy). Peers not
    /// named are dialled at their advertised address.
    #[serde(default)]
    pub peer_routes: BTreeMap<String, String>,
    /// Directory of the RocksDB database.
    pub data_dir: Option<PathBuf>,
    /// The prefecture (2-digit code) whose municipalities this cluster serves.
    pub prefecture: Option<PrefectureEntry>,
    pub heartbeat_ms: Option<u64>,
    pub election_timeout_min_ms: Option<u64>,
    pub election_timeout_max_ms: Option<u64>,
    /// Build a snapshot (and purge the log behind it) after this many applied entries.
    pub snapshot_after_logs: Option<u64>,
    /// `text` (default) or `json`.
    pub log_format: Option<String>,
    /// Who may call the `Federation` service, and for which municipalities. Empty: anyone may
    /// speak for any municipality of the prefecture (development only; a warning is logged).
    #[serde(default)]
    pub callers: Vec<RawCaller>,
    /// Address of the Prometheus endpoint (`GET /metrics`); none when unset.
    pub metrics_listen: Option<String>,
    /// Serve `/metrics` on an address other machines can reach (it has no authentication).
    pub metrics_public: Option<bool>,
    /// Address of the prefecture console (web pages for officers, HTTPS under `[tls]`); off when
    /// unset. Signing in needs `[[callers]]` of role viewer or above.
    pub web_listen: Option<String>,
    /// OTLP/gRPC endpoint spans are exported to, e.g. `http://127.0.0.1:4317`; none when unset.
    pub otlp_endpoint: Option<String>,
    /// The municipalities the survey counts (n); empty or unset: every municipality of the
    /// prefecture on the official list.
    #[serde(default)]
    pub survey_scope: Vec<String>,
    /// Serve without `[[callers]]` on an address other machines can reach: development only.
    /// Without it, such a replica refuses to start.
    pub open: Option<bool>,
    /// Serve and call peers without TLS: local development only. Either this or `[tls]`.
    pub plaintext: Option<bool>,
    /// Mutual TLS with nodes, peers and tools: the CA, this replica's certificate (naming
    /// `urn:renkei:replica:{prefecture}:{node_id}`) and its key.
    pub tls: Option<renkei_proto::tls::TlsFiles>,
}

/// A caller of the `Federation` service as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCaller {
    /// A name for logs and errors, e.g. the node's host name.
    pub name: Option<String>,
    /// The bearer token the caller presents (at least 32 random-looking characters). Prefer `token_sha256`.
    pub token: Option<String>,
    /// The SHA-256 of the token, 64 hex digits: the configuration then holds no secret
    /// (`printf %s "$TOKEN" | sha256sum`).
    pub token_sha256: Option<String>,
    /// `node` (a municipal node: speaks for `municipalities`), `viewer` (queries and exports),
    /// `operator` (also approvals, forms, designations, regions, meetings, publishing down) or
    /// `admin` (also cluster membership and backups). Default: `node`, or `operator` with
    /// `publish = true`.
    pub role: Option<String>,
    /// The municipalities (6-digit codes) the caller may speak for.
    #[serde(default)]
    pub municipalities: Vec<String>,
    /// Kept for older configurations: `publish = true` means `role = "operator"`.
    #[serde(default)]
    pub publish: bool,
}

/// What a caller may do; each role may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A municipal node: pushes and reads the facts of its municipalities, pulls items down,
    /// submits their surveys.
    Node,
    /// Reads tallies, exports, completeness, (ク) views, cluster status.
    Viewer,
    /// Also reviews submissions, sets regions, records wide-area meetings, publishes down.
    Operator,
    /// Also changes cluster membership and takes backups.
    Admin,
}

impl Role {
    fn parse(text: &str) -> Option<Role> {
        match text {
            "node" => Some(Role::Node),
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A validated caller of the `Federation` service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub name: String,
    /// The SHA-256 of the caller's token; never printed (`--check-config` shows the callers
    /// without it).
    #[serde(skip_serializing)]
    pub token_digest: [u8; 32],
    pub municipalities: Vec<renkei_proto::MunicipalityCode>,
    pub role: Role,
}

impl Caller {
    /// A caller with a clear-text token (tests and tools that write configurations).
    pub fn with_token(
        name: &str,
        token: &str,
        municipalities: Vec<renkei_proto::MunicipalityCode>,
        role: Role,
    ) -> Self {
        Self {
            name: name.to_owned(),
            token_digest: token_digest(token),
            municipalities,
            role,
        }
    }
}

/// The SHA-256 of a bearer token, as callers are looked up.
pub use renkei_proto::server::access::token_digest;

/// A prefecture code as written: a string, or a number when an environment variable held digits
/// only (the leading zero is restored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum PrefectureEntry {
    Text(String),
    Number(u64),
}

impl PrefectureEntry {
    fn as_text(&self) -> String {
        match self {
            PrefectureEntry::Text(s) => s.clone(),
            PrefectureEntry::Number(n) => format!("{n:02}"),
        }
    }
}

/// Values from the command line, which override the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub node_id: Option<u64>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub prefecture: Option<String>,
    /// `--plaintext`: sets `plaintext = true` (local development).
    pub plaintext: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration a replica runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrefectureConfig {
    pub node_id: NodeId,
    pub listen: SocketAddr,
    pub advertise: Option<String>,
    /// Where to dial peers instead of their advertised addresses (`peer_routes`).
    #[serde(serialize_with = "keys_as_text")]
    pub peer_routes: BTreeMap<NodeId, String>,
    pub data_dir: PathBuf,
    pub prefecture: PrefectureCode,
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    pub snapshot_after_logs: u64,
    pub log_format: LogFormat,
    /// Empty: the `Federation` service is open to any caller (development).
    pub callers: Vec<Caller>,
    /// `None`: no metrics endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// `None`: no console.
    pub web_listen: Option<SocketAddr>,
    /// `None`: traces are not exported.
    pub otlp_endpoint: Option<String>,
    /// Empty: the official list of the prefecture.
    pub survey_scope: Vec<renkei_proto::MunicipalityCode>,
    /// Mutual TLS, or plaintext when explicitly configured.
    pub transport: Transport,
}

/// Writes a map keyed by node id with text keys, as TOML tables need.
fn keys_as_text<S: serde::Serializer>(
    map: &BTreeMap<NodeId, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(map.iter().map(|(k, v)| (k.to_string(), v)))
}

impl PrefectureConfig {
    /// Returns a configuration with the defaults, for tests and tools that start replicas.
    pub fn new(node_id: NodeId, data_dir: PathBuf, prefecture: PrefectureCode) -> Self {
        Self {
            node_id,
            // A literal address: cannot fail to parse.
            listen: DEFAULT_LISTEN.parse().expect("a valid default address"),
            advertise: None,
            peer_routes: BTreeMap::new(),
            data_dir,
            prefecture,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            election_timeout_min_ms: DEFAULT_ELECTION_TIMEOUT_MIN_MS,
            election_timeout_max_ms: DEFAULT_ELECTION_TIMEOUT_MAX_MS,
            snapshot_after_logs: DEFAULT_SNAPSHOT_AFTER_LOGS,
            log_format: LogFormat::Text,
            callers: Vec::new(),
            metrics_listen: None,
            web_listen: None,
            otlp_endpoint: None,
            survey_scope: Vec::new(),
            transport: Transport::Plaintext,
        }
    }

    /// Returns the configuration as TOML, as `--check-config` prints it.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// Parses and validates a configuration given as TOML text alone (no environment, no flags):
/// what `--check-config` does with a file, for tools and the fuzz target `config`.
pub fn from_toml(text: &str) -> Result<PrefectureConfig, Vec<String>> {
    validate(extract(Figment::new().merge(Toml::string(text)))?)
}

/// The raw configuration a figment holds, or every problem reading it.
fn extract(figment: Figment) -> Result<RawConfig, Vec<String>> {
    figment
        .extract()
        .map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
}

/// Reads the file (if any) and the environment, applies the overrides and validates the result.
/// On failure, returns every problem found.
pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<PrefectureConfig, Vec<String>> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        if !path.is_file() {
            return Err(vec![format!(
                "config file {}: not found or not a file",
                path.display()
            )]);
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment.merge(Env::prefixed(ENV_PREFIX));
    let mut raw = extract(figment)?;
    if let Some(id) = overrides.node_id {
        raw.node_id = Some(id);
    }
    if let Some(listen) = &overrides.listen {
        raw.listen = Some(listen.clone());
    }
    if let Some(dir) = &overrides.data_dir {
        raw.data_dir = Some(dir.clone());
    }
    if overrides.plaintext {
        raw.plaintext = Some(true);
    }
    if let Some(code) = &overrides.prefecture {
        raw.prefecture = Some(PrefectureEntry::Text(code.clone()));
    }
    validate(raw)
}

/// Validates a raw configuration, collecting every problem.
pub fn validate(raw: RawConfig) -> Result<PrefectureConfig, Vec<String>> {
    let mut problems = Vec::new();
    let node_id = match raw.node_id {
        None => {
            problems.push(format!(
                "node_id: missing (set it in the config file, {ENV_PREFIX}NODE_ID or --node-id)"
            ));
            None
        }
        Some(0) => {
            problems.push("node_id: 0 is not allowed (ids start at 1)".to_owned());
            None
        }
        Some(id) => Some(id),
    };
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen = listen_text
        .parse::<SocketAddr>()
        .map_err(|_| {
            problems.push(format!(
                "listen: {listen_text:?} is not an address such as 127.0.0.1:7501"
            ))
        })
        .ok();
    if let Some(advertise) = &raw.advertise
        && (advertise.is_empty() || !advertise.contains(':'))
    {
        problems.push(format!("advertise: {advertise:?} is not host:port"));
    }
    let mut peer_routes = BTreeMap::new();
    for (peer, address) in &raw.peer_routes {
        match peer.parse::<NodeId>() {
            Ok(id) if id > 0 && !address.is_empty() && address.contains(':') => {
                peer_routes.insert(id, address.clone());
            }
            Ok(id) if id > 0 => problems.push(format!(
                "peer_routes: {address:?} (for peer {peer}) is not host:port"
            )),
            _ => problems.push(format!(
                "peer_routes: {peer:?} is not a peer's node id (a positive integer)"
            )),
        }
    }
    let data_dir = match raw.data_dir {
        None => {
            problems.push(format!(
                "data_dir: missing (set it in the config file, {ENV_PREFIX}DATA_DIR or --data-dir)"
            ));
            None
        }
        Some(dir) => {
            if dir.exists() && !dir.is_dir() {
                problems.push(format!("data_dir: {} is not a directory", dir.display()));
            }
            Some(dir)
        }
    };
    let prefecture = match raw.prefecture {
        None => {
            problems.push(format!(
                "prefecture: missing (set it in the config file, {ENV_PREFIX}PREFECTURE or --prefecture)"
            ));
            None
        }
        Some(entry) => {
            let text = entry.as_text();
            text.parse::<PrefectureCode>()
                .map_err(|e| problems.push(format!("prefecture: {e}")))
                .ok()
        }
    };
    let heartbeat_ms = raw.heartbeat_ms.unwrap_or(DEFAULT_HEARTBEAT_MS);
    let min = raw
        .election_timeout_min_ms
        .unwrap_or(DEFAULT_ELECTION_TIMEOUT_MIN_MS);
    let max = raw
        .election_timeout_max_ms
        .unwrap_or(DEFAULT_ELECTION_TIMEOUT_MAX_MS);
    if heartbeat_ms == 0 {
        problems.push("heartbeat_ms: 0 is not allowed".to_owned());
    }
    if min <= heartbeat_ms * 2 {
        problems.push(format!(
            "election_timeout_min_ms: {min} must exceed twice heartbeat_ms ({heartbeat_ms})"
        ));
    }
    if max <= min {
        problems.push(format!(
            "election_timeout_max_ms: {max} must exceed election_timeout_min_ms ({min})"
        ));
    }
    let snapshot_after_logs = raw
        .snapshot_after_logs
        .unwrap_or(DEFAULT_SNAPSHOT_AFTER_LOGS);
    if snapshot_after_logs == 0 {
        problems.push("snapshot_after_logs: 0 is not allowed".to_owned());
    }
    let log_format = match raw.log_format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            problems.push(format!(
                "log_format: {other:?} is neither \"text\" nor \"json\""
            ));
            LogFormat::Text
        }
    };
    let mut callers = Vec::new();
    let mut tokens = std::collections::BTreeSet::new();
    for (i, c) in raw.callers.iter().enumerate() {
        let name = match c.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => {
                problems.push(format!("callers[{i}].name: missing"));
                String::new()
            }
        };
        let digest = renkei_proto::server::access::credential(
            &format!("callers[{i}]"),
            &name,
            c.token.as_deref(),
            c.token_sha256
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            &mut problems,
        );
        if let Some(d) = digest
            && !tokens.insert(d)
        {
            problems.push(format!(
                "callers[{i}].token: the same token is given to another caller ({name:?})"
            ));
        }
        let role = match c.role.as_deref() {
            None if c.publish => Role::Operator,
            None => Role::Node,
            Some(text) => match Role::parse(text) {
                Some(role) => role,
                None => {
                    problems.push(format!(
                        "callers[{i}].role: {text:?} is not node, viewer, operator or admin ({name:?})"
                    ));
                    Role::Node
                }
            },
        };
        let mut municipalities = Vec::new();
        for (j, code) in c.municipalities.iter().enumerate() {
            match code.parse::<renkei_proto::MunicipalityCode>() {
                Ok(m) => {
                    if let Some(p) = prefecture
                        && m.prefecture() != p
                    {
                        problems.push(format!(
                            "callers[{i}].municipalities[{j}]: {code} is not in prefecture {p}"
                        ));
                    }
                    municipalities.push(m);
                }
                Err(e) => problems.push(format!("callers[{i}].municipalities[{j}]: {e}")),
            }
        }
        callers.push(Caller {
            name,
            token_digest: digest.unwrap_or_default(),
            municipalities,
            role,
        });
    }
    let metrics_listen = raw.metrics_listen.as_ref().and_then(|text| {
        text.parse::<SocketAddr>()
            .map_err(|_| {
                problems.push(format!(
                    "metrics_listen: {text:?} is not an address such as 127.0.0.1:9501"
                ))
            })
            .ok()
    });
    if let Some(listen) = metrics_listen
        && let Some(problem) =
            renkei_proto::server::access::open_metrics(listen, raw.metrics_public == Some(true))
    {
        problems.push(problem);
    }
    let web_listen = raw.web_listen.as_ref().and_then(|text| {
        text.parse::<SocketAddr>()
            .map_err(|_| {
                problems.push(format!(
                    "web_listen: {text:?} is not an address such as 127.0.0.1:8501"
                ))
            })
            .ok()
    });
    if let Some(listen) = listen
        && let Some(problem) = renkei_proto::server::access::open_door(
            listen,
            raw.callers.is_empty(),
            raw.open == Some(true),
            "[[callers]]",
        )
    {
        problems.push(problem);
    }
    if web_listen.is_some() && !callers.iter().any(|c| c.role >= Role::Viewer) {
        problems.push(
            "web_listen: the console needs a [[callers]] entry of role viewer, operator or admin \
             to sign in with (none is configured)"
                .to_owned(),
        );
    }
    let otlp_endpoint = raw.otlp_endpoint.as_ref().and_then(|text| {
        renkei_proto::server::telemetry::validate_endpoint("otlp_endpoint", text)
            .map_err(|p| problems.push(p))
            .ok()
    });
    let mut survey_scope = Vec::new();
    for (i, code) in raw.survey_scope.iter().enumerate() {
        match code.parse::<renkei_proto::MunicipalityCode>() {
            Ok(m) if prefecture.is_some_and(|p| m.prefecture() != p) => problems.push(format!(
                "survey_scope[{i}]: {code} is not in prefecture {}",
                prefecture.map(|p| p.to_string()).unwrap_or_default()
            )),
            Ok(m) if survey_scope.contains(&m) => {
                problems.push(format!("survey_scope[{i}]: {code} is listed twice"))
            }
            Ok(m) => survey_scope.push(m),
            Err(e) => problems.push(format!("survey_scope[{i}]: {e}")),
        }
    }
    let transport = Transport::from_config(
        raw.plaintext,
        raw.tls,
        true,
        &mut problems,
        |names, files, problems| {
            if let (Some(p), Some(id)) = (prefecture, node_id)
                && names.replica != Some((p, id))
            {
                problems.push(format!(
                    "tls.cert: {} is not the certificate of replica {id} of prefecture {p} \
                     (it names {}; issue one with `renkei certs replica`)",
                    files.cert.display(),
                    match names.replica {
                        Some((p, id)) => format!("replica {id} of prefecture {p}"),
                        None => "no replica".to_owned(),
                    }
                ));
            }
        },
    );
    match (node_id, listen, data_dir, prefecture) {
        (Some(node_id), Some(listen), Some(data_dir), Some(prefecture)) if problems.is_empty() => {
            Ok(PrefectureConfig {
                node_id,
                listen,
                advertise: raw.advertise,
                peer_routes,
                data_dir,
                prefecture,
                heartbeat_ms,
                election_timeout_min_ms: min,
                election_timeout_max_ms: max,
                snapshot_after_logs,
                log_format,
                callers,
                metrics_listen,
                web_listen,
                otlp_endpoint,
                survey_scope,
                transport,
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawConfig {
        RawConfig {
            node_id: Some(1),
            data_dir: Some(std::env::temp_dir().join("renkei-prefecture-config-test")),
            prefecture: Some(PrefectureEntry::Text("16".into())),
            plaintext: Some(true),
            ..RawConfig::default()
        }
    }

    #[test]
    fn a_replica_reachable_from_other_machines_needs_callers_or_open() {
        let mut r = raw();
        r.listen = Some("0.0.0.0:7501".into());
        let all = validate(r.clone()).unwrap_err().join("\n");
        assert!(
            all.contains("[[callers]]: none configured while listen = 0.0.0.0:7501"),
            "{all}"
        );
        r.open = Some(true);
        validate(r.clone()).unwrap();
        r.open = None;
        r.listen = Some("127.0.0.1:7501".into());
        validate(r).unwrap();
        // the shipped example's tokens are placeholders
        let example = include_str!("../../ops/examples/prefecture.toml");
        let all = from_toml(example).unwrap_err().join("\n");
        for i in 0..3 {
            assert!(
                all.contains(&format!("callers[{i}].token: is a placeholder")),
                "{all}"
            );
        }
    }

    #[test]
    fn the_console_needs_a_caller_who_may_sign_in() {
        let mut r = raw();
        r.web_listen = Some("127.0.0.1:8501".into());
        let problems = validate(r.clone()).unwrap_err().join("\n");
        assert!(problems.contains("web_listen"), "{problems}");
        r.callers.push(RawCaller {
            name: Some("node".into()),
            token: Some("a-node-token-0123456789abcdefghijklmnop".into()),
            municipalities: vec!["162019".into()],
            ..RawCaller::default()
        });
        assert!(
            validate(r.clone()).is_err(),
            "a node's token does not sign in"
        );
        r.callers.push(RawCaller {
            name: Some("officer".into()),
            token: Some("an-officer-token-0123456789abcdefghijklmnop".into()),
            role: Some("viewer".into()),
            ..RawCaller::default()
        });
        let cfg = validate(r).unwrap();
        assert_eq!(cfg.web_listen.map(|a| a.port()), Some(8501));
        r = raw();
        r.web_listen = Some("nowhere".into());
        assert!(
            validate(r)
                .unwrap_err()
                .join("\n")
                .contains("web_listen: \"nowhere\"")
        );
    }

    #[test]
    fn peer_routes_name_a_peer_by_id_and_an_address() {
        let cfg = from_toml(
            "node_id = 1\ndata_dir = \"/tmp\"\nprefecture = \"16\"\nplaintext = true\n\
             peer_routes = { \"2\" = \"127.0.0.1:9002\" }\n",
        )
        .unwrap();
        assert_eq!(cfg.peer_routes[&2], "127.0.0.1:9002");
        assert!(
            cfg.to_toml().contains("127.0.0.1:9002"),
            "{}",
            cfg.to_toml()
        );
        let mut r = raw();
        r.peer_routes.insert("two".into(), "127.0.0.1:9002".into());
        r.peer_routes.insert("3".into(), "nowhere".into());
        let all = validate(r).unwrap_err().join("\n");
        assert!(
            all.contains("peer_routes: \"two\" is not a peer's node id"),
            "{all}"
        );
        assert!(
            all.contains("peer_routes: \"nowhere\" (for peer 3)"),
            "{all}"
        );
    }

    #[test]
    fn accepts_a_minimal_config_with_defaults() {
        let cfg = validate(raw()).unwrap();
        assert_eq!(cfg.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(cfg.election_timeout_min_ms, DEFAULT_ELECTION_TIMEOUT_MIN_MS);
        assert_eq!(cfg.prefecture.to_string(), "16");
    }

    #[test]
    fn names_every_problem_with_its_value() {
        let mut r = raw();
        r.node_id = Some(0);
        r.prefecture = Some(PrefectureEntry::Text("48".into()));
        r.listen = Some("nowhere".into());
        r.election_timeout_min_ms = Some(150);
        r.election_timeout_max_ms = Some(100);
        let all = validate(r).unwrap_err().join("\n");
        for needle in [
            "node_id: 0",
            "48",
            "nowhere",
            "150",
            "election_timeout_max_ms: 100",
        ] {
            assert!(all.contains(needle), "{needle} missing from:\n{all}");
        }
    }

    #[test]
    fn restores_the_leading_zero_of_a_numeric_prefecture() {
        let mut r = raw();
        r.prefecture = Some(PrefectureEntry::Number(1));
        assert_eq!(validate(r).unwrap().prefecture.to_string(), "01");
    }

    #[test]
    fn callers_have_roles_and_tokens_may_be_given_as_their_sha256() {
        let toml = r#"
node_id = 1
data_dir = "/tmp/x"
prefecture = "16"
plaintext = true
[[callers]]
name = "dc"
token = "node-token-0123456789abcdefghijklmnop"
municipalities = ["162019"]
[[callers]]
name = "office"
token = "office-token-0123456789abcdefghijklmnop"
publish = true
[[callers]]
name = "ops"
token_sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
role = "admin"
"#;
        let raw: RawConfig = Figment::new().merge(Toml::string(toml)).extract().unwrap();
        let cfg = validate(raw).unwrap();
        let roles: Vec<Role> = cfg.callers.iter().map(|c| c.role).collect();
        assert_eq!(roles, vec![Role::Node, Role::Operator, Role::Admin]);
        // sha256("test")
        assert_eq!(cfg.callers[2].token_digest, token_digest("test"));
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
        assert!(
            !cfg.to_toml().contains("token"),
            "no token printed: {}",
            cfg.to_toml()
        );
    }

    #[test]
    fn a_bad_role_or_digest_is_named() {
        let mut r = raw();
        r.callers = vec![
            RawCaller {
                name: Some("a".into()),
                token: Some("token-0123456789abcdefghijklmnop".into()),
                role: Some("root".into()),
                ..RawCaller::default()
            },
            RawCaller {
                name: Some("b".into()),
                token_sha256: Some("abc".into()),
                ..RawCaller::default()
            },
            RawCaller {
                name: Some("c".into()),
                token: Some("token-0123456789abcdefghijklmnop".into()),
                token_sha256: Some("ab".repeat(32)),
                ..RawCaller::default()
            },
        ];
        let problems = validate(r).unwrap_err().join("\n");
        assert!(problems.contains("callers[0].role: \"root\""), "{problems}");
        assert!(
            problems.contains("callers[1].token_sha256: \"abc\""),
            "{problems}"
        );
        assert!(
            problems.contains("callers[2]: give token or token_sha256, not both"),
            "{problems}"
        );
    }

    #[test]
    fn the_survey_scope_is_validated_naming_each_entry() {
        let mut r = raw();
        r.survey_scope = vec!["162019".into(), "162027".into()];
        assert_eq!(validate(r.clone()).unwrap().survey_scope.len(), 2);
        r.survey_scope = vec![
            "162019".into(),
            "131016".into(),
            "162018".into(),
            "162019".into(),
        ];
        let problems = validate(r).unwrap_err().join("\n");
        assert!(
            problems.contains("survey_scope[1]: 131016 is not in prefecture 16"),
            "{problems}"
        );
        assert!(problems.contains("survey_scope[2]"), "{problems}");
        assert!(
            problems.contains("survey_scope[3]: 162019 is listed twice"),
            "{problems}"
        );
    }

    #[test]
    fn refuses_unknown_keys() {
        let figment = Figment::new().merge(Toml::string("node_id = 1\nsurprise = 2\n"));
        assert!(figment.extract::<RawConfig>().is_err());
    }
}
