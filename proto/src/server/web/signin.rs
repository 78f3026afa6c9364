//! Signing in and out, the same for both sites: the sign-in page (a token field and the
//! double-submit token of [`Sessions::login_token`]), the answer to a posted token — a session
//! and a redirect, or the page again saying why not, logged as `web request refused` — and
//! signing out. Which tokens sign in is each site's rule, given as a function.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::look;
use super::session::{Session, Sessions};

/// The posted sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    pub token: String,
    /// The double-submit token.
    #[serde(default)]
    pub login: String,
}

/// Who a token signs in, and where they land.
pub struct Admitted<P> {
    pub principal: P,
    /// The name the log records.
    pub name: String,
    /// The page a new session opens on, e.g. `/status`.
    pub home: String,
}

/// Why a token does not sign in.
pub struct Refusal {
    pub status: StatusCode,
    /// What the log records.
    pub log: String,
    /// What the page says, in Japanese.
    pub message: &'static str,
}

impl Refusal {
    /// A token no entry of the configuration names.
    pub fn unknown_token() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            log: "unknown token at sign-in".to_owned(),
            message: "トークンが違います。",
        }
    }
}

/// A site's sign-in door: its name and the sentence that says whose tokens open it.
pub struct Door<'a> {
    pub site: &'a str,
    pub intro: &'a str,
}

impl Door<'_> {
    /// The sign-in page, with a fresh double-submit token (and its cookie).
    pub fn page<P: Clone>(
        &self,
        sessions: &Sessions<P>,
        error: Option<&str>,
        status: StatusCode,
    ) -> Response {
        let (token, cookie) = sessions.login_token();
        let body = html! {
            div.login {
                @if let Some(e) = error { (look::message("error", e)) }
                p { (self.intro) }
                form method="post" action="/login" {
                    input type="hidden" name="login" value=(token);
                    label { "トークン" input #token type="password" name="token" autocomplete="current-password" required; }
                    button #sign-in type="submit" { "サインイン" }
                }
            }
        };
        let markup = look::page(self.site, "サインイン", &[], None, body);
        (
            status,
            [
                (header::SET_COOKIE, cookie),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            Html(markup.into_string()),
        )
            .into_response()
    }

    /// Answers a posted sign-in form: checks its double-submit token, asks `admit` who the
    /// token names, and starts a session — or shows the page again with the reason.
    pub fn sign_in<P: Clone>(
        &self,
        sessions: &Sessions<P>,
        headers: &HeaderMap,
        form: &SignInForm,
        admit: impl FnOnce(&str) -> Result<Admitted<P>, Refusal>,
    ) -> Response {
        if !sessions.check_login_token(headers, &form.login) {
            tracing::warn!(
                refused = "sign-in form without its token",
                "web request refused"
            );
            return self.page(
                sessions,
                Some("フォームの有効期限が切れました。もう一度サインインしてください。"),
                StatusCode::FORBIDDEN,
            );
        }
        match admit(form.token.trim()) {
            Ok(admitted) => {
                tracing::info!(who = %admitted.name, site = %self.site, "signed in");
                let session = sessions.start(admitted.principal);
                (
                    [(header::SET_COOKIE, sessions.cookie(&session))],
                    Redirect::to(&admitted.home),
                )
                    .into_response()
            }
            Err(refusal) => {
                tracing::warn!(refused = %refusal.log, "web request refused");
                self.page(sessions, Some(refusal.message), refusal.status)
            }
        }
    }
}

/// Ends a session and goes back to the sign-in page.
pub fn sign_out<P: Clone>(sessions: &Sessions<P>, session: &Session<P>) -> Response {
    sessions.end(&session.id);
    (
        [(header::SET_COOKIE, sessions.clear_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
}
