//! Municipal → prefecture sync over loopback with real processes: a 3-replica `renkei-prefecture`
//! cluster and a `renkei-node` hosting 富山市 and 高岡市. After every fault the prefecture's
//! ledger of each municipality equals the node's outbox exactly: same sequences, same bytes.

use prost::Message;
use renkei_integration_tests::*;
use renkei_proto::v1;
use tonic::Code;

/// Waits until the node reports every one of `recorded` facts, after the municipality's
/// participation fact that opens every outbox, acknowledged, then checks that the prefecture's
/// ledger and the node's outbox are the same facts.
async fn converged(node: &Node, cluster: &Cluster, municipality: &str, recorded: u64) {
    let expected = recorded + PARTICIPATION_FACTS;
    wait_until(
        &format!("{municipality}: {expected} facts produced and acknowledged"),
        || async {
            let s = node.sync_state(municipality).await;
            s.produced == expected && s.acknowledged == expected && s.lag_facts == 0
        },
    )
    .await;
    let outbox = node.outbox(municipality).await;
    let ledger = cluster.ledger(municipality).await;
    assert_eq!(outbox.len() as u64, expected, "{municipality}: outbox size");
    assert!(
        outbox
            .iter()
            .enumerate()
            .all(|(i, f)| f.sequence == i as u64 + 1),
        "{municipality}: outbox sequences are 1..={expected}"
    );
    assert!(
        ledger == outbox,
        "{municipality}: ledger differs from the outbox"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefecture_down_for_a_while_and_back_every_fact_arrives_once() {
    let mut cluster = Cluster::start(3).await;
    let node = Node::start(cluster.addresses());
    record_activities(&node, TOYAMA_CITY, "a", 0..30).await;
    record_activities(&node, TAKAOKA_CITY, "a", 0..20).await;
    converged(&node, &cluster, TOYAMA_CITY, 30).await;
    converged(&node, &cluster, TAKAOKA_CITY, 20).await;

    // The whole prefecture goes away; the node keeps recording, its facts wait in the outbox.
    for id in cluster.ids() {
        cluster.kill(id);
    }
    record_activities(&node, TOYAMA_CITY, "b", 0..25).await;
    wait_until("the node to report the prefecture unreachable", || async {
        let s = node.sync_state(TOYAMA_CITY).await;
        s.produced == 56 && s.lag_facts == 25 && !s.last_error.is_empty()
    })
    .await;

    for id in cluster.ids() {
        cluster.restart(id);
    }
    cluster.wait_for_leader().await;
    converged(&node, &cluster, TOYAMA_CITY, 55).await;
    converged(&node, &cluster, TAKAOKA_CITY, 20).await;
    let s = node.sync_state(TOYAMA_CITY).await;
    assert!(s.last_error.is_empty(), "the error clears: {s:?}");
    assert!(s.last_success.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_mid_stream_loses_and_repeats_nothing() {
    let mut cluster = Cluster::start(3).await;
    let node = Node::start(cluster.addresses());
    let recording = record_activities(&node, TOYAMA_CITY, "x", 0..200);
    let killing = async {
        wait_until("some facts acknowledged", || async {
            node.sync_state(TOYAMA_CITY).await.acknowledged >= 21
        })
        .await;
        let leader = cluster.wait_for_leader().await;
        cluster.kill(leader);
        leader
    };
    let ((), killed) = tokio::join!(recording, killing);
    assert!(!cluster.is_running(killed));
    converged(&node, &cluster, TOYAMA_CITY, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_killed_mid_batch_resumes_from_the_acknowledged_sequence() {
    let cluster = Cluster::start(3).await;
    let mut node = Node::start(cluster.addresses());
    record_activities(&node, TOYAMA_CITY, "k", 0..300).await;
    // Every activity was acknowledged to the caller; the outbox and the pusher are mid-way.
    node.kill();
    node.restart();
    record_activities(&node, TOYAMA_CITY, "after", 0..10).await;
    converged(&node, &cluster, TOYAMA_CITY, 310).await;
}

fn outcomes(reply: &v1::WriteFactsResponse) -> Vec<(v1::FactOutcome, u64)> {
    reply
        .results
        .iter()
        .map(|r| {
            (
                v1::FactOutcome::try_from(r.outcome).unwrap(),
                r.acknowledged,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_gaps_and_foreign_municipalities_are_refused_without_effect() {
    use v1::FactOutcome::{Applied, Duplicate, Gap};
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_for_leader().await;
    let mut client = cluster.federation(leader).await;
    let first = push("batch-1", (1..=3).map(|s| fact(TOYAMA_CITY, s)).collect());

    let reply = client
        .push_facts(with_token(NODE_TOKEN, first.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outcomes(&reply), [(Applied, 1), (Applied, 2), (Applied, 3)]);
    assert!(!reply.deduplicated);

    // The same batch sent twice: the stored answer, nothing applied again.
    let again = client
        .push_facts(with_token(NODE_TOKEN, first))
        .await
        .unwrap()
        .into_inner();
    assert!(again.deduplicated);
    assert_eq!(outcomes(&again), outcomes(&reply));

    // Overlapping facts under a new request id: the known ones are duplicates.
    let overlap = client
        .push_facts(with_token(
            NODE_TOKEN,
            push("batch-2", (2..=4).map(|s| fact(TOYAMA_CITY, s)).collect()),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        outcomes(&overlap),
        [(Duplicate, 3), (Duplicate, 3), (Applied, 4)]
    );

    // Out of order: sequence 7 while 4 is acknowledged.
    let gap = client
        .push_facts(with_token(
            NODE_TOKEN,
            push("batch-3", vec![fact(TOYAMA_CITY, 7)]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outcomes(&gap), [(Gap, 4)]);

    // A municipality of the prefecture the caller does not speak for.
    let foreign = client
        .push_facts(with_token(
            NODE_TOKEN,
            push("batch-4", vec![fact(UOZU_CITY, 1)]),
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied, "{foreign:?}");
    assert!(foreign.message().contains(UOZU_CITY) && foreign.message().contains("test-node"));

    // A municipality of another prefecture (千代田区).
    let elsewhere = client
        .push_facts(with_token(
            NODE_TOKEN,
            push("batch-5", vec![fact("131016", 1)]),
        ))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::InvalidArgument, "{elsewhere:?}");
    assert!(elsewhere.message().contains("131016"));

    // Neither a token nor a client certificate, and a payload that is not a fact.
    let anonymous = v1::FederationClient::new(cluster.channel(leader).await)
        .push_facts(push("batch-6", vec![fact(TOYAMA_CITY, 5)]))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let mut garbage = fact(TOYAMA_CITY, 5);
    garbage.payload = vec![0xFF, 0xFF, 0xFF];
    let bad = client
        .push_facts(with_token(NODE_TOKEN, push("batch-7", vec![garbage])))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("facts[0].payload"), "{bad:?}");

    // After all of it, the ledger holds exactly facts 1..=4 as first sent.
    let ledger = cluster.ledger(TOYAMA_CITY).await;
    let expected: Vec<v1::Fact> = (1..=4).map(|s| fact(TOYAMA_CITY, s)).collect();
    assert!(ledger == expected, "ledger: {ledger:?}");
}

/// Every byte a consultation subject's details could leave behind.
const PERSONAL: [&str; 7] = [
    "山田花子",
    "1940-02-11",
    "富山市桜町1-1-1",
    "076-123-4567",
    "独居、長男は東京在住",
    "subject-9f2c",
    "case-0001",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_consultation_subject_field_ever_reaches_the_prefecture() {
    let cluster = Cluster::start(3).await;
    let node = Node::start(cluster.addresses());
    let mut program = node.program().await;
    program
        .open_consultation_desk(v1::OpenConsultationDeskRequest {
            municipality_code: TOYAMA_CITY.into(),
            actor: "tester".into(),
            id: "desk".into(),
            name: "在宅医療・介護連携支援センター".into(),
            host: "municipality".into(),
            staff: vec![v1::ProgramCount {
                of: "nurse".into(),
                count: 2,
            }],
            hours: "平日9-17時".into(),
            on: "2024-04-01".into(),
        })
        .await
        .unwrap();
    program
        .open_consultation_case(v1::OpenConsultationCaseRequest {
            municipality_code: TOYAMA_CITY.into(),
            actor: "tester".into(),
            id: PERSONAL[6].into(),
            desk: "desk".into(),
            on: "2024-10-03".into(),
            referrer: "care_manager".into(),
            topic: "discharge".into(),
            scenes: vec!["admission_discharge".into()],
            subject: PERSONAL[5].into(),
            personal: Some(v1::PersonalDetails {
                name: PERSONAL[0].into(),
                birth_date: PERSONAL[1].into(),
                address: PERSONAL[2].into(),
                phone: PERSONAL[3].into(),
                notes: PERSONAL[4].into(),
            }),
            liaison_agreement: String::new(),
        })
        .await
        .unwrap();
    // The desk yields its evidence (オ); the case yields a count and its per-scene activity.
    converged(&node, &cluster, TOYAMA_CITY, 3).await;
    let ledger = cluster.ledger(TOYAMA_CITY).await;
    for fact in &ledger {
        for needle in PERSONAL {
            assert!(
                !fact
                    .payload
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes()),
                "fact {} carries {needle:?}",
                fact.sequence
            );
        }
    }
    // Nothing of the subject in any file a replica wrote: raw bytes of every file (logs, WAL,
    // tables, snapshots), and every key and value of every column family read back through
    // RocksDB (which sees through compression).
    let mut cluster = cluster;
    let dirs: Vec<_> = cluster
        .ids()
        .into_iter()
        .map(|id| cluster.root.path().join(format!("replica-{id}")))
        .collect();
    for id in cluster.ids() {
        cluster.kill(id);
    }
    let mut scanned = 0usize;
    for dir in &dirs {
        let mut stack = vec![dir.clone()];
        while let Some(path) = stack.pop() {
            for entry in std::fs::read_dir(&path).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                scanned += bytes.len();
                for needle in PERSONAL {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                        "{} holds {needle:?}",
                        path.display()
                    );
                }
            }
        }
        let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir).unwrap();
        let db =
            rocksdb::DB::open_cf_for_read_only(&rocksdb::Options::default(), dir, &families, false)
                .unwrap();
        for family in &families {
            let handle = db.cf_handle(family).unwrap();
            for item in db.iterator_cf(handle, rocksdb::IteratorMode::Start) {
                let (key, value) = item.unwrap();
                for needle in PERSONAL {
                    assert!(
                        ![&key[..], &value[..]]
                            .iter()
                            .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())),
                        "{} family {family} holds {needle:?}",
                        dir.display()
                    );
                }
            }
        }
    }
    assert!(scanned > 0, "the replicas wrote files");

    let tally = ledger
        .iter()
        .filter_map(|f| v1::FactBody::decode(f.payload.as_slice()).ok())
        .find_map(|b| match b.kind {
            Some(v1::FactKind::Consultation(t)) => Some(t),
            _ => None,
        })
        .expect("a consultation count");
    assert_eq!(
        (tally.month.as_str(), tally.referrer.as_str()),
        ("2024-10", "care_manager")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_published_down_reach_the_municipalities_they_are_for() {
    let cluster = Cluster::start(3).await;
    let node = Node::start(cluster.addresses());
    let leader = cluster.wait_for_leader().await;
    let mut officer = cluster.federation(leader).await;
    let form = discharge_form();
    let only_uozu = v1::DownItem {
        municipalities: vec![UOZU_CITY.into()],
        ..form.clone()
    };
    for (id, item) in [("form-1", form.clone()), ("form-uozu", only_uozu)] {
        officer
            .publish_down(with_token(
                OFFICER_TOKEN,
                v1::PublishDownRequest {
                    request_id: id.into(),
                    item: Some(item),
                },
            ))
            .await
            .unwrap();
    }
    // The node may not publish.
    let refused = officer
        .publish_down(with_token(
            NODE_TOKEN,
            v1::PublishDownRequest {
                request_id: "form-2".into(),
                item: Some(form),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    wait_until("the node to pull past both items", || async {
        node.sync_state(TOYAMA_CITY).await.down_cursor == 2
    })
    .await;
    let mut log = v1::EventLogClient::new(node.channel().await);
    let pulled = log
        .read_stream(v1::ReadStreamRequest {
            municipality_code: TOYAMA_CITY.into(),
            stream: "sync/down".into(),
            from_version: 1,
            direction: v1::Direction::Forward as i32,
            max_count: 100,
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(pulled.len(), 1, "only the item for every municipality");
    assert_eq!(pulled[0].r#type, "UnifiedFormPublished");
    let item = v1::DownItem::decode(pulled[0].payload.as_slice()).unwrap();
    assert_eq!(item.cursor, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_municipality_the_prefecture_refuses_does_not_stall_the_others() {
    // The prefecture lets the node speak for 富山市 only; the node also hosts 高岡市, whose facts
    // are refused (PERMISSION_DENIED) every time they are sent.
    let cluster = Cluster::start_for(3, &[TOYAMA_CITY]).await;
    let node = Node::start(cluster.addresses());
    record_activities(&node, TAKAOKA_CITY, "a", 0..5).await;
    record_activities(&node, TOYAMA_CITY, "a", 0..10).await;
    // 富山市's facts all arrive, although every batch used to carry 高岡市's refused ones too.
    converged(&node, &cluster, TOYAMA_CITY, 10).await;
    record_activities(&node, TOYAMA_CITY, "b", 0..5).await;
    converged(&node, &cluster, TOYAMA_CITY, 15).await;
    // 高岡市 waits in the outbox, and the node says why.
    let held = node.sync_state(TAKAOKA_CITY).await;
    // Its participation and its 5 activities.
    assert_eq!((held.produced, held.acknowledged), (6, 0), "{held:?}");
    assert!(
        held.last_error.contains(TAKAOKA_CITY),
        "the refusal names the municipality: {held:?}"
    );
}

/// A fact of 富山市 whose encoded body is exactly `bytes` long.
fn fact_of_size(sequence: u64, bytes: usize) -> v1::Fact {
    let mut f = fact(TOYAMA_CITY, sequence);
    let mut body = v1::FactBody::decode(f.payload.as_slice()).unwrap();
    let mut pad = bytes.saturating_sub(f.payload.len() + 8);
    loop {
        if let Some(v1::FactKind::Evidence(e)) = &mut body.kind {
            e.key = format!("awareness/{}", "x".repeat(pad));
        }
        match body.encoded_len().cmp(&bytes) {
            std::cmp::Ordering::Equal => break,
            std::cmp::Ordering::Less => pad += 1,
            std::cmp::Ordering::Greater => pad -= 1,
        }
    }
    f.payload = body.encode_to_vec();
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_facts_are_refused_before_raft_and_others_keep_committing() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_for_leader().await;
    let mut client = cluster.federation(leader).await;
    let limit = renkei_proto::MAX_FACT_BYTES;

    // A fact at the limit is accepted.
    let at_limit = fact_of_size(1, limit);
    assert_eq!(at_limit.payload.len(), limit);
    let reply = client
        .push_facts(with_token(NODE_TOKEN, push("at-limit", vec![at_limit])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outcomes(&reply), [(v1::FactOutcome::Applied, 1)]);

    // One byte more is refused, naming the fact and its size, and nothing is written.
    let err = client
        .push_facts(with_token(
            NODE_TOKEN,
            push("beyond", vec![fact_of_size(2, limit + 1)]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message()
            .contains(&format!("facts[0].payload is {} bytes", limit + 1)),
        "{}",
        err.message()
    );

    // Three writers sending 10 MB facts at once, through both write paths, while 高岡市's facts
    // keep committing.
    let huge = |sequence| v1::Fact {
        payload: vec![7u8; 10 * 1024 * 1024],
        ..fact(TOYAMA_CITY, sequence)
    };
    let mut floods = Vec::new();
    for w in 0..3u64 {
        let mut federation = cluster.federation(leader).await;
        let mut ledger = v1::PrefectureLedgerClient::new(cluster.node_channel(leader).await)
            .max_encoding_message_size(64 * 1024 * 1024);
        let fact = huge(2 + w);
        floods.push(tokio::spawn(async move {
            let pushed = federation
                .push_facts(with_token(
                    NODE_TOKEN,
                    push(&format!("huge-{w}"), vec![fact.clone()]),
                ))
                .await;
            let written = ledger
                .write_facts(with_token(
                    NODE_TOKEN,
                    v1::WriteFactsRequest {
                        request_id: format!("huge-write-{w}"),
                        facts: vec![fact],
                    },
                ))
                .await;
            (pushed.map(|_| ()), written.map(|_| ()))
        }));
    }
    for s in 1..=20 {
        let reply = client
            .push_facts(with_token(
                NODE_TOKEN,
                push(&format!("takaoka-{s}"), vec![fact(TAKAOKA_CITY, s)]),
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(outcomes(&reply), [(v1::FactOutcome::Applied, s)]);
    }
    for flood in floods {
        let (pushed, written) = flood.await.unwrap();
        for refused in [pushed.unwrap_err(), written.unwrap_err()] {
            assert!(
                matches!(
                    refused.code(),
                    Code::InvalidArgument | Code::ResourceExhausted | Code::OutOfRange
                ),
                "{refused:?}"
            );
        }
    }
    // 富山市's ledger holds the one fact at the limit and nothing else.
    assert_eq!(cluster.ledger(TOYAMA_CITY).await.len(), 1);
    assert_eq!(cluster.ledger(TAKAOKA_CITY).await.len(), 20);
}
