//! Property tests: no input makes parsing, decoding, lint or evaluation panic, hang or blow up.
//! (The coverage-guided fuzz targets in shared/fuzz go further; these run on every test.)

use nodefit_core::eval::{evaluate, Options};
use nodefit_core::features::Features;
use nodefit_core::nfr::{self, process};
use nodefit_core::{lint, parse_spec, report, schedule, snapshot, yaml};
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

/// Runs everything a user can run on a spec.
fn exercise(src: &str, nodes: &[Features]) {
    let snaps: Vec<lint::LintSnapshot> = nodes
        .iter()
        .map(|f| lint::LintSnapshot {
            name: "n",
            features: f,
        })
        .collect();
    let diagnostics = lint::lint(src, &snaps);
    for d in &diagnostics {
        assert!(
            d.span.start <= d.span.end && d.span.end <= src.len(),
            "span out of the text: {d:?}"
        );
        assert!(src.is_char_boundary(d.span.start) && src.is_char_boundary(d.span.end));
    }
    let _ = lint::to_json("f", src, &diagnostics);
    let _ = lint::apply_fixes(src, &diagnostics);
    exercise_node_feature_rules(src, nodes);
    if let Ok(spec) = parse_spec(src) {
        let options = schedule::Options {
            name: "p".into(),
            ..Default::default()
        };
        if let Ok(s) = schedule::generate(&spec, &options) {
            exercise_node_feature_rules(&s.node_feature_rule.to_yaml(), nodes);
        }
        for f in nodes {
            if let Ok(e) = evaluate(&spec, f, &Options::default()) {
                let _ = report::to_go_json(&report::build(&spec, &e, f));
            }
            let _ = evaluate(
                &spec,
                f,
                &Options {
                    tags: vec!["t".into()],
                    ..Options::default()
                },
            );
        }
    }
}

/// Everything a user can run on a NodeFeatureRule file.
fn exercise_node_feature_rules(src: &str, nodes: &[Features]) {
    for d in lint::lint_node_feature_rules(src) {
        assert!(
            d.span.start <= d.span.end && d.span.end <= src.len(),
            "{d:?}"
        );
        assert!(src.is_char_boundary(d.span.start) && src.is_char_boundary(d.span.end));
    }
    if let Ok(objects) = nfr::parse(src) {
        let ruleset = process::Ruleset::new(&objects);
        for f in nodes {
            let options = process::Options {
                explain: true,
                ..Default::default()
            };
            let _ = process::process(&ruleset, f, &process::Settings::default(), &options);
        }
    }
}

/// A spec's rules as a NodeFeatureRule's, with labels.
fn as_node_feature_rule(spec_src: &str) -> String {
    let rules: String = spec_src
        .lines()
        .skip_while(|l| !l.starts_with("  rules:"))
        .skip(1)
        .filter(|l| {
            !l.starts_with("- tag") && !l.starts_with("  weight") && !l.starts_with("  rules")
        })
        .map(|l| {
            format!("  {l}\n").replace(
                "  - name: r\n",
                "  - name: r\n      labels: {x: \"1\", \"@a\": \"@cpu.model.vendor_id\"}\n",
            )
        })
        .collect();
    format!("apiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeatureRule\nmetadata: {{name: nfr}}\nspec:\n  rules:\n{rules}")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn generated_specs_never_panic(src in spec()) {
        exercise(&src, &samples());
    }

    #[test]
    fn generated_node_feature_rules_never_panic(src in spec()) {
        exercise_node_feature_rules(&as_node_feature_rule(&src), &samples());
    }

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,300}") {
        exercise(&src, &samples());
        let _ = snapshot::parse(&src);
    }

    #[test]
    fn yaml_like_text_never_panics(src in "[-:{}\\[\\],&*!|>'\"#%@ \\na-z0-9.~]{0,200}") {
        exercise(&src, &[]);
        let _ = snapshot::parse(&src);
        let _ = yaml::parse(&src).map(|n| n.map(|n| yaml::to_json(&n)));
    }

    #[test]
    fn generated_snapshots_never_panic(json in snapshot_json()) {
        if let Ok(parsed) = snapshot::parse(&json) {
            let nodes: Vec<Features> = parsed.nodes.into_iter().map(|n| n.features).collect();
            exercise(include_str!("data/examples/image-compatibility.yaml"), &nodes);
        }
    }
}

fn snapshot_json() -> impl Strategy<Value = String> {
    let elems = prop::option::of(prop::collection::btree_map(element(), scalar(), 0..4));
    let inst = prop::option::of(prop::collection::vec(
        prop::option::of(prop::collection::btree_map(element(), scalar(), 0..3)),
        0..3,
    ));
    (prop::collection::vec((feature(), elems, inst), 0..5), any::<bool>()).prop_map(|(features, as_cr)| {
        let q = |s: &str| serde_json::to_string(s.trim_matches(['"', '\''])).unwrap();
        let mut attrs = Vec::new();
        let mut insts = Vec::new();
        for (f, e, i) in features {
            let e = e.map_or("null".to_string(), |m| {
                format!("{{{}}}", m.iter().map(|(k, v)| format!("{}: {}", q(k), q(v))).collect::<Vec<_>>().join(","))
            });
            attrs.push(format!("{}: {{\"elements\": {e}}}", q(&f.to_lowercase())));
            let i = i.map_or("null".to_string(), |list| {
                let items: Vec<String> = list
                    .iter()
                    .map(|a| a.as_ref().map_or("null".to_string(), |m| {
                        format!("{{\"attributes\": {{{}}}}}", m.iter().map(|(k, v)| format!("{}: {}", q(k), q(v))).collect::<Vec<_>>().join(","))
                    }))
                    .collect();
                format!("[{}]", items.join(","))
            });
            insts.push(format!("{}: {{\"elements\": {i}}}", q(&f.to_lowercase())));
        }
        let features = format!("{{\"attributes\": {{{}}}, \"instances\": {{{}}}}}", attrs.join(","), insts.join(","));
        if as_cr {
            format!("{{\"kind\": \"NodeFeature\", \"metadata\": {{\"name\": \"n\"}}, \"spec\": {{\"features\": {features}}}}}")
        } else {
            features
        }
    })
}

#[test]
fn most_generated_specs_are_valid_so_evaluation_is_exercised() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = spec();
    let total = 300;
    let valid = (0..total)
        .filter(|_| parse_spec(&strategy.new_tree(&mut runner).unwrap().current()).is_ok())
        .count();
    assert!(
        valid * 2 > total,
        "only {valid} of {total} generated specs decode"
    );
}

#[test]
fn many_generated_node_feature_rules_decode_so_processing_is_exercised() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = spec();
    let total = 300;
    let valid = (0..total)
        .filter(|_| {
            let src = as_node_feature_rule(&strategy.new_tree(&mut runner).unwrap().current());
            nfr::parse(&src).is_ok()
        })
        .count();
    assert!(
        valid * 5 > total,
        "only {valid} of {total} generated NodeFeatureRules decode"
    );
}
