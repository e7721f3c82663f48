//! NFD's conformance vectors through `nodefit test` as a process, the way a user (or a held-out
//! set of vectors) meets them: each vector's features written as an `nfd export features` file,
//! its rule as the only rule of a spec, and the exit code read as the answer (0 matched, 1 not
//! matched, 2 NFD's error). The core's own test (shared/core/tests/conformance.rs) checks the same
//! answers through the library; this one adds the file reading and the CLI in between.

mod common;

use std::fs;
use std::path::Path;

use common::{nodefit, repo};
use serde_json::{json, Value};

#[test]
fn every_conformance_vector_gives_nfds_answer_through_the_cli() {
    let vectors: Vec<Value> = serde_json::from_str(
        &fs::read_to_string(repo().join("shared/core/tests/data/conformance-vectors.json"))
            .unwrap(),
    )
    .unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-conformance");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for v in &vectors {
        let id = v["id"].as_str().unwrap();
        let spec = dir.join(format!("{id}.spec.json"));
        let snapshot = dir.join(format!("{id}.features.json"));
        let rule = &v["rule"];
        fs::write(
            &spec,
            json!({"version": "v1alpha1", "compatibilities": [{"rules": [rule]}]}).to_string(),
        )
        .unwrap();
        fs::write(&snapshot, v["features"].to_string()).unwrap();
        let out = nodefit(&[
            "test",
            spec.to_str().unwrap(),
            "--snapshot",
            snapshot.to_str().unwrap(),
            "--output",
            "json",
        ]);
        let want = match (
            v["expect"]["error"].as_bool(),
            v["expect"]["isMatch"].as_bool(),
        ) {
            (Some(true), _) => 2,
            (_, Some(true)) => 0,
            _ => 1,
        };
        let got = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // An error must be NFD's evaluation error, not a file nodefit could not read.
        let readable =
            !stderr.contains("not a node feature snapshot") && !stderr.contains("cannot read");
        if got != Some(want) || !readable {
            failures.push(format!(
                "{id} ({}): exit {got:?}, want {want}: {stderr}",
                v["description"].as_str().unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}
