//! Many nodes at once, in memory that grows with what differs between them, evaluated once per
//! group of nodes that a spec cannot tell apart.
//!
//! A fleet is mostly pools of identical hardware whose nodes differ in a handful of values (a
//! host name, a module, a kernel build). A node's features are split into one [`FeatureValue`]
//! per feature name (its flag, attribute and instance sets together, [`split`]). The caller
//! names each distinct (name, value) with a [`ValueKey`] — the server uses the id of the
//! value's row, which is content-addressed — and a [`Fleet`] holds each keyed value once, its
//! element names and values interned as strings shared by the whole fleet, so that a value
//! shared by a thousand nodes is stored once and a node is a short list of (name, value) ids.
//!
//! Evaluation reads only the features a spec's terms name: nodes that agree on those agree on
//! every rule's outcome, every error and every value a report shows. [`Fleet::group`] puts such
//! nodes together and gives each group the features it was projected on, so the spec runs once
//! per group — exactly, not approximately: a group's projected features are the very values the
//! spec would have read on each of its nodes. [`Fleet::group_by`] does the same for any set of
//! feature names (rules other than a spec's, for instance).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::features::{
    AttributeSet, Features, FlagSet, Hasher, Instance, InstanceSet, NameMap, NameSet, Text,
};
use crate::spec::Spec;

/// Node ids are the caller's (the server's snapshot ids).
pub type NodeId = i64;
/// The caller's name for one feature value under one feature name. One key must always stand
/// for the same name and value, and equal values under one name should have one key: grouping
/// compares keys, not contents.
pub type ValueKey = i64;

type NameId = u32;
type Sym = u32;
type ValueIdx = u32;
/// A node's (name, value) pairs, sorted by name id.
type Row = Box<[(NameId, ValueIdx)]>;
/// No value: a column's entry for a node without the feature, or for a free slot.
const NONE: ValueIdx = ValueIdx::MAX;
/// Columns kept (the names grouped by most recently): a spec reads a handful of names, and a
/// column costs four bytes per node.
const COLUMNS_KEPT: usize = 64;

/// One feature name's sets on a node, as evaluation sees them: a name may be a flag, an
/// attribute and an instance feature at once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeatureValue {
    pub flags: Option<FlagSet>,
    pub attributes: Option<AttributeSet>,
    pub instances: Option<InstanceSet>,
}

impl Serialize for FeatureValue {
    /// `{"attributes": ..., "flags": ..., "instances": ...}` with each set as `nfd export
    /// features` writes it and absent kinds left out: deterministic, so that it can be hashed.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let count = usize::from(self.attributes.is_some())
            + usize::from(self.flags.is_some())
            + usize::from(self.instances.is_some());
        let mut m = s.serialize_map(Some(count))?;
        if let Some(set) = &self.attributes {
            m.serialize_entry("attributes", set)?;
        }
        if let Some(set) = &self.flags {
            m.serialize_entry("flags", set)?;
        }
        if let Some(set) = &self.instances {
            m.serialize_entry("instances", set)?;
        }
        m.end()
    }
}

/// What [`FeatureValue::to_json`] writes, read back strictly.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredValue {
    #[serde(default)]
    attributes: Option<AttributeSet>,
    #[serde(default)]
    flags: Option<FlagSet>,
    #[serde(default)]
    instances: Option<InstanceSet>,
}

impl<'de> Deserialize<'de> for FeatureValue {
    /// What `Serialize` wrote, read back strictly.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = StoredValue::deserialize(d)?;
        Ok(FeatureValue {
            flags: v.flags,
            attributes: v.attributes,
            instances: v.instances,
        })
    }
}

impl FeatureValue {
    /// The value's canonical JSON (see `Serialize`).
    pub fn to_json(&self) -> String {
        // Maps of strings always serialize.
        serde_json::to_string(self).expect("feature values serialize")
    }

    /// Reads what [`Self::to_json`] wrote.
    pub fn from_json(text: &str) -> Result<FeatureValue, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Puts the value's sets into `features` under `name`.
    pub fn add_to(self, features: &mut Features, name: Text) {
        if let Some(set) = self.flags {
            features.flags.insert(name.clone(), set);
        }
        if let Some(set) = self.attributes {
            features.attributes.insert(name.clone(), set);
        }
        if let Some(set) = self.instances {
            features.instances.insert(name, set);
        }
    }
}

/// A node's features as one value per feature name, sorted by name.
pub fn split(features: Features) -> Vec<(Text, FeatureValue)> {
    let mut by_name: BTreeMap<Text, FeatureValue> = BTreeMap::new();
    for (name, set) in features.flags {
        by_name.entry(name).or_default().flags = Some(set);
    }
    for (name, set) in features.attributes {
        by_name.entry(name).or_default().attributes = Some(set);
    }
    for (name, set) in features.instances {
        by_name.entry(name).or_default().instances = Some(set);
    }
    by_name.into_iter().collect()
}

/// A node's canonical JSON (what `serde_json::to_string(features)` writes) and each feature
/// name's value JSON ([`FeatureValue::to_json`]), sorted by name: both assembled from one
/// serialization of each set, where writing them apart serializes (and sorts) everything twice.
pub fn canonical_json(features: &Features) -> (String, Vec<(&str, String)>) {
    const KINDS: [&str; 3] = ["attributes", "flags", "instances"];
    fn json<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).expect("feature sets serialize")
    }
    let mut by_name: BTreeMap<&str, [Option<String>; 3]> = BTreeMap::new();
    for (name, set) in &features.attributes {
        by_name.entry(name).or_default()[0] = Some(json(set));
    }
    for (name, set) in &features.flags {
        by_name.entry(name).or_default()[1] = Some(json(set));
    }
    for (name, set) in &features.instances {
        by_name.entry(name).or_default()[2] = Some(json(set));
    }
    let mut node = String::with_capacity(
        by_name
            .iter()
            .flat_map(|(name, sets)| sets.iter().flatten().map(|s| s.len() + name.len() + 4))
            .sum::<usize>()
            + 48,
    );
    node.push('{');
    for (kind, label) in KINDS.iter().enumerate() {
        if kind > 0 {
            node.push(',');
        }
        node.push_str(&format!("\"{label}\":{{"));
        let mut first = true;
        for (name, sets) in &by_name {
            if let Some(set) = &sets[kind] {
                if !first {
                    node.push(',');
                }
                first = false;
                node.push_str(&json(name));
                node.push(':');
                node.push_str(set);
            }
        }
        node.push('}');
    }
    node.push('}');
    let values = by_name
        .into_iter()
        .map(|(name, sets)| {
            let mut value = String::from("{");
            for (label, set) in KINDS.iter().zip(sets) {
                if let Some(set) = set {
                    if value.len() > 1 {
                        value.push(',');
                    }
                    value.push_str(&format!("\"{label}\":{set}"));
                }
            }
            value.push('}');
            (name, value)
        })
        .collect();
    (node, values)
}

/// The feature names a spec's evaluation reads (as it looks them up: lower-cased). A node's own
/// `rule.matched` matters only where a term reads it, so it needs no special case.
pub fn names_read(spec: &Spec) -> BTreeSet<&str> {
    spec.rules()
        .flat_map(|rule| rule.terms())
        .map(|term| term.lookup.as_str())
        .collect()
}

/// Why a node could not be inserted; the fleet is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InsertError {
    /// No value was added under this key.
    UnknownValue(ValueKey),
    /// Two of the node's values have this feature name.
    RepeatedName(String),
}

impl fmt::Display for InsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::UnknownValue(key) => write!(f, "no feature value with key {key}"),
            InsertError::RepeatedName(name) => write!(f, "two values for feature {name:?}"),
        }
    }
}

impl std::error::Error for InsertError {}

/// Strings held by reference count: a string goes when the last value holding it goes.
#[derive(Default)]
struct Interner {
    ids: HashMap<Text, u32, Hasher>,
    /// Each id's text and holders; a freed id has no holders and an empty text.
    texts: Vec<(Text, u32)>,
    free: Vec<u32>,
}

impl Interner {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            self.texts[id as usize].1 += 1;
            return id;
        }
        let text = Text::from(s);
        let id = match self.free.pop() {
            Some(id) => {
                self.texts[id as usize] = (text.clone(), 1);
                id
            }
            None => {
                self.texts.push((text.clone(), 1));
                (self.texts.len() - 1) as u32
            }
        };
        self.ids.insert(text, id);
        id
    }

    fn release(&mut self, id: u32) {
        let entry = &mut self.texts[id as usize];
        entry.1 -= 1;
        if entry.1 == 0 {
            let text = std::mem::take(&mut entry.0);
            self.ids.remove(&text);
            self.free.push(id);
        }
    }

    fn text(&self, id: u32) -> &Text {
        &self.texts[id as usize].0
    }

    fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

type Pairs = Box<[(Sym, Sym)]>;

/// A value with its strings interned: a few bytes per element. Each kind of set is absent, has
/// null elements, or has elements (perhaps none): NFD answers differently for the three, so
/// `shape` records which, and a slice is empty unless its kind has elements.
#[derive(Debug)]
struct Compact {
    shape: u8,
    flags: Box<[Sym]>,
    attributes: Pairs,
    instances: Box<[Option<Pairs>]>,
}

const FLAGS: u8 = 1;
const ATTRIBUTES: u8 = 1 << 2;
const INSTANCES: u8 = 1 << 4;
/// Shifted onto a kind's bit: its elements are null.
const NULL: u32 = 1;

/// A kind of set as stored: absent (`None`), null elements (`Some(None)`) or elements.
type Kind<'a, T> = Option<Option<&'a [T]>>;

impl Compact {
    fn kind<'a, T>(&self, bit: u8, elements: &'a [T]) -> Kind<'a, T> {
        if self.shape & bit == 0 {
            None
        } else if self.shape & (bit << NULL) != 0 {
            Some(None)
        } else {
            Some(Some(elements))
        }
    }

    #[allow(clippy::type_complexity)]
    fn parts(&self) -> (Kind<'_, Sym>, Kind<'_, (Sym, Sym)>, Kind<'_, Option<Pairs>>) {
        (
            self.kind(FLAGS, &self.flags),
            self.kind(ATTRIBUTES, &self.attributes),
            self.kind(INSTANCES, &self.instances),
        )
    }
}

/// The shape bits of one kind of set.
fn shape_of<T>(bit: u8, kind: Option<Option<T>>) -> u8 {
    match kind {
        None => 0,
        Some(None) => bit | (bit << NULL),
        Some(Some(_)) => bit,
    }
}

struct Slot {
    key: ValueKey,
    name: NameId,
    /// Nodes holding the value; at zero it is dropped by [`Fleet::drop_unheld`].
    holders: u32,
    value: Compact,
}

/// Nodes keyed by id, each a sorted list of (name, value) ids; values keyed by the caller.
#[derive(Default)]
pub struct Fleet {
    names: Interner,
    strings: Interner,
    values: Vec<Option<Slot>>,
    free_values: Vec<ValueIdx>,
    keys: HashMap<ValueKey, ValueIdx, Hasher>,
    /// Values whose holders fell to zero (or that were added and never held).
    unheld: Vec<ValueIdx>,
    /// Each node's slot in `rows`.
    index: HashMap<NodeId, u32, Hasher>,
    /// By slot: a node's (name, value) pairs, sorted by name id; `None` for a free slot.
    rows: Vec<Option<Row>>,
    free_rows: Vec<u32>,
    /// For the names grouped by lately, each slot's value of the name: grouping reads an
    /// array per name where searching every node's pairs cost a cache miss or more per node.
    /// Kept current by every insert and removal.
    columns: Mutex<Columns>,
}

#[derive(Default)]
struct Columns {
    by_name: HashMap<NameId, Arc<Vec<ValueIdx>>, Hasher>,
    /// Least recently used first.
    order: VecDeque<NameId>,
}

/// Nodes grouped by the values of some feature names: nodes in a group agree on every one of
/// them.
pub struct Grouping<'f> {
    fleet: &'f Fleet,
    /// The names, and their ids where the fleet has them.
    names: Vec<(Text, Option<NameId>)>,
    /// Each group's values of `names` (none where its nodes lack the feature).
    keys: Vec<Box<[Option<ValueIdx>]>>,
    /// For each node asked about, in the order asked: its group, or `None` for a node the
    /// fleet does not hold.
    pub assignment: Vec<Option<u32>>,
}

impl Grouping<'_> {
    /// Number of groups.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The features of group `group`'s nodes, projected on the names grouped by: every node of
    /// the group has exactly these values of those names.
    pub fn features(&self, group: usize) -> Features {
        let mut out = Features::default();
        for ((name, _), value) in self.names.iter().zip(self.keys[group].iter()) {
            if let Some(value) = value {
                self.fleet
                    .materialize(*value)
                    .add_to(&mut out, name.clone());
            }
        }
        out
    }

    /// The positions (in the order asked) of group `group`'s nodes.
    pub fn members(&self, group: usize) -> impl Iterator<Item = usize> + '_ {
        let group = group as u32;
        self.assignment
            .iter()
            .enumerate()
            .filter(move |(_, g)| **g == Some(group))
            .map(|(i, _)| i)
    }
}

impl Fleet {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.index.contains_key(&id)
    }

    /// Distinct feature values held (and not yet dropped), for the memory figures.
    pub fn distinct_values(&self) -> usize {
        self.keys.len()
    }

    /// Distinct element names and values held, for the memory figures.
    pub fn distinct_strings(&self) -> usize {
        self.strings.len()
    }

    /// Whether a value was added under `key` (and not dropped since).
    pub fn has_value(&self, key: ValueKey) -> bool {
        self.keys.contains_key(&key)
    }

    /// Adds a value under `key`, unless one is there already. It is held by no node until one
    /// is inserted with it; [`Self::drop_unheld`] drops it if none is.
    pub fn add_value(&mut self, key: ValueKey, name: &str, value: &FeatureValue) {
        if self.keys.contains_key(&key) {
            return;
        }
        let slot = Slot {
            key,
            name: self.names.intern(name),
            holders: 0,
            value: self.compact(value),
        };
        let idx = match self.free_values.pop() {
            Some(idx) => {
                self.values[idx as usize] = Some(slot);
                idx
            }
            None => {
                self.values.push(Some(slot));
                (self.values.len() - 1) as ValueIdx
            }
        };
        self.keys.insert(key, idx);
        self.unheld.push(idx);
    }

    /// Adds a node holding the values of `keys` (all added before), or replaces it. On error
    /// nothing changes.
    pub fn insert(&mut self, id: NodeId, keys: &[ValueKey]) -> Result<(), InsertError> {
        let mut pairs = Vec::with_capacity(keys.len());
        for key in keys {
            let idx = *self.keys.get(key).ok_or(InsertError::UnknownValue(*key))?;
            pairs.push((self.slot(idx).name, idx));
        }
        pairs.sort_unstable();
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            let name = self.names.text(w[0].0).to_string();
            return Err(InsertError::RepeatedName(name));
        }
        for &(_, idx) in &pairs {
            self.slot_mut(idx).holders += 1;
        }
        let slot = match self.index.get(&id) {
            Some(&slot) => {
                let old = self.rows[slot as usize]
                    .take()
                    .expect("indexed slots hold a row");
                self.release_all(&old);
                slot
            }
            None => {
                let slot = match self.free_rows.pop() {
                    Some(slot) => slot,
                    None => {
                        self.rows.push(None);
                        (self.rows.len() - 1) as u32
                    }
                };
                self.index.insert(id, slot);
                slot
            }
        };
        self.set_columns(slot, &pairs);
        self.rows[slot as usize] = Some(pairs.into_boxed_slice());
        Ok(())
    }

    /// Removes a node; whether it was there. Values it alone held stay until
    /// [`Self::drop_unheld`], so that a node removed and inserted again needs nothing re-added.
    pub fn remove(&mut self, id: NodeId) -> bool {
        let Some(slot) = self.index.remove(&id) else {
            return false;
        };
        let pairs = self.rows[slot as usize]
            .take()
            .expect("indexed slots hold a row");
        self.release_all(&pairs);
        self.set_columns(slot, &[]);
        self.free_rows.push(slot);
        true
    }

    /// Writes a slot's values into every kept column.
    fn set_columns(&mut self, slot: u32, pairs: &[(NameId, ValueIdx)]) {
        let slots = self.rows.len();
        let columns = self.columns.get_mut().unwrap_or_else(|p| p.into_inner());
        for (name, column) in columns.by_name.iter_mut() {
            // No grouping holds a column while the fleet changes (groupings borrow the fleet),
            // so this changes the column in place.
            let column = Arc::make_mut(column);
            column.resize(slots, NONE);
            column[slot as usize] = pairs
                .binary_search_by_key(name, |&(n, _)| n)
                .map_or(NONE, |at| pairs[at].1);
        }
    }

    /// Each slot's value of `name`, from the kept columns or built and kept.
    fn column(&self, name: NameId) -> Arc<Vec<ValueIdx>> {
        // A panic while holding the lock leaves at worst a column missing.
        let mut columns = self.columns.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(column) = columns.by_name.get(&name).cloned() {
            columns.order.retain(|&n| n != name);
            columns.order.push_back(name);
            return column;
        }
        let column: Arc<Vec<ValueIdx>> = Arc::new(
            self.rows
                .iter()
                .map(|row| {
                    row.as_deref().map_or(NONE, |pairs| {
                        pairs
                            .binary_search_by_key(&name, |&(n, _)| n)
                            .map_or(NONE, |at| pairs[at].1)
                    })
                })
                .collect(),
        );
        columns.by_name.insert(name, column.clone());
        columns.order.push_back(name);
        while columns.order.len() > COLUMNS_KEPT {
            if let Some(old) = columns.order.pop_front() {
                columns.by_name.remove(&old);
            }
        }
        column
    }

    /// Drops every value no node holds, with the strings only they held; how many.
    pub fn drop_unheld(&mut self) -> usize {
        let mut dropped = 0;
        for idx in std::mem::take(&mut self.unheld) {
            let Some(slot) = self.values[idx as usize].as_ref() else {
                continue;
            };
            if slot.holders > 0 {
                continue;
            }
            let slot = self.values[idx as usize].take().expect("checked above");
            self.keys.remove(&slot.key);
            self.names.release(slot.name);
            self.release_strings(&slot.value);
            self.free_values.push(idx);
            dropped += 1;
        }
        dropped
    }

    /// A node's features, rebuilt from the interned values.
    pub fn features(&self, id: NodeId) -> Option<Features> {
        let pairs = self.rows[*self.index.get(&id)? as usize].as_deref()?;
        let mut out = Features::default();
        for &(name, idx) in pairs.iter() {
            self.materialize(idx)
                .add_to(&mut out, self.names.text(name).clone());
        }
        Some(out)
    }

    /// Groups `ids` by the features `spec` reads, in order of first member. Evaluating `spec`
    /// on a group's features gives what evaluating it on each member's full features gives.
    pub fn group(&self, spec: &Spec, ids: &[NodeId]) -> Grouping<'_> {
        self.group_by(names_read(spec), ids)
    }

    /// Groups `ids` by their values of `names`, in order of first member.
    pub fn group_by<'n>(
        &self,
        names: impl IntoIterator<Item = &'n str>,
        ids: &[NodeId],
    ) -> Grouping<'_> {
        let mut names: Vec<(Text, Option<NameId>)> = names
            .into_iter()
            .map(|name| (Text::from(name), self.names.get(name)))
            .collect();
        names.sort_unstable();
        names.dedup();
        let columns: Vec<Option<Arc<Vec<ValueIdx>>>> = names
            .iter()
            .map(|&(_, name)| name.map(|name| self.column(name)))
            .collect();
        // Keys are hashed once per node: a fast hash, and no allocation but for a new group.
        let mut index: HashMap<Box<[Option<ValueIdx>]>, u32, Hasher> = HashMap::default();
        let mut keys: Vec<Box<[Option<ValueIdx>]>> = Vec::new();
        let mut assignment = Vec::with_capacity(ids.len());
        let mut key: Vec<Option<ValueIdx>> = Vec::with_capacity(names.len());
        for id in ids {
            let Some(&slot) = self.index.get(id) else {
                assignment.push(None);
                continue;
            };
            key.clear();
            key.extend(columns.iter().map(|column| {
                let value = column.as_ref()?[slot as usize];
                (value != NONE).then_some(value)
            }));
            let group = match index.get(key.as_slice()) {
                Some(&g) => g,
                None => {
                    let g = keys.len() as u32;
                    index.insert(key.clone().into_boxed_slice(), g);
                    keys.push(key.clone().into_boxed_slice());
                    g
                }
            };
            assignment.push(Some(group));
        }
        Grouping {
            fleet: self,
            names,
            keys,
            assignment,
        }
    }

    fn slot(&self, idx: ValueIdx) -> &Slot {
        self.values[idx as usize]
            .as_ref()
            .expect("nodes and keys name only live values")
    }

    fn slot_mut(&mut self, idx: ValueIdx) -> &mut Slot {
        self.values[idx as usize]
            .as_mut()
            .expect("nodes and keys name only live values")
    }

    fn release_all(&mut self, pairs: &[(NameId, ValueIdx)]) {
        for &(_, idx) in pairs {
            let slot = self.slot_mut(idx);
            slot.holders -= 1;
            if slot.holders == 0 {
                self.unheld.push(idx);
            }
        }
    }

    fn compact(&mut self, value: &FeatureValue) -> Compact {
        let flags = value.flags.as_ref().map(|set| set.elements.as_ref());
        let attributes = value.attributes.as_ref().map(|set| set.elements.as_ref());
        let instances = value.instances.as_ref().map(|set| set.elements.as_ref());
        let shape = shape_of(FLAGS, flags)
            | shape_of(ATTRIBUTES, attributes)
            | shape_of(INSTANCES, instances);
        let strings = &mut self.strings;
        let flags = flags
            .flatten()
            .map(|e| e.iter().map(|k| strings.intern(k)).collect())
            .unwrap_or_default();
        let mut pairs = |map: &NameMap<Text>| -> Pairs {
            map.iter()
                .map(|(k, v)| (strings.intern(k), strings.intern(v)))
                .collect()
        };
        let attributes = attributes.flatten().map(&mut pairs).unwrap_or_default();
        let instances = instances
            .flatten()
            .map(|instances| {
                instances
                    .iter()
                    .map(|i| i.attributes.as_ref().map(&mut pairs))
                    .collect()
            })
            .unwrap_or_default();
        Compact {
            shape,
            flags,
            attributes,
            instances,
        }
    }

    fn release_strings(&mut self, value: &Compact) {
        // Slices of absent and null sets are empty.
        let pairs = value
            .attributes
            .iter()
            .chain(value.instances.iter().flatten().flat_map(|i| i.iter()));
        for &s in value.flags.iter().chain(pairs.flat_map(|(k, v)| [k, v])) {
            self.strings.release(s);
        }
    }

    fn materialize(&self, idx: ValueIdx) -> FeatureValue {
        let text = |s: Sym| self.strings.text(s).clone();
        let map = |pairs: &[(Sym, Sym)]| -> NameMap<Text> {
            let mut m = NameMap::with_capacity_and_hasher(pairs.len(), Hasher::default());
            m.extend(pairs.iter().map(|&(k, v)| (text(k), text(v))));
            m
        };
        let (flags, attributes, instances) = self.slot(idx).value.parts();
        FeatureValue {
            flags: flags.map(|e| FlagSet {
                elements: e.map(|e| {
                    let mut set = NameSet::with_capacity_and_hasher(e.len(), Hasher::default());
                    set.extend(e.iter().map(|&s| text(s)));
                    set
                }),
            }),
            attributes: attributes.map(|e| AttributeSet {
                elements: e.map(map),
            }),
            instances: instances.map(|e| InstanceSet {
                elements: e.map(|instances| {
                    instances
                        .iter()
                        .map(|i| Instance {
                            attributes: i.as_deref().map(map),
                        })
                        .collect()
                }),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot;

    fn node(json: &str) -> Features {
        snapshot::parse(json).unwrap().nodes.remove(0).features
    }

    /// Inserts a node, keying each value by its name and JSON as the server does by hash.
    fn put(fleet: &mut Fleet, keys: &mut HashMap<String, ValueKey>, id: NodeId, f: &Features) {
        let mut held = Vec::new();
        for (name, value) in split(f.clone()) {
            let text = format!("{name} {}", value.to_json());
            let next = keys.len() as ValueKey;
            let key = *keys.entry(text).or_insert(next);
            fleet.add_value(key, &name, &value);
            held.push(key);
        }
        fleet.insert(id, &held).unwrap();
    }

    fn named(vendor: &str, host: &str) -> Features {
        node(&format!(
            r#"{{"attributes": {{"cpu.model": {{"elements": {{"vendor_id": "{vendor}"}}}}, "system.name": {{"elements": {{"nodename": "{host}"}}}}}}}}"#
        ))
    }

    #[test]
    fn shared_values_are_stored_once_and_dropped_with_their_last_node() {
        let mut fleet = Fleet::default();
        let mut keys = HashMap::new();
        let (a, b) = (named("Intel", "a"), named("Intel", "b"));
        put(&mut fleet, &mut keys, 1, &a);
        put(&mut fleet, &mut keys, 2, &b);
        assert_eq!(fleet.distinct_values(), 3, "one cpu.model, two names");
        assert_eq!(
            fleet.distinct_strings(),
            5,
            "vendor_id, Intel, nodename, a, b"
        );
        assert_eq!(fleet.features(2), Some(b.clone()));
        fleet.remove(1);
        assert_eq!(fleet.distinct_values(), 3, "kept until dropped");
        assert_eq!(fleet.drop_unheld(), 1);
        assert_eq!((fleet.distinct_values(), fleet.distinct_strings()), (2, 4));
        put(&mut fleet, &mut keys, 2, &a);
        fleet.drop_unheld();
        assert_eq!(
            fleet.distinct_values(),
            2,
            "replacing a node releases its old values"
        );
        assert_eq!(fleet.features(2), Some(a));
        assert!(fleet.remove(2) && fleet.is_empty());
        assert_eq!(fleet.drop_unheld(), 2);
        assert_eq!((fleet.distinct_values(), fleet.distinct_strings()), (0, 0));
    }

    #[test]
    fn absent_null_and_empty_sets_stay_apart() {
        let f = node(
            r#"{"flags": {"a.n": {"elements": null}, "a.e": {"elements": {}}},
                "attributes": {"a.n": {"elements": null}, "a.e": {"elements": {}}, "b.x": {"elements": {"k": "v"}}},
                "instances": {"a.e": {"elements": []}, "b.x": {"elements": [{"attributes": null}, {"attributes": {}}, {"attributes": {"k": "v"}}]}}}"#,
        );
        let mut fleet = Fleet::default();
        put(&mut fleet, &mut HashMap::new(), 7, &f);
        assert_eq!(fleet.features(7), Some(f.clone()));
        let (json, values) = canonical_json(&f);
        assert_eq!(json, serde_json::to_string(&f).unwrap());
        for ((name, value), (same, text)) in split(f.clone()).into_iter().zip(values) {
            assert_eq!((name.as_str(), value.to_json()), (same, text.clone()));
            assert_eq!(FeatureValue::from_json(&text).unwrap(), value);
        }
        assert!(
            FeatureValue::from_json(r#"{"flag": {}}"#).is_err(),
            "strict"
        );
    }

    #[test]
    fn a_refused_insert_changes_nothing() {
        let mut fleet = Fleet::default();
        let mut keys = HashMap::new();
        put(&mut fleet, &mut keys, 1, &named("AMD", "a"));
        let held: Vec<ValueKey> = keys.values().copied().collect();
        assert_eq!(
            fleet.insert(2, &[held[0], 99]),
            Err(InsertError::UnknownValue(99))
        );
        fleet.add_value(50, "cpu.model", &FeatureValue::default());
        let cpu = keys.iter().find(|(k, _)| k.starts_with("cpu")).unwrap().1;
        assert_eq!(
            fleet.insert(2, &[*cpu, 50]),
            Err(InsertError::RepeatedName("cpu.model".into()))
        );
        assert!(!fleet.contains(2));
        assert_eq!(fleet.drop_unheld(), 1, "only the value never held");
        assert_eq!(fleet.features(1), Some(named("AMD", "a")));
    }

    #[test]
    fn nodes_differing_only_where_the_spec_does_not_read_share_a_group() {
        let spec = crate::parse_spec("version: v1alpha1\ncompatibilities:\n- rules:\n  - name: intel\n    matchFeatures:\n    - feature: CPU.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel]}\n").unwrap();
        let mut fleet = Fleet::default();
        let mut keys = HashMap::new();
        for (id, vendor, host) in [(1, "Intel", "a"), (2, "Intel", "b"), (3, "AMD", "c")] {
            put(&mut fleet, &mut keys, id, &named(vendor, host));
        }
        let grouping = fleet.group(&spec, &[3, 1, 2, 9]);
        assert_eq!(grouping.assignment, [Some(0), Some(1), Some(1), None]);
        assert_eq!(grouping.members(1).collect::<Vec<_>>(), [1, 2]);
        let features = grouping.features(1);
        assert!(features.attributes.contains_key("cpu.model"));
        assert!(!features.attributes.contains_key("system.name"));
        let by_host = fleet.group_by(["system.name", "no.such"], &[1, 2, 3]);
        assert_eq!(by_host.len(), 3);
    }
}
