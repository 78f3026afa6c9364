//! [`ProgrammeEvent`]: every event of every programme aggregate, and how it is stored: the event
//! type is the variant's name (past tense), the payload is JSON, the schema version is
//! [`SCHEMA_VERSION`].

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::arrangements::ArrangementEvent;
use super::awareness::AwarenessEvent;
use super::consultation::ConsultationEvent;
use super::meetings::MeetingEvent;
use super::plan::PlanEvent;
use super::resources::ResourceEvent;
use super::tools::ToolEvent;
use super::trainings::TrainingEvent;
use super::values::{CareScene, Item};
use super::wide_area::WideAreaEvent;

/// The schema version of every programme event payload written by this code.
pub const SCHEMA_VERSION: u32 = 1;

/// An event of one of the programme's aggregates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgrammeEvent {
    Resources(ResourceEvent),
    Meetings(MeetingEvent),
    Arrangements(ArrangementEvent),
    Tools(ToolEvent),
    Consultation(ConsultationEvent),
    Trainings(TrainingEvent),
    Awareness(AwarenessEvent),
    WideArea(WideAreaEvent),
    Plan(PlanEvent),
}

/// Returns the name of an externally tagged serde enum value (its variant's name).
fn variant_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map.keys().next().cloned().unwrap_or_default(),
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

impl ProgrammeEvent {
    /// Returns the event type stored beside the payload, e.g. `ConsultationDeskOpened`.
    pub fn event_type(&self) -> String {
        match self {
            ProgrammeEvent::Resources(e) => variant_name(e),
            ProgrammeEvent::Meetings(e) => variant_name(e),
            ProgrammeEvent::Arrangements(e) => variant_name(e),
            ProgrammeEvent::Tools(e) => variant_name(e),
            ProgrammeEvent::Consultation(e) => variant_name(e),
            ProgrammeEvent::Trainings(e) => variant_name(e),
            ProgrammeEvent::Awareness(e) => variant_name(e),
            ProgrammeEvent::WideArea(e) => variant_name(e),
            ProgrammeEvent::Plan(e) => variant_name(e),
        }
    }

    /// Returns the stored payload (JSON).
    pub fn to_payload(&self) -> Vec<u8> {
        // Every field is a string, number, bool, date or list of them: serialisation cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a stored payload back; `None` if it is not a programme event of a known schema.
    pub fn from_payload(schema_version: u32, payload: &[u8]) -> Option<Self> {
        if schema_version != SCHEMA_VERSION {
            return None;
        }
        serde_json::from_slice(payload).ok()
    }

    /// Returns the item (ア–ク) whose register the event belongs to; `None` for the annual plan,
    /// which spans the items.
    pub fn item(&self) -> Option<Item> {
        use ProgrammeEvent as P;
        Some(match self {
            P::Resources(_) => Item::A,
            P::Meetings(_) => Item::I,
            P::Arrangements(_) => Item::U,
            P::Tools(_) => Item::E,
            P::Consultation(_) => Item::O,
            P::Trainings(_) => Item::Ka,
            P::Awareness(_) => Item::Ki,
            P::WideArea(_) => Item::Ku,
            P::Plan(_) => return None,
        })
    }

    /// Returns the care scenes (場面) the recorded activity says it served; empty for events
    /// that carry none.
    pub fn scenes(&self) -> &[CareScene] {
        use ProgrammeEvent as P;
        match self {
            P::Meetings(
                MeetingEvent::MeetingHeld { scenes, .. }
                | MeetingEvent::FindingRecorded { scenes, .. }
                | MeetingEvent::WorkingGroupFormed { scenes, .. },
            )
            | P::Tools(ToolEvent::ToolAdopted { scenes, .. })
            | P::Arrangements(ArrangementEvent::ArrangementEstablished { scenes, .. })
            | P::Consultation(ConsultationEvent::ConsultationCaseOpened { scenes, .. })
            | P::Trainings(TrainingEvent::TrainingHeld { scenes, .. })
            | P::Awareness(AwarenessEvent::AwarenessActivityRecorded { scenes, .. })
            | P::Plan(PlanEvent::ActivityScheduled { scenes, .. }) => scenes,
            _ => &[],
        }
    }

    /// Returns the business date the event is about (when it happened, JST).
    pub fn occurred_on(&self) -> NaiveDate {
        use ProgrammeEvent as P;
        match self {
            P::Resources(e) => match e {
                ResourceEvent::ResourceRegistered { on, .. }
                | ResourceEvent::ResourceUpdated { on, .. }
                | ResourceEvent::ResourceWithdrawn { on, .. }
                | ResourceEvent::ResourceSurveyConducted { on, .. }
                | ResourceEvent::ResourceListPublished { on, .. } => *on,
            },
            P::Meetings(e) => match e {
                MeetingEvent::MeetingHeld { on, .. }
                | MeetingEvent::FindingRecorded { on, .. }
                | MeetingEvent::WorkingGroupFormed { on, .. } => *on,
            },
            P::Arrangements(e) => match e {
                ArrangementEvent::ArrangementEstablished { first_day, .. } => *first_day,
                ArrangementEvent::ArrangementEnded { last_day, .. } => *last_day,
            },
            P::Tools(e) => match e {
                ToolEvent::ToolAdopted { on, .. } | ToolEvent::ToolRevised { on, .. } => *on,
                ToolEvent::ToolRetired { last_day, .. } => *last_day,
            },
            P::Consultation(e) => match e {
                ConsultationEvent::ConsultationDeskOpened { on, .. }
                | ConsultationEvent::ConsultationCaseOpened { on, .. }
                | ConsultationEvent::ConsultationActionRecorded { on, .. }
                | ConsultationEvent::ConsultationCaseClosed { on, .. }
                | ConsultationEvent::DataSubjectErased { on, .. } => *on,
                ConsultationEvent::ConsultationDeskClosed { last_day, .. } => *last_day,
            },
            P::Trainings(e) => match e {
                TrainingEvent::TrainingHeld { on, .. }
                | TrainingEvent::TrainingEvaluated { on, .. } => *on,
            },
            P::Awareness(AwarenessEvent::AwarenessActivityRecorded { on, .. }) => *on,
            P::WideArea(e) => match e {
                WideAreaEvent::WideAreaMeetingAttended { on, .. }
                | WideAreaEvent::UnifiedFormAdopted { on, .. } => *on,
                WideAreaEvent::LiaisonAgreementJoined { first_day, .. } => *first_day,
                WideAreaEvent::UnifiedFormWithdrawn { last_day, .. }
                | WideAreaEvent::LiaisonAgreementLeft { last_day, .. } => *last_day,
            },
            P::Plan(e) => match e {
                PlanEvent::ActivityScheduled { planned_on, .. } => *planned_on,
                PlanEvent::ActivityCancelled { on, .. }
                | PlanEvent::MeasurementRecorded { on, .. } => *on,
                PlanEvent::IndicatorDefined { fiscal_year, .. } => fiscal_year.first_day(),
                PlanEvent::SceneGoalSet { set_on, .. } => *set_on,
                PlanEvent::EvaluationRecorded { on, .. }
                | PlanEvent::ImprovementDecided { on, .. } => *on,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resources::tests::d;
    use crate::domain::values::ActivityId;

    #[test]
    fn round_trips_with_a_past_tense_type_name() {
        let e = ProgrammeEvent::Awareness(AwarenessEvent::AwarenessActivityRecorded {
            id: ActivityId::parse("id", "k1").unwrap(),
            kind: crate::domain::awareness::AwarenessKind::Lecture,
            title: "講演会".into(),
            audience: "住民".into(),
            on: d(2024, 10, 5),
            attendance: Some(80),
            copies: None,
            scenes: vec![],
        });
        assert_eq!(e.event_type(), "AwarenessActivityRecorded");
        assert_eq!(
            ProgrammeEvent::from_payload(1, &e.to_payload()),
            Some(e.clone())
        );
        assert_eq!(ProgrammeEvent::from_payload(2, &e.to_payload()), None);
        assert_eq!(e.occurred_on(), d(2024, 10, 5));
    }
}
