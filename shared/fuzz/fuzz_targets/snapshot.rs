//! Any bytes as a snapshot (JSON or YAML, any of the three shapes), then evaluated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nodefit_core::eval::{evaluate, Options};
use nodefit_core::{parse_spec, snapshot};

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    if let Ok(parsed) = snapshot::parse(&src) {
        let spec = parse_spec(include_str!("../../tests/data/examples/image-compatibility.yaml")).unwrap();
        for node in &parsed.nodes {
            let _ = evaluate(&spec, &node.features, &Options::default());
        }
    }
});
