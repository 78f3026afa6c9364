//! Proves the survey exports and the national merge: a generated dataset whose statuses are those
//! of the published national table (平成27年8月1日現在, n=1,741), exported per prefecture as JSON
//! and merged, reproduces the published table byte for byte; Shift_JIS round-trips; the XLSX
//! reads back; the merge refuses duplicates and modified files and reports missing municipalities.

use std::io::Cursor;

use calamine::Reader;
use chrono::NaiveDate;
use renkei_federation::survey::{
    Approval, ChecksummedExport, CsvEncoding, Item, MergeError, MunicipalityRow, Source, Survey,
    SurveyStatus, detail_csv, json, merge_national, summary_csv, xlsx,
};
use renkei_proto::{FiscalYear, PrefectureCode, official};

/// The published counts (実施している, 年度内に実施予定) per item; the rest are 実施していない.
const PUBLISHED: [(u32, u32); 8] = [
    (671, 374),
    (763, 250),
    (331, 177),
    (439, 212),
    (380, 79),
    (675, 215),
    (517, 245),
    (549, 122),
];

fn fy2015() -> (FiscalYear, NaiveDate) {
    (
        FiscalYear::new(2015).unwrap(),
        NaiveDate::from_ymd_opt(2015, 8, 1).unwrap(),
    )
}

/// Every municipality of the official list, with statuses reproducing the published counts.
/// Each item spreads its answers differently over the list, so no two items share a pattern.
fn published_rows() -> Vec<MunicipalityRow> {
    let all: Vec<_> = official::municipalities().collect();
    let n = all.len();
    assert_eq!(n, 1741);
    let mut rows: Vec<MunicipalityRow> = all
        .iter()
        .map(|m| MunicipalityRow {
            code: m.code,
            name: m.name.to_owned(),
            area: None,
            statuses: [SurveyStatus::NotImplemented; 8],
            reported: true,
            approval: Approval::Approved { version: 1 },
        })
        .collect();
    for (i, (implemented, planned)) in PUBLISHED.iter().enumerate() {
        for k in 0..n {
            // A stride coprime with 1,741 visits every row once, from a different start per item.
            let row = (k * 7 + i * 211) % n;
            rows[row].statuses[i] = if k < *implemented as usize {
                SurveyStatus::Implemented
            } else if k < (*implemented + *planned) as usize {
                SurveyStatus::Planned
            } else {
                SurveyStatus::NotImplemented
            };
        }
    }
    rows
}

fn prefecture_exports(rows: &[MunicipalityRow]) -> Vec<Vec<u8>> {
    let (fy, as_of) = fy2015();
    (1..=47)
        .map(|p| {
            let prefecture = PrefectureCode::new(p).unwrap();
            let mine = rows
                .iter()
                .filter(|r| r.code.prefecture() == prefecture)
                .cloned()
                .collect();
            let survey = Survey::new(fy, as_of, Source::Prefecture(prefecture), mine).unwrap();
            json(&survey).unwrap()
        })
        .collect()
}

#[test]
fn the_merged_exports_reproduce_the_published_national_table() {
    let exports = prefecture_exports(&published_rows());
    let (national, report) = merge_national(&exports).unwrap();
    assert!(report.missing.is_empty() && report.unknown.is_empty());
    assert_eq!(national.n(), 1741);
    let csv = summary_csv(&national, CsvEncoding::Utf8Bom).unwrap();
    let golden = include_bytes!("golden/national_fy2015_summary.csv");
    assert_eq!(
        String::from_utf8_lossy(&csv),
        String::from_utf8_lossy(golden)
    );
    assert_eq!(csv, golden.to_vec());
}

#[test]
fn shift_jis_round_trips_and_unencodable_text_is_named() {
    let (fy, as_of) = fy2015();
    let toyama = PrefectureCode::new(16).unwrap();
    let rows: Vec<_> = published_rows()
        .into_iter()
        .filter(|r| r.code.prefecture() == toyama)
        .collect();
    let survey = Survey::new(fy, as_of, Source::Prefecture(toyama), rows).unwrap();
    for export in [summary_csv, detail_csv] {
        let utf8 = export(&survey, CsvEncoding::Utf8Bom).unwrap();
        let sjis = export(&survey, CsvEncoding::ShiftJis).unwrap();
        let (decoded, _, errors) = encoding_rs::SHIFT_JIS.decode(&sjis);
        assert!(!errors);
        assert_eq!(
            decoded.as_bytes(),
            &utf8[3..],
            "BOM-less UTF-8 equals decoded Shift_JIS"
        );
        assert!(decoded.contains("富山県") && decoded.contains("実施していない"));
    }
    let mut odd = survey.clone();
    odd.rows[0].name = "🏥町".into();
    let err = detail_csv(&odd, CsvEncoding::ShiftJis).unwrap_err();
    assert!(err.to_string().contains('🏥'), "{err}");
}

#[test]
fn the_xlsx_reads_back_with_both_sheets() {
    let (fy, as_of) = fy2015();
    let survey = Survey::new(fy, as_of, Source::National, published_rows()).unwrap();
    let bytes = xlsx(&survey).unwrap();
    let mut book = calamine::Xlsx::new(Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), vec!["集計", "市区町村別"]);
    let summary = book.worksheet_range("集計").unwrap();
    let cell = |r: u32, c: u32| {
        summary
            .get_value((r, c))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    assert!(
        cell(0, 0).contains("平成27年度（FY2015）"),
        "{}",
        cell(0, 0)
    );
    assert_eq!(cell(2, 1), "実施している");
    assert_eq!(cell(4, 0), Item::A.national_label());
    assert_eq!(cell(4, 1), "671");
    assert_eq!(cell(4, 2), "38.5");
    assert_eq!(cell(11, 0), Item::Ku.national_label());
    assert_eq!(cell(11, 5), "1070");
    let detail = book.worksheet_range("市区町村別").unwrap();
    assert_eq!(detail.height(), 1 + 1741);
    assert_eq!(detail.get_value((1, 0)).unwrap().to_string(), "011002");
    assert_eq!(detail.get_value((1, 1)).unwrap().to_string(), "札幌市");
    assert_eq!(detail.get_value((1, 11)).unwrap().to_string(), "回答");
    assert_eq!(
        detail.get_value((1, 13)).unwrap().to_string(),
        "承認済（第1版）"
    );
}

#[test]
fn the_merge_refuses_duplicates_and_modified_files_and_reports_the_missing() {
    let rows = published_rows();
    let mut exports = prefecture_exports(&rows);

    // A municipality in two files.
    let (fy, as_of) = fy2015();
    let toyama_city = rows
        .iter()
        .find(|r| r.code.to_string() == "162019")
        .unwrap();
    let stray = Survey::new(
        fy,
        as_of,
        Source::Prefecture(PrefectureCode::new(17).unwrap()),
        vec![toyama_city.clone()],
    )
    .unwrap();
    let mut with_duplicate = exports.clone();
    with_duplicate.push(json(&stray).unwrap());
    match merge_national(&with_duplicate) {
        Err(MergeError::Duplicate {
            code,
            first,
            second,
        }) => {
            assert_eq!(code.to_string(), "162019");
            assert_eq!((first.as_str(), second.as_str()), ("富山県", "石川県"));
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }

    // A file whose rows were edited after export.
    let mut edited: ChecksummedExport = serde_json::from_slice(&exports[15]).unwrap();
    edited.survey.rows[0].statuses[0] = SurveyStatus::Implemented;
    edited.survey.rows[0].statuses[1] = SurveyStatus::Planned;
    let mut tampered = exports.clone();
    tampered[15] = serde_json::to_vec(&edited).unwrap();
    assert!(matches!(
        merge_national(&tampered),
        Err(MergeError::Tampered { index: 15, .. })
    ));

    // A prefecture whose file is missing: its municipalities are reported, and are 未回答 in
    // the national table (issue 20, point 9: non-response is not 実施していない), apart from n.
    exports.remove(46);
    let (national, report) = merge_national(&exports).unwrap();
    let okinawa = official::municipalities_of(PrefectureCode::new(47).unwrap()).count();
    assert_eq!(report.missing.len(), okinawa);
    assert!(report.missing.iter().all(|c| c.prefecture().get() == 47));
    assert_eq!(national.rows.len(), 1741);
    assert_eq!(national.n(), 1741 - okinawa as u32);
    assert_eq!(national.unanswered(), okinawa as u32);
    let missing_row = national
        .rows
        .iter()
        .find(|r| r.code == report.missing[0])
        .unwrap();
    assert!(!missing_row.answered());
    assert_eq!(missing_row.answer_label(Item::A), "未回答");
    let tally = national.tally();
    assert_eq!(
        Item::ALL.map(|i| SurveyStatus::ALL
            .iter()
            .map(|s| tally.count(i, *s))
            .sum::<u32>()),
        [1741 - okinawa as u32; 8],
        "the answers of Okinawa are in no column"
    );

    assert!(matches!(merge_national(&[]), Err(MergeError::Empty)));
    assert!(matches!(
        merge_national(&[b"not json".to_vec()]),
        Err(MergeError::Unreadable { index: 0, .. })
    ));
}

#[test]
fn tallies_by_area_add_up_to_the_prefecture() {
    let (fy, as_of) = fy2015();
    let toyama = PrefectureCode::new(16).unwrap();
    let rows: Vec<_> = published_rows()
        .into_iter()
        .filter(|r| r.code.prefecture() == toyama)
        .enumerate()
        .map(|(i, mut r)| {
            r.area = Some(["新川", "富山", "高岡", "砺波"][i % 4].to_owned());
            r
        })
        .collect();
    let survey = Survey::new(fy, as_of, Source::Prefecture(toyama), rows).unwrap();
    let whole = survey.tally();
    let areas = survey.tally_by_area();
    assert_eq!(areas.len(), 4);
    assert_eq!(areas.values().map(|t| t.n).sum::<u32>(), whole.n);
    for item in Item::ALL {
        for status in SurveyStatus::ALL {
            let sum: u32 = areas.values().map(|t| t.count(item, status)).sum();
            assert_eq!(sum, whole.count(item, status));
        }
    }
}

/// The evidence a municipality would sync for `statuses` in FY2015 as of 2015-08-01: a dated
/// activity for 実施している, a plan entry for 年度内に実施予定, nothing for 実施していない.
fn evidence_for(statuses: &[SurveyStatus; 8]) -> Vec<Vec<u8>> {
    use prost::Message;
    use renkei_proto::v1::{
        DatedEvidence, EvidenceKind, FactBody, FactKind, PlannedEvidence, StatusEvidence,
    };
    let codes = ["a", "b", "c", "d", "e", "f", "g", "h"];
    statuses
        .iter()
        .zip(codes)
        .filter_map(|(status, item)| {
            let kind = match status {
                SurveyStatus::Implemented => EvidenceKind::Dated(DatedEvidence {
                    item: item.into(),
                    on: "2015-06-01".into(),
                }),
                SurveyStatus::Planned => EvidenceKind::Planned(PlannedEvidence {
                    fiscal_year: 2015,
                    item: item.into(),
                    planned_on: "2015-05-01".into(),
                    scheduled_on: "2016-03-31".into(),
                }),
                SurveyStatus::NotImplemented => return None,
            };
            let body = FactBody {
                kind: Some(FactKind::Evidence(StatusEvidence {
                    key: format!("record/{item}"),
                    kind: Some(kind),
                })),
                ..FactBody::default()
            };
            Some(body.encode_to_vec())
        })
        .collect()
}

#[test]
fn the_tally_engine_reproduces_the_published_table_from_synced_evidence() {
    use prost::Message;
    use renkei_federation::tally::{SurveyState, TallySource};
    use renkei_proto::v1::{FactBody, FactKind};
    let (fy, as_of) = fy2015();
    let rows = published_rows();
    let exports: Vec<Vec<u8>> = (1..=47)
        .map(|p| {
            let prefecture = PrefectureCode::new(p).unwrap();
            let mut state = SurveyState::default();
            for row in rows.iter().filter(|r| r.code.prefecture() == prefecture) {
                // Each municipality's node takes part first, so that one with nothing
                // recorded answers 実施していない throughout.
                let participation = FactBody {
                    kind: Some(FactKind::Participation(Default::default())),
                    ..FactBody::default()
                };
                state.take_fact(row.code, &participation.encode_to_vec());
                for fact in evidence_for(&row.statuses) {
                    state.take_fact(row.code, &fact);
                }
            }
            let survey = state
                .survey(prefecture, fy, as_of, None, TallySource::Live)
                .unwrap();
            json(&survey).unwrap()
        })
        .collect();
    let (national, report) = merge_national(&exports).unwrap();
    assert_eq!(national.n(), 1741);
    // Municipalities with no evidence took part: they count as 実施していない.
    assert!(report.missing.is_empty() && report.unknown.is_empty());
    let csv = summary_csv(&national, CsvEncoding::Utf8Bom).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&csv),
        String::from_utf8_lossy(include_bytes!("golden/national_fy2015_summary.csv"))
    );
}
