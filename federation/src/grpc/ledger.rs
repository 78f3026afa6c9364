//! The client-facing `PrefectureLedger` service: writes facts through Raft on the leader, reads
//! acknowledged sequences (linearizable by default, or a possibly-stale local read). The checks
//! of a write and the reads are [`Facts`]'s; this file decodes, calls and encodes.

use renkei_proto::MunicipalityCode;
use renkei_proto::v1::{self, PrefectureLedger};
use tonic::{Request, Response, Status};

use super::to_status;
use crate::access::identity;
use crate::config::Role;
use crate::error::FederationError;
use crate::facts::Facts;
use crate::ledger::{self, WriteOutcome};

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
        let outcome = self.facts.write(request.request_id, request.facts).await?;
        Ok(write_response(&outcome))
    }

    async fn read(
        &self,
        request: v1::ReadSequenceRequest,
    ) -> Result<v1::ReadSequenceResponse, FederationError> {
        let municipality = self.facts.municipality(&request.municipality)?;
        self.facts.ensure(request.consistency).await?;
        Ok(v1::ReadSequenceResponse {
            applied_index: self.facts.applied_index(),
            acknowledged: self.facts.acknowledged(municipality)?,
        })
    }
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
