//! The fact path (事実の経路) every service of a replica shares: which municipalities are this
//! prefecture's, the one group-committed way into the Raft log, linearizable reads, and the
//! acknowledged sequences. A plain type: `PrefectureLedger`, `Federation` and `PrefectureSurvey`
//! each hold one, side by side — no gRPC service holds another.

use renkei_proto::{MunicipalityCode, PrefectureCode};

use crate::error::FederationError;
use crate::group_commit::FactWriter;
use crate::ledger::{FactRecord, WriteOutcome};
use crate::store::LedgerReader;
use crate::types::Raft;

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
