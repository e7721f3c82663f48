//! The storage source (NFD `source/storage`): block devices under /sys/block.

use super::fsutil::{describe, list_names, read_trimmed};
use super::{Attributes, HostRoots, Sink};

const QUEUE_ATTRS: [&str; 4] = ["dax", "rotational", "nr_zones", "zoned"];

pub(super) fn discover(roots: &HostRoots, out: &mut Sink) {
    let base = roots.sys.join("block");
    let names = match list_names(&base) {
        Ok(n) => n,
        Err(e) => {
            out.fatal(format!(
                "failed to detect block devices: failed to list block devices: {}",
                describe(&base, &e)
            ));
            return;
        }
    };
    let devices = names
        .into_iter()
        .map(|name| {
            let queue = base.join(&name).join("queue");
            let mut a: Attributes = [("name".to_string(), name)].into();
            // NFD only debug-logs unreadable queue attributes, so they just go missing.
            for attr in QUEUE_ATTRS {
                if let Ok(v) = read_trimmed(&queue.join(attr)) {
                    a.insert(attr.into(), v);
                }
            }
            a
        })
        .collect();
    out.instances("block", devices);
}
