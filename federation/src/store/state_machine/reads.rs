//! [`LedgerReader`]: the read-only view of a replica's ledger that the services, the metrics and
//! the backup read through. It reads the database directly (not the state machine's memory), so
//! it never waits for an apply; callers that need linearizable answers confirm leadership first
//! (see [`crate::facts`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use openraft::ErrorVerb;
use renkei_proto::MunicipalityCode;
use rocksdb::{DB, IteratorMode};

use super::{Corrupt, StorageResult, get_meta, sm_err};
use crate::ledger::{DownRecord, FactRecord};
use crate::store::family;
use crate::store::keys::{self, CF_SM_DOWN, CF_SM_FACTS, CF_SM_LEDGER, sm_meta};
use crate::types::NodeId;

/// A read-only view of a replica's ledger, for the client-facing read path and admin checks.
#[derive(Debug, Clone)]
pub struct LedgerReader {
    pub(super) db: Arc<DB>,
}

/// The cursor of the last item published down (0: none).
pub(super) fn last_down_cursor(db: &DB) -> StorageResult<u64> {
    let mut iter = db.iterator_cf(
        family(db, CF_SM_DOWN),
        IteratorMode::From(&keys::down_item_key(u64::MAX), rocksdb::Direction::Reverse),
    );
    match iter.next() {
        Some(item) => {
            let (key, _) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            Ok(keys::down_item_cursor(&key).unwrap_or(0))
        }
        None => Ok(0),
    }
}

impl LedgerReader {
    /// Writes a consistent copy of the whole replica database (log, vote and state machine)
    /// into `target`, a directory that must not exist yet, while the replica serves.
    pub fn checkpoint(&self, target: &std::path::Path) -> Result<(), rocksdb::Error> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(target)
    }

    /// Returns up to `limit` applied facts of a municipality from `from_sequence` on.
    pub fn facts_from(
        &self,
        municipality: MunicipalityCode,
        from_sequence: u64,
        limit: usize,
    ) -> StorageResult<Vec<FactRecord>> {
        let start = keys::fact_key(municipality, from_sequence);
        let end = keys::fact_key(municipality, u64::MAX);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            family(&self.db, CF_SM_FACTS),
            IteratorMode::From(&start, rocksdb::Direction::Forward),
        ) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            if *key > end[..] {
                break;
            }
            let Some(sequence) = keys::fact_sequence(&key) else {
                return Err(sm_err(ErrorVerb::Read, &Corrupt { what: "fact key" }));
            };
            out.push(FactRecord {
                municipality,
                sequence,
                payload: value.to_vec(),
            });
        }
        Ok(out)
    }

    /// Returns up to `limit` items published down after `after`, and the last cursor.
    pub fn down_after(&self, after: u64, limit: usize) -> StorageResult<(Vec<DownRecord>, u64)> {
        let db = &self.db;
        let start = keys::down_item_key(after.saturating_add(1));
        let mut out = Vec::new();
        for item in db.iterator_cf(
            family(db, CF_SM_DOWN),
            IteratorMode::From(&start, rocksdb::Direction::Forward),
        ) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            if !keys::is_down_item(&key) {
                break;
            }
            out.push(serde_json::from_slice(&value).map_err(|e| sm_err(ErrorVerb::Read, &e))?);
        }
        Ok((out, last_down_cursor(db)?))
    }

    /// Returns the acknowledged sequence of a municipality (0 when it has none).
    pub fn acknowledged(&self, municipality: MunicipalityCode) -> StorageResult<u64> {
        match self
            .db
            .get_cf(
                family(&self.db, CF_SM_LEDGER),
                keys::ledger_key(municipality),
            )
            .map_err(|e| sm_err(ErrorVerb::Read, &e))?
        {
            None => Ok(0),
            Some(bytes) => keys::decode_u64(&bytes).ok_or_else(|| {
                sm_err(
                    ErrorVerb::Read,
                    &Corrupt {
                        what: "ledger entry",
                    },
                )
            }),
        }
    }

    /// Returns the payload of a municipality's fact, if it has been applied.
    pub fn fact(
        &self,
        municipality: MunicipalityCode,
        sequence: u64,
    ) -> StorageResult<Option<Vec<u8>>> {
        self.db
            .get_cf(
                family(&self.db, CF_SM_FACTS),
                keys::fact_key(municipality, sequence),
            )
            .map_err(|e| sm_err(ErrorVerb::Read, &e))
    }

    /// Returns the node ids that were members once and have been removed.
    pub fn retired(&self) -> StorageResult<BTreeSet<NodeId>> {
        Ok(get_meta::<sm_meta::Retired>(&self.db)?.unwrap_or_default())
    }
}
