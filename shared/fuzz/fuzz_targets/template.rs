//! Any text as a rule's `varsTemplate`, executed against a real node: lint's template check,
//! then evaluation, which parses the template, executes it on the elements the rule matched,
//! reads the `key=value` lines and hands the vars to a second rule through `rule.matched`.
//! Nothing may panic, hang or allocate beyond the template bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nodefit_core_fuzz::{bounds, node};

fuzz_target!(|data: &[u8]| {
    bounds::template(&String::from_utf8_lossy(data), node());
});
