//! The gRPC services of a prefecture replica and the one mapping of errors to gRPC codes.
//!
//! - [`RaftPeerService`]: the internal `RaftService`, for peers only;
//! - [`LedgerService`]: the client-facing `PrefectureLedger` (writes and reads of facts);
//! - [`FederationService`]: the `Federation` sync service municipal nodes call (facts up, items
//!   down);
//! - [`SurveyService`]: `PrefectureSurvey` — tallies, exports, completeness, submissions and
//!   reviews, regions;
//! - [`SupportService`]: `PrefectureSupport` — the prefecture's support activities for its
//!   municipalities;
//! - [`ReplicaBackupService`]: `Backup` (an online checkpoint of the replica's database);
//! - [`AdminService`]: `ClusterAdmin` (initialise, add learner, change membership, remove,
//!   status).
//!
//! Callers reach the client services identified by [`crate::access`]. Each client handler takes
//! the caller's identity, calls one application method — of [`crate::facts::Facts`] for the
//! ledger, of [`crate::application`]'s `Exchange`, `Surveys` and `Support` for `Federation`,
//! `PrefectureSurvey` and `PrefectureSupport`, which check roles and municipalities — and maps errors through
//! [`to_status`]. No rule lives here.

mod admin;
mod backup;
mod federation;
mod ledger;
mod raft;
mod support;
mod survey;

pub use admin::{AdminService, cluster_status};
pub use backup::ReplicaBackupService;
pub use federation::FederationService;
pub use ledger::LedgerService;
pub use raft::RaftPeerService;
pub use support::SupportService;
pub use survey::SurveyService;

/// The one mapping of errors to gRPC codes (kept with the errors, so that [`crate::access`]
/// answers with it without depending on the services).
pub use crate::error::to_status;

/// The response metadata key naming the leader's address when a follower refuses a request.
pub use renkei_proto::cluster::LEADER_METADATA_KEY;
