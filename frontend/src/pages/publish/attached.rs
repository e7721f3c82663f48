//! What is attached to the image (the server's discover): the compatibility artifacts, newest
//! first, with the one NFD uses marked, and detach (two clicks: detach, confirm).

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::publish::{ReferrerArtifact, Referrers};

use crate::api;
use crate::state::AppState;

/// Lists the artifacts attached to `image` on `registry` into `found`.
pub fn list(
    app: AppState,
    registry: RwSignal<String>,
    image: RwSignal<String>,
    found: RwSignal<Option<Referrers>>,
) {
    let (reg, img) = (registry.get_untracked(), image.get_untracked());
    if reg.is_empty() || img.trim().is_empty() {
        app.error("Choose a registry and enter an image reference (repository:tag) first.");
        return;
    }
    spawn_local(async move {
        let path = format!(
            "/images/referrers?registry={}&image={}",
            api::enc(&reg),
            api::enc(img.trim())
        );
        match api::call::<Referrers>("GET", &path, api::Body::None).await {
            Ok(referrers) => {
                app.info(format!(
                    "{} compatibility artifact(s) attached to {}.",
                    referrers.artifacts.len(),
                    img.trim()
                ));
                found.set(Some(referrers));
            }
            Err(e) => app.error(format!("Listing the image's attachments failed: {e}")),
        }
    });
}

/// The section; `list` lists again (the button, and after a detach).
#[component]
pub fn Attachments(
    app: AppState,
    registry: RwSignal<String>,
    image: RwSignal<String>,
    referrers: RwSignal<Option<Referrers>>,
    list: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <section aria-labelledby="image-heading">
            <h3 id="image-heading">"Attached to the image"</h3>
            <button type="button" on:click=move |_| list() data-testid="list-referrers">
                "List attachments"
            </button>
            {move || referrers.get().map(|found| {
                let subject = format!(
                    "Image {} (listed through {})",
                    found.subject_digest, found.source
                );
                if found.artifacts.is_empty() {
                    return view! {
                        <p class="muted">{subject}</p>
                        <p>"No compatibility artifacts are attached to this image."</p>
                    }
                    .into_any();
                }
                view! {
                    <p class="muted">{subject}</p>
                    <ul class="referrers" data-testid="referrers">
                        {found
                            .artifacts
                            .into_iter()
                            .map(|r| view! { <ReferrerRow app r registry image on_change=list/> })
                            .collect_view()}
                    </ul>
                }
                .into_any()
            })}
        </section>
    }
}

#[component]
fn ReferrerRow(
    app: AppState,
    r: ReferrerArtifact,
    registry: RwSignal<String>,
    image: RwSignal<String>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let digest = r.digest.clone();
    let detach = move |_| {
        if !confirming.get_untracked() {
            confirming.set(true);
            return;
        }
        let path = format!(
            "/images/referrers?registry={}&image={}&artifact={}",
            api::enc(&registry.get_untracked()),
            api::enc(image.get_untracked().trim()),
            api::enc(&digest)
        );
        let digest = digest.clone();
        spawn_local(async move {
            match api::send("DELETE", &path, api::Body::None).await {
                Ok(_) => {
                    app.info(format!("Detached {digest}."));
                    on_change();
                }
                Err(e) => app.error(format!("Detaching failed: {e}")),
            }
            confirming.set(false);
        });
    };
    let signed = match &r.signature {
        Some(s) => format!("signed ({} signature(s) in {})", s.count, s.digest),
        None => "unsigned".to_string(),
    };
    view! {
        <li data-testid="referrer">
            <code>{r.digest}</code>
            " " <span>{signed}</span>
            " " <span class="muted">{r.created.unwrap_or_default()}</span>
            {r.nfd_choice.then(|| view! { " " <strong>"the one NFD uses"</strong> })}
            " "
            <button type="button" class="danger" disabled=move || !app.may("publish") on:click=detach>
                {move || if confirming.get() { "Confirm detach" } else { "Detach" }}
            </button>
        </li>
    }
}
