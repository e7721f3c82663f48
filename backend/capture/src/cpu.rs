//! The cpu source (NFD `source/cpu`): cpuid, model, cstate, pstate, rdt, security, sst,
//! topology, coprocessor.
//!
//! The x86 parts run when CPUID is available (NFD builds them for amd64 only); on arm64 the
//! flags and model come from HWCAPs and MIDR (`arm64`); elsewhere, and on arm64 for the
//! amd64-only features, the features are present and empty, as NFD's stubs leave them.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use nodefit_core::gostr::atoi;

use super::cpuid::{self, CpuInfo, Cpuid, Hypervisor};
use super::fsutil::{describe, list_names, read_bytes, read_text, read_trimmed};
use super::{arm64, Processor};
use super::{Attributes, HostRoots, Sink};

pub(super) fn discover(roots: &HostRoots, processor: Processor, out: &mut Sink) {
    let cpu = match processor {
        Processor::X86(cpu) => cpu,
        Processor::Arm64 => return discover_arm64(roots, out),
        Processor::Other => {
            out.flags("cpuid", BTreeSet::new());
            out.problem(
                "cpu.cpuid is left empty and cpu.model out: nodefit reads CPU features through \
                 x86 CPUID and arm64 HWCAPs only",
            );
            outside_amd64(roots, out);
            return;
        }
    };
    let info = cpuid::detect(cpu);
    out.flags("cpuid", cpuid_flags(&info));
    let mut cpuid_attrs = Attributes::new();
    if info.avx10_level > 0 {
        cpuid_attrs.insert("AVX10_VERSION".into(), info.avx10_level.to_string());
    }
    out.attributes("cpuid", cpuid_attrs);
    let model = model(&info, roots);
    out.attributes("model", model);
    match cstate(roots) {
        Ok(c) => out.attributes("cstate", c),
        Err(e) => out.problem(format!("cpu.cstate left out: {e}")),
    }
    let pstate = pstate(roots, out);
    out.attributes("pstate", pstate);
    out.attributes("rdt", rdt(cpu, roots));
    out.attributes("security", security(&info, roots));
    let sst = sst(cpu, roots, out);
    out.attributes("sst", sst);
    let topology = topology(roots, out);
    out.attributes("topology", topology);
    // Only POWER has co-processor features (nx_gzip).
    out.attributes("coprocessor", Attributes::new());
}

/// The rest of the cpu source off amd64: NFD builds cstate, pstate, rdt, security and sst for
/// amd64 only (its stubs leave them present and empty elsewhere), topology is read everywhere,
/// and only POWER has co-processor features.
fn outside_amd64(roots: &HostRoots, out: &mut Sink) {
    for feature in ["cstate", "pstate", "rdt", "security", "sst"] {
        out.attributes(feature, Attributes::new());
    }
    let topology = topology(roots, out);
    out.attributes("topology", topology);
    out.attributes("coprocessor", Attributes::new());
}

fn discover_arm64(roots: &HostRoots, out: &mut Sink) {
    match arm64::Hwcaps::read(roots) {
        Ok(caps) => {
            out.flags("cpuid", caps.flags());
            match arm64::model(&caps, roots) {
                Ok(model) => out.attributes("model", model),
                Err(e) => out.problem(format!("cpu.model left out: {e}")),
            }
        }
        Err(e) => {
            out.flags("cpuid", BTreeSet::new());
            out.problem(format!(
                "cpu.cpuid left empty and cpu.model out: no hardware capabilities: {e}"
            ));
        }
    }
    outside_amd64(roots, out);
}

/// klauspost's feature set plus the cumulative `X86_64_V1`..`X86_64_V4` level flags.
fn cpuid_flags(info: &CpuInfo) -> BTreeSet<String> {
    let mut flags: BTreeSet<String> = info.features.iter().map(|f| f.to_string()).collect();
    flags.extend((1..=info.x64_level).map(|l| format!("X86_64_V{l}")));
    flags
}

fn model(info: &CpuInfo, roots: &HostRoots) -> Attributes {
    let mut m = Attributes::new();
    m.insert("vendor_id".into(), info.vendor.into());
    m.insert("family".into(), info.family.to_string());
    m.insert("id".into(), info.model.to_string());
    m.insert("hypervisor".into(), hypervisor(info, roots));
    m
}

/// s390x names its hypervisor in /proc/sysinfo; elsewhere CPUID does, when the hypervisor bit
/// is set.
fn hypervisor(info: &CpuInfo, roots: &HostRoots) -> String {
    if let Some(hv) = read_text(&roots.literal("/proc/sysinfo"))
        .ok()
        .and_then(|t| hypervisor_from_sysinfo(&t))
    {
        return hv;
    }
    if !info.has("HYPERVISOR") {
        return "none".into();
    }
    match &info.hypervisor {
        Hypervisor::Known(name) => name.to_lowercase(),
        Hypervisor::Unknown(raw) => {
            let clean = sanitize(raw);
            if clean.is_empty() {
                "unknown".into()
            } else {
                clean
            }
        }
    }
}

/// The `Control Program:` line of /proc/sysinfo (`z/VM 7.3.0` gives `z_VM_7.3.0`).
pub(super) fn hypervisor_from_sysinfo(text: &str) -> Option<String> {
    let line = text.split('\n').find(|l| l.contains("Control Program:"))?;
    let value = line.split_once(':')?.1.trim();
    (!value.is_empty()).then(|| sanitize(value.as_bytes()))
}

/// Go's `regexp.MustCompile("[^-A-Za-z0-9_.]+").ReplaceAllString(s, "_")`.
fn sanitize(raw: &[u8]) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for &b in raw {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

fn cpu_dir(roots: &HostRoots) -> PathBuf {
    roots.sys.join("devices/system/cpu")
}

/// C-states of the intel_idle driver. Errors leave the feature out, as in NFD.
fn cstate(roots: &HostRoots) -> Result<Attributes, String> {
    let base = cpu_dir(roots);
    fs::metadata(&base).map_err(|e| describe(&base, &e))?;
    let idle = base.join("cpuidle");
    if fs::metadata(&idle).is_err_and(|e| e.kind() == ErrorKind::NotFound) {
        return Ok(Attributes::new());
    }
    let path = idle.join("current_driver");
    let driver = read_trimmed(&path).map_err(|e| describe(&path, &e))?;
    if driver != "intel_idle" {
        return Ok(Attributes::new());
    }
    let path = roots.sys.join("module/intel_idle/parameters/max_cstate");
    let value = read_trimmed(&path).map_err(|e| describe(&path, &e))?;
    let n = atoi(&value).ok_or_else(|| format!("{}: not an integer: {value:?}", path.display()))?;
    Ok([("enabled".to_string(), (n > 0).to_string())].into())
}

/// intel_pstate status, turbo and the common scaling governor. Always present; errors empty it.
fn pstate(roots: &HostRoots, out: &mut Sink) -> Attributes {
    let base = cpu_dir(roots);
    if let Err(e) = fs::metadata(&base) {
        out.problem(format!("cpu.pstate left empty: {}", describe(&base, &e)));
        return Attributes::new();
    }
    let dir = base.join("intel_pstate");
    if fs::metadata(&dir).is_err_and(|e| e.kind() == ErrorKind::NotFound) {
        return Attributes::new();
    }
    let path = dir.join("status");
    let status = match read_trimmed(&path) {
        Ok(s) => s,
        Err(e) => {
            out.problem(format!("cpu.pstate left empty: {}", describe(&path, &e)));
            return Attributes::new();
        }
    };
    if status == "off" {
        return Attributes::new();
    }
    let mut features: Attributes = [("status".to_string(), status.clone())].into();
    match read_bytes(&dir.join("no_turbo")) {
        Ok(bytes) => {
            let turbo = bytes.first() == Some(&b'0');
            features.insert("turbo".into(), turbo.to_string());
        }
        Err(e) => out.problem(format!(
            "cpu.pstate: no turbo element: {}",
            describe(&dir.join("no_turbo"), &e)
        )),
    }
    if status != "active" {
        return features;
    }
    let cpufreq = base.join("cpufreq");
    let policies = match list_names(&cpufreq) {
        Ok(p) => p,
        Err(e) => {
            out.problem(format!(
                "cpu.pstate: no scaling_governor element: {}",
                describe(&cpufreq, &e)
            ));
            return features;
        }
    };
    let mut scaling = String::new();
    for policy in policies {
        let dir = cpufreq.join(&policy);
        // A policy no CPU uses has no say in the common governor.
        let Ok(cpus) = read_text(&dir.join("affected_cpus")) else {
            continue;
        };
        if cpus.trim().is_empty() {
            continue;
        }
        let Ok(governor) = read_trimmed(&dir.join("scaling_governor")) else {
            continue;
        };
        if !scaling.is_empty() && scaling != governor {
            scaling.clear();
            break;
        }
        scaling = governor;
    }
    if !scaling.is_empty() {
        features.insert("scaling_governor".into(), scaling);
    }
    features
}

/// Intel RDT monitoring and allocation, from CPUID leaves 0x7, 0xF and 0x10, read without
/// checking the maximum leaf as NFD does.
fn rdt(cpu: &dyn Cpuid, roots: &HostRoots) -> Attributes {
    let mut a = Attributes::new();
    let mut yes = |k: &str| {
        a.insert(k.to_string(), "true".to_string());
    };
    let ext = cpu.cpuid(0x7, 0)[1];
    let mon = cpu.cpuid(0xf, 0)[3];
    let l3_mon = cpu.cpuid(0xf, 1)[3];
    let alloc = cpu.cpuid(0x10, 0)[1];
    if ext & (1 << 12) != 0 && mon & (1 << 1) != 0 {
        yes("RDTMON");
        if l3_mon & 1 != 0 {
            yes("RDTCMT");
        }
        if l3_mon & 0b110 == 0b110 {
            yes("RDTMBM");
        }
    }
    let mut closids = None;
    if ext & (1 << 15) != 0 {
        if alloc & (1 << 1) != 0 {
            yes("RDTL3CA");
            closids = num_closids(roots, "L3");
        }
        if alloc & (1 << 2) != 0 {
            yes("RDTL2CA");
        }
        if alloc & (1 << 3) != 0 {
            yes("RDTMBA");
        }
    }
    if let Some(n) = closids {
        a.insert("RDTL3CA_NUM_CLOSID".into(), n.to_string());
    }
    a
}

/// `num_closids - 1` (the default group takes one) from the resctrl filesystem, found as runc's
/// `intelrdt.Root` finds it: at /sys/fs/resctrl, else wherever /proc/self/mountinfo says.
fn num_closids(roots: &HostRoots, level: &str) -> Option<i64> {
    let default = roots.literal("/sys/fs/resctrl");
    let root = if default.join("info").is_dir() {
        default
    } else {
        let mountinfo = read_text(&roots.literal("/proc/self/mountinfo")).ok()?;
        roots.literal(&resctrl_mountpoint(&mountinfo)?)
    };
    let text = read_trimmed(&root.join("info").join(level).join("num_closids")).ok()?;
    text.parse::<i64>().ok().map(|n| n - 1)
}

/// The mount point of a `resctrl` filesystem in /proc/self/mountinfo.
pub(super) fn resctrl_mountpoint(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        (fstype == "resctrl").then(|| left.split_whitespace().nth(4).map(str::to_string))?
    })
}

/// Confidential computing: SGX (EPC size), TDX host and guest, SEV/SEV-ES/SEV-SNP host. Keys
/// are present only when true or known.
fn security(info: &CpuInfo, roots: &HostRoots) -> Attributes {
    let mut a = Attributes::new();
    let mut put = |k: &str, v: String| {
        a.insert(k.to_string(), v);
    };
    if info.sgx_epc_bytes > 0 {
        put("sgx.enabled", "true".into());
        put("sgx.epc", info.sgx_epc_bytes.to_string());
    }
    let tdx = roots.sys.join("module/kvm_intel/parameters/tdx");
    if read_bytes(&tdx).is_ok_and(|c| c == b"Y\n") {
        put("tdx.enabled", "true".into());
        if let Some(n) = misc_capacity(roots, "tdx") {
            put("tdx.total_keys", n.to_string());
        }
    }
    if info.has("TDX_GUEST") {
        put("tdx.protected", "true".into());
    }
    if sev_parameter(roots, "sev") {
        put("sev.enabled", "true".into());
        if let Some(n) = misc_capacity(roots, "sev") {
            put("sev.asids", n.to_string());
        }
    }
    if sev_parameter(roots, "sev_es") {
        put("sev.es.enabled", "true".into());
        if let Some(n) = misc_capacity(roots, "sev_es") {
            put("sev.encrypted_state_ids", n.to_string());
        }
    }
    if sev_parameter(roots, "sev_snp") {
        put("sev.snp.enabled", "true".into());
    }
    a
}

/// A kvm_amd module parameter that reads `1` or `Y`.
fn sev_parameter(roots: &HostRoots, name: &str) -> bool {
    let path = roots.sys.join("module/kvm_amd/parameters").join(name);
    read_bytes(&path).is_ok_and(|c| matches!(c.first(), Some(b'1' | b'Y')))
}

/// A resource's capacity in the misc cgroup controller (cgroup v2 first, then v1).
fn misc_capacity(roots: &HostRoots, resource: &str) -> Option<i64> {
    ["fs/cgroup/misc.capacity", "fs/cgroup/misc/misc.capacity"]
        .iter()
        .find_map(|p| read_text(&roots.sys.join(p)).ok())
        .and_then(|text| parse_misc_capacity(&text, resource))
}

/// NFD takes the first line that merely starts with the resource name, so `sev` would also
/// match a `sev_es` line listed first; the kernel lists `sev` first.
pub(super) fn parse_misc_capacity(text: &str, resource: &str) -> Option<i64> {
    let line = text.lines().find(|l| l.starts_with(resource))?;
    line.split(' ').nth(1)?.parse().ok()
}

/// Intel Speed Select base frequency: some CPU's base frequency above the nominal one CPUID
/// reports (leaf 0x16). Always present; errors leave it empty.
fn sst(cpu: &dyn Cpuid, roots: &HostRoots, out: &mut Sink) -> Attributes {
    match sst_bf(cpu, roots) {
        Ok(true) => [("bf.enabled".to_string(), "true".to_string())].into(),
        Ok(false) => Attributes::new(),
        Err(e) => {
            out.problem(format!("cpu.sst left empty: {e}"));
            Attributes::new()
        }
    }
}

fn sst_bf(cpu: &dyn Cpuid, roots: &HostRoots) -> Result<bool, String> {
    let nominal_mhz = i64::from(cpu.cpuid(0x16, 0)[0]);
    let devices = roots.sys.join("bus/cpu/devices");
    let cpus = list_names(&devices).map_err(|e| describe(&devices, &e))?;
    for name in cpus {
        let path = devices.join(&name).join("cpufreq/base_frequency");
        let text = match read_trimmed(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(describe(&path, &e)),
        };
        let khz = atoi(&text).ok_or_else(|| format!("{}: not an integer", path.display()))?;
        if nominal_mhz == 0 {
            return Err("CPUID leaf 0x16 has no nominal base frequency".into());
        }
        if khz / 1000 > nominal_mhz {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Hyper-threading and socket count from each CPU's topology. Any unreadable file empties it.
fn topology(roots: &HostRoots, out: &mut Sink) -> Attributes {
    match read_topology(&roots.sys.join("bus/cpu/devices")) {
        Ok(a) => a,
        Err(e) => {
            out.problem(format!("cpu.topology left empty: {e}"));
            Attributes::new()
        }
    }
}

fn read_topology(devices: &Path) -> Result<Attributes, String> {
    let cpus = list_names(devices).map_err(|e| describe(devices, &e))?;
    let mut threads = false;
    let mut sockets = BTreeSet::new();
    for name in cpus {
        let dir = devices.join(&name).join("topology");
        let read =
            |file: &str| read_bytes(&dir.join(file)).map_err(|e| describe(&dir.join(file), &e));
        let siblings = read("thread_siblings_list")?;
        threads |= siblings.iter().any(|b| matches!(b, b',' | b'-'));
        let package = read("physical_package_id")?;
        sockets.insert(String::from_utf8_lossy(&package).trim().to_string());
    }
    Ok([
        ("hardware_multithreading".to_string(), threads.to_string()),
        ("socket_count".to_string(), sockets.len().to_string()),
    ]
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypervisor_names_are_sanitized_like_nfd() {
        let sysinfo = "Manufacturer: IBM\nControl Program: z/VM    7.3.0\nLPAR Name: X\n";
        assert_eq!(
            hypervisor_from_sysinfo(sysinfo).as_deref(),
            Some("z_VM_7.3.0")
        );
        assert_eq!(hypervisor_from_sysinfo("Control Program:   \n"), None);
        assert_eq!(hypervisor_from_sysinfo("LPAR: 1\n"), None);
        assert_eq!(sanitize(b"Linux KVM \xff Hv"), "Linux_KVM_Hv");
    }

    #[test]
    fn misc_capacity_takes_the_first_prefix_match() {
        let text = "sev 509\nsev_es 490\ntdx garbage\n";
        assert_eq!(parse_misc_capacity(text, "sev"), Some(509));
        assert_eq!(parse_misc_capacity(text, "sev_es"), Some(490));
        assert_eq!(parse_misc_capacity(text, "tdx"), None);
        assert_eq!(parse_misc_capacity("sev\n", "sev"), None);
        assert_eq!(parse_misc_capacity("", "sev"), None);
    }

    #[test]
    fn finds_resctrl_in_mountinfo() {
        let mi = "22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n\
                  40 22 0:35 / /mnt/rdt rw,relatime shared:20 - resctrl resctrl rw\n";
        assert_eq!(resctrl_mountpoint(mi).as_deref(), Some("/mnt/rdt"));
        assert_eq!(resctrl_mountpoint("garbage - \n"), None);
    }
}
