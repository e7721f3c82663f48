//! nodefit's web UI: a Leptos client-side app compiled to WebAssembly, served by `nodefit serve`.
//!
//! Lint, autocomplete and single-node evaluation run here, in the browser, through
//! `nodefit-core` (the same code as the CLI); the server is reached only through `/api/v1` for
//! what must be shared or signed (snapshots, spec versions, the fleet matrix, publishing).
//! `docs/ui.md` describes the pages; ARCHITECTURE.md why it is built this way.

pub mod api;
pub mod app;
pub mod builder;
pub mod codemirror;
pub mod complete;
pub mod components;
pub mod drafts;
pub mod examples;
pub mod format;
pub mod offsets;
pub mod pages;
pub mod problem;
pub mod results;
pub mod route;
pub mod state;
pub mod vocab;

/// A size as people read it: `5 MiB`, `1.5 KiB`, `300 bytes`.
pub fn size_text(bytes: u64) -> String {
    let (unit, name) = match bytes {
        b if b >= 1 << 20 => (1u64 << 20, "MiB"),
        b if b >= 1 << 10 => (1 << 10, "KiB"),
        _ => return format!("{bytes} bytes"),
    };
    if bytes.is_multiple_of(unit) {
        format!("{} {name}", bytes / unit)
    } else {
        format!("{:.1} {name}", bytes as f64 / unit as f64)
    }
}

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(app::App);
}
