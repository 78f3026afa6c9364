//! Applying log entries: the effects of one `apply` call and the last-applied log id are
//! written in one `WriteBatch`; the tally engine's state is updated under its lock for the whole
//! call, so readers see it after whole entries only.

use std::collections::BTreeSet;

use openraft::{Entry, EntryPayload, ErrorVerb, StoredMembership};
use rocksdb::{WriteBatch, WriteOptions};

use super::requests::{Answer, Requests};
use super::{StateMachineStore, StorageResult, put_meta, sm_err};
use crate::ledger::{self, DownRecord, FactRecord, WriteOutcome};
use crate::store::family;
use crate::store::keys::{self, CF_SM_DOWN, CF_SM_FACTS, CF_SM_LEDGER, RequestKind, sm_meta};
use crate::tally::SurveyState;
use crate::types::{Command, CommandResponse, NodeId, TypeConfig};

impl StateMachineStore {
    /// Applies `entries` in order and returns one response per entry (openraft's `apply`).
    pub(super) fn apply_entries<I>(&mut self, entries: I) -> StorageResult<Vec<CommandResponse>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>>,
    {
        let mut batch = WriteBatch::default();
        let mut requests = Requests::default();
        let survey_state = self.survey.clone();
        // Held for the whole apply: readers see the state after whole entries only. Nothing
        // below awaits, and a poisoned lock (a panic mid-apply) is taken over as is.
        let mut survey = survey_state.write().unwrap_or_else(|e| e.into_inner());
        let mut responses = Vec::new();
        let mut last = None;
        let mut membership_changed = false;
        let mut retired_changed = false;
        for entry in entries {
            last = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => CommandResponse::None,
                EntryPayload::Normal(Command::WriteFacts { request_id, facts }) => {
                    CommandResponse::Written(self.apply_write(
                        &mut batch,
                        &mut requests,
                        &mut survey,
                        entry.log_id.index,
                        request_id,
                        facts,
                    )?)
                }
                EntryPayload::Normal(Command::WriteBatch { writes }) => {
                    let mut outcomes = Vec::with_capacity(writes.len());
                    for write in writes {
                        outcomes.push(self.apply_write(
                            &mut batch,
                            &mut requests,
                            &mut survey,
                            entry.log_id.index,
                            write.request_id,
                            write.facts,
                        )?);
                    }
                    CommandResponse::WrittenBatch(outcomes)
                }
                EntryPayload::Normal(Command::PublishDown {
                    request_id,
                    published_at_ms,
                    item,
                }) => self.apply_publish(
                    &mut batch,
                    &mut requests,
                    &mut survey,
                    request_id,
                    published_at_ms,
                    item,
                )?,
                EntryPayload::Normal(
                    command @ (Command::SetRegions { .. }
                    | Command::SubmitSurvey { .. }
                    | Command::ReviewSubmission { .. }
                    | Command::RecordWideAreaMeeting { .. }),
                ) => self.apply_survey(&mut batch, &mut requests, &mut survey, command)?,
                EntryPayload::Normal(Command::RecordSupportActivity {
                    request_id,
                    activity,
                }) => self.apply_support(&mut batch, &mut requests, request_id, activity)?,
                EntryPayload::Membership(membership) => {
                    let next: BTreeSet<NodeId> = membership.nodes().map(|(id, _)| *id).collect();
                    for (id, _) in self.membership.nodes() {
                        if !next.contains(id) {
                            retired_changed |= self.retired.insert(*id);
                        }
                    }
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    membership_changed = true;
                    CommandResponse::None
                }
            };
            responses.push(response);
        }
        let Some(last) = last else {
            return Ok(responses);
        };
        self.last_applied = Some(last);
        put_meta::<sm_meta::LastApplied>(&self.db, &mut batch, &last)?;
        if membership_changed {
            put_meta::<sm_meta::Membership>(&self.db, &mut batch, &self.membership)?;
        }
        if retired_changed {
            put_meta::<sm_meta::Retired>(&self.db, &mut batch, &self.retired)?;
        }
        self.db
            .write_opt(batch, &WriteOptions::default())
            .map_err(|e| sm_err(ErrorVerb::Write, &e))?;
        Ok(responses)
    }

    /// Applies one write of facts once per request id (a retry gets the stored outcome, marked
    /// deduplicated).
    #[allow(clippy::too_many_arguments)]
    fn apply_write(
        &mut self,
        batch: &mut WriteBatch,
        requests: &mut Requests,
        survey: &mut SurveyState,
        log_index: u64,
        request_id: String,
        facts: Vec<FactRecord>,
    ) -> StorageResult<WriteOutcome> {
        if let Some(Answer::Facts(mut outcome)) =
            requests.earlier(&self.db, RequestKind::Facts, &request_id)?
        {
            outcome.deduplicated = true;
            return Ok(outcome);
        }
        let mut results = Vec::with_capacity(facts.len());
        for fact in facts {
            let acknowledged = self
                .acknowledged
                .get(&fact.municipality)
                .copied()
                .unwrap_or(0);
            let result = ledger::decide(self.prefecture, acknowledged, &fact);
            if result.outcome == ledger::FactOutcome::Applied {
                self.acknowledged
                    .insert(fact.municipality, result.acknowledged);
                batch.put_cf(
                    family(&self.db, CF_SM_LEDGER),
                    keys::ledger_key(fact.municipality),
                    result.acknowledged.to_be_bytes(),
                );
                batch.put_cf(
                    family(&self.db, CF_SM_FACTS),
                    keys::fact_key(fact.municipality, fact.sequence),
                    &fact.payload,
                );
                survey.take_fact(fact.municipality, &fact.payload);
            }
            results.push(result);
        }
        let outcome = WriteOutcome {
            results,
            log_index,
            deduplicated: false,
        };
        requests.record(&self.db, batch, request_id, Answer::Facts(outcome.clone()))?;
        Ok(outcome)
    }

    /// Publishes an item down once per request id (a retry gets the cursor it got first).
    fn apply_publish(
        &mut self,
        batch: &mut WriteBatch,
        requests: &mut Requests,
        survey: &mut SurveyState,
        request_id: String,
        published_at_ms: i64,
        item: Vec<u8>,
    ) -> StorageResult<CommandResponse> {
        if let Some(Answer::Published(cursor)) =
            requests.earlier(&self.db, RequestKind::PublishDown, &request_id)?
        {
            return Ok(CommandResponse::Published {
                cursor,
                deduplicated: true,
            });
        }
        self.down_cursor += 1;
        let record = DownRecord {
            cursor: self.down_cursor,
            request_id: request_id.clone(),
            published_at_ms,
            item,
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| sm_err(ErrorVerb::Write, &e))?;
        batch.put_cf(
            family(&self.db, CF_SM_DOWN),
            keys::down_item_key(record.cursor),
            bytes,
        );
        requests.record(
            &self.db,
            batch,
            request_id,
            Answer::Published(record.cursor),
        )?;
        if let Ok(item) =
            <renkei_proto::v1::DownItem as prost::Message>::decode(record.item.as_slice())
        {
            survey.take_down_item(record.cursor, &item);
        }
        Ok(CommandResponse::Published {
            cursor: record.cursor,
            deduplicated: false,
        })
    }
}
