//! Reading NodeFeatureRule files the way they reach nfd-master: `kubectl apply -f` turns each
//! YAML document into JSON (YAML 1.1 scalars, as for specs), and the API server checks it
//! against the CRD's structural schema. That is stricter than a spec's decoding: field names
//! are case-sensitive, a number or boolean where the schema wants a string is refused (quote
//! it), `null` is pruned as if absent, and required fields must be there. Unknown fields are
//! pruned (dropped) by the API server; lint reports them, since `kubectl apply`'s default strict
//! validation refuses them.
//!
//! A file holds one or many documents, each a `NodeFeatureRule` or a `List` /
//! `NodeFeatureRuleList` of them (as `kubectl get nfr -o yaml` writes).

use std::collections::BTreeMap;

use super::{Entry, NfrRule, NodeFeatureRule, Taint};
use crate::budget;
use crate::decode::{DecodeError, Decoder};
use crate::gostr;
use crate::source::Span;
use crate::spec::{Expr, ExprSpans, MatchAnyElem, NamedExpr, Op, Rule, Term};
use crate::yaml::{self, Node, Resolved, Value};

/// The only version of the NodeFeatureRule API.
pub const API_VERSION: &str = "nfd.k8s-sigs.io/v1alpha1";
/// The ops the CRD's schema accepts: NFD's, without the empty op (Go's `MatchAny`).
pub const CRD_OPS: [Op; 13] = [
    Op::In,
    Op::NotIn,
    Op::InRegexp,
    Op::Exists,
    Op::DoesNotExist,
    Op::Gt,
    Op::Ge,
    Op::Lt,
    Op::Le,
    Op::GtLt,
    Op::GeLe,
    Op::IsTrue,
    Op::IsFalse,
];
/// The taint effects nfd-master accepts.
pub const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Every object of a file, or every place the API server (or a budget) refuses it. Decoding
/// goes on after an error, so that all of them are reported.
pub fn parse(src: &str) -> Result<Vec<NodeFeatureRule>, Vec<DecodeError>> {
    let (objects, errors) = decode(src);
    if errors.is_empty() {
        Ok(objects)
    } else {
        Err(errors)
    }
}

/// The objects that decoded and every error.
pub fn decode(src: &str) -> (Vec<NodeFeatureRule>, Vec<DecodeError>) {
    let documents = match yaml::parse_stream(src, &budget::NFR_DOCUMENTS) {
        Ok(d) => d,
        Err(e) => {
            return (
                Vec::new(),
                vec![DecodeError {
                    path: String::new(),
                    message: e.message,
                    span: e.span,
                    budget: e.budget,
                }],
            )
        }
    };
    decode_documents(&documents)
}

/// Decodes parsed documents (lint parses once and reuses the tree).
pub fn decode_documents(
    documents: &[yaml::StreamDocument],
) -> (Vec<NodeFeatureRule>, Vec<DecodeError>) {
    let mut d = Strict::default();
    let many = documents.len() > 1;
    for (i, doc) in documents.iter().enumerate() {
        let Some(root) = &doc.root else { continue };
        let prefix = if many {
            format!("documents[{i}].")
        } else {
            String::new()
        };
        d.document(root, &prefix);
    }
    if d.objects.is_empty() && d.errors.is_empty() {
        d.error(
            "",
            Span::new(0, 0),
            "the file holds no NodeFeatureRule".into(),
        );
    }
    let rules: usize = d.objects.iter().map(|o| o.rules.len()).sum();
    if rules > budget::NFR_RULES.value {
        let span = d.objects.last().map_or(Span::new(0, 0), |o| o.span);
        d.errors.push(DecodeError {
            path: String::new(),
            message: format!("{rules} rules: {}", budget::NFR_RULES.exceeded()),
            span,
            budget: Some(&budget::NFR_RULES),
        });
    }
    d.errors.sort_by_key(|e| e.span);
    (d.objects, d.errors)
}

#[derive(Default)]
struct Strict {
    objects: Vec<NodeFeatureRule>,
    errors: Vec<DecodeError>,
    /// Compiles `InRegexp` patterns within the regex budgets, as for specs.
    patterns: Decoder,
}

/// The entries of a mapping by key (keys as JSON has them; the last duplicate wins, as the
/// API server's JSON decoding keeps it).
fn entries(node: &Node) -> Option<BTreeMap<String, &yaml::Entry>> {
    let Value::Map(list) = &node.value else {
        return None;
    };
    let mut out = BTreeMap::new();
    for e in list {
        if let Some(key) = e.key.as_scalar().and_then(|s| s.go_key()) {
            out.insert(key.into_owned(), e);
        }
    }
    Some(out)
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

impl Strict {
    fn error(&mut self, path: &str, span: Span, message: String) {
        self.errors.push(DecodeError {
            path: path.to_string(),
            message,
            span,
            budget: None,
        });
    }

    /// A mapping the schema requires, or `None` (absent, or null: pruned) with an error when
    /// it is something else.
    fn object<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
    ) -> Option<BTreeMap<String, &'n yaml::Entry>> {
        if node.is_null() {
            return None;
        }
        let found = entries(node);
        if found.is_none() {
            self.type_error(path, node, "an object");
        }
        found
    }

    fn type_error(&mut self, path: &str, node: &Node, want: &str) {
        let found = node.kind_name();
        let mut message = format!(
            "must be {want}, found {}: the API server refuses the object",
            if found == "array" || found == "object" {
                format!("an {found}")
            } else {
                format!("a {found}")
            }
        );
        if want == "a string" && node.as_scalar().is_some() {
            message.push_str(&format!(
                " (YAML reads this unquoted value as a {found}; quote it)"
            ));
        }
        self.error(path, node.span, message);
    }

    /// A string field: only a YAML string is one (an unquoted `true` or `5` is not).
    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar(s) if s.resolved == Resolved::Null => None,
            Value::Scalar(s) if matches!(s.resolved, Resolved::Str | Resolved::Merge) => {
                Some(s.text.clone())
            }
            _ => {
                self.type_error(path, node, "a string");
                None
            }
        }
    }

    fn list<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ if node.is_null() => None,
            _ => {
                self.type_error(path, node, "a list");
                None
            }
        }
    }

    fn required(&mut self, at: Span, path: &str, field: &str) {
        self.error(
            &join(path, field),
            at,
            format!("`{field}` is required: the API server refuses the object without it"),
        );
    }

    /// A map of strings (labels, annotations, vars...), in key order.
    fn string_map(&mut self, node: &Node, path: &str) -> Vec<Entry> {
        let Some(map) = self.object(node, path) else {
            return Vec::new();
        };
        map.into_iter()
            .filter_map(|(key, e)| {
                let value = self.string(&e.value, &join(path, &key))?;
                Some(Entry {
                    key,
                    value,
                    key_span: e.key.span,
                    value_span: e.value.span,
                })
            })
            .collect()
    }

    fn document(&mut self, root: &Node, prefix: &str) {
        let Some(fields) = self.object(root, prefix.trim_end_matches('.')) else {
            return;
        };
        let kind = fields.get("kind").and_then(|e| {
            let k = self.string(&e.value, &format!("{prefix}kind"));
            k.map(|k| (k, e.value.span))
        });
        match kind.as_ref().map(|(k, _)| k.as_str()) {
            Some("NodeFeatureRule") => {
                self.api_version(&fields, root.span, prefix);
                self.node_feature_rule(root, &fields, prefix);
            }
            Some("List" | "NodeFeatureRuleList") => {
                let Some(items) = fields.get("items") else {
                    return self.required(root.span, prefix.trim_end_matches('.'), "items");
                };
                let path = format!("{prefix}items");
                for (i, item) in self
                    .list(&items.value, &path)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    let item_prefix = format!("{path}[{i}].");
                    let Some(item_fields) = self.object(item, &format!("{path}[{i}]")) else {
                        continue;
                    };
                    let item_kind = item_fields
                        .get("kind")
                        .and_then(|e| self.string(&e.value, &format!("{item_prefix}kind")));
                    if item_kind.as_deref() != Some("NodeFeatureRule") {
                        self.error(
                            &format!("{item_prefix}kind"),
                            item.span,
                            format!(
                                "list items must be NodeFeatureRules, this one is {}",
                                item_kind.map_or("of no kind".into(), |k| format!("a {k}"))
                            ),
                        );
                        continue;
                    }
                    self.api_version(&item_fields, item.span, &item_prefix);
                    self.node_feature_rule(item, &item_fields, &item_prefix);
                }
            }
            Some(other) => {
                let (other, span) = (other.to_string(), kind.map_or(root.span, |(_, s)| s));
                self.error(
                    &format!("{prefix}kind"),
                    span,
                    format!("a {other}, not a NodeFeatureRule: nodefit reads NodeFeatureRules (and lists of them)"),
                );
            }
            None => self.required(root.span, prefix.trim_end_matches('.'), "kind"),
        }
    }

    fn api_version(&mut self, fields: &BTreeMap<String, &yaml::Entry>, at: Span, prefix: &str) {
        let path = format!("{prefix}apiVersion");
        match fields.get("apiVersion") {
            None => self.required(at, prefix.trim_end_matches('.'), "apiVersion"),
            Some(e) => {
                if let Some(v) = self.string(&e.value, &path) {
                    if v != API_VERSION {
                        self.error(
                            &path,
                            e.value.span,
                            format!("apiVersion {v:?}: NodeFeatureRules are `{API_VERSION}`"),
                        );
                    }
                }
            }
        }
    }

    fn node_feature_rule(
        &mut self,
        node: &Node,
        fields: &BTreeMap<String, &yaml::Entry>,
        prefix: &str,
    ) {
        let path = prefix.trim_end_matches('.');
        let mut object = NodeFeatureRule {
            span: node.span,
            name_span: node.span,
            ..Default::default()
        };
        match fields.get("metadata").and_then(|m| {
            let p = format!("{prefix}metadata");
            self.object(&m.value, &p).map(|f| (f, m.value.span, p))
        }) {
            Some((meta, span, p)) => {
                match meta.get("name") {
                    Some(n) => {
                        object.name_span = n.value.span;
                        object.name = self.string(&n.value, &join(&p, "name")).unwrap_or_default();
                        let problems = crate::k8s::dns1123_subdomain(&object.name);
                        if let Some(problem) = problems.first() {
                            self.error(
                                &join(&p, "name"),
                                n.value.span,
                                format!(
                                    "the object name {:?} is not valid: {problem}",
                                    object.name
                                ),
                            );
                        }
                    }
                    None => self.required(span, &p, "name"),
                }
                if let Some(a) = meta.get("annotations") {
                    object.annotations = self
                        .string_map(&a.value, &join(&p, "annotations"))
                        .into_iter()
                        .map(|e| (e.key, e.value))
                        .collect();
                }
            }
            None => self.required(node.span, path, "metadata"),
        }
        let spec_path = format!("{prefix}spec");
        match fields
            .get("spec")
            .and_then(|s| self.object(&s.value, &spec_path).map(|f| (f, s.value.span)))
        {
            Some((spec, span)) => match spec.get("rules") {
                Some(r) => {
                    let p = join(&spec_path, "rules");
                    object.rules = self
                        .list(&r.value, &p)
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .map(|(i, n)| self.rule(n, &format!("{p}[{i}]")))
                        .collect();
                }
                None => self.required(span, &spec_path, "rules"),
            },
            None => self.required(node.span, path, "spec"),
        }
        self.objects.push(object);
    }

    fn rule(&mut self, node: &Node, path: &str) -> NfrRule {
        let mut out = NfrRule {
            rule: Rule {
                span: node.span,
                ..Default::default()
            },
            ..Default::default()
        };
        let Some(fields) = self.object(node, path) else {
            return out;
        };
        for (key, e) in &fields {
            let v = &e.value;
            let p = join(path, key);
            match key.as_str() {
                "name" => {
                    out.rule.name = self.string(v, &p).unwrap_or_default();
                    out.rule.name_span = Some(v.span);
                }
                "labels" => out.labels = self.string_map(v, &p),
                "labelsTemplate" => {
                    out.labels_template = self.string(v, &p).unwrap_or_default();
                    out.labels_template_span = v.span;
                }
                "annotations" => out.annotations = self.string_map(v, &p),
                "extendedResources" => out.extended_resources = self.string_map(v, &p),
                "vars" => {
                    out.rule.vars = self
                        .string_map(v, &p)
                        .into_iter()
                        .map(|e| (e.key, e.value))
                        .collect()
                }
                "varsTemplate" => {
                    out.rule.vars_template = self.string(v, &p).unwrap_or_default();
                    out.rule.vars_template_span = v.span;
                }
                "taints" => {
                    out.taints = self
                        .list(v, &p)
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .filter_map(|(i, t)| self.taint(t, &format!("{p}[{i}]")))
                        .collect()
                }
                "matchFeatures" => {
                    out.rule.match_features = self.terms(v, &p);
                    out.rule.match_features_span = Some(v.span);
                }
                "matchAny" => {
                    out.rule.match_any_span = Some(v.span);
                    out.rule.match_any = self
                        .list(v, &p)
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .map(|(i, n)| {
                            let ep = format!("{p}[{i}]");
                            let mut elem = MatchAnyElem {
                                match_features: Vec::new(),
                                span: n.span,
                            };
                            match self
                                .object(n, &ep)
                                .and_then(|f| f.get("matchFeatures").copied())
                            {
                                Some(m) => {
                                    elem.match_features =
                                        self.terms(&m.value, &join(&ep, "matchFeatures"))
                                }
                                None => self.required(n.span, &ep, "matchFeatures"),
                            }
                            elem
                        })
                        .collect();
                }
                _ => {}
            }
        }
        if !fields.contains_key("name") {
            self.required(node.span, path, "name");
        }
        out
    }

    fn taint(&mut self, node: &Node, path: &str) -> Option<Taint> {
        let fields = self.object(node, path)?;
        let mut taint = Taint {
            span: node.span,
            ..Default::default()
        };
        for (key, e) in &fields {
            let p = join(path, key);
            let value = self.string(&e.value, &p).unwrap_or_default();
            match key.as_str() {
                "key" => taint.key = value,
                "value" => taint.value = value,
                "effect" => taint.effect = value,
                _ => {}
            }
        }
        for required in ["key", "effect"] {
            if !fields.contains_key(required) {
                self.required(node.span, path, required);
            }
        }
        Some(taint)
    }

    fn terms(&mut self, node: &Node, path: &str) -> Vec<Term> {
        self.list(node, path)
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
        let Some(fields) = self.object(node, path) else {
            return term;
        };
        match fields.get("feature") {
            Some(f) => {
                term.feature = self
                    .string(&f.value, &join(path, "feature"))
                    .unwrap_or_default();
                term.feature_span = f.value.span;
            }
            None => self.required(node.span, path, "feature"),
        }
        if let Some(m) = fields.get("matchExpressions") {
            let p = join(path, "matchExpressions");
            if let Some(map) = self.object(&m.value, &p) {
                term.match_expressions = Some(
                    map.into_iter()
                        .filter_map(|(name, e)| {
                            // A null expression is pruned, as any null.
                            let expr = self.expr(&e.value, &join(&p, &name))?;
                            Some(NamedExpr {
                                name,
                                expr: Some(expr),
                                name_span: e.key.span,
                            })
                        })
                        .collect(),
                );
            }
        }
        if let Some(m) = fields.get("matchName") {
            term.match_name = self.expr(&m.value, &join(path, "matchName"));
        }
        term.lookup = gostr::to_lower(&term.feature);
        term
    }

    fn expr(&mut self, node: &Node, path: &str) -> Option<Expr> {
        let fields = self.object(node, path)?;
        let (mut op, mut value, mut value_type) = (String::new(), Vec::new(), String::new());
        let mut spans = ExprSpans::default();
        match fields.get("op") {
            Some(o) => {
                op = self.string(&o.value, &join(path, "op")).unwrap_or_default();
                spans.op = Some(o.value.span);
                if !CRD_OPS.iter().any(|known| known.as_str() == op) {
                    let names: Vec<&str> = CRD_OPS.iter().map(|o| o.as_str()).collect();
                    self.error(
                        &join(path, "op"),
                        o.value.span,
                        format!(
                            "unsupported op {:?}: the API server accepts {}",
                            op,
                            names.join(", ")
                        ),
                    );
                }
            }
            None => self.required(node.span, path, "op"),
        }
        if let Some(v) = fields.get("value") {
            let p = join(path, "value");
            if let Some(items) = self.list(&v.value, &p) {
                spans.value = Some(v.value.span);
                spans.value_is_list = true;
                spans.items = items.iter().map(|n| n.span).collect();
                value = items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| self.string(n, &format!("{p}[{i}]")).unwrap_or_default())
                    .collect();
            }
        }
        if let Some(t) = fields.get("type") {
            value_type = self
                .string(&t.value, &join(path, "type"))
                .unwrap_or_default();
            spans.value_type = Some(t.value.span);
        }
        let patterns = &mut self.patterns;
        let expr = Expr::with_regex_compiler(op, value, value_type, node.span, spans, &mut |p| {
            patterns.compile_regex(p)
        });
        for (i, e) in expr.regex_errors() {
            if let Some(limit) = e.budget {
                self.errors.push(DecodeError {
                    path: format!("{path}.value[{i}]"),
                    message: e.message.clone(),
                    span: expr.spans.items.get(i).copied().unwrap_or(expr.span),
                    budget: Some(limit),
                });
            }
        }
        Some(expr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = r#"apiVersion: nfd.k8s-sigs.io/v1alpha1
kind: NodeFeatureRule
metadata:
  name: my-rule
spec:
  rules:
    - name: "my sample rule"
      labels:
        "my-sample-feature": "true"
      labelsTemplate: "{{ range .cpu.cpuid }}x.{{ .Name }}=1\n{{ end }}"
      vars: {v: "1"}
      annotations: {a: "b"}
      extendedResources: {r: "@cpu.topology.socket_count"}
      taints: [{key: "example.com/t", effect: NoSchedule, value: "x"}]
      matchFeatures:
        - feature: kernel.loadedmodule
          matchExpressions:
            dummy: {op: Exists}
      matchAny:
        - matchFeatures:
          - feature: cpu.cpuid
            matchName: {op: InRegexp, value: ["^AVX"]}
"#;

    #[test]
    fn reads_every_field() {
        let objects = parse(RULE).unwrap();
        assert_eq!(objects.len(), 1);
        let o = &objects[0];
        assert_eq!(o.name, "my-rule");
        let r = &o.rules[0];
        assert_eq!(r.rule.name, "my sample rule");
        assert_eq!(r.labels[0].key, "my-sample-feature");
        assert_eq!(r.labels[0].value, "true");
        assert!(r.labels_template.contains("range"));
        assert_eq!(r.rule.vars["v"], "1");
        assert_eq!(r.annotations[0].value, "b");
        assert_eq!(r.extended_resources[0].value, "@cpu.topology.socket_count");
        assert_eq!(
            r.taints[0],
            Taint {
                key: "example.com/t".into(),
                value: "x".into(),
                effect: "NoSchedule".into(),
                span: r.taints[0].span
            }
        );
        assert_eq!(r.rule.match_features[0].lookup, "kernel.loadedmodule");
        assert_eq!(
            r.rule.match_any[0].match_features[0]
                .match_name
                .as_ref()
                .unwrap()
                .op,
            "InRegexp"
        );
    }

    #[test]
    fn many_documents_and_lists() {
        let list = format!(
            "{RULE}---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: {API_VERSION}\n  kind: NodeFeatureRule\n  metadata: {{name: b}}\n  spec: {{rules: []}}\n"
        );
        let objects = parse(&list).unwrap();
        assert_eq!(
            objects.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            ["my-rule", "b"]
        );
    }

    #[test]
    fn the_api_server_refuses_what_the_schema_does_not_allow() {
        let src = "apiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeatureRule\nmetadata: {name: x}\nspec:\n  rules:\n  - labels: {a: true, b: 5}\n    matchFeatures:\n    - matchExpressions:\n        k: {op: \"\", value: [1]}\n        j: {value: [\"x\"]}\n";
        let errors = parse(src).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.rules[0].name",
                "spec.rules[0].labels.a",
                "spec.rules[0].labels.b",
                "spec.rules[0].matchFeatures[0].feature",
                "spec.rules[0].matchFeatures[0].matchExpressions.k.op",
                "spec.rules[0].matchFeatures[0].matchExpressions.k.value[0]",
                "spec.rules[0].matchFeatures[0].matchExpressions.j.op",
            ],
            "{errors:#?}"
        );
        assert!(
            errors[1].message.contains("quote it"),
            "{}",
            errors[1].message
        );
    }

    #[test]
    fn case_variants_and_unknown_fields_are_pruned_and_nulls_are_absent() {
        let src = "apiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeatureRule\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    Labels: {a: \"1\"}\n    matchFeatures:\n    - feature: a.b\n      matchExpressions: ~\n      matchName: ~\n";
        let objects = parse(src).unwrap();
        let rule = &objects[0].rules[0];
        assert!(rule.labels.is_empty());
        assert!(rule.rule.match_features[0].match_expressions.is_none());
        assert!(rule.rule.match_features[0].match_name.is_none());
    }

    #[test]
    fn other_kinds_versions_and_names_are_refused() {
        for (src, want) in [
            ("apiVersion: v1\nkind: ConfigMap\n", "a ConfigMap, not a NodeFeatureRule"),
            ("kind: NodeFeatureRule\nmetadata: {name: x}\nspec: {rules: []}\n", "`apiVersion` is required"),
            ("apiVersion: nfd.k8s-sigs.io/v1\nkind: NodeFeatureRule\nmetadata: {name: x}\nspec: {rules: []}\n", "NodeFeatureRules are"),
            ("apiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeatureRule\nmetadata: {name: Bad_Name}\nspec: {rules: []}\n", "is not valid"),
            ("# nothing\n", "holds no NodeFeatureRule"),
        ] {
            let errors = parse(src).unwrap_err();
            assert!(errors[0].message.contains(want), "{src}: {errors:?}");
        }
    }

    #[test]
    fn files_are_told_apart_by_their_first_kind() {
        assert!(super::super::is_node_feature_rule_file(RULE));
        assert!(super::super::is_node_feature_rule_file(
            "# c\n---\napiVersion: v1\nkind: List\nitems:\n- kind: NodeFeatureRule\n"
        ));
        for other in [
            "version: v1alpha1\ncompatibilities: []\n",
            "kind: List\nitems: []\n",
            "{",
            "",
        ] {
            assert!(!super::super::is_node_feature_rule_file(other), "{other}");
        }
    }

    #[test]
    fn documents_are_budgeted() {
        let doc = "---\napiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeatureRule\nmetadata: {name: x}\nspec: {rules: []}\n";
        let src = doc.repeat(budget::NFR_DOCUMENTS.value + 1);
        let errors = parse(&src).unwrap_err();
        assert_eq!(errors[0].budget, Some(&budget::NFR_DOCUMENTS));
        assert_eq!(parse(&doc.repeat(3)).unwrap().len(), 3);
    }
}
