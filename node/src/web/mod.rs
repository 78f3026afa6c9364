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
pub use session::{CsrfForm, SessionState, Sessions, SignedIn};
