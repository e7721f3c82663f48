//! The fleet matrix: one spec version against many snapshots, answered from one evaluation per
//! (spec version, tags, selection, fleet sequence) and paged, filtered and summarised from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The fleet matrix (docs/api.md), pinned to the spec version it evaluated and the state of
/// the fleet it saw.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FleetMatrix {
    pub spec_id: i64,
    /// The version evaluated; 0 when the request sent `content` (unsaved text) instead.
    pub spec_version: i64,
    /// The fleet change the answer includes (every upload, relabel and deletion up to it):
    /// pages with the same sequence come from the same evaluation.
    pub fleet_sequence: i64,
    /// The evaluated sets (all, or those with a requested tag) and on how many selected
    /// snapshots each matched.
    pub sets: Vec<SetSummary>,
    /// Snapshots selected and evaluated.
    pub total: usize,
    /// Of those, how many are compatible.
    pub compatible: usize,
    /// Snapshots that made NFD abort validation (see each item's `error`).
    pub errors: usize,
    /// Selected snapshots that pass the filter (all of them without one); `outcomes`,
    /// `failingRules`, `groups` and `items` cover these.
    pub filtered: usize,
    /// The distinct answers, most nodes first (at most 1,000).
    pub outcomes: Vec<Outcome>,
    /// Rules that fail, per set, with the number of nodes they fail on, most first (at most
    /// 1,000).
    pub failing_rules: Vec<RuleCount>,
    /// With `groupBy`: nodes per combination of those labels' values and outcome, most first
    /// (at most 1,000).
    pub groups: Vec<GroupCount>,
    /// Whether an outcome, failing rule or group was left out for the 1,000 limit.
    pub truncated: bool,
    /// Label keys of the selected snapshots, most used first (at most 100), for `groupBy`.
    pub label_keys: Vec<LabelKey>,
    /// One page of the filtered snapshots, in snapshot id order.
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
    /// Selected snapshots on which all of this set's rules matched.
    pub matched: usize,
}

/// One distinct answer and how many of the filtered nodes have it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Derived from the answer itself: the same answer has the same id in every evaluation,
    /// so it can be used in `filter.outcome`.
    pub id: String,
    pub compatible: bool,
    pub best_set: Option<usize>,
    pub sets: Vec<SetResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub nodes: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RuleCount {
    /// The set's index in the spec's `compatibilities`.
    pub set: usize,
    pub rule: String,
    pub nodes: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupCount {
    /// Each `groupBy` key and the nodes' value of it (null: they do not have the label).
    pub labels: BTreeMap<String, Option<String>>,
    /// An `outcomes` id.
    pub outcome: String,
    pub nodes: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LabelKey {
    pub key: String,
    /// Selected snapshots with the label.
    pub nodes: usize,
    /// Its distinct values among them.
    pub values: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FleetItem {
    pub snapshot_id: i64,
    pub node_name: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The id of its answer in `outcomes`.
    pub outcome: String,
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

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SetResult {
    pub index: usize,
    pub is_match: bool,
    /// Names of the rules that did not match.
    pub failing_rules: Vec<String>,
}

/// Which of the evaluated nodes an answer lists and summarises; every field given must hold.
/// Filtering does not evaluate again: it reads the evaluation of the selection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FleetFilter {
    /// Labels the node must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The node's best set (the matched set with the highest weight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_set: Option<usize>,
    /// A rule that fails on the node in this set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_rule: Option<FailingRule>,
    /// An `outcomes` id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Case-insensitive text in the node name or a `key=value` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Compatible,
    /// Not compatible, without an error.
    Incompatible,
    /// NFD would abort validation.
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FailingRule {
    pub set: usize,
    pub rule: String,
}
