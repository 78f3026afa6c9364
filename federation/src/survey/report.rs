//! The national merge as a report to read on screen and print on A4 landscape: one self-contained
//! HTML page (inline stylesheet, inline SVG, no script, nothing fetched) with the national table
//! and a comparison of the prefectures.
//!
//! It renders only what the survey holds; it must never fetch, link or load anything, so that the
//! file can be mailed, filed and opened offline.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use renkei_proto::PrefectureCode;

use super::export::{TITLE, summary_lines, survey_note, year_label};
use super::{
    Item, MunicipalityRow, Survey, SurveyStatus, Tally, UNANSWERED, format_tenths, percent_tenths,
};

/// The page's stylesheet: screen first, then A4 landscape for print.
const STYLE: &str = r#"
body { font-family: "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", Meiryo, sans-serif;
  margin: 2rem; color: #1a1a1a; line-height: 1.5; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
.meta { margin: 0 0 1.5rem; }
.note { font-size: .85rem; color: #444; }
table { border-collapse: collapse; margin: 0 0 1rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: bold; padding: .25rem 0; }
th, td { border: 1px solid #888; padding: .2rem .5rem; }
thead th { background: #eef0f3; font-weight: bold; }
td { text-align: right; }
tbody th { text-align: left; font-weight: normal; }
abbr { text-decoration: none; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg.chart text { font-size: 12px; fill: #1a1a1a; }
@page { size: A4 landscape; margin: 12mm 12mm 12mm 20mm; }
@media print {
  body { margin: 0; font-size: 9.5pt; }
  h2 { margin-top: 0; }
  section { break-inside: avoid; }
  section + section { break-before: page; }
  .by-prefecture { break-inside: auto; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  th, td { padding: 1px 4px; }
  svg.chart { width: auto; height: 165mm; }
}
"#;

/// Fill of 実施している.
const IMPLEMENTED_FILL: &str = "#1d4f91";
/// Fill of 実施していない.
const NOT_IMPLEMENTED_FILL: &str = "#e4e6ea";
/// 年度内に実施予定 is hatched as well as lighter, so that it reads apart in grey print too.
const PLANNED_FILL: &str = "url(#planned)";

/// Geometry of the chart, in SVG user units.
const CHART_WIDTH: f64 = 1000.0;
const BAR_X: f64 = 90.0;
const BAR_WIDTH: f64 = 520.0;
const ROW_HEIGHT: f64 = 18.0;
const BAR_HEIGHT: f64 = 12.0;
const CHART_TOP: f64 = 48.0;

/// One prefecture's part of the survey.
struct PrefectureLine {
    code: PrefectureCode,
    tally: Tally,
    /// How many of its municipalities reported.
    reported: u32,
}

impl PrefectureLine {
    /// Returns how many of its answers over all eight items are `status`.
    fn answers(&self, status: SurveyStatus) -> u32 {
        Item::ALL.iter().map(|i| self.tally.count(*i, status)).sum()
    }

    /// Returns the share of `status` among its answers over all eight items, in tenths of a
    /// percent: the average of the items' shares, since every item has n answers.
    fn average_tenths(&self, status: SurveyStatus) -> u32 {
        percent_tenths(self.answers(status), self.tally.n * Item::ALL.len() as u32)
    }
}

/// Groups the rows by prefecture (the first two digits of the municipality code).
fn prefecture_lines(survey: &Survey) -> Vec<PrefectureLine> {
    let mut groups: BTreeMap<PrefectureCode, Vec<&MunicipalityRow>> = BTreeMap::new();
    for row in &survey.rows {
        groups.entry(row.code.prefecture()).or_default().push(row);
    }
    groups
        .into_iter()
        .map(|(code, rows)| PrefectureLine {
            code,
            tally: Tally::of(rows.iter().copied()),
            reported: rows.iter().filter(|r| r.reported).count() as u32,
        })
        .collect()
}

/// Returns the survey as a self-contained HTML report: the table of every item's answers (count
/// and percentage of n) with the fiscal year in 和暦, the as-of date and n, then per prefecture a
/// bar of its answers averaged over the items, with the numbers printed beside each bar, and a
/// table of each item's 実施している share per prefecture.
pub fn national_html(survey: &Survey) -> String {
    let prefectures = prefecture_lines(survey);
    let title = format!("{TITLE}（{}）", survey.source);
    let year = year_label(survey.fiscal_year);
    let as_of = survey.as_of.format("%Y-%m-%d").to_string();
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " " (year) " " (as_of) "現在" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (title) }
                    p.meta {
                        (year) "　基準日 " (as_of) "現在　n=" (survey.n())
                        @if survey.unanswered() > 0 { "　未回答=" (survey.unanswered()) }
                        "（" (prefectures.len()) "都道府県）"
                    }
                }
                main {
                    section { (national_table(survey)) }
                    section { (prefecture_chart(&prefectures)) }
                    section.by-prefecture { (prefecture_table(&prefectures)) }
                }
                footer {
                    p.note {
                        "割合は n（回答した市区町村の数）に対する百分率（小数第1位を四捨五入）。"
                        "報告も提出もない市区町村は「未回答」とし、n にも「実施していない」にも"
                        "数えていません。"
                    }
                    @if let Some(note) = survey_note(survey) { p.note { (note) } }
                }
            }
        }
    }
    .into_string()
}

/// The national table: one line per item, count and percentage of each answer.
fn national_table(survey: &Survey) -> Markup {
    html! {
        table.national {
            caption {
                "事業項目別の実施状況（" (year_label(survey.fiscal_year)) "、"
                (survey.as_of.format("%Y-%m-%d").to_string()) "現在、n=" (survey.n()) "）"
            }
            thead {
                tr {
                    th scope="col" rowspan="2" { "事業項目" }
                    @for status in SurveyStatus::ALL {
                        th scope="colgroup" colspan="2" { (status.label()) }
                    }
                }
                tr {
                    @for _ in SurveyStatus::ALL {
                        th scope="col" { "件数" }
                        th scope="col" { "割合（%）" }
                    }
                }
            }
            tbody {
                @for line in summary_lines(&survey.tally()) {
                    tr {
                        th scope="row" { (line.item_label) }
                        @for (count, percent) in line.counts.iter().zip(&line.percents) {
                            td { (count) }
                            td { (percent) }
                        }
                    }
                }
            }
        }
    }
}

/// Returns the SVG y of the top of the bar of the prefecture at `index`.
fn bar_top(index: usize) -> f64 {
    CHART_TOP + ROW_HEIGHT * index as f64 + (ROW_HEIGHT - BAR_HEIGHT) / 2.0
}

/// One stacked bar per prefecture of its answers averaged over the items, labelled with the
/// prefecture's name and the three percentages, so that no colour alone carries a value.
fn prefecture_chart(prefectures: &[PrefectureLine]) -> Markup {
    let height = CHART_TOP + ROW_HEIGHT * prefectures.len() as f64 + 8.0;
    let fills = [IMPLEMENTED_FILL, PLANNED_FILL, NOT_IMPLEMENTED_FILL];
    let heading = "都道府県別の実施状況（8項目の平均）";
    html! {
        h2 #chart-heading { (heading) }
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-heading"
            viewBox=(format!("0 0 {CHART_WIDTH} {height}")) {
            title { (heading) }
            defs {
                pattern #planned patternUnits="userSpaceOnUse" width="6" height="6"
                    patternTransform="rotate(45)" {
                    rect width="6" height="6" fill="#8fb1df" {}
                    line x1="0" y1="0" x2="0" y2="6" stroke="#1d4f91" stroke-width="2" {}
                }
            }
            // The legend: swatch and name of each answer, in the order of the bar's segments.
            @for (i, (status, fill)) in SurveyStatus::ALL.iter().zip(fills).enumerate() {
                @let x = BAR_X + 200.0 * i as f64;
                rect x=(x) y="4" width="14" height="14" fill=(fill) stroke="#555" {}
                text x=(x + 20.0) y="16" { (status.label()) }
            }
            // The axis: 0 to 100 per cent.
            @for tick in [0u32, 25, 50, 75, 100] {
                @let x = BAR_X + BAR_WIDTH * f64::from(tick) / 100.0;
                line x1=(x) y1=(CHART_TOP - 6.0) x2=(x) y2=(height - 8.0) stroke="#bbb" {}
                text x=(x) y=(CHART_TOP - 10.0) text-anchor="middle" { (tick) "%" }
            }
            @for (index, prefecture) in prefectures.iter().enumerate() {
                (prefecture_bar(index, prefecture, fills))
            }
        }
    }
}

/// The bar of one prefecture: its name, three segments and the three percentages.
fn prefecture_bar(index: usize, prefecture: &PrefectureLine, fills: [&str; 3]) -> Markup {
    let y = bar_top(index);
    let total = f64::from(prefecture.tally.n * Item::ALL.len() as u32).max(1.0);
    let mut x = BAR_X;
    let segments: Vec<(f64, f64, &str)> = SurveyStatus::ALL
        .iter()
        .zip(fills)
        .map(|(status, fill)| {
            let width = BAR_WIDTH * f64::from(prefecture.answers(*status)) / total;
            let start = x;
            x += width;
            (start, width, fill)
        })
        .collect();
    let shares = SurveyStatus::ALL.map(|s| format_tenths(prefecture.average_tenths(s)));
    let name = prefecture.code.name();
    let unanswered = prefecture.tally.unanswered;
    html! {
        g.bar data-prefecture=(prefecture.code) {
            title {
                @if prefecture.tally.n == 0 {
                    (name) "：回答なし（" (UNANSWERED) " " (unanswered) "）"
                } @else {
                    (name) "（n=" (prefecture.tally.n) "）：実施している " (shares[0])
                    "%、年度内に実施予定 " (shares[1]) "%、実施していない " (shares[2]) "%"
                    @if unanswered > 0 { "、" (UNANSWERED) " " (unanswered) }
                }
            }
            text x=(BAR_X - 6.0) y=(y + BAR_HEIGHT - 1.0) text-anchor="end" { (name) }
            @for (start, width, fill) in segments {
                rect x=(format!("{start:.1}")) y=(y) width=(format!("{width:.1}"))
                    height=(BAR_HEIGHT) fill=(fill) {}
            }
            rect x=(BAR_X) y=(y) width=(BAR_WIDTH) height=(BAR_HEIGHT) fill="none"
                stroke="#555" stroke-width="0.5" {}
            text x=(BAR_X + BAR_WIDTH + 10.0) y=(y + BAR_HEIGHT - 1.0) {
                @if prefecture.tally.n == 0 {
                    "回答なし　（" (UNANSWERED) " " (unanswered) "）"
                } @else {
                    "実施 " (shares[0]) "%　予定 " (shares[1]) "%　未実施 " (shares[2])
                    "%　（n=" (prefecture.tally.n)
                    @if unanswered > 0 { "、" (UNANSWERED) " " (unanswered) }
                    "）"
                }
            }
        }
    }
}

/// Per prefecture: n, how many reported, and each item's 実施している share.
fn prefecture_table(prefectures: &[PrefectureLine]) -> Markup {
    html! {
        table {
            caption { "都道府県別・事業項目別の「実施している」の割合（%）" }
            thead {
                tr {
                    th scope="col" { "都道府県" }
                    th scope="col" { "n" }
                    th scope="col" { (UNANSWERED) }
                    th scope="col" { "報告" }
                    @for item in Item::ALL {
                        th scope="col" {
                            abbr title=(item.national_label()) { (item.short_label()) }
                        }
                    }
                    th scope="col" { "平均" }
                }
            }
            tbody {
                @for prefecture in prefectures {
                    tr {
                        th scope="row" { (prefecture.code.name()) }
                        td { (prefecture.tally.n) }
                        td { (prefecture.tally.unanswered) }
                        td { (prefecture.reported) }
                        @for item in Item::ALL {
                            td {
                                (format_tenths(prefecture.tally.percent_tenths(
                                    item, SurveyStatus::Implemented)))
                            }
                        }
                        td { (format_tenths(prefecture.average_tenths(SurveyStatus::Implemented))) }
                    }
                }
            }
        }
    }
}
