//! The client-facing `PrefectureLedger` service: writes facts through Raft on the leader, reads
//! acknowledged sequences (linearizable by default, or a possibly-stale local read).

use renkei_proto::MunicipalityCode;
use renkei_proto::v1::{self, PrefectureLedger};
use tonic::{Request, Response, Status};

use super::{check_request_id, to_status};
use crate::access::identity;
use crate::config::Role;
use crate::error::FederationError;
use crate::facts::Facts;
use crate::ledger::{self, FactRecord, WriteOutcome};

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
    facts: Facts,
}

impl LedgerService {
    /// Serves the ledger through `facts`, the fact path the replica's services share.
    pub fn new(facts: Facts) -> Self {
        Self { facts }
    }

    async fn write(
        &self,
        request: v1::WriteFactsRequest,
    ) -> Result<v1::WriteFactsResponse, FederationError> {
        let facts = records(&self.facts, &request.request_id, request.facts)?;
        let outcome = self.facts.commit(request.request_id, facts).await?;
        Ok(write_response(&outcome))
    }

    async fn read(
        &self,
        request: v1::ReadSequenceRequest,
    ) -> Result<v1::ReadSequenceResponse, FederationError> {
        let municipality = self.facts.municipality(&request.municipality)?;
        ensure(&self.facts, request.consistency).await?;
        Ok(v1::ReadSequenceResponse {
            applied_index: self.facts.applied_index(),
            acknowledged: self.facts.acknowledged(municipality)?,
        })
    }
}

/// Checks a write's request id and facts (their number and sizes, sequences, municipalities of
/// this prefecture) and turns them into ledger records; nothing reaches Raft before this.
pub(crate) fn records(
    path: &Facts,
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
            municipality: path.municipality(&fact.municipality)?,
            sequence: fact.sequence,
            payload: fact.payload,
        });
    }
    Ok(records)
}

/// The wire form of a committed write's outcome.
pub(crate) fn write_response(outcome: &WriteOutcome) -> v1::WriteFactsResponse {
    v1::WriteFactsResponse {
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
    }
}

/// Reads with the requested consistency (the wire's `ReadConsistency`): a linearizable read
/// first confirms leadership.
pub(crate) async fn ensure(facts: &Facts, consistency: i32) -> Result<(), FederationError> {
    let consistency = v1::ReadConsistency::try_from(consistency).map_err(|_| {
        FederationError::InvalidArgument {
            field: "consistency",
            reason: format!("unknown value {consistency}"),
        }
    })?;
    if consistency == v1::ReadConsistency::Linearizable {
        facts.linearize().await?;
    }
    Ok(())
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
