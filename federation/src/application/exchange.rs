//! The exchange with municipal nodes (`Federation`, the console's クラスタ page and
//! designations): their facts up, the prefecture's items (unified forms, designations) down,
//! and what this replica has seen of each municipality's sync. Facts take the same path through
//! Raft as `PrefectureLedger.WriteFacts` ([`Facts`]), so `(municipality, sequence)` is applied
//! exactly once and in order whichever service carried it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;
use renkei_proto::convert::utc_to_timestamp;
use renkei_proto::v1;
use renkei_proto::{MunicipalityCode, official};

use super::invalid;
use crate::access::Identity;
use crate::config::Role;
use crate::error::FederationError;
use crate::facts::{Facts, check_fact_size, check_request_id};
use crate::ledger::WriteOutcome;
use crate::sync_monitor::SyncMonitor;
use crate::types::{Command, CommandResponse};

/// The most facts one ledger read returns.
const MAX_LEDGER_READ: u32 = 10_000;
/// The most items one pull returns.
const MAX_PULL: u32 = 1_000;

/// The exchange of one replica with the municipal nodes; cheap to clone.
#[derive(Clone)]
pub struct Exchange {
    facts: Facts,
    monitor: SyncMonitor,
    /// The address this replica advertises (named in the sync state it reports).
    advertise: String,
}

impl Exchange {
    /// The exchange through `facts`, keeping what it sees of each municipality's sync in
    /// `monitor`.
    pub fn new(facts: Facts, monitor: SyncMonitor, advertise: String) -> Self {
        Self {
            facts,
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
                None => official::municipalities_of(self.facts.prefecture())
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

    /// Commits a node's facts (`PushFacts`) and notes the sync of their municipalities.
    pub async fn push(
        &self,
        who: Identity,
        request: v1::PushFactsRequest,
    ) -> Result<WriteOutcome, FederationError> {
        for (i, fact) in request.facts.iter().enumerate() {
            let m = self.facts.municipality(&fact.municipality)?;
            who.check_writes_facts_for(m)?;
            // Refused before decoding, as `Facts::records` does for `WriteFacts`.
            check_fact_size(i, &fact.payload)?;
            let body = v1::FactBody::decode(fact.payload.as_slice()).map_err(|e| {
                invalid(
                    "payload",
                    format!("facts[{i}].payload is not a FactBody: {e}"),
                )
            })?;
            if body.kind.is_none() {
                return Err(invalid(
                    "payload",
                    format!("facts[{i}].payload has no kind"),
                ));
            }
        }
        let mut produced: HashMap<MunicipalityCode, u64> = HashMap::new();
        for p in &request.produced {
            let m = self.facts.municipality(&p.municipality)?;
            who.check_writes_facts_for(m)?;
            produced.insert(m, p.produced);
        }
        let records = self.facts.records(&request.request_id, request.facts)?;
        let municipalities: Vec<MunicipalityCode> = {
            let mut v: Vec<_> = records.iter().map(|r| r.municipality).collect();
            v.dedup();
            v
        };
        match self.facts.commit(request.request_id, records).await {
            Ok(outcome) => {
                let now = Utc::now();
                let mut acked: HashMap<MunicipalityCode, u64> = HashMap::new();
                for m in &municipalities {
                    acked.insert(*m, self.facts.acknowledged(*m)?);
                }
                for (m, a) in acked {
                    self.monitor
                        .success(m, produced.get(&m).copied().unwrap_or(a), a, now);
                }
                Ok(outcome)
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

    /// The acknowledged sequences of the municipalities asked for (`GetAcknowledged`).
    pub async fn acknowledged(
        &self,
        who: Identity,
        request: v1::GetAcknowledgedRequest,
    ) -> Result<v1::GetAcknowledgedResponse, FederationError> {
        let scope = self.scope(&who, &request.municipalities)?;
        self.facts.ensure(request.consistency).await?;
        let acknowledged = scope
            .into_iter()
            .map(|m| {
                Ok(v1::Acknowledged {
                    municipality: m.to_string(),
                    acknowledged: self.facts.acknowledged(m)?,
                })
            })
            .collect::<Result<_, FederationError>>()?;
        Ok(v1::GetAcknowledgedResponse { acknowledged })
    }

    /// A municipality's facts from a sequence on (`ReadLedger`).
    pub async fn read_ledger(
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
                return Err(invalid(
                    "limit",
                    format!("{n}; must be at most {MAX_LEDGER_READ}"),
                ));
            }
        };
        self.facts.ensure(request.consistency).await?;
        let facts = self
            .facts
            .reader()
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
            acknowledged: self.facts.acknowledged(m)?,
        })
    }

    /// Publishes an item down to the municipalities (`PublishDown`, the console's designations).
    pub async fn publish(
        &self,
        who: Identity,
        request: v1::PublishDownRequest,
    ) -> Result<v1::PublishDownResponse, FederationError> {
        who.check_role(Role::Operator, "publish items down")?;
        check_request_id(&request.request_id)?;
        let Some(mut item) = request.item else {
            return Err(invalid("item", "missing"));
        };
        check_down_item(&item)?;
        for text in &item.municipalities {
            self.facts.municipality(text)?;
        }
        item.cursor = 0;
        item.published_at = None;
        let written = self
            .facts
            .propose(Command::PublishDown {
                request_id: request.request_id,
                published_at_ms: Utc::now().timestamp_millis(),
                item: item.encode_to_vec(),
            })
            .await?;
        match written {
            CommandResponse::Published { cursor, .. } => Ok(v1::PublishDownResponse { cursor }),
            _ => Err(FederationError::FailedPrecondition(
                "the state machine gave no cursor for a publication".to_owned(),
            )),
        }
    }

    /// The items published for a municipality after a cursor (`PullDown`); notes the contact.
    pub async fn pull(
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
        let (records, _) = self
            .facts
            .reader()
            .down_after(request.after, limit as usize)?;
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

    /// What this replica has seen of the sync of the municipalities asked for
    /// (`GetSyncState`, the console's クラスタ).
    pub fn sync_state(
        &self,
        who: Identity,
        request: v1::GetSyncStateRequest,
    ) -> Result<v1::SyncState, FederationError> {
        let now = Utc::now();
        let municipalities = self
            .scope(&who, &request.municipalities)?
            .into_iter()
            .map(|m| Ok(self.monitor.state(m, self.facts.acknowledged(m)?, now)))
            .collect::<Result<_, FederationError>>()?;
        Ok(v1::SyncState {
            municipalities,
            peer: self.advertise.clone(),
        })
    }
}

/// Checks an item published down: a form with its id, name, version, effective date and typed
/// fields, or a designation of a known role with its area and institution.
fn check_down_item(item: &v1::DownItem) -> Result<(), FederationError> {
    match &item.kind {
        None => Err(invalid("item.kind", "missing: a form or a designation")),
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
            if NaiveDate::parse_from_str(&f.effective_from, "%Y-%m-%d").is_err() {
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
                    "area and institution_name must be given",
                ));
            }
            Ok(())
        }
    }
}
