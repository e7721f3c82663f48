//! Node snapshots.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A stored snapshot, without its features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSummary {
    pub id: i64,
    /// From `?node=`, the NodeFeature's name, its node-name label, or the `system.name`
    /// feature's `nodename`, in that order.
    pub node_name: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `nfdFeatures`, `nodeFeature` or `nodeFeatureList`: the shape it was uploaded in.
    pub format: String,
    /// `sha256:` of the canonical features JSON.
    pub content_hash: String,
    /// Number of features (flag, attribute and instance sets).
    pub feature_count: i64,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadResult {
    /// Every node of the upload, in order: new snapshots and the existing ones of duplicates.
    pub snapshots: Vec<SnapshotSummary>,
    /// Ids of the nodes whose features were already stored (nothing was changed for them).
    pub duplicates: Vec<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotWithFeatures {
    #[serde(flatten)]
    pub summary: SnapshotSummary,
    /// The `nfd export features` JSON.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub features: Box<RawValue>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LabelsEdit {
    /// The new labels: they replace all the snapshot's labels.
    pub labels: BTreeMap<String, String>,
}
