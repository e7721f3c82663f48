//! Any text as an `InRegexp` pattern: translating it from Go's dialect must neither panic nor
//! produce a Rust pattern that fails for a reason other than the ones Go gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nodefit_core::goregex;

fuzz_target!(|data: &[u8]| {
    let pattern = String::from_utf8_lossy(data);
    let _ = goregex::dialect_notes(&pattern);
    if let Ok(re) = goregex::compile(&pattern) {
        let _ = re.is_match("GenuineIntel avx512f 5.15.0-91-generic \u{e9}\n\x0b_");
    }
});
