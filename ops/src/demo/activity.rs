//! The demo's programme activity: a fiscal year (令和6年度) of what 富山県's 15 municipalities
//! record through `MunicipalProgram`, generated deterministically from a profile per
//! municipality.
//!
//! A profile fixes the answer each item should get as of the survey date — 実施している (a
//! qualifying activity is recorded), 年度内に実施予定 (only the annual plan schedules one) or
//! 実施していない (neither) — and which medical resources the municipality has. The mix is chosen so
//! that every answer occurs, whole 圏域 differ, and some municipalities have no 在宅療養支援病院/診療所
//! of their own (their designation candidates come from a neighbour, rule ③), while 新川's
//! consultation desks are only planned (a gap in 連携を担う拠点).
//!
//! Nothing here does I/O: [`plan`] returns the requests, [`ProgramCommand::send`] sends one.

use renkei_proto::programme::cycle::CareScene;
use renkei_proto::v1::{self, MunicipalProgramClient};
use tonic::Status;
use tonic::transport::Channel;

/// The fiscal year the demo records (令和6年度).
pub const FISCAL_YEAR: u16 = 2024;
/// The survey date (基準日) the tally is taken as of.
pub const AS_OF: &str = "2024-10-01";
/// Who records the demo's activity.
const ACTOR: &str = "renkei-demo";

/// The unified form the prefecture publishes and municipalities adopt (様式の統一).
pub const FORM_ID: &str = "toyama-discharge-liaison";
/// The record id of the discharge liaison agreement a municipality joins.
const LIAISON_ID: &str = "discharge-rule";
pub const FORM_NAME: &str = "富山県入退院支援連絡票";
pub const FORM_VERSION: &str = "2024.1";

/// What an item should answer as of [`AS_OF`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// 実施している
    Implemented,
    /// 年度内に実施予定
    Planned,
    /// 実施していない
    NotImplemented,
}

/// How a municipality takes part in cross-municipal work (ク) when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ku {
    /// Attends its 圏域's wide-area meeting.
    Meeting,
    /// Adopts the prefecture's unified form (which is also an (エ) tool).
    Form,
    /// Joins the discharge liaison agreement of its 圏域's hospital.
    Liaison,
}

/// One municipality's profile.
struct Profile {
    code: &'static str,
    /// The eight targets (ア … ク): I, P or N.
    targets: &'static str,
    general_hospitals: u8,
    /// 在宅療養支援病院, each 機能強化型 or not.
    support_hospitals: &'static [bool],
    /// 在宅療養支援診療所, each 機能強化型 or not.
    support_clinics: &'static [bool],
    ku: &'static [Ku],
}

const PROFILES: [Profile; 15] = [
    // 新川: no consultation desk in force yet (オ planned everywhere).
    Profile {
        code: "162043",
        targets: "IIIIPIII",
        general_hospitals: 1,
        support_hospitals: &[true],
        support_clinics: &[false, false],
        ku: &[Ku::Meeting, Ku::Liaison],
    },
    Profile {
        code: "162078",
        targets: "IIPIPIII",
        general_hospitals: 1,
        support_hospitals: &[false],
        support_clinics: &[false],
        ku: &[Ku::Liaison],
    },
    Profile {
        code: "163422",
        targets: "PINIPIIP",
        general_hospitals: 1,
        support_hospitals: &[],
        support_clinics: &[false],
        ku: &[],
    },
    Profile {
        code: "163431",
        targets: "NPNPPIIN",
        general_hospitals: 1,
        support_hospitals: &[],
        support_clinics: &[],
        ku: &[],
    },
    // 富山
    Profile {
        code: "162019",
        targets: "IIIIIIII",
        general_hospitals: 2,
        support_hospitals: &[true, false],
        support_clinics: &[true, false, false],
        ku: &[Ku::Meeting, Ku::Form],
    },
    Profile {
        code: "162060",
        targets: "IIIIIIII",
        general_hospitals: 1,
        support_hospitals: &[],
        support_clinics: &[true, false],
        ku: &[Ku::Form],
    },
    Profile {
        code: "163210",
        targets: "NNNPIPII",
        general_hospitals: 0,
        support_hospitals: &[],
        support_clinics: &[],
        ku: &[Ku::Meeting],
    },
    Profile {
        code: "163228",
        targets: "IPIIIIII",
        general_hospitals: 1,
        support_hospitals: &[false],
        support_clinics: &[],
        ku: &[Ku::Liaison],
    },
    Profile {
        code: "163236",
        targets: "IIPIIIPI",
        general_hospitals: 0,
        support_hospitals: &[],
        support_clinics: &[false],
        ku: &[Ku::Meeting],
    },
    // 高岡
    Profile {
        code: "162027",
        targets: "IIIIIIII",
        general_hospitals: 2,
        support_hospitals: &[true, false],
        support_clinics: &[true, false],
        ku: &[Ku::Meeting, Ku::Form, Ku::Liaison],
    },
    Profile {
        code: "162051",
        targets: "PIINIIII",
        general_hospitals: 1,
        support_hospitals: &[],
        support_clinics: &[],
        ku: &[Ku::Liaison],
    },
    Profile {
        code: "162116",
        targets: "IIIIIPII",
        general_hospitals: 1,
        support_hospitals: &[],
        support_clinics: &[false, false],
        ku: &[Ku::Form],
    },
    // 砺波
    Profile {
        code: "162086",
        targets: "IIIIIIII",
        general_hospitals: 1,
        support_hospitals: &[true],
        support_clinics: &[],
        ku: &[Ku::Form],
    },
    Profile {
        code: "162094",
        targets: "IPNIIIIP",
        general_hospitals: 1,
        support_hospitals: &[],
        support_clinics: &[false],
        ku: &[],
    },
    Profile {
        code: "162108",
        targets: "IIIIIIII",
        general_hospitals: 1,
        support_hospitals: &[false],
        support_clinics: &[false],
        ku: &[Ku::Liaison],
    },
];

/// A municipality of the demo, as the regions file lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipality {
    pub code: String,
    pub name: String,
    pub area_id: String,
    pub area_name: String,
}

/// Reads the 二次医療圏 file (header `area_id,area_name,municipality_code,municipality_name`).
pub fn municipalities(regions_csv: &str) -> Vec<Municipality> {
    regions_csv
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.trim().split(',').collect();
            (f.len() == 4).then(|| Municipality {
                area_id: f[0].to_owned(),
                area_name: f[1].to_owned(),
                code: f[2].to_owned(),
                name: f[3].to_owned(),
            })
        })
        .collect()
}

/// Returns the target of each item (ア … ク) for a municipality of the demo.
pub fn targets(code: &str) -> Option<[Target; 8]> {
    let profile = PROFILES.iter().find(|p| p.code == code)?;
    let mut out = [Target::NotImplemented; 8];
    for (slot, c) in out.iter_mut().zip(profile.targets.chars()) {
        *slot = match c {
            'I' => Target::Implemented,
            'P' => Target::Planned,
            _ => Target::NotImplemented,
        };
    }
    Some(out)
}

/// One request to a node's `MunicipalProgram` service.
#[derive(Debug, Clone)]
pub enum ProgramCommand {
    RegisterResource(v1::RegisterResourceRequest),
    ConductResourceSurvey(v1::ConductResourceSurveyRequest),
    PublishResourceList(v1::PublishResourceListRequest),
    HoldMeeting(v1::HoldMeetingRequest),
    RecordFinding(v1::RecordFindingRequest),
    EstablishArrangement(v1::EstablishArrangementRequest),
    AdoptTool(v1::AdoptToolRequest),
    OpenConsultationDesk(v1::OpenConsultationDeskRequest),
    OpenConsultationCase(v1::OpenConsultationCaseRequest),
    RecordConsultationAction(v1::RecordConsultationActionRequest),
    CloseConsultationCase(v1::CloseConsultationCaseRequest),
    HoldTraining(v1::HoldTrainingRequest),
    EvaluateTraining(v1::EvaluateTrainingRequest),
    RecordAwarenessActivity(v1::RecordAwarenessActivityRequest),
    AttendWideAreaMeeting(v1::AttendWideAreaMeetingRequest),
    AdoptUnifiedForm(v1::AdoptUnifiedFormRequest),
    JoinLiaisonAgreement(v1::JoinLiaisonAgreementRequest),
    ScheduleActivity(v1::ScheduleActivityRequest),
    SetSceneGoal(v1::SetSceneGoalRequest),
    DefineIndicator(v1::DefineIndicatorRequest),
    RecordMeasurement(v1::RecordMeasurementRequest),
    RecordEvaluation(v1::RecordEvaluationRequest),
}

impl ProgramCommand {
    /// Sends the request with the node's staff token.
    pub async fn send(
        self,
        client: &mut MunicipalProgramClient<Channel>,
        auth: &crate::rpc::Auth,
    ) -> Result<(), Status> {
        use crate::rpc::authed;
        match self {
            ProgramCommand::RegisterResource(r) => {
                client.register_resource(authed(auth, r)).await.map(drop)
            }
            ProgramCommand::ConductResourceSurvey(r) => client
                .conduct_resource_survey(authed(auth, r))
                .await
                .map(drop),
            ProgramCommand::PublishResourceList(r) => client
                .publish_resource_list(authed(auth, r))
                .await
                .map(drop),
            ProgramCommand::HoldMeeting(r) => client.hold_meeting(authed(auth, r)).await.map(drop),
            ProgramCommand::RecordFinding(r) => {
                client.record_finding(authed(auth, r)).await.map(drop)
            }
            ProgramCommand::EstablishArrangement(r) => client
                .establish_arrangement(authed(auth, r))
                .await
                .map(drop),
            ProgramCommand::AdoptTool(r) => client.adopt_tool(authed(auth, r)).await.map(drop),
            ProgramCommand::OpenConsultationDesk(r) => client
                .open_consultation_desk(authed(auth, r))
                .await
                .map(drop),
            ProgramCommand::OpenConsultationCase(r) => client
                .open_consultation_case(authed(auth, r))
                .await
                .map(drop),
            ProgramCommand::RecordConsultationAction(r) => client
                .record_consultation_action(authed(auth, r))
                .await
                .map(drop),
            ProgramCommand::CloseConsultationCase(r) => client
                .close_consultation_case(authed(auth, r))
                .await
                .map(drop),
            ProgramCommand::HoldTraining(r) => {
                client.hold_training(authed(auth, r)).await.map(drop)
            }
            ProgramCommand::EvaluateTraining(r) => {
                client.evaluate_training(authed(auth, r)).await.map(drop)
            }
            ProgramCommand::RecordAwarenessActivity(r) => client
                .record_awareness_activity(authed(auth, r))
                .await
                .map(drop),
            ProgramCommand::AttendWideAreaMeeting(r) => client
                .attend_wide_area_meeting(authed(auth, r))
                .await
                .map(drop),
            ProgramCommand::AdoptUnifiedForm(r) => {
                client.adopt_unified_form(authed(auth, r)).await.map(drop)
            }
            ProgramCommand::JoinLiaisonAgreement(r) => client
                .join_liaison_agreement(authed(auth, r))
                .await
                .map(drop),
            ProgramCommand::ScheduleActivity(r) => {
                client.schedule_activity(authed(auth, r)).await.map(drop)
            }
            ProgramCommand::SetSceneGoal(r) => {
                client.set_scene_goal(authed(auth, r)).await.map(drop)
            }
            ProgramCommand::DefineIndicator(r) => {
                client.define_indicator(authed(auth, r)).await.map(drop)
            }
            ProgramCommand::RecordMeasurement(r) => {
                client.record_measurement(authed(auth, r)).await.map(drop)
            }
            ProgramCommand::RecordEvaluation(r) => {
                client.record_evaluation(authed(auth, r)).await.map(drop)
            }
        }
    }

    /// Names the request in an error message, e.g. `HoldTraining training-1`.
    pub fn describe(&self) -> String {
        let (what, id) = match self {
            ProgramCommand::RegisterResource(r) => ("RegisterResource", &r.id),
            ProgramCommand::ConductResourceSurvey(r) => ("ConductResourceSurvey", &r.id),
            ProgramCommand::PublishResourceList(r) => ("PublishResourceList", &r.id),
            ProgramCommand::HoldMeeting(r) => ("HoldMeeting", &r.id),
            ProgramCommand::RecordFinding(r) => ("RecordFinding", &r.id),
            ProgramCommand::EstablishArrangement(r) => ("EstablishArrangement", &r.id),
            ProgramCommand::AdoptTool(r) => ("AdoptTool", &r.id),
            ProgramCommand::OpenConsultationDesk(r) => ("OpenConsultationDesk", &r.id),
            ProgramCommand::OpenConsultationCase(r) => ("OpenConsultationCase", &r.id),
            ProgramCommand::RecordConsultationAction(r) => ("RecordConsultationAction", &r.case_id),
            ProgramCommand::CloseConsultationCase(r) => ("CloseConsultationCase", &r.case_id),
            ProgramCommand::HoldTraining(r) => ("HoldTraining", &r.id),
            ProgramCommand::EvaluateTraining(r) => ("EvaluateTraining", &r.id),
            ProgramCommand::RecordAwarenessActivity(r) => ("RecordAwarenessActivity", &r.id),
            ProgramCommand::AttendWideAreaMeeting(r) => ("AttendWideAreaMeeting", &r.id),
            ProgramCommand::AdoptUnifiedForm(r) => ("AdoptUnifiedForm", &r.id),
            ProgramCommand::JoinLiaisonAgreement(r) => ("JoinLiaisonAgreement", &r.id),
            ProgramCommand::ScheduleActivity(r) => ("ScheduleActivity", &r.id),
            ProgramCommand::SetSceneGoal(r) => ("SetSceneGoal", &r.scene),
            ProgramCommand::DefineIndicator(r) => ("DefineIndicator", &r.id),
            ProgramCommand::RecordMeasurement(r) => ("RecordMeasurement", &r.id),
            ProgramCommand::RecordEvaluation(r) => ("RecordEvaluation", &r.scene),
        };
        format!("{what} {id}")
    }
}

/// A medical or care resource the demo registers.
struct Resource {
    id: String,
    kind: &'static str,
    enhanced: bool,
    name: String,
    code: String,
}

/// The resources of municipality number `index` (its position in the regions file).
fn resources(index: usize, m: &Municipality, p: &Profile) -> Vec<Resource> {
    let stem = m.name.strip_suffix(['市', '町', '村']).unwrap_or(&m.name);
    let mut serial = 0u32;
    let mut code = |category: u8| {
        serial += 1;
        format!("16{category}{:02}{serial:05}", index + 1)
    };
    let mut out = Vec::new();
    const GENERAL: [&str; 2] = ["中央病院", "市民病院"];
    for (i, suffix) in GENERAL
        .iter()
        .take(usize::from(p.general_hospitals))
        .enumerate()
    {
        out.push(Resource {
            id: format!("hospital-{}", i + 1),
            kind: "hospital",
            enhanced: false,
            name: format!("{stem}{suffix}"),
            code: code(1),
        });
    }
    const HOSPITALS: [&str; 2] = ["在宅医療センター病院", "リハビリテーション病院"];
    for (i, enhanced) in p.support_hospitals.iter().enumerate() {
        out.push(Resource {
            id: format!("support-hospital-{}", i + 1),
            kind: "home_care_support_hospital",
            enhanced: *enhanced,
            name: format!("{stem}{}", HOSPITALS[i % 2]),
            code: code(1),
        });
    }
    const CLINICS: [&str; 3] = ["ホームクリニック", "駅前在宅診療所", "みなみ内科クリニック"];
    for (i, enhanced) in p.support_clinics.iter().enumerate() {
        out.push(Resource {
            id: format!("support-clinic-{}", i + 1),
            kind: "home_care_support_clinic",
            enhanced: *enhanced,
            name: format!("{stem}{}", CLINICS[i % 3]),
            code: code(1),
        });
    }
    out.push(Resource {
        id: "dental-1".into(),
        kind: "dental_clinic",
        enhanced: false,
        name: format!("{stem}歯科医院"),
        code: code(3),
    });
    out.push(Resource {
        id: "pharmacy-1".into(),
        kind: "pharmacy",
        enhanced: false,
        name: format!("{stem}調剤薬局"),
        code: code(4),
    });
    out.push(Resource {
        id: "nursing-1".into(),
        kind: "visiting_nursing_station",
        enhanced: false,
        name: format!("訪問看護ステーション{stem}"),
        code: code(6),
    });
    out.push(Resource {
        id: "care-office-1".into(),
        kind: "care_management_office",
        enhanced: false,
        name: format!("{stem}居宅介護支援事業所"),
        code: format!("167{:02}{:05}", index + 1, 1),
    });
    out
}

fn count(of: &str, count: u32) -> v1::ProgramCount {
    v1::ProgramCount {
        of: of.to_owned(),
        count,
    }
}

/// The 医療機関コード of the hospital whose discharge liaison agreement a municipality of `area`
/// joins: the first 在宅療養支援病院 of the 圏域 (or, failing that, its first hospital).
fn liaison_hospital(all: &[Municipality], area: &str) -> Option<String> {
    let mut fallback = None;
    for (i, m) in all.iter().enumerate() {
        if m.area_id != area {
            continue;
        }
        let profile = PROFILES.iter().find(|p| p.code == m.code)?;
        let list = resources(i, m, profile);
        if let Some(r) = list.iter().find(|r| r.kind == "home_care_support_hospital") {
            return Some(r.code.clone());
        }
        if fallback.is_none() {
            fallback = list
                .iter()
                .find(|r| r.kind == "hospital")
                .map(|r| r.code.clone());
        }
    }
    fallback
}

/// The requests that record municipality `m`'s fiscal year; `all` is every municipality of the
/// regions file (for neighbours). Returns nothing for a municipality without a profile.
pub fn plan(m: &Municipality, all: &[Municipality]) -> Vec<ProgramCommand> {
    let Some(index) = all.iter().position(|x| x.code == m.code) else {
        return Vec::new();
    };
    let Some(profile) = PROFILES.iter().find(|p| p.code == m.code) else {
        return Vec::new();
    };
    let Some(targets) = targets(&m.code) else {
        return Vec::new();
    };
    let code = m.code.clone();
    let actor = ACTOR.to_owned();
    let fy = u32::from(FISCAL_YEAR);
    let large = profile.general_hospitals >= 2;
    let mut actions = Vec::new();
    let schedule =
        |actions: &mut Vec<ProgramCommand>, id: &str, item: &str, what: &str, on: &str| {
            actions.push(ProgramCommand::ScheduleActivity(
                v1::ScheduleActivityRequest {
                    municipality_code: code.clone(),
                    actor: actor.clone(),
                    fiscal_year: fy,
                    id: id.to_owned(),
                    item: item.to_owned(),
                    what: what.to_owned(),
                    scheduled_on: on.to_owned(),
                    owner: "地域包括ケア推進課".to_owned(),
                    delegated_to: if large {
                        "郡市医師会".to_owned()
                    } else {
                        String::new()
                    },
                    planned_on: "2024-04-01".to_owned(),
                    // The scene each kind of activity most often serves in the guides' examples.
                    scenes: vec![
                        match item {
                            "b" | "h" => "admission_discharge",
                            "f" | "g" => "end_of_life",
                            _ => "daily_care",
                        }
                        .to_owned(),
                    ],
                    indicators: vec![],
                },
            ));
        };

    // (ア) The registry always; a survey and a published map when implemented.
    let list = resources(index, m, profile);
    for r in &list {
        let medical = r.kind != "care_management_office";
        let mut capabilities = Vec::new();
        match r.kind {
            "home_care_support_hospital" | "home_care_support_clinic" => {
                capabilities.extend([
                    "home_visits",
                    "house_calls",
                    "around_the_clock",
                    "end_of_life_care",
                ]);
                if r.enhanced {
                    capabilities.push("palliative_care");
                }
            }
            "hospital" => capabilities.push("house_calls"),
            "dental_clinic" => capabilities.push("home_dental_care"),
            "pharmacy" => capabilities.push("home_pharmacy"),
            "visiting_nursing_station" => {
                capabilities.extend(["around_the_clock", "end_of_life_care"])
            }
            _ => {}
        }
        actions.push(ProgramCommand::RegisterResource(
            v1::RegisterResourceRequest {
                municipality_code: code.clone(),
                actor: actor.clone(),
                id: r.id.clone(),
                details: Some(v1::ResourceDetails {
                    kind: r.kind.to_owned(),
                    enhanced: r.enhanced,
                    name: r.name.clone(),
                    medical_institution_code: if medical {
                        r.code.clone()
                    } else {
                        String::new()
                    },
                    care_provider_number: if medical {
                        String::new()
                    } else {
                        r.code.clone()
                    },
                    address: format!("富山県{}", m.name),
                    contact: "076-000-0000".to_owned(),
                    capabilities: capabilities.into_iter().map(str::to_owned).collect(),
                    consultation_hours: "平日 9:00〜17:00".to_owned(),
                    listed_for_residents: true,
                    ..Default::default()
                }),
                on: "2024-04-01".to_owned(),
            },
        ));
    }
    match targets[0] {
        Target::Implemented => {
            actions.push(ProgramCommand::ConductResourceSurvey(
                v1::ConductResourceSurveyRequest {
                    municipality_code: code.clone(),
                    actor: actor.clone(),
                    id: "resource-survey-2024".into(),
                    title: "在宅医療・介護資源調査".into(),
                    on: "2024-06-14".into(),
                    responses: 20 + 7 * (index as u32 % 5),
                },
            ));
            actions.push(ProgramCommand::PublishResourceList(
                v1::PublishResourceListRequest {
                    municipality_code: code.clone(),
                    actor: actor.clone(),
                    id: "resource-map-2024".into(),
                    title: format!("{} 在宅医療・介護資源マップ", m.name),
                    audience: "professionals".into(),
                    format: "map".into(),
                    on: "2024-08-01".into(),
                },
            ));
        }
        Target::Planned => schedule(
            &mut actions,
            "plan-a",
            "a",
            "在宅医療・介護資源マップの作成",
            "2025-01-31",
        ),
        Target::NotImplemented => {}
    }

    // (イ) A coordination council that records an issue and its countermeasure.
    match targets[1] {
        Target::Implemented => {
            actions.push(ProgramCommand::HoldMeeting(v1::HoldMeetingRequest {
                municipality_code: code.clone(),
                actor: actor.clone(),
                id: "council-2024-1".into(),
                kind: "coordination_council".into(),
                title: format!("{} 在宅医療・介護連携推進会議", m.name),
                on: "2024-05-23".into(),
                participants: vec![
                    count("medical_association", 3),
                    count("dental_association", 1),
                    count("pharmacist_association", 1),
                    count("visiting_nursing", 2),
                    count("care_manager_association", 2),
                    count("community_general_support_center", 2),
                    count("municipality", 2),
                ],
                scenes: vec!["admission_discharge".into(), "end_of_life".into()],
                working_group: String::new(),
            }));
            actions.push(ProgramCommand::RecordFinding(v1::RecordFindingRequest {
                municipality_code: code.clone(),
                actor: actor.clone(),
                meeting: "council-2024-1".into(),
                id: "issue-1".into(),
                kind: "issue".into(),
                text: "退院前カンファレンスに介護支援専門員が参加できていない".into(),
                scenes: vec!["admission_discharge".into()],
                answers: String::new(),
            }));
            actions.push(ProgramCommand::RecordFinding(v1::RecordFindingRequest {
                municipality_code: code.clone(),
                actor: actor.clone(),
                meeting: "council-2024-1".into(),
                id: "measure-1".into(),
                kind: "countermeasure".into(),
                text: "入退院支援ルールを病院・居宅介護支援事業所に周知する".into(),
                scenes: vec!["admission_discharge".into()],
                answers: "issue-1".into(),
            }));
        }
        Target::Planned => schedule(
            &mut actions,
            "plan-b",
            "b",
            "在宅医療・介護連携推進会議の開催",
            "2024-11-20",
        ),
        Target::NotImplemented => {}
    }

    // (ウ) A physician pairing where two home-care institutions exist, else an emergency hospital.
    match targets[2] {
        Target::Implemented => {
            let home_care: Vec<&Resource> = list
                .iter()
                .filter(|r| r.kind.starts_with("home_care_support"))
                .collect();
            let (kind, name, resources) = if home_care.len() >= 2 {
                (
                    "physician_pairing",
                    "主治医・副主治医制",
                    vec![home_care[0].id.clone(), home_care[1].id.clone()],
                )
            } else {
                let hospital = list
                    .iter()
                    .find(|r| r.kind.contains("hospital"))
                    .map_or_else(|| "nursing-1".to_owned(), |r| r.id.clone());
                (
                    "emergency_hospital",
                    "急変時の受入れ医療機関の確保",
                    vec![hospital],
                )
            };
            actions.push(ProgramCommand::EstablishArrangement(
                v1::EstablishArrangementRequest {
                    municipality_code: code.clone(),
                    actor: actor.clone(),
                    id: "arrangement-1".into(),
                    name: name.into(),
                    kind: kind.into(),
                    resources,
                    beds: 0,
                    first_day: "2024-04-01".into(),
                    last_day: String::new(),
                    // 主治医・副主治医制 and rotations keep people at home; emergency hospitals
                    // answer a sudden deterioration.
                    scenes: vec![
                        if kind == "emergency_hospital" {
                            "sudden_deterioration"
                        } else {
                            "daily_care"
                        }
                        .into(),
                    ],
                },
            ));
        }
        Target::Planned => schedule(
            &mut actions,
            "plan-c",
            "c",
            "急変時の受入れ体制の協議",
            "2024-12-10",
        ),
        Target::NotImplemented => {}
    }

    // (エ) An information-sharing tool (the unified form counts too, see ク).
    match targets[3] {
        Target::Implemented => actions.push(ProgramCommand::AdoptTool(v1::AdoptToolRequest {
            municipality_code: code.clone(),
            actor: actor.clone(),
            id: "renraku-note".into(),
            name: "在宅療養連絡ノート".into(),
            kind: if large {
                "ict".into()
            } else {
                "contact_book".into()
            },
            version: "2024.1".into(),
            manual_title: "在宅療養連絡ノート活用マニュアル".into(),
            manual_covers_personal_information: true,
            scenes: vec!["daily_care".into()],
            on: "2024-04-15".into(),
        })),
        Target::Planned => schedule(
            &mut actions,
            "plan-d",
            "d",
            "情報共有ツールの導入",
            "2025-02-03",
        ),
        Target::NotImplemented => {}
    }

    // (ク) The discharge liaison agreement is recorded first: the (オ) discharge cases its
    // hospital hands over name it.
    let liaison = (targets[7] == Target::Implemented && profile.ku.contains(&Ku::Liaison))
        .then(|| liaison_hospital(all, &m.area_id))
        .flatten();
    if let Some(hospital) = &liaison {
        actions.push(ProgramCommand::JoinLiaisonAgreement(
            v1::JoinLiaisonAgreementRequest {
                municipality_code: code.clone(),
                actor: actor.clone(),
                id: LIAISON_ID.into(),
                hospital: hospital.clone(),
                rule_version: "2024".into(),
                notification_lead_days: 3,
                contact_point: "地域医療連携室（入退院支援）".into(),
                first_day: "2024-04-01".into(),
                last_day: String::new(),
            },
        ));
    }

    // (オ) A consultation desk and its cases (counts only leave the node).
    match targets[4] {
        Target::Implemented => {
            let host = if large {
                "medical_association"
            } else {
                "municipality"
            };
            actions.push(ProgramCommand::OpenConsultationDesk(
                v1::OpenConsultationDeskRequest {
                    municipality_code: code.clone(),
                    actor: actor.clone(),
                    id: "desk".into(),
                    name: format!("{} 在宅医療・介護連携支援センター", m.name),
                    host: host.into(),
                    staff: vec![count("nurse", 1), count("care_manager", 1)],
                    hours: "平日 8:30〜17:15".into(),
                    on: "2024-04-01".into(),
                },
            ));
            const REFERRERS: [&str; 5] = [
                "care_manager",
                "hospital",
                "community_general_support_center",
                "resident",
                "visiting_nursing",
            ];
            const TOPICS: [&str; 5] = [
                "discharge",
                "home_visit_provider",
                "end_of_life",
                "dementia",
                "coordination",
            ];
            const ACTIONS: [&str; 4] = [
                "discharge_coordination",
                "information",
                "referral",
                "coordination",
            ];
            let cases = 3 + (index % 4) + if large { 4 } else { 0 };
            for c in 0..cases {
                let id = format!("case-{:03}", c + 1);
                let month = 5 + (c % 5);
                let on = format!("2024-{month:02}-{:02}", 3 + 2 * (c % 10));
                actions.push(ProgramCommand::OpenConsultationCase(
                    v1::OpenConsultationCaseRequest {
                        municipality_code: code.clone(),
                        actor: actor.clone(),
                        id: id.clone(),
                        desk: "desk".into(),
                        on: on.clone(),
                        referrer: REFERRERS[(c + index) % 5].into(),
                        topic: TOPICS[c % 5].into(),
                        scenes: vec![],
                        subject: String::new(),
                        personal: None,
                        liaison_agreement: if liaison.is_some() && TOPICS[c % 5] == "discharge" {
                            LIAISON_ID.into()
                        } else {
                            String::new()
                        },
                    },
                ));
                actions.push(ProgramCommand::RecordConsultationAction(
                    v1::RecordConsultationActionRequest {
                        municipality_code: code.clone(),
                        actor: actor.clone(),
                        case_id: id.clone(),
                        action: ACTIONS[c % 4].into(),
                        on: on.clone(),
                    },
                ));
                if c % 2 == 0 {
                    actions.push(ProgramCommand::CloseConsultationCase(
                        v1::CloseConsultationCaseRequest {
                            municipality_code: code.clone(),
                            actor: actor.clone(),
                            case_id: id,
                            on,
                        },
                    ));
                }
            }
        }
        Target::Planned => schedule(
            &mut actions,
            "plan-e",
            "e",
            "在宅医療・介護連携の相談窓口の開設",
            "2025-01-06",
        ),
        Target::NotImplemented => {}
    }

    // (カ) A multi-professional training, evaluated; a second one planned for the winter.
    match targets[5] {
        Target::Implemented => {
            let scale = if large { 3 } else { 1 };
            actions.push(ProgramCommand::HoldTraining(v1::HoldTrainingRequest {
                municipality_code: code.clone(),
                actor: actor.clone(),
                id: "training-1".into(),
                kind: "multi_professional_group_work".into(),
                title: "多職種連携研修会（入退院支援）".into(),
                on: "2024-07-18".into(),
                participants: vec![
                    count("physician", 2 * scale),
                    count("nurse", 6 * scale),
                    count("care_manager", 9 * scale),
                    count("pharmacist", scale),
                    count("rehabilitation", 2 * scale),
                ],
                scenes: vec!["admission_discharge".into()],
            }));
            actions.push(ProgramCommand::EvaluateTraining(
                v1::EvaluateTrainingRequest {
                    municipality_code: code.clone(),
                    actor: actor.clone(),
                    id: "training-1".into(),
                    respondents: 18 * scale,
                    satisfied: 15 * scale,
                    on: "2024-07-31".into(),
                },
            ));
            schedule(
                &mut actions,
                "plan-f-2",
                "f",
                "看取りをテーマにした多職種研修",
                "2025-02-13",
            );
        }
        Target::Planned => schedule(
            &mut actions,
            "plan-f",
            "f",
            "多職種連携研修会の開催",
            "2024-11-14",
        ),
        Target::NotImplemented => {}
    }

    // (キ) A public lecture where the municipality is large enough, a leaflet elsewhere.
    match targets[6] {
        Target::Implemented => {
            let (kind, title, attendance, copies) = if profile.general_hospitals > 0 {
                (
                    "lecture",
                    "市民公開講座「住み慣れた家で最期まで」",
                    Some(60 + 15 * (index as u32 % 4)),
                    None,
                )
            } else {
                ("pamphlet", "在宅医療・介護のしおり", None, Some(1500))
            };
            actions.push(ProgramCommand::RecordAwarenessActivity(
                v1::RecordAwarenessActivityRequest {
                    municipality_code: code.clone(),
                    actor: actor.clone(),
                    id: "awareness-1".into(),
                    kind: kind.into(),
                    title: title.into(),
                    audience: "住民".into(),
                    on: "2024-09-07".into(),
                    attendance,
                    copies,
                    scenes: vec!["end_of_life".into()],
                },
            ));
        }
        Target::Planned => schedule(
            &mut actions,
            "plan-g",
            "g",
            "在宅医療に関する出前トーク",
            "2024-12-05",
        ),
        Target::NotImplemented => {}
    }

    // (ク) Wide-area meeting, unified form, liaison agreement.
    match targets[7] {
        Target::Implemented => {
            for ku in profile.ku {
                match ku {
                    Ku::Meeting => actions.push(ProgramCommand::AttendWideAreaMeeting(
                        v1::AttendWideAreaMeetingRequest {
                            municipality_code: code.clone(),
                            actor: actor.clone(),
                            id: "wide-area-meeting-2024".into(),
                            title: format!("{}圏域 在宅医療・介護連携推進会議", m.area_name),
                            area: m.area_name.clone(),
                            on: "2024-06-26".into(),
                            participants: vec![count("municipality", 2)],
                        },
                    )),
                    Ku::Form => actions.push(ProgramCommand::AdoptUnifiedForm(
                        v1::AdoptUnifiedFormRequest {
                            municipality_code: code.clone(),
                            actor: actor.clone(),
                            id: FORM_ID.into(),
                            name: FORM_NAME.into(),
                            version: FORM_VERSION.into(),
                            on: "2024-07-01".into(),
                        },
                    )),
                    // Recorded before the (オ) cases, above.
                    Ku::Liaison => {}
                }
            }
        }
        Target::Planned => schedule(
            &mut actions,
            "plan-h",
            "h",
            "圏域の入退院支援ルールへの参加",
            "2025-03-01",
        ),
        Target::NotImplemented => {}
    }
    actions.extend(cycle(index, &code));
    actions
}

/// The PDCA cycle of municipality number `index` for FY2024 (第9期): goals (目指す姿) for the first
/// `index % 5` scenes, a structure indicator unless `index % 3 == 0`, an outcome indicator (with
/// a measurement) for even `index`, and the evaluation of FY2023 for the first scene unless
/// `index % 4 == 3` — reached for even `index`, with the improvement decided for odd ones. So the
/// cycle tally has municipalities at every step and every count differs.
pub fn cycle(index: usize, code: &str) -> Vec<ProgramCommand> {
    let mut out = Vec::new();
    for scene in CareScene::FOUR.iter().take(index % 5) {
        out.push(ProgramCommand::SetSceneGoal(v1::SetSceneGoalRequest {
            municipality_code: code.to_owned(),
            actor: ACTOR.to_owned(),
            period: 9,
            scene: scene.code().into(),
            text: format!(
                "{}の場面で、本人と家族が望む暮らしを多職種で支える",
                scene.label()
            ),
            set_on: "2024-04-01".into(),
        }));
    }
    let indicator = |id: &str, kind: &str, name: &str, unit: &str, baseline, target| {
        ProgramCommand::DefineIndicator(v1::DefineIndicatorRequest {
            municipality_code: code.to_owned(),
            actor: ACTOR.to_owned(),
            fiscal_year: u32::from(FISCAL_YEAR),
            id: id.into(),
            kind: kind.into(),
            name: name.into(),
            unit: unit.into(),
            item: String::new(),
            target,
            scene: if kind == "outcome" {
                "end_of_life"
            } else {
                "daily_care"
            }
            .into(),
            baseline: Some(baseline),
        })
    };
    if !index.is_multiple_of(3) {
        out.push(indicator(
            "doctors-2024",
            "structure",
            "在宅医療に参画するかかりつけ医師数",
            "人",
            10.0 + index as f64,
            12.0 + index as f64,
        ));
    }
    if index.is_multiple_of(2) {
        out.push(indicator(
            "home-deaths-2024",
            "outcome",
            "在宅看取り率",
            "%",
            18.0,
            22.0,
        ));
        out.push(ProgramCommand::RecordMeasurement(
            v1::RecordMeasurementRequest {
                municipality_code: code.to_owned(),
                actor: ACTOR.to_owned(),
                fiscal_year: u32::from(FISCAL_YEAR),
                id: "home-deaths-2024".into(),
                on: "2024-09-30".into(),
                value: 19.5,
            },
        ));
    }
    if index % 4 != 3 {
        let reached = index.is_multiple_of(2);
        out.push(ProgramCommand::RecordEvaluation(
            v1::RecordEvaluationRequest {
                municipality_code: code.to_owned(),
                actor: ACTOR.to_owned(),
                fiscal_year: u32::from(FISCAL_YEAR) - 1,
                scene: CareScene::FOUR[0].code().into(),
                reached,
                reason: if reached {
                    "多職種研修の参加者が目標を上回った".into()
                } else {
                    "訪問診療を担う医師の確保が進まなかった".into()
                },
                improvement: if reached {
                    String::new()
                } else {
                    "医師会と同行訪問研修を企画する".into()
                },
                on: "2024-05-20".into(),
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const AREAS: &str = include_str!("../../../federation/data/toyama_secondary_medical_areas.csv");

    #[test]
    fn every_municipality_of_the_regions_file_has_a_profile_and_a_plan() {
        let all = municipalities(AREAS);
        assert_eq!(all.len(), 15);
        for m in &all {
            assert!(targets(&m.code).is_some(), "{} has no profile", m.code);
            assert!(!plan(m, &all).is_empty());
        }
    }

    #[test]
    fn all_three_answers_occur_and_some_municipalities_need_a_neighbour() {
        let all = municipalities(AREAS);
        let answers: Vec<Target> = all.iter().flat_map(|m| targets(&m.code).unwrap()).collect();
        for t in [Target::Implemented, Target::Planned, Target::NotImplemented] {
            assert!(answers.contains(&t), "{t:?} never occurs");
        }
        let without_home_care: Vec<&str> = PROFILES
            .iter()
            .filter(|p| p.support_hospitals.is_empty() && p.support_clinics.is_empty())
            .map(|p| p.code)
            .collect();
        assert!(without_home_care.len() >= 2);
    }

    #[test]
    fn medical_codes_are_ten_digits_of_toyama() {
        let all = municipalities(AREAS);
        for (i, m) in all.iter().enumerate() {
            let p = PROFILES.iter().find(|p| p.code == m.code).unwrap();
            for r in resources(i, m, p) {
                assert_eq!(r.code.len(), 10, "{}", r.code);
                assert!(r.code.starts_with("16"));
            }
        }
    }

    #[test]
    fn a_planned_item_is_only_scheduled() {
        let all = municipalities(AREAS);
        let asahi = all.iter().find(|m| m.code == "163431").unwrap();
        let actions = plan(asahi, &all);
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, ProgramCommand::ScheduleActivity(s) if s.item == "b"))
        );
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, ProgramCommand::HoldMeeting(_)))
        );
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, ProgramCommand::OpenConsultationDesk(_)))
        );
    }
}
