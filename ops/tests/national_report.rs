//! `renkei survey merge … --out national.html` (issue 18): the merged national table as one
//! self-contained page — nothing linked or loaded from outside, Japanese with `lang="ja"`,
//! captioned tables with scoped headers, a print stylesheet for A4 landscape — whose numbers are
//! those of the merge, with one bar per prefecture carrying its numbers in text.

mod common;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use common::*;
use renkei_federation::survey::{
    Approval, MunicipalityRow, Source, Survey, SurveyStatus, json as export_json,
};
use renkei_proto::{FiscalYear, PrefectureCode, official};

/// The prefectures whose exports are merged: 富山県, 石川県 and 福井県; the other 44 are missing.
const EXPORTED: [u8; 3] = [16, 17, 18];

/// Writes the JSON export of each prefecture of [`EXPORTED`] into `dir`, with answers that differ
/// per municipality and item, and returns their paths.
fn write_exports(dir: &Path) -> Vec<PathBuf> {
    let fy = FiscalYear::new(2024).unwrap();
    let as_of = NaiveDate::from_ymd_opt(2024, 10, 1).unwrap();
    EXPORTED
        .iter()
        .map(|p| {
            let prefecture = PrefectureCode::new(*p).unwrap();
            let rows = official::municipalities_of(prefecture)
                .enumerate()
                .map(|(i, m)| MunicipalityRow {
                    code: m.code,
                    name: m.name.to_owned(),
                    area: None,
                    statuses: std::array::from_fn(|item| {
                        SurveyStatus::ALL[(i * usize::from(*p) + item) % 3]
                    }),
                    reported: true,
                    approval: Approval::Approved { version: 1 },
                })
                .collect();
            let survey = Survey::new(fy, as_of, Source::Prefecture(prefecture), rows).unwrap();
            let path = dir.join(format!("survey_{p}_2024.json"));
            std::fs::write(&path, export_json(&survey).unwrap()).unwrap();
            path
        })
        .collect()
}

/// Merges the exports to national.html with `--json`, returning the page and the tally the
/// command printed.
fn merge_to_html() -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let files = write_exports(dir.path());
    let out = dir.path().join("national.html");
    let mut args = vec!["--json", "survey", "merge"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    let output = run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // To look at the page: RENKEI_PRINTS_DIR=/some/folder keeps it.
    if let Some(keep) = std::env::var_os("RENKEI_PRINTS_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&out, Path::new(&keep).join("national.html")).unwrap();
    }
    (std::fs::read_to_string(&out).unwrap(), printed)
}

/// Returns the text of every `<tag …>…</tag>` inside `html`, in order.
fn texts<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    html.split(&open)
        .skip(1)
        .filter(|rest| rest.starts_with([' ', '>']))
        .filter_map(|rest| Some(&rest[rest.find('>')? + 1..rest.find(&close)?]))
        .collect()
}

#[test]
fn the_report_is_one_self_contained_page() {
    let (html, _) = merge_to_html();
    assert!(
        html.starts_with("<!DOCTYPE html><html lang=\"ja\">"),
        "{}",
        &html[..80]
    );
    for external in [
        "src=", "href=", "<script", "<link", "@import", "http://", "https://",
    ] {
        // The SVG namespace is a name, not a fetch.
        let found = html
            .replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
            .contains(external);
        assert!(
            !found,
            "the page refers to something outside it: {external}"
        );
    }
    assert!(html.contains("<style>") && html.contains("<svg"));
    assert!(html.contains("@page { size: A4 landscape"));
    assert!(html.contains("@media print"));
    let tables = texts(&html, "table");
    assert_eq!(tables.len(), 2);
    for table in tables {
        assert_eq!(
            texts(table, "caption").len(),
            1,
            "a caption for every table"
        );
        assert!(table.contains("<th scope=\"col\""));
        assert!(table.contains("<th scope=\"row\""));
    }
}

#[test]
fn the_national_table_shows_the_merged_tally_with_year_as_of_and_n() {
    let (html, printed) = merge_to_html();
    // Only three prefectures answered (15 + 19 + 17 municipalities); the other 1,690 are 未回答,
    // apart from n (issue 20, point 9).
    assert_eq!(printed["n"], 51);
    assert_eq!(printed["unanswered"], 1690);
    for expected in [
        "令和6年度（FY2024）",
        "基準日 2024-10-01",
        "n=51",
        "未回答=1690",
        "未回答（報告も提出もない市区町村）1690件は n に含めず",
        "全国",
    ] {
        assert!(html.contains(expected), "{expected} missing");
    }
    let national = html.split("<table class=\"national\">").nth(1).unwrap();
    let body = texts(national, "tbody")[0];
    let lines = texts(body, "tr");
    let tally = printed["tally"].as_array().unwrap();
    assert_eq!(lines.len(), tally.len());
    assert_eq!(lines.len(), 8);
    for (line, expected) in lines.iter().zip(tally) {
        assert_eq!(texts(line, "th"), [expected["label"].as_str().unwrap()]);
        let cells: Vec<String> = (0..3)
            .flat_map(|i| {
                [
                    expected["counts"][i].to_string(),
                    expected["percents"][i].as_str().unwrap().to_owned(),
                ]
            })
            .collect();
        assert_eq!(texts(line, "td"), cells);
    }
    // The three exported prefectures reported some of everything.
    let counts: u64 = tally
        .iter()
        .map(|line| line["counts"][0].as_u64().unwrap() + line["counts"][1].as_u64().unwrap())
        .sum();
    assert!(counts > 0);
}

#[test]
fn the_chart_draws_one_bar_per_prefecture_with_its_numbers_in_text() {
    let (html, _) = merge_to_html();
    let chart = texts(&html, "svg")[0];
    let bars: Vec<&str> = chart.split("<g class=\"bar\"").skip(1).collect();
    assert_eq!(bars.len(), 47, "one bar per prefecture");
    for (bar, number) in bars.iter().zip(1..=47u8) {
        let prefecture = PrefectureCode::new(number).unwrap();
        assert!(
            bar.starts_with(&format!(" data-prefecture=\"{prefecture}\"")),
            "{bar}"
        );
        let labels = texts(bar, "text");
        assert_eq!(labels[0], prefecture.name());
        // The numbers are printed beside the bar, not left to the colours.
        assert!(
            (labels[1].starts_with("実施 ") && labels[1].contains("未実施 "))
                || labels[1].starts_with("回答なし"),
            "{labels:?}"
        );
        if !EXPORTED.contains(&number) {
            // A prefecture that sent nothing has no answers to draw: it says so.
            assert!(labels[1].starts_with("回答なし　（未回答 "), "{labels:?}");
        }
    }
    let toyama = bars[15];
    assert!(!texts(toyama, "text")[1].starts_with("実施 0.0%"));
}
