//! Prefecture exports as they reach the national merge (`survey::merge_national`): one or two
//! arbitrary byte strings, or exports the crate wrote itself (`survey::json`) from rows chosen by
//! the input, with one byte of the file changed or not. The merge never panics; a refusal names
//! what is wrong (which export, which municipality) and is right about it; an accepted merge holds
//! every row of the exports unchanged plus, as 未回答, the official municipalities none of them
//! held (listed as missing), in code order, with n and 未回答 adding up; and the national table it
//! yields exports and merges again to itself.
//!
//! The first byte chooses raw input (bit 0 clear: the rest split at its first NUL into one or two
//! files) or exports built by the crate (bit 0 set: the rest chooses prefectures, rows, answers
//! and the byte to change), and whether an accepted merge's national table is exported and merged
//! again (bit 1: that round trip of 1,741 rows costs some 70 ms a run, ten times the rest).

#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use chrono::Days;
use libfuzzer_sys::fuzz_target;
use renkei_federation::survey::{
    Approval, ChecksummedExport, MergeError, MergeReport, MunicipalityRow, Source, Survey,
    SurveyError, SurveyStatus, json, merge_national,
};
use renkei_proto::{FiscalYear, MunicipalityCode, PrefectureCode, official};

/// Reads the input a byte at a time, zeros once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
}

/// One prefecture's survey, its rows and answers chosen by the input.
fn built_survey(input: &mut Bytes, prefecture: PrefectureCode, as_of: chrono::NaiveDate) -> Survey {
    let fiscal_year = FiscalYear::containing(as_of).expect("as_of is chosen inside FY2024");
    let mut rows = Vec::new();
    for m in official::municipalities_of(prefecture) {
        let flags = input.byte();
        if flags & 0x80 != 0 {
            // Left out of the export: the merge must list it as missing.
            continue;
        }
        let answers = input.u16();
        let mut row = MunicipalityRow::unreported(m.code, m.name, None);
        for (i, status) in row.statuses.iter_mut().enumerate() {
            *status = SurveyStatus::ALL[usize::from((answers >> (2 * i)) & 3) % 3];
        }
        row.reported = flags & 1 != 0;
        let version = u32::from(flags >> 4);
        row.approval = match (flags >> 1) & 3 {
            0 => Approval::NotSubmitted,
            1 => Approval::Submitted { version },
            2 => Approval::Approved { version },
            _ => Approval::Returned {
                version,
                comment: text(input),
            },
        };
        if flags & 8 != 0 {
            row.area = Some(text(input));
        }
        rows.push(row);
    }
    // Sometimes a code that passes its check digit but is on no official list.
    let extra = input.byte();
    if extra & 1 != 0 {
        let five = u32::from(prefecture.get()) * 1000 + u32::from(input.u16() % 1000);
        let digits = format!("{five:05}").into_bytes();
        let first_five: [u8; 5] = std::array::from_fn(|i| digits[i] - b'0');
        let check = MunicipalityCode::check_digit(first_five);
        if let Ok(code) = MunicipalityCode::from_number(five * 10 + u32::from(check))
            && official::municipality(code).is_none()
        {
            let mut row = MunicipalityRow::unreported(code, "不明", None);
            row.reported = extra & 2 != 0;
            rows.push(row);
        }
    }
    Survey::new(fiscal_year, as_of, Source::Prefecture(prefecture), rows)
        .expect("one prefecture's official municipalities, each once, inside the year")
}

/// A few bytes of the input as text, quotes and control characters included.
fn text(input: &mut Bytes) -> String {
    let len = usize::from(input.byte() % 8);
    let bytes: Vec<u8> = (0..len).map(|_| input.byte()).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Exports built by the crate, and what the merge must answer when no byte was changed.
fn built(input: &mut Bytes) -> (Vec<Vec<u8>>, Option<Expected>) {
    let fy = FiscalYear::new(2024).expect("FY2024 is valid");
    let first = PrefectureCode::new(1 + input.byte() % 47).expect("01-47");
    let as_of = fy.first_day() + Days::new(u64::from(input.u16() % 365));
    let second = input.byte();
    let mut surveys = vec![built_survey(input, first, as_of)];
    if second & 0x80 != 0 {
        let prefecture = PrefectureCode::new(1 + second % 47).expect("01-47");
        let other_as_of = if input.byte() & 1 != 0 {
            as_of + Days::new(1)
        } else {
            as_of
        };
        surveys.push(built_survey(input, prefecture, other_as_of));
    }
    let mut exports: Vec<Vec<u8>> = surveys
        .iter()
        .map(|s| json(s).expect("a survey exports as JSON"))
        .collect();
    let change = input.byte();
    if change & 1 != 0 {
        let file = &mut exports[usize::from(change >> 1) % surveys.len()];
        let at = usize::from(input.u16()) % file.len();
        file[at] = input.byte();
        return (exports, None);
    }
    let expected = if surveys.iter().any(|s| s.as_of != as_of) {
        Expected::Mismatch
    } else {
        let mut seen = BTreeSet::new();
        let twice = surveys
            .iter()
            .flat_map(|s| &s.rows)
            .any(|r| !seen.insert(r.code));
        if twice {
            Expected::Duplicate
        } else {
            Expected::Merged
        }
    };
    (exports, Some(expected))
}

#[derive(Debug, PartialEq)]
enum Expected {
    Merged,
    Mismatch,
    Duplicate,
}

/// Checks what the merge answered for `exports`.
fn check(
    exports: &[Vec<u8>],
    result: &Result<(Survey, MergeReport), MergeError>,
    round_trip: bool,
) {
    let read = |i: usize| serde_json::from_slice::<ChecksummedExport>(&exports[i]);
    match result {
        Ok((survey, report)) => {
            let inputs: Vec<ChecksummedExport> = (0..exports.len())
                .map(|i| read(i).expect("an accepted export reads"))
                .collect();
            assert!(inputs.iter().all(ChecksummedExport::is_intact));
            let first = &inputs[0].survey;
            assert_eq!(survey.source, Source::National);
            assert_eq!(
                (survey.fiscal_year, survey.as_of),
                (first.fiscal_year, first.as_of)
            );
            assert!(survey.fiscal_year.contains(survey.as_of));
            assert!(
                survey.rows.windows(2).all(|w| w[0].code < w[1].code),
                "rows in code order, each once"
            );
            let by_code: BTreeMap<MunicipalityCode, &MunicipalityRow> =
                survey.rows.iter().map(|r| (r.code, r)).collect();
            let mut held = BTreeSet::new();
            for export in &inputs {
                assert_eq!(
                    (export.survey.fiscal_year, export.survey.as_of),
                    (first.fiscal_year, first.as_of)
                );
                for row in &export.survey.rows {
                    assert!(held.insert(row.code), "{} merged from two rows", row.code);
                    assert_eq!(
                        by_code.get(&row.code),
                        Some(&row),
                        "a row changed in the merge"
                    );
                }
            }
            let missing: Vec<MunicipalityCode> = official::municipalities()
                .map(|m| m.code)
                .filter(|c| !held.contains(c))
                .collect();
            assert_eq!(report.missing, missing);
            for code in &report.missing {
                let row = by_code[code];
                assert!(
                    !row.answered(),
                    "a missing municipality counted as answering"
                );
                assert_eq!(
                    Some(row.name.as_str()),
                    official::municipality(*code).map(|m| m.name)
                );
            }
            assert_eq!(survey.rows.len(), held.len() + report.missing.len());
            let unknown: Vec<MunicipalityCode> = held
                .iter()
                .filter(|c| official::municipality(**c).is_none())
                .copied()
                .collect();
            assert_eq!(report.unknown, unknown);
            assert_eq!(survey.n(), inputs.iter().map(|e| e.n).sum::<u32>());
            assert_eq!(
                survey.unanswered() as usize,
                inputs
                    .iter()
                    .map(|e| e.survey.unanswered() as usize)
                    .sum::<usize>()
                    + report.missing.len()
            );
            let tally = survey.tally();
            assert_eq!(tally.n, survey.n());
            for counts in tally.counts {
                assert_eq!(counts.iter().sum::<u32>(), tally.n);
            }
            if !round_trip {
                return;
            }
            // The national table travels as an export too, and merges alone to itself.
            let again = json(survey).expect("the national survey exports");
            match merge_national(&[again]) {
                Ok((same, report_again)) => {
                    assert_eq!(&same, survey);
                    assert!(report_again.missing.is_empty());
                    assert_eq!(report_again.unknown, report.unknown);
                }
                Err(e) => panic!("the merge's own export is refused: {e}"),
            }
        }
        Err(e) => {
            assert!(!e.to_string().trim().is_empty());
            match e {
                MergeError::Unreadable { index, reason } => {
                    assert!(*index < exports.len());
                    assert!(!reason.is_empty());
                    assert!(read(*index).is_err());
                }
                MergeError::Tampered { index, source_name } => {
                    assert!(!source_name.is_empty());
                    let export = read(*index).expect("a tampered export reads");
                    assert!(!export.is_intact());
                    assert_eq!(source_name, &export.survey.source.to_string());
                }
                MergeError::Mismatch {
                    index,
                    source_name,
                    found,
                    expected,
                } => {
                    assert!(*index >= 1 && *index < exports.len());
                    assert!(!source_name.is_empty());
                    assert_ne!(found, expected);
                    assert!(e.to_string().contains(found.as_str()));
                }
                MergeError::Duplicate {
                    code,
                    first,
                    second,
                } => {
                    assert!(!first.is_empty() && !second.is_empty());
                    let holding = (0..exports.len())
                        .filter_map(|i| read(i).ok())
                        .flat_map(|x| x.survey.rows)
                        .filter(|r| r.code == *code)
                        .count();
                    assert!(
                        holding >= 2,
                        "{code} named as a duplicate but held {holding} times"
                    );
                    assert!(e.to_string().contains(&code.to_string()));
                }
                MergeError::Empty => assert!(exports.is_empty()),
                MergeError::Survey(SurveyError::AsOfOutsideYear { as_of, .. }) => {
                    let first = read(0).expect("the first export reads").survey;
                    assert_eq!(*as_of, first.as_of);
                    assert!(!first.fiscal_year.contains(first.as_of));
                }
                MergeError::Survey(other) => panic!("merged rows checked before: {other}"),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let round_trip = mode & 2 != 0;
    if mode & 1 == 0 {
        let exports: Vec<Vec<u8>> = rest.splitn(2, |b| *b == 0).map(<[u8]>::to_vec).collect();
        check(&exports, &merge_national(&exports), round_trip);
        return;
    }
    let (exports, expected) = built(&mut Bytes(rest));
    let result = merge_national(&exports);
    check(&exports, &result, round_trip);
    if let Some(expected) = expected {
        let got = match &result {
            Ok(_) => Expected::Merged,
            Err(MergeError::Mismatch { index: 1, .. }) => Expected::Mismatch,
            Err(MergeError::Duplicate { .. }) => Expected::Duplicate,
            Err(e) => panic!("exports written by the crate refused: {e}"),
        };
        assert_eq!(got, expected);
    }
});
