//! The CSV of a `SetRegions` request (`area_id,area_name,municipality_code,municipality_name`, e.g.
//! the 二次医療圏 of a prefecture), as the prefecture reads it before proposing it to its cluster
//! (`regions::RegionSet::from_csv`, the whole of what `SetRegions` does with the text): arbitrary
//! text, or a CSV the target writes itself from the official list with region ids and names
//! taken from the input (quotes, commas, line breaks and blanks included), rows left out, repeated
//! or borrowed from another prefecture. Never panics; a refused kind or period is named as given;
//! a refused row names its line (never one after the row) and what is wrong with it (which field,
//! which municipality); an accepted set puts every municipality of the prefecture, and nothing
//! else, in exactly one region, each region with an id, a name and a municipality, and survives
//! the JSON it is replicated in. A CSV written by the target is read back as written.
//!
//! The first byte chooses the kind (low bits), and raw text (bit 7 clear) or a written CSV (bit 7
//! set); the second the prefecture; the third the period; the rest is the text, or what the
//! target writes.

#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use renkei_federation::regions::{REGION_KINDS, Region, RegionError, RegionSet};
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
}

/// The number of lines of `text` as the CSV reader ends them (`\n`, `\r` or `\r\n`).
fn lines(text: &str) -> usize {
    let bytes = text.as_bytes();
    let ends = bytes
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\n' || (**b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count();
    ends + 1
}

/// Checks what `from_csv` answered against what any input must give.
fn check(
    prefecture: PrefectureCode,
    kind: &str,
    years: (i64, i64),
    text: &str,
    result: &Result<RegionSet, RegionError>,
) {
    let kind_known = REGION_KINDS.iter().any(|(k, _)| *k == kind);
    let period_valid = matches!(
        (FiscalYear::new(years.0), FiscalYear::new(years.1)),
        (Ok(a), Ok(b)) if a <= b
    );
    if !kind_known {
        assert_eq!(result, &Err(RegionError::Kind(kind.to_owned())));
        return;
    }
    if !period_valid {
        assert_eq!(result, &Err(RegionError::Period(years.0, years.1)));
        return;
    }
    match result {
        Ok(set) => {
            assert_eq!(set.kind, kind);
            assert_eq!(
                (
                    i64::from(set.first_fiscal_year.year()),
                    i64::from(set.last_fiscal_year.year())
                ),
                years
            );
            let mut ids = BTreeSet::new();
            let mut codes = BTreeSet::new();
            for region in &set.regions {
                assert!(ids.insert(region.id.as_str()), "region {} twice", region.id);
                for field in [&region.id, &region.name] {
                    assert!(!field.is_empty() && field.trim() == field, "{field:?}");
                }
                assert!(
                    !region.municipalities.is_empty(),
                    "region {} empty",
                    region.id
                );
                for code in &region.municipalities {
                    assert_eq!(code.prefecture(), prefecture, "{code} accepted");
                    assert!(codes.insert(*code), "{code} in two regions accepted");
                    assert!(text.contains(&code.to_string()));
                }
            }
            for m in official::municipalities_of(prefecture) {
                assert!(
                    codes.contains(&m.code),
                    "{} ({}) in no region",
                    m.code,
                    m.name
                );
            }
            // One row per municipality after the header.
            assert!(
                codes.len() < lines(text),
                "{} rows in {} lines",
                codes.len(),
                lines(text)
            );
            // The set is replicated as JSON in the Raft log and kept in the state machine.
            let json = serde_json::to_vec(set).expect("a region set serialises");
            let back: RegionSet = serde_json::from_slice(&json).expect("and reads back");
            assert_eq!(&back, set);
        }
        Err(RegionError::Csv { line, reason }) => {
            assert!(*line >= 2 && *line <= lines(text), "line {line}");
            assert!(!reason.trim().is_empty());
            if let Some(field) = reason.strip_suffix(" is missing") {
                assert!(["area_id", "area_name", "municipality_code"].contains(&field));
            }
        }
        Err(RegionError::Missing { code, name }) => {
            assert_eq!(code.prefecture(), prefecture);
            assert_eq!(
                Some(name.as_str()),
                official::municipality(*code).map(|m| m.name)
            );
        }
        Err(RegionError::Twice {
            code,
            first,
            second,
        }) => {
            assert_eq!(code.prefecture(), prefecture);
            assert!(!first.is_empty() && !second.is_empty());
            assert!(text.matches(&code.to_string()).count() >= 2, "{code} once");
        }
        Err(RegionError::Foreign {
            code,
            prefecture: p,
        }) => {
            assert_eq!(*p, prefecture);
            assert_ne!(code.prefecture(), prefecture);
            assert!(text.contains(&code.to_string()));
        }
        Err(e @ (RegionError::Kind(_) | RegionError::Period(..))) => {
            panic!("{e} for a known kind and a valid period")
        }
    }
}

/// A few bytes of the input as a field: usually the id or name given, sometimes arbitrary text.
fn field(input: &mut Bytes, usual: String) -> String {
    let b = input.byte();
    if b & 0xc0 != 0xc0 {
        return usual;
    }
    let bytes: Vec<u8> = (0..b % 8).map(|_| input.byte()).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One CSV record as the `csv` crate writes it (quoted where needed), with its line ending.
fn record(fields: &[&str]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(fields).expect("writing to memory");
    String::from_utf8(writer.into_inner().expect("flushing to memory")).expect("UTF-8 in, out")
}

/// What `from_csv` must answer for a written CSV: the regions, or the refusal with the line of
/// the offending row (the refusal may name an earlier line, see `check`).
enum Expected {
    Regions(Vec<Region>),
    Csv { true_line: usize, reason: String },
    Error(RegionError),
}

/// Writes a CSV of the prefecture's municipalities in regions chosen by the input.
fn written(input: &mut Bytes, prefecture: PrefectureCode) -> (String, Expected) {
    let count = 1 + usize::from(input.byte() % 4);
    let regions: Vec<(String, String)> = (0..count)
        .map(|k| {
            let id = field(input, format!("{:02}-{}", prefecture.get(), k + 1));
            let name = field(input, format!("圏域{}", k + 1));
            (id, name)
        })
        .collect();
    let mut text = record(&[
        "area_id",
        "area_name",
        "municipality_code",
        "municipality_name",
    ]);
    let mut rows: Vec<(usize, MunicipalityCode, &str)> = Vec::new();
    let mut left_out = Vec::new();
    for m in official::municipalities_of(prefecture) {
        let b = input.byte();
        let region = usize::from(b & 0x0f) % count;
        match b >> 6 {
            1 => left_out.push((m.code, m.name)),
            2 => {
                rows.push((region, m.code, m.name));
                rows.push((usize::from(b >> 4 & 3) % count, m.code, m.name));
            }
            _ => rows.push((region, m.code, m.name)),
        }
        if b & 0x30 == 0x30 {
            // A row of a municipality of the next prefecture.
            let other = PrefectureCode::new(prefecture.get() % 47 + 1).expect("01-47");
            if let Some(o) = official::municipalities_of(other).next() {
                rows.push((region, o.code, o.name));
            }
        }
    }
    let mut expected: Option<Expected> = None;
    let mut built: Vec<Region> = Vec::new();
    let mut seen: Vec<(MunicipalityCode, String)> = Vec::new();
    for (region, code, name) in rows {
        let (id, area_name) = &regions[region];
        let true_line = lines(&text);
        let code_text = code.to_string();
        text.push_str(&record(&[id, area_name, &code_text, name]));
        if expected.is_some() {
            continue;
        }
        let (id, area_name) = (id.trim(), area_name.trim());
        let missing = [("area_id", id), ("area_name", area_name)]
            .into_iter()
            .find(|(_, v)| v.is_empty());
        expected = if let Some((what, _)) = missing {
            Some(Expected::Csv {
                true_line,
                reason: format!("{what} is missing"),
            })
        } else if code.prefecture() != prefecture {
            Some(Expected::Error(RegionError::Foreign { code, prefecture }))
        } else if let Some((_, first)) = seen.iter().find(|(c, _)| *c == code) {
            Some(Expected::Error(RegionError::Twice {
                code,
                first: first.clone(),
                second: area_name.to_owned(),
            }))
        } else {
            seen.push((code, area_name.to_owned()));
            match built.iter_mut().find(|r| r.id == id) {
                Some(r) => r.municipalities.push(code),
                None => built.push(Region {
                    id: id.to_owned(),
                    name: area_name.to_owned(),
                    municipalities: vec![code],
                }),
            }
            None
        };
    }
    let expected = expected.unwrap_or_else(|| match left_out.first() {
        Some((code, name)) => Expected::Error(RegionError::Missing {
            code: *code,
            name: (*name).to_owned(),
        }),
        None => Expected::Regions(built),
    });
    (text, expected)
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let selector = input.byte();
    let kind = match usize::from(selector & 7) {
        k if k < REGION_KINDS.len() => REGION_KINDS[k].0,
        5 => "ward",
        _ => "",
    };
    let prefecture = PrefectureCode::new(1 + input.byte() % 47).expect("01-47");
    let period = input.byte();
    let first = if period & 0x80 != 0 {
        1980 + 2 * i64::from(period & 0x7f)
    } else {
        2024
    };
    let years = (first, first + i64::from(period >> 4 & 7) - 2);
    if selector & 0x80 == 0 {
        let Ok(text) = std::str::from_utf8(input.0) else {
            return;
        };
        let result = RegionSet::from_csv(prefecture, kind, years.0, years.1, text);
        check(prefecture, kind, years, text, &result);
        return;
    }
    let (text, expected) = written(&mut input, prefecture);
    let result = RegionSet::from_csv(prefecture, kind, years.0, years.1, &text);
    check(prefecture, kind, years, &text, &result);
    if result
        .as_ref()
        .is_err_and(|e| matches!(e, RegionError::Kind(_) | RegionError::Period(..)))
    {
        return;
    }
    match (expected, result) {
        (Expected::Regions(regions), Ok(set)) => assert_eq!(set.regions, regions),
        (Expected::Csv { true_line, reason }, Err(RegionError::Csv { line, reason: got })) => {
            assert_eq!(got, reason);
            assert!(
                line <= true_line,
                "line {line} named for a row on line {true_line}"
            );
        }
        (Expected::Error(e), Err(got)) => assert_eq!(got, e),
        (Expected::Regions(_), Err(e)) => panic!("a CSV written from the official list: {e}"),
        (_, Ok(set)) => panic!("accepted {set:?}"),
        (Expected::Csv { reason, .. }, Err(e)) => panic!("{e} where {reason} was due"),
    }
});
