//! The fault suite: real `renkei-node` and `renkei-prefecture` processes on loopback under a
//! steady load of every kind of programme activity (and so of facts to sync), while processes
//! are killed, disks lose power and the network breaks.
//!
//! - **Processes**: replicas (the leader included) and nodes are killed with SIGKILL and
//!   restarted; the whole prefecture is stopped for a while.
//! - **Power**: a SIGKILL keeps the operating system's page cache, so a process that
//!   acknowledged before fsync would survive it. A power cut does not: each node's and each
//!   replica's data directory is a [`LazyFs`] mount (a FUSE filesystem served by this test
//!   process, needing root and `/dev/fuse`) which, when cut, puts every file back to what was
//!   last fsynced. A cut kills the processes on the disk first (a node; one replica; or all three
//!   at once), cuts, and restarts them on what the disk kept. After a whole-prefecture outage or
//!   cut every replica's Raft term is at least what it was before (the vote survived). The suite
//!   fails when acknowledgements come before fsync: build the binaries with
//!   `--features renkei-node/unsynced-acks,renkei-federation/unsynced-acks` (see
//!   integration-tests/README.md).
//! - **Network** ([`network`]): every replica ↔ replica and node → replica link passes through a
//!   proxy. Partitions isolate the leader or a follower (each node on one side or the other),
//!   what the leader sends is lost one way, every link is delayed with jitter, or the
//!   connections around the leader stall mid-stream. After each heal the suite measures how long
//!   until a fact recorded after the heal is committed (printed: the liveness bound).
//! - **Clocks**: every (re)start of a process runs it with its clock skewed by up to ±5 minutes
//!   (libfaketime), drawn from the seed; no answer may change.
//!
//! Every run makes each kind of fault at least once (in an order the seed decides), then draws
//! more until the time is up. Throughout, at most one replica may say it leads in any term and a
//! linearizable read may never answer less than an earlier one. At the end:
//! - every activity the load sent is in its node's log exactly once (the load retries a failed
//!   call with the same id until it is acknowledged);
//! - each municipality's ledger at the prefecture equals its node's outbox, fact for fact;
//! - the statuses an independent oracle ([`programme::expected_statuses`], written from
//!   DOMAIN.md's rules) computes from what was sent equal the prefecture's tally and each node's
//!   `GetStatus`.
//!
//! Bounded in time: `RENKEI_FAULT_SECONDS` (default 20, the CI configuration). A seed makes a
//! run reproducible: `RENKEI_FAULT_SEED` (default: from the clock; printed either way). The
//! long run is `RENKEI_FAULT_SECONDS=1800 cargo test --release -p renkei-integration-tests
//! --test faults -- --nocapture`.

mod network;
mod programme;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use network::{LeaderWatch, Network, ReadWatch};
use programme::Step;
use renkei_faults::lazyfs::{Faults, LazyFs};
use renkei_faults::proxy::Direction;
use renkei_integration_tests::*;
use renkei_proto::v1;
use tokio::sync::Mutex;

/// The nodes of the run and the municipalities each hosts.
const NODES: [&[&str]; 2] = [&[TOYAMA_CITY, TAKAOKA_CITY], &[UOZU_CITY]];

/// A small deterministic generator (xorshift64*), so a seed replays the same faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from))
    }
}

/// The kinds of fault the suite makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// SIGKILL of a follower (chosen once a leader is known), restarted after a while.
    ReplicaKill,
    /// SIGKILL of the leader, restarted after a while.
    LeaderKill,
    /// SIGKILL of a node mid-load, restarted on its data.
    NodeKill,
    /// Every replica killed; the prefecture away for a while.
    Outage,
    /// A node's disk loses power: killed, its unsynced data dropped, restarted.
    NodePowerCut,
    /// One replica's disk loses power.
    ReplicaPowerCut,
    /// Every replica's disk loses power at once.
    PrefecturePowerCut,
    /// The leader alone on one side of a partition (the minority), each node on either side.
    LeaderIsolated,
    /// A follower alone on one side of a partition.
    FollowerIsolated,
    /// What the leader sends to its peers is lost (or what it receives), one way only.
    OneWayLoss,
    /// Every link delayed, with jitter.
    Delay,
    /// The connections from the leader to its peers and from the nodes to the leader freeze
    /// mid-stream, for good.
    Stall,
}

impl Fault {
    const ALL: [Fault; 12] = [
        Fault::ReplicaKill,
        Fault::LeaderKill,
        Fault::NodeKill,
        Fault::Outage,
        Fault::NodePowerCut,
        Fault::ReplicaPowerCut,
        Fault::PrefecturePowerCut,
        Fault::LeaderIsolated,
        Fault::FollowerIsolated,
        Fault::OneWayLoss,
        Fault::Delay,
        Fault::Stall,
    ];

    /// A fault drawn at random: kills most often; power cuts, outages and network faults less.
    fn draw(rng: &mut Rng) -> Fault {
        match rng.below(30) {
            0..=5 => Fault::ReplicaKill,
            6..=8 => Fault::LeaderKill,
            9..=11 => Fault::NodeKill,
            12..=13 => Fault::Outage,
            14..=15 => Fault::NodePowerCut,
            16..=17 => Fault::ReplicaPowerCut,
            18 => Fault::PrefecturePowerCut,
            19..=21 => Fault::LeaderIsolated,
            22..=23 => Fault::FollowerIsolated,
            24..=25 => Fault::OneWayLoss,
            26..=27 => Fault::Delay,
            _ => Fault::Stall,
        }
    }

    /// Whether the fault breaks the network (and is healed, with the time to commit again
    /// measured).
    fn is_network(self) -> bool {
        matches!(
            self,
            Fault::LeaderIsolated
                | Fault::FollowerIsolated
                | Fault::OneWayLoss
                | Fault::Delay
                | Fault::Stall
        )
    }
}

/// A lazy filesystem mounted at `at` (created), for a node's or a replica's data.
fn lazy_disk(at: &std::path::Path) -> LazyFs {
    assert!(
        renkei_faults::lazyfs::fuse_available(),
        "the fault suite's power cuts need /dev/fuse (and root): this machine has none"
    );
    std::fs::create_dir_all(at).expect("a mountpoint");
    LazyFs::mount(at).unwrap_or_else(|e| panic!("mount a lazy filesystem at {}: {e}", at.display()))
}

/// libfaketime, which skews the clock of the processes it is preloaded into.
fn faketime() -> String {
    let found = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
        .iter()
        .map(|arch| format!("/usr/lib/{arch}/faketime/libfaketime.so.1"))
        .find(|path| std::path::Path::new(path).exists());
    found.expect(
        "the fault suite's clock skew needs libfaketime (Debian package libfaketime; scripts/setup \
         installs it)",
    )
}

/// The clock skews a (re)started process may get, in seconds.
const SKEWS: [i64; 5] = [-300, -150, 0, 150, 300];

/// The environment that runs a process with its clock `skew` seconds off (monotonic clocks,
/// which timers use, are left alone).
fn skewed(library: &str, skew: i64) -> Vec<(String, String)> {
    vec![
        ("LD_PRELOAD".into(), library.to_owned()),
        ("FAKETIME".into(), format!("{skew:+}")),
        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
        ("FAKETIME_NO_CACHE".into(), "0".into()),
    ]
}

/// Each municipality's steps as sent, in order, each acknowledged (true) or unsure (false: its
/// last call failed).
type Outcomes = Arc<Mutex<BTreeMap<String, Vec<(Step, bool)>>>>;

/// Sends steps one after another until `stop`, alternating `municipalities`. A failed call is
/// retried with the same step once the node answers again; after `stop`, until the pending step
/// is acknowledged.
async fn load(
    address: String,
    municipalities: Vec<String>,
    outcomes: Outcomes,
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
) {
    let channel = renkei_integration_tests::pki()
        .tool()
        .dial(&address)
        .expect("a valid address")
        .configure(|e| {
            e.connect_timeout(Duration::from_millis(500))
                .timeout(Duration::from_secs(5))
        })
        .connect_lazy();
    let mut program = v1::MunicipalProgramClient::new(channel);
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut turn = 0usize;
    let mut retry: Option<Step> = None;
    let mut stopped_at: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            let since = *stopped_at.get_or_insert_with(Instant::now);
            if retry.is_none() {
                return;
            }
            assert!(
                since.elapsed() < PATIENCE,
                "the load's last step was never acknowledged"
            );
        }
        let step = retry.take().unwrap_or_else(|| {
            turn = (turn + 1) % municipalities.len();
            let municipality = &municipalities[turn];
            let n = counts.entry(municipality.clone()).or_default();
            *n += 1;
            programme::step(municipality, *n)
        });
        calls.fetch_add(1, Ordering::Relaxed);
        let answer = programme::send(&mut program, &step).await;
        let mut outcomes = outcomes.lock().await;
        let sent = outcomes.entry(step.municipality.clone()).or_default();
        let last_try = sent.last_mut().filter(|(s, _)| s.id == step.id);
        let acknowledged = match answer {
            // An answer of "already recorded" is the answer to a retry of a step the crashed
            // node had recorded before answering; on a first try it would mean something else
            // was recorded under its id.
            Ok(false) => {
                assert!(
                    last_try.as_ref().is_some_and(|(_, a)| !a),
                    "{} {}: answered as recorded already on a first try",
                    step.municipality,
                    step.id
                );
                true
            }
            Ok(true) => true,
            Err(_) => false,
        };
        match last_try {
            Some(last) => last.1 = acknowledged,
            None => sent.push((step.clone(), acknowledged)),
        }
        drop(outcomes);
        if !acknowledged {
            retry = Some(step);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The payloads of `municipality`'s programme events in `node`'s log.
async fn programme_events(node: &Node, municipality: &str) -> Vec<serde_json::Value> {
    let mut client = v1::EventLogClient::new(node.channel().await);
    let mut events = Vec::new();
    let mut from = 1;
    loop {
        let reply = client
            .read_all(v1::ReadAllRequest {
                municipality_code: municipality.to_owned(),
                from_position: from,
                max_count: 5_000,
            })
            .await
            .expect("read the node's log")
            .into_inner();
        let Some(last) = reply.events.last() else {
            return events;
        };
        from = last.global_position + 1;
        for event in reply
            .events
            .iter()
            .filter(|e| e.stream.starts_with("programme/"))
        {
            events.push(serde_json::from_slice(&event.payload).expect("a programme event is JSON"));
        }
    }
}

/// Waits until `node` has produced a fact after now and the prefecture has acknowledged it;
/// returns how long that took.
async fn time_to_commit(node: &Node, municipality: &str) -> Duration {
    let started = Instant::now();
    let before = node.sync_state(municipality).await.produced;
    let produced = std::cell::Cell::new(before);
    wait_until(
        &format!("{municipality}: a fact produced after the heal"),
        || async {
            produced.set(node.sync_state(municipality).await.produced);
            produced.get() > before
        },
    )
    .await;
    wait_until(
        &format!("{municipality}: the prefecture commits again"),
        || async { node.sync_state(municipality).await.acknowledged >= produced.get() },
    )
    .await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_lose_and_duplicate_nothing_and_the_tally_matches_an_independent_oracle() {
    let seconds: u64 = std::env::var("RENKEI_FAULT_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("RENKEI_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        .max(1);
    println!("fault suite: RENKEI_FAULT_SEED={seed} RENKEI_FAULT_SECONDS={seconds}");
    let mut rng = Rng(seed);
    let faketime = faketime();
    let mut skews: BTreeMap<i64, u32> = BTreeMap::new();
    let mut skew = |rng: &mut Rng| {
        let s = SKEWS[rng.below(SKEWS.len() as u64) as usize];
        *skews.entry(s).or_default() += 1;
        skewed(&faketime, s)
    };

    // Each replica's data and each node's on their own lazy disk.
    let disks_root = tempfile::TempDir::new().expect("a temporary directory");
    let replica_disks: BTreeMap<u64, LazyFs> = (1..=3)
        .map(|id| {
            (
                id,
                lazy_disk(&disks_root.path().join(format!("replica-{id}"))),
            )
        })
        .collect();
    let replica_faults: BTreeMap<u64, Faults> = replica_disks
        .iter()
        .map(|(id, disk)| (*id, disk.faults()))
        .collect();
    let node_disks: Vec<LazyFs> = (0..NODES.len())
        .map(|i| lazy_disk(&disks_root.path().join(format!("node-{i}"))))
        .collect();
    let node_faults: Vec<Faults> = node_disks.iter().map(LazyFs::faults).collect();
    let everyone: Vec<&str> = NODES.iter().flat_map(|m| m.iter().copied()).collect();
    let mut cluster = Cluster::start_on(3, disks_root.path(), &everyone).await;
    for id in cluster.ids() {
        cluster.set_env(id, skew(&mut rng));
    }
    // Restarts every replica to dial its peers through the proxies (and run skewed).
    let network = Network::between(&mut cluster, NODES.len()).await;
    let mut nodes: Vec<Node> = NODES
        .iter()
        .enumerate()
        .map(|(i, municipalities)| {
            Node::start_on(
                network.node_addresses(i),
                municipalities,
                &node_disks[i].mountpoint().join("data"),
                skew(&mut rng),
            )
        })
        .collect();
    let leaders = LeaderWatch::start(
        cluster
            .replicas
            .iter()
            .map(|(id, r)| (*id, r.address.clone()))
            .collect(),
    );
    let reads = ReadWatch::start(cluster.addresses(), TOYAMA_CITY);

    let outcomes: Outcomes = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let loaders: Vec<_> = nodes
        .iter()
        .zip(NODES)
        .map(|(node, municipalities)| {
            tokio::spawn(load(
                node.address.clone(),
                municipalities.iter().map(|m| m.to_string()).collect(),
                outcomes.clone(),
                stop.clone(),
                calls.clone(),
            ))
        })
        .collect();

    // Every kind once, in an order the seed decides; then drawn until the time is up.
    let mut schedule = Fault::ALL.to_vec();
    for i in (1..schedule.len()).rev() {
        schedule.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut made: BTreeMap<Fault, u32> = BTreeMap::new();
    let mut bytes_lost = 0u64;
    let mut recoveries: Vec<Duration> = Vec::new();
    let started = Instant::now();
    let mut round = 0;
    while round < schedule.len() || started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(rng.millis(300, 1200)).await;
        let fault = schedule
            .get(round)
            .copied()
            .unwrap_or_else(|| Fault::draw(&mut rng));
        round += 1;
        eprintln!("fault suite: {:>7.1?} {fault:?}", started.elapsed());
        match fault {
            Fault::ReplicaKill | Fault::LeaderKill | Fault::ReplicaPowerCut => {
                let ids = cluster.ids();
                let leader = cluster.wait_for_leader().await;
                let victim = if fault == Fault::LeaderKill {
                    leader
                } else {
                    let others: Vec<u64> = ids.into_iter().filter(|id| *id != leader).collect();
                    others[rng.below(others.len() as u64) as usize]
                };
                cluster.kill(victim);
                if fault == Fault::ReplicaPowerCut {
                    bytes_lost += replica_faults[&victim].cut_power().bytes_lost;
                }
                tokio::time::sleep(rng.millis(100, 800)).await;
                cluster.set_env(victim, skew(&mut rng));
                cluster.restart(victim);
            }
            Fault::NodeKill | Fault::NodePowerCut => {
                let i = rng.below(nodes.len() as u64) as usize;
                nodes[i].kill();
                if fault == Fault::NodePowerCut {
                    bytes_lost += node_faults[i].cut_power().bytes_lost;
                }
                tokio::time::sleep(rng.millis(50, 400)).await;
                nodes[i].set_env(skew(&mut rng));
                nodes[i].restart();
            }
            Fault::Outage | Fault::PrefecturePowerCut => {
                let mut terms = BTreeMap::new();
                for id in cluster.ids() {
                    if let Some(status) = cluster.status(id).await {
                        terms.insert(id, status.term);
                    }
                }
                for id in cluster.ids() {
                    cluster.kill(id);
                }
                if fault == Fault::PrefecturePowerCut {
                    for faults in replica_faults.values() {
                        bytes_lost += faults.cut_power().bytes_lost;
                    }
                }
                tokio::time::sleep(rng.millis(500, 2000)).await;
                for id in cluster.ids() {
                    cluster.set_env(id, skew(&mut rng));
                    cluster.restart(id);
                }
                // The votes survived: the first term each replica answers after the restart
                // (read from its disk, or higher after an election) is not below the one before.
                for (id, before) in terms {
                    let first = std::cell::Cell::new(0);
                    wait_until(
                        &format!("replica {id} to answer after the {fault:?}"),
                        || async {
                            let status = cluster.status(id).await;
                            first.set(status.as_ref().map_or(0, |s| s.term));
                            status.is_some()
                        },
                    )
                    .await;
                    let now = first.get();
                    assert!(
                        now >= before,
                        "replica {id}: term {now} after the {fault:?}, {before} before (seed {seed})"
                    );
                }
            }
            Fault::LeaderIsolated | Fault::FollowerIsolated => {
                let leader = cluster.wait_for_leader().await;
                let alone = if fault == Fault::LeaderIsolated {
                    leader
                } else {
                    let others: Vec<u64> = cluster
                        .ids()
                        .into_iter()
                        .filter(|id| *id != leader)
                        .collect();
                    others[rng.below(others.len() as u64) as usize]
                };
                let node_sides: Vec<bool> = nodes.iter().map(|_| rng.below(2) == 0).collect();
                network.partition(&BTreeSet::from([alone]), &node_sides);
                tokio::time::sleep(rng.millis(500, 3000)).await;
            }
            Fault::OneWayLoss => {
                let leader = cluster.wait_for_leader().await;
                let direction = if rng.below(2) == 0 {
                    Direction::Upstream
                } else {
                    Direction::Downstream
                };
                network.lose_from(leader, direction);
                tokio::time::sleep(rng.millis(500, 2000)).await;
            }
            Fault::Delay => {
                network.delay(rng.millis(5, 60), rng.millis(1, 60));
                tokio::time::sleep(rng.millis(1000, 3000)).await;
            }
            Fault::Stall => {
                let leader = cluster.wait_for_leader().await;
                network.stall_around(leader);
                tokio::time::sleep(rng.millis(500, 2000)).await;
            }
        }
        if fault.is_network() {
            network.heal();
            recoveries.push(time_to_commit(&nodes[0], NODES[0][0]).await);
        }
        *made.entry(fault).or_default() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        loader.await.expect("a load task");
    }
    cluster.wait_for_leader().await;
    let terms_led = leaders
        .finish()
        .await
        .unwrap_or_else(|e| panic!("two leaders in one term (seed {seed}): {e}"));
    let (linearizable_reads, _) = reads
        .finish()
        .await
        .unwrap_or_else(|e| panic!("a read went back in time (seed {seed}): {e}"));

    // Every fact arrives, once: the ledger equals the outbox; every step is recorded once.
    let outcomes = outcomes.lock().await.clone();
    let mut facts = 0;
    for (node, municipalities) in nodes.iter().zip(NODES) {
        for municipality in municipalities.iter().copied() {
            let produced = std::cell::Cell::new(0);
            wait_until(
                &format!("{municipality}: every fact acknowledged"),
                || async {
                    let s = node.sync_state(municipality).await;
                    produced.set(s.produced);
                    s.produced > PARTICIPATION_FACTS && s.acknowledged == s.produced
                },
            )
            .await;
            let outbox = node.outbox(municipality).await;
            let ledger = cluster.ledger(municipality).await;
            assert_eq!(outbox.len() as u64, produced.get());
            assert!(
                ledger == outbox,
                "{municipality}: the ledger differs from the outbox (seed {seed})"
            );
            facts += ledger.len();

            let sent = outcomes.get(municipality).cloned().unwrap_or_default();
            let events = programme_events(node, municipality).await;
            let recorded = programme::recorded(&events);
            for (step, acknowledged) in &sent {
                assert!(
                    acknowledged,
                    "{municipality} {}: never acknowledged",
                    step.id
                );
                let times = recorded.get(&programme::key(step)).copied().unwrap_or(0);
                assert_eq!(
                    times, 1,
                    "{municipality} {}: acknowledged, recorded {times} times (seed {seed})",
                    step.id
                );
            }
            assert_eq!(
                events.len(),
                sent.len(),
                "{municipality}: the log holds programme events nobody sent (seed {seed})"
            );
        }
    }

    // The oracle's statuses equal the prefecture's tally and each node's own.
    let leader = cluster.wait_for_leader().await;
    let mut survey = v1::PrefectureSurveyClient::new(cluster.channel(leader).await);
    let tally = survey
        .get_tally(with_token(
            OFFICER_TOKEN,
            v1::GetTallyRequest {
                as_of: programme::AS_OF.into(),
                ..tally_2024()
            },
        ))
        .await
        .expect("the tally")
        .into_inner();
    let mut statuses = BTreeMap::new();
    for (node, municipalities) in nodes.iter().zip(NODES) {
        let mut program = node.program().await;
        for municipality in municipalities.iter().copied() {
            let steps: Vec<Step> = outcomes[municipality]
                .iter()
                .map(|(step, _)| step.clone())
                .collect();
            let expected = programme::expected_statuses(&steps);
            let own = program
                .get_status(v1::GetStatusRequest {
                    municipality_code: municipality.to_owned(),
                    fiscal_year: 2024,
                    as_of: programme::AS_OF.into(),
                    known_at: None,
                })
                .await
                .expect("the node's own statuses")
                .into_inner();
            let own: Vec<String> = own.items.into_iter().map(|i| i.status_label).collect();
            assert_eq!(
                own, expected,
                "{municipality}: node vs oracle (seed {seed})"
            );
            let row = tally
                .municipalities
                .iter()
                .find(|r| r.municipality == municipality)
                .expect("the municipality's row");
            assert_eq!(
                row.statuses, expected,
                "{municipality}: prefecture tally vs oracle (seed {seed})"
            );
            assert!(row.reported);
            statuses.insert(municipality, expected);
        }
    }

    let steps: usize = outcomes.values().map(Vec::len).sum();
    let count = |f: Fault| made.get(&f).copied().unwrap_or(0);
    let worst = recoveries.iter().max().copied().unwrap_or_default();
    let mean = recoveries.iter().sum::<Duration>() / recoveries.len().max(1) as u32;
    println!(
        "fault suite: {seconds} s, seed {seed}: {} follower kills, {} leader kills, {} node kills, \
         {} whole-prefecture outages, power cuts: {} of a node, {} of a replica, {} of the whole \
         prefecture ({bytes_lost} unsynced bytes dropped); network: {} partitions isolating the \
         leader, {} isolating a follower, {} one-way losses ({} bytes dropped), {} delays, {} \
         stalls; after a heal the prefecture committed again within {worst:.2?} (mean \
         {mean:.2?}); clock skews (s → starts): {skews:?}; {} calls, {steps} activities \
         acknowledged, {facts} facts synced; nothing lost or duplicated; {terms_led} terms, one \
         leader each; {linearizable_reads} linearizable reads, none back in time; the oracle \
         equals the tally and the nodes: {statuses:?}",
        count(Fault::ReplicaKill),
        count(Fault::LeaderKill),
        count(Fault::NodeKill),
        count(Fault::Outage),
        count(Fault::NodePowerCut),
        count(Fault::ReplicaPowerCut),
        count(Fault::PrefecturePowerCut),
        count(Fault::LeaderIsolated),
        count(Fault::FollowerIsolated),
        count(Fault::OneWayLoss),
        network.bytes_dropped(),
        count(Fault::Delay),
        count(Fault::Stall),
        calls.load(Ordering::Relaxed)
    );
    // The processes go before their disks.
    for node in &mut nodes {
        node.kill();
    }
    for id in cluster.ids() {
        cluster.kill(id);
    }
    drop(node_disks);
    drop(replica_disks);
}
