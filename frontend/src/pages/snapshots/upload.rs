//! Uploading snapshots: drop files on the zone or pick them, with labels for all of them.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::snapshots::UploadResult;
use wasm_bindgen::JsCast;

use crate::api;
use crate::state::AppState;

use super::{label_query, parse_labels};

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
    let start_upload = move |files: Vec<web_sys::File>| {
        if files.is_empty() {
            return;
        }
        if !app.may("write") {
            app.error("Uploading needs the author role: ask an admin for such a token.");
            return;
        }
        match parse_labels(&labels.get_untracked()) {
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
    }
}
