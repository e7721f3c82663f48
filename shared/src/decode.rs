//! From the YAML tree to the spec model, exactly as `sigs.k8s.io/yaml` + `encoding/json` decode
//! into NFD's Go types: field names match case-insensitively, unknown fields are ignored,
//! duplicate keys keep the last value, numbers and booleans become strings where Go wants a
//! string, and a value of the wrong shape is a decode error (which makes NFD refuse the spec).
//!
//! Decoding never stops at the first problem: it returns the model it could build and every
//! error, so lint can report them all.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::gostr;
use crate::source::Span;
use crate::spec::{Compatibility, Expr, ExprSpans, MatchAnyElem, NamedExpr, Rule, Spec, Term};
use crate::yaml::{Entry, Node, Resolved, Value};

/// A place where Go's decoder would refuse the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// JSON-path-like location, e.g. `compatibilities[0].rules[1].matchFeatures[0].feature`.
    pub path: String,
    pub message: String,
    pub span: Span,
}

/// Decodes a spec document. `root` is `None` for an empty document (which Go decodes to an
/// empty spec without error).
pub fn decode_spec(root: Option<&Node>) -> (Spec, Vec<DecodeError>) {
    let mut d = Decoder::default();
    let spec = root.map_or_else(Spec::default, |n| d.spec(n));
    d.errors.sort_by_key(|e| e.span);
    (spec, d.errors)
}

/// The Go type a field has, for messages.
#[derive(Clone, Copy)]
pub(crate) enum Want {
    String,
    Int,
    List(&'static str),
    Object(&'static str),
}

impl Want {
    fn describe(self) -> String {
        match self {
            Want::String => "a string".into(),
            Want::Int => "an integer".into(),
            Want::List(of) => format!("a list of {of}"),
            Want::Object(what) => what.to_string(),
        }
    }
}

#[derive(Default)]
pub(crate) struct Decoder {
    pub errors: Vec<DecodeError>,
}

impl Decoder {
    fn error(&mut self, path: &str, span: Span, message: String) {
        self.errors.push(DecodeError {
            path: path.to_string(),
            message,
            span,
        });
    }

    fn type_error(&mut self, path: &str, node: &Node, want: Want) {
        let found = node.kind_name();
        let mut message = format!(
            "`{}` must be {}, found {}",
            leaf(path),
            want.describe(),
            a(found)
        );
        if let (Want::List(_), Value::Scalar(s)) = (want, &node.value) {
            message.push_str(&format!(
                "; write it as a list: [{}]",
                gostr::quote(&s.go_string())
            ));
        }
        self.error(path, node.span, message);
    }

    /// The entries of an object as Go sees them: keys converted to strings, duplicates resolved
    /// to the last one, in sorted key order (encoding/json meets them in that order, which
    /// decides between case variants of one field). `None` for null.
    pub(crate) fn object<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        want: Want,
    ) -> Option<Vec<(Cow<'n, str>, &'n Entry)>> {
        match &node.value {
            Value::Map(entries) => {
                let mut out: Vec<(Cow<'n, str>, &'n Entry)> = Vec::with_capacity(entries.len());
                for entry in entries {
                    let Some(key) = entry.key.as_scalar().and_then(|s| s.go_key()) else {
                        self.error(
                            path,
                            entry.key.span,
                            "a null map key is not supported".into(),
                        );
                        continue;
                    };
                    if let Some(slot) = out.iter_mut().find(|(k, _)| *k == key) {
                        slot.1 = entry;
                    } else {
                        out.push((key, entry));
                    }
                }
                out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                Some(out)
            }
            Value::Scalar(s) if s.resolved == Resolved::Null => None,
            _ => {
                self.type_error(path, node, want);
                None
            }
        }
    }

    /// Struct decoding: each entry matched to a field name case-insensitively, in key order.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        what: &'static str,
        names: &[&str],
    ) -> Vec<(usize, &'n Entry)> {
        let Some(entries) = self.object(node, path, Want::Object(what)) else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter_map(|(key, entry)| {
                names
                    .iter()
                    .position(|n| gostr::json_key_matches(&key, n))
                    .map(|i| (i, entry))
            })
            .collect()
    }

    fn list<'n>(&mut self, node: &'n Node, path: &str, of: &'static str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            Value::Scalar(s) if s.resolved == Resolved::Null => None,
            _ => {
                self.type_error(path, node, Want::List(of));
                None
            }
        }
    }

    pub(crate) fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar(s) => Some(s.go_string().into_owned()),
            _ => {
                self.type_error(path, node, Want::String);
                None
            }
        }
    }

    /// A Go `int`: the YAML value goes through JSON, so `5.0` is 5 but `5.5`, `"5"` and `true`
    /// are errors.
    fn int(&mut self, node: &Node, path: &str) -> Option<i64> {
        let Value::Scalar(s) = &node.value else {
            self.type_error(path, node, Want::Int);
            return None;
        };
        let value = match s.resolved {
            Resolved::Null => Some(0),
            Resolved::Int(i) => Some(i),
            Resolved::Uint(u) => i64::try_from(u).ok(),
            Resolved::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 => {
                (f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
            }
            _ => {
                self.type_error(path, node, Want::Int);
                return None;
            }
        };
        if value.is_none() {
            self.error(
                path,
                node.span,
                format!("`{}` is not a valid integer for Go's int", leaf(path)),
            );
        }
        value
    }

    fn strings(&mut self, node: &Node, path: &str) -> Vec<String> {
        let Some(items) = self.list(node, path, "strings") else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                self.string(item, &format!("{path}[{i}]"))
                    .unwrap_or_default()
            })
            .collect()
    }

    fn spec(&mut self, node: &Node) -> Spec {
        let mut spec = Spec::default();
        for (field, entry) in self.fields(
            node,
            "",
            "an object with `version` and `compatibilities`",
            &["version", "compatibilities"],
        ) {
            let v = &entry.value;
            match field {
                0 => {
                    spec.version = self.string(v, "version").unwrap_or_default();
                    spec.version_span = Some(v.span);
                }
                _ => {
                    spec.compatibilities_span = Some(v.span);
                    spec.compatibilities = self
                        .list(v, "compatibilities", "compatibility sets")
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .map(|(i, n)| self.compatibility(n, &format!("compatibilities[{i}]")))
                        .collect()
                }
            }
        }
        spec
    }

    fn compatibility(&mut self, node: &Node, path: &str) -> Compatibility {
        let mut set = Compatibility {
            span: node.span,
            ..Default::default()
        };
        for (field, entry) in self.fields(
            node,
            path,
            "a compatibility set (an object)",
            &["rules", "weight", "tag", "description"],
        ) {
            let v = &entry.value;
            match field {
                0 => {
                    set.rules_span = Some(v.span);
                    let p = format!("{path}.rules");
                    set.rules = self
                        .list(v, &p, "rules")
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .map(|(i, n)| self.rule(n, &format!("{p}[{i}]")))
                        .collect()
                }
                1 => {
                    set.weight = self.int(v, &format!("{path}.weight")).unwrap_or_default();
                    set.weight_span = Some(v.span);
                }
                2 => {
                    set.tag = self.string(v, &format!("{path}.tag")).unwrap_or_default();
                    set.tag_span = Some(v.span);
                }
                _ => {
                    set.description = self
                        .string(v, &format!("{path}.description"))
                        .unwrap_or_default()
                }
            }
        }
        set
    }

    fn rule(&mut self, node: &Node, path: &str) -> Rule {
        let mut rule = Rule {
            span: node.span,
            ..Default::default()
        };
        for (field, entry) in self.fields(
            node,
            path,
            "a rule (an object)",
            &["name", "vars", "varsTemplate", "matchFeatures", "matchAny"],
        ) {
            let v = &entry.value;
            match field {
                0 => {
                    rule.name = self.string(v, &format!("{path}.name")).unwrap_or_default();
                    rule.name_span = Some(v.span);
                }
                1 => {
                    // Go decodes into the existing map, so case variants of `vars` merge.
                    if let Some(vars) = string_map(self, v, &format!("{path}.vars")) {
                        rule.vars.extend(vars);
                    }
                }
                2 => {
                    rule.vars_template = self
                        .string(v, &format!("{path}.varsTemplate"))
                        .unwrap_or_default();
                    rule.vars_template_span = v.span;
                }
                3 => {
                    rule.match_features = self.terms(v, &format!("{path}.matchFeatures"));
                    rule.match_features_span = Some(v.span);
                }
                _ => {
                    rule.match_any_span = Some(v.span);
                    let p = format!("{path}.matchAny");
                    rule.match_any = self
                        .list(v, &p, "matchAny elements")
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .map(|(i, n)| {
                            let ep = format!("{p}[{i}]");
                            let mut elem = MatchAnyElem {
                                match_features: Vec::new(),
                                span: n.span,
                            };
                            for (_, e) in self.fields(
                                n,
                                &ep,
                                "a matchAny element (an object)",
                                &["matchFeatures"],
                            ) {
                                elem.match_features =
                                    self.terms(&e.value, &format!("{ep}.matchFeatures"));
                            }
                            elem
                        })
                        .collect()
                }
            }
        }
        rule
    }

    fn terms(&mut self, node: &Node, path: &str) -> Vec<Term> {
        self.list(node, path, "feature terms")
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, n)| self.term(n, &format!("{path}[{i}]")))
            .collect()
    }

    fn term(&mut self, node: &Node, path: &str) -> Term {
        let mut term = Term {
            span: node.span,
            feature_span: node.span,
            ..Default::default()
        };
        for (field, entry) in self.fields(
            node,
            path,
            "a feature term (an object)",
            &["feature", "matchExpressions", "matchName"],
        ) {
            let v = &entry.value;
            match field {
                0 => {
                    term.feature = self
                        .string(v, &format!("{path}.feature"))
                        .unwrap_or_default();
                    term.feature_span = v.span;
                }
                1 => {
                    let p = format!("{path}.matchExpressions");
                    if let Some(entries) =
                        self.object(v, &p, Want::Object("a map from element name to expression"))
                    {
                        // A pointer to a map in Go: case variants of the field merge into one map.
                        let set = term.match_expressions.get_or_insert_with(Vec::new);
                        for (name, e) in entries {
                            let expr = self.expr(&e.value, &format!("{p}.{name}"));
                            let named = NamedExpr {
                                name: name.into_owned(),
                                expr,
                                name_span: e.key.span,
                            };
                            match set.iter_mut().find(|x| x.name == named.name) {
                                Some(slot) => *slot = named,
                                None => set.push(named),
                            }
                        }
                    }
                }
                _ => term.match_name = self.expr(v, &format!("{path}.matchName")),
            }
        }
        term.lookup = gostr::to_lower(&term.feature);
        term
    }

    fn expr(&mut self, node: &Node, path: &str) -> Option<Expr> {
        if node.is_null() {
            return None;
        }
        let (mut op, mut value, mut value_type) = (String::new(), Vec::new(), String::new());
        let mut spans = ExprSpans::default();
        for (field, entry) in self.fields(
            node,
            path,
            "an expression (an object with `op`)",
            &["op", "value", "type"],
        ) {
            let v = &entry.value;
            match field {
                0 => {
                    op = self.string(v, &format!("{path}.op")).unwrap_or_default();
                    spans.op = Some(v.span);
                }
                1 => {
                    value = self.strings(v, &format!("{path}.value"));
                    spans.value = Some(v.span);
                    spans.value_is_list = matches!(v.value, Value::Seq(_)) || v.is_null();
                    spans.items = match &v.value {
                        Value::Seq(items) => items.iter().map(|n| n.span).collect(),
                        _ => Vec::new(),
                    };
                }
                _ => {
                    value_type = self.string(v, &format!("{path}.type")).unwrap_or_default();
                    spans.value_type = Some(v.span);
                }
            }
        }
        Some(Expr::new(op, value, value_type, node.span, spans))
    }
}

/// A Go `map[string]string`: `vars`, and snapshots' attributes and labels.
pub(crate) fn string_map(
    d: &mut Decoder,
    node: &Node,
    path: &str,
) -> Option<BTreeMap<String, String>> {
    let entries = d.object(node, path, Want::Object("a map of strings"))?;
    let mut out = BTreeMap::new();
    for (key, e) in entries {
        let value = d
            .string(&e.value, &format!("{path}.{key}"))
            .unwrap_or_default();
        out.insert(key.into_owned(), value);
    }
    Some(out)
}

fn leaf(path: &str) -> &str {
    let last = path.rsplit('.').next().unwrap_or(path);
    if last.is_empty() {
        "document"
    } else {
        last
    }
}

fn a(kind: &str) -> String {
    match kind {
        "array" | "object" => format!("an {kind}"),
        "null" => "null".into(),
        _ => format!("a {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn decode(src: &str) -> (Spec, Vec<DecodeError>) {
        let root = yaml::parse(src).unwrap();
        decode_spec(root.as_ref())
    }

    #[test]
    fn decodes_the_nfd_example() {
        let (spec, errors) = decode(include_str!(
            "../tests/data/examples/image-compatibility.yaml"
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(spec.version, "v1alpha1");
        let rules = &spec.compatibilities[0].rules;
        assert_eq!(rules[0].match_features[1].feature, "cpu.model");
        assert_eq!(rules[1].match_any.len(), 2);
        let exprs = rules[0].match_features[1]
            .match_expressions
            .as_ref()
            .unwrap();
        assert_eq!(exprs[0].expr.as_ref().unwrap().value, ["Intel", "AMD"]);
    }

    #[test]
    fn keys_are_case_insensitive_and_unknown_ones_ignored() {
        let (spec, errors) = decode(
            "Version: v1alpha1\ncompatibilities:\n- Rules:\n  - name: r\n    MatchFeatures:\n    - feature: CPU.Model\n      matchExpression: {x: {op: Exists}}\n",
        );
        assert!(errors.is_empty());
        let term = &spec.compatibilities[0].rules[0].match_features[0];
        assert_eq!(term.lookup, "cpu.model");
        assert!(term.match_expressions.is_none());
    }

    #[test]
    fn yaml11_values_are_coerced() {
        let (spec, _) = decode(
            "compatibilities:\n- rules:\n  - matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        class: {op: In, value: [0302, y, 5.10, ~]}\n        y: {op: Exists}\n",
        );
        let exprs = spec.compatibilities[0].rules[0].match_features[0]
            .match_expressions
            .as_ref()
            .unwrap();
        assert_eq!(
            exprs[0].expr.as_ref().unwrap().value,
            ["194", "true", "5.1", ""]
        );
        assert_eq!(exprs[1].name, "true");
    }

    #[test]
    fn wrong_shapes_are_errors_with_paths() {
        let (_, errors) = decode(
            "compatibilities:\n- weight: 1.5\n  rules:\n  - matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: Intel}\n",
        );
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "compatibilities[0].weight",
                "compatibilities[0].rules[0].matchFeatures[0].matchExpressions.vendor_id.value"
            ]
        );
        assert!(
            errors[1].message.contains("[\"Intel\"]"),
            "{}",
            errors[1].message
        );
    }

    #[test]
    fn null_and_empty_are_kept_apart() {
        let (spec, _) = decode(
            "compatibilities:\n- rules:\n  - matchFeatures:\n    - feature: a.b\n      matchExpressions: {}\n    - feature: a.b\n      matchExpressions: ~\n    - feature: a.b\n      matchExpressions: {x: ~}\n",
        );
        let terms = &spec.compatibilities[0].rules[0].match_features;
        assert_eq!(terms[0].match_expressions.as_ref().map(Vec::len), Some(0));
        assert!(terms[1].match_expressions.is_none());
        assert!(terms[2].match_expressions.as_ref().unwrap()[0]
            .expr
            .is_none());
    }

    #[test]
    fn weights_go_through_json_numbers() {
        for (text, want) in [
            ("10", Some(10)),
            ("10.0", Some(10)),
            ("1e2", Some(100)),
            ("0x10", Some(16)),
            ("~", Some(0)),
        ] {
            let (spec, errors) = decode(&format!("compatibilities:\n- weight: {text}\n"));
            assert_eq!(errors.is_empty(), want.is_some(), "{text}");
            assert_eq!(Some(spec.compatibilities[0].weight), want, "{text}");
        }
        for text in ["'10'", "true", "1.5", ".inf", "[1]"] {
            let (_, errors) = decode(&format!("compatibilities:\n- weight: {text}\n"));
            assert_eq!(errors.len(), 1, "{text}");
        }
    }
}
