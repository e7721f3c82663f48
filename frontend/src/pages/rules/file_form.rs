//! One NodeFeatureRule file in a form: pasted or opened from a local file, named, saved in place
//! (the server keeps no versions of rule files) and deleted after the dialog.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::nodefeaturerules::{CreateRuleFile, RuleFile, UpdateRuleFile};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::api;
use crate::components::focus_id;
use crate::state::AppState;

use super::Form;

/// The largest file the server keeps (`MAX_RULE_FILE_BYTES`, docs/server.md): a larger one is
/// refused before it is read into the page.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[component]
pub fn FileForm(
    app: AppState,
    form: Form,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let new_file = move |_| form.replace(app, "a new file", move || form.show(None));
    let on_pick = move |ev: ev::Event| {
        let input: web_sys::HtmlInputElement = ev.target().expect("an input").unchecked_into();
        let Some(file) = input.files().and_then(|l| l.get(0)) else {
            return;
        };
        input.set_value("");
        let name = file.name();
        if file.size() > MAX_FILE_BYTES as f64 {
            app.error(format!(
                "{name} is {}; a NodeFeatureRule file may be at most {}.",
                crate::size_text(file.size() as u64),
                crate::size_text(MAX_FILE_BYTES)
            ));
            return;
        }
        spawn_local(async move {
            let Some(text) = JsFuture::from(file.text())
                .await
                .ok()
                .and_then(|t| t.as_string())
            else {
                app.error(format!("{name} could not be read as text."));
                return;
            };
            let stem = name
                .rsplit_once('.')
                .map_or(name.as_str(), |(s, _)| s)
                .to_string();
            form.replace(app, &format!("opening {name}"), move || {
                form.show(None);
                form.name.set(stem.clone());
                form.content.set(text.clone());
                app.info(format!("Opened {name} as a new file: save it to keep it."));
            });
        });
    };
    let save = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let name = form.name.get_untracked().trim().to_string();
        if name.is_empty() {
            app.error(
                "Name the file first: the name is how the list and `nodefit labels` find it.",
            );
            focus_id("rule-file-name");
            return;
        }
        let content = form.content.get_untracked();
        let stored = form.stored.get_untracked();
        busy.set(true);
        spawn_local(async move {
            let saved = match &stored {
                Some(f) => {
                    let update = UpdateRuleFile {
                        content,
                        name: (f.name != name).then(|| name.clone()),
                    };
                    let path = format!("/nodefeaturerules/{}", f.id);
                    api::call::<RuleFile>("PUT", &path, api::json(&update)).await
                }
                None => {
                    let create = CreateRuleFile {
                        name: name.clone(),
                        content,
                    };
                    api::call::<RuleFile>("POST", "/nodefeaturerules", api::json(&create)).await
                }
            };
            match saved {
                Ok(file) => {
                    app.info(format!("Saved {}.", file.name));
                    form.show(Some(file));
                    reload();
                }
                Err(e) => app.error(format!("Not saved. {e}")),
            }
            busy.set(false);
        });
    };
    let delete = move |_| {
        let Some(file) = form.stored.get_untracked() else {
            return;
        };
        let name = file.name.clone();
        app.confirm(
            format!("Delete NodeFeatureRule file {name}?"),
            format!(
                "{name} is deleted from the server for everyone, with any unsaved changes in the form. Clusters it was applied to keep their copy. This cannot be undone; saving its YAML again stores it again."
            ),
            format!("Delete {name}"),
            move || {
                let name = name.clone();
                let id = file.id;
                spawn_local(async move {
                    let path = format!("/nodefeaturerules/{id}");
                    match api::send("DELETE", &path, api::Body::None).await {
                        Ok(_) => {
                            app.info(format!("Deleted {name}."));
                            form.show(None);
                            reload();
                        }
                        Err(e) => app.error(format!("Not deleted. {e}")),
                    }
                });
            },
        );
    };
    let may_write = move || app.may("write");
    let state = move || {
        let saved = form.stored.with(|s| {
            s.as_ref()
                .map(|f| (f.updated_at.clone(), f.created_by.clone()))
        });
        match (saved, form.dirty()) {
            (Some((at, _)), true) => format!("saved {at}, with unsaved changes"),
            (Some((at, by)), false) => format!("saved {at} (created by {by})"),
            (None, _) => "new file, not saved yet".to_string(),
        }
    };

    view! {
        <form class="rule-form" aria-labelledby="rule-form-heading" on:submit=save>
            <h3 id="rule-form-heading">
                {move || form.stored.with(|s| match s {
                    Some(f) => f.name.clone(),
                    None => "New NodeFeatureRule file".to_string(),
                })}
            </h3>
            <div class="toolbar">
                <button type="button" data-testid="new-rule-file" on:click=new_file>"New file"</button>
                <label class="filepick button-like">
                    "Open file…"
                    <input type="file" accept=".yaml,.yml,.json,text/yaml,application/json" data-testid="open-rule-file" on:change=on_pick/>
                </label>
                <span class="muted" aria-live="polite" data-testid="rule-save-state">{state}</span>
            </div>
            <label class="block" for="rule-file-name">"Name"</label>
            <input
                id="rule-file-name"
                data-testid="rule-file-name"
                placeholder="gpu-labels"
                prop:value=move || form.name.get()
                on:input=move |ev| form.name.set(event_target_value(&ev))
            />
            <label class="block" for="rule-file-content">"NodeFeatureRule (YAML or JSON; several documents may follow each other)"</label>
            <textarea
                id="rule-file-content"
                class="rule-text"
                data-testid="rule-file-content"
                rows="18"
                spellcheck="false"
                placeholder="apiVersion: nfd.k8s-sigs.io/v1alpha1"
                prop:value=move || form.content.get()
                on:input=move |ev| form.content.set(event_target_value(&ev))
            ></textarea>
            <div class="toolbar">
                <button
                    type="submit"
                    data-testid="save-rule-file"
                    disabled=move || busy.get() || !may_write()
                    title=move || (!may_write()).then_some("Saving needs the author role")
                >
                    "Save"
                </button>
                {move || form.stored.with(Option::is_some).then(|| view! {
                    <button
                        type="button"
                        class="danger"
                        data-testid="delete-rule-file"
                        disabled=move || !may_write()
                        title=move || (!may_write()).then_some("Deleting needs the author role")
                        on:click=delete
                    >
                        "Delete"
                    </button>
                })}
            </div>
        </form>
    }
}
