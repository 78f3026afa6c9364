//! The workspace's reading pages: 実施状況 (the eight statuses with their evidence and what is
//! missing), 事業計画 (planned vs done), 記録一覧 (who recorded what and when), 県との同期, 住民向け
//! 一覧 (list, map, CSV) and 相談事例 (personal details for operators, each view logged; erasure).
//! Each handler calls the programme once per figure it shows and renders the answer.

use std::fmt::Write;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Duration, NaiveDate, Utc};
use maud::{Markup, PreEscaped, html};
use renkei_proto::{FiscalYear, MunicipalityCode};
use serde::Deserialize;

use super::{Principal, Workspace, error_page, municipality_name, unknown_municipality};
use crate::access::StaffRole;
use crate::domain::resources::{Audience, RegisteredResource};
use crate::domain::status::SurveyStatus;
use crate::domain::values::{CareScene, CaseId, Item, ResourceId};
use crate::programme::ProgrammeError;
use crate::web::look::{self, answer_class, csrf_field};
use crate::web::session::Session;
use crate::web::{CsrfForm, SignedIn};
use renkei_proto::programme::cycle::{CycleRecords, Evaluation, PlanPeriod};
use renkei_proto::programme::framework::{Framework, StatutoryGroup};

/// Today in Japan.
fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(9)).date_naive()
}

/// What a status or plan page's query may say.
#[derive(Debug, Default, Deserialize)]
pub(super) struct View {
    fy: Option<u32>,
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    register: String,
    #[serde(default)]
    id: String,
    /// The records page's first position (`/records?from=…`); absent: from the start.
    from: Option<u64>,
}

impl View {
    /// The fiscal year and 基準日 shown: the current year and today unless asked.
    fn resolve(&self) -> (FiscalYear, NaiveDate) {
        let today = today();
        let fy = self
            .fy
            .and_then(|y| FiscalYear::new(i64::from(y)).ok())
            .or_else(|| FiscalYear::containing(today).ok())
            // 2024 is a valid fiscal year.
            .unwrap_or_else(|| FiscalYear::new(2024).expect("a valid fiscal year"));
        // A date of another fiscal year (left from a previous view) gives way to the default.
        let as_of = NaiveDate::parse_from_str(&self.as_of, "%Y-%m-%d")
            .ok()
            .filter(|d| fy.contains(*d))
            .unwrap_or_else(|| {
                if fy.contains(today) {
                    today
                } else {
                    fy.last_day()
                }
            });
        (fy, as_of)
    }
}

/// What makes an item 実施している (the survey's rule, in the clerk's words).
fn qualifying(item: Item) -> &'static str {
    match item {
        Item::A => "年度内に資源調査を行うか、資源リスト・マップを公表する",
        Item::I => "年度内に会議を開き、課題または対応策を1件以上記録する",
        Item::U => {
            "年度内のいずれかの日に提供体制（主治医・副主治医制、急変時診療医療機関など）が有効である"
        }
        Item::E => {
            "年度内のいずれかの日に情報共有ツールを利用している、または年度内に作成・改訂する"
        }
        Item::O => "年度内のいずれかの日に相談窓口が開いている",
        Item::Ka => "年度内に研修を開催する",
        Item::Ki => "年度内に普及啓発の活動を行う、または資料を配布する",
        Item::Ku => {
            "年度内に広域の会議に参加する、または統一様式を採用している・入退院支援ルールに参加している"
        }
    }
}

fn status_index(s: SurveyStatus) -> usize {
    match s {
        SurveyStatus::Implemented => 0,
        SurveyStatus::Planned => 1,
        SurveyStatus::NotImplemented => 2,
    }
}

fn year_label(fy: FiscalYear) -> String {
    format!("{}（{}年度）", fy.wareki(), fy.year())
}

/// The fiscal-year select box (FY2015 to the current year), `fy` chosen.
fn year_select(fy: FiscalYear) -> Markup {
    let last = FiscalYear::containing(today()).map_or(2026, |f| f.year());
    html! {
        label { "年度"
            select #fy name="fy" {
                @for y in (2015..=last.max(fy.year())).rev() {
                    @if let Ok(f) = FiscalYear::new(i64::from(y)) {
                        option value=(y) selected[y == fy.year()] { (year_label(f)) }
                    }
                }
            }
        }
    }
}

fn filters(action: &str, fy: FiscalYear, as_of: NaiveDate) -> Markup {
    html! {
        form.filters method="get" action=(action) {
            (year_select(fy))
            label { "基準日" input #as_of type="date" name="as_of" value=(as_of.format("%Y-%m-%d")); }
            button #apply type="submit" { "表示" }
        }
    }
}

async fn status(
    State(ws): State<Workspace>,
    SignedIn(session): SignedIn<Principal>,
    Path(code): Path<String>,
    Query(view): Query<View>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    let (fy, as_of) = view.resolve();
    let items = match ws.read(move |p| p.status(m, fy, as_of, None)).await {
        Ok(items) => items,
        Err(e) => return error_page(&ws, &session, m, "status", &e),
    };
    // From FY2020 the same statuses are also read in the four statutory groups.
    let groups: Vec<(StatutoryGroup, SurveyStatus)> =
        if Framework::of(fy) == Some(Framework::Pdca2020) {
            let mut statuses = [SurveyStatus::NotImplemented; 8];
            for s in &items {
                statuses[s.item.index()] = s.status;
            }
            StatutoryGroup::ALL
                .iter()
                .map(|g| (*g, g.status(&statuses)))
                .collect()
        } else {
            Vec::new()
        };
    let body = html! {
        (filters(&format!("/m/{m}/status"), fy, as_of))
        div.scroll {
            table #status {
                caption { (municipality_name(m)) " " (year_label(fy)) " 基準日 " (as_of) " の実施状況" }
                thead {
                    tr {
                        th scope="col" { "事業項目" }
                        th scope="col" { "実施状況" }
                        th scope="col" { "根拠となる記録" }
                        th scope="col" { "実施しているには" }
                    }
                }
                tbody {
                    @for s in &items {
                        tr id=(format!("item-{}", s.item.code())) {
                            th scope="row" { (s.item.label()) }
                            td { span class=(format!("ans {}", answer_class(status_index(s.status)))) { (s.status.label()) } }
                            td.evidence {
                                @if s.evidence.is_empty() { "（なし）" }
                                @else {
                                    ul { @for e in &s.evidence { li { code { (e) } } } }
                                    @if s.evidence_count > s.evidence.len() {
                                        p { "ほか " (s.evidence_count - s.evidence.len()) " 件（計 " (s.evidence_count) " 件）" }
                                    }
                                }
                            }
                            td.missing {
                                @if s.status == SurveyStatus::Implemented { "—（要件を満たしています）" }
                                @else { "未達: " (qualifying(s.item)) }
                            }
                        }
                    }
                }
            }
        }
        @if !groups.is_empty() {
            div.scroll {
                table #groups {
                    caption { "施行規則 第140条の62の8 の区分（令和2年度〜）" }
                    thead { tr {
                        th scope="col" { "区分" }
                        th scope="col" { "実施状況" }
                        th scope="col" { "含む事業項目" }
                    } }
                    tbody {
                        @for (g, st) in &groups {
                            @let st = *st;
                            tr id=(format!("group-{}", g.numeral())) {
                                th scope="row" { (g.label()) }
                                td { span class=(format!("ans {}", answer_class(status_index(st)))) { (st.label()) } }
                                td { @for (i, item) in g.items().iter().enumerate() { @if i > 0 { "、" } (item.short_label()) } }
                            }
                        }
                    }
                }
            }
        }
        (look::explanation("判定のしかた", &[
            "実施している: 年度の初日から基準日までに、その項目の要件を満たす活動が記録されている。",
            "年度内に実施予定: まだ実施していないが、基準日までに決めた年度の事業計画に、基準日より後の日の活動が予定されている。",
            "実施していない: そのどちらでもない。",
            "状況は記録から導いたもので、入力された回答ではありません。根拠の欄は判定に使った記録（登録簿/記録番号）です。",
        ]))
    };
    ws.page(&session, m, "status", "実施状況", body)
}

async fn plan(
    State(ws): State<Workspace>,
    SignedIn(session): SignedIn<Principal>,
    Path(code): Path<String>,
    Query(view): Query<View>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    let (fy, as_of) = view.resolve();
    let (plan, items, scenes, cycle) = match ws
        .read(move |p| {
            Ok((
                p.plan(m, fy)?,
                p.status(m, fy, as_of, None)?,
                p.plan_by_scene(m, fy, as_of)?,
                p.cycle(m)?,
            ))
        })
        .await
    {
        Ok(x) => x,
        Err(e) => return error_page(&ws, &session, m, "plan", &e),
    };
    let body = html! {
        (filters(&format!("/m/{m}/plan"), fy, as_of))
        p { a href=(format!("/m/{m}/record/plan")) { "予定・評価指標・目指す姿・評価を記録する" } }
        (cycle_section(&cycle, fy))
        div.scroll {
            table #plan-summary {
                caption { (year_label(fy)) " 事業計画と実施（基準日 " (as_of) "）" }
                thead { tr {
                    th scope="col" { "事業項目" }
                    th scope="col" { "予定" }
                    th scope="col" { "実施" }
                    th scope="col" { "期日を過ぎた未実施の予定" }
                    th scope="col" { "実施状況" }
                } }
                tbody {
                    @for s in &items {
                        @let planned: Vec<_> = plan.activities.values().filter(|a| a.item == s.item && a.cancelled_on.is_none()).collect();
                        @let done = s.status == SurveyStatus::Implemented;
                        @let overdue = if done { 0 } else { planned.iter().filter(|a| a.scheduled_on < as_of).count() };
                        tr id=(format!("plan-{}", s.item.code())) {
                            th scope="row" { (s.item.label()) }
                            td.num { (planned.len()) }
                            td.num { (if done { s.evidence_count } else { 0 }) }
                            td.num { @if overdue > 0 { strong { (overdue) "（遅れ）" } } @else { "0" } }
                            td { span class=(format!("ans {}", answer_class(status_index(s.status)))) { (s.status.label()) } }
                        }
                    }
                }
            }
        }
        div.scroll {
            table #plan-scenes {
                caption { "場面ごとの予定と実施（基準日 " (as_of) "）" }
                thead { tr {
                    th scope="col" { "場面" }
                    th scope="col" { "予定" }
                    th scope="col" { "実施した記録" }
                    th scope="col" { "期日を過ぎた未実施の予定" }
                } }
                tbody {
                    @for s in &scenes {
                        tr id=(format!("scene-{}", s.scene.code())) {
                            th scope="row" { (s.scene.label()) }
                            td.num { (s.planned.len()) }
                            td {
                                (s.done.len()) "件"
                                @for (i, d) in s.done.iter().enumerate() {
                                    (if i == 0 { "：" } else { "、" })
                                    (d.item.label()) " " (record_kind(&d.kind)) " " (d.on)
                                }
                            }
                            td {
                                @if s.overdue.is_empty() { "なし" } @else {
                                    strong { (s.overdue.len()) "件（遅れ）" }
                                    " "
                                    @for id in &s.overdue { code { (id) } " " }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.scroll {
            table #activities {
                caption { "予定した活動" }
                thead { tr {
                    th scope="col" { "記録番号" } th scope="col" { "事業項目" } th scope="col" { "内容" }
                    th scope="col" { "場面" } th scope="col" { "評価指標" } th scope="col" { "予定日" } th scope="col" { "担当" } th scope="col" { "委託先" } th scope="col" { "計画決定日" } th scope="col" { "取消" }
                } }
                tbody {
                    @for (id, a) in &plan.activities {
                        tr {
                            td { code { (id) } } td { (a.item.label()) } td { (a.what) }
                            td { @for (i, sc) in a.scenes.iter().enumerate() { @if i > 0 { "、" } (sc.label()) } }
                            td {
                                @for (n, i) in a.indicators.iter().enumerate() {
                                    @if n > 0 { "、" }
                                    (plan.indicators.get(i).map_or(i.as_str(), |d| d.name.as_str()))
                                }
                            }
                            td { (a.scheduled_on) }
                            td { (a.owner) } td { (a.delegated_to.as_deref().unwrap_or("")) } td { (a.planned_on) }
                            td { @if let Some(c) = a.cancelled_on { (c) } }
                        }
                    }
                }
            }
        }
        div.scroll {
            table #indicators {
                caption { "評価指標" }
                thead { tr {
                    th scope="col" { "記録番号" } th scope="col" { "種類" } th scope="col" { "場面" } th scope="col" { "指標" }
                    th scope="col" { "基準値" } th scope="col" { "目標" } th scope="col" { "最新の測定値" }
                } }
                tbody {
                    @for (id, i) in &plan.indicators {
                        tr {
                            td { code { (id) } } td { (i.kind.label()) }
                            td { (i.scene.map(|s| s.label()).unwrap_or("—")) } td { (i.name) }
                            td.num { @if let Some(b) = i.baseline { (b) " " (i.unit) } @else { "—" } }
                            td.num { (i.target) " " (i.unit) }
                            td.num { @if let Some((on, v)) = i.measurements.iter().next_back() { (v) " " (i.unit) "（" (on) "）" } @else { "未測定" } }
                        }
                    }
                }
            }
        }
    };
    ws.page(&session, m, "plan", "事業計画", body)
}

/// The fiscal year's PDCA cycle: the step reached, the period's goals (目指す姿) per scene, and the
/// evaluations of the year and of the year before (whose improvements are this year's plan).
fn cycle_section(cycle: &CycleRecords, fy: FiscalYear) -> Markup {
    let goals = cycle.goals_for(fy);
    let this_year = cycle.evaluations_of(fy);
    let last = fy.previous();
    let last_year = last.map(|y| cycle.evaluations_of(y)).unwrap_or_default();
    let step = cycle.step(fy);
    html! {
        section #cycle {
            h2 { "PDCAサイクル" }
            p {
                (Framework::of(fy).map(|f| f.label()).unwrap_or("（事業開始前）"))
                @if let Some(p) = PlanPeriod::of(fy) { " / " (p.to_string()) }
                " / 到達した段階: " strong #cycle-step { (step.label()) }
            }
            div.scroll {
                table #cycle-goals {
                    caption { "場面ごとの目指す姿と評価" }
                    thead { tr {
                        th scope="col" { "場面" }
                        th scope="col" { "目指す姿" }
                        th scope="col" { "前年度の評価と改善（今年度の計画へ）" }
                        th scope="col" { "今年度の評価" }
                    } }
                    tbody {
                        @for scene in CareScene::FOUR {
                            tr id=(format!("goal-{}", scene.code())) {
                                th scope="row" { (scene.label()) }
                                td { @if let Some(g) = goals.get(&scene) { (g.text) } @else { "未設定" } }
                                td { (evaluation_cell(last_year.get(&scene).copied())) }
                                td { (evaluation_cell(this_year.get(&scene).copied())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn evaluation_cell(e: Option<&Evaluation>) -> Markup {
    html! {
        @match e {
            None => "—",
            Some(e) => {
                (if e.reached { "目標達成" } else { "目標未達" }) "（" (e.on) "）: " (e.reason)
                @if !e.improvement.is_empty() { br; "改善: " (e.improvement) }
            }
        }
    }
}

/// A recorded event's type in the clerk's words.
fn record_kind(event_type: &str) -> &str {
    match event_type {
        "MeetingHeld" => "会議",
        "FindingRecorded" => "課題・対応策",
        "WorkingGroupFormed" => "部会の設置",
        "ToolAdopted" => "ツールの導入",
        "ConsultationCaseOpened" => "相談の受付",
        "TrainingHeld" => "研修",
        "AwarenessActivityRecorded" => "普及啓発",
        other => other,
    }
}

/// The registers a clerk can filter the records by.
const REGISTERS: [(&str, &str); 9] = [
    ("resources", "（ア）資源"),
    ("meetings", "（イ）会議"),
    ("arrangements", "（ウ）提供体制"),
    ("tools", "（エ）ツール"),
    ("consultation", "（オ）相談"),
    ("trainings", "（カ）研修"),
    ("awareness", "（キ）普及啓発"),
    ("wide_area", "（ク）広域連携"),
    ("", "すべて"),
];

async fn records(
    State(ws): State<Workspace>,
    SignedIn(session): SignedIn<Principal>,
    Path(code): Path<String>,
    Query(view): Query<View>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    let register = (!view.register.is_empty()).then(|| view.register.clone());
    let from = crate::store::GlobalPosition(view.from.unwrap_or(1).max(1));
    let page = match ws
        .read(move |p| {
            p.records(
                m,
                register.as_deref(),
                from,
                crate::programme::DEFAULT_RECORDS_PAGE,
            )
        })
        .await
    {
        Ok(r) => r,
        Err(e) => return error_page(&ws, &session, m, "records", &e),
    };
    let records = &page.records;
    let next = page.next.map(|next| {
        let mut query = format!("/m/{m}/records?from={}", next.get());
        if !view.register.is_empty() {
            let _ = write!(query, "&register={}", view.register);
        }
        query
    });
    let body = html! {
        form.filters method="get" action=(format!("/m/{m}/records")) {
            label { "登録簿"
                select #register name="register" {
                    @for (r, label) in REGISTERS {
                        option value=(r) selected[r == view.register] { (label) }
                    }
                }
            }
            button type="submit" { "表示" }
        }
        div.scroll {
            table #records {
                caption {
                    "記録（記録した順、番号 " (from.get()) " から " (records.len()) " 件"
                    @if next.is_some() { "。続きは次のページ" }
                    "）"
                }
                thead { tr {
                    th scope="col" { "番号" } th scope="col" { "登録簿" } th scope="col" { "記録の種類" }
                    th scope="col" { "実施日" } th scope="col" { "記録日時（日本時間）" } th scope="col" { "記録した人" } th scope="col" { "内容" }
                } }
                tbody {
                    @for (rec, event) in records {
                        @let json = serde_json::to_string(event).unwrap_or_default();
                        tr {
                            td.num { (rec.global_position.get()) }
                            td { (rec.stream.as_str().trim_start_matches(crate::programme::STREAM_PREFIX)) }
                            td { (rec.event_type) }
                            td { (event.occurred_on()) }
                            td { ((rec.recorded_at + Duration::hours(9)).format("%Y-%m-%d %H:%M:%S")) }
                            td { (rec.actor) }
                            td.json { code { (json.chars().take(200).collect::<String>()) @if json.chars().count() > 200 { "…" } } }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &next {
            p { a href=(next) { "次の " (crate::programme::DEFAULT_RECORDS_PAGE) " 件" } }
        }
    };
    ws.page(&session, m, "records", "記録一覧", body)
}

fn jst(t: chrono::DateTime<Utc>) -> String {
    (t + Duration::hours(9))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

async fn sync(
    State(ws): State<Workspace>,
    SignedIn(session): SignedIn<Principal>,
    Path(code): Path<String>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    let s = ws.board.get(m);
    let acknowledged = s.acknowledged.unwrap_or(0);
    let waiting = s.produced.saturating_sub(acknowledged);
    let summary = if !ws.syncing {
        "このノードは県と同期する設定になっていません（[sync] がありません）。記録は県に送られるのを待っています。".to_owned()
    } else if s.acknowledged.is_none() {
        "県からまだ応答がありません。".to_owned()
    } else if waiting == 0 {
        "すべての記録が県に届いています。".to_owned()
    } else {
        format!("{waiting}件の記録が県への送信を待っています。")
    };
    let body = html! {
        (look::message(if waiting == 0 && s.acknowledged.is_some() { "ok" } else { "note" }, &summary))
        table #sync {
            caption { "県との同期" }
            tbody {
                tr { th scope="row" { "送信先" } td { @if ws.syncing { (ws.board.peer()) } @else { "（未設定）" } } }
                tr { th scope="row" { "県に送る事実（作成済み）" } td.num { (s.produced) "件" } }
                tr { th scope="row" { "県が受け取った事実" } td.num #acknowledged { (acknowledged) "件" } }
                tr { th scope="row" { "送信待ち" } td.num { (waiting) "件" } }
                tr { th scope="row" { "最後に届いた日時" } td { @if let Some(t) = s.last_success { (jst(t)) } @else { "—" } } }
                tr { th scope="row" { "直近のエラー" } td { @if let Some((e, t)) = &s.last_error { (jst(*t)) " " (e) } @else { "なし" } } }
                tr { th scope="row" { "県から受け取った項目（様式など）の位置" } td.num { (s.down_cursor) } }
            }
        }
        p.note { "県に送るのは個人情報を含まない事実（件数や実施日）だけです。" }
    };
    ws.page(&session, m, "sync", "県との同期", body)
}

async fn residents_of(
    ws: &Workspace,
    m: MunicipalityCode,
) -> Result<Vec<(ResourceId, RegisteredResource)>, ProgrammeError> {
    // Only resources listed for residents, and only what residents may see.
    ws.read(move |p| p.resources(m, Audience::Residents)).await
}

/// A schematic map: each resource with coordinates plotted in its bounding box, numbered as in
/// the list (not a geographic map; no tiles are fetched).
fn map_svg(resources: &[(ResourceId, RegisteredResource)]) -> Option<Markup> {
    let points: Vec<(usize, f64, f64, &str)> = resources
        .iter()
        .enumerate()
        .filter_map(|(i, (_, r))| {
            r.details
                .coordinates
                .map(|c| (i + 1, c.latitude, c.longitude, r.details.name.as_str()))
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    let (w, h, pad) = (640.0, 420.0, 40.0);
    let min_lat = points.iter().map(|p| p.1).fold(f64::MAX, f64::min);
    let max_lat = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let min_lon = points.iter().map(|p| p.2).fold(f64::MAX, f64::min);
    let max_lon = points.iter().map(|p| p.2).fold(f64::MIN, f64::max);
    // A range of at least 0.01° around the points' middle, so that one resource (or several at
    // one address) is drawn in the middle rather than in a corner.
    let widen = |min: f64, max: f64| {
        let half = ((max - min) / 2.0).max(0.005);
        let mid = (min + max) / 2.0;
        (mid - half, mid + half)
    };
    let (min_lat, max_lat) = widen(min_lat, max_lat);
    let (min_lon, max_lon) = widen(min_lon, max_lon);
    let span_lat = max_lat - min_lat;
    let span_lon = max_lon - min_lon;
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" id="map" class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="Noto Sans CJK JP, sans-serif" font-size="12"><title>住民向け資源の位置（模式図）</title><rect width="100%" height="100%" fill="#fff" stroke="#8a8f96"/><text x="8" y="16">北↑ 緯度 {min_lat:.3}–{max_lat:.3} 経度 {min_lon:.3}–{max_lon:.3}</text>"##
    );
    for (n, lat, lon, name) in &points {
        let x = pad + (lon - min_lon) / span_lon * (w - 2.0 * pad);
        let y = h - pad - (lat - min_lat) / span_lat * (h - 2.0 * pad);
        let _ = write!(
            s,
            r##"<g><title>{n}. {}</title><circle cx="{x:.1}" cy="{y:.1}" r="9" fill="#1f5f99"/><text x="{x:.1}" y="{:.1}" fill="#fff" text-anchor="middle" font-size="11">{n}</text><text x="{:.1}" y="{:.1}">{}</text></g>"##,
            esc(name),
            y + 4.0,
            x + 12.0,
            y + 4.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    Some(PreEscaped(s))
}

async fn residents(
    State(ws): State<Workspace>,
    SignedIn(session): SignedIn<Principal>,
    Path(code): Path<String>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    let list = match residents_of(&ws, m).await {
        Ok(l) => l,
        Err(e) => return error_page(&ws, &session, m, "residents", &e),
    };
    let body = html! {
        p.noprint {
            a #csv href=(format!("/m/{m}/residents.csv")) download { "CSVでダウンロード（Excel用、UTF-8 BOM付き）" }
            " ・ 印刷するとA4の一覧になります。"
        }
        p { "住民向けに公開してよいと登録された資源だけを載せています（関係者向けの連絡先・相談時間は載せません）。" }
        div.scroll {
            table #residents {
                caption { (municipality_name(m)) " 在宅医療・介護の資源一覧（住民向け、" (list.len()) "件）" }
                thead { tr {
                    th scope="col" { "番号" } th scope="col" { "名称" } th scope="col" { "種別" }
                    th scope="col" { "住所" } th scope="col" { "対応できること" }
                } }
                tbody {
                    @for (i, (_, r)) in list.iter().enumerate() {
                        tr {
                            td.num { (i + 1) }
                            td { (r.details.name) }
                            td { (r.details.kind.label()) @if r.details.enhanced { "（機能強化型）" } }
                            td { (r.details.address) }
                            td { (r.details.capabilities.iter().map(|c| c.label()).collect::<Vec<_>>().join("・")) }
                        }
                    }
                }
            }
        }
        @if let Some(map) = map_svg(&list) {
            figure {
                (map)
                figcaption { "位置の模式図（緯度・経度から描いたもので、地図ではありません。番号は一覧の番号）" }
            }
        }
    };
    ws.page(&session, m, "residents", "住民向け一覧", body)
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

async fn residents_csv(
    State(ws): State<Workspace>,
    SignedIn(session): SignedIn<Principal>,
    Path(code): Path<String>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    let list = match residents_of(&ws, m).await {
        Ok(l) => l,
        Err(e) => return error_page(&ws, &session, m, "residents", &e),
    };
    let mut out = String::from("\u{feff}名称,種別,機能強化型,住所,緯度,経度,対応できること\r\n");
    for (_, r) in &list {
        let d = &r.details;
        let _ = write!(
            out,
            "{},{},{},{},{},{},{}\r\n",
            csv_cell(&d.name),
            csv_cell(d.kind.label()),
            if d.enhanced { "はい" } else { "" },
            csv_cell(&d.address),
            d.coordinates
                .map(|c| c.latitude.to_string())
                .unwrap_or_default(),
            d.coordinates
                .map(|c| c.longitude.to_string())
                .unwrap_or_default(),
            csv_cell(
                &d.capabilities
                    .iter()
                    .map(|c| c.label())
                    .collect::<Vec<_>>()
                    .join("・")
            ),
        );
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"residents-{m}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        out,
    )
        .into_response()
}

async fn cases(
    State(ws): State<Workspace>,
    SignedIn(session): SignedIn<Principal>,
    Path(code): Path<String>,
    Query(view): Query<View>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    let (fy, _) = view.resolve();
    cases_page(&ws, &session, m, fy, &view.id, None).await
}

async fn cases_page(
    ws: &Workspace,
    session: &Session<Principal>,
    m: MunicipalityCode,
    fy: FiscalYear,
    id: &str,
    notice: Option<Markup>,
) -> Response {
    let operator = session.principal.role >= StaffRole::Operator;
    let view = if id.is_empty() {
        None
    } else {
        let id = id.to_owned();
        match ws
            .read(move |p| p.case(m, &CaseId::parse("id", &id)?))
            .await
        {
            Ok(v) => Some(v),
            Err(e) => return error_page(ws, session, m, "cases", &e),
        }
    };
    let list = match ws.read(move |p| p.cases(m, fy)).await {
        Ok(l) => l,
        Err(e) => return error_page(ws, session, m, "cases", &e),
    };
    if let Some(v) = &view
        && operator
        && v.personal.is_some()
    {
        // Every view of personal details is logged with who viewed whose record.
        tracing::info!(
            staff = %session.principal.name,
            municipality = %m,
            case = %v.id,
            subject = %v.subject.as_ref().map(ToString::to_string).unwrap_or_default(),
            "personal details viewed in the workspace"
        );
    }
    let body = html! {
        @if let Some(n) = notice { (n) }
        form.filters method="get" action=(format!("/m/{m}/cases")) {
            (year_select(fy))
            label { "相談事例の記録番号" input #case-id type="text" name="id" value=(id); }
            button #show-case type="submit" { "表示" }
        }
        div.scroll {
            table #case-list {
                caption { (year_label(fy)) "に受け付けた相談（" (list.len()) "件、新しい順。個人情報は一覧に出しません）" }
                thead { tr {
                    th scope="col" { "記録番号" } th scope="col" { "受付日" } th scope="col" { "相談者" }
                    th scope="col" { "相談内容" } th scope="col" { "対応" } th scope="col" { "状況" }
                } }
                tbody {
                    @for c in &list {
                        tr {
                            td { a href=(format!("/m/{m}/cases?fy={}&id={}", fy.year(), c.id)) { code { (c.id) } } }
                            td { (c.opened_on) }
                            td { (c.referrer.label()) }
                            td { (c.topic.label()) }
                            td.num { (c.actions.len()) "件" }
                            td {
                                @if let Some(on) = c.closed_on { "終了（" (on) "）" } @else { "対応中" }
                                @if c.erased { "・個人情報消去済み" }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(v) = &view {
            table #case {
                caption { "相談事例 " (v.id) }
                tbody {
                    tr { th scope="row" { "受付日" } td { (v.opened_on) } }
                    tr { th scope="row" { "相談者" } td { (v.referrer.label()) } }
                    tr { th scope="row" { "相談内容" } td { (v.topic.label()) } }
                    tr { th scope="row" { "対応" } td { @for (a, on) in &v.actions { (a.label()) "（" (on) "） " } } }
                    tr { th scope="row" { "終了日" } td { @if let Some(c) = v.closed_on { (c) } @else { "対応中" } } }
                    tr { th scope="row" { "本人の番号" } td { @if let Some(s) = &v.subject { (s) } } }
                }
            }
            @if v.erased {
                (look::message("note", "この方の個人情報は消去されています。"))
            } @else if let Some(p) = &v.personal {
                @if operator {
                    table #personal {
                        caption { "個人情報（要配慮個人情報。閲覧は記録されます）" }
                        tbody {
                            tr { th scope="row" { "氏名" } td { (p.name) } }
                            tr { th scope="row" { "生年月日" } td { @if let Some(b) = p.birth_date { (b) } } }
                            tr { th scope="row" { "住所" } td { (p.address.as_deref().unwrap_or("")) } }
                            tr { th scope="row" { "電話" } td { (p.phone.as_deref().unwrap_or("")) } }
                            tr { th scope="row" { "備考" } td { (p.notes.as_deref().unwrap_or("")) } }
                        }
                    }
                } @else {
                    (look::message("note", "個人情報は担当者（operator）以上だけが閲覧できます。"))
                }
            }
            @if let (true, false, Some(s)) = (operator, v.erased, &v.subject) {
                section #erase {
                    h2 { "個人情報の消去" }
                    p { "本人の番号 " strong { (s) } " の鍵を破棄します。この方について記録したすべての相談事例の氏名・生年月日・住所・電話・備考が二度と読めなくなります（消去より前に取ったバックアップの扱いは運用ガイドの「データとバックアップ」を参照）。件数・相談内容など個人を特定しない記録は残ります。取り消せません。" }
                    form method="post" action=(format!("/m/{m}/cases/erase")) {
                        (csrf_field(&session.csrf))
                        input type="hidden" name="subject" value=(s);
                        input type="hidden" name="case" value=(v.id);
                        label { input #confirm-erase type="checkbox" name="confirm" value="1"; " 上記を理解し、消去します" }
                        button #erase-button type="submit" { "消去する" }
                    }
                }
            }
        }
    };
    ws.page(session, m, "cases", "相談事例", body)
}

#[derive(Deserialize)]
struct EraseForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    case: String,
    #[serde(default)]
    confirm: String,
}

async fn erase(
    State(ws): State<Workspace>,
    Path(code): Path<String>,
    CsrfForm(session, form): CsrfForm<Principal, EraseForm>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    // The page shown after: the current year's cases.
    let (fy, _) = View::default().resolve();
    if session.principal.role < StaffRole::Operator {
        tracing::warn!(staff = %session.principal.name, refused = "erasure needs the operator role", "web request refused");
        let mut r = cases_page(
            &ws,
            &session,
            m,
            fy,
            "",
            Some(look::message(
                "error",
                "この操作の権限がありません（担当者以上）",
            )),
        )
        .await;
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    if form.confirm != "1" {
        let mut r = cases_page(
            &ws,
            &session,
            m,
            fy,
            &form.case,
            Some(look::message(
                "error",
                "消去するには確認の欄にチェックを入れてください。",
            )),
        )
        .await;
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return r;
    }
    // The same request and decoding as the gRPC API's EraseDataSubject.
    let request = renkei_proto::v1::EraseDataSubjectRequest {
        municipality_code: m.to_string(),
        actor: session.principal.name.clone(),
        subject: form.subject.clone(),
        on: today().format("%Y-%m-%d").to_string(),
    };
    let command = match crate::grpc::decode::erase_data_subject(&request) {
        Ok(c) => c,
        Err(e) => return error_page(&ws, &session, m, "cases", &e.into()),
    };
    match ws
        .programme
        .execute(m, &session.principal.name, command)
        .await
    {
        Ok(_) => {
            tracing::info!(staff = %session.principal.name, municipality = %m, subject = %form.subject, "data subject erased through the workspace");
            cases_page(
                &ws,
                &session,
                m,
                fy,
                &form.case,
                Some(look::message("ok", "個人情報を消去しました。")),
            )
            .await
        }
        Err(e) => error_page(&ws, &session, m, "cases", &e),
    }
}

pub(super) fn routes() -> Router<Workspace> {
    Router::new()
        .route("/m/{code}/status", get(status))
        .route("/m/{code}/plan", get(plan))
        .route("/m/{code}/records", get(records))
        .route("/m/{code}/sync", get(sync))
        .route("/m/{code}/residents", get(residents))
        .route("/m/{code}/residents.csv", get(residents_csv))
        .route("/m/{code}/cases", get(cases))
        .route("/m/{code}/cases/erase", post(erase))
}
