//! The bar above the editor: open a stored spec, start a new one, name it, save it with a
//! message, or discard unsaved changes; and what the editor holds (saved or not).

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::drafts::Slot;
use crate::state::AppState;

#[component]
pub fn SpecBar(app: AppState) -> impl IntoView {
    let message = RwSignal::new(String::new());
    let do_save = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        app.request_save(message.get_untracked(), move |_| message.set(String::new()));
    };
    view! {
        <form class="spec-bar" on:submit=do_save>
            <SpecPicker app/>
            <button type="button" data-testid="new-spec" on:click=move |_| app.new_spec()>"New spec"</button>
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
                    data-testid="save-message"
                    placeholder="what changed (optional)"
                    prop:value=move || message.get()
                    on:input=move |ev| message.set(event_target_value(&ev))
                />
            </label>
            <button
                type="submit"
                data-testid="save"
                disabled=move || !app.may("write")
                title=move || (!app.may("write")).then_some("Saving needs the author role")
            >
                "Save"
            </button>
            {move || app.dirty().then(|| view! {
                <button type="button" class="danger" data-testid="discard" on:click=move |_| app.discard()>
                    "Discard changes"
                </button>
            })}
            <span class="dirty" aria-live="polite" data-testid="save-state">
                {move || {
                    let version = app.spec.with(|s| s.as_ref().map(|s| s.version));
                    match (version, app.dirty()) {
                        (Some(v), true) => format!("version {v} + unsaved changes (kept in this browser)"),
                        (Some(v), false) => format!("version {v}, saved"),
                        (None, _) => "new spec, not saved yet (kept in this browser)".to_string(),
                    }
                }}
            </span>
        </form>
    }
}

/// The stored specs, those with unsaved changes marked; choosing one opens it (its latest
/// version, or the unsaved changes to it).
#[component]
fn SpecPicker(app: AppState) -> impl IntoView {
    let open = move |ev: ev::Event| {
        let Ok(id) = event_target_value(&ev).parse::<i64>() else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = app.open_spec(id, None).await {
                app.error(format!("The spec could not be opened. {e}"));
            }
        });
    };
    let selected = move || app.spec.with(|s| s.as_ref().map(|s| s.id));
    view! {
        <label>
            "Open "
            <select on:change=open data-testid="open-spec">
                <option value="" selected=move || selected().is_none()>
                    "(new spec)"
                </option>
                {move || {
                    let drafts = app.drafts.get();
                    app.specs
                        .get()
                        .into_iter()
                        .map(|s| {
                            let id = s.id;
                            let mark = if drafts.contains(&Slot::Spec(id)) { " • unsaved changes" } else { "" };
                            view! {
                                <option value=id.to_string() selected=move || selected() == Some(id)>
                                    {format!("{}{mark}", s.name)}
                                </option>
                            }
                        })
                        .collect_view()
                }}
            </select>
        </label>
    }
}
