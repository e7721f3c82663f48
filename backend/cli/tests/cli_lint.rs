//! `nodefit lint` as a user runs it: golden human output, JSON, SARIF checked against the SARIF
//! 2.1.0 schema, and exit codes.

mod common;

use common::{data, golden, nodefit, stdout};
use serde_json::Value;

fn broken() -> String {
    format!("{}/tests/data/broken-spec.yaml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn human_output_looks_like_rustc() {
    let out = nodefit(&["lint", &broken()]);
    assert_eq!(out.status.code(), Some(1));
    golden("lint/broken-spec.txt", &stdout(&out));
}

#[test]
fn human_output_with_snapshots() {
    let out = nodefit(&[
        "lint",
        &data("examples/image-compatibility.yaml"),
        "--snapshot",
        &data("samples/intel-spr-h100-cx6.features.json"),
        "--snapshot",
        &data("samples/arm64-graviton3-al2023.features.json"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the NFD example has warnings, no errors"
    );
    golden("lint/image-compatibility-with-snapshots.txt", &stdout(&out));
}

#[test]
fn json_lists_every_diagnostic_with_its_place() {
    let out = nodefit(&["lint", &broken(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let diags = v["diagnostics"].as_array().unwrap();
    let find = |code: &str| {
        diags
            .iter()
            .find(|d| d["code"] == code)
            .unwrap_or_else(|| panic!("no {code}"))
    };
    let op = find("unknown-op");
    assert_eq!(
        (
            op["line"].as_u64(),
            op["column"].as_u64(),
            op["endColumn"].as_u64()
        ),
        (Some(10), Some(24), Some(30))
    );
    assert_eq!(op["severity"], "error");
    assert_eq!(op["fix"]["replacement"], "Exists");
    assert!(op["file"].as_str().unwrap().ends_with("broken-spec.yaml"));
    let coercion = find("yaml11-coercion");
    assert_eq!(
        (coercion["line"].as_u64(), coercion["severity"].as_str()),
        (Some(16), Some("warning"))
    );
    for d in diags {
        for key in [
            "file",
            "code",
            "severity",
            "message",
            "line",
            "column",
            "endLine",
            "endColumn",
        ] {
            assert!(d.get(key).is_some(), "{key} missing in {d}");
        }
    }
}

#[test]
fn sarif_is_valid_sarif_2_1_0() {
    let out = nodefit(&["lint", &broken(), "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1));
    let sarif: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let schema: Value = serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "unknown-key"
        && r["locations"][0]["physicalLocation"]["region"]["startLine"] == 12));
}

#[test]
fn exit_codes() {
    assert_eq!(
        nodefit(&["lint", &data("examples/preferred-fallback.yaml")])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(nodefit(&["lint", &broken()]).status.code(), Some(1));
    assert_eq!(
        nodefit(&["lint", "/nonexistent.yaml"]).status.code(),
        Some(2)
    );
}
