//! The usb source (NFD `source/usb`): USB devices, one instance per device, or per interface
//! when the device class is `00` (defined at interface level).

use std::path::Path;

use super::fsutil::{list_names, read_trimmed};
use super::{Attributes, HostRoots, Sink};

/// Element name and the sysfs file it comes from.
const ATTRS: [(&str, &str); 4] = [
    ("class", "bDeviceClass"),
    ("vendor", "idVendor"),
    ("device", "idProduct"),
    ("serial", "serial"),
];

/// Never fails: without a USB bus the list is empty, as in NFD.
pub(super) fn discover(roots: &HostRoots, out: &mut Sink) {
    let base = roots.sys.join("bus/usb/devices");
    let mut devices = Vec::new();
    // NFD globs `*/idProduct`: only entries with a product id are devices.
    for name in list_names(&base).unwrap_or_default() {
        let dir = base.join(&name);
        if !dir.join("idProduct").exists() {
            continue;
        }
        match device(&dir) {
            Ok(d) => devices.extend(d),
            Err(e) => out.problem(format!("usb.device: {name} left out: {e}")),
        }
    }
    out.instances("device", devices);
}

fn device(dir: &Path) -> Result<Vec<Attributes>, String> {
    let mut attrs = Attributes::new();
    for (key, file) in ATTRS {
        // Empty and unreadable attributes are left out, even the class.
        if let Ok(v) = read_trimmed(&dir.join(file)) {
            if !v.is_empty() {
                attrs.insert(key.into(), v);
            }
        }
    }
    if attrs.get("class").map(String::as_str) != Some("00") {
        return Ok(vec![attrs]);
    }
    let mut out = Vec::new();
    for interface in list_names(dir).unwrap_or_default() {
        let path = dir.join(&interface).join("bInterfaceClass");
        if !path.exists() {
            continue;
        }
        let class = read_trimmed(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut a = attrs.clone();
        a.insert("class".into(), class);
        out.push(a);
    }
    Ok(out)
}
