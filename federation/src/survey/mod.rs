//! The national survey of implementation status (実施状況調査): per municipality and per programme
//! item, one of three answers; tallies of them per item with percentages of n; exports in the
//! national format; the national merge of the prefectures' exports and its HTML report.
//!
//! Everything here is pure: rows in, tallies and bytes out. Where the rows come from (the
//! prefecture's replicated state) is the caller's business.

pub(crate) mod export;
mod merge;
mod report;
mod wire;

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use renkei_proto::{FiscalYear, MunicipalityCode, PrefectureCode};
use serde::{Deserialize, Serialize};

pub use export::{
    ChecksummedExport, CsvEncoding, ExportError, detail_csv, json, summary_csv, xlsx,
};
pub use merge::{MergeError, MergeReport, merge_national};
pub use report::national_html;
pub use wire::tally_reply;

/// The four groups of municipal work of the 2020 framework (施行規則 第140条の62の8).
pub use renkei_proto::programme::framework::StatutoryGroup;
/// The programme items and the survey's answers: one vocabulary, shared with the node.
pub use renkei_proto::programme::{Item, SurveyStatus};

/// Where a municipality's survey answers stand (提出・承認).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approval {
    /// 未提出: nothing submitted for the fiscal year.
    NotSubmitted,
    /// 提出済: submitted, waiting for the prefecture.
    Submitted { version: u32 },
    /// 承認済: approved by the prefecture.
    Approved { version: u32 },
    /// 差戻し: returned by the prefecture with a comment.
    Returned { version: u32, comment: String },
}

impl Approval {
    /// Returns the state in Japanese, as the detail export prints it.
    pub fn label(&self) -> String {
        match self {
            Approval::NotSubmitted => "未提出".to_owned(),
            Approval::Submitted { version } => format!("提出済（第{version}版）"),
            Approval::Approved { version } => format!("承認済（第{version}版）"),
            Approval::Returned { version, comment } => {
                format!("差戻し（第{version}版）：{comment}")
            }
        }
    }
}

/// One municipality's line of the survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MunicipalityRow {
    pub code: MunicipalityCode,
    /// The municipality's name, e.g. 富山市.
    pub name: String,
    /// Its 二次医療圏 (secondary medical area), if the prefecture configured one.
    pub area: Option<String>,
    /// One answer per item, in the order of [`Item::ALL`].
    pub statuses: [SurveyStatus; 8],
    /// False when the prefecture holds no fact of the municipality (not even the participation
    /// a node sends for every municipality it hosts).
    pub reported: bool,
    pub approval: Approval,
}

impl MunicipalityRow {
    /// Returns a row for a municipality that never reported nor submitted: 未回答 (see
    /// [`MunicipalityRow::answered`]).
    pub fn unreported(code: MunicipalityCode, name: &str, area: Option<String>) -> Self {
        Self {
            code,
            name: name.to_owned(),
            area,
            statuses: [SurveyStatus::NotImplemented; 8],
            reported: false,
            approval: Approval::NotSubmitted,
        }
    }

    pub fn status(&self, item: Item) -> SurveyStatus {
        self.statuses[item.index()]
    }

    /// Whether the municipality answered: the prefecture holds a fact of it or a submission. A
    /// municipality that did not is 未回答 (non-response): counted apart, never as 実施していない,
    /// and not part of n.
    pub fn answered(&self) -> bool {
        self.reported || self.approval != Approval::NotSubmitted
    }

    /// Whether the municipality answered, in words: 回答 or 未回答.
    pub fn answered_label(&self) -> &'static str {
        answered_label(self.answered())
    }

    /// The answer to `item` as shown to people: the status's label, or 未回答 for a municipality
    /// that did not answer.
    pub fn answer_label(&self, item: Item) -> &'static str {
        if self.answered() {
            self.status(item).label()
        } else {
            UNANSWERED
        }
    }
}

/// The word for non-response (a municipality the prefecture never heard from).
pub const UNANSWERED: &str = "未回答";
/// The word for a municipality that answered.
pub const ANSWERED: &str = "回答";

/// [`ANSWERED`] or [`UNANSWERED`].
pub fn answered_label(answered: bool) -> &'static str {
    if answered { ANSWERED } else { UNANSWERED }
}

/// The footnote under a table with `unanswered` non-respondents: how many, and that n and the
/// percentages are of the `n` that answered; `None` when everyone answered.
pub fn unanswered_note(n: u32, unanswered: u32) -> Option<String> {
    (unanswered > 0).then(|| {
        format!(
            "注：未回答（報告も提出もない市区町村）{unanswered}件は n に含めず、割合は回答した{n}市区町村に対するものです。"
        )
    })
}

/// Whose survey it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// One prefecture's municipalities.
    Prefecture(PrefectureCode),
    /// The merge of the prefectures (全国).
    National,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Prefecture(p) => write!(f, "{}", p.name()),
            Source::National => f.write_str("全国"),
        }
    }
}

/// A survey: the rows of the municipalities in scope for a fiscal year, as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    pub fiscal_year: FiscalYear,
    /// The survey date the statuses are derived as of (基準日).
    pub as_of: NaiveDate,
    pub source: Source,
    /// One row per municipality in scope, in code order; n is the number of those that
    /// answered, the others are 未回答.
    pub rows: Vec<MunicipalityRow>,
}

impl Survey {
    /// Builds a survey, sorting the rows by code and refusing a municipality listed twice.
    pub fn new(
        fiscal_year: FiscalYear,
        as_of: NaiveDate,
        source: Source,
        mut rows: Vec<MunicipalityRow>,
    ) -> Result<Self, SurveyError> {
        if !fiscal_year.contains(as_of) {
            return Err(SurveyError::AsOfOutsideYear {
                as_of,
                fiscal_year: fiscal_year.to_string(),
            });
        }
        rows.sort_by_key(|r| r.code);
        if let Some(w) = rows.windows(2).find(|w| w[0].code == w[1].code) {
            return Err(SurveyError::DuplicateMunicipality(w[0].code));
        }
        Ok(Self {
            fiscal_year,
            as_of,
            source,
            rows,
        })
    }

    /// Returns n, the number of municipalities in scope that answered: the percentages are of
    /// the respondents, as the national survey's are. Non-respondents are [`Survey::unanswered`].
    pub fn n(&self) -> u32 {
        self.rows.iter().filter(|r| r.answered()).count() as u32
    }

    /// Returns how many municipalities in scope did not answer (未回答).
    pub fn unanswered(&self) -> u32 {
        self.rows.iter().filter(|r| !r.answered()).count() as u32
    }

    /// Returns the tally of all rows.
    pub fn tally(&self) -> Tally {
        Tally::of(self.rows.iter())
    }

    /// Returns the tally per 二次医療圏 (rows without an area under "(未設定)").
    pub fn tally_by_area(&self) -> BTreeMap<String, Tally> {
        self.rows_by_area()
            .into_iter()
            .map(|(area, rows)| (area, Tally::of(rows.into_iter())))
            .collect()
    }

    /// Returns the statutory groups' tally of all rows (the 2020 framework's view).
    pub fn group_tally(&self) -> GroupTally {
        GroupTally::of(self.rows.iter())
    }

    /// Returns the statutory groups' tally per 二次医療圏 (rows without an area under
    /// "(未設定)").
    pub fn group_tally_by_area(&self) -> BTreeMap<String, GroupTally> {
        self.rows_by_area()
            .into_iter()
            .map(|(area, rows)| (area, GroupTally::of(rows.into_iter())))
            .collect()
    }

    fn rows_by_area(&self) -> BTreeMap<String, Vec<&MunicipalityRow>> {
        let mut groups: BTreeMap<String, Vec<&MunicipalityRow>> = BTreeMap::new();
        for row in &self.rows {
            let area = row
                .area
                .clone()
                .unwrap_or_else(|| crate::regions::NO_REGION.to_owned());
            groups.entry(area).or_default().push(row);
        }
        groups
    }
}

/// Counts of each answer per statutory group (一〜四, from FY2020) over the n municipalities
/// that answered: a municipality's group answer is the best of its items'
/// ([`StatutoryGroup::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupTally {
    /// The municipalities that answered.
    pub n: u32,
    /// `counts[group][status]`, in the orders of [`StatutoryGroup::ALL`] and
    /// [`SurveyStatus::ALL`].
    pub counts: [[u32; 3]; 4],
}

impl GroupTally {
    /// Counts the group answers of `rows`; a row that did not answer is left out, as in [`Tally`].
    pub fn of<'a>(rows: impl Iterator<Item = &'a MunicipalityRow>) -> Self {
        let mut tally = GroupTally::default();
        for row in rows.filter(|r| r.answered()) {
            tally.n += 1;
            for (g, group) in StatutoryGroup::ALL.iter().enumerate() {
                tally.counts[g][group.status(&row.statuses).index()] += 1;
            }
        }
        tally
    }

    pub fn count(&self, group: StatutoryGroup, status: SurveyStatus) -> u32 {
        self.counts[group as usize][status.index()]
    }

    /// Returns the percentage of n in tenths of a percent, rounded half up.
    pub fn percent_tenths(&self, group: StatutoryGroup, status: SurveyStatus) -> u32 {
        percent_tenths(self.count(group, status), self.n)
    }
}

/// Why a survey could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SurveyError {
    #[error("municipality {0} appears twice in the survey")]
    DuplicateMunicipality(MunicipalityCode),
    #[error("as-of date {as_of} lies outside {fiscal_year}")]
    AsOfOutsideYear {
        as_of: NaiveDate,
        fiscal_year: String,
    },
    /// A submitted tally counts answers of one survey date (基準日) only.
    #[error(
        "municipality {municipality}'s approved answers are as of {survey_date}, not {as_of}: a submitted tally counts the answers of one survey date; ask for as_of {survey_date}"
    )]
    MixedSurveyDates {
        municipality: MunicipalityCode,
        survey_date: NaiveDate,
        as_of: NaiveDate,
    },
}

/// Counts of each answer per item over the n municipalities that answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    /// The municipalities that answered.
    pub n: u32,
    /// The municipalities that did not (未回答), counted apart from n.
    #[serde(default)]
    pub unanswered: u32,
    /// `counts[item][status]`, in the orders of [`Item::ALL`] and [`SurveyStatus::ALL`].
    pub counts: [[u32; 3]; 8],
}

impl Tally {
    /// Counts the answers of `rows`; a row that did not answer counts as 未回答 only.
    pub fn of<'a>(rows: impl Iterator<Item = &'a MunicipalityRow>) -> Self {
        let mut tally = Tally::default();
        for row in rows {
            if !row.answered() {
                tally.unanswered += 1;
                continue;
            }
            tally.n += 1;
            for item in Item::ALL {
                tally.counts[item.index()][row.status(item).index()] += 1;
            }
        }
        tally
    }

    pub fn count(&self, item: Item, status: SurveyStatus) -> u32 {
        self.counts[item.index()][status.index()]
    }

    /// Returns the percentage of n in tenths of a percent, rounded half up (38.5% → 385).
    pub fn percent_tenths(&self, item: Item, status: SurveyStatus) -> u32 {
        percent_tenths(self.count(item, status), self.n)
    }
}

/// Returns `count / n` as a percentage in tenths, rounded half up: 671 of 1,741 → 385 (38.5%).
/// Integer arithmetic, so that a .x5 boundary is never lost to floating point.
pub fn percent_tenths(count: u32, n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    let (count, n) = (u64::from(count), u64::from(n));
    ((count * 2000 + n) / (2 * n)) as u32
}

/// Formats tenths of a percent with one decimal: 385 → "38.5".
pub fn format_tenths(tenths: u32) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_half_up_at_the_boundary() {
        // 1/8 = 12.5% exactly; 1/16 = 6.25% → 6.3; 1/80 = 1.25% → 1.3; 1/400 = 0.25% → 0.3.
        assert_eq!(percent_tenths(1, 8), 125);
        assert_eq!(percent_tenths(1, 16), 63);
        assert_eq!(percent_tenths(1, 80), 13);
        assert_eq!(percent_tenths(1, 400), 3);
        // Just below a boundary stays down: 1/401 = 0.2493…% → 0.2.
        assert_eq!(percent_tenths(1, 401), 2);
        // The published table.
        assert_eq!(format_tenths(percent_tenths(671, 1741)), "38.5");
        assert_eq!(format_tenths(percent_tenths(79, 1741)), "4.5");
        assert_eq!(format_tenths(percent_tenths(1282, 1741)), "73.6");
        assert_eq!(percent_tenths(0, 0), 0);
    }

    #[test]
    fn a_survey_refuses_a_duplicate_and_an_as_of_outside_the_year() {
        let code: MunicipalityCode = "162019".parse().unwrap();
        let fy = FiscalYear::new(2024).unwrap();
        let date = NaiveDate::from_ymd_opt(2024, 8, 1).unwrap();
        let row = MunicipalityRow::unreported(code, "富山市", None);
        let source = Source::Prefecture(code.prefecture());
        assert_eq!(
            Survey::new(fy, date, source, vec![row.clone(), row.clone()]),
            Err(SurveyError::DuplicateMunicipality(code))
        );
        let next_year = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
        assert!(matches!(
            Survey::new(fy, next_year, source, vec![row]),
            Err(SurveyError::AsOfOutsideYear { .. })
        ));
    }
}
