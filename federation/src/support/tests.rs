//! The support record's rules as given / when / then, and a fiscal year's picture checked by
//! hand against 富山県's fifteen municipalities.

use super::*;

const TOYAMA: &str = "162019";
const TAKAOKA: &str = "162027";
const UOZU: &str = "162043";
const FUNAHASHI: &str = "163210";
/// 金沢市 (石川県): a municipality of another prefecture.
const KANAZAWA: &str = "172014";

fn toyama_prefecture() -> PrefectureCode {
    "16".parse().unwrap()
}

fn roster() -> Vec<MunicipalityCode> {
    official::municipalities_of(toyama_prefecture())
        .map(|m| m.code)
        .collect()
}

fn request(
    id: &str,
    on: &str,
    category: &str,
    kind: &str,
    ms: &[&str],
) -> v1::RecordSupportActivityRequest {
    v1::RecordSupportActivityRequest {
        request_id: format!("r-{id}"),
        id: id.into(),
        on: on.into(),
        category: category.into(),
        liaison_kind: kind.into(),
        title: format!("活動 {id}"),
        note: String::new(),
        municipalities: ms.iter().map(|m| (*m).to_owned()).collect(),
    }
}

fn read(request: &v1::RecordSupportActivityRequest) -> Result<SupportActivity, SupportError> {
    SupportActivity::from_request(request, toyama_prefecture(), "officer", 1_700_000_000_000)
}

fn activity(id: &str, on: &str, category: &str, kind: &str, ms: &[&str]) -> SupportActivity {
    read(&request(id, on, category, kind, ms)).expect("a valid activity")
}

fn code(text: &str) -> MunicipalityCode {
    text.parse().unwrap()
}

#[test]
fn a_request_is_read_into_an_activity_with_its_municipalities_in_code_order_once_each() {
    let mut r = request(
        "s-1",
        "2024-05-20",
        "liaison",
        "admission_discharge",
        &[UOZU, TOYAMA, UOZU],
    );
    r.note = "  病院の地域連携室と居宅介護支援事業所の意見交換  ".into();
    let a = read(&r).unwrap();
    assert_eq!(a.id.as_str(), "s-1");
    assert_eq!(
        a.category,
        SupportCategory::Liaison(LiaisonKind::AdmissionDischarge)
    );
    assert_eq!(a.municipalities, vec![code(TOYAMA), code(UOZU)]);
    assert_eq!(
        a.note.as_deref(),
        Some("病院の地域連携室と居宅介護支援事業所の意見交換")
    );
    assert_eq!(a.fiscal_year().year(), 2024);
    assert_eq!(
        a.category.label(),
        "関係市町村等の連携（入退院時の医療機関職員と介護支援専門員の連携）"
    );
    // An empty note is no note.
    let plain = activity("s-2", "2025-03-31", "data_analysis", "", &[TOYAMA]);
    assert_eq!(plain.note, None);
    assert_eq!(
        plain.fiscal_year().year(),
        2024,
        "31 March is the year's last day"
    );
}

#[test]
fn every_refusal_names_its_field_and_value() {
    let cases: Vec<(v1::RecordSupportActivityRequest, &str, &str)> = vec![
        (
            request("bad id!", "2024-05-20", "data_analysis", "", &[TOYAMA]),
            "id",
            "bad id!",
        ),
        (
            request("", "2024-05-20", "data_analysis", "", &[TOYAMA]),
            "id",
            "\"\"",
        ),
        (
            request("s", "2024-13-01", "data_analysis", "", &[TOYAMA]),
            "on",
            "2024-13-01",
        ),
        (
            request("s", "1989-03-31", "data_analysis", "", &[TOYAMA]),
            "on",
            "1989-03-31",
        ),
        (
            request("s", "2024-05-20", "seminar", "", &[TOYAMA]),
            "category",
            "seminar",
        ),
        (
            request("s", "2024-05-20", "liaison", "", &[TOYAMA]),
            "liaison_kind",
            "\"\"",
        ),
        (
            request("s", "2024-05-20", "liaison", "hospital", &[TOYAMA]),
            "liaison_kind",
            "hospital",
        ),
        (
            request("s", "2024-05-20", "data_analysis", "wide_area", &[TOYAMA]),
            "liaison_kind",
            "wide_area",
        ),
        (
            request("s", "2024-05-20", "data_analysis", "", &[]),
            "municipalities",
            "empty",
        ),
        (
            request("s", "2024-05-20", "data_analysis", "", &[" "]),
            "municipalities",
            "empty",
        ),
        (
            request("s", "2024-05-20", "data_analysis", "", &["162018"]),
            "municipalities",
            "162018",
        ),
        (
            request("s", "2024-05-20", "data_analysis", "", &[KANAZAWA]),
            "municipalities",
            KANAZAWA,
        ),
    ];
    for (request, field, value) in cases {
        let error = read(&request).expect_err(&format!("{request:?} is refused"));
        assert_eq!(error.field(), field, "{error}");
        assert!(error.to_string().contains(field), "{error} names {field}");
        assert!(error.to_string().contains(value), "{error} names {value}");
    }
    let mut untitled = request("s", "2024-05-20", "data_analysis", "", &[TOYAMA]);
    untitled.title = "   ".into();
    assert_eq!(read(&untitled).unwrap_err().field(), "title");
    let mut long_note = request("s", "2024-05-20", "data_analysis", "", &[TOYAMA]);
    long_note.note = "あ".repeat(MAX_NOTE_CHARS + 1);
    assert_eq!(read(&long_note).unwrap_err().field(), "note");
}

#[test]
fn given_nothing_when_an_activity_is_recorded_then_it_is_new() {
    let log = SupportLog::default();
    let a = activity(
        "s-1",
        "2024-05-20",
        "information_and_training",
        "",
        &[TOYAMA],
    );
    assert_eq!(log.decide(&a), Ok(Recording::New));
}

#[test]
fn given_an_activity_when_the_same_content_comes_again_then_it_is_the_recorded_one() {
    let mut log = SupportLog::default();
    let first = activity(
        "s-1",
        "2024-05-20",
        "information_and_training",
        "",
        &[TOYAMA],
    );
    log.apply(first.clone());
    // Another request, later, by someone else: the same activity.
    let again = SupportActivity {
        recorded_by: "another officer".into(),
        recorded_at_ms: first.recorded_at_ms + 60_000,
        ..first.clone()
    };
    assert_eq!(log.decide(&again), Ok(Recording::AlreadyRecorded(first)));
}

#[test]
fn given_an_activity_when_its_id_comes_with_other_content_then_it_is_refused() {
    let mut log = SupportLog::default();
    log.apply(activity(
        "s-1",
        "2024-05-20",
        "information_and_training",
        "",
        &[TOYAMA],
    ));
    let other = activity(
        "s-1",
        "2024-05-20",
        "information_and_training",
        "",
        &[TOYAMA, TAKAOKA],
    );
    let refusal = log.decide(&other).unwrap_err();
    assert_eq!(
        refusal,
        SupportRefusal::IdTaken {
            id: SupportActivityId::parse("s-1").unwrap(),
            on: NaiveDate::from_ymd_opt(2024, 5, 20).unwrap(),
            title: "活動 s-1".into(),
        }
    );
    assert!(refusal.to_string().contains("s-1"), "{refusal}");
}

/// Hand-checked: 富山県 has 15 municipalities. FY2024's activities support 富山市 (twice),
/// 高岡市, 魚津市 and 舟橋村; an activity of FY2023 supported 氷見市 and one of FY2025 滑川市,
/// neither of which counts for FY2024. So 15 − 4 = 11 received no support in FY2024: 氷見市,
/// 滑川市, 黒部市, 砺波市, 小矢部市, 南砺市, 射水市, 上市町, 立山町, 入善町, 朝日町.
#[test]
fn the_year_shows_its_activities_counts_and_the_municipalities_without_support() {
    let mut log = SupportLog::default();
    for a in [
        activity(
            "b-data",
            "2024-09-01",
            "data_analysis",
            "",
            &[TOYAMA, FUNAHASHI],
        ),
        activity(
            "a-training",
            "2024-04-01",
            "information_and_training",
            "",
            &[TOYAMA, TAKAOKA],
        ),
        activity(
            "c-discharge",
            "2025-03-31",
            "liaison",
            "admission_discharge",
            &[UOZU],
        ),
        activity("old", "2024-03-31", "human_resources", "", &["162051"]),
        activity("next", "2025-04-01", "practice_spreading", "", &["162060"]),
    ] {
        assert_eq!(log.decide(&a), Ok(Recording::New));
        log.apply(a);
    }
    let year = log.year(FiscalYear::new(2024).unwrap(), &roster());

    let ids: Vec<&str> = year.activities.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a-training", "b-data", "c-discharge"], "by day");

    let counts: Vec<(&str, Option<&str>, usize)> = year
        .categories
        .iter()
        .map(|(c, n)| (c.code(), c.liaison_kind().map(LiaisonKind::code), *n))
        .collect();
    assert_eq!(
        counts,
        [
            ("information_and_training", None, 1),
            ("practice_spreading", None, 0),
            ("data_analysis", None, 1),
            ("human_resources", None, 0),
            ("liaison", Some("wide_area"), 0),
            ("liaison", Some("professional_bodies"), 0),
            ("liaison", Some("admission_discharge"), 1),
        ]
    );

    assert_eq!(
        year.by_municipality.len(),
        15,
        "every municipality of 富山県"
    );
    let supported: Vec<(String, Vec<&str>)> = year
        .by_municipality
        .iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(m, ids)| (m.to_string(), ids.iter().map(|id| id.as_str()).collect()))
        .collect();
    assert_eq!(
        supported,
        [
            (TOYAMA.to_owned(), vec!["a-training", "b-data"]),
            (TAKAOKA.to_owned(), vec!["a-training"]),
            (UOZU.to_owned(), vec!["c-discharge"]),
            (FUNAHASHI.to_owned(), vec!["b-data"]),
        ]
    );

    let unsupported: Vec<&str> = year
        .unsupported
        .iter()
        .map(|m| official::municipality(*m).unwrap().name)
        .collect();
    assert_eq!(
        unsupported,
        [
            "氷見市",
            "滑川市",
            "黒部市",
            "砺波市",
            "小矢部市",
            "南砺市",
            "射水市",
            "上市町",
            "立山町",
            "入善町",
            "朝日町",
        ]
    );

    let view = year.view(42);
    assert_eq!(view.fiscal_year, 2024);
    assert_eq!(view.unsupported.len(), 11);
    assert_eq!(view.applied_index, 42);
    assert_eq!(view.activities[2].liaison_kind, "admission_discharge");
    assert_eq!(view.categories[0].label, "情報発信・研修会");
}

#[test]
fn a_year_without_activities_leaves_every_municipality_unsupported() {
    let log = SupportLog::default();
    let year = log.year(FiscalYear::new(2024).unwrap(), &roster());
    assert!(year.activities.is_empty());
    assert_eq!(year.unsupported, roster());
    assert!(year.categories.iter().all(|(_, n)| *n == 0));
}

#[test]
fn an_activity_survives_its_stored_form() {
    let a = activity("s-1", "2024-05-20", "liaison", "wide_area", &[TOYAMA, UOZU]);
    let json = serde_json::to_string(&a).unwrap();
    let back: SupportActivity = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
    // A stored id is validated when read back.
    let tampered = json.replace("\"s-1\"", "\"s 1\"");
    assert!(serde_json::from_str::<SupportActivity>(&tampered).is_err());
}
