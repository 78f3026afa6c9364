//! The prefecture's own support of its municipalities (都道府県による市町村支援): since the
//! 令和2年 revision of the guide (手引き Ver.3) the prefecture — itself or through its 保健所 —
//! supports the municipalities' 在宅医療・介護連携推進事業, and records what it did. This module
//! is the rulebook of that record:
//!
//! - a support activity (支援活動) has an id ([`SupportActivityId`]), a day, a category
//!   ([`SupportCategory`]), a title, an optional note and the municipalities it supported — one
//!   or more, each a municipality of this prefecture on the official list;
//! - the categories are the guide's (seed `002_…`, 都道府県の取組み): 情報発信・研修会, 他市町村の
//!   取組事例の横展開, データの分析・活用支援, 人材育成, and 関係市町村等の連携 in one of its three
//!   kinds ([`LiaisonKind`]): 広域連携, 関係団体との調整, 入退院時の医療機関職員と介護支援専門員の連携;
//! - an id is recorded once: the same id again with the same content is the same record (answered
//!   with it, nothing changes), with other content it is refused ([`SupportRefusal::IdTaken`]);
//! - a fiscal year's picture ([`SupportLog::year`]): its activities by day, the count per
//!   category, the activities per municipality, and the municipalities of the prefecture that
//!   received no support in the year — what an officer plans the next year's support from.
//!
//! Pure: no I/O. The state machine persists what [`SupportLog::decide`] accepts, the application
//! layer (`application/support.rs`) reads requests into [`SupportActivity`] with
//! [`SupportActivity::from_request`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate};
use renkei_proto::{FiscalYear, MunicipalityCode, PrefectureCode, official, v1};
use serde::{Deserialize, Serialize};

/// The longest activity id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// The longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// Why a support activity cannot be recorded as given. Each variant names the field and the
/// value; [`SupportError::field`] gives the field alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupportError {
    /// The id is empty, too long or has characters other than `A-Z a-z 0-9 - _ .`.
    #[error("id {value:?}: must be 1-{MAX_ID_LEN} characters of A-Z a-z 0-9 - _ .")]
    Id { value: String },
    /// The day is not a date `YYYY-MM-DD`.
    #[error("on {value:?}: not a date YYYY-MM-DD")]
    NotADate { value: String },
    /// The day is in no fiscal year renkei knows (平成元年度 to 2199年度).
    #[error("on {value}: outside every fiscal year ({}-04-01 to {}-03-31)", FiscalYear::MIN, FiscalYear::MAX + 1)]
    OutsideFiscalYears { value: NaiveDate },
    /// The category is not one of the vocabulary's codes.
    #[error("category {value:?}: must be one of {}", SupportCategory::CODES.join(", "))]
    UnknownCategory { value: String },
    /// A liaison activity without its kind, or with a kind that is not one of the three.
    #[error("liaison_kind {value:?}: a liaison activity needs one of {}", LiaisonKind::CODES.join(", "))]
    UnknownLiaisonKind { value: String },
    /// A kind of liaison given for a category that is not liaison.
    #[error("liaison_kind {value:?}: only category liaison has a kind (category is {category})")]
    LiaisonKindWithoutLiaison {
        value: String,
        category: &'static str,
    },
    /// The title is empty (blank) or longer than [`MAX_TITLE_CHARS`].
    #[error("title {value:?}: must be 1-{MAX_TITLE_CHARS} characters")]
    Title { value: String },
    /// The note is longer than [`MAX_NOTE_CHARS`].
    #[error("note of {chars} characters: at most {MAX_NOTE_CHARS}")]
    NoteTooLong { chars: usize },
    /// No municipality is named.
    #[error("municipalities is empty: an activity supports at least one municipality")]
    NoMunicipalities,
    /// A municipality that is not a valid code, or not on the official list.
    #[error("municipalities: {value:?} is not a municipality on the official list")]
    UnknownMunicipality { value: String },
    /// A municipality of another prefecture.
    #[error("municipalities: {value} ({name}) is not a municipality of prefecture {prefecture}")]
    OutsidePrefecture {
        value: MunicipalityCode,
        name: &'static str,
        prefecture: PrefectureCode,
    },
}

impl SupportError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            SupportError::Id { .. } => "id",
            SupportError::NotADate { .. } | SupportError::OutsideFiscalYears { .. } => "on",
            SupportError::UnknownCategory { .. } => "category",
            SupportError::UnknownLiaisonKind { .. }
            | SupportError::LiaisonKindWithoutLiaison { .. } => "liaison_kind",
            SupportError::Title { .. } => "title",
            SupportError::NoteTooLong { .. } => "note",
            SupportError::NoMunicipalities
            | SupportError::UnknownMunicipality { .. }
            | SupportError::OutsidePrefecture { .. } => "municipalities",
        }
    }
}

/// Why the state machine refused to record an activity. It is the command's response, stored
/// under its request id, so a retry gets the same refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SupportRefusal {
    /// The id is recorded already, with other content.
    #[error("support activity {id} was recorded with other content ({on}, {title:?})")]
    IdTaken {
        id: SupportActivityId,
        on: NaiveDate,
        title: String,
    },
}

/// The id of a support activity (支援活動ID), chosen by the officer (e.g. `s-2024-05-training`):
/// 1–[`MAX_ID_LEN`] characters of ASCII letters, digits and `-_.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SupportActivityId(String);

impl SupportActivityId {
    /// Validates an id.
    pub fn parse(value: &str) -> Result<Self, SupportError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
        if value.is_empty() || value.len() > MAX_ID_LEN || !value.chars().all(ok_char) {
            return Err(SupportError::Id {
                value: value.to_owned(),
            });
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SupportActivityId {
    type Error = SupportError;

    fn try_from(value: String) -> Result<Self, SupportError> {
        Self::parse(&value)
    }
}

impl From<SupportActivityId> for String {
    fn from(id: SupportActivityId) -> String {
        id.0
    }
}

impl fmt::Display for SupportActivityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The three kinds of 関係市町村等の連携 the guide names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LiaisonKind {
    /// 広域連携: matters needing cooperation within or across 二次医療圏.
    WideArea,
    /// 関係団体との調整: coordination with professional bodies (都道府県医師会 and the like).
    ProfessionalBodies,
    /// 入退院時の医療機関職員と介護支援専門員の連携: hospital staff and care managers at admission
    /// and discharge.
    AdmissionDischarge,
}

impl LiaisonKind {
    /// Every kind, in the guide's order.
    pub const ALL: [LiaisonKind; 3] = [
        LiaisonKind::WideArea,
        LiaisonKind::ProfessionalBodies,
        LiaisonKind::AdmissionDischarge,
    ];
    /// The codes of the wire, in the guide's order.
    pub const CODES: [&'static str; 3] =
        ["wide_area", "professional_bodies", "admission_discharge"];

    /// Its code on the wire.
    pub fn code(self) -> &'static str {
        match self {
            LiaisonKind::WideArea => Self::CODES[0],
            LiaisonKind::ProfessionalBodies => Self::CODES[1],
            LiaisonKind::AdmissionDischarge => Self::CODES[2],
        }
    }

    /// Its name in the guide.
    pub fn label(self) -> &'static str {
        match self {
            LiaisonKind::WideArea => "広域連携",
            LiaisonKind::ProfessionalBodies => "関係団体との調整",
            LiaisonKind::AdmissionDischarge => "入退院時の医療機関職員と介護支援専門員の連携",
        }
    }

    /// The kind a code names.
    pub fn from_code(code: &str) -> Option<LiaisonKind> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// What kind of support an activity was: the prefecture's support categories of the guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SupportCategory {
    /// 情報発信・研修会: information and training sessions for the municipalities.
    InformationAndTraining,
    /// 他市町村の取組事例の横展開: spreading other municipalities' practice.
    PracticeSpreading,
    /// データの分析・活用支援: help analysing and using data.
    DataAnalysis,
    /// 人材育成: training the people who run the programme (在宅医療・介護連携コーディネーター).
    HumanResources,
    /// 関係市町村等の連携: liaison, of one of three kinds.
    Liaison(LiaisonKind),
}

impl SupportCategory {
    /// Every category, a liaison once per kind, in the guide's order: the rows of the counts.
    pub const ALL: [SupportCategory; 7] = [
        SupportCategory::InformationAndTraining,
        SupportCategory::PracticeSpreading,
        SupportCategory::DataAnalysis,
        SupportCategory::HumanResources,
        SupportCategory::Liaison(LiaisonKind::WideArea),
        SupportCategory::Liaison(LiaisonKind::ProfessionalBodies),
        SupportCategory::Liaison(LiaisonKind::AdmissionDischarge),
    ];
    /// The category codes of the wire (a liaison's kind is a field of its own).
    pub const CODES: [&'static str; 5] = [
        "information_and_training",
        "practice_spreading",
        "data_analysis",
        "human_resources",
        "liaison",
    ];

    /// Its category code on the wire.
    pub fn code(self) -> &'static str {
        match self {
            SupportCategory::InformationAndTraining => Self::CODES[0],
            SupportCategory::PracticeSpreading => Self::CODES[1],
            SupportCategory::DataAnalysis => Self::CODES[2],
            SupportCategory::HumanResources => Self::CODES[3],
            SupportCategory::Liaison(_) => Self::CODES[4],
        }
    }

    /// The kind of liaison, for a liaison.
    pub fn liaison_kind(self) -> Option<LiaisonKind> {
        match self {
            SupportCategory::Liaison(kind) => Some(kind),
            _ => None,
        }
    }

    /// Its name in the guide; a liaison's with its kind (関係市町村等の連携（広域連携）).
    pub fn label(self) -> String {
        match self {
            SupportCategory::InformationAndTraining => "情報発信・研修会".to_owned(),
            SupportCategory::PracticeSpreading => "他市町村の取組事例の横展開".to_owned(),
            SupportCategory::DataAnalysis => "データの分析・活用支援".to_owned(),
            SupportCategory::HumanResources => {
                "人材育成（在宅医療・介護連携コーディネーター等）".to_owned()
            }
            SupportCategory::Liaison(kind) => format!("関係市町村等の連携（{}）", kind.label()),
        }
    }

    /// Reads a category code and, for a liaison, its kind (empty for the other categories).
    pub fn parse(category: &str, liaison_kind: &str) -> Result<Self, SupportError> {
        let plain = match category {
            "information_and_training" => SupportCategory::InformationAndTraining,
            "practice_spreading" => SupportCategory::PracticeSpreading,
            "data_analysis" => SupportCategory::DataAnalysis,
            "human_resources" => SupportCategory::HumanResources,
            "liaison" => {
                return LiaisonKind::from_code(liaison_kind)
                    .map(SupportCategory::Liaison)
                    .ok_or_else(|| SupportError::UnknownLiaisonKind {
                        value: liaison_kind.to_owned(),
                    });
            }
            other => {
                return Err(SupportError::UnknownCategory {
                    value: other.to_owned(),
                });
            }
        };
        if !liaison_kind.is_empty() {
            return Err(SupportError::LiaisonKindWithoutLiaison {
                value: liaison_kind.to_owned(),
                category: plain.code(),
            });
        }
        Ok(plain)
    }
}

/// A support activity of the prefecture, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportActivity {
    pub id: SupportActivityId,
    /// The day it took place (in a fiscal year: checked when it was read).
    pub on: NaiveDate,
    pub category: SupportCategory,
    pub title: String,
    pub note: Option<String>,
    /// The municipalities it supported: one or more, of the prefecture, in code order, once each.
    pub municipalities: Vec<MunicipalityCode>,
    /// Who recorded it (the caller's name).
    pub recorded_by: String,
    /// When the leader proposed it (ms since the epoch).
    pub recorded_at_ms: i64,
}

impl SupportActivity {
    /// Reads a `RecordSupportActivity` request into an activity of `prefecture`, recorded by
    /// `recorded_by` at `recorded_at_ms`; refuses the first field that is not valid.
    pub fn from_request(
        request: &v1::RecordSupportActivityRequest,
        prefecture: PrefectureCode,
        recorded_by: &str,
        recorded_at_ms: i64,
    ) -> Result<Self, SupportError> {
        let id = SupportActivityId::parse(request.id.trim())?;
        let on = NaiveDate::parse_from_str(request.on.trim(), "%Y-%m-%d").map_err(|_| {
            SupportError::NotADate {
                value: request.on.clone(),
            }
        })?;
        if FiscalYear::containing(on).is_err() {
            return Err(SupportError::OutsideFiscalYears { value: on });
        }
        let category =
            SupportCategory::parse(request.category.trim(), request.liaison_kind.trim())?;
        let title = request.title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(SupportError::Title {
                value: request.title.clone(),
            });
        }
        let note = request.note.trim();
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(SupportError::NoteTooLong {
                chars: note.chars().count(),
            });
        }
        let municipalities = municipalities_of(&request.municipalities, prefecture)?;
        Ok(Self {
            id,
            on,
            category,
            title: title.to_owned(),
            note: (!note.is_empty()).then(|| note.to_owned()),
            municipalities,
            recorded_by: recorded_by.to_owned(),
            recorded_at_ms,
        })
    }

    /// The fiscal year it falls in.
    pub fn fiscal_year(&self) -> FiscalYear {
        // `on` was checked to be in a fiscal year when the activity was read (`from_request`),
        // and stored activities are only ever ones that were read so.
        FiscalYear::containing(self.on).expect("an activity's day is in a fiscal year")
    }

    /// Whether `other` records the same activity: everything but who recorded it and when.
    pub fn same_content(&self, other: &SupportActivity) -> bool {
        self.id == other.id
            && self.on == other.on
            && self.category == other.category
            && self.title == other.title
            && self.note == other.note
            && self.municipalities == other.municipalities
    }

    /// Its wire form (`renkei.v1.SupportActivityView`).
    pub fn view(&self) -> v1::SupportActivityView {
        v1::SupportActivityView {
            id: self.id.to_string(),
            on: self.on.format("%Y-%m-%d").to_string(),
            fiscal_year: i32::from(self.fiscal_year().year()),
            category: self.category.code().to_owned(),
            liaison_kind: self
                .category
                .liaison_kind()
                .map_or_else(String::new, |k| k.code().to_owned()),
            category_label: self.category.label(),
            title: self.title.clone(),
            note: self.note.clone().unwrap_or_default(),
            municipalities: self.municipalities.iter().map(|m| m.to_string()).collect(),
            recorded_by: self.recorded_by.clone(),
            recorded_at: DateTime::from_timestamp_millis(self.recorded_at_ms)
                .map(renkei_proto::convert::utc_to_timestamp),
        }
    }
}

/// Reads the supported municipalities: at least one, each a municipality of `prefecture` on the
/// official list; in code order, once each.
fn municipalities_of(
    given: &[String],
    prefecture: PrefectureCode,
) -> Result<Vec<MunicipalityCode>, SupportError> {
    let given: Vec<&str> = given
        .iter()
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
        .collect();
    if given.is_empty() {
        return Err(SupportError::NoMunicipalities);
    }
    let mut codes = BTreeSet::new();
    for text in given {
        let known = text
            .parse::<MunicipalityCode>()
            .ok()
            .and_then(official::municipality)
            .ok_or_else(|| SupportError::UnknownMunicipality {
                value: text.to_owned(),
            })?;
        if known.code.prefecture() != prefecture {
            return Err(SupportError::OutsidePrefecture {
                value: known.code,
                name: known.name,
                prefecture,
            });
        }
        codes.insert(known.code);
    }
    Ok(codes.into_iter().collect())
}

/// What recording an activity comes to, when it is not refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recording {
    /// A new activity: the state machine stores it.
    New,
    /// The same activity was recorded already (another request with the same content): nothing
    /// changes, the recorded one is the answer.
    AlreadyRecorded(SupportActivity),
}

/// The support activities recorded so far, by id: the state the decisions are taken on and the
/// views are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupportLog {
    activities: BTreeMap<SupportActivityId, SupportActivity>,
}

impl SupportLog {
    /// Decides whether `activity` may be recorded: a new id may; an id recorded with the same
    /// content is that record; an id recorded with other content is refused.
    pub fn decide(&self, activity: &SupportActivity) -> Result<Recording, SupportRefusal> {
        match self.activities.get(&activity.id) {
            None => Ok(Recording::New),
            Some(recorded) if recorded.same_content(activity) => {
                Ok(Recording::AlreadyRecorded(recorded.clone()))
            }
            Some(recorded) => Err(SupportRefusal::IdTaken {
                id: recorded.id.clone(),
                on: recorded.on,
                title: recorded.title.clone(),
            }),
        }
    }

    /// Takes in an activity [`SupportLog::decide`] accepted as new (or one read back from the
    /// store).
    pub fn apply(&mut self, activity: SupportActivity) {
        self.activities.insert(activity.id.clone(), activity);
    }

    /// The activity with `id`, if recorded.
    pub fn get(&self, id: &SupportActivityId) -> Option<&SupportActivity> {
        self.activities.get(id)
    }

    /// The picture of fiscal year `fy` for a prefecture whose municipalities are `roster`.
    pub fn year(&self, fy: FiscalYear, roster: &[MunicipalityCode]) -> SupportYear<'_> {
        let mut activities: Vec<&SupportActivity> = self
            .activities
            .values()
            .filter(|a| fy.contains(a.on))
            .collect();
        activities.sort_by(|a, b| (a.on, &a.id).cmp(&(b.on, &b.id)));
        let categories = SupportCategory::ALL
            .into_iter()
            .map(|c| (c, activities.iter().filter(|a| a.category == c).count()))
            .collect();
        let mut by_municipality: BTreeMap<MunicipalityCode, Vec<&SupportActivityId>> =
            roster.iter().map(|m| (*m, Vec::new())).collect();
        for activity in &activities {
            for m in &activity.municipalities {
                by_municipality.entry(*m).or_default().push(&activity.id);
            }
        }
        let unsupported = by_municipality
            .iter()
            .filter(|(_, ids)| ids.is_empty())
            .map(|(m, _)| *m)
            .collect();
        SupportYear {
            fiscal_year: fy,
            activities,
            categories,
            by_municipality: by_municipality.into_iter().collect(),
            unsupported,
        }
    }
}

/// A fiscal year of the prefecture's support (the view an officer plans the next year from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportYear<'a> {
    pub fiscal_year: FiscalYear,
    /// The year's activities by day (then id).
    pub activities: Vec<&'a SupportActivity>,
    /// Every category (a liaison once per kind) with the number of the year's activities.
    pub categories: Vec<(SupportCategory, usize)>,
    /// Every municipality of the prefecture (and any other an activity named), in code order,
    /// with the ids of the year's activities that supported it, by day.
    pub by_municipality: Vec<(MunicipalityCode, Vec<&'a SupportActivityId>)>,
    /// The municipalities that received no support in the year, in code order (支援のなかった
    /// 市町村).
    pub unsupported: Vec<MunicipalityCode>,
}

impl SupportYear<'_> {
    /// Its wire form (`renkei.v1.SupportView`); `applied_index`: the log position it reflects.
    pub fn view(&self, applied_index: u64) -> v1::SupportView {
        let name = |m: &MunicipalityCode| official::municipality(*m).map_or("", |e| e.name);
        v1::SupportView {
            fiscal_year: i32::from(self.fiscal_year.year()),
            activities: self.activities.iter().map(|a| a.view()).collect(),
            categories: self
                .categories
                .iter()
                .map(|(c, n)| v1::SupportCategoryCount {
                    category: c.code().to_owned(),
                    liaison_kind: c
                        .liaison_kind()
                        .map_or_else(String::new, |k| k.code().to_owned()),
                    label: c.label(),
                    activities: *n as u32,
                })
                .collect(),
            municipalities: self
                .by_municipality
                .iter()
                .map(|(m, ids)| v1::MunicipalitySupport {
                    municipality: m.to_string(),
                    name: name(m).to_owned(),
                    activity_ids: ids.iter().map(|id| id.to_string()).collect(),
                })
                .collect(),
            unsupported: self.unsupported.iter().map(|m| m.to_string()).collect(),
            applied_index,
        }
    }
}

#[cfg(test)]
mod tests;
