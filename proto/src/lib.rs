//! The renkei wire contract and the validated identifiers every crate shares.
//!
//! Layout:
//! - [`v1`]: the generated protobuf messages, clients and servers of package `renkei.v1`
//!   (generated code lives in a private module and is re-exported here deliberately);
//! - [`MunicipalityCode`], [`PrefectureCode`], [`FiscalYear`]: identifiers that can only be built
//!   through validation;
//! - [`official`]: the official list of the 1,741 municipalities and 47 prefectures;
//! - [`convert`]: conversions between wire and domain types;
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors, for gRPC server reflection.
//!
//! This crate does no I/O.

#[doc(hidden)]
pub mod codec;
mod error;
mod fiscal_year;
mod municipality;
mod prefecture;

pub mod convert;
pub mod official;

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

    // The prefecture tier (renkei-federation): client, admin and internal Raft services.
    #[cfg(feature = "federation")]
    pub use crate::generated::cluster_admin_client::ClusterAdminClient;
    #[cfg(feature = "federation")]
    pub use crate::generated::cluster_admin_server::{ClusterAdmin, ClusterAdminServer};
    #[cfg(feature = "federation")]
    pub use crate::generated::prefecture_ledger_client::PrefectureLedgerClient;
    #[cfg(feature = "federation")]
    pub use crate::generated::prefecture_ledger_server::{
        PrefectureLedger, PrefectureLedgerServer,
    };
    #[cfg(feature = "federation")]
    pub use crate::generated::raft_service_client::RaftServiceClient;
    #[cfg(feature = "federation")]
    pub use crate::generated::raft_service_server::{RaftService, RaftServiceServer};
    #[cfg(feature = "federation")]
    pub use crate::generated::{
        ChangeMembershipRequest, ClusterMember, ClusterStatus, Fact, FactOutcome, FactResult,
        InitializeRequest, RaftPayload, ReadConsistency, ReadSequenceRequest, ReadSequenceResponse,
        RemoveNodeRequest, StatusRequest, WriteFactsRequest, WriteFactsResponse,
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
}

/// The encoded `FileDescriptorSet` of package `renkei.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("renkei_descriptor");
