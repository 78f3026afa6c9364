//! Latency of the survey at national scale: the tally of 1,741 municipalities, each export
//! format, and the merge of the 47 prefectures' JSON exports.
//!
//! Run: `cargo bench -p renkei-federation --bench survey`. Prints the median of repeated runs
//! and the ratio to the 10 ms target for the tally.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use renkei_federation::survey::{
    Approval, CsvEncoding, MunicipalityRow, Source, Survey, SurveyStatus, detail_csv, json,
    merge_national, summary_csv, xlsx,
};
use renkei_proto::{FiscalYear, PrefectureCode, official};

fn main() {
    let fy = FiscalYear::new(2024).expect("valid year");
    let as_of = NaiveDate::from_ymd_opt(2024, 8, 1).expect("valid date");
    let rows: Vec<MunicipalityRow> = official::municipalities()
        .enumerate()
        .map(|(i, m)| MunicipalityRow {
            code: m.code,
            name: m.name.to_owned(),
            area: Some(format!("圏域{}", i % 330)),
            statuses: std::array::from_fn(|item| SurveyStatus::ALL[(i * 7 + item * 3) % 3]),
            reported: true,
            approval: Approval::Submitted { version: 1 },
        })
        .collect();
    let national = Survey::new(fy, as_of, Source::National, rows.clone()).expect("survey");
    let exports: Vec<Vec<u8>> = (1..=47)
        .map(|p| {
            let prefecture = PrefectureCode::new(p).expect("valid prefecture");
            let mine = rows
                .iter()
                .filter(|r| r.code.prefecture() == prefecture)
                .cloned()
                .collect();
            json(&Survey::new(fy, as_of, Source::Prefecture(prefecture), mine).expect("survey"))
                .expect("json")
        })
        .collect();

    println!("survey at national scale, n = {}", national.n());
    let tally = measure(200, || {
        std::hint::black_box(national.tally());
    });
    println!(
        "tally (8 items x 3 answers)        {:>10.3} ms   target 10 ms: {:.4} of target",
        ms(tally),
        ms(tally) / 10.0
    );
    let by_area = measure(50, || {
        std::hint::black_box(national.tally_by_area());
    });
    println!(
        "tally by 二次医療圏 (330 areas)    {:>10.3} ms",
        ms(by_area)
    );
    for (name, f) in [
        (
            "summary CSV (UTF-8 BOM)",
            (|s: &Survey| summary_csv(s, CsvEncoding::Utf8Bom).map(|b| b.len()))
                as fn(&Survey) -> _,
        ),
        ("detail CSV (UTF-8 BOM)", |s: &Survey| {
            detail_csv(s, CsvEncoding::Utf8Bom).map(|b| b.len())
        }),
        ("detail CSV (Shift_JIS)", |s: &Survey| {
            detail_csv(s, CsvEncoding::ShiftJis).map(|b| b.len())
        }),
        ("XLSX (summary + detail)", |s: &Survey| {
            xlsx(s).map(|b| b.len())
        }),
        ("JSON (signed)", |s: &Survey| json(s).map(|b| b.len())),
    ] {
        let mut size = 0;
        let t = measure(10, || size = f(&national).expect("export"));
        println!("export {name:<27} {:>10.3} ms   {size} bytes", ms(t));
    }
    let merge = measure(5, || {
        std::hint::black_box(merge_national(&exports).expect("merge"));
    });
    println!("merge of 47 prefecture exports     {:>10.3} ms", ms(merge));
}

fn measure(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
