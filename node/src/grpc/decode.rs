//! Decoding of the `MunicipalProgram` requests into domain commands, shared by the gRPC adapter
//! and the municipal workspace's forms (which fill the same v1 request structs): one function
//! per command, naming the field and value of anything it cannot decode. No business rule lives
//! here; the domain decides.

use chrono::NaiveDate;
use renkei_proto::{FiscalYear, v1};

use crate::domain::DomainError;
use crate::domain::arrangements::{ArrangementCommand, ArrangementKind};
use crate::domain::awareness::{AwarenessCommand, AwarenessKind};
use crate::domain::consultation::{
    CaseAction, ConsultationCommand, DeskHost, PersonalDetails, Referrer, Topic,
};
use crate::domain::meetings::{FindingKind, MeetingCommand, MeetingKind};
use crate::domain::plan::{PlanCommand, indicator_kind, plan_period};
use crate::domain::resources::{
    Audience, Capability, OfficialCode, PublicationFormat, ResourceCommand, ResourceDetails,
    ResourceKind, located_in,
};
use crate::domain::tools::{ToolCommand, ToolKind, manual_from};
use crate::domain::trainings::{TrainingCommand, TrainingKind};
use crate::domain::values::*;
use crate::domain::wide_area::WideAreaCommand;
use crate::programme::{Programme, ProgrammeCommand, ProgrammeError};
use renkei_proto::MunicipalityCode;

pub fn date(field: &str, value: &str) -> Result<NaiveDate, DomainError> {
    business_date(field, value)
}

pub fn opt_date(field: &str, value: &str) -> Result<Option<NaiveDate>, DomainError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        date(field, value).map(Some)
    }
}

pub fn fiscal_year(value: u32) -> Result<FiscalYear, DomainError> {
    FiscalYear::new(i64::from(value))
        .map_err(|e| DomainError::invalid("fiscal_year", value, e.to_string()))
}

pub fn list<T>(
    field: &str,
    values: &[String],
    parse: fn(&str, &str) -> Result<T, DomainError>,
) -> Result<Vec<T>, DomainError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| parse(&format!("{field}[{i}]"), v))
        .collect()
}

pub fn count_list<T>(
    field: &str,
    values: &[v1::ProgramCount],
    parse: fn(&str, &str) -> Result<T, DomainError>,
) -> Result<Vec<Count<T>>, DomainError> {
    values
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(Count {
                of: parse(&format!("{field}[{i}].of"), &c.of)?,
                count: c.count,
            })
        })
        .collect()
}

pub fn opt_id<T>(
    field: &str,
    value: &str,
    parse: fn(&str, &str) -> Result<T, DomainError>,
) -> Result<Option<T>, DomainError> {
    if value.is_empty() {
        Ok(None)
    } else {
        parse(field, value).map(Some)
    }
}

pub fn opt_string(value: String) -> Option<String> {
    (!value.trim().is_empty()).then_some(value)
}

pub fn resource_details(d: Option<v1::ResourceDetails>) -> Result<ResourceDetails, DomainError> {
    let d = d.ok_or_else(|| DomainError::invalid("details", "", "is required"))?;
    let official_code = match (
        d.medical_institution_code.as_str(),
        d.care_provider_number.as_str(),
    ) {
        ("", "") => None,
        (m, "") => Some(OfficialCode::Medical(MedicalInstitutionCode::parse(
            "details.medical_institution_code",
            m,
        )?)),
        ("", c) => Some(OfficialCode::Care(CareProviderNumber::parse(
            "details.care_provider_number",
            c,
        )?)),
        (m, _) => {
            return Err(DomainError::invalid(
                "details.medical_institution_code",
                m,
                "give either a medical institution code or a care provider number",
            ));
        }
    };
    let coordinates = if d.latitude == 0.0 && d.longitude == 0.0 {
        None
    } else {
        Some(Coordinates::new(d.latitude, d.longitude)?)
    };
    Ok(ResourceDetails {
        kind: ResourceKind::parse("details.kind", &d.kind)?,
        enhanced: d.enhanced,
        name: d.name,
        official_code,
        address: d.address,
        coordinates,
        contact: opt_string(d.contact),
        capabilities: list("details.capabilities", &d.capabilities, Capability::parse)?,
        consultation_hours: opt_string(d.consultation_hours),
        listed_for_residents: d.listed_for_residents,
        located_in: located_in("details.located_in", &d.located_in)?,
    })
}

pub fn end_request(r: &v1::ProgramEndRequest) -> Result<NaiveDate, DomainError> {
    date("last_day", &r.last_day)
}

/// Decodes a `register_resource` request into its command.
pub fn register_resource(r: &v1::RegisterResourceRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Resources(ResourceCommand::Register {
        id: ResourceId::parse("id", &r.id)?,
        details: resource_details(r.details.clone())?,
        on: date("on", &r.on)?,
    }))
}

/// Decodes a `update_resource` request into its command.
pub fn update_resource(r: &v1::RegisterResourceRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Resources(ResourceCommand::Update {
        id: ResourceId::parse("id", &r.id)?,
        details: resource_details(r.details.clone())?,
        on: date("on", &r.on)?,
    }))
}

/// Decodes a `withdraw_resource` request into its command.
pub fn withdraw_resource(r: &v1::ProgramEndRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Resources(ResourceCommand::Withdraw {
        id: ResourceId::parse("id", &r.id)?,
        on: end_request(r)?,
    }))
}

/// Decodes a `conduct_resource_survey` request into its command.
pub fn conduct_resource_survey(
    r: &v1::ConductResourceSurveyRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Resources(
        ResourceCommand::ConductSurvey {
            id: SurveyId::parse("id", &r.id)?,
            title: r.title.clone(),
            on: date("on", &r.on)?,
            responses: r.responses,
        },
    ))
}

/// Decodes a `publish_resource_list` request into its command.
pub fn publish_resource_list(
    r: &v1::PublishResourceListRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Resources(ResourceCommand::PublishList {
        id: ListId::parse("id", &r.id)?,
        title: r.title.clone(),
        audience: Audience::parse("audience", &r.audience)?,
        format: PublicationFormat::parse("format", &r.format)?,
        on: date("on", &r.on)?,
    }))
}

/// Decodes a `hold_meeting` request into its command.
pub fn hold_meeting(r: &v1::HoldMeetingRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Meetings(MeetingCommand::Hold {
        id: MeetingId::parse("id", &r.id)?,
        kind: MeetingKind::parse("kind", &r.kind)?,
        title: r.title.clone(),
        on: date("on", &r.on)?,
        participants: count_list("participants", &r.participants, OrganisationType::parse)?,
        scenes: list("scenes", &r.scenes, scene)?,
        working_group: opt_id("working_group", &r.working_group, WorkingGroupId::parse)?,
    }))
}

/// Decodes a `record_finding` request into its command.
pub fn record_finding(r: &v1::RecordFindingRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Meetings(MeetingCommand::RecordFinding {
        meeting: MeetingId::parse("meeting", &r.meeting)?,
        id: FindingId::parse("id", &r.id)?,
        kind: FindingKind::parse("kind", &r.kind)?,
        text: r.text.clone(),
        scenes: list("scenes", &r.scenes, scene)?,
        answers: opt_id("answers", &r.answers, FindingId::parse)?,
    }))
}

/// Decodes a `form_working_group` request into its command.
pub fn form_working_group(
    r: &v1::FormWorkingGroupRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Meetings(
        MeetingCommand::FormWorkingGroup {
            id: WorkingGroupId::parse("id", &r.id)?,
            name: r.name.clone(),
            scenes: list("scenes", &r.scenes, scene)?,
            on: date("on", &r.on)?,
        },
    ))
}

/// Decodes a `establish_arrangement` request into its command.
pub fn establish_arrangement(
    r: &v1::EstablishArrangementRequest,
) -> Result<ProgrammeCommand, DomainError> {
    let resources = list("resources", &r.resources, ResourceId::parse)?;
    let kind = ArrangementKind::from_parts(&r.kind, resources, r.beds)?;
    Ok(ProgrammeCommand::Arrangements(
        ArrangementCommand::Establish {
            id: ArrangementId::parse("id", &r.id)?,
            name: r.name.clone(),
            kind,
            first_day: date("first_day", &r.first_day)?,
            last_day: opt_date("last_day", &r.last_day)?,
            scenes: list("scenes", &r.scenes, scene)?,
        },
    ))
}

/// Decodes a `end_arrangement` request into its command.
pub fn end_arrangement(r: &v1::ProgramEndRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Arrangements(ArrangementCommand::End {
        id: ArrangementId::parse("id", &r.id)?,
        last_day: end_request(r)?,
    }))
}

/// Decodes a `adopt_tool` request into its command.
pub fn adopt_tool(r: &v1::AdoptToolRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Tools(ToolCommand::Adopt {
        id: ToolId::parse("id", &r.id)?,
        name: r.name.clone(),
        kind: ToolKind::parse("kind", &r.kind)?,
        version: r.version.clone(),
        manual: manual_from(&r.manual_title, r.manual_covers_personal_information)?,
        scenes: list("scenes", &r.scenes, scene)?,
        on: date("on", &r.on)?,
    }))
}

/// Decodes a `revise_tool` request into its command.
pub fn revise_tool(r: &v1::ReviseToolRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Tools(ToolCommand::Revise {
        id: ToolId::parse("id", &r.id)?,
        version: r.version.clone(),
        manual: manual_from(&r.manual_title, r.manual_covers_personal_information)?,
        on: date("on", &r.on)?,
    }))
}

/// Decodes a `retire_tool` request into its command.
pub fn retire_tool(r: &v1::ProgramEndRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Tools(ToolCommand::Retire {
        id: ToolId::parse("id", &r.id)?,
        last_day: end_request(r)?,
    }))
}

/// Decodes a `open_consultation_desk` request into its command.
pub fn open_consultation_desk(
    r: &v1::OpenConsultationDeskRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Consultation(
        ConsultationCommand::OpenDesk {
            id: DeskId::parse("id", &r.id)?,
            name: r.name.clone(),
            host: DeskHost::parse("host", &r.host)?,
            staff: count_list("staff", &r.staff, Profession::parse)?,
            hours: r.hours.clone(),
            on: date("on", &r.on)?,
        },
    ))
}

/// Decodes a `close_consultation_desk` request into its command.
pub fn close_consultation_desk(r: &v1::ProgramEndRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Consultation(
        ConsultationCommand::CloseDesk {
            id: DeskId::parse("id", &r.id)?,
            last_day: end_request(r)?,
        },
    ))
}

/// Decodes a `record_consultation_action` request into its command.
pub fn record_consultation_action(
    r: &v1::RecordConsultationActionRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Consultation(
        ConsultationCommand::RecordAction {
            case: CaseId::parse("case_id", &r.case_id)?,
            action: CaseAction::parse("action", &r.action)?,
            on: date("on", &r.on)?,
        },
    ))
}

/// Decodes a `close_consultation_case` request into its command.
pub fn close_consultation_case(
    r: &v1::CloseConsultationCaseRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Consultation(
        ConsultationCommand::CloseCase {
            case: CaseId::parse("case_id", &r.case_id)?,
            on: date("on", &r.on)?,
        },
    ))
}

/// Decodes a `erase_data_subject` request into its command.
pub fn erase_data_subject(
    r: &v1::EraseDataSubjectRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Consultation(
        ConsultationCommand::EraseSubject {
            subject: SubjectId::parse("subject", &r.subject)?,
            on: date("on", &r.on)?,
        },
    ))
}

/// Decodes a `hold_training` request into its command.
pub fn hold_training(r: &v1::HoldTrainingRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Trainings(TrainingCommand::Hold {
        id: TrainingId::parse("id", &r.id)?,
        kind: TrainingKind::parse("kind", &r.kind)?,
        title: r.title.clone(),
        on: date("on", &r.on)?,
        participants: count_list("participants", &r.participants, Profession::parse)?,
        scenes: list("scenes", &r.scenes, scene)?,
    }))
}

/// Decodes a `evaluate_training` request into its command.
pub fn evaluate_training(r: &v1::EvaluateTrainingRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Trainings(TrainingCommand::Evaluate {
        id: TrainingId::parse("id", &r.id)?,
        respondents: r.respondents,
        satisfied: r.satisfied,
        on: date("on", &r.on)?,
    }))
}

/// Decodes a `record_awareness_activity` request into its command.
pub fn record_awareness_activity(
    r: &v1::RecordAwarenessActivityRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Awareness(AwarenessCommand::Record {
        id: ActivityId::parse("id", &r.id)?,
        kind: AwarenessKind::parse("kind", &r.kind)?,
        title: r.title.clone(),
        audience: r.audience.clone(),
        on: date("on", &r.on)?,
        attendance: r.attendance,
        copies: r.copies,
        scenes: list("scenes", &r.scenes, scene)?,
    }))
}

/// Decodes a `attend_wide_area_meeting` request into its command.
pub fn attend_wide_area_meeting(
    r: &v1::AttendWideAreaMeetingRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::WideArea(WideAreaCommand::AttendMeeting {
        id: WideAreaId::parse("id", &r.id)?,
        title: r.title.clone(),
        area: r.area.clone(),
        on: date("on", &r.on)?,
        participants: count_list("participants", &r.participants, OrganisationType::parse)?,
    }))
}

/// Decodes a `adopt_unified_form` request into its command.
pub fn adopt_unified_form(
    r: &v1::AdoptUnifiedFormRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::WideArea(
        WideAreaCommand::AdoptUnifiedForm {
            id: WideAreaId::parse("id", &r.id)?,
            name: r.name.clone(),
            version: r.version.clone(),
            on: date("on", &r.on)?,
        },
    ))
}

/// Decodes a `withdraw_unified_form` request into its command.
pub fn withdraw_unified_form(r: &v1::ProgramEndRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::WideArea(
        WideAreaCommand::WithdrawUnifiedForm {
            id: WideAreaId::parse("id", &r.id)?,
            last_day: end_request(r)?,
        },
    ))
}

/// Decodes a `join_liaison_agreement` request into its command.
pub fn join_liaison_agreement(
    r: &v1::JoinLiaisonAgreementRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::WideArea(
        WideAreaCommand::JoinLiaisonAgreement {
            id: WideAreaId::parse("id", &r.id)?,
            hospital: MedicalInstitutionCode::parse("hospital", &r.hospital)?,
            rule_version: r.rule_version.clone(),
            notification_lead_days: r.notification_lead_days,
            contact_point: r.contact_point.clone(),
            first_day: date("first_day", &r.first_day)?,
            last_day: opt_date("last_day", &r.last_day)?,
        },
    ))
}

/// Decodes a `leave_liaison_agreement` request into its command.
pub fn leave_liaison_agreement(r: &v1::ProgramEndRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::WideArea(
        WideAreaCommand::LeaveLiaisonAgreement {
            id: WideAreaId::parse("id", &r.id)?,
            last_day: end_request(r)?,
        },
    ))
}

/// Decodes a `schedule_activity` request into its command.
pub fn schedule_activity(r: &v1::ScheduleActivityRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Plan(PlanCommand::ScheduleActivity {
        fiscal_year: fiscal_year(r.fiscal_year)?,
        id: PlannedActivityId::parse("id", &r.id)?,
        item: crate::domain::values::item("item", &r.item)?,
        what: r.what.clone(),
        scheduled_on: date("scheduled_on", &r.scheduled_on)?,
        owner: r.owner.clone(),
        delegated_to: opt_string(r.delegated_to.clone()),
        planned_on: date("planned_on", &r.planned_on)?,
        scenes: list("scenes", &r.scenes, scene)?,
        indicators: list("indicators", &r.indicators, IndicatorId::parse)?,
    }))
}

/// Decodes a `cancel_activity` request into its command.
pub fn cancel_activity(r: &v1::CancelActivityRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Plan(PlanCommand::CancelActivity {
        fiscal_year: fiscal_year(r.fiscal_year)?,
        id: PlannedActivityId::parse("id", &r.id)?,
        on: date("on", &r.on)?,
    }))
}

/// Decodes a `define_indicator` request into its command.
pub fn define_indicator(r: &v1::DefineIndicatorRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Plan(PlanCommand::DefineIndicator {
        fiscal_year: fiscal_year(r.fiscal_year)?,
        id: IndicatorId::parse("id", &r.id)?,
        kind: indicator_kind("kind", &r.kind)?,
        name: r.name.clone(),
        unit: r.unit.clone(),
        item: opt_id("item", &r.item, crate::domain::values::item)?,
        target: r.target,
        scene: opt_id("scene", &r.scene, scene)?,
        baseline: r.baseline,
    }))
}

/// Decodes a `set_scene_goal` request into its command.
pub fn set_scene_goal(r: &v1::SetSceneGoalRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Plan(PlanCommand::SetSceneGoal {
        period: plan_period("period", r.period)?,
        scene: scene("scene", &r.scene)?,
        text: r.text.clone(),
        set_on: date("set_on", &r.set_on)?,
    }))
}

/// Decodes a `record_evaluation` request into its command.
pub fn record_evaluation(r: &v1::RecordEvaluationRequest) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Plan(PlanCommand::RecordEvaluation {
        fiscal_year: fiscal_year(r.fiscal_year)?,
        scene: scene("scene", &r.scene)?,
        reached: r.reached,
        reason: r.reason.clone(),
        improvement: Some(r.improvement.clone()).filter(|i| !i.trim().is_empty()),
        on: date("on", &r.on)?,
    }))
}

/// Decodes a `decide_improvement` request into its command.
pub fn decide_improvement(
    r: &v1::DecideImprovementRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Plan(PlanCommand::DecideImprovement {
        fiscal_year: fiscal_year(r.fiscal_year)?,
        scene: scene("scene", &r.scene)?,
        improvement: r.improvement.clone(),
        on: date("on", &r.on)?,
    }))
}

/// Decodes a `record_measurement` request into its command.
pub fn record_measurement(
    r: &v1::RecordMeasurementRequest,
) -> Result<ProgrammeCommand, DomainError> {
    Ok(ProgrammeCommand::Plan(PlanCommand::RecordMeasurement {
        fiscal_year: fiscal_year(r.fiscal_year)?,
        id: IndicatorId::parse("id", &r.id)?,
        on: date("on", &r.on)?,
        value: r.value,
    }))
}

/// A consultation case to open, decoded; its personal details are still in clear.
#[derive(Debug, Clone)]
pub struct CaseToOpen {
    pub id: CaseId,
    pub desk: DeskId,
    pub on: NaiveDate,
    pub referrer: Referrer,
    pub topic: Topic,
    pub scenes: Vec<CareScene>,
    /// The data subject and their details, validated.
    pub personal: Option<(SubjectId, PersonalDetails)>,
    pub liaison_agreement: Option<WideAreaId>,
}

impl CaseToOpen {
    /// Seals the personal details with the subject's key and returns the command, which carries
    /// the sealed details only.
    pub fn sealed(
        self,
        programme: &Programme,
        tenant: MunicipalityCode,
    ) -> Result<ProgrammeCommand, ProgrammeError> {
        let personal = match self.personal {
            Some((subject, details)) => Some(programme.seal(tenant, &subject, details)?),
            None => None,
        };
        Ok(ProgrammeCommand::Consultation(
            ConsultationCommand::OpenCase {
                id: self.id,
                desk: self.desk,
                on: self.on,
                referrer: self.referrer,
                topic: self.topic,
                scenes: self.scenes,
                personal,
                liaison_agreement: self.liaison_agreement,
            },
        ))
    }
}

/// Decodes an `open_consultation_case` request, everything before any sealing (so a bad request
/// makes no key).
pub fn open_consultation_case(
    r: &v1::OpenConsultationCaseRequest,
) -> Result<CaseToOpen, DomainError> {
    let subject = opt_id("subject", &r.subject, SubjectId::parse)?;
    let details = match &r.personal {
        None => None,
        Some(p) => Some(PersonalDetails {
            name: p.name.clone(),
            birth_date: opt_date("personal.birth_date", &p.birth_date)?,
            address: opt_string(p.address.clone()),
            phone: opt_string(p.phone.clone()),
            notes: opt_string(p.notes.clone()),
        }),
    };
    let personal = PersonalDetails::of_subject(subject, details)?;
    Ok(CaseToOpen {
        id: CaseId::parse("id", &r.id)?,
        desk: DeskId::parse("desk", &r.desk)?,
        on: date("on", &r.on)?,
        referrer: Referrer::parse("referrer", &r.referrer)?,
        topic: Topic::parse("topic", &r.topic)?,
        scenes: list("scenes", &r.scenes, scene)?,
        personal,
        liaison_agreement: opt_id("liaison_agreement", &r.liaison_agreement, WideAreaId::parse)?,
    })
}
