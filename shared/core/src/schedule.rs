//! From "is this node compatible" to "where will the pod run": a compatibility spec turned into
//! a NodeFeatureRule that labels exactly the nodes `nfd compat validate-node` finds compatible,
//! one label per compatibility set, and the pod affinity that schedules onto them.
//!
//! The rule reproduces validate-node's answer on NFD's own machinery (nfd-master runs rules
//! with `failFast=true`; validate-node with `failFast=false`), rule by rule:
//!
//! - every spec rule becomes a rule of the same name, matchers, `vars` and `varsTemplate`,
//!   plus a marker var (`nodefit.<name>.set<N>.rule<M>`) that it publishes only when it matches,
//!   so that later rules read `rule.matched` as they do in validate-node;
//! - a spec rule with `matchAny` and vars also gets a rule before it with only its
//!   `matchFeatures` and vars: validate-node publishes the vars of such a rule when its
//!   `matchFeatures` held even if its `matchAny` did not, nfd-master does not;
//! - an expression that can fail with an error (a comparison, whose value must parse, or one
//!   whose values are wrong for its op) is checked first by a rule of its own
//!   (`...checked`) that evaluates each such expression where validate-node would: when one
//!   fails, validate-node aborts and sets no set as matching, so no label may be set either;
//! - a `varsTemplate` that fails on a node makes validate-node abort too; nfd-master only skips
//!   that rule. After the spec's rules, three rules per templated rule record whether its
//!   template would fail, through a var that later rules overwrite (rule.matched keeps the
//!   last value): `ok` first, `pending` if any of its matchers matches (the template runs), and
//!   `ok` again from a copy of the rule with the template, which sets nothing when it fails;
//! - then one rule per set sets `compat.nodefit.io/<name>.<tag or setN>=true` when the markers
//!   of all its rules and every check are there.
//!
//! What cannot be reproduced is refused, with where and why (docs/scheduling.md).

use std::collections::{BTreeMap, BTreeSet};

use crate::eval::RULE_MATCHED;
use crate::k8s;
use crate::nfr::decode::CRD_OPS;
use crate::nfr::API_VERSION;
use crate::source::Span;
use crate::spec::{Expr, NamedExpr, Op, Rule, Spec, Term};
use crate::tree::Tree;

/// The label namespace of the sets' labels. Not a `kubernetes.io` namespace, so nfd-master
/// accepts it unless its operator denies it (`-deny-label-ns`) or a `-label-whitelist` leaves
/// out the names.
pub const LABEL_NS: &str = "compat.nodefit.io";
/// Annotations that trace the rule back to what it was made from.
pub const ANNOTATION_SPEC_DIGEST: &str = "compat.nodefit.io/spec-digest";
pub const ANNOTATION_ARTIFACT_DIGEST: &str = "compat.nodefit.io/artifact-digest";
pub const ANNOTATION_IMAGE: &str = "compat.nodefit.io/image";
/// The registry the artifact was published to, by the server's name for it (never a host).
pub const ANNOTATION_REGISTRY: &str = "compat.nodefit.io/registry";
pub const ANNOTATION_TAGS: &str = "compat.nodefit.io/tags";
/// The Kubernetes range of preferred-scheduling weights.
pub const WEIGHT_RANGE: (i64, i64) = (1, 100);

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Names the labels (`compat.nodefit.io/<name>.<set>`) and the object (`nodefit-<name>`).
    pub name: String,
    /// Like validate-node's `--tags`: only the sets with one of these tags.
    pub tags: Vec<String>,
    /// Written to the object's `metadata.annotations` (digests that trace it).
    pub annotations: BTreeMap<String, String>,
}

/// Why a spec cannot become a NodeFeatureRule that answers as validate-node does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ScheduleError {
    pub message: String,
    /// Where in the spec (none for a problem with the options).
    pub span: Option<Span>,
}

/// The label one compatibility set gets.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetLabel {
    /// Index of the set in the spec (0-based).
    pub index: usize,
    pub tag: String,
    /// The spec's weight.
    pub weight: i64,
    /// The label key (its value is `true`).
    pub label: String,
    /// The weight of its preferred-scheduling term; `None` when all sets weigh the same.
    pub preferred_weight: Option<i64>,
}

/// What `nodefit schedule` writes.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub object_name: String,
    pub node_feature_rule: Tree,
    /// `{"affinity": {"nodeAffinity": ...}}`, to paste into a pod spec.
    pub affinity: Tree,
    pub sets: Vec<SetLabel>,
}

fn refuse(message: impl Into<String>, span: Option<Span>) -> ScheduleError {
    ScheduleError {
        message: message.into(),
        span,
    }
}

/// A schedule name made from any text (a spec's name, a file name): lower-cased, every
/// character but letters, digits, '-' and '.' turned into '-', trimmed to 40 characters that
/// start and end with a letter or digit.
pub fn suggest_name(text: &str) -> String {
    let name: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    name.trim_matches(['-', '.']).to_string()
}

/// Checks a schedule name: it is part of a DNS-1123 object name and of label names.
pub fn check_name(name: &str) -> Result<(), ScheduleError> {
    let ok = !name.is_empty() && name.len() <= 40 && k8s::dns1123_subdomain(name).is_empty();
    if ok {
        Ok(())
    } else {
        Err(refuse(
            format!("the name {name:?} must be 1 to 40 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (it names the labels and the NodeFeatureRule)"),
            None,
        ))
    }
}

/// Turns a spec into its NodeFeatureRule and pod affinity.
pub fn generate(spec: &Spec, options: &Options) -> Result<Schedule, Vec<ScheduleError>> {
    check_name(&options.name).map_err(|e| vec![e])?;
    let selected: Vec<usize> = (0..spec.compatibilities.len())
        .filter(|&i| options.tags.is_empty() || options.tags.contains(&spec.compatibilities[i].tag))
        .collect();
    if selected.is_empty() {
        return Err(vec![refuse(
            if options.tags.is_empty() {
                "the spec has no compatibility sets".to_string()
            } else {
                format!(
                    "no compatibility set has one of the tags {:?}",
                    options.tags
                )
            },
            spec.compatibilities_span,
        )]);
    }
    let mut errors = Vec::new();
    let sets = set_labels(spec, &selected, &options.name, &mut errors);
    let marker_prefix = format!("nodefit.{}", options.name);
    let mut rules = Vec::new();
    let mut checks = Vec::new();
    let mut template_checks = Vec::new();
    let mut first = true;
    for &index in &selected {
        let set = &spec.compatibilities[index];
        for (r, rule) in set.rules.iter().enumerate() {
            let marker = format!("{marker_prefix}.set{}.rule{}", index + 1, r + 1);
            errors.extend(refusals(rule, first, &marker));
            first = false;
            let guarded = guard_elements(rule, &mut errors);
            if !guarded.is_empty() {
                let check = format!("{marker}.checked");
                rules.push(Tree::map([
                    (
                        "name",
                        Tree::str(format!("{} (checked for errors)", rule.name)),
                    ),
                    ("vars", Tree::map([(check.clone(), Tree::str("true"))])),
                    // Any template makes nfd-master evaluate every matchAny element.
                    (
                        "varsTemplate",
                        Tree::str("{{/* every element is evaluated */}}"),
                    ),
                    (
                        "matchAny",
                        Tree::List(
                            std::iter::once(Vec::new())
                                .chain(guarded)
                                .map(|terms| Tree::map([("matchFeatures", Tree::List(terms))]))
                                .collect(),
                        ),
                    ),
                ]));
                checks.push(check);
            }
            if !rule.match_any.is_empty()
                && (!rule.vars.is_empty() || !rule.vars_template.is_empty())
            {
                let mut fallback = vec![(
                    "name".to_string(),
                    Tree::str(format!("{} (vars when matchAny fails)", rule.name)),
                )];
                fallback.extend(vars_fields(rule, None));
                if !rule.match_features.is_empty() {
                    fallback.push(("matchFeatures".into(), terms(&rule.match_features)));
                }
                rules.push(Tree::Map(fallback));
            }
            let mut own = vec![("name".to_string(), Tree::str(rule.name.clone()))];
            own.extend(vars_fields(rule, Some(&marker)));
            if !rule.match_features.is_empty() {
                own.push(("matchFeatures".into(), terms(&rule.match_features)));
            }
            if !rule.match_any.is_empty() {
                own.push((
                    "matchAny".into(),
                    Tree::List(
                        rule.match_any
                            .iter()
                            .map(|e| Tree::map([("matchFeatures", terms(&e.match_features))]))
                            .collect(),
                    ),
                ));
            }
            rules.push(Tree::Map(own));
            if !rule.vars_template.is_empty() {
                if let Some(elements) = template_matchers(rule) {
                    template_checks.push((format!("{marker}.template"), rule, elements));
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (var, rule, elements) in &template_checks {
        let set = |value: &str| Tree::map([(var.clone(), Tree::str(value))]);
        rules.push(Tree::map([
            ("name", Tree::str(format!("{} (template check)", rule.name))),
            ("vars", set("ok")),
        ]));
        rules.push(Tree::map([
            ("name", Tree::str(format!("{} (template runs)", rule.name))),
            ("vars", set("pending")),
            ("matchAny", elements.clone()),
        ]));
        rules.push(Tree::map([
            (
                "name",
                Tree::str(format!("{} (template succeeds)", rule.name)),
            ),
            ("vars", set("ok")),
            ("varsTemplate", Tree::str(rule.vars_template.clone())),
            ("matchAny", elements.clone()),
        ]));
    }
    for (set, &index) in sets.iter().zip(&selected) {
        let markers = (0..spec.compatibilities[index].rules.len())
            .map(|r| format!("{marker_prefix}.set{}.rule{}", index + 1, r + 1))
            .chain(checks.iter().cloned());
        let template_ok = template_checks.iter().map(|(var, _, _)| {
            (
                var.clone(),
                Tree::map([
                    ("op", Tree::str("In")),
                    ("value", Tree::List(vec![Tree::str("ok")])),
                ]),
            )
        });
        let required: Vec<(String, Tree)> = markers
            .map(|m| (m, Tree::map([("op", Tree::str("IsTrue"))])))
            .chain(template_ok)
            .collect();
        let mut rule = vec![
            (
                "name".to_string(),
                Tree::str(format!(
                    "compatibility set {}{}",
                    index + 1,
                    if set.tag.is_empty() {
                        String::new()
                    } else {
                        format!(" (tag {})", set.tag)
                    }
                )),
            ),
            (
                "labels".into(),
                Tree::map([(set.label.clone(), Tree::str("true"))]),
            ),
        ];
        if !required.is_empty() {
            rule.push((
                "matchFeatures".into(),
                Tree::List(vec![Tree::map([
                    ("feature", Tree::str(RULE_MATCHED)),
                    ("matchExpressions", Tree::Map(required)),
                ])]),
            ));
        }
        rules.push(Tree::Map(rule));
    }
    let object_name = format!("nodefit-{}", options.name);
    let mut metadata = vec![("name".to_string(), Tree::str(object_name.clone()))];
    let mut annotations = options.annotations.clone();
    if !options.tags.is_empty() {
        annotations.insert(ANNOTATION_TAGS.into(), options.tags.join(","));
    }
    if !annotations.is_empty() {
        metadata.push(("annotations".into(), Tree::strings(&annotations)));
    }
    let node_feature_rule = Tree::map([
        ("apiVersion", Tree::str(API_VERSION)),
        ("kind", Tree::str("NodeFeatureRule")),
        ("metadata", Tree::Map(metadata)),
        ("spec", Tree::map([("rules", Tree::List(rules))])),
    ]);
    Ok(Schedule {
        affinity: affinity(&sets),
        object_name,
        node_feature_rule,
        sets,
    })
}

/// The `vars` (with the marker, for the rule itself) and `varsTemplate` of a rule.
fn vars_fields(rule: &Rule, marker: Option<&str>) -> Vec<(String, Tree)> {
    let mut vars: Vec<(String, Tree)> = rule
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), Tree::str(v.clone())))
        .collect();
    if let Some(m) = marker {
        vars.push((m.to_string(), Tree::str("true")));
    }
    let mut out = Vec::new();
    if !vars.is_empty() {
        out.push(("vars".to_string(), Tree::Map(vars)));
    }
    if !rule.vars_template.is_empty() {
        out.push((
            "varsTemplate".to_string(),
            Tree::str(rule.vars_template.clone()),
        ));
    }
    out
}

fn expr(e: &Expr) -> Tree {
    let mut fields = vec![("op".to_string(), Tree::str(e.op.clone()))];
    if !e.value.is_empty() {
        fields.push((
            "value".into(),
            Tree::List(e.value.iter().map(|v| Tree::str(v.clone())).collect()),
        ));
    }
    if !e.value_type.is_empty() {
        fields.push(("type".into(), Tree::str(e.value_type.clone())));
    }
    Tree::Map(fields)
}

fn term(t: &Term) -> Tree {
    term_with(t, t.match_expressions.as_deref(), true)
}

/// A term with some of its expressions (all, or one), with or without its matchName.
fn term_with(t: &Term, exprs: Option<&[NamedExpr]>, match_name: bool) -> Tree {
    let mut fields = vec![("feature".to_string(), Tree::str(t.feature.clone()))];
    if let Some(exprs) = exprs {
        fields.push((
            "matchExpressions".into(),
            Tree::Map(
                exprs
                    .iter()
                    .filter_map(|n| n.expr.as_ref().map(|e| (n.name.clone(), expr(e))))
                    .collect(),
            ),
        ));
    }
    if let (true, Some(m)) = (match_name, &t.match_name) {
        fields.push(("matchName".into(), expr(m)));
    }
    Tree::Map(fields)
}

fn terms(ts: &[Term]) -> Tree {
    Tree::List(ts.iter().map(term).collect())
}

/// Every matcher whose match makes validate-node expand the rule's template (each matchAny
/// element, and matchFeatures), as matchAny elements; `None` when the template never runs.
fn template_matchers(rule: &Rule) -> Option<Tree> {
    let mut elements: Vec<Tree> = rule
        .match_any
        .iter()
        .map(|e| Tree::map([("matchFeatures", terms(&e.match_features))]))
        .collect();
    if !rule.match_features.is_empty() {
        elements.push(Tree::map([("matchFeatures", terms(&rule.match_features))]));
    }
    (!elements.is_empty()).then_some(Tree::List(elements))
}

/// Whether evaluating the expression can fail with an error on some node: comparisons parse
/// the node's value; and values that do not suit the op fail wherever the expression is
/// evaluated.
fn can_fail(e: &Expr) -> bool {
    match e.op() {
        None => true,
        Some(Op::Any | Op::Exists | Op::DoesNotExist | Op::IsTrue | Op::IsFalse) => {
            !e.value.is_empty()
        }
        Some(Op::In | Op::NotIn) => e.value.is_empty(),
        Some(Op::InRegexp) => e.value.is_empty() || e.regex_errors().next().is_some(),
        Some(Op::Gt | Op::Ge | Op::Lt | Op::Le | Op::GtLt | Op::GeLe) => true,
    }
}

/// The matchAny elements that evaluate, where validate-node would, each expression of the rule
/// that can fail: one expression per element (validate-node evaluates every expression of a
/// term whose feature exists, whatever the others give), and a term's matchName with the term's
/// expressions before it (it is evaluated only when they hold).
fn guard_elements(rule: &Rule, errors: &mut Vec<ScheduleError>) -> Vec<Vec<Tree>> {
    let mut out = Vec::new();
    let matchers = std::iter::once(&rule.match_features)
        .chain(rule.match_any.iter().map(|e| &e.match_features));
    for terms in matchers {
        for (i, t) in terms.iter().enumerate() {
            for named in t.match_expressions.iter().flatten() {
                if named.expr.as_ref().is_some_and(can_fail) {
                    out.push(vec![term_with(t, Some(std::slice::from_ref(named)), false)]);
                }
            }
            let Some(m) = &t.match_name else { continue };
            if !can_fail(m) {
                continue;
            }
            if t.match_expressions.is_none() && i > 0 {
                // validate-node evaluates it only when the flag the term before left is true,
                // and which term set it depends on which features the node has.
                errors.push(refuse(
                    "a matchName that can fail (a comparison of element names) in a term without matchExpressions after another term: whether validate-node evaluates it depends on the terms before it in a way no NodeFeatureRule can express; put this term first",
                    Some(m.span),
                ));
                continue;
            }
            out.push(vec![term_with(t, t.match_expressions.as_deref(), true)]);
        }
    }
    out
}

/// What the rule cannot carry into a NodeFeatureRule that answers as validate-node does.
fn refusals(rule: &Rule, first: bool, marker: &str) -> Vec<ScheduleError> {
    let mut out = Vec::new();
    let publishes_vars = !rule.vars.is_empty() || !rule.vars_template.is_empty();
    for t in rule.terms() {
        for named in t.match_expressions.iter().flatten() {
            match &named.expr {
                None => out.push(refuse(
                    format!("the expression of {:?} is null: validate-node crashes on it and a NodeFeatureRule cannot hold it", named.name),
                    Some(named.name_span),
                )),
                Some(e) => out.extend(crd_op(e)),
            }
        }
        if let Some(m) = &t.match_name {
            out.extend(crd_op(m));
        }
        if t.lookup != RULE_MATCHED {
            continue;
        }
        if !rule.vars_template.is_empty() {
            out.push(refuse(
                "a rule with a varsTemplate that reads rule.matched: whether its template fails is checked after the spec's rules, where rule.matched holds more than it did when validate-node ran it",
                Some(t.feature_span),
            ));
        }
        if t.match_name.is_some() {
            out.push(refuse(
                "a matchName on rule.matched: nfd-master's rule.matched also holds the markers of the generated rules and other NodeFeatureRules' labels and vars, so the names it sees differ from validate-node's",
                Some(t.feature_span),
            ));
        }
        if first {
            out.push(refuse(
                "rule.matched in the first rule: it does not exist yet in validate-node (the term never holds), but in nfd-master other NodeFeatureRules may have created it",
                Some(t.feature_span),
            ));
        }
        if !rule.match_any.is_empty() && publishes_vars {
            let own: BTreeSet<&str> = rule.vars.keys().map(String::as_str).collect();
            let reads_own = !rule.vars_template.is_empty()
                || t.match_expressions
                    .iter()
                    .flatten()
                    .any(|n| own.contains(n.name.as_str()));
            if reads_own {
                out.push(refuse(
                    "a rule with matchAny and vars that reads its own vars from rule.matched: the rule that publishes its vars when matchAny fails runs before it, so it would see them",
                    Some(t.feature_span),
                ));
            }
        }
    }
    if rule.vars.contains_key(marker)
        || rule
            .vars
            .keys()
            .any(|k| k.starts_with(&format!("{marker}.")))
    {
        out.push(refuse(
            format!("the var {marker:?} is the generated rule's marker: rename it or choose another --name"),
            rule.name_span,
        ));
    }
    out
}

/// The CRD accepts only NFD's named ops: not the empty op, nor unknown ones.
fn crd_op(e: &Expr) -> Option<ScheduleError> {
    let known = CRD_OPS.iter().any(|o| o.as_str() == e.op);
    (!known).then(|| {
        let hint = if e.op.is_empty() {
            " (the empty op always holds: drop the expression, or use Exists)"
        } else {
            ""
        };
        refuse(
            format!(
                "op {:?}: the NodeFeatureRule CRD does not accept it{hint}",
                e.op
            ),
            e.spans.op.or(Some(e.span)),
        )
    })
}

fn set_labels(
    spec: &Spec,
    selected: &[usize],
    name: &str,
    errors: &mut Vec<ScheduleError>,
) -> Vec<SetLabel> {
    let weights: Vec<i64> = selected
        .iter()
        .map(|&i| spec.compatibilities[i].weight)
        .collect();
    let preferred = preferred_weights(&weights);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (k, &index) in selected.iter().enumerate() {
        let set = &spec.compatibilities[index];
        let suffix = if set.tag.is_empty() {
            format!("set{}", index + 1)
        } else {
            set.tag.clone()
        };
        let label = format!("{LABEL_NS}/{name}.{suffix}");
        if let Some(problem) = k8s::qualified_name(&label).first() {
            errors.push(refuse(
                format!("the label {label:?} for compatibility set {} is not a valid label name: {problem}", index + 1),
                set.tag_span.or(Some(set.span)),
            ));
        }
        if !set.tag.is_empty() {
            if let Some(other) = seen.insert(&set.tag, index) {
                errors.push(refuse(
                    format!(
                        "compatibility sets {} and {} have the tag {:?}: their labels would be one",
                        other + 1,
                        index + 1,
                        set.tag
                    ),
                    set.tag_span,
                ));
            }
        }
        out.push(SetLabel {
            index,
            tag: set.tag.clone(),
            weight: set.weight,
            label,
            preferred_weight: preferred.as_ref().map(|p| p[k]),
        });
    }
    out
}

/// Spec weights as preferred-scheduling weights: as they are when all lie in 1..100, else
/// mapped linearly onto 1..100 (`1 + round(99 (w − min) / (max − min))`), which keeps their
/// order. `None` when all sets weigh the same: there is nothing to prefer.
pub fn preferred_weights(weights: &[i64]) -> Option<Vec<i64>> {
    let (min, max) = (*weights.iter().min()?, *weights.iter().max()?);
    if min == max {
        return None;
    }
    let (lo, hi) = WEIGHT_RANGE;
    if min >= lo && max <= hi {
        return Some(weights.to_vec());
    }
    let span = (max as i128) - (min as i128);
    Some(
        weights
            .iter()
            .map(|&w| {
                let scaled = ((w as i128 - min as i128) * 99 * 2 + span) / (2 * span);
                1 + scaled as i64
            })
            .collect(),
    )
}

fn requirement(key: &str, operator: &str) -> Tree {
    let mut fields = vec![
        ("key".to_string(), Tree::str(key)),
        ("operator".to_string(), Tree::str(operator)),
    ];
    if operator == "In" {
        fields.push(("values".into(), Tree::List(vec![Tree::str("true")])));
    }
    Tree::Map(fields)
}

/// Required: any set's label. Preferred: each set's weight for the nodes whose best set it is
/// (validate-node's best set: the highest weight, the first among equals), so the scheduler's
/// sum of matching terms equals that one weight instead of adding up every matching set.
fn affinity(sets: &[SetLabel]) -> Tree {
    let required = Tree::map([(
        "nodeSelectorTerms",
        Tree::List(
            sets.iter()
                .map(|s| {
                    Tree::map([(
                        "matchExpressions",
                        Tree::List(vec![requirement(&s.label, "In")]),
                    )])
                })
                .collect(),
        ),
    )]);
    let mut node_affinity = vec![(
        "requiredDuringSchedulingIgnoredDuringExecution".to_string(),
        required,
    )];
    let preferred: Vec<Tree> = sets
        .iter()
        .enumerate()
        .filter_map(|(k, s)| {
            let weight = s.preferred_weight?;
            let better = sets
                .iter()
                .enumerate()
                .filter(|(j, o)| o.weight > s.weight || (o.weight == s.weight && *j < k));
            let requirements = std::iter::once(requirement(&s.label, "In"))
                .chain(better.map(|(_, o)| requirement(&o.label, "DoesNotExist")))
                .collect();
            Some(Tree::map([
                ("weight", Tree::Int(weight)),
                (
                    "preference",
                    Tree::map([("matchExpressions", Tree::List(requirements))]),
                ),
            ]))
        })
        .collect();
    if !preferred.is_empty() {
        node_affinity.push((
            "preferredDuringSchedulingIgnoredDuringExecution".into(),
            Tree::List(preferred),
        ));
    }
    Tree::map([(
        "affinity",
        Tree::map([("nodeAffinity", Tree::Map(node_affinity))]),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_keep_their_order_within_kubernetes_range() {
        assert_eq!(preferred_weights(&[10, 1]), Some(vec![10, 1]));
        assert_eq!(preferred_weights(&[5, 5]), None);
        assert_eq!(preferred_weights(&[0, 1000, 500]), Some(vec![1, 100, 51]));
        assert_eq!(preferred_weights(&[-3, 0]), Some(vec![1, 100]));
        assert_eq!(
            preferred_weights(&[i64::MIN, i64::MAX, 0]),
            Some(vec![1, 100, 51])
        );
    }

    #[test]
    fn names_are_suggested_from_any_text() {
        assert_eq!(suggest_name("My App_v2"), "my-app-v2");
        assert_eq!(suggest_name("gpu.spec"), "gpu.spec");
        assert_eq!(suggest_name("-x-"), "x");
        assert_eq!(suggest_name(&"a".repeat(60)).len(), 40);
        assert!(check_name(&suggest_name("Ünïcode / spaces")).is_ok());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("gpu-app").is_ok());
        for bad in ["", "GPU", "a_b", "-a", &"x".repeat(41)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
