//! The renkei wire contract and the validated identifiers every crate shares.
//!
//! Layout:
//! - [`v1`]: the generated protobuf messages, clients and servers of package `renkei.v1`
//!   (generated code lives in a private module and is re-exported here deliberately);
//! - [`MunicipalityCode`], [`PrefectureCode`], [`FiscalYear`]: identifiers that can only be built
//!   through validation;
//! - [`official`]: the official list of the 1,741 municipalities and 47 prefectures;
//! - [`programme`]: the programme's items and survey answers, the one vocabulary of both tiers,
//!   and the status rules both apply to evidence ([`programme::status`]);
//! - [`convert`]: conversions between wire and domain types;
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors, for gRPC server reflection;
//! - [`cluster`]: calls to a replicated prefecture cluster that find its leader;
//! - [`server`]: what the servers of both tiers share (credentials and the access layer, backups,
//!   metrics, telemetry, the web pages' kit), so that the prefecture does not link the node.
//!
//! Apart from [`cluster`], [`tls`] and [`server`], this crate does no I/O.

#[doc(hidden)]
pub mod codec;
mod error;
mod fiscal_year;
mod municipality;
mod prefecture;

pub mod cluster;
pub mod convert;
pub mod official;
pub mod programme;
pub mod server;
pub mod tls;

pub use error::IdError;
pub use fiscal_year::{Era, FiscalYear};
pub use municipality::MunicipalityCode;
pub use prefecture::PrefectureCode;

mod generated {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("renkei.v1");
}

/// The messages and services of protobuf package `renkei.v1`.
pub mod v1 {
    pub use crate::generated::event_log_client::EventLogClient;
    pub use crate::generated::event_log_server::{EventLog, EventLogServer};
    pub use crate::generated::expected_version::Kind as ExpectedVersionKind;
    pub use crate::generated::{
        AppendRequest, AppendResponse, Direction, Empty, ExpectedVersion, NewEvent, ReadAllRequest,
        ReadAllResponse, ReadStreamRequest, ReadStreamResponse, RecordedEvent, SubscribeRequest,
    };

    // Online backups of a node or a replica (backup.proto).
    pub use crate::generated::backup_client::BackupClient;
    pub use crate::generated::backup_server::{Backup, BackupServer};
    pub use crate::generated::{BackupReply, CreateBackupRequest};

    // The prefecture tier: client, sync, admin and internal Raft services (federation.proto,
    // raft.proto), and the node's view of its sync (sync.proto).
    pub use crate::generated::cluster_admin_client::ClusterAdminClient;
    pub use crate::generated::cluster_admin_server::{ClusterAdmin, ClusterAdminServer};
    pub use crate::generated::down_item::Kind as DownItemKind;
    pub use crate::generated::federation_client::FederationClient;
    pub use crate::generated::federation_server::{Federation, FederationServer};
    pub use crate::generated::node_sync_client::NodeSyncClient;
    pub use crate::generated::node_sync_server::{NodeSync, NodeSyncServer};
    pub use crate::generated::prefecture_ledger_client::PrefectureLedgerClient;
    pub use crate::generated::prefecture_ledger_server::{
        PrefectureLedger, PrefectureLedgerServer,
    };
    pub use crate::generated::raft_service_client::RaftServiceClient;
    pub use crate::generated::raft_service_server::{RaftService, RaftServiceServer};
    pub use crate::generated::{
        Acknowledged, ChangeMembershipRequest, ClusterMember, ClusterStatus, Designation, DownItem,
        Fact, FactOutcome, FactResult, FormField, GetAcknowledgedRequest, GetAcknowledgedResponse,
        GetSyncStateRequest, InitializeRequest, MunicipalitySyncState, ProducedSequence,
        PublishDownRequest, PublishDownResponse, PullDownRequest, PullDownResponse,
        PushFactsRequest, RaftPayload, ReadConsistency, ReadLedgerRequest, ReadLedgerResponse,
        ReadSequenceRequest, ReadSequenceResponse, RemoveNodeRequest, StatusRequest, SyncState,
        UnifiedFormVersion, WriteFactsRequest, WriteFactsResponse,
    };

    // The prefecture's survey service (survey.proto).
    pub use crate::generated::prefecture_survey_client::PrefectureSurveyClient;
    pub use crate::generated::prefecture_survey_server::{
        PrefectureSurvey, PrefectureSurveyServer,
    };
    pub use crate::generated::{
        AreaDesignations, DesignationCandidate, DesignationsView, FormCoverage,
        FormVersionAdopters, GetDesignationsRequest, GetWideAreaRequest, LiaisonAgreementView,
        LiaisonMember, MunicipalityCandidates, RecordWideAreaMeetingRequest, UnpublishedAdoption,
        WideAreaMeetingView, WideAreaView,
    };
    pub use crate::generated::{
        CompletenessEntry, CompletenessReply, ExportFormat, ExportSurveyReply, ExportSurveyRequest,
        GetCompletenessRequest, GetRegionsRequest, GetTallyRequest, ItemTally, MunicipalityRowView,
        Region, RegionTally, RegionsView, ReviewSubmissionRequest, SetRegionsRequest,
        SubmissionView, SubmitSurveyRequest, TallyReply, TallySource,
    };
    pub use crate::generated::{
        CycleCount, CycleMunicipalityRow, CycleTallyLine, CycleTallyReply, ExportCycleTallyRequest,
        GetCycleTallyRequest, GroupTally, SceneActivityLine,
    };

    // The prefecture's own support of its municipalities (support.proto).
    pub use crate::generated::prefecture_support_client::PrefectureSupportClient;
    pub use crate::generated::prefecture_support_server::{
        PrefectureSupport, PrefectureSupportServer,
    };
    pub use crate::generated::{
        GetSupportRequest, MunicipalitySupport, RecordSupportActivityRequest, SupportActivityView,
        SupportCategoryCount, SupportView,
    };

    // Facts: what a municipality publishes to its prefecture (facts.proto).
    pub use crate::generated::cycle_fact;
    pub use crate::generated::fact_body::Kind as FactKind;
    pub use crate::generated::status_evidence::Kind as EvidenceKind;
    pub use crate::generated::wide_area_action::Kind as WideAreaActionKind;
    pub use crate::generated::{
        ConsultationTally, CountOf, CycleFact, DatedEvidence, EvaluationFact, FactBody, GoalFact,
        ImprovementFact, InForce, IndicatorFact, LiaisonAgreementChange, MeasurementFact,
        MeetingTally, Participation, PlannedEvidence, ResourceFact, SceneActivity, StatusEvidence,
        TrainingTally, UnifiedFormChange, WideAreaAction, WideAreaMeetingAttended,
    };

    // The municipal programme (program.proto).
    pub use crate::generated::municipal_program_client::MunicipalProgramClient;
    pub use crate::generated::municipal_program_server::{
        MunicipalProgram, MunicipalProgramServer,
    };
    pub use crate::generated::{
        AdoptToolRequest, AdoptUnifiedFormRequest, AnnualPlanView, AttendWideAreaMeetingRequest,
        CancelActivityRequest, CloseConsultationCaseRequest, ConductResourceSurveyRequest,
        ConsultationAction, ConsultationCase, ConsultationStatistics, DefineIndicatorRequest,
        EraseDataSubjectRequest, EstablishArrangementRequest, EvaluateTrainingRequest,
        FormWorkingGroupRequest, GetConsultationCaseRequest, GetStatusReply, GetStatusRequest,
        HoldMeetingRequest, HoldTrainingRequest, ImportRejectedRow, ImportResourcesReply,
        ImportResourcesRequest, IndicatorMeasurement, IndicatorView, JoinLiaisonAgreementRequest,
        ListRecordsReply, ListRecordsRequest, ListResourcesReply, ListResourcesRequest,
        OpenConsultationCaseRequest, OpenConsultationDeskRequest, PersonalDetails,
        PlannedActivityView, ProgramCount, ProgramEndRequest, ProgramItemStatus, ProgramRecord,
        ProgramReply, ProgramYearRequest, PublishResourceListRequest,
        RecordAwarenessActivityRequest, RecordConsultationActionRequest, RecordFindingRequest,
        RecordMeasurementRequest, RegisterResourceRequest, ResourceDetails, ResourceEntry,
        ReviseToolRequest, ScheduleActivityRequest,
    };
    pub use crate::generated::{
        CycleView, DecideImprovementRequest, EvaluationView, GroupStatus, RecordEvaluationRequest,
        SceneGoalView, SetSceneGoalRequest,
    };
}

/// The largest encoded `FactBody` a node puts in its outbox and a prefecture accepts. A fact is
/// a few counts, dates and short texts (the longest, a resource's, stays under 10 KiB); the bound
/// keeps one node from filling a cluster's disks or stalling its Raft log with oversize facts.
pub const MAX_FACT_BYTES: usize = 64 * 1024;

/// The most payload bytes one write of facts may carry, so one Raft entry stays small beside the
/// heartbeats and other municipalities' writes.
pub const MAX_WRITE_FACT_BYTES: usize = 4 * 1024 * 1024;

/// The encoded `FileDescriptorSet` of package `renkei.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("renkei_descriptor");
