//! The `Federation` service: municipal nodes push their facts up and pull the prefecture's items
//! down. Every call names its caller with a bearer token; the configuration says which
//! municipalities each caller may speak for and whether it may publish. Each handler identifies
//! its caller, calls one application method of [`Exchange`] (the console calls the same) and
//! answers with its reply.

use renkei_proto::v1::{self, Federation};
use tonic::{Request, Response, Status};

use super::ledger::write_response;
use super::to_status;
use crate::access::identity;
use crate::application::Exchange;

/// Serves the `Federation` API of one replica.
#[derive(Clone)]
pub struct FederationService {
    exchange: Exchange,
}

impl FederationService {
    /// Serves `exchange`.
    pub fn new(exchange: Exchange) -> Self {
        Self { exchange }
    }
}

#[tonic::async_trait]
impl Federation for FederationService {
    async fn push_facts(
        &self,
        request: Request<v1::PushFactsRequest>,
    ) -> Result<Response<v1::WriteFactsResponse>, Status> {
        let who = identity(&request)?;
        self.exchange
            .push(who, request.into_inner())
            .await
            .map(|outcome| Response::new(write_response(&outcome)))
            .map_err(to_status)
    }

    async fn get_acknowledged(
        &self,
        request: Request<v1::GetAcknowledgedRequest>,
    ) -> Result<Response<v1::GetAcknowledgedResponse>, Status> {
        let who = identity(&request)?;
        self.exchange
            .acknowledged(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn read_ledger(
        &self,
        request: Request<v1::ReadLedgerRequest>,
    ) -> Result<Response<v1::ReadLedgerResponse>, Status> {
        let who = identity(&request)?;
        self.exchange
            .read_ledger(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn publish_down(
        &self,
        request: Request<v1::PublishDownRequest>,
    ) -> Result<Response<v1::PublishDownResponse>, Status> {
        let who = identity(&request)?;
        self.exchange
            .publish(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn pull_down(
        &self,
        request: Request<v1::PullDownRequest>,
    ) -> Result<Response<v1::PullDownResponse>, Status> {
        let who = identity(&request)?;
        self.exchange
            .pull(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_sync_state(
        &self,
        request: Request<v1::GetSyncStateRequest>,
    ) -> Result<Response<v1::SyncState>, Status> {
        let who = identity(&request)?;
        self.exchange
            .sync_state(who, request.into_inner())
            .map(Response::new)
            .map_err(to_status)
    }
}
