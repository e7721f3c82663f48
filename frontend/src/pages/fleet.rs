//! The Fleet tab: the editor's spec against every stored snapshot, as a matrix of nodes × sets.
//!
//! This one asks the server (`POST /specs/{id}/evaluate`): the fleet can be far larger than what
//! is worth downloading into a browser tab, and the server pages and filters it. Unsaved text is
//! sent as it is (`content`) and saves nothing; a matrix of another text than the editor's is
//! marked out of date.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::fleet::{FleetItem, FleetMatrix, SetSummary};
use nodefit_api::specs::EvaluateRequest;

use crate::api;
use crate::pages::labels_text;
use crate::state::AppState;

/// The most nodes one matrix shows; past that, filter by labels on the Snapshots tab.
const MAX_NODES: usize = 5000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdicts {
    All,
    Compatible,
    Incompatible,
}

fn matches_filter(item: &FleetItem, text: &str, verdicts: Verdicts) -> bool {
    let by_verdict = match verdicts {
        Verdicts::All => true,
        Verdicts::Compatible => item.compatible,
        Verdicts::Incompatible => !item.compatible,
    };
    let text = text.trim().to_lowercase();
    let by_text = text.is_empty()
        || item
            .node_name
            .as_ref()
            .is_some_and(|n| n.to_lowercase().contains(&text))
        || item
            .labels
            .iter()
            .any(|(k, v)| format!("{k}={v}").to_lowercase().contains(&text));
    by_verdict && by_text
}

/// What was evaluated: a stored version, or (version 0) the editor's unsaved text.
fn of_what(version: i64) -> String {
    if version == 0 {
        "the editor's unsaved text".to_string()
    } else {
        format!("spec version {version}")
    }
}

fn failing(item: &FleetItem, set: usize) -> String {
    item.sets
        .iter()
        .find(|c| c.index == set)
        .map(|c| c.failing_rules.join(", "))
        .unwrap_or_default()
}

/// Evaluates the editor's text (a stored version when it is saved, else the text itself) and
/// fetches the matrix page by page, up to [`MAX_NODES`] nodes.
async fn evaluate(app: AppState, text: String) -> api::Result<FleetMatrix> {
    let Some(spec) = app.spec.get_untracked() else {
        return Err(api::ApiError::new(
            0,
            "new-spec",
            "A new spec is evaluated on the server's fleet once it has been saved; the summary beside the editor covers fleets of up to 100 snapshots without saving.",
        ));
    };
    let content = app.dirty_untracked_for(&text).then_some(text);
    let path = format!("/specs/{}/evaluate", spec.id);
    let page = |offset: usize| {
        api::json(&EvaluateRequest {
            content: content.clone(),
            version: content.is_none().then_some(spec.version),
            limit: Some(api::MAX_PAGE),
            offset: Some(offset as i64),
            ..EvaluateRequest::default()
        })
    };
    let mut fleet: FleetMatrix = api::call("POST", &path, page(0)).await?;
    while fleet.items.len() < fleet.total.min(MAX_NODES) {
        let more: FleetMatrix = api::call("POST", &path, page(fleet.items.len())).await?;
        if more.items.is_empty() {
            break;
        }
        fleet.items.extend(more.items);
    }
    Ok(fleet)
}

#[component]
pub fn FleetPage(app: AppState) -> impl IntoView {
    let fleet = RwSignal::new(None::<FleetMatrix>);
    // The text the matrix is of.
    let evaluated = RwSignal::new(String::new());
    let filter = RwSignal::new(String::new());
    let verdicts = RwSignal::new(Verdicts::All);
    let busy = RwSignal::new(false);
    let run = move |_| {
        busy.set(true);
        let text = app.editor_text();
        spawn_local(async move {
            match evaluate(app, text.clone()).await {
                Ok(f) => {
                    app.info(format!(
                        "Fleet: {} of {} nodes compatible with {}.",
                        f.compatible,
                        f.total,
                        of_what(f.spec_version)
                    ));
                    evaluated.set(text);
                    fleet.set(Some(f));
                }
                Err(e) => app.error(format!("The fleet was not evaluated. {e}")),
            }
            busy.set(false);
        });
    };
    let stale = move || fleet.with(Option::is_some) && evaluated.get() != app.text.get();
    let set_verdicts = move |ev: ev::Event| {
        verdicts.set(match event_target_value(&ev).as_str() {
            "ok" => Verdicts::Compatible,
            "fail" => Verdicts::Incompatible,
            _ => Verdicts::All,
        })
    };
    view! {
        <h2 id="fleet-heading">"Fleet"</h2>
        <p class="help">
            "The editor's spec against every stored snapshot, evaluated by the server. Unsaved
            changes are evaluated as they are, without saving them."
        </p>
        <button
            type="button"
            data-testid="run-fleet"
            on:click=run
            disabled=move || busy.get()
        >
            {move || if busy.get() { "Evaluating…" } else { "Evaluate the fleet" }}
        </button>
        <div class="filters">
            <label>
                "Filter nodes "
                <input
                    type="search"
                    placeholder="name or label"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </label>
            <label>
                "Show "
                <select on:change=set_verdicts>
                    <option value="all">"all nodes"</option>
                    <option value="ok">"compatible only"</option>
                    <option value="fail">"incompatible only"</option>
                </select>
            </label>
        </div>
        {move || stale().then(|| view! {
            <p class="stale-mark" role="status" data-testid="stale">
                <strong>"Out of date: "</strong>
                "the editor's text changed since this matrix was made. Evaluate again to see the fleet for the text as it is."
            </p>
        })}
        <div class:stale=stale>
            {move || fleet.get().map(|f| view! { <Matrix f filter verdicts/> })}
        </div>
    }
}

/// Nodes × sets, with the nodes the filters let through.
#[component]
fn Matrix(f: FleetMatrix, filter: RwSignal<String>, verdicts: RwSignal<Verdicts>) -> impl IntoView {
    let header = f
        .sets
        .iter()
        .map(|s| {
            let mut title = format!("#{}", s.index + 1);
            if !s.tag.is_empty() {
                title.push_str(&format!(" {}", s.tag));
            }
            view! {
                <th scope="col" title=s.description.clone()>
                    {title}
                    <span class="count">{format!("{} of {}", s.matched, f.total)}</span>
                </th>
            }
        })
        .collect_view();
    let caption = format!(
        "{} of {} nodes compatible ({})",
        f.compatible,
        f.total,
        of_what(f.spec_version)
    );
    let FleetMatrix { sets, items, .. } = f;
    let rows = move || {
        let text = filter.get();
        let v = verdicts.get();
        items
            .iter()
            .filter(|i| matches_filter(i, &text, v))
            .map(|item| node_row(item, &sets))
            .collect_view()
    };
    view! {
        <table class="matrix" data-testid="fleet-matrix">
            <caption data-testid="fleet-summary">{caption}</caption>
            <thead>
                <tr>
                    <th scope="col">"Node"</th>
                    <th scope="col">"Verdict"</th>
                    {header}
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// One node: its verdict, then OK or FAIL per set (★ on its best), failing rules on hover.
fn node_row(item: &FleetItem, sets: &[SetSummary]) -> impl IntoView {
    let cells = sets
        .iter()
        .map(|s| {
            let hit = item.sets.iter().any(|c| c.index == s.index && c.is_match);
            let best = item.best_set == Some(s.index);
            let why = if hit {
                String::new()
            } else {
                failing(item, s.index)
            };
            let title = if why.is_empty() {
                String::new()
            } else {
                format!("Failing: {why}")
            };
            view! {
                <td class=if hit { "cell ok" } else { "cell fail" } title=title>
                    {if hit { "OK" } else { "FAIL" }}
                    {best.then_some(" ★")}
                </td>
            }
        })
        .collect_view();
    let labels = labels_text(&item.labels);
    let error = item.error.clone();
    view! {
        <tr data-testid="fleet-row">
            <th scope="row">
                {item.node_name.clone().unwrap_or_default()}
                " "
                <span class="muted">{labels}</span>
            </th>
            <td class=if item.compatible { "verdict ok" } else { "verdict fail" }>
                {if item.compatible { "compatible" } else { "not compatible" }}
                {error.map(|e| view! { <span class="error">{format!(" error: {e}")}</span> })}
            </td>
            {cells}
        </tr>
    }
}
