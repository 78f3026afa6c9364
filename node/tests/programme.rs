//! Proves the programme's application service over a real event store and key vault in a temp
//! dir: commands are decided and appended, refusals write nothing, status is derived from the
//! stored events (as of a date and as known at a recorded instant), and erasing a data subject
//! makes its details unreadable while counts stay, with no file of the data dir holding the
//! subject's name in clear.

mod common;

use chrono::NaiveDate;
use common::*;
use renkei_node::domain::consultation::{
    CaseAction, ConsultationCommand, DeskHost, PersonalDetails, Referrer, Topic,
};
use renkei_node::domain::plan::PlanCommand;
use renkei_node::domain::status::SurveyStatus;
use renkei_node::domain::trainings::{TrainingCommand, TrainingKind};
use renkei_node::domain::values::*;
use renkei_node::domain::{DomainError, Item};
use renkei_node::personal::{KeyVault, MasterKey};
use renkei_node::programme::{Programme, ProgrammeCommand, ProgrammeError};
use renkei_proto::FiscalYear;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

async fn programme(dir: &std::path::Path) -> Programme {
    let store = open(&dir.join("events")).await;
    let master = MasterKey::load_or_create(&dir.join("master.key")).unwrap();
    let vault = KeyVault::open(&dir.join("personal-keys"), master).unwrap();
    Programme::new(store, vault)
}

/// Returns the files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for entry in std::fs::read_dir(&p).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(path);
                }
            }
        }
    }
    hits
}

/// Opens the consultation desk `desk` on 2024-04-01.
fn open_desk() -> ProgrammeCommand {
    ProgrammeCommand::Consultation(ConsultationCommand::OpenDesk {
        id: DeskId::parse("id", "desk").unwrap(),
        name: "在宅医療介護連携支援センター".into(),
        host: DeskHost::MedicalAssociation,
        staff: vec![Count {
            of: Profession::Nurse,
            count: 1,
        }],
        hours: "平日 9:00-17:00".into(),
        on: d(2024, 4, 1),
    })
}

fn training(id: &str, on: NaiveDate) -> ProgrammeCommand {
    ProgrammeCommand::Trainings(TrainingCommand::Hold {
        id: TrainingId::parse("id", id).unwrap(),
        kind: TrainingKind::MultiProfessionalGroupWork,
        title: "多職種連携研修".into(),
        on,
        participants: vec![Count {
            of: Profession::CareManager,
            count: 25,
        }],
        scenes: vec![CareScene::EndOfLife],
    })
}

#[tokio::test]
async fn status_comes_from_stored_evidence_as_of_and_as_known_at() {
    let dir = tempfile::tempdir().unwrap();
    let p = programme(dir.path()).await;
    let fy = FiscalYear::new(2024).unwrap();
    // given a plan for item カ
    p.execute(
        toyama(),
        "tester",
        ProgrammeCommand::Plan(PlanCommand::ScheduleActivity {
            fiscal_year: fy,
            id: PlannedActivityId::parse("id", "p1").unwrap(),
            item: Item::Ka,
            what: "多職種研修".into(),
            scheduled_on: d(2024, 11, 1),
            owner: "長寿福祉課".into(),
            delegated_to: Some("富山市医師会".into()),
            planned_on: d(2024, 4, 1),
            scenes: vec![],
            indicators: vec![],
        }),
    )
    .await
    .unwrap();
    let planned_at = p
        .store()
        .read_all(toyama(), renkei_node::store::GlobalPosition(1), 10)
        .unwrap()[0]
        .recorded_at;
    let status = |as_of, known_at| {
        p.status(toyama(), fy, as_of, known_at)
            .unwrap()
            .into_iter()
            .find(|s| s.item == Item::Ka)
            .unwrap()
            .status
    };
    assert_eq!(status(d(2024, 8, 1), None), SurveyStatus::Planned);
    // when the training is held on 2024-11-01
    p.execute(toyama(), "tester", training("t1", d(2024, 11, 1)))
        .await
        .unwrap();
    // then it is implemented as of 2024-11-01, planned as of the day before, and planned as known
    // at the moment the plan was recorded
    assert_eq!(status(d(2024, 11, 1), None), SurveyStatus::Implemented);
    assert_eq!(status(d(2024, 10, 31), None), SurveyStatus::Planned);
    assert_eq!(
        status(d(2024, 11, 1), Some(planned_at)),
        SurveyStatus::Planned
    );
    // and another tenant sees nothing
    let other = p.status(takaoka(), fy, d(2025, 3, 31), None).unwrap();
    assert!(
        other
            .iter()
            .all(|s| s.status == SurveyStatus::NotImplemented)
    );
}

#[tokio::test]
async fn a_refused_command_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = programme(dir.path()).await;
    p.execute(toyama(), "tester", training("t1", d(2024, 11, 1)))
        .await
        .unwrap();
    let before = p.store().last_position(toyama()).unwrap();
    let err = p
        .execute(toyama(), "tester", training("t1", d(2024, 12, 1)))
        .await
        .unwrap_err();
    // the same id with another date: already recorded with other content
    assert!(matches!(
        err,
        ProgrammeError::Domain(DomainError::AlreadyRecorded {
            what: "training",
            ..
        })
    ));
    assert_eq!(p.store().last_position(toyama()).unwrap(), before);
}

/// Issue 20 point 7, after 002_d84b57721e905ed5.txt line 723: the prefecture supports
/// 「入退院時における医療機関職員と介護支援専門員の連携等広域的な医療機関と地域の介護関係者との
/// 連携・調整」. An agreement names its hospital by 医療機関コード (so the prefecture can name it
/// from its registry), and a discharge case handled under it names the agreement — one of the
/// municipality's, in force that day — so that cases count per agreement.
#[tokio::test]
async fn a_liaison_agreement_names_its_hospital_by_code_and_its_cases_name_the_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let p = programme(dir.path()).await;
    let m = toyama();
    let join = |hospital: &str| {
        renkei_node::grpc::decode::join_liaison_agreement(
            &renkei_proto::v1::JoinLiaisonAgreementRequest {
                municipality_code: m.to_string(),
                actor: "tester".into(),
                id: "discharge-rule".into(),
                hospital: hospital.into(),
                rule_version: "2024".into(),
                notification_lead_days: 3,
                contact_point: "地域連携室".into(),
                first_day: "2024-04-01".into(),
                last_day: "2024-12-31".into(),
            },
        )
    };
    let DomainError::Invalid { field, value, .. } = join("富山県立中央病院").unwrap_err()
    else {
        panic!("a hospital named, not coded, is invalid");
    };
    assert_eq!(
        (field.as_str(), value.as_str()),
        ("hospital", "富山県立中央病院")
    );
    p.execute(m, "tester", join("1610000011").unwrap())
        .await
        .unwrap();
    p.execute(m, "tester", open_desk()).await.unwrap();
    let case = |id: &str, on: NaiveDate, agreement: &str| {
        ProgrammeCommand::Consultation(ConsultationCommand::OpenCase {
            id: CaseId::parse("id", id).unwrap(),
            desk: DeskId::parse("id", "desk").unwrap(),
            on,
            referrer: Referrer::Hospital,
            topic: Topic::Discharge,
            scenes: vec![CareScene::AdmissionDischarge],
            personal: None,
            liaison_agreement: Some(WideAreaId::parse("liaison_agreement", agreement).unwrap()),
        })
    };
    let before = p.store().last_position(m).unwrap();
    for (command, why) in [
        (
            case("c1", d(2024, 6, 1), "no-such-rule"),
            "is not a liaison agreement",
        ),
        (
            case("c1", d(2025, 1, 6), "discharge-rule"),
            "not on 2025-01-06",
        ),
    ] {
        let err = p.execute(m, "tester", command).await.unwrap_err();
        let ProgrammeError::Domain(DomainError::Invalid { field, reason, .. }) = &err else {
            panic!("refused as invalid: {err:?}");
        };
        assert_eq!(field, "liaison_agreement");
        assert!(reason.contains(why), "{reason}");
    }
    assert_eq!(
        p.store().last_position(m).unwrap(),
        before,
        "nothing written"
    );
    p.execute(m, "tester", case("c1", d(2024, 6, 1), "discharge-rule"))
        .await
        .unwrap();
    // A retry records nothing more.
    let again = p
        .execute(m, "tester", case("c1", d(2024, 6, 1), "discharge-rule"))
        .await
        .unwrap();
    assert_eq!(again.events, 0);
}

#[tokio::test]
async fn erasing_a_subject_makes_its_details_unreadable_and_keeps_counts() {
    let dir = tempfile::tempdir().unwrap();
    let name = "連携太郎";
    let subject = SubjectId::parse("id", "subj-1").unwrap();
    let case = CaseId::parse("id", "case-1").unwrap();
    {
        let p = programme(dir.path()).await;
        p.execute(toyama(), "tester", open_desk()).await.unwrap();
        let sealed = p
            .seal(
                toyama(),
                &subject,
                PersonalDetails {
                    name: name.into(),
                    birth_date: Some(d(1940, 1, 2)),
                    address: Some("富山市新桜町".into()),
                    phone: None,
                    notes: Some("退院後の訪問診療先".into()),
                },
            )
            .unwrap();
        for command in [
            ConsultationCommand::OpenCase {
                id: case.clone(),
                desk: DeskId::parse("id", "desk").unwrap(),
                on: d(2024, 6, 1),
                referrer: Referrer::Hospital,
                topic: Topic::Discharge,
                scenes: vec![CareScene::AdmissionDischarge],
                personal: Some(sealed),
                liaison_agreement: None,
            },
            ConsultationCommand::RecordAction {
                case: case.clone(),
                action: CaseAction::DischargeCoordination,
                on: d(2024, 6, 2),
            },
        ] {
            p.execute(toyama(), "tester", ProgrammeCommand::Consultation(command))
                .await
                .unwrap();
        }
        let view = p.case(toyama(), &case).unwrap();
        assert_eq!(view.personal.unwrap().name, name);
        let before = p.store().last_position(toyama()).unwrap();

        // when the subject is erased
        p.execute(
            toyama(),
            "tester",
            ProgrammeCommand::Consultation(ConsultationCommand::EraseSubject {
                subject: subject.clone(),
                on: d(2024, 12, 1),
            }),
        )
        .await
        .unwrap();

        // then the case reads without details, the log only grew, and counts are unchanged
        let view = p.case(toyama(), &case).unwrap();
        assert!(view.erased);
        assert_eq!(view.personal, None);
        assert_eq!(
            p.store().last_position(toyama()).unwrap().get(),
            before.get() + 1
        );
        let stats = p
            .consultation_statistics(toyama(), FiscalYear::new(2024).unwrap())
            .unwrap();
        assert_eq!((stats.cases, stats.by_action.len()), (1, 1));
        let status = p
            .status(
                toyama(),
                FiscalYear::new(2024).unwrap(),
                d(2025, 3, 31),
                None,
            )
            .unwrap();
        assert_eq!(status[4].status, SurveyStatus::Implemented);
        p.store().close().await.unwrap();
    }
    // and no file of the data dir holds the name in clear
    assert_eq!(
        files_containing(dir.path(), name.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );
    // and after a restart the details stay unreadable
    let p = programme(dir.path()).await;
    assert_eq!(p.case(toyama(), &case).unwrap().personal, None);
}

#[tokio::test]
async fn an_unreadable_event_names_itself_and_the_other_registers_still_answer() {
    let dir = tempfile::tempdir().unwrap();
    let p = programme(dir.path()).await;
    let m = toyama();
    // given a training register holding an event this version cannot read (written by a newer
    // version, or damaged), beside the store's API
    let mut garbage = event(1);
    garbage.event_type = "TrainingHeld".into();
    garbage.payload = b"{\"trainings\": 42".to_vec();
    p.store()
        .append(
            m,
            stream("programme/trainings"),
            renkei_node::store::ExpectedVersion::Any,
            vec![garbage],
        )
        .await
        .unwrap();
    // when a training is recorded, then it is refused naming the unreadable event
    let err = p
        .execute(m, "clerk", training("t1", d(2024, 9, 1)))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ProgrammeError::Unreadable { ref stream, version: 1, ref event_type } if stream == "programme/trainings" && event_type == "TrainingHeld"),
        "{text}"
    );
    // and another register records, and the statuses still answer from what is readable
    p.execute(m, "clerk", open_desk()).await.unwrap();
    let fy = FiscalYear::new(2024).unwrap();
    let statuses = p.status(m, fy, d(2025, 3, 31), None).unwrap();
    let e = statuses.iter().find(|s| s.item == Item::O).unwrap();
    assert_eq!(e.status, SurveyStatus::Implemented);
}
