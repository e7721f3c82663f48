//! What else can be done with the editor's text: open an example, a file or the spec attached
//! to an image; download it; share it as a link; format it; and choose what Tab does.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::publish::{ImageSpec, Registry};
use nodefit_api::Page;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::api;
use crate::examples::EXAMPLES;
use crate::format;
use crate::route::{self, Open, Route};
use crate::state::{AppState, Tab};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Panel {
    None,
    Examples,
    Image,
    Share,
}

#[component]
pub fn Toolbar(app: AppState) -> impl IntoView {
    let panel = RwSignal::new(Panel::None);
    let toggle = move |p: Panel| panel.update(|cur| *cur = if *cur == p { Panel::None } else { p });
    let format_text = move |_| {
        let text = app.editor_text();
        match format::format(&text) {
            Ok(formatted) if formatted == text => app.info("The spec is already formatted."),
            Ok(formatted) => {
                app.with_editor(|e| e.set_text(&formatted));
                app.info("Formatted: indentation only; NFD reads the spec exactly as before (Ctrl-Z undoes).");
            }
            Err(e) => app.error(e.0),
        }
    };
    view! {
        <div class="toolbar" role="toolbar" aria-label="Spec tools">
            <button type="button" aria-expanded=move || (panel.get() == Panel::Examples).to_string() data-testid="examples" on:click=move |_| toggle(Panel::Examples)>"Examples"</button>
            <OpenFile app/>
            <button type="button" data-testid="download" on:click=move |_| download(app)>"Download"</button>
            <button type="button" aria-expanded=move || (panel.get() == Panel::Image).to_string() data-testid="from-image" on:click=move |_| toggle(Panel::Image)>"From an image…"</button>
            <button type="button" aria-expanded=move || (panel.get() == Panel::Share).to_string() data-testid="share" on:click=move |_| toggle(Panel::Share)>"Share link"</button>
            <button type="button" data-testid="format" on:click=format_text>"Format document"</button>
            <label class="check">
                <input
                    type="checkbox"
                    data-testid="tab-indents"
                    prop:checked=move || app.tab_indents.get()
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        app.tab_indents.set(on);
                        app.with_editor(|e| e.set_tab_indent(on));
                    }
                />
                " Tab key indents (Ctrl-M); otherwise Tab leaves the editor"
            </label>
        </div>
        {move || match panel.get() {
            Panel::Examples => view! { <Gallery app close=move || panel.set(Panel::None)/> }.into_any(),
            Panel::Image => view! { <FromImage app close=move || panel.set(Panel::None)/> }.into_any(),
            Panel::Share => view! { <ShareLink app/> }.into_any(),
            Panel::None => ().into_any(),
        }}
    }
}

#[component]
fn Gallery(app: AppState, close: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="gallery-heading" data-testid="gallery">
            <h3 id="gallery-heading">"Examples"</h3>
            <ul class="gallery">
                {EXAMPLES.iter().map(|ex| view! {
                    <li>
                        <strong>{ex.title}</strong>
                        <p class="muted">{ex.shows()}</p>
                        <button
                            type="button"
                            data-testid="open-example"
                            on:click=move |_| {
                                close();
                                app.open_text(ex.spec_name().to_string(), ex.text.to_string(), format!("The example {}", ex.file));
                            }
                        >
                            {format!("Open {}", ex.file)}
                        </button>
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}

/// A local file into the editor, as a new spec named after it.
#[component]
fn OpenFile(app: AppState) -> impl IntoView {
    let on_pick = move |ev: ev::Event| {
        let input: web_sys::HtmlInputElement = ev.target().expect("an input").unchecked_into();
        let Some(file) = input.files().and_then(|l| l.get(0)) else {
            return;
        };
        input.set_value("");
        let name = file.name();
        if file.size() > crate::drafts::MAX_DRAFT_BYTES as f64 {
            app.error(format!(
                "{name} is {}; a spec may be at most {}.",
                crate::size_text(file.size() as u64),
                crate::size_text(crate::drafts::MAX_DRAFT_BYTES as u64)
            ));
            return;
        }
        spawn_local(async move {
            match JsFuture::from(file.text())
                .await
                .ok()
                .and_then(|t| t.as_string())
            {
                Some(text) => {
                    let stem = name
                        .rsplit_once('.')
                        .map_or(name.as_str(), |(s, _)| s)
                        .to_string();
                    app.open_text(stem, text, format!("The file {name}"));
                }
                None => app.error(format!("{name} could not be read as text.")),
            }
        });
    };
    view! {
        <label class="filepick button-like">
            "Open file…"
            <input type="file" accept=".yaml,.yml,.json,text/yaml,application/json" data-testid="open-file" on:change=on_pick/>
        </label>
    }
}

/// Saves the editor's text as `<name>.yaml` through the browser's download.
fn download(app: AppState) {
    let text = app.editor_text();
    let name = format!("{}.yaml", app.spec_name.get_untracked().trim());
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/yaml");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return app.error("The browser could not prepare the download.");
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return app.error("The browser could not prepare the download.");
    };
    let a: web_sys::HtmlAnchorElement = document()
        .create_element("a")
        .expect("an anchor")
        .unchecked_into();
    a.set_href(&url);
    a.set_download(&name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    app.info(format!("Downloaded {name}."));
}

/// The spec attached to an image of an allow-listed registry, into the editor.
#[component]
fn FromImage(app: AppState, close: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let registries = RwSignal::new(Vec::<Registry>::new());
    let registry = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    spawn_local(async move {
        match api::call::<Page<Registry>>("GET", "/registries", api::Body::None).await {
            Ok(page) => {
                if let Some(first) = page.items.first() {
                    registry.set(first.name.clone());
                } else {
                    app.error("The server has no registries: its operator adds them to its configuration (docs/server.md).");
                }
                registries.set(page.items);
            }
            Err(e) => app.error(format!("Listing registries failed. {e}")),
        }
    });
    let load = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let (reg, img) = (
            registry.get_untracked(),
            image.get_untracked().trim().to_string(),
        );
        if img.is_empty() {
            app.error("Enter an image: repository:tag or repository@sha256:… inside the registry.");
            return;
        }
        spawn_local(async move {
            let path = format!(
                "/images/spec?registry={}&image={}",
                api::enc(&reg),
                api::enc(&img)
            );
            match api::call::<ImageSpec>("GET", &path, api::Body::None).await {
                Ok(found) => {
                    close();
                    let name = match &found.publication {
                        Some(p) => format!(
                            "{}-from-{}",
                            app.spec_label(p.spec_id),
                            img.replace(['/', ':', '@'], "-")
                        ),
                        None => img.replace(['/', ':', '@'], "-"),
                    };
                    app.open_text(
                        name,
                        found.content,
                        format!(
                            "The spec attached to {reg}:{img} (artifact {})",
                            found.artifact_digest
                        ),
                    );
                }
                Err(e) => app.error(format!("No spec was loaded from {reg}:{img}. {e}")),
            }
        });
    };
    view! {
        <form class="panel" on:submit=load aria-labelledby="image-load-heading" data-testid="image-form">
            <h3 id="image-load-heading">"Open the spec attached to an image"</h3>
            <p class="help">"The spec NFD's validate-node would use for the image: the newest compatibility artifact attached to it."</p>
            <label>
                "Registry "
                <select on:change=move |ev| registry.set(event_target_value(&ev))>
                    {move || registries.get().into_iter().map(|r| {
                        let name = r.name.clone();
                        view! { <option value=r.name.clone() selected=move || registry.get() == name>{r.name.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Image "
                <input data-testid="image-ref" placeholder="team/app:v1" prop:value=move || image.get() on:input=move |ev| image.set(event_target_value(&ev))/>
            </label>
            <button type="submit">"Open"</button>
        </form>
    }
}

/// A link that opens the same spec: the stored version when the text is saved, else the text
/// itself in the fragment (within its size limit).
#[component]
fn ShareLink(app: AppState) -> impl IntoView {
    let link = move || -> Result<String, String> {
        let open = match app.spec.get() {
            Some(s) if !app.dirty() => Open::Spec {
                id: s.id,
                version: Some(s.version),
            },
            _ => {
                let text = app.text.get();
                if let Some(problem) = route::share_problem(&text) {
                    return Err(problem);
                }
                Open::Text(text)
            }
        };
        let base = web_sys::window()
            .and_then(|w| w.location().href().ok())
            .map(|h| h.split('#').next().unwrap_or_default().to_string())
            .unwrap_or_default();
        Ok(format!(
            "{base}{}",
            Route {
                tab: Tab::Editor,
                open
            }
            .to_fragment()
        ))
    };
    view! {
        <section class="panel" aria-labelledby="share-heading">
            <h3 id="share-heading">"Share link"</h3>
            {move || match link() {
                Ok(url) => {
                    let about = if app.dirty() {
                        format!("The link holds the text itself (at most {}): whoever opens it gets it as a new, unsaved spec after logging in.", crate::size_text(route::SHARE_MAX_BYTES as u64))
                    } else {
                        "The link opens this saved version for anyone with a token for this server.".to_string()
                    };
                    view! {
                        <p class="help">{about}</p>
                        <input class="share-url" readonly aria-label="Share link" data-testid="share-url" prop:value=url on:focus=move |ev| {
                            let input: web_sys::HtmlInputElement = ev.target().expect("an input").unchecked_into();
                            input.select();
                        }/>
                    }.into_any()
                }
                Err(problem) => view! { <p class="error">{problem}</p> }.into_any(),
            }}
        </section>
    }
}
