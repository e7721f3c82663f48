//! The Tokens tab (admins only): the server's API tokens, a new one (shown once), and revoke
//! (confirmed in the dialog, as every destructive action).

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::auth::{CreateToken, CreatedToken, Role, Token};
use nodefit_api::Page;

use crate::api;
use crate::state::{AppState, Tab};

#[component]
pub fn TokensPage(app: AppState) -> impl IntoView {
    let tokens = RwSignal::new(Vec::<Token>::new());
    let created = RwSignal::new(None::<CreatedToken>);
    let load = move || {
        spawn_local(async move {
            match api::call::<Page<Token>>("GET", "/tokens?limit=500", api::Body::None).await {
                Ok(page) => tokens.set(page.items),
                Err(e) => app.error(format!("The tokens could not be listed. {e}")),
            }
        })
    };
    Effect::new(move |_| {
        if app.tab.get() == Tab::Tokens {
            load();
        }
    });
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Author);
    let create = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let request = CreateToken {
            name: name.get_untracked().trim().to_string(),
            role: role.get_untracked(),
        };
        spawn_local(async move {
            match api::call::<CreatedToken>("POST", "/tokens", api::json(&request)).await {
                Ok(t) => {
                    name.set(String::new());
                    created.set(Some(t));
                    load();
                }
                Err(e) => app.error(format!("No token was made. {e}")),
            }
        });
    };
    let revoke = move |t: Token| {
        let me = app.user().unwrap_or_default();
        let yourself = if t.name == me {
            " This is the token you are logged in with: you will be logged out."
        } else {
            ""
        };
        app.confirm(
            format!("Revoke token {}?", t.name),
            format!(
                "Token {} ({}) stops working at once, for every program and person using it. This cannot be undone: they need a new token.{yourself}",
                t.name,
                t.role.as_str()
            ),
            format!("Revoke {}", t.name),
            move || {
                let id = t.id;
                spawn_local(async move {
                    match api::send("DELETE", &format!("/tokens/{id}"), api::Body::None).await {
                        Ok(_) => {
                            app.info("Token revoked.");
                            load();
                        }
                        Err(e) => app.error(format!("The token was not revoked. {e}")),
                    }
                });
            },
        );
    };
    view! {
        <h2 id="tokens-heading">"Tokens"</h2>
        <form class="spec-bar" on:submit=create>
            <label>"Name " <input data-testid="token-name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
            <label>
                "Role "
                <select on:change=move |ev| role.set(Role::parse(&event_target_value(&ev)).unwrap_or(Role::Viewer))>
                    {Role::ALL.into_iter().map(|r| view! {
                        <option value=r.as_str() selected=move || role.get() == r>{r.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <button type="submit">"Create token"</button>
        </form>
        {move || created.get().map(|t| view! {
            <div class="published" role="status">
                <p>{format!("Token {} ({}): copy it now, it is shown only once.", t.info.name, t.info.role.as_str())}</p>
                <input class="share-url" readonly aria-label="The new token" prop:value=t.token.clone()/>
                <button type="button" on:click=move |_| created.set(None)>"Dismiss"</button>
            </div>
        })}
        <table data-testid="tokens">
            <thead>
                <tr><th scope="col">"Name"</th><th scope="col">"Role"</th><th scope="col">"Created"</th><th scope="col">"Actions"</th></tr>
            </thead>
            <tbody>
                {move || tokens.get().into_iter().map(|t| {
                    let label = format!("Revoke {}", t.name);
                    view! {
                        <tr data-testid="token-row">
                            <th scope="row">{t.name.clone()}</th>
                            <td>{t.role.as_str()}</td>
                            <td>{format!("{} by {}", t.created_at, t.created_by)}</td>
                            <td><button type="button" class="danger" on:click=move |_| revoke(t.clone())>{label}</button></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
