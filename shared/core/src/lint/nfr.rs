//! Lint for NodeFeatureRule files: the checks a NodeFeatureRule shares with specs (matchers,
//! ops, the feature catalog, templates, back-references), and its own mistakes: what the API
//! server refuses, and labels, annotations, extended resources and taints nfd-master would drop.

use std::collections::{BTreeSet, HashMap};

use super::{rules, structure, Diagnostics, BUDGET_HINT};
use crate::budget;
use crate::eval::RULE_MATCHED;
use crate::k8s;
use crate::nfr::decode::{decode_documents, TAINT_EFFECTS};
use crate::nfr::process::{is_k8s_ns as denied, ANNOTATION_VALUE_MAX, FEATURE_NS, PROFILE_NS};
use crate::nfr::{Entry, NfrRule, NodeFeatureRule};
use crate::source::{LineIndex, Span};
use crate::yaml;

pub(super) fn check(src: &str, out: &mut Diagnostics) {
    let documents = match yaml::parse_stream(src, &budget::NFR_DOCUMENTS) {
        Ok(d) => d,
        Err(e) => {
            let (code, hint) = match e.budget {
                Some(_) => ("over-budget", BUDGET_HINT),
                None => ("yaml-syntax", "fix the YAML syntax at this position"),
            };
            out.push(
                code,
                Span::new(e.span.start, e.span.start),
                e.message,
                Some(hint.into()),
                None,
            );
            return;
        }
    };
    for doc in &documents {
        structure::check_node_feature_rule(src, doc, out);
    }
    let (objects, errors) = decode_documents(&documents);
    for e in &errors {
        let path = if e.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", e.path)
        };
        let (code, hint) = match e.budget {
            Some(_) => ("over-budget", BUDGET_HINT),
            None => (
                "api-refuses",
                "the object never reaches nfd-master: `kubectl apply` fails",
            ),
        };
        out.push(
            code,
            e.span,
            format!("{path}{}", e.message),
            Some(hint.into()),
            None,
        );
    }
    let index = LineIndex::new(src);
    let mut names: HashMap<&str, Span> = HashMap::new();
    for o in &objects {
        if let Some(first) = names.insert(&o.name, o.name_span) {
            out.push(
                "duplicate-object-name",
                o.name_span,
                format!(
                    "another NodeFeatureRule (line {}) is also named {:?}: the cluster keeps only the one applied last",
                    index.line_col(first.start).0,
                    o.name
                ),
                Some("give each NodeFeatureRule its own name".into()),
                None,
            );
        }
    }
    // nfd-master runs the objects in name order: back-references follow that order.
    let mut ordered: Vec<&NodeFeatureRule> = objects.iter().collect();
    ordered.sort_by(|a, b| a.name.cmp(&b.name));
    let mut published: BTreeSet<&str> = BTreeSet::new();
    let mut templated_before = false;
    let mut first_rule = true;
    for object in ordered {
        let mut rule_names = HashMap::new();
        for r in &object.rules {
            rule(r, &index, &mut rule_names, out);
            for term in r.rule.terms() {
                if term.lookup == RULE_MATCHED {
                    rules::back_reference(term, first_rule, templated_before, &published, out);
                }
            }
            published.extend(r.labels.iter().map(|e| e.key.as_str()));
            published.extend(r.rule.vars.keys().map(String::as_str));
            templated_before |= !r.labels_template.is_empty() || !r.rule.vars_template.is_empty();
            first_rule = false;
        }
    }
}

fn rule<'o>(
    r: &'o NfrRule,
    index: &LineIndex,
    names: &mut HashMap<&'o str, Span>,
    out: &mut Diagnostics,
) {
    let spec_rule = &r.rule;
    let at = spec_rule.name_span.unwrap_or(spec_rule.span);
    if spec_rule.name.is_empty() {
        out.push(
            "rule-name-missing",
            Span::new(spec_rule.span.start, spec_rule.span.start),
            "this rule has no name: nfd-master's logs and `nodefit labels` cannot tell it apart"
                .into(),
            Some("add `name: ...` (`kubectl nfd validate` requires one)".into()),
            None,
        );
    } else if let Some(first) = names.insert(&spec_rule.name, at) {
        out.push(
            "duplicate-rule-name",
            at,
            format!(
                "another rule of this NodeFeatureRule (line {}) is also named {:?}",
                index.line_col(first.start).0,
                spec_rule.name
            ),
            Some("give each rule its own name".into()),
            None,
        );
    }
    if spec_rule.match_any.len() == 1 {
        out.push(
            "single-match-any",
            spec_rule.match_any_span.unwrap_or(at),
            "`matchAny` with a single element is the same as `matchFeatures`".into(),
            Some("move its terms to `matchFeatures`, or add the alternatives".into()),
            None,
        );
    }
    let on_error = "nfd-master logs an error and skips this rule when it matches";
    rules::template_checks(
        spec_rule,
        &r.labels_template,
        r.labels_template_span,
        on_error,
        out,
    );
    rules::template_checks(
        spec_rule,
        &spec_rule.vars_template,
        spec_rule.vars_template_span,
        on_error,
        out,
    );
    for term in spec_rule.terms() {
        rules::term_checks(term, out);
    }
    rules::contradictions(&spec_rule.match_features, index, out);
    for elem in &spec_rule.match_any {
        rules::contradictions(&elem.match_features, index, out);
    }
    for label in &r.labels {
        label_check(label, out);
    }
    for e in &r.extended_resources {
        resource_check(e, out);
    }
    for e in &r.annotations {
        annotation_check(e, out);
    }
    for t in &r.taints {
        let (ns, _) = t.key.split_once('/').unwrap_or(("", &t.key));
        if ns.is_empty() {
            out.push(
                "invalid-taint",
                t.span,
                format!(
                    "taint key {:?} has no namespace: nfd-master drops the taint",
                    t.key
                ),
                Some("prefix the key, e.g. `example.com/...`".into()),
                None,
            );
        } else if denied(ns, &[FEATURE_NS]) {
            denied_namespace(t.span, "taint", ns, out);
        }
        if !TAINT_EFFECTS.contains(&t.effect.as_str()) {
            out.push(
                "invalid-taint",
                t.span,
                format!("taint effect {:?}: nfd-master drops the taint", t.effect),
                Some(format!("use one of {}", TAINT_EFFECTS.join(", "))),
                None,
            );
        }
    }
}

fn denied_namespace(span: Span, what: &str, ns: &str, out: &mut Diagnostics) {
    out.push(
        "denied-namespace",
        span,
        format!("the {what}'s namespace {ns:?} is a kubernetes.io namespace NFD may not write to: nfd-master drops it"),
        Some(format!("use your own domain, or `{FEATURE_NS}` (no namespace gets it by default)")),
        None,
    );
}

/// The key as it reaches the node: unprefixed keys get NFD's namespace.
fn full_key(key: &str) -> String {
    if key.contains('/') {
        key.to_string()
    } else {
        format!("{FEATURE_NS}/{key}")
    }
}

/// A value nfd-master resolves on the node (`@domain.feature.element`): only its form can be
/// checked here.
fn dynamic_form(e: &Entry, out: &mut Diagnostics) -> bool {
    if !e.value.starts_with('@') {
        return false;
    }
    if e.value[1..].splitn(3, '.').count() != 3 {
        out.push(
            "invalid-label",
            e.value_span,
            format!(
                "{:?} is not `@domain.feature.element`: nfd-master drops it",
                e.value
            ),
            Some("name an attribute element, e.g. `@cpu.model.vendor_id`".into()),
            None,
        );
    }
    true
}

fn label_check(e: &Entry, out: &mut Diagnostics) {
    let key = full_key(&e.key);
    let problems = k8s::qualified_name(&key);
    if let Some(p) = problems.first() {
        out.push(
            "invalid-label",
            e.key_span,
            format!("label name {key:?} is not valid ({p}): nfd-master drops it"),
            None,
            None,
        );
        return;
    }
    let (ns, _) = key.split_once('/').unwrap_or_default();
    if denied(ns, &[FEATURE_NS, PROFILE_NS]) {
        return denied_namespace(e.key_span, "label", ns, out);
    }
    if dynamic_form(e, out) {
        return;
    }
    if let Some(p) = k8s::label_value(&e.value).first() {
        out.push(
            "invalid-label",
            e.value_span,
            format!(
                "label value {:?} is not valid ({p}): nfd-master drops the label",
                e.value
            ),
            Some("label values are at most 63 letters, digits, '-', '_' and '.'".into()),
            None,
        );
    }
}

fn resource_check(e: &Entry, out: &mut Diagnostics) {
    let key = full_key(&e.key);
    if let Some(p) = k8s::qualified_name(&key).first() {
        out.push(
            "invalid-extended-resource",
            e.key_span,
            format!("extended resource name {key:?} is not valid ({p}): nfd-master drops it"),
            None,
            None,
        );
        return;
    }
    let (ns, _) = key.split_once('/').unwrap_or_default();
    if denied(ns, &[FEATURE_NS]) {
        return denied_namespace(e.key_span, "extended resource", ns, out);
    }
    if dynamic_form(e, out) {
        return;
    }
    if let Err(err) = k8s::parse_quantity(&e.value) {
        out.push(
            "invalid-extended-resource",
            e.value_span,
            format!(
                "{:?} is not a quantity ({err}): nfd-master drops the extended resource",
                e.value
            ),
            Some("write a count such as \"4\", or a quantity such as \"1Gi\"".into()),
            None,
        );
    }
}

fn annotation_check(e: &Entry, out: &mut Diagnostics) {
    let key = full_key(&e.key);
    if let Some(p) = k8s::qualified_name(&key).first() {
        out.push(
            "invalid-annotation",
            e.key_span,
            format!("annotation name {key:?} is not valid ({p}): nfd-master drops it"),
            None,
            None,
        );
        return;
    }
    let (ns, _) = key.split_once('/').unwrap_or_default();
    if denied(ns, &[FEATURE_NS]) {
        return denied_namespace(e.key_span, "annotation", ns, out);
    }
    if e.value.len() > ANNOTATION_VALUE_MAX {
        out.push(
            "invalid-annotation",
            e.value_span,
            format!("the value is {} bytes; nfd-master drops annotations longer than {ANNOTATION_VALUE_MAX}", e.value.len()),
            None,
            None,
        );
    }
}
