//! The tally engine's maintained state (集計用の状態): for every municipality of the prefecture
//! the status evidence it has synced, its PDCA cycle records and per-scene activity
//! ([`CycleBook`]), the [regions](crate::regions) the tallies are broken down by, and the survey
//! submissions with their review. The state machine folds each applied fact and survey command in
//! here, so a tally is computed from this state — never by rescanning the facts.
//!
//! The status rules are one definition for both tiers ([`StatusBoard`]): the prefecture derives
//! the same answer from the same evidence as the node, for any fiscal year, as-of date and as-known-at instant.
//!
//! This module is pure: the state machine persists what it decides.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;
use renkei_proto::convert::{timestamp_to_utc, utc_to_timestamp};
use renkei_proto::programme::evidence::evidence_from_wire;
use renkei_proto::programme::status::StatusBoard;
use renkei_proto::v1::{self, FactBody, FactKind};
use renkei_proto::{FiscalYear, MunicipalityCode, PrefectureCode, official};
use serde::{Deserialize, Serialize};

use crate::cycle::CycleBook;
use crate::regions::{RegionSet, SECONDARY_MEDICAL_AREA};
use crate::survey::{Approval, Item, MunicipalityRow, Source, Survey, SurveyError, SurveyStatus};
use crate::wide_area::{WideArea, WideAreaMeeting};

/// The review state of a submitted version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReviewState {
    Submitted,
    Approved,
    Returned { comment: String },
}

/// Why the state machine refused a survey command. It is part of the command's response, which
/// is stored under the request id (see `store::state_machine::requests`), so a retry gets the
/// same refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SurveyRefusal {
    /// A review of a municipality that has submitted nothing for the fiscal year.
    #[error("{municipality} has submitted nothing for {fiscal_year}")]
    NothingSubmitted {
        municipality: MunicipalityCode,
        fiscal_year: FiscalYear,
    },
    /// A review of a version that is not the latest.
    #[error("version {version} of {municipality} {fiscal_year} is not the latest ({latest})")]
    NotLatest {
        municipality: MunicipalityCode,
        fiscal_year: FiscalYear,
        version: u32,
        latest: u32,
    },
    /// A review of a version approved or returned already.
    #[error("version {version} of {municipality} {fiscal_year} was reviewed already")]
    AlreadyReviewed {
        municipality: MunicipalityCode,
        fiscal_year: FiscalYear,
        version: u32,
    },
    /// A return without a comment.
    #[error("a returned submission needs a comment")]
    ReturnWithoutComment,
    /// A refusal stored before refusals were typed (a JSON string): its message as it was.
    #[error("{0}")]
    #[serde(untagged)]
    Recorded(String),
}

/// One submitted version of a municipality's survey answers: a locked snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub municipality: MunicipalityCode,
    pub fiscal_year: FiscalYear,
    pub version: u32,
    pub survey_date: NaiveDate,
    pub statuses: [SurveyStatus; 8],
    pub state: ReviewState,
    pub submitted_at_ms: i64,
    /// When it was approved or returned (ms since the epoch); `None` while waiting, and in
    /// versions reviewed before this was kept (then taken as reviewed when submitted).
    #[serde(default)]
    pub reviewed_at_ms: Option<i64>,
}

impl Submission {
    /// Its review state as known at `known_at`: a review recorded later was not known then.
    fn state_known_at(&self, known_at: Option<DateTime<Utc>>) -> ReviewState {
        let reviewed_at = self.reviewed_at_ms.unwrap_or(self.submitted_at_ms);
        match known_at {
            Some(t) if reviewed_at > t.timestamp_millis() => ReviewState::Submitted,
            _ => self.state.clone(),
        }
    }

    /// Whether it was submitted at or before `known_at`.
    fn known_at(&self, known_at: Option<DateTime<Utc>>) -> bool {
        known_at.is_none_or(|t| self.submitted_at_ms <= t.timestamp_millis())
    }

    /// Where this version stands (提出済, 承認済, 差戻し).
    pub fn approval(&self) -> Approval {
        match &self.state {
            ReviewState::Submitted => Approval::Submitted {
                version: self.version,
            },
            ReviewState::Approved => Approval::Approved {
                version: self.version,
            },
            ReviewState::Returned { comment } => Approval::Returned {
                version: self.version,
                comment: comment.clone(),
            },
        }
    }

    /// Its wire form (`renkei.v1.SubmissionView`).
    pub fn view(&self) -> v1::SubmissionView {
        let (state, comment) = match &self.state {
            ReviewState::Submitted => ("submitted", String::new()),
            ReviewState::Approved => ("approved", String::new()),
            ReviewState::Returned { comment } => ("returned", comment.clone()),
        };
        v1::SubmissionView {
            municipality: self.municipality.to_string(),
            fiscal_year: i32::from(self.fiscal_year.year()),
            version: self.version,
            survey_date: self.survey_date.format("%Y-%m-%d").to_string(),
            statuses: self.statuses.iter().map(|x| x.label().to_owned()).collect(),
            state: state.to_owned(),
            comment,
            submitted_at: DateTime::from_timestamp_millis(self.submitted_at_ms)
                .map(utc_to_timestamp),
        }
    }
}

/// Which answers a tally counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TallySource {
    /// Statuses derived from the evidence as of the date.
    Live,
    /// The latest submitted snapshot where there is one.
    Submitted,
}

/// The maintained state of the tally engine.
#[derive(Debug, Default)]
pub struct SurveyState {
    boards: HashMap<MunicipalityCode, StatusBoard>,
    /// Municipalities that have reported at least one fact, with the earliest recorded time of
    /// their facts (a tally as known at an earlier instant counts only those reported by then).
    reported: BTreeMap<MunicipalityCode, DateTime<Utc>>,
    region_sets: Vec<RegionSet>,
    submissions: BTreeMap<(FiscalYear, MunicipalityCode), Vec<Submission>>,
    /// The merged (ク) state.
    wide: WideArea,
    /// The municipalities' PDCA cycle records and per-scene activity.
    cycles: CycleBook,
}

impl SurveyState {
    /// Folds in one applied fact: status evidence into the municipality's status board (and the
    /// day of a dated activity into its cycle records, the Do of that fiscal year), a cycle fact
    /// into its cycle records, a per-scene activity into its scene counts. Every fact marks the
    /// municipality as reported. A payload that does not decode, and a fact whose fields do not
    /// read, are skipped with a warning: the `Federation` service refuses payloads without a kind,
    /// but the raw ledger API may carry anything, and an applied entry can never be refused.
    pub fn take_fact(&mut self, municipality: MunicipalityCode, payload: &[u8]) {
        let body = FactBody::decode(payload).ok();
        let recorded_at = body
            .as_ref()
            .and_then(|b| b.recorded_at.as_ref())
            .and_then(timestamp_to_utc)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let first = self.reported.entry(municipality).or_insert(recorded_at);
        *first = (*first).min(recorded_at);
        let Some(body) = body else {
            return;
        };
        let Some(kind) = &body.kind else {
            return;
        };
        self.wide.take_fact(municipality, kind);
        match kind {
            FactKind::Evidence(evidence) => {
                let evidence = match evidence_from_wire(evidence) {
                    Ok(evidence) => evidence,
                    Err(e) => {
                        tracing::warn!(%municipality, error = %e, "status evidence skipped");
                        return;
                    }
                };
                // The same activity days the node notes (`CycleRecords::note_evidence`).
                self.cycles.note_evidence(municipality, &evidence);
                self.boards
                    .entry(municipality)
                    .or_default()
                    .record_evidence(recorded_at, evidence);
            }
            FactKind::Cycle(fact) => {
                if let Err(e) = self.cycles.take_cycle(municipality, fact) {
                    tracing::warn!(%municipality, error = %e, "cycle fact skipped");
                }
            }
            FactKind::SceneActivity(activity) => {
                if let Err(e) = self.cycles.take_scene_activity(municipality, activity) {
                    tracing::warn!(%municipality, error = %e, "scene activity skipped");
                }
            }
            _ => {}
        }
    }

    /// Returns the municipalities' PDCA cycle records and per-scene activity.
    pub fn cycles(&self) -> &CycleBook {
        &self.cycles
    }

    /// Returns the merged (ク) state.
    pub fn wide_area(&self) -> &WideArea {
        &self.wide
    }

    /// Folds in an item published down (forms, designations).
    pub fn take_down_item(&mut self, cursor: u64, item: &renkei_proto::v1::DownItem) {
        self.wide.take_down_item(cursor, item);
    }

    /// Records a wide-area meeting; it counts towards its municipalities' (ク) status.
    pub fn take_meeting(&mut self, meeting: WideAreaMeeting) {
        self.wide.take_meeting(meeting);
    }

    /// Replaces the region set of the same kind and first fiscal year.
    pub fn set_regions(&mut self, set: RegionSet) {
        self.region_sets
            .retain(|s| !(s.kind == set.kind && s.first_fiscal_year == set.first_fiscal_year));
        self.region_sets.push(set);
    }

    /// Returns the region set of `kind` in force in `fy` (the latest-starting one covering it).
    pub fn regions(&self, kind: &str, fy: FiscalYear) -> Option<&RegionSet> {
        self.region_sets
            .iter()
            .filter(|s| s.kind == kind && s.covers(fy))
            .max_by_key(|s| s.first_fiscal_year)
    }

    /// Returns every region set (for persistence).
    pub fn region_sets(&self) -> &[RegionSet] {
        &self.region_sets
    }

    /// Returns the submissions of a municipality for a fiscal year, oldest first.
    pub fn submissions(&self, fy: FiscalYear, m: MunicipalityCode) -> &[Submission] {
        self.submissions
            .get(&(fy, m))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Where a municipality's answers for a fiscal year stand: its latest version's approval,
    /// or 未提出.
    pub fn approval(&self, fy: FiscalYear, m: MunicipalityCode) -> Approval {
        self.submissions(fy, m)
            .last()
            .map_or(Approval::NotSubmitted, Submission::approval)
    }

    /// Records a new submitted version; returns it.
    pub fn submit(
        &mut self,
        municipality: MunicipalityCode,
        fiscal_year: FiscalYear,
        survey_date: NaiveDate,
        statuses: [SurveyStatus; 8],
        submitted_at_ms: i64,
    ) -> Submission {
        let versions = self
            .submissions
            .entry((fiscal_year, municipality))
            .or_default();
        let submission = Submission {
            municipality,
            fiscal_year,
            version: versions.len() as u32 + 1,
            survey_date,
            statuses,
            state: ReviewState::Submitted,
            submitted_at_ms,
            reviewed_at_ms: None,
        };
        versions.push(submission.clone());
        submission
    }

    /// Approves or returns a submitted version; refuses a version that is not the latest or not
    /// waiting for review.
    pub fn review(
        &mut self,
        municipality: MunicipalityCode,
        fiscal_year: FiscalYear,
        version: u32,
        approve: bool,
        comment: &str,
        reviewed_at_ms: i64,
    ) -> Result<Submission, SurveyRefusal> {
        let nothing = || SurveyRefusal::NothingSubmitted {
            municipality,
            fiscal_year,
        };
        let versions = self
            .submissions
            .get_mut(&(fiscal_year, municipality))
            .ok_or_else(nothing)?;
        let latest = versions.len() as u32;
        if version != latest {
            return Err(SurveyRefusal::NotLatest {
                municipality,
                fiscal_year,
                version,
                latest,
            });
        }
        let s = versions.last_mut().ok_or_else(nothing)?;
        if s.state != ReviewState::Submitted {
            return Err(SurveyRefusal::AlreadyReviewed {
                municipality,
                fiscal_year,
                version,
            });
        }
        if !approve && comment.trim().is_empty() {
            return Err(SurveyRefusal::ReturnWithoutComment);
        }
        s.state = if approve {
            ReviewState::Approved
        } else {
            ReviewState::Returned {
                comment: comment.trim().to_owned(),
            }
        };
        s.reviewed_at_ms = Some(reviewed_at_ms);
        Ok(s.clone())
    }

    /// Restores a stored submission history (at open and snapshot install).
    pub fn restore_submissions(&mut self, history: Vec<Submission>) {
        for s in history {
            self.submissions
                .entry((s.fiscal_year, s.municipality))
                .or_default()
                .push(s);
        }
        for v in self.submissions.values_mut() {
            v.sort_by_key(|s| s.version);
            v.dedup_by_key(|s| s.version);
        }
    }

    /// Returns whether the municipality has reported any fact.
    pub fn has_reported(&self, m: MunicipalityCode) -> bool {
        self.reported.contains_key(&m)
    }

    /// Returns whether the municipality had reported a fact recorded at or before `known_at`
    /// (any fact when `None`).
    pub fn reported_by(&self, m: MunicipalityCode, known_at: Option<DateTime<Utc>>) -> bool {
        self.reported
            .get(&m)
            .is_some_and(|first| known_at.is_none_or(|t| *first <= t))
    }

    /// The eight statuses of a municipality derived from its evidence.
    pub fn statuses(
        &self,
        m: MunicipalityCode,
        fy: FiscalYear,
        as_of: NaiveDate,
        known_at: Option<DateTime<Utc>>,
    ) -> [SurveyStatus; 8] {
        self.decided(m, fy, as_of, known_at)
            .map(|(status, _)| status)
    }

    /// The eight statuses of a municipality with the records that decided each (e.g.
    /// `training/t1`; a wide-area meeting the prefecture recorded as `wide_area_meeting/<id>`).
    pub fn decided(
        &self,
        m: MunicipalityCode,
        fy: FiscalYear,
        as_of: NaiveDate,
        known_at: Option<DateTime<Utc>>,
    ) -> [(SurveyStatus, Vec<String>); 8] {
        let mut out: [(SurveyStatus, Vec<String>); 8] =
            std::array::from_fn(|_| (SurveyStatus::NotImplemented, Vec::new()));
        if let Some(board) = self.boards.get(&m) {
            for (slot, s) in out.iter_mut().zip(board.status(fy, as_of, known_at)) {
                *slot = (s.status, s.evidence);
            }
        }
        // A wide-area meeting the prefecture or a 保健所 held with the municipality counts for
        // its (ク), like one it attended.
        let end = fy.last_day().min(as_of);
        if out[Item::Ku.index()].0 != SurveyStatus::Implemented {
            let held: Vec<String> = self
                .wide
                .meetings()
                .filter(|meeting| {
                    meeting.municipalities.contains(&m)
                        && fy.first_day() <= meeting.on
                        && meeting.on <= end
                        && known_at.is_none_or(|t| meeting.recorded_at_ms <= t.timestamp_millis())
                })
                .map(|meeting| format!("wide_area_meeting/{}", meeting.id))
                .collect();
            if !held.is_empty() {
                out[Item::Ku.index()] = (SurveyStatus::Implemented, held);
            }
        }
        out
    }

    /// Builds the survey of the prefecture's municipalities (n = the official list).
    pub fn survey(
        &self,
        prefecture: PrefectureCode,
        fy: FiscalYear,
        as_of: NaiveDate,
        known_at: Option<DateTime<Utc>>,
        source: TallySource,
    ) -> Result<Survey, SurveyError> {
        self.survey_of(prefecture, &[], fy, as_of, known_at, source)
    }

    /// Builds the survey of the municipalities in `scope`, or of all the prefecture's
    /// municipalities on the official list when `scope` is empty: one row each. A municipality in
    /// scope that never reported (not even its node's participation) nor submitted is 未回答,
    /// counted apart from n.
    pub fn survey_of(
        &self,
        prefecture: PrefectureCode,
        scope: &[MunicipalityCode],
        fy: FiscalYear,
        as_of: NaiveDate,
        known_at: Option<DateTime<Utc>>,
        source: TallySource,
    ) -> Result<Survey, SurveyError> {
        let regions = self.regions(SECONDARY_MEDICAL_AREA, fy);
        let area_of = |m: MunicipalityCode| {
            regions
                .and_then(|set| set.region_of(m))
                .map(|r| r.name.clone())
        };
        let rows = official::municipalities_of(prefecture)
            .filter(|entry| scope.is_empty() || scope.contains(&entry.code))
            .map(|entry| {
                let m = entry.code;
                // What was submitted and reviewed, as known at `known_at`.
                let history: Vec<Submission> = self
                    .submissions(fy, m)
                    .iter()
                    .filter(|s| s.known_at(known_at))
                    .map(|s| Submission {
                        state: s.state_known_at(known_at),
                        ..s.clone()
                    })
                    .collect();
                let approval = history
                    .last()
                    .map_or(Approval::NotSubmitted, Submission::approval);
                let reported = self.reported_by(m, known_at);
                if !reported && history.is_empty() {
                    // Never reported nor submitted: 未回答. Its row keeps what the prefecture
                    // itself recorded for it (a wide-area meeting it took part in).
                    let mut row = MunicipalityRow::unreported(m, entry.name, area_of(m));
                    row.statuses = self.statuses(m, fy, as_of, known_at);
                    return Ok(row);
                }
                // A submitted tally counts the latest approved version (never a returned or
                // unreviewed one), of the survey date asked for; a municipality with no approved
                // version is counted from its live statuses, its 提出・承認 column saying so.
                let approved = history
                    .iter()
                    .rev()
                    .find(|s| s.state == ReviewState::Approved);
                let statuses = match (source, approved) {
                    (TallySource::Submitted, Some(s)) if s.survey_date != as_of => {
                        return Err(SurveyError::MixedSurveyDates {
                            municipality: m,
                            survey_date: s.survey_date,
                            as_of,
                        });
                    }
                    (TallySource::Submitted, Some(s)) => s.statuses,
                    _ => self.statuses(m, fy, as_of, known_at),
                };
                Ok(MunicipalityRow {
                    code: m,
                    name: entry.name.to_owned(),
                    area: area_of(m),
                    statuses,
                    reported,
                    approval,
                })
            })
            .collect::<Result<Vec<_>, SurveyError>>()?;
        Survey::new(fy, as_of, Source::Prefecture(prefecture), rows)
    }
}

#[cfg(test)]
mod tests;
