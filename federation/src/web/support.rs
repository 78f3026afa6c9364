//! The console's 市町村支援 page: the prefecture's support activities of a fiscal year, the
//! counts per category, the support each municipality received, the municipalities that received
//! none (what next year's support is planned from), and the form an officer records an activity
//! with. An adapter over [`crate::application::Support`], the same methods as
//! `PrefectureSupport`; it holds no rule of its own.

use super::pages::year_label;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use renkei_proto::server::web::look::{self, csrf_field};
use renkei_proto::server::web::session::{Session, random_token};
use renkei_proto::server::web::{CsrfForm, SignedIn};
use renkei_proto::{MunicipalityCode, PrefectureCode, official, v1};
use serde::Deserialize;

use super::{Console, Principal, current_year, error_page, error_text, http_status, identity};
use crate::config::Role;
use crate::support::SupportCategory;

/// The page's path.
const PAGE: &str = "/support";

/// The page's routes: the page and its form.
pub(super) fn routes() -> Router<Console> {
    Router::new()
        .route(PAGE, get(page))
        .route("/support/activity", post(record))
}

/// The page's query: the fiscal year (the current one when absent).
#[derive(Debug, Default, Deserialize)]
struct YearQuery {
    fy: Option<i32>,
}

/// A municipality's name from the official list (its code if it is not on it).
fn name_of(code: &str) -> String {
    code.parse::<MunicipalityCode>()
        .ok()
        .and_then(official::municipality)
        .map_or_else(|| code.to_owned(), |m| m.name.to_owned())
}

/// The value of a category in the form's select: the category code, and for a liaison its kind
/// after a slash (`liaison/wide_area`).
fn category_value(category: SupportCategory) -> String {
    match category.liaison_kind() {
        Some(kind) => format!("{}/{}", category.code(), kind.code()),
        None => category.code().to_owned(),
    }
}

async fn page(
    State(console): State<Console>,
    SignedIn(session): SignedIn<Principal>,
    Query(query): Query<YearQuery>,
) -> Response {
    let fy = query.fy.unwrap_or_else(current_year);
    render(&console, &session, fy, None, None).await
}

/// Renders the page for fiscal year `fy`, with the message of a write (and the form as it was
/// sent when it was refused).
async fn render(
    console: &Console,
    session: &Session<Principal>,
    fy: i32,
    message: Option<Markup>,
    refused: Option<&ActivityForm>,
) -> Response {
    let view = console
        .support
        .year(
            identity(session),
            v1::GetSupportRequest {
                fiscal_year: fy,
                consistency: console.consistency() as i32,
            },
        )
        .await;
    let view = match view {
        Ok(view) => view,
        Err(e) => return error_page(console, session, PAGE, &e),
    };
    let operator = session.principal.role >= Role::Operator;
    let last = current_year().max(fy);
    let body = html! {
        @if let Some(m) = message { (m) }
        form.filters method="get" action=(PAGE) {
            label { "年度"
                select #fy name="fy" {
                    @for year in (2015..=last).rev() {
                        option value=(year) selected[year == fy] { (year_label(year)) }
                    }
                }
            }
            button #apply type="submit" { "表示" }
        }
        p.muted { "都道府県（保健所を含む）が市町村の在宅医療・介護連携推進事業を支援した活動の記録です。区分は手引き（令和2年改訂）の都道府県の取組み: 情報発信・研修会、他市町村の取組事例の横展開、データの分析・活用支援、人材育成、関係市町村等の連携（広域連携・関係団体との調整・入退院時の医療機関職員と介護支援専門員の連携）。" }
        h2 { "支援のなかった市町村" }
        section #unsupported aria-labelledby="unsupported-heading" {
            p #unsupported-heading {
                (year_label(fy)) "に支援の記録がない市町村: "
                strong { (view.unsupported.len()) } " / " (view.municipalities.len())
            }
            @if view.unsupported.is_empty() {
                p { "すべての市町村に支援の記録があります。" }
            } @else {
                ul.unsupported {
                    @for m in &view.unsupported { li data-code=(m) { (name_of(m)) "（" (m) "）" } }
                }
            }
        }
        h2 { "支援活動" }
        table #activities {
            caption { (year_label(fy)) "の支援活動（実施日順）" }
            thead { tr {
                th scope="col" { "実施日" } th scope="col" { "ID" } th scope="col" { "区分" }
                th scope="col" { "名称" } th scope="col" { "支援した市町村" } th scope="col" { "備考" }
                th scope="col" { "記録者" }
            } }
            tbody {
                @for a in &view.activities {
                    tr {
                        td { (a.on) } td { (a.id) } td { (a.category_label) }
                        th scope="row" { (a.title) }
                        td { (a.municipalities.iter().map(|m| name_of(m)).collect::<Vec<_>>().join("・")) }
                        td { (a.note) } td { (a.recorded_by) }
                    }
                }
                @if view.activities.is_empty() { tr { td colspan="7" { "この年度の記録はありません" } } }
            }
        }
        h2 { "区分別の件数" }
        table #categories {
            caption { (year_label(fy)) "の区分別の支援活動の件数" }
            thead { tr { th scope="col" { "区分" } th scope="col" class="num" { "件数" } } }
            tbody {
                @for c in &view.categories {
                    tr { th scope="row" { (c.label) } td.num { (c.activities) } }
                }
            }
        }
        h2 { "市町村別の支援" }
        table #municipalities {
            caption { (year_label(fy)) "に各市町村が受けた支援" }
            thead { tr { th scope="col" { "市町村" } th scope="col" class="num" { "件数" } th scope="col" { "支援活動" } } }
            tbody {
                @for m in &view.municipalities {
                    tr {
                        th scope="row" { (m.name) "（" (m.municipality) "）" }
                        td.num { (m.activity_ids.len()) }
                        td { @if m.activity_ids.is_empty() { "支援なし" } @else { (m.activity_ids.join("、")) } }
                    }
                }
            }
        }
        @if operator {
            (activity_form(session, console.prefecture, fy, refused))
        }
    };
    console.page(session, PAGE, "市町村支援", body)
}

/// The form an officer records an activity with, offering the municipalities of `prefecture`
/// (refilled with what was sent when it was refused). Its request id is chosen when the form is
/// shown, so sending the same form twice records it once.
fn activity_form(
    session: &Session<Principal>,
    prefecture: PrefectureCode,
    fy: i32,
    sent: Option<&ActivityForm>,
) -> Markup {
    let value = |f: fn(&ActivityForm) -> &str| sent.map_or("", f);
    let chosen = |code: &str| sent.is_some_and(|s| s.municipalities.iter().any(|m| m == code));
    html! {
        h2 { "支援活動を記録" }
        form.record #record-support method="post" action="/support/activity" aria-label="支援活動を記録" {
            (csrf_field(&session.csrf))
            input type="hidden" name="fy" value=(fy);
            input type="hidden" name="request_id" value=(sent.map_or_else(|| format!("web-support-{}", random_token()), |s| s.request_id.clone()));
            div.field { label for="support-id" { "ID（例: s-2024-05-kensyu）" } input #support-id type="text" name="id" required value=(value(|s| &s.id)); }
            div.field { label for="support-on" { "実施日" } input #support-on type="date" name="on" required value=(value(|s| &s.on)); }
            div.field {
                label for="support-category" { "区分" }
                select #support-category name="category" required {
                    @for c in SupportCategory::ALL {
                        @let v = category_value(c);
                        option value=(v) selected[sent.is_some_and(|s| s.category == v)] { (c.label()) }
                    }
                }
            }
            div.field { label for="support-title" { "名称" } input #support-title type="text" name="title" required value=(value(|s| &s.title)); }
            div.field { label for="support-note" { "備考（任意）" } textarea #support-note name="note" rows="2" { (value(|s| &s.note)) } }
            div.field {
                fieldset #support-municipalities {
                    legend { "支援した市町村（1つ以上）" }
                    @for m in official::municipalities_of(prefecture) {
                        @let code = m.code.to_string();
                        label.choice {
                            input type="checkbox" name="municipalities" value=(code) checked[chosen(&code)];
                            " " (m.name)
                        }
                    }
                }
            }
            button type="submit" { "支援活動を記録" }
        }
    }
}

/// The form as sent: `municipalities` is repeated (one per ticked box), so the form is read from
/// its name–value pairs.
#[derive(Debug, Default)]
struct ActivityForm {
    fy: Option<i32>,
    request_id: String,
    id: String,
    on: String,
    /// [`category_value`]: a code, with a liaison's kind after a slash.
    category: String,
    title: String,
    note: String,
    municipalities: Vec<String>,
}

impl ActivityForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = ActivityForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "fy" => form.fy = value.trim().parse().ok(),
                "request_id" => form.request_id = value,
                "id" => form.id = value,
                "on" => form.on = value,
                "category" => form.category = value,
                "title" => form.title = value,
                "note" => form.note = value,
                "municipalities" => form.municipalities.push(value),
                _ => {}
            }
        }
        form
    }

    /// The request the form stands for.
    fn request(&self) -> v1::RecordSupportActivityRequest {
        let (category, liaison_kind) = self
            .category
            .split_once('/')
            .unwrap_or((self.category.as_str(), ""));
        v1::RecordSupportActivityRequest {
            request_id: self.request_id.clone(),
            id: self.id.clone(),
            on: self.on.clone(),
            category: category.to_owned(),
            liaison_kind: liaison_kind.to_owned(),
            title: self.title.clone(),
            note: self.note.clone(),
            municipalities: self.municipalities.clone(),
        }
    }
}

async fn record(
    State(console): State<Console>,
    CsrfForm(session, pairs): CsrfForm<Principal, Vec<(String, String)>>,
) -> Response {
    let form = ActivityForm::from_pairs(pairs);
    let result = console
        .support
        .record(identity(&session), form.request())
        .await;
    // The page shows the year of the activity recorded, else the year the form was sent from.
    let fy = match &result {
        Ok(a) => a.fiscal_year,
        Err(_) => form.fy.unwrap_or_else(current_year),
    };
    let (message, status, refused) = match &result {
        Ok(a) => (
            look::message(
                "ok",
                &format!(
                    "支援活動「{}」（{}、{}）を記録しました。",
                    a.title, a.on, a.category_label
                ),
            ),
            None,
            None,
        ),
        Err(e) => (
            look::message("error", &error_text(e)),
            Some(http_status(e)),
            Some(&form),
        ),
    };
    let mut response = render(&console, &session, fy, Some(message), refused).await;
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_form_with_ticked_municipalities_becomes_the_request() {
        let pairs = [
            ("csrf", "t"),
            ("fy", "2024"),
            ("request_id", "web-support-1"),
            ("id", "s-1"),
            ("on", "2024-10-01"),
            ("category", "liaison/admission_discharge"),
            ("title", "入退院支援の研修"),
            ("note", ""),
            ("municipalities", "162019"),
            ("municipalities", "163210"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .to_vec();
        let form = ActivityForm::from_pairs(pairs);
        assert_eq!(form.fy, Some(2024));
        let request = form.request();
        assert_eq!(request.request_id, "web-support-1");
        assert_eq!(request.category, "liaison");
        assert_eq!(request.liaison_kind, "admission_discharge");
        assert_eq!(request.municipalities, ["162019", "163210"]);
        // Every option of the select reads back as its category.
        for category in SupportCategory::ALL {
            let form = ActivityForm {
                category: category_value(category),
                ..ActivityForm::default()
            };
            let request = form.request();
            assert_eq!(
                SupportCategory::parse(&request.category, &request.liaison_kind),
                Ok(category)
            );
        }
    }
}
