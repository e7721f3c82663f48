//! Checks against captured snapshots: features and elements that no snapshot has, how many
//! snapshots each rule matches, and snapshots on which NFD would abort.

use std::collections::{BTreeMap, BTreeSet};

use super::{did_you_mean, Diagnostics, LintSnapshot};
use crate::budget::Interrupt;
use crate::eval::{self, Options, RULE_MATCHED};
use crate::spec::{Op, Spec};

pub(super) fn check(
    spec: &Spec,
    snapshots: &[LintSnapshot],
    interrupt: &Interrupt,
    out: &mut Diagnostics,
) {
    let mut elements: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in snapshots {
        for name in s.features.names().into_keys() {
            elements
                .entry(name)
                .or_default()
                .extend(s.features.element_names(name));
        }
    }
    let n = snapshots.len();
    for term in spec.rules().flat_map(|r| r.terms()) {
        if term.lookup == RULE_MATCHED || term.feature.is_empty() {
            continue;
        }
        let Some(present) = elements.get(term.lookup.as_str()) else {
            out.push(
                "feature-not-in-snapshots",
                term.feature_span,
                format!(
                    "`{}` is present in none of the {n} snapshot(s)",
                    term.feature
                ),
                Some("check the feature name, or capture a node that has it".into()),
                None,
            );
            continue;
        };
        for named in term.match_expressions.iter().flatten() {
            let Some(expr) = &named.expr else { continue };
            if matches!(expr.op(), Some(Op::DoesNotExist | Op::Any))
                || present.contains(named.name.as_str())
            {
                continue;
            }
            let suggestion = did_you_mean(&named.name, present.iter().copied()).or_else(|| {
                present
                    .iter()
                    .copied()
                    .find(|p| *p == named.name.replace('-', "_"))
            });
            out.push(
                "element-not-in-snapshots",
                named.name_span,
                format!(
                    "`{}` has no element `{}` in any of the {n} snapshot(s)",
                    term.feature, named.name
                ),
                Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "check the element name against a captured node".into(),
                }),
                None,
            );
        }
    }
    let mut matched: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let mut failed = 0;
    let options = Options {
        interrupt: interrupt.clone(),
        ..Options::default()
    };
    for s in snapshots {
        if interrupt.is_raised() {
            return;
        }
        match eval::evaluate(spec, s.features, &options) {
            Ok(evaluation) => {
                for set in &evaluation.sets {
                    for (r, outcome) in set.rules.iter().enumerate() {
                        *matched.entry((set.index, r)).or_default() +=
                            usize::from(outcome.is_match);
                    }
                }
            }
            Err(e) if e.budget.is_some() => {
                failed += 1;
                out.push(
                    "over-budget",
                    e.span,
                    format!("on snapshot {}: {}", s.name, e.message),
                    Some(super::BUDGET_HINT.into()),
                    None,
                );
            }
            Err(e) => {
                failed += 1;
                out.push(
                    "snapshot-eval-error",
                    e.span,
                    format!(
                        "NFD aborts validation on snapshot {}: {}",
                        s.name, e.message
                    ),
                    Some("fix the expression, or make it robust to this node's data".into()),
                    None,
                );
            }
        }
    }
    let evaluated = n - failed;
    for (si, set) in spec.compatibilities.iter().enumerate() {
        for (ri, rule) in set.rules.iter().enumerate() {
            let count = matched.get(&(si, ri)).copied().unwrap_or(0);
            let at = rule.name_span.unwrap_or(rule.span);
            let errors = if failed > 0 {
                format!(" ({failed} aborted)")
            } else {
                String::new()
            };
            out.push(
                "snapshot-match-count",
                at,
                format!(
                    "rule {:?} matches {count} of {evaluated} snapshot(s){errors}",
                    rule.name
                ),
                None,
                None,
            );
        }
    }
}
