//! Many nodes at once, in memory that grows with what differs between them, evaluated once per
//! group of nodes that a spec cannot tell apart.
//!
//! A fleet is mostly pools of identical hardware whose nodes differ in a handful of values (a
//! host name, a module, a kernel build). [`Fleet`] interns each feature's value — one name's
//! flag, attribute and instance sets together — so that a value shared by a thousand nodes is
//! stored once, and a node is a short list of (name, value) ids.
//!
//! Evaluation reads only the features a spec's terms name: nodes that agree on those agree on
//! every rule's outcome, every error and every value a report shows. [`Fleet::group`] puts such nodes together and gives each group the features
//! it was projected on, so the spec runs once per group — exactly, not approximately: a group's
//! projected features are the very values the spec would have read on each of its nodes.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};

use crate::features::{AttributeSet, Features, FlagSet, InstanceSet, Text};
use crate::spec::Spec;

/// Node ids are the caller's (the server's snapshot ids).
pub type NodeId = i64;

type NameId = u32;
type ValueId = u32;

/// One feature name's sets on a node, as evaluation sees them: a name may be a flag, an
/// attribute and an instance feature at once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeatureValue {
    pub flags: Option<FlagSet>,
    pub attributes: Option<AttributeSet>,
    pub instances: Option<InstanceSet>,
}

#[derive(Debug)]
struct Interned {
    value: FeatureValue,
    fingerprint: u64,
    /// Nodes holding it; the value is dropped when none does.
    holders: usize,
}

#[derive(Default)]
pub struct Fleet {
    names: HashMap<Text, NameId>,
    values: Vec<Option<Interned>>,
    free: Vec<ValueId>,
    by_fingerprint: HashMap<u64, Vec<ValueId>>,
    /// Each node's (name, value) pairs, sorted by name id.
    nodes: HashMap<NodeId, Box<[(NameId, ValueId)]>, foldhash::fast::RandomState>,
}

/// Nodes a spec cannot tell apart, and the features it reads on each of them.
#[derive(Debug)]
pub struct Group {
    pub features: Features,
    pub members: Vec<NodeId>,
}

/// The feature names a spec's evaluation reads (as it looks them up: lower-cased). A node's own
/// `rule.matched` matters only where a term reads it, so it needs no special case.
pub fn names_read(spec: &Spec) -> BTreeSet<&str> {
    spec.rules()
        .flat_map(|rule| rule.terms())
        .map(|term| term.lookup.as_str())
        .collect()
}

impl Fleet {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.nodes.contains_key(&id)
    }

    /// Distinct feature values held, for the memory figures.
    pub fn distinct_values(&self) -> usize {
        self.values.len() - self.free.len()
    }

    /// Adds a node, or replaces it.
    pub fn insert(&mut self, id: NodeId, features: &Features) {
        self.remove(id);
        let mut by_name: HashMap<&str, FeatureValue> = HashMap::new();
        for (name, set) in &features.flags {
            by_name.entry(name).or_default().flags = Some(set.clone());
        }
        for (name, set) in &features.attributes {
            by_name.entry(name).or_default().attributes = Some(set.clone());
        }
        for (name, set) in &features.instances {
            by_name.entry(name).or_default().instances = Some(set.clone());
        }
        let mut pairs: Vec<(NameId, ValueId)> = by_name
            .into_iter()
            .map(|(name, value)| (self.name_id(name), self.intern(value)))
            .collect();
        pairs.sort_unstable();
        self.nodes.insert(id, pairs.into_boxed_slice());
    }

    /// Removes a node; whether it was there.
    pub fn remove(&mut self, id: NodeId) -> bool {
        let Some(pairs) = self.nodes.remove(&id) else {
            return false;
        };
        for &(_, value) in pairs.iter() {
            self.release(value);
        }
        true
    }

    /// A node's features, rebuilt from the interned values.
    pub fn features(&self, id: NodeId) -> Option<Features> {
        let pairs = self.nodes.get(&id)?;
        let mut names: Vec<(&Text, NameId)> =
            self.names.iter().map(|(name, &i)| (name, i)).collect();
        names.sort_unstable_by_key(|&(_, i)| i);
        let mut out = Features::default();
        for &(name, value) in pairs.iter() {
            let name = names[name as usize].0;
            add(&mut out, name, self.value(value));
        }
        Some(out)
    }

    /// Groups `ids` (unknown ids are left out) by the features `spec` reads, in order of first
    /// member. Evaluating `spec` on a group's `features` gives what evaluating it on each
    /// member's full features gives.
    pub fn group(&self, spec: &Spec, ids: impl IntoIterator<Item = NodeId>) -> Vec<Group> {
        let read: Vec<(&str, Option<NameId>)> = names_read(spec)
            .into_iter()
            .map(|name| (name, self.names.get(name).copied()))
            .collect();
        // Keys are hashed once per node: a fast hash, and no allocation but for a new group.
        let mut index: HashMap<Vec<Option<ValueId>>, usize, foldhash::fast::RandomState> =
            HashMap::default();
        let mut groups: Vec<(Vec<Option<ValueId>>, Vec<NodeId>)> = Vec::new();
        let mut key: Vec<Option<ValueId>> = Vec::with_capacity(read.len());
        for id in ids {
            let Some(pairs) = self.nodes.get(&id) else {
                continue;
            };
            key.clear();
            key.extend(read.iter().map(|&(_, name)| {
                let name = name?;
                let at = pairs.binary_search_by_key(&name, |&(n, _)| n).ok()?;
                Some(pairs[at].1)
            }));
            match index.get(key.as_slice()) {
                Some(&g) => groups[g].1.push(id),
                None => {
                    index.insert(key.clone(), groups.len());
                    groups.push((key.clone(), vec![id]));
                }
            }
        }
        groups
            .into_iter()
            .map(|(key, members)| {
                let mut features = Features::default();
                for (&(name, _), value) in read.iter().zip(key) {
                    if let Some(value) = value {
                        add(&mut features, name, self.value(value));
                    }
                }
                Group { features, members }
            })
            .collect()
    }

    fn name_id(&mut self, name: &str) -> NameId {
        let next = self.names.len() as NameId;
        *self.names.entry(name.into()).or_insert(next)
    }

    fn value(&self, id: ValueId) -> &FeatureValue {
        &self.values[id as usize]
            .as_ref()
            .expect("nodes hold only live values")
            .value
    }

    fn intern(&mut self, value: FeatureValue) -> ValueId {
        let fingerprint = fingerprint(&value);
        let bucket = self.by_fingerprint.entry(fingerprint).or_default();
        for &id in bucket.iter() {
            let held = self.values[id as usize]
                .as_mut()
                .expect("buckets hold live values");
            // The fingerprint only narrows the search: equal values are the same value.
            if held.value == value {
                held.holders += 1;
                return id;
            }
        }
        let interned = Interned {
            value,
            fingerprint,
            holders: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.values[id as usize] = Some(interned);
                id
            }
            None => {
                self.values.push(Some(interned));
                (self.values.len() - 1) as ValueId
            }
        };
        bucket.push(id);
        id
    }

    fn release(&mut self, id: ValueId) {
        let slot = &mut self.values[id as usize];
        let held = slot.as_mut().expect("nodes hold only live values");
        held.holders -= 1;
        if held.holders > 0 {
            return;
        }
        let fingerprint = held.fingerprint;
        *slot = None;
        self.free.push(id);
        if let Entry::Occupied(mut bucket) = self.by_fingerprint.entry(fingerprint) {
            bucket.get_mut().retain(|&v| v != id);
            if bucket.get().is_empty() {
                bucket.remove();
            }
        }
    }
}

fn add(features: &mut Features, name: &str, value: &FeatureValue) {
    if let Some(set) = &value.flags {
        features.flags.insert(name.into(), set.clone());
    }
    if let Some(set) = &value.attributes {
        features.attributes.insert(name.into(), set.clone());
    }
    if let Some(set) = &value.instances {
        features.instances.insert(name.into(), set.clone());
    }
}

/// A hash of a value that does not depend on the order of its hash maps (instances keep their
/// order: evaluation walks them in order).
fn fingerprint(value: &FeatureValue) -> u64 {
    let mut h = foldhash::quality::FixedState::default().build_hasher();
    fn sorted<'a>(items: impl Iterator<Item = &'a Text>) -> Vec<&'a Text> {
        let mut v: Vec<_> = items.collect();
        v.sort_unstable();
        v
    }
    fn map(h: &mut impl Hasher, m: Option<&crate::features::NameMap<Text>>) {
        match m {
            None => 0u8.hash(h),
            Some(m) => {
                let mut pairs: Vec<_> = m.iter().collect();
                pairs.sort_unstable();
                (1u8, pairs.len()).hash(h);
                pairs.hash(h);
            }
        }
    }
    match &value.flags {
        None => 0u8.hash(&mut h),
        Some(set) => match &set.elements {
            None => 1u8.hash(&mut h),
            Some(e) => (2u8, sorted(e.iter())).hash(&mut h),
        },
    }
    match &value.attributes {
        None => 0u8.hash(&mut h),
        Some(set) => {
            1u8.hash(&mut h);
            map(&mut h, set.elements.as_ref());
        }
    }
    match &value.instances {
        None => 0u8.hash(&mut h),
        Some(set) => match &set.elements {
            None => 1u8.hash(&mut h),
            Some(instances) => {
                (2u8, instances.len()).hash(&mut h);
                for instance in instances {
                    map(&mut h, instance.attributes.as_ref());
                }
            }
        },
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot;

    fn node(json: &str) -> Features {
        snapshot::parse(json).unwrap().nodes.remove(0).features
    }

    #[test]
    fn shared_values_are_stored_once_and_dropped_with_their_last_node() {
        let mut fleet = Fleet::default();
        let a = node(
            r#"{"attributes": {"cpu.model": {"elements": {"vendor_id": "Intel"}}, "system.name": {"elements": {"nodename": "a"}}}}"#,
        );
        let b = node(
            r#"{"attributes": {"cpu.model": {"elements": {"vendor_id": "Intel"}}, "system.name": {"elements": {"nodename": "b"}}}}"#,
        );
        fleet.insert(1, &a);
        fleet.insert(2, &b);
        assert_eq!(fleet.distinct_values(), 3, "one cpu.model, two names");
        assert_eq!(fleet.features(2), Some(b.clone()));
        fleet.remove(1);
        assert_eq!(fleet.distinct_values(), 2);
        fleet.insert(2, &a);
        assert_eq!(
            fleet.distinct_values(),
            2,
            "replacing a node releases its old values"
        );
        assert_eq!(fleet.features(2), Some(a));
        assert!(fleet.remove(2) && fleet.is_empty() && fleet.distinct_values() == 0);
    }

    #[test]
    fn nodes_differing_only_where_the_spec_does_not_read_share_a_group() {
        let spec = crate::parse_spec("version: v1alpha1\ncompatibilities:\n- rules:\n  - name: intel\n    matchFeatures:\n    - feature: CPU.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel]}\n").unwrap();
        let mut fleet = Fleet::default();
        for (id, vendor, host) in [(1, "Intel", "a"), (2, "Intel", "b"), (3, "AMD", "c")] {
            fleet.insert(id, &node(&format!(r#"{{"attributes": {{"cpu.model": {{"elements": {{"vendor_id": "{vendor}"}}}}, "system.name": {{"elements": {{"nodename": "{host}"}}}}}}}}"#)));
        }
        let groups = fleet.group(&spec, [3, 1, 2, 9]);
        let members: Vec<_> = groups.iter().map(|g| g.members.clone()).collect();
        assert_eq!(members, [vec![3], vec![1, 2]]);
        assert!(groups[1].features.attributes.contains_key("cpu.model"));
        assert!(!groups[1].features.attributes.contains_key("system.name"));
    }
}
