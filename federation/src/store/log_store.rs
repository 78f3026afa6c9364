//! The Raft log store (Raft ログ): vote, entries, committed and last-purged marks in RocksDB.
//!
//! Correctness contract (openraft `RaftLogStorage`):
//! - `save_vote` returns only once the vote is on disk (synced write);
//! - `append` makes the entries readable at once and reports them flushed through
//!   `LogFlushed::log_io_completed` only after the write-ahead log has been fsynced;
//! - `purge` writes `last_purged` before deleting entries, so `get_log_state` can always answer
//!   for an empty log;
//! - `truncate` deletes `[log_id.index, ∞)` durably.
//!
//! RocksDB calls are synchronous: an fsync blocks the calling worker thread for its duration,
//! which openraft 0.9 would wait for anyway (it treats each append as blocking).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{
    AnyError, Entry, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader, StorageError,
    StorageIOError, Vote,
};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch, WriteOptions};

use super::family;
use super::keys::{self, CF_RAFT_LOG, CF_RAFT_META, MetaKey, raft_meta};
use crate::types::{NodeId, TypeConfig};

type StorageResult<T> = Result<T, StorageError<NodeId>>;

/// The Raft log of one replica. Cheap to clone: clones share the database.
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<DB>,
}

/// Whether writes are fsynced before they are acknowledged: always, except in a test-only build
/// with the `unsynced-acks` feature, which exists to show that the fault suite's power cuts catch
/// an acknowledgement given before fsync. Never enable it in a deployment.
const SYNC_ACKS: bool = !cfg!(feature = "unsynced-acks");

fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(SYNC_ACKS);
    options
}

fn io_err(
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
    e: &(impl std::error::Error + 'static),
) -> StorageError<NodeId> {
    StorageIOError::new(subject, verb, AnyError::new(e)).into()
}

impl LogStore {
    pub(super) fn new(db: Arc<DB>) -> Self {
        Self { db }
    }

    fn get_meta<M: MetaKey>(
        &self,
        subject: ErrorSubject<NodeId>,
    ) -> StorageResult<Option<M::Value>> {
        let cf = family(&self.db, CF_RAFT_META);
        match self
            .db
            .get_cf(cf, M::KEY)
            .map_err(|e| io_err(subject.clone(), ErrorVerb::Read, &e))?
        {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io_err(subject, ErrorVerb::Read, &e)),
        }
    }

    fn put_meta<M: MetaKey>(
        &self,
        value: &M::Value,
        subject: ErrorSubject<NodeId>,
        sync: bool,
    ) -> StorageResult<()> {
        let bytes =
            serde_json::to_vec(value).map_err(|e| io_err(subject.clone(), ErrorVerb::Write, &e))?;
        let cf = family(&self.db, CF_RAFT_META);
        let options = if sync {
            synced()
        } else {
            WriteOptions::default()
        };
        self.db
            .put_cf_opt(cf, M::KEY, bytes, &options)
            .map_err(|e| io_err(subject, ErrorVerb::Write, &e))
    }

    fn last_entry_id(&self) -> StorageResult<Option<LogId<NodeId>>> {
        let cf = family(&self.db, CF_RAFT_LOG);
        match self.db.iterator_cf(cf, IteratorMode::End).next() {
            None => Ok(None),
            Some(item) => {
                let (_, value) =
                    item.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
                let entry: Entry<TypeConfig> = serde_json::from_slice(&value)
                    .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
                Ok(Some(entry.log_id))
            }
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let cf = family(&self.db, CF_RAFT_LOG);
        let start_key = keys::log_key(start);
        let mut entries = Vec::new();
        for item in self
            .db
            .iterator_cf(cf, IteratorMode::From(&start_key, Direction::Forward))
        {
            let (key, value) = item.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
            let Some(index) = keys::log_index(&key) else {
                continue;
            };
            if !range.contains(&index) {
                break;
            }
            let entry: Entry<TypeConfig> = serde_json::from_slice(&value)
                .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
            entries.push(entry);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last_purged_log_id = self.get_meta::<raft_meta::LastPurged>(ErrorSubject::Store)?;
        let last_log_id = self.last_entry_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        self.put_meta::<raft_meta::Vote>(vote, ErrorSubject::Vote, true)
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.get_meta::<raft_meta::Vote>(ErrorSubject::Vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        // Not synced: losing it only means re-applying committed entries from the log later.
        self.put_meta::<raft_meta::Committed>(&committed, ErrorSubject::Store, false)
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        Ok(self
            .get_meta::<raft_meta::Committed>(ErrorSubject::Store)?
            .flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let cf = family(&self.db, CF_RAFT_LOG);
        let mut batch = WriteBatch::default();
        for entry in entries {
            let value = serde_json::to_vec(&entry)
                .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, &e))?;
            batch.put_cf(cf, keys::log_key(entry.log_id.index), value);
        }
        // One synced write: when it returns the entries are readable and the WAL is fsynced.
        self.db
            .write_opt(batch, &synced())
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, &e))?;
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        tracing::debug!(%log_id, "truncating the log from here on");
        let cf = family(&self.db, CF_RAFT_LOG);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(cf, keys::log_key(log_id.index), keys::log_key(u64::MAX));
        // delete_range's end is exclusive; u64::MAX is never a real index.
        self.db
            .write_opt(batch, &synced())
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, &e))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        tracing::debug!(%log_id, "purging the log up to here");
        // last_purged first (synced), then the entries: a crash in between leaves entries that
        // openraft ignores, never an empty log without its last_purged.
        self.put_meta::<raft_meta::LastPurged>(&log_id, ErrorSubject::Store, true)?;
        let cf = family(&self.db, CF_RAFT_LOG);
        self.db
            .delete_range_cf(
                cf,
                keys::log_key(0),
                keys::log_key(log_id.index.saturating_add(1)),
            )
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, &e))
    }
}
