//! (ク) end to end: a municipal node registers hospitals and clinics, adopts the prefecture's
//! unified form and joins a liaison agreement; sync carries the facts to a 3-replica cluster,
//! which answers the designation candidates with their reasons, the gap report, form coverage
//! per 二次医療圏 and liaison membership; a wide-area meeting held by the prefecture counts for
//! its participants' (ク) status.

use renkei_integration_tests::*;
use renkei_proto::v1;

const TOYAMA_AREAS: &str = include_str!("../../federation/data/toyama_secondary_medical_areas.csv");

fn resource(
    municipality: &str,
    id: &str,
    kind: &str,
    enhanced: bool,
    name: &str,
    code: &str,
) -> v1::RegisterResourceRequest {
    v1::RegisterResourceRequest {
        municipality_code: municipality.into(),
        actor: "tester".into(),
        id: id.into(),
        details: Some(v1::ResourceDetails {
            kind: kind.into(),
            enhanced,
            name: name.into(),
            medical_institution_code: code.into(),
            address: "富山県".into(),
            capabilities: vec!["home_visits".into()],
            listed_for_residents: true,
            ..Default::default()
        }),
        on: "2024-04-01".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn designations_forms_and_liaison_from_synced_facts() {
    let cluster = Cluster::start_for(3, &[TOYAMA_CITY, TAKAOKA_CITY, UOZU_CITY]).await;
    let node = Node::start(cluster.addresses());
    let leader = cluster.wait_for_leader().await;
    let mut survey = v1::PrefectureSurveyClient::new(cluster.channel(leader).await);
    survey
        .set_regions(with_token(
            OFFICER_TOKEN,
            v1::SetRegionsRequest {
                request_id: "regions".into(),
                kind: "secondary_medical_area".into(),
                first_fiscal_year: 2024,
                last_fiscal_year: 2029,
                csv: TOYAMA_AREAS.into(),
            },
        ))
        .await
        .unwrap();
    // The prefecture publishes the unified discharge form.
    let mut federation = cluster.federation(leader).await;
    federation
        .publish_down(with_token(
            OFFICER_TOKEN,
            v1::PublishDownRequest {
                request_id: "form-1".into(),
                item: Some(discharge_form()),
            },
        ))
        .await
        .unwrap();

    let mut program = node.program().await;
    // 富山市: a 在宅療養支援病院 (①). 高岡市: two clinics, one 機能強化型 (②).
    for r in [
        resource(
            TOYAMA_CITY,
            "h1",
            "home_care_support_hospital",
            false,
            "富山在宅医療センター病院",
            "1610000011",
        ),
        resource(
            TAKAOKA_CITY,
            "c1",
            "home_care_support_clinic",
            false,
            "高岡駅前診療所",
            "1610000021",
        ),
        resource(
            TAKAOKA_CITY,
            "c2",
            "home_care_support_clinic",
            true,
            "たかおか在宅クリニック",
            "1610000022",
        ),
    ] {
        program.register_resource(r).await.unwrap();
    }
    // 富山市 also lists a clinic across its border, in 舟橋村, naming where it is located.
    let mut across = resource(
        TOYAMA_CITY,
        "c-funahashi",
        "home_care_support_clinic",
        false,
        "舟橋ふれあい診療所",
        "1610000031",
    );
    across.details.as_mut().unwrap().located_in = "163210".into();
    program.register_resource(across).await.unwrap();
    // 富山市 adopts the form it pulled down; 高岡市 joins a liaison agreement with the hospital.
    wait_until("the form to reach the node", || async {
        node.sync_state(TOYAMA_CITY).await.down_cursor >= 1
    })
    .await;
    program
        .adopt_unified_form(v1::AdoptUnifiedFormRequest {
            municipality_code: TOYAMA_CITY.into(),
            actor: "tester".into(),
            id: "discharge-liaison".into(),
            name: "入退院支援連絡票".into(),
            version: "2024.1".into(),
            on: "2024-06-01".into(),
        })
        .await
        .unwrap();
    // 高岡市 uses a form of its own that the prefecture never published: flagged, not counted.
    program
        .adopt_unified_form(v1::AdoptUnifiedFormRequest {
            municipality_code: TAKAOKA_CITY.into(),
            actor: "tester".into(),
            id: "takaoka-note".into(),
            name: "高岡在宅連絡ノート".into(),
            version: "1".into(),
            on: "2024-06-01".into(),
        })
        .await
        .unwrap();
    program
        .join_liaison_agreement(v1::JoinLiaisonAgreementRequest {
            municipality_code: TAKAOKA_CITY.into(),
            actor: "tester".into(),
            id: "rule-2024".into(),
            hospital: "1610000011".into(),
            rule_version: "2024".into(),
            notification_lead_days: 3,
            contact_point: "地域連携室 0766-00-0000".into(),
            first_day: "2024-04-01".into(),
            last_day: String::new(),
        })
        .await
        .unwrap();
    // A discharge the hospital handed over under that agreement, at 高岡市's desk.
    program
        .open_consultation_desk(v1::OpenConsultationDeskRequest {
            municipality_code: TAKAOKA_CITY.into(),
            actor: "tester".into(),
            id: "desk".into(),
            name: "高岡市在宅医療・介護連携支援センター".into(),
            host: "municipality".into(),
            staff: vec![v1::ProgramCount {
                of: "nurse".into(),
                count: 1,
            }],
            hours: "平日9-17時".into(),
            on: "2024-04-01".into(),
        })
        .await
        .unwrap();
    program
        .open_consultation_case(v1::OpenConsultationCaseRequest {
            municipality_code: TAKAOKA_CITY.into(),
            actor: "tester".into(),
            id: "case-1".into(),
            desk: "desk".into(),
            on: "2024-07-01".into(),
            referrer: "hospital".into(),
            topic: "discharge".into(),
            scenes: vec!["admission_discharge".into()],
            subject: String::new(),
            personal: None,
            liaison_agreement: "rule-2024".into(),
        })
        .await
        .unwrap();
    for m in [TOYAMA_CITY, TAKAOKA_CITY] {
        wait_synced(&node, m).await;
    }

    let designations = survey
        .get_designations(with_token(
            OFFICER_TOKEN,
            v1::GetDesignationsRequest {
                fiscal_year: 2024,
                as_of: "2025-03-31".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let area = |name: &str| {
        designations
            .areas
            .iter()
            .find(|a| a.region_name == name)
            .unwrap()
            .clone()
    };
    let of = |a: &v1::AreaDesignations, m: &str| {
        a.active_role
            .iter()
            .find(|x| x.municipality == m)
            .unwrap()
            .clone()
    };
    let toyama = of(&area("富山"), TOYAMA_CITY);
    assert_eq!(toyama.candidates[0].reason, "① 市町村内の在宅療養支援病院");
    let takaoka = of(&area("高岡"), TAKAOKA_CITY);
    assert_eq!(takaoka.candidates[0].name, "たかおか在宅クリニック");
    assert_eq!(
        takaoka.candidates[0].reason,
        "② 市町村内の在宅療養支援診療所（機能強化型）"
    );
    let himi = of(&area("高岡"), "162051");
    assert!(himi.from_neighbour);
    assert_eq!(
        himi.candidates[0].reason,
        "③ 近隣の高岡市の在宅療養支援診療所（機能強化型）"
    );
    let funahashi = of(&area("富山"), "163210");
    assert_eq!(
        (
            funahashi.candidates[0].name.as_str(),
            funahashi.candidates[0].reason.as_str()
        ),
        ("舟橋ふれあい診療所", "② 市町村内の在宅療養支援診療所")
    );
    assert!(area("新川").gaps.iter().any(|g| g.contains("候補がない")));
    assert!(area("高岡").neighbour_only.contains(&"162051".to_string()));
    assert_eq!(designations.region_kind, "secondary_medical_area");

    // Per another 圏域 kind: refused, naming the field, until the prefecture sets one.
    let reader = survey.clone();
    let per_kind = |kind: &str| {
        let mut survey = reader.clone();
        let request = with_token(
            OFFICER_TOKEN,
            v1::GetDesignationsRequest {
                fiscal_year: 2024,
                as_of: "2025-03-31".into(),
                region_kind: kind.into(),
            },
        );
        async move { survey.get_designations(request).await }
    };
    let refused = per_kind("health_center_area").await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("region_kind"), "{refused:?}");
    let unknown = per_kind("county").await.unwrap_err();
    assert!(unknown.message().contains("\"county\""), "{unknown:?}");
    // 保健所圏域 where 氷見市 has its own (a local setting for the test).
    survey
        .set_regions(with_token(
            OFFICER_TOKEN,
            v1::SetRegionsRequest {
                request_id: "regions-hc".into(),
                kind: "health_center_area".into(),
                first_fiscal_year: 2024,
                last_fiscal_year: 2029,
                csv: TOYAMA_AREAS.replace("16-3,高岡,162051", "16-5,氷見,162051"),
            },
        ))
        .await
        .unwrap();
    let by_hc = per_kind("health_center_area").await.unwrap().into_inner();
    assert_eq!(by_hc.region_kind, "health_center_area");
    assert_eq!(by_hc.areas.len(), 5);
    let himi_alone = by_hc
        .areas
        .iter()
        .find(|a| a.region_name == "氷見")
        .unwrap();
    assert!(himi_alone.active_role[0].candidates.is_empty());
    assert!(
        himi_alone
            .gaps
            .iter()
            .any(|g| g.contains("医療機関の候補がない"))
    );

    let wide = survey
        .get_wide_area(with_token(
            OFFICER_TOKEN,
            v1::GetWideAreaRequest {
                fiscal_year: 2024,
                as_of: "2024-12-01".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(wide.forms[0].adopters, [TOYAMA_CITY]);
    assert_eq!(wide.forms.len(), 1);
    let [version] = &wide.forms[0].versions[..] else {
        panic!("one version in use: {:?}", wide.forms[0].versions);
    };
    assert_eq!(
        (version.version.as_str(), version.published),
        ("2024.1", true)
    );
    assert_eq!(version.adopters, [TOYAMA_CITY]);
    let [own] = &wide.unpublished[..] else {
        panic!("one unpublished adoption: {:?}", wide.unpublished);
    };
    assert_eq!(
        (own.municipality.as_str(), own.form_id.as_str()),
        (TAKAOKA_CITY, "takaoka-note")
    );
    assert_eq!(wide.forms[0].prefecture_percent, "6.7");
    assert!(wide.forms[0].by_region.contains(&"富山 1/5".to_string()));
    assert_eq!(wide.liaison[0].hospital, "1610000011");
    // The hospital is named from the registry, and the case counts for its agreement.
    assert_eq!(wide.liaison[0].hospital_name, "富山在宅医療センター病院");
    assert_eq!(wide.liaison[0].members[0].agreement, "rule-2024");
    assert_eq!(wide.liaison[0].members[0].cases, 1);
    assert_eq!(wide.liaison[0].members[0].municipality, TAKAOKA_CITY);
    assert_eq!(
        wide.liaison[0].members[0].contact_point,
        "地域連携室 0766-00-0000"
    );

    // A meeting the prefecture holds for 新川 counts for 魚津市's (ク). 魚津市 answers (through
    // a node of its own, nothing recorded yet): a municipality never heard from would be 未回答.
    cluster
        .federation(cluster.wait_for_leader().await)
        .await
        .push_facts(with_token(
            NODE_TOKEN,
            push("uozu-joins", vec![participation(UOZU_CITY)]),
        ))
        .await
        .unwrap();
    survey
        .record_wide_area_meeting(with_token(
            OFFICER_TOKEN,
            v1::RecordWideAreaMeetingRequest {
                request_id: "meeting-1".into(),
                id: "niikawa-2024-1".into(),
                title: "新川圏域 在宅医療・介護連携会議".into(),
                held_by: "health_center".into(),
                region: "16-1".into(),
                on: "2024-09-10".into(),
                municipalities: vec![UOZU_CITY.into()],
            },
        ))
        .await
        .unwrap();
    let tally = survey
        .get_tally(with_token(
            OFFICER_TOKEN,
            v1::GetTallyRequest {
                fiscal_year: 2024,
                as_of: "2025-03-31".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let uozu = tally
        .municipalities
        .iter()
        .find(|m| m.municipality == UOZU_CITY)
        .unwrap();
    assert!(uozu.answered, "{uozu:?}");
    assert_eq!(uozu.statuses[7], "実施している");
    let toyama_row = tally
        .municipalities
        .iter()
        .find(|m| m.municipality == TOYAMA_CITY)
        .unwrap();
    assert_eq!(
        toyama_row.statuses[3], "実施している",
        "a unified form counts as an (エ) tool"
    );
}
