//! What evaluating the editor's text on stored snapshots shows, computed by the core in the
//! browser exactly as `nodefit test` does: per node the verdict, every set, rule and expression
//! with the node's values, and for instance features (pci.device, usb.device, ...) which
//! instance matched and which expression failed on the others; and for a small fleet, a
//! summary of every stored snapshot. Pure: no DOM, unit-tested on the host.

use nodefit_core::eval::{self, Options};
use nodefit_core::features::Features;
use nodefit_core::report::{MatchedExpression, MatcherType};
use nodefit_core::source::LineIndex;
use nodefit_core::spec::{Spec, Term};
use nodefit_core::verdict;

use crate::builder;

/// The most stored snapshots the browser evaluates on every edit for the fleet summary beside
/// the editor; past it the Fleet tab asks the server.
pub const FLEET_SUMMARY_CAP: usize = 100;

#[derive(Clone, Debug, PartialEq)]
pub struct ExprView {
    pub feature: String,
    pub element: String,
    pub expression: String,
    pub is_match: bool,
    pub actual: String,
}

/// One instance of an instance feature against one term's expressions.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceRow {
    /// Position in the node's list of instances.
    pub index: usize,
    pub matched: bool,
    /// Per expression: element, the instance's value, and whether it held (or the error).
    pub checks: Vec<(String, Option<String>, Result<bool, String>)>,
}

/// A term on an instance feature, instance by instance.
#[derive(Clone, Debug, PartialEq)]
pub struct TermInstances {
    pub feature: String,
    pub rows: Vec<InstanceRow>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuleView {
    pub name: String,
    pub is_match: bool,
    pub expressions: Vec<ExprView>,
    /// One list per `matchAny` element.
    pub any: Vec<Vec<ExprView>>,
    /// Terms of the rule on instance features the node has.
    pub instances: Vec<TermInstances>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SetView {
    pub index: usize,
    pub title: String,
    pub is_match: bool,
    pub best: bool,
    pub rules: Vec<RuleView>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeResult {
    pub id: i64,
    pub node: String,
    pub compatible: bool,
    pub verdict: String,
    pub sets: Vec<SetView>,
}

impl NodeResult {
    /// The rules that failed, as `set: rule` (empty when compatible).
    pub fn failing(&self) -> Vec<String> {
        if self.compatible {
            return Vec::new();
        }
        self.sets
            .iter()
            .flat_map(|s| {
                s.rules
                    .iter()
                    .filter(|r| !r.is_match)
                    .map(move |r| format!("#{} {}", s.index + 1, r.name))
            })
            .collect()
    }
}

fn expr_view(m: &MatchedExpression) -> ExprView {
    let expression = match (m.matcher_type, m.expression) {
        (MatcherType::MatchName, Some(e)) => {
            format!(
                "matchName {}",
                builder::expression(&e.op, &e.value, &e.value_type)
            )
        }
        (_, Some(e)) => builder::expression(&e.op, &e.value, &e.value_type),
        (_, None) => "null".to_string(),
    };
    ExprView {
        feature: m.feature.to_string(),
        element: m.name.to_string(),
        expression,
        is_match: m.is_match,
        actual: verdict::actual_text(m.actual.as_deref(), None),
    }
}

fn set_title(spec: &Spec, index: usize) -> String {
    let set = &spec.compatibilities[index];
    let mut title = format!("Set #{}", index + 1);
    if !set.tag.is_empty() {
        title.push_str(&format!(" [{}]", set.tag));
    }
    title.push_str(&format!(" weight {}", set.weight));
    if !set.description.is_empty() {
        title.push_str(&format!(": {}", set.description));
    }
    title
}

/// A term's expressions on each instance of its feature, when the node has it as an instance
/// feature; matched instances first.
fn term_instances(term: &Term, features: &Features) -> Option<TermInstances> {
    let exprs = term.match_expressions.as_ref()?;
    let instances = features
        .instances
        .get(term.lookup.as_str())?
        .elements
        .as_ref()?;
    let mut rows: Vec<InstanceRow> = instances
        .iter()
        .enumerate()
        .map(|(index, instance)| {
            let checks: Vec<_> = exprs
                .iter()
                .map(|named| {
                    let value = instance
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get(named.name.as_str()))
                        .map(|v| v.to_string());
                    let held = match &named.expr {
                        Some(expr) => eval::holds(expr, value.as_deref()),
                        None => Err("the expression is null".to_string()),
                    };
                    (named.name.clone(), value, held)
                })
                .collect();
            InstanceRow {
                index,
                matched: checks.iter().all(|(_, _, held)| held == &Ok(true)),
                checks,
            }
        })
        .collect();
    rows.sort_by_key(|r| (!r.matched, r.index));
    Some(TermInstances {
        feature: term.feature.clone(),
        rows,
    })
}

/// The spec, decoded; `Err` says why NFD cannot read it, for people.
pub fn decode(text: &str) -> Result<Spec, String> {
    nodefit_core::parse_spec(text).map_err(|errors| {
        let first = errors.first().map(|e| {
            let (line, column) = LineIndex::new(text).line_col(e.span.start);
            format!("line {line}, column {column}: {}", e.message)
        });
        format!(
            "NFD cannot read the spec as it is now ({} error(s); first at {}). Fix it in the Editor: the Problems list shows each.",
            errors.len(),
            first.unwrap_or_default()
        )
    })
}

/// Evaluates the decoded spec on one node (snapshot `id`, called `node`): with `detail`, every
/// expression with the node's values and the instances (the Test tab); without, the verdict
/// and each rule's outcome, which is what the panel beside the editor shows and costs a
/// fraction of the report on every keystroke.
pub fn evaluate(
    spec: &Spec,
    text: &str,
    (id, node): (i64, &str),
    features: &Features,
    tags: &[String],
    detail: bool,
) -> NodeResult {
    let options = Options {
        tags: tags.to_vec(),
        ..Options::default()
    };
    let evaluation = match eval::evaluate(spec, features, &options) {
        Ok(e) => e,
        Err(e) => {
            let (line, column) = LineIndex::new(text).line_col(e.span.start);
            return NodeResult {
                id,
                node: node.to_string(),
                compatible: false,
                verdict: format!(
                    "ERROR line {line}, column {column}: {} ({})",
                    e.message,
                    verdict::error_note(&e)
                ),
                sets: Vec::new(),
            };
        }
    };
    // Decided and worded by the core, as `nodefit test` prints it.
    if !detail {
        let judged = verdict::judge(spec, &evaluation);
        return NodeResult {
            id,
            node: node.to_string(),
            compatible: judged.compatible,
            verdict: judged.to_string(),
            sets: judged
                .sets
                .iter()
                .map(|s| SetView {
                    index: s.index,
                    title: set_title(spec, s.index),
                    is_match: s.is_match,
                    best: judged.best_set == Some(s.index),
                    rules: s
                        .rules
                        .iter()
                        .map(|r| RuleView {
                            name: r.name.to_string(),
                            is_match: r.is_match,
                            expressions: Vec::new(),
                            any: Vec::new(),
                            instances: Vec::new(),
                        })
                        .collect(),
                })
                .collect(),
        };
    }
    let judged = verdict::explain(spec, &evaluation, features);
    let sets = judged
        .report
        .iter()
        .flatten()
        .map(|s| SetView {
            index: s.index,
            title: set_title(spec, s.index),
            is_match: s.is_match,
            best: s.best,
            rules: s
                .rules
                .iter()
                .flatten()
                .zip(&spec.compatibilities[s.index].rules)
                .map(|(r, rule)| RuleView {
                    name: r.name.to_string(),
                    is_match: r.is_match,
                    expressions: r.matched_expressions.iter().map(expr_view).collect(),
                    any: r
                        .matched_any
                        .iter()
                        .map(|a| {
                            a.matched_expressions
                                .iter()
                                .flatten()
                                .map(expr_view)
                                .collect()
                        })
                        .collect(),
                    instances: rule
                        .match_features
                        .iter()
                        .chain(rule.match_any.iter().flat_map(|a| &a.match_features))
                        .filter_map(|t| term_instances(t, features))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    NodeResult {
        id,
        node: node.to_string(),
        compatible: judged.compatible,
        verdict: judged.to_string(),
        sets,
    }
}

/// The fleet beside the editor: how many nodes are compatible, and per set how many matched.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FleetSummary {
    pub total: usize,
    pub compatible: usize,
    /// Nodes on which NFD would abort validation.
    pub errors: usize,
    /// Per evaluated set: its title and on how many nodes it matched.
    pub sets: Vec<(String, usize)>,
}

/// Judges the decoded spec on every node (the cheap verdict, without the report).
pub fn fleet_summary<'a>(
    spec: &Spec,
    nodes: impl IntoIterator<Item = &'a Features>,
    tags: &[String],
) -> FleetSummary {
    let options = Options {
        tags: tags.to_vec(),
        ..Options::default()
    };
    let mut summary = FleetSummary::default();
    let mut matched = vec![0usize; spec.compatibilities.len()];
    let mut evaluated = vec![false; spec.compatibilities.len()];
    for features in nodes {
        summary.total += 1;
        match eval::evaluate(spec, features, &options) {
            Ok(evaluation) => {
                let judged = verdict::judge(spec, &evaluation);
                summary.compatible += usize::from(judged.compatible);
                for set in &judged.sets {
                    evaluated[set.index] = true;
                    matched[set.index] += usize::from(set.is_match);
                }
            }
            Err(_) => summary.errors += 1,
        }
    }
    summary.sets = (0..spec.compatibilities.len())
        .filter(|i| evaluated[*i])
        .map(|i| (set_title(spec, i), matched[i]))
        .collect();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(json: &str) -> Features {
        nodefit_core::snapshot::parse(json)
            .unwrap()
            .nodes
            .remove(0)
            .features
    }

    #[test]
    fn verdict_and_actual_values() {
        let f = features(r#"{"attributes":{"cpu.model":{"elements":{"vendor_id":"AMD"}}}}"#);
        let text = "version: v1alpha1\ncompatibilities:\n- tag: intel\n  rules:\n  - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel]}\n";
        let spec = decode(text).unwrap();
        let r = evaluate(&spec, text, (1, "n1"), &f, &[], true);
        assert!(!r.compatible);
        assert!(r.verdict.starts_with("FAIL"));
        assert_eq!(r.failing(), ["#1 cpu"]);
        // Without detail: the same verdict and rule outcomes, no report.
        let brief = evaluate(&spec, text, (1, "n1"), &f, &[], false);
        assert_eq!(
            (brief.verdict.as_str(), brief.failing()),
            (r.verdict.as_str(), r.failing())
        );
        assert!(brief.sets[0].rules[0].expressions.is_empty());
        let e = &r.sets[0].rules[0].expressions[0];
        assert_eq!(e.actual, "AMD");
        assert_eq!(e.expression, "{op: In, value: [Intel]}");
        let text = text.replace("Intel", "AMD");
        let r = evaluate(&decode(&text).unwrap(), &text, (1, "n1"), &f, &[], true);
        assert!(r.compatible);
        assert_eq!(
            r.verdict,
            "OK compatible: best set #1, tag \"intel\", weight 0"
        );
        let refused = decode("version: v1alpha1\ncompatibilities: 3\n").unwrap_err();
        assert!(refused.contains("line 2, column 18"), "{refused}");
    }

    #[test]
    fn instances_show_which_matched_and_which_expression_failed() {
        let f = features(
            r#"{"instances":{"pci.device":{"elements":[
                {"attributes":{"vendor":"8086","class":"0300"}},
                {"attributes":{"vendor":"10de","class":"0302"}},
                {"attributes":{"vendor":"8086","class":"0200"}}]}}}"#,
        );
        let text = "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: nic\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        vendor: {op: In, value: [\"8086\"]}\n        class: {op: In, value: [\"0200\"]}\n";
        let r = evaluate(&decode(text).unwrap(), text, (1, "n"), &f, &[], true);
        assert!(r.compatible);
        let term = &r.sets[0].rules[0].instances[0];
        assert_eq!(term.feature, "pci.device");
        // The matching instance comes first.
        assert_eq!(
            term.rows
                .iter()
                .map(|r| (r.index, r.matched))
                .collect::<Vec<_>>(),
            [(2, true), (0, false), (1, false)]
        );
        // In the order the core holds the expressions (by element name, as Go's map).
        let first_intel = &term.rows[1];
        assert_eq!(
            first_intel.checks,
            [
                ("class".to_string(), Some("0300".to_string()), Ok(false)),
                ("vendor".to_string(), Some("8086".to_string()), Ok(true)),
            ]
        );
    }

    #[test]
    fn the_fleet_summary_counts_nodes_and_sets() {
        let amd = features(r#"{"attributes":{"cpu.model":{"elements":{"vendor_id":"AMD"}}}}"#);
        let intel = features(r#"{"attributes":{"cpu.model":{"elements":{"vendor_id":"Intel"}}}}"#);
        let text = "version: v1alpha1\ncompatibilities:\n- tag: intel\n  rules:\n  - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel]}\n- tag: any\n  rules: []\n";
        let spec = decode(text).unwrap();
        let s = fleet_summary(&spec, [&amd, &intel, &amd], &[]);
        assert_eq!((s.total, s.compatible, s.errors), (3, 3, 0));
        assert_eq!(s.sets[0], ("Set #1 [intel] weight 0".to_string(), 1));
        assert_eq!(s.sets[1].1, 3);
        let only_intel = fleet_summary(&spec, [&amd, &intel], &["intel".to_string()]);
        assert_eq!((only_intel.compatible, only_intel.sets.len()), (1, 1));
    }
}
