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
    /// Stable, machine-readable: `unauthorized`, `forbidden`, `not_found`, `bad_request`,
    /// `parse_error`, `invalid_spec`, `over_budget`, `lint_failed`, `conflict`,
    /// `payload_too_large`, `unsupported_media_type`, `registry_content`,
    /// `registry_unavailable`, `publish_in_progress`, `unavailable`, `request_timeout`,
    /// `shutting_down`, `internal`.
    pub code: String,
    pub message: String,
    /// Where applicable: `line`/`column` of a parse error, the decode errors of a spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// The operational endpoints' answer (`/healthz`, `/readyz`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    pub status: String,
}
