//! What nfd-master does with NodeFeatureRules for one node (`processNodeFeatureRule` and the
//! filters of `refreshNodeFeatures` in `pkg/nfd-master/nfd-master.go`):
//!
//! 1. objects in the order of their names, each object's rules in order, every rule run by
//!    `nodefeaturerule.Execute(rule, features, failFast=true)`;
//! 2. a rule that fails with an error is logged and skipped; the others' labels, extended
//!    resources and annotations get the default namespace when they have none, are merged (a
//!    later rule wins a key) and their labels (as written) and vars are fed back into the
//!    `rule.matched` feature for the rules after them, across objects; taints accumulate;
//! 3. then every label is checked (dynamic `@domain.feature.element` values resolved, the name
//!    and value validated, denied namespaces, the label whitelist), and so are extended resources
//!    (names, quantities), annotations and taints; what fails is logged and dropped.
//!
//! Where NFD's Go walks a map in random order (the expressions of a term), nodefit walks the
//! spec's order; docs/nfd-compatibility.md says what that changes.

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use super::{Entry, NfrRule, NodeFeatureRule};
use crate::budget::{self, Interrupt, Limit};
use crate::eval::{
    self, element, element_name, instance_element, match_names, template_input, Sides,
    TemplateData, View, RULE_MATCHED,
};
use crate::features::{Features, Hasher, NameMap, Text};
use crate::goregex::{self, Regex};
use crate::k8s;
use crate::source::Span;
use crate::spec::{NamedExpr, Op, Term};
use crate::template::{self, Data, Meter, Template, TemplateError};

/// The namespace nfd-master gives unprefixed labels, extended resources and annotations, and
/// the one of its allowed `kubernetes.io` namespaces.
pub const FEATURE_NS: &str = "feature.node.kubernetes.io";
/// The other `kubernetes.io` namespace labels may use.
pub const PROFILE_NS: &str = "profile.node.kubernetes.io";
/// Longest annotation value nfd-master writes (`FeatureAnnotationValueSizeLimit`).
pub const ANNOTATION_VALUE_MAX: usize = 1 << 10;

/// nfd-master's settings that decide what reaches the node (its flags and config file).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `-deny-label-ns`: namespaces (`*.example.com` for a domain and its subdomains) whose
    /// labels are dropped.
    pub deny_label_ns: Vec<String>,
    /// `-extra-label-ns`: namespaces allowed even when denied (also `kubernetes.io` ones).
    pub extra_label_ns: Vec<String>,
    /// `-label-whitelist`: a Go regexp the name part of every label must match.
    pub label_whitelist: Option<(String, Regex)>,
    /// `-enable-taints`: taints are applied only with it.
    pub enable_taints: bool,
}

impl Settings {
    /// Settings with the whitelist compiled as Go would (and within the pattern budgets).
    pub fn new(
        deny_label_ns: Vec<String>,
        extra_label_ns: Vec<String>,
        label_whitelist: Option<&str>,
        enable_taints: bool,
    ) -> Result<Settings, String> {
        let label_whitelist = match label_whitelist {
            Some(p) => Some((
                p.to_string(),
                goregex::compile(p)
                    .map_err(|e| format!("the label whitelist {p:?}: {}", e.message))?,
            )),
            None => None,
        };
        Ok(Settings {
            deny_label_ns,
            extra_label_ns,
            label_whitelist,
            enable_taints,
        })
    }

    fn is_denied(&self, ns: &str) -> bool {
        self.deny_label_ns
            .iter()
            .any(|d| match d.strip_prefix('*') {
                Some(_) => ns.ends_with(d.trim_start_matches('*')),
                None => ns == d,
            })
    }
}

/// Objects ready to run on many nodes: sorted as nfd-master sorts them, templates parsed once.
pub struct Ruleset<'a> {
    objects: Vec<&'a NodeFeatureRule>,
    templates: Vec<Vec<Templates>>,
    names: Vec<(Name, Vec<Name>)>,
    /// Per rule, in processing order: whether anything after it reads `rule.matched` (a later
    /// rule's term, or a dynamic `@rule.matched.…` value, read after all rules). Feeding the
    /// outputs of the other rules back is work nothing can observe.
    feeds_back: Vec<Vec<bool>>,
    /// The `rule.matched` elements anything reads; only these are fed back.
    back_refs: BackRefs,
}

/// What of `rule.matched` can be observed: the elements named by `matchExpressions` and by
/// dynamic values, or all of them when a `matchName` runs over their names or a
/// `labelsTemplate` may write a dynamic value (`@...`, resolved after all rules, whatever
/// element it names). Every rule sets labels (a hundred per node for the cpuid rule) that no
/// later rule reads by name.
enum BackRefs {
    All,
    Named(HashSet<String, Hasher>),
}

impl BackRefs {
    fn of<'r>(rules: impl Iterator<Item = &'r NfrRule>) -> BackRefs {
        let mut named = HashSet::default();
        for rule in rules {
            if writes_dynamic_values(rule) {
                return BackRefs::All;
            }
            for term in rule.rule.terms().filter(|t| t.lookup == RULE_MATCHED) {
                if term.match_name.is_some() {
                    return BackRefs::All;
                }
                named.extend(
                    term.match_expressions
                        .iter()
                        .flatten()
                        .map(|e| e.name.clone()),
                );
            }
            let dynamic = rule.labels.iter().chain(&rule.extended_resources);
            named.extend(dynamic.filter_map(|e| {
                let (feature, element) = dynamic_parts(&e.value)?;
                (feature == RULE_MATCHED).then(|| element.to_string())
            }));
        }
        BackRefs::Named(named)
    }

    fn read(&self, key: &str) -> bool {
        match self {
            BackRefs::All => true,
            BackRefs::Named(keys) => keys.contains(key),
        }
    }
}

/// Whether a rule's `labelsTemplate` may write a dynamic label value: one that names a
/// feature element only once expanded, so what it reads is not known before.
fn writes_dynamic_values(rule: &NfrRule) -> bool {
    rule.labels_template.contains('@')
}

struct Templates {
    labels: Option<Result<Template, TemplateError>>,
    vars: Option<Result<Template, TemplateError>>,
}

fn parse_template(src: &str) -> Option<Result<Template, TemplateError>> {
    (!src.is_empty()).then(|| Template::parse(src))
}

impl<'a> Ruleset<'a> {
    pub fn new(objects: &'a [NodeFeatureRule]) -> Ruleset<'a> {
        let mut objects: Vec<&NodeFeatureRule> = objects.iter().collect();
        // sort.Slice by name; equal names cannot both exist in a cluster (lint says so).
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        let templates = objects
            .iter()
            .map(|o| {
                o.rules
                    .iter()
                    .map(|r| Templates {
                        labels: parse_template(&r.labels_template),
                        vars: parse_template(&r.rule.vars_template),
                    })
                    .collect()
            })
            .collect();
        let names = objects
            .iter()
            .map(|o| {
                let rules = o
                    .rules
                    .iter()
                    .map(|r| Name::from(r.rule.name.as_str()))
                    .collect();
                (Name::from(o.name.as_str()), rules)
            })
            .collect();
        let reads = |r: &NfrRule| r.rule.terms().any(|t| t.lookup == RULE_MATCHED);
        let dynamic = |e: &Entry| e.value.starts_with(&format!("@{RULE_MATCHED}."));
        let read_at_end = objects.iter().flat_map(|o| &o.rules).any(|r| {
            writes_dynamic_values(r) || r.labels.iter().chain(&r.extended_resources).any(dynamic)
        });
        let flat: Vec<bool> = objects.iter().flat_map(|o| &o.rules).map(reads).collect();
        let mut later = read_at_end;
        let mut feeds: Vec<bool> = vec![false; flat.len()];
        for i in (0..flat.len()).rev() {
            feeds[i] = later;
            later |= flat[i];
        }
        let mut feeds = feeds.into_iter();
        let feeds_back = objects
            .iter()
            .map(|o| {
                o.rules
                    .iter()
                    .map(|_| feeds.next().unwrap_or(true))
                    .collect()
            })
            .collect();
        let back_refs = BackRefs::of(objects.iter().flat_map(|o| &o.rules));
        Ruleset {
            objects,
            templates,
            names,
            feeds_back,
            back_refs,
        }
    }

    /// The objects in processing order.
    pub fn objects(&self) -> &[&'a NodeFeatureRule] {
        &self.objects
    }

    /// The features processing reads as the rules are written: every term's, and those that
    /// dynamic values in `labels` and `extendedResources` name. Nodes that agree on these get
    /// the same result, unless a template writes a dynamic value naming another feature (the
    /// result's `dynamic_reads` then names it).
    pub fn names_read(&self) -> BTreeSet<&str> {
        let rules = || self.objects.iter().flat_map(|o| &o.rules);
        let terms = rules()
            .flat_map(|r| r.rule.terms())
            .map(|t| t.lookup.as_str());
        let dynamic = rules()
            .flat_map(|r| r.labels.iter().chain(&r.extended_resources))
            .filter_map(|e| dynamic_parts(&e.value).map(|(feature, _)| feature));
        terms.chain(dynamic).collect()
    }
}

/// A dynamic value `@domain.feature.element` as the feature it names (`domain.feature`) and
/// the element; `None` when it is not of that form.
fn dynamic_parts(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix('@')?;
    let mut dots = rest.match_indices('.').map(|(i, _)| i);
    let (_, end) = (dots.next()?, dots.next()?);
    Some((&rest[..end], &rest[end + 1..]))
}

/// What nodefit could not finish for a node (NFD would have gone on): a budget, an interrupt,
/// or a template construct nodefit does not evaluate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("NodeFeatureRule {object:?}, rule {rule:?}: {message}")]
pub struct ProcessError {
    pub object: Name,
    pub rule: Name,
    pub message: String,
    pub span: Span,
    pub budget: Option<&'static Limit>,
}

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Say why each rule that did not match failed (costs text per rule and node).
    pub explain: bool,
    pub interrupt: Interrupt,
}

/// An object's or rule's name in results: shared, since every label a rule sets names it.
pub type Name = std::sync::Arc<str>;

/// Labels, annotations and extended resources as they would be on the node, and the rule that
/// set each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Produced {
    pub key: String,
    pub value: String,
    pub object: Name,
    pub rule: Name,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducedTaint {
    pub key: String,
    pub value: String,
    pub effect: String,
    pub object: Name,
    pub rule: Name,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OutputKind {
    Label,
    Annotation,
    ExtendedResource,
    Taint,
}

/// Something a rule produced that nfd-master drops, with what it logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    pub kind: OutputKind,
    pub key: String,
    pub value: String,
    pub object: Name,
    pub rule: Name,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleStatus {
    Matched,
    NotMatched,
    /// nfd-master logs `failed to process rule` and skips it.
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReport {
    pub object: Name,
    pub rule: Name,
    pub status: RuleStatus,
    /// Why it did not match: where each matcher stopped (with `explain`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything NFD would do to one node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeResult {
    pub labels: Vec<Produced>,
    pub annotations: Vec<Produced>,
    pub extended_resources: Vec<Produced>,
    pub taints: Vec<ProducedTaint>,
    /// Taints the rules produce that nfd-master sets only with -enable-taints (not an error:
    /// it just does not apply them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taints_not_enabled: Vec<ProducedTaint>,
    pub rejected: Vec<Rejected>,
    pub rules: Vec<RuleReport>,
    /// Features that dynamic values read, named by a value a template wrote as well as by
    /// those written in the file (see [`Ruleset::names_read`]).
    #[serde(skip)]
    pub dynamic_reads: BTreeSet<String>,
}

impl NodeResult {
    /// Whether every feature this result's dynamic values read is among `names`: then the
    /// result, worked out on any node's features projected on `names` (a group of
    /// `Fleet::group_by`), is that of every node agreeing on them.
    pub fn reads_only(&self, names: &BTreeSet<&str>) -> bool {
        self.dynamic_reads
            .iter()
            .all(|n| names.contains(n.as_str()))
    }

    /// Whether nfd-master would log an error for this node (a rule failed, or something it
    /// produced was dropped).
    pub fn has_errors(&self) -> bool {
        !self.rejected.is_empty() || self.rules.iter().any(|r| r.status == RuleStatus::Error)
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.key == key)
            .map(|l| l.value.as_str())
    }
}

/// One rule's outcome inside processing.
enum Outcome {
    Matched(Output),
    NotMatched(Vec<String>),
}

/// A rule's `RuleOutput`, as the pairs in the order its Go maps are written: of pairs with
/// the same key the last is the map's entry, and everything that reads these keeps the last.
/// A map per rule and node would cost more than all the rest (hashing ~100 keys per node).
struct Output {
    labels: Vec<(String, String)>,
    vars: Vec<(String, String)>,
}

/// Why a rule stopped: an error NFD logs for the rule, or one that stops nodefit.
enum Stop {
    Rule(String),
    Fatal(String, Span, Option<&'static Limit>),
}

impl From<String> for Stop {
    fn from(message: String) -> Stop {
        Stop::Rule(message)
    }
}

fn template_stop(field: &str, e: TemplateError, span: Span) -> Stop {
    match e {
        TemplateError::OverBudget(limit) => {
            Stop::Fatal(format!("{field}: {}", limit.exceeded()), span, Some(limit))
        }
        TemplateError::Interrupted => Stop::Fatal(budget::INTERRUPTED.to_string(), span, None),
        e @ TemplateError::Unsupported(_) => Stop::Fatal(
            format!("{field}: {e}: nodefit cannot tell what NFD makes of this rule"),
            span,
            None,
        ),
        TemplateError::Syntax(m) => Stop::Rule(format!("{field}: failed to parse template: {m}")),
        e @ TemplateError::Exec(_) => {
            Stop::Rule(format!("{field}: failed to expand template: {e}"))
        }
    }
}

/// Counts what one node's processing produces ([`budget::NFR_OUTPUTS`]).
struct Produce {
    left: usize,
}

impl Produce {
    fn take(&mut self, n: usize) -> bool {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }
}

/// Processes every rule of `ruleset` for one node, as nfd-master does.
pub fn process(
    ruleset: &Ruleset,
    features: &Features,
    settings: &Settings,
    options: &Options,
) -> Result<NodeResult, ProcessError> {
    let mut view = View::new(features);
    let mut meter = Meter::new(&options.interrupt);
    let mut produce = Produce {
        left: budget::NFR_OUTPUTS.value,
    };
    let mut result = NodeResult::default();
    let mut labels: Merged = Merged::new();
    let mut annotations: Merged = Merged::new();
    let mut resources: Merged = Merged::new();
    let mut taints: Vec<(usize, usize, usize)> = Vec::new();
    for (oi, object) in ruleset.objects.iter().enumerate() {
        for (ri, rule) in object.rules.iter().enumerate() {
            let (object_name, rule_name) = (&ruleset.names[oi].0, &ruleset.names[oi].1[ri]);
            let fatal = |message: String, span: Span, budget| ProcessError {
                object: object_name.clone(),
                rule: rule_name.clone(),
                message,
                span,
                budget,
            };
            if options.interrupt.is_raised() {
                return Err(fatal(budget::INTERRUPTED.into(), rule.rule.span, None));
            }
            let mut report = RuleReport {
                object: object_name.clone(),
                rule: rule_name.clone(),
                status: RuleStatus::NotMatched,
                why: Vec::new(),
                error: None,
            };
            let outcome = execute(
                rule,
                &ruleset.templates[oi][ri],
                &view,
                &mut meter,
                options.explain,
            );
            match outcome {
                Err(Stop::Fatal(message, span, limit)) => return Err(fatal(message, span, limit)),
                Err(Stop::Rule(message)) => {
                    report.status = RuleStatus::Error;
                    report.error = Some(message);
                }
                Ok(Outcome::NotMatched(why)) => {
                    report.why = why;
                    view.rule_matched.get_or_insert_with(NameMap::default);
                }
                Ok(Outcome::Matched(out)) => {
                    report.status = RuleStatus::Matched;
                    let count = out.labels.len()
                        + out.vars.len()
                        + rule.annotations.len()
                        + rule.extended_resources.len()
                        + rule.taints.len();
                    if !produce.take(count) {
                        return Err(fatal(
                            budget::NFR_OUTPUTS.exceeded(),
                            rule.rule.span,
                            Some(&budget::NFR_OUTPUTS),
                        ));
                    }
                    // Labels as written (before the namespace is added), then vars.
                    let matched = view.rule_matched.get_or_insert_with(NameMap::default);
                    if ruleset.feeds_back[oi][ri] {
                        for (k, v) in out.labels.iter().chain(&out.vars) {
                            if ruleset.back_refs.read(k) {
                                matched.insert(Text::from(k.as_str()), Text::from(v.as_str()));
                            }
                        }
                    }
                    let from = |(k, v)| (k, (v, oi, ri));
                    labels.extend(with_default_ns(out.labels).into_iter().map(from));
                    resources.extend(
                        with_default_ns(entries(&rule.extended_resources))
                            .into_iter()
                            .map(from),
                    );
                    annotations.extend(
                        with_default_ns(entries(&rule.annotations))
                            .into_iter()
                            .map(from),
                    );
                    taints.extend((0..rule.taints.len()).map(|ti| (oi, ri, ti)));
                }
            }
            result.rules.push(report);
        }
    }
    let source =
        |oi: usize, ri: usize| (ruleset.names[oi].0.clone(), ruleset.names[oi].1[ri].clone());
    let mut prefixes = ValidPrefix::default();
    for (key, (value, oi, ri)) in sorted(labels) {
        let (object, rule) = source(oi, ri);
        match filter_label(
            &key,
            &value,
            &view,
            settings,
            &mut prefixes,
            &mut result.dynamic_reads,
        ) {
            Ok(resolved) => result.labels.push(Produced {
                key,
                value: resolved.unwrap_or(value),
                object,
                rule,
            }),
            Err(reason) => result.rejected.push(Rejected {
                kind: OutputKind::Label,
                key,
                value,
                object,
                rule,
                reason,
            }),
        }
    }
    for (key, (value, oi, ri)) in sorted(resources) {
        let (object, rule) = source(oi, ri);
        match filter_extended_resource(&key, &value, &view, &mut result.dynamic_reads) {
            Ok(value) => result.extended_resources.push(Produced {
                key,
                value,
                object,
                rule,
            }),
            Err(reason) => result.rejected.push(Rejected {
                kind: OutputKind::ExtendedResource,
                key,
                value,
                object,
                rule,
                reason,
            }),
        }
    }
    for (key, (value, oi, ri)) in sorted(annotations) {
        let (object, rule) = source(oi, ri);
        match check_annotation(&key, &value) {
            Ok(()) => result.annotations.push(Produced {
                key,
                value,
                object,
                rule,
            }),
            Err(reason) => result.rejected.push(Rejected {
                kind: OutputKind::Annotation,
                key,
                value,
                object,
                rule,
                reason,
            }),
        }
    }
    for (oi, ri, ti) in taints {
        let (object, rule) = source(oi, ri);
        let t = &ruleset.objects[oi].rules[ri].taints[ti];
        let produced = || ProducedTaint {
            key: t.key.clone(),
            value: t.value.clone(),
            effect: t.effect.clone(),
            object: object.clone(),
            rule: rule.clone(),
        };
        if !settings.enable_taints {
            result.taints_not_enabled.push(produced());
            continue;
        }
        match check_taint(&t.key, &t.effect) {
            Ok(()) => result.taints.push(produced()),
            Err(reason) => result.rejected.push(Rejected {
                kind: OutputKind::Taint,
                key: t.key.clone(),
                value: format!("{}:{}", t.value, t.effect),
                object,
                rule,
                reason,
            }),
        }
    }
    Ok(result)
}

/// Every rule's outputs in processing order: (key, (value, object, rule)).
type Merged = Vec<(String, (String, usize, usize))>;

/// The merged map nfd-master builds (a later rule wins a key), sorted by key.
fn sorted(mut m: Merged) -> Merged {
    // Stable: of the pairs with one key, the last written stays last.
    m.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Merged = Vec::with_capacity(m.len());
    for pair in m {
        if out.last().is_some_and(|last| last.0 == pair.0) {
            out.pop();
        }
        out.push(pair);
    }
    out
}

fn entries(list: &[Entry]) -> Vec<(String, String)> {
    list.iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect()
}

/// `addNsToMapKeys`: unprefixed keys get the default namespace, unless the same map also has
/// the prefixed key, which wins.
fn with_default_ns(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    let has_ns = |k: &str| k.as_bytes().contains(&b'/');
    // (key with its namespace, value, whether it was written with one)
    let full: Vec<(String, String, bool)> = pairs
        .into_iter()
        .map(|(k, v)| {
            if has_ns(&k) {
                return (k, v, true);
            }
            let mut key = String::with_capacity(FEATURE_NS.len() + 1 + k.len());
            key.push_str(FEATURE_NS);
            key.push('/');
            key.push_str(&k);
            (key, v, false)
        })
        .collect();
    // Only a map with both spellings of a key needs the lookup.
    let written = full.iter().filter(|p| p.2).count();
    let keep: Vec<bool> = if written == 0 || written == full.len() {
        vec![true; full.len()]
    } else {
        let prefixed: HashSet<&str, Hasher> =
            full.iter().filter(|p| p.2).map(|p| p.0.as_str()).collect();
        full.iter()
            .map(|(k, _, written)| *written || !prefixed.contains(k.as_str()))
            .collect()
    };
    full.into_iter()
        .zip(keep)
        .filter(|(_, keep)| *keep)
        .map(|((k, v, _), _)| (k, v))
        .collect()
}

fn split_ns(key: &str) -> (&str, &str) {
    match key.bytes().position(|b| b == b'/') {
        Some(i) => (&key[..i], &key[i + 1..]),
        None => ("", key),
    }
}

/// `getDynamicValue`: `@domain.feature.element` names an attribute element, read after every
/// rule ran (so `rule.matched` holds the rules' labels and vars).
fn dynamic_value(value: &str, view: &View, reads: &mut BTreeSet<String>) -> Result<String, String> {
    let Some((name, elem)) = dynamic_parts(value) else {
        return Err(format!(
            "value {value} is not in the form of '@domain.feature.element'"
        ));
    };
    let elements = if name == RULE_MATCHED && view.rule_matched.is_some() {
        view.rule_matched.as_ref()
    } else {
        reads.insert(name.to_string());
        match view.features.attributes.get(name) {
            Some(set) => set.elements.as_ref(),
            None => return Err(format!("feature {name} not found")),
        }
    };
    elements
        .and_then(|e| e.get(elem))
        .map(|v| v.to_string())
        .ok_or_else(|| format!("element {elem} not found on feature {name}"))
}

/// A `kubernetes.io` namespace that is not one of NFD's own (`validate.ErrNSNotAllowed`).
pub(crate) fn is_k8s_ns(ns: &str, allowed: &[&str]) -> bool {
    let within = |ns: &str, domain: &str| {
        ns.strip_suffix(domain)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    };
    within(ns, "kubernetes.io") && !allowed.iter().any(|a| within(ns, a))
}

/// `validate.Label`'s checks, in its order.
enum LabelCheck {
    Ok,
    NsNotAllowed,
    Invalid(String),
}

/// The namespace last found to be a valid name prefix. Labels are checked in sorted order, so
/// the labels of one namespace (usually nearly all of them) come together and it is checked
/// once per node, not once per label.
#[derive(Default)]
struct ValidPrefix(Option<String>);

impl ValidPrefix {
    fn check(&mut self, prefix: &str) -> bool {
        if self.0.as_deref() == Some(prefix) {
            return true;
        }
        let valid = k8s::is_dns1123_subdomain(prefix);
        if valid {
            self.0 = Some(prefix.to_string());
        }
        valid
    }
}

/// `key` split by [`split_ns`] into `ns` and `base`.
fn validate_label(
    key: &str,
    (ns, base): (&str, &str),
    value: &str,
    prefixes: &mut ValidPrefix,
) -> LabelCheck {
    let has_prefix = ns.len() + base.len() < key.len(); // "/x" has an empty one
    let valid_key = if has_prefix {
        prefixes.check(ns) && k8s::is_qualified_name_base(base)
    } else {
        k8s::is_qualified_name_base(key)
    };
    if !valid_key {
        let errs = k8s::qualified_name(key);
        return LabelCheck::Invalid(format!("invalid label key {key:?}: {}", errs.join("; ")));
    }
    if ns.is_empty() {
        return LabelCheck::Invalid("unprefixed keys are not allowed".into());
    }
    if is_k8s_ns(ns, &[FEATURE_NS, PROFILE_NS]) {
        return LabelCheck::NsNotAllowed;
    }
    let errs = k8s::label_value(value);
    if !errs.is_empty() {
        return LabelCheck::Invalid(format!("invalid value {value:?}: {}", errs.join("; ")));
    }
    LabelCheck::Ok
}

/// `filterFeatureLabel`: `Ok` when nfd-master sets the label (with the value a dynamic one
/// resolves to), or the error it logs ("ignoring label").
fn filter_label(
    key: &str,
    value: &str,
    view: &View,
    settings: &Settings,
    prefixes: &mut ValidPrefix,
    reads: &mut BTreeSet<String>,
) -> Result<Option<String>, String> {
    let resolved = if value.starts_with('@') {
        Some(dynamic_value(value, view, reads)?)
    } else {
        None
    };
    let value = resolved.as_deref().unwrap_or(value);
    let (ns, base) = split_ns(key);
    match validate_label(key, (ns, base), value, prefixes) {
        // An extra namespace lets the label through whatever else validation said about it:
        // nfd-master checks it only on this branch.
        LabelCheck::NsNotAllowed => {
            if !settings.extra_label_ns.iter().any(|x| x == ns) {
                return Err(format!("namespace {ns:?} is not allowed"));
            }
        }
        _ if settings.is_denied(ns) => {
            if !settings.extra_label_ns.iter().any(|x| x == ns) {
                return Err(format!("namespace {ns:?} is not allowed"));
            }
        }
        LabelCheck::Invalid(e) => return Err(e),
        LabelCheck::Ok => {}
    }
    if let Some((pattern, re)) = &settings.label_whitelist {
        if !re.is_match(base) {
            return Err(format!(
                "{base} ({key}) does not match the whitelist ({pattern})"
            ));
        }
    }
    Ok(resolved)
}

/// `filterExtendedResource`: dynamic value, then `validate.ExtendedResource`.
fn filter_extended_resource(
    key: &str,
    value: &str,
    view: &View,
    reads: &mut BTreeSet<String>,
) -> Result<String, String> {
    let value = if value.starts_with('@') {
        dynamic_value(value, view, reads)?
    } else {
        value.to_string()
    };
    let errs = k8s::qualified_name(key);
    if !errs.is_empty() {
        return Err(format!("invalid name {key:?}: {}", errs.join("; ")));
    }
    let (ns, _) = split_ns(key);
    if ns.is_empty() {
        return Err("unprefixed keys are not allowed".into());
    }
    if is_k8s_ns(ns, &[FEATURE_NS]) {
        return Err("namespace is not allowed".into());
    }
    k8s::parse_quantity(&value).map_err(|e| format!("invalid value {value:?}: {e}"))?;
    Ok(value)
}

/// `validate.Annotation`.
fn check_annotation(key: &str, value: &str) -> Result<(), String> {
    let errs = k8s::qualified_name(key);
    if !errs.is_empty() {
        return Err(format!(
            "invalid annotation key {key:?}: {}",
            errs.join("; ")
        ));
    }
    let (ns, _) = split_ns(key);
    if ns.is_empty() {
        return Err("unprefixed keys are not allowed".into());
    }
    if is_k8s_ns(ns, &[FEATURE_NS]) {
        return Err("namespace is not allowed".into());
    }
    if value.len() > ANNOTATION_VALUE_MAX {
        return Err(format!("invalid value: too long: feature annotations must not be longer than {ANNOTATION_VALUE_MAX} characters"));
    }
    Ok(())
}

/// `validate.Taint` (nfd-master runs it only with -enable-taints).
fn check_taint(key: &str, effect: &str) -> Result<(), String> {
    let (ns, _) = split_ns(key);
    if ns.is_empty() {
        return Err("unprefixed keys are not allowed".into());
    }
    if is_k8s_ns(ns, &[FEATURE_NS]) {
        return Err("namespace is not allowed".into());
    }
    if effect.is_empty() {
        return Err("empty taint effect".into());
    }
    if !super::decode::TAINT_EFFECTS.contains(&effect) {
        return Err("invalid taint effect".into());
    }
    Ok(())
}

/// `nodefeaturerule.Execute(rule, features, failFast=true)`.
fn execute(
    rule: &NfrRule,
    templates: &Templates,
    view: &View,
    meter: &mut Meter,
    explain: bool,
) -> Result<Outcome, Stop> {
    let r = &rule.rule;
    let templated = templates.labels.is_some() || templates.vars.is_some();
    let mut out = Output {
        labels: Vec::new(),
        vars: Vec::new(),
    };
    let mut expand = |data: TemplateData, out: &mut Output| -> Result<(), Stop> {
        if !templated {
            return Ok(());
        }
        let input = template_input(data);
        for (field, tpl, span, into) in [
            (
                "labelsTemplate",
                &templates.labels,
                rule.labels_template_span,
                &mut out.labels,
            ),
            (
                "varsTemplate",
                &templates.vars,
                r.vars_template_span,
                &mut out.vars,
            ),
        ] {
            let Some(tpl) = tpl else { continue };
            let tpl = tpl
                .as_ref()
                .map_err(|e| template_stop(field, e.clone(), span))?;
            let text = tpl
                .execute(&input, meter)
                .map_err(|e| template_stop(field, e, span))?;
            template::parse_vars_into(&text, into).map_err(|e| template_stop(field, e, span))?;
        }
        Ok(())
    };
    if !r.match_any.is_empty() {
        let mut matched = false;
        let mut why = Vec::new();
        for (i, elem) in r.match_any.iter().enumerate() {
            match matcher(&elem.match_features, view, templated, explain)? {
                Match::Yes(data) => {
                    matched = true;
                    if !templated {
                        break;
                    }
                    expand(data, &mut out)?;
                }
                Match::No(miss) => {
                    if explain {
                        why.push(format!("matchAny[{i}].matchFeatures{miss}"));
                    }
                }
            }
        }
        if !matched {
            return Ok(Outcome::NotMatched(why));
        }
    }
    if !r.match_features.is_empty() {
        match matcher(&r.match_features, view, templated, explain)? {
            Match::Yes(data) => expand(data, &mut out)?,
            Match::No(miss) => {
                let why = if explain {
                    vec![format!("matchFeatures{miss}")]
                } else {
                    Vec::new()
                };
                return Ok(Outcome::NotMatched(why));
            }
        }
    }
    out.labels
        .extend(rule.labels.iter().map(|e| (e.key.clone(), e.value.clone())));
    out.vars
        .extend(r.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(Outcome::Matched(out))
}

enum Match {
    Yes(TemplateData),
    /// Where it stopped, as text (empty without `explain`).
    No(String),
}

/// `evaluateFeatureMatcher(terms, features, failFast=true)`: an AND that stops at the first
/// term that does not hold.
fn matcher(terms: &[Term], view: &View, collect: bool, explain: bool) -> Result<Match, Stop> {
    let mut data = TemplateData::new();
    for (ti, term) in terms.iter().enumerate() {
        let Some(sides) = view.sides(&term.lookup) else {
            return Ok(Match::No(if explain {
                format!("[{ti}]: the node has no feature {:?}", term.feature)
            } else {
                String::new()
            }));
        };
        let mut elements = Vec::new();
        let mut held = true;
        let mut miss = None;
        if let Some(exprs) = &term.match_expressions {
            let (ok, failed) = match_multi(exprs, &sides, collect.then_some(&mut elements))
                .map_err(|m| format!("feature {:?}: {m}", term.feature))?;
            held = ok;
            miss = failed;
        }
        if held {
            if let Some(name) = &term.match_name {
                held = match_names(name, &sides, collect.then_some(&mut elements))
                    .map_err(|m| format!("feature {:?}: matchName: {m}", term.feature))?;
                if !held && explain {
                    return Ok(Match::No(format!(
                        "[{ti}] {}: matchName {name} holds for none of its {} element name(s)",
                        term.feature,
                        element_names(&sides)
                    )));
                }
            }
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
        if !held {
            return Ok(Match::No(if explain {
                describe_miss(ti, term, miss, &sides)
            } else {
                String::new()
            }));
        }
    }
    Ok(Match::Yes(data))
}

fn element_names(sides: &Sides) -> usize {
    sides.flags.map_or(0, |f| f.len())
        + sides.attributes.map_or(0, |a| a.len())
        + sides
            .instances
            .unwrap_or_default()
            .iter()
            .map(|i| i.attributes.as_ref().map_or(0, |a| a.len()))
            .sum::<usize>()
}

/// Why a term's expressions did not hold: the first expression that failed on the flag and
/// attribute side (where the failFast walk stopped), and that no instance satisfied them all.
fn describe_miss(ti: usize, term: &Term, failed: Option<usize>, sides: &Sides) -> String {
    let instances = sides.instances.map_or(0, <[_]>::len);
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let mut text = format!("[{ti}] {}: ", term.feature);
    match failed.and_then(|i| exprs.get(i)) {
        Some(NamedExpr {
            name,
            expr: Some(expr),
            ..
        }) => {
            let actual = match (sides.flags, sides.attributes) {
                (_, Some(a)) if a.contains_key(name.as_str()) => {
                    format!("the node has {:?}", a[name.as_str()].as_str())
                }
                (Some(f), _) if f.contains(name.as_str()) => "the node has it as a flag".into(),
                _ => "the node does not have it".into(),
            };
            text.push_str(&format!("{name:?} {expr} does not hold ({actual})"));
        }
        _ if sides.flags.is_none() && sides.attributes.is_none() => {}
        _ => text.push_str("the expressions do not hold"),
    }
    if instances > 0 || (sides.flags.is_none() && sides.attributes.is_none()) {
        if !text.ends_with(": ") {
            text.push_str("; ");
        }
        text.push_str(&format!(
            "none of its {instances} instance(s) satisfies all {} expression(s)",
            exprs.len()
        ));
    }
    text
}

fn null_expression(name: &str) -> String {
    format!("element {name:?}: the expression is null (NFD dereferences a nil pointer here and crashes)")
}

/// `MatchMulti(..., failFast=true)`: the flag and attribute side stops at the first expression
/// that holds on neither (or a `DoesNotExist` that fails on one); the instances are then
/// evaluated anyway, each stopping at its first failing expression. Returns whether the term
/// held and which expression stopped the flag and attribute side.
fn match_multi(
    exprs: &[NamedExpr],
    sides: &Sides,
    elements: Option<&mut Vec<Data>>,
) -> Result<(bool, Option<usize>), String> {
    let (flags, attrs) = (sides.flags, sides.attributes);
    let mut kv_ok = flags.is_some() || attrs.is_some();
    let mut failed = None;
    let mut kv = Vec::new();
    if kv_ok {
        for (i, named) in exprs.iter().enumerate() {
            let name = named.name.as_str();
            let expr = named.expr.as_ref().ok_or_else(|| null_expression(name))?;
            let ctx = |m: String| format!("element {name:?}: {m}");
            let mut on_flags = false;
            if let Some(f) = flags {
                on_flags = eval::eval(expr, f.contains(name), None).map_err(ctx)?;
                if on_flags {
                    kv.push(element(name, None));
                } else if expr.op() == Some(Op::DoesNotExist) {
                    kv_ok = false;
                    failed = Some(i);
                    break;
                }
            }
            let mut on_attrs = false;
            if let Some(a) = attrs {
                let value = a.get(name).map(Text::as_str);
                on_attrs = eval::eval(expr, value.is_some(), value).map_err(ctx)?;
                if on_attrs {
                    kv.push(element(name, Some(value.unwrap_or_default())));
                } else if expr.op() == Some(Op::DoesNotExist) {
                    kv_ok = false;
                    failed = Some(i);
                    break;
                }
            }
            if !on_flags && !on_attrs {
                kv_ok = false;
                failed = Some(i);
                break;
            }
        }
    }
    let mut instance_elements = Vec::new();
    let empty = NameMap::default();
    for instance in sides.instances.unwrap_or_default() {
        let attrs = instance.attributes.as_ref().unwrap_or(&empty);
        let mut all = true;
        for named in exprs {
            let name = named.name.as_str();
            let expr = named.expr.as_ref().ok_or_else(|| null_expression(name))?;
            let value = attrs.get(name).map(Text::as_str);
            if !eval::eval(expr, value.is_some(), value)
                .map_err(|m| format!("element {name:?}: {m}"))?
            {
                all = false;
                break;
            }
        }
        if all {
            instance_elements.push(instance_element(attrs));
        }
    }
    let held = kv_ok || !instance_elements.is_empty();
    if let Some(out) = elements {
        if kv_ok {
            // Go sorts the matched elements by name (insertion sort for short lists, so the
            // flag element of a name stays before its attribute element).
            kv.sort_by(|a, b| element_name(a).cmp(element_name(b)));
            out.append(&mut kv);
        }
        out.append(&mut instance_elements);
    }
    Ok((held, failed))
}
