//! The openraft type configuration of a prefecture cluster and the payload of its log entries.

use std::io::Cursor;

use openraft::BasicNode;
use serde::{Deserialize, Serialize};

use crate::ledger::{FactRecord, WriteOutcome, payload_base64};
use crate::regions::RegionSet;
use crate::survey::SurveyStatus;
use crate::tally::{Submission, SurveyRefusal};

/// A replica's id. Ids are assigned by the operator and never reused (see `ClusterAdmin`).
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// The openraft types of a prefecture cluster: log entries carry [`Command`]s, applying one
    /// yields a [`CommandResponse`], nodes are addressed by `host:port`.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = NodeId,
        Node = BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// The Raft instance of a prefecture replica.
pub type Raft = openraft::Raft<TypeConfig>;

/// One write of facts: `request_id` makes a retried write take effect once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    pub request_id: String,
    pub facts: Vec<FactRecord>,
}

/// A state-machine command carried in a Raft log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Appends facts to municipal ledgers. `request_id` makes a retried write take effect once.
    WriteFacts {
        request_id: String,
        facts: Vec<FactRecord>,
    },
    /// Several writes of facts coalesced into one entry (group commit), applied in order, each
    /// as a [`Command::WriteFacts`] of its own.
    WriteBatch { writes: Vec<Write> },
    /// Publishes an item for the municipalities to pull; `request_id` makes a retry take effect
    /// once.
    PublishDown {
        request_id: String,
        published_at_ms: i64,
        #[serde(with = "payload_base64")]
        item: Vec<u8>,
    },
    /// Replaces the regions of a kind for a period (validated before it is proposed).
    SetRegions { request_id: String, set: RegionSet },
    /// Locks a snapshot of a municipality's statuses (computed by the leader) as a new version.
    SubmitSurvey {
        request_id: String,
        municipality: renkei_proto::MunicipalityCode,
        fiscal_year: renkei_proto::FiscalYear,
        survey_date: chrono::NaiveDate,
        statuses: [SurveyStatus; 8],
        submitted_at_ms: i64,
    },
    /// Records a wide-area meeting held by the prefecture or a 保健所.
    RecordWideAreaMeeting {
        request_id: String,
        meeting: crate::wide_area::WideAreaMeeting,
    },
    /// Records a support activity of the prefecture (validated before it is proposed; the
    /// state machine decides whether its id is free, [`crate::support::SupportLog::decide`]).
    RecordSupportActivity {
        request_id: String,
        activity: crate::support::SupportActivity,
    },
    /// Approves or returns a submitted version.
    ReviewSubmission {
        request_id: String,
        municipality: renkei_proto::MunicipalityCode,
        fiscal_year: renkei_proto::FiscalYear,
        version: u32,
        approve: bool,
        comment: String,
        /// When the leader proposed the review (ms since the epoch; 0 in entries written before
        /// it was kept): a submitted tally as known at an earlier instant ignores it.
        #[serde(default)]
        reviewed_at_ms: i64,
    },
}

/// What applying one log entry produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResponse {
    /// A blank or membership entry.
    None,
    /// The outcome of a [`Command::WriteFacts`].
    Written(WriteOutcome),
    /// The outcome of each write of a [`Command::WriteBatch`], in order.
    WrittenBatch(Vec<WriteOutcome>),
    /// The cursor of a [`Command::PublishDown`], and whether it was published before.
    Published { cursor: u64, deduplicated: bool },
    /// The regions as set, or why not.
    Regions(Result<RegionSet, SurveyRefusal>),
    /// The submission as it stands after a submit or a review, or why it was refused.
    Submission(Result<Submission, SurveyRefusal>),
    /// The wide-area meeting as recorded.
    Meeting(crate::wide_area::WideAreaMeeting),
    /// The support activity as recorded, or why not.
    SupportActivity(Result<crate::support::SupportActivity, crate::support::SupportRefusal>),
}
