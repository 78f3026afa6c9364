//! A harness that runs prefecture clusters of real `renkei-prefecture` processes on loopback
//! (port 0), each with its own RocksDB directory, and waits on predicates — never fixed sleeps.
//! Replicas can be killed with SIGKILL and restarted on the same address with their data.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use renkei_federation::client::LedgerClient;
use renkei_proto::v1::{self, ClusterAdminClient};
use tempfile::TempDir;
use tonic::transport::Channel;

/// How long a predicate may take before the test fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The prefecture of every test cluster: 富山県.
pub const PREFECTURE: &str = "16";
/// Municipalities of 富山県 used by the tests: 富山市, 高岡市.
pub const TOYAMA_CITY: &str = "162019";
pub const TAKAOKA_CITY: &str = "162027";

/// One replica process.
pub struct Replica {
    pub id: u64,
    pub address: String,
    pub data_dir: PathBuf,
    child: Option<Child>,
}

/// A cluster of replica processes under one temporary directory.
pub struct Cluster {
    pub root: TempDir,
    pub replicas: BTreeMap<u64, Replica>,
    /// Extra environment given to every replica (e.g. `RENKEI_PREFECTURE_SNAPSHOT_AFTER_LOGS`).
    pub env: Vec<(String, String)>,
}

impl Cluster {
    /// Returns an empty cluster whose replicas will get `env`.
    pub fn new(env: &[(&str, &str)]) -> Self {
        Self {
            root: TempDir::new().expect("a temporary directory"),
            replicas: BTreeMap::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Starts `n` replicas (ids 1..=n), initialises them as one cluster and waits for a leader.
    pub async fn start(n: u64, env: &[(&str, &str)]) -> Self {
        let mut cluster = Self::new(env);
        for id in 1..=n {
            cluster.spawn(id, "127.0.0.1:0");
        }
        let members = cluster
            .replicas
            .values()
            .map(|r| v1::ClusterMember {
                node_id: r.id,
                address: r.address.clone(),
            })
            .collect();
        cluster
            .admin(1)
            .await
            .initialize(v1::InitializeRequest { members })
            .await
            .expect("initialize");
        cluster.wait_for_leader(&(1..=n).collect::<Vec<_>>()).await;
        cluster
    }

    /// Starts replica `id` listening on `listen`, with its data in `root/node-<id>`.
    pub fn spawn(&mut self, id: u64, listen: &str) -> &Replica {
        let data_dir = self.root.path().join(format!("node-{id}"));
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.root.path().join(format!("node-{id}.log")))
            .expect("a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_renkei-prefecture"));
        command
            .args(["--node-id", &id.to_string(), "--listen", listen])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--prefecture", PREFECTURE])
            // Raft behaviour under test; mutual TLS is proven in integration-tests/tests/tls.rs.
            .arg("--plaintext")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn renkei-prefecture");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let address = line
            .trim()
            .strip_prefix("renkei-prefecture listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
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

    /// Kills replica `id` with SIGKILL (no clean shutdown).
    pub fn kill(&mut self, id: u64) {
        let replica = self.replicas.get_mut(&id).expect("a known replica");
        if let Some(mut child) = replica.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops replica `id` with SIGTERM and returns whether it exited successfully.
    pub fn terminate(&mut self, id: u64) -> bool {
        let replica = self.replicas.get_mut(&id).expect("a known replica");
        let Some(mut child) = replica.child.take() else {
            return false;
        };
        // The `kill` command sends SIGTERM without a libc dependency in the tests.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().map(|s| s.success()).unwrap_or(false)
    }

    /// Restarts a killed replica on its old address with its data.
    pub fn restart(&mut self, id: u64) {
        let address = self.replicas[&id].address.clone();
        self.spawn(id, &address);
    }

    /// Returns whether replica `id` is running.
    pub fn is_running(&self, id: u64) -> bool {
        self.replicas.get(&id).is_some_and(|r| r.child.is_some())
    }

    pub fn addresses(&self) -> Vec<String> {
        self.replicas.values().map(|r| r.address.clone()).collect()
    }

    /// Returns a leader-seeking ledger client over every replica.
    pub fn client(&self) -> LedgerClient {
        LedgerClient::new(self.addresses()).with_retry_for(PATIENCE)
    }

    pub async fn admin(&self, id: u64) -> ClusterAdminClient<Channel> {
        let address = format!("http://{}", self.replicas[&id].address);
        ClusterAdminClient::connect(address)
            .await
            .expect("connect to the admin service")
    }

    pub async fn ledger(&self, id: u64) -> v1::PrefectureLedgerClient<Channel> {
        let address = format!("http://{}", self.replicas[&id].address);
        v1::PrefectureLedgerClient::connect(address)
            .await
            .expect("connect to the ledger service")
    }

    /// Returns replica `id`'s view of the cluster, or `None` if it does not answer.
    pub async fn status(&self, id: u64) -> Option<v1::ClusterStatus> {
        if !self.is_running(id) {
            return None;
        }
        let address = format!("http://{}", self.replicas[&id].address);
        let mut admin = ClusterAdminClient::connect(address).await.ok()?;
        admin
            .status(v1::StatusRequest {})
            .await
            .ok()
            .map(|r| r.into_inner())
    }

    /// Waits until every replica in `ids` names the same leader, itself in `ids` and leading;
    /// returns its id.
    pub async fn wait_for_leader(&self, ids: &[u64]) -> u64 {
        let found = std::cell::Cell::new(0);
        wait_until("a leader agreed by every live replica", || async {
            let mut leaders = Vec::new();
            for id in ids {
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

    /// Waits until replica `id` has applied a municipality's sequence `at_least` (local read).
    pub async fn wait_for_sequence(&self, id: u64, municipality: &str, at_least: u64) {
        wait_until(
            &format!("replica {id} to acknowledge {municipality} up to {at_least}"),
            || async {
                let Ok(mut ledger) = v1::PrefectureLedgerClient::connect(format!(
                    "http://{}",
                    self.replicas[&id].address
                ))
                .await
                else {
                    return false;
                };
                ledger
                    .read_sequence(v1::ReadSequenceRequest {
                        municipality: municipality.to_owned(),
                        consistency: v1::ReadConsistency::Local as i32,
                    })
                    .await
                    .is_ok_and(|r| r.into_inner().acknowledged >= at_least)
            },
        )
        .await;
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

/// Returns a write of facts `from..=to` of one municipality, under `request_id`.
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
