//! Grouped fleet evaluation is exact: for generated specs and fleets of generated nodes (pools
//! built from the real samples, with per-node changes), evaluating a spec once per group of
//! `Fleet::group` gives, for every node, what evaluating it on that node's full features gives:
//! the same errors, verdict, best set and report with the same actual values.

use nodefit_core::eval::{evaluate, Options};
use nodefit_core::features::{AttributeSet, Features, FlagSet, Instance, InstanceSet};
use nodefit_core::fleet::Fleet;
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
        let mut full = Vec::new();
        for (id, (base, changes)) in nodes.iter().enumerate() {
            let mut features = samples[*base].clone();
            for c in changes {
                apply(&mut features, c);
            }
            fleet.insert(id as i64, &features);
            prop_assert_eq!(fleet.features(id as i64), Some(features.clone()));
            full.push(features);
        }
        let groups = fleet.group(&spec, 0..full.len() as i64);
        let mut seen = 0;
        for group in &groups {
            let grouped = answer(&spec, &group.features, &options);
            for &id in &group.members {
                seen += 1;
                prop_assert_eq!(&grouped, &answer(&spec, &full[id as usize], &options), "node {}", id);
            }
        }
        prop_assert_eq!(seen, full.len());
    }
}
