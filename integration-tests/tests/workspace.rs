//! The municipal workspace in a real headless Chromium against a real 3-replica prefecture
//! cluster and a synced node (TLS): nothing is readable before signing in; a clerk (operator)
//! records one activity of every item (ア–ク) and the annual plan through the forms (the resource
//! list as a Shift_JIS CSV file, a unified form the prefecture publishes meanwhile), each form
//! first refusing a bad value with the field and the reason beside it and the clerk's input
//! kept; the eight statuses turn to 実施している with their evidence; the facts reach the
//! prefecture (its GetTally counts 富山市 for every item); the plan (by item and by care scene,
//! with what is late), records, sync, residents' list (with its CSV), the year's cases and a
//! consultation case's personal details are shown, the details then
//! erased after a confirmation; a viewer sees no personal details and may not record.
//! Screenshots of every page are saved under `<target>/release/screenshots/workspace/`.

use renkei_integration_tests::browser::Browser;
use renkei_integration_tests::*;
use renkei_proto::v1;

/// A clerk's token (role operator).
const CLERK_TOKEN: &str = "clerk-token-0123456789abcdefghijklmnop";
/// A reader's token (role viewer).
const READER_TOKEN: &str = "reader-token-0123456789abcdefghijklmnop";

const FY: &str = "fy=2024&as_of=2025-03-31";

fn tally_request() -> v1::GetTallyRequest {
    v1::GetTallyRequest {
        fiscal_year: 2024,
        as_of: "2025-03-31".into(),
        known_at: None,
        source: v1::TallySource::Live as i32,
        consistency: v1::ReadConsistency::Linearizable as i32,
    }
}

/// Clicks what submits a form and waits until the next page has loaded (the old page's marker
/// is gone and the new one is complete).
async fn click_and_wait(browser: &Browser, css: &str) {
    let _ = browser
        .client
        .execute("window.__leaving = true; return true;", vec![])
        .await;
    browser.click(css).await;
    wait_until("the next page to load", || async {
        matches!(
            browser
                .client
                .execute(
                    "return window.__leaving === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await,
            Ok(serde_json::Value::Bool(true))
        )
    })
    .await;
}

async fn sign_in(browser: &Browser, web: &str, token: &str) {
    browser.open(&format!("{web}/login")).await;
    browser.type_into("#token", token).await;
    click_and_wait(browser, "#sign-in").await;
}

/// Sets the named fields of form `key` (inputs, selects, textareas by their `name`).
async fn fill(browser: &Browser, key: &str, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        browser
            .set_value(&format!("#form-{key} [name='{name}']"), value)
            .await;
    }
}

/// Submits form `key` and returns the page's main text.
async fn submit(browser: &Browser, key: &str) -> String {
    click_and_wait(browser, &format!("#submit-{key}")).await;
    browser.text("main").await
}

/// Submits form `key` expecting a refusal beside field `field`; checks that the value the clerk
/// typed in `kept` is still there.
async fn refused(browser: &Browser, key: &str, field: &str, kept: Option<(&str, &str)>) {
    let page = submit(browser, key).await;
    let error = format!("#form-{key} #err-{}", field.replace('.', "-"));
    let text = browser.text(&error).await;
    assert!(!text.is_empty(), "{key}: a refusal beside {field}: {page}");
    if let Some((name, value)) = kept {
        let kept_value = browser
            .run_async(&format!(
                "const done = arguments[arguments.length - 1];
                 done(document.querySelector(\"#form-{key} [name='{name}']\").value);"
            ))
            .await;
        assert_eq!(kept_value.as_str(), Some(value), "{key}: {name} kept");
    }
}

/// Submits form `key` expecting it recorded.
async fn recorded(browser: &Browser, key: &str) {
    let page = submit(browser, key).await;
    assert!(page.contains("記録しました"), "{key}: {page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_records_the_programme_in_the_workspace() {
    let cluster = Cluster::start(3).await;
    let node = Node::start_with(
        cluster.addresses(),
        &format!(
            "web_listen = \"127.0.0.1:0\"\n\
             [[staff]]\nname = \"富山市 地域包括ケア推進課\"\ntoken = \"{CLERK_TOKEN}\"\nrole = \"operator\"\n\
             [[staff]]\nname = \"閲覧者\"\ntoken = \"{READER_TOKEN}\"\nrole = \"viewer\"\n"
        ),
    );
    let log = node.root.path().join("node.log");
    let web = format!(
        "https://{}",
        logged_value(&log, "serving the workspace", "address").await
    );
    let leader = cluster.wait_for_leader().await;
    let mut survey = v1::PrefectureSurveyClient::new(cluster.channel(leader).await);
    let before = survey
        .get_tally(with_token(OFFICER_TOKEN, tally_request()))
        .await
        .expect("GetTally")
        .into_inner();

    let browser = Browser::start("workspace").await;
    let m = format!("{web}/m/{TOYAMA_CITY}");

    // Nothing is readable without signing in.
    browser.open(&format!("{m}/status")).await;
    assert_eq!(browser.path().await, "/login");
    browser.screenshot("01-sign-in").await;
    let status = browser
        .run_async(&format!(
            "const done = arguments[arguments.length - 1];
             fetch('/m/{TOYAMA_CITY}/record/a/conduct_resource_survey', {{method: 'POST', body: new URLSearchParams({{csrf: 'x'}})}})
               .then(r => done(r.status));"
        ))
        .await;
    assert_eq!(status.as_u64(), Some(401), "a post without a session");
    sign_in(&browser, &web, "not-a-token-of-this-node").await;
    assert!(browser.text("main").await.contains("トークンが違います"));

    // The clerk signs in; the node serves two towns, chosen by a selector.
    sign_in(&browser, &web, CLERK_TOKEN).await;
    assert_eq!(browser.path().await, format!("/m/{TOYAMA_CITY}/status"));
    browser.select("#municipality", TAKAOKA_CITY).await;
    click_and_wait(&browser, "#switch").await;
    assert_eq!(browser.path().await, format!("/m/{TAKAOKA_CITY}/status"));
    browser.open(&format!("{web}/m/131016/status")).await;
    assert!(browser.text("body").await.contains("扱っていません"));
    browser.open(&format!("{m}/status?{FY}")).await;
    let rows = browser.rows("#status tbody tr").await;
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r[1] == "実施していない"), "{rows:?}");
    browser.full_screenshot("02-status-before").await;

    // (ア) a resource: a malformed 医療機関コード is refused beside the field.
    browser.open(&format!("{m}/record/a")).await;
    let key = "register_resource";
    fill(
        &browser,
        key,
        &[
            ("id", "r-hospital"),
            ("details.kind", "home_care_support_hospital"),
            ("details.name", "富山在宅医療病院"),
            ("details.medical_institution_code", "16123"),
            ("details.address", "富山市新桜町7-38"),
            ("details.latitude", "36.6959"),
            ("details.longitude", "137.2137"),
            ("details.contact", "076-000-0000（医療連携室）"),
            ("on", "2024-04-10"),
        ],
    )
    .await;
    browser
        .click(&format!(
            "#form-{key} input[name='details.listed_for_residents']"
        ))
        .await;
    browser
        .click(&format!(
            "#form-{key} input[name='details.capabilities'][value='home_visits']"
        ))
        .await;
    refused(
        &browser,
        key,
        "details.medical_institution_code",
        Some(("details.name", "富山在宅医療病院")),
    )
    .await;
    assert!(
        browser
            .text(&format!(
                "#form-{key} #err-details-medical_institution_code"
            ))
            .await
            .contains("10桁の数字にしてください")
    );
    browser.full_screenshot("03-refused-resource").await;
    fill(
        &browser,
        key,
        &[("details.medical_institution_code", "1610100002")],
    )
    .await;
    recorded(&browser, key).await;
    // A second resource, not listed for residents.
    fill(
        &browser,
        key,
        &[
            ("id", "r-station"),
            ("details.kind", "visiting_nursing_station"),
            ("details.name", "内部向け訪問看護ステーション"),
            ("details.address", "富山市"),
            ("on", "2024-04-10"),
        ],
    )
    .await;
    recorded(&browser, key).await;

    // The CSV import: a file saved by office software in Shift_JIS, chosen in the file dialog;
    // the rejected rows are shown by line.
    let key = "import_resources";
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(
        "ID,種別,名称,住所,医療機関コード,住民向け公開\nr-clinic,clinic,富山駅前クリニック,富山市桜町1-1,1610100010,1\nr-bad,clinic,番号違い診療所,富山市,99,1\n",
    );
    let file = node.root.path().join("資源リスト.csv");
    std::fs::write(&file, &sjis).expect("write the CSV file");
    browser
        .choose_file(&format!("#form-{key} [name='csv_file']"), &file)
        .await;
    fill(&browser, key, &[("on", "2024-04-11")]).await;
    let page = submit(&browser, key).await;
    assert!(page.contains("取り込みました"), "{page}");
    let rejected = browser.rows("#rejected tbody tr").await;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0][0], "3");
    browser.full_screenshot("04-import").await;
    browser.open(&format!("{m}/residents")).await;
    assert!(
        browser.text("main").await.contains("富山駅前クリニック"),
        "the Shift_JIS file's names read back as written"
    );
    browser.open(&format!("{m}/record/a")).await;

    // A resource survey: a count that is not a number is refused.
    let key = "conduct_resource_survey";
    fill(
        &browser,
        key,
        &[
            ("id", "survey-2024"),
            ("title", "在宅医療資源調査"),
            ("on", "2024-06-01"),
            ("responses", "たくさん"),
        ],
    )
    .await;
    refused(&browser, key, "responses", Some(("responses", "たくさん"))).await;
    fill(&browser, key, &[("responses", "42")]).await;
    recorded(&browser, key).await;
    // A published list: without an audience it is refused.
    let key = "publish_resource_list";
    fill(
        &browser,
        key,
        &[
            ("id", "list-2024"),
            ("title", "在宅医療マップ"),
            ("format", "map"),
            ("on", "2024-07-01"),
        ],
    )
    .await;
    refused(&browser, key, "audience", Some(("title", "在宅医療マップ"))).await;
    fill(&browser, key, &[("audience", "residents")]).await;
    recorded(&browser, key).await;

    // (イ) a meeting (without a kind: refused) and its issue.
    browser.open(&format!("{m}/record/b")).await;
    let key = "hold_meeting";
    fill(
        &browser,
        key,
        &[
            ("id", "meeting-2024-1"),
            ("title", "在宅医療・介護連携推進会議"),
            ("on", "2024-05-20"),
            ("participants.medical_association", "3"),
            ("participants.care_provider", "5"),
        ],
    )
    .await;
    refused(
        &browser,
        key,
        "kind",
        Some(("participants.care_provider", "5")),
    )
    .await;
    browser.full_screenshot("05-refused-meeting").await;
    fill(&browser, key, &[("kind", "coordination_council")]).await;
    recorded(&browser, key).await;
    let key = "record_finding";
    fill(
        &browser,
        key,
        &[
            ("meeting", "meeting-2024-1"),
            ("id", "issue-1"),
            ("text", "退院時の情報共有が遅れる"),
        ],
    )
    .await;
    refused(
        &browser,
        key,
        "kind",
        Some(("text", "退院時の情報共有が遅れる")),
    )
    .await;
    fill(&browser, key, &[("kind", "issue")]).await;
    recorded(&browser, key).await;

    // (ウ) an emergency hospital names exactly one resource.
    browser.open(&format!("{m}/record/c")).await;
    let key = "establish_arrangement";
    fill(
        &browser,
        key,
        &[
            ("id", "arr-1"),
            ("name", "急変時の受入れ病院"),
            ("kind", "emergency_hospital"),
            ("resources", "r-hospital, r-clinic"),
            ("first_day", "2024-04-01"),
        ],
    )
    .await;
    refused(
        &browser,
        key,
        "resources",
        Some(("resources", "r-hospital, r-clinic")),
    )
    .await;
    fill(&browser, key, &[("resources", "r-hospital")]).await;
    recorded(&browser, key).await;
    browser.full_screenshot("06-arrangement").await;

    // (エ) a tool without a kind is refused.
    browser.open(&format!("{m}/record/d")).await;
    let key = "adopt_tool";
    fill(
        &browser,
        key,
        &[
            ("id", "tool-1"),
            ("name", "入退院連絡シート"),
            ("version", "1.0"),
            ("manual_title", "連絡シート利用の手引き"),
            ("on", "2024-04-15"),
        ],
    )
    .await;
    refused(&browser, key, "kind", Some(("name", "入退院連絡シート"))).await;
    fill(&browser, key, &[("kind", "sheet")]).await;
    recorded(&browser, key).await;
    // Its next version: a revision dated before the first is refused in Japanese.
    let key = "revise_tool";
    fill(
        &browser,
        key,
        &[
            ("id", "tool-1"),
            ("version", "2.0"),
            ("manual_title", "連絡シート利用の手引き（改訂）"),
            ("on", "2024-04-01"),
        ],
    )
    .await;
    refused(&browser, key, "on", Some(("version", "2.0"))).await;
    assert!(
        browser
            .text("#form-revise_tool #err-on")
            .await
            .contains("日付が前後しています")
    );
    fill(&browser, key, &[("on", "2024-10-01")]).await;
    recorded(&browser, key).await;

    // (オ) a desk without its opening day is refused; a case with personal details needs the
    // subject's number.
    browser.open(&format!("{m}/record/e")).await;
    let key = "open_consultation_desk";
    fill(
        &browser,
        key,
        &[
            ("id", "desk-1"),
            ("name", "在宅医療・介護連携支援センター"),
            ("host", "medical_association"),
            ("staff.nurse", "1"),
            ("staff.care_manager", "1"),
            ("hours", "平日 9:00-17:00"),
            ("on", ""),
        ],
    )
    .await;
    refused(
        &browser,
        key,
        "on",
        Some(("name", "在宅医療・介護連携支援センター")),
    )
    .await;
    fill(&browser, key, &[("on", "2024-04-01")]).await;
    recorded(&browser, key).await;
    let key = "open_consultation_case";
    fill(
        &browser,
        key,
        &[
            ("id", "case-1"),
            ("desk", "desk-1"),
            ("on", "2024-08-01"),
            ("referrer", "care_manager"),
            ("topic", "discharge"),
            ("personal.name", "富山 花子"),
            ("personal.phone", "076-111-2222"),
        ],
    )
    .await;
    refused(
        &browser,
        key,
        "subject",
        Some(("personal.name", "富山 花子")),
    )
    .await;
    fill(&browser, key, &[("subject", "subject-1")]).await;
    recorded(&browser, key).await;
    browser.full_screenshot("07-consultation").await;

    // (カ) participants must be counted in numbers.
    browser.open(&format!("{m}/record/f")).await;
    let key = "hold_training";
    fill(
        &browser,
        key,
        &[
            ("id", "training-1"),
            ("kind", "multi_professional_group_work"),
            ("title", "多職種連携研修"),
            ("on", "2024-07-10"),
            ("participants.nurse", "十二"),
        ],
    )
    .await;
    refused(
        &browser,
        key,
        "participants",
        Some(("participants.nurse", "十二")),
    )
    .await;
    fill(&browser, key, &[("participants.nurse", "12")]).await;
    browser
        .click(&format!(
            "#form-{key} input[name='scenes'][value='end_of_life']"
        ))
        .await;
    recorded(&browser, key).await;
    // Its evaluation: a count that is not a number is refused, then it is recorded.
    let key = "evaluate_training";
    fill(
        &browser,
        key,
        &[
            ("id", "training-1"),
            ("respondents", "十"),
            ("satisfied", "9"),
            ("on", "2024-07-20"),
        ],
    )
    .await;
    refused(&browser, key, "respondents", Some(("satisfied", "9"))).await;
    fill(&browser, key, &[("respondents", "10")]).await;
    recorded(&browser, key).await;

    // (キ) attendance is a number.
    browser.open(&format!("{m}/record/g")).await;
    let key = "record_awareness_activity";
    fill(
        &browser,
        key,
        &[
            ("id", "lecture-1"),
            ("kind", "lecture"),
            ("title", "在宅医療市民講座"),
            ("audience", "市民"),
            ("on", "2024-10-05"),
            ("attendance", "-3"),
        ],
    )
    .await;
    refused(&browser, key, "attendance", Some(("attendance", "-3"))).await;
    fill(&browser, key, &[("attendance", "80")]).await;
    recorded(&browser, key).await;

    // (ク) a wide-area meeting without its date is refused; a liaison agreement's lead time is a
    // number; no unified form was published, so none can be adopted.
    browser.open(&format!("{m}/record/h")).await;
    let key = "attend_wide_area_meeting";
    fill(
        &browser,
        key,
        &[
            ("id", "wide-1"),
            ("title", "富山圏域 入退院支援連携会議"),
            ("area", "富山医療圏"),
            ("on", ""),
            ("participants.hospital", "6"),
        ],
    )
    .await;
    refused(
        &browser,
        key,
        "on",
        Some(("title", "富山圏域 入退院支援連携会議")),
    )
    .await;
    fill(&browser, key, &[("on", "2024-11-20")]).await;
    recorded(&browser, key).await;
    let key = "join_liaison_agreement";
    fill(
        &browser,
        key,
        &[
            ("id", "liaison-1"),
            ("hospital", "1610000011"),
            ("rule_version", "2024"),
            ("notification_lead_days", "三日"),
            ("contact_point", "地域連携室"),
            ("first_day", "2024-04-01"),
        ],
    )
    .await;
    refused(
        &browser,
        key,
        "notification_lead_days",
        Some(("hospital", "1610000011")),
    )
    .await;
    fill(&browser, key, &[("notification_lead_days", "3")]).await;
    recorded(&browser, key).await;
    let key = "adopt_unified_form";
    fill(&browser, key, &[("on", "2024-05-01")]).await;
    refused(&browser, key, "form", None).await;
    // The prefecture publishes its unified discharge form; once the node has pulled it, the
    // clerk chooses it among the published ones and records its adoption.
    cluster
        .federation(leader)
        .await
        .publish_down(with_token(
            OFFICER_TOKEN,
            v1::PublishDownRequest {
                request_id: "form-1".into(),
                item: Some(discharge_form()),
            },
        ))
        .await
        .expect("PublishDown");
    let published = "discharge-liaison|2024.1";
    wait_until("the published form to be offered", || async {
        browser.open(&format!("{m}/record/h")).await;
        browser
            .rows(&format!("#form-{key} option[value='{published}']"))
            .await
            .len()
            == 1
    })
    .await;
    assert!(
        browser
            .text(&format!("#form-{key}"))
            .await
            .contains("入退院支援連絡票（2024.1版）")
    );
    fill(&browser, key, &[("form", published), ("on", "2024-05-01")]).await;
    recorded(&browser, key).await;
    browser.full_screenshot("08-wide-area").await;

    // The annual plan: an activity needs its item; an indicator's target is a number.
    browser.open(&format!("{m}/record/plan")).await;
    let key = "schedule_activity";
    fill(
        &browser,
        key,
        &[
            ("fiscal_year", "2024"),
            ("id", "plan-g-2"),
            ("what", "市民講座（第2回）"),
            ("scheduled_on", "2025-02-15"),
            ("owner", "地域包括ケア推進課"),
            ("planned_on", "2024-04-01"),
        ],
    )
    .await;
    refused(&browser, key, "item", Some(("what", "市民講座（第2回）"))).await;
    fill(&browser, key, &[("item", "g")]).await;
    browser
        .click(&format!(
            "#form-{key} input[name='scenes'][value='end_of_life']"
        ))
        .await;
    recorded(&browser, key).await;
    let key = "define_indicator";
    fill(
        &browser,
        key,
        &[
            ("fiscal_year", "2024"),
            ("id", "ind-1"),
            ("kind", "process"),
            ("name", "相談件数"),
            ("unit", "件"),
            ("target", "百"),
        ],
    )
    .await;
    refused(&browser, key, "target", Some(("name", "相談件数"))).await;
    fill(&browser, key, &[("target", "100")]).await;
    recorded(&browser, key).await;
    // An activity serving that indicator; one naming an indicator never defined is refused.
    let key = "schedule_activity";
    fill(
        &browser,
        key,
        &[
            ("fiscal_year", "2024"),
            ("id", "plan-e-1"),
            ("item", "e"),
            ("what", "相談窓口の周知チラシ配布"),
            ("scheduled_on", "2024-10-01"),
            ("owner", "地域包括ケア推進課"),
            ("planned_on", "2024-04-01"),
            ("indicators", "ind-9"),
        ],
    )
    .await;
    refused(&browser, key, "indicators", Some(("indicators", "ind-9"))).await;
    fill(&browser, key, &[("indicators", "ind-1")]).await;
    recorded(&browser, key).await;
    // The cycle: 第9期's goal for 看取り, and FY2023's evaluation with its improvement.
    let key = "set_scene_goal";
    fill(
        &browser,
        key,
        &[
            ("period", "9"),
            ("scene", "end_of_life"),
            ("text", "本人が望む場所で最期を迎えられる"),
            ("set_on", "2024-04-15"),
        ],
    )
    .await;
    recorded(&browser, key).await;
    let key = "record_evaluation";
    fill(
        &browser,
        key,
        &[
            ("fiscal_year", "2023"),
            ("scene", "end_of_life"),
            ("reason", "在宅看取り率が目標に届かなかった"),
            ("improvement", "ACPの市民講座を年2回に増やす"),
            ("on", "2024-05-20"),
        ],
    )
    .await;
    recorded(&browser, key).await;
    browser.full_screenshot("09-plan-forms").await;

    // Every item is implemented now, each with the evidence that decided it.
    browser.open(&format!("{m}/status?{FY}")).await;
    let rows = browser.rows("#status tbody tr").await;
    assert!(rows.iter().all(|r| r[1] == "実施している"), "{rows:?}");
    for (item, evidence) in [
        ("a", "resource-survey/survey-2024"),
        ("b", "meeting/meeting-2024-1"),
        ("c", "arrangement/arr-1"),
        ("d", "tool-1"),
        ("e", "desk/desk-1"),
        ("f", "training/training-1"),
        ("g", "lecture-1"),
        ("h", "wide-1"),
    ] {
        let row = browser.text(&format!("#item-{item}")).await;
        assert!(row.contains(evidence), "{item}: {row}");
    }
    let h = browser.text("#item-h").await;
    assert!(h.contains("unified-form/discharge-liaison"), "{h}");
    browser.full_screenshot("10-status-after").await;

    // The facts reach the prefecture: its tally counts one more municipality for every item.
    let before = &before;
    wait_until("the prefecture's tally to count 富山市", || {
        let mut survey = survey.clone();
        async move {
            let now = survey
                .get_tally(with_token(OFFICER_TOKEN, tally_request()))
                .await
                .map(|r| r.into_inner());
            now.is_ok_and(|now| {
                now.items
                    .iter()
                    .zip(&before.items)
                    .all(|(n, b)| n.implemented == b.implemented + 1)
            })
        }
    })
    .await;
    wait_until("the sync page to say every record arrived", || async {
        browser.open(&format!("{m}/sync")).await;
        browser
            .text("main")
            .await
            .contains("すべての記録が県に届いています")
    })
    .await;
    browser.full_screenshot("11-sync").await;

    // The plan against what was done, and the records with who recorded them.
    browser.open(&format!("{m}/plan?{FY}")).await;
    let plan = browser.text("#plan-g").await;
    assert!(plan.contains("実施している"), "{plan}");
    // By care scene: for 看取り the lecture planned for 2025-02-15 is late (nothing recorded
    // under (キ) for that scene), while the training recorded for it counts as done.
    let scene = browser.rows("#scene-end_of_life").await;
    assert_eq!(scene[0][0], "看取り", "{scene:?}");
    assert_eq!(scene[0][1], "1", "planned: {scene:?}");
    assert!(
        scene[0][2].starts_with("1件") && scene[0][2].contains("研修 2024-07-10"),
        "done: {scene:?}"
    );
    assert!(
        scene[0][3].contains("1件（遅れ）") && scene[0][3].contains("plan-g-2"),
        "late: {scene:?}"
    );
    let daily = browser.rows("#scene-daily_care").await;
    assert_eq!(daily[0][1], "0", "{daily:?}");
    assert!(
        browser
            .text("#activities")
            .await
            .contains("市民講座（第2回）")
    );
    assert!(browser.text("#indicators").await.contains("相談件数"));
    let served = browser.rows("#activities tbody tr").await;
    assert!(
        served
            .iter()
            .any(|r| r[0] == "plan-e-1" && r[4] == "相談件数"),
        "the activity shows the indicator it serves: {served:?}"
    );
    // The PDCA cycle: goals set and activity recorded in FY2024, so the step is Do; the goal
    // for 看取り verbatim, the others unset; FY2023's evaluation carried into this year.
    assert_eq!(browser.text("#cycle-step").await, "Do（実行）");
    let goal = browser.rows("#goal-end_of_life").await;
    assert_eq!(goal[0][0], "看取り", "{goal:?}");
    assert_eq!(goal[0][1], "本人が望む場所で最期を迎えられる", "{goal:?}");
    assert!(
        goal[0][2].contains("目標未達（2024-05-20）")
            && goal[0][2].contains("在宅看取り率が目標に届かなかった")
            && goal[0][2].contains("改善: ACPの市民講座を年2回に増やす"),
        "{goal:?}"
    );
    assert_eq!(goal[0][3], "—", "{goal:?}");
    let daily = browser.rows("#goal-daily_care").await;
    assert_eq!(daily[0][1..], ["未設定", "—", "—"], "{daily:?}");
    assert!(
        browser.text("#cycle").await.contains("第9期"),
        "{}",
        browser.text("#cycle").await
    );
    browser.full_screenshot("12-plan").await;
    browser.open(&format!("{m}/records")).await;
    let records = browser.text("#records").await;
    assert!(records.contains("富山市 地域包括ケア推進課"), "{records}");
    assert!(
        records.contains("TrainingHeld") || records.contains("training"),
        "{records}"
    );
    assert!(
        !records.contains("富山 花子"),
        "no personal details in the records"
    );
    browser.full_screenshot("13-records").await;

    // The residents' list: only resources listed for residents, without private contacts.
    browser.open(&format!("{m}/residents")).await;
    let list = browser.text("#residents").await;
    assert!(list.contains("富山在宅医療病院"), "{list}");
    assert!(!list.contains("内部向け訪問看護ステーション"), "{list}");
    assert!(!browser.text("main").await.contains("076-000-0000"));
    let plotted = browser
        .run_async(
            "const done = arguments[arguments.length - 1];
             done(document.querySelectorAll('#map circle').length);",
        )
        .await;
    assert_eq!(
        plotted.as_u64(),
        Some(1),
        "the listed resource plotted by its coordinates"
    );
    browser.full_screenshot("14-residents").await;
    browser.click("#csv").await;
    let csv = browser.downloaded(".csv").await;
    let csv = String::from_utf8(csv).expect("UTF-8");
    assert!(csv.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(csv.contains("富山在宅医療病院"));
    assert!(!csv.contains("076-000-0000"));

    // A case's personal details, shown to the operator; the view is logged.
    // The year's cases are listed without personal details; a case opens from the list.
    browser.open(&format!("{m}/cases?fy=2024")).await;
    let list = browser.rows("#case-list tbody tr").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0][0], "case-1", "{list:?}");
    assert!(!browser.text("main").await.contains("富山 花子"));
    browser.follow("#case-list a").await;
    assert!(browser.text("#personal").await.contains("富山 花子"));
    browser.full_screenshot("15-case").await;
    let cache = browser
        .run_async(&format!(
            "const done = arguments[arguments.length - 1];
             fetch('/m/{TOYAMA_CITY}/cases?id=case-1').then(r => done(r.headers.get('cache-control')));"
        ))
        .await;
    assert_eq!(
        cache.as_str(),
        Some("no-store"),
        "personal details are never cached"
    );
    wait_until("the view to be logged", || async {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("personal details viewed") && l.contains("case-1"))
    })
    .await;
    // Erasure needs the confirmation; then the details are gone.
    click_and_wait(&browser, "#erase-button").await;
    assert!(
        browser
            .text("main")
            .await
            .contains("チェックを入れてください")
    );
    browser.click("#confirm-erase").await;
    click_and_wait(&browser, "#erase-button").await;
    assert!(browser.text("main").await.contains("消去しました"));
    assert!(browser.text("main").await.contains("消去されています"));
    browser.full_screenshot("16-erased").await;
    click_and_wait(&browser, "header.site form button").await;
    assert_eq!(browser.path().await, "/login");

    // A viewer reads the status but may not record.
    sign_in(&browser, &web, READER_TOKEN).await;
    browser.open(&format!("{m}/record/f")).await;
    assert!(
        browser
            .text("main")
            .await
            .contains("担当者（operator）以上")
    );
    let key = "hold_training";
    fill(
        &browser,
        key,
        &[
            ("kind", "other"),
            ("title", "閲覧者の研修"),
            ("on", "2024-07-11"),
        ],
    )
    .await;
    let page = submit(&browser, key).await;
    assert!(page.contains("権限がありません"), "{page}");
    browser.close().await;
}
