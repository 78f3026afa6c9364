//! The node's configuration: a TOML file, then `RENKEI_NODE_*` environment variables, then
//! command-line flags, each overriding the one before. Unknown keys are refused. Validation
//! collects every problem at once, each naming the key and the value.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use renkei_proto::{MunicipalityCode, official};
use serde::{Deserialize, Serialize};

/// The prefix of environment variables that override the file, e.g. `RENKEI_NODE_LISTEN`.
pub const ENV_PREFIX: &str = "RENKEI_NODE_";

/// The default address the node listens on.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7401";

/// The largest event payload accepted by default (1 MiB).
pub const DEFAULT_MAX_EVENT_BYTES: u64 = 1024 * 1024;

/// The upper bound of `max_event_bytes`; gRPC messages are limited to a little more.
pub const MAX_EVENT_BYTES_LIMIT: u64 = 16 * 1024 * 1024;

/// The configuration as written: every key optional, nothing validated yet.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address of the gRPC port (clients, health, reflection).
    pub listen: Option<String>,
    /// Directory of the RocksDB database.
    pub data_dir: Option<PathBuf>,
    /// The municipalities (6-digit codes) this node serves.
    #[serde(default)]
    pub municipalities: Vec<CodeEntry>,
    /// The largest event payload accepted, in bytes.
    pub max_event_bytes: Option<u64>,
    /// `text` (default) or `json`.
    pub log_format: Option<String>,
    /// File holding the master key (64 hex digits) that wraps the personal-data keys; default
    /// `<data_dir>/master.key`, created on first start. Keep it outside the data dir in production.
    pub master_key_file: Option<PathBuf>,
    /// Sync with the prefecture cluster; without it, facts wait in the outbox.
    pub sync: Option<RawSync>,
    /// Address of the Prometheus endpoint (`GET /metrics`); none when unset.
    pub metrics_listen: Option<String>,
    /// Serve `/metrics` on an address other machines can reach (it has no authentication).
    pub metrics_public: Option<bool>,
    /// Address of the municipal workspace (web pages for the town's staff, HTTPS under
    /// `[tls]`); none when unset. Needs `[[staff]]`: nothing is readable without signing in.
    pub web_listen: Option<String>,
    /// OTLP/gRPC endpoint spans are exported to, e.g. `http://127.0.0.1:4317`; none when unset.
    pub otlp_endpoint: Option<String>,
    /// Who may call the node ([`crate::access`]). Empty: anyone (development only).
    #[serde(default)]
    pub staff: Vec<RawStaff>,
    /// Serve without `[[staff]]` on an address other machines can reach: development only.
    /// Without it, such a node refuses to start.
    pub open: Option<bool>,
    /// Talk to the prefecture (and serve) without TLS: local development only. A node that
    /// syncs needs either this or `[tls]`.
    pub plaintext: Option<bool>,
    /// Mutual TLS: the CA, this node's certificate (naming every municipality it serves as
    /// `urn:renkei:municipality:{code}`) and its key. The node's own port serves TLS too.
    pub tls: Option<renkei_proto::tls::TlsFiles>,
}

/// A `[[staff]]` entry as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawStaff {
    /// A name for logs and errors.
    pub name: Option<String>,
    /// The bearer token (at least 32 random-looking characters; see [`crate::access::weak_token`]). Prefer `token_sha256`.
    pub token: Option<String>,
    /// The SHA-256 of the token, 64 hex digits (`printf %s "$TOKEN" | sha256sum`).
    pub token_sha256: Option<String>,
    /// `viewer`, `operator` or `admin`.
    pub role: Option<String>,
}

/// The `[sync]` table as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    /// The prefecture cluster's replicas (`host:port` of each `Federation` endpoint).
    #[serde(default)]
    pub prefecture: Vec<String>,
    /// The bearer token this node presents to the prefecture.
    pub token: Option<String>,
    /// The most facts one push carries (1 to 2,000; default 1,000).
    pub batch_facts: Option<usize>,
    /// How often items published down are pulled, in milliseconds (default 2,000).
    pub pull_interval_ms: Option<u64>,
}

/// The validated sync settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncConfig {
    pub prefecture: Vec<String>,
    /// Never printed by `--check-config`.
    #[serde(skip_serializing)]
    pub token: Option<String>,
    pub batch_facts: usize,
    pub pull_interval_ms: u64,
}

/// The default number of facts per push.
pub const DEFAULT_BATCH_FACTS: usize = 1_000;
/// The default interval between pulls of items published down, in milliseconds.
pub const DEFAULT_PULL_INTERVAL_MS: u64 = 2_000;

/// A municipality code as written: a string, or a number when an environment variable held
/// digits only (leading zeros are restored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum CodeEntry {
    Text(String),
    Number(u64),
}

impl CodeEntry {
    fn as_text(&self) -> String {
        match self {
            CodeEntry::Text(s) => s.clone(),
            CodeEntry::Number(n) => format!("{n:06}"),
        }
    }
}

/// Values from the command line, which override the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// When not empty, replaces the configured list.
    pub municipalities: Vec<String>,
    /// `--plaintext`: sets `plaintext = true` (local development).
    pub plaintext: bool,
    /// When not empty, replaces `sync.prefecture` (and enables sync).
    pub prefecture: Vec<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration the node runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub municipalities: Vec<MunicipalityCode>,
    pub max_event_bytes: u64,
    pub log_format: LogFormat,
    /// The master key file; `None` means `<data_dir>/master.key`.
    pub master_key_file: Option<PathBuf>,
    /// `None`: no sync; facts wait in the outbox.
    pub sync: Option<SyncConfig>,
    /// `None`: no metrics endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// `None`: no workspace (web pages).
    pub web_listen: Option<SocketAddr>,
    /// `None`: traces are not exported.
    pub otlp_endpoint: Option<String>,
    /// Empty: every caller may do everything (development only).
    pub staff: Vec<crate::access::StaffMember>,
    /// Mutual TLS with the prefecture (and TLS on the node's own port), or plaintext.
    pub transport: renkei_proto::tls::Transport,
}

impl NodeConfig {
    /// Returns the configuration as TOML, as `--check-config` prints it.
    pub fn to_toml(&self) -> String {
        // Every field is a string, number or list of strings: TOML can hold them all.
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// Parses and validates a configuration given as TOML text alone (no environment, no flags):
/// what `--check-config` does with a file, for tools and the fuzz target `config`.
pub fn from_toml(text: &str) -> Result<NodeConfig, Vec<String>> {
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
pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<NodeConfig, Vec<String>> {
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
    if let Some(listen) = &overrides.listen {
        raw.listen = Some(listen.clone());
    }
    if let Some(dir) = &overrides.data_dir {
        raw.data_dir = Some(dir.clone());
    }
    if overrides.plaintext {
        raw.plaintext = Some(true);
    }
    if !overrides.prefecture.is_empty() {
        raw.sync.get_or_insert_with(RawSync::default).prefecture = overrides.prefecture.clone();
    }
    if !overrides.municipalities.is_empty() {
        raw.municipalities = overrides
            .municipalities
            .iter()
            .cloned()
            .map(CodeEntry::Text)
            .collect();
    }
    validate(raw)
}

/// Validates a raw configuration, collecting every problem.
pub fn validate(raw: RawConfig) -> Result<NodeConfig, Vec<String>> {
    let mut problems = Vec::new();
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen = listen_text
        .parse::<SocketAddr>()
        .map_err(|_| {
            problems.push(format!(
                "listen: {listen_text:?} is not an address such as 127.0.0.1:7401"
            ))
        })
        .ok();

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
            } else if !dir.exists() {
                let parent = dir
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if !parent.is_dir() {
                    problems.push(format!(
                        "data_dir: {} cannot be created: {} is not a directory",
                        dir.display(),
                        parent.display()
                    ));
                }
            }
            Some(dir)
        }
    };

    let mut municipalities = Vec::new();
    if raw.municipalities.is_empty() {
        problems.push(
            "municipalities: empty (list the codes the node serves, or pass --municipality CODE)"
                .to_owned(),
        );
    }
    for (i, entry) in raw.municipalities.iter().enumerate() {
        let text = entry.as_text();
        match text.parse::<MunicipalityCode>() {
            Err(e) => problems.push(format!("municipalities[{i}]: {e}")),
            Ok(code) if official::municipality(code).is_none() => problems.push(format!(
                "municipalities[{i}]: {text:?} is not on the official list of municipalities"
            )),
            Ok(code) if municipalities.contains(&code) => {
                problems.push(format!("municipalities[{i}]: {text:?} is listed twice"))
            }
            Ok(code) => municipalities.push(code),
        }
    }

    let max_event_bytes = raw.max_event_bytes.unwrap_or(DEFAULT_MAX_EVENT_BYTES);
    if !(1..=MAX_EVENT_BYTES_LIMIT).contains(&max_event_bytes) {
        problems.push(format!(
            "max_event_bytes: {max_event_bytes} is outside 1..={MAX_EVENT_BYTES_LIMIT}"
        ));
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

    if let Some(path) = &raw.master_key_file
        && !path.is_file()
    {
        problems.push(format!("master_key_file: {} is not a file", path.display()));
    }

    let sync = raw.sync.map(|s| {
        if s.prefecture.is_empty() {
            problems.push(
                "sync.prefecture: empty (list the prefecture replicas' host:port)".to_owned(),
            );
        }
        for (i, address) in s.prefecture.iter().enumerate() {
            let ok = address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                problems.push(format!(
                    "sync.prefecture[{i}]: {address:?} is not host:port"
                ));
            }
        }
        if let Some(token) = &s.token
            && let Some(why) = crate::access::weak_token(token)
        {
            problems.push(format!("sync.token: {why}"));
        }
        let batch_facts = s.batch_facts.unwrap_or(DEFAULT_BATCH_FACTS);
        if !(1..=2_000).contains(&batch_facts) {
            problems.push(format!(
                "sync.batch_facts: {batch_facts} is outside 1..=2000"
            ));
        }
        let pull_interval_ms = s.pull_interval_ms.unwrap_or(DEFAULT_PULL_INTERVAL_MS);
        if pull_interval_ms == 0 {
            problems.push("sync.pull_interval_ms: 0 is not allowed".to_owned());
        }
        let mut prefectures: Vec<_> = municipalities.iter().map(|m| m.prefecture()).collect();
        prefectures.sort();
        prefectures.dedup();
        if prefectures.len() > 1 {
            problems.push(format!(
                "sync: the municipalities lie in {} prefectures ({}); a node syncs with one \
                 prefecture, so run one node per prefecture",
                prefectures.len(),
                prefectures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        SyncConfig {
            prefecture: s.prefecture,
            token: s.token,
            batch_facts,
            pull_interval_ms,
        }
    });

    let metrics_listen = raw.metrics_listen.as_ref().and_then(|text| {
        text.parse::<SocketAddr>()
            .map_err(|_| {
                problems.push(format!(
                    "metrics_listen: {text:?} is not an address such as 127.0.0.1:9401"
                ))
            })
            .ok()
    });
    if let Some(listen) = metrics_listen
        && let Some(problem) = crate::access::open_metrics(listen, raw.metrics_public == Some(true))
    {
        problems.push(problem);
    }

    let web_listen = raw.web_listen.as_ref().and_then(|text| {
        text.parse::<SocketAddr>()
            .map_err(|_| {
                problems.push(format!(
                    "web_listen: {text:?} is not an address such as 127.0.0.1:8401"
                ))
            })
            .ok()
    });
    if let Some(listen) = listen
        && let Some(problem) = crate::access::open_door(
            listen,
            raw.staff.is_empty(),
            raw.open == Some(true),
            "[[staff]]",
        )
    {
        problems.push(problem);
    }
    if web_listen.is_some() && raw.staff.is_empty() {
        problems.push(
            "web_listen: the workspace needs [[staff]] to sign in with (nothing is readable \
             without signing in)"
                .to_owned(),
        );
    }

    let otlp_endpoint = raw.otlp_endpoint.as_ref().and_then(|text| {
        crate::telemetry::validate_endpoint("otlp_endpoint", text)
            .map_err(|p| problems.push(p))
            .ok()
    });

    let mut staff = Vec::new();
    let mut digests = std::collections::BTreeSet::new();
    for (i, entry) in raw.staff.iter().enumerate() {
        let at = format!("staff[{i}]");
        let name = match entry.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => {
                problems.push(format!("{at}.name: missing"));
                String::new()
            }
        };
        let digest = crate::access::credential(
            &at,
            &name,
            entry.token.as_deref(),
            entry
                .token_sha256
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            &mut problems,
        );
        if let Some(d) = digest
            && !digests.insert(d)
        {
            problems.push(format!(
                "{at}.token: the same token is given to another entry ({name:?})"
            ));
        }
        let role = match entry.role.as_deref() {
            Some(text) => crate::access::StaffRole::parse(text).unwrap_or_else(|| {
                problems.push(format!(
                    "{at}.role: {text:?} is not viewer, operator or admin ({name:?})"
                ));
                crate::access::StaffRole::Viewer
            }),
            None => {
                problems.push(format!("{at}.role: missing ({name:?})"));
                crate::access::StaffRole::Viewer
            }
        };
        staff.push(crate::access::StaffMember {
            name,
            token_digest: digest.unwrap_or_default(),
            role,
        });
    }

    let transport = renkei_proto::tls::Transport::from_config(
        raw.plaintext,
        raw.tls,
        sync.is_some(),
        &mut problems,
        |names, files, problems| {
            for m in &municipalities {
                if !names.municipalities.contains(m) {
                    problems.push(format!(
                        "tls.cert: {} does not name municipality {m}, which this node serves \
                         (the prefecture would refuse its facts; issue one with `renkei certs node`)",
                        files.cert.display()
                    ));
                }
            }
        },
    );
    match (listen, data_dir) {
        (Some(listen), Some(data_dir)) if problems.is_empty() => Ok(NodeConfig {
            listen,
            data_dir,
            municipalities,
            max_event_bytes,
            log_format,
            master_key_file: raw.master_key_file,
            sync,
            metrics_listen,
            web_listen,
            otlp_endpoint,
            staff,
            transport,
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(codes: &[&str]) -> RawConfig {
        RawConfig {
            data_dir: Some(std::env::temp_dir().join("renkei-config-test")),
            municipalities: codes
                .iter()
                .map(|c| CodeEntry::Text(c.to_string()))
                .collect(),
            ..RawConfig::default()
        }
    }

    #[test]
    fn accepts_a_minimal_config_with_defaults() {
        let cfg = validate(raw(&["162019"])).unwrap();
        assert_eq!(cfg.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(cfg.max_event_bytes, DEFAULT_MAX_EVENT_BYTES);
        assert_eq!(cfg.log_format, LogFormat::Text);
    }

    #[test]
    fn the_workspace_needs_staff_to_sign_in_with() {
        let mut r = raw(&["162019"]);
        r.web_listen = Some("127.0.0.1:0".into());
        let problems = validate(r.clone()).unwrap_err();
        assert!(
            problems.iter().any(|p| p.starts_with("web_listen:")),
            "{problems:?}"
        );
        r.staff = vec![RawStaff {
            name: Some("clerk".into()),
            token: Some("clerk-token-0123456789abcdefghijklmnop".into()),
            token_sha256: None,
            role: Some("operator".into()),
        }];
        let cfg = validate(r.clone()).unwrap();
        assert_eq!(cfg.web_listen, Some("127.0.0.1:0".parse().unwrap()));
        r.web_listen = Some("nowhere".into());
        assert!(validate(r).unwrap_err()[0].contains("\"nowhere\""));
    }

    #[test]
    fn the_shipped_example_is_refused_until_its_placeholders_are_replaced() {
        let example = include_str!("../../ops/examples/node.toml");
        let all = from_toml(example).unwrap_err().join("\n");
        assert!(all.contains("sync.token: is a placeholder"), "{all}");
        assert!(
            all.contains("staff[0].token_sha256: is the example configurations' placeholder"),
            "{all}"
        );
        // and without its [[staff]] it would be open on 0.0.0.0: refused unless open = true
        let without_staff = example.split("[[staff]]").next().unwrap();
        let all = from_toml(without_staff).unwrap_err().join("\n");
        assert!(
            all.contains("[[staff]]: none configured while listen = 0.0.0.0:7401"),
            "{all}"
        );
        let open = format!("open = true\n{without_staff}");
        let all = from_toml(&open).unwrap_err().join("\n");
        assert!(!all.contains("[[staff]]: none configured"), "{all}");
    }

    #[test]
    fn names_every_problem_with_its_value() {
        let mut r = raw(&["162018", "162019", "162019", "999999"]);
        r.listen = Some("nowhere".into());
        r.max_event_bytes = Some(0);
        r.log_format = Some("xml".into());
        let problems = validate(r).unwrap_err();
        let all = problems.join("\n");
        for needle in [
            "162018",
            "listed twice",
            "999999",
            "nowhere",
            "max_event_bytes: 0",
            "xml",
        ] {
            assert!(all.contains(needle), "{needle} missing from:\n{all}");
        }
    }

    #[test]
    fn restores_leading_zeros_of_numeric_codes() {
        let mut r = raw(&[]);
        r.municipalities = vec![CodeEntry::Number(11002)];
        let cfg = validate(r).unwrap();
        assert_eq!(cfg.municipalities[0].to_string(), "011002");
    }
}
