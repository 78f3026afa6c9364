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
//! Both tiers apply these rules: the municipal node to the evidence of its events, the
//! prefecture to the evidence the nodes publish to it. The board keeps facts as a set and every rule asks "is there one such that…", so the answer
//! does not depend on the order in which events were recorded.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Item, SurveyStatus};
use crate::FiscalYear;

/// The status of one item, with the evidence that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemStatus {
    pub item: Item,
    pub status: SurveyStatus,
    /// The records that decided it, e.g. `training/t1`, sorted: the first [`EVIDENCE_LISTED`]
    /// of them by day.
    pub evidence: Vec<String>,
    /// How many records decided it.
    pub evidence_count: usize,
}

/// A piece of evidence extracted from one event: what the status rules look at. The municipal
/// node publishes each to its prefecture (see [`super::evidence`]), which applies the same
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

/// How many of the records that decided an item a status lists (the count says how many there
/// are): a town with ten thousand trainings in a year shows the first of them, not a list no one
/// reads, and answering does not grow with the town's history.
pub const EVIDENCE_LISTED: usize = 20;

/// When each record became known: the earliest instant it was recorded.
type Known = BTreeMap<String, DateTime<Utc>>;

/// The evidence of one municipality, from which every item's status is derived. It is kept
/// indexed by item and day, so that a status reads the days of its window rather than every
/// record: answering costs the same with ten records as with a hundred thousand (an answer *as
/// known at* an instant filters the records of those days one by one).
#[derive(Debug, Clone, Default)]
pub struct StatusBoard {
    /// Qualifying activities by item and day.
    dated: BTreeMap<(Item, NaiveDate), Known>,
    /// Meetings held, by day (イ; they qualify once they have a finding).
    meetings: BTreeMap<NaiveDate, Known>,
    /// The earliest instant a finding of each meeting was recorded.
    findings: BTreeMap<String, DateTime<Utc>>,
    /// Things in force, per item: key → (first day, last day, recorded at).
    #[allow(clippy::type_complexity)]
    starts: BTreeMap<Item, Vec<(String, NaiveDate, Option<NaiveDate>, DateTime<Utc>)>>,
    /// Last days in force, per key, with the instant each was recorded.
    ends: BTreeMap<String, Vec<(NaiveDate, DateTime<Utc>)>>,
    /// Planned activities per fiscal year and item: (key, planned on, scheduled on, recorded at).
    #[allow(clippy::type_complexity)]
    planned:
        BTreeMap<(FiscalYear, Item), Vec<(String, NaiveDate, Option<NaiveDate>, DateTime<Utc>)>>,
    /// Cancellations per key, with the instant each was recorded.
    cancelled: BTreeMap<String, Vec<(NaiveDate, DateTime<Utc>)>>,
}

/// Keeps the earliest instant `key` became known.
fn know(known: &mut Known, key: String, at: DateTime<Utc>) {
    known
        .entry(key)
        .and_modify(|t| *t = (*t).min(at))
        .or_insert(at);
}

/// The earliest day among those known at `known_at`.
fn earliest_known(
    days: Option<&Vec<(NaiveDate, DateTime<Utc>)>>,
    known_at: Option<DateTime<Utc>>,
) -> Option<NaiveDate> {
    days?
        .iter()
        .filter(|(_, at)| known_at.is_none_or(|k| *at <= k))
        .map(|(d, _)| *d)
        .min()
}

/// The records that decided an item: how many, and the first [`EVIDENCE_LISTED`] of them.
#[derive(Default)]
struct Decided {
    count: usize,
    listed: Vec<String>,
}

impl Decided {
    fn push(&mut self, key: &str) {
        self.count += 1;
        if self.listed.len() < EVIDENCE_LISTED {
            self.listed.push(key.to_owned());
        }
    }

    /// Takes in one day's records, those known at `known_at`.
    fn day(&mut self, known: &Known, known_at: Option<DateTime<Utc>>) {
        match known_at {
            // Every record of the day counts: add them without visiting each.
            None => {
                let room = EVIDENCE_LISTED.saturating_sub(self.listed.len());
                self.listed.extend(known.keys().take(room).cloned());
                self.count += known.len();
            }
            Some(k) => known
                .iter()
                .filter(|(_, at)| **at <= k)
                .for_each(|(key, _)| self.push(key)),
        }
    }

    fn into_status(mut self, item: Item, status: SurveyStatus) -> ItemStatus {
        self.listed.sort();
        self.listed.dedup();
        ItemStatus {
            item,
            status,
            evidence: self.listed,
            evidence_count: self.count,
        }
    }
}

impl StatusBoard {
    /// Takes in one piece of evidence recorded at `recorded_at` (e.g. received from a node).
    pub fn record_evidence(&mut self, recorded_at: DateTime<Utc>, evidence: Evidence) {
        match evidence {
            Evidence::Dated { item, key, on } => {
                know(self.dated.entry((item, on)).or_default(), key, recorded_at);
            }
            Evidence::MeetingHeld { key, on } => {
                know(self.meetings.entry(on).or_default(), key, recorded_at);
            }
            Evidence::Finding { meeting } => know(&mut self.findings, meeting, recorded_at),
            Evidence::Starts {
                item,
                key,
                first_day,
                last_day,
            } => self
                .starts
                .entry(item)
                .or_default()
                .push((key, first_day, last_day, recorded_at)),
            Evidence::Ends { key, last_day } => self
                .ends
                .entry(key)
                .or_default()
                .push((last_day, recorded_at)),
            Evidence::Planned {
                fiscal_year,
                item,
                key,
                planned_on,
                scheduled_on,
            } => self.planned.entry((fiscal_year, item)).or_default().push((
                key,
                planned_on,
                scheduled_on,
                recorded_at,
            )),
            Evidence::Cancelled { key, on } => self
                .cancelled
                .entry(key)
                .or_default()
                .push((on, recorded_at)),
        }
    }

    /// Returns the status of every item for `fiscal_year` as of business date `as_of`, counting
    /// only events recorded at or before `known_at` when it is given.
    pub fn status(
        &self,
        fiscal_year: FiscalYear,
        as_of: NaiveDate,
        known_at: Option<DateTime<Utc>>,
    ) -> Vec<ItemStatus> {
        Item::ALL
            .iter()
            .map(|&item| self.item(item, fiscal_year, as_of, known_at))
            .collect()
    }

    /// Decides one item (see [`StatusBoard::status`]).
    fn item(
        &self,
        item: Item,
        fiscal_year: FiscalYear,
        as_of: NaiveDate,
        known_at: Option<DateTime<Utc>>,
    ) -> ItemStatus {
        let is_known = |at: &DateTime<Utc>| known_at.is_none_or(|k| *at <= k);
        let start = fiscal_year.first_day();
        let end = fiscal_year.last_day().min(as_of);
        let mut implemented = Decided::default();
        if start <= end {
            for (_, day) in self.dated.range((item, start)..=(item, end)) {
                implemented.day(day, known_at);
            }
            if item == Item::I {
                for (key, _) in self
                    .meetings
                    .range(start..=end)
                    .flat_map(|(_, day)| day.iter())
                    .filter(|(key, at)| {
                        is_known(at) && self.findings.get(key.as_str()).is_some_and(is_known)
                    })
                {
                    implemented.push(key);
                }
            }
            for (key, first_day, last_day, _) in self
                .starts
                .get(&item)
                .into_iter()
                .flatten()
                .filter(|(_, _, _, at)| is_known(at))
            {
                let ended = earliest_known(self.ends.get(key.as_str()), known_at);
                let last = match (last_day, ended) {
                    (Some(a), Some(b)) => Some((*a).min(b)),
                    (a, b) => a.or(b),
                };
                if *first_day <= end && last.is_none_or(|l| l >= start) {
                    implemented.push(key);
                }
            }
        }
        if implemented.count > 0 {
            return implemented.into_status(item, SurveyStatus::Implemented);
        }
        let mut planned = Decided::default();
        for (key, _, _, _) in self
            .planned
            .get(&(fiscal_year, item))
            .into_iter()
            .flatten()
            .filter(|(key, planned_on, scheduled_on, at)| {
                is_known(at)
                    && *planned_on <= as_of
                    && scheduled_on.is_none_or(|day| day >= as_of)
                    && earliest_known(self.cancelled.get(key.as_str()), known_at)
                        .is_none_or(|c| c > as_of)
            })
        {
            planned.push(key);
        }
        if planned.count > 0 {
            planned.into_status(item, SurveyStatus::Planned)
        } else {
            Decided::default().into_status(item, SurveyStatus::NotImplemented)
        }
    }

    /// Returns one item's status (see [`StatusBoard::status`]).
    pub fn item_status(
        &self,
        item: Item,
        fiscal_year: FiscalYear,
        as_of: NaiveDate,
        known_at: Option<DateTime<Utc>>,
    ) -> SurveyStatus {
        self.item(item, fiscal_year, as_of, known_at).status
    }
}
