//! The pci source (NFD `source/pci`): every PCI function under /sys/bus/pci/devices.

use std::path::Path;

use super::fsutil::{describe, list_names, read_text};
use super::{Attributes, HostRoots, Sink};

const MANDATORY: [&str; 5] = [
    "class",
    "vendor",
    "device",
    "subsystem_vendor",
    "subsystem_device",
];
const OPTIONAL: [&str; 3] = [
    "sriov_totalvfs",
    "iommu_group/type",
    "iommu/intel-iommu/version",
];

pub(super) fn discover(roots: &HostRoots, out: &mut Sink) {
    let base = roots.sys.join("bus/pci/devices");
    let names = match list_names(&base) {
        Ok(n) => n,
        Err(e) => {
            out.fatal(format!(
                "failed to detect PCI devices: {}",
                describe(&base, &e)
            ));
            return;
        }
    };
    let mut devices = Vec::new();
    for name in names {
        match device(&base.join(&name)) {
            Ok(d) => devices.push(d),
            Err(e) => out.problem(format!("pci.device: {name} left out: {e}")),
        }
    }
    out.instances("device", devices);
}

fn device(dir: &Path) -> Result<Attributes, String> {
    let mut a = Attributes::new();
    for attr in MANDATORY {
        let path = dir.join(attr);
        let text = read_text(&path).map_err(|e| describe(&path, &e))?;
        a.insert(attr.into(), attribute_value(attr, &text));
    }
    for attr in OPTIONAL {
        if let Ok(text) = read_text(&dir.join(attr)) {
            a.insert(attr.into(), attribute_value(attr, &text));
        }
    }
    Ok(a)
}

/// `0x` stripped, then whitespace; the class keeps its first four hex digits (base class and
/// subclass, without the programming interface).
pub(super) fn attribute_value(attr: &str, text: &str) -> String {
    let value = text.strip_prefix("0x").unwrap_or(text).trim();
    if attr == "class" && value.len() > 4 {
        let bytes = &value.as_bytes()[..4];
        return String::from_utf8_lossy(bytes).into_owned();
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::attribute_value;

    #[test]
    fn ids_and_class_like_nfd() {
        assert_eq!(attribute_value("class", "0x030200\n"), "0302");
        assert_eq!(attribute_value("class", "0x0c03\n"), "0c03");
        assert_eq!(attribute_value("vendor", "0x10de\n"), "10de");
        assert_eq!(attribute_value("vendor", " 0x10de\n"), "0x10de");
        assert_eq!(attribute_value("sriov_totalvfs", "8\n"), "8");
        assert_eq!(attribute_value("class", ""), "");
    }
}
