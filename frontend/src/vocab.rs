//! What the UI can suggest: NFD's feature catalog (from the core) plus what the stored
//! snapshots actually contain, for autocomplete and the rule builder's pickers.

use std::collections::{BTreeMap, BTreeSet};

use nodefit_core::catalog::{self, ValueKind};
use nodefit_core::features::Features;
use nodefit_core::spec::Op;

/// Features, elements and values seen in the stored snapshots.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnapshotIndex {
    pub nodes: usize,
    pub features: BTreeMap<String, FeatureSeen>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeatureSeen {
    /// On how many snapshots the feature exists.
    pub nodes: usize,
    /// Element name → the values it has somewhere (empty for flags).
    pub elements: BTreeMap<String, BTreeSet<String>>,
}

impl SnapshotIndex {
    pub fn add(&mut self, features: &Features) {
        self.nodes += 1;
        for name in features.names().into_keys() {
            let seen = self.features.entry(name.to_string()).or_default();
            seen.nodes += 1;
            for element in features.element_names(name) {
                let values = seen.elements.entry(element.to_string()).or_default();
                values.extend(
                    features
                        .element_values(name, element)
                        .into_iter()
                        .map(str::to_string),
                );
            }
        }
    }
}

/// One suggestion, in the shape CodeMirror's autocomplete takes (`type` picks the icon class).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Suggestion {
    pub label: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    /// Text inserted instead of the label (keys get their `: `).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply: Option<String>,
}

impl Suggestion {
    fn new(label: impl Into<String>, kind: &'static str) -> Suggestion {
        Suggestion {
            label: label.into(),
            kind,
            detail: None,
            info: None,
            apply: None,
        }
    }

    fn detail(mut self, detail: impl Into<String>) -> Suggestion {
        self.detail = Some(detail.into()).filter(|d: &String| !d.is_empty());
        self
    }

    fn info(mut self, info: impl Into<String>) -> Suggestion {
        self.info = Some(info.into()).filter(|d: &String| !d.is_empty());
        self
    }

    fn into_key(mut self) -> Suggestion {
        self.apply = Some(format!("{}: ", self.label));
        self
    }
}

/// Feature names: the catalog's, then any others the snapshots have (custom or newer sources).
pub fn features(index: &SnapshotIndex) -> Vec<Suggestion> {
    let cat = catalog::catalog();
    let seen = |name: &str| {
        index
            .features
            .get(name)
            .map(|f| format!("on {} of {} snapshots", f.nodes, index.nodes))
    };
    let mut out: Vec<Suggestion> = cat
        .features()
        .map(|f| {
            Suggestion::new(&f.name, "type")
                .detail(seen(&f.name).unwrap_or_else(|| f.source.clone()))
                .info(&f.description)
        })
        .collect();
    out.extend(
        index
            .features
            .keys()
            .filter(|name| cat.get(name).is_none())
            .map(|name| Suggestion::new(name, "type").detail(seen(name).unwrap_or_default())),
    );
    out
}

/// Element names of a feature: fixed catalog keys, known names, and names seen in snapshots.
pub fn elements(feature: &str, index: &SnapshotIndex) -> Vec<Suggestion> {
    let mut out: BTreeMap<String, Suggestion> = BTreeMap::new();
    let lookup = feature.to_ascii_lowercase();
    if let Some(info) = catalog::catalog().get(&lookup) {
        for e in info.elements.iter().filter(|e| !e.key.contains('<')) {
            out.insert(
                e.key.clone(),
                Suggestion::new(&e.key, "property")
                    .detail(kind_name(e.kind))
                    .info(&e.description),
            );
        }
        for name in &info.known_elements {
            out.entry(name.clone())
                .or_insert_with(|| Suggestion::new(name, "property").detail("known element"));
        }
    }
    if let Some(seen) = index.features.get(&lookup) {
        for (name, values) in &seen.elements {
            let detail = match values.len() {
                0 => "seen in snapshots".to_string(),
                1 => format!("seen: {}", values.iter().next().unwrap_or(&String::new())),
                n => format!("{n} values seen"),
            };
            out.entry(name.clone())
                .and_modify(|s| s.detail = Some(detail.clone()))
                .or_insert_with(|| Suggestion::new(name, "property").detail(detail));
        }
    }
    out.into_values().collect()
}

/// Values an element has in the stored snapshots, plus the kind's obvious ones.
pub fn values(feature: &str, element: &str, index: &SnapshotIndex) -> Vec<Suggestion> {
    let lookup = feature.to_ascii_lowercase();
    let mut out: BTreeSet<String> = index
        .features
        .get(&lookup)
        .and_then(|f| f.elements.get(element))
        .cloned()
        .unwrap_or_default();
    let kind = catalog::catalog()
        .get(&lookup)
        .and_then(|f| f.element(element))
        .map(|e| e.kind);
    match kind {
        Some(ValueKind::Boolean) => out.extend(["true".to_string(), "false".to_string()]),
        Some(ValueKind::ZeroOne) => out.extend(["0".to_string(), "1".to_string()]),
        _ => {}
    }
    out.into_iter()
        .map(|v| Suggestion::new(v, "constant").detail("seen in snapshots"))
        .collect()
}

pub fn ops() -> Vec<Suggestion> {
    Op::ALL
        .into_iter()
        .filter(|op| *op != Op::Any)
        .map(|op| {
            let takes = match op.value_count() {
                Some(0) => "no values".to_string(),
                Some(1) => "1 value".to_string(),
                Some(n) => format!("{n} values"),
                None => "1 or more values".to_string(),
            };
            Suggestion::new(op.as_str(), "keyword").detail(takes)
        })
        .collect()
}

/// Keys NFD reads at one level of a spec (see docs/lint-rules.md `unknown-key`).
pub fn keys(labels: &[(&str, &str)]) -> Vec<Suggestion> {
    labels
        .iter()
        .map(|(key, info)| Suggestion::new(*key, "keyword").info(*info).into_key())
        .collect()
}

pub fn element_keys(feature: &str, index: &SnapshotIndex) -> Vec<Suggestion> {
    elements(feature, index)
        .into_iter()
        .map(Suggestion::into_key)
        .collect()
}

fn kind_name(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Flag => "flag",
        ValueKind::String => "string",
        ValueKind::Integer => "integer",
        ValueKind::Boolean => "true/false",
        ValueKind::ZeroOne => "0/1",
        ValueKind::Version => "version",
        ValueKind::Hex => "hex id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> SnapshotIndex {
        let snap = nodefit_core::snapshot::parse(
            r#"{"flags":{"kernel.loadedmodule":{"elements":{"vfio_pci":{}}}},
                "attributes":{"cpu.model":{"elements":{"vendor_id":"Intel","family":"6"}}},
                "instances":{"pci.device":{"elements":[{"attributes":{"vendor":"10de","class":"0300"}},
                                                        {"attributes":{"vendor":"15b3","class":"0200"}}]}}}"#,
        )
        .unwrap();
        let mut index = SnapshotIndex::default();
        index.add(&snap.nodes[0].features);
        index
    }

    #[test]
    fn snapshot_values_are_indexed_per_element() {
        let index = index();
        assert_eq!(index.nodes, 1);
        let pci = &index.features["pci.device"];
        assert_eq!(
            pci.elements["vendor"].iter().collect::<Vec<_>>(),
            ["10de", "15b3"]
        );
        assert!(index.features["kernel.loadedmodule"].elements["vfio_pci"].is_empty());
    }

    #[test]
    fn suggestions_mix_catalog_and_snapshots() {
        let index = index();
        let names: Vec<String> = features(&index).into_iter().map(|s| s.label).collect();
        assert!(names.contains(&"cpu.model".to_string()));
        let vendor = values("pci.device", "vendor", &index);
        assert_eq!(vendor.len(), 2);
        let elems: Vec<String> = elements("cpu.model", &index)
            .into_iter()
            .map(|s| s.label)
            .collect();
        assert!(elems.contains(&"vendor_id".to_string()));
        assert!(elems.contains(&"family".to_string()));
        assert!(ops().iter().any(|o| o.label == "InRegexp"));
        assert!(!ops().iter().any(|o| o.label.is_empty()));
    }
}
