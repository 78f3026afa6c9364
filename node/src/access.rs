//! Who may call the node: staff tokens with roles, checked for every gRPC call before it reaches
//! a service.
//!
//! - `viewer`: queries — statuses, lists, plans, statistics, reads of the log, sync state;
//! - `operator`: also records the programme's activities and appends events, and reads a
//!   consultation case's personal details;
//! - `admin`: also takes backups.
//!
//! Tokens are presented as `authorization: Bearer <token>` and configured as `[[staff]]` with
//! `token` or, better, `token_sha256` (the configuration then holds no secret). Without any
//! `[[staff]]` the node is open to every caller (development only; a warning is logged). Health
//! checking and reflection are always open. A refused call is answered UNAUTHENTICATED or
//! PERMISSION_DENIED and logged with who and what.
use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

pub use renkei_proto::server::access::{
    EXAMPLE_TOKENS, Gate, GateLayer, Gated, MIN_TOKEN_CHARS, credential, open_door, open_metrics,
    token_digest, weak_token,
};

/// A staff member's role; each may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StaffRole {
    Viewer,
    Operator,
    Admin,
}

impl StaffRole {
    /// Parses `viewer`, `operator` or `admin`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// A validated `[[staff]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffMember {
    pub name: String,
    /// Never printed.
    #[serde(skip_serializing)]
    pub token_digest: [u8; 32],
    pub role: StaffRole,
}

/// The role a gRPC method of the node needs; `None` for open services (health, reflection).
pub fn required_role(path: &str) -> Option<StaffRole> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    let query = ["Get", "List", "Read", "Subscribe"]
        .iter()
        .any(|p| method.starts_with(p));
    match service {
        "renkei.v1.Backup" => Some(StaffRole::Admin),
        "renkei.v1.MunicipalProgram" if method == "GetConsultationCase" => {
            Some(StaffRole::Operator)
        }
        "renkei.v1.MunicipalProgram" | "renkei.v1.EventLog" if query => Some(StaffRole::Viewer),
        "renkei.v1.MunicipalProgram" | "renkei.v1.EventLog" => Some(StaffRole::Operator),
        "renkei.v1.NodeSync" => Some(StaffRole::Viewer),
        _ if service.starts_with("renkei.") => Some(StaffRole::Admin),
        _ => None,
    }
}

/// The configured staff, by token digest.
#[derive(Debug, Clone, Default)]
pub struct StaffAccess {
    by_digest: Arc<HashMap<[u8; 32], StaffMember>>,
}

impl StaffAccess {
    pub fn new(staff: &[StaffMember]) -> Self {
        Self {
            by_digest: Arc::new(staff.iter().map(|s| (s.token_digest, s.clone())).collect()),
        }
    }

    /// Returns the staff member a token belongs to (the workspace's sign-in).
    pub fn by_token(&self, token: &str) -> Option<StaffMember> {
        self.by_digest.get(&token_digest(token.trim())).cloned()
    }

    /// True when no staff is configured: every call is allowed.
    pub fn is_open(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// Decides a call to `path` with these headers: who is calling (`None` on an open node or
    /// for an open method such as health checking), or the refusal.
    pub fn check(
        &self,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Result<Option<Authenticated>, tonic::Status> {
        if self.is_open() {
            return Ok(None);
        }
        let Some(needed) = required_role(path) else {
            return Ok(None);
        };
        let refuse = |who: &str, status: tonic::Status| {
            tracing::warn!(caller = who, method = path, refused = %status.message(), "call refused");
            Err(status)
        };
        let Some(header) = headers.get("authorization") else {
            return refuse(
                "anonymous",
                tonic::Status::unauthenticated("no `authorization: Bearer <token>` metadata"),
            );
        };
        let Some(token) = header.to_str().ok().and_then(|h| h.strip_prefix("Bearer ")) else {
            return refuse(
                "anonymous",
                tonic::Status::unauthenticated("authorization must be `Bearer <token>`"),
            );
        };
        let Some(member) = self.by_digest.get(&token_digest(token.trim())) else {
            return refuse("anonymous", tonic::Status::unauthenticated("unknown token"));
        };
        if member.role >= needed {
            Ok(Some(Authenticated(member.clone())))
        } else {
            refuse(
                &member.name,
                tonic::Status::permission_denied(
                    format!(
                        "staff {:?} ({:?}) may not call {path} (needs role {needed:?})",
                        member.name, member.role
                    )
                    .to_lowercase(),
                ),
            )
        }
    }
}

/// The staff member the access layer authenticated for a call, kept in the request's
/// extensions for the handlers.
#[derive(Debug, Clone)]
pub struct Authenticated(pub StaffMember);

/// The actor recorded for a command: the authenticated staff member, with the name the client
/// sent added as a display name when it differs (`富山市 地域包括ケア推進課（山田）`); on an open
/// node (no `[[staff]]`), what the client sent. A client cannot record in someone else's name.
pub fn actor_of(authenticated: Option<&Authenticated>, sent: &str) -> String {
    match authenticated {
        None => sent.to_owned(),
        Some(Authenticated(member)) => {
            let sent = sent.trim();
            if sent.is_empty() || sent == member.name {
                member.name.clone()
            } else {
                format!("{}（{sent}）", member.name)
            }
        }
    }
}

/// Splits a gRPC request into its message and who the access layer authenticated.
pub fn split<T>(request: tonic::Request<T>) -> (T, Option<Authenticated>) {
    let who = request.extensions().get::<Authenticated>().cloned();
    (request.into_inner(), who)
}

impl Gate for StaffAccess {
    type Caller = Authenticated;

    fn admit(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        _: &http::Extensions,
    ) -> Result<Option<Authenticated>, tonic::Status> {
        self.check(path, headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn methods_need_the_roles_of_their_kind() {
        let r = required_role;
        assert_eq!(
            r("/renkei.v1.MunicipalProgram/GetStatus"),
            Some(StaffRole::Viewer)
        );
        assert_eq!(
            r("/renkei.v1.MunicipalProgram/ListRecords"),
            Some(StaffRole::Viewer)
        );
        assert_eq!(
            r("/renkei.v1.MunicipalProgram/HoldMeeting"),
            Some(StaffRole::Operator)
        );
        assert_eq!(
            r("/renkei.v1.MunicipalProgram/GetConsultationCase"),
            Some(StaffRole::Operator)
        );
        assert_eq!(r("/renkei.v1.EventLog/Append"), Some(StaffRole::Operator));
        assert_eq!(r("/renkei.v1.EventLog/Subscribe"), Some(StaffRole::Viewer));
        assert_eq!(r("/renkei.v1.Backup/CreateBackup"), Some(StaffRole::Admin));
        assert_eq!(r("/renkei.v1.Unknown/Anything"), Some(StaffRole::Admin));
        assert_eq!(r("/grpc.health.v1.Health/Check"), None);
    }

    #[test]
    fn a_caller_below_the_role_is_refused_and_an_unknown_one_unauthenticated() {
        let access = StaffAccess::new(&[StaffMember {
            name: "reader".into(),
            token_digest: token_digest("reader-token-0123456789abcdefghijklmnop"),
            role: StaffRole::Viewer,
        }]);
        let mut headers = http::HeaderMap::new();
        assert_eq!(
            access
                .check("/renkei.v1.MunicipalProgram/GetStatus", &headers)
                .unwrap_err()
                .code(),
            tonic::Code::Unauthenticated
        );
        headers.insert(
            "authorization",
            "Bearer reader-token-0123456789abcdefghijklmnop"
                .parse()
                .unwrap(),
        );
        access
            .check("/renkei.v1.MunicipalProgram/GetStatus", &headers)
            .unwrap();
        let err = access
            .check("/renkei.v1.MunicipalProgram/HoldMeeting", &headers)
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(err.message().contains("reader") && err.message().contains("holdmeeting"));
        access
            .check("/grpc.health.v1.Health/Check", &HeaderMap::new())
            .unwrap();
    }
    use http::HeaderMap;
}
