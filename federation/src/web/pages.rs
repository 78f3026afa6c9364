//! The console's pages and downloads. Each handler reads its query, calls the application
//! service once per figure it shows, and renders the answer; forms that change something go
//! through [`CsrfForm`] and the same service methods as the gRPC API (same role checks).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use maud::{Markup, html};
use renkei_proto::convert::{timestamp_to_utc, utc_to_timestamp};
use renkei_proto::programme::{Item, SurveyStatus};
use renkei_proto::server::web::chart::{self, Series, StackedBar};
use renkei_proto::server::web::look::{self, answer_class, csrf_field};
use renkei_proto::server::web::session::Session;
use renkei_proto::server::web::{CsrfForm, SignedIn};
use renkei_proto::v1;
use renkei_proto::{FiscalYear, official};
use serde::Deserialize;

use super::{Console, Principal, error_page, error_text, identity};
use crate::config::Role;
use crate::error::FederationError;
use crate::grpc::cluster_status;
use crate::regions::REGION_KINDS;
use crate::survey::{ANSWERED, UNANSWERED, answered_label, unanswered_note};

/// The three answers, in the table's order.
const ANSWERS: [&str; 3] = [
    SurveyStatus::Implemented.label(),
    SurveyStatus::Planned.label(),
    SurveyStatus::NotImplemented.label(),
];
/// The answers as a matrix cell writes them (text, never colour alone).
const SHORT_ANSWERS: [&str; 3] = ["実施", "予定", "未実施"];
/// The item codes of the wire ("a" … "h") with their short labels, from the one vocabulary.
const ITEMS: [(&str, &str); 8] = {
    let mut items = [("", ""); 8];
    let mut i = 0;
    while i < 8 {
        items[i] = (Item::ALL[i].code(), Item::ALL[i].short_label());
        i += 1;
    }
    items
};

/// What the status page explains beside its tables (指標の解説).
const EXPLANATION: [&str; 4] = [
    "実施している: 年度の初日から基準日までに、その項目の活動（会議・研修・相談窓口の運営など）が記録されている。",
    "年度内に実施予定: まだ実施していないが、年度の事業計画にその項目の活動が基準日までに計画され、取り消されていない。",
    "実施していない: そのどちらでもない。未回答（ノードからの報告も提出もない市区町村）はここに数えず、n にも含めません。",
    "数値は各市区町村ノードが記録した証拠から導いたもので、入力された回答ではありません。セルを開くと判定の根拠が見られます。",
];

pub(super) fn routes() -> Router<Console> {
    Router::new()
        .route("/status", get(status))
        .route("/status/evidence", get(evidence))
        .route("/trend", get(trend))
        .route("/compare", get(compare))
        .route("/submissions", get(submissions))
        .route("/submissions/review", post(review))
        .route("/wide-area", get(wide_area))
        .route("/wide-area/designation", post(record_designation))
        .route("/wide-area/meeting", post(record_meeting))
        .route("/cluster", get(cluster))
        .route("/downloads", get(downloads))
        .route("/download/export", get(download_export))
        .route("/download/chart/status.svg", get(download_status_chart))
        .route("/download/chart/trend.svg", get(download_trend_chart))
        .route("/download/table/status.csv", get(download_status_table))
        .route("/download/table/matrix.csv", get(download_matrix_table))
}

/// What a page's query may say: the fiscal year, 基準日 and source every page shows, and the
/// parameters of some pages (one struct: form values are strings, so no `serde(flatten)`).
#[derive(Debug, Default, Clone, Deserialize)]
pub(super) struct View {
    fy: Option<i32>,
    as_of: Option<String>,
    source: Option<String>,
    /// The evidence page: the municipality and the item.
    #[serde(default)]
    m: String,
    /// The evidence and compare pages: an item code `a` … `h`.
    #[serde(default)]
    item: String,
    /// The compare page: the column sorted by, and `1` for descending.
    #[serde(default)]
    sort: String,
    desc: Option<String>,
    /// The export download: which file.
    #[serde(default)]
    format: String,
    /// The (ク) page: the region kind the designations are computed per (empty: 二次医療圏).
    #[serde(default)]
    region_kind: String,
}

/// A view with its defaults filled in.
struct Resolved {
    fy: i32,
    as_of: String,
    submitted: bool,
    region_kind: String,
}

impl View {
    fn resolve(&self) -> Resolved {
        let today = Utc::now().date_naive();
        let current = FiscalYear::containing(today).map_or(2024, |f| i32::from(f.year()));
        let fy = self.fy.unwrap_or(current);
        let as_of = match self.as_of.as_deref() {
            Some(text) if !text.is_empty() => text.to_owned(),
            _ => match FiscalYear::new(i64::from(fy)) {
                Ok(f) if f.contains(today) => today.format("%Y-%m-%d").to_string(),
                Ok(f) => f.last_day().format("%Y-%m-%d").to_string(),
                Err(_) => String::new(),
            },
        };
        Resolved {
            fy,
            as_of,
            submitted: self.source.as_deref() == Some("submitted"),
            region_kind: self.region_kind.clone(),
        }
    }
}

impl Resolved {
    fn query(&self) -> String {
        format!(
            "fy={}&as_of={}&source={}",
            self.fy,
            self.as_of,
            if self.submitted { "submitted" } else { "live" }
        )
    }

    fn tally_request(&self, consistency: v1::ReadConsistency) -> v1::GetTallyRequest {
        v1::GetTallyRequest {
            fiscal_year: self.fy,
            as_of: self.as_of.clone(),
            known_at: None,
            source: if self.submitted {
                v1::TallySource::Submitted as i32
            } else {
                v1::TallySource::Live as i32
            },
            consistency: consistency as i32,
        }
    }
}

/// A fiscal year as the console writes it: 令和6年度（2024年度）.
pub(super) fn year_label(fy: i32) -> String {
    FiscalYear::new(i64::from(fy)).map_or_else(
        |_| format!("{fy}年度"),
        |f| format!("{}（{fy}年度）", f.wareki()),
    )
}

/// The selectors of fiscal year, 基準日 and source (and the region kind on the (ク) page).
fn filters(action: &str, view: &Resolved, with_source: bool) -> Markup {
    let today = Utc::now().date_naive();
    let last = FiscalYear::containing(today).map_or(2026, |f| i32::from(f.year()));
    html! {
        form.filters method="get" action=(action) {
            label { "年度"
                select #fy name="fy" {
                    @for fy in (2015..=last.max(view.fy)).rev() {
                        option value=(fy) selected[fy == view.fy] { (year_label(fy)) }
                    }
                }
            }
            label { "基準日"
                input #as_of type="date" name="as_of" value=(view.as_of);
            }
            @if action == "/wide-area" {
                label { "圏域の種類"
                    select #region_kind name="region_kind" {
                        @for (kind, label) in REGION_KINDS {
                            option value=(kind) selected[view.region_kind == kind || (view.region_kind.is_empty() && kind == "secondary_medical_area")] { (label) }
                        }
                    }
                }
            }
            @if with_source {
                label { "回答の出所"
                    select #source name="source" {
                        option value="live" selected[!view.submitted] { "記録から導出（最新）" }
                        option value="submitted" selected[view.submitted] { "提出された回答" }
                    }
                }
            }
            button #apply type="submit" { "表示" }
        }
    }
}

/// The class of a cell showing an answer's label: its answer's colour, or none for 未回答.
fn cell_class(label: &str) -> &'static str {
    if label == UNANSWERED {
        "ans-none"
    } else {
        answer_class(answer_index(label))
    }
}

fn answer_index(label: &str) -> usize {
    ANSWERS.iter().position(|a| *a == label).unwrap_or(2)
}

fn item_counts(line: &v1::ItemTally) -> [u32; 3] {
    [line.implemented, line.planned, line.not_implemented]
}

/// The national-style table of a tally: count and percentage per answer for each item; with
/// `short`, items are named by their letter (the full name in `title` and `abbr`).
/// `unanswered` municipalities (未回答) are named in the caption, apart from n.
fn tally_table(
    caption: &str,
    (n, unanswered): (u32, u32),
    items: &[v1::ItemTally],
    id: &str,
    short: bool,
) -> Markup {
    html! {
        div.scroll {
            table id=(id) {
                caption {
                    (caption) "（n=" (n)
                    @if unanswered > 0 { "、" span.unanswered { "未回答 " (unanswered) } }
                    "）"
                }
                thead {
                    tr {
                        th scope="col" rowspan="2" { "事業項目" }
                        @for a in ANSWERS { th scope="colgroup" colspan="2" { (a) } }
                    }
                    tr {
                        @for _ in ANSWERS {
                            th scope="col" class="num" { "件数" }
                            th scope="col" class="num" { "割合" }
                        }
                    }
                }
                tbody {
                    @for line in items {
                        tr data-item=(line.item) {
                            @if short {
                                th scope="row" abbr=(line.label) title=(line.label) { (short_label(&line.label)) }
                            } @else {
                                th scope="row" { (line.label) }
                            }
                            td.num { (line.implemented) }
                            td.num { (line.implemented_percent) "%" }
                            td.num { (line.planned) }
                            td.num { (line.planned_percent) "%" }
                            td.num { (line.not_implemented) }
                            td.num { (line.not_implemented_percent) "%" }
                        }
                    }
                }
            }
        }
    }
}

/// An item's label cut to its letter and first words, e.g. （ア）地域の医療・介護の資源….
fn short_label(label: &str) -> String {
    let chars: Vec<char> = label.chars().collect();
    if chars.len() <= 12 {
        label.to_owned()
    } else {
        chars[..11].iter().collect::<String>() + "…"
    }
}

fn tally_chart(title: &str, items: &[v1::ItemTally], short: bool) -> Markup {
    let labels: Vec<String> = items
        .iter()
        .map(|l| {
            if short {
                short_label(&l.label)
            } else {
                l.label.clone()
            }
        })
        .collect();
    let bars: Vec<StackedBar> = items
        .iter()
        .zip(&labels)
        .map(|(l, label)| StackedBar {
            label,
            counts: item_counts(l),
        })
        .collect();
    chart::stacked_bars(title, ANSWERS, &bars)
}

fn tally_caption(reply: &v1::TallyReply) -> String {
    format!(
        "在宅医療・介護連携推進事業 実施状況 {} {}（{}現在）",
        reply.prefecture_name,
        year_label(reply.fiscal_year),
        reply.as_of
    )
}

async fn status(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(view): Query<View>,
) -> Response {
    let view = view.resolve();
    let reply = match tally_of(&console, &session, &view, "/status").await {
        Ok(reply) => reply,
        Err(page) => return page,
    };
    console.page(&session, "/status", "実施状況", status_body(&reply, &view))
}

/// The content of the 実施状況 page for a tally: what the page renders after its `GetTally`.
fn status_body(reply: &v1::TallyReply, view: &Resolved) -> Markup {
    let q = view.query();
    html! {
        (filters("/status", view, true))
        p.muted {
            "集計したログ位置 "
            span #applied-index { (reply.applied_index) }
            "。回答の出所: " (if view.submitted { "提出された回答（未提出の市区町村は記録から導出）" } else { "記録から導出" })
        }
        div.layout {
            div {
                h2 { "都道府県全体" }
                (tally_table(&tally_caption(reply), (reply.n, reply.unanswered), &reply.items, "tally", false))
                @if let Some(note) = unanswered_note(reply.n, reply.unanswered) {
                    p.note #unanswered-note { (note) }
                }
                (tally_chart(&tally_caption(reply), &reply.items, false))
                p.noprint {
                    a href={ "/download/chart/status.svg?" (q) } download { "グラフをSVGで保存" } " ・ "
                    a href={ "/download/table/status.csv?" (q) } download { "表をCSVで保存" }
                }
            }
            (look::explanation("指標の解説", &EXPLANATION))
        }
        @if !reply.regions.is_empty() {
            h2 { "二次医療圏別" }
            div.grid2 {
                @for r in &reply.regions {
                    section {
                        (tally_table(&format!("{}（{}）", r.region_name, r.region_id), (r.n, r.unanswered), &r.items, &format!("region-{}", r.region_id), true))
                        (tally_chart(&format!("二次医療圏 {}", r.region_name), &r.items, true))
                    }
                }
            }
        }
        h2 { "市区町村 × 事業項目" }
        p.muted { "各セルは判定結果の文字と色で示します。セルを開くと、その判定の根拠となった記録が表示されます。" }
        (matrix(reply, view))
        p.noprint { a href={ "/download/table/matrix.csv?" (q) } download { "この表をCSVで保存" } }
    }
}

fn matrix(reply: &v1::TallyReply, view: &Resolved) -> Markup {
    html! {
        div.scroll {
            table.matrix #matrix {
                caption { "市区町村別の実施状況 " (year_label(reply.fiscal_year)) "（" (reply.as_of) "現在）" }
                thead {
                    tr {
                        th scope="col" { "市区町村" }
                        th scope="col" { "二次医療圏" }
                        @for (i, line) in reply.items.iter().enumerate() {
                            th scope="col" title=(line.label) { (ITEMS[i].1) }
                        }
                        th scope="col" { (ANSWERED) }
                        th scope="col" { "報告" }
                        th scope="col" { "提出" }
                    }
                }
                tbody {
                    @for row in &reply.municipalities {
                        tr data-municipality=(row.municipality) {
                            th scope="row" { (row.name) " " span.muted { (row.municipality) } }
                            td { (row.region) }
                            @for (i, s) in row.statuses.iter().enumerate() {
                                @if !row.answered {
                                    td.ans-none title={ (row.name) ": " (UNANSWERED) } { (UNANSWERED) }
                                } @else {
                                    @let k = answer_index(s);
                                    td class=(answer_class(k)) {
                                        a href={ "/status/evidence?m=" (row.municipality) "&item=" (ITEMS[i].0) "&fy=" (view.fy) "&as_of=" (view.as_of) }
                                          title={ (row.name) " " (reply.items.get(i).map_or("", |l| l.label.as_str())) ": " (s) } {
                                            (SHORT_ANSWERS[k])
                                        }
                                    }
                                }
                            }
                            td { (answered_label(row.answered)) }
                            td { (if row.reported { "有" } else { "無" }) }
                            td { (row.submission) }
                        }
                    }
                }
            }
        }
    }
}

/// Describes a record key such as `training/t1` in words.
fn describe(key: &str) -> String {
    let (kind, id) = key.split_once('/').unwrap_or((key, ""));
    let what = match kind {
        "resource_survey" => "資源調査",
        "resource_list" => "資源リスト・マップの公表",
        "meeting" => "会議",
        "arrangement" => "提供体制の取組",
        "tool" => "情報共有ツール",
        "form" | "unified_form" => "統一様式",
        "desk" => "相談窓口",
        "training" => "研修",
        "awareness" => "普及啓発",
        "wide_area_meeting" => "広域の会議",
        "liaison" | "liaison_agreement" => "入退院支援ルール",
        "plan" => "事業計画の予定",
        _ => kind,
    };
    if id.is_empty() {
        what.to_owned()
    } else {
        format!("{what} {id}")
    }
}

async fn evidence(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(query): Query<View>,
) -> Response {
    let view = query.resolve();
    let (fy, as_of, decided) = match console
        .survey()
        .decided(identity(&session), &query.m, view.fy, &view.as_of)
        .await
    {
        Ok(answer) => answer,
        Err(e) => return error_page(&console, &session, "/status", &e),
    };
    let name = query
        .m
        .parse()
        .ok()
        .and_then(official::municipality)
        .map_or_else(|| query.m.clone(), |e| e.name.to_owned());
    let labels = crate::survey::Item::ALL;
    let body = html! {
        p { a href={ "/status?" (view.query()) } { "← 実施状況に戻る" } }
        table #evidence {
            caption { (name) "（" (query.m) "） " (fy.wareki()) "（" (as_of) "現在）の判定と根拠" }
            thead { tr { th scope="col" { "事業項目" } th scope="col" { "判定" } th scope="col" { "根拠となった記録" } } }
            tbody {
                @for (i, (status, keys)) in decided.iter().enumerate() {
                    tr id={ "item-" (ITEMS[i].0) } aria-current=[(ITEMS[i].0 == query.item).then_some("true")] {
                        th scope="row" { @if ITEMS[i].0 == query.item { strong { (labels[i].national_label()) } } @else { (labels[i].national_label()) } }
                        td class=(answer_class(answer_index(status.label()))) { (status.label()) }
                        td {
                            @if keys.is_empty() {
                                span.muted { "なし（この年度・基準日までに該当する記録がありません）" }
                            } @else {
                                ul { @for k in keys { li { (describe(k)) " " code { (k) } } } }
                            }
                        }
                    }
                }
            }
        }
        p.muted { "根拠は市区町村ノードから同期された公表事実（個人情報を含まない）です。" }
    };
    console.page(&session, "/status", "判定の根拠", body)
}

/// The tally a view asks for (read as [`Console::consistency`] says), or the error page to
/// answer with.
async fn tally_of(
    console: &Console,
    session: &Session<Principal>,
    view: &Resolved,
    page: &str,
) -> Result<v1::TallyReply, Response> {
    console
        .survey()
        .tally(identity(session), view.tally_request(console.consistency()))
        .await
        .map_err(|e| error_page(console, session, page, &e))
}

/// The message a page shows after a write — what was done, or why not — and the HTTP status
/// of a refusal.
fn outcome<T>(
    result: &Result<T, FederationError>,
    done: impl FnOnce(&T) -> String,
) -> (Markup, Option<axum::http::StatusCode>) {
    match result {
        Ok(value) => (look::message("ok", &done(value)), None),
        Err(e) => (
            look::message("error", &error_text(e)),
            Some(super::http_status(e)),
        ),
    }
}

/// A page answered with the status of the write it reports, if that was refused.
fn with_status(mut response: Response, status: Option<axum::http::StatusCode>) -> Response {
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    response
}

/// The same month-day as `as_of` in fiscal year `fy` (29 February becomes the 28th).
fn same_day_in(fy: FiscalYear, as_of: NaiveDate) -> NaiveDate {
    let year = if as_of.month() >= 4 {
        i32::from(fy.year())
    } else {
        i32::from(fy.year()) + 1
    };
    NaiveDate::from_ymd_opt(year, as_of.month(), as_of.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, as_of.month(), 28))
        .unwrap_or_else(|| fy.last_day())
}

/// The fiscal years of the trend: up to five ending with the one asked for.
const TREND_YEARS: i32 = 5;

/// Each fiscal year's tally on the same 基準日 month-day.
async fn trend_tallies(
    console: &Console,
    session: &Session<Principal>,
    view: &Resolved,
) -> Result<Vec<v1::TallyReply>, FederationError> {
    let as_of = NaiveDate::parse_from_str(&view.as_of, "%Y-%m-%d").map_err(|_| {
        FederationError::InvalidArgument {
            field: "as_of",
            reason: format!("{:?} is not a date YYYY-MM-DD", view.as_of),
        }
    })?;
    let mut out = Vec::new();
    for fy in (view.fy - TREND_YEARS + 1).max(2015)..=view.fy {
        let Ok(year) = FiscalYear::new(i64::from(fy)) else {
            continue;
        };
        let mut request = view.tally_request(console.consistency());
        request.fiscal_year = fy;
        request.as_of = same_day_in(year, as_of).format("%Y-%m-%d").to_string();
        out.push(console.survey().tally(identity(session), request).await?);
    }
    Ok(out)
}

fn trend_chart(tallies: &[v1::TallyReply]) -> Markup {
    let x: Vec<String> = tallies.iter().map(|t| year_label(t.fiscal_year)).collect();
    let names: Vec<String> = (0..8)
        .map(|i| {
            tallies
                .first()
                .and_then(|t| t.items.get(i))
                .map_or_else(String::new, |l| l.label.clone())
        })
        .collect();
    let series: Vec<Series> = (0..8)
        .map(|i| Series {
            name: &names[i],
            values: tallies
                .iter()
                .map(|t| {
                    t.items
                        .get(i)
                        .and_then(|l| l.implemented_percent.parse().ok())
                })
                .collect(),
        })
        .collect();
    chart::percent_lines("実施している市区町村の割合の推移", &x, &series)
}

async fn trend(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(view): Query<View>,
) -> Response {
    let view = view.resolve();
    let tallies = match trend_tallies(&console, &session, &view).await {
        Ok(t) => t,
        Err(e) => return error_page(&console, &session, "/trend", &e),
    };
    let body = html! {
        (filters("/trend", &view, true))
        p.muted { "各年度とも同じ月日を基準日として集計した「実施している」の割合です。" }
        (trend_chart(&tallies))
        p.noprint { a href={ "/download/chart/trend.svg?" (view.query()) } download { "グラフをSVGで保存" } }
        div.scroll {
            table #trend {
                caption { "事業項目別「実施している」の割合（%）" }
                thead {
                    tr {
                        th scope="col" { "事業項目" }
                        @for t in &tallies { th scope="col" class="num" { (year_label(t.fiscal_year)) br; span.muted { (t.as_of) "現在 n=" (t.n) } } }
                    }
                }
                tbody {
                    @for i in 0..8 {
                        tr {
                            th scope="row" { (tallies.first().and_then(|t| t.items.get(i)).map_or("", |l| l.label.as_str())) }
                            @for t in &tallies {
                                td.num { @if let Some(l) = t.items.get(i) { (l.implemented_percent) "%（" (l.implemented) "）" } }
                            }
                        }
                    }
                }
            }
        }
    };
    console.page(&session, "/trend", "推移", body)
}

/// How many of a row's items are 実施している / 予定.
fn score(row: &v1::MunicipalityRowView) -> (usize, usize) {
    let done = row.statuses.iter().filter(|s| answer_index(s) == 0).count();
    let planned = row.statuses.iter().filter(|s| answer_index(s) == 1).count();
    (done, planned)
}

async fn compare(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(query): Query<View>,
) -> Response {
    let view = query.resolve();
    let reply = match tally_of(&console, &session, &view, "/compare").await {
        Ok(reply) => reply,
        Err(page) => return page,
    };
    let one = ITEMS.iter().position(|(code, _)| *code == query.item);
    let columns: Vec<usize> = match one {
        Some(i) => vec![i],
        None => (0..8).collect(),
    };
    let mut rows: Vec<&v1::MunicipalityRowView> = reply.municipalities.iter().collect();
    match query.sort.as_str() {
        "name" => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        "region" => {
            rows.sort_by(|a, b| (&a.region, &a.municipality).cmp(&(&b.region, &b.municipality)))
        }
        "score" => rows.sort_by_key(|r| {
            let (d, p) = score(r);
            (std::cmp::Reverse(d), std::cmp::Reverse(p))
        }),
        code if code.len() == 1 => {
            if let Some(i) = ITEMS.iter().position(|(c, _)| *c == code) {
                rows.sort_by_key(|r| r.statuses.get(i).map_or(2, |s| answer_index(s)));
            }
        }
        _ => rows.sort_by(|a, b| a.municipality.cmp(&b.municipality)),
    }
    let desc = query.desc.as_deref() == Some("1");
    if desc {
        rows.reverse();
    }
    let base = format!("/compare?{}&item={}", view.query(), query.item);
    let sort_link = |key: &str| {
        let flip = query.sort == key && !desc;
        format!("{base}&sort={key}{}", if flip { "&desc=1" } else { "" })
    };
    let sorted_by = |key: &str| -> &'static str {
        if query.sort == key {
            if desc { "descending" } else { "ascending" }
        } else {
            "none"
        }
    };
    let body = html! {
        form.filters method="get" action="/compare" {
            input type="hidden" name="fy" value=(view.fy);
            input type="hidden" name="as_of" value=(view.as_of);
            input type="hidden" name="source" value=(if view.submitted { "submitted" } else { "live" });
            label { "事業項目"
                select #item name="item" {
                    option value="" selected[one.is_none()] { "すべての項目" }
                    @for (i, (code, _)) in ITEMS.iter().enumerate() {
                        option value=(code) selected[one == Some(i)] { (reply.items.get(i).map_or("", |l| l.label.as_str())) }
                    }
                }
            }
            button type="submit" { "表示" }
        }
        (filters("/compare", &view, true))
        p.muted { "列見出しを選ぶと並べ替えます（もう一度選ぶと逆順）。" }
        div.scroll {
            table.matrix #compare {
                caption { "市区町村の比較 " (year_label(reply.fiscal_year)) "（" (reply.as_of) "現在）" }
                thead {
                    tr {
                        th scope="col" aria-sort=(sorted_by("code")) { a href=(sort_link("code")) { "コード" } }
                        th scope="col" aria-sort=(sorted_by("name")) { a href=(sort_link("name")) { "市区町村" } }
                        th scope="col" aria-sort=(sorted_by("region")) { a href=(sort_link("region")) { "二次医療圏" } }
                        @for &i in &columns {
                            th scope="col" aria-sort=(sorted_by(ITEMS[i].0)) title=(reply.items.get(i).map_or("", |l| l.label.as_str())) {
                                a href=(sort_link(ITEMS[i].0)) { (ITEMS[i].1) }
                            }
                        }
                        th scope="col" aria-sort=(sorted_by("score")) { a href=(sort_link("score")) { "実施／予定の項目数" } }
                    }
                }
                tbody {
                    @for row in &rows {
                        tr {
                            td { (row.municipality) }
                            th scope="row" { (row.name) }
                            td { (row.region) }
                            @for &i in &columns {
                                @let s = row.statuses.get(i).map_or("実施していない", String::as_str);
                                td class=(cell_class(s)) { (s) }
                            }
                            @let (d, p) = score(row);
                            td.num { (d) "／" (p) }
                        }
                    }
                }
            }
        }
    };
    console.page(&session, "/compare", "比較", body)
}

/// An instant in Japan time (JST, UTC+9), or a dash when there is none.
fn when(t: Option<&prost_types::Timestamp>) -> String {
    let jst = chrono::FixedOffset::east_opt(9 * 3600);
    match (t.and_then(timestamp_to_utc), jst) {
        (Some(t), Some(jst)) => t.with_timezone(&jst).format("%Y-%m-%d %H:%M").to_string(),
        (Some(t), None) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        (None, _) => "—".to_owned(),
    }
}

fn completeness_table(id: &str, caption: &str, entries: &[v1::CompletenessEntry]) -> Markup {
    html! {
        table id=(id) {
            caption { (caption) "（" (entries.len()) "）" }
            thead { tr {
                th scope="col" { "市区町村" } th scope="col" class="num" { "受理済みの事実" }
                th scope="col" { "最後の連絡（日本時間）" } th scope="col" { "最後のエラー" } th scope="col" { "提出" }
            } }
            tbody {
                @for e in entries {
                    tr {
                        th scope="row" { (e.name) " " span.muted { (e.municipality) } }
                        td.num { (e.acknowledged) }
                        td { (when(e.last_contact.as_ref())) }
                        td { (e.last_error) }
                        td { (e.submission) }
                    }
                }
                @if entries.is_empty() { tr { td colspan="5" { "なし" } } }
            }
        }
    }
}

async fn submissions_page(
    console: &Console,
    session: &Session<Principal>,
    view: &Resolved,
    message: Option<Markup>,
) -> Response {
    let since = Utc::now() - Duration::days(7);
    let completeness = console
        .survey()
        .completeness(
            identity(session),
            v1::GetCompletenessRequest {
                fiscal_year: view.fy,
                since: Some(utc_to_timestamp(since)),
            },
        )
        .await;
    let latest = console
        .survey()
        .latest_submissions(identity(session), view.fy)
        .await;
    let (completeness, latest) = match (completeness, latest) {
        (Ok(c), Ok(l)) => (c, l),
        (Err(e), _) | (_, Err(e)) => return error_page(console, session, "/submissions", &e),
    };
    let operator = session.principal.role >= Role::Operator;
    let names: BTreeMap<String, String> = official::municipalities_of(console.prefecture)
        .map(|e| (e.code.to_string(), e.name.to_owned()))
        .collect();
    let body = html! {
        @if let Some(m) = message { (m) }
        (filters("/submissions", view, false))
        div.grid2 {
            (completeness_table("never-reported", "一度も報告のない市区町村", &completeness.never_reported))
            (completeness_table("stale", "7日以上連絡のない市区町村", &completeness.stale))
            (completeness_table("sync-errors", "同期エラーのある市区町村", &completeness.with_errors))
            (completeness_table("not-submitted", "調査回答が未提出の市区町村", &completeness.not_submitted))
        }
        h2 { "提出された調査回答（" (year_label(view.fy)) "）" }
        @if !operator { p.muted { "承認・差戻しは担当者以上の権限で行えます。" } }
        div.scroll {
            table #submissions {
                caption { "提出された回答と審査" }
                thead { tr {
                    th scope="col" { "市区町村" } th scope="col" { "版" } th scope="col" { "基準日" }
                    @for (_, short) in ITEMS { th scope="col" { (short) } }
                    th scope="col" { "状態" } th scope="col" { "提出日時" }
                    @if operator { th scope="col" { "審査" } }
                } }
                tbody {
                    @for s in &latest {
                        tr data-municipality=(s.municipality) {
                            th scope="row" { (names.get(&s.municipality).map_or("", String::as_str)) " " span.muted { (s.municipality) } }
                            td.num { "第" (s.version) "版" }
                            td { (s.survey_date) }
                            @for st in &s.statuses { td class=(answer_class(answer_index(st))) { (SHORT_ANSWERS[answer_index(st)]) } }
                            td { (match s.state.as_str() { "approved" => "承認済", "returned" => "差戻し", _ => "審査待ち" })
                                 @if !s.comment.is_empty() { br; span.muted { (s.comment) } } }
                            td { (when(s.submitted_at.as_ref())) }
                            @if operator {
                                td {
                                    @if s.state == "submitted" {
                                        form.inline method="post" action="/submissions/review" {
                                            (csrf_field(&session.csrf))
                                            input type="hidden" name="fy" value=(view.fy);
                                            input type="hidden" name="municipality" value=(s.municipality);
                                            input type="hidden" name="version" value=(s.version);
                                            button type="submit" name="decision" value="approve" { "承認" }
                                            label { span.muted { "差戻し理由" } input type="text" name="comment" size="18"; }
                                            button.secondary type="submit" name="decision" value="return" { "差戻し" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if latest.is_empty() { tr { td colspan="14" { "この年度の提出はまだありません" } } }
                }
            }
        }
    };
    console.page(session, "/submissions", "提出・完了状況", body)
}

async fn submissions(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(view): Query<View>,
) -> Response {
    submissions_page(&console, &session, &view.resolve(), None).await
}

#[derive(Deserialize)]
struct ReviewForm {
    fy: i32,
    municipality: String,
    version: u32,
    decision: String,
    #[serde(default)]
    comment: String,
}

async fn review(
    State(console): State<Console>,
    CsrfForm(session, form): CsrfForm<Principal, ReviewForm>,
) -> Response {
    let approve = form.decision == "approve";
    let result = console
        .survey()
        .review(
            identity(&session),
            v1::ReviewSubmissionRequest {
                request_id: format!(
                    "web-review-{}",
                    renkei_proto::server::web::session::random_token()
                ),
                municipality: form.municipality.clone(),
                fiscal_year: form.fy,
                version: form.version,
                approve,
                comment: form.comment.clone(),
            },
        )
        .await;
    let view = View {
        fy: Some(form.fy),
        ..View::default()
    }
    .resolve();
    let (message, status) = outcome(&result, |s| {
        format!(
            "{} 第{}版を{}しました。",
            s.municipality,
            s.version,
            if approve { "承認" } else { "差し戻" }
        )
    });
    with_status(
        submissions_page(&console, &session, &view, Some(message)).await,
        status,
    )
}

fn role_name(role: &str) -> &'static str {
    match role {
        "active_role_medical_institution" => "在宅医療において積極的役割を担う医療機関",
        "liaison_base" => "在宅医療に必要な連携を担う拠点",
        _ => "（不明な役割）",
    }
}

async fn wide_area_page(
    console: &Console,
    session: &Session<Principal>,
    view: &Resolved,
    message: Option<Markup>,
) -> Response {
    let designations = console
        .survey()
        .designations(
            identity(session),
            v1::GetDesignationsRequest {
                fiscal_year: view.fy,
                as_of: view.as_of.clone(),
                region_kind: view.region_kind.clone(),
            },
        )
        .await;
    let wide = console
        .survey()
        .wide_area(
            identity(session),
            v1::GetWideAreaRequest {
                fiscal_year: view.fy,
                as_of: view.as_of.clone(),
            },
        )
        .await;
    let wide = match wide {
        Ok(w) => w,
        Err(e) => return error_page(console, session, "/wide-area", &e),
    };
    let operator = session.principal.role >= Role::Operator;
    let name_of = |code: &str| {
        code.parse()
            .ok()
            .and_then(official::municipality)
            .map_or_else(|| code.to_owned(), |e| e.name.to_owned())
    };
    let body = html! {
        @if let Some(m) = message { (m) }
        (filters("/wide-area", view, false))
        h2 { "在宅医療において積極的役割を担う医療機関・連携を担う拠点（圏域別）" }
        p.muted { "積極的役割を担う医療機関の候補は、各市区町村が登録した医療機関（医療機関コードで名寄せ、所在地の市町村で判定）から、①市町村内の在宅療養支援病院、②市町村内の在宅療養支援診療所（機能強化型を優先）、③同じ圏域の近隣市町村の在宅療養支援病院・診療所の順に選ばれます。連携を担う拠点の候補は、①相談窓口、②地域医師会・医療法人等関係団体、③市町村・地域包括支援センター、指針の挙げるその他の主体（病院・診療所・訪問看護事業所・保健所）です。理由欄が選定の規則です。" }
        @match &designations {
            Err(e) => { (look::message("note", &error_text(e))) }
            Ok(d) => {
                @for area in &d.areas {
                    section.area {
                        h3 { (area.region_name) "（" (area.region_id) "）" }
                        table {
                            caption { (area.region_name) ": 積極的役割を担う医療機関の候補" }
                            thead { tr { th scope="col" { "市町村" } th scope="col" { "候補" } th scope="col" { "医療機関コード" } th scope="col" { "選定の規則" } } }
                            tbody {
                                @for m in &area.active_role {
                                    @if m.candidates.is_empty() {
                                        tr { th scope="row" { (m.name) } td colspan="3" { "候補なし" } }
                                    }
                                    @for c in &m.candidates {
                                        tr { th scope="row" { (m.name) } td { (c.name) } td { (c.medical_institution_code) } td { (c.reason) } }
                                    }
                                }
                            }
                        }
                        table {
                            caption { (area.region_name) ": 連携を担う拠点の候補" }
                            thead { tr { th scope="col" { "候補" } th scope="col" { "市町村" } th scope="col" { "理由" } } }
                            tbody {
                                @for c in &area.liaison_bases { tr { th scope="row" { (c.name) } td { (name_of(&c.municipality)) } td { (c.reason) } } }
                                @if area.liaison_bases.is_empty() { tr { td colspan="3" { "候補なし" } } }
                            }
                        }
                        table {
                            caption { (area.region_name) ": 指定（決定済み）" }
                            thead { tr { th scope="col" { "役割" } th scope="col" { "医療機関・拠点" } th scope="col" { "医療機関コード" } th scope="col" { "決定日" } } }
                            tbody {
                                @for dd in &area.decisions { tr { th scope="row" { (role_name(&dd.role)) } td { (dd.institution_name) } td { (dd.medical_institution_code) } td { (dd.decided_on) } } }
                                @if area.decisions.is_empty() { tr { td colspan="4" { "未指定" } } }
                            }
                        }
                        @if !area.gaps.is_empty() || !area.neighbour_only.is_empty() {
                            div.msg.note role="status" {
                                strong { "不足（ギャップ）: " }
                                (area.gaps.join("／"))
                                @if !area.neighbour_only.is_empty() {
                                    " 市町村内に在宅療養支援病院・診療所がなく近隣頼み（③）: "
                                    (area.neighbour_only.iter().map(|c| name_of(c)).collect::<Vec<_>>().join("・"))
                                }
                            }
                        }
                        @if operator {
                            form.record method="post" action="/wide-area/designation" aria-label={ (area.region_name) "の指定を記録" } {
                                (csrf_field(&session.csrf))
                                input type="hidden" name="fy" value=(view.fy);
                                input type="hidden" name="as_of" value=(view.as_of);
                                input type="hidden" name="area" value=(area.region_id);
                                input type="hidden" name="region_kind" value=(view.region_kind);
                                label { "役割" select name="role" {
                                    option value="active_role_medical_institution" { "積極的役割を担う医療機関" }
                                    option value="liaison_base" { "連携を担う拠点" }
                                } }
                                label { "医療機関・拠点の名称" input type="text" name="institution_name" required; }
                                label { "医療機関コード（10桁、ある場合）" input type="text" name="medical_institution_code" inputmode="numeric"; }
                                label { "決定日" input type="date" name="decided_on" required; }
                                button type="submit" { "指定を記録" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "統一様式と採用状況" }
        table #forms {
            caption { "統一様式（最新版）と採用市区町村" }
            thead { tr { th scope="col" { "様式" } th scope="col" { "版" } th scope="col" { "適用開始" } th scope="col" class="num" { "採用率（県）" } th scope="col" { "圏域別（採用/市町村数）" } th scope="col" { "採用市区町村（版ごと）" } } }
            tbody {
                @for f in &wide.forms {
                    tr { th scope="row" { (f.name) } td { (f.version) } td { (f.effective_from) } td.num { (f.prefecture_percent) "%" }
                         td { (f.by_region.join("、")) }
                         td {
                             @for v in &f.versions {
                                 div.version {
                                     (v.version) @if !v.published { "（県未公表の版）" } ": "
                                     (v.adopters.iter().map(|c| name_of(c)).collect::<Vec<_>>().join("・"))
                                 }
                             }
                         } }
                }
                @if wide.forms.is_empty() { tr { td colspan="6" { "公表された統一様式はありません" } } }
            }
        }
        @if !wide.unpublished.is_empty() {
            table #unpublished-forms {
                caption { "県が公表していない様式を採用している市区町村（採用率に含めない）" }
                thead { tr { th scope="col" { "市区町村" } th scope="col" { "様式" } th scope="col" { "版" } } }
                tbody {
                    @for u in &wide.unpublished {
                        tr { th scope="row" { (name_of(&u.municipality)) } td { (u.name) "（" (u.form_id) "）" } td { (u.version) } }
                    }
                }
            }
        }
        h2 { "入退院支援ルール（連携の取り決め）" }
        table #liaison {
            caption { "病院ごとの参加市区町村と窓口" }
            thead { tr { th scope="col" { "病院" } th scope="col" { "市区町村" } th scope="col" { "ルール版" } th scope="col" class="num" { "連絡の目安（日前）" } th scope="col" { "病院の窓口" } th scope="col" { "期間" } th scope="col" class="num" { "この取り決めによる相談件数" } } }
            tbody {
                @for a in &wide.liaison {
                    @for m in &a.members {
                        tr { th scope="row" {
                                 @if a.hospital_name.is_empty() { (a.hospital) " " small { "（医療機関の登録なし）" } }
                                 @else { (a.hospital_name) " " small { "（" (a.hospital) "）" } } }
                             td { (name_of(&m.municipality)) } td { (m.rule_version) } td.num { (m.notification_lead_days) }
                             td { (m.contact_point) } td { (m.from) "〜" (m.until) } td.num { (m.cases) } }
                    }
                }
                @if wide.liaison.is_empty() { tr { td colspan="7" { "この日に有効な取り決めはありません" } } }
            }
        }
        h2 { "広域の会議" }
        table #meetings {
            caption { "都道府県・保健所が開催した広域の会議（" (year_label(view.fy)) "）" }
            thead { tr { th scope="col" { "開催日" } th scope="col" { "会議" } th scope="col" { "開催者" } th scope="col" { "圏域" } th scope="col" { "参加市区町村" } } }
            tbody {
                @for m in &wide.meetings {
                    tr { td { (m.on) } th scope="row" { (m.title) } td { (if m.held_by == "health_center" { "保健所" } else { "都道府県" }) }
                         td { (m.region) } td { (m.municipalities.iter().map(|c| name_of(c)).collect::<Vec<_>>().join("・")) } }
                }
                @if wide.meetings.is_empty() { tr { td colspan="5" { "この年度の記録はありません" } } }
            }
        }
        @if operator {
            form.record #record-meeting method="post" action="/wide-area/meeting" aria-label="広域の会議を記録" {
                (csrf_field(&session.csrf))
                input type="hidden" name="fy" value=(view.fy);
                input type="hidden" name="as_of" value=(view.as_of);
                label { "会議のID（例: wam-2024-01）" input type="text" name="id" required; }
                label { "会議名" input type="text" name="title" required; }
                label { "開催者" select name="held_by" { option value="prefecture" { "都道府県" } option value="health_center" { "保健所" } } }
                label { "圏域" input type="text" name="region"; }
                label { "開催日" input type="date" name="on" required; }
                label { "参加市区町村（コードをカンマ区切り）" input type="text" name="municipalities" required; }
                button type="submit" { "会議を記録" }
            }
        }
    };
    console.page(session, "/wide-area", "（ク）広域連携", body)
}

async fn wide_area(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(view): Query<View>,
) -> Response {
    wide_area_page(&console, &session, &view.resolve(), None).await
}

#[derive(Deserialize)]
struct DesignationForm {
    fy: i32,
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    region_kind: String,
    area: String,
    role: String,
    institution_name: String,
    #[serde(default)]
    medical_institution_code: String,
    decided_on: String,
}

async fn record_designation(
    State(console): State<Console>,
    CsrfForm(session, form): CsrfForm<Principal, DesignationForm>,
) -> Response {
    let result = console
        .federation
        .publish(
            identity(&session),
            v1::PublishDownRequest {
                request_id: format!(
                    "web-designation-{}",
                    renkei_proto::server::web::session::random_token()
                ),
                item: Some(v1::DownItem {
                    cursor: 0,
                    published_at: None,
                    municipalities: Vec::new(),
                    kind: Some(v1::DownItemKind::Designation(v1::Designation {
                        role: form.role.clone(),
                        area: form.area.clone(),
                        institution_name: form.institution_name.trim().to_owned(),
                        medical_institution_code: form.medical_institution_code.trim().to_owned(),
                        decided_on: form.decided_on.clone(),
                    })),
                }),
            },
        )
        .await;
    let view = View {
        fy: Some(form.fy),
        as_of: Some(form.as_of),
        region_kind: form.region_kind.clone(),
        ..View::default()
    }
    .resolve();
    let (message, status) = outcome(&result, |_| {
        format!(
            "{}（{}）を{}として記録しました。",
            form.institution_name.trim(),
            form.area,
            role_name(&form.role)
        )
    });
    with_status(
        wide_area_page(&console, &session, &view, Some(message)).await,
        status,
    )
}

#[derive(Deserialize)]
struct MeetingForm {
    fy: i32,
    #[serde(default)]
    as_of: String,
    id: String,
    title: String,
    held_by: String,
    #[serde(default)]
    region: String,
    on: String,
    municipalities: String,
}

async fn record_meeting(
    State(console): State<Console>,
    CsrfForm(session, form): CsrfForm<Principal, MeetingForm>,
) -> Response {
    let result = console
        .survey()
        .record_meeting(
            identity(&session),
            v1::RecordWideAreaMeetingRequest {
                request_id: format!(
                    "web-meeting-{}",
                    renkei_proto::server::web::session::random_token()
                ),
                id: form.id.trim().to_owned(),
                title: form.title.trim().to_owned(),
                held_by: form.held_by.clone(),
                region: form.region.trim().to_owned(),
                on: form.on.clone(),
                municipalities: form
                    .municipalities
                    .split([',', '、', ' '])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
        )
        .await;
    let view = View {
        fy: Some(form.fy),
        as_of: Some(form.as_of),
        ..View::default()
    }
    .resolve();
    let (message, status) = outcome(&result, |m| {
        format!("会議「{}」（{}）を記録しました。", m.title, m.on)
    });
    with_status(
        wide_area_page(&console, &session, &view, Some(message)).await,
        status,
    )
}

async fn cluster(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
) -> Response {
    let status = cluster_status(&console.raft.metrics().borrow());
    let sync = match console
        .federation
        .sync_state(identity(&session), v1::GetSyncStateRequest::default())
    {
        Ok(s) => s,
        Err(e) => return error_page(&console, &session, "/cluster", &e),
    };
    let names: BTreeMap<String, String> = official::municipalities_of(console.prefecture)
        .map(|e| (e.code.to_string(), e.name.to_owned()))
        .collect();
    let state_ja = |s: &str| match s {
        "Leader" => "リーダー",
        "Follower" => "フォロワー",
        "Candidate" => "候補",
        "Learner" => "ラーナー",
        _ => "停止中",
    };
    let body = html! {
        dl.facts #cluster-status {
            dt { "このレプリカ" } dd { "レプリカ " (status.node_id) "（" (state_ja(&status.state)) "）" }
            dt { "リーダー" } dd { @if status.leader_id == 0 { "不明" } @else { "レプリカ " (status.leader_id) "（" (status.leader_address) "）" } }
            dt { "任期（term）" } dd { (status.term) }
            dt { "ログの最終位置" } dd { (status.last_log_index) }
            dt { "反映済みの位置" } dd #applied { (status.applied_index) }
            dt { "スナップショット" } dd { (status.snapshot_index) }
        }
        table #members {
            caption { "クラスタの構成" }
            thead { tr { th scope="col" { "レプリカ" } th scope="col" { "アドレス" } th scope="col" { "種別" } } }
            tbody {
                @for m in &status.voters { tr { th scope="row" { (m.node_id) } td { (m.address) } td { "投票メンバー" @if m.node_id == status.leader_id { "（リーダー）" } } } }
                @for m in &status.learners { tr { th scope="row" { (m.node_id) } td { (m.address) } td { "ラーナー" } } }
            }
        }
        p.muted { "同期の状態はこのレプリカが受けた通信から見たものです（受理済みの番号は全レプリカで共通）。" }
        div.scroll {
            table #sync {
                caption { "市区町村ごとの同期の遅れ" }
                thead { tr { th scope="col" { "市区町村" } th scope="col" class="num" { "ノードの事実数" } th scope="col" class="num" { "受理済み" }
                             th scope="col" class="num" { "遅れ（件）" } th scope="col" class="num" { "遅れ（秒）" } th scope="col" { "最後の成功" } th scope="col" { "最後のエラー" } } }
                tbody {
                    @for m in &sync.municipalities {
                        tr { th scope="row" { (names.get(&m.municipality).map_or("", String::as_str)) " " span.muted { (m.municipality) } }
                             td.num { (m.produced) } td.num { (m.acknowledged) } td.num { (m.lag_facts) } td.num { (format!("{:.1}", m.lag_seconds)) }
                             td { (when(m.last_success.as_ref())) } td { (m.last_error) } }
                    }
                }
            }
        }
    };
    console.page(&session, "/cluster", "クラスタ", body)
}

/// The exports `ExportSurvey` offers, as the downloads page lists them.
const EXPORTS: [(&str, &str); 5] = [
    ("xlsx", "Excel ブック（XLSX）"),
    ("summary", "集計表 CSV（UTF-8 BOM付き）"),
    ("summary-sjis", "集計表 CSV（Shift_JIS）"),
    ("detail", "市区町村別 CSV（UTF-8 BOM付き）"),
    ("json", "全国集計用 JSON（署名付き）"),
];

async fn downloads(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(view): Query<View>,
) -> Response {
    let view = view.resolve();
    let q = view.query();
    let body = html! {
        (filters("/downloads", &view, true))
        h2 { "調査の出力（" (year_label(view.fy)) " " (view.as_of) "現在）" }
        ul #exports {
            @for (format, label) in EXPORTS {
                li { a href={ "/download/export?format=" (format) "&" (q) } download { (label) } }
                @if format == "detail" {
                    li { a href={ "/download/export?format=detail-sjis&" (q) } download { "市区町村別 CSV（Shift_JIS）" } }
                }
            }
        }
        h2 { "グラフ（SVG）" }
        ul {
            li { a href={ "/download/chart/status.svg?" (q) } download { "実施状況の積み上げ棒グラフ" } }
            li { a href={ "/download/chart/trend.svg?" (q) } download { "推移の折れ線グラフ" } }
        }
        h2 { "表（CSV）" }
        ul {
            li { a href={ "/download/table/status.csv?" (q) } download { "実施状況の集計表" } }
            li { a href={ "/download/table/matrix.csv?" (q) } download { "市区町村 × 事業項目" } }
        }
        p.muted { "PNG が必要な場合は、SVG をブラウザで開いて画像として保存するか、印刷機能で PDF にしてください。" }
    };
    console.page(&session, "/downloads", "ダウンロード", body)
}

/// A download: `bytes` as an attachment named `name`, never cached.
pub(super) fn attachment(name: &str, content_type: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

async fn download_export(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(query): Query<View>,
) -> Response {
    let view = query.resolve();
    let (format, shift_jis, content_type) = match query.format.as_str() {
        "xlsx" => (
            v1::ExportFormat::Xlsx,
            false,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        "summary" => (
            v1::ExportFormat::SummaryCsv,
            false,
            "text/csv; charset=utf-8",
        ),
        "summary-sjis" => (
            v1::ExportFormat::SummaryCsv,
            true,
            "text/csv; charset=shift_jis",
        ),
        "detail" => (
            v1::ExportFormat::DetailCsv,
            false,
            "text/csv; charset=utf-8",
        ),
        "detail-sjis" => (
            v1::ExportFormat::DetailCsv,
            true,
            "text/csv; charset=shift_jis",
        ),
        "json" => (v1::ExportFormat::Json, false, "application/json"),
        other => {
            let e = FederationError::InvalidArgument {
                field: "format",
                reason: format!(
                    "{other:?} is not one of xlsx, summary, summary-sjis, detail, detail-sjis, json"
                ),
            };
            return error_page(&console, &session, "/downloads", &e);
        }
    };
    match console
        .survey()
        .export(
            identity(&session),
            v1::ExportSurveyRequest {
                tally: Some(view.tally_request(console.consistency())),
                format: format as i32,
                shift_jis,
            },
        )
        .await
    {
        Ok(reply) => {
            let name = if shift_jis {
                reply.file_name.replace(".csv", "_sjis.csv")
            } else {
                reply.file_name
            };
            attachment(&name, content_type, reply.content)
        }
        Err(e) => error_page(&console, &session, "/downloads", &e),
    }
}

async fn download_status_chart(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(view): Query<View>,
) -> Response {
    let view = view.resolve();
    match tally_of(&console, &session, &view, "/downloads").await {
        Ok(reply) => attachment(
            &format!("status_{}_{}.svg", reply.prefecture, reply.fiscal_year),
            "image/svg+xml",
            tally_chart(&tally_caption(&reply), &reply.items, false)
                .into_string()
                .into_bytes(),
        ),
        Err(page) => page,
    }
}

async fn download_trend_chart(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(view): Query<View>,
) -> Response {
    let view = view.resolve();
    match trend_tallies(&console, &session, &view).await {
        Ok(tallies) => attachment(
            &format!("trend_{}_{}.svg", console.prefecture, view.fy),
            "image/svg+xml",
            trend_chart(&tallies).into_string().into_bytes(),
        ),
        Err(e) => error_page(&console, &session, "/downloads", &e),
    }
}

/// A CSV table in UTF-8 with a byte-order mark, as Excel on Japanese Windows opens it.
fn csv_bytes(rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer("\u{feff}".as_bytes().to_vec());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(row);
    }
    writer.into_inner().unwrap_or_default()
}

async fn download_status_table(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(view): Query<View>,
) -> Response {
    let view = view.resolve();
    let reply = match tally_of(&console, &session, &view, "/downloads").await {
        Ok(reply) => reply,
        Err(page) => return page,
    };
    let mut rows = vec![
        vec![
            tally_caption(&reply),
            format!("n={}", reply.n),
            format!("未回答={}", reply.unanswered),
        ],
        vec![
            "事業項目".into(),
            "実施している".into(),
            "割合(%)".into(),
            "年度内に実施予定".into(),
            "割合(%)".into(),
            "実施していない".into(),
            "割合(%)".into(),
        ],
    ];
    for l in &reply.items {
        rows.push(vec![
            l.label.clone(),
            l.implemented.to_string(),
            l.implemented_percent.clone(),
            l.planned.to_string(),
            l.planned_percent.clone(),
            l.not_implemented.to_string(),
            l.not_implemented_percent.clone(),
        ]);
    }
    attachment(
        &format!("status_{}_{}.csv", reply.prefecture, reply.fiscal_year),
        "text/csv; charset=utf-8",
        csv_bytes(rows),
    )
}

async fn download_matrix_table(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(view): Query<View>,
) -> Response {
    let view = view.resolve();
    let reply = match tally_of(&console, &session, &view, "/downloads").await {
        Ok(reply) => reply,
        Err(page) => return page,
    };
    let mut header = vec![
        "市区町村コード".to_owned(),
        "市区町村".into(),
        "二次医療圏".into(),
    ];
    header.extend(reply.items.iter().map(|l| l.label.clone()));
    header.extend([ANSWERED.to_owned(), "報告".to_owned(), "提出".to_owned()]);
    let mut rows = vec![header];
    for r in &reply.municipalities {
        let mut row = vec![r.municipality.clone(), r.name.clone(), r.region.clone()];
        row.extend(r.statuses.iter().cloned());
        row.push(answered_label(r.answered).to_owned());
        row.push(if r.reported { "有" } else { "無" }.to_owned());
        row.push(r.submission.clone());
        rows.push(row);
    }
    attachment(
        &format!("matrix_{}_{}.csv", reply.prefecture, reply.fiscal_year),
        "text/csv; charset=utf-8",
        csv_bytes(rows),
    )
}

/// Renders the 実施状況 page's content for a tally reply, as the page does after its
/// `GetTally` (for the console benchmark).
pub fn render_status(reply: &v1::TallyReply, submitted: bool) -> String {
    let view = Resolved {
        fy: reply.fiscal_year,
        as_of: reply.as_of.clone(),
        submitted,
        region_kind: String::new(),
    };
    status_body(reply, &view).into_string()
}
