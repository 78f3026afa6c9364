//! The fault suite's network: a [`Proxy`] on every replica ↔ replica link (one per direction of
//! dialling, set as each replica's `peer_routes`) and on every node → replica link (the node is
//! given the proxies' addresses as its prefecture), and the monitors that check Raft's safety
//! from outside while the network is broken:
//!
//! - [`LeaderWatch`] polls every replica's status and remembers which replica said it led in
//!   which term: two leaders in one term is a violation;
//! - [`ReadWatch`] reads a municipality's acknowledged sequence with linearizable reads, one
//!   after another, from each replica in turn: a read that answers less than an earlier one has
//!   gone back in time.
//!
//! The harness's own calls (statuses, ledgers, tallies) go to the replicas directly.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use renkei_faults::proxy::{Direction, Proxy, ProxyControl};
use renkei_integration_tests::*;
use renkei_proto::v1;
use tokio::sync::Mutex;

/// The proxies between the replicas of a cluster and from each node to each replica.
pub struct Network {
    /// `(from, to)` → the proxy replica `from` dials replica `to` through.
    peers: BTreeMap<(u64, u64), Proxy>,
    /// `(node, replica)` → the proxy node `node` (an index) dials `replica` through.
    nodes: BTreeMap<(usize, u64), Proxy>,
}

impl Network {
    /// Puts a proxy on every link between replicas of `cluster` (each replica restarted, one at
    /// a time, to dial its peers through them) and `nodes` sets of proxies for nodes.
    pub async fn between(cluster: &mut Cluster, nodes: usize) -> Network {
        let ids = cluster.ids();
        let mut peers = BTreeMap::new();
        let mut node_proxies = BTreeMap::new();
        for to in &ids {
            let target = cluster.replicas[to]
                .address
                .parse()
                .expect("a replica listens on a socket address");
            for from in &ids {
                if from != to {
                    let proxy = Proxy::start(target).await.expect("start a proxy");
                    cluster.route(*from, *to, &proxy.address().to_string());
                    peers.insert((*from, *to), proxy);
                }
            }
            for node in 0..nodes {
                let proxy = Proxy::start(target).await.expect("start a proxy");
                node_proxies.insert((node, *to), proxy);
            }
        }
        for id in &ids {
            cluster.kill(*id);
            cluster.restart(*id);
            cluster.wait_for_leader().await;
        }
        Network {
            peers,
            nodes: node_proxies,
        }
    }

    /// The addresses node `node` is to be given as its prefecture.
    pub fn node_addresses(&self, node: usize) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|((n, _), _)| *n == node)
            .map(|(_, p)| p.address().to_string())
            .collect()
    }

    fn controls(&self) -> impl Iterator<Item = ProxyControl> + '_ {
        self.peers
            .values()
            .chain(self.nodes.values())
            .map(Proxy::control)
    }

    /// Cuts every link between `side` and the other replicas, both ways, and every node's
    /// link to the side it is not on (`node_sides[n]`: node `n` is with `side`).
    pub fn partition(&self, side: &BTreeSet<u64>, node_sides: &[bool]) {
        for ((from, to), proxy) in &self.peers {
            if side.contains(from) != side.contains(to) {
                proxy.control().partition(true);
            }
        }
        for ((node, replica), proxy) in &self.nodes {
            if node_sides[*node] != side.contains(replica) {
                proxy.control().partition(true);
            }
        }
    }

    /// Loses what `from` sends on its links to the other replicas (its requests reach no one,
    /// the answers to others' requests still do), or with `Downstream` the answers it gets.
    pub fn lose_from(&self, from: u64, direction: Direction) {
        for ((f, _), proxy) in &self.peers {
            if *f == from {
                proxy.control().drop_direction(direction, true);
            }
        }
    }

    /// Every link waits `base` plus up to `jitter` per chunk.
    pub fn delay(&self, base: Duration, jitter: Duration) {
        for control in self.controls() {
            control.delay(base, jitter);
        }
    }

    /// Freezes, mid-stream and for good, every connection open now from replica `from` to its
    /// peers and from every node to `from`; later connections pass.
    pub fn stall_around(&self, from: u64) {
        for ((f, _), proxy) in &self.peers {
            if *f == from {
                proxy.control().stall();
            }
        }
        for ((_, replica), proxy) in &self.nodes {
            if *replica == from {
                proxy.control().stall();
            }
        }
    }

    /// Ends every partition, loss and delay.
    pub fn heal(&self) {
        for control in self.controls() {
            control.partition(false);
            control.drop_direction(Direction::Upstream, false);
            control.drop_direction(Direction::Downstream, false);
            control.delay(Duration::ZERO, Duration::ZERO);
        }
    }

    /// Bytes the proxies discarded (one-way loss).
    pub fn bytes_dropped(&self) -> u64 {
        self.controls().map(|c| c.stats().bytes_dropped).sum()
    }
}

/// Who said they led in which term, polled from every replica until stopped.
pub struct LeaderWatch {
    leaders: Arc<Mutex<BTreeMap<u64, BTreeSet<u64>>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaderWatch {
    /// Polls the replicas at `addresses` (id → address) every few milliseconds.
    pub fn start(addresses: BTreeMap<u64, String>) -> LeaderWatch {
        let leaders: Arc<Mutex<BTreeMap<u64, BTreeSet<u64>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let leaders = leaders.clone();
            let stop = stop.clone();
            async move {
                // A connection is dropped when a poll fails and made afresh for the next: a
                // lazy channel whose replica refused it (killed) may keep failing for a while
                // after the replica is back.
                let mut clients = BTreeMap::new();
                while !stop.load(Ordering::Relaxed) {
                    for (id, address) in &addresses {
                        if !clients.contains_key(id) {
                            let connected = pki()
                                .tool()
                                .dial(address)
                                .expect("a valid address")
                                .configure(|e| {
                                    e.connect_timeout(Duration::from_millis(200))
                                        .timeout(Duration::from_millis(500))
                                })
                                .connect()
                                .await;
                            match connected {
                                Ok(channel) => {
                                    clients.insert(*id, v1::ClusterAdminClient::new(channel));
                                }
                                Err(_) => continue,
                            }
                        }
                        let Some(client) = clients.get_mut(id) else {
                            continue;
                        };
                        let Ok(status) = client
                            .status(with_token(VIEWER_TOKEN, v1::StatusRequest {}))
                            .await
                        else {
                            clients.remove(id);
                            continue;
                        };
                        let status = status.into_inner();
                        if status.state == "Leader" {
                            leaders
                                .lock()
                                .await
                                .entry(status.term)
                                .or_default()
                                .insert(*id);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        LeaderWatch {
            leaders,
            stop,
            task,
        }
    }

    /// Stops polling; returns how many terms had a leader seen, or the terms with two.
    pub async fn finish(self) -> Result<usize, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the leader watch");
        let leaders = self.leaders.lock().await;
        let doubled: Vec<String> = leaders
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(term, ids)| format!("term {term}: replicas {ids:?}"))
            .collect();
        if doubled.is_empty() {
            Ok(leaders.len())
        } else {
            Err(doubled.join("; "))
        }
    }
}

/// Linearizable reads of one municipality's acknowledged sequence, one after another from each
/// replica in turn, until stopped.
pub struct ReadWatch {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Result<(u64, u64), String>>,
}

impl ReadWatch {
    /// Reads `municipality` at the replicas at `addresses`.
    pub fn start(addresses: Vec<String>, municipality: &str) -> ReadWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let municipality = municipality.to_owned();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut clients: Vec<_> = addresses
                    .iter()
                    .map(|address| {
                        let channel = pki()
                            .tool()
                            .dial(address)
                            .expect("a valid address")
                            .configure(|e| {
                                e.connect_timeout(Duration::from_millis(200))
                                    .timeout(Duration::from_secs(1))
                            })
                            .connect_lazy();
                        (address.clone(), v1::PrefectureLedgerClient::new(channel))
                    })
                    .collect();
                let mut highest = 0u64;
                let mut reads = 0u64;
                let mut turn = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    turn = (turn + 1) % clients.len();
                    let (address, client) = &mut clients[turn];
                    let answer = client
                        .read_sequence(with_token(
                            VIEWER_TOKEN,
                            v1::ReadSequenceRequest {
                                municipality: municipality.clone(),
                                consistency: v1::ReadConsistency::Linearizable as i32,
                            },
                        ))
                        .await;
                    match answer {
                        Ok(reply) => {
                            let read = reply.into_inner().acknowledged;
                            if read < highest {
                                return Err(format!(
                                    "{municipality}: a linearizable read at {address} answered \
                                     {read} after an earlier one answered {highest}"
                                ));
                            }
                            highest = read;
                            reads += 1;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
                Ok((reads, highest))
            }
        });
        ReadWatch { stop, task }
    }

    /// Stops reading; returns the number of successful reads and the last value, or the read
    /// that went back in time.
    pub async fn finish(self) -> Result<(u64, u64), String> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the read watch")
    }
}
