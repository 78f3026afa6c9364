//! `FiscalYear` and `PrefectureCode` from arbitrary text and numbers: what parses round-trips,
//! the 和暦 label reads back to the same year, and a fiscal year contains exactly its own days.

#![no_main]

use chrono::{Days, NaiveDate};
use libfuzzer_sys::fuzz_target;
use renkei_proto::{Era, FiscalYear, IdError, PrefectureCode};

/// Reads a 和暦 label (平成27年度, 令和元年度) back to the Gregorian year it starts in.
fn read_wareki(label: &str) -> u16 {
    let rest = label.strip_suffix("年度").expect("ends with 年度");
    let (base, n) = if let Some(n) = rest.strip_prefix("平成") {
        (1988, n)
    } else if let Some(n) = rest.strip_prefix("令和") {
        (2018, n)
    } else {
        panic!("unknown era in {label:?}")
    };
    let n: u16 = if n == "元" {
        1
    } else {
        assert!(n != "1" && !n.starts_with('0'), "{label:?}");
        n.parse().expect("era year is a number")
    };
    base + n
}

fn check_fiscal_year(fy: FiscalYear) {
    let y = fy.year();
    assert!((FiscalYear::MIN..=FiscalYear::MAX).contains(&y));
    assert_eq!(fy.to_string(), format!("FY{y}"));
    assert_eq!(fy.to_string().parse::<FiscalYear>(), Ok(fy));
    assert_eq!(y.to_string().parse::<FiscalYear>(), Ok(fy));
    assert_eq!(FiscalYear::new(i64::from(y)), Ok(fy));

    let label = fy.wareki();
    assert_eq!(read_wareki(&label), y, "{label}");
    let (era, n) = fy.era_year();
    assert!(n >= 1);
    assert!(label.starts_with(era.name()));
    assert_eq!(era == Era::Reiwa, y >= 2019);

    let (first, last) = (fy.first_day(), fy.last_day());
    assert!(fy.contains(first) && fy.contains(last));
    assert_eq!(FiscalYear::containing(first), Ok(fy));
    assert_eq!(FiscalYear::containing(last), Ok(fy));
    let before = first.checked_sub_days(Days::new(1)).unwrap();
    let after = last.checked_add_days(Days::new(1)).unwrap();
    assert!(!fy.contains(before) && !fy.contains(after));
    match FiscalYear::containing(after) {
        Ok(next) => assert_eq!(next.year(), y + 1),
        Err(_) => assert_eq!(y, FiscalYear::MAX),
    }
    let json = serde_json::to_string(&fy).unwrap();
    assert_eq!(json, y.to_string());
    assert_eq!(serde_json::from_str::<FiscalYear>(&json).unwrap(), fy);
}

fn check_prefecture(p: PrefectureCode) {
    assert!((1..=47).contains(&p.get()));
    assert_eq!(p.to_string().len(), 2);
    assert_eq!(p.to_string().parse::<PrefectureCode>(), Ok(p));
    assert_eq!(PrefectureCode::new(p.get()), Ok(p));
    assert!(!p.name().is_empty());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        match s.parse::<FiscalYear>() {
            Ok(fy) => {
                let digits = s.strip_prefix("FY").unwrap_or(s);
                assert_eq!(digits, fy.year().to_string(), "{s:?}");
                check_fiscal_year(fy);
            }
            Err(IdError::FiscalYearFormat { value }) => assert_eq!(value, s),
            Err(IdError::FiscalYearOutOfRange { value, .. }) => {
                let digits = s.strip_prefix("FY").unwrap_or(s);
                assert_eq!(digits.parse::<i64>().unwrap(), value);
            }
            Err(other) => panic!("unexpected error for {s:?}: {other:?}"),
        }
        match s.parse::<PrefectureCode>() {
            Ok(p) => {
                assert_eq!(p.to_string(), s);
                check_prefecture(p);
            }
            Err(IdError::PrefectureCodeFormat { value }) => assert_eq!(value, s),
            Err(other) => panic!("unexpected error for {s:?}: {other:?}"),
        }
    }

    if let Some(&b) = data.first() {
        match PrefectureCode::new(b) {
            Ok(p) => {
                assert_eq!(p.get(), b);
                check_prefecture(p);
            }
            Err(_) => assert!(!(1..=47).contains(&b)),
        }
    }

    if data.len() >= 8 {
        let n = i64::from_le_bytes(data[..8].try_into().unwrap());
        match FiscalYear::new(n) {
            Ok(fy) => {
                assert_eq!(i64::from(fy.year()), n);
                check_fiscal_year(fy);
            }
            Err(_) => assert!(!(1989..=2199).contains(&n)),
        }
        // Any date chrono can represent: the fiscal year that contains it, if supported.
        let days = i32::from_le_bytes(data[..4].try_into().unwrap());
        if let Some(date) = NaiveDate::from_num_days_from_ce_opt(days) {
            if let Ok(fy) = FiscalYear::containing(date) {
                assert!(fy.contains(date));
                check_fiscal_year(fy);
            }
        }
    }
});
