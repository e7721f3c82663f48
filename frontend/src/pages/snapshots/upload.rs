//! Uploading snapshots: drop files on the zone or pick them, with labels for all of them.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::snapshots::UploadResult;
use wasm_bindgen::JsCast;

use std::collections::BTreeMap;

use nodefit_api::snapshots::{LabelsEdit, SnapshotSummary};

use crate::api;
use crate::pages::{labels_text, node_name, parse_labels};
use crate::state::AppState;

use super::label_query;

/// The upload's content type: from the browser, else from the name, else from the content.
fn content_type(file: &web_sys::File) -> &'static str {
    let name = file.name().to_ascii_lowercase();
    let ty = file.type_();
    if ty.contains("json") || name.ends_with(".json") {
        "application/json"
    } else {
        "application/yaml"
    }
}

/// What became of one uploaded file.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Stored {
        file: String,
        nodes: usize,
    },
    /// Its features were stored already, as snapshot `id` (`node`), whose labels the upload's
    /// did not change.
    Duplicate {
        file: String,
        id: i64,
        node: String,
        labels: BTreeMap<String, String>,
    },
    Failed {
        file: String,
        why: String,
    },
}

/// Why a file was refused, said with its name and what was expected.
fn refusal(file: &web_sys::File, e: &api::ApiError) -> String {
    let name = file.name();
    match e.code.as_str() {
        "parse_error" => format!(
            "{name} is not a snapshot nodefit can read: expected the JSON of `nfd export features` (an object with attributes, flags and instances), a NodeFeature or a NodeFeatureList (YAML or JSON). The server read: {}.",
            e.message.trim_end_matches('.')
        ),
        "payload_too_large" => format!(
            "{name} is {}; the server takes files of at most {}.",
            crate::size_text(file.size() as u64),
            e.limit_bytes().map_or_else(|| "its limit".to_string(), crate::size_text)
        ),
        _ => format!("{name}: {e}"),
    }
}

async fn upload(
    app: AppState,
    files: Vec<web_sys::File>,
    labels: Vec<(String, String)>,
    outcomes: RwSignal<Vec<Outcome>>,
) {
    let query = label_query(&labels);
    let path = if query.is_empty() {
        "/snapshots".to_string()
    } else {
        format!("/snapshots?{query}")
    };
    let mut out = Vec::new();
    for file in &files {
        app.info(format!("Uploading {}…", file.name()));
        match api::call::<UploadResult>("POST", &path, api::Body::File(file, content_type(file)))
            .await
        {
            Ok(u) => {
                let fresh = u
                    .snapshots
                    .iter()
                    .filter(|s| !u.duplicates.contains(&s.id))
                    .count();
                if fresh > 0 {
                    out.push(Outcome::Stored {
                        file: file.name(),
                        nodes: fresh,
                    });
                }
                for s in u.snapshots.iter().filter(|s| u.duplicates.contains(&s.id)) {
                    out.push(Outcome::Duplicate {
                        file: file.name(),
                        id: s.id,
                        node: node_name(s),
                        labels: s.labels.clone(),
                    });
                }
            }
            Err(e) => out.push(Outcome::Failed {
                file: file.name(),
                why: refusal(file, &e),
            }),
        }
    }
    if let Err(e) = app.refresh_snapshots().await {
        app.error(format!("The list was not reloaded. {e}"));
    }
    let failed = out
        .iter()
        .filter(|o| matches!(o, Outcome::Failed { .. }))
        .count();
    if failed > 0 {
        app.error(format!(
            "{failed} of {} file(s) were not stored: see the list under the upload.",
            files.len()
        ));
    } else {
        app.info(format!(
            "Uploaded {} file(s): see the list under the upload.",
            files.len()
        ));
    }
    outcomes.set(out);
}

fn file_list(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// The target of an input or change event, typed.
fn event_target<T: JsCast>(ev: &ev::Event) -> T {
    ev.target()
        .expect("an event from an element")
        .unchecked_into::<T>()
}

#[component]
pub fn UploadZone(app: AppState) -> impl IntoView {
    let labels = RwSignal::new(String::new());
    let over = RwSignal::new(false);
    let outcomes = RwSignal::new(Vec::<Outcome>::new());
    let start_upload = move |files: Vec<web_sys::File>| {
        if files.is_empty() {
            return;
        }
        if !app.may("write") {
            app.error("Uploading needs the author role: ask an admin for such a token.");
            return;
        }
        match parse_labels(&labels.get_untracked()) {
            Ok(labels) => spawn_local(upload(app, files, labels, outcomes)),
            Err(e) => app.error(format!("The labels for the upload are not valid: {e}.")),
        }
    };
    let on_drop = move |ev: ev::DragEvent| {
        ev.prevent_default();
        over.set(false);
        start_upload(file_list(ev.data_transfer().and_then(|d| d.files())));
    };
    let on_pick = move |ev: ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        start_upload(file_list(input.files()));
        input.set_value("");
    };
    view! {
        <div
            class="dropzone"
            class:over=move || over.get()
            on:dragover=move |ev: ev::DragEvent| {
                ev.prevent_default();
                over.set(true);
            }
            on:dragleave=move |_| over.set(false)
            on:drop=on_drop
            data-testid="dropzone"
        >
            <p>
                "Drop " <code>"nfd export features"</code> " JSON, NodeFeature YAML or a
                NodeFeatureList here, or "
                <label class="filepick">
                    "choose files"
                    <input
                        type="file"
                        multiple
                        accept=".json,.yaml,.yml,application/json,application/yaml"
                        on:change=on_pick
                        data-testid="upload-input"
                    />
                </label>
                "."
            </p>
            <label>
                "Labels for uploaded snapshots "
                <input
                    placeholder="pool=gpu, cloud=aws"
                    prop:value=move || labels.get()
                    on:input=move |ev| labels.set(event_target_value(&ev))
                />
            </label>
        </div>
        <Outcomes app outcomes labels/>
    }
}

/// What became of each file of the last upload, until dismissed; for a file already stored,
/// the labels typed for the upload can be added to the stored snapshot.
#[component]
fn Outcomes(
    app: AppState,
    outcomes: RwSignal<Vec<Outcome>>,
    labels: RwSignal<String>,
) -> impl IntoView {
    move || {
        let list = outcomes.get();
        (!list.is_empty()).then(|| {
            let typed = labels.get_untracked();
            let rows = list
                .into_iter()
                .map(|o| match o {
                    Outcome::Stored { file, nodes } => view! {
                        <li class="ok">{format!("{file}: stored ({nodes} snapshot(s)).")}</li>
                    }
                    .into_any(),
                    Outcome::Failed { file: _, why } => view! { <li class="error">{why}</li> }.into_any(),
                    Outcome::Duplicate { file, id, node, labels: existing } => {
                        let wanted = parse_labels(&typed).unwrap_or_default();
                        let missing: Vec<(String, String)> = wanted
                            .into_iter()
                            .filter(|(k, v)| existing.get(k) != Some(v))
                            .collect();
                        let note = if missing.is_empty() {
                            String::new()
                        } else {
                            format!(" Its labels were not changed: {} were not added.", labels_text(&missing.iter().cloned().collect()))
                        };
                        let add = move |_| {
                            let mut merged = existing.clone();
                            merged.extend(missing.clone());
                            spawn_local(async move {
                                let edit = LabelsEdit { labels: merged };
                                match api::call::<SnapshotSummary>("PATCH", &format!("/snapshots/{id}"), api::json(&edit)).await {
                                    Ok(s) => {
                                        app.info(format!("Labels of {} are now {}.", node_name(&s), labels_text(&s.labels)));
                                        let _ = app.refresh_snapshots().await;
                                    }
                                    Err(e) => app.error(format!("The labels were not added. {e}")),
                                }
                            });
                        };
                        view! {
                            <li class="warning" data-testid="duplicate">
                                {format!("{file}: already stored as {node}.{note}")}
                                {(!note.is_empty()).then(|| view! {
                                    " " <button type="button" on:click=add>{format!("Add the labels to {node}")}</button>
                                })}
                            </li>
                        }
                        .into_any()
                    }
                })
                .collect_view();
            view! {
                <section class="outcomes" aria-labelledby="outcomes-heading" data-testid="upload-outcomes">
                    <h3 id="outcomes-heading">"Last upload"</h3>
                    <ul>{rows}</ul>
                    <button type="button" on:click=move |_| outcomes.set(Vec::new())>"Dismiss"</button>
                </section>
            }
        })
    }
}
