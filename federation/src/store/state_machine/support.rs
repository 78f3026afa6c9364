//! The prefecture's support activities kept by the state machine, in [`CF_SM_SURVEY`] under
//! [`keys::support`]: applying a `RecordSupportActivity` asks [`SupportLog::decide`], writes the
//! activity it accepts and updates the in-memory [`SupportLog`]; at open and at snapshot install
//! the log is rebuilt from those records (a snapshot carries the whole column family).
//!
//! Whether an activity may be recorded is decided in [`crate::support`], never here.

use std::sync::{Arc, RwLock};

use openraft::ErrorVerb;
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};

use super::requests::{Answer, Requests};
use super::{StateMachineStore, StorageResult, sm_err};
use crate::store::family;
use crate::store::keys::{self, CF_SM_SURVEY, RequestKind};
use crate::support::{Recording, SupportActivity, SupportLog};
use crate::types::CommandResponse;

/// The support activities, shared between the state machine (which applies them) and the
/// support service (which reads them).
pub type SharedSupport = Arc<RwLock<SupportLog>>;

/// Rebuilds the support log from the records of [`CF_SM_SURVEY`] (key, JSON value), passing by
/// those that are not support activities.
pub(super) fn rebuild_support<'a>(
    records: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> StorageResult<SupportLog> {
    let mut log = SupportLog::default();
    for (key, value) in records {
        if key.starts_with(keys::support::ACTIVITIES) {
            let activity: SupportActivity =
                serde_json::from_slice(value).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            log.apply(activity);
        }
    }
    Ok(log)
}

/// Loads the support log from the database (at open).
pub(super) fn load_support(db: &DB) -> StorageResult<SupportLog> {
    let prefix = keys::support::ACTIVITIES.as_bytes();
    let mut records = Vec::new();
    for item in db.iterator_cf(
        family(db, CF_SM_SURVEY),
        IteratorMode::From(prefix, Direction::Forward),
    ) {
        let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
        if !key.starts_with(prefix) {
            break;
        }
        records.push((String::from_utf8_lossy(&key).into_owned(), value));
    }
    rebuild_support(records.iter().map(|(k, v)| (k.as_str(), v.as_ref())))
}

impl StateMachineStore {
    /// Applies a `RecordSupportActivity` once per request id (a retry gets the stored response).
    pub(super) fn apply_support(
        &mut self,
        batch: &mut WriteBatch,
        requests: &mut Requests,
        request_id: String,
        activity: SupportActivity,
    ) -> StorageResult<CommandResponse> {
        if let Some(Answer::Support(response)) =
            requests.earlier(&self.db, RequestKind::Support, &request_id)?
        {
            return Ok(response);
        }
        let support = self.support.clone();
        // Nothing below awaits; a poisoned lock (a panic mid-apply) is taken over as is.
        let mut log = support.write().unwrap_or_else(|e| e.into_inner());
        let response = match log.decide(&activity) {
            Ok(Recording::New) => {
                let json =
                    serde_json::to_vec(&activity).map_err(|e| sm_err(ErrorVerb::Write, &e))?;
                batch.put_cf(
                    family(&self.db, CF_SM_SURVEY),
                    keys::support::activity(&activity.id),
                    json,
                );
                log.apply(activity.clone());
                CommandResponse::SupportActivity(Ok(activity))
            }
            Ok(Recording::AlreadyRecorded(recorded)) => {
                CommandResponse::SupportActivity(Ok(recorded))
            }
            Err(refusal) => CommandResponse::SupportActivity(Err(refusal)),
        };
        requests.record(
            &self.db,
            batch,
            request_id,
            Answer::Support(response.clone()),
        )?;
        Ok(response)
    }
}
