//! Generated fleets, for the server's fleet tests and `e2e/bench/fleet-scale.sh`: any number of
//! distinct nodes built from the three sample exports, in pools of similar nodes (as clusters
//! are: node pools of one machine type), each node differing from its pool in a handful of
//! values as real ones do — its host name, its kernel build string and now and then one more
//! loaded module.
//!
//! Deterministic: node `i` of a fleet is the same node every time, whatever the fleet's size.

use std::path::Path;

use serde_json::{json, Value};

/// Node pools: each is one sample with pool-wide changes (see [`pool`]).
pub const POOLS: usize = 24;

/// Modules a node may have loaded beyond its pool's.
const EXTRA_MODULES: [&str; 12] = [
    "bonding",
    "nvme_fabrics",
    "rdma_ucm",
    "ib_ipoib",
    "xfs",
    "overlay",
    "br_netfilter",
    "nf_conntrack",
    "vhost_net",
    "tun",
    "dm_crypt",
    "zram",
];

fn samples() -> [Value; 3] {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/core/tests/data/samples");
    [
        "intel-spr-h100-cx6.features.json",
        "amd-genoa-mi210-rhel9.features.json",
        "arm64-graviton3-al2023.features.json",
    ]
    .map(|file| {
        let text = std::fs::read_to_string(root.join(file)).expect("read a sample export");
        serde_json::from_str(&text).expect("a sample export is JSON")
    })
}

/// A small, fast, deterministic mixer (splitmix64): node `i`'s choices.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Pool `p` of node `i`: larger pools first (pool 0 holds about 8% of nodes, pool 23 under 1%).
pub fn pool_of(i: usize) -> usize {
    let total: u64 = (1..=POOLS as u64).sum();
    let mut r = mix(i as u64) % total;
    for p in 0..POOLS {
        let weight = (POOLS - p) as u64;
        if r < weight {
            return p;
        }
        r -= weight;
    }
    POOLS - 1
}

/// The pool's label value, e.g. `intel-v5`.
pub fn pool_name(p: usize) -> String {
    format!("{}-v{}", ["intel", "amd", "arm"][p % 3], p / 3)
}

/// Generates fleets.
pub struct Generator {
    samples: [Value; 3],
}

impl Default for Generator {
    fn default() -> Self {
        Self::new()
    }
}

impl Generator {
    pub fn new() -> Generator {
        Generator { samples: samples() }
    }

    /// Pool `p`'s features: its sample, with what the example spec reads varied per pool (the
    /// vfio-pci module, a 0eee NIC, the CPU vendor) and its own kernel release.
    fn pool(&self, p: usize) -> Value {
        let mut f = self.samples[p % 3].clone();
        let variant = p / 3;
        if variant & 1 == 1 {
            f["flags"]["kernel.loadedmodule"]["elements"]["vfio-pci"] = json!({});
        }
        if variant & 2 == 2 {
            let nic = json!({"attributes": {"class": "0200", "vendor": "0eee", "device": "10fb"}});
            f["instances"]["pci.device"]["elements"]
                .as_array_mut()
                .expect("the samples list PCI devices")
                .push(nic);
        }
        if variant & 4 == 4 {
            f["attributes"]["cpu.model"]["elements"]["vendor_id"] = json!("Hygon");
        }
        let version = &mut f["attributes"]["kernel.version"]["elements"];
        let full = version["full"].as_str().unwrap_or_default().to_owned();
        version["full"] = json!(format!("{full}-p{p}"));
        f
    }

    /// Node `i`: a NodeFeature with labels `pool`, `zone` and `cloud`.
    pub fn node(&self, i: usize) -> Value {
        let p = pool_of(i);
        let mut f = self.pool(p);
        let r = mix(i as u64 ^ 0x5eed);
        let name = format!("{}-{i:06}", pool_name(p));
        f["attributes"]["system.name"]["elements"]["nodename"] = json!(name);
        // Every node's own kernel build.
        let version = &mut f["attributes"]["kernel.version"]["elements"];
        let full = version["full"].as_str().unwrap_or_default().to_owned();
        version["full"] = json!(format!("{full}.b{}", r % 100_000));
        // A quarter of the nodes have one more module loaded.
        if r.is_multiple_of(4) {
            let module = EXTRA_MODULES[((r >> 8) % EXTRA_MODULES.len() as u64) as usize];
            f["flags"]["kernel.loadedmodule"]["elements"][module] = json!({});
        }
        let cloud = ["onprem", "onprem", "aws"][p % 3];
        let zone = format!("zone-{}", (r >> 16) % 3);
        json!({
            "apiVersion": "nfd.k8s-sigs.io/v1alpha1",
            "kind": "NodeFeature",
            "metadata": {
                "name": name,
                "labels": {
                    "pool": pool_name(p),
                    "zone": zone,
                    "cloud": cloud,
                },
            },
            "spec": {"features": f},
        })
    }

    /// Nodes `from..to` as one NodeFeatureList (JSON).
    pub fn list(&self, from: usize, to: usize) -> String {
        let items: Vec<Value> = (from..to).map(|i| self.node(i)).collect();
        json!({
            "apiVersion": "nfd.k8s-sigs.io/v1alpha1",
            "kind": "NodeFeatureList",
            "items": items,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_distinct_deterministic_and_pooled() {
        let g = Generator::new();
        let a: Vec<String> = (0..300).map(|i| g.node(i).to_string()).collect();
        let distinct: std::collections::HashSet<&String> = a.iter().collect();
        assert_eq!(distinct.len(), 300);
        assert_eq!(g.node(17).to_string(), a[17]);
        let mut sizes = [0usize; POOLS];
        for i in 0..10_000 {
            sizes[pool_of(i)] += 1;
        }
        assert!(sizes[0] > 3 * sizes[POOLS - 1], "{sizes:?}");
        assert!(sizes.iter().all(|&n| n > 0), "{sizes:?}");
    }
}
