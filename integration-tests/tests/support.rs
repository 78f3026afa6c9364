//! The prefecture's support of its municipalities (都道府県による市町村支援) on a real 3-replica
//! federation (TLS, tokens): an officer records support activities through `PrefectureSupport`;
//! a viewer may read but not record; bad input is refused naming the field and the value; a
//! retry with the same request id gets the first answer, even after the leader is killed and
//! another one leads; the same id with other content is ALREADY_EXISTS. The killed replica,
//! restarted after the log it missed was purged, catches up by snapshot and answers the same
//! fiscal year — activities, counts per category, support per municipality and the eleven of
//! 富山県's fifteen municipalities that received none — as the new leader does.

use renkei_integration_tests::browser::Browser;
use renkei_integration_tests::*;
use renkei_proto::v1;
use tonic::Code;
use tonic::transport::Channel;

/// 舟橋村 (富山県).
const FUNAHASHI_VILLAGE: &str = "163210";
/// 射水市: supported only in FY2023.
const IMIZU_CITY: &str = "162116";

fn activity(
    request_id: &str,
    id: &str,
    on: &str,
    category: &str,
    liaison_kind: &str,
    municipalities: &[&str],
) -> v1::RecordSupportActivityRequest {
    v1::RecordSupportActivityRequest {
        request_id: request_id.into(),
        id: id.into(),
        on: on.into(),
        category: category.into(),
        liaison_kind: liaison_kind.into(),
        title: format!("支援活動 {id}"),
        note: String::new(),
        municipalities: municipalities.iter().map(|m| (*m).to_owned()).collect(),
    }
}

async fn client(cluster: &Cluster, id: u64) -> v1::PrefectureSupportClient<Channel> {
    v1::PrefectureSupportClient::new(cluster.channel(id).await)
}

async fn year(
    cluster: &Cluster,
    id: u64,
    consistency: v1::ReadConsistency,
) -> Result<v1::SupportView, tonic::Status> {
    client(cluster, id)
        .await
        .get_support(with_token(
            VIEWER_TOKEN,
            v1::GetSupportRequest {
                fiscal_year: 2024,
                consistency: consistency as i32,
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_activities_survive_failover_and_show_the_municipalities_without_support() {
    // Snapshots every 5 entries, so a replica down for longer catches up by snapshot.
    let mut cluster = Cluster::start_with(3, &[TOYAMA_CITY], "snapshot_after_logs = 5").await;
    let leader = cluster.wait_for_leader().await;
    let mut support = client(&cluster, leader).await;

    let training = activity(
        "support-a",
        "s-2024-training",
        "2024-05-20",
        "information_and_training",
        "",
        &[TOYAMA_CITY, TAKAOKA_CITY],
    );
    let first = support
        .record_support_activity(with_token(OFFICER_TOKEN, training.clone()))
        .await
        .expect("an officer records an activity")
        .into_inner();
    assert_eq!(first.fiscal_year, 2024);
    assert_eq!(first.category_label, "情報発信・研修会");
    assert_eq!(first.recorded_by, "officer");
    assert_eq!(first.municipalities, [TOYAMA_CITY, TAKAOKA_CITY]);
    support
        .record_support_activity(with_token(
            OFFICER_TOKEN,
            activity(
                "support-b",
                "s-2024-discharge",
                "2024-10-01",
                "liaison",
                "admission_discharge",
                &[FUNAHASHI_VILLAGE, UOZU_CITY],
            ),
        ))
        .await
        .expect("a liaison activity with its kind");

    // A viewer reads but does not record.
    let refused = support
        .record_support_activity(with_token(
            VIEWER_TOKEN,
            activity(
                "v",
                "s-v",
                "2024-06-01",
                "data_analysis",
                "",
                &[TOYAMA_CITY],
            ),
        ))
        .await
        .expect_err("a viewer may not record");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // Bad input: refused naming the field and the value, nothing recorded.
    for (request, field, value) in [
        (
            activity("x1", "s-x", "2024-06-01", "data_analysis", "", &["172014"]),
            "municipalities",
            "172014",
        ),
        (
            activity("x2", "s-x", "2024-06-01", "data_analysis", "", &[]),
            "municipalities",
            "empty",
        ),
        (
            activity("x3", "s-x", "2024-06-01", "seminar", "", &[TOYAMA_CITY]),
            "category",
            "seminar",
        ),
        (
            activity("x4", "s-x", "2024-06-01", "liaison", "", &[TOYAMA_CITY]),
            "liaison_kind",
            "\"\"",
        ),
        (
            activity(
                "x5",
                "s-x",
                "1980-06-01",
                "data_analysis",
                "",
                &[TOYAMA_CITY],
            ),
            "on",
            "1980-06-01",
        ),
    ] {
        let status = support
            .record_support_activity(with_token(OFFICER_TOKEN, request))
            .await
            .expect_err("bad input is refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(field), "{status:?} names {field}");
        assert!(status.message().contains(value), "{status:?} names {value}");
    }

    // The same request id again — even with other content — gets the first answer.
    let mut changed = training.clone();
    changed.title = "別の名称".into();
    let retried = support
        .record_support_activity(with_token(OFFICER_TOKEN, changed.clone()))
        .await
        .expect("a retry")
        .into_inner();
    assert_eq!(retried, first, "a retry gets the stored answer");
    // Another request with the same id and other content: ALREADY_EXISTS, naming the id.
    changed.request_id = "support-a-other".into();
    let taken = support
        .record_support_activity(with_token(OFFICER_TOKEN, changed))
        .await
        .expect_err("the id is taken");
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");
    assert!(taken.message().contains("s-2024-training"), "{taken:?}");
    // Another request with the same id and the same content: the activity as recorded.
    let mut same = training.clone();
    same.request_id = "support-a-again".into();
    let again = support
        .record_support_activity(with_token(OFFICER_TOKEN, same))
        .await
        .expect("the same activity")
        .into_inner();
    assert_eq!(again, first);

    // The leader is killed; another one leads and answers the retry as the first did.
    let applied_before = cluster
        .status(leader)
        .await
        .expect("the leader's status")
        .applied_index;
    cluster.kill(leader);
    let new_leader = cluster.wait_for_leader().await;
    assert_ne!(new_leader, leader);
    let mut support = client(&cluster, new_leader).await;
    let after_failover = support
        .record_support_activity(with_token(OFFICER_TOKEN, training.clone()))
        .await
        .expect("a retry on the new leader")
        .into_inner();
    assert_eq!(after_failover, first);
    support
        .record_support_activity(with_token(
            OFFICER_TOKEN,
            activity(
                "support-c",
                "s-2025-data",
                "2025-02-10",
                "data_analysis",
                "",
                &[TOYAMA_CITY],
            ),
        ))
        .await
        .expect("record on the new leader");
    // FY2023's support of 射水市, enough entries for the log to be purged past the killed
    // replica: it does not count for FY2024.
    for i in 0..12 {
        support
            .record_support_activity(with_token(
                OFFICER_TOKEN,
                activity(
                    &format!("support-old-{i}"),
                    &format!("s-2023-{i}"),
                    "2023-11-01",
                    "human_resources",
                    "",
                    &[IMIZU_CITY],
                ),
            ))
            .await
            .expect("record FY2023");
    }
    wait_until(
        "the new leader to purge the log the killed replica missed",
        || async {
            cluster
                .status(new_leader)
                .await
                .is_some_and(|s| s.purged_index > applied_before)
        },
    )
    .await;

    // The view, linearizable, from the new leader.
    let expected = year(&cluster, new_leader, v1::ReadConsistency::Linearizable)
        .await
        .expect("read FY2024");
    let ids: Vec<&str> = expected.activities.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        ["s-2024-training", "s-2024-discharge", "s-2025-data"],
        "FY2024's activities by day, FY2023's left out"
    );
    let counts: Vec<(&str, &str, u32)> = expected
        .categories
        .iter()
        .map(|c| (c.category.as_str(), c.liaison_kind.as_str(), c.activities))
        .collect();
    assert_eq!(
        counts,
        [
            ("information_and_training", "", 1),
            ("practice_spreading", "", 0),
            ("data_analysis", "", 1),
            ("human_resources", "", 0),
            ("liaison", "wide_area", 0),
            ("liaison", "professional_bodies", 0),
            ("liaison", "admission_discharge", 1),
        ]
    );
    assert_eq!(expected.municipalities.len(), 15, "富山県's fifteen");
    let toyama = expected
        .municipalities
        .iter()
        .find(|m| m.municipality == TOYAMA_CITY)
        .expect("富山市");
    assert_eq!(toyama.activity_ids, ["s-2024-training", "s-2025-data"]);
    // 15 − {富山市, 高岡市, 魚津市, 舟橋村} = 11; 射水市 was supported in FY2023 only.
    assert_eq!(
        expected.unsupported,
        [
            "162051", "162060", "162078", "162086", "162094", "162108", IMIZU_CITY, "163228",
            "163236", "163422", "163431",
        ]
    );

    // The killed replica comes back, catches up by snapshot and answers the same, locally.
    cluster.restart(leader);
    let seen = std::cell::Cell::new(None);
    wait_until(
        "the restarted replica to show FY2024's three activities",
        || async {
            match year(&cluster, leader, v1::ReadConsistency::Local).await {
                Ok(view) if view.activities.len() == 3 => {
                    seen.set(Some(view));
                    true
                }
                _ => false,
            }
        },
    )
    .await;
    let seen = seen.take().expect("the view the wait saw");
    let status = cluster.status(leader).await.expect("its status");
    assert!(
        status.snapshot_index > 0,
        "the replica caught up without a snapshot: {status:?}"
    );
    assert_eq!(
        v1::SupportView {
            applied_index: 0,
            ..seen
        },
        v1::SupportView {
            applied_index: 0,
            ..expected
        }
    );
}

/// The console's 市町村支援 page in a real browser. An officer signs in and sees all fifteen
/// municipalities without support; a form with no municipality ticked is refused naming the
/// field, with the values kept and nothing recorded; ticking two records the activity, which the
/// page then lists with its category, in the counts and per municipality, and the unsupported
/// list shrinks to thirteen. A viewer sees the same page without the form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_records_support_in_the_console_and_sees_who_received_none() {
    let cluster = Cluster::start_with(3, &[TOYAMA_CITY], r#"web_listen = "127.0.0.1:0""#).await;
    let leader = cluster.wait_for_leader().await;
    let log = cluster.root.path().join(format!("replica-{leader}.log"));
    let web = format!(
        "https://{}",
        logged_value(&log, "serving the console", "address").await
    );
    let browser = Browser::start("support").await;
    browser.open(&format!("{web}/login")).await;
    browser.type_into("#token", OFFICER_TOKEN).await;
    browser.follow("#sign-in").await;
    browser.open(&format!("{web}/support?fy=2024")).await;
    assert_eq!(browser.path().await, "/support");
    assert!(
        browser
            .text("#unsupported-heading")
            .await
            .contains("15 / 15"),
        "{}",
        browser.text("#unsupported-heading").await
    );

    // No municipality ticked: refused, naming the field; the values stay in the form.
    browser.type_into("#support-id", "s-2024-07-nyutaiin").await;
    browser.set_value("#support-on", "2024-07-13").await;
    browser
        .select("#support-category", "liaison/admission_discharge")
        .await;
    browser
        .type_into("#support-title", "入退院支援ルール運用研修（新川圏域）")
        .await;
    browser.follow("#record-support button[type=submit]").await;
    let refusal = browser.text("p.msg.error").await;
    assert!(refusal.contains("municipalities"), "{refusal}");
    assert_eq!(
        browser.rows("#activities tbody tr").await,
        [["この年度の記録はありません"]],
        "nothing recorded"
    );
    browser.full_screenshot("refused").await;

    // Ticking 魚津市 and 黒部市 records it.
    browser
        .click(&format!(
            "#support-municipalities input[value='{UOZU_CITY}']"
        ))
        .await;
    browser
        .click("#support-municipalities input[value='162078']")
        .await;
    browser.follow("#record-support button[type=submit]").await;
    let done = browser.text("p.msg.ok").await;
    assert!(
        done.contains("入退院支援ルール運用研修（新川圏域）") && done.contains("2024-07-13"),
        "{done}"
    );
    assert_eq!(
        browser.rows("#activities tbody tr").await,
        [[
            "2024-07-13",
            "s-2024-07-nyutaiin",
            "関係市町村等の連携（入退院時の医療機関職員と介護支援専門員の連携）",
            "入退院支援ルール運用研修（新川圏域）",
            "魚津市・黒部市",
            "",
            "officer"
        ]]
    );
    let counts = browser.rows("#categories tbody tr").await;
    assert_eq!(counts.len(), 7, "{counts:?}");
    assert_eq!(
        counts.iter().map(|r| r[1].as_str()).collect::<Vec<_>>(),
        ["0", "0", "0", "0", "0", "0", "1"],
        "{counts:?}"
    );
    assert!(
        browser
            .text("#unsupported-heading")
            .await
            .contains("13 / 15")
    );
    let unsupported = browser.rows("#unsupported li").await;
    assert_eq!(unsupported.len(), 13);
    assert!(
        browser
            .text("#unsupported")
            .await
            .contains("富山市（162019）")
            && !browser.text("#unsupported").await.contains("魚津市"),
        "{}",
        browser.text("#unsupported").await
    );
    let kurobe = browser.rows("#municipalities tbody tr").await;
    assert!(
        kurobe.contains(&vec![
            "黒部市（162078）".to_owned(),
            "1".to_owned(),
            "s-2024-07-nyutaiin".to_owned()
        ]),
        "{kurobe:?}"
    );
    browser.full_screenshot("recorded").await;
    browser.close().await;

    // A viewer reads the same page, without the form.
    let viewer = Browser::start("support-viewer").await;
    viewer.open(&format!("{web}/login")).await;
    viewer.type_into("#token", VIEWER_TOKEN).await;
    viewer.follow("#sign-in").await;
    viewer.open(&format!("{web}/support?fy=2024")).await;
    assert!(
        viewer
            .text("#unsupported-heading")
            .await
            .contains("13 / 15")
    );
    let forms = viewer
        .run_async(
            "const done = arguments[arguments.length - 1];
             done(document.querySelectorAll('#record-support').length);",
        )
        .await;
    assert_eq!(forms, serde_json::json!(0), "a viewer gets no form");
    viewer.close().await;
}
