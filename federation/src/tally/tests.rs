//! Regions are validated against the official list; statuses follow the evidence; a submitted
//! snapshot does not move when more evidence arrives; reviews follow their rules.

use prost::Message;
use renkei_proto::convert::utc_to_timestamp;
use renkei_proto::v1::{DatedEvidence, EvidenceKind, PlannedEvidence, StatusEvidence};

use super::*;

const TOYAMA_AREAS: &str = include_str!("../../data/toyama_secondary_medical_areas.csv");

fn toyama() -> PrefectureCode {
    "16".parse().unwrap()
}

fn code(c: &str) -> MunicipalityCode {
    c.parse().unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn fy(y: i64) -> FiscalYear {
    FiscalYear::new(y).unwrap()
}

fn fact(kind: EvidenceKind, key: &str, recorded: DateTime<Utc>) -> Vec<u8> {
    FactBody {
        recorded_at: Some(utc_to_timestamp(recorded)),
        kind: Some(FactKind::Evidence(StatusEvidence {
            key: key.into(),
            kind: Some(kind),
        })),
        ..FactBody::default()
    }
    .encode_to_vec()
}

fn training_on(on: &str) -> EvidenceKind {
    EvidenceKind::Dated(DatedEvidence {
        item: "f".into(),
        on: on.into(),
    })
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn the_shipped_toyama_areas_cover_every_municipality_once() {
    let set =
        RegionSet::from_csv(toyama(), SECONDARY_MEDICAL_AREA, 2024, 2029, TOYAMA_AREAS).unwrap();
    assert_eq!(set.regions.len(), 4);
    let total: usize = set.regions.iter().map(|r| r.municipalities.len()).sum();
    assert_eq!(total, 15);
}

#[test]
fn a_municipality_left_out_is_named() {
    let without_asahi: String = TOYAMA_AREAS
        .lines()
        .filter(|l| !l.contains("163431"))
        .map(|l| format!("{l}\n"))
        .collect();
    let err = RegionSet::from_csv(toyama(), SECONDARY_MEDICAL_AREA, 2024, 2029, &without_asahi)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "municipality 163431 (朝日町) is in no region"
    );
}

#[test]
fn a_bad_row_is_named_by_its_line_in_the_text() {
    // A blank line, then a quoted name over two lines, then a row without its area name: the
    // refusal names the row's own line (6), not the header plus its count among the records (4).
    let mut lines = TOYAMA_AREAS.lines();
    let header = lines.next().unwrap();
    let first = lines.next().unwrap();
    let text =
        format!("{header}\n\n{first}\n16-1,\"富山\n医療圏\",162019,富山市\n16-2,,162043,魚津市\n");
    let err = RegionSet::from_csv(toyama(), SECONDARY_MEDICAL_AREA, 2024, 2029, &text)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("csv line 6: area_name is missing"), "{err}");
}

#[test]
fn a_municipality_in_two_regions_is_named() {
    let twice = format!("{TOYAMA_AREAS}16-2,富山,162043,魚津市\n");
    let err =
        RegionSet::from_csv(toyama(), SECONDARY_MEDICAL_AREA, 2024, 2029, &twice).unwrap_err();
    assert!(err.to_string().contains("162043"), "{err}");
}

#[test]
fn a_bad_kind_or_period_is_refused() {
    assert!(RegionSet::from_csv(toyama(), "ward", 2024, 2029, TOYAMA_AREAS).is_err());
    assert!(
        RegionSet::from_csv(toyama(), SECONDARY_MEDICAL_AREA, 2029, 2024, TOYAMA_AREAS).is_err()
    );
}

#[test]
fn statuses_follow_the_evidence_with_as_of_and_known_at() {
    let mut state = SurveyState::default();
    let m = code("162019");
    state.take_fact(
        m,
        &fact(
            training_on("2024-07-01"),
            "training/t1",
            t("2024-07-02T00:00:00Z"),
        ),
    );
    state.take_fact(
        m,
        &fact(
            // from a node that did not send the scheduled day: undated within the year
            EvidenceKind::Planned(PlannedEvidence {
                fiscal_year: 2024,
                item: "g".into(),
                planned_on: "2024-05-01".into(),
                scheduled_on: String::new(),
            }),
            "plan/2024/p1",
            t("2024-05-01T00:00:00Z"),
        ),
    );
    // DOMAIN.md:59 — "a plan whose day passed without the activity no longer counts"
    state.take_fact(
        m,
        &fact(
            EvidenceKind::Planned(PlannedEvidence {
                fiscal_year: 2024,
                item: "b".into(),
                planned_on: "2024-05-01".into(),
                scheduled_on: "2024-09-01".into(),
            }),
            "plan/2024/p2",
            t("2024-05-01T00:00:00Z"),
        ),
    );
    let s = state.statuses(m, fy(2024), d(2025, 3, 31), None);
    assert_eq!(s[5], SurveyStatus::Implemented); // カ
    assert_eq!(s[6], SurveyStatus::Planned); // キ
    assert_eq!(s[0], SurveyStatus::NotImplemented); // ア
    assert_eq!(s[1], SurveyStatus::NotImplemented); // イ: its day passed
    assert_eq!(
        state.statuses(m, fy(2024), d(2024, 9, 1), None)[1],
        SurveyStatus::Planned
    );
    // As of before the training, and as known before it was recorded.
    assert_eq!(
        state.statuses(m, fy(2024), d(2024, 6, 30), None)[5],
        SurveyStatus::NotImplemented
    );
    assert_eq!(
        state.statuses(m, fy(2024), d(2025, 3, 31), Some(t("2024-07-01T12:00:00Z")))[5],
        SurveyStatus::NotImplemented
    );
    // The previous fiscal year does not count.
    assert_eq!(
        state.statuses(m, fy(2025), d(2026, 3, 31), None)[5],
        SurveyStatus::NotImplemented
    );
}

fn participation(recorded: DateTime<Utc>) -> Vec<u8> {
    FactBody {
        recorded_at: Some(utc_to_timestamp(recorded)),
        kind: Some(FactKind::Participation(renkei_proto::v1::Participation {})),
        ..FactBody::default()
    }
    .encode_to_vec()
}

/// Issue 20, point 9. The sources count a survey's answers among those who answered, and give
/// the non-respondents apart: seed 000, lines 747–750, 「調査対象機関数：734機関…回答数：619
/// 機関…有効回答数：84.3％」. So n is the municipalities that answered; one the prefecture never
/// heard from is 未回答, neither in n nor 実施していない; a node's participation fact makes an
/// honest "nothing recorded" an answer (実施していない throughout).
#[test]
fn non_response_is_counted_apart_not_as_not_implemented() {
    let mut state = SurveyState::default();
    state.set_regions(
        RegionSet::from_csv(toyama(), SECONDARY_MEDICAL_AREA, 2024, 2029, TOYAMA_AREAS).unwrap(),
    );
    // 富山市 trained; 高岡市's node hosts it with nothing recorded yet; 13 others are silent.
    state.take_fact(
        code("162019"),
        &fact(
            training_on("2024-07-01"),
            "training/t1",
            t("2024-07-02T00:00:00Z"),
        ),
    );
    state.take_fact(code("162027"), &participation(t("2024-08-01T00:00:00Z")));
    let survey = state
        .survey(toyama(), fy(2024), d(2025, 3, 31), None, TallySource::Live)
        .unwrap();
    assert_eq!(survey.rows.len(), 15, "every municipality has its row");
    assert_eq!((survey.n(), survey.unanswered()), (2, 13));
    let tally = survey.tally();
    assert_eq!((tally.n, tally.unanswered), (2, 13));
    assert_eq!(tally.count(Item::Ka, SurveyStatus::Implemented), 1);
    assert_eq!(tally.count(Item::Ka, SurveyStatus::NotImplemented), 1);
    assert_eq!(
        tally.percent_tenths(Item::Ka, SurveyStatus::Implemented),
        500
    );
    let row = |c: &str| survey.rows.iter().find(|r| r.code == code(c)).unwrap();
    assert!(row("162019").answered() && row("162019").reported);
    assert_eq!(row("162019").area.as_deref(), Some("富山"));
    assert!(row("162027").answered(), "nothing recorded is an answer");
    assert_eq!(row("162027").answer_label(Item::A), "実施していない");
    assert!(!row("162043").answered());
    assert_eq!(row("162043").answer_label(Item::A), "未回答");
    // Per 二次医療圏: 富山 has both respondents, 高岡 one; the silent are counted apart in each.
    let areas = survey.tally_by_area();
    assert_eq!(areas.len(), 4);
    assert_eq!(areas.values().map(|t| t.n + t.unanswered).sum::<u32>(), 15);
    // As known before 高岡市's node first reported, it had not answered.
    let earlier = state
        .survey(
            toyama(),
            fy(2024),
            d(2025, 3, 31),
            Some(t("2024-07-15T00:00:00Z")),
            TallySource::Live,
        )
        .unwrap();
    assert_eq!((earlier.n(), earlier.unanswered()), (1, 14));
    // A submission is an answer too, even without a fact.
    let none = state.statuses(code("162043"), fy(2024), d(2025, 3, 31), None);
    state.submit(code("162043"), fy(2024), d(2025, 3, 31), none, 1);
    let submitted = state
        .survey(toyama(), fy(2024), d(2025, 3, 31), None, TallySource::Live)
        .unwrap();
    assert_eq!((submitted.n(), submitted.unanswered()), (3, 12));
    // The exports name the non-respondents: a column, and a footnote with their count.
    let summary = String::from_utf8(
        crate::survey::summary_csv(&submitted, crate::survey::CsvEncoding::Utf8Bom).unwrap(),
    )
    .unwrap();
    let lines: Vec<&str> = summary.lines().collect();
    assert!(lines[0].contains(",n=3,未回答=12,"), "{}", lines[0]);
    assert!(lines[1].ends_with(",未回答"), "{}", lines[1]);
    assert!(lines[2].ends_with(",12"), "{}", lines[2]);
    assert!(
        lines
            .last()
            .unwrap()
            .contains("未回答（報告も提出もない市区町村）12件は n に含めず"),
        "{summary}"
    );
    let detail = String::from_utf8(
        crate::survey::detail_csv(&submitted, crate::survey::CsvEncoding::Utf8Bom).unwrap(),
    )
    .unwrap();
    let silent = detail.lines().find(|l| l.contains("氷見市")).unwrap();
    assert!(
        silent
            .contains(",未回答,未回答,未回答,未回答,未回答,未回答,未回答,未回答,未回答,無,未提出"),
        "{silent}"
    );
    assert!(detail.lines().last().unwrap().contains("12件"));
}

#[test]
fn a_submitted_snapshot_does_not_move_and_reviews_follow_their_rules() {
    let mut state = SurveyState::default();
    let m = code("162019");
    let none = state.statuses(m, fy(2024), d(2024, 9, 30), None);
    let v1 = state.submit(m, fy(2024), d(2024, 9, 30), none, 1);
    assert_eq!(v1.version, 1);
    state.take_fact(
        m,
        &fact(
            training_on("2024-07-01"),
            "training/t1",
            t("2024-10-02T00:00:00Z"),
        ),
    );
    let submitted = state
        .survey(
            toyama(),
            fy(2024),
            d(2024, 9, 30),
            None,
            TallySource::Submitted,
        )
        .unwrap();
    // Issue 20, point 10: "TALLY_SOURCE_SUBMITTED counts the latest approved version (not a
    // returned or unreviewed one), honours known_at, and refuses to mix survey dates".
    // Unreviewed: not counted; 富山市 is counted live, its column saying 提出済.
    let row = submitted.rows.iter().find(|r| r.code == m).unwrap();
    assert_eq!(row.statuses[5], SurveyStatus::Implemented);
    assert_eq!(row.approval, Approval::Submitted { version: 1 });

    assert!(
        state.review(m, fy(2024), 1, false, " ", 10).is_err(),
        "returning needs a comment"
    );
    let returned = state
        .review(m, fy(2024), 1, false, "研修の記録を確認してください", 10)
        .unwrap();
    assert!(matches!(returned.state, ReviewState::Returned { .. }));
    assert!(
        state.review(m, fy(2024), 1, true, "", 11).is_err(),
        "reviewed already"
    );
    let submitted_as_of = |state: &SurveyState, as_of, known_at: Option<DateTime<Utc>>| {
        state
            .survey(toyama(), fy(2024), as_of, known_at, TallySource::Submitted)
            .map(|s| s.rows.into_iter().find(|r| r.code == m).unwrap())
    };
    // Returned: not counted either.
    let row = submitted_as_of(&state, d(2024, 9, 30), None).unwrap();
    assert_eq!(row.statuses[5], SurveyStatus::Implemented);
    // v2, a snapshot as of 2024-10-31 (all 実施していない), approved on 2024-10-03.
    let approved_at = t("2024-10-03T00:00:00Z").timestamp_millis();
    let v2 = state.submit(m, fy(2024), d(2024, 10, 31), none, 2);
    assert_eq!(v2.version, 2);
    assert!(
        state.review(m, fy(2024), 1, true, "", approved_at).is_err(),
        "not the latest"
    );
    assert_eq!(
        state
            .review(m, fy(2024), 2, true, "", approved_at)
            .unwrap()
            .state,
        ReviewState::Approved
    );
    let approved = submitted_as_of(&state, d(2024, 10, 31), None).unwrap();
    assert_eq!(
        approved.statuses[5],
        SurveyStatus::NotImplemented,
        "the approved snapshot"
    );
    assert_eq!(approved.approval, Approval::Approved { version: 2 });
    // As known on 2024-10-02 at noon, v2 was submitted but not yet approved: counted live (the
    // training recorded that morning included), and said so.
    let earlier =
        submitted_as_of(&state, d(2024, 10, 31), Some(t("2024-10-02T12:00:00Z"))).unwrap();
    assert_eq!(earlier.statuses[5], SurveyStatus::Implemented);
    assert_eq!(earlier.approval, Approval::Submitted { version: 2 });
    // Another survey date would mix dates: refused, naming the municipality and its date.
    let mixed = submitted_as_of(&state, d(2025, 3, 31), None).unwrap_err();
    assert!(
        mixed.to_string().contains("162019") && mixed.to_string().contains("2024-10-31"),
        "{mixed}"
    );
}

#[test]
fn a_configured_scope_sets_n_and_the_rows() {
    let mut state = SurveyState::default();
    state.take_fact(
        code("162019"),
        &fact(
            training_on("2024-07-01"),
            "training/t1",
            t("2024-07-02T00:00:00Z"),
        ),
    );
    let scope = [code("162019"), code("162027"), code("162043")];
    let survey = state
        .survey_of(
            toyama(),
            &scope,
            fy(2024),
            d(2025, 3, 31),
            None,
            TallySource::Live,
        )
        .unwrap();
    // Three in scope; 富山市 answered, the two others are 未回答.
    assert_eq!((survey.n(), survey.unanswered()), (1, 2));
    let codes: Vec<_> = survey.rows.iter().map(|r| r.code).collect();
    assert_eq!(codes, scope.to_vec());
    assert_eq!(
        survey
            .tally()
            .count(crate::survey::Item::Ka, SurveyStatus::Implemented),
        1
    );
    // The two that never reported are flagged.
    assert_eq!(survey.rows.iter().filter(|r| !r.reported).count(), 2);
}

#[test]
fn a_wide_area_meeting_counts_as_known_at_from_when_the_prefecture_recorded_it() {
    // Issue 20, point 10: "prefecture-recorded wide-area meetings carry their recording time and
    // honour known_at, so that a past export can be reproduced byte for byte".
    let m = code("162019");
    let mut state = SurveyState::default();
    state.take_meeting(crate::wide_area::WideAreaMeeting {
        id: "w1".into(),
        title: "富山医療圏 入退院支援ルール会議".into(),
        held_by: "health_center".into(),
        region: "富山".into(),
        on: d(2024, 7, 20),
        municipalities: vec![m],
        recorded_at_ms: t("2024-07-25T00:00:00Z").timestamp_millis(),
    });
    let ku =
        |known_at: Option<DateTime<Utc>>| state.statuses(m, fy(2024), d(2024, 10, 1), known_at)[7];
    assert_eq!(ku(None), SurveyStatus::Implemented);
    assert_eq!(
        ku(Some(t("2024-07-25T00:00:00Z"))),
        SurveyStatus::Implemented
    );
    // known at before the prefecture recorded it: not yet
    assert_eq!(
        ku(Some(t("2024-07-24T23:59:59Z"))),
        SurveyStatus::NotImplemented
    );
}

/// A refusal is stored with the command's response under its request id: one stored as a plain
/// message (before refusals were typed) still reads, with its message as it was, and a typed one
/// reads back as itself.
#[test]
fn refusals_stored_as_messages_still_read_and_typed_ones_round_trip() {
    use crate::types::CommandResponse;

    let old = r#"{"Submission":{"Err":"a returned submission needs a comment"}}"#;
    let read: CommandResponse = serde_json::from_str(old).unwrap();
    let refusal = match read {
        CommandResponse::Submission(Err(refusal)) => refusal,
        other => panic!("not a refusal: {other:?}"),
    };
    assert_eq!(
        refusal,
        SurveyRefusal::Recorded("a returned submission needs a comment".to_owned())
    );
    assert_eq!(
        refusal.to_string(),
        SurveyRefusal::ReturnWithoutComment.to_string()
    );

    for refusal in [
        SurveyRefusal::ReturnWithoutComment,
        SurveyRefusal::NotLatest {
            municipality: code("162019"),
            fiscal_year: fy(2024),
            version: 1,
            latest: 2,
        },
        SurveyRefusal::Recorded("version 1 was reviewed already".to_owned()),
    ] {
        let response = CommandResponse::Submission(Err(refusal));
        let json = serde_json::to_string(&response).unwrap();
        assert_eq!(
            serde_json::from_str::<CommandResponse>(&json).unwrap(),
            response
        );
    }
}
