//! NFD's GroupRule semantics, as conformance vectors: features + rule -> isMatch or error,
//! for `ExecuteGroupRule(rule, features, failFast=false)` (what `validate-node` runs).

use nodefit_core::eval::{evaluate, Options};
use nodefit_core::features::Features;
use nodefit_core::{decode, yaml};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    id: String,
    description: String,
    features: serde_json::Value,
    rule: serde_json::Value,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    #[serde(rename = "isMatch")]
    is_match: Option<bool>,
    error: Option<bool>,
}

fn run(v: &Vector) -> Result<bool, String> {
    let features: Features =
        serde_json::from_value(v.features.clone()).map_err(|e| e.to_string())?;
    let spec_json =
        serde_json::json!({"version": "v1alpha1", "compatibilities": [{"rules": [v.rule]}]});
    let root = yaml::parse(&spec_json.to_string()).map_err(|e| e.to_string())?;
    let (spec, errors) = decode::decode_spec(root.as_ref());
    assert!(errors.is_empty(), "{}: decode errors {errors:?}", v.id);
    let evaluation = evaluate(&spec, &features, &Options::default()).map_err(|e| e.message)?;
    Ok(evaluation.sets[0].rules[0].is_match)
}

#[test]
fn every_conformance_vector_gives_nfds_answer() {
    let vectors: Vec<Vector> =
        serde_json::from_str(include_str!("data/conformance-vectors.json")).unwrap();
    assert!(vectors.len() >= 100);
    let mut failures = Vec::new();
    for v in &vectors {
        let got = run(v);
        let ok = match (&got, v.expect.error, v.expect.is_match) {
            (Err(_), Some(true), _) => true,
            (Ok(m), None | Some(false), Some(want)) => *m == want,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{} ({}): got {:?}, want {:?}/{:?}",
                v.id, v.description, got, v.expect.is_match, v.expect.error
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ from NFD:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}
