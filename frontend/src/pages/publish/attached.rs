//! What is attached to the image (the server's discover): the compatibility artifacts, newest
//! first, with the one NFD uses marked; for each, the spec and version when this server
//! published it, when it was made, its signatures, a read-only view of its spec, and detach
//! (confirmed in the dialog).

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::publish::{ImageSpec, ReferrerArtifact, Referrers};
use nodefit_api::specs::Version;

use crate::api;
use crate::components::Signatures;
use crate::state::{AppState, Viewed};

/// Lists the artifacts attached to `image` on `registry` into `found`. Says nothing when it
/// works: the list is the answer, and the status line may hold what the user did last.
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
            Ok(referrers) => found.set(Some(referrers)),
            Err(e) => app.error(format!("The image's attachments were not listed. {e}")),
        }
    });
}

/// The section; `list` lists again (the button), `changed` after a detach.
#[component]
pub fn Attachments(
    app: AppState,
    registry: RwSignal<String>,
    image: RwSignal<String>,
    referrers: RwSignal<Option<Referrers>>,
    list: impl Fn() + Copy + Send + Sync + 'static,
    changed: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <section aria-labelledby="image-heading">
            <h3 id="image-heading">"Attached to the image"</h3>
            <button type="button" on:click=move |_| list() data-testid="list-referrers">
                "List attachments"
            </button>
            {move || referrers.get().map(|found| {
                let subject = format!(
                    "{} compatibility artifact(s) attached to image {} (listed through {})",
                    found.artifacts.len(),
                    found.subject_digest,
                    found.source
                );
                let looked_up = found.signatures_looked_up;
                view! {
                    <p class="muted" data-testid="referrers-summary">{subject}</p>
                    {found.artifacts.is_empty().then(|| view! {
                        <p>"No compatibility artifacts are attached to this image."</p>
                    })}
                    <ul class="referrers" data-testid="referrers">
                        {found
                            .artifacts
                            .into_iter()
                            .enumerate()
                            .map(|(i, r)| view! { <ReferrerRow app r looked_up=i < looked_up registry image on_change=changed/> })
                            .collect_view()}
                    </ul>
                }
            })}
        </section>
    }
}

#[component]
fn ReferrerRow(
    app: AppState,
    r: ReferrerArtifact,
    looked_up: bool,
    registry: RwSignal<String>,
    image: RwSignal<String>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let digest = r.digest.clone();
    let origin = match &r.publication {
        Some(p) => format!(
            "{} version {} (published by {} on {})",
            app.spec_label(p.spec_id),
            p.version,
            p.created_by,
            p.created_at
        ),
        None => "not published by this server".to_string(),
    };
    let detach = {
        let digest = digest.clone();
        let origin = origin.clone();
        move |_| {
            let digest = digest.clone();
            let img = image.get_untracked();
            app.confirm(
                "Detach this artifact?",
                format!(
                    "Artifact {digest} ({origin}) and its signature are deleted from {} on registry {}. Nodes that validate the image no longer see this spec{}. This cannot be undone: publishing the spec again attaches a new artifact.",
                    img.trim(),
                    registry.get_untracked(),
                    if r.nfd_choice { "; NFD uses the next newest artifact, if any" } else { "" }
                ),
                "Detach",
                move || {
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
                            Err(e) => app.error(format!("Not detached. {e}")),
                        }
                    });
                },
            );
        }
    };
    let open = {
        let digest = digest.clone();
        let publication = r.publication.clone();
        move |_| {
            let digest = digest.clone();
            let publication = publication.clone();
            spawn_local(async move {
                let viewed = match &publication {
                    Some(p) => api::call::<Version>(
                        "GET",
                        &format!("/specs/{}/versions/{}", p.spec_id, p.version),
                        api::Body::None,
                    )
                    .await
                    .map(|v| Viewed {
                        title: format!("{} version {}", app.spec_label(p.spec_id), p.version),
                        about: format!(
                            "The spec in artifact {digest}, as this server published it."
                        ),
                        text: v.content.unwrap_or_default(),
                        action: None,
                    }),
                    None => {
                        let path = format!(
                            "/images/spec?registry={}&image={}&artifact={}",
                            api::enc(&registry.get_untracked()),
                            api::enc(image.get_untracked().trim()),
                            api::enc(&digest)
                        );
                        api::call::<ImageSpec>("GET", &path, api::Body::None)
                            .await
                            .map(|s| Viewed {
                                title: format!("Artifact {digest}"),
                                about: "The spec in this artifact, read from the registry.".into(),
                                text: s.content,
                                action: None,
                            })
                    }
                };
                match viewed {
                    Ok(v) => app.view_text(v),
                    Err(e) => app.error(format!("The artifact's spec could not be shown. {e}")),
                }
            });
        }
    };
    view! {
        <li data-testid="referrer">
            <div>
                {r.nfd_choice.then(|| view! { <strong>"The one NFD uses · "</strong> })}
                <span data-testid="referrer-origin">{origin}</span>
            </div>
            <div class="muted">
                "Artifact " <code>{r.digest.clone()}</code>
                {format!(" · created {}", r.created.clone().unwrap_or_else(|| "(no creation time)".into()))}
            </div>
            <Signatures signature=r.signature.clone() looked_up/>
            <button type="button" data-testid="open-artifact" on:click=open>"View spec"</button>
            " "
            <button type="button" class="danger" disabled=move || !app.may("publish") on:click=detach>
                "Detach"
            </button>
        </li>
    }
}
