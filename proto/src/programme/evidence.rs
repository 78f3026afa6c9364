//! Status evidence as it travels from a node to its prefecture (`StatusEvidence`), written and
//! read back with every field checked: the prefecture applies the same [`super::status`] rules
//! to what it reads.

use chrono::NaiveDate;

use super::Item;
use super::status::Evidence;
use crate::FiscalYear;
use crate::v1::{DatedEvidence, EvidenceKind, InForce, PlannedEvidence, StatusEvidence};

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Writes one piece of status evidence as it travels.
pub fn evidence_to_wire(e: &Evidence) -> StatusEvidence {
    let (key, kind) = match e {
        Evidence::Dated { item, key, on } => (
            key,
            EvidenceKind::Dated(DatedEvidence {
                item: item.code().to_owned(),
                on: date(*on),
            }),
        ),
        Evidence::MeetingHeld { key, on } => (key, EvidenceKind::MeetingHeldOn(date(*on))),
        Evidence::Finding { meeting } => (meeting, EvidenceKind::Finding(true)),
        Evidence::Starts {
            item,
            key,
            first_day,
            last_day,
        } => (
            key,
            EvidenceKind::Starts(InForce {
                item: item.code().to_owned(),
                first_day: date(*first_day),
                last_day: last_day.map(date).unwrap_or_default(),
            }),
        ),
        Evidence::Ends { key, last_day } => (key, EvidenceKind::EndsOn(date(*last_day))),
        Evidence::Planned {
            fiscal_year,
            item,
            key,
            planned_on,
            scheduled_on,
        } => (
            key,
            EvidenceKind::Planned(PlannedEvidence {
                fiscal_year: i32::from(fiscal_year.year()),
                item: item.code().to_owned(),
                planned_on: date(*planned_on),
                scheduled_on: scheduled_on.map(date).unwrap_or_default(),
            }),
        ),
        Evidence::Cancelled { key, on } => (key, EvidenceKind::CancelledOn(date(*on))),
    };
    StatusEvidence {
        key: key.clone(),
        kind: Some(kind),
    }
}

/// Why a piece of evidence from the wire was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("evidence {field} {value:?}: {reason}")]
pub struct EvidenceError {
    pub field: &'static str,
    pub value: String,
    pub reason: &'static str,
}

fn parse_date(field: &'static str, value: &str) -> Result<NaiveDate, EvidenceError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| EvidenceError {
        field,
        value: value.to_owned(),
        reason: "must be a date YYYY-MM-DD",
    })
}

fn parse_item(value: &str) -> Result<Item, EvidenceError> {
    Item::from_text(value).ok_or_else(|| EvidenceError {
        field: "item",
        value: value.to_owned(),
        reason: "must be one of a … h",
    })
}

/// Reads one piece of status evidence from the wire, checking every field.
pub fn evidence_from_wire(e: &StatusEvidence) -> Result<Evidence, EvidenceError> {
    let key = e.key.clone();
    if key.is_empty() || key.len() > 256 {
        return Err(EvidenceError {
            field: "key",
            value: key,
            reason: "must be 1 to 256 bytes",
        });
    }
    let Some(kind) = &e.kind else {
        return Err(EvidenceError {
            field: "kind",
            value: String::new(),
            reason: "must be set",
        });
    };
    Ok(match kind {
        EvidenceKind::Dated(d) => Evidence::Dated {
            item: parse_item(&d.item)?,
            key,
            on: parse_date("on", &d.on)?,
        },
        EvidenceKind::MeetingHeldOn(on) => Evidence::MeetingHeld {
            key,
            on: parse_date("meeting_held_on", on)?,
        },
        EvidenceKind::Finding(_) => Evidence::Finding { meeting: key },
        EvidenceKind::Starts(s) => Evidence::Starts {
            item: parse_item(&s.item)?,
            key,
            first_day: parse_date("first_day", &s.first_day)?,
            last_day: if s.last_day.is_empty() {
                None
            } else {
                Some(parse_date("last_day", &s.last_day)?)
            },
        },
        EvidenceKind::EndsOn(d) => Evidence::Ends {
            key,
            last_day: parse_date("ends_on", d)?,
        },
        EvidenceKind::Planned(p) => Evidence::Planned {
            fiscal_year: FiscalYear::new(i64::from(p.fiscal_year)).map_err(|_| EvidenceError {
                field: "fiscal_year",
                value: p.fiscal_year.to_string(),
                reason: "is not a supported fiscal year",
            })?,
            item: parse_item(&p.item)?,
            key,
            planned_on: parse_date("planned_on", &p.planned_on)?,
            scheduled_on: if p.scheduled_on.is_empty() {
                None
            } else {
                Some(parse_date("scheduled_on", &p.scheduled_on)?)
            },
        },
        EvidenceKind::CancelledOn(d) => Evidence::Cancelled {
            key,
            on: parse_date("cancelled_on", d)?,
        },
    })
}

/// The codes of the resource kinds that matter beyond the municipality: the candidates of the (ク)
/// designations — 在宅医療において積極的役割を担う医療機関 (在宅療養支援病院・診療所) and 在宅医療に
/// 必要な連携を担う拠点 (病院, 診療所, 訪問看護事業所, 地域医師会等関係団体, 保健所, 地域包括支援
/// センター) — and the hospitals of wide-area liaison. A node publishes resources of these kinds
/// only; the prefecture considers only these.
pub const PUBLISHED_RESOURCE_KINDS: [&str; 8] = [
    "hospital",
    "clinic",
    "home_care_support_hospital",
    "home_care_support_clinic",
    "visiting_nursing_station",
    "community_general_support_center",
    "medical_association",
    "health_center",
];

/// True for the code of a resource kind in [`PUBLISHED_RESOURCE_KINDS`].
pub fn published_resource_kind(code: &str) -> bool {
    PUBLISHED_RESOURCE_KINDS.contains(&code)
}
