//! `nodefit capture` run as a process on fixture trees: the exact output of every source, the
//! problems it reports, the NodeFeature shape, and hosts that are broken or empty.
//!
//! `intel-gpu-node` is a made-up two-socket Sapphire Rapids GPU node (modelled on
//! shared/core/tests/data/samples/intel-spr-h100-cx6.features.json) with a hand-written CPUID dump;
//! `debian-vm` was copied from the Debian bookworm VM nodefit is developed on, CPUID dump
//! included (`cpuid -r -1`). The broken and empty hosts are built by the tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use nodefit_core::snapshot::{self, SnapshotFormat};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/capture")
}

/// The CLI with none of the environment variables capture reads.
fn nodefit() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodefit"));
    for var in [
        "NODE_NAME",
        "NODEFIT_ROOT",
        "NODEFIT_HOST_PREFIX",
        "NODEFIT_HOST_SYS",
        "NODEFIT_HOST_PROC",
        "NODEFIT_HOST_ETC",
        "NODEFIT_HOST_BOOT",
        "NODEFIT_HOST_USR",
        "NODEFIT_HOST_LIB",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

struct Run {
    stdout: String,
    /// Standard error, with the root directory written as `<root>`.
    stderr: String,
    code: i32,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).expect("capture prints JSON")
    }
}

fn run(cmd: &mut Command, root: &Path) -> Run {
    let out = cmd.output().expect("nodefit runs");
    Run {
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr)
            .unwrap()
            .replace(&root.display().to_string(), "<root>"),
        code: out.status.code().unwrap_or(-1),
    }
}

fn capture(root: &Path, cpuid: &str, extra: &[&str]) -> Run {
    run(
        nodefit()
            .arg("capture")
            .arg("--root")
            .arg(root)
            .arg("--cpuid-dump")
            .arg(fixtures().join(cpuid))
            .args(extra),
        root,
    )
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/capture")
        .join(name)
}

fn golden(name: &str) -> String {
    fs::read_to_string(golden_path(name))
        .unwrap_or_else(|_| panic!("missing golden file {name}; run with UPDATE_GOLDEN=1"))
}

/// Compares with `tests/golden/capture/<name>`; `UPDATE_GOLDEN=1` rewrites the file.
fn check_golden(name: &str, actual: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::create_dir_all(golden_path(name).parent().unwrap()).unwrap();
        fs::write(golden_path(name), actual).unwrap();
        return;
    }
    assert_eq!(actual, golden(name), "differs from golden/capture/{name}");
}

/// The features of one source (`<source>.*`) in each of flags, attributes and instances.
fn source_features(json: &Value, source: &str) -> Value {
    let mut out = serde_json::Map::new();
    for kind in ["attributes", "flags", "instances"] {
        let picked: serde_json::Map<String, Value> = json[kind]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.split_once('.').is_some_and(|(s, _)| s == source))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert(kind.into(), picked.into());
    }
    out.into()
}

fn assert_source(actual: &Run, golden_file: &str, source: &str) {
    let expected: Value = serde_json::from_str(&golden(golden_file)).unwrap();
    assert_eq!(
        source_features(&actual.json(), source),
        source_features(&expected, source),
        "source {source} differs from golden/capture/{golden_file}"
    );
}

/// One test per NFD source, comparing that source's features with the expected file.
macro_rules! per_source {
    ($run:expr, $file:literal) => {
        per_source!(@ $run, $file, cpu, kernel, local, memory, network, pci, storage, system, usb);
    };
    (@ $run:expr, $file:literal, $($source:ident),*) => {
        $(
            #[test]
            fn $source() {
                super::assert_source($run, $file, stringify!($source));
            }
        )*
    };
}

fn intel() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        capture(
            &fixtures().join("intel-gpu-node"),
            "intel-gpu-node.cpuid",
            &["--node-name", "gpu-node-01"],
        )
    })
}

fn debian() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| capture(&fixtures().join("debian-vm"), "debian-vm.cpuid", &[]))
}

mod intel_gpu_node {
    per_source!(super::intel(), "intel-gpu-node.json");
}

mod debian_vm {
    per_source!(super::debian(), "debian-vm.json");
}

#[test]
fn output_is_byte_for_byte_nfd_export_features() {
    // Go's json.MarshalIndent with four spaces: sorted keys, `{}` flag elements, `[]` lists.
    check_golden("intel-gpu-node.json", &intel().stdout);
    check_golden("debian-vm.json", &debian().stdout);
    assert_eq!(intel().code, 0);
    assert_eq!(debian().code, 0);
}

#[test]
fn problems_name_the_source_and_the_reason() {
    assert_eq!(
        intel().stderr,
        "warning: source local: features.d/site: unknown feature file directive \"unknown-directive\"\n\
         warning: source pci: pci.device: 0000:ff:00.0 left out: <root>/sys/bus/pci/devices/0000:ff:00.0/subsystem_device: No such file or directory (os error 2)\n"
    );
    assert_eq!(
        debian().stderr,
        "warning: source kernel: kernel.loadedmodule left out: <root>/proc/modules: No such file or directory (os error 2)\n\
         warning: source kernel: kernel.enabledmodule left out: <root>/lib/modules/6.18.44-fc-v857/modules.builtin: No such file or directory (os error 2)\n\
         warning: source system: system.dmiid left out: no DMI id readable in <root>/sys/devices/virtual/dmi/id\n"
    );
}

#[test]
fn nodefeature_round_trips_through_the_snapshot_reader() {
    let root = fixtures().join("intel-gpu-node");
    let run = capture(
        &root,
        "intel-gpu-node.cpuid",
        &["--format", "nodefeature", "--node-name", "gpu-node-01"],
    );
    assert_eq!(run.code, 0);
    let cr: Value = run.json();
    assert_eq!(cr["apiVersion"], "nfd.k8s-sigs.io/v1alpha1");
    assert_eq!(cr["kind"], "NodeFeature");
    assert_eq!(cr["metadata"]["name"], "gpu-node-01");
    assert_eq!(cr["spec"]["features"], intel().json());

    let parsed = snapshot::parse(&run.stdout).unwrap();
    assert_eq!(parsed.format, SnapshotFormat::NodeFeature);
    let node = &parsed.nodes[0];
    assert_eq!(node.name.as_deref(), Some("gpu-node-01"));
    assert_eq!(
        node.labels
            .get("nfd.node.kubernetes.io/node-name")
            .map(String::as_str),
        Some("gpu-node-01")
    );
    let plain = snapshot::parse(&intel().stdout).unwrap();
    assert_eq!(plain.format, SnapshotFormat::NfdFeatures);
    assert_eq!(node.features, plain.nodes[0].features);
}

#[test]
fn nodefeature_needs_a_node_name() {
    let root = fixtures().join("debian-vm");
    let run = capture(&root, "debian-vm.cpuid", &["--format", "nodefeature"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--node-name"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn node_name_comes_from_node_name_like_nfd() {
    let root = fixtures().join("debian-vm");
    let out = run(
        nodefit()
            .env("NODE_NAME", "worker-7")
            .args(["capture", "--root"])
            .arg(&root)
            .arg("--cpuid-dump")
            .arg(fixtures().join("debian-vm.cpuid")),
        &root,
    );
    assert_eq!(
        out.json()["attributes"]["system.name"]["elements"]["nodename"],
        "worker-7"
    );
}

#[test]
fn roots_from_environment_and_per_directory_flags() {
    let intel_root = fixtures().join("intel-gpu-node");
    let debian_root = fixtures().join("debian-vm");
    let by_env = run(
        nodefit()
            .env("NODEFIT_ROOT", &intel_root)
            .env("NODE_NAME", "gpu-node-01")
            .arg("capture")
            .arg("--cpuid-dump")
            .arg(fixtures().join("intel-gpu-node.cpuid")),
        &intel_root,
    );
    assert_eq!(by_env.stdout, intel().stdout);

    // NFD's container prefix: the prefixed directories come from the fixture, /etc from the
    // flag that overrides it, and the unprefixed paths from this machine.
    let prefix = format!("{}/", intel_root.display());
    let prefixed = run(
        nodefit()
            .env("NODEFIT_HOST_PREFIX", &prefix)
            .arg("capture")
            .arg("--host-etc")
            .arg(debian_root.join("etc"))
            .arg("--cpuid-dump")
            .arg(fixtures().join("intel-gpu-node.cpuid")),
        &intel_root,
    );
    let json = prefixed.json();
    let fixture = intel().json();
    assert_eq!(
        json["instances"]["pci.device"],
        fixture["instances"]["pci.device"]
    );
    assert_eq!(
        json["attributes"]["memory.swap"],
        fixture["attributes"]["memory.swap"]
    );
    assert_eq!(
        json["attributes"]["system.osrelease"]["elements"]["ID"],
        "debian"
    );
    assert_eq!(
        json["attributes"]["local.label"]["elements"],
        serde_json::json!({})
    );
}

#[test]
fn every_output_gets_a_copy_and_an_unwritable_one_exits_2() {
    let root = fixtures().join("debian-vm");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capture-outputs");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("node.json");
    let _ = fs::remove_file(&file);
    let ok = capture(
        &root,
        "debian-vm.cpuid",
        &["-o", "-", "-o", file.to_str().unwrap()],
    );
    assert_eq!(ok.code, 0);
    assert_eq!(ok.stdout, debian().stdout);
    assert_eq!(fs::read_to_string(&file).unwrap(), debian().stdout);

    let bad = capture(
        &root,
        "debian-vm.cpuid",
        &[
            "-o",
            "/nonexistent-dir/node.json",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("cannot write /nonexistent-dir/node.json"),
        "{}",
        bad.stderr
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), debian().stdout);
}

#[test]
fn a_cpuid_dump_that_is_not_one_exits_2() {
    let root = fixtures().join("debian-vm");
    let out = run(
        nodefit()
            .args(["capture", "--root"])
            .arg(&root)
            .arg("--cpuid-dump")
            .arg(fixtures().join("debian-vm/etc/os-release")),
        &root,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("not a `cpuid -r` line"),
        "{}",
        out.stderr
    );
}

/// A host with nothing at all: every source reports why it has nothing, NFD's three fatal
/// sources are flagged, and what NFD emits regardless (cpu from CPUID, kvm, local, usb...) still
/// comes out.
#[test]
fn empty_host() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capture-empty-host");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).unwrap();
    let out = capture(&root, "debian-vm.cpuid", &[]);
    assert_eq!(out.code, 0);
    check_golden("empty.json", &out.stdout);
    check_golden("empty.stderr", &out.stderr);
}

/// Odd files everywhere: empty, garbage, directories where files belong, files where
/// directories belong, a feature file over NFD's 64 KiB limit.
#[test]
fn broken_host() {
    let root = broken_host_tree();
    let out = capture(&root, "debian-vm.cpuid", &[]);
    assert_eq!(out.code, 0);
    check_golden("broken.json", &out.stdout);
    check_golden("broken.stderr", &out.stderr);
}

fn broken_host_tree() -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capture-broken-host");
    let _ = fs::remove_dir_all(&root);
    let file = |path: &str, bytes: &[u8]| {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    };
    let dir = |path: &str| fs::create_dir_all(root.join(path)).unwrap();
    file("proc/sys/kernel/osrelease", b"6.1.0+rc1 \xff\n");
    file("proc/config.gz", b"not gzip");
    file("proc/modules", b"");
    dir("proc/swaps");
    file(
        "proc/sysinfo",
        b"Manufacturer: IBM\nControl Program: KVM/Linux\n",
    );
    file(
        "etc/os-release",
        b"\x00\x01garbage\nID=\"weird\nVERSION_ID=1.\n=x\n",
    );
    let features = "etc/kubernetes/node-feature-discovery/features.d";
    file(&format!("{features}/big"), &vec![b'x'; 70_000]);
    file(
        &format!("{features}/bin"),
        b"\xff\xfe=\x00\n key = value \n",
    );
    file("sys/block", b"not a directory");
    file("sys/class/net/eth0", b"not a directory");
    file("sys/bus/pci/devices/0000:00:01.0/class", b"");
    file("sys/bus/pci/devices/0000:00:01.0/vendor", b"garbage\n");
    file("sys/bus/pci/devices/0000:00:01.0/device", b"0x1234");
    file("sys/bus/pci/devices/0000:00:01.0/subsystem_vendor", b"0x");
    file("sys/bus/pci/devices/0000:00:01.0/subsystem_device", b"\n");
    dir("sys/bus/pci/devices/0000:00:01.0/sriov_totalvfs");
    dir("sys/bus/pci/devices/0000:00:02.0/vendor");
    dir("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
    file(
        "sys/kernel/mm/hugepages/hugepages-lotskB/nr_hugepages",
        b"1\n",
    );
    file("sys/kernel/mm/hugepages/hugepages-readme", b"a file\n");
    file("sys/bus/nd/devices", b"not a directory");
    file(
        "sys/bus/cpu/devices/cpu0/topology/thread_siblings_list",
        b"0-1\n",
    );
    file("sys/bus/cpu/devices/cpu0/cpufreq/base_frequency", b"fast\n");
    file(
        "sys/devices/system/cpu/cpuidle/current_driver",
        b"intel_idle\n",
    );
    file("sys/module/intel_idle/parameters/max_cstate", b"many\n");
    file("sys/devices/system/cpu/intel_pstate/status", b"passive\n");
    file("sys/devices/system/cpu/intel_pstate/no_turbo", b"");
    file("sys/fs/selinux/enforce", b"");
    dir("sys/devices/virtual/dmi/id/sys_vendor");
    file("sys/devices/virtual/dmi/id/product_name", b"\n");
    file("sys/bus/usb/devices/1-1/bDeviceClass", b"00\n");
    file("sys/bus/usb/devices/1-1/idVendor", b"abcd\n");
    file("sys/bus/usb/devices/1-1/idProduct", b"0001\n");
    dir("sys/bus/usb/devices/1-1/1-1:1.0/bInterfaceClass");
    file("sys/bus/usb/devices/usb2/idProduct", b"0002\n");
    root
}

fn capture_arm64(root: &Path) -> Run {
    run(
        nodefit()
            .arg("capture")
            .arg("--root")
            .arg(root)
            .args(["--cpu-arch", "arm64"]),
        root,
    )
}

/// `graviton3-node` holds the auxiliary vector and MIDR_EL1 of the Graviton3 in NFD's arm64
/// sample export: capture gives exactly the cpu features NFD exported there.
#[test]
fn arm64_cpu_features_match_nfd_on_graviton3() {
    let out = capture_arm64(&fixtures().join("graviton3-node"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sample: Value = serde_json::from_str(include_str!(
        "../../../shared/core/tests/data/samples/arm64-graviton3-al2023.features.json"
    ))
    .unwrap();
    assert_eq!(
        source_features(&out.json(), "cpu"),
        source_features(&sample, "cpu")
    );
    assert!(!out.stderr.contains("source cpu"), "{}", out.stderr);
}

/// MIDR_EL1 is read only when the kernel offers the CPUID capability (as klauspost/cpuid does);
/// /proc/cpuinfo stands in for a missing sysfs file; what cannot be read is a problem that names
/// the files.
#[test]
fn arm64_model_without_cpuid_capability_or_sysfs() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capture-arm64-model");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("proc/self")).unwrap();
    let auxv = |hwcap: u64| -> Vec<u8> {
        [(16u64, hwcap), (26, 0), (0, 0)]
            .iter()
            .flat_map(|(k, v)| k.to_le_bytes().into_iter().chain(v.to_le_bytes()))
            .collect()
    };
    let model = |out: &Run| out.json()["attributes"]["cpu.model"].clone();
    let cpuid = |out: &Run| out.json()["flags"]["cpu.cpuid"]["elements"].clone();

    // FP and ASIMD, no CPUID: MIDR is not read.
    fs::write(root.join("proc/self/auxv"), auxv(0b11)).unwrap();
    let out = capture_arm64(&root);
    assert_eq!(cpuid(&out), serde_json::json!({"ASIMD": {}, "FP": {}}));
    assert_eq!(
        model(&out),
        serde_json::json!({"elements": {"family": "0", "hypervisor": "none", "id": "0", "vendor_id": "VendorUnknown"}})
    );

    // CPUID offered, no sysfs file: /proc/cpuinfo gives MIDR (an Ampere Altra, Neoverse N1).
    fs::write(root.join("proc/self/auxv"), auxv(0b11 | 1 << 11)).unwrap();
    fs::write(
        root.join("proc/cpuinfo"),
        "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd cpuid\nCPU implementer\t: 0x41\n\
         CPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n",
    )
    .unwrap();
    let out = capture_arm64(&root);
    assert_eq!(
        model(&out),
        serde_json::json!({"elements": {"family": "63", "hypervisor": "none", "id": "53441", "vendor_id": "ARM"}})
    );

    // Neither: cpu.model is left out and the problem names both files.
    fs::remove_file(root.join("proc/cpuinfo")).unwrap();
    let out = capture_arm64(&root);
    assert_eq!(model(&out), Value::Null);
    assert!(
        out.stderr
            .contains("cpu.model left out: MIDR_EL1 unreadable")
            && out.stderr.contains("midr_el1")
            && out.stderr.contains("cpuinfo"),
        "{}",
        out.stderr
    );

    // No auxiliary vector at all: empty flags, no model, and why.
    fs::remove_file(root.join("proc/self/auxv")).unwrap();
    let out = capture_arm64(&root);
    assert_eq!(cpuid(&out), serde_json::json!({}));
    assert!(
        out.stderr
            .contains("cpu.cpuid left empty and cpu.model out: no hardware capabilities"),
        "{}",
        out.stderr
    );
}
