//! Parts several pages show the same way: the confirmation dialog, the read-only spec viewer,
//! and an artifact's signatures.

mod dialog;
mod signature;
mod viewer;

pub use dialog::DialogHost;
pub use signature::Signatures;
pub use viewer::ViewerHost;

use wasm_bindgen::JsCast;

/// Focuses the element `id`, if it is in the page.
pub fn focus_id(id: &str) {
    if let Some(el) = leptos::prelude::document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}
