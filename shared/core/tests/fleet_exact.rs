//! Grouped fleet evaluation is exact: for generated specs and fleets of generated nodes (pools
//! built from the real samples, with per-node changes, some nodes removed or replaced on the
//! way), evaluating a spec once per group of `Fleet::group` gives, for every node, what
//! evaluating it on that node's full features gives: the same errors, verdict, best set and
//! report with the same actual values. Values are keyed by their name and canonical JSON, as
//! the server keys them by the hash of both.

use nodefit_core::eval::{evaluate, Options};
use nodefit_core::features::Features;
use std::collections::HashMap;

use nodefit_core::fleet::{canonical_json, split, Fleet};
use nodefit_core::{parse_spec, report};
use proptest::prelude::*;

mod fleet_nodes;
mod grammar;
use fleet_nodes::{apply, change, put, samples};
use grammar::spec;

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
