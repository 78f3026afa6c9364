//! The `PrefectureSurvey` service: tallies and exports, completeness, survey submissions and
//! reviews, regions, the (ク) items, and the PDCA cycle's tally and exports. Each handler identifies its caller, calls one
//! application method of [`Surveys`] (the console calls the same) and answers with its reply.

use renkei_proto::v1::{self, PrefectureSurvey};
use tonic::{Request, Response, Status};

use super::to_status;
use crate::access::identity;
use crate::application::Surveys;

/// Serves the survey of one prefecture.
#[derive(Clone)]
pub struct SurveyService {
    surveys: Surveys,
}

impl SurveyService {
    /// Serves `surveys` (linearizable reads unless a request asks for a local one).
    pub fn new(surveys: Surveys) -> Self {
        Self { surveys }
    }
}

#[tonic::async_trait]
impl PrefectureSurvey for SurveyService {
    async fn record_wide_area_meeting(
        &self,
        request: Request<v1::RecordWideAreaMeetingRequest>,
    ) -> Result<Response<v1::WideAreaMeetingView>, Status> {
        let who = identity(&request)?;
        self.surveys
            .record_meeting(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_wide_area(
        &self,
        request: Request<v1::GetWideAreaRequest>,
    ) -> Result<Response<v1::WideAreaView>, Status> {
        let who = identity(&request)?;
        self.surveys
            .wide_area(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_designations(
        &self,
        request: Request<v1::GetDesignationsRequest>,
    ) -> Result<Response<v1::DesignationsView>, Status> {
        let who = identity(&request)?;
        self.surveys
            .designations(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_tally(
        &self,
        request: Request<v1::GetTallyRequest>,
    ) -> Result<Response<v1::TallyReply>, Status> {
        let who = identity(&request)?;
        let started = std::time::Instant::now();
        let reply = self.surveys.tally(who, request.into_inner()).await;
        metrics::histogram!("renkei_tally_query_seconds").record(started.elapsed().as_secs_f64());
        reply.map(Response::new).map_err(to_status)
    }

    async fn export_survey(
        &self,
        request: Request<v1::ExportSurveyRequest>,
    ) -> Result<Response<v1::ExportSurveyReply>, Status> {
        let who = identity(&request)?;
        self.surveys
            .export(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_cycle_tally(
        &self,
        request: Request<v1::GetCycleTallyRequest>,
    ) -> Result<Response<v1::CycleTallyReply>, Status> {
        let who = identity(&request)?;
        self.surveys
            .cycle_tally(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn export_cycle_tally(
        &self,
        request: Request<v1::ExportCycleTallyRequest>,
    ) -> Result<Response<v1::ExportSurveyReply>, Status> {
        let who = identity(&request)?;
        self.surveys
            .export_cycle(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_completeness(
        &self,
        request: Request<v1::GetCompletenessRequest>,
    ) -> Result<Response<v1::CompletenessReply>, Status> {
        let who = identity(&request)?;
        self.surveys
            .completeness(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn submit_survey(
        &self,
        request: Request<v1::SubmitSurveyRequest>,
    ) -> Result<Response<v1::SubmissionView>, Status> {
        let who = identity(&request)?;
        self.surveys
            .submit(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn review_submission(
        &self,
        request: Request<v1::ReviewSubmissionRequest>,
    ) -> Result<Response<v1::SubmissionView>, Status> {
        let who = identity(&request)?;
        self.surveys
            .review(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn set_regions(
        &self,
        request: Request<v1::SetRegionsRequest>,
    ) -> Result<Response<v1::RegionsView>, Status> {
        let who = identity(&request)?;
        self.surveys
            .set_regions(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_regions(
        &self,
        request: Request<v1::GetRegionsRequest>,
    ) -> Result<Response<v1::RegionsView>, Status> {
        identity(&request)?;
        self.surveys
            .regions(request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }
}
