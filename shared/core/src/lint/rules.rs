//! Checks on the decoded spec: structure, expressions, features against NFD's catalog,
//! contradictions, templates and `rule.matched` back-references.

use std::collections::{BTreeSet, HashMap};

use super::{did_you_mean, quoted, Diagnostics, Fix};
use crate::catalog::{catalog, FeatureInfo, ValueKind};
use crate::eval::RULE_MATCHED;
use crate::source::{LineIndex, Span};
use crate::spec::{Expr, Op, Rule, Spec, Term, SPEC_VERSION};
use crate::template::{Template, TemplateError};
use crate::{goregex, gostr, version};

pub(super) fn check(src: &str, spec: &Spec, out: &mut Diagnostics) {
    let index = LineIndex::new(src);
    document(spec, out);
    let mut published: BTreeSet<&str> = BTreeSet::new();
    let mut templated_before = false;
    let mut first_rule = true;
    let mut tags: HashMap<&str, Span> = HashMap::new();
    for set in &spec.compatibilities {
        if set.rules.is_empty() {
            out.push(
                "set-without-rules",
                set.rules_span.unwrap_or(set.span),
                "this compatibility set has no rules, so every node satisfies it".into(),
                Some("add rules, or remove the set".into()),
                None,
            );
        }
        if let Some(span) = set.weight_span {
            if !(1..=100).contains(&set.weight) {
                out.push(
                    "weight-range",
                    span,
                    format!("weight {} is outside 1..100, the range of Kubernetes node-affinity weights", set.weight),
                    Some("use a weight from 1 (least preferred) to 100".into()),
                    None,
                );
            }
        }
        if let (Some(span), false) = (set.tag_span, set.tag.is_empty()) {
            if let Some(first) = tags.insert(&set.tag, span) {
                out.push(
                    "duplicate-tag",
                    span,
                    format!(
                        "tag {:?} is also used on line {}: `--tags` selects both sets",
                        set.tag,
                        index.line_col(first.start).0
                    ),
                    Some("give each set its own tag".into()),
                    None,
                );
            }
        }
        let mut names: HashMap<&str, Span> = HashMap::new();
        for rule in &set.rules {
            rule_checks(rule, &index, &mut names, out);
            for term in rule.terms() {
                term_checks(term, out);
                if term.lookup == RULE_MATCHED {
                    back_reference(term, first_rule, templated_before, &published, out);
                }
            }
            contradictions(&rule.match_features, &index, out);
            for elem in &rule.match_any {
                contradictions(&elem.match_features, &index, out);
            }
            published.extend(rule.vars.keys().map(String::as_str));
            templated_before |= !rule.vars_template.is_empty();
            first_rule = false;
        }
    }
}

fn document(spec: &Spec, out: &mut Diagnostics) {
    match spec.version_span {
        None => out.push(
            "version-missing",
            Span::new(0, 0),
            "the spec has no `version`".into(),
            Some(format!("start the spec with `version: {SPEC_VERSION}`")),
            Some(Fix {
                span: Span::new(0, 0),
                replacement: format!("version: {SPEC_VERSION}\n"),
            }),
        ),
        Some(span) if spec.version != SPEC_VERSION => out.push(
            "version-unsupported",
            span,
            format!(
                "version {:?} is not supported: image compatibility specs are `{SPEC_VERSION}`",
                spec.version
            ),
            Some(format!("write `version: {SPEC_VERSION}`")),
            Some(Fix {
                span,
                replacement: SPEC_VERSION.into(),
            }),
        ),
        Some(_) => {}
    }
    match spec.compatibilities_span {
        None => out.push(
            "compatibilities-missing",
            Span::new(0, 0),
            "the spec has no `compatibilities`: it says nothing about any node".into(),
            Some("add `compatibilities:` with at least one set of rules".into()),
            None,
        ),
        Some(span) if spec.compatibilities.is_empty() => out.push(
            "compatibilities-empty",
            span,
            "`compatibilities` is empty: the spec says nothing about any node".into(),
            Some("add at least one compatibility set with rules".into()),
            None,
        ),
        Some(_) => {}
    }
}

pub(super) fn rule_checks<'s>(
    rule: &'s Rule,
    index: &LineIndex,
    names: &mut HashMap<&'s str, Span>,
    out: &mut Diagnostics,
) {
    let at = rule.name_span.unwrap_or(rule.span);
    if rule.name.is_empty() {
        out.push(
            "rule-name-missing",
            Span::new(rule.span.start, rule.span.start),
            "this rule has no name: NFD's report and `nodefit test` cannot tell it apart".into(),
            Some("add `name: ...`".into()),
            None,
        );
    } else if let Some(first) = names.insert(&rule.name, at) {
        out.push(
            "duplicate-rule-name",
            at,
            format!(
                "another rule of this set (line {}) is also named {:?}",
                index.line_col(first.start).0,
                rule.name
            ),
            Some("give each rule of a set its own name".into()),
            None,
        );
    }
    if rule.match_features.is_empty() && rule.match_any.is_empty() {
        out.push(
            "rule-without-matchers",
            at,
            "this rule has neither `matchFeatures` nor `matchAny`: it matches every node".into(),
            Some("add `matchFeatures` with the features the image needs".into()),
            None,
        );
    }
    if rule.match_any.len() == 1 {
        out.push(
            "single-match-any",
            rule.match_any_span.unwrap_or(at),
            "`matchAny` with a single element is the same as `matchFeatures`".into(),
            Some("move its terms to `matchFeatures`, or add the alternatives".into()),
            None,
        );
    }
    template_checks(
        rule,
        &rule.vars_template,
        rule.vars_template_span,
        "NFD aborts validation when this rule matches",
        out,
    );
}

/// A rule's template (`varsTemplate`, or a NodeFeatureRule's `labelsTemplate`): that it
/// parses, that nodefit can evaluate it, and that every feature it reads from the data's root
/// is one the matcher that runs it hands it.
pub(super) fn template_checks(
    rule: &Rule,
    src: &str,
    span: Span,
    on_error: &str,
    out: &mut Diagnostics,
) {
    if src.is_empty() {
        return;
    }
    match Template::parse(src) {
        Ok(template) => missing_features(rule, &template, span, on_error, out),
        Err(e @ TemplateError::Unsupported(_)) => out.push(
            "template-unsupported",
            span,
            format!("{e}"),
            Some("NFD may accept it, but nodefit and the editor cannot evaluate this rule".into()),
            None,
        ),
        Err(e) => out.push(
            "template-syntax",
            span,
            format!("{e}"),
            Some(format!("{on_error}: the template does not parse")),
            None,
        ),
    }
}

/// NFD runs a template once for each matcher that matched (each matchAny element, and
/// matchFeatures) with that matcher's features only, keyed by the feature's spelling split at
/// its first dot; with `missingkey=error` a path to any other feature fails.
fn missing_features(
    rule: &Rule,
    template: &Template,
    span: Span,
    on_error: &str,
    out: &mut Diagnostics,
) {
    let key = |t: &Term| match t.feature.split_once('.') {
        Some((d, f)) => (d.to_string(), f.to_string()),
        None => (t.lookup.clone(), String::new()),
    };
    let matchers: Vec<(String, Vec<(String, String)>)> = rule
        .match_any
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                format!("matchAny element #{}", i + 1),
                e.match_features.iter().map(key).collect(),
            )
        })
        .chain((!rule.match_features.is_empty()).then(|| {
            (
                "matchFeatures".to_string(),
                rule.match_features.iter().map(key).collect(),
            )
        }))
        .collect();
    let mut reported = BTreeSet::new();
    for path in template.root_paths() {
        let shown = format!(
            ".{}",
            path.iter().take(2).cloned().collect::<Vec<_>>().join(".")
        );
        let lacking: Vec<&str> = matchers
            .iter()
            .filter(|(_, keys)| match path {
                [domain] => !keys.iter().any(|(d, _)| d == domain),
                [domain, feature, ..] => !keys.iter().any(|(d, f)| d == domain && f == feature),
                [] => false,
            })
            .map(|(name, _)| name.as_str())
            .collect();
        if lacking.is_empty() || !reported.insert(shown.clone()) {
            continue;
        }
        let when = if lacking.len() == matchers.len() {
            "whenever the rule matches".to_string()
        } else {
            format!("when {} matches", lacking.join(" or "))
        };
        out.push(
            "template-missing-feature",
            span,
            format!("the template reads `{shown}`, which the rule's matcher does not hand it: it fails {when} ({on_error})"),
            Some("a template sees only the features of the matcher that ran it: match the feature in that matcher, or read the one it matches".into()),
            None,
        );
    }
}

pub(super) fn term_checks(term: &Term, out: &mut Diagnostics) {
    let span = term.feature_span;
    let feature = term.feature.as_str();
    let info = feature_checks(term, out);
    if term.match_expressions.is_none() && term.match_name.is_none() && !feature.is_empty() {
        out.push(
            "term-without-matchers",
            span,
            format!("this term only checks that `{feature}` exists (and, after a failed term, NFD skips it entirely)"),
            Some("add `matchExpressions` for the elements the image needs".into()),
            None,
        );
    }
    for named in term.match_expressions.iter().flatten() {
        let Some(expr) = &named.expr else {
            out.push(
                "null-expression",
                named.name_span,
                format!(
                    "the expression for `{}` is null: NFD dereferences it and crashes",
                    named.name
                ),
                Some("write an expression, e.g. `{op: Exists}`".into()),
                None,
            );
            continue;
        };
        expression(expr, out);
        if let Some(info) = info {
            element_checks(term, info, &named.name, named.name_span, expr, out);
        }
    }
    if let Some(expr) = &term.match_name {
        expression(expr, out);
    }
}

/// Checks the feature name; returns its catalog entry when there is one.
fn feature_checks(term: &Term, out: &mut Diagnostics) -> Option<&'static FeatureInfo> {
    let span = term.feature_span;
    let feature = term.feature.as_str();
    if feature.is_empty() {
        out.push(
            "invalid-feature-name",
            span,
            "the term has no `feature`: it never matches".into(),
            Some("name a feature, e.g. `feature: cpu.model`".into()),
            None,
        );
        return None;
    }
    if feature.split('.').count() != 2 {
        out.push(
            "invalid-feature-name",
            span,
            format!("`{feature}` is not `<domain>.<feature>` (exactly one dot)"),
            Some("NFD's validation refuses such names; use e.g. `kernel.loadedmodule`".into()),
            None,
        );
    }
    if term.lookup != feature {
        out.push(
            "feature-name-case",
            span,
            format!("`{feature}` is looked up as `{}`: it matches, but NFD's report shows its expressions as FAIL", term.lookup),
            Some("feature names are lower-case".into()),
            Some(Fix { span, replacement: term.lookup.clone() }),
        );
    }
    let info = catalog().get(&term.lookup);
    if info.is_none() {
        let suggestion = did_you_mean(&term.lookup, catalog().names());
        let domain_note = match term.lookup.split('.').next() {
            Some("custom") => " (the custom source produces labels, not features)",
            Some("fake") => " (the fake source is disabled in validate-node)",
            _ => "",
        };
        out.push(
            "unknown-feature",
            span,
            format!("`{feature}` is not a feature NFD's sources produce{domain_note}: this term never matches"),
            Some(match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => "see `nodefit catalog` or docs/lint-rules.md for the feature list".into(),
            }),
            suggestion.map(|s| Fix { span, replacement: s.to_string() }),
        );
    }
    info
}

fn element_checks(
    term: &Term,
    info: &FeatureInfo,
    name: &str,
    name_span: Span,
    expr: &Expr,
    out: &mut Diagnostics,
) {
    let feature = term.lookup.as_str();
    let element = info.element(name);
    let known_names = || {
        info.elements
            .iter()
            .map(|e| e.key.as_str())
            .filter(|k| !k.contains('<'))
            .chain(info.known_elements.iter().map(String::as_str))
    };
    let op = expr.op();
    if element.is_none() && info.has_fixed_keys()
        || (!info.known_elements.is_empty()
            && !known_names().any(|k| k == name)
            && known_names().any(|k| k.eq_ignore_ascii_case(name)))
    {
        let suggestion = did_you_mean(name, known_names());
        let never = if op == Some(Op::DoesNotExist) {
            "always holds"
        } else {
            "never matches"
        };
        out.push(
            "unknown-element",
            name_span,
            format!("`{feature}` has no element `{name}`: this expression {never}"),
            Some(match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "its elements are: {}",
                    info.elements
                        .iter()
                        .map(|e| format!("`{}`", e.key))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
            suggestion.map(|s| Fix {
                span: name_span,
                replacement: s.to_string(),
            }),
        );
        return;
    }
    if feature == "kernel.loadedmodule" && name.contains('-') {
        let fixed = name.replace('-', "_");
        out.push(
            "module-name-hyphen",
            name_span,
            format!("/proc/modules lists modules with underscores: `{name}` never appears there"),
            Some(format!("write `{fixed}`")),
            Some(Fix {
                span: name_span,
                replacement: fixed,
            }),
        );
    }
    let (Some(element), Some(op)) = (element, op) else {
        return;
    };
    let value_op = !matches!(op, Op::Any | Op::Exists | Op::DoesNotExist);
    if element.kind == ValueKind::Flag {
        if value_op {
            out.push(
                "value-op-on-flag",
                expr.spans.op.unwrap_or(expr.span),
                format!("`{feature}` elements are flags (present or absent, no value): `{}` never matches", expr.op),
                Some("use `Exists` or `DoesNotExist`".into()),
                None,
            );
        }
        return;
    }
    let op_span = expr.spans.op.unwrap_or(expr.span);
    let kind_word = match element.kind {
        ValueKind::Hex => "a hexadecimal id",
        ValueKind::Boolean => "\"true\"/\"false\"",
        ValueKind::ZeroOne => "\"0\"/\"1\"",
        ValueKind::Version => "a dotted version",
        ValueKind::Integer => "an integer",
        ValueKind::String | ValueKind::Flag => "a string",
    };
    if op.is_numeric() {
        let fits = match (element.kind, expr.value_type.as_str()) {
            (ValueKind::Integer | ValueKind::String, "") => true,
            (ValueKind::Version | ValueKind::String | ValueKind::Integer, "version") => true,
            (_, "" | "version") => false,
            _ => true,
        };
        if !fits {
            let hint = match element.kind {
                ValueKind::Version => {
                    "add `type: version`, or compare the integer elements (e.g. `major`, `minor`)"
                        .to_string()
                }
                ValueKind::Hex => format!(
                    "compare ids with `In` (e.g. `{{op: In, value: [{}]}}`)",
                    quoted(element.example.as_deref().unwrap_or("10de"))
                ),
                ValueKind::ZeroOne => "use `In` with `\"0\"` or `\"1\"`".into(),
                _ => "use `In` or `IsTrue`/`IsFalse`".into(),
            };
            out.push(
                "kind-mismatch",
                op_span,
                format!("`{feature}.{name}` is {kind_word}: `{}` compares numbers{}, so NFD aborts validation on nodes that have it", expr.op, if expr.value_type.is_empty() { "" } else { " or versions" }),
                Some(hint),
                None,
            );
        }
    }
    if matches!(op, Op::IsTrue | Op::IsFalse)
        && !matches!(element.kind, ValueKind::Boolean | ValueKind::String)
    {
        let hint = if element.kind == ValueKind::ZeroOne {
            format!(
                "use `{{op: In, value: [\"{}\"]}}`",
                if op == Op::IsTrue { 1 } else { 0 }
            )
        } else {
            "use `In`".into()
        };
        out.push(
            "kind-mismatch",
            op_span,
            format!(
                "`{feature}.{name}` is {kind_word}, never \"true\"/\"false\": `{}` never matches",
                expr.op
            ),
            Some(hint),
            None,
        );
    }
    if expr.value_type == "version"
        && op.is_numeric()
        && feature == "kernel.version"
        && name == "full"
    {
        out.push(
            "version-type-fragile",
            expr.spans.value_type.unwrap_or(op_span),
            "kernel releases are not always semver (RHEL's `5.14.0-427.13.1.el9_4.x86_64` is not): NFD aborts the whole validation on such nodes".into(),
            Some("compare `kernel.version` `major`/`minor` with integer ops instead".into()),
            None,
        );
    }
}

/// Checks every expression (matchExpressions and matchName) on its own.
fn expression(expr: &Expr, out: &mut Diagnostics) {
    let op_span = expr.spans.op.unwrap_or(expr.span);
    let value_span = expr.spans.value.unwrap_or(expr.span);
    let Some(op) = expr.op() else {
        let suggestion = did_you_mean(
            &expr.op,
            Op::ALL.iter().map(|o| o.as_str()).filter(|o| !o.is_empty()),
        );
        out.push(
            "unknown-op",
            op_span,
            format!("unknown op {:?}: NFD aborts validation when it evaluates it", expr.op),
            Some(match suggestion {
                Some(s) => format!("did you mean `{s}`? (ops are case-sensitive)"),
                None => "ops are In, NotIn, InRegexp, Exists, DoesNotExist, Gt, Ge, Lt, Le, GtLt, GeLe, IsTrue, IsFalse".into(),
            }),
            suggestion.map(|s| Fix { span: op_span, replacement: s.to_string() }),
        );
        return;
    };
    let n = expr.value.len();
    // A `value` that is not a list is already a wrong-type error.
    let count_known = expr.spans.value.is_none() || expr.spans.value_is_list;
    match op.value_count() {
        _ if !count_known => {}
        Some(0) if n > 0 => out.push(
            "values-not-allowed",
            value_span,
            format!(
                "`{}` takes no values, but {n} given: NFD aborts validation",
                if op == Op::Any { "\"\"" } else { op.as_str() }
            ),
            Some("remove `value`".into()),
            None,
        ),
        None if n == 0 => out.push(
            "value-count",
            value_span,
            format!("`{}` needs at least one value", op.as_str()),
            Some("add `value: [\"...\"]`".into()),
            None,
        ),
        Some(want) if want > 0 && n != want => out.push(
            "value-count",
            value_span,
            format!(
                "`{}` takes exactly {want} value{}, but {n} given: NFD aborts validation",
                op.as_str(),
                if want == 1 { "" } else { "s" }
            ),
            Some(if want == 1 {
                "write one bound, e.g. `value: [\"5\"]`".into()
            } else {
                "write the lower and upper bound, e.g. `value: [\"1\", \"10\"]`".into()
            }),
            None,
        ),
        _ => {}
    }
    if op == Op::Any {
        out.push(
            "always-true",
            expr.span,
            "an expression without op always matches, even when the element is missing".into(),
            Some("add an op, e.g. `op: Exists`".into()),
            None,
        );
    }
    let item_span = |i: usize| expr.spans.items.get(i).copied().unwrap_or(value_span);
    if op == Op::InRegexp {
        let mut errors = expr.regex_errors().peekable();
        for (i, pattern) in expr.value.iter().enumerate() {
            match errors.next_if(|(at, _)| *at == i) {
                // Reported by the decoder as `over-budget`, where the pattern is written.
                Some((_, e)) if e.budget.is_some() => {}
                Some((_, e)) => out.push(
                    "invalid-regex",
                    item_span(i),
                    format!("{pattern:?} is not a valid Go regular expression: {e}"),
                    Some("NFD compiles every pattern when it evaluates the expression and aborts on the first bad one".into()),
                    None,
                ),
                None => {
                    for note in goregex::dialect_notes(pattern) {
                        out.push("regex-dialect", item_span(i), note.to_string(), None, None);
                    }
                }
            }
        }
    }
    if op.is_numeric() {
        numeric(expr, op, &item_span, out);
    } else if !expr.value_type.is_empty() {
        out.push(
            "type-ignored",
            expr.spans.value_type.unwrap_or(op_span),
            format!(
                "`type` has no effect on `{}`",
                if op == Op::Any { "\"\"" } else { op.as_str() }
            ),
            Some("remove `type`; it only applies to Gt, Ge, Lt, Le, GtLt and GeLe".into()),
            None,
        );
    }
}

fn numeric(expr: &Expr, op: Op, item_span: &dyn Fn(usize) -> Span, out: &mut Diagnostics) {
    let range_op = matches!(op, Op::GtLt | Op::GeLe);
    match expr.value_type.as_str() {
        "" => {
            let ints: Vec<Option<i64>> = expr.value.iter().map(|v| gostr::atoi(v)).collect();
            for (i, (v, parsed)) in expr.value.iter().zip(&ints).enumerate() {
                if parsed.is_none() {
                    let hint = if version::parse(v).is_some() && v.contains('.') {
                        "for dotted versions add `type: version`".to_string()
                    } else {
                        "write a decimal integer (hex ids cannot be compared with Gt/Lt)"
                            .to_string()
                    };
                    out.push(
                        "not-an-integer",
                        item_span(i),
                        format!(
                            "{v:?} is not an integer: NFD aborts validation when it compares it"
                        ),
                        Some(hint),
                        None,
                    );
                }
            }
            if let (true, [Some(lo), Some(hi)]) = (range_op, ints.as_slice()) {
                if lo >= hi {
                    out.push(
                        "empty-range",
                        expr.spans.value.unwrap_or(expr.span),
                        format!("lower bound {lo} is not below upper bound {hi}: NFD refuses this range and aborts validation"),
                        Some("write the lower bound first; for a single value use `In`".into()),
                        None,
                    );
                }
            }
        }
        "version" => {
            let versions: Vec<_> = expr.value.iter().map(|v| version::parse(v)).collect();
            for (i, (v, parsed)) in expr.value.iter().zip(&versions).enumerate() {
                if parsed.is_none() {
                    out.push(
                        "not-a-version",
                        item_span(i),
                        format!("{v:?} is not a version NFD can read (`v?N[.N[.N]][-pre][+meta]`): validation aborts"),
                        Some("write a version such as \"5.15\" or \"6.1.0\"".into()),
                        None,
                    );
                }
            }
            if let (true, [Some(lo), Some(hi)]) = (range_op, versions.as_slice()) {
                let empty = if op == Op::GtLt { lo >= hi } else { lo > hi };
                if empty {
                    out.push(
                        "empty-range",
                        expr.spans.value.unwrap_or(expr.span),
                        format!("no version lies in this range ({} then {}): the expression never matches", expr.value[0], expr.value[1]),
                        Some("write the lower bound first".into()),
                        None,
                    );
                }
            }
        }
        other => {
            let span = expr.spans.value_type.unwrap_or(expr.span);
            let fix = other.eq_ignore_ascii_case("version").then(|| Fix {
                span,
                replacement: "version".into(),
            });
            out.push(
                "invalid-type",
                span,
                format!("`type: {other}` is not supported: only `version` (case-sensitive); NFD aborts validation"),
                Some("write `type: version`, or remove `type` for integer comparison".into()),
                fix,
            );
        }
    }
}

pub(super) fn back_reference(
    term: &Term,
    first_rule: bool,
    templated_before: bool,
    published: &BTreeSet<&str>,
    out: &mut Diagnostics,
) {
    if first_rule {
        out.push(
            "rule-matched-first",
            term.feature_span,
            "`rule.matched` does not exist yet in the first rule: this term never matches".into(),
            Some("back-references read `vars` published by earlier rules".into()),
            None,
        );
        return;
    }
    if templated_before {
        return;
    }
    for named in term.match_expressions.iter().flatten() {
        let Some(expr) = &named.expr else { continue };
        if expr.op() == Some(Op::DoesNotExist) || published.contains(named.name.as_str()) {
            continue;
        }
        out.push(
            "undefined-var",
            named.name_span,
            format!(
                "no earlier rule publishes `{}` in `vars`: this expression never matches",
                named.name
            ),
            did_you_mean(&named.name, published.iter().copied())
                .map(|s| format!("did you mean `{s}`?")),
            None,
        );
    }
}

/// Earlier expressions on one element that each expression is compared with: real specs have
/// one or two, and comparing every pair of thousands would be quadratic.
const MAX_COMPARED_EXPRESSIONS: usize = 64;

/// Pairs of expressions on one flag or attribute element, in one AND matcher, that no node can
/// satisfy together. Instance features are skipped: different instances may satisfy each.
pub(super) fn contradictions(terms: &[Term], index: &LineIndex, out: &mut Diagnostics) {
    let mut seen: HashMap<(&str, &str), Vec<&Expr>> = HashMap::new();
    for term in terms {
        let Some(info) = catalog().get(&term.lookup) else {
            continue;
        };
        if info.is_instance() {
            continue;
        }
        for named in term.match_expressions.iter().flatten() {
            let Some(expr) = &named.expr else { continue };
            let earlier = seen
                .entry((term.lookup.as_str(), named.name.as_str()))
                .or_default();
            if let Some(other) = earlier.iter().find(|o| contradict(o, expr)) {
                out.push(
                    "contradiction",
                    expr.span,
                    format!(
                        "`{}` contradicts `{}` on line {} for the same element `{}`: no node satisfies both",
                        expr,
                        other,
                        index.line_col(other.span.start).0,
                        named.name
                    ),
                    Some("terms of one rule are ANDed; put alternatives in `matchAny`".into()),
                    None,
                );
            }
            if earlier.len() < MAX_COMPARED_EXPRESSIONS {
                earlier.push(expr);
            }
        }
    }
}

fn value_set(e: &Expr) -> BTreeSet<&str> {
    e.value.iter().map(String::as_str).collect()
}

fn contradict(a: &Expr, b: &Expr) -> bool {
    let (Some(x), Some(y)) = (a.op(), b.op()) else {
        return false;
    };
    let needs_value = |o: Op| !matches!(o, Op::Any | Op::Exists | Op::DoesNotExist);
    let pair = |p: Op, q: Op| (x == p && y == q) || (x == q && y == p);
    if pair(Op::Exists, Op::DoesNotExist) || pair(Op::IsTrue, Op::IsFalse) {
        return true;
    }
    if (x == Op::DoesNotExist && needs_value(y)) || (y == Op::DoesNotExist && needs_value(x)) {
        return true;
    }
    if x == Op::In && y == Op::In {
        return !a.value.is_empty()
            && !b.value.is_empty()
            && value_set(a).is_disjoint(&value_set(b));
    }
    if pair(Op::In, Op::NotIn) {
        let (inn, notin) = if x == Op::In { (a, b) } else { (b, a) };
        return !inn.value.is_empty() && value_set(inn).is_subset(&value_set(notin));
    }
    false
}
