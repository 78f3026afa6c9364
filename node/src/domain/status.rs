//! The implementation status of each item (the national survey's answer), derived from recorded
//! evidence — never typed in.
//!
//! For fiscal year `fy` *as of* business date `d` (and optionally *as known at* recorded instant
//! `t`: only events recorded at or before `t` count), the window is `fy.first_day() ..=
//! min(fy.last_day(), d)`, and an item is:
//! - 実施している ([`SurveyStatus::Implemented`]) if a qualifying activity lies in the window:
//!   - ア: a resource survey conducted or a resource list/map published on a day in the window;
//!   - イ: a meeting held on a day in the window with at least one issue or countermeasure;
//!   - ウ: an arrangement in force (first day ..= last day) on some day of the window;
//!   - エ: a tool in use (adopted ..= retired) on some day of the window, or a version of a tool
//!     released (adopted or revised) in the window, or a unified form (様式の統一) in use;
//!   - オ: a consultation desk operating (opened ..= closed) on some day of the window;
//!   - カ: a training held in the window;
//!   - キ: an awareness activity held or material distributed in the window;
//!   - ク: a wide-area meeting attended in the window, or a unified form in use or a liaison
//!     agreement in force on some day of the window;
//! - 年度内に実施予定 ([`SurveyStatus::Planned`]) if not implemented, but `fy`'s annual plan holds an
//!   activity for the item planned on or before `d`, not cancelled on or before `d`, and scheduled
//!   for a day on or after `d` (a plan whose day passed without the activity no longer counts;
//!   evidence from nodes that did not send the day counts as undated within the year);
//! - 実施していない ([`SurveyStatus::NotImplemented`]) otherwise.
//!
//! The board keeps facts as a set and every rule asks "is there one such that…", so the answer
//! does not depend on the order in which events were recorded.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use renkei_proto::FiscalYear;

use super::ProgrammeEvent;
use super::arrangements::ArrangementEvent;
use super::awareness::AwarenessEvent;
use super::consultation::ConsultationEvent;
use super::meetings::MeetingEvent;
use super::plan::PlanEvent;
use super::resources::ResourceEvent;
use super::tools::ToolEvent;
use super::trainings::TrainingEvent;
use super::values::Item;
use super::wide_area::WideAreaEvent;

/// One of the survey's three answers, defined once for both tiers.
pub use renkei_proto::programme::SurveyStatus;

/// The status of one item, with the evidence that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemStatus {
    pub item: Item,
    pub status: SurveyStatus,
    /// The records that decided it, e.g. `training/t1`, sorted.
    pub evidence: Vec<String>,
}

/// A piece of evidence extracted from one event: what the status rules look at. The municipal
/// node publishes each to its prefecture (see [`crate::domain::facts`]), which applies the same
/// rules to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// A qualifying activity on one day.
    Dated {
        item: Item,
        key: String,
        on: NaiveDate,
    },
    /// A meeting held (イ); it qualifies once it has a finding.
    MeetingHeld { key: String, on: NaiveDate },
    /// An issue or countermeasure of a meeting (イ).
    Finding { meeting: String },
    /// Something in force from a first day (ウ, エ, オ, ク).
    Starts {
        item: Item,
        key: String,
        first_day: NaiveDate,
        last_day: Option<NaiveDate>,
    },
    /// Its last day in force.
    Ends { key: String, last_day: NaiveDate },
    /// A planned activity of a fiscal year's plan.
    Planned {
        fiscal_year: FiscalYear,
        item: Item,
        key: String,
        planned_on: NaiveDate,
        /// The day it is scheduled for; `None` when unknown (facts of earlier nodes).
        scheduled_on: Option<NaiveDate>,
    },
    /// A planned activity cancelled.
    Cancelled { key: String, on: NaiveDate },
}

/// Checks that a survey date (基準日) lies in the fiscal year it is a date of: a status "as of"
/// a day of another year answers nothing anyone asked (the prefecture refuses it too).
pub fn check_as_of(fiscal_year: FiscalYear, as_of: NaiveDate) -> Result<(), super::DomainError> {
    if fiscal_year.contains(as_of) {
        Ok(())
    } else {
        Err(super::DomainError::invalid(
            "as_of",
            as_of,
            format!(
                "is outside fiscal year {} ({}..{})",
                fiscal_year.wareki(),
                fiscal_year.first_day(),
                fiscal_year.last_day()
            ),
        ))
    }
}

/// Turns one event into the evidence the status rules look at.
pub fn evidence(event: &ProgrammeEvent) -> Vec<Evidence> {
    use ProgrammeEvent as P;
    let dated = |item, key: String, on| vec![Evidence::Dated { item, key, on }];
    match event {
        P::Resources(ResourceEvent::ResourceSurveyConducted { id, on, .. }) => {
            dated(Item::A, format!("resource-survey/{id}"), *on)
        }
        P::Resources(ResourceEvent::ResourceListPublished { id, on, .. }) => {
            dated(Item::A, format!("resource-list/{id}"), *on)
        }
        P::Resources(_) => vec![],
        P::Meetings(MeetingEvent::MeetingHeld { id, on, .. }) => vec![Evidence::MeetingHeld {
            key: format!("meeting/{id}"),
            on: *on,
        }],
        P::Meetings(MeetingEvent::FindingRecorded { meeting, .. }) => vec![Evidence::Finding {
            meeting: format!("meeting/{meeting}"),
        }],
        P::Meetings(MeetingEvent::WorkingGroupFormed { .. }) => vec![],
        P::Arrangements(ArrangementEvent::ArrangementEstablished {
            id,
            first_day,
            last_day,
            ..
        }) => {
            vec![Evidence::Starts {
                item: Item::U,
                key: format!("arrangement/{id}"),
                first_day: *first_day,
                last_day: *last_day,
            }]
        }
        P::Arrangements(ArrangementEvent::ArrangementEnded { id, last_day }) => {
            vec![Evidence::Ends {
                key: format!("arrangement/{id}"),
                last_day: *last_day,
            }]
        }
        P::Tools(ToolEvent::ToolAdopted {
            id, version, on, ..
        }) => vec![
            Evidence::Starts {
                item: Item::E,
                key: format!("tool/{id}"),
                first_day: *on,
                last_day: None,
            },
            Evidence::Dated {
                item: Item::E,
                key: format!("tool/{id}@{version}"),
                on: *on,
            },
        ],
        P::Tools(ToolEvent::ToolRevised {
            id, version, on, ..
        }) => dated(Item::E, format!("tool/{id}@{version}"), *on),
        P::Tools(ToolEvent::ToolRetired { id, last_day }) => vec![Evidence::Ends {
            key: format!("tool/{id}"),
            last_day: *last_day,
        }],
        P::Consultation(ConsultationEvent::ConsultationDeskOpened { id, on, .. }) => {
            vec![Evidence::Starts {
                item: Item::O,
                key: format!("desk/{id}"),
                first_day: *on,
                last_day: None,
            }]
        }
        P::Consultation(ConsultationEvent::ConsultationDeskClosed { id, last_day }) => {
            vec![Evidence::Ends {
                key: format!("desk/{id}"),
                last_day: *last_day,
            }]
        }
        P::Consultation(_) => vec![],
        P::Trainings(TrainingEvent::TrainingHeld { id, on, .. }) => {
            dated(Item::Ka, format!("training/{id}"), *on)
        }
        P::Trainings(_) => vec![],
        P::Awareness(AwarenessEvent::AwarenessActivityRecorded { id, on, .. }) => {
            dated(Item::Ki, format!("awareness/{id}"), *on)
        }
        P::WideArea(WideAreaEvent::WideAreaMeetingAttended { id, on, .. }) => {
            dated(Item::Ku, format!("wide-area-meeting/{id}"), *on)
        }
        // A unified form in use is both (ク) cross-municipal work and an (エ) information-sharing
        // tool of the municipality.
        P::WideArea(WideAreaEvent::UnifiedFormAdopted { id, on, .. }) => vec![
            Evidence::Starts {
                item: Item::Ku,
                key: format!("unified-form/{id}"),
                first_day: *on,
                last_day: None,
            },
            Evidence::Starts {
                item: Item::E,
                key: format!("unified-form/{id}"),
                first_day: *on,
                last_day: None,
            },
        ],
        P::WideArea(WideAreaEvent::UnifiedFormWithdrawn { id, last_day }) => vec![Evidence::Ends {
            key: format!("unified-form/{id}"),
            last_day: *last_day,
        }],
        P::WideArea(WideAreaEvent::LiaisonAgreementJoined {
            id,
            first_day,
            last_day,
            ..
        }) => {
            vec![Evidence::Starts {
                item: Item::Ku,
                key: format!("liaison-agreement/{id}"),
                first_day: *first_day,
                last_day: *last_day,
            }]
        }
        P::WideArea(WideAreaEvent::LiaisonAgreementLeft { id, last_day }) => vec![Evidence::Ends {
            key: format!("liaison-agreement/{id}"),
            last_day: *last_day,
        }],
        P::Plan(PlanEvent::ActivityScheduled {
            fiscal_year,
            id,
            item,
            planned_on,
            scheduled_on,
            ..
        }) => {
            vec![Evidence::Planned {
                fiscal_year: *fiscal_year,
                item: *item,
                key: format!("plan/{}/{id}", fiscal_year.year()),
                planned_on: *planned_on,
                scheduled_on: Some(*scheduled_on),
            }]
        }
        P::Plan(PlanEvent::ActivityCancelled {
            fiscal_year,
            id,
            on,
        }) => vec![Evidence::Cancelled {
            key: format!("plan/{}/{id}", fiscal_year.year()),
            on: *on,
        }],
        P::Plan(_) => vec![],
    }
}

/// The evidence of one municipality, from which every item's status is derived.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard {
    /// Each piece of evidence with the instant its event was recorded.
    facts: Vec<(Evidence, DateTime<Utc>)>,
}

impl StatusBoard {
    /// Takes in an event recorded at `recorded_at`.
    pub fn record(&mut self, recorded_at: DateTime<Utc>, event: &ProgrammeEvent) {
        self.facts
            .extend(evidence(event).into_iter().map(|f| (f, recorded_at)));
    }

    /// Takes in one piece of evidence recorded at `recorded_at` (e.g. received from a node).
    pub fn record_evidence(&mut self, recorded_at: DateTime<Utc>, evidence: Evidence) {
        self.facts.push((evidence, recorded_at));
    }

    /// Returns the status of every item for `fiscal_year` as of business date `as_of`, counting
    /// only events recorded at or before `known_at` when it is given.
    pub fn status(
        &self,
        fiscal_year: FiscalYear,
        as_of: NaiveDate,
        known_at: Option<DateTime<Utc>>,
    ) -> Vec<ItemStatus> {
        let known: Vec<&Evidence> = self
            .facts
            .iter()
            .filter(|(_, at)| known_at.is_none_or(|k| *at <= k))
            .map(|(f, _)| f)
            .collect();
        let start = fiscal_year.first_day();
        let end = fiscal_year.last_day().min(as_of);
        let in_window = |d: NaiveDate| start <= d && d <= end;
        // The earliest known last day of each thing in force.
        let mut ends: BTreeMap<&str, NaiveDate> = BTreeMap::new();
        for f in &known {
            if let Evidence::Ends { key, last_day } = f {
                ends.entry(key.as_str())
                    .and_modify(|d| *d = (*d).min(*last_day))
                    .or_insert(*last_day);
            }
        }
        let mut cancelled: BTreeMap<&str, NaiveDate> = BTreeMap::new();
        for f in &known {
            if let Evidence::Cancelled { key, on } = f {
                cancelled
                    .entry(key.as_str())
                    .and_modify(|d| *d = (*d).min(*on))
                    .or_insert(*on);
            }
        }
        let with_finding: std::collections::BTreeSet<&str> = known
            .iter()
            .filter_map(|f| match f {
                Evidence::Finding { meeting } => Some(meeting.as_str()),
                _ => None,
            })
            .collect();

        Item::ALL
            .iter()
            .map(|&item| {
                let mut implemented: Vec<String> = known
                    .iter()
                    .filter_map(|f| match f {
                        Evidence::Dated { item: i, key, on } if *i == item && in_window(*on) => {
                            Some(key.clone())
                        }
                        Evidence::MeetingHeld { key, on }
                            if item == Item::I
                                && in_window(*on)
                                && with_finding.contains(key.as_str()) =>
                        {
                            Some(key.clone())
                        }
                        Evidence::Starts {
                            item: i,
                            key,
                            first_day,
                            last_day,
                        } if *i == item => {
                            let last = match (last_day, ends.get(key.as_str())) {
                                (Some(a), Some(b)) => Some((*a).min(*b)),
                                (a, b) => a.or(b.copied()),
                            };
                            let overlaps = *first_day <= end
                                && start <= end
                                && last.is_none_or(|l| l >= start);
                            overlaps.then(|| key.clone())
                        }
                        _ => None,
                    })
                    .collect();
                implemented.sort();
                implemented.dedup();
                if !implemented.is_empty() {
                    return ItemStatus {
                        item,
                        status: SurveyStatus::Implemented,
                        evidence: implemented,
                    };
                }
                let mut planned: Vec<String> = known
                    .iter()
                    .filter_map(|f| match f {
                        Evidence::Planned {
                            fiscal_year: fy,
                            item: i,
                            key,
                            planned_on,
                            scheduled_on,
                        } if *fy == fiscal_year
                            && *i == item
                            && *planned_on <= as_of
                            && scheduled_on.is_none_or(|day| day >= as_of)
                            && cancelled.get(key.as_str()).is_none_or(|c| *c > as_of) =>
                        {
                            Some(key.clone())
                        }
                        _ => None,
                    })
                    .collect();
                planned.sort();
                planned.dedup();
                if !planned.is_empty() {
                    ItemStatus {
                        item,
                        status: SurveyStatus::Planned,
                        evidence: planned,
                    }
                } else {
                    ItemStatus {
                        item,
                        status: SurveyStatus::NotImplemented,
                        evidence: vec![],
                    }
                }
            })
            .collect()
    }

    /// Returns one item's status (see [`StatusBoard::status`]).
    pub fn item_status(
        &self,
        item: Item,
        fiscal_year: FiscalYear,
        as_of: NaiveDate,
        known_at: Option<DateTime<Utc>>,
    ) -> SurveyStatus {
        self.status(fiscal_year, as_of, known_at)
            .into_iter()
            .find(|s| s.item == item)
            .map_or(SurveyStatus::NotImplemented, |s| s.status)
    }
}

#[cfg(test)]
mod tests;
