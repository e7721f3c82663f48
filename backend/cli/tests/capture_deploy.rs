//! The Kubernetes manifests in deploy/: every host directory is mounted read-only, the
//! containers run as non-root on a read-only root filesystem, and capture reads the host
//! through NFD's /host- prefix.

use nodefit_core::yaml;
use serde_json::Value;

fn manifest(name: &str) -> Value {
    let path = format!("{}/../../deploy/{name}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(path).unwrap();
    yaml::to_json(&yaml::parse(&src).unwrap().unwrap())
}

fn check_pod(pod: &Value) {
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["automountServiceAccountToken"], false);
    let volumes = pod["volumes"].as_array().unwrap();
    let is_host_path = |name: &str| {
        volumes
            .iter()
            .any(|v| v["name"] == name && v.get("hostPath").is_some())
    };
    let containers = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(pod["initContainers"].as_array().into_iter().flatten());
    let mut captures = 0;
    for c in containers {
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{}", c["name"]);
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{}", c["name"]);
        assert_eq!(sc["capabilities"]["drop"][0], "ALL", "{}", c["name"]);
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            if is_host_path(m["name"].as_str().unwrap()) {
                assert_eq!(
                    m["readOnly"], true,
                    "{} mounts {} writable",
                    c["name"], m["name"]
                );
            }
        }
        if c["args"][0] == "capture" {
            captures += 1;
            let env = c["env"].as_array().unwrap();
            let var = |name: &str| env.iter().find(|e| e["name"] == name).unwrap();
            assert_eq!(var("NODEFIT_HOST_PREFIX")["value"], "/host-");
            assert_eq!(
                var("NODE_NAME")["valueFrom"]["fieldRef"]["fieldPath"],
                "spec.nodeName"
            );
        }
    }
    assert_eq!(captures, 1);
}

#[test]
fn the_job_is_locked_down() {
    let job = manifest("capture-job.yaml");
    assert_eq!(job["kind"], "Job");
    check_pod(&job["spec"]["template"]["spec"]);
}

#[test]
fn the_daemonset_is_locked_down() {
    let ds = manifest("capture-daemonset.yaml");
    assert_eq!(ds["kind"], "DaemonSet");
    check_pod(&ds["spec"]["template"]["spec"]);
}
