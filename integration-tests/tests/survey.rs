//! The prefecture's tally built end to end: a municipal node records activity, sync carries the
//! facts to a 3-replica cluster, and the survey service answers the national-style tally — by
//! prefecture, by 二次医療圏 and per municipality — submissions lock a snapshot, reviews mark it,
//! and the exports carry it.

use renkei_integration_tests::*;
use renkei_proto::v1;
use tonic::Code;

const TOYAMA_AREAS: &str = include_str!("../../federation/data/toyama_secondary_medical_areas.csv");

async fn survey_client(cluster: &Cluster) -> v1::PrefectureSurveyClient<tonic::transport::Channel> {
    let leader = cluster.wait_for_leader().await;
    v1::PrefectureSurveyClient::new(cluster.channel(leader).await)
}

fn tally_request(as_of: &str, source: v1::TallySource) -> v1::GetTallyRequest {
    v1::GetTallyRequest {
        fiscal_year: 2024,
        as_of: as_of.into(),
        known_at: None,
        source: source as i32,
        consistency: v1::ReadConsistency::Linearizable as i32,
    }
}

fn line<'a>(tally: &'a [v1::ItemTally], item: &str) -> &'a v1::ItemTally {
    tally.iter().find(|l| l.item == item).expect("an item line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tally_built_from_a_node_through_sync() {
    let cluster = Cluster::start(3).await;
    let node = Node::start(cluster.addresses());
    let mut survey = survey_client(&cluster).await;
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

    // 富山市: awareness (キ) held; (ア) only planned. 高岡市: a training (カ).
    record_activities(&node, TOYAMA_CITY, "k", 0..2).await;
    let mut program = node.program().await;
    program
        .schedule_activity(v1::ScheduleActivityRequest {
            municipality_code: TOYAMA_CITY.into(),
            actor: "tester".into(),
            fiscal_year: 2024,
            id: "resource-map".into(),
            item: "a".into(),
            what: "在宅医療資源マップの作成".into(),
            scheduled_on: "2025-03-31".into(),
            owner: "地域包括ケア推進課".into(),
            delegated_to: String::new(),
            planned_on: "2024-05-01".into(),
            scenes: vec![],
            indicators: vec![],
        })
        .await
        .expect("schedule");
    // (ウ) planned for a day that passed by the survey date: not 年度内に実施予定 at the
    // prefecture either (DOMAIN.md:59, "a plan whose day passed without the activity no longer
    // counts"), so the scheduled day travels with the fact.
    program
        .schedule_activity(v1::ScheduleActivityRequest {
            municipality_code: TOYAMA_CITY.into(),
            actor: "tester".into(),
            fiscal_year: 2024,
            id: "round-the-clock-group".into(),
            item: "c".into(),
            what: "24時間対応の輪番制の構築".into(),
            scheduled_on: "2024-12-01".into(),
            owner: "地域包括ケア推進課".into(),
            delegated_to: String::new(),
            planned_on: "2024-05-01".into(),
            scenes: vec![],
            indicators: vec![],
        })
        .await
        .expect("schedule");
    program
        .hold_training(v1::HoldTrainingRequest {
            municipality_code: TAKAOKA_CITY.into(),
            actor: "tester".into(),
            id: "t1".into(),
            kind: "multi_professional_group_work".into(),
            title: "多職種連携研修".into(),
            on: "2024-07-01".into(),
            participants: vec![v1::ProgramCount {
                of: "nurse".into(),
                count: 12,
            }],
            scenes: vec![],
        })
        .await
        .expect("hold a training");
    wait_synced(&node, TOYAMA_CITY).await;
    wait_synced(&node, TAKAOKA_CITY).await;

    let tally = survey
        .get_tally(with_token(
            OFFICER_TOKEN,
            tally_request("2025-03-31", v1::TallySource::Live),
        ))
        .await
        .expect("the tally")
        .into_inner();
    // n counts the municipalities that answered: the node's two; the other 13 of 富山県 were
    // never heard from and are counted apart (未回答), not as 実施していない.
    assert_eq!((tally.n, tally.wareki.as_str()), (2, "令和6年度"));
    assert_eq!(tally.unanswered, 13);
    let ki = line(&tally.items, "g");
    assert_eq!(ki.label, "（キ）地域住民への普及啓発");
    assert_eq!((ki.implemented, ki.planned, ki.not_implemented), (1, 0, 1));
    assert_eq!(
        (
            ki.implemented_percent.as_str(),
            ki.not_implemented_percent.as_str()
        ),
        ("50.0", "50.0")
    );
    let a = line(&tally.items, "a");
    assert_eq!((a.implemented, a.planned), (0, 1));
    let u = line(&tally.items, "c");
    assert_eq!((u.implemented, u.planned, u.not_implemented), (0, 0, 2));
    assert_eq!(line(&tally.items, "f").implemented, 1);
    let areas: Vec<(&str, u32, u32)> = tally
        .regions
        .iter()
        .map(|r| (r.region_name.as_str(), r.n, r.unanswered))
        .collect();
    assert_eq!(
        areas,
        [
            ("新川", 0, 4),
            ("富山", 1, 4),
            ("高岡", 1, 2),
            ("砺波", 0, 3)
        ]
    );
    let toyama_area = tally
        .regions
        .iter()
        .find(|r| r.region_name == "富山")
        .unwrap();
    assert_eq!(line(&toyama_area.items, "g").implemented_percent, "100.0");
    let silent: Vec<&str> = tally
        .municipalities
        .iter()
        .filter(|m| !m.reported && !m.answered)
        .map(|m| m.municipality.as_str())
        .collect();
    assert_eq!(silent.len(), 13, "never reported: counted and flagged");

    // As of before the training, 高岡市's カ is not implemented yet.
    let early = survey
        .get_tally(with_token(
            OFFICER_TOKEN,
            tally_request("2024-06-30", v1::TallySource::Live),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(line(&early.items, "f").implemented, 0);

    // 富山市 submits as of 2024-12-31; later activity does not move the snapshot.
    let submitted = v1::PrefectureSurveyClient::new(
        // A submission, like a fact, needs the node's certificate as well as its token.
        cluster.node_channel(cluster.wait_for_leader().await).await,
    )
    .submit_survey(with_token(
        NODE_TOKEN,
        v1::SubmitSurveyRequest {
            request_id: "toyama-2024-1".into(),
            municipality: TOYAMA_CITY.into(),
            fiscal_year: 2024,
            survey_date: "2024-12-31".into(),
        },
    ))
    .await
    .expect("submit")
    .into_inner();
    assert_eq!(
        (submitted.version, submitted.state.as_str()),
        (1, "submitted")
    );
    assert_eq!(submitted.statuses[6], "実施している");
    assert_eq!(submitted.statuses[5], "実施していない");
    program
        .hold_training(v1::HoldTrainingRequest {
            municipality_code: TOYAMA_CITY.into(),
            actor: "tester".into(),
            id: "t2".into(),
            kind: "multi_professional_group_work".into(),
            title: "多職種連携研修".into(),
            on: "2024-11-01".into(),
            participants: vec![v1::ProgramCount {
                of: "physician".into(),
                count: 5,
            }],
            scenes: vec![],
        })
        .await
        .unwrap();
    wait_until("the later training to reach the prefecture", || async {
        let t = survey
            .clone()
            .get_tally(with_token(
                OFFICER_TOKEN,
                tally_request("2025-03-31", v1::TallySource::Live),
            ))
            .await
            .unwrap()
            .into_inner();
        line(&t.items, "f").implemented == 2
    })
    .await;
    // An unreviewed submission is not what a submitted tally counts: 富山市 is counted live.
    let unreviewed = survey
        .get_tally(with_token(
            OFFICER_TOKEN,
            tally_request("2024-12-31", v1::TallySource::Submitted),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(line(&unreviewed.items, "f").implemented, 2);

    // A municipality's node may not review, nor read the whole prefecture's tally.
    let refused = survey
        .review_submission(with_token(
            NODE_TOKEN,
            v1::ReviewSubmissionRequest {
                request_id: "review-1".into(),
                municipality: TOYAMA_CITY.into(),
                fiscal_year: 2024,
                version: 1,
                approve: true,
                comment: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = survey
        .get_tally(with_token(
            NODE_TOKEN,
            tally_request("2025-03-31", v1::TallySource::Live),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let approved = survey
        .review_submission(with_token(
            OFFICER_TOKEN,
            v1::ReviewSubmissionRequest {
                request_id: "review-1".into(),
                municipality: TOYAMA_CITY.into(),
                fiscal_year: 2024,
                version: 1,
                approve: true,
                comment: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(approved.state, "approved");
    // Approved, the snapshot holds: 富山市's training after its survey date does not count.
    let locked = survey
        .get_tally(with_token(
            OFFICER_TOKEN,
            tally_request("2024-12-31", v1::TallySource::Submitted),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        line(&locked.items, "f").implemented,
        1,
        "the snapshot holds"
    );
    // A submitted tally of another survey date would mix dates: refused, naming both.
    let mixed = survey
        .get_tally(with_token(
            OFFICER_TOKEN,
            tally_request("2025-03-31", v1::TallySource::Submitted),
        ))
        .await
        .unwrap_err();
    assert_eq!(mixed.code(), Code::InvalidArgument);
    assert!(
        mixed.message().contains("2024-12-31") && mixed.message().contains(TOYAMA_CITY),
        "{mixed:?}"
    );

    // The exports: summary CSV (UTF-8 with BOM, Japanese headers), detail CSV naming the
    // approval, XLSX.
    let export = |format: v1::ExportFormat, shift_jis: bool| v1::ExportSurveyRequest {
        tally: Some(tally_request("2024-12-31", v1::TallySource::Submitted)),
        format: format as i32,
        shift_jis,
    };
    let summary = survey
        .export_survey(with_token(
            OFFICER_TOKEN,
            export(v1::ExportFormat::SummaryCsv, false),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.file_name, "survey_16_2024_summary.csv");
    assert!(summary.content.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(summary.content[3..].to_vec()).unwrap();
    assert!(text.contains("（キ）地域住民への普及啓発"), "{text}");
    let detail = survey
        .export_survey(with_token(
            OFFICER_TOKEN,
            export(v1::ExportFormat::DetailCsv, false),
        ))
        .await
        .unwrap()
        .into_inner();
    let detail = String::from_utf8(detail.content[3..].to_vec()).unwrap();
    assert!(detail.contains("承認済（第1版）"), "{detail}");
    let xlsx = survey
        .export_survey(with_token(
            OFFICER_TOKEN,
            export(v1::ExportFormat::Xlsx, false),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(xlsx.content.starts_with(b"PK"));

    // Completeness: 13 never reported, 14 not submitted.
    let completeness = survey
        .get_completeness(with_token(
            OFFICER_TOKEN,
            v1::GetCompletenessRequest {
                fiscal_year: 2024,
                since: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(completeness.never_reported.len(), 13);
    assert_eq!(completeness.not_submitted.len(), 14);
    assert_eq!(completeness.submitted[0].municipality, TOYAMA_CITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_that_leave_a_municipality_out_are_refused_naming_it() {
    let cluster = Cluster::start(3).await;
    let mut survey = survey_client(&cluster).await;
    let without_asahi: String = TOYAMA_AREAS
        .lines()
        .filter(|l| !l.contains("163431"))
        .map(|l| format!("{l}\n"))
        .collect();
    let refused = survey
        .set_regions(with_token(
            OFFICER_TOKEN,
            v1::SetRegionsRequest {
                request_id: "regions-bad".into(),
                kind: "secondary_medical_area".into(),
                first_fiscal_year: 2024,
                last_fiscal_year: 2029,
                csv: without_asahi,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("163431 (朝日町)"), "{refused:?}");
}
