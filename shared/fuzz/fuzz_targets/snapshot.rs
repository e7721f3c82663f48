//! Any bytes as a snapshot (JSON or YAML, any of the three shapes): reading it must neither
//! panic nor hang nor allocate beyond the snapshot bound; every node it yields is evaluated.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nodefit_core::eval::{evaluate, Options};
use nodefit_core::parse_spec;
use nodefit_core::spec::Spec;
use nodefit_core_fuzz::bounds;

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        parse_spec(include_str!(
            "../../core/tests/data/examples/image-compatibility.yaml"
        ))
        .expect("the example parses")
    })
}

fuzz_target!(|data: &[u8]| {
    if let (Ok(parsed), _) = bounds::snapshot(&String::from_utf8_lossy(data)) {
        for node in &parsed.nodes {
            let _ = evaluate(spec(), &node.features, &Options::default());
        }
    }
});
