//! The shell: login, the header with what the token may do, the tabs, and the status line.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::auth::Me;

use crate::api;
use crate::components::{focus_id, DialogHost, ViewerHost};
use crate::pages;
use crate::route::{Open, Route};
use crate::state::{AppState, Tab};

/// What each permission lets the user do, for the header.
const PERMISSIONS: &[(&str, &str)] = &[
    ("read", "read snapshots, specs and results"),
    (
        "write",
        "upload snapshots, save specs and NodeFeatureRule files",
    ),
    ("publish", "sign, attach and detach"),
    ("admin", "manage tokens"),
];

/// What the URL says now.
fn current_route() -> Route {
    Route::parse(
        &web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .unwrap_or_default(),
    )
}

async fn log_in(app: AppState, token: String) -> Result<Me, api::ApiError> {
    api::store_token(Some(&token));
    match api::call::<Me>("GET", "/me", api::Body::None).await {
        Ok(me) => {
            app.me.set(Some(me.clone()));
            app.restore().await;
            spawn_local(async move {
                if let Err(e) = app.refresh_specs().await {
                    app.error(format!("Loading the list of specs failed. {e}"));
                }
                if let Err(e) = app.refresh_snapshots().await {
                    app.error(format!("Loading snapshots failed. {e}"));
                }
            });
            Ok(me)
        }
        Err(e) => {
            api::store_token(None);
            Err(e)
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    let app = AppState::new();
    app.tab.set(current_route().tab);
    // Back, Forward, or a link pasted into this tab.
    let _ = window_event_listener(ev::hashchange, move |_| {
        let route = current_route();
        app.tab.set(route.tab);
        if app.me.with_untracked(Option::is_none) {
            return;
        }
        let open_id = app.spec.with_untracked(|s| s.as_ref().map(|s| s.id));
        match route.open {
            Open::Spec { id, version } if Some(id) != open_id => spawn_local(async move {
                if let Err(e) = app.open_spec(id, version).await {
                    app.error(format!("The spec in the link could not be opened. {e}"));
                }
            }),
            Open::Text(text) => app.open_text("shared-spec".into(), text, "The shared spec".into()),
            _ => {}
        }
    });
    // Unsaved changes are kept as drafts; only text the browser could not keep (over the
    // draft budgets) would be lost by leaving.
    let _ = window_event_listener(ev::beforeunload, move |ev| {
        if app.me.with_untracked(Option::is_some) && app.unsaved_and_not_kept() {
            ev.prevent_default();
        }
    });
    let checking = RwSignal::new(api::stored_token().is_some());
    if let Some(token) = api::stored_token() {
        spawn_local(async move {
            if let Err(e) = log_in(app, token).await {
                app.error(format!("Your session could not be resumed. {e}"));
            }
            checking.set(false);
        });
    }

    view! {
        <header class="top">
            <h1>"nodefit"</h1>
            <span class="subtitle">"NFD image compatibility specs"</span>
            {move || app.me.get().map(|me| view! { <WhoAmI app me/> })}
        </header>
        // In the flow, not floating: it must never cover what it talks about.
        <div
            class="notice"
            class:error=move || app.notice.with(|n| n.error)
            role=move || if app.notice.with(|n| n.error) { "alert" } else { "status" }
            aria-live="polite"
            data-testid="notice"
        >
            {move || app.notice.with(|n| n.text.clone())}
        </div>
        <DialogHost app/>
        <ViewerHost app/>
        {move || {
            if app.me.with(Option::is_some) {
                view! { <Shell app/> }.into_any()
            } else if checking.get() {
                view! { <p class="loading">"Resuming your session…"</p> }.into_any()
            } else {
                view! { <Login app/> }.into_any()
            }
        }}
    }
}

#[component]
fn WhoAmI(app: AppState, me: Me) -> impl IntoView {
    let may: Vec<&str> = PERMISSIONS
        .iter()
        .filter(|(p, _)| me.may(p))
        .map(|(_, what)| *what)
        .collect();
    let may_not: Vec<&str> = PERMISSIONS
        .iter()
        .filter(|(p, _)| !me.may(p))
        .map(|(_, what)| *what)
        .collect();
    let title = if may_not.is_empty() {
        String::new()
    } else {
        format!("Not allowed with this role: {}", may_not.join("; "))
    };
    view! {
        <div class="who" data-testid="who">
            <span>
                <strong>{me.name.clone()}</strong>
                " · role "
                <strong data-testid="role">{me.role.as_str()}</strong>
            </span>
            <span class="may" title=title>"May " {may.join("; ")}</span>
            <button type="button" on:click=move |_| app.log_out()>
                "Log out"
            </button>
        </div>
    }
}

#[component]
fn Login(app: AppState) -> impl IntoView {
    let token = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let value = token.get_untracked().trim().to_string();
        if value.is_empty() {
            error.set(Some(
                "Enter an API token. An admin creates one with `nodefit token create --role author`."
                    .into(),
            ));
            focus_id("token");
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match log_in(app, value).await {
                Ok(me) => {
                    // What opening the link said (a shared spec, unsaved changes back) matters more.
                    if app.notice.with_untracked(|n| n.text.is_empty()) {
                        app.info(format!("Logged in as {} ({}).", me.name, me.role.as_str()));
                    }
                    focus_id(&format!("tab-{}", app.tab.get_untracked().slug()));
                }
                Err(e) => {
                    error.set(Some(format!("Login failed. {e}")));
                    focus_id("token");
                }
            }
            busy.set(false);
        });
    };
    view! {
        <main class="login">
            <h2>"Log in"</h2>
            <p>
                "Paste an API token. It is kept in this browser tab only (sessionStorage) and sent as a
                Bearer token; no cookies are used."
            </p>
            <form on:submit=submit>
                <label for="token">"API token"</label>
                <input
                    id="token"
                    type="password"
                    autocomplete="off"
                    aria-describedby="token-error"
                    prop:value=move || token.get()
                    on:input=move |ev| token.set(event_target_value(&ev))
                />
                <button type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Checking…" } else { "Log in" }}
                </button>
            </form>
            <p id="token-error" class="error" role="alert">
                {move || error.get()}
            </p>
        </main>
    }
}

/// The tabs this token may use: Tokens only for admins.
fn tabs(app: AppState) -> Vec<Tab> {
    Tab::ALL
        .into_iter()
        .filter(|t| *t != Tab::Tokens || app.may("admin"))
        .collect()
}

#[component]
fn Shell(app: AppState) -> impl IntoView {
    let select = move |tab: Tab, focus: bool| {
        app.go(tab);
        if focus {
            focus_id(&format!("tab-{}", tab.slug()));
        }
    };
    // Arrow keys move between tabs, as the WAI-ARIA tabs pattern says.
    let on_key = move |ev: ev::KeyboardEvent| {
        let shown = tabs(app);
        let i = shown
            .iter()
            .position(|t| *t == app.tab.get_untracked())
            .unwrap_or(0);
        let n = shown.len();
        let next = match ev.key().as_str() {
            "ArrowRight" => (i + 1) % n,
            "ArrowLeft" => (i + n - 1) % n,
            "Home" => 0,
            "End" => n - 1,
            _ => return,
        };
        ev.prevent_default();
        select(shown[next], true);
    };
    let buttons = tabs(app)
        .into_iter()
        .map(|tab| {
            view! {
                <button
                    type="button"
                    role="tab"
                    id=format!("tab-{}", tab.slug())
                    aria-controls=format!("panel-{}", tab.slug())
                    aria-selected=move || (app.tab.get() == tab).to_string()
                    tabindex=move || if app.tab.get() == tab { "0" } else { "-1" }
                    on:click=move |_| select(tab, false)
                >
                    {tab.title()}
                </button>
            }
        })
        .collect_view();
    let panel = move |tab: Tab, body: AnyView| {
        view! {
            <section
                role="tabpanel"
                id=format!("panel-{}", tab.slug())
                aria-labelledby=format!("tab-{}", tab.slug())
                hidden=move || app.tab.get() != tab
            >
                {body}
            </section>
        }
    };
    view! {
        <nav class="tabs" role="tablist" aria-label="Pages" on:keydown=on_key>
            {buttons}
        </nav>
        <main>
            {panel(Tab::Editor, view! { <pages::editor::EditorPage app/> }.into_any())}
            {panel(Tab::Snapshots, view! { <pages::snapshots::SnapshotsPage app/> }.into_any())}
            {panel(Tab::Test, view! { <pages::test::TestPage app/> }.into_any())}
            {panel(Tab::Fleet, view! { <pages::fleet::FleetPage app/> }.into_any())}
            {panel(Tab::Rules, view! { <pages::rules::RulesPage app/> }.into_any())}
            {panel(Tab::Publish, view! { <pages::publish::PublishPage app/> }.into_any())}
            {panel(Tab::Versions, view! { <pages::versions::VersionsPage app/> }.into_any())}
            {app.may("admin").then(|| panel(Tab::Tokens, view! { <pages::tokens::TokensPage app/> }.into_any()))}
        </main>
    }
}
