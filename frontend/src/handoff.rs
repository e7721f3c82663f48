//! Handing text to the user through the browser: as a downloaded file, or on the clipboard.

use wasm_bindgen::{JsCast, JsValue};

/// Saves `text` as the file `name` through the browser's download.
pub fn download(name: &str, text: &str, mime: &str) -> Result<(), String> {
    let unprepared = |_| "The browser could not prepare the download.".to_string();
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob =
        web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(unprepared)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(unprepared)?;
    let a: web_sys::HtmlAnchorElement = leptos::prelude::document()
        .create_element("a")
        .map_err(unprepared)?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// Puts `text` on the clipboard (`navigator.clipboard.writeText`, reached by name: web-sys
/// gates its Clipboard API behind an unstable flag).
pub fn copy(text: &str) -> Result<(), String> {
    let refused = |_| "The browser did not let the page use the clipboard.".to_string();
    let navigator = leptos::prelude::window().navigator();
    let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).map_err(refused)?;
    let write: js_sys::Function = js_sys::Reflect::get(&clipboard, &"writeText".into())
        .map_err(refused)?
        .dyn_into()
        .map_err(refused)?;
    write
        .call1(&clipboard, &JsValue::from_str(text))
        .map_err(refused)?;
    Ok(())
}
