//! NodeFeatureRule files kept on the server, the labels nfd-master would apply with them on
//! the stored snapshots, and the NodeFeatureRule and pod affinity of a publication.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A stored NodeFeatureRule file (one or many documents); lists leave out `content`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RuleFile {
    pub id: i64,
    pub name: String,
    pub content_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRuleFile {
    pub name: String,
    /// The file's YAML (or JSON); kept even when the API server would refuse it (lint says
    /// what is wrong).
    pub content: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateRuleFile {
    pub content: String,
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// nfd-master's settings that decide which labels reach the nodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct NfdMasterSettings {
    /// `-deny-label-ns` (`*.example.com` for a domain's subdomains).
    pub deny_label_ns: Vec<String>,
    /// `-extra-label-ns`.
    pub extra_label_ns: Vec<String>,
    /// `-label-whitelist`, a Go regexp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_whitelist: Option<String>,
    /// `-enable-taints`.
    pub enable_taints: bool,
}

/// Which snapshots to run a rule file on (all when neither ids nor labels are given).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_ids: Option<Vec<i64>>,
    /// Snapshots whose labels include all of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<NfdMasterSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
}

/// What nfd-master would apply with a rule file on each selected snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LabelsMatrix {
    pub rule_file_id: i64,
    /// Snapshots evaluated.
    pub total: usize,
    /// Of those, on how many nfd-master would log an error (a rule failed, or something a rule
    /// produced is dropped).
    pub with_errors: usize,
    /// Of those, how many nodefit could not finish (see each item's `error`).
    pub failed: usize,
    /// Every label applied somewhere, with on how many snapshots (all pages).
    pub summary: Vec<LabelCount>,
    /// One page, in snapshot id order.
    pub items: Vec<NodeLabels>,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LabelCount {
    pub key: String,
    pub value: String,
    pub nodes: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeLabels {
    pub snapshot_id: i64,
    pub node_name: Option<String>,
    /// The snapshot's own labels (pool, cloud...).
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<Applied>,
    /// Why nodefit could not finish on this node (a budget, or a template construct it does
    /// not evaluate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What lands on one node, what is dropped, and every rule's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub labels: Vec<Produced>,
    pub annotations: Vec<Produced>,
    pub extended_resources: Vec<Produced>,
    pub taints: Vec<ProducedTaint>,
    /// Taints nfd-master sets only with `enableTaints`.
    pub taints_not_enabled: Vec<ProducedTaint>,
    /// What nfd-master drops, with what it logs.
    pub rejected: Vec<Rejected>,
    pub rules: Vec<RuleResult>,
}

/// A label, annotation or extended resource, and the rule that set it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Produced {
    pub key: String,
    pub value: String,
    /// The NodeFeatureRule object's name.
    pub object: String,
    pub rule: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProducedTaint {
    pub key: String,
    pub value: String,
    pub effect: String,
    pub object: String,
    pub rule: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    /// `label`, `annotation`, `extendedResource` or `taint`.
    pub kind: String,
    pub key: String,
    pub value: String,
    pub object: String,
    pub rule: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RuleResult {
    pub object: String,
    pub rule: String,
    /// `matched`, `notMatched` or `error` (nfd-master logs it and skips the rule).
    pub status: String,
    /// Where matching stopped; only when exactly one snapshot was asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A publication's NodeFeatureRule and pod affinity (`nodefit schedule` for the published
/// version, traced to the artifact by the rule's annotations).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub publication_id: i64,
    pub spec_id: i64,
    pub version: i64,
    /// The name of the labels (`compat.nodefit.io/<name>.<set>`).
    pub name: String,
    pub tags: Vec<String>,
    /// `metadata.name` of the NodeFeatureRule.
    pub object_name: String,
    /// The NodeFeatureRule, as YAML for `kubectl apply -f`.
    pub node_feature_rule: String,
    /// `affinity:` with its `nodeAffinity`, as YAML to paste into a pod spec.
    pub affinity: String,
    pub sets: Vec<ScheduledSet>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScheduledSet {
    /// Index in the spec's `compatibilities` (0-based).
    pub index: usize,
    pub tag: String,
    pub weight: i64,
    /// The label key; its value is `true`.
    pub label: String,
    /// Its preferred-scheduling weight (1..100); none when all sets weigh the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_weight: Option<i64>,
}
