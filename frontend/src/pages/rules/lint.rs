//! The stored file's lint, listed as the editor's problems list shows a spec's: line and
//! column, severity, code, message and hint.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::specs::LintResult;

use crate::api;
use crate::state::AppState;

use super::{stale_mark, Form};

#[component]
pub fn Lint(app: AppState, form: Form, id: i64) -> impl IntoView {
    // The answer, and the content hash of the file it is of.
    let linted = RwSignal::new(None::<(String, LintResult)>);
    let busy = RwSignal::new(false);
    let run = move |_| {
        let Some(hash) = form
            .stored
            .with_untracked(|s| s.as_ref().map(|f| f.content_hash.clone()))
        else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let path = format!("/nodefeaturerules/{id}/lint");
            match api::call::<LintResult>("POST", &path, api::Body::None).await {
                Ok(result) => linted.set(Some((hash, result))),
                Err(e) => app.error(format!("The file was not linted. {e}")),
            }
            busy.set(false);
        });
    };
    let answer = move || {
        linted.get().map(|(hash, result)| {
            let count = |severity: &str| {
                result
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity.as_str() == severity)
                    .count()
            };
            let summary = if result.diagnostics.is_empty() {
                "No problems: the API server takes this file and nfd-master reads it as written."
                    .to_string()
            } else {
                crate::pages::problem_counts(count("error"), count("warning"), count("info"))
            };
            let rows = result
                .diagnostics
                .into_iter()
                .map(|d| {
                    let severity = d.severity.as_str();
                    view! {
                        <li class=format!("problem {severity}") data-testid="rule-problem">
                            <div class="at">
                                <span class="where">{format!("{}:{}", d.at.line, d.at.column)}</span>
                                <span class="sev">{severity}</span>
                                <span class="code">{d.code}</span>
                                <span class="msg">{d.message}</span>
                            </div>
                            {d.hint.map(|h| view! { <div class="hint">{h}</div> })}
                        </li>
                    }
                })
                .collect_view();
            view! {
                {move || stale_mark(form.stale(&hash))}
                <p class="summary" data-testid="rule-lint-summary">{summary}</p>
                <ul>{rows}</ul>
            }
        })
    };
    view! {
        <section class="problems" aria-labelledby="rule-lint-heading">
            <h3 id="rule-lint-heading">"Lint"</h3>
            <button type="button" data-testid="lint-rule-file" disabled=move || busy.get() on:click=run>
                {move || if busy.get() { "Linting…" } else { "Lint the saved file" }}
            </button>
            {answer}
        </section>
    }
}
