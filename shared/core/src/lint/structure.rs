//! Checks on the YAML tree itself: keys NFD ignores or reads case-insensitively, duplicate keys,
//! extra documents, and scalars that YAML 1.1 turns into something else. NodeFeatureRule files
//! are walked the same way with their own shapes, as the API server reads them: field names are
//! case-sensitive there (a case variant is an unknown field), and a scalar that is not a string
//! where one belongs is refused by decoding, so only keys can change silently.

use super::{did_you_mean, quoted, Diagnostics, Fix};
use crate::source::{LineIndex, Span};
use crate::yaml::{Document, Node, Resolved, Scalar, StreamDocument, Style, Value};

/// The shape a node should have at a place in the spec.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Spec,
    Set,
    Rule,
    MatchAny,
    Term,
    Expr,
    /// `matchExpressions`: element name → expression.
    ExprMap,
    /// `vars`: name → string.
    StringMap,
    /// `value`: a list of strings.
    StringList,
    String,
    /// A field that is not a string (weight), or an object not checked (metadata).
    Other,
    List(&'static Shape),
    NfrDocument,
    NfrSpec,
    NfrRule,
    Taint,
}

const SETS: Shape = Shape::Set;
const RULES: Shape = Shape::Rule;
const MATCH_ANY: Shape = Shape::MatchAny;
const TERMS: Shape = Shape::Term;
const NFR_DOCUMENTS: Shape = Shape::NfrDocument;
const NFR_RULES: Shape = Shape::NfrRule;
const TAINTS: Shape = Shape::Taint;

fn fields(shape: Shape) -> &'static [(&'static str, Shape)] {
    match shape {
        Shape::Spec => &[
            ("version", Shape::String),
            ("compatibilities", Shape::List(&SETS)),
        ],
        Shape::Set => &[
            ("rules", Shape::List(&RULES)),
            ("weight", Shape::Other),
            ("tag", Shape::String),
            ("description", Shape::String),
        ],
        Shape::Rule => &[
            ("name", Shape::String),
            ("vars", Shape::StringMap),
            ("varsTemplate", Shape::String),
            ("matchFeatures", Shape::List(&TERMS)),
            ("matchAny", Shape::List(&MATCH_ANY)),
        ],
        Shape::MatchAny => &[("matchFeatures", Shape::List(&TERMS))],
        Shape::Term => &[
            ("feature", Shape::String),
            ("matchExpressions", Shape::ExprMap),
            ("matchName", Shape::Expr),
        ],
        Shape::Expr => &[
            ("op", Shape::String),
            ("value", Shape::StringList),
            ("type", Shape::String),
        ],
        Shape::NfrDocument => &[
            ("apiVersion", Shape::String),
            ("kind", Shape::String),
            ("metadata", Shape::Other),
            ("spec", Shape::NfrSpec),
            ("items", Shape::List(&NFR_DOCUMENTS)),
        ],
        Shape::NfrSpec => &[("rules", Shape::List(&NFR_RULES))],
        Shape::NfrRule => &[
            ("name", Shape::String),
            ("labels", Shape::StringMap),
            ("labelsTemplate", Shape::String),
            ("annotations", Shape::StringMap),
            ("vars", Shape::StringMap),
            ("varsTemplate", Shape::String),
            ("taints", Shape::List(&TAINTS)),
            ("extendedResources", Shape::StringMap),
            ("matchFeatures", Shape::List(&TERMS)),
            ("matchAny", Shape::List(&MATCH_ANY)),
        ],
        Shape::Taint => &[
            ("key", Shape::String),
            ("value", Shape::String),
            ("effect", Shape::String),
            ("timeAdded", Shape::String),
        ],
        _ => &[],
    }
}

fn what(shape: Shape) -> &'static str {
    match shape {
        Shape::Spec => "the spec",
        Shape::Set => "a compatibility set",
        Shape::Rule => "a rule",
        Shape::MatchAny => "a matchAny element",
        Shape::Term => "a feature term",
        Shape::Expr => "an expression",
        Shape::NfrDocument => "a NodeFeatureRule",
        Shape::NfrSpec => "a NodeFeatureRule's spec",
        Shape::NfrRule => "a NodeFeatureRule rule",
        Shape::Taint => "a taint",
        _ => "this object",
    }
}

/// NodeFeatureRule fields that NFD's compat spec decoder drops without a word.
const NODE_FEATURE_RULE_ONLY: &[&str] = &[
    "labels",
    "labelsTemplate",
    "annotations",
    "taints",
    "extendedResources",
];

fn duplicate_keys(src: &str, duplicates: &[(Span, Span)], out: &mut Diagnostics) {
    let index = LineIndex::new(src);
    for (first, later) in duplicates {
        let (line, _) = index.line_col(first.start);
        out.push(
            "duplicate-key",
            *later,
            format!(
                "`{}` appears twice in this mapping: NFD keeps only this one and silently drops the one on line {line}",
                &src[later.start..later.end]
            ),
            Some("merge the two entries into one".into()),
            None,
        );
    }
}

pub(super) fn check(src: &str, doc: &Document, out: &mut Diagnostics) {
    if let Some(span) = doc.extra_document {
        out.push(
            "extra-document",
            span,
            "a second YAML document: NFD reads only the first one and ignores everything from here"
                .into(),
            Some("put one spec per file".into()),
            None,
        );
    }
    duplicate_keys(src, &doc.duplicate_keys, out);
    if let Some(root) = &doc.root {
        walk(root, Shape::Spec, false, out);
    }
}

/// The same checks on one document of a NodeFeatureRule file.
pub(super) fn check_node_feature_rule(src: &str, doc: &StreamDocument, out: &mut Diagnostics) {
    duplicate_keys(src, &doc.duplicate_keys, out);
    if let Some(root) = &doc.root {
        walk(root, Shape::NfrDocument, true, out);
    }
}

fn walk(node: &Node, shape: Shape, nfr: bool, out: &mut Diagnostics) {
    match (shape, &node.value) {
        (Shape::List(item), Value::Seq(items)) => {
            for i in items {
                walk(i, *item, nfr, out);
            }
        }
        (Shape::String, Value::Scalar(s)) if !nfr => coercion(node.span, s, "value", out),
        (Shape::StringList, Value::Seq(items)) if !nfr => {
            for i in items {
                if let Value::Scalar(s) = &i.value {
                    coercion(i.span, s, "value", out);
                }
            }
        }
        (Shape::ExprMap | Shape::StringMap, Value::Map(entries)) => {
            for e in entries {
                if let Value::Scalar(k) = &e.key.value {
                    coercion(e.key.span, k, "key", out);
                }
                if shape == Shape::ExprMap {
                    walk(&e.value, Shape::Expr, nfr, out);
                } else {
                    walk(&e.value, Shape::String, nfr, out);
                }
            }
        }
        (_, Value::Map(entries)) if !fields(shape).is_empty() => {
            let known = fields(shape);
            for e in entries {
                let Some(key) = e.key.as_scalar() else {
                    continue;
                };
                let key_text = key.go_key();
                let key_text = key_text.as_deref().unwrap_or_default();
                if let Some((_, field_shape)) = known.iter().find(|(f, _)| *f == key_text) {
                    walk(&e.value, *field_shape, nfr, out);
                    continue;
                }
                if let Some((canonical, field_shape)) = known
                    .iter()
                    .find(|(f, _)| !nfr && crate::gostr::json_key_matches(key_text, f))
                {
                    out.push(
                        "key-case",
                        e.key.span,
                        format!("`{key_text}` is read as `{canonical}` (NFD matches keys case-insensitively), but Kubernetes tooling and strict decoders do not"),
                        Some(format!("write `{canonical}`")),
                        Some(Fix { span: e.key.span, replacement: canonical.to_string() }),
                    );
                    walk(&e.value, *field_shape, nfr, out);
                    continue;
                }
                unknown_key(key_text, e.key.span, shape, known, nfr, out);
            }
        }
        _ => {}
    }
}

fn unknown_key(
    key: &str,
    span: Span,
    shape: Shape,
    known: &[(&str, Shape)],
    nfr: bool,
    out: &mut Diagnostics,
) {
    if shape == Shape::Rule && NODE_FEATURE_RULE_ONLY.contains(&key) {
        out.push(
            "ignored-field",
            span,
            format!("`{key}` is a NodeFeatureRule field: image compatibility specs ignore it"),
            Some(
                "a compat rule can only publish `vars` (to later rules through `rule.matched`)"
                    .into(),
            ),
            None,
        );
        return;
    }
    let names = known.iter().map(|(f, _)| *f);
    let suggestion = did_you_mean(key, names);
    let placement = misplaced_hint(key, shape);
    let hint = match (suggestion, placement) {
        (Some(s), _) => Some(format!("did you mean `{s}`?")),
        (None, Some(p)) => Some(p),
        (None, None) => Some(format!(
            "{} has only: {}",
            what(shape),
            known
                .iter()
                .map(|(f, _)| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    let consequence = if nfr {
        "the API server drops it (and `kubectl apply`'s strict field validation refuses the object); field names are case-sensitive"
    } else {
        "NFD silently ignores it"
    };
    out.push(
        "unknown-key",
        span,
        format!("unknown key `{key}` in {}: {consequence}", what(shape)),
        hint,
        suggestion.map(|s| Fix {
            span,
            replacement: s.to_string(),
        }),
    );
}

/// A known key written one level off (a common slip in hand-written YAML).
fn misplaced_hint(key: &str, shape: Shape) -> Option<String> {
    let belongs = match key {
        "matchExpressions" | "matchName" | "feature" => "a term inside `matchFeatures`",
        "op" | "value" | "type" => "an expression inside `matchExpressions`",
        "matchFeatures" | "matchAny" | "vars" | "varsTemplate" | "name" => "a rule inside `rules`",
        "rules" | "weight" | "tag" | "description" => {
            "a compatibility set inside `compatibilities`"
        }
        _ => return None,
    };
    (!fields(shape).iter().any(|(f, _)| *f == key)).then(|| format!("`{key}` belongs in {belongs}"))
}

/// A plain scalar whose YAML 1.1 reading differs from its text.
fn coercion(span: Span, s: &Scalar, role: &str, out: &mut Diagnostics) {
    // Only plain scalars that resolve to something other than a string can change.
    if s.style != Style::Plain || s.text.is_empty() || s.resolved == Resolved::Str {
        return;
    }
    let read = match role {
        "key" => s.go_key().map(|k| k.into_owned()),
        _ => Some(s.go_string().into_owned()),
    };
    let Some(read) = read else { return };
    if read == s.text {
        return;
    }
    let why = match s.resolved {
        Resolved::Bool(_) => "a YAML 1.1 boolean",
        Resolved::Null => "null",
        Resolved::Int(_) | Resolved::Uint(_)
            if s.text.trim_start_matches(['+', '-']).starts_with('0') && s.text.len() > 1 =>
        {
            "an octal (or prefixed) integer"
        }
        Resolved::Int(_) | Resolved::Uint(_) => "an integer",
        Resolved::Float(_) => "a floating-point number",
        _ => "a non-string",
    };
    out.push(
        "yaml11-coercion",
        span,
        format!(
            "unquoted `{}` is read by NFD as {why}: the {role} becomes {:?}",
            s.text, read
        ),
        Some("quote it so NFD sees the text you wrote".into()),
        Some(Fix {
            span,
            replacement: quoted(&s.text),
        }),
    );
}
