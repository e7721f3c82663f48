//! The Test tab: the spec in the editor (saved or not) against chosen snapshots, evaluated here
//! in the browser by the core on every edit, exactly as `nodefit test` does: verdict, best set,
//! every rule and expression with the node's actual values, and instance features instance by
//! instance. The results beside the editor are the same ones, in short.

use leptos::prelude::*;
use nodefit_core::verdict;

use crate::pages::{labels_text, node_name};
use crate::results::{ExprView, NodeResult, TermInstances};
use crate::state::{AppState, Tab};

#[component]
pub fn TestPage(app: AppState) -> impl IntoView {
    let stale = move || app.live.with(|l| l.revision) != app.revision.get();
    view! {
        <h2 id="test-heading">"Test"</h2>
        <p class="help">
            "The spec as it is in the editor (saved or not) against the chosen snapshots, in this
            browser, with the same code as " <code>"nodefit test"</code> ". Results follow every edit."
        </p>
        <SnapshotChooser app/>
        <label>
            "Tags (optional, comma-separated) "
            <input
                data-testid="tags"
                prop:value=move || app.tags.get()
                on:input=move |ev| {
                    app.tags.set(event_target_value(&ev));
                    app.run_live();
                }
            />
        </label>
        <div
            class="results"
            class:stale=stale
            data-testid="test-results"
            data-revision=move || app.live.with(|l| l.revision).to_string()
        >
            {move || app.live.with(|l| l.problem.clone()).filter(|_| stale()).map(|p| view! {
                <p class="stale-mark" role="status" data-testid="stale">
                    <strong>"Out of date: "</strong>"these results are of an earlier text. " {p}
                </p>
            })}
            // Rendered only while the tab is shown: thousands of cells per keystroke otherwise.
            {move || (app.tab.get() == Tab::Test).then(|| {
                app.live.with(|l| l.nodes.clone()).into_iter().map(|r| view! { <NodeReport r/> }).collect_view()
            })}
        </div>
    }
}

#[component]
fn SnapshotChooser(app: AppState) -> impl IntoView {
    let chosen = app.chosen;
    let changed = move || {
        app.chosen_by_user.set(true);
        app.run_live();
    };
    view! {
        <fieldset class="choose">
            <legend>"Snapshots"</legend>
            <button
                type="button"
                class="linklike"
                on:click=move |_| {
                    chosen.set(app.snapshots.with(|l| l.iter().map(|s| s.id).collect()));
                    changed();
                }
            >
                "Choose all"
            </button>
            <button type="button" class="linklike" on:click=move |_| {
                chosen.set(Default::default());
                changed();
            }>
                "Choose none"
            </button>
            <ul>
                {move || {
                    app.snapshots
                        .get()
                        .into_iter()
                        .map(|s| {
                            let id = s.id;
                            view! {
                                <li>
                                    <label>
                                        <input
                                            type="checkbox"
                                            data-testid="choose-snapshot"
                                            prop:checked=move || chosen.with(|c| c.contains(&id))
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                chosen.update(|c| {
                                                    if on {
                                                        c.insert(id);
                                                    } else {
                                                        c.remove(&id);
                                                    }
                                                });
                                                changed();
                                            }
                                        />
                                        " " {node_name(&s)} " " <span class="muted">{labels_text(&s.labels)}</span>
                                    </label>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </fieldset>
    }
}

#[component]
fn NodeReport(r: NodeResult) -> impl IntoView {
    let expr_rows = |list: Vec<ExprView>| {
        list.into_iter()
            .map(|e| {
                view! {
                    <tr class=if e.is_match { "ok" } else { "fail" }>
                        <td>{format!("{}.{}", e.feature, e.element).trim_end_matches('.').to_string()}</td>
                        <td><code>{e.expression}</code></td>
                        <td class="result">{verdict::status_word(e.is_match)}</td>
                        <td class="actual">{e.actual}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    let sets = r
        .sets
        .into_iter()
        .map(|s| {
            let rules = s
                .rules
                .into_iter()
                .map(|rule| {
                    let any = rule
                        .any
                        .into_iter()
                        .enumerate()
                        .map(|(i, list)| {
                            view! {
                                <tr><td colspan="4" class="any">{format!("matchAny #{i}")}</td></tr>
                                {expr_rows(list)}
                            }
                        })
                        .collect_view();
                    view! {
                        <tbody>
                            <tr class=if rule.is_match { "rule ok" } else { "rule fail" }>
                                <th colspan="2" scope="rowgroup">{format!("Rule {}", rule.name)}</th>
                                <td class="result" data-testid="rule-result">{verdict::status_word(rule.is_match)}</td>
                                <td></td>
                            </tr>
                            {expr_rows(rule.expressions)}
                            {any}
                            {rule.instances.into_iter().map(|t| view! { <InstanceRows t/> }).collect_view()}
                        </tbody>
                    }
                })
                .collect_view();
            view! {
                <table class="report">
                    <caption class=if s.is_match { "ok" } else { "fail" }>
                        {format!("{} — {}{}", s.title, verdict::status_word(s.is_match), if s.best { " (best)" } else { "" })}
                    </caption>
                    <thead>
                        <tr>
                            <th scope="col">"Feature.element"</th>
                            <th scope="col">"Expression"</th>
                            <th scope="col">"Result"</th>
                            <th scope="col">"Node's value"</th>
                        </tr>
                    </thead>
                    {rules}
                </table>
            }
        })
        .collect_view();
    view! {
        <article class="node-report" data-testid="node-report">
            <h3>
                {r.node.clone()} ": "
                <span class=if r.compatible { "verdict ok" } else { "verdict fail" } data-testid="verdict">
                    {r.verdict.clone()}
                </span>
            </h3>
            {sets}
        </article>
    }
}

/// A term on an instance feature, one row per instance: matched, or which expression failed.
#[component]
fn InstanceRows(t: TermInstances) -> impl IntoView {
    let matched = t.rows.iter().filter(|r| r.matched).count();
    let summary = format!(
        "{}: {matched} of {} instances match every expression",
        t.feature,
        t.rows.len()
    );
    let rows = t
        .rows
        .into_iter()
        .map(|row| {
            let checks = row
                .checks
                .into_iter()
                .map(|(element, value, held)| {
                    let (class, word) = match &held {
                        Ok(true) => ("ok", "OK".to_string()),
                        Ok(false) => ("fail", "FAIL".to_string()),
                        Err(e) => ("fail", format!("ERROR {e}")),
                    };
                    let value = value.unwrap_or_else(|| "(absent)".into());
                    view! { <span class=format!("check {class}")>{format!("{element}={value} {word}")}</span> " " }
                })
                .collect_view();
            view! {
                <li class=if row.matched { "ok" } else { "fail" } data-testid="instance">
                    {format!("#{} {} ", row.index, if row.matched { "matched" } else { "did not match:" })}
                    {checks}
                </li>
            }
        })
        .collect_view();
    view! {
        <tr>
            <td colspan="4">
                <details class="instances">
                    <summary data-testid="instances-summary">{summary}</summary>
                    <ul>{rows}</ul>
                </details>
            </td>
        </tr>
    }
}
