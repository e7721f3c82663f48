//! Lint: every mistake NFD would only reveal on a node (or never), at the exact place it was
//! written, with a hint and, where safe, a machine-applicable fix.
//!
//! Severity policy (docs/lint-rules.md documents every rule):
//! - **error**: NFD refuses the spec or aborts validation on it, or the spec cannot mean what is
//!   written (an ignored key, a term or rule that no node can satisfy, a missing required part);
//! - **warning**: NFD evaluates it, but it is probably not what the author meant or it breaks on
//!   some nodes (YAML 1.1 coercions, case variants, always-true terms...);
//! - **info**: facts worth knowing (how many snapshots a rule matches, regex dialect notes).
//!
//! Lint never panics and is bounded for any input: it runs on the YAML reader's limits.

mod hidden;
mod nfr;
mod rules;
mod snapshots;
mod structure;

use serde::{Deserialize, Serialize};

use crate::budget::Interrupt;
use crate::features::Features;
use crate::source::{LineIndex, Location, Span};
use crate::spec::Spec;
use crate::{decode, yaml};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A replacement of the text in `span`; an empty span inserts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub span: Span,
    pub replacement: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

/// A lint rule: its stable code, severity and one-line summary.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RuleInfo {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

macro_rules! rule_table {
    ($($code:literal $sev:ident $summary:literal;)*) => {
        /// Every lint rule, in documentation order.
        pub const RULES: &[RuleInfo] = &[$(RuleInfo { code: $code, severity: Severity::$sev, summary: $summary }),*];
    };
}

rule_table! {
    "yaml-syntax" Error "The file is not valid YAML (or JSON).";
    "over-budget" Error "The spec goes beyond one of nodefit's budgets (alias expansion, pattern size, template work): nodefit refuses it.";
    "wrong-type" Error "A value has the wrong shape for its field: NFD's decoder refuses the spec.";
    "duplicate-key" Error "A key appears twice in one mapping: NFD silently keeps only the last.";
    "extra-document" Warning "More than one YAML document: NFD reads only the first.";
    "hidden-character" Warning "An invisible or bidirectional-control character: the text reads differently from what it holds.";
    "unknown-key" Error "A key NFD does not know: it is silently ignored.";
    "ignored-field" Error "A NodeFeatureRule field that image compatibility specs ignore.";
    "key-case" Warning "A key spelled with different case: NFD accepts it, stricter tools do not.";
    "version-missing" Error "The spec has no `version`.";
    "version-unsupported" Error "`version` is not `v1alpha1`.";
    "compatibilities-missing" Error "The spec has no `compatibilities`.";
    "compatibilities-empty" Error "`compatibilities` is empty.";
    "set-without-rules" Error "A compatibility set has no rules, so it says nothing about the node.";
    "duplicate-tag" Warning "Two compatibility sets have the same tag.";
    "weight-range" Warning "`weight` outside 1..100 (the Kubernetes node-affinity weight range).";
    "rule-name-missing" Warning "A rule without a name: reports cannot tell it apart.";
    "duplicate-rule-name" Warning "Two rules of one set have the same name.";
    "rule-without-matchers" Error "A rule with neither `matchFeatures` nor `matchAny` checks nothing.";
    "single-match-any" Warning "`matchAny` with a single element: use `matchFeatures`.";
    "term-without-matchers" Warning "A term with neither `matchExpressions` nor `matchName` only checks that the feature exists.";
    "null-expression" Error "An expression written as null: NFD crashes when it evaluates it.";
    "unknown-op" Error "An op NFD does not know: validation aborts.";
    "always-true" Warning "An empty op matches every node, even without the element.";
    "value-count" Error "Wrong number of values for the op: validation aborts.";
    "values-not-allowed" Error "Values given to an op that takes none: validation aborts.";
    "invalid-regex" Error "A pattern that does not compile as Go RE2: validation aborts.";
    "regex-dialect" Info "A pattern whose meaning depends on the regex dialect.";
    "not-an-integer" Error "A non-integer bound for Gt/Ge/Lt/Le/GtLt/GeLe: validation aborts.";
    "not-a-version" Error "A bound that is not a version with `type: version`: validation aborts.";
    "empty-range" Error "A GtLt/GeLe range with lower >= upper: validation aborts (integers) or nothing matches (versions).";
    "invalid-type" Error "`type` other than `version` on a comparison op: validation aborts.";
    "type-ignored" Warning "`type` on an op that ignores it.";
    "contradiction" Error "Two expressions on one element that no node can satisfy together.";
    "invalid-feature-name" Error "A feature name that is not `<domain>.<feature>`.";
    "unknown-feature" Error "A feature NFD's sources never produce: the term never matches.";
    "feature-name-case" Warning "Upper-case letters in a feature name: NFD matches it, but its report shows FAIL.";
    "unknown-element" Error "An element the feature never has: the expression never matches.";
    "module-name-hyphen" Warning "A loaded-module name with `-`: /proc/modules uses `_`.";
    "value-op-on-flag" Error "A value op on a flag element, which has no value: it never matches.";
    "kind-mismatch" Error "An op that does not fit the element's values (e.g. Gt on a hex id).";
    "version-type-fragile" Warning "`type: version` on data that is not always semver: NFD aborts on such nodes.";
    "yaml11-coercion" Warning "An unquoted scalar that NFD's YAML 1.1 reader turns into something else.";
    "template-syntax" Error "A `varsTemplate` that does not parse: validation aborts when the rule matches.";
    "template-unsupported" Warning "A `varsTemplate` construct nodefit cannot evaluate.";
    "template-missing-feature" Error "A template reads a feature the matcher that runs it does not match: it fails whenever that matcher matches.";
    "rule-matched-first" Warning "`rule.matched` used in the first rule, before any rule has published vars.";
    "undefined-var" Warning "A `rule.matched` element that no earlier rule publishes.";
    "api-refuses" Error "The Kubernetes API server refuses this NodeFeatureRule: a required field, a value of the wrong type, an op the CRD does not accept.";
    "duplicate-object-name" Error "Two NodeFeatureRules with one name: the cluster keeps only one.";
    "invalid-label" Error "A label nfd-master drops: its name or value is not valid for Kubernetes.";
    "denied-namespace" Error "A label, annotation, extended resource or taint in a `kubernetes.io` namespace NFD may not write to.";
    "invalid-extended-resource" Error "An extended resource nfd-master drops: an invalid name, or a value that is not a quantity.";
    "invalid-annotation" Error "An annotation nfd-master drops: an invalid name, or a value over 1,024 bytes.";
    "invalid-taint" Error "A taint nfd-master drops: a key without a namespace, or an effect it does not know.";
    "feature-not-in-snapshots" Warning "A feature present in none of the given snapshots.";
    "element-not-in-snapshots" Warning "An element present in none of the given snapshots.";
    "snapshot-match-count" Info "How many of the given snapshots a rule matches.";
    "snapshot-eval-error" Error "NFD aborts validation on one of the given snapshots.";
}

pub fn rule_info(code: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.code == code)
}

/// The hint of every `over-budget` diagnostic.
pub(crate) const BUDGET_HINT: &str =
    "real specs stay far below nodefit's budgets (docs/server.md lists them): simplify this part";

/// Whether a diagnostic says the input went over a budget: nodefit refuses such input (the CLI
/// exits 2), whatever else lint found.
pub fn is_over_budget(d: &Diagnostic) -> bool {
    d.code == "over-budget"
}

/// A snapshot to lint against: a name for messages and the node's features.
pub struct LintSnapshot<'a> {
    pub name: &'a str,
    pub features: &'a Features,
}

/// Lints a spec's source text, optionally against snapshots. Diagnostics are sorted by position.
pub fn lint(src: &str, snapshots: &[LintSnapshot]) -> Vec<Diagnostic> {
    lint_interruptible(src, snapshots, &Interrupt::none())
}

/// [`lint`], stopping the snapshot checks (which evaluate the spec on every snapshot) when
/// `interrupt` is raised; the diagnostics are then incomplete.
pub fn lint_interruptible(
    src: &str,
    snapshots: &[LintSnapshot],
    interrupt: &Interrupt,
) -> Vec<Diagnostic> {
    lint_checked(src, snapshots, interrupt).0
}

/// [`lint`] without snapshots that also hands back the spec it decoded, when NFD can read it
/// (no decode error; the same value `parse_spec` gives): the editor evaluates that spec on
/// every keystroke instead of decoding the text a second time.
pub fn lint_and_decode(src: &str) -> (Vec<Diagnostic>, Option<Spec>) {
    lint_checked(src, &[], &Interrupt::none())
}

fn lint_checked(
    src: &str,
    snapshots: &[LintSnapshot],
    interrupt: &Interrupt,
) -> (Vec<Diagnostic>, Option<Spec>) {
    let mut out = Diagnostics::default();
    hidden::check(src, &mut out);
    let doc = match yaml::parse_document(src) {
        Ok(doc) => doc,
        Err(e) => {
            // The parser reports a position; cover the character there so editors can show it.
            let width = src[e.span.start.min(src.len())..]
                .chars()
                .next()
                .filter(|c| *c != '\n')
                .map_or(0, char::len_utf8);
            let span = Span::new(e.span.start, e.span.start + width);
            match e.budget {
                Some(_) => out.push(
                    "over-budget",
                    span,
                    e.message,
                    Some(BUDGET_HINT.into()),
                    None,
                ),
                None => out.push(
                    "yaml-syntax",
                    span,
                    e.message,
                    Some("fix the YAML syntax at this position".into()),
                    None,
                ),
            }
            return (out.finish(), None);
        }
    };
    let (spec, decode_errors) = decode::decode_spec(doc.root.as_ref());
    for e in &decode_errors {
        let path = if e.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", e.path)
        };
        let (code, hint) = match e.budget {
            Some(_) => ("over-budget", BUDGET_HINT),
            None => (
                "wrong-type",
                "NFD refuses the whole spec when a value has the wrong shape",
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
    structure::check(src, &doc, &mut out);
    rules::check(src, &spec, &mut out);
    if !snapshots.is_empty() && decode_errors.is_empty() {
        snapshots::check(&spec, snapshots, interrupt, &mut out);
    }
    (out.finish(), decode_errors.is_empty().then_some(spec))
}

/// Lints a NodeFeatureRule file (one or many documents): the checks it shares with specs, and
/// its own (what the API server refuses, what nfd-master drops). Sorted by position.
pub fn lint_node_feature_rules(src: &str) -> Vec<Diagnostic> {
    let mut out = Diagnostics::default();
    hidden::check(src, &mut out);
    nfr::check(src, &mut out);
    out.finish()
}

#[derive(Default)]
pub(crate) struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub(crate) fn push(
        &mut self,
        code: &'static str,
        span: Span,
        message: String,
        hint: Option<String>,
        fix: Option<Fix>,
    ) {
        let severity = rule_info(code).map_or(Severity::Error, |r| r.severity);
        self.0.push(Diagnostic {
            code,
            severity,
            message,
            span,
            hint,
            fix,
        });
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        self.0.sort_by(|a, b| {
            (a.span.start, a.severity, a.code).cmp(&(b.span.start, b.severity, b.code))
        });
        self.0.dedup();
        self.0
    }
}

/// `nodefit lint --format json`'s diagnostic object (also the server's lint endpoint).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonDiagnostic {
    pub file: String,
    pub code: String,
    pub severity: Severity,
    pub message: String,
    #[serde(flatten)]
    pub at: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<JsonFix>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonFix {
    pub replacement: String,
    #[serde(flatten)]
    pub at: Location,
}

pub fn to_json(file: &str, src: &str, diagnostics: &[Diagnostic]) -> Vec<JsonDiagnostic> {
    let index = LineIndex::new(src);
    diagnostics
        .iter()
        .map(|d| JsonDiagnostic {
            file: file.to_string(),
            code: d.code.to_string(),
            severity: d.severity,
            message: d.message.clone(),
            at: index.location(d.span),
            hint: d.hint.clone(),
            fix: d.fix.as_ref().map(|f| JsonFix {
                replacement: f.replacement.clone(),
                at: index.location(f.span),
            }),
        })
        .collect()
}

/// Applies non-overlapping fixes (the first of overlapping ones wins) and returns the new text.
pub fn apply_fixes(src: &str, diagnostics: &[Diagnostic]) -> String {
    let mut fixes: Vec<&Fix> = diagnostics.iter().filter_map(|d| d.fix.as_ref()).collect();
    fixes.sort_by_key(|f| (f.span.start, f.span.end));
    let mut out = String::with_capacity(src.len());
    let mut at = 0;
    for fix in fixes {
        if fix.span.start < at || fix.span.end > src.len() {
            continue;
        }
        out.push_str(&src[at..fix.span.start]);
        out.push_str(&fix.replacement);
        at = fix.span.end;
    }
    out.push_str(&src[at..]);
    out
}

/// The closest candidate to `word`, if close enough to be a likely typo: a case-insensitive
/// match first, then the smallest edit distance within a third of the length.
pub(crate) fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        if c.to_lowercase() == lower {
            return Some(c);
        }
        let d = strsim::levenshtein(&lower, &c.to_lowercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let limit = (word.chars().count() / 3).clamp(1, 3);
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c)
}

/// A scalar written as YAML that reads back as exactly `text` (for fixes).
pub(crate) fn quoted(text: &str) -> String {
    if text.contains(['"', '\\']) || text.chars().any(char::is_control) {
        format!("'{}'", text.replace('\'', "''"))
    } else {
        format!("\"{text}\"")
    }
}
