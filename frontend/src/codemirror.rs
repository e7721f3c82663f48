//! The bridge to CodeMirror 6 (bundled from `frontend/editor/`, `nodefitEditor` in the page).
//! CodeMirror calls back into Rust on every change; the bridge runs the core's lint on the new
//! text and hands the problems back for underlines, gutter markers, hover messages and quick
//! fixes. Positions cross the boundary as UTF-16 offsets, CodeMirror's unit; the app works in
//! the core's byte offsets, and the bridge converts.
//!
//! It knows nothing of the app's state: what a change or a completion means to the app comes in
//! as callbacks, so the app's state can own the editor without the two depending on each other.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::builder::Edit;
use crate::complete::Completion;
use crate::offsets::Offsets;
use crate::problem::{self, Problem, QuickFix};
use crate::vocab::Suggestion;

#[wasm_bindgen]
extern "C" {
    /// The object `frontend/editor/src/editor.js` returns.
    type JsEditor;

    #[wasm_bindgen(js_namespace = nodefitEditor, js_name = create)]
    fn create(
        parent: &web_sys::HtmlElement,
        doc: &str,
        hooks: &js_sys::Object,
        label: &str,
    ) -> JsEditor;

    #[wasm_bindgen(method)]
    fn text(this: &JsEditor) -> String;

    #[wasm_bindgen(method, js_name = setText)]
    fn set_text(this: &JsEditor, text: &str);

    #[wasm_bindgen(method, js_name = edit)]
    fn edit_json(this: &JsEditor, changes: &str);

    #[wasm_bindgen(method)]
    fn select(this: &JsEditor, from: u32, to: u32);

    #[wasm_bindgen(method)]
    fn focus(this: &JsEditor);

    #[wasm_bindgen(method, js_name = setTabIndent)]
    fn set_tab_indent(this: &JsEditor, on: bool);
}

#[derive(Serialize)]
struct JsChange<'a> {
    from: usize,
    to: usize,
    insert: &'a str,
}

#[derive(Serialize)]
struct JsCompletion {
    from: usize,
    to: usize,
    options: Vec<Suggestion>,
}

/// A mounted CodeMirror editor.
pub struct Editor {
    js: JsEditor,
}

impl Editor {
    /// Creates the editor in `host`, holding `text`. After every change (and once at creation)
    /// the core lints the text; CodeMirror shows the problems, then `on_change` receives the
    /// text and them. `complete(text, byte offset, explicit)` answers completion requests
    /// (`explicit`: asked for with Ctrl-Space). `on_tab_mode(indents)` hears when Ctrl-M
    /// switches what Tab does. The callbacks live as long as the page, as the editor does.
    pub fn mount(
        host: &web_sys::HtmlElement,
        text: &str,
        label: &str,
        mut on_change: impl FnMut(String, Vec<Problem>) + 'static,
        complete: impl Fn(&str, usize, bool) -> Option<Completion> + 'static,
        on_tab_mode: impl Fn(bool) + 'static,
    ) -> Editor {
        let change = Closure::<dyn FnMut(String) -> String>::new(move |text: String| {
            let found = problem::lint(&text);
            let json = serde_json::to_string(&found).unwrap_or_else(|_| "[]".into());
            on_change(text, found);
            json
        });
        let complete = Closure::<dyn FnMut(String, u32, bool) -> String>::new(
            move |text: String, pos: u32, explicit: bool| {
                let offsets = Offsets::new(&text);
                complete(&text, offsets.to_byte(pos as usize), explicit)
                    .map(|c| {
                        serde_json::to_string(&JsCompletion {
                            from: offsets.to_utf16(c.from),
                            to: offsets.to_utf16(c.to),
                            options: c.options,
                        })
                        .unwrap_or_default()
                    })
                    .unwrap_or_default()
            },
        );
        let tab_mode = Closure::<dyn Fn(bool)>::new(on_tab_mode);
        let hooks = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&hooks, &"change".into(), change.as_ref());
        let _ = js_sys::Reflect::set(&hooks, &"complete".into(), complete.as_ref());
        let _ = js_sys::Reflect::set(&hooks, &"tabMode".into(), tab_mode.as_ref());
        change.forget();
        complete.forget();
        tab_mode.forget();
        Editor {
            js: create(host, text, &hooks, label),
        }
    }

    /// The text right now, including a change whose lint has not run yet.
    pub fn text(&self) -> String {
        self.js.text()
    }

    /// Replaces the whole text (undoable): loading a spec or restoring a version.
    pub fn set_text(&self, text: &str) {
        self.js.set_text(text);
    }

    /// Applies a builder edit (byte offsets into the current text) as one undoable change.
    pub fn apply(&self, edit: &Edit) {
        let text = self.js.text();
        let offsets = Offsets::new(&text);
        let changes: Vec<JsChange> = edit
            .iter()
            .map(|c| JsChange {
                from: offsets.to_utf16(c.start),
                to: offsets.to_utf16(c.end),
                insert: &c.insert,
            })
            .collect();
        self.edit(&changes);
    }

    /// Applies a lint quick fix.
    pub fn apply_fix(&self, fix: &QuickFix) {
        self.edit(&[JsChange {
            from: fix.from,
            to: fix.to,
            insert: &fix.insert,
        }]);
    }

    fn edit(&self, changes: &[JsChange]) {
        self.js
            .edit_json(&serde_json::to_string(changes).unwrap_or_default());
    }

    /// Selects a range of the text (UTF-16 offsets) and focuses the editor.
    pub fn select(&self, from: usize, to: usize) {
        self.js.select(from as u32, to as u32);
    }

    /// Selects the byte range `start..end` of `text`, the text the range was found in.
    pub fn select_bytes(&self, text: &str, start: usize, end: usize) {
        let offsets = Offsets::new(text);
        self.select(offsets.to_utf16(start), offsets.to_utf16(end));
    }

    pub fn focus(&self) {
        self.js.focus();
    }

    /// Whether Tab indents (`true`) or moves focus out of the editor (`false`, the default,
    /// so that tabbing through the page never edits the YAML).
    pub fn set_tab_indent(&self, on: bool) {
        self.js.set_tab_indent(on);
    }
}
