//! The Editor tab: open and save specs (`spec_bar`), CodeMirror with the core's lint on every
//! keystroke and the problems list (`problem_list`), and the rule builder that edits the same
//! text (`outline` to select a part, `builder_form` to add to it or change it, with the
//! `fields` the forms share).

mod builder_form;
mod fields;
mod outline;
mod problem_list;
mod spec_bar;

use leptos::html::Div;
use leptos::prelude::*;

use crate::codemirror::Editor;
use crate::complete;
use crate::state::AppState;

use outline::RuleBuilder;
use problem_list::ProblemList;
use spec_bar::SpecBar;

#[component]
pub fn EditorPage(app: AppState) -> impl IntoView {
    let host = NodeRef::<Div>::new();
    Effect::new(move |mounted: Option<bool>| {
        if mounted == Some(true) {
            return true;
        }
        match host.get() {
            Some(el) => {
                mount(&el, app);
                true
            }
            None => false,
        }
    });
    view! {
        <h2 class="visually-hidden" id="editor-heading">"Editor"</h2>
        <SpecBar app/>
        <div class="editor-layout">
            <div class="editor-column">
                <div class="editor-host" node_ref=host data-testid="editor"></div>
                <ProblemList app/>
            </div>
            <RuleBuilder app/>
        </div>
    }
}

/// Creates CodeMirror in `host` and wires it to the app: every change updates the text and the
/// problems, and completions come from the catalog and the stored snapshots. It is created
/// once and stays mounted (hidden on other tabs), so that its undo history survives switching
/// tabs.
fn mount(host: &web_sys::HtmlElement, app: AppState) {
    let editor = Editor::mount(
        host,
        &app.text.get_untracked(),
        "Spec YAML",
        move |text, found| {
            app.text.set(text);
            app.problems.set(found);
        },
        move |text, at, explicit| {
            app.index
                .with_untracked(|index| complete::complete(text, at, explicit, index))
        },
    );
    app.editor.set_value(Some(editor));
}
