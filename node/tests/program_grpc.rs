//! Proves the `MunicipalProgram` gRPC service against the real server on a loopback port: every
//! item's qualifying command makes GetStatus answer 実施している, a plan alone 年度内に実施予定;
//! refusals answer INVALID_ARGUMENT naming the field and value and write nothing; erasing a data
//! subject leaves no gRPC read and no file of the data dir with the subject's name; CSV import
//! (UTF-8 and Shift_JIS) reports bad rows and is idempotent; residents see only vetted resources.

mod common;

use renkei_proto::v1::{self, MunicipalProgramClient};
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::Channel;

struct Node {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), renkei_node::server::NodeError>>,
    dir: tempfile::TempDir,
}

impl Node {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = common::node_config(addr, dir.path().join("data"), 1024 * 1024);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(renkei_node::server::run(config, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            dir,
        }
    }

    async fn client(&self) -> MunicipalProgramClient<Channel> {
        // The listener is bound before the server task starts, so the connection is accepted.
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        MunicipalProgramClient::new(channel)
    }

    async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
        self.dir
    }
}

const CODE: &str = "162019";
const ACTOR: &str = "長寿福祉課 山田";

fn count(of: &str, n: u32) -> v1::ProgramCount {
    v1::ProgramCount {
        of: of.into(),
        count: n,
    }
}

fn end(id: &str, last_day: &str) -> v1::ProgramEndRequest {
    v1::ProgramEndRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        id: id.into(),
        last_day: last_day.into(),
    }
}

async fn status(
    c: &mut MunicipalProgramClient<Channel>,
    fy: u32,
    as_of: &str,
) -> Vec<(String, String)> {
    c.get_status(v1::GetStatusRequest {
        municipality_code: CODE.into(),
        fiscal_year: fy,
        as_of: as_of.into(),
        known_at: None,
    })
    .await
    .unwrap()
    .into_inner()
    .items
    .into_iter()
    .map(|i| (i.item, i.status_label))
    .collect()
}

fn clinic(id: &str, code: &str, residents: bool) -> v1::RegisterResourceRequest {
    v1::RegisterResourceRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        id: id.into(),
        details: Some(v1::ResourceDetails {
            kind: "在宅療養支援診療所".into(),
            enhanced: true,
            name: format!("{id}クリニック"),
            medical_institution_code: code.into(),
            address: "富山市新桜町7-38".into(),
            latitude: 36.695,
            longitude: 137.213,
            contact: "076-000-0000".into(),
            capabilities: vec!["訪問診療".into(), "around_the_clock".into()],
            consultation_hours: "平日 13:00-14:00".into(),
            listed_for_residents: residents,
            ..Default::default()
        }),
        on: "2024-04-01".into(),
    }
}

/// Records, through gRPC, one qualifying activity for every item in FY2024, with the
/// continuous ones in force from before the year.
async fn record_every_item(c: &mut MunicipalProgramClient<Channel>) {
    let m = || CODE.to_string();
    let a = || ACTOR.to_string();
    c.register_resource(clinic("r1", "1611234567", true))
        .await
        .unwrap();
    c.conduct_resource_survey(v1::ConductResourceSurveyRequest {
        municipality_code: m(),
        actor: a(),
        id: "s1".into(),
        title: "医療・介護資源調査".into(),
        on: "2024-06-01".into(),
        responses: 120,
    })
    .await
    .unwrap();
    c.hold_meeting(v1::HoldMeetingRequest {
        municipality_code: m(),
        actor: a(),
        id: "m1".into(),
        kind: "連携推進会議".into(),
        title: "第1回 在宅医療・介護連携推進会議".into(),
        on: "2024-06-10".into(),
        participants: vec![count("医師会", 3), count("地域包括支援センター", 2)],
        scenes: vec!["入退院支援".into()],
        working_group: String::new(),
    })
    .await
    .unwrap();
    c.record_finding(v1::RecordFindingRequest {
        municipality_code: m(),
        actor: a(),
        meeting: "m1".into(),
        id: "f1".into(),
        kind: "課題".into(),
        text: "退院時の情報共有が遅れる".into(),
        scenes: vec!["入退院支援".into()],
        answers: String::new(),
    })
    .await
    .unwrap();
    c.establish_arrangement(v1::EstablishArrangementRequest {
        municipality_code: m(),
        actor: a(),
        id: "a1".into(),
        name: "後方支援病床".into(),
        kind: "backup_beds".into(),
        resources: vec!["r1".into()],
        beds: 2,
        first_day: "2023-10-01".into(),
        last_day: String::new(),
        scenes: vec!["sudden_deterioration".into()],
    })
    .await
    .unwrap();
    c.adopt_tool(v1::AdoptToolRequest {
        municipality_code: m(),
        actor: a(),
        id: "t1".into(),
        name: "入退院時情報共有シート".into(),
        kind: "sheet".into(),
        version: "1".into(),
        manual_title: "運用マニュアル".into(),
        manual_covers_personal_information: true,
        scenes: vec![],
        on: "2023-04-01".into(),
    })
    .await
    .unwrap();
    c.open_consultation_desk(v1::OpenConsultationDeskRequest {
        municipality_code: m(),
        actor: a(),
        id: "desk".into(),
        name: "在宅医療介護連携支援センター".into(),
        host: "医師会".into(),
        staff: vec![count("看護師", 1), count("介護支援専門員", 1)],
        hours: "平日 9:00-17:00".into(),
        on: "2023-04-01".into(),
    })
    .await
    .unwrap();
    let training = v1::HoldTrainingRequest {
        municipality_code: m(),
        actor: a(),
        id: "tr1".into(),
        kind: "multi_professional_group_work".into(),
        title: "多職種連携研修".into(),
        on: "2024-09-01".into(),
        participants: vec![count("医師", 4), count("介護支援専門員", 20)],
        scenes: vec!["看取り".into()],
    };
    let first = c
        .hold_training(training.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.events, 1);
    // the retry contract: the same request again records nothing and answers OK…
    let again = c
        .hold_training(training.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.events, again.last_position), (0, 0));
    // …and the same id with other content is ALREADY_EXISTS, naming the id
    let other = v1::HoldTrainingRequest {
        on: "2024-09-02".into(),
        ..training
    };
    let e = c.hold_training(other).await.unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
    assert!(e.message().contains("\"tr1\""), "{}", e.message());
    c.record_awareness_activity(v1::RecordAwarenessActivityRequest {
        municipality_code: m(),
        actor: a(),
        id: "k1".into(),
        kind: "講演会".into(),
        title: "在宅医療を知る市民講演会".into(),
        audience: "住民".into(),
        on: "2024-10-05".into(),
        attendance: Some(150),
        copies: None,
        scenes: vec![],
    })
    .await
    .unwrap();
    c.attend_wide_area_meeting(v1::AttendWideAreaMeetingRequest {
        municipality_code: m(),
        actor: a(),
        id: "w1".into(),
        title: "富山医療圏 入退院支援ルール会議".into(),
        area: "富山医療圏".into(),
        on: "2024-07-20".into(),
        participants: vec![count("保健所", 1)],
    })
    .await
    .unwrap();
}

/// Issue 22, point 2: "the actions planned per year tied to scenes and indicators".
#[tokio::test]
async fn a_planned_activity_names_the_scenes_and_indicators_it_serves() {
    let node = Node::start().await;
    let mut c = node.client().await;
    // given FY2024's outcome indicator 在宅看取り率 for 看取り
    c.define_indicator(v1::DefineIndicatorRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        fiscal_year: 2024,
        id: "home-deaths".into(),
        kind: "outcome".into(),
        name: "在宅看取り率".into(),
        unit: "%".into(),
        item: String::new(),
        target: 25.0,
        scene: "end_of_life".into(),
        baseline: Some(19.5),
    })
    .await
    .unwrap();
    let schedule = |id: &str, indicator: &str| v1::ScheduleActivityRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        fiscal_year: 2024,
        id: id.into(),
        item: "g".into(),
        what: "人生会議（ACP）市民講座".into(),
        scheduled_on: "2024-11-30".into(),
        owner: "長寿福祉課".into(),
        delegated_to: String::new(),
        planned_on: "2024-04-01".into(),
        scenes: vec!["end_of_life".into()],
        indicators: vec![indicator.into()],
    };
    // when an activity names an indicator the plan does not define, then it is refused naming
    // the field and the value, and nothing is recorded
    let e = c
        .schedule_activity(schedule("p1", "home-death-rate"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("indicators") && e.message().contains("home-death-rate"),
        "{}",
        e.message()
    );
    // when it names the defined one, then the plan shows the activity with its scene and indicator
    c.schedule_activity(schedule("p1", "home-deaths"))
        .await
        .unwrap();
    let plan = c
        .get_annual_plan(v1::ProgramYearRequest {
            municipality_code: CODE.into(),
            fiscal_year: 2024,
        })
        .await
        .unwrap()
        .into_inner();
    let activities: Vec<_> = plan
        .activities
        .iter()
        .map(|a| (a.id.as_str(), a.scenes.clone(), a.indicators.clone()))
        .collect();
    assert_eq!(
        activities,
        [(
            "p1",
            vec!["end_of_life".to_owned()],
            vec!["home-deaths".to_owned()]
        )]
    );
}

#[tokio::test]
async fn every_item_is_implemented_by_its_qualifying_activity_and_planned_by_the_plan() {
    let node = Node::start().await;
    let mut c = node.client().await;
    // given only the FY2024 plan for item カ, decided on 2024-04-01
    c.schedule_activity(v1::ScheduleActivityRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        fiscal_year: 2024,
        id: "p1".into(),
        item: "f".into(),
        what: "多職種研修".into(),
        scheduled_on: "2024-09-01".into(),
        owner: "長寿福祉課".into(),
        delegated_to: "富山市医師会".into(),
        planned_on: "2024-04-01".into(),
        scenes: vec!["end_of_life".into()],
        indicators: vec![],
    })
    .await
    .unwrap();
    let before = status(&mut c, 2024, "2024-08-01").await;
    assert_eq!(before[5], ("f".to_string(), "年度内に実施予定".to_string()));
    // its day passed without the training: 実施していない (DOMAIN.md:59, "a plan whose day
    // passed without the activity no longer counts")
    let passed = status(&mut c, 2024, "2024-09-02").await;
    assert_eq!(passed[5], ("f".to_string(), "実施していない".to_string()));
    // a survey date outside the fiscal year is refused, naming it, as the prefecture does
    let e = c
        .get_status(v1::GetStatusRequest {
            municipality_code: CODE.into(),
            fiscal_year: 2024,
            as_of: "2025-04-01".into(),
            known_at: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("as_of") && e.message().contains("2025-04-01"),
        "{}",
        e.message()
    );
    assert!(
        before
            .iter()
            .enumerate()
            .all(|(i, (_, s))| i == 5 || s == "実施していない")
    );

    // when every item's qualifying activity is recorded
    record_every_item(&mut c).await;

    // then every item is 実施している as of the end of FY2024
    let after = status(&mut c, 2024, "2025-03-31").await;
    let letters: Vec<_> = after.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(letters, ["a", "b", "c", "d", "e", "f", "g", "h"]);
    assert!(after.iter().all(|(_, s)| s == "実施している"), "{after:?}");
    // and as of 2024-05-31 only the things in force since before the year count
    let early: Vec<_> = status(&mut c, 2024, "2024-05-31")
        .await
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(
        early,
        [
            "実施していない",
            "実施していない",
            "実施している",
            "実施している",
            "実施している",
            "年度内に実施予定",
            "実施していない",
            "実施していない"
        ]
    );

    // and the plan reads back with its 和暦 label
    let plan = c
        .get_annual_plan(v1::ProgramYearRequest {
            municipality_code: CODE.into(),
            fiscal_year: 2024,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (plan.wareki.as_str(), plan.activities.len()),
        ("令和6年度", 1)
    );
    node.stop().await;
}

#[tokio::test]
async fn refusals_name_the_field_and_value_and_write_nothing() {
    let node = Node::start().await;
    let mut c = node.client().await;
    let records = |c: &mut MunicipalProgramClient<Channel>| {
        let mut c = c.clone();
        async move {
            c.list_records(v1::ListRecordsRequest {
                municipality_code: CODE.into(),
                register: String::new(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .records
            .len()
        }
    };
    c.register_resource(clinic("r1", "1611234567", false))
        .await
        .unwrap();
    let n = records(&mut c).await;
    for (request, field, value) in [
        (
            clinic("r2", "1641234567", false),
            "official_code",
            "1641234567",
        ),
        (
            clinic("r2", "4811234567", false),
            "details.medical_institution_code",
            "4811234567",
        ),
        (clinic("bad id", "1611234568", false), "id", "bad id"),
    ] {
        let e = c.register_resource(request).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        assert!(
            e.message().contains(field) && e.message().contains(value),
            "{}",
            e.message()
        );
    }
    let mut bad_date = clinic("r3", "1611234569", false);
    bad_date.on = "2024-02-30".into();
    let e = c.register_resource(bad_date).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("2024-02-30"));
    // a second resource with the same code is a conflict
    let e = c
        .register_resource(clinic("r4", "1611234567", false))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    // a case at an unknown desk is not found; an unknown municipality too
    let e = c
        .record_consultation_action(v1::RecordConsultationActionRequest {
            municipality_code: CODE.into(),
            actor: ACTOR.into(),
            case_id: "c9".into(),
            action: "情報提供".into(),
            on: "2024-05-01".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let mut other = clinic("r5", "1611234570", false);
    other.municipality_code = "162027".into();
    assert_eq!(
        c.register_resource(other).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(records(&mut c).await, n);
    node.stop().await;
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
            } else if std::fs::read(&path)
                .unwrap_or_default()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                hits.push(path);
            }
        }
    }
    hits
}

#[tokio::test]
async fn after_erasure_no_read_and_no_file_holds_the_subjects_name() {
    let name = "介護花子";
    let node = Node::start().await;
    let mut c = node.client().await;
    c.open_consultation_desk(v1::OpenConsultationDeskRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        id: "desk".into(),
        name: "相談窓口".into(),
        host: "medical_association".into(),
        staff: vec![count("nurse", 1)],
        hours: "平日".into(),
        on: "2024-04-01".into(),
    })
    .await
    .unwrap();
    c.open_consultation_case(v1::OpenConsultationCaseRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        id: "c1".into(),
        desk: "desk".into(),
        on: "2024-06-01".into(),
        referrer: "hospital".into(),
        topic: "discharge".into(),
        scenes: vec!["入退院支援".into()],
        subject: "subj-0001".into(),
        personal: Some(v1::PersonalDetails {
            name: name.into(),
            birth_date: "1938-05-05".into(),
            address: "富山市".into(),
            phone: "090-0000-0000".into(),
            notes: format!("{name}さんの退院後の訪問診療先"),
        }),
        liaison_agreement: String::new(),
    })
    .await
    .unwrap();
    c.record_consultation_action(v1::RecordConsultationActionRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        case_id: "c1".into(),
        action: "discharge_coordination".into(),
        on: "2024-06-02".into(),
    })
    .await
    .unwrap();
    let get = |c: &MunicipalProgramClient<Channel>| {
        let mut c = c.clone();
        async move {
            c.get_consultation_case(v1::GetConsultationCaseRequest {
                municipality_code: CODE.into(),
                case_id: "c1".into(),
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    assert_eq!(get(&c).await.personal.unwrap().name, name);
    let stats = |c: &MunicipalProgramClient<Channel>| {
        let mut c = c.clone();
        async move {
            c.get_consultation_statistics(v1::ProgramYearRequest {
                municipality_code: CODE.into(),
                fiscal_year: 2024,
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    let before = stats(&c).await;
    assert_eq!(before.cases, 1);

    // when the subject is erased
    let done = c
        .erase_data_subject(v1::EraseDataSubjectRequest {
            municipality_code: CODE.into(),
            actor: ACTOR.into(),
            subject: "subj-0001".into(),
            on: "2024-12-01".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.events, 1);

    // then no read returns the name, counts and status are unchanged
    let case = get(&c).await;
    assert!(case.erased && case.personal.is_none());
    assert_eq!(stats(&c).await, before);
    let records = c
        .list_records(v1::ListRecordsRequest {
            municipality_code: CODE.into(),
            register: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert!(records.iter().all(|r| !r.json.contains(name)));
    assert!(records.iter().any(|r| r.r#type == "DataSubjectErased"));
    let s = status(&mut c, 2024, "2025-03-31").await;
    assert_eq!(s[4].1, "実施している");
    // and after the node stops, no file of its data dir holds the name in clear
    let dir = node.stop().await;
    let hits = files_containing(dir.path(), name.as_bytes());
    assert!(hits.is_empty(), "{hits:?}");
}

const CSV_UTF8: &str = "\u{feff}ID,種別,名称,機能強化型,医療機関コード,介護保険事業所番号,住所,緯度,経度,連絡先,対応可能な機能,相談可能時間,住民向け公開
,在宅療養支援診療所,あおばクリニック,○,1611111111,,富山市青葉町1-1,36.70,137.21,076-111-1111,訪問診療・往診・看取り,平日13-14時,○
,訪問看護ステーション,みどり訪問看護ステーション,,,1660100001,富山市緑町2-2,,,076-222-2222,24時間対応,,×
,薬局,さくら薬局,,1621111112,,富山市桜町3-3,,,,,,○
x9,宇宙病院,謎の病院,,,,富山市,,,,,,
,居宅介護支援事業所,ひまわりケアプラン,,,16601,富山市,,,,,,
";

#[tokio::test]
async fn csv_import_reports_bad_rows_and_is_idempotent() {
    let node = Node::start().await;
    let mut c = node.client().await;
    let import = |c: &MunicipalProgramClient<Channel>, bytes: Vec<u8>| {
        let mut c = c.clone();
        async move {
            c.import_resources(v1::ImportResourcesRequest {
                municipality_code: CODE.into(),
                actor: ACTOR.into(),
                csv: bytes,
                on: "2024-05-01".into(),
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    // when a file with 2 good rows and 3 bad ones is imported
    let report = import(&c, CSV_UTF8.as_bytes().to_vec()).await;
    // then the good rows are registered and each bad one is reported with its line and reason
    assert_eq!(
        (report.rows, report.registered, report.unchanged),
        (5, 2, 0)
    );
    let rejected: Vec<_> = report
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.clone()))
        .collect();
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert_eq!(rejected[0].0, 4);
    assert!(rejected[0].1.contains("1621111112"), "{}", rejected[0].1);
    assert!(rejected[1].1.contains("宇宙病院"));
    assert!(rejected[2].1.contains("16601"));
    // when the same file is imported again, as Shift_JIS, then nothing is added
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(CSV_UTF8.trim_start_matches('\u{feff}'));
    let again = import(&c, sjis.into_owned()).await;
    assert_eq!(
        (again.registered, again.unchanged, again.rejected.len()),
        (0, 2, 3)
    );
    // and residents see only the resource vetted for them, without its contact
    let list = |audience: &str| {
        let mut c = c.clone();
        let audience = audience.to_string();
        async move {
            c.list_resources(v1::ListResourcesRequest {
                municipality_code: CODE.into(),
                audience,
            })
            .await
            .unwrap()
            .into_inner()
            .resources
        }
    };
    assert_eq!(list("professionals").await.len(), 2);
    let residents = list("residents").await;
    assert_eq!(residents.len(), 1);
    let d = residents[0].details.as_ref().unwrap();
    assert_eq!(
        (d.name.as_str(), d.contact.as_str()),
        ("あおばクリニック", "")
    );
    assert_eq!(residents[0].id, "mic-1611111111");
    let _ = c
        .list_records(v1::ListRecordsRequest {
            municipality_code: CODE.into(),
            register: "resources".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    node.stop().await;
}

#[tokio::test]
async fn a_desk_closed_on_march_31_counts_for_that_year_only_and_known_at_reproduces() {
    let node = Node::start().await;
    let mut c = node.client().await;
    // given a desk opened 2023-04-01
    c.open_consultation_desk(v1::OpenConsultationDeskRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        id: "desk".into(),
        name: "相談窓口".into(),
        host: "municipality".into(),
        staff: vec![count("保健師", 1)],
        hours: "平日".into(),
        on: "2023-04-01".into(),
    })
    .await
    .unwrap();
    let opened_at = c
        .list_records(v1::ListRecordsRequest {
            municipality_code: CODE.into(),
            register: "consultation".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records[0]
        .recorded_at;
    // when it is closed with 2024-03-31 as its last day
    c.close_consultation_desk(end("desk", "2024-03-31"))
        .await
        .unwrap();
    // then FY2024 is 実施していない and FY2023 実施している
    assert_eq!(
        status(&mut c, 2024, "2025-03-31").await[4].1,
        "実施していない"
    );
    assert_eq!(
        status(&mut c, 2023, "2024-03-31").await[4].1,
        "実施している"
    );
    // and as known when only the opening was recorded, FY2024 was 実施している
    let then = c
        .get_status(v1::GetStatusRequest {
            municipality_code: CODE.into(),
            fiscal_year: 2024,
            as_of: "2024-08-01".into(),
            known_at: opened_at,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(then.items[4].status_label, "実施している");
    // and retiring an unknown tool is NOT_FOUND
    let e = c.retire_tool(end("t404", "2024-03-31")).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    node.stop().await;
}

#[tokio::test]
async fn records_come_a_bounded_page_at_a_time_and_the_pages_join_up() {
    // given a register of 1,203 trainings and one awareness activity among them
    let node = Node::start().await;
    let mut c = node.client().await;
    let training = |i: usize| v1::HoldTrainingRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        id: format!("tr{i}"),
        kind: "multi_professional_group_work".into(),
        title: format!("多職種連携研修 第{i}回"),
        on: "2024-09-01".into(),
        participants: vec![count("医師", 4)],
        scenes: vec![],
    };
    for i in 0..1_203 {
        c.hold_training(training(i)).await.unwrap();
        if i == 600 {
            c.record_awareness_activity(v1::RecordAwarenessActivityRequest {
                municipality_code: CODE.into(),
                actor: ACTOR.into(),
                id: "k1".into(),
                kind: "講演会".into(),
                title: "在宅医療を知る市民講演会".into(),
                audience: "住民".into(),
                on: "2024-10-05".into(),
                attendance: Some(150),
                ..Default::default()
            })
            .await
            .unwrap();
        }
    }
    let page = |register: &str, from: u64, max_count: u32| {
        let mut c = c.clone();
        let register = register.to_owned();
        async move {
            c.list_records(v1::ListRecordsRequest {
                municipality_code: CODE.into(),
                register,
                from_position: from,
                max_count,
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    // when a viewer asks for everything at once, the page is bounded
    let first = page("", 0, 100_000).await;
    assert_eq!(first.records.len(), 1_000);
    assert!(first.next_position > first.records[999].global_position);
    // and the default page holds 500
    assert_eq!(page("", 0, 0).await.records.len(), 500);
    // then following next_position reads every record of a register once, in order
    let mut seen = Vec::new();
    let mut from = 0;
    loop {
        let p = page("trainings", from, 250).await;
        seen.extend(p.records.iter().map(|r| r.global_position));
        if p.next_position == 0 {
            break;
        }
        from = p.next_position;
    }
    assert_eq!(seen.len(), 1_203);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
    let awareness = page("awareness", 0, 10).await;
    assert_eq!((awareness.records.len(), awareness.next_position), (1, 0));
}
