//! The ledger state machine (台帳ステートマシン), persisted in RocksDB.
//!
//! Correctness contract (openraft `RaftStateMachine`):
//! - the effects of the entries given to one `apply` call and the last-applied log id (and
//!   membership) are written in one `WriteBatch`, so the state on disk is always the state after
//!   some applied prefix of the log — it is never rebuilt from the whole log at start-up;
//! - a retried write (same request id) takes effect once: its first outcome is stored with it and
//!   returned again, whoever is leader;
//! - snapshots are built from a RocksDB point-in-time view of the state machine, and installed
//!   in one synced `WriteBatch` that replaces all of its column families.
//!
//! Applies are not synced on their own: the next synced log append or vote syncs the shared WAL,
//! and a replica that loses unsynced applies in a crash re-applies them from its log.
//!
//! Parts:
//! - this module: [`StateMachineStore`], its loading at open and its `RaftStateMachine` wiring;
//! - `apply`: applying log entries — facts, publications down, membership;
//! - `requests`: the one request-id deduplication of every command that carries a request id;
//! - `survey`: the tally engine's records kept by the state machine (region sets, submissions,
//!   wide-area meetings) and the rebuilding of [`SharedSurvey`] from them;
//! - `support`: the prefecture's support activities and the rebuilding of [`SharedSupport`]
//!   from them;
//! - `reads`: [`LedgerReader`], the read-only view the services read through;
//! - `snapshot`: building, installing and reading the stored snapshot.
//!
//! Every key encoding is in [`super::keys`].

mod apply;
mod reads;
mod requests;
mod snapshot;
mod support;
mod survey;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::{Arc, RwLock};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, BasicNode, Entry, ErrorSubject, ErrorVerb, LogId, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};
use renkei_proto::{MunicipalityCode, PrefectureCode};
use rocksdb::{DB, IteratorMode, WriteBatch};

pub use reads::LedgerReader;
pub use snapshot::SnapshotBuilder;
pub use support::SharedSupport;
pub use survey::SharedSurvey;

use super::family;
use super::keys::{self, CF_SM_LEDGER, CF_SM_META, MetaKey, sm_meta};
use crate::types::{CommandResponse, NodeId, TypeConfig};

type StorageResult<T> = Result<T, StorageError<NodeId>>;

fn sm_err(verb: ErrorVerb, e: &(impl std::error::Error + 'static)) -> StorageError<NodeId> {
    StorageIOError::new(ErrorSubject::StateMachine, verb, AnyError::new(e)).into()
}

#[derive(Debug, thiserror::Error)]
#[error("corrupt {what} in the state machine")]
struct Corrupt {
    what: &'static str,
}

fn get_meta<M: MetaKey>(db: &DB) -> StorageResult<Option<M::Value>> {
    match db
        .get_cf(family(db, CF_SM_META), M::KEY)
        .map_err(|e| sm_err(ErrorVerb::Read, &e))?
    {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| sm_err(ErrorVerb::Read, &e)),
    }
}

fn put_meta<M: MetaKey>(db: &DB, batch: &mut WriteBatch, value: &M::Value) -> StorageResult<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| sm_err(ErrorVerb::Write, &e))?;
    batch.put_cf(family(db, CF_SM_META), M::KEY, bytes);
    Ok(())
}

/// The ledger state machine of one replica. It keeps the small per-municipality sequences and
/// the metadata in memory, mirroring what is on disk.
#[derive(Debug)]
pub struct StateMachineStore {
    db: Arc<DB>,
    prefecture: PrefectureCode,
    acknowledged: BTreeMap<MunicipalityCode, u64>,
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    retired: BTreeSet<NodeId>,
    /// The last cursor of the items published down (0: none).
    down_cursor: u64,
    survey: SharedSurvey,
    support: SharedSupport,
}

/// One key and value as a RocksDB iterator yields them.
type KeyValue = Result<(Box<[u8]>, Box<[u8]>), rocksdb::Error>;

/// Reads one entry of the ledger's column family: a municipality and its acknowledged sequence.
pub(super) fn ledger_entry(item: KeyValue) -> StorageResult<(MunicipalityCode, u64)> {
    let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
    match (keys::key_municipality(&key), keys::decode_u64(&value)) {
        (Some(code), Some(seq)) => Ok((code, seq)),
        _ => Err(sm_err(
            ErrorVerb::Read,
            &Corrupt {
                what: "ledger entry",
            },
        )),
    }
}

impl StateMachineStore {
    /// Loads the state machine from the database.
    pub(in crate::store) fn open(db: Arc<DB>, prefecture: PrefectureCode) -> StorageResult<Self> {
        let mut acknowledged = BTreeMap::new();
        for item in db.iterator_cf(family(&db, CF_SM_LEDGER), IteratorMode::Start) {
            let (code, seq) = ledger_entry(item)?;
            acknowledged.insert(code, seq);
        }
        let last_applied = get_meta::<sm_meta::LastApplied>(&db)?;
        let membership = get_meta::<sm_meta::Membership>(&db)?.unwrap_or_default();
        let retired = get_meta::<sm_meta::Retired>(&db)?.unwrap_or_default();
        let down_cursor = reads::last_down_cursor(&db)?;
        let survey = survey::load_survey(&db)?;
        let support = support::load_support(&db)?;
        Ok(Self {
            db,
            prefecture,
            acknowledged,
            last_applied,
            membership,
            retired,
            down_cursor,
            survey: Arc::new(RwLock::new(survey)),
            support: Arc::new(RwLock::new(support)),
        })
    }

    /// Returns the tally engine's state, kept current as entries are applied.
    pub fn survey(&self) -> SharedSurvey {
        self.survey.clone()
    }

    /// Returns the prefecture's support activities, kept current as entries are applied.
    pub fn support(&self) -> SharedSupport {
        self.support.clone()
    }

    /// Returns a read-only view sharing this state machine's database.
    pub fn reader(&self) -> LedgerReader {
        LedgerReader {
            db: self.db.clone(),
        }
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>)> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<CommandResponse>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        self.apply_entries(entries)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            db: self.db.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        self.install(meta, snapshot.into_inner())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        snapshot::current(&self.db)
    }
}
