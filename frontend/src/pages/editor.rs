//! The Editor tab: open and save specs, the CodeMirror editor with lint on every keystroke, the
//! problems list, and the rule builder that edits the same text.

use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::specs::{CreateSpec, Spec, UpdateSpec};
use nodefit_api::Page;

use crate::api;
use crate::builder::{self, Outline, Target};
use crate::codemirror::Editor;
use crate::complete;
use crate::problem::Problem;
use crate::state::{AppState, TEMPLATE};
use crate::vocab;

/// Saves the editor's text: a new spec, or a new version of the open one (renamed when the
/// name changed). Returns the spec.
pub async fn save(app: AppState, message: &str) -> api::Result<Spec> {
    let content = app.editor_text();
    let name = app.spec_name.get_untracked();
    let message = (!message.is_empty()).then(|| message.to_string());
    let saved: Spec = match app.spec.get_untracked() {
        Some(spec) => {
            let update = UpdateSpec {
                content,
                name: Some(name),
                message,
                base_version: None,
            };
            api::call("PUT", &format!("/specs/{}", spec.id), api::json(&update)).await?
        }
        None => {
            let create = CreateSpec {
                name,
                content,
                message,
            };
            api::call("POST", "/specs", api::json(&create)).await?
        }
    };
    app.spec.set(Some(saved.clone()));
    Ok(saved)
}

async fn open(app: AppState, id: i64) -> api::Result<()> {
    let spec: Spec = api::call("GET", &format!("/specs/{id}"), api::Body::None).await?;
    // Only lists leave the content out; without it there is nothing to open.
    let content = spec
        .content
        .as_deref()
        .ok_or_else(|| api::ApiError::unreadable(200, "the spec came without its content"))?;
    app.spec_name.set(spec.name.clone());
    app.with_editor(|e| e.set_text(content));
    app.info(format!("Opened {} (version {}).", spec.name, spec.version));
    app.spec.set(Some(spec));
    Ok(())
}

#[component]
pub fn EditorPage(app: AppState) -> impl IntoView {
    let host = NodeRef::<Div>::new();
    Effect::new(move |mounted: Option<bool>| {
        if mounted == Some(true) {
            return true;
        }
        match host.get() {
            Some(el) => {
                mount(&el, app);
                true
            }
            None => false,
        }
    });
    view! {
        <h2 class="visually-hidden" id="editor-heading">"Editor"</h2>
        <SpecBar app/>
        <div class="editor-layout">
            <div class="editor-column">
                <div class="editor-host" node_ref=host data-testid="editor"></div>
                <Problems app/>
            </div>
            <Builder app/>
        </div>
    }
}

/// Creates CodeMirror in `host` and wires it to the app: every change updates the text and the
/// problems, and completions come from the catalog and the stored snapshots. It is created
/// once and stays mounted (hidden on other tabs), so that its undo history survives switching
/// tabs.
fn mount(host: &web_sys::HtmlElement, app: AppState) {
    let editor = Editor::mount(
        host,
        &app.text.get_untracked(),
        "Spec YAML",
        move |text, found| {
            app.text.set(text);
            app.problems.set(found);
        },
        move |text, at, explicit| {
            app.index
                .with_untracked(|index| complete::complete(text, at, explicit, index))
        },
    );
    app.editor.set_value(Some(editor));
}

#[component]
fn SpecBar(app: AppState) -> impl IntoView {
    let specs = RwSignal::new(Vec::<Spec>::new());
    let message = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let load_list = move || {
        spawn_local(async move {
            match api::call::<Page<Spec>>("GET", "/specs?limit=200", api::Body::None).await {
                Ok(page) => specs.set(page.items),
                Err(e) => app.error(format!("Listing specs failed: {e}")),
            }
        })
    };
    Effect::new(move |_| {
        if app.me.with(Option::is_some) {
            load_list();
        }
    });
    let open = move |ev: ev::Event| {
        let Ok(id) = event_target_value(&ev).parse::<i64>() else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = open(app, id).await {
                app.error(format!("Opening the spec failed: {e}"));
            }
        });
    };
    let new_spec = move |_| {
        app.spec.set(None);
        app.spec_name.set("new-spec".into());
        app.with_editor(|e| e.set_text(TEMPLATE));
        app.info("New spec from the template: name it and save it to keep it.");
        app.with_editor(Editor::focus);
    };
    let do_save = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        if app.spec_name.get_untracked().trim().is_empty() {
            app.error("Give the spec a name before saving it.");
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match save(app, &message.get_untracked()).await {
                Ok(spec) => {
                    app.info(format!("Saved {} as version {}.", spec.name, spec.version));
                    message.set(String::new());
                    load_list();
                }
                Err(e) => app.error(format!("Saving failed: {e}")),
            }
            busy.set(false);
        });
    };
    let selected = move || app.spec.with(|s| s.as_ref().map(|s| s.id));
    view! {
        <form class="spec-bar" on:submit=do_save>
            <label>
                "Open "
                <select on:change=open data-testid="open-spec">
                    <option value="" selected=move || selected().is_none()>
                        "(unsaved spec)"
                    </option>
                    {move || {
                        specs
                            .get()
                            .into_iter()
                            .map(|s| {
                                let id = s.id;
                                view! {
                                    <option value=id.to_string() selected=move || selected() == Some(id)>
                                        {s.name}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <button type="button" on:click=new_spec>"New spec"</button>
            <label>
                "Name "
                <input
                    data-testid="spec-name"
                    prop:value=move || app.spec_name.get()
                    on:input=move |ev| app.spec_name.set(event_target_value(&ev))
                />
            </label>
            <label>
                "Message "
                <input
                    placeholder="what changed (optional)"
                    prop:value=move || message.get()
                    on:input=move |ev| message.set(event_target_value(&ev))
                />
            </label>
            <button
                type="submit"
                data-testid="save"
                disabled=move || busy.get() || !app.may("write")
                title=move || (!app.may("write")).then_some("Saving needs the author role")
            >
                "Save"
            </button>
            <span class="dirty" aria-live="polite">
                {move || {
                    let version = app.spec.with(|s| s.as_ref().map(|s| s.version));
                    match (version, app.dirty()) {
                        (Some(v), true) => format!("version {v} + unsaved changes"),
                        (Some(v), false) => format!("version {v}, saved"),
                        (None, _) => "not saved yet".to_string(),
                    }
                }}
            </span>
        </form>
    }
}

#[component]
fn Problems(app: AppState) -> impl IntoView {
    let summary = move || {
        app.problems.with(|ps| {
            let count = |s: &str| ps.iter().filter(|p| p.severity == s).count();
            let (e, w, i) = (count("error"), count("warning"), count("info"));
            if ps.is_empty() {
                "No problems: NFD reads this spec as written.".to_string()
            } else {
                format!("{e} errors, {w} warnings, {i} notes")
            }
        })
    };
    let row = move |p: Problem| {
        let (from, to) = (p.from, p.to);
        let fix = p.fix.clone();
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
                    <span class="msg">{p.message.clone()}</span>
                </button>
                {p.hint.clone().map(|h| view! { <div class="hint">{h}</div> })}
                {fix.map(|f| {
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
    };
    view! {
        <section class="problems" aria-labelledby="problems-heading">
            <h3 id="problems-heading">
                "Problems " <span class="summary" data-testid="problem-summary">{summary}</span>
            </h3>
            <ul>{move || app.problems.get().into_iter().map(row).collect_view()}</ul>
        </section>
    }
}

/// The builder's form: what is selected decides what can be added or changed.
#[component]
fn Builder(app: AppState) -> impl IntoView {
    let outline = Memo::new(move |_| app.text.with(|t| builder::outline(t)));
    let target = RwSignal::new(None::<Target>);
    let run = move |edit: Result<builder::Edit, String>| match edit {
        Ok(edit) => app.with_editor(|e| e.apply(&edit)),
        Err(why) => app.error(format!("The builder cannot make this change: {why}.")),
    };
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
            {move || {
                let t = target.get();
                let o = outline.get().unwrap_or_default();
                view! { <BuilderForm app target=t outline=o run/> }
            }}
        </aside>
    }
}

#[component]
fn OutlineTree(app: AppState, outline: Outline, target: RwSignal<Option<Target>>) -> impl IntoView {
    let item = move |label: String, t: Target, span: nodefit_core::source::Span| {
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

fn split_values(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

#[component]
fn BuilderForm(
    app: AppState,
    target: Option<Target>,
    outline: Outline,
    run: impl Fn(Result<builder::Edit, String>) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let text = move || app.text.get_untracked();
    let name = RwSignal::new(String::new());
    let feature = RwSignal::new(String::new());
    let element = RwSignal::new(String::new());
    let op = RwSignal::new("In".to_string());
    let values = RwSignal::new(String::new());
    let version_type = RwSignal::new(false);
    let description = RwSignal::new(String::new());
    let tag = RwSignal::new(String::new());
    let weight = RwSignal::new(String::new());

    let Some(t) = target else {
        let add_set = move |ev: ev::SubmitEvent| {
            ev.prevent_default();
            let w = weight.get_untracked().trim().parse::<i64>().ok();
            run(builder::add_set(
                &text(),
                &description.get_untracked(),
                &tag.get_untracked(),
                w,
                &name.get_untracked(),
                &feature.get_untracked(),
            ));
        };
        return view! {
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
        .into_any();
    };

    let set = outline.sets.get(t.set).cloned();
    let term = set
        .as_ref()
        .and_then(|s| s.rules.get(t.rule?))
        .and_then(|r| r.terms.get(t.term?))
        .cloned();
    let remove = move |_| run(builder::remove(&text(), t));
    let remove_button = view! {
        <button type="button" class="danger" on:click=remove>"Remove the selected part"</button>
    };

    if let (Some(ei), Some(term)) = (t.expr, term.clone()) {
        let e = term.expressions.get(ei).cloned();
        if let Some(e) = &e {
            op.set(e.op.clone());
            values.set(e.values.join(", "));
            version_type.set(e.value_type == "version");
        }
        let feature_name = term.feature.clone();
        let element_name = e.map(|e| e.element).unwrap_or_default();
        let save = move |ev: ev::SubmitEvent| {
            ev.prevent_default();
            let ty = if version_type.get_untracked() {
                "version"
            } else {
                ""
            };
            run(builder::set_expression(
                &text(),
                t,
                &op.get_untracked(),
                &split_values(&values.get_untracked()),
                ty,
            ));
        };
        return view! {
            <form class="builder-form" on:submit=save aria-label="Change the expression">
                <h4>{format!("Expression on {feature_name} / {element_name}")}</h4>
                {op_field(op)}
                {values_field(app, values, feature_name.clone(), move || element_name.clone())}
                {version_field(version_type)}
                <button type="submit">"Apply"</button>
                {remove_button}
            </form>
        }
        .into_any();
    }

    if let Some(term) = term {
        let feature_name = term.feature.clone();
        let elements = {
            let f = feature_name.clone();
            Memo::new(move |_| app.index.with(|i| vocab::elements(&f, i)))
        };
        let add = move |ev: ev::SubmitEvent| {
            ev.prevent_default();
            let ty = if version_type.get_untracked() {
                "version"
            } else {
                ""
            };
            run(builder::add_expression(
                &text(),
                t,
                &element.get_untracked(),
                &op.get_untracked(),
                &split_values(&values.get_untracked()),
                ty,
            ));
        };
        return view! {
            <form class="builder-form" on:submit=add aria-label="Add an expression">
                <h4>{format!("Add an expression on {feature_name}")}</h4>
                <label>
                    "Element "
                    <input
                        list="element-names"
                        required
                        prop:value=move || element.get()
                        on:input=move |ev| element.set(event_target_value(&ev))
                    />
                </label>
                <datalist id="element-names">
                    {move || {
                        elements
                            .get()
                            .into_iter()
                            .map(|s| {
                                view! {
                                    <option value=s.label.clone()>
                                        {s.detail.unwrap_or_default()}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </datalist>
                {op_field(op)}
                {values_field(app, values, feature_name.clone(), move || element.get())}
                {version_field(version_type)}
                <button type="submit">"Add expression"</button>
                {remove_button}
            </form>
        }
        .into_any();
    }

    if t.rule.is_some() {
        let add_term = move |ev: ev::SubmitEvent| {
            ev.prevent_default();
            run(builder::add_term(&text(), t, &feature.get_untracked()));
        };
        let rename = move |_| run(builder::rename_rule(&text(), t, &name.get_untracked()));
        return view! {
            <form class="builder-form" on:submit=add_term aria-label="Change the rule">
                <h4>"Rule"</h4>
                {text_field("New name", name)}
                <button type="button" on:click=rename>"Rename"</button>
                {feature_field(feature)}
                <button type="submit">"Add term"</button>
                {remove_button}
            </form>
        }
        .into_any();
    }

    if let Some(s) = set {
        description.set(s.description.clone());
        tag.set(s.tag.clone());
        weight.set(s.weight.clone());
        let apply_fields = move |_| {
            for (key, value, before) in [
                (
                    "description",
                    description.get_untracked(),
                    s.description.clone(),
                ),
                ("tag", tag.get_untracked(), s.tag.clone()),
                ("weight", weight.get_untracked(), s.weight.clone()),
            ] {
                if value != before {
                    run(builder::set_field(&text(), t.set, key, &value));
                }
            }
        };
        let add_rule = move |ev: ev::SubmitEvent| {
            ev.prevent_default();
            run(builder::add_rule(
                &text(),
                t.set,
                &name.get_untracked(),
                &feature.get_untracked(),
            ));
        };
        return view! {
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
                {remove_button}
            </form>
        }
        .into_any();
    }
    view! { <p>"The selected part no longer exists."</p> }.into_any()
}

fn text_field(label: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label>
            {label}
            " "
            <input
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
}

fn feature_field(feature: RwSignal<String>) -> impl IntoView {
    view! {
        <label>
            "Feature "
            <input
                list="feature-names"
                required
                placeholder="e.g. cpu.model"
                prop:value=move || feature.get()
                on:input=move |ev| feature.set(event_target_value(&ev))
            />
        </label>
    }
}

fn op_field(op: RwSignal<String>) -> impl IntoView {
    view! {
        <label>
            "Op "
            <select on:change=move |ev| op.set(event_target_value(&ev))>
                {vocab::ops()
                    .into_iter()
                    .map(|o| {
                        let name = o.label.clone();
                        view! {
                            <option value=o.label.clone() selected=move || op.get() == name>
                                {format!("{} ({})", o.label, o.detail.unwrap_or_default())}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

fn version_field(checked: RwSignal<bool>) -> impl IntoView {
    view! {
        <label class="check">
            <input
                type="checkbox"
                prop:checked=move || checked.get()
                on:change=move |ev| checked.set(event_target_checked(&ev))
            />
            " Compare as versions (type: version)"
        </label>
    }
}

/// Comma-separated values, with the values the snapshots have for the element one click away.
fn values_field(
    app: AppState,
    values: RwSignal<String>,
    feature: String,
    element: impl Fn() -> String + Send + Sync + 'static,
) -> impl IntoView {
    let seen = Memo::new(move |_| {
        let el = element();
        app.index.with(|i| {
            vocab::values(&feature, &el, i)
                .into_iter()
                .map(|s| s.label)
                .collect::<Vec<_>>()
        })
    });
    view! {
        <label>
            "Values (comma-separated) "
            <input
                prop:value=move || values.get()
                on:input=move |ev| values.set(event_target_value(&ev))
            />
        </label>
        <div class="seen" aria-label="Values seen in snapshots">
            {move || {
                seen.get()
                    .into_iter()
                    .map(|v| {
                        let add = v.clone();
                        view! {
                            <button
                                type="button"
                                class="chip"
                                on:click=move |_| {
                                    values
                                        .update(|s| {
                                            if !split_values(s).contains(&add) {
                                                if !s.trim().is_empty() {
                                                    s.push_str(", ");
                                                }
                                                s.push_str(&add);
                                            }
                                        })
                                }
                            >
                                {v}
                            </button>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}
