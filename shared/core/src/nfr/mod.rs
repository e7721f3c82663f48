//! NodeFeatureRule objects (`nfd.k8s-sigs.io/v1alpha1`): reading them as the Kubernetes API
//! server accepts them ([`decode`]), and what nfd-master makes of them on a node ([`process`]):
//! the labels, annotations, extended resources and taints it would set, which rule produced
//! each, and why the other rules did not match.
//!
//! A rule's matchers are the image-compatibility spec's ([`crate::spec::Rule`]): the same terms
//! and expressions, evaluated by the same expression code, but with `failFast=true` as
//! nfd-master runs them (`nodefeaturerule.Execute`), where validate-node runs `failFast=false`.

pub mod decode;
pub mod process;

use std::collections::BTreeMap;

use crate::source::Span;
use crate::spec::Rule;

pub use decode::{parse, API_VERSION};

/// One NodeFeatureRule object.
#[derive(Clone, Debug, Default)]
pub struct NodeFeatureRule {
    /// `metadata.name`: nfd-master processes objects in the order of their names.
    pub name: String,
    pub name_span: Span,
    /// The document (or list item) the object was read from.
    pub span: Span,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    pub rules: Vec<NfrRule>,
}

/// One rule of `spec.rules`: a spec rule's matchers, `vars` and `varsTemplate`, plus what a
/// NodeFeatureRule writes to the node.
#[derive(Clone, Debug, Default)]
pub struct NfrRule {
    pub rule: Rule,
    pub labels: Vec<Entry>,
    pub labels_template: String,
    pub labels_template_span: Span,
    pub annotations: Vec<Entry>,
    pub extended_resources: Vec<Entry>,
    pub taints: Vec<Taint>,
}

/// A key and value of one of a rule's maps (labels, annotations, extended resources), in key
/// order, with where each was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub key_span: Span,
    pub value_span: Span,
}

/// A `corev1.Taint` as the CRD holds it (`timeAdded` is not used by nfd-master).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
    pub span: Span,
}

/// Whether a file is a NodeFeatureRule file (its first document a `NodeFeatureRule`, or a list
/// whose first item is one) rather than a compatibility spec: `nodefit lint` takes both.
pub fn is_node_feature_rule_file(src: &str) -> bool {
    let Ok(documents) = crate::yaml::parse_stream(src, &crate::budget::NFR_DOCUMENTS) else {
        return false;
    };
    let kind = |node: &crate::yaml::Node| -> Option<String> {
        let crate::yaml::Value::Map(entries) = &node.value else {
            return None;
        };
        entries
            .iter()
            .find(|e| e.key.as_scalar().is_some_and(|k| k.text == "kind"))
            .and_then(|e| e.value.as_scalar())
            .map(|s| s.text.clone())
    };
    let Some(root) = documents.iter().find_map(|d| d.root.as_ref()) else {
        return false;
    };
    match kind(root).as_deref() {
        Some("NodeFeatureRule" | "NodeFeatureRuleList") => true,
        Some("List") => match &root.value {
            crate::yaml::Value::Map(entries) => {
                entries
                    .iter()
                    .find(|e| e.key.as_scalar().is_some_and(|k| k.text == "items"))
                    .and_then(|e| match &e.value.value {
                        crate::yaml::Value::Seq(items) => items.first(),
                        _ => None,
                    })
                    .and_then(kind)
                    .as_deref()
                    == Some("NodeFeatureRule")
            }
            _ => false,
        },
        _ => false,
    }
}

impl NodeFeatureRule {
    /// Every rule's matchers, for lint and the catalog checks they share with specs.
    pub fn spec_rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|r| &r.rule)
    }
}
