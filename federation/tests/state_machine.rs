//! Proves the ledger state machine's persistence on real RocksDB: applied facts, the last-applied
//! log id and the request-id deduplication survive a reopen without replaying the log, a retried
//! request inside one `apply` batch takes effect once, and a snapshot installed on another
//! replica reproduces the ledger.

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftSnapshotBuilder};
use renkei_federation::ledger::{FactOutcome, FactRecord};
use renkei_federation::store;
use renkei_federation::types::{Command, CommandResponse, TypeConfig};
use renkei_proto::MunicipalityCode;

fn entry(index: u64, request_id: &str, facts: &[(u64, &str)]) -> Entry<TypeConfig> {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Command::WriteFacts {
            request_id: request_id.to_owned(),
            facts: facts
                .iter()
                .map(|(sequence, payload)| FactRecord {
                    municipality: toyama(),
                    sequence: *sequence,
                    payload: payload.as_bytes().to_vec(),
                })
                .collect(),
        }),
    }
}

fn toyama() -> MunicipalityCode {
    "162019".parse().unwrap()
}

fn outcomes(response: &CommandResponse) -> (Vec<FactOutcome>, bool) {
    match response {
        CommandResponse::Written(w) => (
            w.results.iter().map(|r| r.outcome).collect(),
            w.deduplicated,
        ),
        other => panic!("no write outcome: {other:?}"),
    }
}

#[tokio::test]
async fn applied_state_survives_a_reopen_and_retries_take_effect_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_log, mut sm) = store::open(dir.path(), "16".parse().unwrap()).unwrap();
        let responses = sm
            .apply(vec![
                entry(1, "r1", &[(1, "a"), (2, "b")]),
                // The same request id again in the same batch (a retry): no effect.
                entry(2, "r1", &[(1, "a"), (2, "b")]),
                entry(3, "r2", &[(4, "gap"), (3, "c")]),
            ])
            .await
            .unwrap();
        assert_eq!(
            outcomes(&responses[0]),
            (vec![FactOutcome::Applied; 2], false)
        );
        assert_eq!(
            outcomes(&responses[1]),
            (vec![FactOutcome::Applied; 2], true)
        );
        assert_eq!(
            outcomes(&responses[2]),
            (vec![FactOutcome::Gap, FactOutcome::Applied], false)
        );
    }
    // Reopened: nothing replayed, the state is there.
    let (_log, mut sm) = store::open(dir.path(), "16".parse().unwrap()).unwrap();
    let (applied, _) = sm.applied_state().await.unwrap();
    assert_eq!(applied.map(|id| id.index), Some(3));
    let reader = sm.reader();
    assert_eq!(reader.acknowledged(toyama()).unwrap(), 3);
    assert_eq!(reader.fact(toyama(), 2).unwrap(), Some(b"b".to_vec()));
    // A retry after the reopen (e.g. through a new leader) is still deduplicated.
    let responses = sm
        .apply(vec![entry(4, "r2", &[(4, "gap"), (3, "c")])])
        .await
        .unwrap();
    assert_eq!(
        outcomes(&responses[0]),
        (vec![FactOutcome::Gap, FactOutcome::Applied], true)
    );
    assert_eq!(reader.acknowledged(toyama()).unwrap(), 3);

    // A snapshot built here and installed on an empty replica reproduces the ledger.
    let snapshot = sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let (_other_log, mut other) = store::open(other_dir.path(), "16".parse().unwrap()).unwrap();
    other
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .unwrap();
    let other_reader = other.reader();
    assert_eq!(other_reader.acknowledged(toyama()).unwrap(), 3);
    assert_eq!(other_reader.fact(toyama(), 3).unwrap(), Some(b"c".to_vec()));
    let responses = other
        .apply(vec![entry(5, "r1", &[(1, "a"), (2, "b")])])
        .await
        .unwrap();
    assert!(
        outcomes(&responses[0]).1,
        "the dedup table travels in the snapshot"
    );
    assert_eq!(
        other.applied_state().await.unwrap().0.map(|id| id.index),
        Some(5)
    );
}

/// A payload as a node pushes it: a `FactBody` of `kind`.
fn body(kind: renkei_proto::v1::FactKind) -> Vec<u8> {
    use prost::Message;
    renkei_proto::v1::FactBody {
        kind: Some(kind),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The cycle records, per-scene activity and Do of 富山市 the tally engine holds, as the cycle
/// tally reads them for FY2024.
fn cycle_view(
    sm: &store::StateMachineStore,
) -> (
    Option<renkei_proto::programme::cycle::CycleRecords>,
    [[u32; 8]; 6],
    renkei_proto::programme::cycle::PdcaStep,
) {
    let fy = renkei_proto::FiscalYear::new(2024).unwrap();
    let shared = sm.survey();
    let state = shared.read().unwrap();
    let book = state.cycles();
    (
        book.records(toyama()).cloned(),
        book.activity(toyama())
            .map(|a| a.of_year(fy))
            .unwrap_or_default(),
        book.records(toyama())
            .map(|r| r.step(fy))
            .unwrap_or(renkei_proto::programme::cycle::PdcaStep::NotStarted),
    )
}

#[tokio::test]
async fn cycle_records_survive_a_reopen_and_travel_in_a_snapshot() {
    use renkei_proto::programme::cycle::PdcaStep;
    use renkei_proto::v1::{self, FactKind, cycle_fact};
    let goal = body(FactKind::Cycle(v1::CycleFact {
        kind: Some(cycle_fact::Kind::Goal(v1::GoalFact {
            period: 9,
            scene: "daily_care".into(),
            text: "自宅で療養を続けられる".into(),
            set_on: "2024-04-15".into(),
        })),
    }));
    let training = body(FactKind::Evidence(v1::StatusEvidence {
        key: "training/t1".into(),
        kind: Some(v1::EvidenceKind::Dated(v1::DatedEvidence {
            item: "f".into(),
            on: "2024-07-01".into(),
        })),
    }));
    let activity = body(FactKind::SceneActivity(v1::SceneActivity {
        month: "2024-07".into(),
        item: "f".into(),
        kind: "TrainingHeld".into(),
        scenes: vec!["daily_care".into(), "end_of_life".into()],
    }));
    // Malformed: an evaluation of an unknown scene. Skipped, never a panic.
    let malformed = body(FactKind::Cycle(v1::CycleFact {
        kind: Some(cycle_fact::Kind::Evaluation(v1::EvaluationFact {
            fiscal_year: 2024,
            scene: "nowhere".into(),
            reached: true,
            reason: String::new(),
            improvement: "x".into(),
            on: "2025-05-01".into(),
        })),
    }));
    let write = |index: u64, request_id: &str, payloads: Vec<(u64, Vec<u8>)>| Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::<TypeConfig>::Normal(Command::WriteFacts {
            request_id: request_id.to_owned(),
            facts: payloads
                .into_iter()
                .map(|(sequence, payload)| FactRecord {
                    municipality: toyama(),
                    sequence,
                    payload,
                })
                .collect(),
        }),
    };
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (_log, mut sm) = store::open(dir.path(), "16".parse().unwrap()).unwrap();
        sm.apply(vec![
            write(1, "c1", vec![(1, goal), (2, malformed)]),
            write(2, "c2", vec![(3, training), (4, activity)]),
        ])
        .await
        .unwrap();
        let view = cycle_view(&sm);
        // The goal (Plan) and the training's day (Do); the malformed evaluation (Check) skipped.
        assert_eq!(view.2, PdcaStep::Do);
        assert_eq!(view.1[1][5], 1, "日常の療養支援 × （カ）");
        assert_eq!(view.1[3][5], 1, "看取り × （カ）");
        view
    };
    // Reopened: the tally engine is rebuilt from the stored facts, to the same records.
    let (_log, mut sm) = store::open(dir.path(), "16".parse().unwrap()).unwrap();
    assert_eq!(cycle_view(&sm), before);
    // Installed from a snapshot on an empty replica: the same again.
    let snapshot = sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let (_other_log, mut other) = store::open(other_dir.path(), "16".parse().unwrap()).unwrap();
    other
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .unwrap();
    assert_eq!(cycle_view(&other), before);
}
