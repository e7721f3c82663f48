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
pub mod offsets;
pub mod pages;
pub mod problem;
pub mod state;
pub mod vocab;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(app::App);
}
