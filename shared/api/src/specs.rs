//! Specs, their versions, diffs and lint.

use std::collections::BTreeMap;

use nodefit_core::lint::JsonDiagnostic;
use serde::{Deserialize, Serialize};

use crate::fleet::FleetFilter;

/// A spec; lists leave out `content`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub id: i64,
    pub name: String,
    /// The latest version.
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
}

/// A version of a spec; lists leave out `content`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub version: i64,
    pub content_hash: String,
    pub message: String,
    pub created_at: String,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateSpec {
    pub name: String,
    /// The spec's YAML (or JSON); saved even when NFD would refuse it, so that work in
    /// progress is kept (lint says what is wrong).
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateSpec {
    pub content: String,
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The version this edit started from: when given and no longer the latest, the save is
    /// refused with 409 instead of overwriting someone else's save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    pub from: i64,
    pub to: i64,
    /// `diff -u` text.
    pub unified: String,
    pub hunks: Vec<Hunk>,
    /// The hunks stop early: the whole diff would hold more than 20,000 lines.
    pub truncated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Hunk {
    /// 1-based first line in `from`.
    pub old_start: usize,
    pub old_lines: usize,
    /// 1-based first line in `to`.
    pub new_start: usize,
    pub new_lines: usize,
    pub lines: Vec<DiffLine>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffLine {
    pub kind: DiffKind,
    /// The line without its line break.
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    Context,
    Added,
    Removed,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LintRequest {
    /// Default: the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Snapshots to check feature and element names against and count rule matches on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_ids: Option<Vec<i64>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LintResult {
    /// `nodefit lint --format json`'s diagnostic objects (`file` is the spec's name).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub diagnostics: Vec<JsonDiagnostic>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EvaluateRequest {
    /// Default: the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Evaluate this text instead of a stored version: an editor's unsaved changes, evaluated
    /// without saving them (at most as large as a spec may be saved). Not with `version`; the
    /// answer's `specVersion` is then 0, since no stored version was evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// These snapshots; with `labels`, those of them that also have the labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_ids: Option<Vec<i64>>,
    /// Snapshots with all these labels. Without ids or labels, every snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Evaluate only compatibility sets with one of these tags (NFD's `--tags`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Which evaluated nodes to count in the summaries and list in `items`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FleetFilter>,
    /// Label keys (at most 4) to count nodes by, per combination of values and outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
}
