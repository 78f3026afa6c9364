//! Facts: evidence survives the wire unchanged; cases give counts only; only the resources that
//! matter beyond the municipality are published, without their contact.

use prost::Message;

use super::*;
use crate::domain::consultation::{Referrer, SealedPersonal, Topic};
use crate::domain::plan::PlanEvent;
use crate::domain::resources::tests::d;
use crate::domain::resources::{Capability, ResourceDetails};
use crate::domain::trainings::TrainingKind;
use crate::domain::values::Item;
use crate::domain::values::{
    CareScene, CaseId, DeskId, MedicalInstitutionCode, PlannedActivityId, Profession, ResourceId,
    SubjectId, TrainingId, WideAreaId,
};
use renkei_proto::FiscalYear;
use renkei_proto::v1::{DatedEvidence, EvidenceKind, SceneActivity, StatusEvidence};

fn encoded(kind: FactKind) -> Vec<u8> {
    renkei_proto::v1::FactBody {
        kind: Some(kind),
        ..Default::default()
    }
    .encode_to_vec()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn evidence_round_trips_through_the_wire() {
    let events = [
        ProgrammeEvent::Trainings(TrainingEvent::TrainingHeld {
            id: TrainingId::parse("id", "t1").unwrap(),
            kind: TrainingKind::ALL[0],
            title: "多職種研修".into(),
            on: d(2024, 7, 1),
            participants: vec![Count {
                of: Profession::Nurse,
                count: 12,
            }],
            scenes: vec![],
        }),
        ProgrammeEvent::WideArea(WideAreaEvent::LiaisonAgreementJoined {
            id: WideAreaId::parse("id", "rule-1").unwrap(),
            hospital: "1610000001".into(),
            rule_version: "2024".into(),
            notification_lead_days: 3,
            contact_point: "地域連携室".into(),
            first_day: d(2024, 4, 1),
            last_day: Some(d(2025, 3, 31)),
        }),
        ProgrammeEvent::Plan(PlanEvent::ActivityScheduled {
            fiscal_year: FiscalYear::new(2024).unwrap(),
            id: PlannedActivityId::parse("id", "p1").unwrap(),
            item: Item::Ki,
            what: "講演会".into(),
            scheduled_on: d(2024, 5, 1),
            owner: "地域包括ケア推進課".into(),
            delegated_to: None,
            planned_on: d(2025, 2, 1),
            scenes: vec![],
            indicators: vec![],
        }),
        ProgrammeEvent::Plan(PlanEvent::ActivityCancelled {
            fiscal_year: FiscalYear::new(2024).unwrap(),
            id: PlannedActivityId::parse("id", "p1").unwrap(),
            on: d(2025, 1, 5),
        }),
    ];
    let mut seen = 0;
    for event in &events {
        for e in evidence(event) {
            let wire = evidence_to_wire(&e);
            let bytes = wire.encode_to_vec();
            let back = StatusEvidence::decode(bytes.as_slice()).unwrap();
            assert_eq!(evidence_from_wire(&back), Ok(e));
            seen += 1;
        }
    }
    assert_eq!(seen, 4);
}

#[test]
fn bad_evidence_from_the_wire_names_the_field_and_value() {
    let bad = StatusEvidence {
        key: "training/t1".into(),
        kind: Some(EvidenceKind::Dated(DatedEvidence {
            item: "z".into(),
            on: "2024-07-01".into(),
        })),
    };
    let err = evidence_from_wire(&bad).unwrap_err();
    assert_eq!((err.field, err.value.as_str()), ("item", "z"));
    let bad = StatusEvidence {
        key: "training/t1".into(),
        kind: Some(EvidenceKind::Dated(DatedEvidence {
            item: "f".into(),
            on: "2024-13-01".into(),
        })),
    };
    let err = evidence_from_wire(&bad).unwrap_err();
    assert_eq!((err.field, err.value.as_str()), ("on", "2024-13-01"));
}

#[test]
fn a_consultation_case_gives_a_count_and_nothing_of_its_subject() {
    let event = ProgrammeEvent::Consultation(ConsultationEvent::ConsultationCaseOpened {
        id: CaseId::parse("id", "case-yamada-0042").unwrap(),
        desk: DeskId::parse("id", "desk").unwrap(),
        on: d(2024, 10, 3),
        referrer: Referrer::CareManager,
        topic: Topic::Discharge,
        scenes: vec![CareScene::AdmissionDischarge],
        personal: Some(SealedPersonal {
            subject: SubjectId::parse("id", "subject-7f3a").unwrap(),
            nonce: b"NONCE-NONCE-NONCE-NONCE!".to_vec(),
            ciphertext: b"CIPHERTEXT-OF-THE-PERSON".to_vec(),
        }),
        liaison_agreement: Some(WideAreaId::parse("id", "discharge-rule").unwrap()),
    });
    let facts = facts_of(&event);
    assert_eq!(
        facts,
        vec![
            FactKind::Consultation(ConsultationTally {
                month: "2024-10".into(),
                referrer: "care_manager".into(),
                topic: "discharge".into(),
                scenes: vec!["admission_discharge".into()],
                liaison_agreement: "discharge-rule".into(),
            }),
            // and the per-scene views count it by month, like every activity toward a scene
            FactKind::SceneActivity(SceneActivity {
                month: "2024-10".into(),
                item: "e".into(),
                kind: "ConsultationCaseOpened".into(),
                scenes: vec!["admission_discharge".into()],
            })
        ]
    );
    for fact in facts {
        let bytes = encoded(fact);
        for needle in [
            &b"case-yamada-0042"[..],
            b"subject-7f3a",
            b"NONCE-NONCE",
            b"CIPHERTEXT",
        ] {
            assert!(!contains(&bytes, needle));
        }
    }
}

fn clinic(kind: ResourceKind) -> ResourceDetails {
    ResourceDetails {
        kind,
        enhanced: kind == ResourceKind::HomeCareSupportClinic,
        name: "あおば在宅クリニック".into(),
        official_code: Some(OfficialCode::Medical(
            MedicalInstitutionCode::parse("code", "1611234567").unwrap(),
        )),
        address: "富山市新桜町7-38".into(),
        coordinates: None,
        contact: Some("076-000-0000".into()),
        capabilities: vec![Capability::HomeVisits, Capability::AroundTheClock],
        consultation_hours: Some("平日14-16時".into()),
        listed_for_residents: true,
        located_in: None,
    }
}

#[test]
fn home_care_support_clinics_are_published_without_their_contact() {
    let event = ProgrammeEvent::Resources(ResourceEvent::ResourceRegistered {
        id: ResourceId::parse("id", "r1").unwrap(),
        details: clinic(ResourceKind::HomeCareSupportClinic),
        on: d(2024, 4, 1),
    });
    let facts = facts_of(&event);
    let [FactKind::Resource(fact)] = facts.as_slice() else {
        panic!("one resource fact expected, got {facts:?}");
    };
    assert_eq!(fact.kind, "home_care_support_clinic");
    assert!(fact.enhanced);
    assert_eq!(fact.medical_institution_code, "1611234567");
    assert_eq!(fact.capabilities, ["home_visits", "around_the_clock"]);
    let bytes = encoded(facts[0].clone());
    assert!(!contains(&bytes, "076-000-0000".as_bytes()));
    assert!(!contains(&bytes, "平日14-16時".as_bytes()));
}

#[test]
fn pharmacies_stay_local() {
    let event = ProgrammeEvent::Resources(ResourceEvent::ResourceRegistered {
        id: ResourceId::parse("id", "r2").unwrap(),
        details: ResourceDetails {
            official_code: Some(OfficialCode::Medical(
                MedicalInstitutionCode::parse("code", "1641234567").unwrap(),
            )),
            enhanced: false,
            ..clinic(ResourceKind::Pharmacy)
        },
        on: d(2024, 4, 1),
    });
    assert_eq!(facts_of(&event), vec![]);
}

/// 001_04d7082f188773e2.txt:28-34: 「①在宅療養支援病院 … 【在宅療養支援病院がない場合】②在宅療養支援
/// 診療所」 — the candidates are the institutions holding the filing, so losing it is a change the
/// prefecture must hear of (issue: "Losing a filing is a change").
#[test]
fn losing_the_home_care_support_filing_is_published() {
    let update = |kind: ResourceKind| {
        facts_of(&ProgrammeEvent::Resources(ResourceEvent::ResourceUpdated {
            id: ResourceId::parse("id", "r1").unwrap(),
            details: ResourceDetails {
                enhanced: false,
                ..clinic(kind)
            },
            on: d(2025, 10, 1),
        }))
    };
    for kind in [ResourceKind::Clinic, ResourceKind::CareFacility] {
        let facts = update(kind);
        let [FactKind::Resource(fact)] = facts.as_slice() else {
            panic!("an update to {kind} must be published, got {facts:?}");
        };
        assert_eq!(
            (fact.change.as_str(), fact.kind.as_str()),
            ("updated", kind.code())
        );
        assert_eq!(fact.on, "2025-10-01");
        assert!(!fact.enhanced);
    }
}

/// 002_d84b57721e905ed5.txt:986-987: 「病院、診療所、訪問看護事業所、地域医師会等関係団体、保健所、
/// 市町村等の主体のいずれかを在宅医療に必要な連携を担う拠点として医療計画に位置付ける」 — so the
/// prefecture hears of every kind that may be a 拠点, and where it is located.
#[test]
fn every_kind_that_may_be_a_liaison_base_is_published_with_its_location() {
    for kind in [
        ResourceKind::Clinic,
        ResourceKind::VisitingNursingStation,
        ResourceKind::MedicalAssociation,
        ResourceKind::HealthCenter,
        ResourceKind::CommunityGeneralSupportCenter,
    ] {
        let facts = facts_of(&ProgrammeEvent::Resources(
            ResourceEvent::ResourceRegistered {
                id: ResourceId::parse("id", "r3").unwrap(),
                details: ResourceDetails {
                    official_code: None,
                    enhanced: false,
                    located_in: Some("162060".parse().unwrap()),
                    ..clinic(kind)
                },
                on: d(2024, 4, 1),
            },
        ));
        let [FactKind::Resource(fact)] = facts.as_slice() else {
            panic!("{kind} must be published, got {facts:?}");
        };
        assert_eq!(fact.kind, kind.code());
        assert_eq!(fact.located_in, "162060");
    }
}

#[test]
fn every_published_kind_is_a_resource_kind_the_node_knows() {
    // The list both tiers read is written as codes: each must name a kind, and the kinds it
    // names are exactly those `published_kind` says.
    for code in renkei_proto::programme::evidence::PUBLISHED_RESOURCE_KINDS {
        let kind = ResourceKind::parse("kind", code).expect(code);
        assert!(published_kind(kind), "{code}");
    }
    let published = ResourceKind::ALL
        .iter()
        .filter(|k| published_kind(**k))
        .count();
    assert_eq!(
        published,
        renkei_proto::programme::evidence::PUBLISHED_RESOURCE_KINDS.len()
    );
}
