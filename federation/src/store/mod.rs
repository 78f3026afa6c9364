//! The replica's durable state in one RocksDB database: the Raft log store and the ledger state
//! machine, in separate column families. Every column family and key encoding (prefixes, key
//! builders and parsers) is in [`keys`]; the state machine is in parts (`state_machine/`:
//! applying entries, request-id deduplication, survey records, reads, snapshots).
//!
//! Both halves share the database and therefore its write-ahead log. That gives the ordering
//! the Raft invariants rely on: a state-machine write that precedes a log purge in time also
//! precedes it in the WAL, so no crash can leave a purged log behind a state machine that has
//! not applied it.
//!
//! This module must never decide ledger rules (that is [`crate::ledger`]); it persists them.

pub mod keys;
mod log_store;
mod state_machine;

use std::path::Path;
use std::sync::Arc;

use openraft::{AnyError, StorageError, StorageIOError};
use renkei_proto::PrefectureCode;
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, Options};

pub use log_store::LogStore;
pub use state_machine::{LedgerReader, SharedSupport, SharedSurvey, StateMachineStore};

use crate::types::NodeId;

/// Opens (or creates) the database in `dir` and returns the log store and the state machine of
/// a replica of `prefecture`'s cluster.
pub fn open(
    dir: &Path,
    prefecture: PrefectureCode,
) -> Result<(LogStore, StateMachineStore), StorageError<NodeId>> {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    // A corrupted record in the write-ahead log stops the open (named as corruption) instead of
    // ending the replay there and silently dropping committed entries and votes after it —
    // RocksDB's default. Only an incomplete last record (a write cut short) is dropped.
    options.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
    let families = keys::ALL_FAMILIES
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
    let db = DB::open_cf_descriptors(&options, dir, families)
        .map_err(|e| StorageIOError::<NodeId>::read(AnyError::new(&e)))?;
    let db = Arc::new(db);
    let log = LogStore::new(db.clone());
    let sm = StateMachineStore::open(db, prefecture)?;
    Ok((log, sm))
}

/// Returns the handle of a column family created by [`open`].
fn family<'a>(db: &'a DB, name: &str) -> &'a ColumnFamily {
    // Every name in keys::ALL_FAMILIES is created at open (create_missing_column_families), and
    // callers only pass those names.
    db.cf_handle(name)
        .expect("column family created when the database was opened")
}
