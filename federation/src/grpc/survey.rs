//! The `PrefectureSurvey` service: tallies and exports from the tally engine's maintained state,
//! completeness, survey submissions and reviews, and regions. Reads are linearizable unless the
//! caller asks for a local read; writes go through Raft.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use renkei_proto::convert::{timestamp_to_utc, utc_to_timestamp};
use renkei_proto::v1::{self, PrefectureSurvey};
use renkei_proto::{FiscalYear, MunicipalityCode, PrefectureCode, official};
use tonic::{Request, Response, Status};

use super::{check_request_id, to_status};
use crate::access::{Identity, identity};
use crate::config::Role;
use crate::error::FederationError;
use crate::facts::Facts;
use crate::regions::{REGION_KINDS, RegionSet, SECONDARY_MEDICAL_AREA};
use crate::store::{LedgerReader, SharedSurvey};
use crate::survey::{
    self, Approval, CsvEncoding, Item, Survey, SurveyStatus, Tally, format_tenths,
};
use crate::sync_monitor::SyncMonitor;
use crate::tally::{ReviewState, Submission, TallySource};
use crate::types::{Command, CommandResponse, Raft};
use crate::wide_area::WideAreaMeeting;

/// Serves the survey of one prefecture.
#[derive(Clone)]
pub struct SurveyService {
    facts: Facts,
    raft: Raft,
    reader: LedgerReader,
    survey: SharedSurvey,
    prefecture: PrefectureCode,
    monitor: SyncMonitor,
    /// The municipalities the survey counts (`survey_scope`); empty: the official list.
    scope: Arc<Vec<MunicipalityCode>>,
    /// The consistency of the reads that take none from their request: linearizable for gRPC
    /// callers; the console of a follower reads what the replica has applied.
    reads: v1::ReadConsistency,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> FederationError {
    FederationError::InvalidArgument {
        field,
        reason: reason.into(),
    }
}

fn fiscal_year(value: i32) -> Result<FiscalYear, FederationError> {
    FiscalYear::new(i64::from(value)).map_err(|e| invalid("fiscal_year", format!("{value}: {e}")))
}

fn date(field: &'static str, text: &str) -> Result<NaiveDate, FederationError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| invalid(field, format!("{text:?} is not a date YYYY-MM-DD")))
}

fn item_code(item: Item) -> &'static str {
    ["a", "b", "c", "d", "e", "f", "g", "h"][item.index()]
}

fn item_lines(tally: &Tally) -> Vec<v1::ItemTally> {
    Item::ALL
        .iter()
        .map(|&item| {
            let count = |s| tally.count(item, s);
            let percent = |s| format_tenths(tally.percent_tenths(item, s));
            v1::ItemTally {
                item: item_code(item).to_owned(),
                label: item.national_label().to_owned(),
                implemented: count(SurveyStatus::Implemented),
                planned: count(SurveyStatus::Planned),
                not_implemented: count(SurveyStatus::NotImplemented),
                implemented_percent: percent(SurveyStatus::Implemented),
                planned_percent: percent(SurveyStatus::Planned),
                not_implemented_percent: percent(SurveyStatus::NotImplemented),
            }
        })
        .collect()
}

/// The wire form of a survey's tally (what `GetTally` answers and the console renders): the
/// prefecture's lines, one per region of `regions` that has municipalities in the survey, and
/// a row per municipality.
pub fn tally_reply(
    survey: &Survey,
    regions: Option<&RegionSet>,
    prefecture: PrefectureCode,
    applied_index: u64,
) -> v1::TallyReply {
    let by_area = survey.tally_by_area();
    let region_lines = regions
        .map(|set| {
            set.regions
                .iter()
                .filter_map(|r| {
                    by_area.get(&r.name).map(|t| v1::RegionTally {
                        region_id: r.id.clone(),
                        region_name: r.name.clone(),
                        n: t.n,
                        items: item_lines(t),
                        unanswered: t.unanswered,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    v1::TallyReply {
        fiscal_year: i32::from(survey.fiscal_year.year()),
        wareki: survey.fiscal_year.wareki(),
        as_of: survey.as_of.format("%Y-%m-%d").to_string(),
        prefecture: prefecture.to_string(),
        prefecture_name: prefecture.name().to_owned(),
        n: survey.n(),
        items: item_lines(&survey.tally()),
        regions: region_lines,
        municipalities: survey
            .rows
            .iter()
            .map(|r| v1::MunicipalityRowView {
                municipality: r.code.to_string(),
                name: r.name.clone(),
                region: r.area.clone().unwrap_or_default(),
                statuses: Item::ALL
                    .iter()
                    .map(|i| r.answer_label(*i).to_owned())
                    .collect(),
                reported: r.reported,
                submission: r.approval.label(),
                answered: r.answered(),
            })
            .collect(),
        applied_index,
        unanswered: survey.unanswered(),
    }
}

fn submission_view(s: &Submission) -> v1::SubmissionView {
    let (state, comment) = match &s.state {
        ReviewState::Submitted => ("submitted", String::new()),
        ReviewState::Approved => ("approved", String::new()),
        ReviewState::Returned { comment } => ("returned", comment.clone()),
    };
    v1::SubmissionView {
        municipality: s.municipality.to_string(),
        fiscal_year: i32::from(s.fiscal_year.year()),
        version: s.version,
        survey_date: s.survey_date.format("%Y-%m-%d").to_string(),
        statuses: s.statuses.iter().map(|x| x.label().to_owned()).collect(),
        state: state.to_owned(),
        comment,
        submitted_at: DateTime::from_timestamp_millis(s.submitted_at_ms).map(utc_to_timestamp),
    }
}

impl SurveyService {
    // Each argument is a handle shared with the other services of the replica.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        facts: Facts,
        raft: Raft,
        reader: LedgerReader,
        survey: SharedSurvey,
        prefecture: PrefectureCode,
        monitor: SyncMonitor,
        scope: Vec<MunicipalityCode>,
    ) -> Self {
        Self {
            facts,
            raft,
            reader,
            survey,
            prefecture,
            monitor,
            scope: Arc::new(scope),
            reads: v1::ReadConsistency::Linearizable,
        }
    }

    /// The same service reading with `consistency` where a request names none (the console
    /// of a follower reads locally and says at which applied index).
    pub(crate) fn reading(&self, consistency: v1::ReadConsistency) -> Self {
        Self {
            reads: consistency,
            ..self.clone()
        }
    }

    fn in_scope(&self, m: MunicipalityCode) -> bool {
        self.scope.is_empty() || self.scope.contains(&m)
    }

    fn read_state<R>(&self, f: impl FnOnce(&crate::tally::SurveyState) -> R) -> R {
        f(&self.survey.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Builds the survey a tally request asks for, after the requested read barrier.
    async fn build(&self, request: &v1::GetTallyRequest) -> Result<Survey, FederationError> {
        let fy = fiscal_year(request.fiscal_year)?;
        let as_of = if request.as_of.is_empty() {
            fy.last_day()
        } else {
            date("as_of", &request.as_of)?
        };
        if !fy.contains(as_of) {
            return Err(invalid(
                "as_of",
                format!("{as_of} is outside fiscal year {}", fy.wareki()),
            ));
        }
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
        super::ledger::ensure(&self.facts, request.consistency).await?;
        self.read_state(|s| s.survey_of(self.prefecture, &self.scope, fy, as_of, known_at, source))
            .map_err(|e| invalid("as_of", e.to_string()))
    }

    pub(crate) async fn tally(
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
        let applied_index = self
            .raft
            .metrics()
            .borrow()
            .last_applied
            .map_or(0, |id| id.index);
        Ok(tally_reply(
            &survey,
            regions.as_ref(),
            self.prefecture,
            applied_index,
        ))
    }

    pub(crate) async fn export(
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
        let stem = format!("survey_{}_{}", self.prefecture, survey.fiscal_year.year());
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

    pub(crate) async fn completeness(
        &self,
        who: Identity,
        request: v1::GetCompletenessRequest,
    ) -> Result<v1::CompletenessReply, FederationError> {
        who.check_role(Role::Viewer, "read completeness")?;
        let fy = fiscal_year(request.fiscal_year)?;
        let since = request.since.as_ref().and_then(timestamp_to_utc);
        super::ledger::ensure(&self.facts, self.reads as i32).await?;
        let mut reply = v1::CompletenessReply::default();
        for entry in official::municipalities_of(self.prefecture).filter(|e| self.in_scope(e.code))
        {
            let m = entry.code;
            let acknowledged = self.reader.acknowledged(m)?;
            let (contact, error) = self.monitor.heard(m);
            let approval = self.read_state(|s| {
                s.submissions(fy, m)
                    .last()
                    .map_or(Approval::NotSubmitted, |x| match &x.state {
                        ReviewState::Submitted => Approval::Submitted { version: x.version },
                        ReviewState::Approved => Approval::Approved { version: x.version },
                        ReviewState::Returned { comment } => Approval::Returned {
                            version: x.version,
                            comment: comment.clone(),
                        },
                    })
            });
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

    async fn propose(&self, command: Command) -> Result<CommandResponse, FederationError> {
        Ok(self.raft.client_write(command).await?.data)
    }

    fn submission_reply(response: CommandResponse) -> Result<v1::SubmissionView, FederationError> {
        match response {
            CommandResponse::Submission(Ok(s)) => Ok(submission_view(&s)),
            CommandResponse::Submission(Err(refusal)) => {
                Err(FederationError::FailedPrecondition(refusal.to_string()))
            }
            other => Err(FederationError::FailedPrecondition(format!(
                "unexpected state machine answer {other:?}"
            ))),
        }
    }

    async fn submit(
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
        if !fy.contains(survey_date) {
            return Err(invalid(
                "survey_date",
                format!("{survey_date} is outside fiscal year {}", fy.wareki()),
            ));
        }
        // The snapshot is taken by the leader from its applied state after a read barrier, then
        // locked into the log: every replica stores the same answers.
        self.facts.linearize().await?;
        let statuses = self.read_state(|s| s.statuses(m, fy, survey_date, None));
        let response = self
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

    pub(crate) async fn review(
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
    pub(crate) async fn decided(
        &self,
        who: Identity,
        municipality: &str,
        fy: i32,
        as_of: &str,
    ) -> Result<(FiscalYear, NaiveDate, [(SurveyStatus, Vec<String>); 8]), FederationError> {
        who.check_role(Role::Viewer, "read a municipality's evidence")?;
        let m = self.facts.municipality(municipality)?;
        let (fy, as_of) = Self::year_and_date(fy, as_of)?;
        if !fy.contains(as_of) {
            return Err(invalid(
                "as_of",
                format!("{as_of} is outside fiscal year {}", fy.wareki()),
            ));
        }
        super::ledger::ensure(&self.facts, self.reads as i32).await?;
        Ok((
            fy,
            as_of,
            self.read_state(|s| s.decided(m, fy, as_of, None)),
        ))
    }

    /// The latest submission of every municipality in scope that submitted for `fy`.
    pub(crate) async fn latest_submissions(
        &self,
        who: Identity,
        fy: i32,
    ) -> Result<Vec<v1::SubmissionView>, FederationError> {
        who.check_role(Role::Viewer, "read survey submissions")?;
        let fy = fiscal_year(fy)?;
        super::ledger::ensure(&self.facts, self.reads as i32).await?;
        Ok(self.read_state(|s| {
            official::municipalities_of(self.prefecture)
                .filter(|e| self.in_scope(e.code))
                .filter_map(|e| s.submissions(fy, e.code).last().map(submission_view))
                .collect()
        }))
    }

    fn regions_view(set: &RegionSet) -> v1::RegionsView {
        v1::RegionsView {
            kind: set.kind.clone(),
            first_fiscal_year: i32::from(set.first_fiscal_year.year()),
            last_fiscal_year: i32::from(set.last_fiscal_year.year()),
            regions: set
                .regions
                .iter()
                .map(|r| v1::Region {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    municipalities: r.municipalities.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        }
    }

    async fn set_regions(
        &self,
        who: Identity,
        request: v1::SetRegionsRequest,
    ) -> Result<v1::RegionsView, FederationError> {
        who.check_role(Role::Operator, "set regions")?;
        check_request_id(&request.request_id)?;
        let set = RegionSet::from_csv(
            self.prefecture,
            &request.kind,
            i64::from(request.first_fiscal_year),
            i64::from(request.last_fiscal_year),
            &request.csv,
        )
        .map_err(|e| invalid("csv", e.to_string()))?;
        match self
            .propose(Command::SetRegions {
                request_id: request.request_id,
                set,
            })
            .await?
        {
            CommandResponse::Regions(Ok(set)) => Ok(Self::regions_view(&set)),
            CommandResponse::Regions(Err(refusal)) => {
                Err(FederationError::FailedPrecondition(refusal.to_string()))
            }
            other => Err(FederationError::FailedPrecondition(format!(
                "unexpected state machine answer {other:?}"
            ))),
        }
    }

    pub(crate) async fn regions(
        &self,
        request: v1::GetRegionsRequest,
    ) -> Result<v1::RegionsView, FederationError> {
        let fy = fiscal_year(request.fiscal_year)?;
        let kind = if request.kind.is_empty() {
            SECONDARY_MEDICAL_AREA
        } else {
            request.kind.as_str()
        };
        super::ledger::ensure(&self.facts, self.reads as i32).await?;
        self.read_state(|s| s.regions(kind, fy).map(Self::regions_view))
            .ok_or_else(|| {
                invalid(
                    "fiscal_year",
                    format!("no {kind} regions are set for {}", fy.wareki()),
                )
            })
    }
}

fn meeting_view(m: &WideAreaMeeting) -> v1::WideAreaMeetingView {
    v1::WideAreaMeetingView {
        id: m.id.clone(),
        title: m.title.clone(),
        held_by: m.held_by.clone(),
        region: m.region.clone(),
        on: m.on.format("%Y-%m-%d").to_string(),
        municipalities: m.municipalities.iter().map(ToString::to_string).collect(),
    }
}

fn municipality_name(m: MunicipalityCode) -> String {
    official::municipality(m).map_or_else(|| m.to_string(), |e| e.name.to_owned())
}

fn candidate_view(c: &crate::wide_area::Candidate) -> v1::DesignationCandidate {
    v1::DesignationCandidate {
        municipality: c.municipality.to_string(),
        name: c.name.clone(),
        medical_institution_code: c.medical_institution_code.clone(),
        reason: c.reason.clone(),
    }
}

impl SurveyService {
    /// The fiscal year and as-of date of a (ク) query.
    fn year_and_date(fy: i32, as_of: &str) -> Result<(FiscalYear, NaiveDate), FederationError> {
        let fy = fiscal_year(fy)?;
        let as_of = if as_of.is_empty() {
            fy.last_day()
        } else {
            date("as_of", as_of)?
        };
        Ok((fy, as_of))
    }

    pub(crate) async fn record_meeting(
        &self,
        who: Identity,
        request: v1::RecordWideAreaMeetingRequest,
    ) -> Result<v1::WideAreaMeetingView, FederationError> {
        who.check_role(Role::Operator, "record wide-area meetings")?;
        check_request_id(&request.request_id)?;
        if request.id.trim().is_empty() || request.title.trim().is_empty() {
            return Err(invalid("id", "id and title must be given"));
        }
        if !matches!(request.held_by.as_str(), "prefecture" | "health_center") {
            return Err(invalid(
                "held_by",
                format!("{:?} must be prefecture or health_center", request.held_by),
            ));
        }
        let on = date("on", &request.on)?;
        if request.municipalities.is_empty() {
            return Err(invalid("municipalities", "at least one participant"));
        }
        let municipalities = request
            .municipalities
            .iter()
            .map(|m| self.facts.municipality(m))
            .collect::<Result<Vec<_>, _>>()?;
        let meeting = WideAreaMeeting {
            id: request.id,
            title: request.title,
            held_by: request.held_by,
            region: request.region,
            on,
            municipalities,
            recorded_at_ms: Utc::now().timestamp_millis(),
        };
        match self
            .propose(Command::RecordWideAreaMeeting {
                request_id: request.request_id,
                meeting,
            })
            .await?
        {
            CommandResponse::Meeting(m) => Ok(meeting_view(&m)),
            other => Err(FederationError::FailedPrecondition(format!(
                "unexpected state machine answer {other:?}"
            ))),
        }
    }

    pub(crate) async fn wide_area(
        &self,
        who: Identity,
        request: v1::GetWideAreaRequest,
    ) -> Result<v1::WideAreaView, FederationError> {
        who.check_role(Role::Viewer, "read the (ク) items")?;
        let (fy, as_of) = Self::year_and_date(request.fiscal_year, &request.as_of)?;
        super::ledger::ensure(&self.facts, self.reads as i32).await?;
        let n = official::municipalities_of(self.prefecture).count() as u32;
        Ok(self.read_state(|state| {
            let wide = state.wide_area();
            let regions = state.regions(SECONDARY_MEDICAL_AREA, fy);
            // The latest published version of each form.
            let mut latest: std::collections::BTreeMap<&str, &crate::wide_area::PublishedForm> =
                std::collections::BTreeMap::new();
            for f in wide.forms() {
                latest.insert(f.form_id.as_str(), f);
            }
            let forms = latest
                .values()
                .map(|f| {
                    let adopters = wide.adopters(&f.form_id, None, as_of);
                    let by_region = regions
                        .map(|set| {
                            set.regions
                                .iter()
                                .map(|r| {
                                    let k = adopters
                                        .iter()
                                        .filter(|m| r.municipalities.contains(m))
                                        .count();
                                    format!("{} {k}/{}", r.name, r.municipalities.len())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let versions = wide
                        .version_coverage(&f.form_id, as_of)
                        .into_iter()
                        .map(|v| v1::FormVersionAdopters {
                            version: v.version,
                            adopters: v.adopters.iter().map(ToString::to_string).collect(),
                            published: v.published,
                        })
                        .collect();
                    v1::FormCoverage {
                        versions,
                        form_id: f.form_id.clone(),
                        name: f.name.clone(),
                        version: f.version.clone(),
                        effective_from: f.effective_from.clone(),
                        prefecture_percent: survey::format_tenths(survey::percent_tenths(
                            adopters.len() as u32,
                            n,
                        )),
                        adopters: adopters.iter().map(ToString::to_string).collect(),
                        by_region,
                    }
                })
                .collect();
            let liaison = wide
                .liaison_in_force(as_of)
                .into_iter()
                .map(|(hospital, members)| v1::LiaisonAgreementView {
                    hospital_name: wide.institution_name(&hospital, as_of).unwrap_or_default(),
                    hospital,
                    members: members
                        .into_iter()
                        .map(|(m, l)| v1::LiaisonMember {
                            municipality: m.to_string(),
                            rule_version: l.rule_version,
                            notification_lead_days: l.notification_lead_days,
                            contact_point: l.contact_point,
                            from: l.from.format("%Y-%m-%d").to_string(),
                            until: l
                                .until
                                .map(|u| u.format("%Y-%m-%d").to_string())
                                .unwrap_or_default(),
                            cases: wide.liaison_cases(m, &l.agreement_id, fy),
                            agreement: l.agreement_id,
                        })
                        .collect(),
                })
                .collect();
            let meetings = wide
                .meetings()
                .filter(|m| fy.contains(m.on))
                .map(meeting_view)
                .collect();
            let unpublished = wide
                .unpublished_in_use(as_of)
                .map(|(m, a)| v1::UnpublishedAdoption {
                    municipality: m.to_string(),
                    form_id: a.form_id.clone(),
                    name: a.name.clone(),
                    version: a.version.clone(),
                })
                .collect();
            v1::WideAreaView {
                forms,
                liaison,
                meetings,
                unpublished,
            }
        }))
    }

    pub(crate) async fn designations(
        &self,
        who: Identity,
        request: v1::GetDesignationsRequest,
    ) -> Result<v1::DesignationsView, FederationError> {
        who.check_role(Role::Viewer, "read designation candidates")?;
        let (fy, as_of) = Self::year_and_date(request.fiscal_year, &request.as_of)?;
        super::ledger::ensure(&self.facts, self.reads as i32).await?;
        self.read_state(|state| {
            let kind = match request.region_kind.as_str() {
                "" => SECONDARY_MEDICAL_AREA,
                kind if REGION_KINDS.iter().any(|(k, _)| *k == kind) => kind,
                kind => {
                    let known: Vec<&str> = REGION_KINDS.iter().map(|(k, _)| *k).collect();
                    return Err(invalid(
                        "region_kind",
                        format!("{kind:?} must be one of {}", known.join(", ")),
                    ));
                }
            };
            let regions = state.regions(kind, fy).ok_or_else(|| {
                invalid(
                    "region_kind",
                    format!("no regions of kind {kind} are set for {}", fy.wareki()),
                )
            })?;
            let areas = state
                .wide_area()
                .designations(regions, as_of)
                .into_iter()
                .map(|a| v1::AreaDesignations {
                    region_id: a.region_id,
                    region_name: a.region_name,
                    active_role: a
                        .municipalities
                        .iter()
                        .map(|m| v1::MunicipalityCandidates {
                            municipality: m.municipality.to_string(),
                            name: municipality_name(m.municipality),
                            candidates: m.candidates.iter().map(candidate_view).collect(),
                            from_neighbour: m.from_neighbour,
                        })
                        .collect(),
                    liaison_bases: a.liaison_bases.iter().map(candidate_view).collect(),
                    decisions: a
                        .decisions
                        .into_iter()
                        .map(|d| v1::Designation {
                            role: d.role,
                            area: d.area,
                            institution_name: d.institution_name,
                            medical_institution_code: d.medical_institution_code,
                            decided_on: d.decided_on,
                        })
                        .collect(),
                    gaps: a.gaps,
                    neighbour_only: a.neighbour_only.iter().map(ToString::to_string).collect(),
                })
                .collect();
            Ok(v1::DesignationsView {
                areas,
                region_kind: kind.to_owned(),
            })
        })
    }
}

#[tonic::async_trait]
impl PrefectureSurvey for SurveyService {
    async fn record_wide_area_meeting(
        &self,
        request: Request<v1::RecordWideAreaMeetingRequest>,
    ) -> Result<Response<v1::WideAreaMeetingView>, Status> {
        let who = identity(&request)?;
        self.record_meeting(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_wide_area(
        &self,
        request: Request<v1::GetWideAreaRequest>,
    ) -> Result<Response<v1::WideAreaView>, Status> {
        let who = identity(&request)?;
        self.wide_area(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_designations(
        &self,
        request: Request<v1::GetDesignationsRequest>,
    ) -> Result<Response<v1::DesignationsView>, Status> {
        let who = identity(&request)?;
        self.designations(who, request.into_inner())
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
        let reply = self.tally(who, request.into_inner()).await;
        metrics::histogram!("renkei_tally_query_seconds").record(started.elapsed().as_secs_f64());
        reply.map(Response::new).map_err(to_status)
    }

    async fn export_survey(
        &self,
        request: Request<v1::ExportSurveyRequest>,
    ) -> Result<Response<v1::ExportSurveyReply>, Status> {
        let who = identity(&request)?;
        self.export(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_completeness(
        &self,
        request: Request<v1::GetCompletenessRequest>,
    ) -> Result<Response<v1::CompletenessReply>, Status> {
        let who = identity(&request)?;
        self.completeness(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn submit_survey(
        &self,
        request: Request<v1::SubmitSurveyRequest>,
    ) -> Result<Response<v1::SubmissionView>, Status> {
        let who = identity(&request)?;
        self.submit(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn review_submission(
        &self,
        request: Request<v1::ReviewSubmissionRequest>,
    ) -> Result<Response<v1::SubmissionView>, Status> {
        let who = identity(&request)?;
        self.review(who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn set_regions(
        &self,
        request: Request<v1::SetRegionsRequest>,
    ) -> Result<Response<v1::RegionsView>, Status> {
        let who = identity(&request)?;
        SurveyService::set_regions(self, who, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn get_regions(
        &self,
        request: Request<v1::GetRegionsRequest>,
    ) -> Result<Response<v1::RegionsView>, Status> {
        identity(&request)?;
        self.regions(request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }
}
