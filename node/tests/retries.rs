//! The retry contract of the programme API, over a real event store: a command repeated with the
//! same request is recorded once (`events = 0` on the repeat, at any later time and after a
//! restart), and the same id with other content is refused as already recorded with other
//! content (gRPC `ALREADY_EXISTS`).
//!
//! The property test runs random command sequences twice, once as issued and once with random
//! repeats of every acknowledged command (at once, later, and after reopening the store), and
//! requires the two runs to record the same registers, event for event.

mod common;

use chrono::NaiveDate;
use common::*;
use proptest::prelude::*;
use renkei_node::domain::DomainError;
use renkei_node::domain::arrangements::{ArrangementCommand, ArrangementKind};
use renkei_node::domain::awareness::{AwarenessCommand, AwarenessKind};
use renkei_node::domain::consultation::{
    CaseAction, ConsultationCommand, DeskHost, PersonalDetails, Referrer, Topic,
};
use renkei_node::domain::meetings::{MeetingCommand, MeetingKind};
use renkei_node::domain::plan::PlanCommand;
use renkei_node::domain::resources::{
    Capability, OfficialCode, ResourceCommand, ResourceDetails, ResourceKind,
};
use renkei_node::domain::tools::{Manual, ToolCommand, ToolKind};
use renkei_node::domain::trainings::{TrainingCommand, TrainingKind};
use renkei_node::domain::values::*;
use renkei_node::personal::{KeyVault, MasterKey};
use renkei_node::programme::{Programme, ProgrammeCommand, ProgrammeError};
use renkei_node::store::{EventStore, GlobalPosition};
use renkei_proto::{FiscalYear, MunicipalityCode};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn fy() -> FiscalYear {
    FiscalYear::new(2024).unwrap()
}

async fn open_programme(dir: &std::path::Path) -> (Programme, EventStore) {
    let store = open(&dir.join("events")).await;
    let master = MasterKey::load_or_create(&dir.join("master.key")).unwrap();
    let vault = KeyVault::open(&dir.join("personal-keys"), master).unwrap();
    (Programme::new(store.clone(), vault), store)
}

fn tenant() -> MunicipalityCode {
    toyama()
}

/// Every recorded event of the tenant: stream, type and payload, in recorded order.
fn registers(store: &EventStore) -> Vec<(String, String, Vec<u8>)> {
    store
        .read_all(tenant(), GlobalPosition(1), 100_000)
        .unwrap()
        .into_iter()
        .map(|r| (r.stream.to_string(), r.event_type, r.payload))
        .collect()
}

fn clinic(name: &str, code: &str, phone: &str) -> ResourceDetails {
    ResourceDetails {
        kind: ResourceKind::HomeCareSupportClinic,
        enhanced: false,
        name: name.into(),
        official_code: Some(OfficialCode::Medical(
            MedicalInstitutionCode::parse("official_code", code).unwrap(),
        )),
        address: "富山県富山市新桜町7-38".into(),
        coordinates: None,
        contact: Some(phone.into()),
        capabilities: vec![Capability::HomeVisits],
        consultation_hours: None,
        listed_for_residents: true,
        located_in: None,
    }
}

/// One command of a small world: two ids per kind of record and two variants of content, so that
/// sequences hit first records, dependents (an evaluation of a training), ends of things in
/// force, and the same id with other content.
fn command(kind: u8, id: u8, variant: u8) -> ProgrammeCommand {
    let id_of = |prefix: &str| format!("{prefix}{}", id % 2 + 1);
    let v = u32::from(variant % 2);
    let day = d(2024, 5 + v, 10);
    use ProgrammeCommand as P;
    match kind % 16 {
        0 => P::Trainings(TrainingCommand::Hold {
            id: TrainingId::parse("id", &id_of("t")).unwrap(),
            kind: TrainingKind::MultiProfessionalGroupWork,
            title: "多職種連携研修".into(),
            on: day,
            participants: vec![Count {
                of: Profession::CareManager,
                count: 10 + v,
            }],
            scenes: vec![CareScene::EndOfLife, CareScene::AdmissionDischarge],
        }),
        1 => P::Trainings(TrainingCommand::Evaluate {
            id: TrainingId::parse("id", &id_of("t")).unwrap(),
            respondents: 8,
            satisfied: 5 + v,
            on: d(2024, 7, 1),
        }),
        2 => P::Awareness(AwarenessCommand::Record {
            id: ActivityId::parse("id", &id_of("k")).unwrap(),
            kind: AwarenessKind::Lecture,
            title: format!("在宅医療講演会 第{v}回"),
            audience: "住民".into(),
            on: day,
            attendance: Some(80),
            copies: None,
            scenes: vec![],
        }),
        3 => P::Meetings(MeetingCommand::Hold {
            id: MeetingId::parse("id", &id_of("m")).unwrap(),
            kind: MeetingKind::CoordinationCouncil,
            title: "連携推進会議".into(),
            on: day,
            participants: vec![Count {
                of: OrganisationType::MedicalAssociation,
                count: 3 + v,
            }],
            scenes: vec![],
            working_group: None,
        }),
        4 => P::Arrangements(ArrangementCommand::Establish {
            id: ArrangementId::parse("id", &id_of("a")).unwrap(),
            name: "24時間対応グループ".into(),
            kind: ArrangementKind::RoundTheClockGroup {
                members: vec![
                    ResourceId::parse("r", "r1").unwrap(),
                    ResourceId::parse("r", "r2").unwrap(),
                ],
            },
            first_day: day,
            last_day: None,
            scenes: vec![],
        }),
        5 => P::Arrangements(ArrangementCommand::End {
            id: ArrangementId::parse("id", &id_of("a")).unwrap(),
            last_day: d(2024, 9 + v, 30),
        }),
        6 => P::Tools(ToolCommand::Adopt {
            id: ToolId::parse("id", &id_of("s")).unwrap(),
            name: "入退院連携シート".into(),
            kind: ToolKind::Sheet,
            version: format!("{}.0", 1 + v),
            manual: Some(Manual {
                title: "運用の手引き".into(),
                covers_personal_information: true,
            }),
            scenes: vec![CareScene::AdmissionDischarge],
            on: day,
        }),
        7 => P::Tools(ToolCommand::Revise {
            id: ToolId::parse("id", &id_of("s")).unwrap(),
            version: "3.0".into(),
            manual: None,
            on: d(2024, 8, 1 + v),
        }),
        8 => P::Consultation(ConsultationCommand::OpenDesk {
            id: DeskId::parse("id", &id_of("desk")).unwrap(),
            name: "在宅医療介護連携支援センター".into(),
            host: DeskHost::MedicalAssociation,
            staff: vec![Count {
                of: Profession::Nurse,
                count: 1 + v,
            }],
            hours: "平日 9:00-17:00".into(),
            on: d(2024, 4, 1),
        }),
        9 => P::Consultation(ConsultationCommand::OpenCase {
            id: CaseId::parse("id", &id_of("c")).unwrap(),
            desk: DeskId::parse("id", "desk1").unwrap(),
            on: day,
            referrer: Referrer::CareManager,
            topic: if v == 0 {
                Topic::Discharge
            } else {
                Topic::EndOfLife
            },
            scenes: vec![],
            personal: None,
            liaison_agreement: None,
        }),
        10 => P::Consultation(ConsultationCommand::RecordAction {
            case: CaseId::parse("id", &id_of("c")).unwrap(),
            action: if v == 0 {
                CaseAction::Information
            } else {
                CaseAction::Referral
            },
            on: d(2024, 7, 1),
        }),
        11 => P::Consultation(ConsultationCommand::CloseCase {
            case: CaseId::parse("id", &id_of("c")).unwrap(),
            on: d(2024, 8, 1 + v),
        }),
        12 => P::Plan(PlanCommand::ScheduleActivity {
            fiscal_year: fy(),
            id: PlannedActivityId::parse("id", &id_of("p")).unwrap(),
            item: Item::Ka,
            what: "多職種研修".into(),
            scheduled_on: d(2024, 11, 1 + v),
            owner: "地域包括ケア推進課".into(),
            delegated_to: None,
            planned_on: d(2024, 4, 1),
            scenes: vec![],
            indicators: vec![],
        }),
        13 => P::Plan(PlanCommand::CancelActivity {
            fiscal_year: fy(),
            id: PlannedActivityId::parse("id", &id_of("p")).unwrap(),
            on: d(2024, 6, 1 + v),
        }),
        14 => P::Resources(ResourceCommand::Register {
            id: ResourceId::parse("id", &id_of("r")).unwrap(),
            details: clinic(
                "あさひ在宅クリニック",
                if id.is_multiple_of(2) {
                    "1611234567"
                } else {
                    "1611234575"
                },
                "076-000-0000",
            ),
            on: d(2024, 4, 2),
        }),
        _ => P::Resources(ResourceCommand::Update {
            id: ResourceId::parse("id", &id_of("r")).unwrap(),
            details: clinic(
                "あさひ在宅クリニック",
                if id.is_multiple_of(2) {
                    "1611234567"
                } else {
                    "1611234575"
                },
                if v == 0 {
                    "076-111-1111"
                } else {
                    "076-222-2222"
                },
            ),
            on: d(2024, 6, 1),
        }),
    }
}

/// What a run observes of one command: refused (and how) or recorded (and how many events).
fn outcome(r: &Result<renkei_node::programme::Executed, ProgrammeError>) -> String {
    match r {
        Ok(done) => format!("ok {}", done.events),
        Err(ProgrammeError::Domain(DomainError::Invalid { field, .. })) => {
            format!("invalid {field}")
        }
        Err(ProgrammeError::Domain(DomainError::NotFound { what, .. })) => {
            format!("not found {what}")
        }
        Err(ProgrammeError::Domain(DomainError::Conflict { what, .. })) => {
            format!("conflict {what}")
        }
        Err(ProgrammeError::Domain(DomainError::AlreadyRecorded { what, .. })) => {
            format!("already recorded {what}")
        }
        Err(e) => panic!("not a domain answer: {e}"),
    }
}

fn training(id: &str, n: u32) -> ProgrammeCommand {
    ProgrammeCommand::Trainings(TrainingCommand::Hold {
        id: TrainingId::parse("id", id).unwrap(),
        kind: TrainingKind::MultiProfessionalGroupWork,
        title: "多職種連携研修".into(),
        on: d(2024, 6, 1 + n % 30),
        participants: vec![Count {
            of: Profession::CareManager,
            count: 10 + n,
        }],
        scenes: vec![CareScene::EndOfLife],
    })
}

/// Clerks recording different records of one register at the same time never refuse each
/// other (the register is decided in memory and its appends queued in order); retries among
/// them still record nothing, and every acknowledged record is in the stream once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clerks_recording_different_records_never_conflict() {
    const CLERKS: u32 = 32;
    const EACH: u32 = 25;
    let dir = tempfile::tempdir().unwrap();
    let (p, store) = open_programme(dir.path()).await;
    let m = tenant();
    let clerks: Vec<_> = (0..CLERKS)
        .map(|c| {
            let p = p.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let id = format!("t-{c}-{i}");
                    let first = p.execute(m, "clerk", training(&id, i)).await.unwrap();
                    assert_eq!(first.events, 1, "{id}");
                    // every fifth at once again, while the others keep writing: a retry
                    if i % 5 == 0 {
                        let again = p.execute(m, "clerk", training(&id, i)).await.unwrap();
                        assert_eq!(again.events, 0, "{id}");
                    }
                }
            })
        })
        .collect();
    for c in clerks {
        c.await.unwrap();
    }
    let recorded = registers(&store);
    assert_eq!(recorded.len(), (CLERKS * EACH) as usize);
    assert!(
        recorded
            .iter()
            .all(|(s, t, _)| s == "programme/trainings" && t == "TrainingHeld")
    );
    // and after a restart, with the state loaded anew, a retry is still recognised and a new
    // record still appended after the others
    drop(p);
    store.close().await.unwrap();
    drop(store);
    let (p, store) = open_programme(dir.path()).await;
    assert_eq!(
        p.execute(m, "clerk", training("t-0-1", 1))
            .await
            .unwrap()
            .events,
        0
    );
    assert_eq!(
        p.execute(m, "clerk", training("t-new", 1))
            .await
            .unwrap()
            .events,
        1
    );
    assert_eq!(registers(&store).len(), (CLERKS * EACH) as usize + 1);
    let status = p.status(m, fy(), d(2025, 3, 31), None).unwrap();
    assert_eq!(
        status[Item::Ka.index()].evidence_count,
        (CLERKS * EACH) as usize + 1
    );
}

#[tokio::test]
async fn an_identical_retry_records_nothing_and_other_content_is_already_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (p, store) = open_programme(dir.path()).await;
    let m = tenant();
    for c in [command(0, 0, 0), command(1, 0, 0), command(8, 0, 0)] {
        assert_eq!(p.execute(m, "clerk", c).await.unwrap().events, 1);
    }
    // the training again after its evaluation: a retry
    assert_eq!(
        p.execute(m, "clerk", command(0, 0, 0))
            .await
            .unwrap()
            .events,
        0
    );
    // the same training id with other participants: refused, naming the id
    let e = p.execute(m, "clerk", command(0, 0, 1)).await.unwrap_err();
    assert!(
        matches!(&e, ProgrammeError::Domain(DomainError::AlreadyRecorded { what: "training", id }) if id == "t1"),
        "{e:?}"
    );
    assert!(e.to_string().contains("\"t1\""), "{e}");
    let tonic = renkei_node::grpc::status_from_programme(e);
    assert_eq!(tonic.code(), tonic::Code::AlreadyExists);

    // a case with personal details: the retry seals them anew, and is still a retry
    let subject = SubjectId::parse("subject", "s1").unwrap();
    let details = |name: &str| PersonalDetails {
        name: name.into(),
        birth_date: Some(d(1940, 1, 2)),
        address: None,
        phone: None,
        notes: None,
    };
    let case = |p: &Programme, name: &str| {
        ProgrammeCommand::Consultation(ConsultationCommand::OpenCase {
            id: CaseId::parse("id", "c9").unwrap(),
            desk: DeskId::parse("id", "desk1").unwrap(),
            on: d(2024, 6, 3),
            referrer: Referrer::CareManager,
            topic: Topic::Discharge,
            scenes: vec![],
            personal: Some(p.seal(m, &subject, details(name)).unwrap()),
            liaison_agreement: None,
        })
    };
    assert_eq!(
        p.execute(m, "clerk", case(&p, "連携 花子"))
            .await
            .unwrap()
            .events,
        1
    );
    assert_eq!(
        p.execute(m, "clerk", case(&p, "連携 花子"))
            .await
            .unwrap()
            .events,
        0
    );
    let e = p
        .execute(m, "clerk", case(&p, "連携 太郎"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ProgrammeError::Domain(DomainError::AlreadyRecorded { .. })
        ),
        "{e:?}"
    );
    let before = registers(&store);
    store.close().await.unwrap();
    drop((p, store));

    // after a restart, still a retry
    let (p, store) = open_programme(dir.path()).await;
    assert_eq!(
        p.execute(m, "clerk", command(1, 0, 0))
            .await
            .unwrap()
            .events,
        0
    );
    assert_eq!(
        p.execute(m, "clerk", case(&p, "連携 花子"))
            .await
            .unwrap()
            .events,
        0
    );
    assert_eq!(registers(&store), before);
}

/// A command of the sequence, and when it is repeated in the run with retries: right away, some
/// steps later, and after the store is reopened.
#[derive(Debug, Clone)]
struct Step {
    kind: u8,
    id: u8,
    variant: u8,
    again_after: Option<usize>,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0u8..16, 0u8..2, 0u8..2, prop::option::of(0usize..6)).prop_map(
            |(kind, id, variant, again_after)| Step {
                kind,
                id,
                variant,
                again_after,
            },
        ),
        1..30,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn retried_commands_leave_the_registers_of_the_run_without_retries(steps in steps()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let m = tenant();
            // once, as issued
            let plain = tempfile::tempdir().unwrap();
            let (p, store) = open_programme(plain.path()).await;
            let mut expected = Vec::new();
            for s in &steps {
                expected.push(outcome(&p.execute(m, "clerk", command(s.kind, s.id, s.variant)).await));
            }
            let expected_registers = registers(&store);
            store.close().await.unwrap();

            // with retries of every acknowledged command
            let retried = tempfile::tempdir().unwrap();
            let (p, store) = open_programme(retried.path()).await;
            let mut due: Vec<(usize, usize)> = Vec::new(); // (after step, step to repeat)
            let mut acknowledged = Vec::new();
            for (i, s) in steps.iter().enumerate() {
                let got = outcome(&p.execute(m, "clerk", command(s.kind, s.id, s.variant)).await);
                assert_eq!(got, expected[i], "step {i} {s:?}");
                if got.starts_with("ok") {
                    acknowledged.push(i);
                    if let Some(k) = s.again_after {
                        due.push((i + k, i));
                    }
                }
                for &(_, j) in due.iter().filter(|(at, _)| *at == i) {
                    let t = &steps[j];
                    let again = p.execute(m, "clerk", command(t.kind, t.id, t.variant)).await;
                    assert_eq!(outcome(&again), "ok 0", "repeat of step {j} {t:?} after step {i}");
                }
            }
            store.close().await.unwrap();
            drop((p, store));
            let (p, store) = open_programme(retried.path()).await;
            for &j in &acknowledged {
                let t = &steps[j];
                let again = p.execute(m, "clerk", command(t.kind, t.id, t.variant)).await;
                assert_eq!(outcome(&again), "ok 0", "repeat of step {j} {t:?} after a restart");
            }
            assert_eq!(registers(&store), expected_registers);
            store.close().await.unwrap();
        });
    }
}

/// A node keeps at most `MAX_LOADED` registers and `MAX_BOARDS` status boards in memory; a
/// register or board dropped for others is loaded again from its stream, and a retry is still
/// recognised and a new record still appended in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_beyond_the_bound_are_dropped_and_loaded_again() {
    use renkei_node::programme::{MAX_BOARDS, registers::MAX_LOADED};
    let dir = tempfile::tempdir().unwrap();
    let towns: Vec<MunicipalityCode> = renkei_proto::official::municipalities()
        .map(|m| m.code)
        .take(MAX_LOADED.max(MAX_BOARDS) + 20)
        .collect();
    let store = EventStore::open(&dir.path().join("events"), Default::default()).unwrap();
    store.add_tenants(&towns).await.unwrap();
    let master = MasterKey::load_or_create(&dir.path().join("master.key")).unwrap();
    let vault = KeyVault::open(&dir.path().join("personal-keys"), master).unwrap();
    let p = Programme::new(store.clone(), vault);
    for town in &towns {
        assert_eq!(
            p.execute(*town, "clerk", training("t-1", 1))
                .await
                .unwrap()
                .events,
            1
        );
        p.status(*town, fy(), d(2025, 3, 31), None).unwrap();
    }
    let (registers, boards) = p.in_memory();
    assert!(registers <= MAX_LOADED, "{registers} registers in memory");
    assert!(boards <= MAX_BOARDS, "{boards} boards in memory");
    // the first town's register and board were dropped; both come back from the log
    let first = towns[0];
    assert_eq!(
        p.execute(first, "clerk", training("t-1", 1))
            .await
            .unwrap()
            .events,
        0
    );
    assert_eq!(
        p.execute(first, "clerk", training("t-2", 2))
            .await
            .unwrap()
            .events,
        1
    );
    let versions: Vec<u64> = store
        .read_all(first, GlobalPosition(1), 100)
        .unwrap()
        .iter()
        .filter(|r| r.stream.as_str() == "programme/trainings")
        .map(|r| r.stream_version)
        .collect();
    assert_eq!(versions, [1, 2]);
    let status = p.status(first, fy(), d(2025, 3, 31), None).unwrap();
    assert_eq!(status[Item::Ka.index()].evidence_count, 2);
}
