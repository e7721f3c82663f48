//! The problems list under the editor: every diagnostic of the core's lint, each jumping to its
//! place in the text, with its quick fix one click away.

use leptos::prelude::*;

use crate::problem::Problem;
use crate::state::AppState;

#[component]
pub fn ProblemList(app: AppState) -> impl IntoView {
    let summary = move || {
        app.problems.with(|ps| {
            let count = |s: &str| ps.iter().filter(|p| p.severity == s).count();
            let (e, w, i) = (count("error"), count("warning"), count("info"));
            if ps.is_empty() {
                "No problems: NFD reads this spec as written.".to_string()
            } else {
                crate::pages::problem_counts(e, w, i)
            }
        })
    };
    view! {
        <section class="problems" aria-labelledby="problems-heading">
            <h3 id="problems-heading">
                "Problems " <span class="summary" data-testid="problem-summary">{summary}</span>
            </h3>
            <ul>
                {move || {
                    app.problems
                        .get()
                        .into_iter()
                        .map(|p| view! { <ProblemRow app p/> })
                        .collect_view()
                }}
            </ul>
        </section>
    }
}

#[component]
fn ProblemRow(app: AppState, p: Problem) -> impl IntoView {
    let (from, to) = (p.from, p.to);
    let label = format!(
        "Line {}, column {}: {} {}: {}",
        p.line, p.column, p.severity, p.code, p.message
    );
    view! {
        <li class=format!("problem {}", p.severity) data-testid="problem">
            <button
                type="button"
                class="goto"
                aria-label=label
                on:click=move |_| app.with_editor(|e| e.select(from, to))
            >
                <span class="where">{format!("{}:{}", p.line, p.column)}</span>
                <span class="sev">{p.severity}</span>
                <span class="code">{p.code}</span>
                <span class="msg">{p.message}</span>
            </button>
            {p.hint.map(|h| view! { <div class="hint">{h}</div> })}
            {p.fix.map(|f| {
                let label = f.label.clone();
                view! {
                    <button
                        type="button"
                        class="fix"
                        data-testid="quick-fix"
                        on:click=move |_| app.with_editor(|e| e.apply_fix(&f))
                    >
                        "Fix: "
                        {label}
                    </button>
                }
            })}
        </li>
    }
}
