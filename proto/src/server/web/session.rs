//! Sign-in sessions and CSRF protection.
//!
//! A session lives in server memory (a restart signs everyone out) under a random 256-bit id
//! carried in the `renkei_session` cookie: HttpOnly (scripts cannot read it), SameSite=Strict
//! (no other site's page can send it), Secure when the pages are served over TLS, with a fixed
//! lifetime. Each session has its own random CSRF token, which every form that changes
//! something carries in a hidden field and [`CsrfForm`] checks before the handler runs. The
//! sign-in form, which has no session yet, is protected by a double-submit token: a cookie and
//! a hidden field that must be equal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The cookie that carries a session id.
pub const SESSION_COOKIE: &str = "renkei_session";
/// The cookie that carries the sign-in form's double-submit token.
pub const LOGIN_COOKIE: &str = "renkei_login";
/// How long a session lasts from sign-in: a working day.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

/// Returns 32 random bytes from the operating system, as 64 hex digits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The operating system's random source does not fail on the systems renkei runs on; if it
    // ever did, a server must not hand out a predictable session id.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Returns the value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// One signed-in person.
#[derive(Debug, Clone)]
pub struct Session<P> {
    /// Who signed in, as the server's access rules know them.
    pub principal: P,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// The session id (the cookie's value).
    pub id: String,
    expires: Instant,
}

/// The sessions of one web server.
#[derive(Debug, Clone)]
pub struct Sessions<P> {
    live: Arc<Mutex<HashMap<String, Session<P>>>>,
    ttl: Duration,
    secure: bool,
}

impl<P: Clone> Sessions<P> {
    /// Sessions lasting `ttl`; `secure`: the pages are served over TLS, so cookies are marked
    /// Secure.
    pub fn new(ttl: Duration, secure: bool) -> Self {
        Self {
            live: Arc::new(Mutex::new(HashMap::new())),
            ttl,
            secure,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Session<P>>) -> R) -> R {
        f(&mut self.live.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Starts a session for `principal`; returns it (its id goes into [`Sessions::cookie`]).
    pub fn start(&self, principal: P) -> Session<P> {
        let now = Instant::now();
        let session = Session {
            principal,
            csrf: random_token(),
            id: random_token(),
            expires: now + self.ttl,
        };
        self.with(|live| {
            live.retain(|_, s| s.expires > now);
            live.insert(session.id.clone(), session.clone());
        });
        session
    }

    /// The live session a request's cookie names.
    pub fn of(&self, headers: &HeaderMap) -> Option<Session<P>> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let now = Instant::now();
        self.with(|live| match live.get(id) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                live.remove(id);
                None
            }
            None => None,
        })
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.with(|live| live.remove(id));
    }

    fn attributes(&self) -> &'static str {
        if self.secure {
            "; HttpOnly; SameSite=Strict; Secure"
        } else {
            "; HttpOnly; SameSite=Strict"
        }
    }

    /// The `Set-Cookie` value that carries a session.
    pub fn cookie(&self, session: &Session<P>) -> String {
        format!(
            "{SESSION_COOKIE}={}; Path=/; Max-Age={}{}",
            session.id,
            self.ttl.as_secs(),
            self.attributes()
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        format!("{SESSION_COOKIE}=; Path=/; Max-Age=0{}", self.attributes())
    }

    /// A fresh double-submit token for the sign-in form, and the `Set-Cookie` value carrying it.
    pub fn login_token(&self) -> (String, String) {
        let token = random_token();
        let cookie = format!(
            "{LOGIN_COOKIE}={token}; Path=/; Max-Age=900{}",
            self.attributes()
        );
        (token, cookie)
    }

    /// Checks the sign-in form's token against its cookie.
    pub fn check_login_token(&self, headers: &HeaderMap, field: &str) -> bool {
        cookie(headers, LOGIN_COOKIE).is_some_and(|c| !field.is_empty() && same_secret(c, field))
    }
}

/// A server state that keeps sessions of principals `P`.
pub trait SessionState<P> {
    fn sessions(&self) -> &Sessions<P>;
}

/// Extracts the signed-in session of a request. Without one, a page read is redirected to the
/// sign-in page and anything else is refused with 401: nothing is readable without signing in.
pub struct SignedIn<P>(pub Session<P>);

/// Why a request was refused before its handler ran.
#[derive(Debug)]
pub enum Refused {
    /// No session: go and sign in.
    SignIn,
    /// No session on a request that changes something.
    Unauthenticated,
    /// The form's CSRF token is missing or not the session's.
    Csrf,
    /// The form could not be read.
    BadForm(String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::SignIn => Redirect::to("/login").into_response(),
            Refused::Unauthenticated => {
                tracing::warn!(
                    refused = "web request without a session",
                    "web request refused"
                );
                (StatusCode::UNAUTHORIZED, "サインインしてください").into_response()
            }
            Refused::Csrf => {
                tracing::warn!(
                    refused = "web form with a wrong csrf token",
                    "web request refused"
                );
                (
                    StatusCode::FORBIDDEN,
                    "フォームの有効期限が切れています。ページを開き直してください（CSRF）",
                )
                    .into_response()
            }
            Refused::BadForm(reason) => (
                StatusCode::BAD_REQUEST,
                format!("フォームを読めません: {reason}"),
            )
                .into_response(),
        }
    }
}

impl<S, P> FromRequestParts<S> for SignedIn<P>
where
    S: SessionState<P> + Send + Sync,
    P: Clone + Send + Sync + 'static,
{
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refused> {
        match state.sessions().of(&parts.headers) {
            Some(session) => Ok(SignedIn(session)),
            None if parts.method == Method::GET || parts.method == Method::HEAD => {
                Err(Refused::SignIn)
            }
            None => Err(Refused::Unauthenticated),
        }
    }
}

/// The `csrf` field every form that changes something carries (the form's other fields are
/// read separately: urlencoded values are strings, which `serde(flatten)` cannot type).
#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Extracts a signed-in session and a form of `T` whose CSRF token is the session's; a form
/// without it is refused (403) before the handler runs.
pub struct CsrfForm<P, T>(pub Session<P>, pub T);

impl<S, P, T> FromRequest<S> for CsrfForm<P, T>
where
    S: SessionState<P> + Send + Sync,
    P: Clone + Send + Sync + 'static,
    T: DeserializeOwned + Send,
{
    type Rejection = Refused;

    async fn from_request(request: Request, state: &S) -> Result<Self, Refused> {
        let (mut parts, body) = request.into_parts();
        let SignedIn(session) = SignedIn::from_request_parts(&mut parts, state).await?;
        let multipart = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let request = Request::from_parts(parts, body);
        let bytes = if multipart {
            multipart_as_urlencoded(request, state).await?
        } else {
            Bytes::from_request(request, state)
                .await
                .map_err(|e| Refused::BadForm(e.body_text()))?
        };
        let token: CsrfField =
            serde_urlencoded::from_bytes(&bytes).map_err(|e| Refused::BadForm(e.to_string()))?;
        if !same_secret(&token.csrf, &session.csrf) {
            return Err(Refused::Csrf);
        }
        let fields: T =
            serde_urlencoded::from_bytes(&bytes).map_err(|e| Refused::BadForm(e.to_string()))?;
        Ok(CsrfForm(session, fields))
    }
}

/// Reads a `multipart/form-data` form (one with a file field) as the same name–value pairs a
/// URL-encoded form would give, so forms with a file go through the one CSRF check and decoding.
/// A file's content becomes its field's value as text: UTF-8 (with or without a BOM) or
/// Shift_JIS, the two encodings Japanese office software writes.
async fn multipart_as_urlencoded<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<Bytes, Refused> {
    let mut form = axum::extract::Multipart::from_request(request, state)
        .await
        .map_err(|e| Refused::BadForm(e.body_text()))?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| Refused::BadForm(e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let content = field
            .bytes()
            .await
            .map_err(|e| Refused::BadForm(e.body_text()))?;
        let value = if is_file {
            super::decode_text(&content).ok_or_else(|| {
                Refused::BadForm(format!("{name}: {}", super::NOT_UTF8_OR_SHIFT_JIS))
            })?
        } else {
            String::from_utf8(content.to_vec())
                .map_err(|_| Refused::BadForm(format!("{name}: not UTF-8")))?
        };
        pairs.push((name, value));
    }
    serde_urlencoded::to_string(&pairs)
        .map(Bytes::from)
        .map_err(|e| Refused::BadForm(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends() {
        let sessions = Sessions::new(Duration::from_secs(60), false);
        let s = sessions.start("clerk".to_owned());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("other=1; {SESSION_COOKIE}={}", s.id)
                .parse()
                .unwrap(),
        );
        assert_eq!(sessions.of(&headers).unwrap().principal, "clerk");
        sessions.end(&s.id);
        assert!(sessions.of(&headers).is_none());
    }

    #[test]
    fn an_expired_session_is_not_found() {
        let sessions = Sessions::new(Duration::ZERO, false);
        let s = sessions.start(1u8);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("{SESSION_COOKIE}={}", s.id).parse().unwrap(),
        );
        assert!(sessions.of(&headers).is_none());
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_under_tls() {
        let plain = Sessions::new(Duration::from_secs(60), false);
        let tls = Sessions::new(Duration::from_secs(60), true);
        let c = plain.cookie(&plain.start(()));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        let c = tls.cookie(&tls.start(()));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict; Secure"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert_eq!(random_token().len(), 64);
        assert_ne!(random_token(), random_token());
    }
}
