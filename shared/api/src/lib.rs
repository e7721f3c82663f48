//! The JSON of nodefit's HTTP API (`/api/v1`, docs/api.md): every request and response type,
//! owned here once and used by both ends — the server serializes what the web UI deserializes,
//! so the two cannot drift. With the `openapi` feature each type also describes itself for the
//! server's OpenAPI document.
//!
//! **Invariants.** Plain data: no I/O, no server or browser types; builds for wasm32. Every list
//! is a [`Page`]. Ids are integers, times RFC 3339 text, digests `sha256:<hex>` text.

use serde::{Deserialize, Serialize};

pub mod auth;
pub mod fleet;
pub mod nodefeaturerules;
pub mod publish;
pub mod snapshots;
pub mod specs;

/// A page of a list: `items` from `offset`, at most `limit` of them, out of `total`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items matching in all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl<T> Page<T> {
    /// A whole list as one page.
    pub fn all(items: Vec<T>) -> Page<T> {
        let total = items.len() as i64;
        Page {
            items,
            total,
            limit: total,
            offset: 0,
        }
    }
}

/// Every error answer: `{"error": {"code", "message", "details"?}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorObject {
    /// Stable, machine-readable: one of [`ErrorCode`]. A string, so that a client older than
    /// the server still reads an error with a code it does not know.
    pub code: String,
    pub message: String,
    /// Where applicable: `line`/`column` of a parse error, the decode errors of a spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// Every `error.code` the server answers with. The server can only answer these (its error
/// type holds one), and clients word each one for people (the web UI's `ApiError::sentence`):
/// a new code is added here, where both see it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    /// No token, or one the server does not accept (401).
    Unauthorized,
    /// The token's role may not do this (403).
    Forbidden,
    /// No such resource (404).
    NotFound,
    /// The path does not take this method (405).
    MethodNotAllowed,
    /// A parameter or body field is wrong; the message names it (400).
    BadRequest,
    /// An uploaded file is not a snapshot; `details` gives the line and column (400).
    ParseError,
    /// NFD cannot decode the spec version; `details.errors` lists each place (422).
    InvalidSpec,
    /// The Kubernetes API server would refuse the NodeFeatureRule file; `details.errors` lists each place (422).
    InvalidRuleFile,
    /// The input goes over one of nodefit's budgets, named in the message (422).
    OverBudget,
    /// Publishing refused: the spec version has lint errors (422).
    LintFailed,
    /// The resource changed meanwhile, or a name is taken (409).
    Conflict,
    /// Larger than the server takes; `details.limitBytes` when known (413).
    PayloadTooLarge,
    /// The body is not JSON or YAML (415).
    UnsupportedMediaType,
    /// The registry answered, but not with what was asked for: a missing tag, an unusable artifact (422).
    RegistryContent,
    /// The registry could not be reached or failed (502).
    RegistryUnavailable,
    /// The artifact's signatures do not satisfy the server's trust policy (422).
    Untrusted,
    /// Publishing would make an artifact the trust policy refuses: the server's signing cannot satisfy it (422).
    UntrustedPublish,
    /// The trust policy has no scope for the image's repository (422).
    NoTrustPolicy,
    /// The publication was detached from its image (409).
    Detached,
    /// No NodeFeatureRule can reproduce the spec's answer; the message says why (422).
    CannotSchedule,
    /// The same publication is being made by another request (409).
    PublishInProgress,
    /// The database did not answer in time (503).
    Unavailable,
    /// The request took longer than `request_timeout_secs` (408).
    RequestTimeout,
    /// The server is stopping (503).
    ShuttingDown,
    /// A failure inside the server, logged under the request's id (500).
    Internal,
}

impl ErrorCode {
    /// The code as it is sent.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every code.
    pub fn all() -> impl Iterator<Item = ErrorCode> {
        <ErrorCode as strum::IntoEnumIterator>::iter()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operational endpoints' answer (`/healthz`, `/readyz`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    pub status: String,
}

#[cfg(test)]
mod error_code_tests {
    use super::ErrorCode;

    #[test]
    fn each_code_is_sent_as_serde_names_it() {
        for code in ErrorCode::all() {
            let sent = serde_json::to_value(code).unwrap();
            assert_eq!(sent, code.as_str(), "{code:?}");
            assert_eq!(serde_json::from_value::<ErrorCode>(sent).unwrap(), code);
        }
    }
}
