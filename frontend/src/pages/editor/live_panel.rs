//! Beside the editor: the Test results of the chosen snapshots and, for a small fleet, how
//! the whole fleet fares, both following every edit. Results of an earlier text (the text does
//! not decode now, or they are being recomputed) are marked as such, never shown as current.

use leptos::prelude::*;
use nodefit_core::verdict;

use crate::results::FLEET_SUMMARY_CAP;
use crate::state::{AppState, Tab};

#[component]
pub fn LivePanel(app: AppState) -> impl IntoView {
    let stale = move || app.live.with(|l| l.revision) != app.revision.get();
    // Only whether there are results: the list below updates itself, row by row.
    let empty = Memo::new(move |_| app.live.with(|l| l.nodes.is_empty()));
    view! {
        <section
            class="live"
            aria-labelledby="live-heading"
            data-testid="live-results"
            data-revision=move || app.live.with(|l| l.revision).to_string()
            class:stale=stale
        >
            <h3 id="live-heading">"Results, as you type"</h3>
            {move || {
                let problem = app.live.with(|l| l.problem.clone());
                let loading = app.live.with(|l| l.loading);
                match (stale(), problem) {
                    (true, Some(p)) => Some(view! {
                        <p class="stale-mark" role="status" data-testid="stale">
                            <strong>"Out of date: "</strong>
                            "these results are of an earlier text. " {p}
                        </p>
                    }.into_any()),
                    (true, None) if loading > 0 => Some(view! {
                        <p class="stale-mark" role="status" data-testid="stale">
                            <strong>"Out of date: "</strong>
                            {format!("loading {loading} snapshot(s)…")}
                        </p>
                    }.into_any()),
                    _ => None,
                }
            }}
            {move || {
                if empty.get() {
                    return view! {
                        <p class="muted">
                            "No snapshots chosen. Upload snapshots on the Snapshots tab; choose which to test on the "
                            <button type="button" class="linklike" on:click=move |_| app.go(Tab::Test)>"Test tab"</button> "."
                        </p>
                    }.into_any();
                }
                view! {
                    // Keyed by what a row shows: a keystroke that changes no verdict changes no row.
                    <ul class="live-nodes">
                        <For
                            each=move || app.live.with(|l| l.nodes.clone())
                            key=|r| (r.id, r.verdict.clone(), r.failing())
                            let:r
                        >
                            {
                            let failing = r.failing();
                            view! {
                                <li data-testid="live-node">
                                    <span class=if r.compatible { "verdict ok" } else { "verdict fail" }>
                                        {verdict::status_word(r.compatible)}
                                    </span>
                                    " " <strong>{r.node.clone()}</strong>
                                    <span class="muted">{format!(" {}", r.verdict.split_once(' ').map(|(_, rest)| rest).unwrap_or_default())}</span>
                                    {(!failing.is_empty()).then(|| view! {
                                        <div class="failing">"Failing: " {failing.join(", ")}</div>
                                    })}
                                </li>
                            }
                            }
                        </For>
                    </ul>
                    <p class="muted">
                        <button type="button" class="linklike" on:click=move |_| app.go(Tab::Test)>
                            "Every rule and expression, with the nodes' values"
                        </button>
                    </p>
                }.into_any()
            }}
            <FleetLine app/>
        </section>
    }
}

/// The whole fleet in a line or two, when it is small enough to evaluate here.
#[component]
fn FleetLine(app: AppState) -> impl IntoView {
    move || {
        let total = app.snapshots.with(Vec::len);
        if total == 0 {
            return None;
        }
        if total > FLEET_SUMMARY_CAP {
            return Some(view! {
                <p class="muted" data-testid="live-fleet">
                    {format!("The fleet has {total} snapshots, more than the {FLEET_SUMMARY_CAP} evaluated here: the Fleet tab asks the server.")}
                </p>
            }.into_any());
        }
        let current = app.revision.get();
        let summary = app.fleet.get();
        Some(match summary {
            None => view! { <p class="muted" data-testid="live-fleet">"Fleet: evaluating…"</p> }.into_any(),
            Some((revision, s)) => view! {
                <div class="live-fleet" class:stale=revision != current data-testid="live-fleet">
                    <h4>"Fleet"</h4>
                    {(revision != current).then(|| view! { <p class="stale-mark"><strong>"Out of date: "</strong>"updating when you pause typing…"</p> })}
                    <p>
                        <strong>{format!("{} of {} nodes compatible", s.compatible, s.total)}</strong>
                        {(s.errors > 0).then(|| format!(", {} where NFD would stop with an error", s.errors))}
                    </p>
                    <ul>
                        {s.sets.into_iter().map(|(title, n)| view! {
                            <li>{format!("{title}: matches {n} of {}", s.total)}</li>
                        }).collect_view()}
                    </ul>
                </div>
            }.into_any(),
        })
    }
}
