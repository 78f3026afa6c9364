//! The (ク) half of the survey's application methods: wide-area meetings the prefecture
//! records, the cross-municipal picture (forms, liaison agreements, meetings) and the
//! designation candidates per 圏域. What they show is [`crate::wide_area`]'s.

use chrono::Utc;
use renkei_proto::{official, v1};

use super::{Surveys, date, invalid, year_and_date};
use crate::access::Identity;
use crate::config::Role;
use crate::error::FederationError;
use crate::facts::check_request_id;
use crate::regions::{REGION_KINDS, SECONDARY_MEDICAL_AREA};
use crate::types::{Command, CommandResponse};
use crate::wide_area::WideAreaMeeting;

impl Surveys {
    /// Records a wide-area meeting held by the prefecture or a 保健所
    /// (`RecordWideAreaMeeting`); it counts for its participants' (ク).
    pub async fn record_meeting(
        &self,
        who: Identity,
        request: v1::RecordWideAreaMeetingRequest,
    ) -> Result<v1::WideAreaMeetingView, FederationError> {
        who.check_role(Role::Operator, "record wide-area meetings")?;
        check_request_id(&request.request_id)?;
        if request.id.trim().is_empty() || request.title.trim().is_empty() {
            return Err(invalid("id", "id and title must be given"));
        }
        // The prefecture or a 保健所 holds the meetings it records.
        if !matches!(request.held_by.as_str(), "prefecture" | "health_center") {
            return Err(invalid(
                "held_by",
                format!("{:?} must be prefecture or health_center", request.held_by),
            ));
        }
        let on = date("on", &request.on)?;
        if request.municipalities.is_empty() {
            return Err(invalid("municipalities", "at least one participant"));
        }
        let municipalities = request
            .municipalities
            .iter()
            .map(|m| self.facts().municipality(m))
            .collect::<Result<Vec<_>, _>>()?;
        let meeting = WideAreaMeeting {
            id: request.id,
            title: request.title,
            held_by: request.held_by,
            region: request.region,
            on,
            municipalities,
            recorded_at_ms: Utc::now().timestamp_millis(),
        };
        match self
            .facts()
            .propose(Command::RecordWideAreaMeeting {
                request_id: request.request_id,
                meeting,
            })
            .await?
        {
            CommandResponse::Meeting(m) => Ok(m.view()),
            other => Err(FederationError::FailedPrecondition(format!(
                "unexpected state machine answer {other:?}"
            ))),
        }
    }

    /// The (ク) picture of the prefecture in a fiscal year as of a day (`GetWideArea`, the
    /// console's （ク）広域連携).
    pub async fn wide_area(
        &self,
        who: Identity,
        request: v1::GetWideAreaRequest,
    ) -> Result<v1::WideAreaView, FederationError> {
        who.check_role(Role::Viewer, "read the (ク) items")?;
        let (fy, as_of) = year_and_date(request.fiscal_year, &request.as_of)?;
        self.barrier().await?;
        let n = official::municipalities_of(self.facts().prefecture()).count() as u32;
        Ok(self.read_state(|state| {
            let regions = state.regions(SECONDARY_MEDICAL_AREA, fy);
            state.wide_area().view(regions, n, fy, as_of)
        }))
    }

    /// The designation candidates, liaison bases, decisions and gaps per region of a kind
    /// (二次医療圏 by default) as of a day (`GetDesignations`).
    pub async fn designations(
        &self,
        who: Identity,
        request: v1::GetDesignationsRequest,
    ) -> Result<v1::DesignationsView, FederationError> {
        who.check_role(Role::Viewer, "read designation candidates")?;
        let (fy, as_of) = year_and_date(request.fiscal_year, &request.as_of)?;
        self.barrier().await?;
        self.read_state(|state| {
            let kind = match request.region_kind.as_str() {
                "" => SECONDARY_MEDICAL_AREA,
                kind if REGION_KINDS.iter().any(|(k, _)| *k == kind) => kind,
                kind => {
                    let known: Vec<&str> = REGION_KINDS.iter().map(|(k, _)| *k).collect();
                    return Err(invalid(
                        "region_kind",
                        format!("{kind:?} must be one of {}", known.join(", ")),
                    ));
                }
            };
            let regions = state.regions(kind, fy).ok_or_else(|| {
                invalid(
                    "region_kind",
                    format!("no regions of kind {kind} are set for {}", fy.wareki()),
                )
            })?;
            Ok(v1::DesignationsView {
                areas: state.wide_area().designations_view(regions, as_of),
                region_kind: kind.to_owned(),
            })
        })
    }
}
