//! One module per tab, and how the pages show what they share.

pub mod editor;
pub mod fleet;
pub mod publish;
pub mod snapshots;
pub mod test;
pub mod tokens;
pub mod versions;

use std::collections::BTreeMap;

use nodefit_api::snapshots::SnapshotSummary;

/// What the pages call a snapshot: its node's name, or its id when it has none.
pub fn node_name(s: &SnapshotSummary) -> String {
    match &s.node_name {
        Some(name) if !name.is_empty() => name.clone(),
        _ => s.id.to_string(),
    }
}

/// Labels as `k=v, k=v`, the way they are typed in.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
