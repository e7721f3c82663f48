//! The Publish tab: lint (here), save when the user agrees, then sign and attach (the server)
//! with each step shown, and the result until dismissed; below, the spec's publication history (`history`: who published
//! which version where) and the image's attached artifacts with detach (`attached`).

mod attached;
mod history;

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::publish::{Publication, PublishRequest, Referrers, Registry};
use nodefit_api::specs::Spec;
use nodefit_api::Page;

use crate::api;
use crate::state::{AppState, Dialog, Tab};

use attached::Attachments;
use history::PublicationHistory;

#[component]
pub fn PublishPage(app: AppState) -> impl IntoView {
    let registry = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    let history = RwSignal::new(Vec::<Publication>::new());
    let referrers = RwSignal::new(None::<Referrers>);
    let list_referrers = move || attached::list(app, registry, image, referrers);
    Effect::new(move |_| {
        let spec_id = app.spec.with(|s| s.as_ref().map(|s| s.id));
        if app.tab.get() == Tab::Publish && app.me.with(Option::is_some) {
            history::load(app, history, spec_id);
        }
    });
    let published = move |spec_id: i64| {
        list_referrers();
        history::load(app, history, Some(spec_id));
    };
    // After a detach: the image's list and the history, which marks the publication detached.
    let changed = move || {
        list_referrers();
        history::load(
            app,
            history,
            app.spec.with_untracked(|s| s.as_ref().map(|s| s.id)),
        );
    };
    let may_publish = move || app.may("publish");
    view! {
        <h2 id="publish-heading">"Publish"</h2>
        {move || (!may_publish()).then(|| view! {
            <p class="error" role="note">
                "Your token's role cannot publish. Publishing needs the publisher role: ask an admin for such a token."
            </p>
        })}
        <PublishForm app registry image published/>
        <PublicationHistory history/>
        <Attachments app registry image referrers list=list_referrers changed/>
    }
}

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

/// The form, the steps as they run, and the digests of the result. `published` is called with
/// the spec's id after each publication.
#[component]
fn PublishForm(
    app: AppState,
    registry: RwSignal<String>,
    image: RwSignal<String>,
    published: impl Fn(i64) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let platform = RwSignal::new(String::new());
    let steps = RwSignal::new([Step::Waiting; 3]);
    let result = RwSignal::new(None::<Publication>);
    let busy = RwSignal::new(false);
    let submit = move |ev: ev::SubmitEvent| {
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
        let errors = app
            .problems
            .with_untracked(|ps| ps.iter().filter(|p| p.severity == "error").count());
        steps.set([Step::Waiting; 3]);
        if errors > 0 {
            steps.set([Step::Failed, Step::Waiting, Step::Waiting]);
            app.error(format!(
                "Not published: the spec has {errors} lint error(s). Fix them in the Editor (Problems list), then publish again."
            ));
            return;
        }
        let platform = (!plat.is_empty()).then_some(plat);
        let go = move |spec: Spec| {
            let (reg, img, platform) = (reg.clone(), img.clone(), platform.clone());
            busy.set(true);
            spawn_local(async move {
                if let Some(p) = publish(app, steps, spec, reg, img, platform).await {
                    let spec_id = p.spec_id;
                    result.set(Some(p));
                    published(spec_id);
                }
                busy.set(false);
            });
        };
        // Only saved versions are published: unsaved changes are saved first, if the user
        // says so, with a message of their own.
        match app.spec.get_untracked() {
            Some(spec) if !app.dirty_untracked_for(&app.editor_text()) => {
                steps.set([Step::Done, Step::Done, Step::Waiting]);
                go(spec);
            }
            _ => {
                let message = RwSignal::new("Published".to_string());
                let go = go.clone();
                app.dialog.set(Some(Dialog {
                    title: "Save before publishing?".into(),
                    body: "Only saved versions are published, and the editor has unsaved changes. Save them as a new version, then publish that version?".into(),
                    action: "Save and publish".into(),
                    danger: false,
                    input: Some(("Version message".into(), message)),
                    on_confirm: Callback::new(move |()| {
                        let go = go.clone();
                        steps.set([Step::Done, Step::Running, Step::Waiting]);
                        app.request_save(message.get_untracked(), go);
                    }),
                }));
            }
        }
    };
    let may_publish = move || app.may("publish");
    view! {
        <form class="publish" on:submit=submit>
            <RegistryPicker app registry/>
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
            <section class="published" role="status" aria-labelledby="published-heading" data-testid="publish-result">
                <h3 id="published-heading">
                    {format!("Published version {} of {} to {} / {}", p.version, app.spec_label(p.spec_id), p.registry, p.image)}
                </h3>
                <dl class="digests">
                    <dt>"Image digest"</dt><dd><code>{p.image_digest.clone()}</code></dd>
                    <dt>"Artifact digest"</dt><dd><code data-testid="artifact-digest">{p.artifact_digest.clone()}</code></dd>
                    <dt>"Signature digest"</dt>
                    <dd><code data-testid="signature-digest">{p.signature_digest.clone().unwrap_or_else(|| "(not signed: the server has no signing key)".into())}</code></dd>
                </dl>
                <button type="button" data-testid="dismiss-result" on:click=move |_| result.set(None)>"Dismiss"</button>
            </section>
        })}
    }
}

/// Signs and attaches `spec`'s version (the server), showing the step. `None` when it failed,
/// which it has said.
async fn publish(
    app: AppState,
    steps: RwSignal<[Step; 3]>,
    spec: Spec,
    registry: String,
    image: String,
    platform: Option<String>,
) -> Option<Publication> {
    steps.set([Step::Done, Step::Done, Step::Running]);
    app.info(format!(
        "Signing and attaching version {} to {image}…",
        spec.version
    ));
    let request = PublishRequest {
        spec_id: spec.id,
        version: Some(spec.version),
        registry,
        image,
        platform,
    };
    match api::call::<Publication>("POST", "/publish", api::json(&request)).await {
        Ok(p) => {
            steps.update(|s| s[2] = Step::Done);
            app.info("");
            Some(p)
        }
        Err(e) => {
            steps.update(|s| s[2] = Step::Failed);
            app.error(format!("Not published. {e}"));
            None
        }
    }
}

/// The server's allow-list of registries, loaded when the tab is shown; the first is chosen
/// while none is.
#[component]
fn RegistryPicker(app: AppState, registry: RwSignal<String>) -> impl IntoView {
    let registries = RwSignal::new(Vec::<Registry>::new());
    Effect::new(move |_| {
        if app.tab.get() == Tab::Publish && app.me.with(Option::is_some) {
            spawn_local(async move {
                match api::call::<Page<Registry>>("GET", "/registries", api::Body::None).await {
                    Ok(page) => {
                        if page.items.is_empty() {
                            app.error(
                                "The server has no registries to publish to: its operator adds them to the server's configuration file (docs/server.md).",
                            );
                        }
                        if registry.get_untracked().is_empty() {
                            if let Some(first) = page.items.first() {
                                registry.set(first.name.clone());
                            }
                        }
                        registries.set(page.items);
                    }
                    Err(e) => app.error(format!("Listing registries failed: {e}")),
                }
            });
        }
    });
    view! {
        <label>
            "Registry "
            <select on:change=move |ev| registry.set(event_target_value(&ev)) data-testid="registry">
                {move || registries.get().into_iter().map(|r| {
                    let name = r.name.clone();
                    view! { <option value=r.name.clone() selected=move || registry.get() == name>{r.name.clone()}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}
