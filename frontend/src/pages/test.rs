//! The Test tab: the spec in the editor (saved or not) against chosen snapshots, evaluated here
//! in the browser by the core, exactly as `nodefit test` does: verdict, best set, and every rule
//! and expression with the node's actual values.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_core::eval::{self, Options};
use nodefit_core::features::Features;
use nodefit_core::report::{MatchedExpression, MatcherType};
use nodefit_core::source::LineIndex;
use nodefit_core::verdict;

use crate::builder;
use crate::pages::{labels_text, node_name};
use crate::state::AppState;

#[derive(Clone, Debug, PartialEq)]
pub struct ExprView {
    pub feature: String,
    pub element: String,
    pub expression: String,
    pub is_match: bool,
    pub actual: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuleView {
    pub name: String,
    pub is_match: bool,
    pub expressions: Vec<ExprView>,
    /// One list per `matchAny` element.
    pub any: Vec<Vec<ExprView>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SetView {
    pub index: usize,
    pub title: String,
    pub is_match: bool,
    pub best: bool,
    pub rules: Vec<RuleView>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeResult {
    pub node: String,
    pub compatible: bool,
    pub verdict: String,
    pub sets: Vec<SetView>,
}

fn expr_view(m: &MatchedExpression) -> ExprView {
    let expression = match (m.matcher_type, m.expression) {
        (MatcherType::MatchName, Some(e)) => {
            format!(
                "matchName {}",
                builder::expression(&e.op, &e.value, &e.value_type)
            )
        }
        (_, Some(e)) => builder::expression(&e.op, &e.value, &e.value_type),
        (_, None) => "null".to_string(),
    };
    ExprView {
        feature: m.feature.to_string(),
        element: m.name.to_string(),
        expression,
        is_match: m.is_match,
        actual: verdict::actual_text(m.actual.as_deref(), None),
    }
}

fn set_title(spec: &nodefit_core::spec::Spec, index: usize) -> String {
    let set = &spec.compatibilities[index];
    let mut title = format!("Set #{}", index + 1);
    if !set.tag.is_empty() {
        title.push_str(&format!(" [{}]", set.tag));
    }
    title.push_str(&format!(" weight {}", set.weight));
    if !set.description.is_empty() {
        title.push_str(&format!(": {}", set.description));
    }
    title
}

/// Evaluates the spec text against one node's features. `Err` when the spec does not decode.
pub fn evaluate(
    text: &str,
    node: &str,
    features: &Features,
    tags: &[String],
) -> Result<NodeResult, String> {
    let spec = nodefit_core::parse_spec(text).map_err(|errors| {
        format!(
            "The spec does not decode ({} error(s), first: {}). Fix the errors listed under Problems in the Editor, then run again.",
            errors.len(),
            errors.first().map(|e| e.message.clone()).unwrap_or_default()
        )
    })?;
    let options = Options {
        tags: tags.to_vec(),
        ..Options::default()
    };
    let evaluation = match eval::evaluate(&spec, features, &options) {
        Ok(e) => e,
        Err(e) => {
            let (line, column) = LineIndex::new(text).line_col(e.span.start);
            return Ok(NodeResult {
                node: node.to_string(),
                compatible: false,
                verdict: format!(
                    "ERROR line {line}, column {column}: {} ({})",
                    e.message,
                    verdict::error_note(&e)
                ),
                sets: Vec::new(),
            });
        }
    };
    // Decided and worded by the core, as `nodefit test` prints it.
    let judged = verdict::explain(&spec, &evaluation, features);
    let sets = judged
        .report
        .iter()
        .flatten()
        .map(|s| SetView {
            index: s.index,
            title: set_title(&spec, s.index),
            is_match: s.is_match,
            best: s.best,
            rules: s
                .rules
                .iter()
                .flatten()
                .map(|r| RuleView {
                    name: r.name.to_string(),
                    is_match: r.is_match,
                    expressions: r.matched_expressions.iter().map(expr_view).collect(),
                    any: r
                        .matched_any
                        .iter()
                        .map(|a| {
                            a.matched_expressions
                                .iter()
                                .flatten()
                                .map(expr_view)
                                .collect()
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    Ok(NodeResult {
        node: node.to_string(),
        compatible: judged.compatible,
        verdict: judged.to_string(),
        sets,
    })
}

#[component]
pub fn TestPage(app: AppState) -> impl IntoView {
    let chosen = RwSignal::new(BTreeSet::<i64>::new());
    let tags = RwSignal::new(String::new());
    let results = RwSignal::new(Vec::<NodeResult>::new());
    let busy = RwSignal::new(false);
    let run = move |_| {
        let ids: Vec<(i64, String)> = app.snapshots.with_untracked(|list| {
            list.iter()
                .filter(|s| chosen.with_untracked(|c| c.contains(&s.id)))
                .map(|s| (s.id, node_name(s)))
                .collect()
        });
        if ids.is_empty() {
            app.error("Choose at least one snapshot to test against (or upload one on the Snapshots tab).");
            return;
        }
        let tag_list: Vec<String> = tags
            .get_untracked()
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        busy.set(true);
        spawn_local(async move {
            let text = app.text.get_untracked();
            let mut out = Vec::new();
            for (id, name) in ids {
                match app.snapshot_features(id).await {
                    Ok(f) => match evaluate(&text, &name, &f, &tag_list) {
                        Ok(r) => out.push(r),
                        Err(e) => {
                            app.error(e);
                            busy.set(false);
                            results.set(Vec::new());
                            return;
                        }
                    },
                    Err(e) => app.error(format!("Loading snapshot {name} failed: {e}")),
                }
            }
            let fit = out.iter().filter(|r| r.compatible).count();
            app.info(format!(
                "Tested {} snapshot(s): {fit} compatible.",
                out.len()
            ));
            results.set(out);
            busy.set(false);
        });
    };
    view! {
        <h2 id="test-heading">"Test"</h2>
        <p class="help">
            "Runs the spec as it is in the editor (saved or not) against the chosen snapshots,
            in this browser, with the same code as " <code>"nodefit test"</code> "."
        </p>
        <SnapshotChooser app chosen/>
        <label>
            "Tags (optional, comma-separated) "
            <input prop:value=move || tags.get() on:input=move |ev| tags.set(event_target_value(&ev))/>
        </label>
        <button type="button" data-testid="run-test" on:click=run disabled=move || busy.get()>
            {move || if busy.get() { "Running…" } else { "Run test" }}
        </button>
        <div class="results" data-testid="test-results">
            {move || results.get().into_iter().map(|r| view! { <NodeReport r/> }).collect_view()}
        </div>
    }
}

/// A checkbox per stored snapshot, with "all" and "none".
#[component]
fn SnapshotChooser(app: AppState, chosen: RwSignal<BTreeSet<i64>>) -> impl IntoView {
    view! {
        <fieldset class="choose">
            <legend>"Snapshots"</legend>
            <button
                type="button"
                class="linklike"
                on:click=move |_| chosen.set(app.snapshots.with(|l| l.iter().map(|s| s.id).collect()))
            >
                "Choose all"
            </button>
            <button type="button" class="linklike" on:click=move |_| chosen.set(BTreeSet::new())>
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_and_actual_values() {
        let snap = nodefit_core::snapshot::parse(
            r#"{"attributes":{"cpu.model":{"elements":{"vendor_id":"AMD"}}}}"#,
        )
        .unwrap();
        let f = &snap.nodes[0].features;
        let spec = "version: v1alpha1\ncompatibilities:\n- tag: intel\n  rules:\n  - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel]}\n";
        let r = evaluate(spec, "n1", f, &[]).unwrap();
        assert!(!r.compatible);
        assert!(r.verdict.starts_with("FAIL"));
        let e = &r.sets[0].rules[0].expressions[0];
        assert_eq!(e.actual, "AMD");
        assert_eq!(e.expression, "{op: In, value: [Intel]}");
        let r = evaluate(&spec.replace("Intel", "AMD"), "n1", f, &[]).unwrap();
        assert!(r.compatible);
        assert_eq!(
            r.verdict,
            "OK compatible: best set #1, tag \"intel\", weight 0"
        );
        assert!(evaluate("version: [", "n1", f, &[]).is_err());
    }
}
