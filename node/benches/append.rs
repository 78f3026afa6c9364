//! Durable append throughput of the event store against raw RocksDB on the same disk.
//!
//! Run: `cargo bench -p renkei-node --bench append` (set `RENKEI_BENCH_DIR` to choose the disk,
//! `RENKEI_BENCH_SCALE` to scale the work, default 1.0; `RENKEI_BENCH_ONLY=1000x1` to measure
//! one case, for profiling).
//!
//! For batches of 1, 100 and 1,000 events from 1 and 16 concurrent writers, each case appends a
//! fixed number of events and is timed from the first append to the last acknowledgement:
//! - store: `EventStore::append` (validation, idempotency check, encoding, stream index, one fsync
//!   per group of concurrent appends). The events are built before the clock starts, as a client
//!   would hand them over;
//! - raw (same records): the records the store persists for such a batch — per event its record
//!   (same size) and its id-index entry, per batch a stream-run entry and a stream head, in the same
//!   column families — written by the same number of threads as one `WriteBatch` with
//!   `sync = true`, with RocksDB's default options and nothing else: the engine's cost for the same
//!   data, so that store/raw is the store's own overhead;
//! - raw (one key): one key per event of the same size and nothing else: a floor no store with an
//!   index can reach, printed for reference.
//!
//! The three alternate in rounds so that the machine's noise hits them alike; the median round is
//! printed, with the ratios store/raw and store 16 writers / 1 writer at batch size 1.

use std::path::{Path, PathBuf};
use std::time::Instant;

use renkei_node::store::{EventStore, ExpectedVersion, NewEvent, StoreOptions, StreamId};
use renkei_proto::MunicipalityCode;

const PAYLOAD: usize = 200;
/// The size of the stored record of a bench event: its payload plus the envelope (id, stream,
/// version, type, schema version, occurred and recorded times, actor) as the store encodes it.
const RECORD: usize = PAYLOAD + 74;
const ROUNDS: usize = 3;

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    SameRecords,
    OneKey,
}

/// Events appended per case (batch size, writers), before scaling: about a second of work.
fn events_for(batch: usize, writers: usize) -> usize {
    match (batch, writers) {
        (1, 1) => 5_000,
        (1, _) => 30_000,
        (100, 1) => 200_000,
        _ => 400_000,
    }
}

fn main() {
    let base = std::env::var_os("RENKEI_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let scale: f64 = std::env::var("RENKEI_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let only = std::env::var("RENKEI_BENCH_ONLY").ok();
    let dir = tempfile::tempdir_in(&base).expect("bench directory");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "durable append throughput, {PAYLOAD}-byte payloads, median of {ROUNDS} rounds, in {}",
        base.display()
    );
    println!(
        "{:>6} {:>8} {:>12} {:>12} {:>10} {:>12} {:>11}",
        "batch", "writers", "store ev/s", "raw ev/s", "store/raw", "1-key ev/s", "store/1-key"
    );
    let mut results = Vec::new();
    for batch in [1usize, 100, 1000] {
        for writers in [1usize, 16] {
            if only
                .as_ref()
                .is_some_and(|o| *o != format!("{batch}x{writers}"))
            {
                continue;
            }
            let total = ((events_for(batch, writers) as f64 * scale) as usize).max(batch * writers)
                / (batch * writers)
                * (batch * writers);
            let (mut store, mut raw, mut one_key) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..ROUNDS {
                let path =
                    |kind: &str| dir.path().join(format!("{kind}-{batch}-{writers}-{round}"));
                let (s, r, k) = (path("store"), path("raw"), path("key"));
                store.push(runtime.block_on(bench_store(&s, batch, writers, total)));
                raw.push(bench_raw(&r, Layout::SameRecords, batch, writers, total));
                one_key.push(bench_raw(&k, Layout::OneKey, batch, writers, total));
                for d in [&s, &r, &k] {
                    let _ = std::fs::remove_dir_all(d);
                }
            }
            let (store, raw, one_key) = (median(store), median(raw), median(one_key));
            println!(
                "{batch:>6} {writers:>8} {store:>12.0} {raw:>12.0} {:>10.2} {one_key:>12.0} {:>11.2}",
                store / raw,
                store / one_key
            );
            results.push((batch, writers, store, raw));
        }
    }
    if only.is_some() {
        return;
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

async fn bench_store(dir: &Path, batch: usize, writers: usize, total: usize) -> f64 {
    let store = EventStore::open(dir, StoreOptions::default()).expect("open store");
    store.add_tenant(tenant()).await.expect("tenant");
    let payload = vec![b'x'; PAYLOAD];
    let per_writer = total / writers / batch;
    let work: Vec<Vec<Vec<NewEvent>>> = (0..writers)
        .map(|_| {
            (0..per_writer)
                .map(|_| {
                    (0..batch)
                        .map(|_| NewEvent::new("BenchEvent", "bench", payload.clone()))
                        .collect()
                })
                .collect()
        })
        .collect();
    let start = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .enumerate()
        .map(|(w, batches)| {
            let store = store.clone();
            tokio::spawn(async move {
                let stream = StreamId::parse("stream", &format!("writer-{w}")).expect("valid");
                for events in batches {
                    store
                        .append(tenant(), stream.clone(), ExpectedVersion::Any, events)
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer");
    }
    let elapsed = start.elapsed();
    store.close().await.expect("close");
    (per_writer * batch * writers) as f64 / elapsed.as_secs_f64()
}

fn bench_raw(dir: &Path, layout: Layout, batch: usize, writers: usize, total: usize) -> f64 {
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    let cfs = ["events", "event_ids", "streams", "heads"];
    let db = rocksdb::DB::open_cf(&opts, dir, cfs).expect("open raw db");
    let value = vec![b'x'; RECORD];
    let per_writer = total / writers / batch;
    let ids: Vec<Vec<[u8; 16]>> = (0..writers)
        .map(|_| {
            (0..per_writer * batch)
                .map(|_| *uuid::Uuid::now_v7().as_bytes())
                .collect()
        })
        .collect();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for (w, ids) in ids.iter().enumerate() {
            let (db, value) = (&db, &value);
            scope.spawn(move || {
                let mut sync = rocksdb::WriteOptions::default();
                sync.set_sync(true);
                let cf = |name| db.cf_handle(name).expect("column family");
                let (events, id_index, streams, heads) =
                    (cf("events"), cf("event_ids"), cf("streams"), cf("heads"));
                for b in 0..per_writer {
                    let mut wb = rocksdb::WriteBatch::default();
                    let first = ((w * per_writer + b) * batch) as u64;
                    for (i, id) in ids[b * batch..(b + 1) * batch].iter().enumerate() {
                        let position = first + i as u64;
                        let mut key = [0u8; 12];
                        key[4..].copy_from_slice(&position.to_be_bytes());
                        wb.put_cf(events, key, value);
                        if layout == Layout::SameRecords {
                            let mut id_key = [0u8; 20];
                            id_key[4..].copy_from_slice(id);
                            wb.put_cf(id_index, id_key, position.to_be_bytes());
                        }
                    }
                    if layout == Layout::SameRecords {
                        let mut run = [0u8; 21];
                        run[4] = w as u8;
                        run[13..].copy_from_slice(&first.to_be_bytes());
                        wb.put_cf(streams, run, [0u8; 12]);
                        wb.put_cf(heads, &run[..13], first.to_be_bytes());
                    }
                    db.write_opt(wb, &sync).expect("raw write");
                }
            });
        }
    });
    (per_writer * batch * writers) as f64 / start.elapsed().as_secs_f64()
}
