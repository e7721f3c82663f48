//! Any bytes as a spec: lint (with a snapshot), fixes, lint JSON, decoding, evaluation and the
//! report must neither panic nor hang nor allocate beyond the spec bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nodefit_core_fuzz::{bounds, node};

fuzz_target!(|data: &[u8]| {
    bounds::spec(&String::from_utf8_lossy(data), node());
});
