//! The rule builder beside the editor: an outline of the spec's sets, rules, terms and
//! expressions, built from the core's YAML tree of the text; what is selected in it decides
//! which form is shown.

use leptos::prelude::*;
use nodefit_core::source::Span;

use crate::builder::{self, Outline, Target};
use crate::state::AppState;
use crate::vocab;

use super::builder_form::BuilderForm;

#[component]
pub fn RuleBuilder(app: AppState) -> impl IntoView {
    let outline = Memo::new(move |_| app.text.with(|t| builder::outline(t)));
    let target = RwSignal::new(None::<Target>);
    let features = Memo::new(move |_| {
        app.index.with(|i| {
            vocab::features(i)
                .into_iter()
                .map(|s| s.label)
                .collect::<Vec<_>>()
        })
    });
    view! {
        <aside class="builder" aria-labelledby="builder-heading">
            <h3 id="builder-heading">"Rule builder"</h3>
            <p class="help">
                "Select a part of the spec, then add to it or change it. Changes go into the
                text on the left as one undoable edit; comments and order are kept."
            </p>
            <datalist id="feature-names">
                {move || {
                    features
                        .get()
                        .into_iter()
                        .map(|f| view! { <option value=f></option> })
                        .collect_view()
                }}
            </datalist>
            {move || match outline.get() {
                None => {
                    view! {
                        <p class="error">
                            "The text is not valid YAML: fix the error shown in Problems first."
                        </p>
                    }
                        .into_any()
                }
                Some(o) => view! { <OutlineTree app outline=o target/> }.into_any(),
            }}
            // Rebuilt on every change of the text or the selection: the form's fields start
            // from the part as it is now.
            {move || {
                let t = target.get();
                let o = outline.get().unwrap_or_default();
                view! { <BuilderForm app target=t outline=o/> }
            }}
        </aside>
    }
}

#[component]
fn OutlineTree(app: AppState, outline: Outline, target: RwSignal<Option<Target>>) -> impl IntoView {
    // One selectable part; selecting it also selects its text in the editor.
    let item = move |label: String, t: Target, span: Span| {
        let current = move || target.get() == Some(t);
        view! {
            <button
                type="button"
                class="node"
                aria-pressed=move || current().to_string()
                on:click=move |_| {
                    target.set(Some(t));
                    // The span is in the text the outline was made of.
                    app.text
                        .with_untracked(|text| {
                            app.with_editor(|e| e.select_bytes(text, span.start, span.end))
                        });
                }
            >
                {label}
            </button>
        }
    };
    let sets = outline
        .sets
        .iter()
        .enumerate()
        .map(|(si, set)| {
            let set_t = Target {
                set: si,
                ..Target::default()
            };
            let mut set_label = format!("Set #{}", si + 1);
            if !set.tag.is_empty() {
                set_label.push_str(&format!(" [{}]", set.tag));
            }
            if !set.description.is_empty() {
                set_label.push_str(&format!(": {}", set.description));
            }
            let rules = set
                .rules
                .iter()
                .enumerate()
                .map(|(ri, rule)| {
                    let rule_t = Target {
                        rule: Some(ri),
                        ..set_t
                    };
                    let terms = rule
                        .terms
                        .iter()
                        .enumerate()
                        .map(|(ti, term)| {
                            let term_t = Target {
                                term: Some(ti),
                                ..rule_t
                            };
                            let exprs = term
                                .expressions
                                .iter()
                                .enumerate()
                                .map(|(ei, e)| {
                                    let label =
                                        format!("{} {} {}", e.element, e.op, e.values.join(", "));
                                    let t = Target {
                                        expr: Some(ei),
                                        ..term_t
                                    };
                                    view! { <li>{item(label, t, e.span)}</li> }
                                })
                                .collect_view();
                            view! {
                                <li>
                                    {item(format!("feature {}", term.feature), term_t, term.span)}
                                    <ul>{exprs}</ul>
                                </li>
                            }
                        })
                        .collect_view();
                    view! {
                        <li>
                            {item(format!("rule {}", rule.name), rule_t, rule.span)}
                            <ul>{terms}</ul>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <li>
                    {item(set_label, set_t, set.span)}
                    <ul>{rules}</ul>
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="outline" aria-label="Spec outline" data-testid="outline">
            {sets}
        </ul>
        <button type="button" class="linklike" on:click=move |_| target.set(None)>
            "Select nothing (add a set)"
        </button>
    }
}
