//! Durable append throughput of the event store against raw RocksDB on the same disk.
//!
//! Run: `cargo bench -p renkei-node --bench append` (set `RENKEI_BENCH_DIR` to choose the disk,
//! `RENKEI_BENCH_SECONDS` for the length of each measurement, default 1.5).
//!
//! For batches of 1, 100 and 1,000 events from 1 and 16 concurrent writers it measures:
//! - store: `EventStore::append` (validation, idempotency lookups, stream index, one fsync per
//!   group of concurrent appends);
//! - raw: the same number of events of the same size written by the same number of threads as one
//!   `WriteBatch` per batch with `sync = true`, one key per event, nothing else.
//!
//! The two alternate in rounds so that the machine's noise hits both alike; the median round is
//! printed, with the ratios store/raw and store 16 writers / 1 writer at batch size 1.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use renkei_node::store::{EventStore, ExpectedVersion, NewEvent, StoreOptions, StreamId};
use renkei_proto::MunicipalityCode;

const PAYLOAD: usize = 200;
const ROUNDS: usize = 3;

fn main() {
    let base = std::env::var_os("RENKEI_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let seconds: f64 = std::env::var("RENKEI_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.5);
    let dir = tempfile::tempdir_in(&base).expect("bench directory");
    let duration = Duration::from_secs_f64(seconds);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "durable append throughput, {PAYLOAD}-byte payloads, {seconds}s per measurement, median of {ROUNDS} rounds, in {}",
        base.display()
    );
    println!(
        "{:>6} {:>8} {:>14} {:>14} {:>10}",
        "batch", "writers", "store ev/s", "raw ev/s", "store/raw"
    );
    let mut results = Vec::new();
    for batch in [1usize, 100, 1000] {
        for writers in [1usize, 16] {
            let mut store_rounds = Vec::new();
            let mut raw_rounds = Vec::new();
            for round in 0..ROUNDS {
                let sdir = dir.path().join(format!("store-{batch}-{writers}-{round}"));
                let rdir = dir.path().join(format!("raw-{batch}-{writers}-{round}"));
                store_rounds.push(runtime.block_on(bench_store(&sdir, batch, writers, duration)));
                raw_rounds.push(bench_raw(&rdir, batch, writers, duration));
                let _ = std::fs::remove_dir_all(&sdir);
                let _ = std::fs::remove_dir_all(&rdir);
            }
            let store = median(store_rounds);
            let raw = median(raw_rounds);
            println!(
                "{batch:>6} {writers:>8} {store:>14.0} {raw:>14.0} {:>10.2}",
                store / raw
            );
            results.push((batch, writers, store, raw));
        }
    }
    let get = |b, w| {
        results
            .iter()
            .find(|r| r.0 == b && r.1 == w)
            .map(|r| (r.2, r.3))
            .expect("measured")
    };
    println!();
    for (b, w) in [(100, 1), (100, 16), (1000, 1), (1000, 16)] {
        let (s, r) = get(b, w);
        println!(
            "batched store/raw, batch {b:>4}, {w:>2} writer(s): {:.2}  (target >= 0.80) {}",
            s / r,
            verdict(s / r >= 0.8)
        );
    }
    let group = get(1, 16).0 / get(1, 1).0;
    println!(
        "group commit: single-event appends, 16 writers / 1 writer: {group:.2}  (target >= 5.00) {}",
        verdict(group >= 5.0)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT MET" }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn tenant() -> MunicipalityCode {
    "162019".parse().expect("valid code")
}

async fn bench_store(dir: &Path, batch: usize, writers: usize, duration: Duration) -> f64 {
    let store = EventStore::open(dir, StoreOptions::default()).expect("open store");
    store.add_tenant(tenant()).await.expect("tenant");
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let payload = vec![b'x'; PAYLOAD];
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let stop = stop.clone();
        let count = count.clone();
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::parse("stream", &format!("writer-{w}")).expect("valid");
            while !stop.load(Ordering::Relaxed) {
                let events: Vec<NewEvent> = (0..batch)
                    .map(|_| NewEvent::new("BenchEvent", "bench", payload.clone()))
                    .collect();
                store
                    .append(tenant(), stream.clone(), ExpectedVersion::Any, events)
                    .await
                    .expect("append");
                count.fetch_add(batch as u64, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let done = count.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    for t in tasks {
        t.await.expect("writer");
    }
    store.close().await.expect("close");
    done as f64 / elapsed.as_secs_f64()
}

fn bench_raw(dir: &Path, batch: usize, writers: usize, duration: Duration) -> f64 {
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(true);
    let db = Arc::new(rocksdb::DB::open(&opts, dir).expect("open raw db"));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let next_key = Arc::new(AtomicU64::new(0));
    // The size of a stored event: payload plus envelope (id, stream, type, actor, times).
    let value = vec![b'x'; PAYLOAD + 64];
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..writers {
            let (db, stop, count, next_key, value) = (&db, &stop, &count, &next_key, &value);
            scope.spawn(move || {
                let mut sync = rocksdb::WriteOptions::default();
                sync.set_sync(true);
                while !stop.load(Ordering::Relaxed) {
                    let mut wb = rocksdb::WriteBatch::default();
                    let first = next_key.fetch_add(batch as u64, Ordering::Relaxed);
                    for k in first..first + batch as u64 {
                        wb.put(k.to_be_bytes(), value);
                    }
                    db.write_opt(wb, &sync).expect("raw write");
                    count.fetch_add(batch as u64, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = start.elapsed();
    count.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}
