//! The memory source (NFD `source/memory`): numa, swap, nv, hugepages.

use std::io::ErrorKind;

use nodefit_core::gostr::atoi;

use super::fsutil::{describe, list_dir, list_names, read_text, read_trimmed};
use super::{Attributes, HostRoots, Sink};

pub(super) fn discover(roots: &HostRoots, out: &mut Sink) {
    let nodes = roots.sys.join("bus/node/devices");
    match list_names(&nodes) {
        Ok(n) => out.attributes(
            "numa",
            [
                ("is_numa".to_string(), (n.len() > 1).to_string()),
                ("node_count".to_string(), n.len().to_string()),
            ]
            .into(),
        ),
        Err(e) => out.problem(format!("memory.numa left out: {}", describe(&nodes, &e))),
    }

    let swaps = roots.proc.join("swaps");
    match read_text(&swaps) {
        Ok(text) => out.attributes(
            "swap",
            [("enabled".to_string(), swap_enabled(&text).to_string())].into(),
        ),
        Err(e) => out.problem(format!("memory.swap left out: {}", describe(&swaps, &e))),
    }

    let nd = roots.sys.join("bus/nd/devices");
    match list_names(&nd) {
        Ok(devices) => {
            let instances = devices
                .into_iter()
                .map(|name| {
                    let mut a: Attributes = [("name".to_string(), name.clone())].into();
                    for attr in ["devtype", "mode"] {
                        if let Ok(v) = read_trimmed(&nd.join(&name).join(attr)) {
                            a.insert(attr.into(), v);
                        }
                    }
                    a
                })
                .collect();
            out.instances("nv", instances);
        }
        Err(e) if e.kind() == ErrorKind::NotFound => out.instances("nv", Vec::new()),
        Err(e) => out.problem(format!("memory.nv left out: {}", describe(&nd, &e))),
    }

    hugepages(roots, out);
}

/// /proc/swaps has a header line; any further non-blank line is a swap device.
pub(super) fn swap_enabled(text: &str) -> bool {
    text.split('\n').filter(|l| !l.trim().is_empty()).count() > 1
}

fn hugepages(roots: &HostRoots, out: &mut Sink) {
    let mut pages: Attributes = [("enabled".to_string(), "false".to_string())].into();
    let base = roots.sys.join("kernel/mm/hugepages");
    let entries = match list_dir(&base) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            out.attributes("hugepages", pages);
            return;
        }
        Err(e) => {
            out.problem(format!(
                "memory.hugepages left out: {}",
                describe(&base, &e)
            ));
            return;
        }
    };
    for entry in entries.into_iter().filter(|e| e.is_dir) {
        let file = base.join(&entry.name).join("nr_hugepages");
        let total = read_trimmed(&file).unwrap_or_else(|e| {
            out.problem(format!("memory.hugepages: {}", describe(&file, &e)));
            String::new()
        });
        let size = entry.name.strip_prefix("hugepages-").unwrap_or(&entry.name);
        let size = size.trim_end_matches(['k', 'B']);
        let Some(quantity) = kibibytes_quantity(size) else {
            out.problem(format!(
                "memory.hugepages: cannot read a page size from {:?}",
                entry.name
            ));
            continue;
        };
        if atoi(&total).is_some_and(|n| n > 0) {
            pages.insert("enabled".into(), "true".into());
        }
        pages.insert(format!("hugepages-{quantity}"), total);
    }
    out.attributes("hugepages", pages);
}

/// `resource.ParseQuantity(n + "Ki").String()`: the size in the largest binary unit that
/// divides it exactly (`2048` gives `2Mi`, `1048576` gives `1Gi`).
pub(super) fn kibibytes_quantity(kib: &str) -> Option<String> {
    if kib.is_empty() || !kib.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value = kib.parse::<i64>().ok()?.checked_mul(1024)?;
    if value == 0 {
        return Some("0".into());
    }
    let mut exponent = 0;
    while value % 1024 == 0 && exponent < 6 {
        value /= 1024;
        exponent += 1;
    }
    let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exponent];
    Some(format!("{value}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_in_kubernetes_quantities() {
        let q = |s| kibibytes_quantity(s);
        assert_eq!(q("2048").as_deref(), Some("2Mi"));
        assert_eq!(q("1048576").as_deref(), Some("1Gi"));
        assert_eq!(q("64").as_deref(), Some("64Ki"));
        assert_eq!(q("32768").as_deref(), Some("32Mi"));
        assert_eq!(q("16777216").as_deref(), Some("16Gi"));
        assert_eq!(q("1536").as_deref(), Some("1536Ki"));
        assert_eq!(q("0").as_deref(), Some("0"));
        assert_eq!(q(""), None);
        assert_eq!(q("2M"), None);
        assert_eq!(q("99999999999999999999"), None);
    }

    #[test]
    fn swap_needs_more_than_the_header() {
        assert!(!swap_enabled("Filename\tType\tSize\tUsed\tPriority\n"));
        assert!(swap_enabled(
            "Filename Type\n/dev/zram0 partition 1 0 100\n\n"
        ));
        assert!(!swap_enabled(""));
    }
}
