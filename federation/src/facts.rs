//! The fact path (事実の経路) every service of a replica shares: which municipalities are this
//! prefecture's, the checks of a write of facts, the one group-committed way into the Raft log,
//! the other commands' way into it, reads with the consistency asked for, and the acknowledged
//! sequences. A plain type: `PrefectureLedger`, `Federation` and `PrefectureSurvey` (and the
//! application types behind them) each hold one, side by side — no gRPC service holds another,
//! and none keeps its own Raft handle, reader or prefecture beside it.

use renkei_proto::v1;
use renkei_proto::{MunicipalityCode, PrefectureCode};

use crate::error::FederationError;
use crate::group_commit::FactWriter;
use crate::ledger::{FactRecord, MAX_REQUEST_ID_BYTES, WriteOutcome};
use crate::store::LedgerReader;
use crate::types::{Command, CommandResponse, Raft};

/// The most facts one write may carry.
pub const MAX_FACTS_PER_WRITE: usize = 2_000;

/// Refuses a request id that is empty or longer than [`MAX_REQUEST_ID_BYTES`].
pub fn check_request_id(id: &str) -> Result<(), FederationError> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID_BYTES {
        return Err(FederationError::InvalidArgument {
            field: "request_id",
            reason: format!("{} bytes; must be 1 to {MAX_REQUEST_ID_BYTES}", id.len()),
        });
    }
    Ok(())
}

/// Refuses a fact payload over [`renkei_proto::MAX_FACT_BYTES`], naming it by its index.
pub fn check_fact_size(index: usize, payload: &[u8]) -> Result<(), FederationError> {
    if payload.len() > renkei_proto::MAX_FACT_BYTES {
        return Err(FederationError::InvalidArgument {
            field: "payload",
            reason: format!(
                "facts[{index}].payload is {} bytes; a fact may have at most {}",
                payload.len(),
                renkei_proto::MAX_FACT_BYTES
            ),
        });
    }
    Ok(())
}

/// The facts of one prefecture, as a replica reads and writes them; cheap to clone.
#[derive(Clone)]
pub struct Facts {
    raft: Raft,
    /// The one path of facts into the Raft log (group commit).
    writer: FactWriter,
    reader: LedgerReader,
    prefecture: PrefectureCode,
}

impl Facts {
    /// The facts of `prefecture`; starts the group-commit task (call within a Tokio runtime).
    pub fn new(raft: Raft, reader: LedgerReader, prefecture: PrefectureCode) -> Self {
        Self {
            writer: FactWriter::start(raft.clone()),
            raft,
            reader,
            prefecture,
        }
    }

    /// Reads a municipality code given in `municipality` and checks that it is one of this
    /// prefecture's.
    pub fn municipality(&self, text: &str) -> Result<MunicipalityCode, FederationError> {
        let code: MunicipalityCode =
            text.parse().map_err(
                |e: renkei_proto::IdError| FederationError::InvalidArgument {
                    field: "municipality",
                    reason: e.to_string(),
                },
            )?;
        if code.prefecture() != self.prefecture {
            return Err(FederationError::OutsidePrefecture {
                municipality: code.to_string(),
                prefecture: self.prefecture.to_string(),
            });
        }
        Ok(code)
    }

    /// This prefecture.
    pub fn prefecture(&self) -> PrefectureCode {
        self.prefecture
    }

    /// The replica's ledger as applied here (no read barrier: see [`Facts::ensure`]).
    pub fn reader(&self) -> &LedgerReader {
        &self.reader
    }

    /// Checks a write's request id and facts (their number and sizes, sequences, municipalities
    /// of this prefecture) and turns them into ledger records; nothing reaches Raft before this.
    pub fn records(
        &self,
        request_id: &str,
        facts: Vec<v1::Fact>,
    ) -> Result<Vec<FactRecord>, FederationError> {
        check_request_id(request_id)?;
        if facts.is_empty() || facts.len() > MAX_FACTS_PER_WRITE {
            return Err(FederationError::InvalidArgument {
                field: "facts",
                reason: format!("{} facts; must be 1 to {MAX_FACTS_PER_WRITE}", facts.len()),
            });
        }
        // Sizes are checked before anything reaches Raft: an oversize fact is refused for good
        // (the node reports it and holds its municipality back), never retried into the log.
        let mut total = 0usize;
        for (i, fact) in facts.iter().enumerate() {
            check_fact_size(i, &fact.payload)?;
            total += fact.payload.len();
        }
        if total > renkei_proto::MAX_WRITE_FACT_BYTES {
            return Err(FederationError::InvalidArgument {
                field: "facts",
                reason: format!(
                    "{total} payload bytes; one write may carry at most {} (send fewer facts)",
                    renkei_proto::MAX_WRITE_FACT_BYTES
                ),
            });
        }
        let mut records = Vec::with_capacity(facts.len());
        for (i, fact) in facts.into_iter().enumerate() {
            if fact.sequence == 0 {
                return Err(FederationError::InvalidArgument {
                    field: "sequence",
                    reason: format!("facts[{i}].sequence is 0; sequences start at 1"),
                });
            }
            records.push(FactRecord {
                municipality: self.municipality(&fact.municipality)?,
                sequence: fact.sequence,
                payload: fact.payload,
            });
        }
        Ok(records)
    }

    /// Checks a write of facts ([`Facts::records`]) and commits it: `PrefectureLedger.WriteFacts`.
    pub async fn write(
        &self,
        request_id: String,
        facts: Vec<v1::Fact>,
    ) -> Result<WriteOutcome, FederationError> {
        let records = self.records(&request_id, facts)?;
        self.commit(request_id, records).await
    }

    /// Commits checked facts through Raft (grouped with concurrent writes) and returns each
    /// one's outcome.
    pub async fn commit(
        &self,
        request_id: String,
        facts: Vec<FactRecord>,
    ) -> Result<WriteOutcome, FederationError> {
        self.writer.write(request_id, facts).await
    }

    /// Confirms leadership with a quorum and waits until the read index is applied, so a read
    /// that follows sees every write acknowledged before it.
    pub async fn linearize(&self) -> Result<(), FederationError> {
        self.raft.ensure_linearizable().await?;
        Ok(())
    }

    /// Proposes a command that is not a write of facts (a survey submission, a review, regions,
    /// a publication, a meeting) through Raft and returns the state machine's answer.
    pub async fn propose(&self, command: Command) -> Result<CommandResponse, FederationError> {
        Ok(self.raft.client_write(command).await?.data)
    }

    /// Reads with the requested consistency (the wire's `ReadConsistency`): a linearizable read
    /// first confirms leadership (see [`Facts::linearize`]).
    pub async fn ensure(&self, consistency: i32) -> Result<(), FederationError> {
        let consistency = v1::ReadConsistency::try_from(consistency).map_err(|_| {
            FederationError::InvalidArgument {
                field: "consistency",
                reason: format!("unknown value {consistency}"),
            }
        })?;
        if consistency == v1::ReadConsistency::Linearizable {
            self.linearize().await?;
        }
        Ok(())
    }

    /// The highest sequence acknowledged for `municipality` (gap-free from 1).
    pub fn acknowledged(&self, municipality: MunicipalityCode) -> Result<u64, FederationError> {
        Ok(self.reader.acknowledged(municipality)?)
    }

    /// The last log index this replica has applied.
    pub fn applied_index(&self) -> u64 {
        self.raft
            .metrics()
            .borrow()
            .last_applied
            .map(|id| id.index)
            .unwrap_or(0)
    }
}
