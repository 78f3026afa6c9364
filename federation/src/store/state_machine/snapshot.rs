//! Snapshots of the state machine: built from a RocksDB point-in-time view of its column
//! families, installed in one synced `WriteBatch` that replaces them all, and kept (the last one
//! built or installed) in [`CF_SM_SNAPSHOT`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openraft::storage::Snapshot;
use openraft::{
    AnyError, BasicNode, ErrorSubject, ErrorVerb, LogId, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use renkei_proto::MunicipalityCode;
use rocksdb::{DB, IteratorMode, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};

use super::{
    Corrupt, StateMachineStore, StorageResult, ledger_entry, put_meta, sm_err, support, survey,
};
use crate::ledger::{DownRecord, FactRecord, WriteOutcome};
use crate::store::family;
use crate::store::keys::{
    self, CF_SM_DOWN, CF_SM_FACTS, CF_SM_LEDGER, CF_SM_META, CF_SM_REQUESTS, CF_SM_SNAPSHOT,
    CF_SM_SURVEY, MetaKey, RequestKind, SNAPSHOT_DATA_KEY, SNAPSHOT_META_KEY, sm_meta,
};
use crate::types::{NodeId, TypeConfig};

fn snap_err(
    meta: Option<&SnapshotMeta<NodeId, BasicNode>>,
    verb: ErrorVerb,
    e: &(impl std::error::Error + 'static),
) -> StorageError<NodeId> {
    StorageIOError::new(
        ErrorSubject::Snapshot(meta.map(|m| m.signature())),
        verb,
        AnyError::new(e),
    )
    .into()
}

/// The content of a snapshot: the whole ledger state machine.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SnapshotContent {
    acknowledged: Vec<(MunicipalityCode, u64)>,
    facts: Vec<FactRecord>,
    requests: Vec<(String, WriteOutcome)>,
    retired: BTreeSet<NodeId>,
    #[serde(default)]
    down: Vec<DownRecord>,
    /// The tally engine's records: key → JSON value (see [`CF_SM_SURVEY`]).
    #[serde(default)]
    survey: Vec<(String, String)>,
}

/// Builds snapshots from a point-in-time view of the state machine's column families.
#[derive(Debug)]
pub struct SnapshotBuilder {
    pub(super) db: Arc<DB>,
}

static SNAPSHOT_COUNTER: AtomicU64 = AtomicU64::new(0);

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let db = &self.db;
        let view = db.snapshot();
        let read_meta = |key: &[u8]| {
            view.get_cf(family(db, CF_SM_META), key)
                .map_err(|e| sm_err(ErrorVerb::Read, &e))
        };
        let parse = |bytes: Option<Vec<u8>>| -> StorageResult<Option<serde_json::Value>> {
            bytes
                .map(|b| serde_json::from_slice(&b).map_err(|e| sm_err(ErrorVerb::Read, &e)))
                .transpose()
        };
        let last_applied: Option<LogId<NodeId>> = parse(read_meta(sm_meta::LastApplied::KEY)?)?
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| sm_err(ErrorVerb::Read, &e))?;
        let membership: StoredMembership<NodeId, BasicNode> =
            parse(read_meta(sm_meta::Membership::KEY)?)?
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| sm_err(ErrorVerb::Read, &e))?
                .unwrap_or_default();
        let retired: BTreeSet<NodeId> = parse(read_meta(sm_meta::Retired::KEY)?)?
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| sm_err(ErrorVerb::Read, &e))?
            .unwrap_or_default();

        let mut content = SnapshotContent {
            retired,
            ..SnapshotContent::default()
        };
        for item in view.iterator_cf(family(db, CF_SM_LEDGER), IteratorMode::Start) {
            let (code, seq) = ledger_entry(item)?;
            content.acknowledged.push((code, seq));
        }
        for item in view.iterator_cf(family(db, CF_SM_FACTS), IteratorMode::Start) {
            let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            let (Some(code), Some(seq)) = (keys::key_municipality(&key), keys::fact_sequence(&key))
            else {
                return Err(sm_err(ErrorVerb::Read, &Corrupt { what: "fact key" }));
            };
            content.facts.push(FactRecord {
                municipality: code,
                sequence: seq,
                payload: value.to_vec(),
            });
        }
        for item in view.iterator_cf(family(db, CF_SM_REQUESTS), IteratorMode::Start) {
            let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            let id = String::from_utf8(key.to_vec()).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            let outcome =
                serde_json::from_slice(&value).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            content.requests.push((id, outcome));
        }
        for item in view.iterator_cf(family(db, CF_SM_DOWN), IteratorMode::Start) {
            let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            if keys::is_down_item(&key) {
                content
                    .down
                    .push(serde_json::from_slice(&value).map_err(|e| sm_err(ErrorVerb::Read, &e))?);
            }
        }
        for item in view.iterator_cf(family(db, CF_SM_SURVEY), IteratorMode::Start) {
            let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            content.survey.push((
                String::from_utf8_lossy(&key).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            ));
        }
        drop(view);

        let counter = SNAPSHOT_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let snapshot_id = match last_applied {
            Some(id) => format!("{}-{}-{nanos}-{counter}", id.leader_id, id.index),
            None => format!("empty-{nanos}-{counter}"),
        };
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id,
        };
        let data = serde_json::to_vec(&content)
            .map_err(|e| snap_err(Some(&meta), ErrorVerb::Write, &e))?;
        let meta_bytes =
            serde_json::to_vec(&meta).map_err(|e| snap_err(Some(&meta), ErrorVerb::Write, &e))?;
        let mut batch = WriteBatch::default();
        batch.put_cf(family(db, CF_SM_SNAPSHOT), SNAPSHOT_META_KEY, meta_bytes);
        batch.put_cf(family(db, CF_SM_SNAPSHOT), SNAPSHOT_DATA_KEY, &data);
        db.write(batch)
            .map_err(|e| snap_err(Some(&meta), ErrorVerb::Write, &e))?;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "built a snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl StateMachineStore {
    /// Replaces the whole state machine with a snapshot's content (openraft's
    /// `install_snapshot`).
    pub(super) fn install(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        data: Vec<u8>,
    ) -> StorageResult<()> {
        let content: SnapshotContent =
            serde_json::from_slice(&data).map_err(|e| snap_err(Some(meta), ErrorVerb::Read, &e))?;
        let db = &self.db;
        let mut batch = WriteBatch::default();
        // Every key of these families sorts below [0xFF]: ASCII names, big-endian municipality
        // codes (< 2^24) and UTF-8 request ids (which never contain the byte 0xFF).
        for name in keys::SM_DATA_FAMILIES {
            batch.delete_range_cf(family(db, name), b"".as_slice(), [0xFFu8].as_slice());
        }
        let mut acknowledged = BTreeMap::new();
        for (code, seq) in &content.acknowledged {
            batch.put_cf(
                family(db, CF_SM_LEDGER),
                keys::ledger_key(*code),
                seq.to_be_bytes(),
            );
            acknowledged.insert(*code, *seq);
        }
        for fact in &content.facts {
            batch.put_cf(
                family(db, CF_SM_FACTS),
                keys::fact_key(fact.municipality, fact.sequence),
                &fact.payload,
            );
        }
        for (id, outcome) in &content.requests {
            let bytes = serde_json::to_vec(outcome).map_err(|e| sm_err(ErrorVerb::Write, &e))?;
            batch.put_cf(
                family(db, RequestKind::Facts.family()),
                RequestKind::Facts.key(id),
                bytes,
            );
        }
        let mut down_cursor = 0;
        for record in &content.down {
            let bytes = serde_json::to_vec(record).map_err(|e| sm_err(ErrorVerb::Write, &e))?;
            let cf = family(db, CF_SM_DOWN);
            batch.put_cf(cf, keys::down_item_key(record.cursor), bytes);
            batch.put_cf(
                cf,
                RequestKind::PublishDown.key(&record.request_id),
                record.cursor.to_be_bytes(),
            );
            down_cursor = down_cursor.max(record.cursor);
        }
        for (key, value) in &content.survey {
            batch.put_cf(family(db, CF_SM_SURVEY), key.as_bytes(), value.as_bytes());
        }
        let survey = survey::rebuild_survey(
            content
                .facts
                .iter()
                .map(|f| (f.municipality, f.payload.as_slice())),
            content.survey.iter().cloned(),
            content.down.iter(),
        )?;
        let support = support::rebuild_support(
            content
                .survey
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_bytes())),
        )?;
        if let Some(last) = &meta.last_log_id {
            put_meta::<sm_meta::LastApplied>(db, &mut batch, last)?;
        }
        put_meta::<sm_meta::Membership>(db, &mut batch, &meta.last_membership)?;
        put_meta::<sm_meta::Retired>(db, &mut batch, &content.retired)?;
        let meta_bytes =
            serde_json::to_vec(meta).map_err(|e| snap_err(Some(meta), ErrorVerb::Write, &e))?;
        batch.put_cf(family(db, CF_SM_SNAPSHOT), SNAPSHOT_META_KEY, meta_bytes);
        batch.put_cf(family(db, CF_SM_SNAPSHOT), SNAPSHOT_DATA_KEY, &data);
        let mut options = WriteOptions::default();
        options.set_sync(true);
        db.write_opt(batch, &options)
            .map_err(|e| snap_err(Some(meta), ErrorVerb::Write, &e))?;

        self.acknowledged = acknowledged;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.retired = content.retired;
        self.down_cursor = down_cursor;
        *self.survey.write().unwrap_or_else(|e| e.into_inner()) = survey;
        *self.support.write().unwrap_or_else(|e| e.into_inner()) = support;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "installed a snapshot");
        Ok(())
    }
}

/// Returns the stored snapshot, if any (openraft's `get_current_snapshot`).
pub(super) fn current(db: &DB) -> StorageResult<Option<Snapshot<TypeConfig>>> {
    let cf = family(db, CF_SM_SNAPSHOT);
    let meta = db
        .get_cf(cf, SNAPSHOT_META_KEY)
        .map_err(|e| snap_err(None, ErrorVerb::Read, &e))?;
    let data = db
        .get_cf(cf, SNAPSHOT_DATA_KEY)
        .map_err(|e| snap_err(None, ErrorVerb::Read, &e))?;
    match (meta, data) {
        (Some(meta), Some(data)) => {
            let meta: SnapshotMeta<NodeId, BasicNode> =
                serde_json::from_slice(&meta).map_err(|e| snap_err(None, ErrorVerb::Read, &e))?;
            Ok(Some(Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(data)),
            }))
        }
        _ => Ok(None),
    }
}
