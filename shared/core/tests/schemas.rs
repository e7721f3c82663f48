//! The published JSON Schemas (schema/) accept every sample and example, and reject what they
//! should.

use nodefit_core::yaml;
use serde_json::{json, Value};

fn schema(name: &str) -> jsonschema::Validator {
    let path = format!("{}/../../schema/{name}", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::draft202012::new(&schema).expect("a valid draft 2020-12 schema")
}

fn from_yaml(src: &str) -> Value {
    yaml::to_json(&yaml::parse(src).unwrap().unwrap())
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_spec_schema_accepts_nfds_examples_and_refuses_mistakes() {
    let v = schema("compatibility-spec.schema.json");
    for src in [
        include_str!("data/examples/image-compatibility.yaml"),
        include_str!("data/examples/preferred-fallback.yaml"),
    ] {
        let e = errors(&v, &from_yaml(src));
        assert!(e.is_empty(), "{e:?}");
    }
    let bad = [
        json!({"version": "v1alpha1"}),
        json!({"version": "v2", "compatibilities": [{"rules": [{"matchFeatures": []}]}]}),
        json!({"version": "v1alpha1", "compatibilities": [{"rules": [{"name": "r"}]}]}),
        json!({"version": "v1alpha1", "compatibilities": [{"rules": [{"matchFeatures": [{"feature": "cpu.model", "matchExpression": {}}]}]}]}),
        json!({"version": "v1alpha1", "compatibilities": [{"rules": [{"matchFeatures": [{"feature": "cpu.model", "matchExpressions": {"vendor_id": {"op": "In", "value": "Intel"}}}]}]}]}),
        json!({"version": "v1alpha1", "compatibilities": [{"rules": [{"matchFeatures": [{"feature": "cpu.model", "matchExpressions": {"vendor_id": {"op": "in", "value": ["Intel"]}}}]}]}]}),
        json!({"version": "v1alpha1", "compatibilities": [{"rules": [{"matchFeatures": [{"feature": "cpu.model", "matchExpressions": {"family": {"op": "Gt", "value": ["1", "2"]}}}]}]}]}),
        json!({"version": "v1alpha1", "compatibilities": [{"rules": [{"matchFeatures": [{"feature": "kernel.loadedmodule", "matchExpressions": {"vfio_pci": {"op": "Exists", "value": ["x"]}}}]}]}]}),
        json!({"version": "v1alpha1", "compatibilities": [{"weight": 500, "rules": [{"matchFeatures": [{"feature": "cpu.model"}]}]}]}),
        json!({"version": "v1alpha1", "compatibilities": [{"rules": [{"matchFeatures": [{"feature": "cpumodel"}]}]}]}),
    ];
    for instance in bad {
        assert!(!v.is_valid(&instance), "accepted {instance}");
    }
}

#[test]
fn the_snapshot_schema_accepts_every_sample_shape() {
    let v = schema("snapshot.schema.json");
    for src in [
        include_str!("data/samples/intel-spr-h100-cx6.features.json"),
        include_str!("data/samples/amd-genoa-mi210-rhel9.features.json"),
        include_str!("data/samples/arm64-graviton3-al2023.features.json"),
    ] {
        let instance: Value = serde_json::from_str(src).unwrap();
        let e = errors(&v, &instance);
        assert!(e.is_empty(), "{e:?}");
    }
    let cr = from_yaml(include_str!("data/samples/nodefeature-gpu-node-01.yaml"));
    assert!(errors(&v, &cr).is_empty(), "{:?}", errors(&v, &cr));
    let list =
        json!({"apiVersion": "nfd.k8s-sigs.io/v1alpha1", "kind": "NodeFeatureList", "items": [cr]});
    assert!(v.is_valid(&list));
    for bad in [
        json!({}),
        json!({"attributes": {"cpu.model": {"elements": {"family": 6}}}}),
        json!({"flags": {"kernel.loadedmodule": {"elements": ["vfio_pci"]}}}),
        json!({"kind": "NodeFeatureList", "items": [{"kind": "Pod", "spec": {}}]}),
    ] {
        assert!(!v.is_valid(&bad), "accepted {bad}");
    }
}
