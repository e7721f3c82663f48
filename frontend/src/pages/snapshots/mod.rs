//! The Snapshots tab: upload (`upload`: drag and drop or file picker), list and filter by
//! labels and text, edit labels and delete (`row`), and browse one snapshot's features
//! (`feature_browser`).

mod feature_browser;
mod row;
mod upload;

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::snapshots::SnapshotSummary;
use nodefit_api::Page;

use crate::api;
use crate::pages::parse_labels;
use crate::state::AppState;

use feature_browser::FeatureBrowser;
use row::SnapshotRow;
use upload::UploadZone;

fn label_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("label={}", api::enc(&format!("{k}={v}"))))
        .collect::<Vec<_>>()
        .join("&")
}

#[component]
pub fn SnapshotsPage(app: AppState) -> impl IntoView {
    let filter_labels = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let shown = RwSignal::new(Vec::<SnapshotSummary>::new());
    let browsing = RwSignal::new(None::<(i64, String)>);

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
        <UploadZone app/>
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
