//! Every lint rule, tested from its documentation: docs/lint-rules.md has, per rule, a wrong
//! example with the flagged text marked «like this» and a right example. The wrong one must
//! produce the rule at exactly the marked span; the right one must not produce it.

use nodefit_core::lint::{self, LintSnapshot, RULES};
use nodefit_core::snapshot;

const DOC: &str = include_str!("../../../docs/lint-rules.md");

struct Case {
    code: String,
    severity: String,
    wrong: String,
    right: String,
    snapshots: bool,
    /// The examples are NodeFeatureRule files.
    node_feature_rule: bool,
}

fn fenced_after(section: &str, label: &str) -> String {
    let start = section
        .find(label)
        .unwrap_or_else(|| panic!("no {label} in {section}"));
    let rest = &section[start..];
    let open = rest.find("```yaml\n").expect("yaml block") + "```yaml\n".len();
    let close = rest[open..].find("\n```").expect("closing fence");
    format!("{}\n", &rest[open..open + close])
}

fn cases() -> Vec<Case> {
    DOC.split("\n### `")
        .skip(1)
        .map(|section| {
            let (code, rest) = section.split_once('`').unwrap();
            let severity = rest
                .lines()
                .next()
                .unwrap()
                .trim_start_matches(" — ")
                .trim()
                .to_string();
            Case {
                code: code.to_string(),
                severity,
                wrong: fenced_after(section, "Wrong:"),
                right: fenced_after(section, "Right:"),
                snapshots: section.contains("*(with snapshots)*"),
                node_feature_rule: section.contains("*(NodeFeatureRule)*"),
            }
        })
        .collect()
}

#[test]
fn every_rule_is_documented_with_its_severity() {
    let cases = cases();
    for rule in RULES {
        let case = cases
            .iter()
            .find(|c| c.code == rule.code)
            .unwrap_or_else(|| panic!("docs/lint-rules.md has no section for `{}`", rule.code));
        assert_eq!(
            case.severity,
            rule.severity.as_str(),
            "severity of `{}` in the docs",
            rule.code
        );
    }
    assert_eq!(
        cases.len(),
        RULES.len(),
        "docs/lint-rules.md documents a rule that does not exist"
    );
}

#[test]
fn every_rule_fires_at_the_marked_span_and_only_on_the_wrong_example() {
    let sample = snapshot::parse(include_str!(
        "data/samples/intel-spr-h100-cx6.features.json"
    ))
    .unwrap();
    let with = [LintSnapshot {
        name: "intel-spr-h100-cx6",
        features: &sample.nodes[0].features,
    }];
    let mut failures = Vec::new();
    for case in cases() {
        let snapshots: &[LintSnapshot] = if case.snapshots { &with } else { &[] };
        let start = case.wrong.find('«').expect("a «marked» span");
        let end = case.wrong.find('»').expect("a «marked» span") - '«'.len_utf8();
        let wrong = case.wrong.replace(['«', '»'], "");
        let run = |src: &str| {
            if case.node_feature_rule {
                lint::lint_node_feature_rules(src)
            } else {
                lint::lint(src, snapshots)
            }
        };
        let found = run(&wrong);
        let hits: Vec<_> = found.iter().filter(|d| d.code == case.code).collect();
        if !hits
            .iter()
            .any(|d| (d.span.start, d.span.end) == (start, end))
        {
            failures.push(format!(
                "`{}`: want span {start}..{end} ({:?}), got {:?}",
                case.code,
                &wrong[start..end],
                hits.iter()
                    .map(|d| (
                        d.span.start,
                        d.span.end,
                        &wrong[d.span.start..d.span.end.max(d.span.start)]
                    ))
                    .collect::<Vec<_>>()
            ));
        }
        let right = run(&case.right);
        if let Some(d) = right.iter().find(|d| d.code == case.code) {
            failures.push(format!(
                "`{}` fires on the right example: {}",
                case.code, d.message
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_nfd_examples_lint_without_errors() {
    for src in [
        include_str!("data/examples/image-compatibility.yaml"),
        include_str!("data/examples/preferred-fallback.yaml"),
    ] {
        let errors: Vec<_> = lint::lint(src, &[])
            .into_iter()
            .filter(|d| d.severity == lint::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[test]
fn fixes_repair_what_they_claim_to() {
    let src = "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: gpu\n    matchFeatures:\n    - feature: pci.device\n      matchExpression:\n        class: {op: in, value: [0302]}\n";
    // Like `cargo fix`: fixing an unknown key exposes what was under it, so apply until stable.
    let mut fixed = src.to_string();
    for _ in 0..5 {
        fixed = lint::apply_fixes(&fixed, &lint::lint(&fixed, &[]));
    }
    assert_eq!(
        fixed,
        "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: gpu\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        class: {op: In, value: [\"0302\"]}\n"
    );
    assert!(lint::lint(&fixed, &[]).is_empty());
}

/// The spec lint hands back (which the editor evaluates on every keystroke) is the one
/// `parse_spec` decodes, and is there exactly when `parse_spec` can read the text: checked on
/// every wrong and right example of the rule reference and the NFD examples, by the answer each
/// gives on a sample node.
#[test]
fn the_spec_lint_decodes_is_the_one_parse_spec_reads() {
    let sample = snapshot::parse(include_str!(
        "data/samples/intel-spr-h100-cx6.features.json"
    ))
    .unwrap();
    let node = &sample.nodes[0].features;
    let mut texts: Vec<String> = cases()
        .into_iter()
        .flat_map(|c| [c.wrong.replace(['«', '»'], ""), c.right])
        .collect();
    texts.push(include_str!("data/examples/image-compatibility.yaml").into());
    texts.push(include_str!("data/examples/preferred-fallback.yaml").into());
    let mut decoded = 0;
    for text in &texts {
        let (_, from_lint) = lint::lint_and_decode(text);
        let parsed = nodefit_core::parse_spec(text);
        assert_eq!(from_lint.is_some(), parsed.is_ok(), "{text}");
        if let (Some(a), Ok(b)) = (from_lint, parsed) {
            decoded += 1;
            let answer = |spec| {
                nodefit_core::eval::evaluate(&spec, node, &Default::default())
                    .map(|e| format!("{:?}", nodefit_core::verdict::judge(&spec, &e).compatible))
                    .map_err(|e| e.message)
            };
            assert_eq!(answer(a), answer(b), "{text}");
        }
    }
    assert!(decoded > 20, "{decoded} of {} decoded", texts.len());
}
