//! `nodefit test` as a user runs it: the NFD example specs against the sample snapshots, exit
//! codes, JSON shape, and errors that name the place.

mod common;

use common::{data, golden, nodefit, stderr, stdout};
use serde_json::Value;

const SAMPLES: [&str; 4] = [
    "samples/intel-spr-h100-cx6.features.json",
    "samples/amd-genoa-mi210-rhel9.features.json",
    "samples/arm64-graviton3-al2023.features.json",
    "samples/nodefeature-gpu-node-01.yaml",
];

/// The right verdict for each example on each sample (see the comments for why).
const VERDICTS: [(&str, [bool; 4]); 2] = [
    // Needs `vfio-pci` (never in /proc/modules, which says vfio_pci) and a NIC from vendors
    // 0eee/0fff that do not exist: no node qualifies.
    (
        "examples/image-compatibility.yaml",
        [false, false, false, false],
    ),
    // The fallback set (Intel or AMD CPU) holds on the x86 nodes, not on Graviton (vendor ARM).
    (
        "examples/preferred-fallback.yaml",
        [true, true, false, true],
    ),
];

fn stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap();
    file.split('.').next().unwrap()
}

#[test]
fn examples_against_samples_give_the_right_verdicts_as_tables_and_json() {
    for (example, verdicts) in VERDICTS {
        for (sample, compatible) in SAMPLES.iter().zip(verdicts) {
            let name = format!("test/{}__{}", stem(example), stem(sample));
            let table = nodefit(&["test", &data(example), "--snapshot", &data(sample)]);
            assert_eq!(
                table.status.code(),
                Some(if compatible { 0 } else { 1 }),
                "{name}: {}",
                stderr(&table)
            );
            golden(&format!("{name}.txt"), &stdout(&table));

            let json = nodefit(&[
                "test",
                &data(example),
                "--snapshot",
                &data(sample),
                "--output",
                "json",
            ]);
            assert_eq!(json.status.code(), table.status.code());
            golden(&format!("{name}.json"), &stdout(&json));
            let report: Value = serde_json::from_str(&stdout(&json)).unwrap();
            let sets = report
                .as_array()
                .expect("NFD's report is an array of compatibility sets");
            let any_set_matched = sets.iter().any(|s| {
                s["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["isMatch"] == true)
            });
            assert_eq!(any_set_matched, compatible, "{name}");
        }
    }
}

#[test]
fn reports_keep_nfds_field_names_and_order() {
    let out = nodefit(&[
        "test",
        &data("examples/preferred-fallback.yaml"),
        "-s",
        &data(SAMPLES[0]),
        "-o",
        "json",
    ]);
    let text = stdout(&out);
    assert!(text.starts_with(r#"[{"rules":[{"name":"kernel and cpu","isMatch":false,"matchedExpressions":[{"feature":"cpu.model","name":"vendor_id","expression":{"op":"In","value":["Intel","AMD"]},"matcherType":"matchExpression","isMatch":true"#), "{text}");
    assert!(text
        .contains(r#""description":"Preferred node configuration","weight":10,"tag":"preferred""#));
}

#[test]
fn tags_select_sets_like_nfd() {
    let out = nodefit(&[
        "test",
        &data("examples/preferred-fallback.yaml"),
        "-s",
        &data(SAMPLES[0]),
        "--tags",
        "preferred",
        "-o",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "only the preferred set, which needs vfio-pci"
    );
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report.as_array().unwrap().len(), 1);
    let none = nodefit(&[
        "test",
        &data("examples/preferred-fallback.yaml"),
        "-s",
        &data(SAMPLES[0]),
        "--tags",
        "other",
        "-o",
        "json",
    ]);
    assert_eq!(stdout(&none).trim(), "[]");
    assert_eq!(none.status.code(), Some(1));
}

#[test]
fn a_node_feature_list_gives_one_report_per_node() {
    let dir = tempdir();
    let list = dir.join("list.json");
    let items: Vec<Value> = SAMPLES[..3]
        .iter()
        .map(|s| {
            let features: Value = serde_json::from_str(&std::fs::read_to_string(data(s)).unwrap()).unwrap();
            serde_json::json!({"kind": "NodeFeature", "metadata": {"name": stem(s)}, "spec": {"features": features}})
        })
        .collect();
    std::fs::write(&list, serde_json::json!({"apiVersion": "nfd.k8s-sigs.io/v1alpha1", "kind": "NodeFeatureList", "items": items}).to_string()).unwrap();
    let out = nodefit(&[
        "test",
        &data("examples/preferred-fallback.yaml"),
        "-s",
        list.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "graviton is not compatible");
    let reports: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let summary: Vec<(String, bool, Value)> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["node"].as_str().unwrap().to_string(),
                r["compatible"].as_bool().unwrap(),
                r["bestSet"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("intel-spr-h100-cx6".to_string(), true, Value::from(1)),
            ("amd-genoa-mi210-rhel9".to_string(), true, Value::from(1)),
            ("arm64-graviton3-al2023".to_string(), false, Value::Null),
        ]
    );
    let table = nodefit(&[
        "test",
        &data("examples/preferred-fallback.yaml"),
        "-s",
        list.to_str().unwrap(),
    ]);
    assert_eq!(stdout(&table).matches("NODE: ").count(), 3);
}

#[test]
fn bad_input_is_exit_2_with_file_line_and_field() {
    let dir = tempdir();
    let spec = dir.join("spec.yaml");
    std::fs::write(&spec, "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: Intel}\n").unwrap();
    let out = nodefit(&["test", spec.to_str().unwrap(), "-s", &data(SAMPLES[0])]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("spec.yaml:8:36"), "{err}");
    assert!(
        err.contains(
            "compatibilities[0].rules[0].matchFeatures[0].matchExpressions.vendor_id.value"
        ),
        "{err}"
    );

    let missing = nodefit(&["test", "/nonexistent/spec.yaml", "-s", &data(SAMPLES[0])]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("/nonexistent/spec.yaml"));

    let snapshot = dir.join("node.json");
    std::fs::write(
        &snapshot,
        "{\"attributes\": {\"cpu.model\": {\"elements\": {\"family\": 6}}}}",
    )
    .unwrap();
    let bad_snapshot = nodefit(&[
        "test",
        &data("examples/preferred-fallback.yaml"),
        "-s",
        snapshot.to_str().unwrap(),
    ]);
    assert_eq!(bad_snapshot.status.code(), Some(2));
    assert!(
        stderr(&bad_snapshot).contains("node.json:1:"),
        "{}",
        stderr(&bad_snapshot)
    );
}

#[test]
fn an_evaluation_error_is_exit_2_naming_the_expression() {
    let dir = tempdir();
    let spec = dir.join("spec.yaml");
    std::fs::write(&spec, "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: gpu\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        vendor: {op: Gt, value: [\"10de\"]}\n").unwrap();
    let out = nodefit(&["test", spec.to_str().unwrap(), "-s", &data(SAMPLES[0])]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("spec.yaml:8:17"), "{err}");
    assert!(err.contains("not a number"), "{err}");
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "nodefit-cli-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
