//! The `MunicipalProgram` gRPC service: each handler decodes the request into a domain command
//! or query with [`super::decode`] (naming the field and value of anything it cannot decode; the
//! workspace's forms use the same functions), calls the [`Programme`] once, and maps errors
//! through [`status_from_programme`].

use std::collections::HashSet;
use std::sync::Arc;

use renkei_proto::convert::{timestamp_to_utc, utc_to_timestamp};
use renkei_proto::{MunicipalityCode, v1};
use tonic::{Request, Response, Status};

use super::decode::{self, date, fiscal_year, opt_string};
use super::{status_from_import, status_from_programme, status_from_store};
use crate::access::{actor_of, split};
use crate::domain::DomainError;
use crate::domain::consultation::{CaseAction, PersonalDetails, Referrer, Topic};
use crate::domain::resources::{Audience, OfficialCode, ResourceDetails};
use crate::domain::status::SurveyStatus;
use crate::domain::values::*;
use crate::programme::{Executed, Programme, ProgrammeCommand, ProgrammeError};
use crate::store::StoreError;
use renkei_proto::programme::cycle::{CycleRecords, Indicator, PlanPeriod};
use renkei_proto::programme::framework::{Framework, StatutoryGroup};

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
        located_in: d.located_in.map(|m| m.to_string()).unwrap_or_default(),
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

/// Writes the service: each command in `commands` has the one handler every command has —
/// decode the request with the [`decode`] function of the same name, record it as the caller
/// (see [`actor_of`]), answer how many events it recorded — and the other methods follow as
/// written.
macro_rules! municipal_program {
    (commands: [$($name:ident($request:ident)),* $(,)?] $($other:tt)*) => {
        #[tonic::async_trait]
        impl v1::MunicipalProgram for MunicipalProgramService {
            $(
                async fn $name(
                    &self,
                    request: Request<v1::$request>,
                ) -> Result<Response<v1::ProgramReply>, Status> {
                    let (r, by) = split(request);
                    let actor = actor_of(by.as_ref(), &r.actor);
                    self.command(&r.municipality_code, &actor, decode::$name(&r)).await
                }
            )*

            $($other)*
        }
    };
}

municipal_program! {
    commands: [
        register_resource(RegisterResourceRequest),
        update_resource(RegisterResourceRequest),
        withdraw_resource(ProgramEndRequest),
        conduct_resource_survey(ConductResourceSurveyRequest),
        publish_resource_list(PublishResourceListRequest),
        hold_meeting(HoldMeetingRequest),
        record_finding(RecordFindingRequest),
        form_working_group(FormWorkingGroupRequest),
        establish_arrangement(EstablishArrangementRequest),
        end_arrangement(ProgramEndRequest),
        adopt_tool(AdoptToolRequest),
        revise_tool(ReviseToolRequest),
        retire_tool(ProgramEndRequest),
        open_consultation_desk(OpenConsultationDeskRequest),
        close_consultation_desk(ProgramEndRequest),
        record_consultation_action(RecordConsultationActionRequest),
        close_consultation_case(CloseConsultationCaseRequest),
        erase_data_subject(EraseDataSubjectRequest),
        hold_training(HoldTrainingRequest),
        evaluate_training(EvaluateTrainingRequest),
        record_awareness_activity(RecordAwarenessActivityRequest),
        attend_wide_area_meeting(AttendWideAreaMeetingRequest),
        adopt_unified_form(AdoptUnifiedFormRequest),
        withdraw_unified_form(ProgramEndRequest),
        join_liaison_agreement(JoinLiaisonAgreementRequest),
        leave_liaison_agreement(ProgramEndRequest),
        schedule_activity(ScheduleActivityRequest),
        cancel_activity(CancelActivityRequest),
        define_indicator(DefineIndicatorRequest),
        record_measurement(RecordMeasurementRequest),
        set_scene_goal(SetSceneGoalRequest),
        record_evaluation(RecordEvaluationRequest),
        decide_improvement(DecideImprovementRequest),
    ]

    // --- (ア) ---

    async fn import_resources(
        &self,
        request: Request<v1::ImportResourcesRequest>,
    ) -> Result<Response<v1::ImportResourcesReply>, Status> {
        let (r, by) = split(request);
        let tenant = self.tenant(&r.municipality_code)?;
        let actor = text("actor", &actor_of(by.as_ref(), &r.actor), MAX_NAME).map_err(to_status)?;
        let on = date("on", &r.on).map_err(to_status)?;
        let report = self
            .programme
            .import_resources(tenant, &actor, &r.csv, on)
            .await
            .map_err(status_from_import)?;
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

    // --- (オ) ---

    async fn open_consultation_case(
        &self,
        request: Request<v1::OpenConsultationCaseRequest>,
    ) -> Result<Response<v1::ProgramReply>, Status> {
        let (r, by) = split(request);
        let tenant = self.tenant(&r.municipality_code)?;
        // Decodes everything before sealing, so a bad request makes no key.
        let case = decode::open_consultation_case(&r).map_err(to_status)?;
        let command = case
            .sealed(&self.programme, tenant)
            .map_err(status_from_programme)?;
        self.command(
            &r.municipality_code,
            &actor_of(by.as_ref(), &r.actor),
            Ok(command),
        )
        .await
    }

    async fn get_consultation_case(
        &self,
        request: Request<v1::GetConsultationCaseRequest>,
    ) -> Result<Response<v1::ConsultationCase>, Status> {
        let (r, by) = split(request);
        let tenant = self.tenant(&r.municipality_code)?;
        let id = CaseId::parse("case_id", &r.case_id).map_err(to_status)?;
        let view = self
            .programme
            .case(tenant, &id)
            .map_err(status_from_programme)?;
        if view.personal.is_some() {
            // Every read of personal details is logged with who read whose record.
            tracing::info!(
                staff = %by.as_ref().map_or("anonymous (open node)", |a| a.0.name.as_str()),
                municipality = %tenant,
                case = %view.id,
                subject = %view.subject.as_ref().map(ToString::to_string).unwrap_or_default(),
                "personal details read"
            );
        }
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

    // --- annual plan ---

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
                    scenes: a.scenes.iter().map(|s| s.code().to_owned()).collect(),
                    indicators: a.indicators.iter().map(|i| i.to_string()).collect(),
                })
                .collect(),
            indicators: plan
                .indicators
                .iter()
                .map(|(id, i)| indicator_view(id.as_str(), i))
                .collect(),
        }))
    }

    async fn get_cycle(
        &self,
        request: Request<v1::ProgramYearRequest>,
    ) -> Result<Response<v1::CycleView>, Status> {
        let r = request.into_inner();
        let tenant = self.tenant(&r.municipality_code)?;
        let fy = fiscal_year(r.fiscal_year).map_err(to_status)?;
        let programme = self.programme.clone();
        let cycle = super::blocking(move || programme.cycle(tenant).map_err(status_from_programme))
            .await?;
        Ok(Response::new(cycle_view(&cycle, fy)))
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
        let programme = self.programme.clone();
        let items = super::blocking(move || {
            programme
                .status(tenant, fy, as_of, known_at)
                .map_err(status_from_programme)
        })
        .await?;
        let framework = Framework::of(fy);
        let mut statuses = [SurveyStatus::NotImplemented; 8];
        for s in &items {
            statuses[s.item.index()] = s.status;
        }
        let groups = match framework {
            Some(Framework::Pdca2020) => StatutoryGroup::ALL
                .iter()
                .map(|g| {
                    let status = g.status(&statuses);
                    v1::GroupStatus {
                        group: g.numeral().into(),
                        label: g.label(),
                        status: status.code().into(),
                        status_label: status.label().into(),
                        items: g.items().iter().map(|i| i.code().to_owned()).collect(),
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Response::new(v1::GetStatusReply {
            fiscal_year: u32::from(fy.year()),
            as_of: as_of.to_string(),
            framework: framework.map(|f| f.label().to_owned()).unwrap_or_default(),
            groups,
            items: items
                .into_iter()
                .map(|s| v1::ProgramItemStatus {
                    item: s.item.code().into(),
                    item_name: s.item.label().into(),
                    status: s.status.code().into(),
                    status_label: s.status.label().into(),
                    evidence: s.evidence,
                    evidence_count: u32::try_from(s.evidence_count).unwrap_or(u32::MAX),
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
        let max_count = match r.max_count {
            0 => crate::programme::DEFAULT_RECORDS_PAGE,
            n => n as usize,
        };
        let programme = self.programme.clone();
        let page = super::blocking(move || {
            programme
                .records(
                    tenant,
                    register.as_deref(),
                    crate::store::GlobalPosition(r.from_position.max(1)),
                    max_count,
                )
                .map_err(status_from_programme)
        })
        .await?;
        Ok(Response::new(v1::ListRecordsReply {
            next_position: page.next.map_or(0, crate::store::GlobalPosition::get),
            records: page
                .records
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

/// An indicator's wire form.
fn indicator_view(id: &str, i: &Indicator) -> v1::IndicatorView {
    v1::IndicatorView {
        id: id.to_owned(),
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
        scene: i.scene.map(|s| s.code().to_owned()).unwrap_or_default(),
        baseline: i.baseline,
    }
}

/// The wire form of a fiscal year's cycle, from the tenant's cycle records.
pub fn cycle_view(cycle: &CycleRecords, fy: renkei_proto::FiscalYear) -> v1::CycleView {
    let evaluations = |year: renkei_proto::FiscalYear| -> Vec<v1::EvaluationView> {
        cycle
            .evaluations_of(year)
            .into_iter()
            .map(|(scene, e)| v1::EvaluationView {
                fiscal_year: u32::from(year.year()),
                scene: scene.code().into(),
                scene_label: scene.label().into(),
                reached: e.reached,
                reason: e.reason.clone(),
                improvement: e.improvement.clone(),
                on: e.on.to_string(),
            })
            .collect()
    };
    let step = cycle.step(fy);
    v1::CycleView {
        fiscal_year: u32::from(fy.year()),
        wareki: fy.wareki(),
        framework: Framework::of(fy)
            .map(|f| f.label().to_owned())
            .unwrap_or_default(),
        period: PlanPeriod::of(fy)
            .map(|p| p.to_string())
            .unwrap_or_default(),
        step: step.code().into(),
        step_label: step.label().into(),
        goals: cycle
            .goals_for(fy)
            .into_iter()
            .map(|(scene, g)| v1::SceneGoalView {
                scene: scene.code().into(),
                scene_label: scene.label().into(),
                text: g.text.clone(),
                set_on: g.set_on.to_string(),
            })
            .collect(),
        indicators: cycle
            .indicators_for(fy)
            .map(|(id, i)| indicator_view(id, i))
            .collect(),
        evaluations: evaluations(fy),
        carried_from_last_year: fy.previous().map(evaluations).unwrap_or_default(),
    }
}
