//! Facts (公表事実): what one recorded programme event tells the prefecture. The outbox projection
//! ([`crate::sync`]) numbers them per municipality and the sync client pushes them.
//!
//! A fact never carries a person's data. Consultation cases give only their month, referrer,
//! topic and scenes — never the subject, the sealed details or any free text; resources are
//! institutions (hospitals and 在宅療養支援 clinics) without their professional contact. The
//! `facts_never_carry_personal_data` test checks this for every event kind.

use chrono::NaiveDate;
use renkei_proto::v1::{
    ConsultationTally, CountOf, CycleFact, EvaluationFact, FactKind, GoalFact, ImprovementFact,
    IndicatorFact, LiaisonAgreementChange, MeasurementFact, MeetingTally, ResourceFact,
    SceneActivity, TrainingTally, UnifiedFormChange, WideAreaAction, WideAreaActionKind,
    WideAreaMeetingAttended, cycle_fact,
};

use super::ProgrammeEvent;
use super::consultation::ConsultationEvent;
use super::meetings::MeetingEvent;
use super::plan::PlanEvent;
use super::resources::{OfficialCode, ResourceDetails, ResourceEvent, ResourceKind};
use super::status::evidence;
use super::trainings::TrainingEvent;
use super::values::Count;
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
        P::Plan(e) => out.extend(cycle_fact(e).map(FactKind::Cycle)),
        _ => {}
    }
    out.extend(scene_activity(event).map(FactKind::SceneActivity));
    out
}

/// The activity an event records toward care scenes, for the per-scene views; `None` for events
/// that carry no scene and for plans (planned is not done).
pub fn scene_activity(event: &ProgrammeEvent) -> Option<SceneActivity> {
    let item = event.item()?;
    let scenes = event.scenes();
    if scenes.is_empty() {
        return None;
    }
    Some(SceneActivity {
        month: event.occurred_on().format("%Y-%m").to_string(),
        item: item.code().to_owned(),
        kind: event.event_type(),
        scenes: scenes.iter().map(|s| s.code().to_owned()).collect(),
    })
}

/// The cycle fact a plan event yields: goals, indicators, measurements, evaluations and
/// improvements are published as recorded; planned activities and cancellations travel as status
/// evidence instead. The node folds the same facts into its own view of the cycle, so both tiers
/// derive the step from one form of the records.
pub fn cycle_fact(event: &PlanEvent) -> Option<CycleFact> {
    use cycle_fact::Kind;
    let year = |fy: &renkei_proto::FiscalYear| i32::from(fy.year());
    let kind = match event {
        PlanEvent::ActivityScheduled { .. } | PlanEvent::ActivityCancelled { .. } => return None,
        PlanEvent::IndicatorDefined {
            fiscal_year,
            id,
            kind,
            name,
            unit,
            target,
            scene,
            baseline,
            ..
        } => Kind::Indicator(IndicatorFact {
            id: id.to_string(),
            fiscal_year: year(fiscal_year),
            kind: kind.code().to_owned(),
            scene: scene.map(|s| s.code().to_owned()).unwrap_or_default(),
            name: name.clone(),
            unit: unit.clone(),
            baseline: *baseline,
            target: *target,
        }),
        PlanEvent::MeasurementRecorded { id, on, value, .. } => {
            Kind::Measurement(MeasurementFact {
                id: id.to_string(),
                on: date(*on),
                value: *value,
            })
        }
        PlanEvent::SceneGoalSet {
            period,
            scene,
            text,
            set_on,
        } => Kind::Goal(GoalFact {
            period: i32::from(period.number()),
            scene: scene.code().to_owned(),
            text: text.clone(),
            set_on: date(*set_on),
        }),
        PlanEvent::EvaluationRecorded {
            fiscal_year,
            scene,
            reached,
            reason,
            improvement,
            on,
        } => Kind::Evaluation(EvaluationFact {
            fiscal_year: year(fiscal_year),
            scene: scene.code().to_owned(),
            reached: *reached,
            reason: reason.clone(),
            improvement: improvement.clone(),
            on: date(*on),
        }),
        PlanEvent::ImprovementDecided {
            fiscal_year,
            scene,
            improvement,
            on,
        } => Kind::Improvement(ImprovementFact {
            fiscal_year: year(fiscal_year),
            scene: scene.code().to_owned(),
            improvement: improvement.clone(),
            on: date(*on),
        }),
    };
    Some(CycleFact { kind: Some(kind) })
}

/// The resource kinds that matter beyond the municipality (see
/// [`renkei_proto::programme::evidence::PUBLISHED_RESOURCE_KINDS`]).
pub fn published_kind(kind: ResourceKind) -> bool {
    renkei_proto::programme::evidence::published_resource_kind(kind.code())
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

pub use renkei_proto::programme::evidence::{EvidenceError, evidence_from_wire, evidence_to_wire};

#[cfg(test)]
mod tests;
