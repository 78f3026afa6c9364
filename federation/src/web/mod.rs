//! The prefecture console (都道府県コンソール): the web pages prefecture officers use, served by
//! every replica on its own listener (`web_listen`), over HTTPS with the replica's certificate
//! under `[tls]`.
//!
//! An adapter like the gRPC services beside it: each page signs its reader in with a
//! `[[callers]]` token (viewer or above), calls the same application service methods the gRPC
//! API calls (with the same role checks and linearizable reads, so the numbers are exactly those
//! of `GetTally`), and renders what they answer. It holds no survey rule of its own.
//!
//! - [`pages`]: the pages — 実施状況, 推移, 比較, 提出・完了状況, （ク）広域連携, クラスタ,
//!   ダウンロード — and the downloads (exports, charts as SVG, tables as CSV);
//! - [`support`]: 市町村支援, the prefecture's support activities and its form;
//! - [`cycle`]: the PDCAサイクル集計 page and its downloads;
//! - this module: the console's state, sign-in and sign-out, the router, the one mapping of
//!   errors to HTTP statuses, and [`serve`].

mod cycle;
mod pages;
mod support;

pub use cycle::render_cycle;
pub use pages::render_status;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use maud::{Markup, html};
use renkei_proto::server::web::look::{self, NavLink, SignedInAs};
use renkei_proto::server::web::session::DEFAULT_SESSION_TTL;
use renkei_proto::server::web::signin::{self, Admitted, Door, Refusal, SignInForm};
use renkei_proto::server::web::{CsrfForm, SessionState, Sessions, SignedIn};
use renkei_proto::{FiscalYear, PrefectureCode, v1};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::access::{Callers, Identity};
use crate::application::{Exchange, Support, Surveys};
use crate::config::{Caller, Role};
use crate::error::FederationError;
use crate::types::Raft;

/// Who a console session belongs to: a configured caller.
pub type Principal = Arc<Caller>;

/// The console's state: the application services it calls and its sessions.
#[derive(Clone)]
pub struct Console {
    survey: Surveys,
    federation: Exchange,
    support: Support,
    raft: Raft,
    callers: Callers,
    prefecture: PrefectureCode,
    sessions: Sessions<Principal>,
}

impl SessionState<Principal> for Console {
    fn sessions(&self) -> &Sessions<Principal> {
        &self.sessions
    }
}

impl Console {
    /// A console over a replica's services; `secure`: served over TLS (cookies marked Secure).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        survey: Surveys,
        federation: Exchange,
        support: Support,
        raft: Raft,
        callers: Callers,
        prefecture: PrefectureCode,
        secure: bool,
    ) -> Self {
        Self {
            survey,
            federation,
            support,
            raft,
            callers,
            prefecture,
            sessions: Sessions::new(DEFAULT_SESSION_TTL, secure),
        }
    }

    /// Whether this replica leads now: its reads are then linearizable (confirmed with a
    /// quorum); a follower's console reads what the replica has applied, and says so.
    fn leads(&self) -> bool {
        let metrics = self.raft.metrics().borrow().clone();
        metrics.current_leader == Some(metrics.id)
    }

    /// The consistency of this request's reads (see [`Console::leads`]).
    fn consistency(&self) -> v1::ReadConsistency {
        if self.leads() {
            v1::ReadConsistency::Linearizable
        } else {
            v1::ReadConsistency::Local
        }
    }

    /// The survey's application methods reading with [`Console::consistency`].
    fn survey(&self) -> Surveys {
        self.survey.reading(self.consistency())
    }

    /// What the page's figures are as of: a line every page shows.
    fn read_note(&self) -> Markup {
        let metrics = self.raft.metrics().borrow().clone();
        let applied = metrics.last_applied.map_or(0, |l| l.index);
        let text = if metrics.current_leader == Some(metrics.id) {
            format!(
                "リーダー（レプリカ {}）が過半数に確認した最新の内容です（線形化読み取り、反映済みログ位置 {applied}）。",
                metrics.id
            )
        } else {
            format!(
                "フォロワー（レプリカ {}）が反映済みの内容です（ログ位置 {applied} まで、リーダー: {}）。記録はリーダーのコンソールで行います。",
                metrics.id,
                metrics
                    .current_leader
                    .map_or_else(|| "不明".to_owned(), |l| format!("レプリカ {l}"))
            )
        };
        html! { p.muted.readnote #read-note { (text) } }
    }

    fn site(&self) -> String {
        format!("{} 在宅医療・介護連携 コンソール", self.prefecture.name())
    }

    /// A whole console page for a signed-in session.
    fn page(
        &self,
        session: &renkei_proto::server::web::session::Session<Principal>,
        current: &str,
        title: &str,
        body: Markup,
    ) -> Response {
        let nav: Vec<NavLink> = PAGES
            .iter()
            .map(|(href, label)| NavLink {
                href: (*href).to_owned(),
                label,
                current: *href == current,
            })
            .collect();
        let who = SignedInAs {
            name: &session.principal.name,
            role: role_label(session.principal.role),
            csrf: &session.csrf,
        };
        let body = html! { (self.read_note()) (body) };
        let markup = look::page(&self.site(), title, &nav, Some(&who), body);
        (
            [(header::CACHE_CONTROL, "no-store")],
            Html(markup.into_string()),
        )
            .into_response()
    }
}

/// The console's pages in navigation order.
const PAGES: [(&str, &str); 9] = [
    ("/status", "実施状況"),
    (cycle::PATH, "PDCAサイクル集計"),
    ("/trend", "推移"),
    ("/compare", "比較"),
    ("/submissions", "提出・完了状況"),
    ("/wide-area", "（ク）広域連携"),
    ("/support", "市町村支援"),
    ("/cluster", "クラスタ"),
    ("/downloads", "ダウンロード"),
];

/// The fiscal year of today (JST date as UTC's is close enough for a default), for pages that
/// open on the current year.
pub(super) fn current_year() -> i32 {
    FiscalYear::containing(Utc::now().date_naive()).map_or(2024, |f| i32::from(f.year()))
}

/// A role as the console names it.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Node => "ノード",
        Role::Viewer => "閲覧者",
        Role::Operator => "担当者",
        Role::Admin => "管理者",
    }
}

/// The identity the application service checks for a signed-in caller.
fn identity(session: &renkei_proto::server::web::session::Session<Principal>) -> Identity {
    Identity::Known(session.principal.clone())
}

/// Returns the HTTP status of an error: the one mapping of [`FederationError`] for the web, as
/// [`crate::error::to_status`] is for gRPC. Refusals are logged as they are for gRPC.
pub fn http_status(error: &FederationError) -> StatusCode {
    match error {
        FederationError::InvalidArgument { .. } | FederationError::OutsidePrefecture { .. } => {
            StatusCode::BAD_REQUEST
        }
        FederationError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        FederationError::PermissionDenied { .. } => StatusCode::FORBIDDEN,
        FederationError::AlreadyExists { .. } => StatusCode::CONFLICT,
        FederationError::NodeIdRetired(_) | FederationError::FailedPrecondition(_) => {
            StatusCode::CONFLICT
        }
        FederationError::NotLeader { .. } | FederationError::Stopped(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        FederationError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error as a console page shows it: what went wrong, in Japanese, with the detail the
/// service gave (which names the field and the value).
fn error_text(error: &FederationError) -> String {
    if matches!(
        error,
        FederationError::Unauthenticated(_) | FederationError::PermissionDenied { .. }
    ) {
        tracing::warn!(refused = %error, "web request refused");
    }
    let what = match error {
        FederationError::InvalidArgument { .. } | FederationError::OutsidePrefecture { .. } => {
            "入力に誤りがあります"
        }
        FederationError::Unauthenticated(_) => "サインインが必要です",
        FederationError::PermissionDenied { .. } => "この操作の権限がありません",
        FederationError::AlreadyExists { .. } => "同じIDの別の記録が既にあります",
        FederationError::NotLeader { leader_address, .. } => {
            return format!(
                "このレプリカはリーダーではないため記録できません。リーダー（{}）のコンソールで操作してください: {error}",
                leader_address.as_deref().unwrap_or("不明")
            );
        }
        FederationError::NodeIdRetired(_) | FederationError::FailedPrecondition(_) => {
            "現在の状態では実行できません"
        }
        FederationError::Stopped(_) => "クラスタが応答できません",
        FederationError::Storage(_) => "保存領域の障害です",
    };
    format!("{what}: {error}")
}

/// An error page for a signed-in session.
fn error_page(
    console: &Console,
    session: &renkei_proto::server::web::session::Session<Principal>,
    current: &str,
    error: &FederationError,
) -> Response {
    let mut response = console.page(
        session,
        current,
        "エラー",
        look::message("error", &error_text(error)),
    );
    *response.status_mut() = http_status(error);
    response
}

/// The console's sign-in door.
fn door(console: &Console) -> (String, &'static str) {
    (
        console.site(),
        "都道府県の担当者に配られたトークン（[[callers]] の閲覧者・担当者・管理者）でサインインします。",
    )
}

async fn sign_in_form(State(console): State<Console>) -> Response {
    let (site, intro) = door(&console);
    Door { site: &site, intro }.page(&console.sessions, None, StatusCode::OK)
}

async fn sign_in(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let (site, intro) = door(&console);
    Door { site: &site, intro }.sign_in(&console.sessions, &headers, &form, |token| {
        match console.callers.by_token_text(token) {
            Some(caller) if caller.role >= Role::Viewer => Ok(Admitted {
                name: caller.name.clone(),
                principal: caller,
                home: "/status".to_owned(),
            }),
            Some(caller) => Err(Refusal {
                status: StatusCode::FORBIDDEN,
                log: format!("{} (role node) may not use the console", caller.name),
                message: "このトークンはノード用です。コンソールには閲覧者以上のトークンでサインインしてください。",
            }),
            None => Err(Refusal::unknown_token()),
        }
    })
}

#[derive(Deserialize)]
struct Empty {}

async fn sign_out(
    State(console): State<Console>,
    CsrfForm(session, Empty {}): CsrfForm<Principal, Empty>,
) -> Response {
    signin::sign_out(&console.sessions, &session)
}

async fn home(SignedIn(_): SignedIn<Principal>) -> Redirect {
    Redirect::to("/status")
}

/// The console's routes.
pub fn router(console: Console) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(sign_in_form).post(sign_in))
        .route("/logout", post(sign_out))
        .merge(pages::routes())
        .merge(support::routes())
        .merge(cycle::routes())
        .with_state(console)
}

/// Serves the console on `listener` (HTTPS when `tls` is given) until `shutdown` resolves.
pub async fn serve(
    console: Console,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), renkei_proto::server::web::serve::WebServeError> {
    let local: SocketAddr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(address = %local, url = %format!("{scheme}://{local}/"), "serving the console");
    renkei_proto::server::web::serve(listener, tls, router(console), shutdown).await
}
