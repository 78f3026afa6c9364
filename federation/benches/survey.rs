//! Latency of the survey at national scale: the tally of 1,741 municipalities, each export
//! format, the merge of the 47 prefectures' JSON exports, and the tally computed from the
//! maintained evidence of the tally engine (statuses derived by the status rules, then counted).
//!
//! Run: `cargo bench -p renkei-federation --bench survey`. Prints the median of repeated runs
//! and the ratio to the 10 ms target for the tally.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use renkei_federation::survey::{
    Approval, CsvEncoding, MunicipalityRow, Source, Survey, SurveyStatus, detail_csv, json,
    merge_national, summary_csv, xlsx,
};
use renkei_federation::tally::{SurveyState, TallySource};
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

    // The query path of a prefecture: statuses derived from maintained evidence (the node's
    // status rules), then tallied. 47 prefecture states hold the 1,741 municipalities, each with
    // 24 pieces of evidence (3 per item: an activity, a plan entry, a cancelled plan entry).
    let states: Vec<(PrefectureCode, SurveyState)> = (1..=47)
        .map(|p| {
            let prefecture = PrefectureCode::new(p).expect("valid prefecture");
            let mut state = SurveyState::default();
            for (i, m) in official::municipalities_of(prefecture).enumerate() {
                for (k, item) in ["a", "b", "c", "d", "e", "f", "g", "h"].iter().enumerate() {
                    for fact in evidence(item, (i + k) % 3) {
                        state.take_fact(m.code, &fact);
                    }
                }
            }
            (prefecture, state)
        })
        .collect();
    let engine = measure(20, || {
        for (prefecture, state) in &states {
            let survey = state
                .survey(*prefecture, fy, as_of, None, TallySource::Live)
                .expect("survey");
            std::hint::black_box(survey.tally());
        }
    });
    println!(
        "tally from maintained evidence, 47 prefectures (n = 1,741, 41,784 facts) {:>8.3} ms   target 10 ms: {:.2} of target",
        ms(engine),
        ms(engine) / 10.0
    );
}

/// Three pieces of evidence for one item; `variant` decides whether the activity falls in the
/// fiscal year (0), only the plan counts (1), or nothing does (2).
fn evidence(item: &str, variant: usize) -> Vec<Vec<u8>> {
    use prost::Message;
    use renkei_proto::v1::{
        DatedEvidence, EvidenceKind, FactBody, FactKind, PlannedEvidence, StatusEvidence,
    };
    let body = |key: String, kind| {
        FactBody {
            kind: Some(FactKind::Evidence(StatusEvidence {
                key,
                kind: Some(kind),
            })),
            ..FactBody::default()
        }
        .encode_to_vec()
    };
    let on = if variant == 0 {
        "2024-06-01"
    } else {
        "2023-06-01"
    };
    let planned_on = if variant == 2 {
        "2024-12-01"
    } else {
        "2024-05-01"
    };
    vec![
        body(
            format!("activity/{item}"),
            EvidenceKind::Dated(DatedEvidence {
                item: item.into(),
                on: on.into(),
            }),
        ),
        body(
            format!("plan/{item}"),
            EvidenceKind::Planned(PlannedEvidence {
                fiscal_year: 2024,
                item: item.into(),
                planned_on: planned_on.into(),
                scheduled_on: "2025-03-31".into(),
            }),
        ),
        body(
            format!("plan/{item}/cancelled"),
            EvidenceKind::CancelledOn("2024-07-01".into()),
        ),
    ]
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
