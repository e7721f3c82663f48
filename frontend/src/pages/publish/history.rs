//! The open spec's publications, newest first: when, by whom, which version, image and digests,
//! and whether the artifact is still attached.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::publish::Publication;
use nodefit_api::Page;

use crate::api;
use crate::state::AppState;

/// Loads the newest page of `spec_id`'s publications into `history` (empties it without a
/// spec).
pub fn load(app: AppState, history: RwSignal<Vec<Publication>>, spec_id: Option<i64>) {
    let Some(spec_id) = spec_id else {
        history.set(Vec::new());
        return;
    };
    spawn_local(async move {
        let path = format!("/publications?specId={spec_id}");
        match api::call::<Page<Publication>>("GET", &path, api::Body::None).await {
            Ok(page) => history.set(page.items),
            Err(e) => app.error(format!("Listing this spec's publications failed. {e}")),
        }
    });
}

#[component]
pub fn PublicationHistory(
    history: RwSignal<Vec<Publication>>,
    /// Asks for the NodeFeatureRule and affinity of a publication.
    on_schedule: impl Fn(i64) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <section aria-labelledby="history-heading">
            <h3 id="history-heading">"Publications of this spec"</h3>
            {move || {
                let list = history.get();
                if list.is_empty() {
                    return view! {
                        <p class="muted">"Not published yet."</p>
                    }
                    .into_any();
                }
                view! {
                    <table class="publications" data-testid="publications">
                        <thead>
                            <tr>
                                <th scope="col">"When"</th>
                                <th scope="col">"By"</th>
                                <th scope="col">"Version"</th>
                                <th scope="col">"Image"</th>
                                <th scope="col">"Artifact"</th>
                                <th scope="col">"Signature"</th>
                                <th scope="col">"Attached"</th>
                                <th scope="col">"Scheduling"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {list.into_iter().map(|p| view! {
                                <tr class:detached={p.detached_at.is_some()}>
                                    <td>{p.created_at}</td>
                                    <td>{p.created_by}</td>
                                    <td>{p.version}</td>
                                    <td>{format!("{} / {}", p.registry, p.image)}<br/><code>{p.image_digest}</code></td>
                                    <td><code>{p.artifact_digest}</code></td>
                                    <td><code>{p.signature_digest.unwrap_or_else(|| "unsigned".into())}</code></td>
                                    <td data-testid="attached-state">{match (p.detached_at.clone(), p.detached_by.clone()) {
                                        (Some(at), by) => format!("detached {at} by {}", by.unwrap_or_default()),
                                        (None, _) => "attached".to_string(),
                                    }}</td>
                                    <td>
                                        {p.detached_at.is_none().then(|| view! {
                                            <button type="button" data-testid="show-schedule" on:click=move |_| on_schedule(p.id)>
                                                "NodeFeatureRule and affinity"
                                            </button>
                                        })}
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
    }
}
