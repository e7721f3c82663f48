//! One snapshot's features, searchable by feature, element and value.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_core::features::{sorted, Features};

use crate::state::AppState;

/// One row of the feature browser: feature, element, values.
#[derive(Clone, PartialEq)]
struct FeatureRow {
    feature: String,
    kind: &'static str,
    element: String,
    values: String,
}

fn rows(f: &Features) -> Vec<FeatureRow> {
    let mut out = Vec::new();
    for (name, set) in &f.flags {
        for e in set.elements.iter().flatten() {
            out.push(FeatureRow {
                feature: name.to_string(),
                kind: "flag",
                element: e.to_string(),
                values: String::new(),
            });
        }
    }
    for (name, set) in &f.attributes {
        for (k, v) in set.elements.iter().flatten() {
            out.push(FeatureRow {
                feature: name.to_string(),
                kind: "attribute",
                element: k.to_string(),
                values: v.to_string(),
            });
        }
    }
    for (name, set) in &f.instances {
        for (i, inst) in set.elements.iter().flatten().enumerate() {
            let attrs = inst
                .attributes
                .iter()
                .flat_map(sorted)
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            out.push(FeatureRow {
                feature: name.to_string(),
                kind: "instance",
                element: format!("#{i}"),
                values: attrs,
            });
        }
    }
    out.sort_by(|a, b| (&a.feature, &a.element).cmp(&(&b.feature, &b.element)));
    out
}

/// The features of snapshot `id` (called `node`); `close` set to `None` closes it.
#[component]
pub fn FeatureBrowser(
    app: AppState,
    id: i64,
    node: String,
    close: RwSignal<Option<(i64, String)>>,
) -> impl IntoView {
    let all = RwSignal::new(None::<Vec<FeatureRow>>);
    let query = RwSignal::new(String::new());
    spawn_local(async move {
        match app.snapshot_features(id).await {
            Ok(f) => all.set(Some(rows(&f))),
            Err(e) => app.error(format!("Loading the features failed: {e}")),
        }
    });
    let filtered = move || {
        let q = query.get().to_lowercase();
        all.get()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| {
                q.is_empty()
                    || r.feature.to_lowercase().contains(&q)
                    || r.element.to_lowercase().contains(&q)
                    || r.values.to_lowercase().contains(&q)
            })
            .take(500)
            .collect::<Vec<_>>()
    };
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });
    view! {
        <section class="feature-browser" aria-labelledby="fb-heading" data-testid="feature-browser">
            <h3 id="fb-heading">{format!("Features of {node}")}</h3>
            <label>
                "Search features, elements and values "
                <input
                    type="search"
                    node_ref=input
                    prop:value=move || query.get()
                    on:input=move |ev| query.set(event_target_value(&ev))
                />
            </label>
            <button type="button" on:click=move |_| close.set(None)>"Close"</button>
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Feature"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Element"</th>
                        <th scope="col">"Value"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        filtered()
                            .into_iter()
                            .map(|r| {
                                view! {
                                    <tr>
                                        <td>{r.feature}</td>
                                        <td>{r.kind}</td>
                                        <td>{r.element}</td>
                                        <td>{r.values}</td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </section>
    }
}
