//! From the YAML tree to the spec model, exactly as `sigs.k8s.io/yaml` + `encoding/json` decode
//! into NFD's Go types: field names match case-insensitively, unknown fields are ignored,
//! duplicate keys keep the last value, numbers and booleans become strings where Go wants a
//! string, and a value of the wrong shape is a decode error (which makes NFD refuse the spec).
//!
//! Decoding never stops at the first problem: it returns the model it could build and every
//! error, so lint can report them all.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::budget::{self, Limit};
use crate::goregex::{self, PatternError, Regex};
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
    /// Set when the spec is refused because it goes over one of nodefit's budgets, not because
    /// Go would refuse it.
    pub budget: Option<&'static Limit>,
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

/// Where a value sits in the document: built on the stack while decoding and rendered
/// (`compatibilities[0].rules[1].name`) only for an error.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    /// A prefix rendered by the caller.
    Text(&'a str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    pub(crate) fn render(&self) -> String {
        match self {
            Path::Root => String::new(),
            Path::Text(t) => t.to_string(),
            Path::Field(parent, name) => {
                let p = parent.render();
                if p.is_empty() {
                    name.to_string()
                } else {
                    format!("{p}.{name}")
                }
            }
            Path::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }

    /// The last field name, for messages ("`value` must be...").
    fn leaf(&self) -> String {
        match self {
            Path::Field(_, name) => name.to_string(),
            Path::Index(parent, _) => parent.leaf(),
            Path::Text(t) => t.rsplit('.').next().unwrap_or(t).to_string(),
            Path::Root => "document".into(),
        }
    }
}

#[derive(Default)]
pub(crate) struct Decoder {
    pub errors: Vec<DecodeError>,
    /// Each distinct `InRegexp` pattern compiled once: specs repeat patterns, and compiling
    /// dominates decoding.
    regexes: HashMap<String, Result<Regex, PatternError>>,
    /// Compiled bytes held by `regexes`, plus what refused patterns cost to try
    /// ([`budget::REGEX_SPEC`]).
    regex_bytes: usize,
}

impl Decoder {
    fn error(&mut self, path: &Path, span: Span, message: String) {
        self.errors.push(DecodeError {
            path: path.render(),
            message,
            span,
            budget: None,
        });
    }

    /// Compiles a pattern within the spec's regex budget. Once the budget is spent, patterns
    /// are refused without being compiled: compiling is the expensive part, and a spec of
    /// thousands of large patterns must not cost minutes before it is refused.
    pub(crate) fn compile_regex(&mut self, pattern: &str) -> Result<Regex, PatternError> {
        if let Some(known) = self.regexes.get(pattern) {
            return known.clone();
        }
        let result = if self.regex_bytes >= budget::REGEX_SPEC.value {
            Err(PatternError::over(&budget::REGEX_SPEC))
        } else {
            match goregex::compile(pattern) {
                Ok(re) if self.regex_bytes + re.memory_usage() > budget::REGEX_SPEC.value => {
                    self.regex_bytes = budget::REGEX_SPEC.value;
                    Err(PatternError::over(&budget::REGEX_SPEC))
                }
                Ok(re) => {
                    self.regex_bytes += re.memory_usage();
                    Ok(re)
                }
                Err(e) => {
                    if e.budget == Some(&budget::REGEX_PATTERN) {
                        // Refused at the per-pattern limit, after building that much.
                        self.regex_bytes += budget::REGEX_PATTERN.value;
                    }
                    Err(e)
                }
            }
        };
        self.regexes.insert(pattern.to_string(), result.clone());
        result
    }

    fn type_error(&mut self, path: &Path, node: &Node, want: Want) {
        let found = node.kind_name();
        let mut message = format!(
            "`{}` must be {}, found {}",
            path.leaf(),
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
        path: &Path,
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
                    out.push((key, entry));
                }
                // A stable sort keeps duplicates in document order; the last one wins. (Sorting
                // first keeps this linear-logarithmic in the mapping's size.)
                out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.dedup_by(|later, earlier| {
                    let same = later.0 == earlier.0;
                    if same {
                        earlier.1 = later.1;
                    }
                    same
                });
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
        path: &Path,
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

    fn list<'n>(&mut self, node: &'n Node, path: &Path, of: &'static str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            Value::Scalar(s) if s.resolved == Resolved::Null => None,
            _ => {
                self.type_error(path, node, Want::List(of));
                None
            }
        }
    }

    pub(crate) fn string(&mut self, node: &Node, path: &Path) -> Option<String> {
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
    fn int(&mut self, node: &Node, path: &Path) -> Option<i64> {
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
                format!("`{}` is not a valid integer for Go's int", path.leaf()),
            );
        }
        value
    }

    fn strings(&mut self, node: &Node, path: &Path) -> Vec<String> {
        let Some(items) = self.list(node, path, "strings") else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.string(item, &Path::Index(path, i)).unwrap_or_default())
            .collect()
    }

    fn spec(&mut self, node: &Node) -> Spec {
        let mut spec = Spec::default();
        for (field, entry) in self.fields(
            node,
            &Path::Root,
            "an object with `version` and `compatibilities`",
            &["version", "compatibilities"],
        ) {
            let v = &entry.value;
            match field {
                0 => {
                    spec.version = self
                        .string(v, &Path::Field(&Path::Root, "version"))
                        .unwrap_or_default();
                    spec.version_span = Some(v.span);
                }
                _ => {
                    spec.compatibilities_span = Some(v.span);
                    let sets = Path::Field(&Path::Root, "compatibilities");
                    spec.compatibilities = self
                        .list(v, &sets, "compatibility sets")
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .map(|(i, n)| self.compatibility(n, &Path::Index(&sets, i)))
                        .collect()
                }
            }
        }
        spec
    }

    fn compatibility(&mut self, node: &Node, path: &Path) -> Compatibility {
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
                    let p = Path::Field(path, "rules");
                    set.rules = self
                        .list(v, &p, "rules")
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .map(|(i, n)| self.rule(n, &Path::Index(&p, i)))
                        .collect()
                }
                1 => {
                    set.weight = self
                        .int(v, &Path::Field(path, "weight"))
                        .unwrap_or_default();
                    set.weight_span = Some(v.span);
                }
                2 => {
                    set.tag = self
                        .string(v, &Path::Field(path, "tag"))
                        .unwrap_or_default();
                    set.tag_span = Some(v.span);
                }
                _ => {
                    set.description = self
                        .string(v, &Path::Field(path, "description"))
                        .unwrap_or_default()
                }
            }
        }
        set
    }

    fn rule(&mut self, node: &Node, path: &Path) -> Rule {
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
                    rule.name = self
                        .string(v, &Path::Field(path, "name"))
                        .unwrap_or_default();
                    rule.name_span = Some(v.span);
                }
                1 => {
                    // Go decodes into the existing map, so case variants of `vars` merge.
                    if let Some(vars) =
                        string_map::<BTreeMap<_, _>>(self, v, &Path::Field(path, "vars"))
                    {
                        rule.vars.extend(vars);
                    }
                }
                2 => {
                    rule.vars_template = self
                        .string(v, &Path::Field(path, "varsTemplate"))
                        .unwrap_or_default();
                    rule.vars_template_span = v.span;
                }
                3 => {
                    rule.match_features = self.terms(v, &Path::Field(path, "matchFeatures"));
                    rule.match_features_span = Some(v.span);
                }
                _ => {
                    rule.match_any_span = Some(v.span);
                    let p = Path::Field(path, "matchAny");
                    rule.match_any = self
                        .list(v, &p, "matchAny elements")
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .map(|(i, n)| {
                            let ep = Path::Index(&p, i);
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
                                    self.terms(&e.value, &Path::Field(&ep, "matchFeatures"));
                            }
                            elem
                        })
                        .collect()
                }
            }
        }
        rule
    }

    fn terms(&mut self, node: &Node, path: &Path) -> Vec<Term> {
        self.list(node, path, "feature terms")
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, n)| self.term(n, &Path::Index(path, i)))
            .collect()
    }

    fn term(&mut self, node: &Node, path: &Path) -> Term {
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
                        .string(v, &Path::Field(path, "feature"))
                        .unwrap_or_default();
                    term.feature_span = v.span;
                }
                1 => {
                    let p = Path::Field(path, "matchExpressions");
                    if let Some(entries) =
                        self.object(v, &p, Want::Object("a map from element name to expression"))
                    {
                        // A pointer to a map in Go: case variants of the field merge into one map.
                        let set = term.match_expressions.get_or_insert_with(Vec::new);
                        let mut slots: HashMap<String, usize> = set
                            .iter()
                            .enumerate()
                            .map(|(i, x)| (x.name.clone(), i))
                            .collect();
                        for (name, e) in entries {
                            let expr = self.expr(&e.value, &Path::Field(&p, &name));
                            let named = NamedExpr {
                                name: name.into_owned(),
                                expr,
                                name_span: e.key.span,
                            };
                            match slots.get(&named.name) {
                                Some(&i) => set[i] = named,
                                None => {
                                    slots.insert(named.name.clone(), set.len());
                                    set.push(named);
                                }
                            }
                        }
                    }
                }
                _ => term.match_name = self.expr(v, &Path::Field(path, "matchName")),
            }
        }
        term.lookup = gostr::to_lower(&term.feature);
        term
    }

    fn expr(&mut self, node: &Node, path: &Path) -> Option<Expr> {
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
                    op = self.string(v, &Path::Field(path, "op")).unwrap_or_default();
                    spans.op = Some(v.span);
                }
                1 => {
                    value = self.strings(v, &Path::Field(path, "value"));
                    spans.value = Some(v.span);
                    spans.value_is_list = matches!(v.value, Value::Seq(_)) || v.is_null();
                    spans.items = match &v.value {
                        Value::Seq(items) => items.iter().map(|n| n.span).collect(),
                        _ => Vec::new(),
                    };
                }
                _ => {
                    value_type = self
                        .string(v, &Path::Field(path, "type"))
                        .unwrap_or_default();
                    spans.value_type = Some(v.span);
                }
            }
        }
        let expr =
            Expr::with_regex_compiler(op, value, value_type, node.span, spans, &mut |pattern| {
                self.compile_regex(pattern)
            });
        // Go would compile these patterns; refusing the spec here, where the pattern is
        // written, is clearer than an error at evaluation time, and nothing of it is kept.
        for (i, e) in expr.regex_errors() {
            if let Some(limit) = e.budget {
                let value_path = Path::Field(path, "value");
                self.errors.push(DecodeError {
                    path: Path::Index(&value_path, i).render(),
                    message: e.message.clone(),
                    span: expr.spans.items.get(i).copied().unwrap_or(expr.span),
                    budget: Some(limit),
                });
            }
        }
        Some(expr)
    }
}

/// A Go `map[string]string`: `vars`, and snapshots' attributes and labels.
pub(crate) fn string_map<M>(d: &mut Decoder, node: &Node, path: &Path) -> Option<M>
where
    M: Default + Extend<(M::Key, M::Value)> + StringMap,
{
    let entries = d.object(node, path, Want::Object("a map of strings"))?;
    let mut out = M::default();
    for (key, e) in entries {
        let value = d
            .string(&e.value, &Path::Field(path, &key))
            .unwrap_or_default();
        out.extend([(key.into_owned().into(), value.into())]);
    }
    Some(out)
}

/// A map of strings `string_map` can fill: spec `vars` or a node's element values.
pub(crate) trait StringMap {
    type Key: From<String>;
    type Value: From<String>;
}

impl StringMap for BTreeMap<String, String> {
    type Key = String;
    type Value = String;
}

impl StringMap for crate::features::NameMap<crate::features::Text> {
    type Key = crate::features::Text;
    type Value = crate::features::Text;
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
