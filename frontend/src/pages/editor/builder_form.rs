//! The rule builder's forms, one per kind of selected part: with nothing selected, add a set;
//! a set, change it or add a rule; a rule, rename it or add a term; a term, add an expression;
//! an expression, change it. Each change is one edit of the text (crate::builder).
//!
//! Edits are computed on `app.text`, the text the outline and its targets were made of.

use leptos::ev;
use leptos::prelude::*;

use crate::builder::{self, Edit, ExprItem, Outline, Refusal, SetItem, Target};
use crate::state::AppState;

use super::fields::{
    element_field, feature_field, op_field, split_values, text_field, value_type, values_field,
    version_field,
};

/// Applies an edit to the editor's text as one undoable change, or says why there is none.
fn apply(app: AppState, edit: Result<Edit, Refusal>) {
    match edit {
        Ok(edit) => app.with_editor(|e| e.apply(&edit)),
        Err(why) => app.error(format!("The builder cannot make this change: {why}.")),
    }
}

#[component]
pub fn BuilderForm(app: AppState, target: Option<Target>, outline: Outline) -> impl IntoView {
    let Some(t) = target else {
        return view! { <AddSetForm app/> }.into_any();
    };
    let set = outline.sets.get(t.set).cloned();
    let term = set
        .as_ref()
        .and_then(|s| s.rules.get(t.rule?))
        .and_then(|r| r.terms.get(t.term?))
        .cloned();
    if let (Some(ei), Some(term)) = (t.expr, &term) {
        let expr = term.expressions.get(ei).cloned();
        let feature = term.feature.clone();
        return view! { <ExpressionForm app t feature expr/> }.into_any();
    }
    if let Some(term) = term {
        return view! { <TermForm app t feature=term.feature/> }.into_any();
    }
    if t.rule.is_some() {
        return view! { <RuleForm app t/> }.into_any();
    }
    if let Some(set) = set {
        return view! { <SetForm app t set/> }.into_any();
    }
    view! { <p>"The selected part no longer exists."</p> }.into_any()
}

#[component]
fn RemoveButton(app: AppState, t: Target) -> impl IntoView {
    view! {
        <button
            type="button"
            class="danger"
            on:click=move |_| apply(app, builder::remove(&app.text.get_untracked(), t))
        >
            "Remove the selected part"
        </button>
    }
}

#[component]
fn AddSetForm(app: AppState) -> impl IntoView {
    let description = RwSignal::new(String::new());
    let tag = RwSignal::new(String::new());
    let weight = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let feature = RwSignal::new(String::new());
    let add_set = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let w = weight.get_untracked().trim().parse::<i64>().ok();
        let edit = builder::add_set(
            &app.text.get_untracked(),
            &description.get_untracked(),
            &tag.get_untracked(),
            w,
            &name.get_untracked(),
            &feature.get_untracked(),
        );
        apply(app, edit);
    };
    view! {
        <form class="builder-form" on:submit=add_set aria-label="Add a compatibility set">
            <h4>"Add a compatibility set"</h4>
            {text_field("Description", description)}
            {text_field("Tag", tag)}
            {text_field("Weight", weight)}
            {text_field("First rule's name", name)}
            {feature_field(feature)}
            <button type="submit">"Add set"</button>
        </form>
    }
}

#[component]
fn SetForm(app: AppState, t: Target, set: SetItem) -> impl IntoView {
    let description = RwSignal::new(set.description.clone());
    let tag = RwSignal::new(set.tag.clone());
    let weight = RwSignal::new(set.weight.clone());
    let name = RwSignal::new(String::new());
    let feature = RwSignal::new(String::new());
    // Only the fields that were changed are written, each as its own edit.
    let apply_fields = move |_| {
        for (key, value, before) in [
            ("description", description.get_untracked(), &set.description),
            ("tag", tag.get_untracked(), &set.tag),
            ("weight", weight.get_untracked(), &set.weight),
        ] {
            if value != *before {
                apply(
                    app,
                    builder::set_field(&app.text.get_untracked(), t.set, key, &value),
                );
            }
        }
    };
    let add_rule = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let edit = builder::add_rule(
            &app.text.get_untracked(),
            t.set,
            &name.get_untracked(),
            &feature.get_untracked(),
        );
        apply(app, edit);
    };
    view! {
        <form class="builder-form" on:submit=add_rule aria-label="Change the set">
            <h4>{format!("Set #{}", t.set + 1)}</h4>
            {text_field("Description", description)}
            {text_field("Tag", tag)}
            {text_field("Weight", weight)}
            <button type="button" on:click=apply_fields>"Apply"</button>
            <h4>"Add a rule"</h4>
            {text_field("Rule name", name)}
            {feature_field(feature)}
            <button type="submit">"Add rule"</button>
            <RemoveButton app t/>
        </form>
    }
}

#[component]
fn RuleForm(app: AppState, t: Target) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let feature = RwSignal::new(String::new());
    let add_term = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let edit = builder::add_term(&app.text.get_untracked(), t, &feature.get_untracked());
        apply(app, edit);
    };
    let rename = move |_| {
        let edit = builder::rename_rule(&app.text.get_untracked(), t, &name.get_untracked());
        apply(app, edit);
    };
    view! {
        <form class="builder-form" on:submit=add_term aria-label="Change the rule">
            <h4>"Rule"</h4>
            {text_field("New name", name)}
            <button type="button" on:click=rename>"Rename"</button>
            {feature_field(feature)}
            <button type="submit">"Add term"</button>
            <RemoveButton app t/>
        </form>
    }
}

/// A term selected: add an expression on one of its feature's elements.
#[component]
fn TermForm(app: AppState, t: Target, feature: String) -> impl IntoView {
    let element = RwSignal::new(String::new());
    let op = RwSignal::new("In".to_string());
    let values = RwSignal::new(String::new());
    let versions = RwSignal::new(false);
    let add = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let edit = builder::add_expression(
            &app.text.get_untracked(),
            t,
            &element.get_untracked(),
            &op.get_untracked(),
            &split_values(&values.get_untracked()),
            value_type(versions.get_untracked()),
        );
        apply(app, edit);
    };
    view! {
        <form class="builder-form" on:submit=add aria-label="Add an expression">
            <h4>{format!("Add an expression on {feature}")}</h4>
            {element_field(app, feature.clone(), element)}
            {op_field(op)}
            {values_field(app, values, feature, move || element.get())}
            {version_field(versions)}
            <button type="submit">"Add expression"</button>
            <RemoveButton app t/>
        </form>
    }
}

/// An expression selected: change its op, values and type. `expr` is `None` when the outline
/// no longer has it; the form then starts empty.
#[component]
fn ExpressionForm(
    app: AppState,
    t: Target,
    feature: String,
    expr: Option<ExprItem>,
) -> impl IntoView {
    let op = RwSignal::new(expr.as_ref().map_or("In".to_string(), |e| e.op.clone()));
    let values = RwSignal::new(
        expr.as_ref()
            .map(|e| e.values.join(", "))
            .unwrap_or_default(),
    );
    let versions = RwSignal::new(expr.as_ref().is_some_and(|e| e.value_type == "version"));
    let element = expr.map(|e| e.element).unwrap_or_default();
    let save = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let edit = builder::set_expression(
            &app.text.get_untracked(),
            t,
            &op.get_untracked(),
            &split_values(&values.get_untracked()),
            value_type(versions.get_untracked()),
        );
        apply(app, edit);
    };
    view! {
        <form class="builder-form" on:submit=save aria-label="Change the expression">
            <h4>{format!("Expression on {feature} / {element}")}</h4>
            {op_field(op)}
            {values_field(app, values, feature.clone(), move || element.clone())}
            {version_field(versions)}
            <button type="submit">"Apply"</button>
            <RemoveButton app t/>
        </form>
    }
}
