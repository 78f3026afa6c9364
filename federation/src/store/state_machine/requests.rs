//! The one request-id deduplication of the state machine: every command that carries a request
//! id (a write of facts, a publication down, a survey command, a support activity) takes effect
//! once per id.
//!
//! Applying such a command first asks [`Requests::earlier`] for the answer recorded for its id —
//! in this `apply` call (not yet on disk) or in an earlier one (in the database, see
//! [`RequestKind`] for where each kind keeps it). A recorded answer is what a retry gets (a write
//! of facts marks it `deduplicated`, a publication answers `deduplicated: true`, a survey command
//! gets its response as it was); otherwise the command takes effect and [`Requests::record`]
//! writes its answer in the same `WriteBatch` as its effects, so both or neither are on disk.
//!
//! Independently of request ids, each fact takes effect once by its `(municipality, sequence)`:
//! that is the ledger rule ([`crate::ledger::decide`]), not this mechanism.

use std::collections::HashMap;

use openraft::ErrorVerb;
use rocksdb::{DB, WriteBatch};

use super::{StorageResult, sm_err};
use crate::ledger::WriteOutcome;
use crate::store::family;
use crate::store::keys::{self, RequestKind};
use crate::types::CommandResponse;

/// The answer recorded for a request id: what a retry of the request gets.
#[derive(Debug, Clone)]
pub(super) enum Answer {
    /// A write of facts: its outcome as first applied.
    Facts(WriteOutcome),
    /// A publication down: the cursor the item got.
    Published(u64),
    /// A survey command: its response.
    Survey(CommandResponse),
    /// A support activity's recording: its response.
    Support(CommandResponse),
}

impl Answer {
    fn kind(&self) -> RequestKind {
        match self {
            Answer::Facts(_) => RequestKind::Facts,
            Answer::Published(_) => RequestKind::PublishDown,
            Answer::Survey(_) => RequestKind::Survey,
            Answer::Support(_) => RequestKind::Support,
        }
    }

    fn encode(&self) -> StorageResult<Vec<u8>> {
        match self {
            Answer::Facts(outcome) => {
                serde_json::to_vec(outcome).map_err(|e| sm_err(ErrorVerb::Write, &e))
            }
            Answer::Published(cursor) => Ok(cursor.to_be_bytes().to_vec()),
            Answer::Survey(response) | Answer::Support(response) => {
                serde_json::to_vec(response).map_err(|e| sm_err(ErrorVerb::Write, &e))
            }
        }
    }

    fn decode(kind: RequestKind, bytes: &[u8]) -> StorageResult<Option<Answer>> {
        match kind {
            RequestKind::Facts => serde_json::from_slice(bytes)
                .map(|outcome| Some(Answer::Facts(outcome)))
                .map_err(|e| sm_err(ErrorVerb::Read, &e)),
            // A stored cursor that is not 8 bytes counts as no earlier publication.
            RequestKind::PublishDown => Ok(keys::decode_u64(bytes).map(Answer::Published)),
            RequestKind::Survey => serde_json::from_slice(bytes)
                .map(|response| Some(Answer::Survey(response)))
                .map_err(|e| sm_err(ErrorVerb::Read, &e)),
            RequestKind::Support => serde_json::from_slice(bytes)
                .map(|response| Some(Answer::Support(response)))
                .map_err(|e| sm_err(ErrorVerb::Read, &e)),
        }
    }
}

/// The request ids answered during one `apply` call, whose answers are in its `WriteBatch` but
/// not yet in the database.
#[derive(Debug, Default)]
pub(super) struct Requests {
    pending: HashMap<(RequestKind, String), Answer>,
}

impl Requests {
    /// Returns the answer recorded for `request_id` of `kind`, in this apply or an earlier one.
    pub(super) fn earlier(
        &self,
        db: &DB,
        kind: RequestKind,
        request_id: &str,
    ) -> StorageResult<Option<Answer>> {
        if let Some(answer) = self.pending.get(&(kind, request_id.to_owned())) {
            return Ok(Some(answer.clone()));
        }
        match db
            .get_cf(family(db, kind.family()), kind.key(request_id))
            .map_err(|e| sm_err(ErrorVerb::Read, &e))?
        {
            Some(bytes) => Answer::decode(kind, &bytes),
            None => Ok(None),
        }
    }

    /// Records the answer of `request_id`, in `batch` (with the request's effects) and for the
    /// rest of this apply.
    pub(super) fn record(
        &mut self,
        db: &DB,
        batch: &mut WriteBatch,
        request_id: String,
        answer: Answer,
    ) -> StorageResult<()> {
        let kind = answer.kind();
        batch.put_cf(
            family(db, kind.family()),
            kind.key(&request_id),
            answer.encode()?,
        );
        self.pending.insert((kind, request_id), answer);
        Ok(())
    }
}
