//! The spec editor: CodeMirror 6 (bundled from `frontend/editor/`) driven from Rust. CodeMirror
//! calls back into Rust on every change; Rust runs the core's lint on the new text and hands back
//! diagnostics with UTF-16 positions, which CodeMirror shows as underlines, gutter markers,
//! hover messages and quick-fix actions.

use leptos::prelude::*;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use nodefit_core::lint::{self, Diagnostic};
use nodefit_core::source::LineIndex;

use crate::builder::Edit;
use crate::complete;
use crate::offsets::Offsets;
use crate::state::AppState;

#[wasm_bindgen]
extern "C" {
    /// The object `frontend/editor/src/editor.js` returns.
    pub type JsEditor;

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
}

/// A lint fix as the editor applies it (UTF-16 positions).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuickFix {
    pub label: String,
    pub from: usize,
    pub to: usize,
    pub insert: String,
}

/// One diagnostic, for CodeMirror and the problems list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    pub code: &'static str,
    pub severity: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub line: usize,
    pub column: usize,
    pub from: usize,
    pub to: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<QuickFix>,
}

fn short(s: &str) -> String {
    let one_line = s.replace('\n', "⏎");
    if one_line.chars().count() > 40 {
        format!("{}…", one_line.chars().take(40).collect::<String>())
    } else {
        one_line
    }
}

/// Lints `text` with the core and converts the diagnostics for the editor.
pub fn problems(text: &str) -> Vec<Problem> {
    let diagnostics = lint::lint(text, &[]);
    let offsets = Offsets::new(text);
    let lines = LineIndex::new(text);
    diagnostics
        .iter()
        .map(|d: &Diagnostic| {
            let (line, column) = lines.line_col(d.span.start);
            Problem {
                code: d.code,
                severity: d.severity.as_str(),
                message: d.message.clone(),
                hint: d.hint.clone(),
                line,
                column,
                from: offsets.to_utf16(d.span.start),
                to: offsets.to_utf16(d.span.end),
                fix: d.fix.as_ref().map(|f| {
                    let old = text.get(f.span.start..f.span.end).unwrap_or_default();
                    let label = match (old.is_empty(), f.replacement.is_empty()) {
                        (true, _) => format!("Insert `{}`", short(&f.replacement)),
                        (false, true) => format!("Delete `{}`", short(old)),
                        (false, false) => {
                            format!("Replace `{}` with `{}`", short(old), short(&f.replacement))
                        }
                    };
                    QuickFix {
                        label,
                        from: offsets.to_utf16(f.span.start),
                        to: offsets.to_utf16(f.span.end),
                        insert: f.replacement.clone(),
                    }
                }),
            }
        })
        .collect()
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
    options: Vec<crate::vocab::Suggestion>,
}

/// Creates the editor in `host` and wires it to the app state. The callbacks live as long as
/// the page: the editor is created once and kept mounted (hidden on other tabs) so that its
/// undo history survives switching tabs.
pub fn mount(host: &web_sys::HtmlElement, app: AppState) {
    let change = Closure::<dyn FnMut(String) -> String>::new(move |text: String| {
        let found = problems(&text);
        let json = serde_json::to_string(&found).unwrap_or_else(|_| "[]".into());
        app.text.set(text);
        app.problems.set(found);
        json
    });
    let complete = Closure::<dyn FnMut(String, u32, bool) -> String>::new(
        move |text: String, pos: u32, explicit: bool| {
            let offsets = Offsets::new(&text);
            let at = offsets.to_byte(pos as usize);
            app.index.with_untracked(|index| {
                complete::complete(&text, at, explicit, index)
                    .map(|c| {
                        serde_json::to_string(&JsCompletion {
                            from: offsets.to_utf16(c.from),
                            to: offsets.to_utf16(c.to),
                            options: c.options,
                        })
                        .unwrap_or_default()
                    })
                    .unwrap_or_default()
            })
        },
    );
    let hooks = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&hooks, &"change".into(), change.as_ref());
    let _ = js_sys::Reflect::set(&hooks, &"complete".into(), complete.as_ref());
    change.forget();
    complete.forget();
    let initial = app.text.get_untracked();
    let editor = create(host, &initial, &hooks, "Spec YAML");
    app.editor.set_value(Some(editor));
}

/// The editor's text right now. `app.text` follows it a microtask later (when the lint has
/// run), so whatever must not miss the latest change (saving) asks the editor.
pub fn current_text(app: AppState) -> String {
    app.editor
        .with_value(|e| e.as_ref().map(JsEditor::text))
        .unwrap_or_else(|| app.text.get_untracked())
}

/// Replaces the whole text (undoable): loading a spec or restoring a version.
pub fn set_text(app: AppState, text: &str) {
    app.editor.with_value(|e| {
        if let Some(e) = e {
            e.set_text(text);
        }
    });
}

/// Applies a builder edit (byte offsets into the current text) as one undoable change.
pub fn apply(app: AppState, edit: &Edit) {
    app.editor.with_value(|e| {
        let Some(e) = e else { return };
        let text = e.text();
        let offsets = Offsets::new(&text);
        let changes: Vec<JsChange> = edit
            .iter()
            .map(|c| JsChange {
                from: offsets.to_utf16(c.start),
                to: offsets.to_utf16(c.end),
                insert: &c.insert,
            })
            .collect();
        e.edit_json(&serde_json::to_string(&changes).unwrap_or_default());
    });
}

/// Applies a lint quick fix.
pub fn apply_fix(app: AppState, fix: &QuickFix) {
    app.editor.with_value(|e| {
        if let Some(e) = e {
            let changes = [JsChange {
                from: fix.from,
                to: fix.to,
                insert: &fix.insert,
            }];
            e.edit_json(&serde_json::to_string(&changes).unwrap_or_default());
        }
    });
}

/// Selects a range of the text (UTF-16 offsets) and focuses the editor.
pub fn select(app: AppState, from: usize, to: usize) {
    app.editor.with_value(|e| {
        if let Some(e) = e {
            e.select(from as u32, to as u32);
        }
    });
}

/// Selects a byte range of the current text.
pub fn select_bytes(app: AppState, start: usize, end: usize) {
    let offsets = app.text.with_untracked(|t| Offsets::new(t));
    select(app, offsets.to_utf16(start), offsets.to_utf16(end));
}

pub fn focus(app: AppState) {
    app.editor.with_value(|e| {
        if let Some(e) = e {
            e.focus();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_lines_and_fix_labels() {
        let text = "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: kernel.loadedmodule\n      matchExpressions:\n        vfio-pci: {op: Exists}\n";
        let found = problems(text);
        let hyphen = found
            .iter()
            .find(|p| p.code == "module-name-hyphen")
            .expect("module-name-hyphen");
        assert_eq!(hyphen.line, 8);
        assert_eq!(hyphen.severity, "warning");
        let fix = hyphen.fix.as_ref().expect("a fix");
        assert_eq!(fix.insert, "vfio_pci");
        assert_eq!(fix.label, "Replace `vfio-pci` with `vfio_pci`");
        assert_eq!(&text[fix.from..fix.to], "vfio-pci");
    }
}
