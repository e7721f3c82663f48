//! Any text as an `InRegexp` pattern: translating it from Go's dialect must neither panic nor
//! produce a Rust pattern that fails for a reason other than the ones Go gives, and compiling
//! and matching it must stay within the regexp bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nodefit_core_fuzz::bounds;

fuzz_target!(|data: &[u8]| {
    bounds::regexp(&String::from_utf8_lossy(data));
});
