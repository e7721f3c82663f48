//! One stored snapshot in the list: its labels (editable in place), size, format and age, and
//! its actions.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::snapshots::{LabelsEdit, SnapshotSummary};

use crate::api;
use crate::pages::{labels_text, node_name, parse_labels};
use crate::state::AppState;

async fn save_labels(id: i64, labels: &str) -> Result<(), String> {
    let pairs = parse_labels(labels).map_err(|e| format!("The labels are not valid: {e}."))?;
    let edit = LabelsEdit {
        labels: pairs.into_iter().collect(),
    };
    api::call::<SnapshotSummary>("PATCH", &format!("/snapshots/{id}"), api::json(&edit))
        .await
        .map_err(|e| format!("The labels were not saved. {e}"))?;
    Ok(())
}

#[component]
pub fn SnapshotRow(
    app: AppState,
    s: SnapshotSummary,
    browsing: RwSignal<Option<(i64, String)>>,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    let labels = RwSignal::new(labels_text(&s.labels));
    let id = s.id;
    let node = node_name(&s);
    let save = move |_| {
        spawn_local(async move {
            match save_labels(id, &labels.get_untracked()).await {
                Ok(()) => {
                    editing.set(false);
                    app.info("Labels saved.");
                    let _ = app.refresh_snapshots().await;
                }
                Err(e) => app.error(e),
            }
        });
    };
    let delete = {
        let node = node.clone();
        let labels_now = labels_text(&s.labels);
        move |_| {
            let node = node.clone();
            app.confirm(
                format!("Delete snapshot {node}?"),
                format!(
                    "Snapshot {node}{} is deleted from the server for everyone: tests and fleet results no longer include it. This cannot be undone; uploading its file again stores it again (labels included only if given).",
                    if labels_now.is_empty() { String::new() } else { format!(" ({labels_now})") }
                ),
                format!("Delete {node}"),
                move || {
                    let node = node.clone();
                    spawn_local(async move {
                        match api::send("DELETE", &format!("/snapshots/{id}"), api::Body::None).await {
                            Ok(_) => {
                                app.info(format!("Deleted snapshot {node}."));
                                let _ = app.refresh_snapshots().await;
                            }
                            Err(e) => app.error(format!("Not deleted. {e}")),
                        }
                    });
                },
            );
        }
    };
    let browse = {
        let node = node.clone();
        move |_| browsing.set(Some((id, node.clone())))
    };
    let chips = s
        .labels
        .iter()
        .map(|(k, v)| view! { <span class="chip">{format!("{k}={v}")}</span> })
        .collect_view();
    let may_write = app.may("write");
    view! {
        <tr data-testid="snapshot-row">
            <th scope="row">{node.clone()}</th>
            <td>
                {move || {
                    if editing.get() {
                        view! {
                            <input
                                aria-label=format!("Labels of {node}")
                                prop:value=move || labels.get()
                                on:input=move |ev| labels.set(event_target_value(&ev))
                            />
                            <button type="button" on:click=save>"Save labels"</button>
                            <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                        }
                            .into_any()
                    } else {
                        view! { <span>{chips.clone()}</span> }.into_any()
                    }
                }}
            </td>
            <td>{s.feature_count}</td>
            <td>{s.format}</td>
            <td>{s.created_at}</td>
            <td class="actions">
                <button type="button" on:click=browse>"Features"</button>
                <button
                    type="button"
                    disabled=!may_write
                    on:click=move |_| editing.set(true)
                >
                    "Edit labels"
                </button>
                <button type="button" class="danger" data-testid="delete-snapshot" disabled=!may_write on:click=delete>
                    "Delete"
                </button>
            </td>
        </tr>
    }
}
