//! `nodefit schedule`'s NodeFeatureRule labels a set exactly where validate-node finds it
//! matching: for NFD's conformance vectors, NFD's example specs on the sample nodes (every tag
//! selection), specs made for each mechanism of the generated rule, and specs generated from the
//! spec grammar. Every generated object also validates against NFD's CRD schema and Kubernetes'
//! Affinity schema (`data/schemas/`), and its YAML reads back as the object.

mod grammar;

use std::collections::BTreeMap;

use nodefit_core::eval::{self, Evaluation};
use nodefit_core::features::Features;
use nodefit_core::nfr::process::{self, Ruleset, Settings};
use nodefit_core::schedule::{self, Schedule};
use nodefit_core::spec::Spec;
use nodefit_core::{nfr, parse_spec, snapshot, yaml};
use proptest::strategy::{Strategy, ValueTree};
use serde_json::Value;

fn data(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn sample_nodes() -> Vec<(String, Features)> {
    let mut nodes: Vec<(String, Features)> = [
        "intel-spr-h100-cx6",
        "amd-genoa-mi210-rhel9",
        "arm64-graviton3-al2023",
    ]
    .iter()
    .map(|n| {
        let s = snapshot::parse(&data(&format!("samples/{n}.features.json"))).unwrap();
        (n.to_string(), s.nodes.into_iter().next().unwrap().features)
    })
    .collect();
    let nf = snapshot::parse(&data("samples/nodefeature-gpu-node-01.yaml")).unwrap();
    nodes.push(("gpu-node-01".into(), nf.nodes[0].features.clone()));
    nodes
}

/// `additionalProperties: false` wherever a schema lists its properties and says nothing of
/// others, as `kubectl apply`'s strict field validation treats them.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for v in map.values_mut() {
                strict(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

struct Schemas {
    rule: jsonschema::Validator,
    affinity: jsonschema::Validator,
}

impl Schemas {
    fn load() -> Schemas {
        let mut rule: Value =
            serde_json::from_str(&data("schemas/nodefeaturerule.openapiv3.json")).unwrap();
        strict(&mut rule);
        let mut affinity: Value =
            serde_json::from_str(&data("schemas/k8s-affinity.openapi.json")).unwrap();
        strict(&mut affinity);
        affinity["$ref"] = "#/components/schemas/io.k8s.api.core.v1.Affinity".into();
        Schemas {
            rule: jsonschema::draft4::new(&rule).unwrap(),
            affinity: jsonschema::draft4::new(&affinity).unwrap(),
        }
    }

    fn check(&self, s: &Schedule) {
        let rule = s.node_feature_rule.to_json();
        let errors: Vec<String> = self
            .rule
            .iter_errors(&rule)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{errors:?}\n{}",
            s.node_feature_rule.to_yaml()
        );
        let affinity = &s.affinity.to_json()["affinity"];
        let errors: Vec<String> = self
            .affinity
            .iter_errors(affinity)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{}", s.affinity.to_yaml());
        for tree in [&s.node_feature_rule, &s.affinity] {
            let text = tree.to_yaml();
            let back = yaml::to_json(&yaml::parse(&text).unwrap().unwrap());
            assert_eq!(back, tree.to_json(), "{text}");
        }
    }
}

/// How one (spec, node, tags) case came out.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Case {
    /// Validate-node answered and the labels agree with it set by set.
    Agree,
    /// Validate-node aborted on an error and no label is set.
    AgreeOnError,
    /// nodefit evaluates only a subset of Go templates.
    Unsupported,
}

fn set_matched(evaluation: &Evaluation, index: usize) -> bool {
    evaluation
        .sets
        .iter()
        .find(|s| s.index == index)
        .is_some_and(|s| s.is_match())
}

/// Compares the labels of the generated rule with validate-node's answer.
fn compare(spec: &Spec, schedule: &Schedule, features: &Features, tags: &[String]) -> Case {
    let yaml = schedule.node_feature_rule.to_yaml();
    let objects = nfr::parse(&yaml).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"));
    let labels = process::process(
        &Ruleset::new(&objects),
        features,
        &Settings::default(),
        &process::Options::default(),
    );
    let options = eval::Options {
        tags: tags.to_vec(),
        ..Default::default()
    };
    match (eval::evaluate(spec, features, &options), labels) {
        (Err(e), _) if e.message.contains("unsupported template construct") => Case::Unsupported,
        (_, Err(e)) if e.message.contains("unsupported template construct") => Case::Unsupported,
        (Ok(evaluation), Ok(result)) => {
            for set in &schedule.sets {
                let want = set_matched(&evaluation, set.index);
                let got = result.label(&set.label) == Some("true");
                assert_eq!(
                    got, want,
                    "set {} ({}):\n{yaml}\n{result:#?}",
                    set.index, set.label
                );
            }
            Case::Agree
        }
        (Err(e), Ok(result)) => {
            for set in &schedule.sets {
                assert_eq!(
                    result.label(&set.label),
                    None,
                    "{e}: set {} labelled\n{yaml}",
                    set.index
                );
            }
            Case::AgreeOnError
        }
        (_, Err(e)) => panic!("nodefit could not process the generated rule: {e}\n{yaml}"),
    }
}

fn options(name: &str, tags: &[&str]) -> schedule::Options {
    schedule::Options {
        name: name.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        annotations: BTreeMap::new(),
    }
}

#[derive(serde::Deserialize)]
struct Vector {
    id: String,
    features: Value,
    rule: Value,
}

#[test]
fn every_conformance_vector_labels_exactly_where_validate_node_matches() {
    let schemas = Schemas::load();
    let vectors: Vec<Vector> = serde_json::from_str(&data("conformance-vectors.json")).unwrap();
    let mut cases: BTreeMap<String, usize> = BTreeMap::new();
    for v in &vectors {
        let features: Features = serde_json::from_value(v.features.clone()).unwrap();
        let spec_json =
            serde_json::json!({"version": "v1alpha1", "compatibilities": [{"rules": [v.rule]}]});
        let spec = parse_spec(&spec_json.to_string()).unwrap();
        match schedule::generate(&spec, &options("vector", &[])) {
            Ok(s) => {
                schemas.check(&s);
                let case = compare(&spec, &s, &features, &[]);
                *cases.entry(format!("{case:?}")).or_default() += 1;
            }
            Err(errors) => {
                // Only what the CRD cannot hold (the empty op, unknown ops, null expressions),
                // and the vectors that hand the rule a node with rule.matched already there,
                // which a first rule cannot read in nfd-master as in validate-node.
                for e in &errors {
                    assert!(
                        e.message.contains("CRD does not accept")
                            || e.message.contains("is null")
                            || e.message.contains("rule.matched in the first rule"),
                        "{}: {e}",
                        v.id
                    );
                }
                *cases.entry("refused".into()).or_default() += 1;
            }
        }
    }
    eprintln!("{} vectors: {cases:?}", vectors.len());
    assert!(cases["Agree"] >= 80, "{cases:?}");
    assert!(cases["AgreeOnError"] >= 15, "{cases:?}");
}

#[test]
fn nfd_examples_on_the_sample_nodes_for_every_tag_selection() {
    let schemas = Schemas::load();
    let nodes = sample_nodes();
    for (file, selections) in [
        ("image-compatibility.yaml", vec![vec![]]),
        (
            "preferred-fallback.yaml",
            vec![
                vec![],
                vec!["preferred"],
                vec!["fallback"],
                vec!["fallback", "preferred"],
            ],
        ),
    ] {
        let spec = parse_spec(&data(&format!("examples/{file}"))).unwrap();
        for tags in selections {
            let s = schedule::generate(&spec, &options("app", &tags)).unwrap();
            schemas.check(&s);
            for (name, features) in &nodes {
                let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
                assert_eq!(
                    compare(&spec, &s, features, &tags),
                    Case::Agree,
                    "{file} {tags:?} on {name}"
                );
            }
        }
        let none = schedule::generate(&spec, &options("app", &["nothing"])).unwrap_err();
        assert!(none[0]
            .message
            .contains("no compatibility set has one of the tags"));
    }
}

/// Specs written for each mechanism of the generated rule, on the sample nodes.
#[test]
fn each_mechanism_reproduces_validate_node() {
    let schemas = Schemas::load();
    let nodes = sample_nodes();
    let specs = [
        // A comparison that fails to parse on the RHEL node (its kernel is not semver):
        // validate-node aborts there, so even the set that would match gets no label.
        "version: v1alpha1\ncompatibilities:\n- tag: new-kernel\n  weight: 50\n  rules:\n  - name: kernel\n    matchFeatures:\n    - feature: kernel.version\n      matchExpressions:\n        full: {op: Ge, value: [\"5.10.0\"], type: version}\n- tag: any-cpu\n  rules:\n  - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: Exists}\n",
        // A rule whose matchAny fails still publishes its vars in validate-node; a later set
        // reads them.
        "version: v1alpha1\ncompatibilities:\n- tag: a\n  rules:\n  - name: publishes\n    vars: {published: \"yes\"}\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions: {vendor_id: {op: Exists}}\n    matchAny:\n    - matchFeatures:\n      - feature: pci.device\n        matchExpressions: {vendor: {op: In, value: [\"ffff\"]}}\n    - matchFeatures:\n      - feature: pci.device\n        matchExpressions: {vendor: {op: In, value: [\"eeee\"]}}\n- tag: b\n  rules:\n  - name: reads\n    matchFeatures:\n    - feature: rule.matched\n      matchExpressions: {published: {op: In, value: [\"yes\"]}}\n",
        // Vars from a template, read back across sets; an error hidden behind a matching
        // matchAny element that nfd-master never evaluates, but validate-node does.
        "version: v1alpha1\ncompatibilities:\n- tag: gpus\n  rules:\n  - name: gpu vendors\n    varsTemplate: \"{{range .pci.device}}gpu-{{.vendor}}=true\\n{{end}}\"\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions: {class: {op: InRegexp, value: [\"^03\"]}}\n  - name: nvidia\n    matchFeatures:\n    - feature: rule.matched\n      matchExpressions: {gpu-10de: {op: IsTrue}}\n- tag: hidden-error\n  rules:\n  - name: first element matches\n    matchAny:\n    - matchFeatures:\n      - feature: cpu.model\n        matchExpressions: {vendor_id: {op: Exists}}\n    - matchFeatures:\n      - feature: memory.numa\n        matchExpressions: {node_count: {op: Gt, value: [\"1\"]}}\n    - matchFeatures:\n      - feature: cpu.model\n        matchExpressions: {vendor_id: {op: GtLt, value: [\"1\", \"5\"]}}\n",
        // A template that fails only where an NVIDIA device matches: validate-node aborts there,
        // and the set that matches everywhere gets no label on that node.
        "version: v1alpha1\ncompatibilities:\n- tag: tmpl\n  rules:\n  - name: t\n    varsTemplate: \"{{range .pci.device}}x={{.nope}}\\n{{end}}\"\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions: {vendor: {op: In, value: [\"10de\"]}}\n- tag: other\n  rules:\n  - name: o\n    matchFeatures:\n    - feature: cpu.model\n",
        // Comparisons of element names: a matchName evaluated only when the term's expressions
        // hold.
        "version: v1alpha1\ncompatibilities:\n- tag: names\n  rules:\n  - name: numeric names\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions: {vendor_id: {op: In, value: [\"ARM\"]}}\n      matchName: {op: Gt, value: [\"0\"]}\n  - name: after\n    matchFeatures:\n    - feature: kernel.loadedmodule\n      matchName: {op: Exists}\n",
    ];
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for src in specs {
        let spec = parse_spec(src).unwrap();
        let s =
            schedule::generate(&spec, &options("mech", &[])).unwrap_or_else(|e| panic!("{e:?}"));
        schemas.check(&s);
        for (_, features) in &nodes {
            let case = compare(&spec, &s, features, &[]);
            *outcomes.entry(format!("{case:?}")).or_default() += 1;
        }
    }
    // Each mechanism is exercised: agreement both with and without an error.
    assert!(
        outcomes["Agree"] > 0 && outcomes["AgreeOnError"] > 0,
        "{outcomes:?}"
    );
}

#[test]
fn the_rhel_node_gets_no_label_where_validate_node_aborts() {
    let spec = parse_spec("version: v1alpha1\ncompatibilities:\n- tag: new-kernel\n  rules:\n  - name: kernel\n    matchFeatures:\n    - feature: kernel.version\n      matchExpressions:\n        full: {op: Ge, value: [\"5.10.0\"], type: version}\n- tag: any-cpu\n  rules:\n  - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: Exists}\n").unwrap();
    let s = schedule::generate(&spec, &options("k", &[])).unwrap();
    let objects = nfr::parse(&s.node_feature_rule.to_yaml()).unwrap();
    let rhel = &sample_nodes()[1].1;
    let result = process::process(
        &Ruleset::new(&objects),
        rhel,
        &Settings::default(),
        &process::Options::default(),
    )
    .unwrap();
    assert!(eval::evaluate(&spec, rhel, &eval::Options::default()).is_err());
    assert!(result.labels.is_empty(), "{:?}", result.labels);
    let ubuntu = &sample_nodes()[0].1;
    let result = process::process(
        &Ruleset::new(&objects),
        ubuntu,
        &Settings::default(),
        &process::Options::default(),
    )
    .unwrap();
    assert_eq!(result.label("compat.nodefit.io/k.new-kernel"), Some("true"));
    assert_eq!(result.label("compat.nodefit.io/k.any-cpu"), Some("true"));
}

#[test]
fn the_affinity_prefers_each_nodes_best_set_by_weight() {
    let spec = parse_spec(&data("examples/preferred-fallback.yaml")).unwrap();
    let s = schedule::generate(&spec, &options("app", &[])).unwrap();
    let affinity = s.affinity.to_json();
    let node = &affinity["affinity"]["nodeAffinity"];
    let required = &node["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
    assert_eq!(required.as_array().unwrap().len(), 2);
    assert_eq!(
        required[0]["matchExpressions"][0]["key"],
        "compat.nodefit.io/app.preferred"
    );
    let preferred = node["preferredDuringSchedulingIgnoredDuringExecution"]
        .as_array()
        .unwrap();
    assert_eq!(preferred[0]["weight"], 10);
    assert_eq!(preferred[1]["weight"], 1);
    // The fallback's weight counts only where the preferred set did not match.
    assert_eq!(
        preferred[1]["preference"]["matchExpressions"][1],
        serde_json::json!({"key": "compat.nodefit.io/app.preferred", "operator": "DoesNotExist"})
    );
    assert_eq!(s.sets[0].preferred_weight, Some(10));
    // One set: nothing to prefer.
    let one = parse_spec(&data("examples/image-compatibility.yaml")).unwrap();
    let s = schedule::generate(&one, &options("app", &[])).unwrap();
    assert!(s.affinity.to_json()["affinity"]["nodeAffinity"]
        .get("preferredDuringSchedulingIgnoredDuringExecution")
        .is_none());
    assert_eq!(s.sets[0].label, "compat.nodefit.io/app.set1");
}

#[test]
fn what_cannot_be_reproduced_is_refused_where_it_is_written() {
    let cases = [
        ("  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions: {vendor_id: {}}\n", "CRD does not accept"),
        ("  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions: {vendor_id: ~}\n", "is null"),
        ("  - name: r\n    matchFeatures:\n    - feature: rule.matched\n      matchExpressions: {x: {op: Exists}}\n", "first rule"),
        ("  - name: a\n    vars: {x: \"1\"}\n  - name: r\n    matchFeatures:\n    - feature: rule.matched\n      matchName: {op: In, value: [x]}\n", "matchName on rule.matched"),
        ("  - name: a\n    vars: {x: \"1\"}\n  - name: r\n    vars: {y: \"1\"}\n    matchFeatures:\n    - feature: rule.matched\n      matchExpressions: {y: {op: Exists}}\n    matchAny:\n    - matchFeatures: []\n", "reads its own vars"),
        ("  - name: r\n    matchFeatures:\n    - feature: cpu.model\n    - feature: kernel.version\n      matchName: {op: Gt, value: [\"1\"]}\n", "put this term first"),
        ("  - name: r\n    vars: {nodefit.x.set1.rule1: \"1\"}\n", "marker"),
    ];
    for (rules, want) in cases {
        let spec = parse_spec(&format!(
            "version: v1alpha1\ncompatibilities:\n- rules:\n{rules}"
        ))
        .unwrap();
        let errors = schedule::generate(&spec, &options("x", &[])).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains(want) && e.span.is_some()),
            "{want}: {errors:?}"
        );
    }
    let spec = parse_spec("version: v1alpha1\ncompatibilities:\n- tag: a b\n  rules: []\n- tag: t\n  rules: []\n- tag: t\n  rules: []\n").unwrap();
    let errors = schedule::generate(&spec, &options("x", &[])).unwrap_err();
    assert!(
        errors[0].message.contains("not a valid label name"),
        "{errors:?}"
    );
    assert!(
        errors[1].message.contains("have the tag \"t\""),
        "{errors:?}"
    );
    assert!(schedule::generate(&spec, &options("Bad", &[])).is_err());
}

/// Specs from the spec grammar (every op, odd values, back-references, templates), with unique
/// tags, on the sample nodes, with all sets and with the first set only.
#[test]
fn generated_specs_label_exactly_where_validate_node_matches() {
    let schemas = Schemas::load();
    let nodes = sample_nodes();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = grammar::spec();
    let mut cases: BTreeMap<String, usize> = BTreeMap::new();
    let mut generated = 0;
    for _ in 0..1500 {
        let src = strategy.new_tree(&mut runner).unwrap().current();
        let Ok(mut spec) = parse_spec(&src) else {
            continue;
        };
        for (i, set) in spec.compatibilities.iter_mut().enumerate() {
            set.tag = format!("t{}", i + 1);
        }
        for tags in [vec![], vec!["t1"]] {
            let Ok(s) = schedule::generate(&spec, &options("g", &tags)) else {
                *cases.entry("refused".into()).or_default() += 1;
                continue;
            };
            generated += 1;
            schemas.check(&s);
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            for (_, features) in &nodes {
                let case = compare(&spec, &s, features, &tags);
                *cases.entry(format!("{case:?}")).or_default() += 1;
            }
        }
    }
    eprintln!("{generated} rules generated: {cases:?}");
    assert!(generated > 500, "{cases:?}");
    assert!(
        cases["Agree"] > 1000 && cases["AgreeOnError"] > 100,
        "{cases:?}"
    );
}

#[test]
fn generated_rules_lint_without_errors() {
    use nodefit_core::lint::{self, Severity};
    for (file, tags) in [
        ("image-compatibility.yaml", vec![]),
        ("preferred-fallback.yaml", vec![]),
        ("preferred-fallback.yaml", vec!["fallback"]),
    ] {
        let spec = parse_spec(&data(&format!("examples/{file}"))).unwrap();
        let s = schedule::generate(&spec, &options("app", &tags)).unwrap();
        let errors: Vec<_> = lint::lint_node_feature_rules(&s.node_feature_rule.to_yaml())
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{file}: {errors:#?}");
    }
}
