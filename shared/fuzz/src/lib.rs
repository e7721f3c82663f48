//! What the fuzz targets share: the memory bounds and the counting allocator that checks them
//! (the same module `shared/core/tests/memory_bounds.rs` uses, so a fuzzer and a property test
//! hold the core to one set of numbers), and the node the targets evaluate against.

use std::sync::OnceLock;

use nodefit_core::features::Features;
use nodefit_core::snapshot;

#[path = "../../core/tests/bounds/mod.rs"]
pub mod bounds;

#[global_allocator]
static METER: bounds::Meter = bounds::Meter;

/// A real node (Sapphire Rapids, H100, ConnectX-6), parsed once.
pub fn node() -> &'static Features {
    static NODE: OnceLock<Features> = OnceLock::new();
    NODE.get_or_init(|| {
        snapshot::parse(include_str!(
            "../../core/tests/data/samples/intel-spr-h100-cx6.features.json"
        ))
        .expect("the sample parses")
        .nodes
        .remove(0)
        .features
    })
}
