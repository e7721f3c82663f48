//! The Fleet tab: the editor's spec against every stored snapshot, as groups of nodes with the
//! same labels and answer ("41,200 nodes in pool=gpu-a100: compatible via set #1"), the rules
//! that fail most, and a page of nodes × sets for a group, a failing rule or the whole fleet.
//!
//! This one asks the server (`POST /specs/{id}/evaluate`): a fleet of 100,000 nodes is far
//! larger than what is worth downloading into a browser tab. The server evaluates the selection
//! once and answers every group, filter and page from that evaluation, so the tab asks for a
//! summary and one page at a time and never loads the table. Unsaved text is sent as it is
//! (`content`) and saves nothing; an answer of another text than the editor's is marked out of
//! date.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::fleet::{
    FleetFilter, FleetItem, FleetMatrix, GroupCount, Outcome, SetSummary, Verdict,
};
use nodefit_api::specs::EvaluateRequest;

use crate::api;
use crate::pages::{count, labels_text};
use crate::state::AppState;

/// Nodes per page of the node table.
const PAGE: usize = 50;
/// Groups shown; the server counts up to 1,000, most nodes first.
const GROUPS_SHOWN: usize = 50;
/// Most values of the label key grouped by before one is chosen: more groups than this do not
/// summarise a fleet.
const MAX_DEFAULT_GROUPS: usize = 50;
/// Failing rules shown, most nodes first.
const RULES_SHOWN: usize = 10;

/// What was evaluated, fixed when "Evaluate" is pressed: every later request (another grouping,
/// a drill-down, a page) asks about the same text.
#[derive(Clone, PartialEq)]
struct Target {
    spec_id: i64,
    /// A stored version, or `None` with `content`.
    version: Option<i64>,
    content: Option<String>,
}

/// The nodes the node table lists: a group, a failing rule, or all of them (`filter` empty).
#[derive(Clone, PartialEq, Default)]
struct Drill {
    /// How the table's caption names these nodes.
    title: String,
    filter: FleetFilter,
    offset: usize,
}

/// The evaluation answered from the server's matrix of `target`: one page, grouped by
/// `group_by` when given.
async fn ask(
    target: &Target,
    group_by: Option<String>,
    filter: FleetFilter,
    offset: usize,
) -> api::Result<FleetMatrix> {
    let body = EvaluateRequest {
        content: target.content.clone(),
        version: target.version,
        group_by: group_by.map(|key| vec![key]),
        filter: (filter != FleetFilter::default()).then_some(filter),
        limit: Some(PAGE as i64),
        offset: Some(offset as i64),
        ..EvaluateRequest::default()
    };
    let path = format!("/specs/{}/evaluate", target.spec_id);
    api::call("POST", &path, api::json(&body)).await
}

/// What was evaluated: a stored version, or (version 0) the editor's unsaved text.
fn of_what(version: i64) -> String {
    if version == 0 {
        "the editor's unsaved text".to_string()
    } else {
        format!("spec version {version}")
    }
}

/// An answer in words: "compatible via set #1", "not compatible: vfio, gpu (set #1)".
fn outcome_text(outcome: &Outcome, sets: &[SetSummary]) -> String {
    if let Some(error) = &outcome.error {
        return format!("NFD stops: {error}");
    }
    let name = |index: usize| {
        let tag = sets
            .iter()
            .find(|s| s.index == index)
            .map(|s| s.tag.as_str())
            .filter(|t| !t.is_empty());
        match tag {
            Some(tag) => format!("set #{} ({tag})", index + 1),
            None => format!("set #{}", index + 1),
        }
    };
    match outcome.best_set {
        Some(best) if outcome.compatible => format!("compatible via {}", name(best)),
        _ => {
            let failing: Vec<String> = outcome
                .sets
                .iter()
                .filter(|s| !s.is_match)
                .map(|s| format!("{} in {}", s.failing_rules.join(", "), name(s.index)))
                .collect();
            if failing.is_empty() {
                "not compatible".to_string()
            } else {
                format!("not compatible: {} fail", failing.join("; "))
            }
        }
    }
}

/// The label key to group by at first: of those on the most nodes, the one with the most values
/// up to [`MAX_DEFAULT_GROUPS`] (a pool or a machine type, rather than a host name).
fn default_group_key(f: &FleetMatrix) -> Option<String> {
    f.label_keys
        .iter()
        .filter(|k| k.values <= MAX_DEFAULT_GROUPS)
        .max_by_key(|k| (k.nodes, k.values))
        .or(f.label_keys.first())
        .map(|k| k.key.clone())
}

/// A group's labels in words: `pool=gpu-a100`, or `no pool label`.
fn group_labels(group: &GroupCount) -> String {
    group
        .labels
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => format!("no {k} label"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn failing(item: &FleetItem, set: usize) -> String {
    item.sets
        .iter()
        .find(|c| c.index == set)
        .map(|c| c.failing_rules.join(", "))
        .unwrap_or_default()
}

#[component]
pub fn FleetPage(app: AppState) -> impl IntoView {
    // The summary: counts, outcomes, groups, failing rules, label keys.
    let fleet = RwSignal::new(None::<FleetMatrix>);
    // The node table: a page of the drill-down's nodes.
    let nodes = RwSignal::new(None::<FleetMatrix>);
    let drill = RwSignal::new(Drill::default());
    let target = RwSignal::new(None::<Target>);
    // The text the answer is of.
    let evaluated = RwSignal::new(String::new());
    // The label key the groups are by; empty until an answer names the keys.
    let group_key = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let verdict = RwSignal::new(None::<Verdict>);
    let busy = RwSignal::new(false);

    // The filters of the tab (text, verdict) with a drill-down's.
    let with_filters = move |mut filter: FleetFilter| {
        let t = text.get_untracked();
        filter.text = (!t.trim().is_empty()).then(|| t.trim().to_string());
        filter.verdict = verdict.get_untracked();
        filter
    };
    // Asks for the summary grouped by `group_key` (or, without one, the first label key the
    // answer names) and for the page of the drill-down.
    let refresh = move |evaluated_text: Option<String>| {
        let Some(t) = target.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let result = async {
                let key = Some(group_key.get_untracked()).filter(|k| !k.is_empty());
                let mut summary =
                    ask(&t, key.clone(), with_filters(FleetFilter::default()), 0).await?;
                if key.is_none() {
                    if let Some(first) = default_group_key(&summary) {
                        group_key.set(first.clone());
                        summary =
                            ask(&t, Some(first), with_filters(FleetFilter::default()), 0).await?;
                    }
                }
                let d = drill.get_untracked();
                let page = if d.filter == FleetFilter::default() && d.offset == 0 {
                    summary.clone()
                } else {
                    ask(&t, None, with_filters(d.filter.clone()), d.offset).await?
                };
                api::Result::Ok((summary, page))
            }
            .await;
            match result {
                Ok((summary, page)) => {
                    if let Some(text) = evaluated_text {
                        app.info(format!(
                            "Fleet: {} of {} nodes compatible with {}.",
                            count(summary.compatible),
                            count(summary.total),
                            of_what(summary.spec_version)
                        ));
                        evaluated.set(text);
                    }
                    fleet.set(Some(summary));
                    nodes.set(Some(page));
                }
                Err(e) => app.error(format!("The fleet was not evaluated. {e}")),
            }
            busy.set(false);
        });
    };
    let run = move |_| {
        let text = app.editor_text();
        let Some(spec) = app.spec.get_untracked() else {
            app.error("A new spec is evaluated on the server's fleet once it has been saved; the summary beside the editor covers fleets of up to 100 snapshots without saving.");
            return;
        };
        let content = app.dirty_untracked_for(&text).then(|| text.clone());
        target.set(Some(Target {
            spec_id: spec.id,
            version: content.is_none().then_some(spec.version),
            content,
        }));
        drill.set(Drill::default());
        refresh(Some(text));
    };
    // Shows the nodes of `d` from their first page.
    let show = move |d: Drill| {
        let Some(t) = target.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match ask(&t, None, with_filters(d.filter.clone()), d.offset).await {
                Ok(page) => {
                    drill.set(d);
                    nodes.set(Some(page));
                }
                Err(e) => app.error(format!("The nodes were not listed. {e}")),
            }
            busy.set(false);
        });
    };
    let stale = move || fleet.with(Option::is_some) && evaluated.get() != app.text.get();

    let groups = move || {
        fleet.get().map(|f| {
            let key = group_key.get();
            let rows = f
                .groups
                .iter()
                .take(GROUPS_SHOWN)
                .map(|g| {
                    let outcome = f.outcomes.iter().find(|o| o.id == g.outcome);
                    let answer = outcome
                        .map(|o| outcome_text(o, &f.sets))
                        .unwrap_or_default();
                    let ok = outcome.is_some_and(|o| o.compatible);
                    let where_ = group_labels(g);
                    let line = format!("{} nodes in {where_}: {answer}", count(g.nodes));
                    let labels = g
                        .labels
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
                        .collect();
                    let d = Drill {
                        title: format!("{where_}: {answer}"),
                        filter: FleetFilter {
                            labels: Some(labels),
                            outcome: Some(g.outcome.clone()),
                            ..FleetFilter::default()
                        },
                        offset: 0,
                    };
                    // Nodes without the label cannot be asked for by it: the outcome alone
                    // would list other groups' nodes too.
                    let can_drill = g.labels.values().all(Option::is_some);
                    view! {
                        <li data-testid="fleet-group" class=if ok { "verdict ok" } else { "verdict fail" }>
                            {line}
                            {can_drill.then(|| view! {
                                " "
                                <button type="button" class="linklike" on:click=move |_| show(d.clone())>
                                    "show nodes"
                                </button>
                            })}
                        </li>
                    }
                })
                .collect_view();
            let more = (f.groups.len() > GROUPS_SHOWN || f.truncated).then(|| {
                view! { <p class="muted">{format!("The {GROUPS_SHOWN} largest groups are shown.")}</p> }
            });
            let keys = f
                .label_keys
                .iter()
                .map(|k| {
                    let selected = k.key == key;
                    view! {
                        <option value=k.key.clone() selected=selected>
                            {format!("{} ({} values)", k.key, count(k.values))}
                        </option>
                    }
                })
                .collect_view();
            let rules = f
                .failing_rules
                .iter()
                .take(RULES_SHOWN)
                .map(|r| {
                    let d = Drill {
                        title: format!("rule {} failing in set #{}", r.rule, r.set + 1),
                        filter: FleetFilter {
                            failing_rule: Some(nodefit_api::fleet::FailingRule {
                                set: r.set,
                                rule: r.rule.clone(),
                            }),
                            ..FleetFilter::default()
                        },
                        offset: 0,
                    };
                    view! {
                        <li data-testid="fleet-failing-rule">
                            {format!("{} (set #{}) fails on {} nodes", r.rule, r.set + 1, count(r.nodes))}
                            " "
                            <button type="button" class="linklike" on:click=move |_| show(d.clone())>
                                "show nodes"
                            </button>
                        </li>
                    }
                })
                .collect_view();
            let summary = format!(
                "{} of {} nodes compatible ({})",
                count(f.compatible),
                count(f.total),
                of_what(f.spec_version)
            );
            view! {
                <p class="summary" data-testid="fleet-summary">
                    <strong>{summary}</strong>
                    {(f.filtered != f.total).then(|| format!("; {} pass the filters", count(f.filtered)))}
                </p>
                {(!f.label_keys.is_empty()).then(|| view! {
                    <label>
                        "Group by label "
                        <select
                            data-testid="group-by"
                            on:change=move |ev| {
                                group_key.set(event_target_value(&ev));
                                refresh(None);
                            }
                        >
                            {keys}
                        </select>
                    </label>
                })}
                <ul class="groups" data-testid="fleet-groups">{rows}</ul>
                {more}
                {(!f.failing_rules.is_empty()).then(|| view! {
                    <h3>"Rules that fail most"</h3>
                    <ul class="groups">{rules}</ul>
                })}
            }
        })
    };

    view! {
        <h2 id="fleet-heading">"Fleet"</h2>
        <p class="help">
            "The editor's spec against every stored snapshot, evaluated by the server, in groups
            of nodes with the same label and answer. Unsaved changes are evaluated as they are,
            without saving them."
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
                    data-testid="fleet-filter"
                    placeholder="name or label"
                    prop:value=move || text.get()
                    on:change=move |ev| {
                        text.set(event_target_value(&ev));
                        refresh(None);
                    }
                />
            </label>
            <label>
                "Show "
                <select
                    data-testid="fleet-verdict"
                    on:change=move |ev| {
                        verdict.set(match event_target_value(&ev).as_str() {
                            "ok" => Some(Verdict::Compatible),
                            "fail" => Some(Verdict::Incompatible),
                            "error" => Some(Verdict::Error),
                            _ => None,
                        });
                        refresh(None);
                    }
                >
                    <option value="all">"all nodes"</option>
                    <option value="ok">"compatible only"</option>
                    <option value="fail">"incompatible only"</option>
                    <option value="error">"NFD stops"</option>
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
            {groups}
            {move || nodes.get().map(|page| {
                matrix(page, drill.get(), show)
            })}
        </div>
    }
}

/// A page of nodes × sets, with the buttons to the pages around it.
fn matrix(page: FleetMatrix, drill: Drill, show: impl Fn(Drill) + Copy + 'static) -> impl IntoView {
    let header = page
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
                    <span class="count">{format!("{} of {}", count(s.matched), count(page.total))}</span>
                </th>
            }
        })
        .collect_view();
    let first = page.offset + 1;
    let last = page.offset + page.items.len();
    let what = if drill.title.is_empty() {
        "every node".to_string()
    } else {
        drill.title.clone()
    };
    let caption = if page.items.is_empty() {
        format!("No nodes: {what}")
    } else {
        format!(
            "Nodes {}–{} of {}: {what}",
            count(first),
            count(last),
            count(page.filtered)
        )
    };
    let previous = (page.offset > 0).then(|| {
        let d = Drill {
            offset: page.offset.saturating_sub(PAGE),
            ..drill.clone()
        };
        view! { <button type="button" data-testid="fleet-previous" on:click=move |_| show(d.clone())>"Previous page"</button> }
    });
    let next = (last < page.filtered).then(|| {
        let d = Drill {
            offset: last,
            ..drill.clone()
        };
        view! { <button type="button" data-testid="fleet-next" on:click=move |_| show(d.clone())>"Next page"</button> }
    });
    let all = (!drill.title.is_empty()).then(|| {
        view! { <button type="button" on:click=move |_| show(Drill::default())>"Every node"</button> }
    });
    let rows = page
        .items
        .iter()
        .map(|item| node_row(item, &page.sets))
        .collect_view();
    view! {
        <table class="matrix" data-testid="fleet-matrix">
            <caption data-testid="fleet-page">{caption}</caption>
            <thead>
                <tr>
                    <th scope="col">"Node"</th>
                    <th scope="col">"Verdict"</th>
                    {header}
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <p>{previous}" "{next}" "{all}</p>
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
