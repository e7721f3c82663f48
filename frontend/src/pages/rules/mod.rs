//! The Rules tab: the NodeFeatureRule files kept on the server, one of them in a form to write,
//! save or delete (`file_form`), its lint (`lint`), and what nfd-master would apply with it on
//! the stored nodes (`dry_run`).
//!
//! Lint and the dry run are the server's (`POST /nodefeaturerules/{id}/lint` and `/labels`, the
//! same code as `nodefit lint` and `nodefit labels`), and both read the stored file: an answer
//! is marked when the form holds changes it does not include.

mod dry_run;
mod file_form;
mod lint;

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::nodefeaturerules::RuleFile;

use crate::api;
use crate::state::{AppState, Tab};

use dry_run::DryRun;
use file_form::FileForm;
use lint::Lint;

/// The file in the form: the stored one it started from, and its fields as edited.
#[derive(Clone, Copy)]
struct Form {
    /// With its content; `None` for a file not saved yet.
    stored: RwSignal<Option<RuleFile>>,
    name: RwSignal<String>,
    content: RwSignal<String>,
}

impl Form {
    fn new() -> Form {
        Form {
            stored: RwSignal::new(None),
            name: RwSignal::new(String::new()),
            content: RwSignal::new(String::new()),
        }
    }

    /// Whether the fields hold something the server does not have.
    fn dirty(&self) -> bool {
        let (name, content) = (self.name.get(), self.content.get());
        self.stored.with(|s| match s {
            Some(f) => f.name != name || f.content.as_deref() != Some(&content),
            None => !content.trim().is_empty(),
        })
    }

    /// Puts `file` in the form as stored; `None` empties it for a new file.
    fn show(&self, file: Option<RuleFile>) {
        let (name, content) = file.as_ref().map_or_else(Default::default, |f| {
            (f.name.clone(), f.content.clone().unwrap_or_default())
        });
        self.name.set(name);
        self.content.set(content);
        self.stored.set(file);
    }

    /// Runs `replace` once unsaved changes may be lost: at once when there are none, else after
    /// the dialog, which says that `what` discards them.
    fn replace(&self, app: AppState, what: &str, replace: impl Fn() + Send + Sync + 'static) {
        if !self.dirty_untracked() {
            replace();
            return;
        }
        let name = self.name.get_untracked();
        let name = if name.trim().is_empty() {
            "the new file".to_string()
        } else {
            name
        };
        app.confirm(
            "Discard unsaved changes?",
            format!(
                "The changes to {name} are not saved: {what} discards them. This cannot be undone."
            ),
            "Discard changes",
            replace,
        );
    }

    fn dirty_untracked(&self) -> bool {
        untrack(|| self.dirty())
    }

    /// Why an answer about the stored file with `content_hash` is not about the form as it is,
    /// if it is not.
    fn stale(&self, content_hash: &str) -> Option<&'static str> {
        let saved_since = self
            .stored
            .with(|s| s.as_ref().is_some_and(|f| f.content_hash != content_hash));
        if saved_since {
            Some("the file was saved since. Ask again for the saved file's answer.")
        } else if self.dirty() {
            Some("it is of the saved file, without the form's unsaved changes. Save, then ask again.")
        } else {
            None
        }
    }
}

/// "Out of date: …" above an answer the form's file has moved on from.
fn stale_mark(why: Option<&'static str>) -> impl IntoView {
    why.map(|why| {
        view! {
            <p class="stale-mark" role="status" data-testid="rules-stale">
                <strong>"Out of date: "</strong>
                {why}
            </p>
        }
    })
}

#[component]
pub fn RulesPage(app: AppState) -> impl IntoView {
    let files = RwSignal::new(Vec::<RuleFile>::new());
    let form = Form::new();
    let load = move || {
        spawn_local(async move {
            match api::every::<RuleFile>("/nodefeaturerules").await {
                Ok(list) => files.set(list),
                Err(e) => app.error(format!(
                    "The NodeFeatureRule files could not be listed. {e}"
                )),
            }
        })
    };
    Effect::new(move |_| {
        if app.tab.get() == Tab::Rules {
            load();
        }
    });
    let open = move |id: i64| {
        form.replace(app, "opening another file", move || {
            spawn_local(async move {
                let path = format!("/nodefeaturerules/{id}");
                match api::call::<RuleFile>("GET", &path, api::Body::None).await {
                    Ok(file) => form.show(Some(file)),
                    Err(e) => app.error(format!("The file could not be opened. {e}")),
                }
            })
        });
    };
    let open_id = Memo::new(move |_| form.stored.with(|s| s.as_ref().map(|f| f.id)));

    view! {
        <h2 id="rules-heading">"Rules"</h2>
        <p class="help">
            "NodeFeatureRule files kept on the server: lint one, and see the labels, annotations,
            extended resources and taints nfd-master would put on the stored nodes with it, before
            applying it to a cluster."
        </p>
        <div class="rules-layout">
            <table data-testid="rule-files">
                <caption>{move || match files.with(Vec::len) {
                    0 => "No NodeFeatureRule files yet: paste one in the form or open a file.".to_string(),
                    1 => "1 NodeFeatureRule file".to_string(),
                    n => format!("{n} NodeFeatureRule files"),
                }}</caption>
                <thead>
                    <tr><th scope="col">"Name"</th><th scope="col">"Saved"</th></tr>
                </thead>
                <tbody>
                    {move || files.get().into_iter().map(|f| {
                        let id = f.id;
                        let current = move || open_id.get() == Some(id);
                        view! {
                            <tr data-testid="rule-file">
                                <th scope="row">
                                    <button
                                        type="button"
                                        class="linklike"
                                        aria-current=move || current().then_some("true")
                                        on:click=move |_| open(id)
                                    >
                                        {f.name}
                                    </button>
                                    {move || current().then_some(view! { <span class="muted">" (in the form)"</span> })}
                                </th>
                                <td>{f.updated_at}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <div>
                <FileForm app form reload=load/>
                {move || open_id.get().map(|id| view! { <Lint app form id/> })}
            </div>
        </div>
        {move || open_id.get().map(|id| view! { <DryRun app form id/> })}
    }
}
