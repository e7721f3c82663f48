//! `nodefit capture` on the machine the tests run on (CI: a Debian bookworm VM, as root). Only
//! what every such machine has is asserted, not particular hardware.

use std::process::Command;

use nodefit_core::snapshot::{self, SnapshotFormat};
use serde_json::Value;

fn capture_this_host() -> (Value, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nodefit"))
        .arg("capture")
        .env_remove("NODEFIT_ROOT")
        .env_remove("NODEFIT_HOST_PREFIX")
        .env_remove("NODE_NAME")
        .output()
        .expect("nodefit runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    (serde_json::from_str(&stdout).unwrap(), stdout, stderr)
}

fn elements<'a>(json: &'a Value, kind: &str, feature: &str) -> &'a Value {
    &json[kind][feature]["elements"]
}

#[test]
fn host_snapshot_is_valid_and_reads_back() {
    let (json, stdout, stderr) = capture_this_host();

    let schema_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schema/snapshot.schema.json"
    );
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::draft202012::new(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let parsed = snapshot::parse(&stdout).unwrap();
    assert_eq!(parsed.format, SnapshotFormat::NfdFeatures);

    // Problems are warnings naming a source; a real host has the sysfs directories whose
    // absence would make NFD abort.
    for line in stderr.lines() {
        assert!(line.starts_with("warning: source "), "{line}");
        assert!(!line.contains("validate-node stops"), "{line}");
    }
}

#[test]
fn kernel_version_is_uname_r() {
    let (json, _, _) = capture_this_host();
    let uname = Command::new("uname").arg("-r").output().unwrap();
    let release = String::from_utf8(uname.stdout).unwrap();
    assert_eq!(
        elements(&json, "attributes", "kernel.version")["full"],
        release.trim()
    );
}

#[test]
fn features_nfd_always_emits_are_there() {
    let (json, _, _) = capture_this_host();
    for feature in [
        "cpu.cstate",
        "cpu.pstate",
        "cpu.rdt",
        "cpu.security",
        "cpu.sst",
        "cpu.topology",
        "cpu.coprocessor",
        "local.label",
        "local.feature",
        "system.name",
        "memory.hugepages",
    ] {
        assert!(
            elements(&json, "attributes", feature).is_object(),
            "{feature}"
        );
    }
    assert!(elements(&json, "flags", "cpu.cpuid").is_object());
    for feature in [
        "network.device",
        "network.virtual",
        "pci.device",
        "storage.block",
        "usb.device",
        "memory.nv",
    ] {
        assert!(
            elements(&json, "instances", feature).is_array(),
            "{feature}"
        );
    }
    for device in elements(&json, "instances", "pci.device")
        .as_array()
        .unwrap()
    {
        let a = &device["attributes"];
        for id in ["vendor", "device", "subsystem_vendor", "subsystem_device"] {
            let v = a[id].as_str().unwrap();
            assert!(
                v.len() == 4
                    && v.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{id}: {v:?}"
            );
        }
        assert_eq!(a["class"].as_str().unwrap().len(), 4);
    }
    let kvm = &elements(&json, "attributes", "kernel.kvm")["enabled"];
    assert!(kvm == "true" || kvm == "false", "{kvm}");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn cpu_model_names_the_vendor_cpuinfo_names() {
    let (json, _, _) = capture_this_host();
    let model = elements(&json, "attributes", "cpu.model");
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let vendor = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("vendor_id")?.split(':').nth(1))
        .unwrap()
        .trim();
    let expected = match vendor {
        "GenuineIntel" => "Intel",
        "AuthenticAMD" => "AMD",
        "HygonGenuine" => "Hygon",
        other => panic!("unexpected CPU vendor {other}"),
    };
    assert_eq!(model["vendor_id"], expected);
    assert!(model["family"].as_str().unwrap().parse::<u32>().is_ok());
    assert!(model["id"].as_str().unwrap().parse::<u32>().is_ok());
    let flags = elements(&json, "flags", "cpu.cpuid");
    // Every x86_64 CPU is at least x86-64-v1.
    assert!(flags.get("X86_64_V1").is_some() && flags.get("SSE2").is_some());
}

#[test]
fn the_example_specs_evaluate_against_this_host() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("capture-host");
    std::fs::create_dir_all(&dir).unwrap();
    let snapshot = dir.join("this-host.features.json");
    let (_, stdout, _) = capture_this_host();
    std::fs::write(&snapshot, stdout).unwrap();
    let examples = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/core/tests/data/examples"
    );
    for spec in ["image-compatibility.yaml", "preferred-fallback.yaml"] {
        let out = Command::new(env!("CARGO_BIN_EXE_nodefit"))
            .arg("test")
            .arg(format!("{examples}/{spec}"))
            .arg("--snapshot")
            .arg(&snapshot)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        // Compatible or not depends on the machine; unusable input (2) would be a capture bug.
        let code = out.status.code();
        assert!(
            code == Some(0) || code == Some(1),
            "{spec}: exit {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("VERDICT:"));
    }
}
