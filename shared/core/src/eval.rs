//! Evaluation exactly as NFD's `nfd compat validate-node` does it: `ExecuteGroupRule(rule,
//! features, failFast=false)` for every rule of every selected compatibility set, with
//! `rule.matched` carrying `vars` forward across rules and sets.
//!
//! Every quirk of NFD's matcher is reproduced on purpose (see docs/nfd-compatibility.md):
//! case-folded feature lookup, union of flag and attribute sides, any-instance semantics,
//! null versus empty elements, matchName only after the expressions pass, the stale per-term
//! flag, errors only where a value is actually compared, and vars published by a rule whose
//! matchAny failed.

use std::collections::BTreeMap;

use crate::budget::{self, Interrupt, Limit};
use crate::features::{Features, Instance, NameMap, NameSet, Text};
use crate::source::Span;
use crate::spec::{Expr, NamedExpr, Op, Rule, Spec, Term};
use crate::template::{self, Data, Meter, Template};
use crate::{gostr, version};

/// The attribute feature through which rules publish `vars` to later rules.
pub const RULE_MATCHED: &str = "rule.matched";

/// An error that makes NFD abort the whole validation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    pub message: String,
    /// Where in the spec: the expression, template or term at fault.
    pub span: Span,
    /// Compatibility set index and rule name, for messages.
    pub set: usize,
    pub rule: String,
    /// Set when evaluation went over one of nodefit's budgets (NFD would have gone on).
    pub budget: Option<&'static Limit>,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// NFD's `--tags`: when non-empty, only sets whose tag is listed are evaluated.
    pub tags: Vec<String>,
    /// Polled between rules and during template execution; when raised, evaluation fails with
    /// [`budget::INTERRUPTED`].
    pub interrupt: Interrupt,
}

/// The outcome of one run.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub sets: Vec<SetOutcome>,
}

#[derive(Clone, Debug)]
pub struct SetOutcome {
    /// Index of the set in the spec.
    pub index: usize,
    pub rules: Vec<RuleOutcome>,
}

impl SetOutcome {
    /// All rules matched (vacuously true for a set without rules, as in NFD's matcher).
    pub fn is_match(&self) -> bool {
        self.rules.iter().all(|r| r.is_match)
    }
}

impl Evaluation {
    /// Compatible when at least one evaluated set has all its rules matched.
    pub fn is_compatible(&self) -> bool {
        self.sets.iter().any(SetOutcome::is_match)
    }

    /// The matched set with the highest weight (the first one among equals).
    pub fn best_set(&self, spec: &Spec) -> Option<usize> {
        self.sets
            .iter()
            .filter(|s| s.is_match())
            .map(|s| s.index)
            .fold(None, |best: Option<usize>, i| match best {
                Some(b) if spec.compatibilities[b].weight >= spec.compatibilities[i].weight => {
                    Some(b)
                }
                _ => Some(i),
            })
    }
}

#[derive(Clone, Debug, Default)]
pub struct RuleOutcome {
    pub is_match: bool,
    /// What the rule published to `rule.matched`.
    pub vars: BTreeMap<String, String>,
    pub match_features: MatcherOutcome,
    pub match_any: Vec<MatcherOutcome>,
    /// `rule.matched` as this rule saw it, when the rule reads it (for reporting actual values).
    pub rule_matched_seen: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Default)]
pub struct MatcherOutcome {
    pub is_match: bool,
    pub terms: Vec<TermOutcome>,
}

#[derive(Clone, Debug, Default)]
pub struct TermOutcome {
    /// The feature exists on the node (in any of the three maps).
    pub exists: bool,
    /// The term's result as NFD's matcher holds it after the term (including the stale flag).
    pub is_match: bool,
    /// Per `matchExpressions` entry, in spec order: whether it held (on the flag or attribute
    /// side, or on any instance).
    pub expressions: Vec<bool>,
    /// Whether `matchName` held; `None` without a matchName.
    pub match_name: Option<bool>,
    /// False when NFD skipped the matchName (the term had already failed); the result above is
    /// then what it would have given.
    pub match_name_evaluated: bool,
}

/// The feature view of a run: the snapshot plus the `rule.matched` attribute set the rules
/// build up, without copying the snapshot.
struct View<'a> {
    features: &'a Features,
    rule_matched: Option<NameMap<Text>>,
}

struct Sides<'a> {
    flags: Option<&'a NameSet>,
    attributes: Option<&'a NameMap<Text>>,
    instances: Option<&'a [Instance]>,
}

impl<'a> View<'a> {
    fn new(features: &'a Features) -> View<'a> {
        let rule_matched = features
            .attributes
            .get(RULE_MATCHED)
            .map(|a| a.elements.clone().unwrap_or_default());
        View {
            features,
            rule_matched,
        }
    }

    /// The feature's three sides, or `None` when the feature is absent from all three maps
    /// (a set with null elements still counts as present).
    fn sides(&self, name: &str) -> Option<Sides<'_>> {
        let f = self.features;
        let flags = f.flags.get(name);
        let attributes = if name == RULE_MATCHED && self.rule_matched.is_some() {
            Some(self.rule_matched.as_ref())
        } else {
            f.attributes.get(name).map(|a| a.elements.as_ref())
        };
        let instances = f.instances.get(name);
        if flags.is_none() && attributes.is_none() && instances.is_none() {
            return None;
        }
        Some(Sides {
            flags: flags.and_then(|s| s.elements.as_ref()),
            attributes: attributes.flatten(),
            instances: instances.and_then(|s| s.elements.as_deref()),
        })
    }
}

/// Runs the spec against one node, as `nfd compat validate-node` does.
pub fn evaluate(
    spec: &Spec,
    features: &Features,
    options: &Options,
) -> Result<Evaluation, EvalError> {
    let mut view = View::new(features);
    let mut meter = Meter::new(&options.interrupt);
    let mut sets = Vec::new();
    for (index, set) in spec.compatibilities.iter().enumerate() {
        if !options.tags.is_empty() && !options.tags.contains(&set.tag) {
            continue;
        }
        let mut rules = Vec::with_capacity(set.rules.len());
        for rule in &set.rules {
            let failed = |e: RuleError| EvalError {
                message: format!(
                    "compatibility set #{index}, rule {:?}: {}",
                    rule.name, e.message
                ),
                span: e.span,
                set: index,
                rule: rule.name.clone(),
                budget: e.budget,
            };
            if options.interrupt.is_raised() {
                return Err(failed((budget::INTERRUPTED.to_string(), rule.span).into()));
            }
            let mut outcome = execute_rule(rule, &view, &mut meter).map_err(failed)?;
            if rule.terms().any(|t| t.lookup == RULE_MATCHED) {
                outcome.rule_matched_seen = view.rule_matched.as_ref().map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                });
            }
            view.rule_matched
                .get_or_insert_with(NameMap::default)
                .extend(outcome.vars.iter().map(|(k, v)| (k.into(), v.into())));
            rules.push(outcome);
        }
        sets.push(SetOutcome { index, rules });
    }
    Ok(Evaluation { sets })
}

struct RuleError {
    message: String,
    span: Span,
    budget: Option<&'static Limit>,
}

impl From<(String, Span)> for RuleError {
    fn from((message, span): (String, Span)) -> RuleError {
        RuleError {
            message,
            span,
            budget: None,
        }
    }
}

/// NFD's `ExecuteGroupRule(rule, features, failFast=false)`.
fn execute_rule(rule: &Rule, view: &View, meter: &mut Meter) -> Result<RuleOutcome, RuleError> {
    let templated = !rule.vars_template.is_empty();
    let mut vars = BTreeMap::new();
    let mut any_matched = false;
    let mut match_any = Vec::with_capacity(rule.match_any.len());
    for elem in &rule.match_any {
        let (outcome, data) = evaluate_matcher(&elem.match_features, view, templated)?;
        if outcome.is_match {
            any_matched = true;
            if templated {
                vars.extend(expand_template(rule, &data, meter)?);
            }
        }
        match_any.push(outcome);
    }
    let mut match_features = MatcherOutcome {
        is_match: true,
        terms: Vec::new(),
    };
    if !rule.match_features.is_empty() {
        let (outcome, data) = evaluate_matcher(&rule.match_features, view, templated)?;
        match_features = outcome;
        if !match_features.is_match {
            return Ok(RuleOutcome {
                is_match: false,
                vars: BTreeMap::new(),
                match_features,
                match_any,
                rule_matched_seen: None,
            });
        }
        if templated {
            vars.extend(expand_template(rule, &data, meter)?);
        }
    }
    let is_match = rule.match_any.is_empty() || any_matched;
    vars.extend(rule.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(RuleOutcome {
        is_match,
        vars,
        match_features,
        match_any,
        rule_matched_seen: None,
    })
}

fn expand_template(
    rule: &Rule,
    data: &BTreeMap<String, BTreeMap<String, Vec<Data>>>,
    meter: &mut Meter,
) -> Result<BTreeMap<String, String>, RuleError> {
    let at = |e: template::TemplateError| RuleError {
        budget: match e {
            template::TemplateError::OverBudget(limit) => Some(limit),
            _ => None,
        },
        message: format!("varsTemplate: {e}"),
        span: rule.vars_template_span,
    };
    let tpl = Template::parse(&rule.vars_template).map_err(at)?;
    let data = Data::Map(
        data.iter()
            .map(|(domain, features)| {
                let features = features
                    .iter()
                    .map(|(f, elems)| (f.clone(), Data::List(elems.clone())))
                    .collect();
                (domain.clone(), Data::Map(features))
            })
            .collect(),
    );
    let expanded = tpl.execute(&data, meter).map_err(at)?;
    template::parse_vars(&expanded).map_err(at)
}

type TemplateData = BTreeMap<String, BTreeMap<String, Vec<Data>>>;

/// NFD's `evaluateFeatureMatcher` with failFast=false: an AND over the terms.
fn evaluate_matcher(
    terms: &[Term],
    view: &View,
    collect: bool,
) -> Result<(MatcherOutcome, TemplateData), RuleError> {
    let mut is_match = true;
    // Declared outside the loop in NFD: a term without matchExpressions inherits it.
    let mut is_term_match = true;
    let mut outcomes = Vec::with_capacity(terms.len());
    let mut data = TemplateData::new();
    for term in terms {
        let mut out = TermOutcome::default();
        let Some(sides) = view.sides(&term.lookup) else {
            is_match = false;
            out.expressions = vec![false; term.match_expressions.as_ref().map_or(0, Vec::len)];
            out.match_name = term.match_name.as_ref().map(|_| false);
            outcomes.push(out);
            continue;
        };
        out.exists = true;
        let mut elements = Vec::new();
        if let Some(exprs) = &term.match_expressions {
            let (ok, matched) = match_multi(exprs, &sides, collect.then_some(&mut elements))
                .map_err(|(m, span)| (format!("feature {:?}: {m}", term.feature), span))?;
            is_term_match = ok;
            out.expressions = matched;
        }
        if let Some(name_expr) = &term.match_name {
            if is_term_match {
                is_term_match = match_names(name_expr, &sides, collect.then_some(&mut elements))
                    .map_err(|m| {
                        (
                            format!("feature {:?}: matchName: {m}", term.feature),
                            name_expr.span,
                        )
                    })?;
                out.match_name = Some(is_term_match);
                out.match_name_evaluated = true;
            } else {
                out.match_name = Some(match_names(name_expr, &sides, None).unwrap_or(false));
            }
        }
        out.is_match = is_term_match;
        if !is_term_match {
            is_match = false;
        }
        if collect {
            let (domain, feature) = match term.feature.split_once('.') {
                Some((d, f)) => (d.to_string(), f.to_string()),
                None => (term.lookup.clone(), String::new()),
            };
            data.entry(domain)
                .or_default()
                .entry(feature)
                .or_default()
                .extend(elements);
        }
        outcomes.push(out);
    }
    Ok((
        MatcherOutcome {
            is_match,
            terms: outcomes,
        },
        data,
    ))
}

fn element(name: &str, value: Option<&str>) -> Data {
    let mut m = BTreeMap::from([("Name".to_string(), Data::Str(name.to_string()))]);
    if let Some(v) = value {
        m.insert("Value".to_string(), Data::Str(v.to_string()));
    }
    Data::Map(m)
}

type ExprError = (String, Span);

/// NFD's `MatchMulti`: each expression may hold on the flag side or the attribute side
/// (`DoesNotExist` must hold on both); instances are a separate OR.
fn match_multi(
    exprs: &[NamedExpr],
    sides: &Sides,
    mut elements: Option<&mut Vec<Data>>,
) -> Result<(bool, Vec<bool>), ExprError> {
    let (flags, attrs) = (sides.flags, sides.attributes);
    let mut kv_ok = flags.is_some() || attrs.is_some();
    let mut matched = vec![false; exprs.len()];
    let mut kv_elements = Vec::new();
    let has_instances = sides.instances.is_some_and(|i| !i.is_empty());
    for (i, named) in exprs.iter().enumerate() {
        let name = named.name.as_str();
        let Some(expr) = &named.expr else {
            if kv_ok || has_instances {
                return Err((format!("element {name:?}: the expression is null (NFD dereferences a nil pointer here and crashes)"), named.name_span));
            }
            continue;
        };
        let ctx = |m: String| (format!("element {name:?}: {m}"), expr.span);
        let on_flags = match flags {
            Some(f) => eval(expr, f.contains(name), None).map_err(ctx)?,
            None => false,
        };
        if flags.is_some() && !on_flags && expr.op() == Some(Op::DoesNotExist) {
            kv_ok = false;
            continue;
        }
        let value = attrs.and_then(|a| a.get(name)).map(Text::as_str);
        let on_attrs = match attrs {
            Some(_) => eval(expr, value.is_some(), value).map_err(ctx)?,
            None => false,
        };
        if attrs.is_some() && !on_attrs && expr.op() == Some(Op::DoesNotExist) {
            kv_ok = false;
            continue;
        }
        if !on_flags && !on_attrs {
            kv_ok = false;
            continue;
        }
        matched[i] = true;
        if elements.is_some() {
            kv_elements.push(if attrs.is_some() && !on_flags {
                element(name, Some(value.unwrap_or_default()))
            } else {
                element(name, None)
            });
        }
    }
    if kv_ok {
        if let Some(out) = elements.as_deref_mut() {
            out.append(&mut kv_elements);
        }
    }
    let mut instances_ok = false;
    let empty = NameMap::default();
    for instance in sides.instances.unwrap_or_default() {
        let attrs = instance.attributes.as_ref().unwrap_or(&empty);
        let mut all = true;
        for (i, named) in exprs.iter().enumerate() {
            let name = named.name.as_str();
            let Some(expr) = &named.expr else {
                return Err((format!("element {name:?}: the expression is null (NFD dereferences a nil pointer here and crashes)"), named.name_span));
            };
            let value = attrs.get(name).map(Text::as_str);
            let held = eval(expr, value.is_some(), value)
                .map_err(|m| (format!("element {name:?}: {m}"), expr.span))?;
            matched[i] |= held;
            all &= held;
        }
        if all {
            instances_ok = true;
            if let Some(out) = elements.as_deref_mut() {
                out.push(Data::Map(
                    attrs
                        .iter()
                        .map(|(k, v)| (k.to_string(), Data::Str(v.to_string())))
                        .collect(),
                ));
            }
        }
    }
    Ok((kv_ok || instances_ok, matched))
}

/// NFD's `MatchNamesMulti`: the expression against every flag name, attribute key and
/// instance attribute key; true if any holds. Every name is evaluated, so errors surface.
///
/// Go walks its maps in random order; nodefit reports the error of the first failing name in
/// sorted order and hands matched elements to templates sorted, so answers are repeatable. The
/// sort is paid only on an error or when a template needs the elements.
fn match_names(
    expr: &Expr,
    sides: &Sides,
    elements: Option<&mut Vec<Data>>,
) -> Result<bool, String> {
    let mut names: Vec<(&str, Option<&str>)> = Vec::new();
    names.extend(
        sides
            .flags
            .into_iter()
            .flatten()
            .map(|n| (n.as_str(), None)),
    );
    names.extend(
        sides
            .attributes
            .into_iter()
            .flatten()
            .map(|(n, v)| (n.as_str(), Some(v.as_str()))),
    );
    for instance in sides.instances.unwrap_or_default() {
        names.extend(
            instance
                .attributes
                .iter()
                .flatten()
                .map(|(n, _)| (n.as_str(), None)),
        );
    }
    let held: Result<Vec<bool>, String> = names
        .iter()
        .map(|(name, _)| eval(expr, true, Some(name)))
        .collect();
    let held = match held {
        Ok(held) => held,
        Err(first) => {
            names.sort_by_key(|(name, _)| *name);
            let first_sorted = names
                .iter()
                .find_map(|(name, _)| eval(expr, true, Some(name)).err());
            return Err(first_sorted.unwrap_or(first));
        }
    };
    let any = held.iter().any(|h| *h);
    if let Some(out) = elements {
        let mut matched: Vec<(&str, Option<&str>)> = names
            .iter()
            .zip(&held)
            .filter(|(_, h)| **h)
            .map(|(n, _)| *n)
            .collect();
        matched.sort_by_key(|(name, _)| *name);
        out.extend(
            matched
                .into_iter()
                .map(|(name, value)| element(name, value)),
        );
    }
    Ok(any)
}

/// Whether `expr` holds for one element's value (`None`: the element is absent), as NFD
/// decides it for each instance of an instance feature. The matcher only says whether any
/// instance held all of a term's expressions; this lets an editor show which instance matched
/// and which expression failed on the others.
pub fn holds(expr: &Expr, value: Option<&str>) -> Result<bool, String> {
    eval(expr, value.is_some(), value)
}

/// NFD's `evaluateMatchExpression(expr, valid, value)`; `value` is `None` for flags.
pub(crate) fn eval(expr: &Expr, valid: bool, value: Option<&str>) -> Result<bool, String> {
    let Some(op) = expr.op() else {
        return Err(format!("invalid Op {:?}", expr.op));
    };
    let values = &expr.value;
    if matches!(op, Op::Any | Op::Exists | Op::DoesNotExist) {
        if !values.is_empty() {
            return Err(format!(
                "invalid expression, 'value' field must be empty for Op {:?} (have {:?})",
                expr.op, values
            ));
        }
        return Ok(match op {
            Op::Any => true,
            Op::Exists => valid,
            _ => !valid,
        });
    }
    let Some(input) = value.filter(|_| valid) else {
        return Ok(false);
    };
    let non_empty = || {
        if values.is_empty() {
            Err(format!(
                "invalid expression, 'value' field must be non-empty for Op {:?}",
                expr.op
            ))
        } else {
            Ok(())
        }
    };
    match op {
        Op::In => {
            non_empty()?;
            Ok(values.iter().any(|v| v == input))
        }
        Op::NotIn => {
            non_empty()?;
            Ok(!values.iter().any(|v| v == input))
        }
        Op::InRegexp => {
            non_empty()?;
            // Go compiles every pattern before matching any.
            match expr.regex_errors().next() {
                None => Ok(expr.parsed.regexes.iter().flatten().any(|r| r.is_match(input))),
                Some((_, e)) => Err(format!(
                    "invalid expressiom, 'value' field must only contain valid regexps for Op {:?} (have {:?}): {e}",
                    expr.op, values
                )),
            }
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le | Op::GtLt | Op::GeLe => compare(expr, op, input),
        Op::IsTrue | Op::IsFalse => {
            if !values.is_empty() {
                return Err(format!(
                    "invalid expression, 'value' field must be empty for Op {:?} (have {:?})",
                    expr.op, values
                ));
            }
            Ok(input == if op == Op::IsTrue { "true" } else { "false" })
        }
        Op::Any | Op::Exists | Op::DoesNotExist => unreachable!("handled above"),
    }
}

fn compare(expr: &Expr, op: Op, input: &str) -> Result<bool, String> {
    let values = &expr.value;
    let want = if matches!(op, Op::GtLt | Op::GeLe) {
        2
    } else {
        1
    };
    if values.len() != want {
        return Err(if want == 1 {
            format!("invalid expression, 'value' field must contain exactly one element for Op {:?} (have {:?})", expr.op, values)
        } else {
            format!("invalid expression, value' field must contain exactly two elements for Op {:?} (have {:?})", expr.op, values)
        });
    }
    let in_expr = |v: &str, what: &str| format!("not a {what} {v:?} in {expr}");
    match expr.value_type.as_str() {
        "" => {
            let n = gostr::atoi(input).ok_or_else(|| format!("not a number {input:?}"))?;
            let bounds: Vec<i64> = values
                .iter()
                .zip(&expr.parsed.ints)
                .map(|(v, parsed)| parsed.ok_or_else(|| in_expr(v, "number")))
                .collect::<Result<_, _>>()?;
            Ok(match op {
                Op::Gt => n > bounds[0],
                Op::Ge => n >= bounds[0],
                Op::Lt => n < bounds[0],
                Op::Le => n <= bounds[0],
                _ => {
                    if bounds[0] >= bounds[1] {
                        return Err(format!(
                            "invalid expression, value[0] must be less than Value[1] for Op {:?} (have {:?})",
                            expr.op, values
                        ));
                    }
                    if op == Op::GtLt {
                        n > bounds[0] && n < bounds[1]
                    } else {
                        n >= bounds[0] && n <= bounds[1]
                    }
                }
            })
        }
        "version" => {
            let v = version::parse(input).ok_or_else(|| format!("not a version {input:?}"))?;
            let bounds: Vec<version::Version> = values
                .iter()
                .zip(&expr.parsed.versions)
                .map(|(s, parsed)| parsed.ok_or_else(|| in_expr(s, "version")))
                .collect::<Result<_, _>>()?;
            Ok(match op {
                Op::Gt => v > bounds[0],
                Op::Ge => v >= bounds[0],
                Op::Lt => v < bounds[0],
                Op::Le => v <= bounds[0],
                Op::GtLt => v > bounds[0] && v < bounds[1],
                _ => v >= bounds[0] && v <= bounds[1],
            })
        }
        other => Err(format!(
            "invalid expression, 'type' field only accepts \"version\" value for Op {:?} (have {other:?})",
            expr.op
        )),
    }
}
