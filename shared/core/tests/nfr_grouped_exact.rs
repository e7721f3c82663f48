//! Labels worked out once per group are exact: for NFD's sample NodeFeatureRules, the 20-rule
//! file of the server benchmark and rules with dynamic values (written in the file, and written
//! by a template from a node's own values), processed on fleets of generated nodes grouped by
//! `Ruleset::names_read`, every node whose group's result `reads_only` those names gets exactly
//! what processing its full features gives; the others are processed alone, as the server does.

use std::collections::HashMap;

use nodefit_core::budget::Interrupt;
use nodefit_core::fleet::Fleet;
use nodefit_core::nfr::process::{self, Options, Ruleset, Settings};
use nodefit_core::nfr::{self, NodeFeatureRule};
use proptest::prelude::*;

mod fleet_nodes;
// Shared by the test crates; this one uses only what `fleet_nodes` takes from it.
#[allow(dead_code)]
mod grammar;
use fleet_nodes::{apply, change, put, samples};

/// Dynamic values written in the file, and a template that copies loaded modules' names into
/// a label value: a module named `@system.osrelease.ID` makes that a dynamic value naming a
/// feature neither a term nor the file names.
const DYNAMIC: &str = r#"
apiVersion: nfd.k8s-sigs.io/v1alpha1
kind: NodeFeatureRule
metadata:
  name: dynamic
spec:
  rules:
  - name: written
    labels:
      vendor: "@cpu.model.vendor_id"
      kernel-major: "@kernel.version.major"
    extendedResources:
      family: "@cpu.model.family"
    matchFeatures:
    - feature: kernel.loadedmodule
      matchName: {op: Exists}
  - name: templated
    labelsTemplate: |
      {{ range .kernel.loadedmodule }}module={{ .Name }}
      {{ end }}
    matchFeatures:
    - feature: kernel.loadedmodule
      matchName: {op: InRegexp, value: ["^@"]}
"#;

fn rule_files() -> Vec<Vec<NodeFeatureRule>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/nodefeaturerules");
    let mut files: Vec<String> = [
        "nodefeaturerule-cpu.yaml",
        "nodefeaturerule-kernel.yaml",
        "nodefeaturerule-pci.yaml",
        "nodefeaturerule-custom.yaml",
        "nodefeaturerule-storage.yaml",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(format!("{dir}/{f}")).unwrap())
    .collect();
    files.push(include_str!("../../../e2e/bench/nodefeaturerule-20.yaml").to_string());
    files.push(DYNAMIC.to_string());
    files.iter().map(|f| nfr::parse(f).unwrap()).collect()
}

/// A change that loads a module whose name is a dynamic value.
fn dynamic_module() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some("@system.osrelease.ID")),
        1 => Just(Some("@kernel.version.full")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn grouped_labels_are_each_nodes_own(
        nodes in prop::collection::vec(
            (0usize..3, prop::collection::vec(change(), 0..3), dynamic_module()),
            1..16,
        ),
        explain in any::<bool>(),
    ) {
        let samples = samples();
        let mut fleet = Fleet::default();
        let mut keys = HashMap::new();
        let mut full = Vec::new();
        for (id, (base, changes, module)) in nodes.iter().enumerate() {
            let mut features = samples[*base].clone();
            for c in changes {
                apply(&mut features, c);
            }
            if let Some(module) = module {
                features
                    .flags
                    .entry("kernel.loadedmodule".into())
                    .or_default()
                    .elements
                    .get_or_insert_with(Default::default)
                    .insert((*module).into());
            }
            put(&mut fleet, &mut keys, id as i64, &features);
            full.push(features);
        }
        let ids: Vec<i64> = (0..full.len() as i64).collect();
        let settings = Settings::default();
        let options = Options { explain, interrupt: Interrupt::none() };
        for objects in rule_files() {
            let ruleset = Ruleset::new(&objects);
            let names = ruleset.names_read();
            let grouping = fleet.group_by(names.iter().copied(), &ids);
            for group in 0..grouping.len() {
                let grouped = process::process(&ruleset, &grouping.features(group), &settings, &options);
                let exact = grouped.as_ref().map_or(true, |r| r.reads_only(&names));
                for at in grouping.members(group) {
                    let alone = process::process(&ruleset, &full[at], &settings, &options);
                    if exact {
                        prop_assert_eq!(&grouped, &alone, "node {} of group {}", at, group);
                    } else {
                        // The server processes these nodes alone; the grouped result must
                        // have shown it read outside the names.
                        prop_assert!(!alone.as_ref().unwrap().reads_only(&names));
                    }
                }
            }
        }
    }
}

/// The fallback is reached: a node whose module names a feature outside the names read.
#[test]
fn a_template_writing_a_dynamic_value_is_seen_to_read_outside_the_names() {
    let objects = nfr::parse(DYNAMIC).unwrap();
    let ruleset = Ruleset::new(&objects);
    let names = ruleset.names_read();
    assert!(names.contains("cpu.model") && names.contains("kernel.loadedmodule"));
    assert!(!names.contains("system.osrelease"));
    let mut features = samples()[0].clone();
    features
        .flags
        .entry("kernel.loadedmodule".into())
        .or_default()
        .elements
        .get_or_insert_with(Default::default)
        .insert("@system.osrelease.ID".into());
    let options = Options {
        explain: false,
        interrupt: Interrupt::none(),
    };
    let result = process::process(&ruleset, &features, &Settings::default(), &options).unwrap();
    assert!(!result.reads_only(&names), "{result:?}");
    assert!(result.dynamic_reads.contains("system.osrelease"));
}
