//! The host as the node: `nodefit capture --upload` into a real server, and `nodefit
//! validate-node` without `--snapshot`, which captures the host (here a fixture tree standing in
//! for it) and evaluates the spec attached to an image in a real registry.

mod server_support;

use std::path::PathBuf;
use std::process::{Command, Output};

use nodefit_e2e::testbed::{self, Registry, TempDir};
use serde_json::Value;
use server_support::{sqlite, Server, ADMIN};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/capture")
        .join(name)
        .display()
        .to_string()
}

fn nodefit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nodefit"))
        .args(args)
        .env_remove("NODEFIT_TOKEN")
        .env_remove("NODEFIT_SERVER_URL")
        .output()
        .expect("run nodefit")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn capture_uploads_the_snapshot_with_labels() {
    let (store, _data) = sqlite();
    let server = Server::start(&store);
    let author = server.token("author");
    let url = format!("http://{}", server.addr);
    let run = |token: &str| {
        nodefit(&[
            "capture",
            "--root",
            &fixture("intel-gpu-node"),
            "--node-name",
            "gpu-node-7",
            "-o",
            "/dev/null",
            "--upload",
            &url,
            "--token",
            token,
            "--label",
            "pool=gpu",
            "--label",
            "cloud=onprem",
        ])
    };
    let first = run(&author);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stderr).contains("uploaded to"),
        "{}",
        text(&first.stderr)
    );

    let listed = server.get("/api/v1/snapshots?label=pool=gpu", ADMIN).json();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["nodeName"], "gpu-node-7");
    assert_eq!(items[0]["labels"]["cloud"], "onprem");
    let stored = server
        .get(&format!("/api/v1/snapshots/{}", items[0]["id"]), ADMIN)
        .json();
    assert_eq!(
        stored["features"]["attributes"]["system.name"]["elements"]["nodename"],
        "gpu-node-7"
    );

    let again = run(&author);
    assert!(again.status.success());
    assert!(
        text(&again.stderr).contains("already stored"),
        "{}",
        text(&again.stderr)
    );

    let viewer = server.token("viewer");
    let refused = run(&viewer);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("403"),
        "{}",
        text(&refused.stderr)
    );
    let unknown = run("not-a-token");
    assert!(
        text(&unknown.stderr).contains("401"),
        "{}",
        text(&unknown.stderr)
    );
}

#[test]
fn validate_node_without_a_snapshot_judges_the_host() {
    let registry = Registry::referrers();
    testbed::seed_image(&registry, "demo/gpu:v1");
    let image = format!("{}/demo/gpu:v1", registry.host());
    let dir = TempDir::new("validate-live");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(
        &spec,
        "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: nvidia gpu\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        vendor: {op: In, value: [\"10de\"]}\n",
    )
    .unwrap();
    let attached = nodefit(&[
        "attach",
        "--image",
        &image,
        spec.to_str().unwrap(),
        "--plain-http",
    ]);
    assert!(attached.status.success(), "{}", text(&attached.stderr));

    let validate = |root: &str| {
        nodefit(&[
            "validate-node",
            "--image",
            &image,
            "--plain-http",
            "--root",
            &fixture(root),
            "--output-json",
        ])
    };
    let gpu = validate("intel-gpu-node");
    assert_eq!(gpu.status.code(), Some(0), "{}", text(&gpu.stderr));
    let report: Value = serde_json::from_str(&text(&gpu.stdout)).unwrap();
    assert_eq!(report[0]["rules"][0]["isMatch"], true);
    assert!(report[0]["rules"][0]["matchedExpressions"][0]["actual"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "10de"));

    let vm = validate("debian-vm");
    assert_eq!(
        vm.status.code(),
        Some(1),
        "no NVIDIA device on the VM: {}",
        text(&vm.stderr)
    );

    // Without --root the real host is captured: the command runs and answers.
    let host = nodefit(&["validate-node", "--image", &image, "--plain-http"]);
    assert!(
        matches!(host.status.code(), Some(0 | 1)),
        "{}",
        text(&host.stderr)
    );
    assert!(
        text(&host.stdout).contains("RULE: NVIDIA GPU"),
        "{}",
        text(&host.stdout)
    );
}

#[test]
fn validate_node_stops_like_nfd_when_a_fatal_source_fails() {
    let registry = Registry::referrers();
    testbed::seed_image(&registry, "demo/app:v1");
    let image = format!("{}/demo/app:v1", registry.host());
    let dir = TempDir::new("validate-fatal");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: any\n    matchFeatures:\n    - feature: kernel.version\n").unwrap();
    assert!(nodefit(&[
        "attach",
        "--image",
        &image,
        spec.to_str().unwrap(),
        "--plain-http"
    ])
    .status
    .success());
    // An empty root: /sys/bus/pci/devices cannot be listed, which stops NFD's validate-node.
    let empty = TempDir::new("empty-host");
    let out = nodefit(&[
        "validate-node",
        "--image",
        &image,
        "--plain-http",
        "--root",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("error during discovery of source"),
        "{}",
        text(&out.stderr)
    );
}
