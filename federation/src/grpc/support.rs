//! The `PrefectureSupport` service: the prefecture's support activities for its
//! municipalities. Each handler identifies its caller, calls one application method of
//! [`Support`] (the console calls the same) and answers with its reply.

use renkei_proto::v1::{self, PrefectureSupport};
use tonic::{Request, Response, Status};

use super::to_status;
use crate::access::identity;
use crate::application::Support;

/// Serves the support activities of one prefecture.
#[derive(Clone)]
pub struct SupportService {
    support: Support,
}

impl SupportService {
    pub fn new(support: Support) -> Self {
        Self { support }
    }
}

#[tonic::async_trait]
impl PrefectureSupport for SupportService {
    async fn record_support_activity(
        &self,
        request: Request<v1::RecordSupportActivityRequest>,
    ) -> Result<Response<v1::SupportActivityView>, Status> {
        let who = identity(&request)?;
        self.support
            .record(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_support(
        &self,
        request: Request<v1::GetSupportRequest>,
    ) -> Result<Response<v1::SupportView>, Status> {
        let who = identity(&request)?;
        self.support
            .year(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }
}
