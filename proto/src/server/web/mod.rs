//! The shared kit of renkei's web pages — the municipal workspace a node serves and the
//! prefecture console every replica serves: one look and one set of rules for both.
//!
//! - [`session`]: sign-in sessions kept in server memory behind an HttpOnly, SameSite=Strict
//!   cookie (Secure under TLS), with a CSRF token per session checked on every form that changes
//!   something, and a double-submit token on the sign-in form itself;
//! - [`signin`]: the sign-in page and the answer to a posted token, and sign-out — each site
//!   gives only its rule of which tokens sign in;
//! - [`serve`]: serves an axum router on a listener, over HTTPS with the server's certificate
//!   when one is given, until a shutdown future resolves;
//! - [`look`]: the page layout (Japanese, `lang="ja"`, navigation, an A4 print stylesheet) and
//!   the stylesheet compiled into the binary;
//! - [`chart`]: charts drawn as SVG on the server (stacked bars, lines), each with its numbers
//!   written out so that colour never carries meaning alone.
//!
//! The kit holds no business rule: pages call their server's application service and render
//! what it answers.

pub mod chart;
pub mod look;
pub mod serve;
pub mod session;
pub mod signin;

pub use serve::serve;

/// Why an uploaded file's text could not be read.
pub const NOT_UTF8_OR_SHIFT_JIS: &str = "the file is neither UTF-8 nor Shift_JIS";

/// Decodes an uploaded file's bytes as the offices' spreadsheets save them: a UTF-8 BOM or valid
/// UTF-8 means UTF-8, anything else must be Shift_JIS; `None` when it is neither.
pub fn decode_text(bytes: &[u8]) -> Option<String> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8(rest.to_vec()).ok();
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some(s.to_owned());
    }
    let (text, _, errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    (!errors).then(|| text.into_owned())
}
pub use session::{CsrfForm, SessionState, Sessions, SignedIn};
