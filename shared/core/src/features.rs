//! A node's features as NFD holds them (`Features` in its Go API): flag, attribute and instance
//! sets keyed by `<domain>.<feature>`.
//!
//! A set whose `elements` is null is kept apart from an empty one (`Option`): NFD answers
//! differently for them. JSON is read the way Go's `encoding/json` reads it (field names match
//! case-insensitively, unknown fields are ignored, null strings are "") and written the way
//! `nfd export features` writes it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::gostr::json_key_matches;

/// The hasher of every map in a node's features. Evaluation is point lookups in many cold
/// nodes: a B-tree lookup compares, and so fetches from memory, several keys where a hash lookup
/// fetches one (measured: the B-tree spent 80% of fleet evaluation in key comparisons).
/// foldhash seeds each map at random, so crafted keys cannot make an uploaded snapshot slow.
/// Where order shows (JSON output, error order, names lists) it is sorted on the way out.
pub type Hasher = foldhash::fast::RandomState;

/// Names and values are stored inline up to 24 bytes (nearly all NFD keys and values), so that
/// comparing one reads the map's own memory instead of another allocation.
pub type Text = compact_str::CompactString;

/// Feature sets or element values by name.
pub type NameMap<V> = HashMap<Text, V, Hasher>;

/// Flag elements.
pub type NameSet = HashSet<Text, Hasher>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Features {
    pub flags: NameMap<FlagSet>,
    pub attributes: NameMap<AttributeSet>,
    pub instances: NameMap<InstanceSet>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlagSet {
    pub elements: Option<NameSet>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttributeSet {
    pub elements: Option<NameMap<Text>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstanceSet {
    pub elements: Option<Vec<Instance>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    pub attributes: Option<NameMap<Text>>,
}

/// The three kinds of feature set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    Flag,
    Attribute,
    Instance,
}

impl Features {
    /// Whether the feature exists in any of the three maps (even with null elements).
    pub fn contains(&self, name: &str) -> bool {
        self.flags.contains_key(name)
            || self.attributes.contains_key(name)
            || self.instances.contains_key(name)
    }

    /// Every feature name with its kinds, sorted.
    pub fn names(&self) -> BTreeMap<&str, Vec<FeatureKind>> {
        let mut out: BTreeMap<&str, Vec<FeatureKind>> = BTreeMap::new();
        for k in self.flags.keys() {
            out.entry(k).or_default().push(FeatureKind::Flag);
        }
        for k in self.attributes.keys() {
            out.entry(k).or_default().push(FeatureKind::Attribute);
        }
        for k in self.instances.keys() {
            out.entry(k).or_default().push(FeatureKind::Instance);
        }
        out
    }

    /// Every element name (flag, attribute key, or instance attribute key) of a feature.
    pub fn element_names(&self, name: &str) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        if let Some(e) = self.flags.get(name).and_then(|f| f.elements.as_ref()) {
            out.extend(e.iter().map(Text::as_str));
        }
        if let Some(e) = self.attributes.get(name).and_then(|a| a.elements.as_ref()) {
            out.extend(e.keys().map(Text::as_str));
        }
        if let Some(e) = self.instances.get(name).and_then(|i| i.elements.as_ref()) {
            for inst in e {
                out.extend(inst.attributes.iter().flatten().map(|(k, _)| k.as_str()));
            }
        }
        out
    }

    /// Values an element has on this node: an attribute's value, or each instance's value.
    pub fn element_values(&self, name: &str, element: &str) -> Vec<&str> {
        let mut out = Vec::new();
        if let Some(v) = self
            .attributes
            .get(name)
            .and_then(|a| a.elements.as_ref())
            .and_then(|e| e.get(element))
        {
            out.push(v.as_str());
        }
        if let Some(e) = self.instances.get(name).and_then(|i| i.elements.as_ref()) {
            out.extend(
                e.iter()
                    .filter_map(|inst| inst.attributes.as_ref()?.get(element).map(Text::as_str)),
            );
        }
        out
    }
}

// ---- writing: the shape `nfd export features` prints (sorted keys) ----

/// Sorted by key, as Go marshals maps.
pub fn sorted<V, S: BuildHasher>(map: &HashMap<Text, V, S>) -> Vec<(&str, &V)> {
    let mut entries: Vec<(&str, &V)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
    entries.sort_unstable_by_key(|(k, _)| *k);
    entries
}

/// Writes a map with its keys sorted.
struct SortedMap<'a, V>(&'a NameMap<V>);

impl<V: Serialize> Serialize for SortedMap<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = sorted(self.0);
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for Features {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("attributes", &SortedMap(&self.attributes))?;
        m.serialize_entry("flags", &SortedMap(&self.flags))?;
        m.serialize_entry("instances", &SortedMap(&self.instances))?;
        m.end()
    }
}

struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_map(Some(0))?.end()
    }
}

impl Serialize for FlagSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        let elements: Option<BTreeMap<&str, EmptyObject>> = self
            .elements
            .as_ref()
            .map(|e| e.iter().map(|k| (k.as_str(), EmptyObject)).collect());
        m.serialize_entry("elements", &elements)?;
        m.end()
    }
}

impl Serialize for AttributeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("elements", &self.elements.as_ref().map(SortedMap))?;
        m.end()
    }
}

impl Serialize for InstanceSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("elements", &self.elements)?;
        m.end()
    }
}

impl Serialize for Instance {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("attributes", &self.attributes.as_ref().map(SortedMap))?;
        m.end()
    }
}

// ---- reading: Go encoding/json semantics ----

/// Reads a JSON object whose fields are matched like Go matches struct fields: each key is
/// compared case-insensitively with `fields`; unknown keys are skipped. Returns how many keys
/// the object had.
pub(crate) fn visit_struct<'de, A, F>(
    mut map: A,
    fields: &[&str],
    mut on_field: F,
) -> Result<usize, A::Error>
where
    A: MapAccess<'de>,
    F: FnMut(usize, &mut A) -> Result<(), A::Error>,
{
    let mut keys = 0;
    while let Some(key) = map.next_key::<GoKey>()? {
        keys += 1;
        match fields.iter().position(|f| json_key_matches(&key.0, f)) {
            Some(i) => on_field(i, &mut map)?,
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(keys)
}

/// A JSON object key (borrowed where the input allows).
pub(crate) struct GoKey(pub String);

impl<'de> Deserialize<'de> for GoKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(GoKey)
    }
}

/// A Go `string` field: JSON null leaves it "".
pub(crate) struct GoString(pub String);

impl<'de> Deserialize<'de> for GoString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<String>::deserialize(d).map(|s| GoString(s.unwrap_or_default()))
    }
}

/// A Go `map[string]string`: null is a nil map (`None`); repeated keys keep the last value.
pub(crate) struct GoStringMap(pub Option<NameMap<Text>>);

impl<'de> Deserialize<'de> for GoStringMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GoStringMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of strings")
            }
            fn visit_unit<E: de::Error>(self) -> Result<GoStringMap, E> {
                Ok(GoStringMap(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GoStringMap, A::Error> {
                let mut out = NameMap::with_capacity_and_hasher(
                    map.size_hint().unwrap_or(0),
                    Hasher::default(),
                );
                while let Some((k, v)) = map.next_entry::<Text, Option<Text>>()? {
                    out.insert(k, v.unwrap_or_default());
                }
                Ok(GoStringMap(Some(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Deserializes a Go map of `T` into an existing map (Go merges a repeated field into the map
/// it already decoded). Null leaves it as it is.
pub(crate) struct MergeInto<'a, T>(pub &'a mut NameMap<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for MergeInto<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        struct V<'a, T>(&'a mut NameMap<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<'_, T> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of feature sets")
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                while let Some((k, v)) = map.next_entry::<Text, T>()? {
                    self.0.insert(k, v);
                }
                Ok(())
            }
        }
        d.deserialize_any(V(self.0))
    }
}

/// Implements `Deserialize` for a struct with Go's field matching (see [`visit_struct`]): `null`
/// is the default value.
macro_rules! struct_visitor {
    ($ty:ty, $expecting:literal, $fields:expr, |$out:ident, $i:ident, $map:ident| $body:block) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<$ty, E> {
                        Ok(<$ty>::default())
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
                        let mut $out = <$ty>::default();
                        visit_struct(map, $fields, |$i, $map| $body)?;
                        Ok($out)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}
pub(crate) use struct_visitor;

struct_visitor!(
    Features,
    "a features object (flags, attributes, instances)",
    &["flags", "attributes", "instances"],
    |out, i, map| {
        match i {
            0 => map.next_value_seed(MergeInto(&mut out.flags)),
            1 => map.next_value_seed(MergeInto(&mut out.attributes)),
            _ => map.next_value_seed(MergeInto(&mut out.instances)),
        }
    }
);

struct_visitor!(
    FlagSet,
    "a flag feature set",
    &["elements"],
    |out, _i, map| {
        out.elements = map.next_value::<Option<FlagElements>>()?.map(|e| e.0);
        Ok(())
    }
);

struct_visitor!(
    AttributeSet,
    "an attribute feature set",
    &["elements"],
    |out, _i, map| {
        out.elements = map.next_value::<GoStringMap>()?.0;
        Ok(())
    }
);

struct_visitor!(
    InstanceSet,
    "an instance feature set",
    &["elements"],
    |out, _i, map| {
        out.elements = map.next_value::<Option<Vec<Instance>>>()?;
        Ok(())
    }
);

struct_visitor!(
    Instance,
    "an instance (an object with attributes)",
    &["attributes"],
    |out, _i, map| {
        out.attributes = map.next_value::<GoStringMap>()?.0;
        Ok(())
    }
);

/// Flag elements: `{NAME: {}}`; Go's `Nil` struct accepts any object or null as the value.
struct FlagElements(NameSet);

impl<'de> Deserialize<'de> for FlagElements {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FlagElements;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of flag elements")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FlagElements, A::Error> {
                let mut out = NameSet::with_capacity_and_hasher(
                    map.size_hint().unwrap_or(0),
                    Hasher::default(),
                );
                while let Some((k, _)) = map.next_entry::<Text, NilStruct>()? {
                    out.insert(k);
                }
                Ok(FlagElements(out))
            }
        }
        d.deserialize_map(V)
    }
}

struct NilStruct;

impl<'de> Deserialize<'de> for NilStruct {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NilStruct;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an empty object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<NilStruct, E> {
                Ok(NilStruct)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NilStruct, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(NilStruct)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_elements_stay_apart() {
        let f: Features = serde_json::from_str(
            r#"{"flags": {"a.b": {"elements": null}, "a.c": {"elements": {}}},
                "Attributes": {"x.y": {"ELEMENTS": {"k": "v", "n": null}}},
                "instances": {"p.d": {"elements": [{"attributes": {"vendor": "10de"}}, null]}},
                "unknown": 5}"#,
        )
        .unwrap();
        assert_eq!(f.flags["a.b"].elements, None);
        assert_eq!(f.flags["a.c"].elements, Some(NameSet::default()));
        let attrs = f.attributes["x.y"].elements.as_ref().unwrap();
        assert_eq!(attrs["k"], "v");
        assert_eq!(attrs["n"], "");
        let inst = f.instances["p.d"].elements.as_ref().unwrap();
        assert_eq!(inst.len(), 2);
        assert_eq!(inst[1].attributes, None);
    }

    #[test]
    fn wrong_value_types_are_errors_with_a_position() {
        let err = serde_json::from_str::<Features>(
            "{\"attributes\": {\"x.y\": {\"elements\": {\"k\": 5}}}}",
        )
        .unwrap_err();
        assert_eq!(err.line(), 1);
    }

    #[test]
    fn writes_the_export_shape() {
        let mut f = Features::default();
        f.flags.insert(
            "kernel.loadedmodule".into(),
            FlagSet {
                elements: Some([Text::from("vfio-pci")].into_iter().collect()),
            },
        );
        f.instances.insert(
            "pci.device".into(),
            InstanceSet {
                elements: Some(vec![]),
            },
        );
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"attributes":{},"flags":{"kernel.loadedmodule":{"elements":{"vfio-pci":{}}}},"instances":{"pci.device":{"elements":[]}}}"#
        );
    }
}
