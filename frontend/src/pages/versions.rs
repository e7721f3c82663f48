//! The Versions tab: the open spec's history, any version read-only, the diff of two versions,
//! and restore (into the editor, after saying what it does; saving it is the user's call).

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::specs::{Diff, Version};

use crate::api;
use crate::state::{AppState, Tab, Viewed};

#[component]
pub fn VersionsPage(app: AppState) -> impl IntoView {
    let versions = RwSignal::new(Vec::<Version>::new());
    let from = RwSignal::new(0i64);
    let to = RwSignal::new(0i64);
    let diff = RwSignal::new(None::<String>);

    let load = move || {
        let Some(spec) = app.spec.get_untracked() else {
            versions.set(Vec::new());
            return;
        };
        spawn_local(async move {
            let path = format!("/specs/{}/versions", spec.id);
            match api::every::<Version>(&path).await {
                Ok(mut list) => {
                    list.sort_by_key(|v| std::cmp::Reverse(v.version));
                    if let (Some(newest), Some(prev)) = (list.first(), list.get(1)) {
                        to.set(newest.version);
                        from.set(prev.version);
                    }
                    versions.set(list);
                }
                Err(e) => app.error(format!("The history could not be loaded. {e}")),
            }
        });
    };
    Effect::new(move |_| {
        app.spec.track();
        if app.tab.get() == Tab::Versions {
            load();
        }
    });

    let show_diff = move |_| {
        let Some(spec) = app.spec.get_untracked() else {
            return;
        };
        let (a, b) = (from.get_untracked(), to.get_untracked());
        spawn_local(async move {
            let path = format!("/specs/{}/diff?from={a}&to={b}", spec.id);
            match api::call::<Diff>("GET", &path, api::Body::None).await {
                Ok(d) => diff.set(Some(d.unified)),
                Err(e) => app.error(format!("The diff could not be made. {e}")),
            }
        });
    };

    let restore = move |version: i64| restore(app, version);
    let view_version = move |version: i64| {
        let Some(spec) = app.spec.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let path = format!("/specs/{}/versions/{version}", spec.id);
            match api::call::<Version>("GET", &path, api::Body::None).await {
                Ok(v) => app.view_text(Viewed {
                    title: format!("{} version {version}", spec.name),
                    about: format!(
                        "Saved {} by {}{}.",
                        v.created_at,
                        v.created_by,
                        if v.message.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", v.message)
                        }
                    ),
                    text: v.content.unwrap_or_default(),
                    action: app.may("write").then(|| {
                        (
                            "Restore this version".to_string(),
                            Callback::new(move |()| restore(version)),
                        )
                    }),
                }),
                Err(e) => app.error(format!("The version could not be shown. {e}")),
            }
        });
    };

    view! {
        <h2 id="versions-heading">"Versions"</h2>
        {move || app.spec.with(Option::is_none).then(|| view! {
            <p>"Open or save a spec on the Editor tab to see its history."</p>
        })}
        <VersionTable app versions restore view_version/>
        <div class="diff-controls">
            <VersionSelect label="From" versions chosen=from/>
            <VersionSelect label="To" versions chosen=to/>
            <button type="button" on:click=show_diff disabled=move || versions.with(|v| v.len() < 2)>
                "Show diff"
            </button>
        </div>
        {move || diff.get().map(|unified| view! { <DiffView unified/> })}
    }
}

/// Puts `version`'s text in the editor as unsaved changes, after saying so: Save then makes it
/// the newest version, and Ctrl-Z takes it back.
fn restore(app: AppState, version: i64) {
    let Some(spec) = app.spec.get_untracked() else {
        return;
    };
    let unsaved = if app.dirty_untracked_for(&app.editor_text()) {
        " Your unsaved changes are replaced (Ctrl-Z in the editor brings them back)."
    } else {
        ""
    };
    app.confirm(
        format!("Restore version {version}?"),
        format!(
            "The editor's text becomes version {version}'s, as unsaved changes: nothing is saved until you press Save, which makes it version {}.{unsaved}",
            spec.version + 1
        ),
        format!("Put version {version} in the editor"),
        move || {
            let path = format!("/specs/{}/versions/{version}", spec.id);
            spawn_local(async move {
                match api::call::<Version>("GET", &path, api::Body::None).await {
                    Ok(v) => {
                        app.with_editor(|e| e.set_text(&v.content.unwrap_or_default()));
                        app.go(Tab::Editor);
                        app.info(format!("Version {version} is in the editor, not saved: Save to make it the newest version, or Ctrl-Z to take it back."));
                    }
                    Err(e) => app.error(format!("Version {version} could not be restored. {e}")),
                }
            });
        },
    );
}

#[component]
fn VersionTable(
    app: AppState,
    versions: RwSignal<Vec<Version>>,
    restore: impl Fn(i64) + Copy + Send + Sync + 'static,
    view_version: impl Fn(i64) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <table class="versions" data-testid="versions">
            <thead>
                <tr>
                    <th scope="col">"Version"</th>
                    <th scope="col">"Message"</th>
                    <th scope="col">"By"</th>
                    <th scope="col">"When"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                {move || versions.get().into_iter().map(|v| {
                    let n = v.version;
                    view! {
                        <tr>
                            <th scope="row">{n}</th>
                            <td>{v.message}</td>
                            <td>{v.created_by}</td>
                            <td>{v.created_at}</td>
                            <td class="actions">
                                <button type="button" on:click=move |_| view_version(n)>
                                    {format!("View version {n}")}
                                </button>
                                <button
                                    type="button"
                                    disabled=move || !app.may("write")
                                    on:click=move |_| restore(n)
                                >
                                    {format!("Restore version {n}")}
                                </button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn VersionSelect(
    label: &'static str,
    versions: RwSignal<Vec<Version>>,
    chosen: RwSignal<i64>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            " "
            <select on:change=move |ev| chosen.set(event_target_value(&ev).parse().unwrap_or(0))>
                {move || versions.get().into_iter().map(|v| {
                    let n = v.version;
                    view! { <option value=n.to_string() selected=move || chosen.get() == n>{format!("version {n}")}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

/// The unified diff, each line marked as added, removed, hunk header or file header.
#[component]
fn DiffView(unified: String) -> impl IntoView {
    let lines = unified
        .lines()
        .map(|l| {
            let class = if l.starts_with("+++") || l.starts_with("---") {
                "meta"
            } else if l.starts_with('+') {
                "add"
            } else if l.starts_with('-') {
                "del"
            } else if l.starts_with("@@") {
                "hunk"
            } else {
                "ctx"
            };
            view! { <span class=class>{l.to_string()}"\n"</span> }
        })
        .collect_view();
    view! { <pre class="diff" data-testid="diff" aria-label="Unified diff">{lines}</pre> }
}
