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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, RaftSnapshotBuilder,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use renkei_proto::{FiscalYear, MunicipalityCode, PrefectureCode};
use rocksdb::{DB, IteratorMode, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};

use super::family;
use super::keys::{
    self, CF_SM_DOWN, CF_SM_FACTS, CF_SM_LEDGER, CF_SM_META, CF_SM_REQUESTS, CF_SM_SNAPSHOT,
    CF_SM_SURVEY, MetaKey, sm_meta,
};
use crate::ledger::{self, DownRecord, FactRecord, WriteOutcome};
use crate::regions::RegionSet;
use crate::tally::{Submission, SurveyState};
use crate::types::{Command, CommandResponse, NodeId, TypeConfig};

type StorageResult<T> = Result<T, StorageError<NodeId>>;

const SNAPSHOT_META_KEY: &[u8] = b"current_meta";
const SNAPSHOT_DATA_KEY: &[u8] = b"current_data";

fn sm_err(verb: ErrorVerb, e: &(impl std::error::Error + 'static)) -> StorageError<NodeId> {
    StorageIOError::new(ErrorSubject::StateMachine, verb, AnyError::new(e)).into()
}

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

/// The tally engine's state, shared between the state machine (which folds applied entries into
/// it) and the survey service (which reads it).
pub type SharedSurvey = Arc<RwLock<SurveyState>>;

fn survey_key_regions(set: &RegionSet) -> String {
    format!("regions/{}/{}", set.kind, set.first_fiscal_year.year())
}

fn survey_key_submissions(fiscal_year: FiscalYear, m: MunicipalityCode) -> String {
    format!("submissions/{}/{m}", fiscal_year.year())
}

fn survey_key_request(request_id: &str) -> String {
    format!("request/{request_id}")
}

/// Rebuilds the tally engine's state from the facts and survey records in the database (or in
/// a snapshot view of it).
fn rebuild_survey<'a>(
    facts: impl Iterator<Item = (MunicipalityCode, &'a [u8])>,
    records: impl Iterator<Item = (String, String)>,
    down: impl Iterator<Item = &'a DownRecord>,
) -> StorageResult<SurveyState> {
    let mut state = SurveyState::default();
    for (m, payload) in facts {
        state.take_fact(m, payload);
    }
    for record in down {
        if let Ok(item) =
            <renkei_proto::v1::DownItem as prost::Message>::decode(record.item.as_slice())
        {
            state.take_down_item(record.cursor, &item);
        }
    }
    for (key, value) in records {
        if key.starts_with("regions/") {
            let set: RegionSet =
                serde_json::from_str(&value).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            state.set_regions(set);
        } else if key.starts_with("meetings/") {
            let meeting: crate::wide_area::WideAreaMeeting =
                serde_json::from_str(&value).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            state.take_meeting(meeting);
        } else if key.starts_with("submissions/") {
            let history: Vec<Submission> =
                serde_json::from_str(&value).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            state.restore_submissions(history);
        }
    }
    Ok(state)
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
}

/// A read-only view of a replica's ledger, for the client-facing read path and admin checks.
#[derive(Debug, Clone)]
pub struct LedgerReader {
    db: Arc<DB>,
}

impl LedgerReader {
    /// Writes a consistent copy of the whole replica database (log, vote and state machine)
    /// into `target`, a directory that must not exist yet, while the replica serves.
    pub fn checkpoint(&self, target: &std::path::Path) -> Result<(), rocksdb::Error> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(target)
    }
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

fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn decode_code(bytes: &[u8]) -> Option<MunicipalityCode> {
    let n = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
    MunicipalityCode::from_number(n).ok()
}

#[derive(Debug, thiserror::Error)]
#[error("corrupt {what} in the state machine")]
struct Corrupt {
    what: &'static str,
}

impl StateMachineStore {
    /// Loads the state machine from the database.
    pub(super) fn open(db: Arc<DB>, prefecture: PrefectureCode) -> StorageResult<Self> {
        let mut acknowledged = BTreeMap::new();
        for item in db.iterator_cf(family(&db, CF_SM_LEDGER), IteratorMode::Start) {
            let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            let (Some(code), Some(seq)) = (decode_code(&key), decode_u64(&value)) else {
                return Err(sm_err(
                    ErrorVerb::Read,
                    &Corrupt {
                        what: "ledger entry",
                    },
                ));
            };
            acknowledged.insert(code, seq);
        }
        let last_applied = get_meta::<sm_meta::LastApplied>(&db)?;
        let membership = get_meta::<sm_meta::Membership>(&db)?.unwrap_or_default();
        let retired = get_meta::<sm_meta::Retired>(&db)?.unwrap_or_default();
        let down_cursor = last_down_cursor(&db)?;
        let survey = load_survey(&db)?;
        Ok(Self {
            db,
            prefecture,
            acknowledged,
            last_applied,
            membership,
            retired,
            down_cursor,
            survey: Arc::new(RwLock::new(survey)),
        })
    }

    /// Returns the tally engine's state, kept current as entries are applied.
    pub fn survey(&self) -> SharedSurvey {
        self.survey.clone()
    }

    /// Returns a read-only view sharing this state machine's database.
    pub fn reader(&self) -> LedgerReader {
        LedgerReader {
            db: self.db.clone(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_write(
        &mut self,
        batch: &mut WriteBatch,
        pending: &mut HashMap<String, WriteOutcome>,
        survey: &mut SurveyState,
        log_index: u64,
        request_id: String,
        facts: Vec<FactRecord>,
    ) -> StorageResult<WriteOutcome> {
        let earlier = match pending.get(&request_id) {
            Some(outcome) => Some(outcome.clone()),
            None => match self
                .db
                .get_cf(family(&self.db, CF_SM_REQUESTS), request_id.as_bytes())
                .map_err(|e| sm_err(ErrorVerb::Read, &e))?
            {
                Some(bytes) => Some(
                    serde_json::from_slice::<WriteOutcome>(&bytes)
                        .map_err(|e| sm_err(ErrorVerb::Read, &e))?,
                ),
                None => None,
            },
        };
        if let Some(mut outcome) = earlier {
            outcome.deduplicated = true;
            return Ok(outcome);
        }
        let mut results = Vec::with_capacity(facts.len());
        for fact in facts {
            let acknowledged = self
                .acknowledged
                .get(&fact.municipality)
                .copied()
                .unwrap_or(0);
            let result = ledger::decide(self.prefecture, acknowledged, &fact);
            if result.outcome == ledger::FactOutcome::Applied {
                self.acknowledged
                    .insert(fact.municipality, result.acknowledged);
                batch.put_cf(
                    family(&self.db, CF_SM_LEDGER),
                    keys::ledger_key(fact.municipality),
                    result.acknowledged.to_be_bytes(),
                );
                batch.put_cf(
                    family(&self.db, CF_SM_FACTS),
                    keys::fact_key(fact.municipality, fact.sequence),
                    &fact.payload,
                );
                survey.take_fact(fact.municipality, &fact.payload);
            }
            results.push(result);
        }
        let outcome = WriteOutcome {
            results,
            log_index,
            deduplicated: false,
        };
        let bytes = serde_json::to_vec(&outcome).map_err(|e| sm_err(ErrorVerb::Write, &e))?;
        batch.put_cf(
            family(&self.db, CF_SM_REQUESTS),
            request_id.as_bytes(),
            bytes,
        );
        pending.insert(request_id, outcome.clone());
        Ok(outcome)
    }
}

fn load_survey(db: &DB) -> StorageResult<SurveyState> {
    let mut facts = Vec::new();
    for item in db.iterator_cf(family(db, CF_SM_FACTS), IteratorMode::Start) {
        let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
        let code = decode_code(&key)
            .ok_or_else(|| sm_err(ErrorVerb::Read, &Corrupt { what: "fact key" }))?;
        facts.push((code, value));
    }
    let mut records = Vec::new();
    for item in db.iterator_cf(family(db, CF_SM_SURVEY), IteratorMode::Start) {
        let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
        records.push((
            String::from_utf8_lossy(&key).into_owned(),
            String::from_utf8_lossy(&value).into_owned(),
        ));
    }
    let mut down = Vec::new();
    for item in db.iterator_cf(family(db, CF_SM_DOWN), IteratorMode::Start) {
        let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
        if key.first() == Some(&b'i') {
            down.push(
                serde_json::from_slice::<DownRecord>(&value)
                    .map_err(|e| sm_err(ErrorVerb::Read, &e))?,
            );
        }
    }
    rebuild_survey(
        facts.iter().map(|(m, v)| (*m, v.as_ref())),
        records.into_iter(),
        down.iter(),
    )
}

fn last_down_cursor(db: &DB) -> StorageResult<u64> {
    let mut iter = db.iterator_cf(
        family(db, CF_SM_DOWN),
        IteratorMode::From(&keys::down_item_key(u64::MAX), rocksdb::Direction::Reverse),
    );
    match iter.next() {
        Some(item) => {
            let (key, _) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            if key.first() == Some(&b'i') {
                Ok(key.get(1..).and_then(decode_u64).unwrap_or(0))
            } else {
                Ok(0)
            }
        }
        None => Ok(0),
    }
}

impl StateMachineStore {
    fn apply_publish(
        &mut self,
        batch: &mut WriteBatch,
        pending_down: &mut HashMap<String, u64>,
        survey: &mut SurveyState,
        request_id: String,
        published_at_ms: i64,
        item: Vec<u8>,
    ) -> StorageResult<CommandResponse> {
        let earlier = match pending_down.get(&request_id) {
            Some(cursor) => Some(*cursor),
            None => self
                .db
                .get_cf(
                    family(&self.db, CF_SM_DOWN),
                    keys::down_request_key(&request_id),
                )
                .map_err(|e| sm_err(ErrorVerb::Read, &e))?
                .as_deref()
                .and_then(decode_u64),
        };
        if let Some(cursor) = earlier {
            return Ok(CommandResponse::Published {
                cursor,
                deduplicated: true,
            });
        }
        self.down_cursor += 1;
        let record = DownRecord {
            cursor: self.down_cursor,
            request_id: request_id.clone(),
            published_at_ms,
            item,
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| sm_err(ErrorVerb::Write, &e))?;
        let cf = family(&self.db, CF_SM_DOWN);
        batch.put_cf(cf, keys::down_item_key(record.cursor), bytes);
        batch.put_cf(
            cf,
            keys::down_request_key(&request_id),
            record.cursor.to_be_bytes(),
        );
        pending_down.insert(request_id, record.cursor);
        if let Ok(item) =
            <renkei_proto::v1::DownItem as prost::Message>::decode(record.item.as_slice())
        {
            survey.take_down_item(record.cursor, &item);
        }
        Ok(CommandResponse::Published {
            cursor: record.cursor,
            deduplicated: false,
        })
    }
}

impl StateMachineStore {
    /// Applies a survey command once per request id (a retry gets the stored response).
    fn apply_survey(
        &mut self,
        batch: &mut WriteBatch,
        pending: &mut HashMap<String, CommandResponse>,
        survey: &mut SurveyState,
        command: Command,
    ) -> StorageResult<CommandResponse> {
        let request_id = match &command {
            Command::SetRegions { request_id, .. }
            | Command::SubmitSurvey { request_id, .. }
            | Command::ReviewSubmission { request_id, .. }
            | Command::RecordWideAreaMeeting { request_id, .. } => request_id.clone(),
            _ => return Ok(CommandResponse::None),
        };
        let key = survey_key_request(&request_id);
        if let Some(r) = pending.get(&key) {
            return Ok(r.clone());
        }
        let cf = family(&self.db, CF_SM_SURVEY);
        if let Some(bytes) = self
            .db
            .get_cf(cf, key.as_bytes())
            .map_err(|e| sm_err(ErrorVerb::Read, &e))?
        {
            return serde_json::from_slice(&bytes).map_err(|e| sm_err(ErrorVerb::Read, &e));
        }
        let json = |v: &dyn erased::Json| v.to_json();
        let response = match command {
            Command::RecordWideAreaMeeting { meeting, .. } => {
                batch.put_cf(cf, format!("meetings/{}", meeting.id), json(&meeting)?);
                survey.take_meeting(meeting.clone());
                CommandResponse::Meeting(meeting)
            }
            Command::SetRegions { set, .. } => {
                batch.put_cf(cf, survey_key_regions(&set), json(&set)?);
                survey.set_regions(set.clone());
                CommandResponse::Regions(Ok(set))
            }
            Command::SubmitSurvey {
                municipality,
                fiscal_year,
                survey_date,
                statuses,
                submitted_at_ms,
                ..
            } => {
                let s = survey.submit(
                    municipality,
                    fiscal_year,
                    survey_date,
                    statuses,
                    submitted_at_ms,
                );
                let history = survey.submissions(fiscal_year, municipality).to_vec();
                batch.put_cf(
                    cf,
                    survey_key_submissions(fiscal_year, municipality),
                    json(&history)?,
                );
                CommandResponse::Submission(Ok(s))
            }
            Command::ReviewSubmission {
                municipality,
                fiscal_year,
                version,
                approve,
                comment,
                reviewed_at_ms,
                ..
            } => {
                let reviewed = survey.review(
                    municipality,
                    fiscal_year,
                    version,
                    approve,
                    &comment,
                    reviewed_at_ms,
                );
                if reviewed.is_ok() {
                    let history = survey.submissions(fiscal_year, municipality).to_vec();
                    batch.put_cf(
                        cf,
                        survey_key_submissions(fiscal_year, municipality),
                        json(&history)?,
                    );
                }
                CommandResponse::Submission(reviewed)
            }
            _ => CommandResponse::None,
        };
        batch.put_cf(cf, key.as_bytes(), json(&response)?);
        pending.insert(key, response.clone());
        Ok(response)
    }
}

/// JSON encoding of the tally engine's records, with storage errors.
mod erased {
    use super::{ErrorVerb, StorageResult, sm_err};

    pub trait Json {
        fn to_json(&self) -> StorageResult<Vec<u8>>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> StorageResult<Vec<u8>> {
            serde_json::to_vec(self).map_err(|e| sm_err(ErrorVerb::Write, &e))
        }
    }
}

impl LedgerReader {
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
            let Some(sequence) = key.get(4..).and_then(decode_u64) else {
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
            if key.first() != Some(&b'i') {
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
            Some(bytes) => decode_u64(&bytes).ok_or_else(|| {
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

/// Builds snapshots from a point-in-time view of the state machine's column families.
#[derive(Debug)]
pub struct SnapshotBuilder {
    db: Arc<DB>,
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
            let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            let (Some(code), Some(seq)) = (decode_code(&key), decode_u64(&value)) else {
                return Err(sm_err(
                    ErrorVerb::Read,
                    &Corrupt {
                        what: "ledger entry",
                    },
                ));
            };
            content.acknowledged.push((code, seq));
        }
        for item in view.iterator_cf(family(db, CF_SM_FACTS), IteratorMode::Start) {
            let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            let (Some(code), Some(seq)) = (decode_code(&key), key.get(4..).and_then(decode_u64))
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
            if key.first() == Some(&b'i') {
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
        let mut batch = WriteBatch::default();
        let mut pending = HashMap::new();
        let mut pending_down = HashMap::new();
        let mut pending_survey = HashMap::new();
        let survey_state = self.survey.clone();
        // Held for the whole apply: readers see the state after whole entries only. Nothing
        // below awaits, and a poisoned lock (a panic mid-apply) is taken over as is.
        let mut survey = survey_state.write().unwrap_or_else(|e| e.into_inner());
        let mut responses = Vec::new();
        let mut last = None;
        let mut membership_changed = false;
        let mut retired_changed = false;
        for entry in entries {
            last = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => CommandResponse::None,
                EntryPayload::Normal(Command::WriteFacts { request_id, facts }) => {
                    CommandResponse::Written(self.apply_write(
                        &mut batch,
                        &mut pending,
                        &mut survey,
                        entry.log_id.index,
                        request_id,
                        facts,
                    )?)
                }
                EntryPayload::Normal(Command::WriteBatch { writes }) => {
                    let mut outcomes = Vec::with_capacity(writes.len());
                    for write in writes {
                        outcomes.push(self.apply_write(
                            &mut batch,
                            &mut pending,
                            &mut survey,
                            entry.log_id.index,
                            write.request_id,
                            write.facts,
                        )?);
                    }
                    CommandResponse::WrittenBatch(outcomes)
                }
                EntryPayload::Normal(Command::PublishDown {
                    request_id,
                    published_at_ms,
                    item,
                }) => self.apply_publish(
                    &mut batch,
                    &mut pending_down,
                    &mut survey,
                    request_id,
                    published_at_ms,
                    item,
                )?,
                EntryPayload::Normal(
                    command @ (Command::SetRegions { .. }
                    | Command::SubmitSurvey { .. }
                    | Command::ReviewSubmission { .. }
                    | Command::RecordWideAreaMeeting { .. }),
                ) => self.apply_survey(&mut batch, &mut pending_survey, &mut survey, command)?,
                EntryPayload::Membership(membership) => {
                    let next: BTreeSet<NodeId> = membership.nodes().map(|(id, _)| *id).collect();
                    for (id, _) in self.membership.nodes() {
                        if !next.contains(id) {
                            retired_changed |= self.retired.insert(*id);
                        }
                    }
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    membership_changed = true;
                    CommandResponse::None
                }
            };
            responses.push(response);
        }
        let Some(last) = last else {
            return Ok(responses);
        };
        self.last_applied = Some(last);
        put_meta::<sm_meta::LastApplied>(&self.db, &mut batch, &last)?;
        if membership_changed {
            put_meta::<sm_meta::Membership>(&self.db, &mut batch, &self.membership)?;
        }
        if retired_changed {
            put_meta::<sm_meta::Retired>(&self.db, &mut batch, &self.retired)?;
        }
        self.db
            .write_opt(batch, &WriteOptions::default())
            .map_err(|e| sm_err(ErrorVerb::Write, &e))?;
        Ok(responses)
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
        let data = snapshot.into_inner();
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
            batch.put_cf(family(db, CF_SM_REQUESTS), id.as_bytes(), bytes);
        }
        let mut down_cursor = 0;
        for record in &content.down {
            let bytes = serde_json::to_vec(record).map_err(|e| sm_err(ErrorVerb::Write, &e))?;
            let cf = family(db, CF_SM_DOWN);
            batch.put_cf(cf, keys::down_item_key(record.cursor), bytes);
            batch.put_cf(
                cf,
                keys::down_request_key(&record.request_id),
                record.cursor.to_be_bytes(),
            );
            down_cursor = down_cursor.max(record.cursor);
        }
        for (key, value) in &content.survey {
            batch.put_cf(family(db, CF_SM_SURVEY), key.as_bytes(), value.as_bytes());
        }
        let survey = rebuild_survey(
            content
                .facts
                .iter()
                .map(|f| (f.municipality, f.payload.as_slice())),
            content.survey.iter().cloned(),
            content.down.iter(),
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
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "installed a snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let db = &self.db;
        let cf = family(db, CF_SM_SNAPSHOT);
        let meta = db
            .get_cf(cf, SNAPSHOT_META_KEY)
            .map_err(|e| snap_err(None, ErrorVerb::Read, &e))?;
        let data = db
            .get_cf(cf, SNAPSHOT_DATA_KEY)
            .map_err(|e| snap_err(None, ErrorVerb::Read, &e))?;
        match (meta, data) {
            (Some(meta), Some(data)) => {
                let meta: SnapshotMeta<NodeId, BasicNode> = serde_json::from_slice(&meta)
                    .map_err(|e| snap_err(None, ErrorVerb::Read, &e))?;
                Ok(Some(Snapshot {
                    meta,
                    snapshot: Box::new(Cursor::new(data)),
                }))
            }
            _ => Ok(None),
        }
    }
}
