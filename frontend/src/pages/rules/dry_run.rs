//! The dry run: what nfd-master would apply with the stored file on the stored nodes, chosen by
//! their labels, with its settings. The summary counts every label over all of them; the table
//! is a page of nodes; a node asked for alone answers every rule's outcome with why it did not
//! match.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::nodefeaturerules::{
    Applied, LabelsMatrix, LabelsRequest, NfdMasterSettings, NodeLabels, Produced, ProducedTaint,
    RuleResult,
};

use crate::api::{self, Place};
use crate::components::focus_id;
use crate::pages::{count, labels_text, parse_labels};
use crate::state::AppState;

use super::{stale_mark, Form};

/// Nodes per page of the table.
const PAGE: usize = 50;

/// `a, b` → `[a, b]`: how namespaces are typed in.
fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

async fn ask(id: i64, request: &LabelsRequest) -> api::Result<LabelsMatrix> {
    let path = format!("/nodefeaturerules/{id}/labels");
    api::call("POST", &path, api::json(request)).await
}

fn node_title(node: &NodeLabels) -> String {
    match &node.node_name {
        Some(name) if !name.is_empty() => name.clone(),
        _ => format!("snapshot {}", node.snapshot_id),
    }
}

/// `key=value`, with the rule that set it on hover.
fn produced(items: &[Produced]) -> impl IntoView {
    items
        .iter()
        .map(|p| {
            view! {
                <span class="chip" title=format!("{} / {}", p.object, p.rule)>
                    {format!("{}={}", p.key, p.value)}
                </span>
            }
        })
        .collect_view()
}

fn taint_text(t: &ProducedTaint) -> String {
    format!("{}={}:{}", t.key, t.value, t.effect)
}

fn status_text(rule: &RuleResult) -> &'static str {
    match rule.status.as_str() {
        "matched" => "matched",
        "notMatched" => "not matched",
        _ => "error: nfd-master logs it and skips the rule",
    }
}

#[component]
pub fn DryRun(app: AppState, form: Form, id: i64) -> impl IntoView {
    let selection = RwSignal::new(String::new());
    let deny = RwSignal::new(String::new());
    let extra = RwSignal::new(String::new());
    let whitelist = RwSignal::new(String::new());
    let taints = RwSignal::new(false);
    // What was asked (every page asks the same) and the content hash of the file answered.
    let asked = RwSignal::new(None::<(LabelsRequest, String)>);
    let matrix = RwSignal::new(None::<LabelsMatrix>);
    let node = RwSignal::new(None::<NodeLabels>);
    let refused = RwSignal::new(Vec::<Place>::new());
    let busy = RwSignal::new(false);

    let show_page = move |request: LabelsRequest, hash: String| {
        busy.set(true);
        spawn_local(async move {
            match ask(id, &request).await {
                Ok(answer) => {
                    refused.set(Vec::new());
                    matrix.set(Some(answer));
                    asked.set(Some((request, hash)));
                }
                Err(e) => {
                    refused.set(e.places());
                    app.error(format!("The dry run did not run. {e}"));
                }
            }
            busy.set(false);
        });
    };
    let run = move |_| {
        let labels = match parse_labels(&selection.get_untracked()) {
            Ok(l) => l,
            Err(e) => {
                app.error(format!("The label selection is not valid: {e}."));
                return;
            }
        };
        let Some(hash) = form
            .stored
            .with_untracked(|s| s.as_ref().map(|f| f.content_hash.clone()))
        else {
            return;
        };
        let whitelist = whitelist.get_untracked().trim().to_string();
        let request = LabelsRequest {
            labels: (!labels.is_empty()).then(|| labels.into_iter().collect()),
            settings: Some(NfdMasterSettings {
                deny_label_ns: list(&deny.get_untracked()),
                extra_label_ns: list(&extra.get_untracked()),
                label_whitelist: (!whitelist.is_empty()).then_some(whitelist),
                enable_taints: taints.get_untracked(),
            }),
            limit: Some(PAGE as i64),
            ..LabelsRequest::default()
        };
        node.set(None);
        show_page(request, hash);
    };
    let page = move |offset: usize| {
        if let Some((request, hash)) = asked.get_untracked() {
            show_page(
                LabelsRequest {
                    offset: Some(offset as i64),
                    ..request
                },
                hash,
            );
        }
    };
    // One node alone: the server then says why each rule did not match.
    let explain = move |snapshot: i64| {
        let Some((request, _)) = asked.get_untracked() else {
            return;
        };
        let request = LabelsRequest {
            snapshot_ids: Some(vec![snapshot]),
            settings: request.settings,
            ..LabelsRequest::default()
        };
        busy.set(true);
        spawn_local(async move {
            match ask(id, &request).await {
                Ok(answer) => node.set(answer.items.into_iter().next()),
                Err(e) => app.error(format!("The node's rules were not shown. {e}")),
            }
            busy.set(false);
        });
    };

    let answer = move || {
        matrix.get().map(|m| {
            let hash = asked.with(|a| a.as_ref().map(|(_, h)| h.clone()).unwrap_or_default());
            let total = m.total;
            let labels = m
                .summary
                .iter()
                .map(|l| {
                    view! {
                        <li data-testid="rules-label-count">
                            "Label " <code>{format!("{}={}", l.key, l.value)}</code>
                            {format!(" on {} of {} nodes", count(l.nodes), count(total))}
                        </li>
                    }
                })
                .collect_view();
            let problems = match (m.with_errors, m.failed) {
                (0, 0) => "no node where nfd-master would log an error".to_string(),
                (errors, 0) => format!("{} where nfd-master would log an error", count(errors)),
                (errors, failed) => format!(
                    "{} where nfd-master would log an error, {} nodefit could not finish",
                    count(errors),
                    count(failed)
                ),
            };
            view! {
                {move || stale_mark(form.stale(&hash))}
                <p class="summary" data-testid="rules-summary">
                    <strong>{format!("{} nodes", count(total))}</strong>
                    {format!(": {problems}.")}
                    {m.summary.is_empty().then_some(" No label on any of them.")}
                </p>
                <ul class="groups" data-testid="rules-label-counts">{labels}</ul>
                {nodes_table(m, page, explain)}
            }
        })
    };
    let detail = move || {
        node.get()
            .map(|n| view! { <NodeRules n close=move || node.set(None)/> })
    };

    view! {
        <section aria-labelledby="rules-run-heading">
            <h3 id="rules-run-heading">"Dry run on the stored nodes"</h3>
            <p class="help">
                "The labels nfd-master would apply with the saved file, on every stored node or those
                with the labels given. Its settings are nfd-master's flags; empty, they are its defaults."
            </p>
            <div class="filters">
                <label>
                    "Nodes with labels "
                    <input
                        data-testid="rules-selection"
                        placeholder="pool=gpu, zone=a"
                        prop:value=move || selection.get()
                        on:input=move |ev| selection.set(event_target_value(&ev))
                    />
                </label>
            </div>
            <fieldset class="settings">
                <legend>"nfd-master settings"</legend>
                <label>
                    "-deny-label-ns "
                    <input placeholder="*.example.com" prop:value=move || deny.get() on:input=move |ev| deny.set(event_target_value(&ev))/>
                </label>
                <label>
                    "-extra-label-ns "
                    <input placeholder="vendor.io" prop:value=move || extra.get() on:input=move |ev| extra.set(event_target_value(&ev))/>
                </label>
                <label>
                    "-label-whitelist "
                    <input placeholder="a Go regexp" prop:value=move || whitelist.get() on:input=move |ev| whitelist.set(event_target_value(&ev))/>
                </label>
                <label class="check">
                    <input type="checkbox" prop:checked=move || taints.get() on:change=move |ev| taints.set(event_target_checked(&ev))/>
                    " -enable-taints"
                </label>
            </fieldset>
            <button type="button" data-testid="run-rules" disabled=move || busy.get() on:click=run>
                {move || if busy.get() { "Running…" } else { "Run" }}
            </button>
            {move || {
                let places = refused.get();
                (!places.is_empty()).then(|| view! {
                    <div class="problems">
                        <p>"The Kubernetes API server would refuse this file:"</p>
                        <ul data-testid="rules-refused">
                            {places.into_iter().map(|p| view! {
                                <li class="problem error">
                                    <div class="at">
                                        <span class="where">{format!("{}:{}", p.line, p.column)}</span>
                                        <span class="code">{p.path}</span>
                                        <span class="msg">{p.message}</span>
                                    </div>
                                </li>
                            }).collect_view()}
                        </ul>
                    </div>
                })
            }}
            {answer}
            {detail}
        </section>
    }
}

/// A page of nodes: what lands on each and what is dropped, with the buttons to the pages around
/// it; a node's name asks for its rules.
fn nodes_table(
    m: LabelsMatrix,
    page: impl Fn(usize) + Copy + 'static,
    explain: impl Fn(i64) + Copy + 'static,
) -> impl IntoView {
    let first = m.offset + 1;
    let last = m.offset + m.items.len();
    let caption = if m.items.is_empty() {
        "No nodes".to_string()
    } else {
        format!(
            "Nodes {}–{} of {}",
            count(first),
            count(last),
            count(m.total)
        )
    };
    let previous = (m.offset > 0).then(|| {
        let offset = m.offset.saturating_sub(PAGE);
        view! { <button type="button" data-testid="rules-previous" on:click=move |_| page(offset)>"Previous page"</button> }
    });
    let next = (last < m.total).then(|| {
        view! { <button type="button" data-testid="rules-next" on:click=move |_| page(last)>"Next page"</button> }
    });
    let rows = m
        .items
        .into_iter()
        .map(|n| {
            let snapshot = n.snapshot_id;
            let title = node_title(&n);
            let own = labels_text(&n.labels);
            let cells = match n.applied {
                Some(applied) => applied_cells(&applied).into_any(),
                None => view! { <td colspan="5" class="muted">"Not known: nodefit could not finish on this node."</td> }.into_any(),
            };
            view! {
                <tr data-testid="rules-row">
                    <th scope="row">
                        <button
                            type="button"
                            class="linklike"
                            title="Every rule's outcome on this node, and why it did not match"
                            on:click=move |_| explain(snapshot)
                        >
                            {title}
                        </button>
                        " "
                        <span class="muted">{own}</span>
                        {n.error.map(|e| view! { <div class="error">{format!("not finished: {e}")}</div> })}
                    </th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="matrix rules-nodes" data-testid="rules-nodes">
            <caption data-testid="rules-page">{caption}</caption>
            <thead>
                <tr>
                    <th scope="col">"Node"</th>
                    <th scope="col">"Labels"</th>
                    <th scope="col">"Annotations"</th>
                    <th scope="col">"Extended resources"</th>
                    <th scope="col">"Taints"</th>
                    <th scope="col">"Rejected, and why"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <p>{previous}" "{next}</p>
    }
}

/// What lands on a node and what is dropped, one cell each; the rule that set each on hover.
fn applied_cells(applied: &Applied) -> impl IntoView {
    let taints = applied
        .taints
        .iter()
        .map(|t| view! { <span class="chip" title=format!("{} / {}", t.object, t.rule)>{taint_text(t)}</span> })
        .collect_view();
    let not_enabled = applied
        .taints_not_enabled
        .iter()
        .map(|t| view! { <div class="muted">{format!("{} (only with -enable-taints)", taint_text(t))}</div> })
        .collect_view();
    let rejected = applied
        .rejected
        .iter()
        .map(|r| {
            view! {
                <div class="error" title=format!("{} / {}", r.object, r.rule)>
                    {format!("{} {}={}: {}", r.kind, r.key, r.value, r.reason)}
                </div>
            }
        })
        .collect_view();
    view! {
        <td data-testid="rules-row-labels">{produced(&applied.labels)}</td>
        <td>{produced(&applied.annotations)}</td>
        <td>{produced(&applied.extended_resources)}</td>
        <td>{taints}{not_enabled}</td>
        <td>{rejected}</td>
    }
}

/// Every rule's outcome on one node, and where matching stopped for those that did not match.
/// It is scrolled to and takes the focus when it opens: it follows the table, and a click on a
/// node far up the table would otherwise show nothing.
#[component]
fn NodeRules(n: NodeLabels, close: impl Fn() + Copy + 'static) -> impl IntoView {
    Effect::new(move |_| {
        if let Some(heading) = document().get_element_by_id("rules-node-heading") {
            heading.scroll_into_view();
        }
        focus_id("rules-node-heading");
    });
    let title = node_title(&n);
    let rules = n
        .applied
        .map(|a| a.rules)
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let class = match r.status.as_str() {
                "matched" => "verdict ok",
                _ => "verdict fail",
            };
            let why = r
                .why
                .iter()
                .map(|w| view! { <li>{w.clone()}</li> })
                .collect_view();
            view! {
                <li data-testid="rules-rule">
                    <span class=class>{format!("{} / {}: {}", r.object, r.rule, status_text(&r))}</span>
                    {r.error.clone().map(|e| view! { <div class="error">{e}</div> })}
                    <ul class="why">{why}</ul>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="node-report" aria-labelledby="rules-node-heading" data-testid="rules-node">
            <h3 id="rules-node-heading" tabindex="-1">{format!("Every rule on {title}")}</h3>
            {n.error.map(|e| view! { <p class="error">{format!("nodefit could not finish here: {e}")}</p> })}
            <ul class="groups">{rules}</ul>
            <button type="button" on:click=move |_| close()>"Close"</button>
        </section>
    }
}
