//! A node's verdict on a spec, decided and worded once for every edge: the CLI's tables, the
//! server's fleet matrix and reports, and the web UI's Test tab all render a [`NodeVerdict`]
//! and nothing else decides compatibility or phrases it.
//!
//! [`judge`] is the cheap form (compatible, best set, each rule's outcome), for fleets;
//! [`explain`] adds NFD's per-expression report with the node's actual values, for one node.

use std::fmt;

use crate::eval::{EvalError, Evaluation};
use crate::features::Features;
use crate::report::{self, CompatibilityStatus};
use crate::spec::Spec;

#[derive(Clone, Debug)]
pub struct NodeVerdict<'a> {
    pub compatible: bool,
    /// Index of the matched set with the highest weight.
    pub best_set: Option<usize>,
    /// The evaluated sets (all, or those with a requested tag), in spec order.
    pub sets: Vec<SetVerdict<'a>>,
    /// NFD's report, per rule and expression with the node's values; [`explain`] only.
    pub report: Option<Vec<CompatibilityStatus<'a>>>,
    /// What [`Self::explanation`] names about the best set.
    best: Option<(i64, &'a str)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetVerdict<'a> {
    /// Index in the spec's `compatibilities`.
    pub index: usize,
    pub is_match: bool,
    pub rules: Vec<RuleVerdict<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleVerdict<'a> {
    pub name: &'a str,
    pub is_match: bool,
}

impl SetVerdict<'_> {
    /// Names of the rules that did not match, in spec order.
    pub fn failing_rules(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().filter(|r| !r.is_match).map(|r| r.name)
    }
}

/// Compatible or not, the best set, and each rule's outcome.
pub fn judge<'a>(spec: &'a Spec, evaluation: &Evaluation) -> NodeVerdict<'a> {
    let best_set = evaluation.best_set(spec);
    let sets = evaluation
        .sets
        .iter()
        .map(|set| SetVerdict {
            index: set.index,
            is_match: set.is_match(),
            rules: spec.compatibilities[set.index]
                .rules
                .iter()
                .zip(&set.rules)
                .map(|(rule, outcome)| RuleVerdict {
                    name: &rule.name,
                    is_match: outcome.is_match,
                })
                .collect(),
        })
        .collect();
    NodeVerdict {
        compatible: evaluation.is_compatible(),
        best_set,
        sets,
        report: None,
        best: best_set.map(|i| {
            let set = &spec.compatibilities[i];
            (set.weight, set.tag.as_str())
        }),
    }
}

/// [`judge`], with NFD's report of every rule and expression and the node's actual values.
pub fn explain<'a>(
    spec: &'a Spec,
    evaluation: &Evaluation,
    features: &Features,
) -> NodeVerdict<'a> {
    NodeVerdict {
        report: Some(report::build(spec, evaluation, features)),
        ..judge(spec, evaluation)
    }
}

impl NodeVerdict<'_> {
    /// `OK` or `FAIL`.
    pub fn status(&self) -> &'static str {
        status_word(self.compatible)
    }

    /// What the verdict means, after its status word: `compatible: best set #2, tag
    /// "fallback", weight 1`, `not compatible: ...`, or that no set was evaluated.
    pub fn explanation(&self) -> String {
        match self.best_set.zip(self.best) {
            Some((index, (weight, tag))) => {
                let tag = if tag.is_empty() {
                    String::new()
                } else {
                    format!(", tag {tag:?}")
                };
                format!("compatible: best set #{}{tag}, weight {weight}", index + 1)
            }
            None if self.sets.is_empty() => "no compatibility set selected (check the tags)".into(),
            None => "not compatible: no compatibility set has all its rules matched".into(),
        }
    }
}

/// The verdict in one line: `OK compatible: best set #2, tag "fallback", weight 1`.
impl fmt::Display for NodeVerdict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.explanation())
    }
}

/// `OK` or `FAIL`, for a verdict, a set, a rule or an expression.
pub fn status_word(ok: bool) -> &'static str {
    if ok {
        "OK"
    } else {
        "FAIL"
    }
}

/// A node's values for an expression (a report's `actual`), as every edge shows them: at most
/// `shown` values (all when `None`), then how many more.
pub fn actual_text(actual: Option<&[String]>, shown: Option<usize>) -> String {
    match actual {
        None => "(feature missing)".into(),
        Some([]) => "(element missing)".into(),
        Some(values) => match shown {
            Some(n) if values.len() > n => {
                format!("{} … (+{} more)", values[..n].join(", "), values.len() - n)
            }
            _ => values.join(", "),
        },
    }
}

/// What follows an evaluation error's message: whose rule stopped the evaluation.
pub fn error_note(error: &EvalError) -> &'static str {
    if error.budget.is_some() {
        "nodefit's budget: NFD would go on"
    } else {
        "NFD aborts validation here"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{evaluate, Options};
    use crate::snapshot;

    const SPEC: &str = "version: v1alpha1\ncompatibilities:\n- tag: gpu\n  weight: 10\n  rules:\n  - name: nvidia\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        vendor: {op: In, value: [\"10de\"]}\n- tag: cpu\n  weight: 1\n  rules:\n  - name: x86\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel, AMD]}\n";

    fn node(json: &str) -> Features {
        snapshot::parse(json).unwrap().nodes.remove(0).features
    }

    #[test]
    fn one_wording_for_each_outcome() {
        let spec = crate::parse_spec(SPEC).unwrap();
        let intel = node(r#"{"attributes": {"cpu.model": {"elements": {"vendor_id": "Intel"}}}}"#);
        let evaluation = evaluate(&spec, &intel, &Options::default()).unwrap();
        let verdict = judge(&spec, &evaluation);
        assert_eq!(
            verdict.to_string(),
            "OK compatible: best set #2, tag \"cpu\", weight 1"
        );
        assert_eq!(
            verdict.sets[0].failing_rules().collect::<Vec<_>>(),
            ["nvidia"]
        );
        assert!(verdict.report.is_none());

        let arm = node(r#"{"attributes": {"cpu.model": {"elements": {"vendor_id": "ARM"}}}}"#);
        let evaluation = evaluate(&spec, &arm, &Options::default()).unwrap();
        assert_eq!(
            judge(&spec, &evaluation).to_string(),
            "FAIL not compatible: no compatibility set has all its rules matched"
        );

        let none = Options {
            tags: vec!["fpga".into()],
            ..Options::default()
        };
        let evaluation = evaluate(&spec, &arm, &none).unwrap();
        assert_eq!(
            judge(&spec, &evaluation).to_string(),
            "FAIL no compatibility set selected (check the tags)"
        );
    }

    #[test]
    fn explained_verdicts_carry_the_nodes_values() {
        let spec = crate::parse_spec(SPEC).unwrap();
        let intel = node(r#"{"attributes": {"cpu.model": {"elements": {"vendor_id": "Intel"}}}}"#);
        let evaluation = evaluate(&spec, &intel, &Options::default()).unwrap();
        let report = explain(&spec, &evaluation, &intel).report.unwrap();
        let rules = report[1].rules.as_ref().unwrap();
        let actual = rules[0].matched_expressions[0].actual.as_deref();
        assert_eq!(actual_text(actual, None), "Intel");
        let gpu = report[0].rules.as_ref().unwrap()[0].matched_expressions[0]
            .actual
            .as_deref();
        assert_eq!(actual_text(gpu, None), "(feature missing)");
        assert_eq!(actual_text(Some(&[]), None), "(element missing)");
        let many: Vec<String> = (0..8).map(|i| i.to_string()).collect();
        assert_eq!(
            actual_text(Some(&many), Some(6)),
            "0, 1, 2, 3, 4, 5 … (+2 more)"
        );
    }
}
