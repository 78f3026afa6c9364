//! The `MunicipalProgram` gRPC service: each handler decodes the request into a domain command
//! or query (naming the field and value of anything it cannot decode), calls the
//! [`Programme`] once, and maps errors through [`status_from_programme`].

use std::collections::HashSet;
use std::sync::Arc;

use chrono::NaiveDate;
use renkei_proto::convert::{timestamp_to_utc, utc_to_timestamp};
use renkei_proto::{FiscalYear, MunicipalityCode, v1};
use tonic::{Request, Response, Status};

use super::{status_from_programme, status_from_store};
use crate::domain::arrangements::{ArrangementCommand, ArrangementKind};
use crate::domain::awareness::{AwarenessCommand, AwarenessKind};
use crate::domain::consultation::{
    CaseAction, ConsultationCommand, DeskHost, PersonalDetails, Referrer, Topic,
};
use crate::domain::meetings::{FindingKind, MeetingCommand, MeetingKind};
use crate::domain::plan::{IndicatorKind, PlanCommand};
use crate::domain::resources::{
    Audience, Capability, OfficialCode, PublicationFormat, ResourceCommand, ResourceDetails,
    ResourceKind,
};
use crate::domain::status::SurveyStatus;
use crate::domain::tools::{ToolCommand, ToolKind, manual_from};
use crate::domain::trainings::{TrainingCommand, TrainingKind};
use crate::domain::values::*;
use crate::domain::wide_area::WideAreaCommand;
use crate::domain::{DomainError, Item};
use crate::programme::{Executed, Programme, ProgrammeCommand, ProgrammeError};
use crate::store::StoreError;

/// Serves the programme of the municipalities a node is configured for.
#[derive(Clone)]
pub struct MunicipalProgramService {
    programme: Programme,
    served: Arc<HashSet<MunicipalityCode>>,
}

impl MunicipalProgramService {
    pub fn new(programme: Programme, served: impl IntoIterator<Item = MunicipalityCode>) -> Self {
        Self {
            programme,
            served: Arc::new(served.into_iter().collect()),
        }
    }

    fn tenant(&self, value: &str) -> Result<MunicipalityCode, Status> {
        let code: MunicipalityCode = value.parse().map_err(|e: renkei_proto::IdError| {
            status_from_store(StoreError::invalid(
                "municipality_code",
                value,
                e.to_string(),
            ))
        })?;
        if !self.served.contains(&code) {
            return Err(status_from_store(StoreError::UnknownTenant(code)));
        }
        Ok(code)
    }

    async fn command(
        &self,
        municipality_code: &str,
        actor: &str,
        decoded: Result<ProgrammeCommand, DomainError>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let tenant = self.tenant(municipality_code)?;
        let actor = text("actor", actor, MAX_NAME).map_err(to_status)?;
        let command = decoded.map_err(to_status)?;
        let done = self
            .programme
            .execute(tenant, &actor, command)
            .await
            .map_err(status_from_programme)?;
        Ok(Response::new(reply(done)))
    }
}

fn to_status(e: DomainError) -> Status {
    status_from_programme(ProgrammeError::Domain(e))
}

fn reply(done: Executed) -> v1::ProgramReply {
    v1::ProgramReply {
        events: done.events as u32,
        last_position: done.last_position.map_or(0, |p| p.get()),
    }
}

// --- decoding helpers ---

fn date(field: &str, value: &str) -> Result<NaiveDate, DomainError> {
    business_date(field, value)
}

fn opt_date(field: &str, value: &str) -> Result<Option<NaiveDate>, DomainError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        date(field, value).map(Some)
    }
}

fn fiscal_year(value: u32) -> Result<FiscalYear, DomainError> {
    FiscalYear::new(i64::from(value))
        .map_err(|e| DomainError::invalid("fiscal_year", value, e.to_string()))
}

fn list<T>(
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

fn count_list<T>(
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

fn opt_id<T>(
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

fn opt_string(value: String) -> Option<String> {
    (!value.trim().is_empty()).then_some(value)
}

fn resource_details(d: Option<v1::ResourceDetails>) -> Result<ResourceDetails, DomainError> {
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
    })
}

fn details_to_wire(d: &ResourceDetails) -> v1::ResourceDetails {
    v1::ResourceDetails {
        kind: d.kind.code().into(),
        enhanced: d.enhanced,
        name: d.name.clone(),
        medical_institution_code: match d.official_code {
            Some(OfficialCode::Medical(c)) => c.to_string(),
            _ => String::new(),
        },
        care_provider_number: match d.official_code {
            Some(OfficialCode::Care(c)) => c.to_string(),
            _ => String::new(),
        },
        address: d.address.clone(),
        latitude: d.coordinates.map_or(0.0, |c| c.latitude),
        longitude: d.coordinates.map_or(0.0, |c| c.longitude),
        contact: d.contact.clone().unwrap_or_default(),
        capabilities: d.capabilities.iter().map(|c| c.code().into()).collect(),
        consultation_hours: d.consultation_hours.clone().unwrap_or_default(),
        listed_for_residents: d.listed_for_residents,
    }
}

fn personal_to_wire(p: PersonalDetails) -> v1::PersonalDetails {
    v1::PersonalDetails {
        name: p.name,
        birth_date: p.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        address: p.address.unwrap_or_default(),
        phone: p.phone.unwrap_or_default(),
        notes: p.notes.unwrap_or_default(),
    }
}

fn counts_to_wire<T: Copy>(
    list: &[(T, u32)],
    code: fn(T) -> &'static str,
) -> Vec<v1::ProgramCount> {
    list.iter()
        .map(|(of, count)| v1::ProgramCount {
            of: code(*of).into(),
            count: *count,
        })
        .collect()
}

fn end_request(r: &v1::ProgramEndRequest) -> Result<NaiveDate, DomainError> {
    date("last_day", &r.last_day)
}

#[tonic::async_trait]
impl v1::MunicipalProgram for MunicipalProgramService {
    // --- (ア) ---

    async fn register_resource(
        &self,
        request: Request<v1::RegisterResourceRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Resources(ResourceCommand::Register {
                id: ResourceId::parse("id", &r.id)?,
                details: resource_details(r.details.clone())?,
                on: date("on", &r.on)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn update_resource(
        &self,
        request: Request<v1::RegisterResourceRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Resources(ResourceCommand::Update {
                id: ResourceId::parse("id", &r.id)?,
                details: resource_details(r.details.clone())?,
                on: date("on", &r.on)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn withdraw_resource(
        &self,
        request: Request<v1::ProgramEndRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Resources(ResourceCommand::Withdraw {
                id: ResourceId::parse("id", &r.id)?,
                on: end_request(&r)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn conduct_resource_survey(
        &self,
        request: Request<v1::ConductResourceSurveyRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Resources(
                ResourceCommand::ConductSurvey {
                    id: SurveyId::parse("id", &r.id)?,
                    title: r.title.clone(),
                    on: date("on", &r.on)?,
                    responses: r.responses,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn publish_resource_list(
        &self,
        request: Request<v1::PublishResourceListRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Resources(ResourceCommand::PublishList {
                id: ListId::parse("id", &r.id)?,
                title: r.title.clone(),
                audience: Audience::parse("audience", &r.audience)?,
                format: PublicationFormat::parse("format", &r.format)?,
                on: date("on", &r.on)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn import_resources(
        &self,
        request: Request<v1::ImportResourcesRequest>,
    ) -> Result<Response<v1::ImportResourcesReply>, Status> {
        let r = request.into_inner();
        let tenant = self.tenant(&r.municipality_code)?;
        let actor = text("actor", &r.actor, MAX_NAME).map_err(to_status)?;
        let on = date("on", &r.on).map_err(to_status)?;
        let report = self
            .programme
            .import_resources(tenant, &actor, &r.csv, on)
            .await
            .map_err(|e| match e {
                crate::programme::import::ImportError::Programme(e) => status_from_programme(e),
                other => Status::invalid_argument(format!("invalid csv: {other}")),
            })?;
        Ok(Response::new(v1::ImportResourcesReply {
            rows: report.rows,
            registered: report.registered,
            unchanged: report.unchanged,
            rejected: report
                .rejected
                .into_iter()
                .map(|r| v1::ImportRejectedRow {
                    line: r.line,
                    reason: r.reason,
                })
                .collect(),
        }))
    }

    async fn list_resources(
        &self,
        request: Request<v1::ListResourcesRequest>,
    ) -> Result<Response<v1::ListResourcesReply>, Status> {
        let r = request.into_inner();
        let tenant = self.tenant(&r.municipality_code)?;
        let audience = Audience::parse("audience", &r.audience).map_err(to_status)?;
        let resources = self
            .programme
            .resources(tenant, audience)
            .map_err(status_from_programme)?;
        Ok(Response::new(v1::ListResourcesReply {
            resources: resources
                .into_iter()
                .map(|(id, res)| v1::ResourceEntry {
                    id: id.to_string(),
                    details: Some(details_to_wire(&res.details)),
                    registered_on: res.registered_on.to_string(),
                })
                .collect(),
        }))
    }

    // --- (イ) ---

    async fn hold_meeting(
        &self,
        request: Request<v1::HoldMeetingRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Meetings(MeetingCommand::Hold {
                id: MeetingId::parse("id", &r.id)?,
                kind: MeetingKind::parse("kind", &r.kind)?,
                title: r.title.clone(),
                on: date("on", &r.on)?,
                participants: count_list("participants", &r.participants, OrganisationType::parse)?,
                scenes: list("scenes", &r.scenes, CareScene::parse)?,
                working_group: opt_id("working_group", &r.working_group, WorkingGroupId::parse)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn record_finding(
        &self,
        request: Request<v1::RecordFindingRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Meetings(MeetingCommand::RecordFinding {
                meeting: MeetingId::parse("meeting", &r.meeting)?,
                id: FindingId::parse("id", &r.id)?,
                kind: FindingKind::parse("kind", &r.kind)?,
                text: r.text.clone(),
                scenes: list("scenes", &r.scenes, CareScene::parse)?,
                answers: opt_id("answers", &r.answers, FindingId::parse)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn form_working_group(
        &self,
        request: Request<v1::FormWorkingGroupRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Meetings(
                MeetingCommand::FormWorkingGroup {
                    id: WorkingGroupId::parse("id", &r.id)?,
                    name: r.name.clone(),
                    scenes: list("scenes", &r.scenes, CareScene::parse)?,
                    on: date("on", &r.on)?,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    // --- (ウ) ---

    async fn establish_arrangement(
        &self,
        request: Request<v1::EstablishArrangementRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            let resources = list("resources", &r.resources, ResourceId::parse)?;
            let exactly = |n: usize| {
                if resources.len() == n {
                    Ok(())
                } else {
                    Err(DomainError::invalid(
                        "resources",
                        resources.len(),
                        format!("this kind names exactly {n} resource(s)"),
                    ))
                }
            };
            // `exactly(n)?` runs before each index below, so the indexing cannot panic.
            let kind = match r.kind.as_str() {
                "physician_pairing" | "主治医・副主治医制" => {
                    exactly(2)?;
                    ArrangementKind::PhysicianPairing {
                        primary: resources[0].clone(),
                        secondary: resources[1].clone(),
                    }
                }
                "emergency_hospital" | "急変時診療医療機関" => {
                    exactly(1)?;
                    ArrangementKind::EmergencyHospital {
                        hospital: resources[0].clone(),
                    }
                }
                "backup_beds" | "後方支援病床" => {
                    exactly(1)?;
                    ArrangementKind::BackupBeds {
                        hospital: resources[0].clone(),
                        beds: r.beds,
                    }
                }
                "round_the_clock_group" | "24時間対応グループ" => {
                    ArrangementKind::RoundTheClockGroup {
                        members: resources.clone(),
                    }
                }
                other => {
                    return Err(DomainError::invalid(
                        "kind",
                        other,
                        "must be one of physician_pairing, emergency_hospital, backup_beds, round_the_clock_group",
                    ));
                }
            };
            Ok(ProgrammeCommand::Arrangements(
                ArrangementCommand::Establish {
                    id: ArrangementId::parse("id", &r.id)?,
                    name: r.name.clone(),
                    kind,
                    first_day: date("first_day", &r.first_day)?,
                    last_day: opt_date("last_day", &r.last_day)?,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn end_arrangement(
        &self,
        request: Request<v1::ProgramEndRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Arrangements(ArrangementCommand::End {
                id: ArrangementId::parse("id", &r.id)?,
                last_day: end_request(&r)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    // --- (エ) ---

    async fn adopt_tool(
        &self,
        request: Request<v1::AdoptToolRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Tools(ToolCommand::Adopt {
                id: ToolId::parse("id", &r.id)?,
                name: r.name.clone(),
                kind: ToolKind::parse("kind", &r.kind)?,
                version: r.version.clone(),
                manual: manual_from(&r.manual_title, r.manual_covers_personal_information)?,
                scenes: list("scenes", &r.scenes, CareScene::parse)?,
                on: date("on", &r.on)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn revise_tool(
        &self,
        request: Request<v1::ReviseToolRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Tools(ToolCommand::Revise {
                id: ToolId::parse("id", &r.id)?,
                version: r.version.clone(),
                manual: manual_from(&r.manual_title, r.manual_covers_personal_information)?,
                on: date("on", &r.on)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn retire_tool(
        &self,
        request: Request<v1::ProgramEndRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Tools(ToolCommand::Retire {
                id: ToolId::parse("id", &r.id)?,
                last_day: end_request(&r)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    // --- (オ) ---

    async fn open_consultation_desk(
        &self,
        request: Request<v1::OpenConsultationDeskRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
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
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn close_consultation_desk(
        &self,
        request: Request<v1::ProgramEndRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Consultation(
                ConsultationCommand::CloseDesk {
                    id: DeskId::parse("id", &r.id)?,
                    last_day: end_request(&r)?,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn open_consultation_case(
        &self,
        request: Request<v1::OpenConsultationCaseRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let tenant = self.tenant(&r.municipality_code)?;
        let subject = opt_id("subject", &r.subject, SubjectId::parse).map_err(to_status)?;
        // Decodes everything before sealing, so a bad request makes no key.
        let decoded = (|| {
            let personal = match (&r.personal, &subject) {
                (None, _) => None,
                (Some(_), None) => {
                    return Err(DomainError::invalid(
                        "subject",
                        "",
                        "is required when personal details are given",
                    ));
                }
                (Some(p), Some(_)) => Some(
                    PersonalDetails {
                        name: p.name.clone(),
                        birth_date: opt_date("personal.birth_date", &p.birth_date)?,
                        address: opt_string(p.address.clone()),
                        phone: opt_string(p.phone.clone()),
                        notes: opt_string(p.notes.clone()),
                    }
                    .validated()?,
                ),
            };
            Ok((
                CaseId::parse("id", &r.id)?,
                DeskId::parse("desk", &r.desk)?,
                date("on", &r.on)?,
                Referrer::parse("referrer", &r.referrer)?,
                Topic::parse("topic", &r.topic)?,
                list("scenes", &r.scenes, CareScene::parse)?,
                personal,
            ))
        })();
        let (id, desk, on, referrer, topic, scenes, personal) = decoded.map_err(to_status)?;
        let sealed = match (personal, &subject) {
            (Some(p), Some(s)) => Some(
                self.programme
                    .seal(tenant, s, p)
                    .map_err(status_from_programme)?,
            ),
            _ => None,
        };
        let command = ProgrammeCommand::Consultation(ConsultationCommand::OpenCase {
            id,
            desk,
            on,
            referrer,
            topic,
            scenes,
            personal: sealed,
        });
        self.command(&r.municipality_code, &r.actor, Ok(command))
            .await
    }

    async fn record_consultation_action(
        &self,
        request: Request<v1::RecordConsultationActionRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Consultation(
                ConsultationCommand::RecordAction {
                    case: CaseId::parse("case_id", &r.case_id)?,
                    action: CaseAction::parse("action", &r.action)?,
                    on: date("on", &r.on)?,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn close_consultation_case(
        &self,
        request: Request<v1::CloseConsultationCaseRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Consultation(
                ConsultationCommand::CloseCase {
                    case: CaseId::parse("case_id", &r.case_id)?,
                    on: date("on", &r.on)?,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn erase_data_subject(
        &self,
        request: Request<v1::EraseDataSubjectRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Consultation(
                ConsultationCommand::EraseSubject {
                    subject: SubjectId::parse("subject", &r.subject)?,
                    on: date("on", &r.on)?,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn get_consultation_case(
        &self,
        request: Request<v1::GetConsultationCaseRequest>,
    ) -> Result<Response<v1::ConsultationCase>, Status> {
        let r = request.into_inner();
        let tenant = self.tenant(&r.municipality_code)?;
        let id = CaseId::parse("case_id", &r.case_id).map_err(to_status)?;
        let view = self
            .programme
            .case(tenant, &id)
            .map_err(status_from_programme)?;
        Ok(Response::new(v1::ConsultationCase {
            id: view.id.to_string(),
            opened_on: view.opened_on.to_string(),
            referrer: view.referrer.code().into(),
            topic: view.topic.code().into(),
            actions: view
                .actions
                .iter()
                .map(|(a, on)| v1::ConsultationAction {
                    action: a.code().into(),
                    on: on.to_string(),
                })
                .collect(),
            closed_on: view.closed_on.map(|d| d.to_string()).unwrap_or_default(),
            subject: view.subject.map(|s| s.to_string()).unwrap_or_default(),
            personal: view.personal.map(personal_to_wire),
            erased: view.erased,
        }))
    }

    async fn get_consultation_statistics(
        &self,
        request: Request<v1::ProgramYearRequest>,
    ) -> Result<Response<v1::ConsultationStatistics>, Status> {
        let r = request.into_inner();
        let tenant = self.tenant(&r.municipality_code)?;
        let fy = fiscal_year(r.fiscal_year).map_err(to_status)?;
        let stats = self
            .programme
            .consultation_statistics(tenant, fy)
            .map_err(status_from_programme)?;
        Ok(Response::new(v1::ConsultationStatistics {
            cases: stats.cases,
            closed: stats.closed,
            by_referrer: counts_to_wire(&stats.by_referrer, Referrer::code),
            by_topic: counts_to_wire(&stats.by_topic, Topic::code),
            by_action: counts_to_wire(&stats.by_action, CaseAction::code),
        }))
    }

    // --- (カ) ---

    async fn hold_training(
        &self,
        request: Request<v1::HoldTrainingRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Trainings(TrainingCommand::Hold {
                id: TrainingId::parse("id", &r.id)?,
                kind: TrainingKind::parse("kind", &r.kind)?,
                title: r.title.clone(),
                on: date("on", &r.on)?,
                participants: count_list("participants", &r.participants, Profession::parse)?,
                scenes: list("scenes", &r.scenes, CareScene::parse)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn evaluate_training(
        &self,
        request: Request<v1::EvaluateTrainingRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Trainings(TrainingCommand::Evaluate {
                id: TrainingId::parse("id", &r.id)?,
                respondents: r.respondents,
                satisfied: r.satisfied,
                on: date("on", &r.on)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    // --- (キ) ---

    async fn record_awareness_activity(
        &self,
        request: Request<v1::RecordAwarenessActivityRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Awareness(AwarenessCommand::Record {
                id: ActivityId::parse("id", &r.id)?,
                kind: AwarenessKind::parse("kind", &r.kind)?,
                title: r.title.clone(),
                audience: r.audience.clone(),
                on: date("on", &r.on)?,
                attendance: r.attendance,
                copies: r.copies,
                scenes: list("scenes", &r.scenes, CareScene::parse)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    // --- (ク) ---

    async fn attend_wide_area_meeting(
        &self,
        request: Request<v1::AttendWideAreaMeetingRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::WideArea(WideAreaCommand::AttendMeeting {
                id: WideAreaId::parse("id", &r.id)?,
                title: r.title.clone(),
                area: r.area.clone(),
                on: date("on", &r.on)?,
                participants: count_list("participants", &r.participants, OrganisationType::parse)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn adopt_unified_form(
        &self,
        request: Request<v1::AdoptUnifiedFormRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::WideArea(
                WideAreaCommand::AdoptUnifiedForm {
                    id: WideAreaId::parse("id", &r.id)?,
                    name: r.name.clone(),
                    version: r.version.clone(),
                    on: date("on", &r.on)?,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn withdraw_unified_form(
        &self,
        request: Request<v1::ProgramEndRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::WideArea(
                WideAreaCommand::WithdrawUnifiedForm {
                    id: WideAreaId::parse("id", &r.id)?,
                    last_day: end_request(&r)?,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn join_liaison_agreement(
        &self,
        request: Request<v1::JoinLiaisonAgreementRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::WideArea(
                WideAreaCommand::JoinLiaisonAgreement {
                    id: WideAreaId::parse("id", &r.id)?,
                    hospital: r.hospital.clone(),
                    rule_version: r.rule_version.clone(),
                    notification_lead_days: r.notification_lead_days,
                    contact_point: r.contact_point.clone(),
                    first_day: date("first_day", &r.first_day)?,
                    last_day: opt_date("last_day", &r.last_day)?,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn leave_liaison_agreement(
        &self,
        request: Request<v1::ProgramEndRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::WideArea(
                WideAreaCommand::LeaveLiaisonAgreement {
                    id: WideAreaId::parse("id", &r.id)?,
                    last_day: end_request(&r)?,
                },
            ))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    // --- annual plan ---

    async fn schedule_activity(
        &self,
        request: Request<v1::ScheduleActivityRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Plan(PlanCommand::ScheduleActivity {
                fiscal_year: fiscal_year(r.fiscal_year)?,
                id: PlannedActivityId::parse("id", &r.id)?,
                item: Item::parse("item", &r.item)?,
                what: r.what.clone(),
                scheduled_on: date("scheduled_on", &r.scheduled_on)?,
                owner: r.owner.clone(),
                delegated_to: opt_string(r.delegated_to.clone()),
                planned_on: date("planned_on", &r.planned_on)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn cancel_activity(
        &self,
        request: Request<v1::CancelActivityRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Plan(PlanCommand::CancelActivity {
                fiscal_year: fiscal_year(r.fiscal_year)?,
                id: PlannedActivityId::parse("id", &r.id)?,
                on: date("on", &r.on)?,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn define_indicator(
        &self,
        request: Request<v1::DefineIndicatorRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Plan(PlanCommand::DefineIndicator {
                fiscal_year: fiscal_year(r.fiscal_year)?,
                id: IndicatorId::parse("id", &r.id)?,
                kind: IndicatorKind::parse("kind", &r.kind)?,
                name: r.name.clone(),
                unit: r.unit.clone(),
                item: opt_id("item", &r.item, Item::parse)?,
                target: r.target,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn record_measurement(
        &self,
        request: Request<v1::RecordMeasurementRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let r = request.into_inner();
        let decoded = (|| {
            Ok(ProgrammeCommand::Plan(PlanCommand::RecordMeasurement {
                fiscal_year: fiscal_year(r.fiscal_year)?,
                id: IndicatorId::parse("id", &r.id)?,
                on: date("on", &r.on)?,
                value: r.value,
            }))
        })();
        self.command(&r.municipality_code, &r.actor, decoded).await
    }

    async fn get_annual_plan(
        &self,
        request: Request<v1::ProgramYearRequest>,
    ) -> Result<Response<v1::AnnualPlanView>, Status> {
        let r = request.into_inner();
        let tenant = self.tenant(&r.municipality_code)?;
        let fy = fiscal_year(r.fiscal_year).map_err(to_status)?;
        let plan = self
            .programme
            .plan(tenant, fy)
            .map_err(status_from_programme)?;
        Ok(Response::new(v1::AnnualPlanView {
            fiscal_year: u32::from(fy.year()),
            wareki: fy.wareki(),
            activities: plan
                .activities
                .iter()
                .map(|(id, a)| v1::PlannedActivityView {
                    id: id.to_string(),
                    item: a.item.code().into(),
                    what: a.what.clone(),
                    scheduled_on: a.scheduled_on.to_string(),
                    owner: a.owner.clone(),
                    delegated_to: a.delegated_to.clone().unwrap_or_default(),
                    planned_on: a.planned_on.to_string(),
                    cancelled_on: a.cancelled_on.map(|d| d.to_string()).unwrap_or_default(),
                })
                .collect(),
            indicators: plan
                .indicators
                .iter()
                .map(|(id, i)| v1::IndicatorView {
                    id: id.to_string(),
                    kind: i.kind.code().into(),
                    name: i.name.clone(),
                    unit: i.unit.clone(),
                    target: i.target,
                    measurements: i
                        .measurements
                        .iter()
                        .map(|(on, value)| v1::IndicatorMeasurement {
                            on: on.to_string(),
                            value: *value,
                        })
                        .collect(),
                })
                .collect(),
        }))
    }

    // --- status and records ---

    async fn get_status(
        &self,
        request: Request<v1::GetStatusRequest>,
    ) -> Result<Response<v1::GetStatusReply>, Status> {
        let r = request.into_inner();
        let tenant = self.tenant(&r.municipality_code)?;
        let decoded = (|| {
            let fy = fiscal_year(r.fiscal_year)?;
            let as_of = date("as_of", &r.as_of)?;
            let known_at = r
                .known_at
                .as_ref()
                .map(|t| {
                    timestamp_to_utc(t).ok_or_else(|| {
                        DomainError::invalid(
                            "known_at",
                            format!("{}s {}ns", t.seconds, t.nanos),
                            "is not a valid timestamp",
                        )
                    })
                })
                .transpose()?;
            Ok((fy, as_of, known_at))
        })();
        let (fy, as_of, known_at) = decoded.map_err(to_status)?;
        let items = self
            .programme
            .status(tenant, fy, as_of, known_at)
            .map_err(status_from_programme)?;
        Ok(Response::new(v1::GetStatusReply {
            fiscal_year: u32::from(fy.year()),
            as_of: as_of.to_string(),
            items: items
                .into_iter()
                .map(|s| v1::ProgramItemStatus {
                    item: s.item.code().into(),
                    item_name: s.item.label().into(),
                    status: match s.status {
                        SurveyStatus::Implemented => "implemented",
                        SurveyStatus::Planned => "planned",
                        SurveyStatus::NotImplemented => "not_implemented",
                    }
                    .into(),
                    status_label: s.status.label().into(),
                    evidence: s.evidence,
                })
                .collect(),
        }))
    }

    async fn list_records(
        &self,
        request: Request<v1::ListRecordsRequest>,
    ) -> Result<Response<v1::ListRecordsReply>, Status> {
        let r = request.into_inner();
        let tenant = self.tenant(&r.municipality_code)?;
        let register = opt_string(r.register);
        let records = self
            .programme
            .records(tenant, register.as_deref())
            .map_err(status_from_programme)?;
        Ok(Response::new(v1::ListRecordsReply {
            records: records
                .into_iter()
                .map(|(rec, event)| v1::ProgramRecord {
                    global_position: rec.global_position.get(),
                    stream: rec.stream.to_string(),
                    r#type: rec.event_type,
                    occurred_on: event.occurred_on().to_string(),
                    recorded_at: Some(utc_to_timestamp(rec.recorded_at)),
                    actor: rec.actor,
                    // Plain data: serialisation cannot fail.
                    json: serde_json::to_string(&event).unwrap_or_default(),
                })
                .collect(),
        }))
    }
}
