//! The fleet matrix: one spec version against many snapshots.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The fleet matrix (docs/api.md), pinned to the spec version it evaluated.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FleetMatrix {
    pub spec_id: i64,
    /// The version evaluated; 0 when the request sent `content` (unsaved text) instead.
    pub spec_version: i64,
    /// The evaluated sets (all, or those with a requested tag) and on how many snapshots each
    /// matched.
    pub sets: Vec<SetSummary>,
    /// Snapshots evaluated.
    pub total: usize,
    /// Of those, how many are compatible.
    pub compatible: usize,
    /// Snapshots that made NFD abort validation (see each item's `error`).
    pub errors: usize,
    /// One page of per-snapshot results, in snapshot id order.
    pub items: Vec<FleetItem>,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SetSummary {
    /// Index in the spec's `compatibilities` (0-based).
    pub index: usize,
    pub tag: String,
    pub weight: i64,
    pub description: String,
    /// Snapshots on which all of this set's rules matched.
    pub matched: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FleetItem {
    pub snapshot_id: i64,
    pub node_name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub compatible: bool,
    /// Index of the matched set with the highest weight.
    pub best_set: Option<usize>,
    pub sets: Vec<SetResult>,
    /// Why NFD would abort validation on this node (the spec location and message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// NFD's `--output-json` report; only when exactly one snapshot was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub report: Option<Box<RawValue>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SetResult {
    pub index: usize,
    pub is_match: bool,
    /// Names of the rules that did not match.
    pub failing_rules: Vec<String>,
}
