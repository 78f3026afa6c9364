//! End-to-end sync benchmark: facts from several municipal tenants of one node into a 3-replica
//! prefecture cluster (real `renkei-prefecture` processes on loopback), and freshness — the time
//! from an event appended at the node to its fact being visible in a linearizable read at the
//! prefecture — under that load.
//!
//! The load is programme events appended straight to the node's store (the node's gRPC front is
//! measured elsewhere), each yielding one fact; the outbox projectors and the pusher run as in a
//! node. Targets: at least 10,000 facts/s sustained; freshness p99 under 1 s.
//!
//! Environment: `RENKEI_BENCH_TENANTS` (default 14, at most 14: the other municipalities of
//! 富山県), `RENKEI_BENCH_EVENTS` per tenant (default 20,000).

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use renkei_integration_tests::{Cluster, NODE_TOKEN, TOYAMA_CITY, with_token};
use renkei_node::config::SyncConfig;
use renkei_node::domain::ProgrammeEvent;
use renkei_node::domain::awareness::{AwarenessEvent, AwarenessKind};
use renkei_node::domain::values::ActivityId;
use renkei_node::store::{EventStore, ExpectedVersion, NewEvent, StoreOptions, StreamId};
use renkei_node::sync::{self, SyncBoard};
use renkei_proto::v1;
use renkei_proto::{MunicipalityCode, official};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn activity(n: usize) -> NewEvent {
    let event = ProgrammeEvent::Awareness(AwarenessEvent::AwarenessActivityRecorded {
        id: ActivityId::parse("id", &format!("a{n}")).expect("a valid id"),
        kind: AwarenessKind::Lecture,
        title: format!("講演会 {n}"),
        audience: "住民".into(),
        on: NaiveDate::from_ymd_opt(2024, 10, 5).expect("a date"),
        attendance: Some(40),
        copies: None,
        scenes: vec![],
    });
    let mut e = NewEvent::new(&event.event_type(), "bench", event.to_payload());
    e.schema_version = renkei_node::domain::events::SCHEMA_VERSION;
    e
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let per_tenant = env("RENKEI_BENCH_EVENTS", 20_000);
    let prefecture = "16".parse().expect("富山県");
    // The probe tenant is 富山市; the load goes to other municipalities of 富山県.
    let probe: MunicipalityCode = TOYAMA_CITY.parse().expect("a code");
    let others: Vec<MunicipalityCode> = official::municipalities_of(prefecture)
        .map(|m| m.code)
        .filter(|c| *c != probe)
        .collect();
    let load: Vec<MunicipalityCode> = others
        .iter()
        .copied()
        .take(env("RENKEI_BENCH_TENANTS", 14).clamp(1, others.len()))
        .collect();
    let mut all = load.clone();
    all.push(probe);
    let codes: Vec<String> = all.iter().map(ToString::to_string).collect();
    let code_refs: Vec<&str> = codes.iter().map(String::as_str).collect();

    println!("starting a 3-replica prefecture cluster (processes) ...");
    let cluster = Cluster::start_for(3, &code_refs).await;
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let store = EventStore::open(dir.path(), StoreOptions::default()).expect("open the store");
    store.add_tenants(&all).await.expect("add tenants");
    let board = SyncBoard::default();
    let config = SyncConfig {
        prefecture: cluster.addresses(),
        token: Some(NODE_TOKEN.to_owned()),
        batch_facts: 2_000,
        pull_interval_ms: 60_000,
    };
    // Over mutual TLS, as a node: its certificate names every municipality it syncs.
    let tls = renkei_integration_tests::pki().node_client(&code_refs);
    let tasks = sync::start(&store, &all, Some(&config), &tls, &board);

    let total = load.len() * per_tenant;
    println!(
        "load: {} tenants x {per_tenant} events = {total} facts; freshness probes on {probe}",
        load.len()
    );
    let stream = StreamId::parse("stream", "programme/awareness").expect("a stream");
    let started = Instant::now();
    let loader = {
        let (store, load, stream) = (store.clone(), load.clone(), stream.clone());
        tokio::spawn(async move {
            let mut handles = Vec::new();
            for tenant in load {
                let (store, stream) = (store.clone(), stream.clone());
                handles.push(tokio::spawn(async move {
                    let mut n = 0;
                    while n < per_tenant {
                        let k = 250.min(per_tenant - n);
                        let batch = (n..n + k).map(activity).collect();
                        store
                            .append(tenant, stream.clone(), ExpectedVersion::Any, batch)
                            .await
                            .expect("append");
                        n += k;
                    }
                }));
            }
            for h in handles {
                h.await.expect("a loader task");
            }
        })
    };

    // Freshness probes while the load runs: every 20 ms one event to the probe tenant (the k-th
    // yields its fact k); a poller reads the prefecture's acknowledged sequence (linearizable)
    // every 2 ms and times each probe from its append to the first read that shows it.
    let leader = cluster.wait_for_leader().await;
    let mut reader = cluster.federation(leader).await;
    let sent: std::sync::Arc<std::sync::Mutex<Vec<Instant>>> = Default::default();
    let (stop_probes, mut probes_stopped) = tokio::sync::watch::channel(false);
    let prober = {
        let (store, stream, sent) = (store.clone(), stream.clone(), sent.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut n = 0usize;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = probes_stopped.wait_for(|s| *s) => return,
                }
                n += 1;
                let t0 = Instant::now();
                store
                    .append(
                        probe,
                        stream.clone(),
                        ExpectedVersion::Any,
                        vec![activity(1_000_000 + n)],
                    )
                    .await
                    .expect("append a probe");
                sent.lock().expect("probe times").push(t0);
            }
        })
    };
    let mut freshness = Vec::new();
    let mut seen = 0usize;
    let mut appended_in = None;
    let mut load_done_at = None;
    let done = |board: &SyncBoard| {
        load.iter()
            .all(|m| board.get(*m).acknowledged.unwrap_or(0) >= per_tenant as u64)
    };
    loop {
        let reply = reader
            .get_acknowledged(with_token(
                NODE_TOKEN,
                v1::GetAcknowledgedRequest {
                    municipalities: vec![probe.to_string()],
                    consistency: v1::ReadConsistency::Linearizable as i32,
                },
            ))
            .await
            .expect("a linearizable read at the prefecture");
        let now = Instant::now();
        let acked = reply.get_ref().acknowledged[0].acknowledged as usize;
        {
            let sent = sent.lock().expect("probe times");
            while seen < acked.min(sent.len()) {
                freshness.push(now - sent[seen]);
                seen += 1;
            }
        }
        if appended_in.is_none() && loader.is_finished() {
            appended_in = Some(started.elapsed());
        }
        if load_done_at.is_none() && done(&board) {
            load_done_at = Some(started.elapsed());
            let _ = stop_probes.send(true);
        }
        if load_done_at.is_some()
            && prober.is_finished()
            && seen >= sent.lock().expect("probe times").len()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = load_done_at.unwrap_or_else(|| started.elapsed());
    loader.await.expect("the loader");
    tasks.stop().await;

    freshness.sort();
    let rate = total as f64 / elapsed.as_secs_f64();
    let p50 = percentile(&freshness, 0.50);
    let p99 = percentile(&freshness, 0.99);
    println!(
        "appended at the node within {:.2} s; all {total} facts acknowledged by the prefecture after {:.2} s",
        appended_in.unwrap_or(elapsed).as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "throughput: {rate:.0} facts/s sustained (target >= 10,000: ratio {:.2})",
        rate / 10_000.0
    );
    println!(
        "freshness under load, {} probes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 < 1,000 ms: ratio {:.2})",
        freshness.len(),
        ms(p50),
        ms(p99),
        ms(freshness.last().copied().unwrap_or_default()),
        ms(p99) / 1_000.0
    );
}
