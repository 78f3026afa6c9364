//! The `Federation` service: municipal nodes push their facts up and pull the prefecture's items
//! down. Every call names its caller with a bearer token; the configuration says which
//! municipalities each caller may speak for and whether it may publish. Facts take the same
//! path through Raft as `PrefectureLedger.WriteFacts`, so `(municipality, sequence)` is applied
//! exactly once and in order whichever service carried it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use prost::Message;
use renkei_proto::convert::utc_to_timestamp;
use renkei_proto::v1::{self, Federation};
use renkei_proto::{MunicipalityCode, PrefectureCode, official};
use tonic::{Request, Response, Status};

use super::{check_request_id, to_status};
use crate::access::{Identity, identity};
use crate::config::Role;
use crate::error::FederationError;
use crate::facts::Facts;
use crate::store::LedgerReader;
use crate::sync_monitor::SyncMonitor;
use crate::types::{Command, CommandResponse, Raft};

/// The most facts one ledger read returns.
const MAX_LEDGER_READ: u32 = 10_000;
/// The most items one pull returns.
const MAX_PULL: u32 = 1_000;

/// Serves the `Federation` API of one replica.
#[derive(Clone)]
pub struct FederationService {
    facts: Facts,
    raft: Raft,
    reader: LedgerReader,
    prefecture: PrefectureCode,
    monitor: SyncMonitor,
    advertise: String,
}

impl FederationService {
    pub fn new(
        facts: Facts,
        raft: Raft,
        reader: LedgerReader,
        prefecture: PrefectureCode,
        monitor: SyncMonitor,
        advertise: String,
    ) -> Self {
        Self {
            facts,
            raft,
            reader,
            prefecture,
            monitor,
            advertise,
        }
    }

    /// The municipalities a read is about: those named (each one the caller speaks for, unless
    /// its role is viewer or above), or else all the caller speaks for.
    fn scope(
        &self,
        who: &Identity,
        named: &[String],
    ) -> Result<Vec<MunicipalityCode>, FederationError> {
        if named.is_empty() {
            return Ok(match who.caller() {
                Some(c) => c.municipalities.clone(),
                None => official::municipalities_of(self.prefecture)
                    .map(|m| m.code)
                    .collect(),
            });
        }
        named
            .iter()
            .map(|text| {
                let m = self.facts.municipality(text)?;
                if who.check_speaks_for(m).is_err() {
                    who.check_role(Role::Viewer, &format!("read the sync of municipality {m}"))?;
                }
                Ok(m)
            })
            .collect()
    }

    async fn push(
        &self,
        who: Identity,
        request: v1::PushFactsRequest,
    ) -> Result<v1::WriteFactsResponse, FederationError> {
        for (i, fact) in request.facts.iter().enumerate() {
            let m = self.facts.municipality(&fact.municipality)?;
            who.check_writes_facts_for(m)?;
            // Refused before decoding, as `records` does for `WriteFacts`.
            super::ledger::check_fact_size(i, &fact.payload)?;
            let body = v1::FactBody::decode(fact.payload.as_slice()).map_err(|e| {
                FederationError::InvalidArgument {
                    field: "payload",
                    reason: format!("facts[{i}].payload is not a FactBody: {e}"),
                }
            })?;
            if body.kind.is_none() {
                return Err(FederationError::InvalidArgument {
                    field: "payload",
                    reason: format!("facts[{i}].payload has no kind"),
                });
            }
        }
        let mut produced: HashMap<MunicipalityCode, u64> = HashMap::new();
        for p in &request.produced {
            let m = self.facts.municipality(&p.municipality)?;
            who.check_writes_facts_for(m)?;
            produced.insert(m, p.produced);
        }
        let records = super::ledger::records(&self.facts, &request.request_id, request.facts)?;
        let municipalities: Vec<MunicipalityCode> = {
            let mut v: Vec<_> = records.iter().map(|r| r.municipality).collect();
            v.dedup();
            v
        };
        match self.facts.commit(request.request_id, records).await {
            Ok(outcome) => {
                let response = super::ledger::write_response(&outcome);
                let now = Utc::now();
                let mut acked: HashMap<MunicipalityCode, u64> = HashMap::new();
                for m in &municipalities {
                    acked.insert(*m, self.reader.acknowledged(*m)?);
                }
                for (m, a) in acked {
                    self.monitor
                        .success(m, produced.get(&m).copied().unwrap_or(a), a, now);
                }
                Ok(response)
            }
            Err(e) => {
                if !matches!(e, FederationError::NotLeader { .. }) {
                    let now = Utc::now();
                    for m in &municipalities {
                        self.monitor.error(*m, &e.to_string(), now);
                    }
                }
                Err(e)
            }
        }
    }

    async fn acknowledged(
        &self,
        who: Identity,
        request: v1::GetAcknowledgedRequest,
    ) -> Result<v1::GetAcknowledgedResponse, FederationError> {
        let scope = self.scope(&who, &request.municipalities)?;
        super::ledger::ensure(&self.facts, request.consistency).await?;
        let acknowledged = scope
            .into_iter()
            .map(|m| {
                Ok(v1::Acknowledged {
                    municipality: m.to_string(),
                    acknowledged: self.reader.acknowledged(m)?,
                })
            })
            .collect::<Result<_, FederationError>>()?;
        Ok(v1::GetAcknowledgedResponse { acknowledged })
    }

    async fn read_ledger(
        &self,
        who: Identity,
        request: v1::ReadLedgerRequest,
    ) -> Result<v1::ReadLedgerResponse, FederationError> {
        let m = self.facts.municipality(&request.municipality)?;
        who.check_speaks_for(m)?;
        let limit = match request.limit {
            0 => 1_000,
            n if n <= MAX_LEDGER_READ => n,
            n => {
                return Err(FederationError::InvalidArgument {
                    field: "limit",
                    reason: format!("{n}; must be at most {MAX_LEDGER_READ}"),
                });
            }
        };
        super::ledger::ensure(&self.facts, request.consistency).await?;
        let facts = self
            .reader
            .facts_from(m, request.from_sequence.max(1), limit as usize)?
            .into_iter()
            .map(|r| v1::Fact {
                municipality: r.municipality.to_string(),
                sequence: r.sequence,
                payload: r.payload,
            })
            .collect();
        Ok(v1::ReadLedgerResponse {
            facts,
            acknowledged: self.reader.acknowledged(m)?,
        })
    }

    pub(crate) async fn publish(
        &self,
        who: Identity,
        request: v1::PublishDownRequest,
    ) -> Result<v1::PublishDownResponse, FederationError> {
        who.check_role(Role::Operator, "publish items down")?;
        check_request_id(&request.request_id)?;
        let Some(mut item) = request.item else {
            return Err(FederationError::InvalidArgument {
                field: "item",
                reason: "missing".to_owned(),
            });
        };
        check_down_item(&item)?;
        for text in &item.municipalities {
            self.facts.municipality(text)?;
        }
        item.cursor = 0;
        item.published_at = None;
        let written = self
            .raft
            .client_write(Command::PublishDown {
                request_id: request.request_id,
                published_at_ms: Utc::now().timestamp_millis(),
                item: item.encode_to_vec(),
            })
            .await?;
        match written.data {
            CommandResponse::Published { cursor, .. } => Ok(v1::PublishDownResponse { cursor }),
            _ => Err(FederationError::FailedPrecondition(
                "the state machine gave no cursor for a publication".to_owned(),
            )),
        }
    }

    async fn pull(
        &self,
        who: Identity,
        request: v1::PullDownRequest,
    ) -> Result<v1::PullDownResponse, FederationError> {
        let m = self.facts.municipality(&request.municipality)?;
        who.check_speaks_for(m)?;
        self.monitor.contact(m, Utc::now());
        let limit = match request.limit {
            0 => 100,
            n => n.min(MAX_PULL),
        };
        let (records, _) = self.reader.down_after(request.after, limit as usize)?;
        // Items for other municipalities are skipped but examined: the next pull starts after.
        let examined = records.last().map_or(request.after, |r| r.cursor);
        let code = m.to_string();
        let mut items = Vec::new();
        for record in records {
            let mut item = v1::DownItem::decode(record.item.as_slice()).map_err(|e| {
                FederationError::FailedPrecondition(format!(
                    "published item {} cannot be decoded: {e}",
                    record.cursor
                ))
            })?;
            if !item.municipalities.is_empty() && !item.municipalities.contains(&code) {
                continue;
            }
            item.cursor = record.cursor;
            item.published_at =
                DateTime::from_timestamp_millis(record.published_at_ms).map(utc_to_timestamp);
            items.push(item);
        }
        Ok(v1::PullDownResponse {
            items,
            last_cursor: examined,
        })
    }

    pub(crate) fn sync_state(
        &self,
        who: Identity,
        request: v1::GetSyncStateRequest,
    ) -> Result<v1::SyncState, FederationError> {
        let now = Utc::now();
        let municipalities = self
            .scope(&who, &request.municipalities)?
            .into_iter()
            .map(|m| Ok(self.monitor.state(m, self.reader.acknowledged(m)?, now)))
            .collect::<Result<_, FederationError>>()?;
        Ok(v1::SyncState {
            municipalities,
            peer: self.advertise.clone(),
        })
    }
}

fn check_down_item(item: &v1::DownItem) -> Result<(), FederationError> {
    let invalid =
        |field: &'static str, reason: String| FederationError::InvalidArgument { field, reason };
    match &item.kind {
        None => Err(invalid(
            "item.kind",
            "missing: a form or a designation".into(),
        )),
        Some(v1::DownItemKind::Form(f)) => {
            if f.form_id.trim().is_empty() || f.name.trim().is_empty() || f.version.is_empty() {
                return Err(invalid(
                    "item.form",
                    format!(
                        "form_id {:?}, name {:?} and version {:?} must all be given",
                        f.form_id, f.name, f.version
                    ),
                ));
            }
            if chrono::NaiveDate::parse_from_str(&f.effective_from, "%Y-%m-%d").is_err() {
                return Err(invalid(
                    "item.form.effective_from",
                    format!("{:?} is not a date YYYY-MM-DD", f.effective_from),
                ));
            }
            for (i, field) in f.fields.iter().enumerate() {
                if !matches!(field.r#type.as_str(), "text" | "date" | "choice" | "number") {
                    return Err(invalid(
                        "item.form.fields",
                        format!(
                            "fields[{i}].type {:?} must be text, date, choice or number",
                            field.r#type
                        ),
                    ));
                }
                if field.r#type == "choice" && field.choices.is_empty() {
                    return Err(invalid(
                        "item.form.fields",
                        format!("fields[{i}] ({:?}) is a choice without choices", field.name),
                    ));
                }
            }
            Ok(())
        }
        Some(v1::DownItemKind::Designation(d)) => {
            if !matches!(
                d.role.as_str(),
                "active_role_medical_institution" | "liaison_base"
            ) {
                return Err(invalid(
                    "item.designation.role",
                    format!(
                        "{:?} must be active_role_medical_institution or liaison_base",
                        d.role
                    ),
                ));
            }
            if d.institution_name.trim().is_empty() || d.area.trim().is_empty() {
                return Err(invalid(
                    "item.designation",
                    "area and institution_name must be given".into(),
                ));
            }
            Ok(())
        }
    }
}

#[tonic::async_trait]
impl Federation for FederationService {
    async fn push_facts(
        &self,
        request: Request<v1::PushFactsRequest>,
    ) -> Result<Response<v1::WriteFactsResponse>, Status> {
        let who = identity(&request)?;
        self.push(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_acknowledged(
        &self,
        request: Request<v1::GetAcknowledgedRequest>,
    ) -> Result<Response<v1::GetAcknowledgedResponse>, Status> {
        let who = identity(&request)?;
        self.acknowledged(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn read_ledger(
        &self,
        request: Request<v1::ReadLedgerRequest>,
    ) -> Result<Response<v1::ReadLedgerResponse>, Status> {
        let who = identity(&request)?;
        FederationService::read_ledger(self, who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn publish_down(
        &self,
        request: Request<v1::PublishDownRequest>,
    ) -> Result<Response<v1::PublishDownResponse>, Status> {
        let who = identity(&request)?;
        self.publish(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn pull_down(
        &self,
        request: Request<v1::PullDownRequest>,
    ) -> Result<Response<v1::PullDownResponse>, Status> {
        let who = identity(&request)?;
        self.pull(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_sync_state(
        &self,
        request: Request<v1::GetSyncStateRequest>,
    ) -> Result<Response<v1::SyncState>, Status> {
        let who = identity(&request)?;
        self.sync_state(who, request.into_inner())
            .map(Response::new)
            .map_err(to_status)
    }
}
