//! Proves the PDCA cycle tally through a real 3-replica prefecture cluster (mutual TLS): cycle
//! facts, dated evidence and per-scene activity pushed with `Federation.PushFacts` under the
//! node's token and certificate are folded by every replica's state machine; `GetCycleTally`
//! answers the numbers computed by hand below on the leader and, reading locally, on a follower;
//! `ExportCycleTally` writes the checksummed JSON the national cycle merge reads; and the
//! console's PDCAサイクル集計 page shows the same table in a real headless Chromium, with its
//! downloads. (Written here, not in `integration-tests`, because it needs no municipal node.)

use prost::Message;
use renkei_federation::cycle::export::ChecksummedCycleExport;
use renkei_federation::cycle::merge::merge_cycle_national;
use renkei_integration_tests::browser::Browser;
use renkei_integration_tests::{
    Cluster, OFFICER_TOKEN, TAKAOKA_CITY, TOYAMA_CITY, UOZU_CITY, VIEWER_TOKEN, logged_value,
    participation, push, wait_until, with_token,
};
use renkei_proto::v1::{self, FactKind, cycle_fact};

const TOYAMA_AREAS: &str = include_str!("../data/toyama_secondary_medical_areas.csv");

/// Fact `sequence` of `municipality` carrying `kind`.
fn fact(municipality: &str, sequence: u64, kind: FactKind) -> v1::Fact {
    v1::Fact {
        municipality: municipality.to_owned(),
        sequence,
        payload: v1::FactBody {
            source_event_id: format!("0190a0b0-0000-7000-8000-{sequence:012}"),
            source_position: sequence,
            kind: Some(kind),
            ..Default::default()
        }
        .encode_to_vec(),
    }
}

fn cycle(kind: cycle_fact::Kind) -> FactKind {
    FactKind::Cycle(v1::CycleFact { kind: Some(kind) })
}

fn goal(scene: &str) -> FactKind {
    cycle(cycle_fact::Kind::Goal(v1::GoalFact {
        period: 9,
        scene: scene.into(),
        text: "住み慣れた地域で暮らし続けられる".into(),
        set_on: "2024-04-15".into(),
    }))
}

fn indicator(id: &str, kind: &str) -> FactKind {
    cycle(cycle_fact::Kind::Indicator(v1::IndicatorFact {
        id: id.into(),
        fiscal_year: 2024,
        kind: kind.into(),
        scene: String::new(),
        name: "指標".into(),
        unit: "件".into(),
        baseline: Some(3.0),
        target: 10.0,
    }))
}

fn evaluation(year: i32, scene: &str, reached: bool, improvement: &str) -> FactKind {
    cycle(cycle_fact::Kind::Evaluation(v1::EvaluationFact {
        fiscal_year: year,
        scene: scene.into(),
        reached,
        reason: "理由".into(),
        improvement: improvement.into(),
        on: format!("{}-05-20", year + 1),
    }))
}

fn cycle_request(consistency: v1::ReadConsistency) -> v1::GetCycleTallyRequest {
    v1::GetCycleTallyRequest {
        fiscal_year: 2024,
        region_kind: String::new(),
        consistency: consistency as i32,
    }
}

/// A line's numbers in the page's columns: municipalities, goals ×6, kinds ×3, evaluated,
/// reached, steps ×5.
fn numbers(line: &v1::CycleTallyLine) -> Vec<u32> {
    let mut n = vec![line.municipalities];
    n.extend(line.goal_scenes.iter().map(|c| c.count));
    n.extend(line.indicator_kinds.iter().map(|c| c.count));
    n.push(line.evaluated_last_year);
    n.push(line.reached_last_year);
    n.extend(line.steps.iter().map(|c| c.count));
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_facts_pushed_by_a_node_are_tallied_by_every_replica_and_shown_in_the_console() {
    let cluster = Cluster::start_with(
        3,
        &[TOYAMA_CITY, TAKAOKA_CITY, UOZU_CITY],
        r#"web_listen = "127.0.0.1:0""#,
    )
    .await;
    let leader = cluster.wait_for_leader().await;
    let mut survey = v1::PrefectureSurveyClient::new(cluster.channel(leader).await);
    survey
        .set_regions(with_token(
            OFFICER_TOKEN,
            v1::SetRegionsRequest {
                request_id: "regions-8th-plan".into(),
                kind: "secondary_medical_area".into(),
                first_fiscal_year: 2024,
                last_fiscal_year: 2029,
                csv: TOYAMA_AREAS.into(),
            },
        ))
        .await
        .expect("set the 二次医療圏");

    // 富山市 (富山 16-2): goals for 日常の療養支援 and 看取り, a process indicator, FY2023 evaluated
    // and reached, a training on 2024-07-01 (Do) toward both scenes; a malformed goal (skipped).
    // 高岡市 (高岡 16-3): a goal for 入退院支援, an outcome indicator, FY2024 evaluated with an
    // improvement decided (Act), FY2023 not evaluated. 魚津市 (新川 16-1): participation only.
    let toyama = vec![
        participation(TOYAMA_CITY),
        fact(TOYAMA_CITY, 2, goal("daily_care")),
        fact(TOYAMA_CITY, 3, goal("end_of_life")),
        fact(TOYAMA_CITY, 4, indicator("t-p", "process")),
        fact(TOYAMA_CITY, 5, evaluation(2023, "daily_care", true, "")),
        fact(
            TOYAMA_CITY,
            6,
            FactKind::Evidence(v1::StatusEvidence {
                key: "training/t1".into(),
                kind: Some(v1::EvidenceKind::Dated(v1::DatedEvidence {
                    item: "f".into(),
                    on: "2024-07-01".into(),
                })),
            }),
        ),
        fact(
            TOYAMA_CITY,
            7,
            FactKind::SceneActivity(v1::SceneActivity {
                month: "2024-07".into(),
                item: "f".into(),
                kind: "TrainingHeld".into(),
                scenes: vec!["daily_care".into(), "end_of_life".into()],
            }),
        ),
        fact(TOYAMA_CITY, 8, goal("no_such_scene")),
    ];
    let takaoka = vec![
        participation(TAKAOKA_CITY),
        fact(TAKAOKA_CITY, 2, goal("admission_discharge")),
        fact(TAKAOKA_CITY, 3, indicator("k-o", "outcome")),
        fact(
            TAKAOKA_CITY,
            4,
            evaluation(
                2024,
                "admission_discharge",
                false,
                "退院前カンファレンスを必須に",
            ),
        ),
    ];
    let uozu = vec![participation(UOZU_CITY)];
    let mut federation = cluster.federation(leader).await;
    for (i, facts) in [toyama, takaoka, uozu].into_iter().enumerate() {
        federation
            .push_facts(with_token(
                renkei_integration_tests::NODE_TOKEN,
                push(&format!("cycle-{i}"), facts),
            ))
            .await
            .expect("push the facts");
    }

    // By hand, FY2024 over the 15 municipalities of 富山県 (the 12 not named are 未着手):
    //   新川 16-1: 4 municipalities, all 未着手.
    //   富山 16-2: 5; goals 日常 1, 看取り 1; process 1; evaluated 1, reached 1; 未着手 4, Do 1.
    //   高岡 16-3: 3; goals 入退院 1; outcome 1; evaluated 0; 未着手 2, Act 1.
    //   砺波 16-4: 3, all 未着手.
    //   total:    15; goals [1 1 0 1 0 0]; kinds [0 1 1]; evaluated 1, reached 1;
    //             steps [13 0 1 0 1].
    let expected_lines: Vec<(&str, Vec<u32>)> = vec![
        (
            "新川",
            vec![4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0],
        ),
        (
            "富山",
            vec![5, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 1, 4, 0, 1, 0, 0],
        ),
        (
            "高岡",
            vec![3, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 1],
        ),
        (
            "砺波",
            vec![3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0],
        ),
    ];
    let expected_total = vec![15, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 13, 0, 1, 0, 1];
    let check = |reply: &v1::CycleTallyReply| {
        let lines: Vec<(&str, Vec<u32>)> = reply
            .regions
            .iter()
            .map(|l| (l.region_name.as_str(), numbers(l)))
            .collect();
        lines == expected_lines && reply.total.as_ref().map(numbers) == Some(expected_total.clone())
    };

    let reply = survey
        .get_cycle_tally(with_token(
            VIEWER_TOKEN,
            cycle_request(v1::ReadConsistency::Linearizable),
        ))
        .await
        .expect("GetCycleTally")
        .into_inner();
    assert!(check(&reply), "{reply:#?}");
    assert_eq!(reply.plan_period, "第9期（令和6〜8年度）");
    let row = |m: &str| {
        reply
            .municipalities
            .iter()
            .find(|r| r.municipality == m)
            .unwrap()
            .clone()
    };
    assert_eq!(row(TOYAMA_CITY).step, "do");
    assert_eq!(row(TOYAMA_CITY).goal_scenes, ["daily_care", "end_of_life"]);
    assert_eq!(row(TAKAOKA_CITY).step, "act");
    assert_eq!(row(UOZU_CITY).step, "not_started");
    let daily = &reply.scene_activity[1];
    assert_eq!(
        (daily.scene.as_str(), daily.items[5], daily.total),
        ("daily_care", 1, 1)
    );
    assert_eq!(reply.scene_activity[3].items[5], 1, "看取り × （カ）");

    // Every replica folded the facts: a follower reading locally reaches the same table.
    let follower = cluster.ids().into_iter().find(|id| *id != leader).unwrap();
    let mut on_follower = v1::PrefectureSurveyClient::new(cluster.channel(follower).await);
    wait_until("the follower's cycle tally", || {
        let mut client = on_follower.clone();
        let check = &check;
        async move {
            client
                .get_cycle_tally(with_token(
                    VIEWER_TOKEN,
                    cycle_request(v1::ReadConsistency::Local),
                ))
                .await
                .is_ok_and(|r| check(r.get_ref()))
        }
    })
    .await;
    // A region kind the prefecture never set is refused, naming the field.
    let refused = on_follower
        .get_cycle_tally(with_token(
            VIEWER_TOKEN,
            v1::GetCycleTallyRequest {
                region_kind: "health_center_area".into(),
                ..cycle_request(v1::ReadConsistency::Local)
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("region_kind"), "{refused:?}");

    // The JSON export is intact and merges into a national table of one prefecture.
    let export = survey
        .export_cycle_tally(with_token(
            VIEWER_TOKEN,
            v1::ExportCycleTallyRequest {
                tally: Some(cycle_request(v1::ReadConsistency::Linearizable)),
                format: v1::ExportFormat::Json as i32,
            },
        ))
        .await
        .expect("ExportCycleTally")
        .into_inner();
    assert_eq!(export.file_name, "cycle_16_2024.json");
    let parsed: ChecksummedCycleExport = serde_json::from_slice(&export.content).unwrap();
    assert!(parsed.is_intact());
    let national = merge_cycle_national(&[(export.file_name.clone(), export.content)]).unwrap();
    assert_eq!(national.nation.steps, [13, 0, 1, 0, 1]);

    // The console of the leader, in a browser: the same table, the municipality rows, the
    // per-scene activity and the downloads.
    let log = cluster.root.path().join(format!("replica-{leader}.log"));
    let web = format!(
        "https://{}",
        logged_value(&log, "serving the console", "address").await
    );
    let browser = Browser::start("cycle").await;
    browser.open(&format!("{web}/login")).await;
    browser.type_into("#token", VIEWER_TOKEN).await;
    browser.follow("#sign-in").await;
    browser.open(&format!("{web}/cycle?fy=2024")).await;
    assert_eq!(browser.path().await, "/cycle");
    let page_rows = browser
        .rows("#cycle-areas tbody tr, #cycle-areas tfoot tr")
        .await;
    let mut expected_rows: Vec<Vec<String>> = expected_lines
        .iter()
        .map(|(name, n)| {
            std::iter::once(name.to_string())
                .chain(n.iter().map(u32::to_string))
                .collect()
        })
        .collect();
    expected_rows.push(
        std::iter::once("富山県計".to_owned())
            .chain(expected_total.iter().map(u32::to_string))
            .collect(),
    );
    assert_eq!(page_rows, expected_rows);
    let takaoka_row = browser
        .rows(&format!(
            "#cycle-municipalities tr[data-municipality='{TAKAOKA_CITY}']"
        ))
        .await;
    assert_eq!(
        takaoka_row,
        [[
            "高岡市 162027",
            "高岡",
            "Act（改善）",
            "入退院支援",
            "アウトカム指標",
            "無",
            "-"
        ]]
    );
    let scenes = browser
        .rows("#cycle-scenes tbody tr[data-scene='end_of_life']")
        .await;
    assert_eq!(
        scenes,
        [["看取り", "0", "0", "0", "0", "0", "1", "0", "0", "1"]]
    );
    assert!(browser.text("nav").await.contains("PDCAサイクル集計"));
    browser.full_screenshot("cycle").await;
    browser
        .click("#cycle-exports a[href*='format=summary']")
        .await;
    let csv = browser.downloaded("_summary.csv").await;
    assert!(csv.starts_with("\u{feff}".as_bytes()), "UTF-8 with BOM");
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.contains("\r\n富山県計,15,1,1,0,1,0,0,0,1,1,1,1,13,0,1,0,1\r\n"),
        "{csv}"
    );
    browser.close().await;
}
