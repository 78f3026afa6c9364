//! The `NodeSync` service: per hosted municipality, how its facts are getting to the prefecture.

use chrono::Utc;
use prost::Message;
use renkei_proto::MunicipalityCode;
use renkei_proto::convert::{timestamp_to_utc, utc_to_timestamp};
use renkei_proto::v1::{self, NodeSync};
use tonic::{Request, Response, Status};

use super::status_from_store;
use crate::store::StoreError;
use crate::sync::{Outbox, SyncBoard};

/// Serves the node's sync state.
#[derive(Clone)]
pub struct NodeSyncService {
    board: SyncBoard,
    outbox: Outbox,
    tenants: Vec<MunicipalityCode>,
}

impl NodeSyncService {
    pub fn new(board: SyncBoard, outbox: Outbox, tenants: Vec<MunicipalityCode>) -> Self {
        Self {
            board,
            outbox,
            tenants,
        }
    }

    fn state(&self, m: MunicipalityCode) -> Result<v1::MunicipalitySyncState, Status> {
        let s = self.board.get(m);
        let acknowledged = s.acknowledged.unwrap_or(0);
        let produced = s.produced;
        let lag_facts = produced.saturating_sub(acknowledged);
        // The age of the oldest fact the prefecture has not acknowledged.
        let lag_seconds = if lag_facts == 0 {
            0.0
        } else {
            let oldest = self
                .outbox
                .read(m, acknowledged + 1, 1)
                .map_err(super::status_from_store)?;
            oldest
                .first()
                .and_then(|f| {
                    v1::FactBody::decode(f.payload.as_slice())
                        .ok()
                        .and_then(|b| b.recorded_at)
                        .and_then(|t| timestamp_to_utc(&t))
                        .or(Some(f.recorded_at))
                })
                .map_or(0.0, |t| (Utc::now() - t).as_seconds_f64().max(0.0))
        };
        Ok(v1::MunicipalitySyncState {
            municipality: m.to_string(),
            produced,
            acknowledged,
            lag_facts,
            lag_seconds,
            last_success: s.last_success.map(utc_to_timestamp),
            last_error: s
                .last_error
                .as_ref()
                .map(|e| e.0.clone())
                .unwrap_or_default(),
            last_error_at: s.last_error.map(|e| utc_to_timestamp(e.1)),
            down_cursor: s.down_cursor,
        })
    }
}

impl NodeSyncService {
    /// Sets the sync gauges of every hosted municipality (see [`crate::metrics`]).
    pub fn export_gauges(&self) {
        for m in &self.tenants {
            let Ok(s) = self.state(*m) else {
                continue;
            };
            let code = s.municipality.clone();
            metrics::gauge!("renkei_sync_produced", "municipality" => code.clone())
                .set(s.produced as f64);
            metrics::gauge!("renkei_sync_acknowledged", "municipality" => code.clone())
                .set(s.acknowledged as f64);
            metrics::gauge!("renkei_sync_lag_facts", "municipality" => code.clone())
                .set(s.lag_facts as f64);
            metrics::gauge!("renkei_sync_lag_seconds", "municipality" => code.clone())
                .set(s.lag_seconds);
            metrics::gauge!(
                "renkei_sync_last_success_timestamp_seconds",
                "municipality" => code.clone()
            )
            .set(s.last_success.map_or(0.0, |t| t.seconds as f64));
            metrics::gauge!("renkei_sync_failing", "municipality" => code)
                .set(if s.last_error.is_empty() { 0.0 } else { 1.0 });
        }
    }
}

#[tonic::async_trait]
impl NodeSync for NodeSyncService {
    async fn get_sync_state(
        &self,
        request: Request<v1::GetSyncStateRequest>,
    ) -> Result<Response<v1::SyncState>, Status> {
        let request = request.into_inner();
        let mut codes = Vec::new();
        for (i, text) in request.municipalities.iter().enumerate() {
            let m: MunicipalityCode = text.parse().map_err(|e: renkei_proto::IdError| {
                status_from_store(StoreError::invalid(
                    format!("municipalities[{i}]"),
                    text,
                    e.to_string(),
                ))
            })?;
            if !self.tenants.contains(&m) {
                return Err(status_from_store(StoreError::UnknownTenant(m)));
            }
            codes.push(m);
        }
        if codes.is_empty() {
            codes = self.tenants.clone();
        }
        let municipalities = codes
            .into_iter()
            .map(|m| self.state(m))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(v1::SyncState {
            municipalities,
            peer: self.board.peer(),
        }))
    }
}
