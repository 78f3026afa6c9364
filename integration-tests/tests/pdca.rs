//! The programme as run since 2020, end to end, on a worked example from the sources: 稲城市's
//! per-scene goals (場面ごとの目的) and its 多職種連携研修 of 令和4年度 (seed
//! `002_d84b57721e905ed5.txt`, 事例① 稲城市の取組, lines ~1043–1098), recorded through the
//! municipal node's gRPC API, then read back from the node (its cycle, its statuses in the 2020
//! framework) and from a 東京都 prefecture cluster the node synced with.
//!
//! Two things in the source do not add up, and the test says how it reads them:
//! - the training is dated 「令和４年２月１９日（日）」 in a report titled 令和４年度; 2022-02-19 was a
//!   Saturday and 2023-02-19 a Sunday, so it is recorded on 2023-02-19 (令和5年2月19日, within
//!   令和4年度, FY2022);
//! - the participants are 「市内医療・介護職 47名」, but the listed professions sum to 48
//!   (7+2+7+2+4+6+4+7+4+3+2): the list is recorded as given, 48.

use renkei_integration_tests::*;
use renkei_proto::v1;

/// 稲城市 (東京都).
const INAGI: &str = "132250";
const TOKYO: &str = "13";
const ACTOR: &str = "高齢福祉課";

/// The four 「場面ごとの目的」 composed from the training's group work, verbatim.
const GOALS: [(&str, &str); 4] = [
    (
        "admission_discharge",
        "疾病の自己管理や家族の介護力の向上を支援するとともに、必要なサービスを導入することで、安定・安心した自宅での療養生活を実現し、再発や再入院を防止する。",
    ),
    (
        "daily_care",
        "訪問頻度が高い介護職等が把握する本人等の要望や小さな変化を医師等とも共有して悪化を早期に発見し、必要なサービスを調整することで再発を予防し、本人や家族が望む生活を維持・拡大するとともに、急変に備える。",
    ),
    (
        "sudden_deterioration",
        "介護職等でも急変を察知して迅速に搬送・対応できるよう事前に想定した連絡・連携体制に沿い医療機関につなぎ、本人や家族の希望に沿った療養生活を実現することで、在宅生活の可能性を高めるとともに望まない治療を提供しない。",
    ),
    (
        "end_of_life",
        "本人の死生観を尊重し、苦痛を軽減して本人や家族が不安なく最期の時間を過ごしていただくことで、悔いのない看取りを実現し、家族のグリーフケアにも貢献する。",
    ),
];

fn count(of: &str, count: u32) -> v1::ProgramCount {
    v1::ProgramCount {
        of: of.into(),
        count,
    }
}

/// The training as the source reports it: 「心不全の高齢者を多職種で支える」, online, group work on
/// discharge (演習①) and sudden deterioration (演習②) and the four scenes' purposes (D).
fn training() -> v1::HoldTrainingRequest {
    v1::HoldTrainingRequest {
        municipality_code: INAGI.into(),
        actor: ACTOR.into(),
        id: "r4-tashokushu".into(),
        kind: "multi_professional_group_work".into(),
        title: "心不全の高齢者を多職種で支える".into(),
        on: "2023-02-19".into(),
        participants: vec![
            count("physician", 7),
            count("medical_social_worker", 2),
            count("care_manager", 7),
            count("dietitian", 2),
            count("dentist", 4),
            count("care_worker", 6),
            // 包括職員 4 and 柔道整復師 2: no profession of their own in the vocabulary.
            count("other", 6),
            count("nurse", 7),
            count("pharmacist", 4),
            count("rehabilitation", 3),
        ],
        scenes: GOALS.iter().map(|(s, _)| (*s).to_owned()).collect(),
    }
}

/// 東京都's municipalities in two regions: 南多摩 (八王子市, 町田市, 日野市, 多摩市, 稲城市, as in
/// 東京都保健医療計画) and, for this test only, every other municipality in one region.
fn tokyo_regions() -> String {
    const SOUTH_TAMA: [&str; 5] = ["132012", "132098", "132128", "132241", INAGI];
    let mut csv = String::from("area_id,area_name,municipality_code,municipality_name\n");
    for m in renkei_proto::official::municipalities_of(TOKYO.parse().unwrap()) {
        let code = m.code.to_string();
        let (id, area) = if SOUTH_TAMA.contains(&code.as_str()) {
            ("13-9", "南多摩")
        } else {
            ("13-x", "その他（試験用）")
        };
        csv.push_str(&format!("{id},{area},{code},{}\n", m.name));
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inagi_goals_and_training_appear_at_the_node_and_the_prefecture() {
    let cluster = Cluster::start_in(3, TOKYO, &[INAGI], "").await;
    let node = Node::start_for(cluster.addresses(), &[INAGI], "");
    let mut program = node.program().await;

    // The training of 令和4年度 and the goals composed from it, set for 第8期 (FY2021–2023, the
    // period of the training) on the day of the training.
    program.hold_training(training()).await.unwrap();
    for (scene, text) in GOALS {
        program
            .set_scene_goal(v1::SetSceneGoalRequest {
                municipality_code: INAGI.into(),
                actor: ACTOR.into(),
                period: 8,
                scene: scene.into(),
                text: text.into(),
                set_on: "2023-02-19".into(),
            })
            .await
            .unwrap();
    }
    // A goal for a scene that does not exist is refused naming the field and the value, and
    // writes nothing.
    let refused = program
        .set_scene_goal(v1::SetSceneGoalRequest {
            municipality_code: INAGI.into(),
            actor: ACTOR.into(),
            period: 8,
            scene: "心不全".into(),
            text: "x".into(),
            set_on: "2023-02-19".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("scene") && refused.message().contains("心不全"),
        "{}",
        refused.message()
    );

    // The node's view of FY2022: the four goals verbatim, in the 2020 framework, at Do (goals
    // set and a training held in the year).
    let cycle = program
        .get_cycle(v1::ProgramYearRequest {
            municipality_code: INAGI.into(),
            fiscal_year: 2022,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cycle.period, "第8期（令和3〜5年度）");
    assert!(
        cycle.framework.starts_with("PDCAサイクル"),
        "{}",
        cycle.framework
    );
    assert_eq!(cycle.step, "do", "{cycle:?}");
    let goals: Vec<(&str, &str)> = cycle
        .goals
        .iter()
        .map(|g| (g.scene.as_str(), g.text.as_str()))
        .collect();
    // in the scenes' order (入退院支援, 日常の療養支援, 急変時の対応, 看取り)
    assert_eq!(goals, GOALS);
    assert_eq!(cycle.goals[1].scene_label, "日常の療養支援");
    // FY2021 is in the same period: planned (the goals), nothing done in it.
    let fy2021 = program
        .get_cycle(v1::ProgramYearRequest {
            municipality_code: INAGI.into(),
            fiscal_year: 2021,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((fy2021.step.as_str(), fy2021.goals.len()), ("plan", 4));

    // The statuses of FY2022 in the 2020 framework: the training is 研修, group 四.
    let status = program
        .get_status(v1::GetStatusRequest {
            municipality_code: INAGI.into(),
            fiscal_year: 2022,
            as_of: "2023-03-31".into(),
            known_at: None,
        })
        .await
        .unwrap()
        .into_inner();
    let groups: Vec<(&str, &str)> = status
        .groups
        .iter()
        .map(|g| (g.group.as_str(), g.status.as_str()))
        .collect();
    assert_eq!(
        groups,
        [
            ("一", "not_implemented"),
            ("二", "not_implemented"),
            ("三", "not_implemented"),
            ("四", "implemented"),
        ]
    );
    // FY2019 is reported in the eight items alone.
    let before = program
        .get_status(v1::GetStatusRequest {
            municipality_code: INAGI.into(),
            fiscal_year: 2019,
            as_of: "2020-03-31".into(),
            known_at: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(before.groups.is_empty() && before.framework.starts_with("8事業項目"));

    // The prefecture receives the goals as cycle facts and the training toward its scenes.
    wait_synced(&node, INAGI).await;
    let ledger = cluster.ledger(INAGI).await;
    let bodies: Vec<v1::FactBody> = ledger
        .iter()
        .map(|f| prost::Message::decode(f.payload.as_slice()).unwrap())
        .collect();
    let goals_at_prefecture: Vec<(String, String)> = bodies
        .iter()
        .filter_map(|b| match &b.kind {
            Some(v1::FactKind::Cycle(v1::CycleFact {
                kind: Some(v1::cycle_fact::Kind::Goal(g)),
            })) => Some((g.scene.clone(), g.text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(goals_at_prefecture.len(), 4);
    for (scene, text) in GOALS {
        assert!(
            goals_at_prefecture.contains(&(scene.to_owned(), text.to_owned())),
            "{scene}"
        );
    }
    let scened: Vec<&v1::SceneActivity> = bodies
        .iter()
        .filter_map(|b| match &b.kind {
            Some(v1::FactKind::SceneActivity(a)) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(scened.len(), 1);
    assert_eq!(
        (scened[0].month.as_str(), scened[0].item.as_str()),
        ("2023-02", "f")
    );
    assert_eq!(scened[0].scenes.len(), 4);

    // The prefecture's cycle tally of FY2022 per 二次医療圏 (稲城市 is in 南多摩): 稲城市 has a goal
    // in each of the four scenes and is at Do; the training counted under each scene as (カ).
    let leader = cluster.wait_for_leader().await;
    let mut survey = v1::PrefectureSurveyClient::new(cluster.channel(leader).await);
    survey
        .set_regions(with_token(
            OFFICER_TOKEN,
            v1::SetRegionsRequest {
                request_id: "regions-13".into(),
                kind: "secondary_medical_area".into(),
                first_fiscal_year: 2022,
                last_fiscal_year: 2023,
                csv: tokyo_regions(),
            },
        ))
        .await
        .unwrap();
    let tally = survey
        .get_cycle_tally(with_token(
            VIEWER_TOKEN,
            v1::GetCycleTallyRequest {
                fiscal_year: 2022,
                region_kind: String::new(),
                consistency: v1::ReadConsistency::Linearizable as i32,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tally.plan_period, "第8期（令和3〜5年度）");
    let inagi = tally
        .municipalities
        .iter()
        .find(|m| m.municipality == INAGI)
        .expect("稲城市 is counted");
    assert_eq!(
        (
            inagi.name.as_str(),
            inagi.region.as_str(),
            inagi.step.as_str()
        ),
        ("稲城市", "南多摩", "do")
    );
    assert_eq!(
        inagi.goal_scenes,
        GOALS.iter().map(|(s, _)| s.to_string()).collect::<Vec<_>>()
    );
    let area = tally
        .regions
        .iter()
        .find(|r| r.region_name == "南多摩")
        .expect("the 南多摩 line");
    // its five municipalities are counted; the four without records are 未着手
    assert_eq!(area.municipalities, 5);
    let steps: Vec<(&str, u32)> = area
        .steps
        .iter()
        .map(|c| (c.code.as_str(), c.count))
        .collect();
    assert_eq!(
        steps,
        [
            ("not_started", 4),
            ("plan", 0),
            ("do", 1),
            ("check", 0),
            ("act", 0)
        ]
    );
    let goals: Vec<(&str, u32)> = area
        .goal_scenes
        .iter()
        .map(|c| (c.code.as_str(), c.count))
        .collect();
    assert_eq!(
        goals[..4],
        [
            ("admission_discharge", 1),
            ("daily_care", 1),
            ("sudden_deterioration", 1),
            ("end_of_life", 1)
        ]
    );
    for line in &tally.scene_activity {
        let expected = if GOALS.iter().any(|(s, _)| *s == line.scene) {
            1
        } else {
            0
        };
        // （カ） is the sixth item
        assert_eq!(
            (line.items[5], line.total),
            (expected, expected),
            "{}",
            line.scene
        );
    }
}
