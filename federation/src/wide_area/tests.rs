//! Each branch of the designation rule (own 在宅療養支援病院; own clinics with 機能強化型 first;
//! a neighbour of the same 二次医療圏), the gap report, form coverage and liaison periods.

use renkei_proto::v1::{LiaisonAgreementChange, ResourceFact, UnifiedFormChange, WideAreaAction};

use super::*;
use crate::regions::SECONDARY_MEDICAL_AREA;

const TOYAMA_AREAS: &str = include_str!("../../data/toyama_secondary_medical_areas.csv");

fn code(c: &str) -> MunicipalityCode {
    c.parse().unwrap()
}

fn d(s: &str) -> NaiveDate {
    date(s).unwrap()
}

fn areas() -> RegionSet {
    RegionSet::from_csv(
        "16".parse().unwrap(),
        SECONDARY_MEDICAL_AREA,
        2024,
        2029,
        TOYAMA_AREAS,
    )
    .unwrap()
}

/// A 医療機関コード of its own for each resource id of these tests.
fn code_of(id: &str) -> String {
    let n = id
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("161{:07}", n % 10_000_000)
}

fn resource(state: &mut WideArea, m: &str, id: &str, kind: &str, enhanced: bool, name: &str) {
    state.take_fact(code(m), &registered(id, kind, enhanced, name));
}

fn registered(id: &str, kind: &str, enhanced: bool, name: &str) -> FactKind {
    FactKind::Resource(ResourceFact {
        id: id.into(),
        change: "registered".into(),
        on: "2024-04-01".into(),
        kind: kind.into(),
        enhanced,
        name: name.into(),
        medical_institution_code: code_of(id),
        ..ResourceFact::default()
    })
}

fn with(fact: FactKind, change: impl FnOnce(&mut ResourceFact)) -> FactKind {
    let FactKind::Resource(mut r) = fact else {
        unreachable!("a resource fact")
    };
    change(&mut r);
    FactKind::Resource(r)
}

fn reasons(c: &MunicipalityCandidates) -> Vec<(&str, &str)> {
    c.candidates
        .iter()
        .map(|c| (c.name.as_str(), c.reason.as_str()))
        .collect()
}

fn area<'a>(all: &'a [AreaDesignations], name: &str) -> &'a AreaDesignations {
    all.iter().find(|a| a.region_name == name).unwrap()
}

fn of<'a>(a: &'a AreaDesignations, m: &str) -> &'a MunicipalityCandidates {
    a.municipalities
        .iter()
        .find(|x| x.municipality == code(m))
        .unwrap()
}

#[test]
fn each_branch_of_the_designation_rule() {
    let mut s = WideArea::default();
    // 富山市: a support hospital and a clinic → ① only the hospital.
    resource(
        &mut s,
        "162019",
        "h1",
        "home_care_support_hospital",
        false,
        "富山在宅病院",
    );
    resource(
        &mut s,
        "162019",
        "c1",
        "home_care_support_clinic",
        true,
        "富山クリニック",
    );
    // 滑川市: two clinics, the 機能強化型 one first → ②.
    resource(
        &mut s,
        "162060",
        "c2",
        "home_care_support_clinic",
        false,
        "なめりかわ診療所",
    );
    resource(
        &mut s,
        "162060",
        "c3",
        "home_care_support_clinic",
        true,
        "あおば在宅クリニック",
    );
    // 舟橋村: nothing → ③ from a neighbour of 富山圏 (the support hospital ranks first).
    let all = s.designations(&areas(), d("2025-03-31"));
    let toyama = area(&all, "富山");
    let own = of(toyama, "162019");
    assert_eq!(own.candidates.len(), 1);
    assert_eq!(own.candidates[0].reason, "① 市町村内の在宅療養支援病院");
    let clinics = of(toyama, "162060");
    assert_eq!(
        clinics
            .candidates
            .iter()
            .map(|c| (c.name.as_str(), c.reason.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                "あおば在宅クリニック",
                "② 市町村内の在宅療養支援診療所（機能強化型）"
            ),
            ("なめりかわ診療所", "② 市町村内の在宅療養支援診療所"),
        ]
    );
    let funahashi = of(toyama, "163210");
    assert!(funahashi.from_neighbour);
    assert_eq!(
        reasons(funahashi),
        [
            ("富山在宅病院", "③ 近隣の富山市の在宅療養支援病院"),
            (
                "富山クリニック",
                "③ 近隣の富山市の在宅療養支援診療所（機能強化型）"
            ),
        ]
    );
    assert!(toyama.neighbour_only.contains(&code("163210")));
}

#[test]
fn the_gap_report_names_what_each_area_lacks() {
    let mut s = WideArea::default();
    resource(
        &mut s,
        "162027",
        "h1",
        "home_care_support_hospital",
        true,
        "高岡在宅病院",
    );
    s.take_down_item(
        1,
        &v1::DownItem {
            kind: Some(v1::DownItemKind::Designation(v1::Designation {
                role: "active_role_medical_institution".into(),
                area: "16-3".into(),
                institution_name: "高岡在宅病院".into(),
                medical_institution_code: String::new(),
                decided_on: "2024-10-01".into(),
            })),
            ..Default::default()
        },
    );
    let all = s.designations(&areas(), d("2025-03-31"));
    let takaoka = area(&all, "高岡");
    assert_eq!(takaoka.decisions.len(), 1);
    assert!(
        !takaoka
            .gaps
            .iter()
            .any(|g| g.contains("積極的役割を担う医療機関が未指定"))
    );
    // Its support hospital may be the 拠点 too (「積極的役割を担う医療機関と同一も可」).
    assert!(
        !takaoka
            .gaps
            .iter()
            .any(|g| g.contains("連携を担う拠点の候補がない"))
    );
    let niikawa = area(&all, "新川");
    assert!(
        niikawa
            .gaps
            .iter()
            .any(|g| g.contains("連携を担う拠点の候補がない"))
    );
    assert!(
        niikawa
            .gaps
            .iter()
            .any(|g| g.contains("積極的役割を担う医療機関の候補がない"))
    );
    assert_eq!(all.len(), 4);
}

#[test]
fn form_coverage_and_liaison_periods_follow_adoptions() {
    let mut s = WideArea::default();
    let form = |change: &str, on: &str| {
        FactKind::WideArea(WideAreaAction {
            id: "discharge-liaison".into(),
            kind: Some(WideAreaActionKind::Form(UnifiedFormChange {
                change: change.into(),
                name: "入退院支援連絡票".into(),
                version: "2024.1".into(),
                on: on.into(),
            })),
        })
    };
    s.take_fact(code("162019"), &form("adopted", "2024-06-01"));
    s.take_fact(code("162027"), &form("adopted", "2024-09-01"));
    s.take_fact(code("162027"), &form("withdrawn", "2024-12-31"));
    assert_eq!(
        s.adopters("discharge-liaison", None, d("2024-07-01")),
        [code("162019")]
    );
    assert_eq!(
        s.adopters("discharge-liaison", Some("2024.1"), d("2024-10-01"))
            .len(),
        2
    );
    assert_eq!(
        s.adopters("discharge-liaison", None, d("2025-01-01")),
        [code("162019")]
    );

    let join = FactKind::WideArea(WideAreaAction {
        id: "rule-1".into(),
        kind: Some(WideAreaActionKind::Liaison(LiaisonAgreementChange {
            change: "joined".into(),
            hospital: "1610000001".into(),
            rule_version: "2024".into(),
            notification_lead_days: 3,
            contact_point: "地域連携室".into(),
            on: "2024-04-01".into(),
            until: "2025-03-31".into(),
        })),
    });
    s.take_fact(code("162060"), &join);
    assert_eq!(s.liaison_in_force(d("2024-05-01"))["1610000001"].len(), 1);
    assert!(s.liaison_in_force(d("2025-04-01")).is_empty());
}

/// 002_d84b57721e905ed5.txt:723 「入退院時における医療機関職員と介護支援専門員の連携等広域的な
/// 医療機関と地域の介護関係者との連携・調整」: a liaison agreement is with one hospital, named by
/// its 医療機関コード and shown by its registered name; the cases counted on an agreement are the
/// ones handled under it, not the municipality's discharge cases repeated on every row.
#[test]
fn liaison_cases_count_per_agreement_and_the_hospital_is_named_from_the_registry() {
    let mut s = WideArea::default();
    let toyama = code("162019");
    // 富山市 registers the hospital; 高岡市 and 富山市 join agreements with it and another.
    s.take_fact(
        toyama,
        &with(
            registered("h1", "home_care_support_hospital", true, "富山県立中央病院"),
            |r| r.medical_institution_code = "1610000011".into(),
        ),
    );
    let join = |id: &str, hospital: &str| {
        FactKind::WideArea(WideAreaAction {
            id: id.into(),
            kind: Some(WideAreaActionKind::Liaison(LiaisonAgreementChange {
                change: "joined".into(),
                hospital: hospital.into(),
                rule_version: "2024".into(),
                notification_lead_days: 3,
                contact_point: "地域連携室".into(),
                on: "2024-04-01".into(),
                until: String::new(),
            })),
        })
    };
    s.take_fact(toyama, &join("rule-central", "1610000011"));
    s.take_fact(toyama, &join("rule-other", "1610000099"));
    let case = |month: &str, agreement: &str| {
        FactKind::Consultation(v1::ConsultationTally {
            month: month.into(),
            referrer: "hospital".into(),
            topic: "discharge".into(),
            scenes: vec!["admission_discharge".into()],
            liaison_agreement: agreement.into(),
        })
    };
    for fact in [
        case("2024-05", "rule-central"),
        case("2024-06", "rule-central"),
        case("2024-06", "rule-other"),
        // A discharge case under no agreement, and one of the previous fiscal year.
        case("2024-07", ""),
        case("2024-03", "rule-central"),
    ] {
        s.take_fact(toyama, &fact);
    }
    let fy = FiscalYear::new(2024).unwrap();
    assert_eq!(s.liaison_cases(toyama, "rule-central", fy), 2);
    assert_eq!(s.liaison_cases(toyama, "rule-other", fy), 1);
    assert_eq!(s.liaison_cases(code("162027"), "rule-central", fy), 0);
    let on = d("2024-10-01");
    assert_eq!(
        s.institution_name("1610000011", on).as_deref(),
        Some("富山県立中央病院")
    );
    assert_eq!(s.institution_name("1610000099", on), None);
}

/// 001_04d7082f188773e2.txt:29 「①在宅療養支援病院（各市町村に複数ある場合１箇所以上を選定）」 and
/// :60 「所在地や機能等を把握し」: rule ① counts the institutions located in the municipality, and
/// the same hospital (one 医療機関コード) registered by two municipalities is one institution.
#[test]
fn rule_one_counts_institutions_located_in_the_municipality_once() {
    let mut s = WideArea::default();
    // 舟橋村 lists a 富山市 hospital on its map (its address says 富山市); 富山市 lists it too.
    let hospital = registered(
        "h-toyama",
        "home_care_support_hospital",
        false,
        "富山在宅病院",
    );
    s.take_fact(
        code("163210"),
        &with(hospital.clone(), |r| {
            r.address = "富山県富山市新桜町7-38".into()
        }),
    );
    s.take_fact(code("162019"), &hospital);
    // 上市町 registers a clinic located across the border, naming 立山町 explicitly.
    s.take_fact(
        code("163228"),
        &with(
            registered(
                "c-tateyama",
                "home_care_support_clinic",
                true,
                "立山クリニック",
            ),
            |r| r.located_in = "163236".into(),
        ),
    );
    let all = s.designations(&areas(), d("2025-03-31"));
    let toyama = area(&all, "富山");
    assert_eq!(
        reasons(of(toyama, "162019")),
        [("富山在宅病院", "① 市町村内の在宅療養支援病院")]
    );
    // 舟橋村 has no institution of its own: its candidate is its neighbour's (③), not ①.
    assert!(of(toyama, "163210").from_neighbour);
    assert_eq!(
        reasons(of(toyama, "163236")),
        [(
            "立山クリニック",
            "② 市町村内の在宅療養支援診療所（機能強化型）"
        )]
    );
    assert!(of(toyama, "163228").from_neighbour);
    // One institution, listed once wherever it is a candidate.
    assert_eq!(
        s.institutions(d("2025-03-31"))
            .iter()
            .filter(|r| r.name == "富山在宅病院")
            .count(),
        1
    );
}

/// 001_04d7082f188773e2.txt:31-33 「【在宅療養支援病院がない場合】②在宅療養支援診療所」: a
/// hospital that stops being 在宅療養支援病院 stops being a candidate from that day, and a
/// designation as of an earlier day still sees it.
#[test]
fn losing_the_filing_changes_the_candidates_from_that_day() {
    let mut s = WideArea::default();
    let hospital = registered("h1", "home_care_support_hospital", true, "滑川病院");
    s.take_fact(code("162060"), &hospital);
    resource(
        &mut s,
        "162060",
        "c1",
        "home_care_support_clinic",
        false,
        "なめりかわ診療所",
    );
    s.take_fact(
        code("162060"),
        &with(hospital, |r| {
            r.change = "updated".into();
            r.kind = "hospital".into();
            r.enhanced = false;
            r.on = "2024-10-01".into();
        }),
    );
    let before = s.designations(&areas(), d("2024-09-30"));
    assert_eq!(
        reasons(of(area(&before, "富山"), "162060")),
        [("滑川病院", "① 市町村内の在宅療養支援病院（機能強化型）")]
    );
    let after = s.designations(&areas(), d("2024-10-01"));
    assert_eq!(
        reasons(of(area(&after, "富山"), "162060")),
        [("なめりかわ診療所", "② 市町村内の在宅療養支援診療所")]
    );
    // A withdrawal removes it from that day.
    s.take_fact(
        code("162060"),
        &FactKind::Resource(ResourceFact {
            id: "c1".into(),
            change: "withdrawn".into(),
            on: "2025-01-10".into(),
            ..ResourceFact::default()
        }),
    );
    let later = s.designations(&areas(), d("2025-01-10"));
    assert!(of(area(&later, "富山"), "162060").candidates.is_empty());
}

/// 001_04d7082f188773e2.txt:38-42 「【在宅療養支援病院、診療所ともにない場合】③二次医療圏内の近隣市町村の
/// 在宅療養支援病院 / 在宅療養支援診療所」: every neighbour's institutions, 機能強化型 first, and the
/// whole 圏域 only when no neighbour has one, saying so.
#[test]
fn rule_three_takes_every_neighbour_in_the_area_enhanced_first() {
    let mut s = WideArea::default();
    // 氷見市 (高岡圏) borders only 高岡市 within the prefecture.
    resource(
        &mut s,
        "162027",
        "c-plain",
        "home_care_support_clinic",
        false,
        "高岡診療所",
    );
    resource(
        &mut s,
        "162027",
        "c-enh",
        "home_care_support_clinic",
        true,
        "高岡在宅クリニック",
    );
    resource(
        &mut s,
        "162116",
        "h-imizu",
        "home_care_support_hospital",
        true,
        "射水病院",
    );
    // 朝日町 (新川圏) has nothing, nor has 入善町 or 黒部市; 魚津市 (not its neighbour) has one.
    resource(
        &mut s,
        "162043",
        "c-uozu",
        "home_care_support_clinic",
        false,
        "魚津診療所",
    );
    let all = s.designations(&areas(), d("2025-03-31"));
    let takaoka = area(&all, "高岡");
    assert_eq!(
        reasons(of(takaoka, "162051")),
        [
            (
                "高岡在宅クリニック",
                "③ 近隣の高岡市の在宅療養支援診療所（機能強化型）"
            ),
            ("高岡診療所", "③ 近隣の高岡市の在宅療養支援診療所"),
        ]
    );
    let niikawa = area(&all, "新川");
    assert_eq!(
        reasons(of(niikawa, "163431")),
        [(
            "魚津診療所",
            "③ 同じ二次医療圏の魚津市の在宅療養支援診療所（近隣市町村に候補がないため二次医療圏全体から）"
        )]
    );
    // 射水市 has its own hospital: ①; its neighbour 高岡市 has clinics only: ②.
    assert!(!of(takaoka, "162116").from_neighbour);
    assert!(!of(takaoka, "162027").from_neighbour);
}

/// 001_04d7082f188773e2.txt:76-83 「①…相談窓口 ②地域医師会、医療法人等関係団体 ③市町村や市町村が委託
/// している地域包括支援センター」 and 002_d84b57721e905ed5.txt:986-987 「病院、診療所、訪問看護事業所、
/// 地域医師会等関係団体、保健所、市町村等の主体のいずれかを…拠点として医療計画に位置付ける」.
#[test]
fn liaison_base_candidates_are_every_body_the_sources_name() {
    let mut s = WideArea::default();
    let base = |id: &str, kind: &str, name: &str| {
        with(registered(id, kind, false, name), |r| {
            r.medical_institution_code = String::new()
        })
    };
    s.take_fact(
        code("162043"),
        &base("ma", "medical_association", "魚津市医師会"),
    );
    s.take_fact(
        code("162078"),
        &base(
            "gc",
            "community_general_support_center",
            "黒部市地域包括支援センター",
        ),
    );
    s.take_fact(
        code("163422"),
        &base("vn", "visiting_nursing_station", "入善訪問看護ステーション"),
    );
    s.take_fact(
        code("163431"),
        &base("hc", "health_center", "新川厚生センター"),
    );
    // 魚津市 runs the programme (any evidence) from 2024-04-01.
    s.take_fact(
        code("162043"),
        &FactKind::Evidence(v1::StatusEvidence {
            key: "training/t1".into(),
            kind: Some(v1::EvidenceKind::Dated(v1::DatedEvidence {
                item: "f".into(),
                on: "2024-04-01".into(),
            })),
        }),
    );
    let all = s.designations(&areas(), d("2025-03-31"));
    let niikawa = area(&all, "新川");
    let got: Vec<(&str, &str)> = niikawa
        .liaison_bases
        .iter()
        .map(|c| (c.name.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("魚津市医師会", "② 地域医師会・医療法人等関係団体"),
            ("魚津市", "③ 市町村（在宅医療・介護連携推進事業の実施主体）"),
            ("黒部市地域包括支援センター", "③ 地域包括支援センター"),
            (
                "入善訪問看護ステーション",
                "指針の挙げる主体：訪問看護事業所"
            ),
            ("新川厚生センター", "指針の挙げる主体：保健所"),
        ]
    );
    assert!(!niikawa.gaps.iter().any(|g| g.contains("拠点の候補がない")));
    // Before the programme evidence began, 魚津市 is not yet a candidate as 実施主体.
    let early = s.designations(&areas(), d("2024-03-31"));
    assert!(
        !area(&early, "新川")
            .liaison_bases
            .iter()
            .any(|c| c.name == "魚津市")
    );
}

/// 002_d84b57721e905ed5.txt:1004-1006 「…市町村単位や保健所圏域等の地域の医療及び介護資源等の実情に応じて
/// 弾力的に設定する。なお、…拠点を圏域内に少なくとも１つは設定すること。」: the designations are
/// computed per whatever 圏域 the prefecture set, and the wording follows its kind.
#[test]
fn designations_follow_the_region_kind_the_prefecture_set() {
    let mut s = WideArea::default();
    resource(
        &mut s,
        "162027",
        "h",
        "home_care_support_hospital",
        false,
        "高岡在宅病院",
    );
    // 在宅医療圏: 氷見市 alone, 高岡市 with 射水市 (a local setting, not the 二次医療圏).
    let home_care = RegionSet::from_csv(
        "16".parse().unwrap(),
        "home_care_area",
        2024,
        2029,
        &TOYAMA_AREAS.replace("16-3,高岡,162051", "16-5,氷見,162051"),
    )
    .unwrap();
    let all = s.designations(&home_care, d("2025-03-31"));
    assert_eq!(all.len(), 5);
    let himi = area(&all, "氷見");
    // Its only neighbour (高岡市) is in another 在宅医療圏 now: no candidate, and the gap says so.
    assert!(of(himi, "162051").candidates.is_empty());
    assert!(
        himi.gaps
            .iter()
            .any(|g| g.contains("積極的役割を担う医療機関の候補がない"))
    );
    let imizu = of(area(&all, "高岡"), "162116");
    assert_eq!(
        reasons(imizu),
        [("高岡在宅病院", "③ 近隣の高岡市の在宅療養支援病院")]
    );
}

/// 001_04d7082f188773e2.txt / DOMAIN (ク) 様式の統一: a municipality moving from v1 to v2 of the
/// prefecture's form is one adopter of the form throughout, of v1 until the day before and of
/// v2 from then; a form the prefecture never published is not the prefecture's form.
#[test]
fn unified_forms_are_versioned_and_unpublished_ones_flagged() {
    let mut s = WideArea::default();
    let publish = |s: &mut WideArea, cursor: u64, version: &str| {
        s.take_down_item(
            cursor,
            &v1::DownItem {
                kind: Some(v1::DownItemKind::Form(v1::UnifiedFormVersion {
                    form_id: "discharge".into(),
                    name: "入退院支援連絡票".into(),
                    version: version.into(),
                    effective_from: "2024-04-01".into(),
                    ..Default::default()
                })),
                ..Default::default()
            },
        )
    };
    publish(&mut s, 1, "v1");
    publish(&mut s, 2, "v2");
    let adopt = |form: &str, version: &str, on: &str| {
        FactKind::WideArea(WideAreaAction {
            id: form.into(),
            kind: Some(WideAreaActionKind::Form(UnifiedFormChange {
                change: "adopted".into(),
                name: "入退院支援連絡票".into(),
                version: version.into(),
                on: on.into(),
            })),
        })
    };
    s.take_fact(code("162019"), &adopt("discharge", "v1", "2024-06-01"));
    s.take_fact(code("162019"), &adopt("discharge", "v2", "2025-04-01"));
    s.take_fact(code("162027"), &adopt("own-note", "1", "2024-06-01"));
    assert_eq!(
        s.adopters("discharge", Some("v1"), d("2025-03-31")),
        [code("162019")]
    );
    assert!(
        s.adopters("discharge", Some("v1"), d("2025-04-01"))
            .is_empty()
    );
    assert_eq!(
        s.adopters("discharge", Some("v2"), d("2025-04-01")),
        [code("162019")]
    );
    assert_eq!(
        s.adopters("discharge", None, d("2025-04-01")),
        [code("162019")]
    );
    assert!(s.published("discharge", Some("v2")));
    assert!(!s.published("own-note", None));
}
