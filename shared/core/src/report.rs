//! The report of `nfd compat validate-node --output-json`, so that tools reading NFD's JSON read
//! ours: a list of compatibility statuses with per-rule and per-expression results.
//!
//! Extra fields, which NFD's parsers ignore: per set `isMatch` (all rules matched) and `best`
//! (the matched set with the highest weight); per expression `actual`, the node's value(s)
//! the expression was compared with. Per-expression `isMatch` is the truth where NFD's is not
//! (docs/nfd-compatibility.md lists where).

use serde::Serialize;

use crate::eval::{Evaluation, MatcherOutcome, RuleOutcome, RULE_MATCHED};
use crate::features::Features;
use crate::spec::{Expr, Rule, Spec, Term};

#[derive(Clone, Debug, Serialize)]
pub struct CompatibilityStatus<'a> {
    /// `null` for a set without rules, as in NFD.
    pub rules: Option<Vec<RuleStatus<'a>>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub description: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    pub weight: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub tag: &'a str,
    #[serde(rename = "isMatch")]
    pub is_match: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub best: bool,
    /// Index of the set in the spec (sets filtered out by tags are not reported).
    #[serde(skip)]
    pub index: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleStatus<'a> {
    pub name: &'a str,
    #[serde(rename = "isMatch")]
    pub is_match: bool,
    #[serde(rename = "matchedExpressions", skip_serializing_if = "Vec::is_empty")]
    pub matched_expressions: Vec<MatchedExpression<'a>>,
    #[serde(rename = "matchedAny", skip_serializing_if = "Vec::is_empty")]
    pub matched_any: Vec<MatchAnyStatus<'a>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MatchAnyStatus<'a> {
    /// `null` when the element has no expression-bearing term, as in NFD.
    #[serde(rename = "matchedExpressions")]
    pub matched_expressions: Option<Vec<MatchedExpression<'a>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum MatcherType {
    #[serde(rename = "matchExpression")]
    MatchExpression,
    #[serde(rename = "matchName")]
    MatchName,
}

#[derive(Clone, Debug, Serialize)]
pub struct MatchedExpression<'a> {
    pub feature: &'a str,
    /// The element name; "" for matchName.
    pub name: &'a str,
    /// `null` for an expression written as null (`foo: ~`) on a missing feature.
    pub expression: Option<&'a Expr>,
    #[serde(rename = "matcherType")]
    pub matcher_type: MatcherType,
    #[serde(rename = "isMatch")]
    pub is_match: bool,
    /// The node's values for this element (an attribute's value, each instance's value, the
    /// flag's name when present; every name for matchName). Absent when the feature is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<Vec<String>>,
}

fn is_zero(w: &i64) -> bool {
    *w == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Builds the report of one evaluation.
pub fn build<'a>(
    spec: &'a Spec,
    evaluation: &Evaluation,
    features: &Features,
) -> Vec<CompatibilityStatus<'a>> {
    let best = evaluation.best_set(spec);
    evaluation
        .sets
        .iter()
        .map(|set| {
            let compat = &spec.compatibilities[set.index];
            let rules: Vec<RuleStatus> = compat
                .rules
                .iter()
                .zip(&set.rules)
                .map(|(rule, outcome)| rule_status(rule, outcome, features))
                .collect();
            CompatibilityStatus {
                rules: (!rules.is_empty()).then_some(rules),
                description: &compat.description,
                weight: compat.weight,
                tag: &compat.tag,
                is_match: set.is_match(),
                best: best == Some(set.index),
                index: set.index,
            }
        })
        .collect()
}

fn rule_status<'a>(rule: &'a Rule, outcome: &RuleOutcome, features: &Features) -> RuleStatus<'a> {
    let values = Values {
        features,
        rule_matched: outcome.rule_matched_seen.as_ref(),
    };
    let matched_expressions = if rule.match_features.is_empty() {
        Vec::new()
    } else {
        expressions(&rule.match_features, &outcome.match_features, &values)
    };
    let matched_any = rule
        .match_any
        .iter()
        .zip(&outcome.match_any)
        .map(|(elem, o)| {
            let e = expressions(&elem.match_features, o, &values);
            MatchAnyStatus {
                matched_expressions: (!e.is_empty()).then_some(e),
            }
        })
        .collect();
    RuleStatus {
        name: &rule.name,
        is_match: outcome.is_match,
        matched_expressions,
        matched_any,
    }
}

struct Values<'a> {
    features: &'a Features,
    rule_matched: Option<&'a std::collections::BTreeMap<String, String>>,
}

impl Values<'_> {
    fn actual(&self, term: &Term, element: Option<&str>) -> Option<Vec<String>> {
        let name = term.lookup.as_str();
        if name == RULE_MATCHED {
            if let Some(rm) = self.rule_matched {
                return Some(match element {
                    Some(e) => rm.get(e).into_iter().cloned().collect(),
                    None => rm.keys().cloned().collect(),
                });
            }
        }
        if !self.features.contains(name) {
            return None;
        }
        Some(match element {
            None => self
                .features
                .element_names(name)
                .into_iter()
                .map(str::to_string)
                .collect(),
            Some(e) => {
                let flag = self
                    .features
                    .flags
                    .get(name)
                    .and_then(|f| f.elements.as_ref())
                    .is_some_and(|f| f.contains(e));
                let mut out: Vec<String> = if flag {
                    vec![e.to_string()]
                } else {
                    Vec::new()
                };
                out.extend(
                    self.features
                        .element_values(name, e)
                        .into_iter()
                        .map(str::to_string),
                );
                out
            }
        })
    }
}

fn expressions<'a>(
    terms: &'a [Term],
    outcome: &MatcherOutcome,
    values: &Values,
) -> Vec<MatchedExpression<'a>> {
    let mut out = Vec::new();
    for (term, t) in terms.iter().zip(&outcome.terms) {
        for (i, named) in term.match_expressions.iter().flatten().enumerate() {
            out.push(MatchedExpression {
                feature: &term.feature,
                name: &named.name,
                expression: named.expr.as_ref(),
                matcher_type: MatcherType::MatchExpression,
                is_match: t.expressions.get(i).copied().unwrap_or(false),
                actual: values.actual(term, Some(&named.name)),
            });
        }
        if let Some(expr) = &term.match_name {
            out.push(MatchedExpression {
                feature: &term.feature,
                name: "",
                expression: Some(expr),
                matcher_type: MatcherType::MatchName,
                is_match: t.match_name.unwrap_or(false),
                actual: values.actual(term, None),
            });
        }
    }
    // NFD sorts by feature, element name, then the expression's String().
    out.sort_by_cached_key(|m| {
        (
            m.feature.to_string(),
            m.name.to_string(),
            m.expression.map(|e| e.to_string()).unwrap_or_default(),
        )
    });
    out
}

/// Serializes like Go's `json.Marshal`: compact, with `<`, `>`, `&`, U+2028 and U+2029 escaped.
pub fn to_go_json<T: Serialize + ?Sized>(value: &T) -> String {
    go_json(value, serde_json::ser::CompactFormatter)
}

/// Like Go's `json.MarshalIndent(v, "", "    ")` (how `nfd export features` prints), plus a
/// final newline.
pub fn to_go_json_indent<T: Serialize + ?Sized>(value: &T) -> String {
    let mut text = go_json(
        value,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    text.push('\n');
    text
}

fn go_json<T: Serialize + ?Sized, F: serde_json::ser::Formatter>(value: &T, inner: F) -> String {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, GoEscaping(inner));
    value
        .serialize(&mut ser)
        .expect("reports and features contain only strings, numbers, lists and maps");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// A serde_json formatter that escapes strings as Go's encoder does; layout is `F`'s.
struct GoEscaping<F>(F);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $name<W: ?Sized + std::io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> std::io::Result<()> {
            self.0.$name(w $(, $arg)*)
        })*
    };
}

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for GoEscaping<F> {
    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}
