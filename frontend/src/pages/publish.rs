//! The Publish tab: lint (here), save, then sign and attach (the server) with each step shown,
//! the resulting digests, the image's attached artifacts with detach, and the spec's
//! publication history (who published which version where).

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::publish::{Publication, PublishRequest, ReferrerArtifact, Referrers, Registry};
use nodefit_api::Page;

use crate::api;
use crate::state::{AppState, Tab};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Waiting,
    Running,
    Done,
    Failed,
}

const STEPS: [&str; 3] = [
    "Lint the spec (in this browser)",
    "Save the spec version",
    "Sign and attach (server)",
];

#[component]
pub fn PublishPage(app: AppState) -> impl IntoView {
    let registries = RwSignal::new(Vec::<Registry>::new());
    let registry = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    let platform = RwSignal::new(String::new());
    let steps = RwSignal::new([Step::Waiting; 3]);
    let result = RwSignal::new(None::<Publication>);
    let busy = RwSignal::new(false);
    let referrers = RwSignal::new(None::<Referrers>);
    let history = RwSignal::new(Vec::<Publication>::new());

    let load_history = move |spec_id: Option<i64>| {
        let Some(spec_id) = spec_id else {
            history.set(Vec::new());
            return;
        };
        spawn_local(async move {
            let path = format!("/publications?specId={spec_id}");
            match api::call::<Page<Publication>>("GET", &path, api::Body::None).await {
                Ok(page) => history.set(page.items),
                Err(e) => app.error(format!("Listing this spec's publications failed: {e}")),
            }
        });
    };
    Effect::new(move |_| {
        let spec_id = app.spec.with(|s| s.as_ref().map(|s| s.id));
        if app.tab.get() == Tab::Publish && app.me.with(Option::is_some) {
            load_history(spec_id);
        }
    });

    Effect::new(move |_| {
        if app.tab.get() == Tab::Publish && app.me.with(Option::is_some) {
            spawn_local(async move {
                match api::call::<Page<Registry>>("GET", "/registries", api::Body::None).await {
                    Ok(Page { items: list, .. }) => {
                        if list.is_empty() {
                            app.error(
                                "The server has no registries to publish to: its operator adds them to the server's configuration file (docs/server.md).",
                            );
                        }
                        if registry.get_untracked().is_empty() {
                            if let Some(first) = list.first() {
                                registry.set(first.name.clone());
                            }
                        }
                        registries.set(list);
                    }
                    Err(e) => app.error(format!("Listing registries failed: {e}")),
                }
            });
        }
    });

    let list_referrers = move || {
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
                Ok(found) => {
                    app.info(format!(
                        "{} compatibility artifact(s) attached to {}.",
                        found.artifacts.len(),
                        img.trim()
                    ));
                    referrers.set(Some(found));
                }
                Err(e) => app.error(format!("Listing the image's attachments failed: {e}")),
            }
        });
    };

    let set_step = move |i: usize, s: Step| steps.update(|st| st[i] = s);
    let publish = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let (reg, img, plat) = (
            registry.get_untracked(),
            image.get_untracked().trim().to_string(),
            platform.get_untracked().trim().to_string(),
        );
        if reg.is_empty() || img.is_empty() {
            app.error("Choose a registry and enter an image reference (repository:tag or repository@sha256:…).");
            return;
        }
        busy.set(true);
        result.set(None);
        steps.set([Step::Waiting; 3]);
        spawn_local(async move {
            set_step(0, Step::Running);
            let errors = app
                .problems
                .with_untracked(|ps| ps.iter().filter(|p| p.severity == "error").count());
            if errors > 0 {
                set_step(0, Step::Failed);
                app.error(format!(
                    "Not published: the spec has {errors} lint error(s). Fix them in the Editor (Problems list), then publish again."
                ));
                busy.set(false);
                return;
            }
            set_step(0, Step::Done);
            set_step(1, Step::Running);
            let spec = match app.spec.get_untracked() {
                Some(s) if !app.dirty() => Ok(s),
                _ => app.save("Saved to publish").await,
            };
            let spec = match spec {
                Ok(s) => s,
                Err(e) => {
                    set_step(1, Step::Failed);
                    app.error(format!("Not published: saving the spec failed: {e}"));
                    busy.set(false);
                    return;
                }
            };
            set_step(1, Step::Done);
            set_step(2, Step::Running);
            app.info(format!(
                "Signing and attaching version {} to {img}…",
                spec.version
            ));
            let body = api::json(&PublishRequest {
                spec_id: spec.id,
                version: Some(spec.version),
                registry: reg,
                image: img,
                platform: (!plat.is_empty()).then_some(plat),
            });
            match api::call::<Publication>("POST", "/publish", body).await {
                Ok(p) => {
                    set_step(2, Step::Done);
                    app.info(format!(
                        "Published: artifact {} attached to {}.",
                        p.artifact_digest, p.image_digest
                    ));
                    result.set(Some(p));
                    list_referrers();
                    load_history(Some(spec.id));
                }
                Err(e) => {
                    set_step(2, Step::Failed);
                    app.error(format!("Not published: {e}"));
                }
            }
            busy.set(false);
        });
    };

    let may_publish = move || app.may("publish");
    view! {
        <h2 id="publish-heading">"Publish"</h2>
        {move || (!may_publish()).then(|| view! {
            <p class="error" role="note">
                "Your token's role cannot publish. Publishing needs the publisher role: ask an admin for such a token."
            </p>
        })}
        <form class="publish" on:submit=publish>
            <label>
                "Registry "
                <select on:change=move |ev| registry.set(event_target_value(&ev)) data-testid="registry">
                    {move || registries.get().into_iter().map(|r| {
                        let name = r.name.clone();
                        view! { <option value=r.name.clone() selected=move || registry.get() == name>{r.name.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Image "
                <input
                    data-testid="image"
                    placeholder="team/app:v1 or team/app@sha256:…"
                    prop:value=move || image.get()
                    on:input=move |ev| image.set(event_target_value(&ev))
                />
            </label>
            <label>
                "Platform (optional) "
                <input
                    placeholder="linux/amd64"
                    prop:value=move || platform.get()
                    on:input=move |ev| platform.set(event_target_value(&ev))
                />
            </label>
            <button type="submit" data-testid="publish" disabled=move || busy.get() || !may_publish()>
                {move || if busy.get() { "Publishing…" } else { "Lint, sign and attach" }}
            </button>
        </form>
        <ol class="steps" aria-label="Progress" aria-live="polite" data-testid="publish-steps">
            {move || {
                let st = steps.get();
                STEPS.iter().zip(st).map(|(label, s)| {
                    let (class, mark) = match s {
                        Step::Waiting => ("waiting", "…"),
                        Step::Running => ("running", "⟳"),
                        Step::Done => ("done", "✓"),
                        Step::Failed => ("failed", "✗"),
                    };
                    view! { <li class=class>{format!("{mark} {label}")}</li> }
                }).collect_view()
            }}
        </ol>
        {move || result.get().map(|p| view! {
            <dl class="digests" data-testid="publish-result">
                <dt>"Image"</dt><dd>{format!("{} / {}", p.registry, p.image)}</dd>
                <dt>"Image digest"</dt><dd><code>{p.image_digest.clone()}</code></dd>
                <dt>"Artifact digest"</dt><dd><code data-testid="artifact-digest">{p.artifact_digest.clone()}</code></dd>
                <dt>"Signature digest"</dt>
                <dd><code data-testid="signature-digest">{p.signature_digest.clone().unwrap_or_else(|| "(not signed: the server has no signing key)".into())}</code></dd>
                <dt>"Spec version"</dt><dd>{p.version}</dd>
            </dl>
        })}
        <section aria-labelledby="history-heading">
            <h3 id="history-heading">"Publications of this spec"</h3>
            {move || {
                let list = history.get();
                if list.is_empty() {
                    return view! {
                        <p class="muted">"Not published yet (publishing saves the spec first)."</p>
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
                            </tr>
                        </thead>
                        <tbody>
                            {list.into_iter().map(|p| view! {
                                <tr>
                                    <td>{p.created_at}</td>
                                    <td>{p.created_by}</td>
                                    <td>{p.version}</td>
                                    <td>{format!("{} / {}", p.registry, p.image)}<br/><code>{p.image_digest}</code></td>
                                    <td><code>{p.artifact_digest}</code></td>
                                    <td><code>{p.signature_digest.unwrap_or_else(|| "unsigned".into())}</code></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
        <section aria-labelledby="image-heading">
            <h3 id="image-heading">"Attached to the image"</h3>
            <button type="button" on:click=move |_| list_referrers() data-testid="list-referrers">
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
                            .map(|r| view! { <ReferrerRow app r registry image on_change=list_referrers/> })
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
            <code>{r.digest.clone()}</code>
            " " <span>{signed}</span>
            " " <span class="muted">{r.created.clone().unwrap_or_default()}</span>
            {r.nfd_choice.then(|| view! { " " <strong>"the one NFD uses"</strong> })}
            " "
            <button type="button" class="danger" disabled=move || !app.may("publish") on:click=detach>
                {move || if confirming.get() { "Confirm detach" } else { "Detach" }}
            </button>
        </li>
    }
}
