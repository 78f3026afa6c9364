//! The client-facing `PrefectureLedger` service: writes facts through Raft on the leader, reads
//! acknowledged sequences (linearizable by default, or a possibly-stale local read).

use renkei_proto::v1::{self, PrefectureLedger};
use renkei_proto::{MunicipalityCode, PrefectureCode};
use tonic::{Request, Response, Status};

use super::to_status;
use crate::access::identity;
use crate::config::Role;
use crate::error::FederationError;
use crate::group_commit::FactWriter;
use crate::ledger::{self, FactRecord, MAX_REQUEST_ID_BYTES};
use crate::store::LedgerReader;
use crate::types::Raft;

/// The most facts one write may carry.
pub const MAX_FACTS_PER_WRITE: usize = 2_000;

/// Refuses a fact payload over [`renkei_proto::MAX_FACT_BYTES`], naming it by its index.
pub(crate) fn check_fact_size(index: usize, payload: &[u8]) -> Result<(), FederationError> {
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

/// Serves clients' writes and reads of the prefecture ledger.
#[derive(Clone)]
pub struct LedgerService {
    raft: Raft,
    /// The one path of facts into the Raft log (group commit).
    writer: FactWriter,
    reader: LedgerReader,
    prefecture: PrefectureCode,
}

impl LedgerService {
    /// Serves the ledger of `prefecture`; starts the group-commit task (call within a Tokio
    /// runtime).
    pub fn new(raft: Raft, reader: LedgerReader, prefecture: PrefectureCode) -> Self {
        Self {
            writer: FactWriter::start(raft.clone()),
            raft,
            reader,
            prefecture,
        }
    }

    pub(crate) fn municipality(&self, text: &str) -> Result<MunicipalityCode, FederationError> {
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

    /// Checks a write's request id and facts and turns them into ledger records.
    pub(crate) fn records(
        &self,
        request_id: &str,
        facts: Vec<v1::Fact>,
    ) -> Result<Vec<FactRecord>, FederationError> {
        if request_id.is_empty() || request_id.len() > MAX_REQUEST_ID_BYTES {
            return Err(FederationError::InvalidArgument {
                field: "request_id",
                reason: format!(
                    "{} bytes; must be 1 to {MAX_REQUEST_ID_BYTES}",
                    request_id.len()
                ),
            });
        }
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

    /// Commits checked facts through Raft and returns each one's outcome.
    pub(crate) async fn commit(
        &self,
        request_id: String,
        facts: Vec<FactRecord>,
    ) -> Result<v1::WriteFactsResponse, FederationError> {
        let outcome = self.writer.write(request_id, facts).await?;
        Ok(v1::WriteFactsResponse {
            results: outcome
                .results
                .iter()
                .map(|r| v1::FactResult {
                    outcome: fact_outcome(r.outcome) as i32,
                    acknowledged: r.acknowledged,
                })
                .collect(),
            log_index: outcome.log_index,
            deduplicated: outcome.deduplicated,
        })
    }

    async fn write(
        &self,
        request: v1::WriteFactsRequest,
    ) -> Result<v1::WriteFactsResponse, FederationError> {
        let facts = self.records(&request.request_id, request.facts)?;
        self.commit(request.request_id, facts).await
    }

    /// Reads with the requested consistency: a linearizable read first confirms leadership.
    pub(crate) async fn ensure(&self, consistency: i32) -> Result<(), FederationError> {
        let consistency = v1::ReadConsistency::try_from(consistency).map_err(|_| {
            FederationError::InvalidArgument {
                field: "consistency",
                reason: format!("unknown value {consistency}"),
            }
        })?;
        if consistency == v1::ReadConsistency::Linearizable {
            // Confirms leadership with a quorum and waits until the read index is applied.
            self.raft.ensure_linearizable().await?;
        }
        Ok(())
    }

    async fn read(
        &self,
        request: v1::ReadSequenceRequest,
    ) -> Result<v1::ReadSequenceResponse, FederationError> {
        let municipality = self.municipality(&request.municipality)?;
        self.ensure(request.consistency).await?;
        let applied_index = self
            .raft
            .metrics()
            .borrow()
            .last_applied
            .map(|id| id.index)
            .unwrap_or(0);
        let acknowledged = self.reader.acknowledged(municipality)?;
        Ok(v1::ReadSequenceResponse {
            acknowledged,
            applied_index,
        })
    }
}

fn fact_outcome(outcome: ledger::FactOutcome) -> v1::FactOutcome {
    match outcome {
        ledger::FactOutcome::Applied => v1::FactOutcome::Applied,
        ledger::FactOutcome::Duplicate => v1::FactOutcome::Duplicate,
        ledger::FactOutcome::Gap => v1::FactOutcome::Gap,
        // Refused before proposing; should one reach the log anyway, it had no effect.
        ledger::FactOutcome::OutsidePrefecture => v1::FactOutcome::Unspecified,
    }
}

#[tonic::async_trait]
impl PrefectureLedger for LedgerService {
    async fn write_facts(
        &self,
        request: Request<v1::WriteFactsRequest>,
    ) -> Result<Response<v1::WriteFactsResponse>, Status> {
        let who = identity(&request)?;
        for fact in &request.get_ref().facts {
            // A malformed code is refused with the rest of the validation, naming the field.
            if let Ok(m) = fact.municipality.parse::<MunicipalityCode>() {
                who.check_writes_facts_for(m).map_err(to_status)?;
            }
        }
        self.write(request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn read_sequence(
        &self,
        request: Request<v1::ReadSequenceRequest>,
    ) -> Result<Response<v1::ReadSequenceResponse>, Status> {
        let who = identity(&request)?;
        if let Ok(m) = request.get_ref().municipality.parse::<MunicipalityCode>()
            && who.check_speaks_for(m).is_err()
        {
            who.check_role(Role::Viewer, "read the ledger of a municipality")
                .map_err(to_status)?;
        }
        self.read(request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }
}
