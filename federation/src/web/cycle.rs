//! The console's PDCAサイクル集計 page (`/cycle?fy=2024`) and its downloads
//! (`/download/cycle?format=…`): the cycle tally per region (二次医療圏 by default) and for the
//! prefecture, a row per municipality, the activities per care scene and item, and the exports
//! of `ExportCycleTally`. Like the other pages, it signs its reader in (viewer or above), calls
//! the same application methods as the gRPC API (`Surveys::cycle_tally`, `export_cycle`, with
//! their role checks and the console's read consistency) and renders what they answer.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use renkei_proto::FiscalYear;
use renkei_proto::programme::cycle::{CareScene, IndicatorKind, PdcaStep};
use renkei_proto::server::web::SignedIn;
use renkei_proto::v1;
use serde::Deserialize;

use super::pages::attachment;
use super::{Console, Principal, current_year, error_page, identity};
use crate::cycle::item_columns;
use crate::error::FederationError;
use crate::regions::{REGION_KINDS, region_kind_label};

/// The page's path (its navigation link).
pub(super) const PATH: &str = "/cycle";

/// The exports the page offers: the `format` of the download, its wire format, its content
/// type and its label.
const EXPORTS: [(&str, v1::ExportFormat, &str, &str); 4] = [
    (
        "summary",
        v1::ExportFormat::SummaryCsv,
        "text/csv; charset=utf-8",
        "集計表 CSV（UTF-8 BOM付き）",
    ),
    (
        "detail",
        v1::ExportFormat::DetailCsv,
        "text/csv; charset=utf-8",
        "市区町村別 CSV（UTF-8 BOM付き）",
    ),
    (
        "xlsx",
        v1::ExportFormat::Xlsx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Excel ブック（XLSX）",
    ),
    (
        "json",
        v1::ExportFormat::Json,
        "application/json",
        "全国集計用 JSON（チェックサム付き）",
    ),
];

/// What the page explains beside its tables.
const EXPLANATION: [&str; 4] = [
    "目指す姿: その年度が属する介護保険事業計画の期（例: 第9期 = 令和6〜8年度）に、場面ごとに定めた目指す姿。",
    "指標: その年度に定めた評価指標の種類（ストラクチャー・プロセス・アウトカム）。",
    "前年度の評価: 前年度をいずれかの場面で評価した市区町村。目標達成は、評価したすべての場面で目標に達した市区町村。",
    "段階: 改善を決めていれば Act、評価していれば Check、計画があり活動・測定が記録されていれば Do、計画だけなら Plan、何もなければ未着手。ノードから何も届いていない市区町村も未着手に数えます。",
];

pub(super) fn routes() -> Router<Console> {
    Router::new()
        .route(PATH, get(cycle_page))
        .route("/download/cycle", get(download_cycle))
}

/// What the page's query may say.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CycleQuery {
    fy: Option<i32>,
    /// The region kind the lines are per (empty: 二次医療圏).
    #[serde(default)]
    region_kind: String,
    /// The download: which export.
    #[serde(default)]
    format: String,
}

impl CycleQuery {
    /// The fiscal year asked for, or the current one.
    fn fiscal_year(&self) -> i32 {
        self.fy.unwrap_or_else(current_year)
    }

    fn request(&self, consistency: v1::ReadConsistency) -> v1::GetCycleTallyRequest {
        v1::GetCycleTallyRequest {
            fiscal_year: self.fiscal_year(),
            region_kind: self.region_kind.clone(),
            consistency: consistency as i32,
        }
    }

    fn query(&self) -> String {
        format!("fy={}&region_kind={}", self.fiscal_year(), self.region_kind)
    }
}

async fn cycle_page(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(query): Query<CycleQuery>,
) -> Response {
    match console
        .survey()
        .cycle_tally(identity(&session), query.request(console.consistency()))
        .await
    {
        Ok(reply) => console.page(
            &session,
            PATH,
            "PDCAサイクル集計",
            cycle_body(&reply, &query),
        ),
        Err(e) => error_page(&console, &session, PATH, &e),
    }
}

async fn download_cycle(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(query): Query<CycleQuery>,
) -> Response {
    let Some((_, format, content_type, _)) =
        EXPORTS.iter().find(|(name, ..)| *name == query.format)
    else {
        let known: Vec<&str> = EXPORTS.iter().map(|(name, ..)| *name).collect();
        let e = FederationError::InvalidArgument {
            field: "format",
            reason: format!("{:?} is not one of {}", query.format, known.join(", ")),
        };
        return error_page(&console, &session, PATH, &e);
    };
    match console
        .survey()
        .export_cycle(
            identity(&session),
            v1::ExportCycleTallyRequest {
                tally: Some(query.request(console.consistency())),
                format: *format as i32,
            },
        )
        .await
    {
        Ok(reply) => attachment(&reply.file_name, content_type, reply.content),
        Err(e) => error_page(&console, &session, PATH, &e),
    }
}

/// The caption of the tables: whose, which year, which plan period.
fn caption(reply: &v1::CycleTallyReply) -> String {
    let period = if reply.plan_period.is_empty() {
        String::new()
    } else {
        format!("・{}", reply.plan_period)
    };
    format!(
        "PDCAサイクル集計 {} {}（{}年度{period}）",
        reply.prefecture_name, reply.wareki, reply.fiscal_year
    )
}

/// The selectors of fiscal year and region kind.
fn filters(reply: &v1::CycleTallyReply, query: &CycleQuery) -> Markup {
    let last = current_year().max(reply.fiscal_year);
    html! {
        form.filters method="get" action=(PATH) {
            label { "年度"
                select #fy name="fy" {
                    @for fy in (2015..=last).rev() {
                        option value=(fy) selected[fy == reply.fiscal_year] {
                            (FiscalYear::new(i64::from(fy)).map_or_else(|_| format!("{fy}年度"), |f| format!("{}（{fy}年度）", f.wareki())))
                        }
                    }
                }
            }
            label { "圏域の種類"
                select #region_kind name="region_kind" {
                    @for (kind, label) in REGION_KINDS {
                        option value=(kind) selected[query.region_kind == kind || (query.region_kind.is_empty() && kind == "secondary_medical_area")] { (label) }
                    }
                }
            }
            button #apply type="submit" { "表示" }
        }
    }
}

/// One line of the table: its header cell, then its numbers in the columns of the header.
fn line_cells(line: &v1::CycleTallyLine) -> Markup {
    html! {
        td.num { (line.municipalities) }
        @for c in &line.goal_scenes { td.num data-col={ "goal-" (c.code) } { (c.count) } }
        @for c in &line.indicator_kinds { td.num data-col={ "kind-" (c.code) } { (c.count) } }
        td.num data-col="evaluated" { (line.evaluated_last_year) }
        td.num data-col="reached" { (line.reached_last_year) }
        @for c in &line.steps { td.num data-col={ "step-" (c.code) } { (c.count) } }
    }
}

/// The table per region and for the prefecture.
fn areas_table(reply: &v1::CycleTallyReply, region_label: &str) -> Markup {
    html! {
        div.scroll {
            table #cycle-areas {
                caption { (caption(reply)) "（" (region_label) "別）" }
                thead {
                    tr {
                        th scope="col" rowspan="2" { (region_label) }
                        th scope="col" rowspan="2" class="num" { "市区町村数" }
                        th scope="colgroup" colspan=(CareScene::ALL.len()) { "目指す姿を定めた場面" }
                        th scope="colgroup" colspan=(IndicatorKind::ALL.len()) { "指標の種類" }
                        th scope="colgroup" colspan="2" { "前年度" }
                        th scope="colgroup" colspan=(PdcaStep::ALL.len()) { "PDCAの段階" }
                    }
                    tr {
                        @for s in CareScene::ALL { th scope="col" class="num" { (s.label()) } }
                        @for k in IndicatorKind::ALL { th scope="col" class="num" { (k.label()) } }
                        th scope="col" class="num" { "評価あり" }
                        th scope="col" class="num" { "目標達成" }
                        @for s in PdcaStep::ALL { th scope="col" class="num" { (s.label()) } }
                    }
                }
                tbody {
                    @for line in &reply.regions {
                        tr data-region=(line.region_id) {
                            th scope="row" { (line.region_name) }
                            (line_cells(line))
                        }
                    }
                }
                @if let Some(total) = &reply.total {
                    tfoot {
                        tr data-region="total" {
                            th scope="row" { (reply.prefecture_name) "計" }
                            (line_cells(total))
                        }
                    }
                }
            }
        }
    }
}

/// Labels of codes of a vocabulary, joined for a cell (`-` for none).
fn labels(codes: &[String], label: impl Fn(&str) -> Option<&'static str>) -> String {
    if codes.is_empty() {
        return "-".to_owned();
    }
    codes
        .iter()
        .map(|c| label(c).unwrap_or(c.as_str()).to_owned())
        .collect::<Vec<_>>()
        .join("、")
}

fn municipalities_table(reply: &v1::CycleTallyReply, region_label: &str) -> Markup {
    let scene = |c: &str| CareScene::from_text(c).map(CareScene::label);
    let kind = |c: &str| IndicatorKind::from_text(c).map(IndicatorKind::label);
    html! {
        div.scroll {
            table #cycle-municipalities {
                caption { "市区町村別のPDCAサイクル " (reply.wareki) }
                thead {
                    tr {
                        th scope="col" { "市区町村" }
                        th scope="col" { (region_label) }
                        th scope="col" { "段階" }
                        th scope="col" { "目指す姿を定めた場面" }
                        th scope="col" { "指標の種類" }
                        th scope="col" { "前年度の評価" }
                        th scope="col" { "前年度の目標達成" }
                    }
                }
                tbody {
                    @for row in &reply.municipalities {
                        tr data-municipality=(row.municipality) {
                            th scope="row" { (row.name) " " span.muted { (row.municipality) } }
                            td { (row.region) }
                            td data-step=(row.step) { (row.step_label) }
                            td { (labels(&row.goal_scenes, scene)) }
                            td { (labels(&row.indicator_kinds, kind)) }
                            td { (if row.evaluated_last_year { "有" } else { "無" }) }
                            td { (if !row.evaluated_last_year { "-" } else if row.reached_last_year { "達成" } else { "未達成" }) }
                        }
                    }
                }
            }
        }
    }
}

fn scenes_table(reply: &v1::CycleTallyReply) -> Markup {
    html! {
        div.scroll {
            table #cycle-scenes {
                caption { "場面別の活動件数 " (reply.wareki) "（事業項目別）" }
                thead {
                    tr {
                        th scope="col" { "場面" }
                        @for item in item_columns() { th scope="col" class="num" { (item) } }
                        th scope="col" class="num" { "計" }
                    }
                }
                tbody {
                    @for line in &reply.scene_activity {
                        tr data-scene=(line.scene) {
                            th scope="row" { (line.label) }
                            @for n in &line.items { td.num { (n) } }
                            td.num { (line.total) }
                        }
                    }
                }
            }
        }
    }
}

/// The content of the page for a cycle tally: what it renders after its `GetCycleTally`.
fn cycle_body(reply: &v1::CycleTallyReply, query: &CycleQuery) -> Markup {
    let region_label = if reply.region_kind.is_empty() {
        "二次医療圏"
    } else {
        region_kind_label(&reply.region_kind)
    };
    let q = query.query();
    html! {
        (filters(reply, query))
        p.muted {
            "集計したログ位置 " span #applied-index { (reply.applied_index) } "。"
            @if reply.framework.is_empty() {
                "この年度は事業の枠組みの対象外です。"
            } @else {
                "事業の枠組み: " (reply.framework)
            }
        }
        div.layout {
            div {
                h2 { "都道府県全体と" (region_label) "別" }
                (areas_table(reply, region_label))
                @if reply.regions.is_empty() {
                    p.note { "この年度の" (region_label) "が設定されていないため、都道府県全体の行のみを示します。" }
                }
            }
            (renkei_proto::server::web::look::explanation("集計の見方", &EXPLANATION))
        }
        h2 { "市区町村別" }
        (municipalities_table(reply, region_label))
        h2 { "場面別の活動" }
        p.muted { "研修・会議・相談などの活動を、記録された場面と事業項目ごとに数えています（一つの活動が複数の場面に数えられることがあります）。" }
        (scenes_table(reply))
        h2 { "ダウンロード" }
        ul.noprint #cycle-exports {
            @for (format, _, _, label) in EXPORTS {
                li { a href={ "/download/cycle?format=" (format) "&" (q) } download { (label) } }
            }
        }
    }
}

/// Renders the page's content for a cycle tally reply (for tests and the console benchmark).
pub fn render_cycle(reply: &v1::CycleTallyReply) -> String {
    let query = CycleQuery {
        fy: Some(reply.fiscal_year),
        ..CycleQuery::default()
    };
    cycle_body(reply, &query).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cycle::cycle_reply;
    use crate::cycle::tests::fixture_tally;

    /// The text of the cells of the table row whose opening tag carries `marker`.
    fn row_cells(html: &str, marker: &str) -> Vec<String> {
        let start = html.find(marker).unwrap_or_else(|| panic!("no {marker}"));
        let end = start + html[start..].find("</tr>").unwrap();
        let row = &html[start..end];
        row.split("<t")
            .skip(1)
            .filter(|c| c.starts_with('d') || c.starts_with('h'))
            .map(|c| {
                let text = &c[c.find('>').unwrap() + 1..];
                let text = text.split("</t").next().unwrap();
                // Drop inner tags (the municipality's code in a span).
                let mut out = String::new();
                let mut inside = false;
                for ch in text.chars() {
                    match ch {
                        '<' => inside = true,
                        '>' => inside = false,
                        _ if !inside => out.push(ch),
                        _ => {}
                    }
                }
                out.trim().to_owned()
            })
            .collect()
    }

    #[test]
    fn the_page_shows_the_fixture_table_with_its_captions_and_downloads() {
        let html = render_cycle(&cycle_reply(&fixture_tally(), 42));
        assert!(html.contains("<caption>PDCAサイクル集計 富山県 令和6年度（2024年度・第9期（令和6〜8年度））（二次医療圏別）</caption>"), "{html}");
        assert!(html.contains(r#"<th scope="colgroup" colspan="6">目指す姿を定めた場面</th>"#));
        // The hand-computed lines of cycle/tests.rs.
        assert_eq!(
            row_cells(&html, r#"data-region="16-2""#),
            [
                "富山", "3", "1", "2", "1", "1", "1", "0", "1", "2", "1", "2", "1", "1", "0", "1",
                "0", "1"
            ]
        );
        assert_eq!(
            row_cells(&html, r#"data-region="total""#),
            [
                "富山県計",
                "6",
                "2",
                "2",
                "1",
                "1",
                "1",
                "1",
                "2",
                "2",
                "2",
                "4",
                "2",
                "1",
                "1",
                "2",
                "1",
                "1"
            ]
        );
        assert_eq!(
            row_cells(&html, r#"data-municipality="162060""#),
            [
                "滑川市 162060",
                "富山",
                "Act（改善）",
                "日常の療養支援",
                "プロセス指標",
                "有",
                "未達成"
            ]
        );
        assert_eq!(
            row_cells(&html, r#"data-scene="daily_care""#),
            [
                "日常の療養支援",
                "0",
                "0",
                "0",
                "0",
                "0",
                "2",
                "1",
                "0",
                "3"
            ]
        );
        for format in ["summary", "detail", "xlsx", "json"] {
            assert!(
                html.contains(&format!(
                    r#"href="/download/cycle?format={format}&amp;fy=2024&amp;region_kind=""#
                )),
                "{format}"
            );
        }
        assert!(html.contains(r#"<span id="applied-index">42</span>"#));
    }
}
