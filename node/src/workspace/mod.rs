//! The municipal workspace (市区町村ワークスペース): the web pages a 市役所 clerk uses to record the
//! programme and see the town's status, served by the node on its own listener (`web_listen`),
//! over HTTPS with the node's certificate under `[tls]`.
//!
//! An adapter like the gRPC services beside it: a clerk signs in with a `[[staff]]` token (the
//! same roles as gRPC: viewers read, operators record and see personal details), every form
//! fills the same v1 request the gRPC API takes, decodes it with the same functions
//! ([`crate::grpc::decode`]) and calls the same [`Programme`]; there is no second path to the
//! store and no business rule here.
//!
//! - [`forms`]: the recording forms of items ア–ク and the annual plan, each re-rendered with the
//!   clerk's values and the refused field's reason beside it;
//! - [`pages`]: 実施状況 (the eight statuses with their evidence), 事業計画 (planned vs done),
//!   記録 (who recorded what and when), 同期 (sync with the prefecture), 住民向け一覧 (list, map,
//!   CSV) and the consultation case's personal details;
//! - this module: the state, sign-in and sign-out, the municipality selector, the router, the
//!   one mapping of errors to HTTP statuses, and [`serve`].

mod forms;
mod pages;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use renkei_proto::{MunicipalityCode, official};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::access::{StaffAccess, StaffMember, StaffRole};
use crate::programme::{Programme, ProgrammeError};
use crate::store::{EventStore, StoreError};
use crate::sync::SyncBoard;
use crate::web::look::{self, NavLink, SignedInAs};
use crate::web::session::{DEFAULT_SESSION_TTL, Session};
use crate::web::signin::{self, Admitted, Door, Refusal, SignInForm};
use crate::web::{CsrfForm, SessionState, Sessions, SignedIn};

/// Who a workspace session belongs to: a configured staff member.
pub type Principal = Arc<StaffMember>;

/// The workspace's state: the application service it calls, what it reads beside it, and its
/// sessions; cheap to clone.
#[derive(Clone)]
pub struct Workspace {
    programme: Programme,
    store: EventStore,
    board: SyncBoard,
    served: Arc<Vec<MunicipalityCode>>,
    staff: StaffAccess,
    syncing: bool,
    sessions: Sessions<Principal>,
}

impl SessionState<Principal> for Workspace {
    fn sessions(&self) -> &Sessions<Principal> {
        &self.sessions
    }
}

/// The workspace's pages in navigation order: path under `/m/{code}` and label.
const PAGES: [(&str, &str); 7] = [
    ("status", "実施状況"),
    ("record", "記録する"),
    ("plan", "事業計画"),
    ("records", "記録一覧"),
    ("sync", "県との同期"),
    ("residents", "住民向け一覧"),
    ("cases", "相談事例"),
];

impl Workspace {
    /// Runs a read of the programme on Tokio's blocking pool: reads may wait on RocksDB (a page
    /// of the log, a register folded from its stream), and the async workers serve every other
    /// page and call meanwhile.
    pub(crate) async fn read<T, F>(&self, read: F) -> Result<T, ProgrammeError>
    where
        F: FnOnce(&Programme) -> Result<T, ProgrammeError> + Send + 'static,
        T: Send + 'static,
    {
        let programme = self.programme.clone();
        tokio::task::spawn_blocking(move || read(&programme))
            .await
            .map_err(|e| {
                ProgrammeError::Store(crate::store::StoreError::Storage(format!(
                    "a read failed: {e}"
                )))
            })?
    }

    /// A workspace over a node's programme; `secure`: served over TLS (cookies marked Secure);
    /// `syncing`: the node is configured to sync with a prefecture.
    pub fn new(
        programme: Programme,
        store: EventStore,
        board: SyncBoard,
        served: Vec<MunicipalityCode>,
        staff: StaffAccess,
        syncing: bool,
        secure: bool,
    ) -> Self {
        Self {
            programme,
            store,
            board,
            served: Arc::new(served),
            staff,
            syncing,
            sessions: Sessions::new(DEFAULT_SESSION_TTL, secure),
        }
    }

    fn site(&self) -> String {
        "在宅医療・介護連携 市区町村ワークスペース".to_owned()
    }

    /// The municipality a URL names, if this node serves it.
    fn tenant(&self, code: &str) -> Option<MunicipalityCode> {
        let code: MunicipalityCode = code.parse().ok()?;
        self.served.contains(&code).then_some(code)
    }

    /// A whole page for a signed-in session, for municipality `m`; `current` names the page.
    fn page(
        &self,
        session: &Session<Principal>,
        m: MunicipalityCode,
        current: &str,
        title: &str,
        body: Markup,
    ) -> Response {
        let nav: Vec<NavLink> = PAGES
            .iter()
            .map(|(path, label)| NavLink {
                href: format!("/m/{m}/{path}"),
                label,
                current: *path == current,
            })
            .collect();
        let who = SignedInAs {
            name: &session.principal.name,
            role: role_label(session.principal.role),
            csrf: &session.csrf,
        };
        let body = html! {
            (self.selector(m, current))
            (body)
        };
        let markup = look::page(&self.site(), title, &nav, Some(&who), body);
        (
            [(header::CACHE_CONTROL, "no-store")],
            Html(markup.into_string()),
        )
            .into_response()
    }

    /// The municipality shown, and a selector when the node serves several.
    fn selector(&self, m: MunicipalityCode, current: &str) -> Markup {
        html! {
            div.filters.municipality {
                @if self.served.len() > 1 {
                    form method="get" action="/select" {
                        input type="hidden" name="page" value=(current);
                        label { "市区町村"
                            select #municipality name="m" {
                                @for code in self.served.iter() {
                                    option value=(code) selected[*code == m] { (municipality_name(*code)) "（" (code) "）" }
                                }
                            }
                        }
                        button #switch type="submit" { "切り替え" }
                    }
                } @else {
                    p.town { strong { (municipality_name(m)) } "（" (m) "）" }
                }
            }
        }
    }
}

/// A municipality's name from the official list, e.g. 富山県 舟橋村.
pub fn municipality_name(code: MunicipalityCode) -> String {
    match official::municipality(code) {
        Some(m) => format!("{} {}", code.prefecture().name(), m.name),
        None => code.to_string(),
    }
}

/// A role as the workspace names it.
pub fn role_label(role: StaffRole) -> &'static str {
    match role {
        StaffRole::Viewer => "閲覧者",
        StaffRole::Operator => "担当者",
        StaffRole::Admin => "管理者",
    }
}

/// Returns the HTTP status of an error: the one mapping of [`ProgrammeError`] for the web, as
/// [`crate::grpc::status_from_programme`] is for gRPC.
pub fn http_status(error: &ProgrammeError) -> StatusCode {
    use crate::domain::DomainError;
    match error {
        ProgrammeError::Domain(DomainError::Invalid { .. }) => StatusCode::BAD_REQUEST,
        ProgrammeError::Domain(DomainError::NotFound { .. }) => StatusCode::NOT_FOUND,
        ProgrammeError::Domain(
            DomainError::Conflict { .. } | DomainError::AlreadyRecorded { .. },
        ) => StatusCode::CONFLICT,
        ProgrammeError::Personal(crate::personal::VaultError::Erased(_)) => StatusCode::CONFLICT,
        ProgrammeError::Contended(_) => StatusCode::CONFLICT,
        ProgrammeError::Store(StoreError::InvalidArgument { .. }) => StatusCode::BAD_REQUEST,
        ProgrammeError::Store(StoreError::UnknownTenant(_)) => StatusCode::NOT_FOUND,
        ProgrammeError::Store(StoreError::WrongExpectedVersion { .. })
        | ProgrammeError::Store(StoreError::EventIdConflict { .. }) => StatusCode::CONFLICT,
        ProgrammeError::Store(StoreError::Closed) => StatusCode::SERVICE_UNAVAILABLE,
        ProgrammeError::Store(_)
        | ProgrammeError::Personal(_)
        | ProgrammeError::Unreadable { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error as a page shows it: what went wrong in Japanese, with the service's detail.
fn error_text(error: &ProgrammeError) -> String {
    use crate::domain::DomainError;
    let what = match error {
        ProgrammeError::Domain(DomainError::Invalid { .. }) => "入力に誤りがあります",
        ProgrammeError::Domain(DomainError::NotFound { .. }) => "記録が見つかりません",
        ProgrammeError::Domain(DomainError::Conflict { .. }) => "これまでの記録と矛盾します",
        ProgrammeError::Domain(DomainError::AlreadyRecorded { .. }) => {
            "この番号は別の内容で記録済みです"
        }
        ProgrammeError::Personal(crate::personal::VaultError::Erased(_)) => {
            "この方の個人情報は消去済みです"
        }
        ProgrammeError::Contended(_) => "同時に記録されました。もう一度お試しください",
        _ => "保存領域の障害です",
    };
    format!("{what}: {error}")
}

/// An error page for a signed-in session.
fn error_page(
    ws: &Workspace,
    session: &Session<Principal>,
    m: MunicipalityCode,
    current: &str,
    error: &ProgrammeError,
) -> Response {
    if http_status(error).is_server_error() {
        tracing::error!(error = %error, "workspace page failed");
    }
    let mut response = ws.page(
        session,
        m,
        current,
        "エラー",
        look::message("error", &error_text(error)),
    );
    *response.status_mut() = http_status(error);
    response
}

/// The page answered for a municipality code this node does not serve.
fn unknown_municipality(code: &str) -> Response {
    tracing::warn!(
        municipality = code,
        refused = "municipality not served by this node",
        "web request refused"
    );
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-store")],
        format!("このノードは市区町村コード {code:?} を扱っていません"),
    )
        .into_response()
}

/// The workspace's sign-in door.
fn door(ws: &Workspace) -> (String, &'static str) {
    (
        ws.site(),
        "市区町村の担当者に配られたトークン（[[staff]] の閲覧者・担当者・管理者）でサインインします。",
    )
}

async fn sign_in_form(State(ws): State<Workspace>) -> Response {
    let (site, intro) = door(&ws);
    Door { site: &site, intro }.page(&ws.sessions, None, StatusCode::OK)
}

async fn sign_in(
    State(ws): State<Workspace>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let (site, intro) = door(&ws);
    Door { site: &site, intro }.sign_in(&ws.sessions, &headers, &form, |token| {
        match ws.staff.by_token(token) {
            Some(member) => Ok(Admitted {
                name: member.name.clone(),
                principal: Arc::new(member),
                home: format!("/m/{}/status", ws.served[0]),
            }),
            None => Err(Refusal::unknown_token()),
        }
    })
}

#[derive(Deserialize)]
struct Empty {}

async fn sign_out(
    State(ws): State<Workspace>,
    CsrfForm(session, Empty {}): CsrfForm<Principal, Empty>,
) -> Response {
    signin::sign_out(&ws.sessions, &session)
}

async fn home(State(ws): State<Workspace>, SignedIn(_): SignedIn<Principal>) -> Redirect {
    Redirect::to(&format!("/m/{}/status", ws.served[0]))
}

#[derive(Deserialize)]
struct Select {
    #[serde(default)]
    m: String,
    #[serde(default)]
    page: String,
}

/// The municipality selector: validates the code against the node's list and goes to the same
/// page of the chosen municipality.
async fn select(
    State(ws): State<Workspace>,
    SignedIn(_): SignedIn<Principal>,
    axum::extract::Query(q): axum::extract::Query<Select>,
) -> Response {
    let Some(m) = ws.tenant(&q.m) else {
        return unknown_municipality(&q.m);
    };
    let page = PAGES
        .iter()
        .find(|(p, _)| *p == q.page)
        .map_or("status", |(p, _)| p);
    Redirect::to(&format!("/m/{m}/{page}")).into_response()
}

async fn municipality_home(Path(code): Path<String>) -> Redirect {
    Redirect::to(&format!("/m/{code}/status"))
}

/// The workspace's routes.
pub fn router(ws: Workspace) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(sign_in_form).post(sign_in))
        .route("/logout", post(sign_out))
        .route("/select", get(select))
        .route("/m/{code}", get(municipality_home))
        .merge(pages::routes())
        .merge(forms::routes())
        .with_state(ws)
}

/// Serves the workspace on `listener` (HTTPS when `tls` is given) until `shutdown` resolves.
pub async fn serve(
    ws: Workspace,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), crate::web::serve::WebServeError> {
    let local: SocketAddr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(address = %local, url = %format!("{scheme}://{local}/"), "serving the workspace");
    crate::web::serve(listener, tls, router(ws), shutdown).await
}
