//! The network source (NFD `source/network`): device (interfaces with a `device` link) and
//! virtual (the rest: lo, bridges, veth, bonds...).

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use super::fsutil::{describe, list_names, read_trimmed, EINVAL};
use super::{Attributes, HostRoots, Sink};

const DEVICE_ATTRS: [&str; 5] = [
    "operstate",
    "speed",
    "device/sriov_numvfs",
    "device/sriov_totalvfs",
    "mtu",
];
const VIRTUAL_ATTRS: [&str; 3] = ["operstate", "speed", "mtu"];

pub(super) fn discover(roots: &HostRoots, out: &mut Sink) {
    let base = roots.sys.join("class/net");
    let names = match list_names(&base) {
        Ok(n) => n,
        Err(e) => {
            out.fatal(format!(
                "failed to detect network devices: failed to list network interfaces: {}",
                describe(&base, &e)
            ));
            return;
        }
    };
    let mut devices = Vec::new();
    let mut virtuals = Vec::new();
    for name in names.into_iter().filter(|n| n != "bonding_masters") {
        let dir = base.join(&name);
        if fs::metadata(dir.join("device")).is_ok() {
            devices.push(interface(&dir, &name, &DEVICE_ATTRS, "device", out));
        } else {
            virtuals.push(interface(&dir, &name, &VIRTUAL_ATTRS, "virtual", out));
        }
    }
    out.instances("device", devices);
    out.instances("virtual", virtuals);
}

fn interface(dir: &Path, name: &str, files: &[&str], feature: &str, out: &mut Sink) -> Attributes {
    let mut a: Attributes = [("name".to_string(), name.to_string())].into();
    for file in files {
        let path = dir.join(file);
        match read_trimmed(&path) {
            Ok(v) => {
                let key = file.rsplit('/').next().unwrap_or(file);
                a.insert(key.to_string(), v);
            }
            // Missing files and EINVAL (no speed on a link that is down) are normal.
            Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(EINVAL) => {}
            Err(e) => out.problem(format!("network.{feature}: {}", describe(&path, &e))),
        }
    }
    a
}
