//! Fleets of nodes for the grouping tests: the real samples with generated changes, put in a
//! `Fleet` with their values keyed by content, as the server keys them by hash.

use std::collections::HashMap;

use nodefit_core::features::{AttributeSet, Features, FlagSet, Instance, InstanceSet};
use nodefit_core::fleet::{split, Fleet, ValueKey};
use nodefit_core::snapshot;
use proptest::prelude::*;

use crate::grammar::{element, feature, scalar};

pub fn samples() -> Vec<Features> {
    [
        include_str!("../data/samples/intel-spr-h100-cx6.features.json"),
        include_str!("../data/samples/amd-genoa-mi210-rhel9.features.json"),
        include_str!("../data/samples/arm64-graviton3-al2023.features.json"),
    ]
    .iter()
    .map(|s| snapshot::parse(s).unwrap().nodes.remove(0).features)
    .collect()
}

/// One change to a node: which kind of set, its feature, an element and a value.
#[derive(Clone, Debug)]
pub struct Change {
    kind: u8,
    feature: String,
    element: String,
    value: String,
}

pub fn change() -> impl Strategy<Value = Change> {
    let name = prop_oneof![4 => feature(), 1 => Just("rule.matched".to_string())];
    (0u8..4, name, element(), scalar()).prop_map(|(kind, feature, element, value)| Change {
        kind,
        feature: feature.to_lowercase(),
        element: element.trim_matches(['"', '\'']).to_string(),
        value: value.trim_matches(['"', '\'']).to_string(),
    })
}

pub fn apply(features: &mut Features, c: &Change) {
    let name = c.feature.as_str();
    match c.kind {
        0 => {
            let set = features.flags.entry(name.into()).or_default();
            set.elements
                .get_or_insert_with(Default::default)
                .insert(c.element.as_str().into());
        }
        1 => {
            let set = features.attributes.entry(name.into()).or_default();
            set.elements
                .get_or_insert_with(Default::default)
                .insert(c.element.as_str().into(), c.value.as_str().into());
        }
        2 => {
            let set = features.instances.entry(name.into()).or_default();
            let mut attributes = nodefit_core::features::NameMap::default();
            attributes.insert(c.element.as_str().into(), c.value.as_str().into());
            set.elements.get_or_insert_with(Vec::new).push(Instance {
                attributes: Some(attributes),
            });
        }
        _ => {
            features.flags.remove(name);
            features
                .attributes
                .insert(name.into(), AttributeSet { elements: None });
            features.instances.insert(
                name.into(),
                InstanceSet {
                    elements: Some(Vec::new()),
                },
            );
            features
                .flags
                .insert(name.into(), FlagSet { elements: None });
        }
    }
}

/// Adds a node (or replaces it), its values keyed by content.
pub fn put(fleet: &mut Fleet, keys: &mut HashMap<String, ValueKey>, id: i64, features: &Features) {
    let mut held = Vec::new();
    for (name, value) in split(features.clone()) {
        let next = keys.len() as ValueKey;
        let key = *keys
            .entry(format!("{name:?} {}", value.to_json()))
            .or_insert(next);
        fleet.add_value(key, &name, &value);
        held.push(key);
    }
    fleet.insert(id, &held).unwrap();
}
