//! The evidence each recorded event gives the status rules, and the board of a municipality fed
//! from its events. The rules themselves — which evidence makes an item 実施している,
//! 年度内に実施予定 or 実施していない — are one definition for both tiers:
//! [`renkei_proto::programme::status`].

use chrono::NaiveDate;
use chrono::{DateTime, Utc};
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

pub use renkei_proto::programme::SurveyStatus;
pub use renkei_proto::programme::status::{EVIDENCE_LISTED, Evidence, ItemStatus, StatusBoard};

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

/// Feeds a [`StatusBoard`] from recorded events.
pub trait RecordEvent {
    /// Takes in an event recorded at `recorded_at`.
    fn record(&mut self, recorded_at: DateTime<Utc>, event: &ProgrammeEvent);
}

impl RecordEvent for StatusBoard {
    fn record(&mut self, recorded_at: DateTime<Utc>, event: &ProgrammeEvent) {
        for f in evidence(event) {
            self.record_evidence(recorded_at, f);
        }
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
        // A move to a new version continues the form's use: no new evidence.
        P::WideArea(WideAreaEvent::UnifiedFormAdopted {
            replaces: Some(_), ..
        }) => vec![],
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

#[cfg(test)]
mod tests;
