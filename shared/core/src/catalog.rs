//! The features NFD's built-in sources produce (data from NFD `76e6cc8`, in
//! `shared/core/data/feature-catalog.json`): for lint, the editor's autocomplete, and capture.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::features::FeatureKind;

const CATALOG_JSON: &str = include_str!("../data/feature-catalog.json");

/// What an element's value looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ValueKind {
    /// A flag element: presence only.
    Flag,
    String,
    /// A decimal integer (usable with Gt/Lt...).
    Integer,
    /// "true"/"false" (IsTrue/IsFalse).
    Boolean,
    /// "0"/"1" (use In, not IsTrue).
    ZeroOne,
    /// A dotted version (usable with `type: version`, not with integer ops).
    Version,
    /// A lower-case hexadecimal id ("10de"): not an integer.
    Hex,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ElementInfo {
    /// The key, or a pattern such as `hugepages-<size>` or `<OPTION>`.
    pub key: String,
    pub kind: ValueKind,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureInfo {
    pub name: String,
    pub source: String,
    /// The kinds of set the feature has (cpu.cpuid is a flag set plus, on amd64, an attribute set).
    pub kinds: Vec<FeatureKind>,
    pub description: String,
    pub elements: Vec<ElementInfo>,
    /// Element names known to occur, beyond fixed keys (e.g. cpuid flags per arch), for
    /// suggestions and autocomplete.
    pub known_elements: Vec<String>,
}

impl FeatureInfo {
    /// Whether the element keys are a closed set (no pattern keys such as `<flag>`).
    pub fn has_fixed_keys(&self) -> bool {
        !self.elements.iter().any(|e| e.key.contains('<'))
    }

    /// The catalog entry for an element name: an exact key or a matching pattern.
    pub fn element(&self, name: &str) -> Option<&ElementInfo> {
        self.elements
            .iter()
            .find(|e| e.key == name)
            .or_else(|| self.elements.iter().find(|e| pattern_matches(&e.key, name)))
    }

    pub fn is_flag_only(&self) -> bool {
        self.kinds == [FeatureKind::Flag]
    }

    pub fn is_instance(&self) -> bool {
        self.kinds.contains(&FeatureKind::Instance)
    }
}

/// `hugepages-<size>` matches `hugepages-2Mi`; `<OPTION>` matches anything non-empty.
fn pattern_matches(pattern: &str, name: &str) -> bool {
    let Some(open) = pattern.find('<') else {
        return false;
    };
    let Some(close) = pattern[open..].find('>').map(|c| open + c) else {
        return false;
    };
    let (prefix, suffix) = (&pattern[..open], &pattern[close + 1..]);
    name.len() > prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
}

pub struct Catalog {
    features: BTreeMap<String, FeatureInfo>,
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<&FeatureInfo> {
        self.features.get(name)
    }

    pub fn features(&self) -> impl Iterator<Item = &FeatureInfo> {
        self.features.values()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.features.keys().map(String::as_str)
    }
}

/// The catalog, parsed on first use.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| parse(CATALOG_JSON))
}

#[derive(Deserialize)]
struct RawFeature {
    source: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    elements: BTreeMap<String, RawElement>,
    #[serde(rename = "knownElementsByArch", default)]
    known_elements_by_arch: BTreeMap<String, serde_json::Value>,
    #[serde(rename = "additionalType")]
    additional: Option<RawAdditional>,
}

#[derive(Deserialize)]
struct RawElement {
    kind: String,
    #[serde(default)]
    description: String,
    example: Option<String>,
}

#[derive(Deserialize)]
struct RawAdditional {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    elements: BTreeMap<String, RawElement>,
}

fn feature_kind(s: &str) -> Option<FeatureKind> {
    match s {
        "flag" => Some(FeatureKind::Flag),
        "attribute" => Some(FeatureKind::Attribute),
        "instance" => Some(FeatureKind::Instance),
        _ => None,
    }
}

fn value_kind(raw: &RawElement) -> ValueKind {
    match raw.kind.as_str() {
        "flag" => ValueKind::Flag,
        "integer" => ValueKind::Integer,
        // The catalog calls storage.block dax/rotational booleans, but their values are "0"/"1".
        "boolean" if raw.description.contains("'0'") => ValueKind::ZeroOne,
        "boolean" => ValueKind::Boolean,
        "version" => ValueKind::Version,
        "hex" => ValueKind::Hex,
        _ => ValueKind::String,
    }
}

fn element_info(key: &str, raw: &RawElement) -> ElementInfo {
    ElementInfo {
        key: key.to_string(),
        kind: value_kind(raw),
        description: raw.description.clone(),
        example: raw.example.clone(),
    }
}

fn parse(json: &str) -> Catalog {
    let raw: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(json).expect("the embedded catalog is valid JSON");
    let mut features = BTreeMap::new();
    for (name, value) in raw {
        // `_meta` is documentation; `fake.*` is disabled in validate-node and `custom` has no
        // features, so neither can appear on a node that validate-node discovers.
        if name.starts_with('_') || name.starts_with("fake.") || name.contains('<') {
            continue;
        }
        let Ok(f) = serde_json::from_value::<RawFeature>(value) else {
            continue;
        };
        let Some(kind) = feature_kind(&f.kind) else {
            continue;
        };
        let mut kinds = vec![kind];
        let mut elements: Vec<ElementInfo> =
            f.elements.iter().map(|(k, e)| element_info(k, e)).collect();
        if let Some(extra) = &f.additional {
            if let Some(k) = feature_kind(&extra.kind) {
                kinds.push(k);
            }
            elements.extend(extra.elements.iter().map(|(k, e)| element_info(k, e)));
        }
        let mut known_elements: Vec<String> = f
            .known_elements_by_arch
            .values()
            .flat_map(|v| {
                let list = v.get("examples").unwrap_or(v);
                list.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            })
            .collect();
        known_elements.sort();
        known_elements.dedup();
        features.insert(
            name.clone(),
            FeatureInfo {
                name,
                source: f.source.unwrap_or_default(),
                kinds,
                description: f.description,
                elements,
                known_elements,
            },
        );
    }
    Catalog { features }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_knows_nfds_features() {
        let c = catalog();
        let model = c.get("cpu.model").unwrap();
        assert!(model.has_fixed_keys());
        assert_eq!(model.element("family").unwrap().kind, ValueKind::Integer);
        let cpuid = c.get("cpu.cpuid").unwrap();
        assert_eq!(cpuid.kinds, [FeatureKind::Flag, FeatureKind::Attribute]);
        assert!(cpuid.known_elements.iter().any(|e| e == "AVX512F"));
        assert!(cpuid.known_elements.iter().any(|e| e == "SVE"));
        let huge = c.get("memory.hugepages").unwrap();
        assert_eq!(
            huge.element("hugepages-1Gi").unwrap().kind,
            ValueKind::Integer
        );
        assert!(!huge.has_fixed_keys());
        assert_eq!(
            c.get("storage.block")
                .unwrap()
                .element("rotational")
                .unwrap()
                .kind,
            ValueKind::ZeroOne
        );
        assert_eq!(
            c.get("pci.device").unwrap().element("vendor").unwrap().kind,
            ValueKind::Hex
        );
        assert!(c.get("kernel.loadedmodule").unwrap().is_flag_only());
        assert!(c.get("rule.matched").is_some());
        assert!(c.get("fake.flag").is_none());
    }
}
