//! The tally engine's records kept by the state machine, in [`CF_SM_SURVEY`]: region sets,
//! survey submissions and their reviews, wide-area meetings. Applying a survey command updates
//! the in-memory [`SurveyState`] and writes the record it changed; at open and at snapshot
//! install the state is rebuilt from the facts, the items published down and these records.

use std::sync::{Arc, RwLock};

use openraft::ErrorVerb;
use renkei_proto::MunicipalityCode;
use rocksdb::{DB, IteratorMode, WriteBatch};

use super::requests::{Answer, Requests};
use super::{Corrupt, StateMachineStore, StorageResult, sm_err};
use crate::ledger::DownRecord;
use crate::regions::RegionSet;
use crate::store::family;
use crate::store::keys::{self, CF_SM_DOWN, CF_SM_FACTS, CF_SM_SURVEY, RequestKind};
use crate::tally::{Submission, SurveyState};
use crate::types::{Command, CommandResponse};

/// The tally engine's state, shared between the state machine (which folds applied entries into
/// it) and the survey service (which reads it).
pub type SharedSurvey = Arc<RwLock<SurveyState>>;

/// Rebuilds the tally engine's state from the facts and survey records in the database (or in
/// a snapshot view of it).
pub(super) fn rebuild_survey<'a>(
    facts: impl Iterator<Item = (MunicipalityCode, &'a [u8])>,
    records: impl Iterator<Item = (String, String)>,
    down: impl Iterator<Item = &'a DownRecord>,
) -> StorageResult<SurveyState> {
    let mut state = SurveyState::default();
    for (m, payload) in facts {
        state.take_fact(m, payload);
    }
    for record in down {
        if let Ok(item) =
            <renkei_proto::v1::DownItem as prost::Message>::decode(record.item.as_slice())
        {
            state.take_down_item(record.cursor, &item);
        }
    }
    for (key, value) in records {
        if key.starts_with(keys::survey::REGIONS) {
            let set: RegionSet =
                serde_json::from_str(&value).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            state.set_regions(set);
        } else if key.starts_with(keys::survey::MEETINGS) {
            let meeting: crate::wide_area::WideAreaMeeting =
                serde_json::from_str(&value).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            state.take_meeting(meeting);
        } else if key.starts_with(keys::survey::SUBMISSIONS) {
            let history: Vec<Submission> =
                serde_json::from_str(&value).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
            state.restore_submissions(history);
        }
    }
    Ok(state)
}

/// Loads the tally engine's state from the database (at open).
pub(super) fn load_survey(db: &DB) -> StorageResult<SurveyState> {
    let mut facts = Vec::new();
    for item in db.iterator_cf(family(db, CF_SM_FACTS), IteratorMode::Start) {
        let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
        let code = keys::key_municipality(&key)
            .ok_or_else(|| sm_err(ErrorVerb::Read, &Corrupt { what: "fact key" }))?;
        facts.push((code, value));
    }
    let mut records = Vec::new();
    for item in db.iterator_cf(family(db, CF_SM_SURVEY), IteratorMode::Start) {
        let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
        records.push((
            String::from_utf8_lossy(&key).into_owned(),
            String::from_utf8_lossy(&value).into_owned(),
        ));
    }
    let mut down = Vec::new();
    for item in db.iterator_cf(family(db, CF_SM_DOWN), IteratorMode::Start) {
        let (key, value) = item.map_err(|e| sm_err(ErrorVerb::Read, &e))?;
        if keys::is_down_item(&key) {
            down.push(
                serde_json::from_slice::<DownRecord>(&value)
                    .map_err(|e| sm_err(ErrorVerb::Read, &e))?,
            );
        }
    }
    rebuild_survey(
        facts.iter().map(|(m, v)| (*m, v.as_ref())),
        records.into_iter(),
        down.iter(),
    )
}

impl StateMachineStore {
    /// Applies a survey command once per request id (a retry gets the stored response).
    pub(super) fn apply_survey(
        &mut self,
        batch: &mut WriteBatch,
        requests: &mut Requests,
        survey: &mut SurveyState,
        command: Command,
    ) -> StorageResult<CommandResponse> {
        let request_id = match &command {
            Command::SetRegions { request_id, .. }
            | Command::SubmitSurvey { request_id, .. }
            | Command::ReviewSubmission { request_id, .. }
            | Command::RecordWideAreaMeeting { request_id, .. } => request_id.clone(),
            _ => return Ok(CommandResponse::None),
        };
        if let Some(Answer::Survey(response)) =
            requests.earlier(&self.db, RequestKind::Survey, &request_id)?
        {
            return Ok(response);
        }
        let cf = family(&self.db, CF_SM_SURVEY);
        let json = |v: &dyn erased::Json| v.to_json();
        let response = match command {
            Command::RecordWideAreaMeeting { meeting, .. } => {
                batch.put_cf(cf, keys::survey::meeting(&meeting.id), json(&meeting)?);
                survey.take_meeting(meeting.clone());
                CommandResponse::Meeting(meeting)
            }
            Command::SetRegions { set, .. } => {
                batch.put_cf(cf, keys::survey::regions(&set), json(&set)?);
                survey.set_regions(set.clone());
                CommandResponse::Regions(Ok(set))
            }
            Command::SubmitSurvey {
                municipality,
                fiscal_year,
                survey_date,
                statuses,
                submitted_at_ms,
                ..
            } => {
                let s = survey.submit(
                    municipality,
                    fiscal_year,
                    survey_date,
                    statuses,
                    submitted_at_ms,
                );
                let history = survey.submissions(fiscal_year, municipality).to_vec();
                batch.put_cf(
                    cf,
                    keys::survey::submissions(fiscal_year, municipality),
                    json(&history)?,
                );
                CommandResponse::Submission(Ok(s))
            }
            Command::ReviewSubmission {
                municipality,
                fiscal_year,
                version,
                approve,
                comment,
                reviewed_at_ms,
                ..
            } => {
                let reviewed = survey.review(
                    municipality,
                    fiscal_year,
                    version,
                    approve,
                    &comment,
                    reviewed_at_ms,
                );
                if reviewed.is_ok() {
                    let history = survey.submissions(fiscal_year, municipality).to_vec();
                    batch.put_cf(
                        cf,
                        keys::survey::submissions(fiscal_year, municipality),
                        json(&history)?,
                    );
                }
                CommandResponse::Submission(reviewed)
            }
            _ => CommandResponse::None,
        };
        requests.record(
            &self.db,
            batch,
            request_id,
            Answer::Survey(response.clone()),
        )?;
        Ok(response)
    }
}

/// JSON encoding of the tally engine's records, with storage errors.
mod erased {
    use super::{ErrorVerb, StorageResult, sm_err};

    pub trait Json {
        fn to_json(&self) -> StorageResult<Vec<u8>>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> StorageResult<Vec<u8>> {
            serde_json::to_vec(self).map_err(|e| sm_err(ErrorVerb::Write, &e))
        }
    }
}
