//! Proves, with random operation sequences, that the RocksDB event store behaves like a simple
//! in-memory model: same outcomes (positions, versions, deduplication, conflicts) for appends,
//! retries and altered retries, across reopenings, and the same streams and log at the end.

mod common;

use std::collections::HashMap;

use common::*;
use proptest::prelude::*;
use renkei_node::store::{
    AppendOutcome, Direction, EventStore, ExpectedVersion, GlobalPosition, NewEvent, StoreError,
    StoreOptions,
};
use renkei_proto::MunicipalityCode;

#[derive(Debug, Clone)]
enum Op {
    Append {
        tenant: usize,
        stream: usize,
        expected: Expect,
        len: usize,
    },
    /// Re-sends an earlier batch (successful or not).
    Retry {
        batch: usize,
    },
    /// Re-sends an earlier batch with one payload changed.
    RetryAltered {
        batch: usize,
    },
    Reopen,
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    Any,
    NoStream,
    /// Exact(current version + offset), offset in -1..=1.
    Relative(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..2usize, 0..3usize, prop_oneof![
                Just(Expect::Any), Just(Expect::NoStream), (-1i64..=1).prop_map(Expect::Relative)
             ], 1..4usize)
            .prop_map(|(tenant, stream, expected, len)| Op::Append { tenant, stream, expected, len }),
        2 => (0..50usize).prop_map(|batch| Op::Retry { batch }),
        1 => (0..50usize).prop_map(|batch| Op::RetryAltered { batch }),
        1 => Just(Op::Reopen),
    ]
}

/// The in-memory model: per tenant, the log of (stream, event) in position order.
#[derive(Default)]
struct Model {
    logs: HashMap<MunicipalityCode, Vec<(String, NewEvent)>>,
}

impl Model {
    fn version(&self, tenant: MunicipalityCode, stream: &str) -> u64 {
        self.logs.get(&tenant).map_or(0, |log| {
            log.iter().filter(|(s, _)| s == stream).count() as u64
        })
    }

    fn append(
        &mut self,
        tenant: MunicipalityCode,
        stream: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, &'static str> {
        let log = self.logs.entry(tenant).or_default();
        let found: Vec<Option<usize>> = events
            .iter()
            .map(|e| log.iter().position(|(_, x)| x.event_id == e.event_id))
            .collect();
        if found.iter().any(Option::is_some) {
            if found.iter().any(Option::is_none) {
                return Err("conflict");
            }
            let idx: Vec<usize> = found.into_iter().flatten().collect();
            for (i, (event, at)) in events.iter().zip(&idx).enumerate() {
                let (s, stored) = &log[*at];
                if s != stream || stored != event || (i > 0 && *at != idx[i - 1] + 1) {
                    return Err("conflict");
                }
            }
            let version_at =
                |at: usize| log[..=at].iter().filter(|(s, _)| s == stream).count() as u64;
            return Ok(AppendOutcome {
                first_stream_version: version_at(idx[0]),
                last_stream_version: version_at(*idx.last().unwrap()),
                first_position: GlobalPosition(idx[0] as u64 + 1),
                last_position: GlobalPosition(*idx.last().unwrap() as u64 + 1),
                deduplicated: true,
            });
        }
        let current = log.iter().filter(|(s, _)| s == stream).count() as u64;
        if !expected.admits(current) {
            return Err("wrong version");
        }
        let first = log.len() as u64 + 1;
        for e in events {
            log.push((stream.to_owned(), e.clone()));
        }
        Ok(AppendOutcome {
            first_stream_version: current + 1,
            last_stream_version: current + events.len() as u64,
            first_position: GlobalPosition(first),
            last_position: GlobalPosition(first + events.len() as u64 - 1),
            deduplicated: false,
        })
    }
}

fn kind(r: &Result<AppendOutcome, StoreError>) -> Result<AppendOutcome, &'static str> {
    match r {
        Ok(o) => Ok(*o),
        Err(StoreError::EventIdConflict { .. }) => Err("conflict"),
        Err(StoreError::WrongExpectedVersion { .. }) => Err("wrong version"),
        Err(other) => panic!("unexpected error {other}"),
    }
}

async fn open_store(dir: &std::path::Path) -> EventStore {
    let store = EventStore::open(dir, StoreOptions::default()).unwrap();
    store.add_tenants(&[toyama(), takaoka()]).await.unwrap();
    store
}

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_store(dir.path()).await;
    let mut model = Model::default();
    let tenants = [toyama(), takaoka()];
    let streams = ["a", "b", "c"];
    let mut sent: Vec<(MunicipalityCode, &str, ExpectedVersion, Vec<NewEvent>)> = Vec::new();
    let mut counter = 0;
    for op in ops {
        let (tenant, s, expected, batch) = match op {
            Op::Reopen => {
                store.close().await.unwrap();
                drop(store);
                store = open_store(dir.path()).await;
                continue;
            }
            Op::Append {
                tenant,
                stream: si,
                expected,
                len,
            } => {
                let t = tenants[tenant];
                let current = model.version(t, streams[si]);
                let expected = match expected {
                    Expect::Any => ExpectedVersion::Any,
                    Expect::NoStream => ExpectedVersion::NoStream,
                    Expect::Relative(d) => match current as i64 + d {
                        v if v < 1 => ExpectedVersion::Exact(1),
                        v => ExpectedVersion::Exact(v as u64),
                    },
                };
                counter += len;
                (t, streams[si], expected, events(counter - len..counter))
            }
            Op::Retry { batch } if !sent.is_empty() => sent[batch % sent.len()].clone(),
            Op::RetryAltered { batch } if !sent.is_empty() => {
                let (t, s, e, mut b) = sent[batch % sent.len()].clone();
                b[0].payload.push(b'!');
                (t, s, e, b)
            }
            _ => continue,
        };
        let got = store
            .append(tenant, stream(s), expected, batch.clone())
            .await;
        let want = model.append(tenant, s, expected, &batch);
        assert_eq!(
            kind(&got),
            want,
            "append to {tenant}/{s} expecting {expected}"
        );
        sent.push((tenant, s, expected, batch));
    }
    for t in tenants {
        let log = model.logs.remove(&t).unwrap_or_default();
        let all = store.read_all(t, GlobalPosition(1), 10_000).unwrap();
        assert_eq!(all.len(), log.len());
        for (recorded, (s, e)) in all.iter().zip(&log) {
            assert_eq!(recorded.stream.as_str(), s);
            assert_eq!(recorded.event_id, e.event_id);
            assert_eq!(recorded.payload, e.payload);
            assert_eq!(recorded.occurred_at, e.occurred_at);
        }
        for s in streams {
            let (read, version) = store
                .read_stream(t, &stream(s), 1, Direction::Forward, 10_000)
                .unwrap();
            let expected: Vec<_> = log
                .iter()
                .filter(|(x, _)| x == s)
                .map(|(_, e)| e.event_id)
                .collect();
            assert_eq!(version as usize, expected.len());
            assert_eq!(
                read.iter().map(|e| e.event_id).collect::<Vec<_>>(),
                expected
            );
        }
    }
    store.close().await.unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_store_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}
