//! Node feature snapshots in the three shapes NFD users have, detected from the content:
//! `nfd export features` JSON, a NodeFeature custom resource (YAML or JSON, features under
//! `spec.features`), and a NodeFeatureList (many nodes, each named by `metadata.name`).
//!
//! JSON goes through serde (fast: a 25 KB export parses in tens of microseconds); YAML goes
//! through the spec's YAML reader so that it resolves scalars as `sigs.k8s.io/yaml` does.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::decode::{string_map, Decoder, Path};
use crate::features::{
    struct_visitor, visit_struct, AttributeSet, Features, FlagSet, GoString, GoStringMap, Instance,
    InstanceSet, MergeInto, NameSet, Text,
};
use crate::source::{LineIndex, Span};
use crate::yaml::{self, Node, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SnapshotFormat {
    /// `nfd export features` output.
    NfdFeatures,
    NodeFeature,
    NodeFeatureList,
}

impl fmt::Display for SnapshotFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SnapshotFormat::NfdFeatures => "nfd export features JSON",
            SnapshotFormat::NodeFeature => "NodeFeature",
            SnapshotFormat::NodeFeatureList => "NodeFeatureList",
        })
    }
}

/// One node's features, with what the custom resource said about the node.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeSnapshot {
    /// `metadata.name` of a NodeFeature (absent in `nfd export features` output).
    pub name: Option<String>,
    /// `metadata.labels` of a NodeFeature (e.g. `nfd.node.kubernetes.io/node-name`).
    pub labels: BTreeMap<String, String>,
    pub features: Features,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Snapshots {
    pub format: SnapshotFormat,
    pub nodes: Vec<NodeSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SnapshotError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Reads a snapshot in any supported shape.
pub fn parse(src: &str) -> Result<Snapshots, SnapshotError> {
    if src.trim_start().starts_with('{') {
        // YAML that starts with a flow mapping (`{...}` and a comment, say) is not JSON but is
        // a snapshot. Only JSON's syntax errors send it to the YAML reader: a JSON file with a
        // wrong value type stays an error, as in Go's encoding/json. The JSON error is kept
        // when YAML cannot read the text either, as it says more.
        parse_json(src).or_else(|(json_error, syntax)| {
            if syntax {
                parse_yaml(src).map_err(|_| json_error)
            } else {
                Err(json_error)
            }
        })
    } else {
        parse_yaml(src)
    }
}

/// The snapshots, or the error and whether it is a JSON syntax error.
fn parse_json(src: &str) -> Result<Snapshots, (SnapshotError, bool)> {
    let doc: JsonDocument = serde_json::from_str(src).map_err(|e| {
        let error = SnapshotError {
            message: strip_position(&e.to_string()),
            line: e.line(),
            column: e.column(),
        };
        (error, e.is_syntax())
    })?;
    doc.into_snapshots().map_err(|message| {
        let error = SnapshotError {
            message,
            line: 1,
            column: 1,
        };
        (error, false)
    })
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Any of the three shapes, read in one pass: the fields that tell them apart are collected
/// and the shape is decided at the end.
#[derive(Default)]
struct JsonDocument {
    kind: Option<String>,
    features: Option<Features>,
    node: JsonNodeFeature,
    items: Option<Vec<JsonNodeFeature>>,
}

#[derive(Default)]
struct JsonNodeFeature {
    kind: Option<String>,
    name: Option<String>,
    labels: BTreeMap<String, String>,
    spec: Option<Features>,
}

#[derive(Default)]
struct JsonMetadata {
    name: String,
    labels: BTreeMap<String, String>,
}

#[derive(Default)]
struct JsonSpec {
    features: Features,
}

const NOT_A_SNAPSHOT: &str = "not a node feature snapshot: expected `flags`/`attributes`/`instances` (nfd export features), or a NodeFeature / NodeFeatureList";

impl JsonDocument {
    fn into_snapshots(self) -> Result<Snapshots, String> {
        let kind = self.kind.as_deref().unwrap_or_default();
        if kind == "NodeFeatureList" || (kind.is_empty() && self.items.is_some()) {
            let nodes = self
                .items
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, item)| item.into_snapshot(&format!("items[{i}]")))
                .collect::<Result<_, _>>()?;
            return Ok(Snapshots {
                format: SnapshotFormat::NodeFeatureList,
                nodes,
            });
        }
        if kind == "NodeFeature" || self.node.spec.is_some() {
            return Ok(Snapshots {
                format: SnapshotFormat::NodeFeature,
                nodes: vec![self.node.into_snapshot("")?],
            });
        }
        if !kind.is_empty() {
            return Err(format!(
                "unsupported kind {kind:?}: expected NodeFeature, NodeFeatureList, or `nfd export features` output"
            ));
        }
        match self.features {
            Some(features) => Ok(Snapshots {
                format: SnapshotFormat::NfdFeatures,
                nodes: vec![NodeSnapshot {
                    features,
                    ..Default::default()
                }],
            }),
            None => Err(NOT_A_SNAPSHOT.into()),
        }
    }
}

impl JsonNodeFeature {
    fn into_snapshot(self, path: &str) -> Result<NodeSnapshot, String> {
        if let Some(kind) = self
            .kind
            .as_deref()
            .filter(|k| !k.is_empty() && *k != "NodeFeature")
        {
            return Err(format!("{path}: kind {kind:?} is not NodeFeature"));
        }
        Ok(NodeSnapshot {
            name: self.name.filter(|n| !n.is_empty()),
            labels: self.labels,
            features: self.spec.unwrap_or_default(),
        })
    }
}

impl<'de> Deserialize<'de> for JsonDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonDocument;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JsonDocument, A::Error> {
                let mut doc = JsonDocument::default();
                let mut features = Features::default();
                let mut saw_features = false;
                let keys = visit_struct(
                    map,
                    &[
                        "kind",
                        "metadata",
                        "spec",
                        "items",
                        "flags",
                        "attributes",
                        "instances",
                    ],
                    |i, map| {
                        match i {
                            0 => doc.kind = Some(map.next_value::<GoString>()?.0),
                            1 => {
                                let m: JsonMetadata = map.next_value()?;
                                doc.node.name = Some(m.name);
                                doc.node.labels = m.labels;
                            }
                            2 => doc.node.spec = Some(map.next_value::<JsonSpec>()?.features),
                            3 => {
                                doc.items = Some(
                                    map.next_value::<Option<Vec<JsonNodeFeature>>>()?
                                        .unwrap_or_default(),
                                )
                            }
                            4 => {
                                saw_features = true;
                                map.next_value_seed(MergeInto(&mut features.flags))?;
                            }
                            5 => {
                                saw_features = true;
                                map.next_value_seed(MergeInto(&mut features.attributes))?;
                            }
                            _ => {
                                saw_features = true;
                                map.next_value_seed(MergeInto(&mut features.instances))?;
                            }
                        }
                        Ok(())
                    },
                )?;
                doc.node.kind = doc.kind.clone();
                // `{}` is what Go's decoder (and so NFD) reads as a node without features.
                if saw_features || keys == 0 {
                    doc.features = Some(features);
                }
                Ok(doc)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for JsonNodeFeature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonNodeFeature;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a NodeFeature object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<JsonNodeFeature, E> {
                Ok(JsonNodeFeature::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JsonNodeFeature, A::Error> {
                let mut out = JsonNodeFeature::default();
                visit_struct(map, &["kind", "metadata", "spec"], |i, map| {
                    match i {
                        0 => out.kind = Some(map.next_value::<GoString>()?.0),
                        1 => {
                            let m: JsonMetadata = map.next_value()?;
                            out.name = Some(m.name);
                            out.labels = m.labels;
                        }
                        _ => out.spec = Some(map.next_value::<JsonSpec>()?.features),
                    }
                    Ok(())
                })?;
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

struct_visitor!(
    JsonMetadata,
    "an object",
    &["name", "labels"],
    |out, i, map| {
        match i {
            0 => out.name = map.next_value::<GoString>()?.0,
            _ => {
                out.labels = map
                    .next_value::<GoStringMap>()?
                    .0
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect()
            }
        }
        Ok(())
    }
);

struct_visitor!(JsonSpec, "an object", &["features"], |out, _i, map| {
    out.features = map.next_value()?;
    Ok(())
});

// ---- YAML ----

fn parse_yaml(src: &str) -> Result<Snapshots, SnapshotError> {
    let index = LineIndex::new(src);
    let at = |span: Span, message: String| {
        let (line, column) = index.line_col(span.start);
        SnapshotError {
            message,
            line,
            column,
        }
    };
    let root = yaml::parse(src)
        .map_err(|e| at(e.span, e.message))?
        .ok_or_else(|| {
            at(
                Span::default(),
                "empty document: expected a node feature snapshot".into(),
            )
        })?;
    let mut d = Decoder::default();
    let result = yaml_document(&mut d, &root);
    if let Some(e) = d.errors.into_iter().next() {
        let path = if e.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", e.path)
        };
        return Err(at(e.span, format!("{path}{}", e.message)));
    }
    result.map_err(|(span, message)| at(span, message))
}

type YamlResult<T> = Result<T, (Span, String)>;

fn field<'n>(d: &mut Decoder, node: &'n Node, path: &str, name: &str) -> Option<&'n Node> {
    d.object(
        node,
        &Path::Text(path),
        crate::decode::Want::Object("an object"),
    )?
    .into_iter()
    .rfind(|(k, _)| crate::gostr::json_key_matches(k, name))
    .map(|(_, e)| &e.value)
}

fn yaml_document(d: &mut Decoder, root: &Node) -> YamlResult<Snapshots> {
    if !matches!(root.value, Value::Map(_)) {
        return Err((
            root.span,
            format!("expected an object, found {}", root.kind_name()),
        ));
    }
    let kind = field(d, root, "", "kind")
        .and_then(|k| d.string(k, &Path::Text("kind")))
        .unwrap_or_default();
    let items = field(d, root, "", "items");
    if kind == "NodeFeatureList" || (kind.is_empty() && items.is_some()) {
        let nodes = match items.map(|n| &n.value) {
            Some(Value::Seq(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| yaml_node_feature(d, item, &format!("items[{i}]")))
                .collect::<YamlResult<_>>()?,
            Some(_) if !items.is_some_and(Node::is_null) => {
                return Err((
                    items.map_or(root.span, |n| n.span),
                    "`items` must be a list of NodeFeature objects".into(),
                ))
            }
            _ => Vec::new(),
        };
        return Ok(Snapshots {
            format: SnapshotFormat::NodeFeatureList,
            nodes,
        });
    }
    if kind == "NodeFeature" || field(d, root, "", "spec").is_some() {
        return Ok(Snapshots {
            format: SnapshotFormat::NodeFeature,
            nodes: vec![yaml_node_feature(d, root, "")?],
        });
    }
    if !kind.is_empty() {
        return Err((
            root.span,
            format!("unsupported kind {kind:?}: expected NodeFeature or NodeFeatureList"),
        ));
    }
    let empty = matches!(&root.value, Value::Map(entries) if entries.is_empty());
    let has_features = ["flags", "attributes", "instances"]
        .iter()
        .any(|name| field(d, root, "", name).is_some());
    if !empty && !has_features {
        return Err((root.span, NOT_A_SNAPSHOT.into()));
    }
    Ok(Snapshots {
        format: SnapshotFormat::NfdFeatures,
        nodes: vec![NodeSnapshot {
            features: yaml_features(d, root, ""),
            ..Default::default()
        }],
    })
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn yaml_node_feature(d: &mut Decoder, node: &Node, path: &str) -> YamlResult<NodeSnapshot> {
    if let Some(kind) =
        field(d, node, path, "kind").and_then(|k| d.string(k, &Path::Text(&join(path, "kind"))))
    {
        if !kind.is_empty() && kind != "NodeFeature" {
            return Err((
                node.span,
                format!("{path}: kind {kind:?} is not NodeFeature"),
            ));
        }
    }
    let mut snap = NodeSnapshot::default();
    if let Some(meta) = field(d, node, path, "metadata") {
        let mp = join(path, "metadata");
        snap.name = field(d, meta, &mp, "name")
            .and_then(|n| d.string(n, &Path::Text(&join(&mp, "name"))))
            .filter(|n| !n.is_empty());
        if let Some(labels) = field(d, meta, &mp, "labels") {
            snap.labels =
                string_map(d, labels, &Path::Text(&join(&mp, "labels"))).unwrap_or_default();
        }
    }
    let sp = join(path, "spec");
    if let Some(features) = field(d, node, path, "spec").and_then(|s| field(d, s, &sp, "features"))
    {
        snap.features = yaml_features(d, features, &join(&sp, "features"));
    }
    Ok(snap)
}

fn yaml_features(d: &mut Decoder, node: &Node, path: &str) -> Features {
    let mut f = Features::default();
    for (kind, name) in [(0, "flags"), (1, "attributes"), (2, "instances")] {
        let p = join(path, name);
        let Some(sets) = field(d, node, path, name) else {
            continue;
        };
        let Some(entries) = d.object(
            sets,
            &Path::Text(&p),
            crate::decode::Want::Object("a map of feature sets"),
        ) else {
            continue;
        };
        for (feature, entry) in entries {
            let fp = format!("{p}.{feature}");
            let els = field(d, &entry.value, &fp, "elements");
            let ep = join(&fp, "elements");
            let feature = Text::from(feature);
            match kind {
                0 => {
                    let names: Option<NameSet> = els.filter(|n| !n.is_null()).and_then(|n| {
                        d.object(
                            n,
                            &Path::Text(&ep),
                            crate::decode::Want::Object("a map of flag elements"),
                        )
                        .map(|e| e.into_iter().map(|(k, _)| Text::from(k)).collect())
                    });
                    f.flags.insert(feature, FlagSet { elements: names });
                }
                1 => {
                    let values = els.and_then(|n| string_map(d, n, &Path::Text(&ep)));
                    f.attributes
                        .insert(feature, AttributeSet { elements: values });
                }
                _ => {
                    let instances = match els.map(|n| &n.value) {
                        Some(Value::Seq(items)) => Some(
                            items
                                .iter()
                                .enumerate()
                                .map(|(i, inst)| Instance {
                                    attributes: field(d, inst, &format!("{ep}[{i}]"), "attributes")
                                        .and_then(|a| {
                                            string_map(
                                                d,
                                                a,
                                                &Path::Text(&format!("{ep}[{i}].attributes")),
                                            )
                                        }),
                                })
                                .collect(),
                        ),
                        _ => None,
                    };
                    f.instances.insert(
                        feature,
                        InstanceSet {
                            elements: instances,
                        },
                    );
                }
            }
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_three_shapes() {
        let export = parse(include_str!(
            "../tests/data/samples/intel-spr-h100-cx6.features.json"
        ))
        .unwrap();
        assert_eq!(export.format, SnapshotFormat::NfdFeatures);
        assert_eq!(
            export.nodes[0].features.attributes["cpu.model"]
                .elements
                .as_ref()
                .unwrap()["vendor_id"],
            "Intel"
        );

        let cr = parse(include_str!(
            "../tests/data/samples/nodefeature-gpu-node-01.yaml"
        ))
        .unwrap();
        assert_eq!(cr.format, SnapshotFormat::NodeFeature);
        assert_eq!(cr.nodes[0].name.as_deref(), Some("gpu-node-01"));
        assert!(cr.nodes[0].features.contains("pci.device"));

        let list = parse(
            r#"{"apiVersion":"nfd.k8s-sigs.io/v1alpha1","kind":"NodeFeatureList","items":[
                {"kind":"NodeFeature","metadata":{"name":"a"},"spec":{"features":{"flags":{"x.y":{"elements":{"f":{}}}}}}},
                {"metadata":{"name":"b"},"spec":{"features":{}}}]}"#,
        )
        .unwrap();
        assert_eq!(list.format, SnapshotFormat::NodeFeatureList);
        assert_eq!(list.nodes.len(), 2);
        assert_eq!(list.nodes[1].name.as_deref(), Some("b"));
    }

    #[test]
    fn an_empty_object_is_a_node_without_features_and_other_objects_are_refused() {
        for empty in ["{}", "{ }\n", "{}\n# nothing\n"] {
            let s = parse(empty).unwrap();
            assert_eq!(s.format, SnapshotFormat::NfdFeatures, "{empty:?}");
            assert_eq!(s.nodes.len(), 1);
            assert_eq!(s.nodes[0].features, Features::default());
        }
        assert!(parse("{\"foo\": 1}").is_err());
        assert!(parse("foo: 1\n").is_err());
    }

    #[test]
    fn yaml_and_json_of_the_same_node_agree() {
        let json = parse(include_str!(
            "../tests/data/samples/arm64-graviton3-al2023.features.json"
        ))
        .unwrap();
        let node = yaml::parse(include_str!(
            "../tests/data/samples/arm64-graviton3-al2023.features.json"
        ))
        .unwrap()
        .unwrap();
        let mut d = Decoder::default();
        let from_yaml = yaml_features(&mut d, &node, "");
        assert!(d.errors.is_empty());
        assert_eq!(json.nodes[0].features, from_yaml);
    }

    #[test]
    fn yaml_errors_name_line_and_field() {
        let err = parse("kind: NodeFeature\nspec:\n  features:\n    attributes:\n      cpu.model:\n        elements:\n          vendor_id: [Intel]\n").unwrap_err();
        assert_eq!(err.line, 7);
        assert!(
            err.message
                .contains("spec.features.attributes.cpu.model.elements.vendor_id"),
            "{}",
            err.message
        );
    }

    #[test]
    fn json_errors_name_line() {
        let err = parse("{\n\"attributes\": {\"a.b\": {\"elements\": {\"k\": 5}}}\n}").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
