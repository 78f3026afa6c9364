//! The workspace's one harness for multi-process tests: prefecture clusters of real
//! `renkei-prefecture` processes and municipal nodes of real `renkei-node` processes on loopback
//! (port 0), each with its own RocksDB directory. Processes can be killed with SIGKILL and
//! restarted on the same address with their data. Tests wait on predicates, never on fixed
//! sleeps.
//!
//! The tests of this crate run a federation talking mutual TLS with tokens ([`Cluster::start`],
//! [`Node::start`]); the prefecture's own tests (`federation/tests/`, a dev-dependency there)
//! prove Raft behaviour on an open plaintext cluster ([`Cluster::start_plaintext`]).
//!
//! Every process is started the same way ([`binary`], then its listening line): the binaries are
//! the workspace's own, found beside the test executable (`target/<profile>/`); `cargo test
//! --workspace` builds them before any test runs, and `cargo test -p renkei-federation` builds
//! `renkei-prefecture`.

pub mod browser;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use renkei_proto::tls::{ClientTls, DevCa, Issued, Subject, local_hosts};
use renkei_proto::v1::{self, ClusterAdminClient, FederationClient};
use tempfile::TempDir;
use tonic::transport::{Channel, Endpoint};

/// How long a predicate may take before the test fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// The prefecture of every test: 富山県.
pub const PREFECTURE: &str = "16";
/// 富山市 and 高岡市, hosted by the test node.
pub const TOYAMA_CITY: &str = "162019";
pub const TAKAOKA_CITY: &str = "162027";
/// 魚津市: in the prefecture, but not the test node's.
pub const UOZU_CITY: &str = "162043";

/// The token of the test node, allowed to speak for 富山市 and 高岡市.
pub const NODE_TOKEN: &str = "node-token-0123456789abcdefghijklmnop";
/// The token of a prefecture officer's tool (role `operator`: may publish, review, set regions).
pub const OFFICER_TOKEN: &str = "officer-token-0123456789abcdefghijklmnop";
/// The token of the cluster's administrator (role `admin`: membership, backups).
pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdefghijklmnop";
/// The token of a read-only tool (role `viewer`: queries and exports).
pub const VIEWER_TOKEN: &str = "viewer-token-0123456789abcdefghijklmnop";

/// The test federation's certificate authority (one per test process): every replica and node
/// the harness starts talks mutual TLS with certificates it issues ([`renkei_proto::tls`]).
pub struct Pki {
    dir: TempDir,
    ca: DevCa,
}

/// The process's test CA, created on first use.
pub fn pki() -> &'static Pki {
    static PKI: std::sync::OnceLock<Pki> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        let dir = TempDir::new().expect("a temporary directory");
        let ca = DevCa::generate("renkei test CA").expect("a test CA");
        std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).expect("write ca.pem");
        Pki { dir, ca }
    })
}

impl Pki {
    /// The CA certificate every process trusts.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// Issues a certificate for `subject` valid on loopback.
    pub fn issue(&self, subject: &Subject) -> Issued {
        self.ca
            .issue(subject, &local_hosts(), 2)
            .expect("issue a test certificate")
    }

    /// Writes a fresh certificate for `subject` under `dir` as `<base>.pem`/`<base>.key` and
    /// returns the `[tls]` table naming them.
    pub fn tls_table(&self, dir: &Path, base: &str, subject: &Subject) -> String {
        let issued = self.issue(subject);
        let (cert, key) = (
            dir.join(format!("{base}.pem")),
            dir.join(format!("{base}.key")),
        );
        std::fs::write(&cert, &issued.cert_pem).expect("write a certificate");
        std::fs::write(&key, &issued.key_pem).expect("write a key");
        format!(
            "[tls]\nca = {:?}\ncert = {:?}\nkey = {:?}\n",
            self.ca_path().display().to_string(),
            cert.display().to_string(),
            key.display().to_string()
        )
    }

    /// A client that verifies servers against the CA and presents no certificate (a tool).
    pub fn tool(&self) -> ClientTls {
        ClientTls::verify_with(self.ca.cert_pem().as_bytes()).expect("the CA's PEM")
    }

    /// A client presenting a node certificate naming `municipalities`.
    pub fn node_client(&self, municipalities: &[&str]) -> ClientTls {
        let municipalities = municipalities
            .iter()
            .map(|m| m.parse().expect("a municipality code"))
            .collect();
        self.client_for(&Subject::Node { municipalities })
    }

    /// A client presenting a certificate for `subject`, expecting a replica of the cluster (a
    /// node or a replica talking to the prefecture).
    pub fn client_for(&self, subject: &Subject) -> ClientTls {
        ClientTls::mutual(
            self.ca.cert_pem().as_bytes(),
            &self.issue(subject),
            renkei_proto::tls::Expected::Replica {
                prefecture: None,
                node_id: None,
            },
        )
        .expect("a certificate of the test CA")
    }
}

/// Connects to `address` with `tls`.
pub async fn connect(address: &str, tls: &ClientTls) -> Channel {
    tls.dial(address)
        .expect("a valid address")
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to {address}: {e}"))
}

/// Connects to `address` with `tls`, or `None` if it does not answer (a process down).
pub async fn try_connect(address: &str, tls: &ClientTls) -> Option<Channel> {
    tls.dial(address).ok()?.connect().await.ok()
}

/// Connects to `address` as a tool: TLS verified against the test CA, no client certificate.
pub async fn tool_channel(address: &str) -> Channel {
    connect(address, &pki().tool()).await
}

/// The endpoint of a plaintext replica ([`Cluster::start_plaintext`]) at `address`.
fn plaintext_endpoint(address: &str) -> Endpoint {
    Endpoint::from_shared(format!("http://{address}")).expect("a valid address")
}

/// Returns the path of a workspace binary built beside the test executable.
///
/// `RENKEI_BIN_DIR` names another folder to take them from (e.g. when several work trees share
/// one target directory, whose `target/<profile>/` holds whichever was built last).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = match std::env::var_os("RENKEI_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable lies in target/<profile>/deps")
            .to_path_buf(),
    };
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace's binaries first (cargo test --release --workspace \
         builds them)",
        path.display()
    );
    path
}

/// Reads the first stdout line of a child (`<binary> listening on ADDR`) and returns ADDR.
fn listening_address(child: &mut Child, binary: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the listening line");
    line.trim()
        .strip_prefix(&format!("{binary} listening on "))
        .unwrap_or_else(|| panic!("unexpected first line of {binary}: {line:?}"))
        .to_owned()
}

fn log_file(path: &Path) -> File {
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .expect("a log file")
}

/// Starts the workspace binary `name` with `args` and `env` (after `RUST_LOG=info`), its stderr
/// appended to `log`, and waits for its listening line: the child and the address it listens on.
fn start_process(
    name: &str,
    args: &[OsString],
    env: &[(String, String)],
    log: &Path,
) -> (Child, String) {
    let mut command = Command::new(binary(name));
    command
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file(log)));
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let address = listening_address(&mut child, name);
    (child, address)
}

fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}

/// Sends SIGTERM and waits; returns whether the process exited successfully.
fn terminate_child(child: &mut Child) -> bool {
    // The `kill` command sends SIGTERM without a libc dependency in the tests.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().map(|s| s.success()).unwrap_or(false)
}

/// One replica process.
pub struct Replica {
    pub id: u64,
    pub address: String,
    /// Its RocksDB directory, `<root>/replica-<id>`.
    pub data_dir: PathBuf,
    child: Option<Child>,
}

/// A prefecture cluster of replica processes under one temporary directory.
///
/// Started with [`Cluster::start`], it talks mutual TLS and its `Federation` service knows the
/// test node ([`NODE_TOKEN`], 富山市 and 高岡市), an officer's tool ([`OFFICER_TOKEN`], may
/// publish), an administrator ([`ADMIN_TOKEN`]) and a viewer ([`VIEWER_TOKEN`]). Started with
/// [`Cluster::start_plaintext`], it is open: plaintext, no callers, anyone may do anything.
pub struct Cluster {
    pub root: TempDir,
    pub replicas: BTreeMap<u64, Replica>,
    /// Plaintext and no `[[callers]]`, configured by flags ([`Cluster::start_plaintext`]).
    plaintext: bool,
    /// Extra environment of every replica (e.g. `RENKEI_PREFECTURE_SNAPSHOT_AFTER_LOGS`).
    env: Vec<(String, String)>,
    /// Extra environment of one replica ([`Cluster::set_env`]).
    replica_env: BTreeMap<u64, Vec<(String, String)>>,
    /// Where each replica dials its peers instead of their addresses ([`Cluster::route`]).
    routes: BTreeMap<u64, BTreeMap<u64, String>>,
    /// The municipalities [`NODE_TOKEN`] may speak for.
    node_municipalities: Vec<String>,
    /// Extra top-level configuration keys of every replica (`{id}` is replaced by its id).
    extra: String,
    /// The test node's `[[callers]]` entry is left out of configurations written from now on.
    node_revoked: bool,
    /// The prefecture's code ([`PREFECTURE`] unless started with [`Cluster::start_in`]).
    prefecture: String,
    /// The folder holding each replica's data directory `replica-<id>` ([`Cluster::root`]
    /// unless started with [`Cluster::start_on`]).
    data_root: PathBuf,
}

impl Cluster {
    /// Starts `n` replicas (ids 1..=n), initialises them as one cluster and waits for a leader.
    pub async fn start(n: u64) -> Self {
        Self::start_for(n, &[TOYAMA_CITY, TAKAOKA_CITY]).await
    }

    /// As [`Cluster::start`], with [`NODE_TOKEN`] speaking for `node_municipalities`.
    pub async fn start_for(n: u64, node_municipalities: &[&str]) -> Self {
        Self::start_with(n, node_municipalities, "").await
    }

    /// As [`Cluster::start_for`], with `extra` top-level configuration lines for every replica
    /// (e.g. `metrics_listen = "127.0.0.1:0"`).
    pub async fn start_with(n: u64, node_municipalities: &[&str], extra: &str) -> Self {
        Self::start_in(n, PREFECTURE, node_municipalities, extra).await
    }

    /// As [`Cluster::start_with`], for the prefecture `prefecture` (e.g. `13` for 東京都).
    pub async fn start_in(
        n: u64,
        prefecture: &str,
        node_municipalities: &[&str],
        extra: &str,
    ) -> Self {
        let mut cluster = Self::unformed(None);
        cluster.prefecture = prefecture.to_owned();
        cluster.node_municipalities = node_municipalities.iter().map(|m| m.to_string()).collect();
        cluster.extra = extra.to_owned();
        cluster.form(n).await
    }

    /// As [`Cluster::start_for`], with replica `id`'s data in `<data_root>/replica-<id>` (e.g. a
    /// folder whose `replica-<id>` are mounts of a test filesystem).
    pub async fn start_on(n: u64, data_root: &Path, node_municipalities: &[&str]) -> Self {
        let mut cluster = Self::unformed(Some(data_root.to_owned()));
        cluster.node_municipalities = node_municipalities.iter().map(|m| m.to_string()).collect();
        cluster.form(n).await
    }

    /// Starts `n` replicas (ids 1..=n) over plaintext with no `[[callers]]`, configured by flags
    /// alone, each given `env` (e.g. `RENKEI_PREFECTURE_SNAPSHOT_AFTER_LOGS`); initialises them
    /// as one cluster and waits for a leader. The prefecture's own tests prove Raft behaviour
    /// with it; mutual TLS is proven in `integration-tests/tests/tls.rs`.
    pub async fn start_plaintext(n: u64, env: &[(&str, &str)]) -> Self {
        let mut cluster = Self::unformed(None);
        cluster.plaintext = true;
        cluster.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        cluster.form(n).await
    }

    /// A cluster of no replicas yet, of [`PREFECTURE`], TLS, the node speaking for no
    /// municipality; its data under `data_root` (default: its own temporary directory).
    fn unformed(data_root: Option<PathBuf>) -> Self {
        let root = TempDir::new().expect("a temporary directory");
        let data_root = data_root.unwrap_or_else(|| root.path().to_owned());
        Self {
            root,
            data_root,
            replicas: BTreeMap::new(),
            plaintext: false,
            env: Vec::new(),
            replica_env: BTreeMap::new(),
            routes: BTreeMap::new(),
            node_municipalities: Vec::new(),
            extra: String::new(),
            node_revoked: false,
            prefecture: PREFECTURE.to_owned(),
        }
    }

    /// From its next (re)start, replica `id` dials its peer `peer` at `address` (its
    /// `peer_routes`), e.g. a test's network proxy in front of the peer.
    pub fn route(&mut self, id: u64, peer: u64, address: &str) {
        self.routes
            .entry(id)
            .or_default()
            .insert(peer, address.to_owned());
    }

    /// From its next (re)start, replica `id` runs with `env` besides the cluster's (e.g. a
    /// skewed clock).
    pub fn set_env(&mut self, id: u64, env: Vec<(String, String)>) {
        self.replica_env.insert(id, env);
    }

    /// Starts replicas 1..=n, initialises them as one cluster and waits for a leader.
    async fn form(mut self, n: u64) -> Self {
        for id in 1..=n {
            self.spawn(id, "127.0.0.1:0");
        }
        let members = self
            .replicas
            .values()
            .map(|r| v1::ClusterMember {
                node_id: r.id,
                address: r.address.clone(),
            })
            .collect();
        self.admin(1)
            .await
            .initialize(v1::InitializeRequest { members })
            .await
            .expect("initialize");
        self.wait_for_leader().await;
        self
    }

    /// Starts replica `id` listening on `listen`, with its data in [`Replica::data_dir`] and its
    /// log in `<root>/replica-<id>.log`; a replica of the cluster only once a member adds it.
    pub fn spawn(&mut self, id: u64, listen: &str) -> &Replica {
        let root = self.root.path();
        let data_dir = self.data_root.join(format!("replica-{id}"));
        let args = if self.plaintext {
            vec![
                os("--node-id"),
                os(id.to_string()),
                os("--listen"),
                os(listen),
                os("--data-dir"),
                os(&data_dir),
                os("--prefecture"),
                os(&self.prefecture),
                os("--plaintext"),
            ]
        } else {
            let config = root.join(format!("replica-{id}.toml"));
            std::fs::write(&config, self.configuration(id, listen, &data_dir))
                .expect("write the replica's configuration");
            vec![os("--config"), os(config)]
        };
        let mut env = self.env.clone();
        env.extend(self.replica_env.get(&id).cloned().unwrap_or_default());
        let (child, address) = start_process(
            "renkei-prefecture",
            &args,
            &env,
            &root.join(format!("replica-{id}.log")),
        );
        self.replicas.insert(
            id,
            Replica {
                id,
                address,
                data_dir,
                child: Some(child),
            },
        );
        &self.replicas[&id]
    }

    /// The configuration file of replica `id` of a TLS cluster (writes its certificate).
    fn configuration(&self, id: u64, listen: &str, data_dir: &Path) -> String {
        let root = self.root.path();
        format!(
            r#"node_id = {id}
listen = "{listen}"
data_dir = "{}"
prefecture = "{}"
peer_routes = {{ {} }}
{}
{}
{}
[[callers]]
name = "officer"
token = "{OFFICER_TOKEN}"
publish = true

[[callers]]
name = "admin"
token_sha256 = "{}"
role = "admin"

[[callers]]
name = "viewer"
token = "{VIEWER_TOKEN}"
role = "viewer"
"#,
            data_dir.display(),
            self.prefecture,
            self.routes
                .get(&id)
                .into_iter()
                .flatten()
                .map(|(peer, address)| format!("\"{peer}\" = {address:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.extra.replace("{id}", &id.to_string()),
            pki().tls_table(
                root,
                &format!("replica-{id}"),
                &Subject::Replica {
                    prefecture: self.prefecture.parse().expect("a prefecture code"),
                    node_id: id,
                }
            ),
            if self.node_revoked {
                String::new()
            } else {
                format!(
                    "[[callers]]\nname = \"test-node\"\ntoken = \"{NODE_TOKEN}\"\nmunicipalities = [{}]\n",
                    self.node_municipalities
                        .iter()
                        .map(|m| format!("{m:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            sha256_hex(ADMIN_TOKEN),
        )
    }

    /// Kills replica `id` with SIGKILL (no clean shutdown).
    pub fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.replicas.get_mut(&id).and_then(|r| r.child.take()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops replica `id` with SIGTERM; returns whether it exited successfully.
    pub fn terminate(&mut self, id: u64) -> bool {
        self.replicas
            .get_mut(&id)
            .and_then(|r| r.child.take())
            .is_some_and(|mut c| terminate_child(&mut c))
    }

    /// Removes the test node's `[[callers]]` entry from the configuration replicas are started
    /// with from now on (restart them for it to take effect): the node's revocation.
    pub fn revoke_node(&mut self) {
        self.node_revoked = true;
    }

    /// Restarts a killed replica on its old address with its data.
    pub fn restart(&mut self, id: u64) {
        let address = self.replicas[&id].address.clone();
        self.spawn(id, &address);
    }

    pub fn is_running(&self, id: u64) -> bool {
        self.replicas.get(&id).is_some_and(|r| r.child.is_some())
    }

    pub fn ids(&self) -> Vec<u64> {
        self.replicas.keys().copied().collect()
    }

    pub fn addresses(&self) -> Vec<String> {
        self.replicas.values().map(|r| r.address.clone()).collect()
    }

    /// A `ClusterAdmin` client of replica `id` presenting [`ADMIN_TOKEN`] (which an open
    /// plaintext cluster ignores).
    pub async fn admin(&self, id: u64) -> ClusterAdminClient<AdminChannel> {
        ClusterAdminClient::with_interceptor(self.channel(id).await, bearer(ADMIN_TOKEN))
    }

    /// A `PrefectureLedger` client of replica `id` as a tool, presenting no token: on a TLS
    /// cluster, wrap each request with [`with_token`].
    pub async fn ledger_client(&self, id: u64) -> v1::PrefectureLedgerClient<Channel> {
        v1::PrefectureLedgerClient::new(self.channel(id).await)
    }

    /// Returns replica `id`'s view of the cluster, or `None` if it does not answer.
    pub async fn status(&self, id: u64) -> Option<v1::ClusterStatus> {
        if !self.is_running(id) {
            return None;
        }
        let channel = self.try_channel(id).await?;
        let mut admin = ClusterAdminClient::new(channel);
        admin
            .status(with_token(VIEWER_TOKEN, v1::StatusRequest {}))
            .await
            .ok()
            .map(|r| r.into_inner())
    }

    /// Waits until every running replica names the same leader, which says it leads; returns it.
    pub async fn wait_for_leader(&self) -> u64 {
        let found = std::cell::Cell::new(0);
        let ids: Vec<u64> = self
            .ids()
            .into_iter()
            .filter(|id| self.is_running(*id))
            .collect();
        wait_until("a leader agreed by every live replica", || async {
            let mut leaders = Vec::new();
            for id in &ids {
                match self.status(*id).await {
                    Some(s) if s.leader_id != 0 => leaders.push((s.leader_id, s.term)),
                    _ => return false,
                }
            }
            let first = leaders[0];
            if !leaders.iter().all(|l| *l == first) || !ids.contains(&first.0) {
                return false;
            }
            match self.status(first.0).await {
                Some(s) if s.state == "Leader" => {
                    found.set(first.0);
                    true
                }
                _ => false,
            }
        })
        .await;
        found.get()
    }

    /// A `Federation` client of replica `id` presenting the test node's certificate (富山市
    /// and 高岡市, as [`NODE_TOKEN`]).
    pub async fn federation(&self, id: u64) -> FederationClient<Channel> {
        FederationClient::new(self.node_channel(id).await)
    }

    /// A channel to replica `id` presenting the test node's certificate.
    pub async fn node_channel(&self, id: u64) -> Channel {
        let municipalities: Vec<&str> = self
            .node_municipalities
            .iter()
            .map(String::as_str)
            .collect();
        connect(
            &self.replicas[&id].address,
            &pki().node_client(&municipalities),
        )
        .await
    }

    /// A channel to replica `id` as a tool: TLS verified against the test CA with no client
    /// certificate, or plaintext on a cluster of [`Cluster::start_plaintext`].
    pub async fn channel(&self, id: u64) -> Channel {
        let address = &self.replicas[&id].address;
        if self.plaintext {
            plaintext_endpoint(address)
                .connect()
                .await
                .unwrap_or_else(|e| panic!("connect to {address}: {e}"))
        } else {
            tool_channel(address).await
        }
    }

    /// As [`Cluster::channel`], or `None` if replica `id` does not answer (a process down).
    pub async fn try_channel(&self, id: u64) -> Option<Channel> {
        let address = &self.replicas[&id].address;
        if self.plaintext {
            plaintext_endpoint(address).connect().await.ok()
        } else {
            try_connect(address, &pki().tool()).await
        }
    }

    /// The sequence up to which replica `id` has applied `municipality`'s facts (a local read of
    /// what it has applied, as [`VIEWER_TOKEN`]); `None` when it does not answer.
    pub async fn applied_sequence(&self, id: u64, municipality: &str) -> Option<u64> {
        let channel = self.try_channel(id).await?;
        v1::PrefectureLedgerClient::new(channel)
            .read_sequence(with_token(
                VIEWER_TOKEN,
                v1::ReadSequenceRequest {
                    municipality: municipality.to_owned(),
                    consistency: v1::ReadConsistency::Local as i32,
                },
            ))
            .await
            .ok()
            .map(|r| r.into_inner().acknowledged)
    }

    /// Waits until replica `id` has applied `municipality`'s facts up to `at_least`
    /// ([`Cluster::applied_sequence`]).
    pub async fn wait_for_sequence(&self, id: u64, municipality: &str, at_least: u64) {
        wait_until(
            &format!("replica {id} to acknowledge {municipality} up to {at_least}"),
            || async {
                self.applied_sequence(id, municipality)
                    .await
                    .is_some_and(|applied| applied >= at_least)
            },
        )
        .await;
    }

    /// Reads a municipality's whole ledger (linearizable) through the leader, with the node's
    /// token (a caller may read the ledgers of the municipalities it speaks for).
    pub async fn ledger(&self, municipality: &str) -> Vec<v1::Fact> {
        let leader = self.wait_for_leader().await;
        let mut client = self.federation(leader).await;
        let mut facts = Vec::new();
        loop {
            let reply = client
                .read_ledger(with_token(
                    NODE_TOKEN,
                    v1::ReadLedgerRequest {
                        municipality: municipality.to_owned(),
                        from_sequence: facts.len() as u64 + 1,
                        limit: 10_000,
                        consistency: v1::ReadConsistency::Linearizable as i32,
                    },
                ))
                .await
                .expect("read the ledger")
                .into_inner();
            if reply.facts.is_empty() {
                return facts;
            }
            facts.extend(reply.facts);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for replica in self.replicas.values_mut() {
            if let Some(mut child) = replica.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// An interceptor adding a bearer token to each call.
pub type BearerInterceptor =
    Box<dyn FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send + Sync>;

/// A channel whose calls carry a bearer token.
pub type AdminChannel = tonic::service::interceptor::InterceptedService<Channel, BearerInterceptor>;

/// An interceptor adding `authorization: Bearer <token>` to every call.
pub fn bearer(token: &str) -> BearerInterceptor {
    let value: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("an ASCII token");
    Box::new(move |mut request: tonic::Request<()>| {
        request
            .metadata_mut()
            .insert("authorization", value.clone());
        Ok(request)
    })
}

/// The SHA-256 of a token in hex, as `token_sha256` in a configuration.
pub fn sha256_hex(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A linearizable tally of fiscal year 2024 as of its last day, from live evidence.
pub fn tally_2024() -> v1::GetTallyRequest {
    v1::GetTallyRequest {
        fiscal_year: 2024,
        as_of: "2025-03-31".into(),
        known_at: None,
        source: v1::TallySource::Live as i32,
        consistency: v1::ReadConsistency::Linearizable as i32,
    }
}

/// Wraps a message in a request carrying `authorization: Bearer <token>`.
pub fn with_token<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("an ASCII token"),
    );
    request
}

/// A municipal node process hosting 富山市 and 高岡市, syncing with a cluster.
pub struct Node {
    pub root: TempDir,
    pub address: String,
    prefecture: Vec<String>,
    /// The municipalities it hosts ([`TOYAMA_CITY`] and [`TAKAOKA_CITY`] unless started with
    /// [`Node::start_for`]).
    municipalities: Vec<String>,
    /// Extra top-level configuration lines.
    extra: String,
    /// Its RocksDB directory (`<root>/data` unless started with [`Node::start_on`]).
    pub data_dir: PathBuf,
    /// Extra environment ([`Node::start_on`], [`Node::set_env`]).
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Node {
    /// Starts a node that syncs with the replicas at `prefecture`.
    pub fn start(prefecture: Vec<String>) -> Self {
        Self::start_with(prefecture, "")
    }

    /// As [`Node::start`], with `extra` top-level configuration lines.
    pub fn start_with(prefecture: Vec<String>, extra: &str) -> Self {
        Self::start_for(prefecture, &[TOYAMA_CITY, TAKAOKA_CITY], extra)
    }

    /// As [`Node::start_with`], hosting `municipalities`.
    pub fn start_for(prefecture: Vec<String>, municipalities: &[&str], extra: &str) -> Self {
        let root = TempDir::new().expect("a temporary directory");
        let data_dir = root.path().join("data");
        let mut node = Self::unstarted(prefecture, municipalities, extra, root, data_dir);
        node.spawn("127.0.0.1:0");
        node
    }

    /// As [`Node::start_for`], with its data in `data_dir` (e.g. a mount of a test filesystem)
    /// and `env` besides the usual (e.g. a skewed clock).
    pub fn start_on(
        prefecture: Vec<String>,
        municipalities: &[&str],
        data_dir: &Path,
        env: Vec<(String, String)>,
    ) -> Self {
        let root = TempDir::new().expect("a temporary directory");
        let mut node = Self::unstarted(prefecture, municipalities, "", root, data_dir.to_owned());
        node.env = env;
        node.spawn("127.0.0.1:0");
        node
    }

    /// From its next restart, the node runs with `env` besides the usual.
    pub fn set_env(&mut self, env: Vec<(String, String)>) {
        self.env = env;
    }

    fn unstarted(
        prefecture: Vec<String>,
        municipalities: &[&str],
        extra: &str,
        root: TempDir,
        data_dir: PathBuf,
    ) -> Self {
        Self {
            root,
            address: String::new(),
            prefecture,
            municipalities: municipalities.iter().map(|m| m.to_string()).collect(),
            extra: extra.to_owned(),
            data_dir,
            env: Vec::new(),
            child: None,
        }
    }

    fn spawn(&mut self, listen: &str) {
        let root = self.root.path();
        let config = root.join("node.toml");
        let replicas: Vec<String> = self.prefecture.iter().map(|a| format!("{a:?}")).collect();
        std::fs::write(
            &config,
            format!(
                r#"listen = "{listen}"
data_dir = "{}"
municipalities = [{}]
{}
{}
[sync]
prefecture = [{}]
token = "{NODE_TOKEN}"
pull_interval_ms = 200
"#,
                self.data_dir.display(),
                self.municipalities
                    .iter()
                    .map(|m| format!("{m:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.extra,
                pki().tls_table(
                    root,
                    "node",
                    &Subject::Node {
                        municipalities: self
                            .municipalities
                            .iter()
                            .map(|m| m.parse().expect("a code"))
                            .collect(),
                    }
                ),
                replicas.join(", ")
            ),
        )
        .expect("write the node's configuration");
        let (child, address) = start_process(
            "renkei-node",
            &[os("--config"), os(config)],
            &self.env,
            &root.join("node.log"),
        );
        self.address = address;
        self.child = Some(child);
    }

    /// Kills the node with SIGKILL (no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the node with SIGTERM; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        self.child
            .take()
            .is_some_and(|mut c| terminate_child(&mut c))
    }

    /// Restarts the node on its old address with its data.
    pub fn restart(&mut self) {
        let address = self.address.clone();
        self.spawn(&address);
    }

    /// A channel to the node as a staff tool: TLS verified against the test CA.
    pub async fn channel(&self) -> Channel {
        tool_channel(&self.address).await
    }

    pub async fn program(&self) -> v1::MunicipalProgramClient<Channel> {
        v1::MunicipalProgramClient::new(self.channel().await)
    }

    /// The node's sync state of one municipality.
    pub async fn sync_state(&self, municipality: &str) -> v1::MunicipalitySyncState {
        let mut client = v1::NodeSyncClient::new(self.channel().await);
        let reply = client
            .get_sync_state(v1::GetSyncStateRequest {
                municipalities: vec![municipality.to_owned()],
            })
            .await
            .expect("the node's sync state")
            .into_inner();
        reply.municipalities.into_iter().next().expect("one state")
    }

    /// Reads a municipality's whole outbox as facts (sequence = stream version).
    pub async fn outbox(&self, municipality: &str) -> Vec<v1::Fact> {
        let mut client = v1::EventLogClient::new(self.channel().await);
        let mut facts: Vec<v1::Fact> = Vec::new();
        loop {
            let reply = client
                .read_stream(v1::ReadStreamRequest {
                    municipality_code: municipality.to_owned(),
                    stream: "sync/outbox".to_owned(),
                    from_version: facts.len() as u64 + 1,
                    direction: v1::Direction::Forward as i32,
                    max_count: 1_000,
                })
                .await
                .expect("read the outbox")
                .into_inner();
            if reply.events.is_empty() {
                return facts;
            }
            facts.extend(reply.events.into_iter().map(|e| v1::Fact {
                municipality: municipality.to_owned(),
                sequence: e.stream_version,
                payload: e.payload,
            }));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until the log file `path` has a line containing `marker` followed by `key=VALUE`, and
/// returns VALUE (e.g. the metrics address a process logs once it is bound).
pub async fn logged_value(path: &Path, marker: &str, key: &str) -> String {
    let found = std::cell::RefCell::new(String::new());
    wait_until(&format!("{marker:?} in {}", path.display()), || async {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let value = text
            .lines()
            .filter(|l| l.contains(marker))
            .find_map(|line| {
                line.split_whitespace()
                    .find_map(|word| word.strip_prefix(&format!("{key}=")))
                    .map(str::to_owned)
            });
        match value {
            Some(v) => {
                *found.borrow_mut() = v;
                true
            }
            None => false,
        }
    })
    .await;
    found.into_inner()
}

/// Facts every municipality's outbox opens with before any recorded activity: its participation,
/// which the node writes when it starts hosting the municipality.
pub const PARTICIPATION_FACTS: u64 = 1;

/// Waits until `municipality` has facts of recorded activity (beyond its participation) and the
/// prefecture has acknowledged every fact the node produced for it.
pub async fn wait_synced(node: &Node, municipality: &str) {
    wait_until(&format!("{municipality} synced"), || async {
        let s = node.sync_state(municipality).await;
        s.produced > PARTICIPATION_FACTS && s.acknowledged == s.produced
    })
    .await;
}

/// Polls `predicate` until it holds; panics (naming `what`) after [`PATIENCE`].
pub async fn wait_until<F, Fut>(what: &str, mut predicate: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if predicate().await {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "gave up waiting for {what} after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Records `n` awareness activities (キ) for `municipality`, ids `<prefix>-<i>`; each yields one
/// fact.
pub async fn record_activities(
    node: &Node,
    municipality: &str,
    prefix: &str,
    range: std::ops::Range<u32>,
) {
    let mut program = node.program().await;
    for i in range {
        program
            .record_awareness_activity(awareness(municipality, &format!("{prefix}-{i}")))
            .await
            .expect("record an awareness activity");
    }
}

/// A lecture for residents (キ) of `municipality` on 2024-10-05, with id `id`: one fact.
pub fn awareness(municipality: &str, id: &str) -> v1::RecordAwarenessActivityRequest {
    v1::RecordAwarenessActivityRequest {
        municipality_code: municipality.to_owned(),
        actor: "tester".to_owned(),
        id: id.to_owned(),
        kind: "lecture".to_owned(),
        title: format!("講演会 {id}"),
        audience: "住民".to_owned(),
        on: "2024-10-05".to_owned(),
        attendance: Some(40),
        copies: None,
        scenes: vec![],
    }
}

/// Fact `sequence` of `municipality` as a node pushes it: dated (キ) evidence, one per
/// sequence.
pub fn fact(municipality: &str, sequence: u64) -> v1::Fact {
    use prost::Message;
    let body = v1::FactBody {
        source_event_id: format!("0190a0b0-0000-7000-8000-{sequence:012}"),
        index: 0,
        recorded_at: None,
        source_position: sequence,
        kind: Some(v1::FactKind::Evidence(v1::StatusEvidence {
            key: format!("awareness/a{sequence}"),
            kind: Some(v1::EvidenceKind::Dated(v1::DatedEvidence {
                item: "g".into(),
                on: "2024-10-05".into(),
            })),
        })),
    };
    v1::Fact {
        municipality: municipality.to_owned(),
        sequence,
        payload: body.encode_to_vec(),
    }
}

/// A `WriteFacts` request (`PrefectureLedger`, the Raft ledger itself) of facts `from..=to` of one
/// municipality under `request_id`, each payload an opaque `fact <municipality>/<sequence>`: the
/// ledger orders and deduplicates facts without reading them.
pub fn facts(request_id: &str, municipality: &str, from: u64, to: u64) -> v1::WriteFactsRequest {
    v1::WriteFactsRequest {
        request_id: request_id.to_owned(),
        facts: (from..=to)
            .map(|sequence| v1::Fact {
                municipality: municipality.to_owned(),
                sequence,
                payload: format!("fact {municipality}/{sequence}").into_bytes(),
            })
            .collect(),
    }
}

/// The first fact of `municipality` as a node that hosts it sends it: its participation, which
/// makes it a respondent even with nothing recorded.
pub fn participation(municipality: &str) -> v1::Fact {
    use prost::Message;
    let body = v1::FactBody {
        source_event_id: "0190a0b0-0000-7000-8000-000000000000".into(),
        index: 0,
        recorded_at: None,
        source_position: 0,
        kind: Some(v1::FactKind::Participation(v1::Participation {})),
    };
    v1::Fact {
        municipality: municipality.to_owned(),
        sequence: 1,
        payload: body.encode_to_vec(),
    }
}

/// The prefecture's unified discharge form (入退院支援連絡票), version 2024.1, for every
/// municipality: an item to publish down.
pub fn discharge_form() -> v1::DownItem {
    v1::DownItem {
        kind: Some(v1::DownItemKind::Form(v1::UnifiedFormVersion {
            form_id: "discharge-liaison".into(),
            name: "入退院支援連絡票".into(),
            version: "2024.1".into(),
            effective_from: "2024-04-01".into(),
            fields: vec![v1::FormField {
                name: "退院予定日".into(),
                r#type: "date".into(),
                required: true,
                choices: vec![],
            }],
        })),
        ..Default::default()
    }
}

/// A `PushFacts` request carrying `facts` under `request_id`.
pub fn push(request_id: &str, facts: Vec<v1::Fact>) -> v1::PushFactsRequest {
    v1::PushFactsRequest {
        request_id: request_id.to_owned(),
        facts,
        produced: vec![],
    }
}
