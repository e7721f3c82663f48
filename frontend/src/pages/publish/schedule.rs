//! Where pods will run: for a publication, the NodeFeatureRule that labels the nodes its spec
//! version fits (one label per compatibility set) and the pod affinity that asks for them, as
//! the server's `nodefit schedule` writes them, each to copy or download.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::nodefeaturerules::Schedule;

use crate::api;
use crate::handoff;
use crate::state::AppState;

/// Loads the schedule of `publication` into `shown`.
pub fn load(app: AppState, publication: i64, shown: RwSignal<Option<Schedule>>) {
    spawn_local(async move {
        let path = format!("/publications/{publication}/schedule");
        match api::call::<Schedule>("GET", &path, api::Body::None).await {
            Ok(schedule) => shown.set(Some(schedule)),
            Err(e) => app.error(format!(
                "The NodeFeatureRule and affinity could not be made. {e}"
            )),
        }
    });
}

#[component]
pub fn Scheduling(app: AppState, shown: RwSignal<Option<Schedule>>) -> impl IntoView {
    move || {
        shown.get().map(|s| {
            let rule_file = format!("{}.yaml", s.object_name);
            let affinity_file = format!("{}-affinity.yaml", s.object_name);
            let sets = s
                .sets
                .iter()
                .map(|set| {
                    let tag = if set.tag.is_empty() { String::new() } else { format!(", tag {:?}", set.tag) };
                    let weight = set
                        .preferred_weight
                        .map(|w| format!(", preferred with weight {w}"))
                        .unwrap_or_default();
                    view! { <li><code>{set.label.clone()}</code>{format!(" = set #{}{tag}{weight}", set.index + 1)}</li> }
                })
                .collect_view();
            view! {
                <section class="schedule" aria-labelledby="schedule-heading" data-testid="schedule">
                    <h3 id="schedule-heading">
                        {format!("Place pods on nodes version {} fits", s.version)}
                    </h3>
                    <p class="help">
                        "Apply the NodeFeatureRule to a cluster running NFD: nfd-master labels each node with the compatibility sets it matches, as validate-node would answer. Paste the affinity into the pod spec: it requires one of the labels and prefers the heavier sets."
                    </p>
                    <ul>{sets}</ul>
                    <Block app title="NodeFeatureRule" text=s.node_feature_rule.clone() file=rule_file testid="schedule-rule"/>
                    <Block app title="Pod affinity" text=s.affinity.clone() file=affinity_file testid="schedule-affinity"/>
                    <button type="button" on:click=move |_| shown.set(None)>"Close"</button>
                </section>
            }
        })
    }
}

#[component]
fn Block(
    app: AppState,
    title: &'static str,
    text: String,
    file: String,
    testid: &'static str,
) -> impl IntoView {
    let copied = text.clone();
    let downloaded = text.clone();
    let name = file.clone();
    view! {
        <h4>{title}</h4>
        <pre class="readonly" tabindex="0" aria-label=title data-testid=testid>{text}</pre>
        <button type="button" on:click=move |_| match handoff::copy(&copied) {
            Ok(()) => app.info(format!("{title} copied.")),
            Err(e) => app.error(e),
        }>"Copy"</button>
        " "
        <button type="button" on:click=move |_| match handoff::download(&name, &downloaded, "application/yaml") {
            Ok(()) => app.info(format!("Downloaded {name}.")),
            Err(e) => app.error(e),
        }>{format!("Download {file}")}</button>
    }
}
