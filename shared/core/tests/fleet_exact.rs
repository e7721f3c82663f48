//! Grouped fleet evaluation is exact: for generated specs and fleets of generated nodes (pools
//! built from the real samples, with per-node changes, some nodes removed or replaced on the
//! way), evaluating a spec once per group of `Fleet::group` gives, for every node, what
//! evaluating it on that node's full features gives: the same errors, verdict, best set and
//! report with the same actual values. Values are keyed by their name and canonical JSON, as
//! the server keys them by the hash of both.

use nodefit_core::eval::{evaluate, Options};
use nodefit_core::features::{AttributeSet, Features, FlagSet, Instance, InstanceSet};
use std::collections::HashMap;

use nodefit_core::fleet::{canonical_json, split, Fleet, ValueKey};
use nodefit_core::{parse_spec, report, snapshot};
use proptest::prelude::*;

mod grammar;
use grammar::{element, feature, scalar, spec};

fn samples() -> Vec<Features> {
    [
        include_str!("data/samples/intel-spr-h100-cx6.features.json"),
        include_str!("data/samples/amd-genoa-mi210-rhel9.features.json"),
        include_str!("data/samples/arm64-graviton3-al2023.features.json"),
    ]
    .iter()
    .map(|s| snapshot::parse(s).unwrap().nodes.remove(0).features)
    .collect()
}

/// One change to a node: which kind of set, its feature, an element and a value.
#[derive(Clone, Debug)]
struct Change {
    kind: u8,
    feature: String,
    element: String,
    value: String,
}

fn change() -> impl Strategy<Value = Change> {
    let name = prop_oneof![4 => feature(), 1 => Just("rule.matched".to_string())];
    (0u8..4, name, element(), scalar()).prop_map(|(kind, feature, element, value)| Change {
        kind,
        feature: feature.to_lowercase(),
        element: element.trim_matches(['"', '\'']).to_string(),
        value: value.trim_matches(['"', '\'']).to_string(),
    })
}

fn apply(features: &mut Features, c: &Change) {
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
fn put(fleet: &mut Fleet, keys: &mut HashMap<String, ValueKey>, id: i64, features: &Features) {
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

/// Everything a user sees of one node's evaluation.
fn answer(spec: &nodefit_core::spec::Spec, features: &Features, options: &Options) -> String {
    match evaluate(spec, features, options) {
        Ok(e) => format!(
            "{} {:?} {}",
            e.is_compatible(),
            e.best_set(spec),
            report::to_go_json(&report::build(spec, &e, features))
        ),
        Err(e) => format!("error at {:?}: {}", e.span, e.message),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn grouped_evaluation_answers_as_each_node_alone(
        src in spec(),
        nodes in prop::collection::vec((0usize..3, prop::collection::vec(change(), 0..3)), 1..24),
        tagged in any::<bool>(),
    ) {
        let Ok(spec) = parse_spec(&src) else { return Ok(()) };
        let samples = samples();
        let options = Options {
            tags: if tagged { vec!["t".into()] } else { Vec::new() },
            ..Options::default()
        };
        let mut fleet = Fleet::default();
        let mut keys = HashMap::new();
        let mut full = Vec::new();
        for (id, (base, changes)) in nodes.iter().enumerate() {
            let mut features = samples[*base].clone();
            for c in changes {
                apply(&mut features, c);
            }
            put(&mut fleet, &mut keys, id as i64, &features);
            // The server stores what `canonical_json` assembles: it must be serde's text.
            let (json, values) = canonical_json(&features);
            prop_assert_eq!(json, serde_json::to_string(&features).unwrap());
            let split: Vec<(String, String)> = split(features.clone())
                .into_iter()
                .map(|(name, value)| (name.to_string(), value.to_json()))
                .collect();
            let assembled: Vec<(String, String)> =
                values.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
            prop_assert_eq!(split, assembled);
            full.push(features);
        }
        // Grouping before and after churn: columns built by the first are kept current by the
        // changes in between.
        let all: Vec<i64> = (0..full.len() as i64).collect();
        check(&fleet, &spec, &options, &full, &all)?;
        // Churn: every third node leaves, every fifth is replaced by its neighbour's features,
        // and the values no node holds any more are dropped.
        let mut live = Vec::new();
        for id in 0..full.len() {
            if id % 3 == 2 {
                prop_assert!(fleet.remove(id as i64));
            } else {
                if id % 5 == 4 {
                    full[id] = full[id - 1].clone();
                    put(&mut fleet, &mut keys, id as i64, &full[id]);
                }
                live.push(id as i64);
            }
        }
        fleet.drop_unheld();
        // A node added after the churn takes a freed slot.
        if let Some(&first) = live.first() {
            let id = full.len() as i64;
            full.push(full[first as usize].clone());
            put(&mut fleet, &mut keys, id, &full[id as usize]);
            live.push(id);
        }
        for &id in &live {
            prop_assert_eq!(fleet.features(id), Some(full[id as usize].clone()));
        }
        check(&fleet, &spec, &options, &full, &live)?;
    }
}

/// Groups `live` (and one id the fleet does not hold) and checks every node's answer against
/// its own full features.
fn check(
    fleet: &Fleet,
    spec: &nodefit_core::spec::Spec,
    options: &Options,
    full: &[Features],
    live: &[i64],
) -> Result<(), TestCaseError> {
    let mut asked = live.to_vec();
    asked.push(i64::MAX);
    let grouping = fleet.group(spec, &asked);
    prop_assert_eq!(grouping.assignment.last(), Some(&None));
    let mut seen = 0;
    for group in 0..grouping.len() {
        let grouped = answer(spec, &grouping.features(group), options);
        for at in grouping.members(group) {
            seen += 1;
            let id = asked[at] as usize;
            prop_assert_eq!(&grouped, &answer(spec, &full[id], options), "node {}", id);
        }
    }
    prop_assert_eq!(seen, live.len());
    Ok(())
}
