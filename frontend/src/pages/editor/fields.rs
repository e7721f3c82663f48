//! The inputs the builder's forms share.

use leptos::prelude::*;

use crate::state::AppState;
use crate::vocab;

/// `a, b, c` → the values, trimmed, empty ones left out.
pub fn split_values(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// The expression's `type` for the "compare as versions" box.
pub fn value_type(versions: bool) -> &'static str {
    if versions {
        "version"
    } else {
        ""
    }
}

pub fn text_field(label: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label>
            {label}
            " "
            <input
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
}

pub fn feature_field(feature: RwSignal<String>) -> impl IntoView {
    view! {
        <label>
            "Feature "
            <input
                list="feature-names"
                required
                placeholder="e.g. cpu.model"
                prop:value=move || feature.get()
                on:input=move |ev| feature.set(event_target_value(&ev))
            />
        </label>
    }
}

/// An element name, offering those the stored snapshots have for `feature`.
pub fn element_field(app: AppState, feature: String, element: RwSignal<String>) -> impl IntoView {
    let elements = Memo::new(move |_| app.index.with(|i| vocab::elements(&feature, i)));
    view! {
        <label>
            "Element "
            <input
                list="element-names"
                required
                prop:value=move || element.get()
                on:input=move |ev| element.set(event_target_value(&ev))
            />
        </label>
        <datalist id="element-names">
            {move || {
                elements
                    .get()
                    .into_iter()
                    .map(|s| {
                        view! { <option value=s.label.clone()>{s.detail.unwrap_or_default()}</option> }
                    })
                    .collect_view()
            }}
        </datalist>
    }
}

pub fn op_field(op: RwSignal<String>) -> impl IntoView {
    view! {
        <label>
            "Op "
            <select on:change=move |ev| op.set(event_target_value(&ev))>
                {vocab::ops()
                    .into_iter()
                    .map(|o| {
                        let name = o.label.clone();
                        view! {
                            <option value=o.label.clone() selected=move || op.get() == name>
                                {format!("{} ({})", o.label, o.detail.unwrap_or_default())}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

pub fn version_field(checked: RwSignal<bool>) -> impl IntoView {
    view! {
        <label class="check">
            <input
                type="checkbox"
                prop:checked=move || checked.get()
                on:change=move |ev| checked.set(event_target_checked(&ev))
            />
            " Compare as versions (type: version)"
        </label>
    }
}

/// Comma-separated values, with the values the snapshots have for the element one click away.
pub fn values_field(
    app: AppState,
    values: RwSignal<String>,
    feature: String,
    element: impl Fn() -> String + Send + Sync + 'static,
) -> impl IntoView {
    let seen = Memo::new(move |_| {
        let el = element();
        app.index.with(|i| {
            vocab::values(&feature, &el, i)
                .into_iter()
                .map(|s| s.label)
                .collect::<Vec<_>>()
        })
    });
    let add = move |value: &str| {
        values.update(|s| {
            if !split_values(s).iter().any(|v| v == value) {
                if !s.trim().is_empty() {
                    s.push_str(", ");
                }
                s.push_str(value);
            }
        })
    };
    view! {
        <label>
            "Values (comma-separated) "
            <input
                prop:value=move || values.get()
                on:input=move |ev| values.set(event_target_value(&ev))
            />
        </label>
        <div class="seen" aria-label="Values seen in snapshots">
            {move || {
                seen.get()
                    .into_iter()
                    .map(|v| {
                        let value = v.clone();
                        view! {
                            <button type="button" class="chip" on:click=move |_| add(&value)>
                                {v}
                            </button>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}
