//! `nodefit schedule` and `nodefit labels` as processes: the rule `schedule` writes, evaluated by
//! `labels`, sets a set's label exactly when `nodefit test` says the set matches (NFD's
//! conformance vectors, NFD's examples on the sample nodes with every tag selection); `labels`
//! gives the hand-checked labels of NFD's own samples, applies nfd-master's settings, and
//! refuses what the API server would.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{data, golden, nodefit, stderr, stdout};
use nodefit_e2e::testbed::TempDir;
use serde_json::Value;

const NODES: [&str; 3] = [
    "intel-spr-h100-cx6",
    "amd-genoa-mi210-rhel9",
    "arm64-graviton3-al2023",
];

fn sample(node: &str) -> String {
    data(&format!("samples/{node}.features.json"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = nodefit(args);
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

/// `nodefit labels ... -o json` for one snapshot: the labels of its node.
fn labels(rules: &[&str], snapshot: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["labels"];
    args.extend(rules);
    args.extend(["-s", snapshot, "-o", "json"]);
    args.extend(extra);
    let (code, out, err) = run(&args);
    assert!(code == 0 || code == 1, "labels exited {code}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    (code, v["nodes"][0].clone())
}

fn label_map(node: &Value) -> BTreeMap<String, String> {
    node["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["key"].as_str().unwrap().to_string(),
                l["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What `nodefit test` says of each evaluated set (in order), or `None` when it fails.
fn test_sets(spec: &str, snapshot: &str, tags: &[&str]) -> Option<Vec<bool>> {
    let mut args = vec!["test", spec, "-s", snapshot, "-o", "json"];
    let joined = tags.join(",");
    if !tags.is_empty() {
        args.extend(["--tags", &joined]);
    }
    let (code, out, err) = run(&args);
    if code == 2 {
        return None;
    }
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    Some(
        report
            .as_array()
            .unwrap()
            .iter()
            .map(|set| {
                set["rules"]
                    .as_array()
                    .is_none_or(|rules| rules.iter().all(|r| r["isMatch"] == true))
            })
            .collect(),
    )
}

/// Schedules `spec` into `dir`, then checks set by set that `labels` agrees with `test`.
fn agree(dir: &Path, spec: &str, snapshot: &str, tags: &[&str]) -> Result<&'static str, String> {
    let joined = tags.join(",");
    let mut args = vec!["schedule", spec, "--name", "t", "-o", "json"];
    if !tags.is_empty() {
        args.extend(["--tags", &joined]);
    }
    let (code, out, err) = run(&args);
    if code != 0 {
        return Err(err);
    }
    let generated: Value = serde_json::from_str(&out).unwrap();
    let rule_file = dir.join("rule.json");
    std::fs::write(&rule_file, generated["nodeFeatureRule"].to_string()).unwrap();
    let (_, node) = labels(&[rule_file.to_str().unwrap()], snapshot, &[]);
    let got = label_map(&node);
    let sets = generated["sets"].as_array().unwrap();
    match test_sets(spec, snapshot, tags) {
        Some(matched) => {
            assert_eq!(matched.len(), sets.len(), "{spec}");
            for (set, want) in sets.iter().zip(matched) {
                let label = set["label"].as_str().unwrap();
                assert_eq!(
                    got.get(label).map(String::as_str) == Some("true"),
                    want,
                    "{spec} on {snapshot} {tags:?}: {label}\n{got:?}"
                );
            }
            Ok("agree")
        }
        None => {
            assert!(
                got.is_empty(),
                "{spec} on {snapshot}: test failed but {got:?}"
            );
            Ok("agree on error")
        }
    }
}

#[test]
fn examples_on_the_sample_nodes_agree_with_test_for_every_tag_selection() {
    let dir = TempDir::new("cli-schedule");
    for (spec, selections) in [
        ("examples/image-compatibility.yaml", vec![vec![]]),
        (
            "examples/preferred-fallback.yaml",
            vec![
                vec![],
                vec!["preferred"],
                vec!["fallback"],
                vec!["preferred", "fallback"],
            ],
        ),
    ] {
        for tags in &selections {
            for node in NODES {
                assert_eq!(
                    agree(dir.path(), &data(spec), &sample(node), tags),
                    Ok("agree")
                );
            }
            let nf = data("samples/nodefeature-gpu-node-01.yaml");
            assert_eq!(agree(dir.path(), &data(spec), &nf, tags), Ok("agree"));
        }
    }
}

#[derive(serde::Deserialize)]
struct Vector {
    id: String,
    features: Value,
    rule: Value,
}

#[test]
fn conformance_vectors_agree_with_test_through_the_commands() {
    let dir = TempDir::new("cli-vectors");
    let vectors: Vec<Vector> =
        serde_json::from_str(&std::fs::read_to_string(data("conformance-vectors.json")).unwrap())
            .unwrap();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for v in &vectors {
        let spec = dir.path().join(format!("{}.json", v.id));
        let spec_json =
            serde_json::json!({"version": "v1alpha1", "compatibilities": [{"rules": [v.rule]}]});
        std::fs::write(&spec, spec_json.to_string()).unwrap();
        let node = dir.path().join(format!("{}.features.json", v.id));
        std::fs::write(&node, v.features.to_string()).unwrap();
        let outcome = match agree(
            dir.path(),
            spec.to_str().unwrap(),
            node.to_str().unwrap(),
            &[],
        ) {
            Ok(o) => o.to_string(),
            Err(e) => {
                assert!(
                    e.contains("no NodeFeatureRule can answer as validate-node does"),
                    "{}: {e}",
                    v.id
                );
                "refused".to_string()
            }
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    assert_eq!(
        outcomes,
        BTreeMap::from([
            ("agree".into(), 86),
            ("agree on error".into(), 24),
            ("refused".into(), 6)
        ])
    );
}

#[derive(serde::Deserialize)]
struct Expected {
    labels: BTreeMap<String, String>,
    errors: Vec<String>,
}

#[test]
fn nfd_samples_give_the_hand_checked_labels() {
    let expected: BTreeMap<String, BTreeMap<String, Expected>> = serde_json::from_str(
        &std::fs::read_to_string(data("nodefeaturerules/expected-labels.json")).unwrap(),
    )
    .unwrap();
    for (file, nodes) in &expected {
        let rules = data(&format!("nodefeaturerules/{file}"));
        for (node, want) in nodes {
            let (code, result) = labels(&[&rules], &sample(node), &[]);
            assert_eq!(label_map(&result), want.labels, "{file} on {node}");
            let errors: Vec<&str> = result["rules"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["status"] == "error")
                .map(|r| r["rule"].as_str().unwrap())
                .collect();
            assert_eq!(errors, want.errors, "{file} on {node}");
            assert_eq!(code, i32::from(!want.errors.is_empty()), "{file} on {node}");
        }
    }
}

#[test]
fn the_table_shows_labels_rules_and_what_nfd_master_logs() {
    let (code, out, _) = run(&[
        "labels",
        &data("nodefeaturerules/nodefeaturerule-kernel.yaml"),
        &data("nodefeaturerules/nodefeaturerule-cpu.yaml"),
        "-s",
        &sample("intel-spr-h100-cx6"),
    ]);
    assert_eq!(
        code, 1,
        "the cpu sample's cstate/pstate rule fails on this node"
    );
    golden("labels/kernel-and-cpu-on-intel.txt", &out);
}

const GPU_RULE: &str = "apiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeatureRule\nmetadata:\n  name: gpu\nspec:\n  rules:\n  - name: gpu\n    labels:\n      gpu: \"true\"\n      example.com/vendor: \"@cpu.model.vendor_id\"\n      kubernetes.io/gpu: \"true\"\n    taints:\n    - {key: example.com/gpu, value: \"true\", effect: NoSchedule}\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        vendor: {op: In, value: [\"10de\"]}\n";

#[test]
fn nfd_master_settings_decide_what_reaches_the_node() {
    let dir = TempDir::new("cli-labels-settings");
    let rule = dir.path().join("gpu.yaml");
    std::fs::write(&rule, GPU_RULE).unwrap();
    let rule = rule.to_str().unwrap();
    let node = sample("intel-spr-h100-cx6");
    let (code, result) = labels(&[rule], &node, &[]);
    assert_eq!(code, 1, "kubernetes.io/gpu is dropped and logged");
    assert_eq!(
        label_map(&result),
        BTreeMap::from([
            ("example.com/vendor".into(), "Intel".into()),
            ("feature.node.kubernetes.io/gpu".into(), "true".into()),
        ])
    );
    assert_eq!(
        result["rejected"][0]["reason"],
        "namespace \"kubernetes.io\" is not allowed"
    );
    assert!(result["taints"].as_array().unwrap().is_empty());
    assert_eq!(result["taintsNotEnabled"][0]["key"], "example.com/gpu");

    let (_, result) = labels(
        &[rule],
        &node,
        &[
            "--enable-taints",
            "--deny-label-ns",
            "example.com",
            "--extra-label-ns",
            "kubernetes.io",
        ],
    );
    assert_eq!(result["taints"][0]["effect"], "NoSchedule");
    assert_eq!(
        label_map(&result),
        BTreeMap::from([
            ("feature.node.kubernetes.io/gpu".into(), "true".into()),
            ("kubernetes.io/gpu".into(), "true".into()),
        ])
    );
    let (_, result) = labels(&[rule], &node, &["--label-whitelist", "^gpu$"]);
    assert_eq!(
        label_map(&result).into_keys().collect::<Vec<_>>(),
        ["feature.node.kubernetes.io/gpu"]
    );
    let (code, _, err) = run(&["labels", rule, "-s", &node, "--label-whitelist", "(x"]);
    assert_eq!(code, 2);
    assert!(err.contains("--label-whitelist"), "{err}");
}

#[test]
fn a_denied_namespace_stops_the_schedule_labels() {
    let dir = TempDir::new("cli-schedule-denied");
    let (_, out, _) = run(&[
        "schedule",
        &data("examples/preferred-fallback.yaml"),
        "--name",
        "app",
    ]);
    let rule = dir.path().join("rule.yaml");
    std::fs::write(&rule, out).unwrap();
    let node = sample("intel-spr-h100-cx6");
    let (code, result) = labels(&[rule.to_str().unwrap()], &node, &[]);
    assert_eq!(code, 0);
    // The node has vfio_pci, not vfio-pci: only the fallback set matches.
    assert_eq!(
        label_map(&result).into_keys().collect::<Vec<_>>(),
        ["compat.nodefit.io/app.fallback"]
    );
    for flags in [
        vec!["--deny-label-ns", "compat.nodefit.io"],
        vec!["--deny-label-ns", "*.nodefit.io"],
        vec!["--label-whitelist", "^feature"],
    ] {
        let (code, result) = labels(&[rule.to_str().unwrap()], &node, &flags);
        assert_eq!(code, 1, "{flags:?}");
        assert!(label_map(&result).is_empty(), "{flags:?}");
        assert_eq!(
            result["rejected"][0]["key"], "compat.nodefit.io/app.fallback",
            "{flags:?}"
        );
    }
}

#[test]
fn what_the_api_server_refuses_is_refused_with_its_place() {
    let dir = TempDir::new("cli-labels-refused");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        GPU_RULE.replace("gpu: \"true\"\n      example", "gpu: true\n      example"),
    )
    .unwrap();
    let (code, _, err) = run(&[
        "labels",
        bad.to_str().unwrap(),
        "-s",
        &sample("intel-spr-h100-cx6"),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.yaml:9:12: spec.rules[0].labels.gpu: must be a string"),
        "{err}"
    );
    let dup = dir.path().join("dup.yaml");
    std::fs::write(&dup, GPU_RULE).unwrap();
    let ok = dir.path().join("ok.yaml");
    std::fs::write(&ok, GPU_RULE).unwrap();
    let (code, _, err) = run(&[
        "labels",
        ok.to_str().unwrap(),
        dup.to_str().unwrap(),
        "-s",
        &sample("intel-spr-h100-cx6"),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("two NodeFeatureRules are named \"gpu\""),
        "{err}"
    );
    // `nodefit lint` knows a NodeFeatureRule file from a spec.
    let (code, out, _) = run(&["lint", bad.to_str().unwrap(), "-f", "json"]);
    assert_eq!(code, 1);
    let diagnostics: Value = serde_json::from_str(&out).unwrap();
    let codes: Vec<&str> = diagnostics["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["api-refuses", "denied-namespace"], "{out}");
}

#[test]
fn schedule_writes_a_traceable_rule_and_refuses_what_it_cannot_reproduce() {
    let spec = data("examples/preferred-fallback.yaml");
    let (code, out, err) = run(&[
        "schedule",
        &spec,
        "--artifact-digest",
        "sha256:0123",
        "--image",
        "lab/app@sha256:4567",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let annotations = &v["nodeFeatureRule"]["metadata"]["annotations"];
    assert_eq!(
        annotations["compat.nodefit.io/artifact-digest"],
        "sha256:0123"
    );
    assert_eq!(
        annotations["compat.nodefit.io/image"],
        "lab/app@sha256:4567"
    );
    let digest = format!("sha256:{}", sha256_hex(&std::fs::read(&spec).unwrap()));
    assert_eq!(
        annotations["compat.nodefit.io/spec-digest"],
        digest.as_str()
    );
    // The name comes from the file name when not given.
    assert_eq!(
        v["nodeFeatureRule"]["metadata"]["name"],
        "nodefit-preferred-fallback"
    );
    assert_eq!(
        v["sets"][0]["label"],
        "compat.nodefit.io/preferred-fallback.preferred"
    );
    assert_eq!(
        v["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
            ["weight"],
        10
    );

    let (code, out, err) = run(&["schedule", &spec, "--name", "app", "--affinity"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("affinity:\n  nodeAffinity:\n"), "{out}");

    let dir = TempDir::new("cli-schedule-refused");
    let refused = dir.path().join("empty-op.yaml");
    std::fs::write(&refused, "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {}\n").unwrap();
    let (code, _, err) = run(&["schedule", refused.to_str().unwrap(), "--name", "x"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("empty-op.yaml:8:20: op \"\": the NodeFeatureRule CRD does not accept it"),
        "{err}"
    );
    // A spec with lint errors still gets its rule: it answers as validate-node does anyway.
    let typo = dir.path().join("typo.yaml");
    std::fs::write(&typo, "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: cpu.modle\n").unwrap();
    let (code, out, err) = run(&["schedule", typo.to_str().unwrap(), "--name", "x"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("feature: \"cpu.modle\""), "{out}");
    assert!(err.contains("has 1 lint error"), "{err}");
    let (code, _, err) = run(&["schedule", &spec, "--name", "Not_Valid"]);
    assert_eq!(code, 2);
    assert!(err.contains("the name \"Not_Valid\""), "{err}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
