//! The server's NodeFeatureRule files and "labels NFD would apply" over real HTTP against
//! `nodefit serve` (SQLite and PostgreSQL): storage, roles, lint, the labels of NFD's samples on
//! the stored sample snapshots (the hand-checked ones, as `nodefit labels` gives them), and a
//! publication's NodeFeatureRule and affinity, traced to the artifact in a real registry.

mod server_support;

use std::collections::BTreeMap;

use nodefit_e2e::testbed::{self, Registry, TempDir};
use serde_json::{json, Value};
use server_support::*;

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { let (store, _dir) = super::sqlite(); super::$name(&store) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(&super::postgres_db()) })*
        }
    };
}

on_both_databases!(
    rule_files_are_stored_and_guarded_by_roles,
    labels_of_nfds_samples_on_the_stored_sample_snapshots,
    labels_requests_refuse_bad_input,
);

const NODES: [&str; 3] = [
    "intel-spr-h100-cx6",
    "amd-genoa-mi210-rhel9",
    "arm64-graviton3-al2023",
];

fn create(server: &Server, token: &str, name: &str, content: &str) -> server_support::Response {
    server.json(
        "POST",
        "/api/v1/nodefeaturerules",
        token,
        &json!({"name": name, "content": content}),
    )
}

fn rule_file(name: &str) -> String {
    read_data(&format!("nodefeaturerules/{name}"))
}

fn rule_files_are_stored_and_guarded_by_roles(store: &Store) {
    let server = Server::start(store);
    let viewer = server.token("viewer");
    let author = server.token("author");
    let kernel = rule_file("nodefeaturerule-kernel.yaml");
    create(&server, &viewer, "kernel", &kernel).expect_error(403, "forbidden");
    let created = create(&server, &author, "kernel", &kernel);
    created.expect(201);
    let id = created.json()["id"].as_i64().unwrap();
    assert_eq!(created.json()["createdBy"], "author-user");
    assert!(created.json()["contentHash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    create(&server, &author, "kernel", &kernel).expect_error(409, "conflict");
    create(
        &server,
        &author,
        "cpu",
        &rule_file("nodefeaturerule-cpu.yaml"),
    )
    .expect(201);

    let listed = server.get("/api/v1/nodefeaturerules?q=KER", &viewer);
    listed.expect(200);
    assert_eq!(listed.json()["total"], 1);
    assert!(
        listed.json()["items"][0].get("content").is_none(),
        "lists leave out content"
    );
    server
        .get("/api/v1/nodefeaturerules?name=x", &viewer)
        .expect_error(400, "bad_request");
    let one = server.get(&format!("/api/v1/nodefeaturerules/{id}"), &viewer);
    one.expect(200);
    assert_eq!(one.json()["content"], kernel.as_str());

    let edited = kernel.replace("nfd-builtin-kernel-features", "kernel-v2");
    server
        .json(
            "PUT",
            &format!("/api/v1/nodefeaturerules/{id}"),
            &viewer,
            &json!({"content": edited}),
        )
        .expect_error(403, "forbidden");
    let saved = server.json(
        "PUT",
        &format!("/api/v1/nodefeaturerules/{id}"),
        &author,
        &json!({"content": edited, "name": "kernel-renamed"}),
    );
    saved.expect(200);
    assert_eq!(saved.json()["name"], "kernel-renamed");
    server
        .json(
            "PUT",
            &format!("/api/v1/nodefeaturerules/{id}"),
            &author,
            &json!({"content": edited, "name": "cpu"}),
        )
        .expect_error(409, "conflict");

    let lint = server.json(
        "POST",
        &format!("/api/v1/nodefeaturerules/{id}/lint"),
        &viewer,
        &json!({}),
    );
    lint.expect(200);
    assert_eq!(lint.json()["diagnostics"], json!([]));
    let cpu_id = server.get("/api/v1/nodefeaturerules?q=cpu", &viewer).json()["items"][0]["id"]
        .as_i64()
        .unwrap();
    let cpu_lint = server
        .json(
            "POST",
            &format!("/api/v1/nodefeaturerules/{cpu_id}/lint"),
            &viewer,
            &json!({}),
        )
        .json();
    let codes: Vec<&str> = cpu_lint["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes, ["template-missing-feature"; 3],
        "as `nodefit lint` finds"
    );
    assert_eq!(cpu_lint["diagnostics"][0]["file"], "cpu");
    assert_eq!(cpu_lint["diagnostics"][0]["line"], 69);

    server
        .delete(&format!("/api/v1/nodefeaturerules/{id}"), &viewer)
        .expect_error(403, "forbidden");
    server
        .delete(&format!("/api/v1/nodefeaturerules/{id}"), &author)
        .expect(204);
    server
        .get(&format!("/api/v1/nodefeaturerules/{id}"), &viewer)
        .expect_error(404, "not_found");
    server
        .request("GET", "/api/v1/nodefeaturerules", None, None)
        .expect_error(401, "unauthorized");

    let openapi = server
        .request("GET", "/api/v1/openapi.json", None, None)
        .json();
    for path in [
        "/api/v1/nodefeaturerules",
        "/api/v1/nodefeaturerules/{id}",
        "/api/v1/nodefeaturerules/{id}/lint",
        "/api/v1/nodefeaturerules/{id}/labels",
        "/api/v1/publications/{id}/schedule",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path} is documented");
    }
    for schema in ["LabelsMatrix", "LabelsRequest", "Schedule", "RuleFile"] {
        assert!(
            openapi["components"]["schemas"].get(schema).is_some(),
            "{schema}"
        );
    }
}

/// Uploads the three sample nodes; their ids by node.
fn upload_samples(server: &Server) -> BTreeMap<String, i64> {
    NODES
        .iter()
        .map(|n| {
            let r = server.upload(
                &format!("?node={n}&label=pool={}", &n[..3]),
                ADMIN,
                "application/json",
                read_data(&format!("samples/{n}.features.json")).as_bytes(),
            );
            r.expect(201);
            (
                n.to_string(),
                r.json()["snapshots"][0]["id"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn labels_of(item: &Value) -> BTreeMap<String, String> {
    item["applied"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["key"].as_str().unwrap().into(),
                l["value"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn labels_of_nfds_samples_on_the_stored_sample_snapshots(store: &Store) {
    let server = Server::start(store);
    let viewer = server.token("viewer");
    let ids = upload_samples(&server);
    let expected: Value =
        serde_json::from_str(&read_data("nodefeaturerules/expected-labels.json")).unwrap();
    for sample in [
        "nodefeaturerule-cpu.yaml",
        "nodefeaturerule-kernel.yaml",
        "nodefeaturerule-pci.yaml",
    ] {
        let created = create(&server, ADMIN, sample, &rule_file(sample));
        created.expect(201);
        let id = created.json()["id"].as_i64().unwrap();
        let matrix = server.json(
            "POST",
            &format!("/api/v1/nodefeaturerules/{id}/labels"),
            &viewer,
            &json!({}),
        );
        matrix.expect(200);
        let m = matrix.json();
        assert_eq!(m["total"], 3);
        assert_eq!(m["failed"], 0);
        let erring = if sample == "nodefeaturerule-cpu.yaml" {
            1
        } else {
            0
        };
        assert_eq!(m["withErrors"], erring, "{sample}");
        let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
        for item in m["items"].as_array().unwrap() {
            let node = item["nodeName"].as_str().unwrap();
            assert_eq!(item["snapshotId"], ids[node]);
            let want: BTreeMap<String, String> =
                serde_json::from_value(expected[sample][node]["labels"].clone()).unwrap();
            assert_eq!(labels_of(item), want, "{sample} on {node}");
            assert!(
                item["applied"]["rules"][0].get("why").is_none(),
                "no explanations for many nodes"
            );
            for (k, v) in want {
                *counts.entry((k, v)).or_default() += 1;
            }
        }
        let summary: BTreeMap<(String, String), i64> = m["summary"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    (
                        c["key"].as_str().unwrap().into(),
                        c["value"].as_str().unwrap().into(),
                    ),
                    c["nodes"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(summary, counts, "{sample}");
    }
    // One snapshot: every rule says why it did not match; nfd-master's settings apply.
    let kernel = server
        .get("/api/v1/nodefeaturerules?q=kernel", ADMIN)
        .json()["items"][0]["id"]
        .as_i64()
        .unwrap();
    let one = server.json(
        "POST",
        &format!("/api/v1/nodefeaturerules/{kernel}/labels"),
        &viewer,
        &json!({"snapshotIds": [ids["intel-spr-h100-cx6"]], "settings": {"labelWhitelist": "^kernel-version"}}),
    );
    one.expect(200);
    let item = &one.json()["items"][0];
    let rules = item["applied"]["rules"].as_array().unwrap();
    let config = rules
        .iter()
        .find(|r| r["rule"] == "nfd built-in kernel-config labels")
        .unwrap();
    assert_eq!(config["status"], "notMatched");
    assert_eq!(
        config["why"][0],
        "matchFeatures[0] kernel.config: \"PREEMPT\" {op: \"In\", value: [\"y\"]} does not hold (the node does not have it)"
    );
    assert_eq!(
        labels_of(item).len(),
        4,
        "only kernel-version.* pass the whitelist"
    );
    assert_eq!(item["applied"]["rejected"][0]["kind"], "label");
    assert_eq!(
        item["applied"]["rejected"][0]["reason"],
        "kernel-kvm.enabled (feature.node.kubernetes.io/kernel-kvm.enabled) does not match the whitelist (^kernel-version)"
    );
    // A selection by the snapshots' labels, paged.
    let paged = server.json(
        "POST",
        &format!("/api/v1/nodefeaturerules/{kernel}/labels"),
        &viewer,
        &json!({"labels": {"pool": "amd"}, "limit": 1}),
    );
    assert_eq!(paged.json()["total"], 1);
    assert_eq!(
        paged.json()["items"][0]["nodeName"],
        "amd-genoa-mi210-rhel9"
    );
}

fn labels_requests_refuse_bad_input(store: &Store) {
    let server = Server::start(store);
    let broken = "apiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeatureRule\nmetadata:\n  name: x\nspec:\n  rules:\n  - name: r\n    labels: {a: true}\n";
    let id = create(&server, ADMIN, "broken", broken).json()["id"]
        .as_i64()
        .unwrap();
    let upload = server.upload("", ADMIN, "application/json", &unique_snapshot("a"));
    upload.expect(201);
    let path = format!("/api/v1/nodefeaturerules/{id}/labels");
    let refused = server.json("POST", &path, ADMIN, &json!({}));
    let e = refused.expect_error(422, "invalid_rule_file");
    assert_eq!(e["details"]["errors"][0]["line"], 8);
    assert_eq!(e["details"]["errors"][0]["path"], "spec.rules[0].labels.a");
    let ok = create(
        &server,
        ADMIN,
        "ok",
        &rule_file("nodefeaturerule-storage.yaml"),
    )
    .json()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/nodefeaturerules/{ok}/labels");
    for (body, code) in [
        (
            json!({"settings": {"labelWhitelist": "(unclosed"}}),
            "bad_request",
        ),
        (
            json!({"settings": {"denyLabelNs": vec!["x"; 101]}}),
            "bad_request",
        ),
        (json!({"settings": {"unknown": true}}), "bad_request"),
        (json!({"snapshotIds": [999999]}), "not_found"),
        (json!({"limit": 0}), "bad_request"),
    ] {
        let status = if code == "not_found" { 404 } else { 400 };
        server
            .json("POST", &path, ADMIN, &body)
            .expect_error(status, code);
    }
    server
        .json(
            "POST",
            "/api/v1/nodefeaturerules/424242/labels",
            ADMIN,
            &json!({}),
        )
        .expect_error(404, "not_found");
    let huge = "#".repeat(1024 * 1024 + 1);
    create(&server, ADMIN, "huge", &huge).expect_error(413, "payload_too_large");
    create(&server, ADMIN, "bad\u{202e}name", broken).expect_error(400, "bad_request");
}

/// Publish a spec to a real registry, then ask for the publication's NodeFeatureRule: its
/// annotations name the artifact the registry holds for the image.
#[test]
fn a_publications_rule_and_affinity_trace_back_to_its_artifact() {
    let registry = Registry::referrers();
    testbed::seed_image(&registry, "demo/app:v1");
    let dir = TempDir::new("schedule-config");
    let config = dir.path().join("nodefit.toml");
    std::fs::write(
        &config,
        format!(
            "[registries.oci]\nhost = {:?}\nplain_http = true\n",
            registry.host()
        ),
    )
    .unwrap();
    let (store, _data) = sqlite();
    let server = Server::start_with(
        &store,
        Options {
            args: vec!["--config", config.to_str().unwrap()],
            ..Options::default()
        },
    );
    let spec_src = read_data("examples/preferred-fallback.yaml");
    let spec = server.json(
        "POST",
        "/api/v1/specs",
        ADMIN,
        &json!({"name": "My GPU App", "content": spec_src}),
    );
    spec.expect(201);
    let spec_id = spec.json()["id"].as_i64().unwrap();
    let published = server.json(
        "POST",
        "/api/v1/publish",
        ADMIN,
        &json!({"specId": spec_id, "registry": "oci", "image": "demo/app:v1"}),
    );
    published.expect(201);
    let publication = published.json();
    let id = publication["id"].as_i64().unwrap();

    let viewer = server.token("viewer");
    let scheduled = server.get(&format!("/api/v1/publications/{id}/schedule"), &viewer);
    scheduled.expect(200);
    let s = scheduled.json();
    assert_eq!(s["name"], "my-gpu-app", "made from the spec's name");
    assert_eq!(s["objectName"], "nodefit-my-gpu-app");
    assert_eq!(
        s["sets"][0]["label"],
        "compat.nodefit.io/my-gpu-app.preferred"
    );
    assert_eq!(s["sets"][0]["preferredWeight"], 10);
    // The rule is the one `nodefit schedule` writes for the same spec, name and annotations.
    let rule: Value = yaml_json(s["nodeFeatureRule"].as_str().unwrap());
    let annotations = &rule["metadata"]["annotations"];
    let artifact = publication["artifactDigest"].as_str().unwrap();
    assert_eq!(annotations["compat.nodefit.io/artifact-digest"], artifact);
    assert_eq!(annotations["compat.nodefit.io/registry"], "oci");
    assert_eq!(
        annotations["compat.nodefit.io/image"],
        format!("demo/app@{}", publication["imageDigest"].as_str().unwrap()).as_str()
    );
    let referrers = server
        .get(
            "/api/v1/images/referrers?registry=oci&image=demo/app:v1",
            &viewer,
        )
        .json();
    assert_eq!(
        referrers["artifacts"][0]["digest"], artifact,
        "the artifact the registry holds"
    );
    let host = registry.host();
    assert!(
        !s.to_string().contains(&host),
        "the registry's host is never returned"
    );
    let cli_dir = TempDir::new("schedule-cli");
    let spec_file = cli_dir.path().join("spec.yaml");
    std::fs::write(&spec_file, &spec_src).unwrap();
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_nodefit"))
        .args([
            "schedule",
            spec_file.to_str().unwrap(),
            "--name",
            "my-gpu-app",
            "--artifact-digest",
            artifact,
        ])
        .args([
            "--image",
            &format!("demo/app@{}", publication["imageDigest"].as_str().unwrap()),
        ])
        .output()
        .unwrap();
    let mut cli_rule = yaml_json(&String::from_utf8_lossy(&cli.stdout));
    cli_rule["metadata"]["annotations"]["compat.nodefit.io/registry"] = "oci".into();
    assert_eq!(rule, cli_rule);
    let affinity = yaml_json(s["affinity"].as_str().unwrap());
    assert_eq!(
        affinity["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][1]["matchExpressions"][0]["key"],
        "compat.nodefit.io/my-gpu-app.fallback"
    );

    let tagged = server.get(
        &format!("/api/v1/publications/{id}/schedule?name=app&tags=fallback"),
        &viewer,
    );
    tagged.expect(200);
    assert_eq!(tagged.json()["sets"].as_array().unwrap().len(), 1);
    assert_eq!(tagged.json()["tags"], json!(["fallback"]));
    for (query, status, code) in [
        ("?name=Bad_Name", 400, "bad_request"),
        ("?tags=none", 422, "cannot_schedule"),
        ("?other=1", 400, "bad_request"),
    ] {
        server
            .get(
                &format!("/api/v1/publications/{id}/schedule{query}"),
                &viewer,
            )
            .expect_error(status, code);
    }
    server
        .get("/api/v1/publications/424242/schedule", &viewer)
        .expect_error(404, "not_found");
    // Detached from the image: NFD no longer sees the spec, so no rule is made for it.
    let artifact = publication["artifactDigest"].as_str().unwrap();
    server
        .delete(
            &format!("/api/v1/images/referrers?registry=oci&image=demo/app:v1&artifact={artifact}"),
            ADMIN,
        )
        .expect(204);
    let detached = server
        .get(&format!("/api/v1/publications/{id}/schedule"), &viewer)
        .expect_error(409, "detached");
    assert!(
        detached["message"]
            .as_str()
            .unwrap()
            .contains("publish the version again"),
        "{detached}"
    );
    // The spec deleted, the publication stays, but its content is gone.
    server
        .delete(&format!("/api/v1/specs/{spec_id}"), ADMIN)
        .expect(204);
    server
        .get(&format!("/api/v1/publications/{id}/schedule"), &viewer)
        .expect_error(404, "not_found");
}

/// YAML the server wrote, read back as JSON by the core's YAML reader (go-yaml's rules).
fn yaml_json(text: &str) -> Value {
    nodefit_core::yaml::to_json(&nodefit_core::yaml::parse(text).unwrap().unwrap())
}
