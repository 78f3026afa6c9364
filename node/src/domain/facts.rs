//! Facts (公表事実): what one recorded programme event tells the prefecture. The outbox projection
//! ([`crate::sync`]) numbers them per municipality and the sync client pushes them.
//!
//! A fact never carries a person's data. Consultation cases give only their month, referrer,
//! topic and scenes — never the subject, the sealed details or any free text; resources are
//! institutions (hospitals and 在宅療養支援 clinics) without their professional contact. The
//! `facts_never_carry_personal_data` test checks this for every event kind.

use chrono::NaiveDate;
use renkei_proto::FiscalYear;
use renkei_proto::v1::{
    ConsultationTally, CountOf, DatedEvidence, EvidenceKind, FactKind, InForce,
    LiaisonAgreementChange, MeetingTally, PlannedEvidence, ResourceFact, StatusEvidence,
    TrainingTally, UnifiedFormChange, WideAreaAction, WideAreaActionKind, WideAreaMeetingAttended,
};

use super::ProgrammeEvent;
use super::consultation::ConsultationEvent;
use super::meetings::MeetingEvent;
use super::resources::{OfficialCode, ResourceDetails, ResourceEvent, ResourceKind};
use super::status::{Evidence, evidence};
use super::trainings::TrainingEvent;
use super::values::{Count, Item};
use super::wide_area::WideAreaEvent;

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn counts<T: Copy>(list: &[Count<T>], code: impl Fn(T) -> &'static str) -> Vec<CountOf> {
    list.iter()
        .map(|c| CountOf {
            code: code(c.of).to_owned(),
            count: c.count,
        })
        .collect()
}

/// Returns the facts one event yields, in a fixed order (the outbox numbers them in it).
pub fn facts_of(event: &ProgrammeEvent) -> Vec<FactKind> {
    let mut out: Vec<FactKind> = evidence(event)
        .iter()
        .map(|e| FactKind::Evidence(evidence_to_wire(e)))
        .collect();
    use ProgrammeEvent as P;
    match event {
        P::Consultation(ConsultationEvent::ConsultationCaseOpened {
            on,
            referrer,
            topic,
            scenes,
            liaison_agreement,
            // Deliberately not published: `id` names a case, `personal` holds sealed details.
            ..
        }) => out.push(FactKind::Consultation(ConsultationTally {
            month: on.format("%Y-%m").to_string(),
            referrer: referrer.code().to_owned(),
            topic: topic.code().to_owned(),
            scenes: scenes.iter().map(|s| s.code().to_owned()).collect(),
            liaison_agreement: liaison_agreement
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        })),
        P::Trainings(TrainingEvent::TrainingHeld {
            on,
            kind,
            participants,
            ..
        }) => out.push(FactKind::Training(TrainingTally {
            on: date(*on),
            kind: kind.code().to_owned(),
            participants: counts(participants, |p| p.code()),
        })),
        P::Meetings(MeetingEvent::MeetingHeld {
            on,
            kind,
            participants,
            ..
        }) => out.push(FactKind::Meeting(MeetingTally {
            on: date(*on),
            kind: kind.code().to_owned(),
            participants: counts(participants, |p| p.code()),
        })),
        P::Resources(ResourceEvent::ResourceRegistered { id, details, on })
            if published_kind(details.kind) =>
        {
            out.push(FactKind::Resource(resource_fact(
                id.as_str(),
                "registered",
                *on,
                Some(details),
            )));
        }
        P::Resources(ResourceEvent::ResourceUpdated { id, details, on }) => {
            // Published whatever the new kind: a 在宅療養支援診療所 updated to a plain 診療所 (or
            // to any kind) is a change of the prefecture's candidates. The prefecture ignores
            // updates of what it never heard of and is not of a kind it keeps.
            out.push(FactKind::Resource(resource_fact(
                id.as_str(),
                "updated",
                *on,
                Some(details),
            )));
        }
        P::Resources(ResourceEvent::ResourceWithdrawn { id, on }) => {
            // Published even if the resource was not of a published kind: the prefecture ignores
            // withdrawals of what it never heard of.
            out.push(FactKind::Resource(resource_fact(
                id.as_str(),
                "withdrawn",
                *on,
                None,
            )));
        }
        P::WideArea(e) => out.push(FactKind::WideArea(wide_area_action(e))),
        _ => {}
    }
    out
}

/// The resource kinds that matter beyond the municipality: the candidates of the (ク)
/// designations — 在宅医療において積極的役割を担う医療機関 (在宅療養支援病院・診療所) and 在宅医療に
/// 必要な連携を担う拠点 (病院, 診療所, 訪問看護事業所, 地域医師会等関係団体, 保健所, 地域包括支援
/// センター) — and the hospitals of wide-area liaison.
pub fn published_kind(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::Hospital
            | ResourceKind::Clinic
            | ResourceKind::HomeCareSupportHospital
            | ResourceKind::HomeCareSupportClinic
            | ResourceKind::VisitingNursingStation
            | ResourceKind::CommunityGeneralSupportCenter
            | ResourceKind::MedicalAssociation
            | ResourceKind::HealthCenter
    )
}

fn resource_fact(
    id: &str,
    change: &str,
    on: NaiveDate,
    details: Option<&ResourceDetails>,
) -> ResourceFact {
    let mut fact = ResourceFact {
        id: id.to_owned(),
        change: change.to_owned(),
        on: date(on),
        ..ResourceFact::default()
    };
    if let Some(d) = details {
        fact.kind = d.kind.code().to_owned();
        fact.enhanced = d.enhanced;
        fact.name = d.name.clone();
        fact.medical_institution_code = match d.official_code {
            Some(OfficialCode::Medical(code)) => code.as_str().to_owned(),
            _ => String::new(),
        };
        fact.address = d.address.clone();
        fact.capabilities = d.capabilities.iter().map(|c| c.code().to_owned()).collect();
        fact.located_in = d.located_in.map(|m| m.to_string()).unwrap_or_default();
    }
    fact
}

fn wide_area_action(event: &WideAreaEvent) -> WideAreaAction {
    let (id, kind) = match event {
        WideAreaEvent::WideAreaMeetingAttended {
            id,
            title,
            area,
            on,
            ..
        } => (
            id,
            WideAreaActionKind::MeetingAttended(WideAreaMeetingAttended {
                on: date(*on),
                title: title.clone(),
                area: area.clone(),
            }),
        ),
        WideAreaEvent::UnifiedFormAdopted {
            id,
            name,
            version,
            on,
            ..
        } => (
            id,
            WideAreaActionKind::Form(UnifiedFormChange {
                change: "adopted".into(),
                name: name.clone(),
                version: version.clone(),
                on: date(*on),
            }),
        ),
        WideAreaEvent::UnifiedFormWithdrawn { id, last_day } => (
            id,
            WideAreaActionKind::Form(UnifiedFormChange {
                change: "withdrawn".into(),
                on: date(*last_day),
                ..UnifiedFormChange::default()
            }),
        ),
        WideAreaEvent::LiaisonAgreementJoined {
            id,
            hospital,
            rule_version,
            notification_lead_days,
            contact_point,
            first_day,
            last_day,
        } => (
            id,
            WideAreaActionKind::Liaison(LiaisonAgreementChange {
                change: "joined".into(),
                hospital: hospital.clone(),
                rule_version: rule_version.clone(),
                notification_lead_days: *notification_lead_days,
                contact_point: contact_point.clone(),
                on: date(*first_day),
                until: last_day.map(date).unwrap_or_default(),
            }),
        ),
        WideAreaEvent::LiaisonAgreementLeft { id, last_day } => (
            id,
            WideAreaActionKind::Liaison(LiaisonAgreementChange {
                change: "left".into(),
                on: date(*last_day),
                ..LiaisonAgreementChange::default()
            }),
        ),
    };
    WideAreaAction {
        id: id.as_str().to_owned(),
        kind: Some(kind),
    }
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
    super::values::item("item", value).map_err(|_| EvidenceError {
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

#[cfg(test)]
mod tests;
