//! Any bytes as a spec: lint (with a snapshot), decoding, evaluation and the report must
//! neither panic nor hang nor allocate without bound.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nodefit_core::eval::{evaluate, Options};
use nodefit_core::features::Features;
use nodefit_core::{lint, parse_spec, report, snapshot};

fn node() -> &'static Features {
    static NODE: OnceLock<Features> = OnceLock::new();
    NODE.get_or_init(|| {
        snapshot::parse(include_str!("../../tests/data/samples/intel-spr-h100-cx6.features.json"))
            .unwrap()
            .nodes
            .remove(0)
            .features
    })
}

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let snaps = [lint::LintSnapshot { name: "intel", features: node() }];
    let diagnostics = lint::lint(&src, &snaps);
    let _ = lint::apply_fixes(&src, &diagnostics);
    let _ = lint::to_json("fuzz.yaml", &src, &diagnostics);
    if let Ok(spec) = parse_spec(&src) {
        if let Ok(evaluation) = evaluate(&spec, node(), &Options::default()) {
            let _ = report::to_go_json(&report::build(&spec, &evaluation, node()));
        }
    }
});
