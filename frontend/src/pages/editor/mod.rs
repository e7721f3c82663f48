//! The Editor tab: open and save specs (`spec_bar`), what else can be done with the text
//! (`toolbar`: examples, files, images, share links, format, what Tab does), CodeMirror with
//! the core's lint on every keystroke and the problems list (`problem_list`), and beside it
//! either the results that follow every edit (`live_panel`) or the rule builder that edits the
//! same text (`outline` to select a part, `builder_form` to add to it or change it, with the
//! `fields` the forms share).

mod builder_form;
mod fields;
mod live_panel;
mod outline;
mod problem_list;
mod spec_bar;
mod toolbar;

use leptos::html::Div;
use leptos::prelude::*;

use crate::codemirror::Editor;
use crate::complete;
use crate::state::AppState;

use live_panel::LivePanel;
use outline::RuleBuilder;
use problem_list::ProblemList;
use spec_bar::SpecBar;
use toolbar::Toolbar;

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
    let builder = RwSignal::new(false);
    let side = move |on: bool, label: &'static str| {
        view! {
            <button
                type="button"
                class="side-switch"
                aria-pressed=move || (builder.get() == on).to_string()
                on:click=move |_| builder.set(on)
            >
                {label}
            </button>
        }
    };
    view! {
        <h2 class="visually-hidden" id="editor-heading">"Editor"</h2>
        <SpecBar app/>
        <Toolbar app/>
        <div class="editor-layout">
            <div class="editor-column">
                <div class="editor-host" node_ref=host data-testid="editor"></div>
                <ProblemList app/>
            </div>
            <div class="side-column">
                <div class="side-switches" role="group" aria-label="Beside the editor">
                    {side(false, "Results")}
                    {side(true, "Rule builder")}
                </div>
                {move || if builder.get() {
                    view! { <RuleBuilder app/> }.into_any()
                } else {
                    view! { <LivePanel app/> }.into_any()
                }}
            </div>
        </div>
    }
}

/// Creates CodeMirror in `host` and wires it to the app: every change updates the text, the
/// problems, the draft and the results, and completions come from the catalog and the stored
/// snapshots. It is created once and stays mounted (hidden on other tabs), so that its undo
/// history survives switching tabs.
fn mount(host: &web_sys::HtmlElement, app: AppState) {
    let editor = Editor::mount(
        host,
        &app.text.get_untracked(),
        "Spec YAML",
        move |text, found| app.edited(text, found),
        move |text, at, explicit| {
            app.index
                .with_untracked(|index| complete::complete(text, at, explicit, index))
        },
        move |indents| app.tab_indents.set(indents),
    );
    editor.set_tab_indent(app.tab_indents.get_untracked());
    app.editor.set_value(Some(editor));
}
