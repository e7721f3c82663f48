//! A spec shown read-only: an old version before restoring it, or the spec in an attached
//! artifact. Line numbers, nothing editable, and at most one action.

use leptos::html::Dialog as DialogElement;
use leptos::prelude::*;

use crate::state::AppState;

#[component]
pub fn ViewerHost(app: AppState) -> impl IntoView {
    let element = NodeRef::<DialogElement>::new();
    Effect::new(move |_| {
        let open = app.viewing.with(Option::is_some);
        if let Some(el) = element.get() {
            if open && !el.open() {
                let _ = el.show_modal();
            } else if !open && el.open() {
                el.close();
            }
        }
    });
    view! {
        <dialog
            node_ref=element
            class="viewer"
            aria-labelledby="viewer-title"
            data-testid="viewer"
            on:close=move |_| app.viewing.set(None)
        >
            {move || app.viewing.get().map(|v| {
                let lines = v
                    .text
                    .lines()
                    .enumerate()
                    .map(|(i, l)| view! { <span class="ln" aria-hidden="true">{i + 1}</span>{l.to_string()}"\n" })
                    .collect_view();
                view! {
                    <h2 id="viewer-title">{v.title}</h2>
                    <p class="muted">{v.about} " Read-only."</p>
                    <pre class="readonly" tabindex="0" aria-label="Spec text, read-only" data-testid="viewer-text">{lines}</pre>
                    <div class="dialog-buttons">
                        <button type="button" autofocus on:click=move |_| app.viewing.set(None)>"Close"</button>
                        {v.action.map(|(label, run)| view! {
                            <button
                                type="button"
                                data-testid="viewer-action"
                                on:click=move |_| {
                                    app.viewing.set(None);
                                    run.run(());
                                }
                            >
                                {label}
                            </button>
                        })}
                    </div>
                }
            })}
        </dialog>
    }
}
