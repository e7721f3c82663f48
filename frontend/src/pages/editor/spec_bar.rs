//! The bar above the editor: open a stored spec, start a new one, name it and save it.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::specs::Spec;
use nodefit_api::Page;

use crate::api;
use crate::codemirror::Editor;
use crate::state::{AppState, TEMPLATE};

#[component]
pub fn SpecBar(app: AppState) -> impl IntoView {
    let specs = RwSignal::new(Vec::<Spec>::new());
    let message = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let load_list = move || {
        spawn_local(async move {
            match api::call::<Page<Spec>>("GET", "/specs?limit=200", api::Body::None).await {
                Ok(page) => specs.set(page.items),
                Err(e) => app.error(format!("Listing specs failed: {e}")),
            }
        })
    };
    Effect::new(move |_| {
        if app.me.with(Option::is_some) {
            load_list();
        }
    });
    let new_spec = move |_| {
        app.spec.set(None);
        app.spec_name.set("new-spec".into());
        app.with_editor(|e| e.set_text(TEMPLATE));
        app.info("New spec from the template: name it and save it to keep it.");
        app.with_editor(Editor::focus);
    };
    let do_save = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        if app.spec_name.get_untracked().trim().is_empty() {
            app.error("Give the spec a name before saving it.");
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match app.save(&message.get_untracked()).await {
                Ok(spec) => {
                    app.info(format!("Saved {} as version {}.", spec.name, spec.version));
                    message.set(String::new());
                    load_list();
                }
                Err(e) => app.error(format!("Saving failed: {e}")),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="spec-bar" on:submit=do_save>
            <SpecPicker app specs/>
            <button type="button" on:click=new_spec>"New spec"</button>
            <label>
                "Name "
                <input
                    data-testid="spec-name"
                    prop:value=move || app.spec_name.get()
                    on:input=move |ev| app.spec_name.set(event_target_value(&ev))
                />
            </label>
            <label>
                "Message "
                <input
                    placeholder="what changed (optional)"
                    prop:value=move || message.get()
                    on:input=move |ev| message.set(event_target_value(&ev))
                />
            </label>
            <button
                type="submit"
                data-testid="save"
                disabled=move || busy.get() || !app.may("write")
                title=move || (!app.may("write")).then_some("Saving needs the author role")
            >
                "Save"
            </button>
            <span class="dirty" aria-live="polite">
                {move || {
                    let version = app.spec.with(|s| s.as_ref().map(|s| s.version));
                    match (version, app.dirty()) {
                        (Some(v), true) => format!("version {v} + unsaved changes"),
                        (Some(v), false) => format!("version {v}, saved"),
                        (None, _) => "not saved yet".to_string(),
                    }
                }}
            </span>
        </form>
    }
}

/// The stored specs; choosing one loads its latest version into the editor.
#[component]
fn SpecPicker(app: AppState, specs: RwSignal<Vec<Spec>>) -> impl IntoView {
    let open = move |ev: ev::Event| {
        let Ok(id) = event_target_value(&ev).parse::<i64>() else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = open(app, id).await {
                app.error(format!("Opening the spec failed: {e}"));
            }
        });
    };
    let selected = move || app.spec.with(|s| s.as_ref().map(|s| s.id));
    view! {
        <label>
            "Open "
            <select on:change=open data-testid="open-spec">
                <option value="" selected=move || selected().is_none()>
                    "(unsaved spec)"
                </option>
                {move || {
                    specs
                        .get()
                        .into_iter()
                        .map(|s| {
                            let id = s.id;
                            view! {
                                <option value=id.to_string() selected=move || selected() == Some(id)>
                                    {s.name}
                                </option>
                            }
                        })
                        .collect_view()
                }}
            </select>
        </label>
    }
}

async fn open(app: AppState, id: i64) -> api::Result<()> {
    let spec: Spec = api::call("GET", &format!("/specs/{id}"), api::Body::None).await?;
    // Only lists leave the content out; without it there is nothing to open.
    let content = spec
        .content
        .as_deref()
        .ok_or_else(|| api::ApiError::unreadable(200, "the spec came without its content"))?;
    app.spec_name.set(spec.name.clone());
    app.with_editor(|e| e.set_text(content));
    app.info(format!("Opened {} (version {}).", spec.name, spec.version));
    app.spec.set(Some(spec));
    Ok(())
}
