//! The survey's application methods (`PrefectureSurvey` and the console): tallies and exports
//! built from the tally engine's maintained state, completeness, survey submissions and
//! reviews, and regions. Reads take the consistency their request asks for (the console's,
//! [`Surveys::reading`]); writes go through Raft.

use std::sync::{Arc, PoisonError};

use chrono::{NaiveDate, Utc};
use renkei_proto::convert::{timestamp_to_utc, utc_to_timestamp};
use renkei_proto::v1;
use renkei_proto::{FiscalYear, MunicipalityCode, official};

use super::{date, fiscal_year, invalid, within, year_and_date};
use crate::access::Identity;
use crate::config::Role;
use crate::error::FederationError;
use crate::facts::{Facts, check_request_id};
use crate::regions::{RegionSet, SECONDARY_MEDICAL_AREA};
use crate::store::SharedSurvey;
use crate::survey::{self, Approval, CsvEncoding, Survey, SurveyStatus};
use crate::sync_monitor::SyncMonitor;
use crate::tally::{SurveyState, TallySource};
use crate::types::{Command, CommandResponse};

/// The survey of one prefecture, as the services and the console ask for it; cheap to clone.
#[derive(Clone)]
pub struct Surveys {
    facts: Facts,
    survey: SharedSurvey,
    monitor: SyncMonitor,
    /// The municipalities the survey counts (`survey_scope`); empty: the official list.
    scope: Arc<Vec<MunicipalityCode>>,
    /// The consistency of the reads that take none from their request: linearizable for gRPC
    /// callers; the console of a follower reads what the replica has applied.
    reads: v1::ReadConsistency,
}

impl Surveys {
    /// The survey kept in `survey` (the state machine's), read and written through `facts`.
    pub fn new(
        facts: Facts,
        survey: SharedSurvey,
        monitor: SyncMonitor,
        scope: Vec<MunicipalityCode>,
    ) -> Self {
        Self {
            facts,
            survey,
            monitor,
            scope: Arc::new(scope),
            reads: v1::ReadConsistency::Linearizable,
        }
    }

    /// The same survey read with `consistency` where a request names none (the console of a
    /// follower reads locally and says at which applied index).
    pub fn reading(&self, consistency: v1::ReadConsistency) -> Self {
        Self {
            reads: consistency,
            ..self.clone()
        }
    }

    /// The municipalities the survey counts (`survey_scope`); empty: the official list.
    pub(super) fn scope(&self) -> &[MunicipalityCode] {
        &self.scope
    }

    fn in_scope(&self, m: MunicipalityCode) -> bool {
        self.scope.is_empty() || self.scope.contains(&m)
    }

    pub(super) fn read_state<R>(&self, f: impl FnOnce(&SurveyState) -> R) -> R {
        f(&self.survey.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The read barrier of a read whose request names no consistency.
    pub(super) async fn barrier(&self) -> Result<(), FederationError> {
        self.facts.ensure(self.reads as i32).await
    }

    pub(super) fn facts(&self) -> &Facts {
        &self.facts
    }

    /// Builds the survey a tally request asks for, after the requested read barrier.
    async fn build(&self, request: &v1::GetTallyRequest) -> Result<Survey, FederationError> {
        let fy = fiscal_year(request.fiscal_year)?;
        let as_of = if request.as_of.is_empty() {
            fy.last_day()
        } else {
            date("as_of", &request.as_of)?
        };
        within("as_of", fy, as_of)?;
        let known_at = match &request.known_at {
            None => None,
            Some(t) => {
                Some(timestamp_to_utc(t).ok_or_else(|| invalid("known_at", format!("{t:?}")))?)
            }
        };
        let source = match v1::TallySource::try_from(request.source) {
            Ok(v1::TallySource::Live) => TallySource::Live,
            Ok(v1::TallySource::Submitted) => TallySource::Submitted,
            Err(_) => {
                return Err(invalid(
                    "source",
                    format!("unknown value {}", request.source),
                ));
            }
        };
        self.facts.ensure(request.consistency).await?;
        let prefecture = self.facts.prefecture();
        self.read_state(|s| s.survey_of(prefecture, &self.scope, fy, as_of, known_at, source))
            .map_err(|e| invalid("as_of", e.to_string()))
    }

    /// The prefecture's tally (`GetTally`, the console's 実施状況).
    pub async fn tally(
        &self,
        who: Identity,
        request: v1::GetTallyRequest,
    ) -> Result<v1::TallyReply, FederationError> {
        who.check_role(Role::Viewer, "read the prefecture's tally")?;
        let survey = self.build(&request).await?;
        let regions = self.read_state(|s| {
            s.regions(SECONDARY_MEDICAL_AREA, survey.fiscal_year)
                .cloned()
        });
        Ok(survey::tally_reply(
            &survey,
            regions.as_ref(),
            self.facts.prefecture(),
            self.facts.applied_index(),
        ))
    }

    /// The survey in the national format (`ExportSurvey`, the console's downloads).
    pub async fn export(
        &self,
        who: Identity,
        request: v1::ExportSurveyRequest,
    ) -> Result<v1::ExportSurveyReply, FederationError> {
        who.check_role(Role::Viewer, "export the prefecture's survey")?;
        let tally = request
            .tally
            .ok_or_else(|| invalid("tally", "missing: the fiscal year and as-of date"))?;
        let survey = self.build(&tally).await?;
        let encoding = if request.shift_jis {
            CsvEncoding::ShiftJis
        } else {
            CsvEncoding::Utf8Bom
        };
        let format = v1::ExportFormat::try_from(request.format)
            .map_err(|_| invalid("format", format!("unknown value {}", request.format)))?;
        let stem = format!(
            "survey_{}_{}",
            self.facts.prefecture(),
            survey.fiscal_year.year()
        );
        let export_err =
            |e: survey::ExportError| FederationError::FailedPrecondition(e.to_string());
        let (name, content) = match format {
            v1::ExportFormat::SummaryCsv => (
                format!("{stem}_summary.csv"),
                survey::summary_csv(&survey, encoding).map_err(export_err)?,
            ),
            v1::ExportFormat::DetailCsv => (
                format!("{stem}_detail.csv"),
                survey::detail_csv(&survey, encoding).map_err(export_err)?,
            ),
            v1::ExportFormat::Xlsx => (
                format!("{stem}.xlsx"),
                survey::xlsx(&survey).map_err(export_err)?,
            ),
            v1::ExportFormat::Json => (
                format!("{stem}.json"),
                survey::json(&survey).map_err(export_err)?,
            ),
        };
        Ok(v1::ExportSurveyReply {
            file_name: name,
            content,
        })
    }

    /// Who has reported, synced, erred and submitted (`GetCompleteness`, the console's
    /// 提出・完了状況).
    pub async fn completeness(
        &self,
        who: Identity,
        request: v1::GetCompletenessRequest,
    ) -> Result<v1::CompletenessReply, FederationError> {
        who.check_role(Role::Viewer, "read completeness")?;
        let fy = fiscal_year(request.fiscal_year)?;
        let since = request.since.as_ref().and_then(timestamp_to_utc);
        self.barrier().await?;
        let mut reply = v1::CompletenessReply::default();
        for entry in
            official::municipalities_of(self.facts.prefecture()).filter(|e| self.in_scope(e.code))
        {
            let m = entry.code;
            let acknowledged = self.facts.acknowledged(m)?;
            let (contact, error) = self.monitor.heard(m);
            let approval = self.read_state(|s| s.approval(fy, m));
            let line = v1::CompletenessEntry {
                municipality: m.to_string(),
                name: entry.name.to_owned(),
                acknowledged,
                last_contact: contact.map(utc_to_timestamp),
                last_error: error.as_ref().map(|e| e.0.clone()).unwrap_or_default(),
                submission: approval.label(),
            };
            if acknowledged == 0 {
                reply.never_reported.push(line.clone());
            }
            if let Some(since) = since
                && contact.is_none_or(|c| c < since)
            {
                reply.stale.push(line.clone());
            }
            if error.is_some() {
                reply.with_errors.push(line.clone());
            }
            if approval == Approval::NotSubmitted {
                reply.not_submitted.push(line);
            } else {
                reply.submitted.push(line);
            }
        }
        Ok(reply)
    }

    fn submission_reply(response: CommandResponse) -> Result<v1::SubmissionView, FederationError> {
        match response {
            CommandResponse::Submission(Ok(s)) => Ok(s.view()),
            CommandResponse::Submission(Err(refusal)) => Err(refusal.into()),
            other => Err(FederationError::FailedPrecondition(format!(
                "unexpected state machine answer {other:?}"
            ))),
        }
    }

    /// Submits a municipality's answers as of its survey date (`SubmitSurvey`): the leader's
    /// statuses after a read barrier, locked into the log.
    pub async fn submit(
        &self,
        who: Identity,
        request: v1::SubmitSurveyRequest,
    ) -> Result<v1::SubmissionView, FederationError> {
        check_request_id(&request.request_id)?;
        let m: MunicipalityCode = self.facts.municipality(&request.municipality)?;
        // As for facts: the token's entry and, over TLS, the node certificate must both allow m.
        who.check_certified_for(m, "submit the survey")?;
        let fy = fiscal_year(request.fiscal_year)?;
        let survey_date = date("survey_date", &request.survey_date)?;
        within("survey_date", fy, survey_date)?;
        // The snapshot is taken by the leader from its applied state after a read barrier, then
        // locked into the log: every replica stores the same answers.
        self.facts.linearize().await?;
        let statuses = self.read_state(|s| s.statuses(m, fy, survey_date, None));
        let response = self
            .facts
            .propose(Command::SubmitSurvey {
                request_id: request.request_id,
                municipality: m,
                fiscal_year: fy,
                survey_date,
                statuses,
                submitted_at_ms: Utc::now().timestamp_millis(),
            })
            .await?;
        Self::submission_reply(response)
    }

    /// Approves or returns a submitted version (`ReviewSubmission`); a return needs a comment.
    pub async fn review(
        &self,
        who: Identity,
        request: v1::ReviewSubmissionRequest,
    ) -> Result<v1::SubmissionView, FederationError> {
        who.check_role(Role::Operator, "review survey submissions")?;
        check_request_id(&request.request_id)?;
        let m = self.facts.municipality(&request.municipality)?;
        let fy = fiscal_year(request.fiscal_year)?;
        if !request.approve && request.comment.trim().is_empty() {
            return Err(invalid("comment", "a returned submission needs a comment"));
        }
        let response = self
            .facts
            .propose(Command::ReviewSubmission {
                request_id: request.request_id,
                municipality: m,
                fiscal_year: fy,
                version: request.version,
                approve: request.approve,
                comment: request.comment,
                reviewed_at_ms: Utc::now().timestamp_millis(),
            })
            .await?;
        Self::submission_reply(response)
    }

    /// The eight statuses of one municipality as of a date, with the records that decided each
    /// (what a cell of the console's matrix opens).
    pub async fn decided(
        &self,
        who: Identity,
        municipality: &str,
        fy: i32,
        as_of: &str,
    ) -> Result<(FiscalYear, NaiveDate, [(SurveyStatus, Vec<String>); 8]), FederationError> {
        who.check_role(Role::Viewer, "read a municipality's evidence")?;
        let m = self.facts.municipality(municipality)?;
        let (fy, as_of) = year_and_date(fy, as_of)?;
        within("as_of", fy, as_of)?;
        self.barrier().await?;
        Ok((
            fy,
            as_of,
            self.read_state(|s| s.decided(m, fy, as_of, None)),
        ))
    }

    /// The latest submission of every municipality in scope that submitted for `fy`.
    pub async fn latest_submissions(
        &self,
        who: Identity,
        fy: i32,
    ) -> Result<Vec<v1::SubmissionView>, FederationError> {
        who.check_role(Role::Viewer, "read survey submissions")?;
        let fy = fiscal_year(fy)?;
        self.barrier().await?;
        Ok(self.read_state(|s| {
            official::municipalities_of(self.facts.prefecture())
                .filter(|e| self.in_scope(e.code))
                .filter_map(|e| s.submissions(fy, e.code).last().map(|x| x.view()))
                .collect()
        }))
    }

    /// Sets a region set from its CSV (`SetRegions`).
    pub async fn set_regions(
        &self,
        who: Identity,
        request: v1::SetRegionsRequest,
    ) -> Result<v1::RegionsView, FederationError> {
        who.check_role(Role::Operator, "set regions")?;
        check_request_id(&request.request_id)?;
        let set = RegionSet::from_csv(
            self.facts.prefecture(),
            &request.kind,
            i64::from(request.first_fiscal_year),
            i64::from(request.last_fiscal_year),
            &request.csv,
        )
        .map_err(|e| invalid("csv", e.to_string()))?;
        match self
            .facts
            .propose(Command::SetRegions {
                request_id: request.request_id,
                set,
            })
            .await?
        {
            CommandResponse::Regions(Ok(set)) => Ok(set.view()),
            CommandResponse::Regions(Err(refusal)) => Err(refusal.into()),
            other => Err(FederationError::FailedPrecondition(format!(
                "unexpected state machine answer {other:?}"
            ))),
        }
    }

    /// The region set of a kind (二次医療圏 by default) in force in a fiscal year
    /// (`GetRegions`).
    pub async fn regions(
        &self,
        request: v1::GetRegionsRequest,
    ) -> Result<v1::RegionsView, FederationError> {
        let fy = fiscal_year(request.fiscal_year)?;
        let kind = if request.kind.is_empty() {
            SECONDARY_MEDICAL_AREA
        } else {
            request.kind.as_str()
        };
        self.barrier().await?;
        self.read_state(|s| s.regions(kind, fy).map(RegionSet::view))
            .ok_or_else(|| {
                invalid(
                    "fiscal_year",
                    format!("no {kind} regions are set for {}", fy.wareki()),
                )
            })
    }
}
