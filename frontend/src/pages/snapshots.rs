//! The Snapshots tab: upload (drag and drop or file picker), list and filter by labels, edit
//! labels, delete, and browse one snapshot's features.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::snapshots::{LabelsEdit, SnapshotSummary, UploadResult};
use nodefit_api::Page;
use nodefit_core::features::{sorted, Features};
use wasm_bindgen::JsCast;

use crate::api;
use crate::pages::{labels_text, node_name};
use crate::state::AppState;

/// `a=b, c=d` → pairs; entries without `=` are reported back.
fn parse_labels(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("`{p}` is not a label: write key=value")),
        })
        .collect()
}

fn label_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("label={}", api::enc(&format!("{k}={v}"))))
        .collect::<Vec<_>>()
        .join("&")
}

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

async fn upload(app: AppState, files: Vec<web_sys::File>, labels: Vec<(String, String)>) {
    let query = label_query(&labels);
    let path = if query.is_empty() {
        "/snapshots".to_string()
    } else {
        format!("/snapshots?{query}")
    };
    let (mut added, mut dupes, mut failed) = (0, 0, Vec::new());
    for file in &files {
        app.info(format!("Uploading {}…", file.name()));
        match api::call::<UploadResult>("POST", &path, api::Body::File(file, content_type(file)))
            .await
        {
            Ok(u) => {
                added += u.snapshots.len();
                dupes += u.duplicates.len();
            }
            Err(e) => failed.push(format!("{}: {e}", file.name())),
        }
    }
    if let Err(e) = app.refresh_snapshots().await {
        failed.push(format!("reloading the list: {e}"));
    }
    if failed.is_empty() {
        app.info(format!(
            "Uploaded {} file(s): {added} snapshot(s) stored, {dupes} already stored.",
            files.len()
        ));
    } else {
        app.error(format!("Some uploads failed. {}", failed.join(" ")));
    }
}

fn file_list(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

#[component]
pub fn SnapshotsPage(app: AppState) -> impl IntoView {
    let upload_labels = RwSignal::new(String::new());
    let filter_labels = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let shown = RwSignal::new(Vec::<SnapshotSummary>::new());
    let over = RwSignal::new(false);
    let browsing = RwSignal::new(None::<(i64, String)>);

    let start_upload = move |files: Vec<web_sys::File>| {
        if files.is_empty() {
            return;
        }
        if !app.may("write") {
            app.error("Uploading needs the author role: ask an admin for such a token.");
            return;
        }
        match parse_labels(&upload_labels.get_untracked()) {
            Ok(labels) => spawn_local(upload(app, files, labels)),
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

    // The list shown: the server filters by labels and text, so it scales past one page.
    let reload = move || {
        let labels = match parse_labels(&filter_labels.get_untracked()) {
            Ok(l) => l,
            Err(e) => {
                app.error(format!("The label filter is not valid: {e}."));
                return;
            }
        };
        let mut query = label_query(&labels);
        let q = search.get_untracked();
        if !q.trim().is_empty() {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("q={}", api::enc(q.trim())));
        }
        spawn_local(async move {
            let path = format!("/snapshots?limit=200&{query}");
            match api::call::<Page<SnapshotSummary>>("GET", &path, api::Body::None).await {
                Ok(page) => shown.set(page.items),
                Err(e) => app.error(format!("Listing snapshots failed: {e}")),
            }
        });
    };
    // Re-list whenever the app's list changes (after uploads, edits, deletes).
    Effect::new(move |_| {
        app.snapshots.track();
        reload();
    });

    view! {
        <h2 id="snapshots-heading">"Snapshots"</h2>
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
                    prop:value=move || upload_labels.get()
                    on:input=move |ev| upload_labels.set(event_target_value(&ev))
                />
            </label>
        </div>
        <form
            class="filters"
            on:submit=move |ev: ev::SubmitEvent| {
                ev.prevent_default();
                reload();
            }
        >
            <label>
                "Labels "
                <input
                    placeholder="pool=gpu"
                    prop:value=move || filter_labels.get()
                    on:input=move |ev| filter_labels.set(event_target_value(&ev))
                />
            </label>
            <label>
                "Search "
                <input
                    type="search"
                    placeholder="node name or text"
                    prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev))
                />
            </label>
            <button type="submit">"Filter"</button>
        </form>
        <table class="snapshots" data-testid="snapshot-table">
            <caption>{move || match shown.with(Vec::len) {
                1 => "1 snapshot".to_string(),
                n => format!("{n} snapshots"),
            }}</caption>
            <thead>
                <tr>
                    <th scope="col">"Node"</th>
                    <th scope="col">"Labels"</th>
                    <th scope="col">"Features"</th>
                    <th scope="col">"Format"</th>
                    <th scope="col">"Stored"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                {move || {
                    shown
                        .get()
                        .into_iter()
                        .map(|s| view! { <SnapshotRow app s browsing/> })
                        .collect_view()
                }}
            </tbody>
        </table>
        {move || {
            browsing
                .get()
                .map(|(id, node)| view! { <FeatureBrowser app id node close=browsing/> })
        }}
    }
}

#[component]
fn SnapshotRow(
    app: AppState,
    s: SnapshotSummary,
    browsing: RwSignal<Option<(i64, String)>>,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    let labels = RwSignal::new(labels_text(&s.labels));
    let id = s.id;
    let node = node_name(&s);
    let save_labels = move |_| {
        let pairs = match parse_labels(&labels.get_untracked()) {
            Ok(p) => p,
            Err(e) => {
                app.error(format!("The labels are not valid: {e}."));
                return;
            }
        };
        spawn_local(async move {
            let body = api::json(&LabelsEdit {
                labels: pairs.into_iter().collect(),
            });
            match api::call::<SnapshotSummary>("PATCH", &format!("/snapshots/{id}"), body).await {
                Ok(_) => {
                    editing.set(false);
                    app.info("Labels saved.");
                    let _ = app.refresh_snapshots().await;
                }
                Err(e) => app.error(format!("Saving the labels failed: {e}")),
            }
        });
    };
    let delete = {
        let node = node.clone();
        move |_| {
            let node = node.clone();
            spawn_local(async move {
                match api::send("DELETE", &format!("/snapshots/{id}"), api::Body::None).await {
                    Ok(_) => {
                        app.info(format!("Deleted snapshot {node}."));
                        let _ = app.refresh_snapshots().await;
                    }
                    Err(e) => app.error(format!("Deleting failed: {e}")),
                }
            });
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
                            <button type="button" on:click=save_labels>"Save labels"</button>
                            <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                        }
                            .into_any()
                    } else {
                        view! { <span>{chips.clone()}</span> }.into_any()
                    }
                }}
            </td>
            <td>{s.feature_count}</td>
            <td>{s.format.clone()}</td>
            <td>{s.created_at.clone()}</td>
            <td class="actions">
                <button type="button" on:click=browse>"Features"</button>
                <button
                    type="button"
                    disabled=!may_write
                    on:click=move |_| editing.set(true)
                >
                    "Edit labels"
                </button>
                <button type="button" class="danger" disabled=!may_write on:click=delete>
                    "Delete"
                </button>
            </td>
        </tr>
    }
}

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

#[component]
fn FeatureBrowser(
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

/// The target of an input or change event, typed.
fn event_target<T: JsCast>(ev: &ev::Event) -> T {
    ev.target()
        .expect("an event from an element")
        .unchecked_into::<T>()
}
