//! The input kinds the core reads, what each one runs through, the memory bound it keeps, and
//! the counting allocator that checks the bounds. Shared by `tests/memory_bounds.rs`
//! (proptest inputs) and the fuzz targets in `shared/fuzz` (coverage-guided inputs), so both
//! run the same code under the same numbers, which docs/testing.md states.
//!
//! The meter counts per thread: the test harness runs tests on several threads, and the core
//! starts none, so a thread's count is exactly what the core allocated for its caller.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write as _;

use nodefit_core::eval::{evaluate, Options};
use nodefit_core::features::Features;
use nodefit_core::snapshot::{self, SnapshotError, Snapshots};
use nodefit_core::{goregex, lint, parse_spec, report};

/// The system allocator, counting live and peak bytes of the allocating thread, and stopping
/// the process when a measured call goes far over its bound.
pub struct Meter;

/// How far over its bound a measured call may go before the process is stopped: a smaller
/// overrun is left to finish, so that a test reports (and proptest shrinks) it, while a bomb
/// ends at a few times the bound instead of exhausting the machine.
pub const HARD_CAP_FACTOR: usize = 4;

/// The call being measured on this thread.
#[derive(Clone, Copy)]
struct Watch {
    bound: Bound,
    input_len: usize,
    base: usize,
}

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static WATCH: Cell<Option<Watch>> = const { Cell::new(None) };
}

fn grow(bytes: usize) {
    // `try_with`: an allocation during thread teardown finds the counters gone; it is not
    // measured, and must not panic inside the allocator.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + bytes;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        if let Ok(Some(watch)) = WATCH.try_with(Cell::get) {
            let used = now.saturating_sub(watch.base);
            if used
                > watch
                    .bound
                    .limit(watch.input_len)
                    .saturating_mul(HARD_CAP_FACTOR)
            {
                stop(watch, used);
            }
        }
    });
}

/// Names the input kind and the overrun, then aborts: unwinding out of an allocator is not
/// allowed, and a fuzzer records an abort as a crash, with its input.
fn stop(watch: Watch, used: usize) -> ! {
    // Unbuffered stderr and integer formatting do not allocate.
    let _ = writeln!(
        std::io::stderr(),
        "{}: {} input bytes allocated {used} bytes, over {HARD_CAP_FACTOR} x the bound of {} \
         x {} + {} bytes; stopping",
        watch.bound.kind,
        watch.input_len,
        watch.bound.per_input_byte,
        watch.input_len,
        watch.bound.constant,
    );
    std::process::abort()
}

fn shrink(bytes: usize) {
    // Saturating: a block allocated by another thread may be freed here.
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(bytes)));
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are thread-local cells
// that never allocate.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Old and new block counted together for the moment a copy needs both.
            grow(new_size);
            shrink(layout.size());
        }
        p
    }
}

/// Peak allocation allowed for one input: `per_input_byte` × its length + `constant`.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub kind: &'static str,
    pub per_input_byte: usize,
    pub constant: usize,
}

impl Bound {
    pub fn limit(&self, input_len: usize) -> usize {
        self.per_input_byte
            .saturating_mul(input_len)
            .saturating_add(self.constant)
    }

    /// Runs `f` on an input of `input_len` bytes and returns its result with the most bytes it
    /// held at once (its result included, since the caller holds that too). Panics (a crash to
    /// a fuzzer, a failure to a test) when that is over the bound, and aborts as soon as it is
    /// [`HARD_CAP_FACTOR`] times over.
    pub fn measure<T>(&self, input_len: usize, f: impl FnOnce() -> T) -> (T, usize) {
        /// Ends the watch even when `f` panics (proptest catches the panic and goes on).
        struct Unwatch;
        impl Drop for Unwatch {
            fn drop(&mut self) {
                WATCH.with(|w| w.set(None));
            }
        }
        let base = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(base));
        WATCH.with(|w| {
            w.set(Some(Watch {
                bound: *self,
                input_len,
                base,
            }))
        });
        let unwatch = Unwatch;
        let out = f();
        drop(unwatch);
        let peak = PEAK.with(Cell::get) - base;
        assert!(
            peak <= self.limit(input_len),
            "{}: {input_len} input bytes peaked at {peak} bytes allocated, over the bound of \
             {} x {input_len} + {} = {} bytes",
            self.kind,
            self.per_input_byte,
            self.constant,
            self.limit(input_len)
        );
        (out, peak)
    }
}

const MIB: usize = 1024 * 1024;

/// A spec: lint (against `node`), fixes, lint JSON, decoding, evaluation and the report.
///
/// Per byte: the YAML tree, the decoded spec and a lint diagnostic can each be made for every
/// two or three bytes (`[a,a,a]`, `{name: r}` rules, unknown keys); 60,000 one-line rules
/// measured 134 bytes held per input byte. Constant: what the core's budgets let a few bytes
/// build, the largest being 16 MiB of compiled InRegexp patterns (the regex-spec budget) while
/// one more 4 KiB pattern of Unicode classes is parsed (measured 28.4 MiB), or the YAML alias
/// budgets as for a snapshot (25.1 MiB for 189,000 nodes).
pub const SPEC: Bound = Bound {
    kind: "spec",
    per_input_byte: 192,
    constant: 48 * MIB,
};

/// Runs everything a user can run on a spec within [`SPEC`]; returns the peak.
pub fn spec(src: &str, node: &Features) -> usize {
    SPEC.measure(src.len(), || {
        let snaps = [lint::LintSnapshot {
            name: "node",
            features: node,
        }];
        let diagnostics = lint::lint(src, &snaps);
        let _ = lint::apply_fixes(src, &diagnostics);
        let _ = lint::to_json("spec.yaml", src, &diagnostics);
        if let Ok(spec) = parse_spec(src) {
            if let Ok(evaluation) = evaluate(&spec, node, &Options::default()) {
                let _ = report::to_go_json(&report::build(&spec, &evaluation, node));
            }
        }
    })
    .1
}

/// A snapshot: `snapshot::parse`, any shape, JSON or YAML.
///
/// Per byte: a feature element or a node for every few bytes (measured 47 bytes held per
/// input byte at most). Constant: the YAML alias budgets, 200,000 nodes at about 140 bytes each
/// (measured 25.1 MiB for 189,000 nodes in 677 bytes) and 4 MiB of their text.
pub const SNAPSHOT: Bound = Bound {
    kind: "snapshot",
    per_input_byte: 64,
    constant: 40 * MIB,
};

/// Reads a snapshot within [`SNAPSHOT`]; returns what it read and the peak.
pub fn snapshot(src: &str) -> (Result<Snapshots, SnapshotError>, usize) {
    SNAPSHOT.measure(src.len(), || snapshot::parse(src))
}

/// A `varsTemplate`, counted without the spec [`template_spec`] wraps it in (the constant
/// covers that): lint, then evaluation on a node (parse, execution on the matched elements,
/// `key=value` lines, `rule.matched`).
///
/// Per byte: the parsed template. Constant: the 1 MiB of output a node's evaluation may
/// write (a growing string holds up to three times that while it moves), the copies of the
/// matched elements execution makes, and the wrapping spec (measured 3.4 MiB beyond 64 bytes
/// per template byte).
pub const TEMPLATE: Bound = Bound {
    kind: "template",
    per_input_byte: 64,
    constant: 8 * MIB,
};

/// Lints and evaluates `template` in [`template_spec`] against `node` within [`TEMPLATE`];
/// returns the peak.
pub fn template(template: &str, node: &Features) -> usize {
    let src = template_spec(template);
    TEMPLATE
        .measure(template.len(), || {
            let snaps = [lint::LintSnapshot {
                name: "node",
                features: node,
            }];
            let _ = lint::lint(&src, &snaps);
            if let Ok(spec) = parse_spec(&src) {
                let _ = evaluate(&spec, node, &Options::default());
            }
        })
        .1
}

/// A spec whose one templated rule matches most of a node's elements (on the Sapphire Rapids
/// sample: 88 CPUID flags, the CPU model, 37 kernel config options, the kernel version, 16 PCI
/// devices), so that a template has large lists to range over; a second rule reads its vars
/// through `rule.matched`.
pub fn template_spec(template: &str) -> String {
    let template = serde_json::to_string(template).expect("a string serializes");
    format!(
        r#"{{"version": "v1alpha1", "compatibilities": [{{"rules": [
  {{"name": "templated", "varsTemplate": {template}, "matchFeatures": [
    {{"feature": "cpu.cpuid", "matchName": {{"op": "Exists"}}}},
    {{"feature": "cpu.model", "matchName": {{"op": "Exists"}}}},
    {{"feature": "kernel.config", "matchName": {{"op": "Exists"}}}},
    {{"feature": "kernel.version", "matchName": {{"op": "Exists"}}}},
    {{"feature": "pci.device", "matchExpressions": {{"vendor": {{"op": "Exists"}}}}}}]}},
  {{"name": "reads the vars", "matchFeatures": [
    {{"feature": "rule.matched", "matchName": {{"op": "Exists"}}}}]}}]}}]}}"#
    )
}

/// One `InRegexp` pattern: Go's dialect notes, translation, compilation and one match.
///
/// Per byte: the syntax tree, the translated pattern and the automaton's states for a long
/// literal (measured 237 bytes held per pattern byte on 5,000 characters). Constant: the
/// syntax tree of the longest pattern the core accepts (4 KiB) when it is all Unicode classes,
/// which the parser builds before the compiled-size budget applies (measured 21.6 MiB for
/// `\PL|\PL|…`), and compiling up to the 1 MiB pattern budget (3.2 MiB for `.{1000}`).
pub const REGEXP: Bound = Bound {
    kind: "regexp",
    per_input_byte: 512,
    constant: 32 * MIB,
};

/// Compiles and matches `pattern` within [`REGEXP`]; returns the peak.
pub fn regexp(pattern: &str) -> usize {
    REGEXP
        .measure(pattern.len(), || {
            let _ = goregex::dialect_notes(pattern);
            if let Ok(re) = goregex::compile(pattern) {
                let _ = re.is_match("GenuineIntel avx512f 5.15.0-91-generic \u{e9}\n\x0b_");
            }
        })
        .1
}
