//! The fault suite: real `renkei-node` and `renkei-prefecture` processes on loopback under a
//! steady load of recorded activities (and so of facts to sync), while replicas — the leader
//! included — and the node are killed with SIGKILL and restarted, the whole prefecture is
//! stopped for a while, and the power is cut.
//!
//! A SIGKILL keeps the operating system's page cache, so a process that acknowledged before
//! fsync would survive it. A power cut does not: the node's and each replica's data directory is
//! a [`LazyFs`] mount (a FUSE filesystem served by this test process, needing root and
//! `/dev/fuse`) which, when cut, puts every file back to what was last fsynced. A cut kills the
//! processes on the disk first (the node; one replica; or all three at once), cuts, and restarts
//! them on what the disk kept. After a whole-prefecture cut every replica's Raft term is at least
//! what it was before (the vote survived). The suite fails when acknowledgements come before
//! fsync: build the binaries with `--features renkei-node/unsynced-acks,renkei-federation/unsynced-acks`
//! (see integration-tests/README.md).
//!
//! Every run makes each kind of fault at least once (in an order the seed decides), then draws
//! more until the time is up. At the end:
//! - every acknowledged activity is in the node's log exactly once (and an activity whose call
//!   failed in a crash is there at most once);
//! - each municipality's ledger at the prefecture equals the node's outbox, fact for fact;
//! - the prefecture's tally equals the statuses the node derives from its own events.
//!
//! Bounded in time: `RENKEI_FAULT_SECONDS` (default 20, the CI configuration). A seed makes a
//! run reproducible: `RENKEI_FAULT_SEED` (default: from the clock; printed either way). The
//! longer configuration is `RENKEI_FAULT_SECONDS=300 cargo test --release -p
//! renkei-integration-tests --test faults -- --nocapture`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use renkei_faults::lazyfs::{Faults, LazyFs};
use renkei_integration_tests::*;
use renkei_proto::v1;
use tokio::sync::Mutex;

const MUNICIPALITIES: [&str; 2] = [TOYAMA_CITY, TAKAOKA_CITY];

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
    /// SIGKILL of the node mid-load, restarted on its data.
    NodeKill,
    /// Every replica killed; the prefecture away for a while.
    Outage,
    /// The node's disk loses power: killed, its unsynced data dropped, restarted.
    NodePowerCut,
    /// One replica's disk loses power.
    ReplicaPowerCut,
    /// Every replica's disk loses power at once.
    PrefecturePowerCut,
}

impl Fault {
    const ALL: [Fault; 7] = [
        Fault::ReplicaKill,
        Fault::LeaderKill,
        Fault::NodeKill,
        Fault::Outage,
        Fault::NodePowerCut,
        Fault::ReplicaPowerCut,
        Fault::PrefecturePowerCut,
    ];

    /// A fault drawn at random: kills most often, as before; power cuts and outages less.
    fn draw(rng: &mut Rng) -> Fault {
        match rng.below(20) {
            0..=5 => Fault::ReplicaKill,
            6..=8 => Fault::LeaderKill,
            9..=12 => Fault::NodeKill,
            13..=14 => Fault::Outage,
            15..=16 => Fault::NodePowerCut,
            17..=18 => Fault::ReplicaPowerCut,
            _ => Fault::PrefecturePowerCut,
        }
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

/// What the load got answered: per municipality, activity id → acknowledged (true) or unsure
/// (false: the call failed, the activity may or may not be recorded).
type Outcomes = Arc<Mutex<BTreeMap<String, BTreeMap<String, bool>>>>;

fn awareness(municipality: &str, id: &str, n: u64) -> v1::RecordAwarenessActivityRequest {
    v1::RecordAwarenessActivityRequest {
        municipality_code: municipality.to_owned(),
        actor: "fault-suite".to_owned(),
        id: id.to_owned(),
        kind: "lecture".to_owned(),
        title: format!("在宅医療講演会 {n}"),
        audience: "住民".to_owned(),
        // Spread over fiscal year 2024 (April 2024 – March 2025).
        on: format!("2024-{:02}-{:02}", 4 + n % 9, 1 + n % 28),
        attendance: Some(20 + (n % 50) as u32),
        copies: None,
        scenes: vec![],
    }
}

/// Records activities one after another until `stop`, alternating municipalities. A failed call
/// is retried with the same id once the node answers again.
async fn load(address: String, outcomes: Outcomes, stop: Arc<AtomicBool>, calls: Arc<AtomicU64>) {
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
    let mut n = 0u64;
    let mut retry: Option<(String, String, u64)> = None;
    while !stop.load(Ordering::Relaxed) {
        let (municipality, id, k) = retry.take().unwrap_or_else(|| {
            n += 1;
            let m = MUNICIPALITIES[(n % 2) as usize].to_owned();
            (m, format!("act-{n}"), n)
        });
        calls.fetch_add(1, Ordering::Relaxed);
        let answer = program
            .record_awareness_activity(awareness(&municipality, &id, k))
            .await;
        let acknowledged = match answer {
            // events = 0 is the answer to a retry of an activity the crashed node had recorded
            // before answering; on a first try it would mean something else was recorded.
            Ok(reply) if reply.get_ref().events == 0 => {
                let o = outcomes.lock().await;
                let tried = o.get(&municipality).and_then(|k| k.get(&id));
                assert_eq!(
                    tried,
                    Some(&false),
                    "{municipality} {id}: answered as recorded already on a first try"
                );
                true
            }
            Ok(_) => true,
            Err(_) => false,
        };
        outcomes
            .lock()
            .await
            .entry(municipality.clone())
            .or_default()
            .insert(id.clone(), acknowledged);
        if !acknowledged {
            retry = Some((municipality, id, k));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// How many times the programme events of `municipality` hold each activity id.
async fn recorded_ids(node: &Node, municipality: &str) -> BTreeMap<String, usize> {
    let mut client = v1::EventLogClient::new(node.channel().await);
    let mut counts = BTreeMap::new();
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
            return counts;
        };
        from = last.global_position + 1;
        for event in reply
            .events
            .iter()
            .filter(|e| e.stream.starts_with("programme/"))
        {
            let json: serde_json::Value =
                serde_json::from_slice(&event.payload).expect("a programme event is JSON");
            if let Some(id) = find_id(&json) {
                *counts.entry(id).or_default() += 1;
            }
        }
    }
}

fn find_id(json: &serde_json::Value) -> Option<String> {
    match json {
        serde_json::Value::Object(map) => map
            .get("id")
            .and_then(|v| v.as_str())
            .filter(|s| s.starts_with("act-"))
            .map(str::to_owned)
            .or_else(|| map.values().find_map(find_id)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_and_outages_lose_and_duplicate_nothing_and_the_tally_matches_the_nodes() {
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

    // Each replica's data and the node's on their own lazy disk.
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
    let node_disk = lazy_disk(&disks_root.path().join("node"));
    let node_faults = node_disk.faults();
    let mut cluster = Cluster::start_on(3, disks_root.path()).await;
    let mut node = Node::start_on(cluster.addresses(), &node_disk.mountpoint().join("data"));
    let outcomes: Outcomes = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let loader = tokio::spawn(load(
        node.address.clone(),
        outcomes.clone(),
        stop.clone(),
        calls.clone(),
    ));

    // Every kind once, in an order the seed decides; then drawn until the time is up.
    let mut schedule = Fault::ALL.to_vec();
    for i in (1..schedule.len()).rev() {
        schedule.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut made: BTreeMap<Fault, u32> = BTreeMap::new();
    let mut bytes_lost = 0u64;
    let started = Instant::now();
    let mut round = 0;
    while round < schedule.len() || started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(rng.millis(300, 1200)).await;
        let fault = schedule
            .get(round)
            .copied()
            .unwrap_or_else(|| Fault::draw(&mut rng));
        round += 1;
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
                cluster.restart(victim);
            }
            Fault::NodeKill | Fault::NodePowerCut => {
                node.kill();
                if fault == Fault::NodePowerCut {
                    bytes_lost += node_faults.cut_power().bytes_lost;
                }
                tokio::time::sleep(rng.millis(50, 400)).await;
                node.restart();
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
        }
        *made.entry(fault).or_default() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    loader.await.expect("the load task");
    cluster.wait_for_leader().await;

    // Every fact arrives, once: the ledger equals the outbox.
    let outcomes = outcomes.lock().await.clone();
    let mut facts = 0;
    for municipality in MUNICIPALITIES {
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
            "{municipality}: the ledger differs from the outbox"
        );
        facts += ledger.len();

        // Every acknowledged activity exactly once; an unsure one at most once.
        let recorded = recorded_ids(&node, municipality).await;
        let sent = outcomes.get(municipality).cloned().unwrap_or_default();
        for (id, acknowledged) in &sent {
            let times = recorded.get(id).copied().unwrap_or(0);
            if *acknowledged {
                assert_eq!(
                    times, 1,
                    "{municipality} {id}: acknowledged, recorded {times} times"
                );
            } else {
                assert!(times <= 1, "{municipality} {id}: recorded {times} times");
            }
        }
        assert!(
            recorded.keys().all(|id| sent.contains_key(id)),
            "{municipality}: an activity nobody sent is recorded"
        );
    }

    // The prefecture's tally equals the statuses each node derives from its own events.
    let leader = cluster.wait_for_leader().await;
    let mut survey = v1::PrefectureSurveyClient::new(cluster.channel(leader).await);
    let tally = survey
        .get_tally(with_token(OFFICER_TOKEN, tally_2024()))
        .await
        .expect("the tally")
        .into_inner();
    let mut program = node.program().await;
    for municipality in MUNICIPALITIES {
        let own = program
            .get_status(v1::GetStatusRequest {
                municipality_code: municipality.to_owned(),
                fiscal_year: 2024,
                as_of: "2025-03-31".into(),
                known_at: None,
            })
            .await
            .expect("the node's own statuses")
            .into_inner();
        let own: Vec<String> = own.items.into_iter().map(|i| i.status_label).collect();
        let row = tally
            .municipalities
            .iter()
            .find(|r| r.municipality == municipality)
            .expect("the municipality's row");
        assert_eq!(
            row.statuses, own,
            "{municipality}: prefecture tally vs node"
        );
        assert!(row.reported);
    }

    let acknowledged = outcomes
        .values()
        .flat_map(|m| m.values())
        .filter(|a| **a)
        .count();
    let count = |f: Fault| made.get(&f).copied().unwrap_or(0);
    println!(
        "fault suite: {seconds} s, seed {seed}: {} follower kills, {} leader kills, {} node kills, \
         {} whole-prefecture outages, power cuts: {} of the node, {} of a replica, {} of the whole \
         prefecture ({bytes_lost} unsynced bytes dropped); {} calls, {acknowledged} activities \
         acknowledged, {facts} facts synced; nothing lost or duplicated",
        count(Fault::ReplicaKill),
        count(Fault::LeaderKill),
        count(Fault::NodeKill),
        count(Fault::Outage),
        count(Fault::NodePowerCut),
        count(Fault::ReplicaPowerCut),
        count(Fault::PrefecturePowerCut),
        calls.load(Ordering::Relaxed)
    );
    // The processes go before their disks.
    node.kill();
    for id in cluster.ids() {
        cluster.kill(id);
    }
    drop(node_disk);
    drop(replica_disks);
}
