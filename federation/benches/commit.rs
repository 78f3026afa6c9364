//! Benchmark of the prefecture tier on this machine, in one run:
//! - the raw fsync rate of the disk the replicas write to (4 KiB write + fdatasync);
//! - committed facts per second through a 3-replica cluster (real processes, RocksDB, gRPC on
//!   loopback) with single-fact writes and with batches, and commit latency p50/p99;
//! - failover: the leader is killed (SIGKILL) and the time until the next write commits.
//!
//! Run with `cargo bench -p renkei-federation --bench commit` (set `BENCH_SECONDS` to change the
//! duration of each phase, default 5).

use std::io::Write;
use std::time::{Duration, Instant};

use renkei_federation::client::LedgerClient;
use renkei_integration_tests::{Cluster, PATIENCE, PREFECTURE};
use renkei_proto::{PrefectureCode, official, v1};

const PAYLOAD_BYTES: usize = 64;

/// A leader-seeking ledger client over every replica of `cluster`, retrying for the harness's
/// patience.
fn leader_client(cluster: &Cluster) -> LedgerClient {
    LedgerClient::new(cluster.addresses()).with_retry_for(PATIENCE)
}

fn raw_fsync_rate(dir: &std::path::Path, seconds: f64) -> (f64, Duration) {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).expect("probe file");
    let block = vec![7u8; 4096];
    let started = Instant::now();
    let mut n = 0u64;
    let mut latencies = Vec::new();
    while started.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        file.write_all(&block).expect("write");
        file.sync_data().expect("fdatasync");
        latencies.push(t.elapsed());
        n += 1;
    }
    let _ = std::fs::remove_file(&path);
    latencies.sort();
    (
        n as f64 / started.elapsed().as_secs_f64(),
        latencies[latencies.len() / 2],
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

struct Phase {
    facts: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Runs `writers` concurrent writers, each on its own municipality, writing `batch` facts per
/// request for `seconds`.
async fn run_phase(
    cluster: &Cluster,
    municipalities: &[String],
    next_sequence: &mut [u64],
    writers: usize,
    batch: u64,
    seconds: f64,
    tag: &str,
) -> Phase {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let municipality = municipalities[w % municipalities.len()].clone();
        let mut sequence = next_sequence[w % municipalities.len()];
        let mut client = leader_client(cluster);
        let tag = format!("{tag}-{w}");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut facts = 0u64;
            let mut i = 0u64;
            while started.elapsed().as_secs_f64() < seconds {
                let request = v1::WriteFactsRequest {
                    request_id: format!("{tag}-{i}"),
                    facts: (sequence..sequence + batch)
                        .map(|s| v1::Fact {
                            municipality: municipality.clone(),
                            sequence: s,
                            payload: vec![(s % 251) as u8; PAYLOAD_BYTES],
                        })
                        .collect(),
                };
                let t = Instant::now();
                let reply = client.write_facts(request).await.expect("write");
                latencies.push(t.elapsed());
                let applied = reply
                    .results
                    .iter()
                    .filter(|r| r.outcome == v1::FactOutcome::Applied as i32)
                    .count() as u64;
                assert_eq!(applied, batch, "every fact applied");
                facts += applied;
                sequence += batch;
                i += 1;
            }
            (facts, latencies, sequence)
        }));
    }
    let mut phase = Phase {
        facts: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for (w, task) in tasks.into_iter().enumerate() {
        let (facts, latencies, sequence) = task.await.expect("writer");
        phase.facts += facts;
        phase.latencies.extend(latencies);
        next_sequence[w % municipalities.len()] = sequence;
    }
    phase.elapsed = started.elapsed();
    phase.latencies.sort();
    phase
}

fn report(name: &str, phase: &Phase, fsync_rate: f64) -> f64 {
    let rate = phase.facts as f64 / phase.elapsed.as_secs_f64();
    println!(
        "{name:<34} {rate:>10.0} facts/s  ({} facts, {} commits, p50 {:>7.2} ms, p99 {:>7.2} ms)  = {:.2} × raw fsync rate",
        phase.facts,
        phase.latencies.len(),
        percentile(&phase.latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&phase.latencies, 0.99).as_secs_f64() * 1e3,
        rate / fsync_rate,
    );
    rate
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn main() {
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut cluster = Cluster::start_plaintext(3, &[]).await;
        let (fsync_rate, fsync_p50) = raw_fsync_rate(cluster.root.path(), seconds.min(3.0));
        println!(
            "raw fsync (4 KiB write + fdatasync, same disk): {fsync_rate:.0} /s, p50 {:.2} ms",
            fsync_p50.as_secs_f64() * 1e3
        );
        let toyama: PrefectureCode = PREFECTURE.parse().expect("prefecture");
        let municipalities: Vec<String> = official::municipalities_of(toyama)
            .map(|m| m.code.to_string())
            .collect();
        let mut next = vec![1u64; municipalities.len()];

        // Terms before and after the write phases: any change is an election under load.
        let term = |status: Option<v1::ClusterStatus>| status.map_or(0, |s| s.term);
        let leader = cluster.wait_for_leader().await;
        let term_before = term(cluster.status(leader).await);
        let single_1 = run_phase(&cluster, &municipalities, &mut next, 1, 1, seconds, "s1").await;
        let one = report("single writes, 1 writer", &single_1, fsync_rate);
        // One writer per municipality: writers never share a ledger.
        let many = municipalities.len().min(12);
        let index = |status: Option<v1::ClusterStatus>| status.map_or(0, |s| s.last_log_index);
        let index_before = index(cluster.status(leader).await);
        let single_many =
            run_phase(&cluster, &municipalities, &mut next, many, 1, seconds, "sN").await;
        let entries = index(cluster.status(leader).await).saturating_sub(index_before);
        let concurrent = report(&format!("single writes, {many} writers"), &single_many, fsync_rate);
        println!(
            "  {} writes in {entries} Raft entries: {:.1} writes per entry",
            single_many.latencies.len(),
            single_many.latencies.len() as f64 / entries.max(1) as f64
        );
        let batch_1 =
            run_phase(&cluster, &municipalities, &mut next, 1, 1000, seconds, "b1").await;
        report("batches of 1000, 1 writer", &batch_1, fsync_rate);
        let batch_4 =
            run_phase(&cluster, &municipalities, &mut next, 4, 1000, seconds, "b4").await;
        let batched = report("batches of 1000, 4 writers", &batch_4, fsync_rate);

        let term_after = term(cluster.status(cluster.wait_for_leader().await).await);
        let elections = term_after.saturating_sub(term_before);
        // Failover, measured ROUNDS times: kill the leader (SIGKILL), time until the next write
        // is committed, restart the killed replica and let it catch up.
        const ROUNDS: usize = 5;
        let mut failovers = Vec::new();
        let municipality = municipalities[0].clone();
        for (round, sequence) in (next[0]..).take(ROUNDS).enumerate() {
            let leader = cluster.wait_for_leader().await;
            let mut client = leader_client(&cluster);
            let killed = Instant::now();
            cluster.kill(leader);
            client
                .write_facts(v1::WriteFactsRequest {
                    request_id: format!("failover-{round}"),
                    facts: vec![v1::Fact {
                        municipality: municipality.clone(),
                        sequence,
                        payload: vec![1; PAYLOAD_BYTES],
                    }],
                })
                .await
                .expect("write after the leader was killed");
            failovers.push(killed.elapsed());
            cluster.restart(leader);
            cluster.wait_for_sequence(leader, &municipality, sequence).await;
        }
        let listed: Vec<String> = failovers
            .iter()
            .map(|d| format!("{:.0}", d.as_secs_f64() * 1e3))
            .collect();
        failovers.sort();
        let failover = failovers[failovers.len() - 1];
        let median = failovers[failovers.len() / 2];
        println!(
            "failover (leader SIGKILLed → next write committed), {ROUNDS} rounds: [{}] ms, median {:.0} ms, max {:.0} ms (election timeout {}–{} ms, heartbeat {} ms)",
            listed.join(", "),
            median.as_secs_f64() * 1e3,
            failover.as_secs_f64() * 1e3,
            renkei_federation::config::DEFAULT_ELECTION_TIMEOUT_MIN_MS,
            renkei_federation::config::DEFAULT_ELECTION_TIMEOUT_MAX_MS,
            renkei_federation::config::DEFAULT_HEARTBEAT_MS,
        );
        let scaling = concurrent / one;
        println!(
            "summary: {many} single-fact writers / 1 = {scaling:.2} (target ≥ 5: {}), batched {batched:.0} facts/s (target ≥ 20000: {}), failover median {:.2} s (target < 1 s: {}), max {:.2} s (target < 2 s: {}), leader changes during the write phases: {elections} (target 0: {})",
            verdict(scaling >= 5.0),
            verdict(batched >= 20_000.0),
            median.as_secs_f64(),
            verdict(median < Duration::from_secs(1)),
            failover.as_secs_f64(),
            verdict(failover < Duration::from_secs(2)),
            verdict(elections == 0),
        );
    });
}
