//! The prefecture console in a real headless Chromium against a real 3-replica federation (TLS)
//! with a synced municipal node: nothing is readable before signing in; a viewer reads the
//! 実施状況 table — every number equal to `GetTally` — switches the fiscal year and 基準日,
//! opens a cell's evidence, reads the other pages on a follower too, and is refused a review
//! (not shown, and refused when posted anyway); an operator approves a submission, records a
//! designation and downloads the XLSX, which reads back with the tally's numbers. Screenshots
//! of every page are saved under `<target>/release/screenshots/console/`.

use renkei_integration_tests::browser::Browser;
use renkei_integration_tests::*;
use renkei_proto::v1;

const TOYAMA_AREAS: &str = include_str!("../../federation/data/toyama_secondary_medical_areas.csv");

async fn survey_client(cluster: &Cluster) -> v1::PrefectureSurveyClient<tonic::transport::Channel> {
    let leader = cluster.wait_for_leader().await;
    v1::PrefectureSurveyClient::new(cluster.channel(leader).await)
}

fn tally_request(as_of: &str) -> v1::GetTallyRequest {
    v1::GetTallyRequest {
        fiscal_year: 2024,
        as_of: as_of.into(),
        known_at: None,
        source: v1::TallySource::Live as i32,
        consistency: v1::ReadConsistency::Linearizable as i32,
    }
}

/// The rows of the national-style table as the page shows them: label, then count and percent
/// for each answer.
fn expected_rows(tally: &v1::TallyReply) -> Vec<Vec<String>> {
    tally
        .items
        .iter()
        .map(|l| {
            vec![
                l.label.clone(),
                l.implemented.to_string(),
                format!("{}%", l.implemented_percent),
                l.planned.to_string(),
                format!("{}%", l.planned_percent),
                l.not_implemented.to_string(),
                format!("{}%", l.not_implemented_percent),
            ]
        })
        .collect()
}

async fn sign_in(browser: &Browser, web: &str, token: &str) {
    browser.open(&format!("{web}/login")).await;
    browser.type_into("#token", token).await;
    browser.follow("#sign-in").await;
}

async fn sign_out(browser: &Browser) {
    browser.follow("header.site form button").await;
    assert_eq!(browser.path().await, "/login");
}

/// Posts a review as the signed-in page would, with the page's own CSRF token; returns the
/// HTTP status.
async fn post_review_from_page(browser: &Browser, csrf: bool) -> u64 {
    let script = format!(
        r#"const done = arguments[arguments.length - 1];
        const field = document.querySelector('input[name=csrf]');
        const body = new URLSearchParams({{
            csrf: {} ,
            fy: '2024', municipality: '{TOYAMA_CITY}', version: '1', decision: 'approve', comment: ''
        }});
        fetch('/submissions/review', {{ method: 'POST', body, credentials: 'same-origin' }})
            .then(r => done(r.status)).catch(e => done(String(e)));"#,
        if csrf {
            "field ? field.value : ''"
        } else {
            "'0000'"
        }
    );
    browser
        .run_async(&script)
        .await
        .as_u64()
        .expect("an HTTP status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefecture_officer_works_in_the_console() {
    let cluster = Cluster::start_with(
        3,
        &[TOYAMA_CITY, TAKAOKA_CITY],
        r#"web_listen = "127.0.0.1:0""#,
    )
    .await;
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

    // 富山市: awareness (キ) held in October; 高岡市: a training (カ) in July.
    record_activities(&node, TOYAMA_CITY, "k", 0..2).await;
    let mut program = node.program().await;
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
    for m in [TOYAMA_CITY, TAKAOKA_CITY] {
        wait_synced(&node, m).await;
    }
    v1::PrefectureSurveyClient::new(
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
    .expect("富山市 submits");

    let leader = cluster.wait_for_leader().await;
    let follower = cluster.ids().into_iter().find(|id| *id != leader).unwrap();
    let web_of = |id: u64| {
        let log = cluster.root.path().join(format!("replica-{id}.log"));
        async move {
            format!(
                "https://{}",
                logged_value(&log, "serving the console", "address").await
            )
        }
    };
    let leader_web = web_of(leader).await;
    let follower_web = web_of(follower).await;

    let browser = Browser::start("console").await;

    // Nothing is readable without signing in: a page redirects to the sign-in form, a form
    // post is refused.
    browser.open(&format!("{follower_web}/status")).await;
    assert_eq!(browser.path().await, "/login");
    assert!(browser.text("main").await.contains("トークン"));
    browser.screenshot("01-sign-in").await;
    let status = browser
        .run_async(
            "const done = arguments[arguments.length - 1];
             fetch('/submissions/review', {method: 'POST', body: new URLSearchParams({csrf: 'x'})})
               .then(r => done(r.status));",
        )
        .await;
    assert_eq!(status.as_u64(), Some(401), "a post without a session");
    // A wrong token and a node's token do not sign in.
    sign_in(&browser, &follower_web, "not-a-token-of-this-prefecture").await;
    assert!(browser.text("main").await.contains("トークンが違います"));
    sign_in(&browser, &follower_web, NODE_TOKEN).await;
    assert!(browser.text("main").await.contains("ノード用"));

    // A viewer on a follower: the table is GetTally's, to the digit.
    sign_in(&browser, &follower_web, VIEWER_TOKEN).await;
    assert_eq!(browser.path().await, "/status");
    // The session cookie is HttpOnly: no script of the page can read it.
    let cookies = browser
        .run_async("arguments[arguments.length - 1](document.cookie);")
        .await;
    assert!(
        !cookies.as_str().unwrap_or("").contains("renkei_session"),
        "{cookies}"
    );
    // The refusals so far are in the replica's log, as gRPC refusals are.
    let log = std::fs::read_to_string(cluster.root.path().join(format!("replica-{follower}.log")))
        .unwrap();
    assert!(log.contains("web request refused"), "refusals are logged");
    browser.select("#fy", "2024").await;
    browser.set_value("#as_of", "2025-03-31").await;
    browser.follow("#apply").await;
    let tally = survey
        .get_tally(with_token(OFFICER_TOKEN, tally_request("2025-03-31")))
        .await
        .expect("GetTally")
        .into_inner();
    // A follower's page shows what it has applied, and says so: wait until it has applied what
    // the leader's tally read.
    wait_until("the follower to apply the leader's tally index", || async {
        cluster
            .status(follower)
            .await
            .is_some_and(|s| s.applied_index >= tally.applied_index)
    })
    .await;
    browser.follow("#apply").await;
    assert!(browser.text("#read-note").await.contains("フォロワー"));
    assert_eq!(browser.rows("#tally tbody tr").await, expected_rows(&tally));
    assert!(browser.text("#tally caption").await.contains("令和6年度"));
    // n counts the node's two municipalities; the 13 never heard from stand apart.
    let caption = browser.text("#tally caption").await;
    assert!(caption.contains("n=2、未回答 13"), "{caption}");
    // Every 二次医療圏's table (items named by their letter: compare the figures), and every
    // cell of the municipality × item matrix.
    let figures = |rows: Vec<Vec<String>>| -> Vec<Vec<String>> {
        rows.into_iter().map(|r| r[1..].to_vec()).collect()
    };
    assert_eq!(tally.regions.len(), 4);
    for region in &tally.regions {
        let shown = browser
            .rows(&format!("#region-{} tbody tr", region.region_id))
            .await;
        let expected = expected_rows(&v1::TallyReply {
            items: region.items.clone(),
            ..Default::default()
        });
        assert_eq!(figures(shown), figures(expected), "{}", region.region_name);
    }
    let matrix = browser.rows("#matrix tbody tr").await;
    assert_eq!(matrix.len(), tally.municipalities.len());
    for (row, expected) in matrix.iter().zip(&tally.municipalities) {
        assert!(row[0].contains(&expected.municipality), "{row:?}");
        let short = |s: &str| match s {
            "実施している" => "実施",
            "年度内に実施予定" => "予定",
            "未回答" => "未回答",
            _ => "未実施",
        };
        let cells: Vec<&str> = row[2..10].iter().map(String::as_str).collect();
        let wanted: Vec<&str> = expected.statuses.iter().map(|s| short(s)).collect();
        assert_eq!(cells, wanted, "{}", expected.name);
    }
    browser.full_screenshot("02-status").await;

    // Another 基準日: before 高岡市's training, (カ) is not implemented anywhere.
    browser.set_value("#as_of", "2024-06-30").await;
    browser.follow("#apply").await;
    let early = survey
        .get_tally(with_token(OFFICER_TOKEN, tally_request("2024-06-30")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(browser.rows("#tally tbody tr").await, expected_rows(&early));
    assert_eq!(early.items[5].implemented, 0);

    // A cell opens the evidence that decided it.
    browser.set_value("#as_of", "2025-03-31").await;
    browser.follow("#apply").await;
    browser
        .follow(&format!(
            "tr[data-municipality='{TOYAMA_CITY}'] td.ans-done a"
        ))
        .await;
    assert_eq!(browser.path().await, "/status/evidence");
    let evidence = browser.text("#item-g").await;
    assert!(evidence.contains("実施している"), "{evidence}");
    assert!(evidence.contains("awareness/k-0"), "{evidence}");
    browser.screenshot("03-evidence").await;

    // The other pages, read by the viewer on the follower.
    for (path, name, must) in [
        ("/trend?fy=2024&as_of=2025-03-31", "04-trend", "推移"),
        (
            "/compare?fy=2024&as_of=2025-03-31&sort=g&desc=1",
            "05-compare",
            "市区町村の比較",
        ),
        ("/submissions?fy=2024", "06-submissions", "提出された回答"),
        (
            "/wide-area?fy=2024&as_of=2025-03-31",
            "07-wide-area",
            "積極的役割を担う医療機関",
        ),
        ("/cluster", "08-cluster", "クラスタの構成"),
        (
            "/downloads?fy=2024&as_of=2025-03-31",
            "09-downloads",
            "Excel",
        ),
    ] {
        browser.open(&format!("{follower_web}{path}")).await;
        assert!(browser.text("main").await.contains(must), "{path}");
        browser.full_screenshot(name).await;
    }
    // The compare page sorted by (キ) puts 富山市 (the one that held it) first.
    browser
        .open(&format!(
            "{follower_web}/compare?fy=2024&as_of=2025-03-31&sort=g"
        ))
        .await;
    assert!(browser.rows("#compare tbody tr").await[0][1].contains("富山市"));

    // A viewer is not offered a review and is refused one posted anyway.
    browser
        .open(&format!("{follower_web}/submissions?fy=2024"))
        .await;
    assert!(
        browser
            .client
            .find_all(fantoccini::Locator::Css(
                "form[action='/submissions/review']"
            ))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(post_review_from_page(&browser, true).await, 403);
    sign_out(&browser).await;

    // An operator on the leader: a wrong CSRF token is refused; then approves the submission.
    sign_in(&browser, &leader_web, OFFICER_TOKEN).await;
    browser
        .open(&format!("{leader_web}/submissions?fy=2024"))
        .await;
    assert_eq!(post_review_from_page(&browser, false).await, 403, "csrf");
    browser
        .follow(&format!(
            "tr[data-municipality='{TOYAMA_CITY}'] button[value=approve]"
        ))
        .await;
    assert!(browser.text("main").await.contains("承認しました"));
    browser.screenshot("10-approved").await;
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
    let toyama = completeness
        .submitted
        .iter()
        .find(|e| e.municipality == TOYAMA_CITY)
        .expect("富山市 submitted");
    assert!(toyama.submission.contains("承認"), "{}", toyama.submission);

    // Records a designation for 新川.
    browser
        .open(&format!("{leader_web}/wide-area?fy=2024&as_of=2025-03-31"))
        .await;
    let form = "form[action='/wide-area/designation'] ";
    browser
        .type_into(
            &format!("{form}input[name=institution_name]"),
            "魚津在宅医療センター病院",
        )
        .await;
    browser
        .type_into(
            &format!("{form}input[name=medical_institution_code]"),
            "1610100002",
        )
        .await;
    browser
        .set_value(&format!("{form}input[name=decided_on]"), "2024-09-30")
        .await;
    browser.follow(&format!("{form}button")).await;
    assert!(browser.text("main").await.contains("として記録しました"));
    let designations = survey
        .get_designations(with_token(
            VIEWER_TOKEN,
            v1::GetDesignationsRequest {
                fiscal_year: 2024,
                as_of: "2025-03-31".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let decided: Vec<&str> = designations
        .areas
        .iter()
        .flat_map(|a| a.decisions.iter().map(|d| d.institution_name.as_str()))
        .collect();
    assert!(decided.contains(&"魚津在宅医療センター病院"), "{decided:?}");
    browser.full_screenshot("11-designation").await;

    // A follower's console reads but does not write: it names the leader instead.
    sign_in(&browser, &follower_web, OFFICER_TOKEN).await;
    browser
        .open(&format!(
            "{follower_web}/wide-area?fy=2024&as_of=2025-03-31"
        ))
        .await;
    let form = "#record-meeting ";
    browser
        .type_into(&format!("{form}input[name=id]"), "wam-2024-01")
        .await;
    browser
        .type_into(
            &format!("{form}input[name=title]"),
            "新川圏域 入退院支援連携会議",
        )
        .await;
    browser
        .set_value(&format!("{form}input[name=on]"), "2024-11-20")
        .await;
    browser
        .type_into(&format!("{form}input[name=municipalities]"), "162043")
        .await;
    browser.follow(&format!("{form}button")).await;
    let answer = browser.text("main").await;
    assert!(answer.contains("リーダーではない"), "{answer}");
    sign_out(&browser).await;
    sign_in(&browser, &leader_web, OFFICER_TOKEN).await;

    // The XLSX download reads back with the tally's numbers.
    browser
        .open(&format!("{leader_web}/downloads?fy=2024&as_of=2025-03-31"))
        .await;
    browser.click("#exports a[href*='format=xlsx']").await;
    let xlsx = browser.downloaded(".xlsx").await;
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).expect("an xlsx workbook");
    use calamine::Reader;
    let sheet = workbook.worksheet_range("集計").expect("the 集計 sheet");
    let text: Vec<String> = sheet.rows().flatten().map(|c| c.to_string()).collect();
    for line in &tally.items {
        let at = text
            .iter()
            .position(|c| *c == line.label)
            .unwrap_or_else(|| panic!("{} in the workbook", line.label));
        assert_eq!(text[at + 1], line.implemented.to_string(), "{}", line.label);
    }
    browser.close().await;
}
