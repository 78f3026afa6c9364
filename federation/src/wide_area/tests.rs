//! Each branch of the designation rule (own 在宅療養支援病院; own clinics with 機能強化型 first;
//! a neighbour of the same 二次医療圏), the gap report, form coverage and liaison periods.

use renkei_proto::v1::{LiaisonAgreementChange, ResourceFact, UnifiedFormChange, WideAreaAction};

use super::*;
use crate::tally::SECONDARY_MEDICAL_AREA;

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

fn resource(state: &mut WideArea, m: &str, id: &str, kind: &str, enhanced: bool, name: &str) {
    state.take_fact(
        code(m),
        &FactKind::Resource(ResourceFact {
            id: id.into(),
            change: "registered".into(),
            on: "2024-04-01".into(),
            kind: kind.into(),
            enhanced,
            name: name.into(),
            medical_institution_code: format!("16100000{:02}", id.len()),
            address: String::new(),
            capabilities: vec![],
        }),
    );
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
    assert_eq!(funahashi.candidates[0].name, "富山在宅病院");
    assert_eq!(
        funahashi.candidates[0].reason,
        "③ 同じ二次医療圏の富山市の市町村内の在宅療養支援病院"
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
    assert!(
        takaoka
            .gaps
            .iter()
            .any(|g| g.contains("連携を担う拠点の候補がない"))
    );
    let niikawa = area(&all, "新川");
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
