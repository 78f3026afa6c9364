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
