//! Proves the event store's behaviour against real RocksDB in a temporary directory: appends and
//! reads, optimistic concurrency, idempotent retries (also after reopening), atomic batches,
//! concurrent appenders, reopening, tenant isolation and live subscriptions.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use renkei_node::store::{
    Direction, EventStore, ExpectedVersion, GlobalPosition, NewEvent, StoreError, StoreOptions,
};
use renkei_proto::MunicipalityCode;

#[tokio::test]
async fn appends_and_reads_streams_and_the_whole_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let a = store
        .append(
            toyama(),
            stream("desk"),
            ExpectedVersion::NoStream,
            events(0..3),
        )
        .await
        .unwrap();
    assert_eq!((a.first_stream_version, a.last_stream_version), (1, 3));
    assert_eq!((a.first_position.get(), a.last_position.get()), (1, 3));
    assert!(!a.deduplicated);
    let b = store
        .append(
            toyama(),
            stream("training"),
            ExpectedVersion::Any,
            events(3..5),
        )
        .await
        .unwrap();
    assert_eq!((b.first_stream_version, b.first_position.get()), (1, 4));

    let (fwd, version) = store
        .read_stream(toyama(), &stream("desk"), 2, Direction::Forward, 10)
        .unwrap();
    assert_eq!(version, 3);
    assert_eq!(
        fwd.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(fwd[0].payload, b"payload 1");
    assert_eq!(fwd[0].tenant, toyama());

    let (back, _) = store
        .read_stream(toyama(), &stream("desk"), 0, Direction::Backward, 2)
        .unwrap();
    assert_eq!(
        back.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![3, 2]
    );
    let (back_from_2, _) = store
        .read_stream(toyama(), &stream("desk"), 2, Direction::Backward, 10)
        .unwrap();
    assert_eq!(back_from_2.len(), 2);

    let all = store.read_all(toyama(), GlobalPosition(0), 100).unwrap();
    assert_eq!(
        all.iter()
            .map(|e| e.global_position.get())
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(all[3].stream.as_str(), "training");
    let (missing, v) = store
        .read_stream(toyama(), &stream("nothing"), 1, Direction::Forward, 10)
        .unwrap();
    assert!(missing.is_empty());
    assert_eq!(v, 0);
}

#[tokio::test]
async fn bounded_reads_load_no_more_than_their_bytes_and_at_least_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // Forty events of 10 KB each.
    let big: Vec<_> = (0..40)
        .map(|n| NewEvent::new("Tested", "tester", vec![n as u8; 10_000]))
        .collect();
    store
        .append(toyama(), stream("big"), ExpectedVersion::Any, big)
        .await
        .unwrap();
    // Unbounded: all forty.
    assert_eq!(
        store
            .read_all(toyama(), GlobalPosition(1), 1000)
            .unwrap()
            .len(),
        40
    );
    // 35 KB: three events (a fourth would pass the bound), whichever read.
    let all = store
        .read_all_bounded(toyama(), GlobalPosition(1), 1000, 35_000)
        .unwrap();
    assert_eq!(all.len(), 3);
    let (page, version) = store
        .read_stream_bounded(
            toyama(),
            &stream("big"),
            1,
            Direction::Forward,
            1000,
            35_000,
        )
        .unwrap();
    assert_eq!((page.len(), version), (3, 40));
    let (back, _) = store
        .read_stream_bounded(
            toyama(),
            &stream("big"),
            0,
            Direction::Backward,
            1000,
            35_000,
        )
        .unwrap();
    assert_eq!(
        back.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![40, 39, 38]
    );
    // A bound below one event still gives that one, so a reader always moves on.
    let one = store
        .read_all_bounded(toyama(), GlobalPosition(5), 1000, 1)
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].global_position.get(), 5);
    // Past the first chunk of a stream read (64 events at a time), the bound still holds.
    let (many, _) = store
        .read_stream_bounded(
            toyama(),
            &stream("big"),
            1,
            Direction::Forward,
            1000,
            399_000,
        )
        .unwrap();
    assert_eq!(many.len(), 39);
}

#[tokio::test]
async fn a_wrong_expected_version_fails_with_the_actual_version_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store
        .append(
            toyama(),
            stream("s"),
            ExpectedVersion::NoStream,
            events(0..3),
        )
        .await
        .unwrap();
    for expected in [ExpectedVersion::NoStream, ExpectedVersion::Exact(2)] {
        let err = store
            .append(toyama(), stream("s"), expected, events(10..12))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            StoreError::WrongExpectedVersion {
                stream: "s".into(),
                expected,
                actual: 3
            }
        );
    }
    assert_eq!(store.last_position(toyama()).unwrap().get(), 3);
    let ok = store
        .append(
            toyama(),
            stream("s"),
            ExpectedVersion::Exact(3),
            events(20..21),
        )
        .await
        .unwrap();
    assert_eq!(ok.last_stream_version, 4);
}

#[tokio::test]
async fn a_retry_returns_the_original_positions_for_ever_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let batch = events(0..3);
    let original = {
        let store = open(dir.path()).await;
        let original = store
            .append(
                toyama(),
                stream("s"),
                ExpectedVersion::NoStream,
                batch.clone(),
            )
            .await
            .unwrap();
        store
            .append(toyama(), stream("s"), ExpectedVersion::Any, events(3..5))
            .await
            .unwrap();
        // The retry wins even though its expected version no longer holds.
        let retry = store
            .append(
                toyama(),
                stream("s"),
                ExpectedVersion::NoStream,
                batch.clone(),
            )
            .await
            .unwrap();
        assert!(retry.deduplicated);
        assert_eq!(
            (retry.first_position, retry.last_position),
            (original.first_position, original.last_position)
        );
        store.close().await.unwrap();
        original
    };
    // After reopening: no cache window, the id index is durable.
    let store = open(dir.path()).await;
    let retry = store
        .append(toyama(), stream("s"), ExpectedVersion::Any, batch.clone())
        .await
        .unwrap();
    assert!(retry.deduplicated);
    assert_eq!(retry.first_position, original.first_position);
    assert_eq!(retry.last_stream_version, 3);
    assert_eq!(store.last_position(toyama()).unwrap().get(), 5);
}

#[tokio::test]
async fn the_same_id_with_other_content_or_a_partial_retry_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let batch = events(0..2);
    store
        .append(toyama(), stream("s"), ExpectedVersion::Any, batch.clone())
        .await
        .unwrap();

    let mut changed = batch.clone();
    changed[1].payload = b"something else".to_vec();
    let err = store
        .append(toyama(), stream("s"), ExpectedVersion::Any, changed)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::EventIdConflict { index: 1, event_id, .. } if event_id == batch[1].event_id),
        "{err}"
    );

    let other_stream = store
        .append(toyama(), stream("t"), ExpectedVersion::Any, batch.clone())
        .await
        .unwrap_err();
    assert!(matches!(
        other_stream,
        StoreError::EventIdConflict { index: 0, .. }
    ));

    let mut mixed = batch.clone();
    mixed.push(event(99));
    let err = store
        .append(toyama(), stream("s"), ExpectedVersion::Any, mixed)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("mixes recorded and new"), "{err}");
    assert_eq!(store.last_position(toyama()).unwrap().get(), 2);
}

#[tokio::test]
async fn a_batch_with_one_bad_event_writes_nothing_and_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(
        dir.path(),
        StoreOptions {
            max_payload_bytes: 100,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    store.add_tenant(toyama()).await.unwrap();
    let mut batch = events(0..4);
    batch[2].payload = vec![0u8; 101];
    let err = store
        .append(toyama(), stream("s"), ExpectedVersion::Any, batch)
        .await
        .unwrap_err();
    match &err {
        StoreError::InvalidArgument { field, value, .. } => {
            assert_eq!(field, "events[2].payload");
            assert_eq!(value, "101 bytes");
        }
        other => panic!("unexpected {other}"),
    }
    let mut twice = events(0..2);
    twice[1].event_id = twice[0].event_id;
    let err = store
        .append(toyama(), stream("s"), ExpectedVersion::Any, twice)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("events[1].event_id"), "{err}");
    let mut untyped = events(0..1);
    untyped[0].event_type = String::new();
    let err = store
        .append(toyama(), stream("s"), ExpectedVersion::Any, untyped)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("events[0].type"), "{err}");
    let err = store
        .append(toyama(), stream("s"), ExpectedVersion::Any, vec![])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("events"), "{err}");
    assert!(
        store
            .read_all(toyama(), GlobalPosition(1), 10)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_unknown_tenant_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let uozu: MunicipalityCode = "162043".parse().unwrap();
    let err = store
        .append(uozu, stream("s"), ExpectedVersion::Any, events(0..1))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::UnknownTenant(uozu));
    assert!(store.read_all(uozu, GlobalPosition(1), 1).is_err());
    assert!(store.subscribe(uozu, GlobalPosition(1)).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appenders_get_contiguous_unique_positions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let writers = 16;
    let per_writer = 40;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let own = stream(&format!("writer-{w}"));
            let mut acknowledged = Vec::new();
            for i in 0..per_writer {
                // Own stream with exact versions, shared stream with any.
                let expected = if i == 0 {
                    ExpectedVersion::NoStream
                } else {
                    ExpectedVersion::Exact(i as u64)
                };
                let own_batch = events(i * 2..i * 2 + 2);
                let o = store
                    .append(toyama(), own.clone(), expected, own_batch[..1].to_vec())
                    .await
                    .unwrap();
                acknowledged.push(o.first_position);
                let s = store
                    .append(
                        toyama(),
                        stream("shared"),
                        ExpectedVersion::Any,
                        own_batch[1..].to_vec(),
                    )
                    .await
                    .unwrap();
                acknowledged.push(s.first_position);
            }
            acknowledged
        }));
    }
    let mut acknowledged = HashSet::new();
    for t in tasks {
        for p in t.await.unwrap() {
            assert!(acknowledged.insert(p), "position {p} given twice");
        }
    }
    let total = writers * per_writer * 2;
    assert_eq!(acknowledged.len(), total);
    let all = store
        .read_all(toyama(), GlobalPosition(1), total + 10)
        .unwrap();
    assert_eq!(all.len(), total);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.global_position.get(), i as u64 + 1);
    }
    let (shared, version) = store
        .read_stream(toyama(), &stream("shared"), 1, Direction::Forward, total)
        .unwrap();
    assert_eq!(version as usize, writers * per_writer);
    for (i, e) in shared.iter().enumerate() {
        assert_eq!(e.stream_version, i as u64 + 1);
    }
}

#[tokio::test]
async fn reopening_keeps_events_positions_and_tenants() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path()).await;
        store
            .append(toyama(), stream("s"), ExpectedVersion::Any, events(0..5))
            .await
            .unwrap();
        store
            .append(takaoka(), stream("s"), ExpectedVersion::Any, events(0..2))
            .await
            .unwrap();
        store.close().await.unwrap();
        let err = store
            .append(toyama(), stream("s"), ExpectedVersion::Any, events(5..6))
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::Closed);
    }
    // No add_tenant: the registration itself is durable.
    let store = EventStore::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.tenants(), vec![toyama(), takaoka()]);
    assert_eq!(store.last_position(toyama()).unwrap().get(), 5);
    assert_eq!(store.last_position(takaoka()).unwrap().get(), 2);
    let next = store
        .append(
            toyama(),
            stream("s"),
            ExpectedVersion::Exact(5),
            events(5..6),
        )
        .await
        .unwrap();
    assert_eq!(
        (next.first_position.get(), next.first_stream_version),
        (6, 6)
    );
}

#[tokio::test]
async fn tenants_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store
        .append(
            toyama(),
            stream("s"),
            ExpectedVersion::NoStream,
            events(0..3),
        )
        .await
        .unwrap();
    // The same stream name in another tenant is another stream, with its own positions.
    let o = store
        .append(
            takaoka(),
            stream("s"),
            ExpectedVersion::NoStream,
            events(0..1),
        )
        .await
        .unwrap();
    assert_eq!((o.first_position.get(), o.first_stream_version), (1, 1));
    let takaoka_all = store.read_all(takaoka(), GlobalPosition(1), 100).unwrap();
    assert_eq!(takaoka_all.len(), 1);
    assert!(takaoka_all.iter().all(|e| e.tenant == takaoka()));
    // The same event id in another tenant is another event.
    let batch = events(10..11);
    store
        .append(toyama(), stream("x"), ExpectedVersion::Any, batch.clone())
        .await
        .unwrap();
    let other = store
        .append(takaoka(), stream("x"), ExpectedVersion::Any, batch)
        .await
        .unwrap();
    assert!(!other.deduplicated);
}

#[tokio::test]
async fn one_store_hosts_every_municipality_of_japan() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), StoreOptions::default()).unwrap();
    let all: Vec<_> = renkei_proto::official::municipalities()
        .map(|m| m.code)
        .collect();
    assert_eq!(all.len(), 1741);
    store.add_tenants(&all).await.unwrap();
    let appends = all.iter().map(|code| {
        let store = store.clone();
        async move {
            store
                .append(
                    *code,
                    stream("resources"),
                    ExpectedVersion::NoStream,
                    events(0..1),
                )
                .await
        }
    });
    for outcome in futures::future::join_all(appends).await {
        assert_eq!(outcome.unwrap().first_position.get(), 1);
    }
    for code in all.iter().step_by(97) {
        let events = store.read_all(*code, GlobalPosition(1), 10).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].tenant, *code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_catches_up_then_follows_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // More than one page of history.
    for chunk in 0..6 {
        store
            .append(
                toyama(),
                stream("s"),
                ExpectedVersion::Any,
                events(chunk * 100..chunk * 100 + 100),
            )
            .await
            .unwrap();
    }
    store
        .append(takaoka(), stream("s"), ExpectedVersion::Any, events(0..10))
        .await
        .unwrap();
    let mut sub = store.subscribe(toyama(), GlobalPosition(1)).unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                store
                    .append(
                        toyama(),
                        stream("live"),
                        ExpectedVersion::Any,
                        events(i..i + 1),
                    )
                    .await
                    .unwrap();
                // Noise in the other tenant must not reach this subscription.
                store
                    .append(
                        takaoka(),
                        stream("live"),
                        ExpectedVersion::Any,
                        events(i..i + 1),
                    )
                    .await
                    .unwrap();
            }
        })
    };
    for expected in 1..=800u64 {
        let e = tokio::time::timeout(Duration::from_secs(20), sub.next())
            .await
            .expect("subscription stalled")
            .unwrap()
            .unwrap();
        assert_eq!(e.global_position.get(), expected);
        assert_eq!(e.tenant, toyama());
    }
    writer.await.unwrap();
    // Nothing more than what was written.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), sub.next())
            .await
            .is_err()
    );
    // A subscription from the middle starts there.
    let mut mid = store.subscribe(toyama(), GlobalPosition(650)).unwrap();
    assert_eq!(
        mid.next().await.unwrap().unwrap().global_position.get(),
        650
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_holds_back_neither_writers_nor_its_own_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut sub = store.subscribe(toyama(), GlobalPosition(1)).unwrap();
    // The subscriber reads nothing while 5,000 events are appended: appends still complete.
    for chunk in 0..50 {
        store
            .append(
                toyama(),
                stream("s"),
                ExpectedVersion::Any,
                events(chunk * 100..chunk * 100 + 100),
            )
            .await
            .unwrap();
    }
    let mut next = 1u64;
    while next <= 5000 {
        let e = sub.next().await.unwrap().unwrap();
        assert_eq!(e.global_position.get(), next);
        next += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_taken_while_serving_restores_exactly_the_backed_up_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("data")).await;
    store
        .append(toyama(), stream("s"), ExpectedVersion::Any, events(0..5))
        .await
        .unwrap();
    let backup = dir.path().join("backup");
    store.checkpoint(&backup).unwrap();
    assert!(
        store.checkpoint(&backup).is_err(),
        "a checkpoint never overwrites"
    );
    let after = events(5..8);
    store
        .append(toyama(), stream("s"), ExpectedVersion::Any, after.clone())
        .await
        .unwrap();
    assert_eq!(store.last_position(toyama()).unwrap().get(), 8);

    let restored_dir = dir.path().join("restored");
    EventStore::restore(&backup, &restored_dir).unwrap();
    assert!(
        EventStore::restore(&backup, &restored_dir).is_err(),
        "a restore never overwrites"
    );
    let restored = EventStore::open(&restored_dir, StoreOptions::default()).unwrap();
    assert_eq!(restored.tenants(), vec![toyama(), takaoka()]);
    assert_eq!(restored.last_position(toyama()).unwrap().get(), 5);
    let all = restored.read_all(toyama(), GlobalPosition(1), 100).unwrap();
    assert_eq!(all.len(), 5);
    // The events appended after the checkpoint are new to the restored store.
    let again = restored
        .append(toyama(), stream("s"), ExpectedVersion::Exact(5), after)
        .await
        .unwrap();
    assert!(!again.deduplicated);
    assert_eq!(again.first_position.get(), 6);
}

#[tokio::test]
async fn a_directory_of_other_files_is_never_taken_for_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a database").unwrap();
    let err = EventStore::open(dir.path(), StoreOptions::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("CURRENT is missing"), "{err}");
    assert!(!dir.path().join("CURRENT").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_copies_of_one_batch_are_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for round in 0..50 {
        let batch = events(round * 3..round * 3 + 3);
        let copies: Vec<_> = (0..4)
            .map(|_| {
                let (store, batch) = (store.clone(), batch.clone());
                tokio::spawn(async move {
                    store
                        .append(toyama(), stream("s"), ExpectedVersion::Any, batch)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for c in copies {
            outcomes.push(c.await.unwrap());
        }
        assert_eq!(outcomes.iter().filter(|o| !o.deduplicated).count(), 1);
        let first = outcomes[0].first_position;
        assert!(outcomes.iter().all(|o| o.first_position == first));
    }
    assert_eq!(store.last_position(toyama()).unwrap().get(), 150);
}
