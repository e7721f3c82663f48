//! NodeFeatureRules processed as nfd-master does: NFD's own samples against the sample nodes
//! (expectations worked out by hand, `data/nodefeaturerules/README.md`), and each rule of
//! `processNodeFeatureRule` and the label filters on small cases.

use std::collections::BTreeMap;

use nodefit_core::budget::{self, Interrupt};
use nodefit_core::features::Features;
use nodefit_core::nfr::process::{self, NodeResult, Options, RuleStatus, Ruleset, Settings};
use nodefit_core::nfr::{self, NodeFeatureRule};
use nodefit_core::snapshot;

const NODES: [&str; 3] = [
    "intel-spr-h100-cx6",
    "amd-genoa-mi210-rhel9",
    "arm64-graviton3-al2023",
];
const SAMPLES: [&str; 5] = [
    "nodefeaturerule-cpu.yaml",
    "nodefeaturerule-kernel.yaml",
    "nodefeaturerule-pci.yaml",
    "nodefeaturerule-custom.yaml",
    "nodefeaturerule-storage.yaml",
];

fn data(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn node(name: &str) -> Features {
    let parsed = snapshot::parse(&data(&format!("samples/{name}.features.json"))).unwrap();
    parsed.nodes.into_iter().next().unwrap().features
}

fn run(objects: &[NodeFeatureRule], features: &Features, settings: &Settings) -> NodeResult {
    let options = Options {
        explain: true,
        interrupt: Interrupt::none(),
    };
    process::process(&Ruleset::new(objects), features, settings, &options).unwrap()
}

fn labels(result: &NodeResult) -> BTreeMap<String, String> {
    result
        .labels
        .iter()
        .map(|l| (l.key.clone(), l.value.clone()))
        .collect()
}

fn errors(result: &NodeResult) -> Vec<String> {
    result
        .rules
        .iter()
        .filter(|r| r.status == RuleStatus::Error)
        .map(|r| r.rule.to_string())
        .collect()
}

#[derive(serde::Deserialize)]
struct Expected {
    labels: BTreeMap<String, String>,
    errors: Vec<String>,
}

#[test]
fn nfd_samples_give_the_hand_checked_labels_on_the_sample_nodes() {
    let expected: BTreeMap<String, BTreeMap<String, Expected>> =
        serde_json::from_str(&data("nodefeaturerules/expected-labels.json")).unwrap();
    for sample in SAMPLES {
        let objects = nfr::parse(&data(&format!("nodefeaturerules/{sample}"))).unwrap();
        for name in NODES {
            let result = run(&objects, &node(name), &Settings::default());
            let want = &expected[sample][name];
            assert_eq!(labels(&result), want.labels, "{sample} on {name}");
            assert_eq!(errors(&result), want.errors, "{sample} on {name}");
            assert!(
                result.rejected.is_empty(),
                "{sample} on {name}: {:?}",
                result.rejected
            );
        }
    }
}

#[test]
fn the_cpu_sample_fails_where_nfd_would_log_it() {
    let objects = nfr::parse(&data("nodefeaturerules/nodefeaturerule-cpu.yaml")).unwrap();
    let result = run(&objects, &node("intel-spr-h100-cx6"), &Settings::default());
    let failed = result
        .rules
        .iter()
        .find(|r| r.status == RuleStatus::Error)
        .unwrap();
    let error = failed.error.as_deref().unwrap();
    assert!(
        error.contains("labelsTemplate: failed to expand template") && error.contains("pstate"),
        "{error}"
    );
}

#[test]
fn all_samples_together_and_on_the_nodefeature_sample_evaluate() {
    let mut objects = Vec::new();
    for sample in SAMPLES {
        objects.extend(nfr::parse(&data(&format!("nodefeaturerules/{sample}"))).unwrap());
    }
    let expected: BTreeMap<String, BTreeMap<String, Expected>> =
        serde_json::from_str(&data("nodefeaturerules/expected-labels.json")).unwrap();
    for name in NODES {
        let all = labels(&run(&objects, &node(name), &Settings::default()));
        let union: BTreeMap<String, String> = SAMPLES
            .iter()
            .flat_map(|s| expected[*s][name].labels.clone())
            .collect();
        assert_eq!(all, union, "{name}");
    }
    let nf = snapshot::parse(&data("samples/nodefeature-gpu-node-01.yaml")).unwrap();
    let result = run(&objects, &nf.nodes[0].features, &Settings::default());
    assert!(result
        .label("feature.node.kubernetes.io/kernel-version.major")
        .is_some());
}

fn rule_file(body: &str) -> Vec<NodeFeatureRule> {
    nfr::parse(body).unwrap_or_else(|e| panic!("{e:?}\n{body}"))
}

fn object(name: &str, rules: &str) -> String {
    format!(
        "---\napiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeatureRule\nmetadata: {{name: {name}}}\nspec:\n  rules:\n{rules}"
    )
}

fn features(json: &str) -> Features {
    serde_json::from_str(json).unwrap()
}

const SMALL_NODE: &str = r#"{
  "flags": {"kernel.loadedmodule": {"elements": {"vfio_pci": {}, "ib_uverbs": {}}},
            "cpu.cpuid": {"elements": {"AVX512F": {}, "AVX2": {}}}},
  "attributes": {"cpu.model": {"elements": {"vendor_id": "Intel", "family": "6"}},
                 "kernel.version": {"elements": {"major": "5", "full": "5.15.0-91-generic"}}},
  "instances": {"pci.device": {"elements": [
      {"attributes": {"vendor": "10de", "class": "0302"}},
      {"attributes": {"vendor": "15b3", "class": "0200"}}]}}
}"#;

#[test]
fn objects_run_in_name_order_and_later_rules_see_earlier_labels_and_vars() {
    // "b-second" is written first: nfd-master sorts by name, so "a-first" runs before it.
    let src = object(
        "b-second",
        "  - name: reads\n    labels: {seen: \"yes\"}\n    matchFeatures:\n    - feature: rule.matched\n      matchExpressions:\n        gpu: {op: IsTrue}\n        intel: {op: In, value: [\"1\"]}\n",
    ) + &object(
        "a-first",
        "  - name: publishes\n    labels: {gpu: \"true\"}\n    vars: {intel: \"1\"}\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        vendor: {op: In, value: [\"10de\"]}\n",
    );
    let result = run(
        &rule_file(&src),
        &features(SMALL_NODE),
        &Settings::default(),
    );
    assert_eq!(
        labels(&result),
        BTreeMap::from([
            ("feature.node.kubernetes.io/gpu".into(), "true".into()),
            ("feature.node.kubernetes.io/seen".into(), "yes".into()),
        ])
    );
    let order: Vec<&str> = result.rules.iter().map(|r| &*r.object).collect();
    assert_eq!(order, ["a-first", "b-second"]);
    let seen = result
        .labels
        .iter()
        .find(|l| l.key.ends_with("seen"))
        .unwrap();
    assert_eq!((&*seen.object, &*seen.rule), ("b-second", "reads"));
}

/// nodefit feeds back only the `rule.matched` elements something reads; each way of reading
/// them must still see what nfd-master's would.
#[test]
fn every_way_of_reading_rule_matched_sees_the_earlier_outputs() {
    let publish = "  - name: publishes\n    labels: {a: \"1\", b: \"2\"}\n    vars: {c: \"3\"}\n    matchFeatures:\n    - feature: cpu.model\n";
    let by_expression_and_dynamic = "  - name: reads\n    labels: {dyn: \"@rule.matched.c\"}\n    matchFeatures:\n    - feature: rule.matched\n      matchExpressions:\n        a: {op: In, value: [\"1\"]}\n";
    let by_template = "  - name: templated\n    labelsTemplate: \"tpl=@rule.matched.c\"\n    matchFeatures:\n    - feature: cpu.model\n";
    let by_name = "  - name: ranges\n    labelsTemplate: \"{{ range .rule.matched }}n-{{ .Name }}={{ .Value }}\\n{{ end }}\"\n    matchFeatures:\n    - feature: rule.matched\n      matchName: {op: In, value: [b, c]}\n";
    let node = features(SMALL_NODE);
    let ns = |k: &str| format!("feature.node.kubernetes.io/{k}");
    let result = run(
        &rule_file(&object(
            "o",
            &format!("{publish}{by_expression_and_dynamic}"),
        )),
        &node,
        &Settings::default(),
    );
    assert_eq!(
        labels(&result),
        BTreeMap::from([
            (ns("a"), "1".into()),
            (ns("b"), "2".into()),
            (ns("dyn"), "3".into()),
        ])
    );
    // A dynamic value a template writes names its element only once expanded.
    let result = run(
        &rule_file(&object("o", &format!("{publish}{by_template}"))),
        &node,
        &Settings::default(),
    );
    assert_eq!(labels(&result)[&ns("tpl")], "3");
    let result = run(
        &rule_file(&object("o", &format!("{publish}{by_name}"))),
        &node,
        &Settings::default(),
    );
    assert_eq!(
        labels(&result),
        BTreeMap::from([
            (ns("a"), "1".into()),
            (ns("b"), "2".into()),
            (ns("n-b"), "2".into()),
            (ns("n-c"), "3".into()),
        ])
    );
}

#[test]
fn default_namespace_prefixed_keys_win_and_later_rules_overwrite() {
    let src = object(
        "o",
        "  - name: one\n    labels: {x: \"unprefixed\", \"feature.node.kubernetes.io/x\": \"prefixed\", \"example.com/y\": \"1\"}\n    annotations: {note: \"hi\"}\n    extendedResources: {vfs: \"4\"}\n  - name: two\n    labels: {\"example.com/y\": \"2\"}\n",
    );
    let result = run(
        &rule_file(&src),
        &features(SMALL_NODE),
        &Settings::default(),
    );
    assert_eq!(
        result.label("feature.node.kubernetes.io/x"),
        Some("prefixed")
    );
    assert_eq!(result.label("example.com/y"), Some("2"));
    assert_eq!(result.annotations[0].key, "feature.node.kubernetes.io/note");
    assert_eq!(
        result.extended_resources[0].key,
        "feature.node.kubernetes.io/vfs"
    );
}

#[test]
fn labels_are_filtered_as_nfd_master_filters_them() {
    let src = object(
        "o",
        "  - name: r\n    labels:\n      \"kubernetes.io/bad\": \"1\"\n      \"node.kubernetes.io/bad\": \"1\"\n      \"sub.feature.node.kubernetes.io/ok\": \"1\"\n      \"profile.node.kubernetes.io/ok\": \"1\"\n      \"example.com/long\": \"0123456789012345678901234567890123456789012345678901234567890123\"\n      \"example.com/space\": \"a b\"\n      \"denied.example.org/x\": \"1\"\n      \"deep.denied.example.org/x\": \"1\"\n      \"example.com/vendor\": \"@cpu.model.vendor_id\"\n      \"example.com/missing\": \"@cpu.model.nothing\"\n      \"example.com/nofeature\": \"@cpu.nothing.x\"\n      \"example.com/short\": \"@cpu.model\"\n      \"example.com/Bad_Name_\": \"1\"\n      \"extra.kubernetes.io/e\": \"not a valid value\"\n",
    );
    let settings = Settings::new(
        vec!["*.denied.example.org".into(), "denied.example.org".into()],
        vec!["extra.kubernetes.io".into()],
        None,
        false,
    )
    .unwrap();
    let result = run(&rule_file(&src), &features(SMALL_NODE), &settings);
    assert_eq!(
        labels(&result),
        BTreeMap::from([
            ("example.com/vendor".into(), "Intel".into()),
            // An extra namespace skips every other check, the value's included.
            ("extra.kubernetes.io/e".into(), "not a valid value".into()),
            ("profile.node.kubernetes.io/ok".into(), "1".into()),
            ("sub.feature.node.kubernetes.io/ok".into(), "1".into()),
        ])
    );
    let reasons: BTreeMap<&str, &str> = result
        .rejected
        .iter()
        .map(|r| (r.key.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        reasons["kubernetes.io/bad"],
        "namespace \"kubernetes.io\" is not allowed"
    );
    assert_eq!(
        reasons["node.kubernetes.io/bad"],
        "namespace \"node.kubernetes.io\" is not allowed"
    );
    assert_eq!(
        reasons["denied.example.org/x"],
        "namespace \"denied.example.org\" is not allowed"
    );
    assert_eq!(
        reasons["deep.denied.example.org/x"],
        "namespace \"deep.denied.example.org\" is not allowed"
    );
    assert!(reasons["example.com/long"].starts_with("invalid value"));
    assert!(reasons["example.com/space"].contains("a valid label must be"));
    assert_eq!(
        reasons["example.com/missing"],
        "element nothing not found on feature cpu.model"
    );
    assert_eq!(
        reasons["example.com/nofeature"],
        "feature cpu.nothing not found"
    );
    assert_eq!(
        reasons["example.com/short"],
        "value @cpu.model is not in the form of '@domain.feature.element'"
    );
    assert!(reasons["example.com/Bad_Name_"].starts_with("invalid label key"));
    assert!(result.has_errors());
}

#[test]
fn the_whitelist_applies_to_the_name_part() {
    let src = object(
        "o",
        "  - name: r\n    labels: {\"example.com/gpu-x\": \"1\", \"example.com/cpu-x\": \"1\"}\n",
    );
    let settings = Settings::new(vec![], vec![], Some("^gpu"), false).unwrap();
    let result = run(&rule_file(&src), &features(SMALL_NODE), &settings);
    assert_eq!(result.labels.len(), 1);
    assert_eq!(
        result.rejected[0].reason,
        "cpu-x (example.com/cpu-x) does not match the whitelist (^gpu)"
    );
    assert!(Settings::new(vec![], vec![], Some("("), false).is_err());
}

#[test]
fn extended_resources_annotations_and_taints() {
    let src = object(
        "o",
        "  - name: r\n    extendedResources:\n      vfs: \"@kernel.version.major\"\n      bad: \"lots\"\n      \"kubernetes.io/x\": \"1\"\n    annotations:\n      ok: \"x\"\n      \"kubernetes.io/a\": \"x\"\n    taints:\n    - {key: \"example.com/gpu\", value: \"true\", effect: NoSchedule}\n    - {key: \"nodomain\", effect: NoSchedule}\n    - {key: \"example.com/e\", effect: Sometimes}\n",
    );
    let objects = rule_file(&src);
    let without = run(&objects, &features(SMALL_NODE), &Settings::default());
    assert!(without.taints.is_empty());
    assert_eq!(without.taints_not_enabled.len(), 3);
    assert!(!without
        .rejected
        .iter()
        .any(|r| r.kind == process::OutputKind::Taint));
    let with = run(
        &objects,
        &features(SMALL_NODE),
        &Settings::new(vec![], vec![], None, true).unwrap(),
    );
    assert_eq!(with.taints.len(), 1);
    assert_eq!(with.taints[0].key, "example.com/gpu");
    let reasons: Vec<&str> = with.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert!(reasons.contains(&"unprefixed keys are not allowed"));
    assert!(reasons.contains(&"invalid taint effect"));
    assert_eq!(with.extended_resources.len(), 1);
    assert_eq!(with.extended_resources[0].value, "5");
    assert!(reasons
        .iter()
        .any(|r| r.starts_with("invalid value \"lots\"")));
    assert!(reasons.contains(&"namespace is not allowed"));
    assert_eq!(with.annotations.len(), 1);
}

#[test]
fn fail_fast_match_any_and_templates_per_element() {
    let src = object(
        "o",
        "  - name: any\n    labelsTemplate: \"{{range .pci.device}}dev-{{.vendor}}=1\\n{{end}}\"\n    matchAny:\n    - matchFeatures:\n      - feature: pci.device\n        matchExpressions: {vendor: {op: In, value: [\"10de\"]}}\n    - matchFeatures:\n      - feature: pci.device\n        matchExpressions: {class: {op: In, value: [\"0200\"]}}\n  - name: broken-later\n    labels: {b: \"1\"}\n    matchAny:\n    - matchFeatures:\n      - feature: cpu.model\n        matchExpressions: {vendor_id: {op: Exists}}\n    - matchFeatures:\n      - feature: kernel.version\n        matchExpressions: {major: {op: In}}\n",
    );
    let result = run(
        &rule_file(&src),
        &features(SMALL_NODE),
        &Settings::default(),
    );
    // With a template, every matchAny element runs and expands over its own devices.
    assert_eq!(
        result.label("feature.node.kubernetes.io/dev-10de"),
        Some("1")
    );
    assert_eq!(
        result.label("feature.node.kubernetes.io/dev-15b3"),
        Some("1")
    );
    // Without one, the first match ends the loop: the invalid element is never evaluated.
    assert_eq!(result.label("feature.node.kubernetes.io/b"), Some("1"));
}

#[test]
fn errors_skip_only_their_rule_and_why_says_where_matching_stopped() {
    let src = object(
        "o",
        "  - name: bad\n    labels: {bad: \"1\"}\n    matchFeatures:\n    - feature: kernel.version\n      matchExpressions: {major: {op: Gt, value: [\"x\"]}}\n  - name: no-feature\n    labels: {n: \"1\"}\n    matchFeatures:\n    - feature: usb.device\n  - name: wrong-value\n    labels: {w: \"1\"}\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions: {vendor_id: {op: In, value: [\"AMD\"]}}\n  - name: fine\n    labels: {fine: \"1\"}\n    matchFeatures:\n    - feature: kernel.loadedmodule\n      matchExpressions: {vfio_pci: {op: Exists}}\n",
    );
    let result = run(
        &rule_file(&src),
        &features(SMALL_NODE),
        &Settings::default(),
    );
    let status: Vec<RuleStatus> = result.rules.iter().map(|r| r.status).collect();
    assert_eq!(
        status,
        [
            RuleStatus::Error,
            RuleStatus::NotMatched,
            RuleStatus::NotMatched,
            RuleStatus::Matched
        ]
    );
    assert!(result.rules[0]
        .error
        .as_ref()
        .unwrap()
        .contains("not a number \"x\""));
    assert_eq!(
        result.rules[1].why,
        ["matchFeatures[0]: the node has no feature \"usb.device\""]
    );
    assert_eq!(
        result.rules[2].why,
        ["matchFeatures[0] cpu.model: \"vendor_id\" {op: \"In\", value: [\"AMD\"]} does not hold (the node has \"Intel\")"]
    );
    assert_eq!(labels(&result).len(), 1);
}

#[test]
fn outputs_are_budgeted_and_interrupts_stop_the_work() {
    let labels: String = (0..=budget::NFR_OUTPUTS.value)
        .map(|i| format!("      k{i}: \"1\"\n"))
        .collect();
    let src = object("o", &format!("  - name: many\n    labels:\n{labels}"));
    let objects = rule_file(&src);
    let ruleset = Ruleset::new(&objects);
    let err = process::process(
        &ruleset,
        &features(SMALL_NODE),
        &Settings::default(),
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(err.budget, Some(&budget::NFR_OUTPUTS), "{err}");
    let interrupted = Options {
        explain: false,
        interrupt: Interrupt::new(|| true),
    };
    let err = process::process(
        &ruleset,
        &features(SMALL_NODE),
        &Settings::default(),
        &interrupted,
    )
    .unwrap_err();
    assert_eq!(err.message, budget::INTERRUPTED);
}

/// Templates see the matched elements Go hands them, in validate-node (`failFast=false`) and in
/// nfd-master (`failFast=true`): `MatchMulti` gives an element per side an expression holds on,
/// sorted by name, and `MatchNamesMulti` a whole instance for a matching key. The one place the
/// two modes differ: when the flag and attribute side fails and an instance rescues the term,
/// `failFast=true` drops that side's elements and `failFast=false` keeps them.
#[test]
fn both_engines_hand_templates_the_elements_go_does() {
    let node = features(
        r#"{
      "flags": {"cpu.cpuid": {"elements": {"AVX2": {}, "ADX": {}}}},
      "attributes": {"cpu.cpuid": {"elements": {"AVX10_VERSION": "1"}},
                     "x.y": {"elements": {"a": "1"}}},
      "instances": {"x.y": {"elements": [{"attributes": {"a": "2", "b": "1"}}]},
                    "pci.device": {"elements": [{"attributes": {"vendor": "10de", "class": "0302"}}]}}
    }"#,
    );
    let template = "{{range $i, $e := .cpu.cpuid}}e{{$i}}={{$e.Name}}\\n{{end}}xy={{len .x.y}}\\n{{range .pci.device}}v={{.vendor}}\\n{{end}}";
    let matchers = "    matchFeatures:\n    - feature: cpu.cpuid\n      matchExpressions:\n        NOPE: {op: DoesNotExist}\n        AVX2: {op: Exists}\n    - feature: x.y\n      matchExpressions:\n        a: {op: In, value: [\"1\", \"2\"]}\n        b: {op: Exists}\n    - feature: pci.device\n      matchName: {op: In, value: [vendor]}\n";
    let want = BTreeMap::from([
        // NOPE holds on both sides (two elements), AVX2 on the flag side; sorted by name.
        ("e0".to_string(), "AVX2".to_string()),
        ("e1".to_string(), "NOPE".to_string()),
        ("e2".to_string(), "NOPE".to_string()),
        // The instance only: `a` held on the attribute side, `b` did not.
        ("xy".to_string(), "1".to_string()),
        ("v".to_string(), "10de".to_string()),
    ]);
    let spec_src = format!(
        "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    varsTemplate: \"{template}\"\n{}",
        matchers
    );
    let spec = nodefit_core::parse_spec(&spec_src).unwrap();
    let evaluation =
        nodefit_core::eval::evaluate(&spec, &node, &nodefit_core::eval::Options::default())
            .unwrap();
    let mut validate_node = want.clone();
    validate_node.insert("xy".into(), "2".into());
    assert_eq!(evaluation.sets[0].rules[0].vars, validate_node);
    let src = object(
        "o",
        &format!("  - name: r\n    labelsTemplate: \"{template}\"\n{matchers}"),
    );
    let result = run(&rule_file(&src), &node, &Settings::default());
    let got: BTreeMap<String, String> = result
        .labels
        .iter()
        .map(|l| {
            (
                l.key
                    .trim_start_matches("feature.node.kubernetes.io/")
                    .to_string(),
                l.value.clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn lint_finds_the_cpu_samples_broken_templates_and_nothing_else_in_nfds_samples() {
    use nodefit_core::lint::{self, Severity};
    for sample in SAMPLES {
        let src = data(&format!("nodefeaturerules/{sample}"));
        let errors: Vec<String> = lint::lint_node_feature_rules(&src)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        if sample == "nodefeaturerule-cpu.yaml" {
            assert_eq!(errors.len(), 3, "{errors:#?}");
            assert!(errors
                .iter()
                .all(|e| e.starts_with("template-missing-feature")));
            // `.cpu.cstate` when the pstate element matches, `.cpu.pstate` when the cstate one
            // does, and the coprocessor rule's `.cpu.sst`.
            assert!(
                errors[0].contains("`.cpu.cstate`") && errors[0].contains("matchAny element #2")
            );
            assert!(
                errors[1].contains("`.cpu.pstate`") && errors[1].contains("matchAny element #1")
            );
            assert!(
                errors[2].contains("`.cpu.sst`") && errors[2].contains("whenever the rule matches")
            );
        } else {
            assert!(errors.is_empty(), "{sample}: {errors:#?}");
        }
    }
}

/// NFD's own expectations for the elements its matchers hand templates
/// (`pkg/apis/nfd/nodefeaturerule/expression-api_test.go`, `TestMatchMulti` and
/// `TestMatchNamesMulti`, the cases where flags, attributes and instances meet), through a
/// template that writes out every element, in validate-node (`varsTemplate`) and in
/// nfd-master's processing (`labelsTemplate`). Every case matches, where `failFast` makes no
/// difference.
#[test]
fn templates_see_the_elements_of_nfds_own_matcher_tests() {
    // Each element as `Key.value.` pairs in key order, ending in `x` to be a valid label value.
    let template =
        "{{range $i, $e := .d.f}}e{{$i}}={{range $k, $v := $e}}{{$k}}.{{$v}}.{{end}}x\\n{{end}}";
    let keys = r#""flags": {"d.f": {"elements": {"bar": {}, "baz": {}, "qux": {}}}}"#;
    let values = r#""attributes": {"d.f": {"elements": {"foo": "1", "bar": "2", "quux": "3"}}}"#;
    let cases: [(&str, String, &str, &[&str]); 4] = [
        (
            "multi: keys and values duplicate match",
            format!("{{{keys}, {values}}}"),
            "matchExpressions:\n        foo: {op: In, value: [\"1\"]}\n        bar: {op: Exists}",
            &["Name.bar.x", "Name.bar.Value.2.x", "Name.foo.Value.1.x"],
        ),
        (
            "multi: keys and values DoesNotExist match",
            format!("{{{keys}, {values}}}"),
            "matchExpressions:\n        xyzzy: {op: DoesNotExist}",
            &["Name.xyzzy.x", "Name.xyzzy.Value..x"],
        ),
        (
            "multi: keys, values and instances all match",
            format!(
                r#"{{{keys}, {values}, "instances": {{"d.f": {{"elements": [{{"attributes": {{"foo": "1", "bar": "2"}}}}, {{"attributes": {{"foo": "10", "bar": "20"}}}}]}}}}}}"#
            ),
            "matchExpressions:\n        foo: {op: In, value: [\"1\"]}\n        bar: {op: Exists}",
            &[
                "Name.bar.x",
                "Name.bar.Value.2.x",
                "Name.foo.Value.1.x",
                "bar.2.foo.1.x",
            ],
        ),
        (
            "input keys, values and instances match (MatchNamesMulti)",
            r#"{"flags": {"d.f": {"elements": {"key1": {}, "key2": {}}}},
                "attributes": {"d.f": {"elements": {"key1": "val1", "key2": "val2"}}},
                "instances": {"d.f": {"elements": [{"attributes": {"key1": "1"}},
                  {"attributes": {"key1": "2"}}, {"attributes": {"key1": "3", "key2": "4"}}]}}}"#
                .to_string(),
            "matchName: {op: In, value: [key2]}",
            &["Name.key2.x", "Name.key2.Value.val2.x", "key1.3.key2.4.x"],
        ),
    ];
    for (name, node, matcher, want) in cases {
        let node = features(&node);
        let want: BTreeMap<String, String> = want
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("e{i}"), e.to_string()))
            .collect();
        let spec = nodefit_core::parse_spec(&format!(
            "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    varsTemplate: \"{template}\"\n    matchFeatures:\n    - feature: d.f\n      {matcher}\n"
        ))
        .unwrap();
        let evaluation =
            nodefit_core::eval::evaluate(&spec, &node, &nodefit_core::eval::Options::default())
                .unwrap();
        assert_eq!(
            evaluation.sets[0].rules[0].vars, want,
            "validate-node: {name}"
        );
        let src = object(
            "o",
            &format!("  - name: r\n    labelsTemplate: \"{template}\"\n    matchFeatures:\n    - feature: d.f\n      {matcher}\n"),
        );
        let result = run(&rule_file(&src), &node, &Settings::default());
        let got: BTreeMap<String, String> = labels(&result)
            .into_iter()
            .map(|(k, v)| {
                (
                    k.trim_start_matches("feature.node.kubernetes.io/")
                        .to_string(),
                    v,
                )
            })
            .collect();
        assert_eq!(got, want, "nfd-master: {name}");
    }
}
