//! The client-facing `PrefectureLedger` service: writes facts through Raft on the leader, reads
//! acknowledged sequences (linearizable by default, or a possibly-stale local read).

use renkei_proto::v1::{self, PrefectureLedger};
use renkei_proto::{MunicipalityCode, PrefectureCode};
use tonic::{Request, Response, Status};

use super::to_status;
use crate::error::FederationError;
use crate::ledger::{self, FactRecord, MAX_REQUEST_ID_BYTES};
use crate::store::LedgerReader;
use crate::types::{Command, CommandResponse, Raft};

/// The most facts one write may carry.
pub const MAX_FACTS_PER_WRITE: usize = 2_000;

/// Serves clients' writes and reads of the prefecture ledger.
#[derive(Clone)]
pub struct LedgerService {
    raft: Raft,
    reader: LedgerReader,
    prefecture: PrefectureCode,
}

impl LedgerService {
    pub fn new(raft: Raft, reader: LedgerReader, prefecture: PrefectureCode) -> Self {
        Self {
            raft,
            reader,
            prefecture,
        }
    }

    fn municipality(&self, text: &str) -> Result<MunicipalityCode, FederationError> {
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

    async fn write(
        &self,
        request: v1::WriteFactsRequest,
    ) -> Result<v1::WriteFactsResponse, FederationError> {
        if request.request_id.is_empty() || request.request_id.len() > MAX_REQUEST_ID_BYTES {
            return Err(FederationError::InvalidArgument {
                field: "request_id",
                reason: format!(
                    "{} bytes; must be 1 to {MAX_REQUEST_ID_BYTES}",
                    request.request_id.len()
                ),
            });
        }
        if request.facts.is_empty() || request.facts.len() > MAX_FACTS_PER_WRITE {
            return Err(FederationError::InvalidArgument {
                field: "facts",
                reason: format!(
                    "{} facts; must be 1 to {MAX_FACTS_PER_WRITE}",
                    request.facts.len()
                ),
            });
        }
        let mut facts = Vec::with_capacity(request.facts.len());
        for fact in request.facts {
            if fact.sequence == 0 {
                return Err(FederationError::InvalidArgument {
                    field: "sequence",
                    reason: "sequences start at 1".to_owned(),
                });
            }
            facts.push(FactRecord {
                municipality: self.municipality(&fact.municipality)?,
                sequence: fact.sequence,
                payload: fact.payload,
            });
        }
        let written = self
            .raft
            .client_write(Command::WriteFacts {
                request_id: request.request_id,
                facts,
            })
            .await?;
        let outcome = match written.data {
            CommandResponse::Written(outcome) => outcome,
            CommandResponse::None => {
                return Err(FederationError::FailedPrecondition(
                    "the state machine gave no outcome for a write".to_owned(),
                ));
            }
        };
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

    async fn read(
        &self,
        request: v1::ReadSequenceRequest,
    ) -> Result<v1::ReadSequenceResponse, FederationError> {
        let municipality = self.municipality(&request.municipality)?;
        let consistency = v1::ReadConsistency::try_from(request.consistency).map_err(|_| {
            FederationError::InvalidArgument {
                field: "consistency",
                reason: format!("unknown value {}", request.consistency),
            }
        })?;
        if consistency == v1::ReadConsistency::Linearizable {
            // Confirms leadership with a quorum and waits until the read index is applied.
            self.raft.ensure_linearizable().await?;
        }
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
        self.write(request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn read_sequence(
        &self,
        request: Request<v1::ReadSequenceRequest>,
    ) -> Result<Response<v1::ReadSequenceResponse>, Status> {
        self.read(request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }
}
