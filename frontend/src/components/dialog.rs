//! The dialog every confirmation uses: a modal `<dialog>` (the browser keeps focus inside it
//! and Esc cancels), what will happen in words, Cancel first and focused, the action named.

use leptos::html::Dialog as DialogElement;
use leptos::prelude::*;

use crate::state::AppState;

#[component]
pub fn DialogHost(app: AppState) -> impl IntoView {
    let element = NodeRef::<DialogElement>::new();
    Effect::new(move |_| {
        let open = app.dialog.with(Option::is_some);
        if let Some(el) = element.get() {
            if open && !el.open() {
                let _ = el.show_modal();
            } else if !open && el.open() {
                el.close();
            }
        }
    });
    let confirm = move |_| {
        if let Some(d) = app.dialog.get_untracked() {
            app.dialog.set(None);
            d.on_confirm.run(());
        }
    };
    view! {
        <dialog
            node_ref=element
            class="confirm"
            aria-labelledby="dialog-title"
            aria-describedby="dialog-body"
            data-testid="dialog"
            on:close=move |_| app.dialog.set(None)
        >
            {move || app.dialog.get().map(|d| {
                let danger = d.danger;
                view! {
                    <h2 id="dialog-title">{d.title}</h2>
                    <p id="dialog-body">{d.body}</p>
                    {d.input.map(|(label, value)| view! {
                        <label class="block">
                            {label} " "
                            <input
                                data-testid="dialog-input"
                                prop:value=move || value.get()
                                on:input=move |ev| value.set(event_target_value(&ev))
                            />
                        </label>
                    })}
                    <div class="dialog-buttons">
                        <button type="button" autofocus data-testid="dialog-cancel" on:click=move |_| app.dialog.set(None)>
                            "Cancel"
                        </button>
                        <button type="button" class:danger=danger data-testid="dialog-confirm" on:click=confirm>
                            {d.action}
                        </button>
                    </div>
                }
            })}
        </dialog>
    }
}
