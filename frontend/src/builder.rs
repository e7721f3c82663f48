//! The rule builder's edits: adding and changing sets, rules, terms and expressions as targeted
//! text changes at positions taken from the core's YAML tree, so that everything else the author
//! wrote (order, comments, quoting, blank lines) stays exactly as it was. The document is never
//! re-serialized.
//!
//! New parts are written in the style of NFD's own examples: block sequences at the indentation
//! of their key, one expression per line in flow style (`vendor_id: {op: In, value: [Intel]}`).

use nodefit_core::source::{LineIndex, Span};
use nodefit_core::yaml::{self, Node, Resolved, Value};

/// One replacement of `start..end` (byte offsets into the text it was computed from).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub start: usize,
    pub end: usize,
    pub insert: String,
}

/// Changes to apply together; positions refer to the original text and do not overlap.
pub type Edit = Vec<Change>;

/// Why an edit cannot be made by the builder; said to the user as is.
pub type Refusal = String;

/// The parts of a spec the builder shows, with where each is written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outline {
    pub sets: Vec<SetItem>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SetItem {
    pub span: Span,
    pub description: String,
    pub tag: String,
    pub weight: String,
    pub rules: Vec<RuleItem>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuleItem {
    pub span: Span,
    pub name: String,
    pub terms: Vec<TermItem>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TermItem {
    pub span: Span,
    pub feature: String,
    pub expressions: Vec<ExprItem>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExprItem {
    /// From the element key to the end of the expression.
    pub span: Span,
    pub element: String,
    pub op: String,
    pub values: Vec<String>,
    pub value_type: String,
}

/// Which part of the spec an edit targets: set, rule (`matchFeatures` only), term, expression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Target {
    pub set: usize,
    pub rule: Option<usize>,
    pub term: Option<usize>,
    pub expr: Option<usize>,
}

fn entry<'n>(map: &'n Node, key: &str) -> Option<&'n yaml::Entry> {
    match &map.value {
        Value::Map(entries) => entries
            .iter()
            .rev()
            .find(|e| e.key.as_scalar().is_some_and(|s| s.text == key)),
        _ => None,
    }
}

fn items(node: Option<&Node>) -> &[Node] {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items,
        _ => &[],
    }
}

fn scalar_text(node: Option<&Node>) -> String {
    node.and_then(Node::as_scalar)
        .map(|s| s.go_string().into_owned())
        .unwrap_or_default()
}

fn child<'n>(map: &'n Node, key: &str) -> Option<&'n Node> {
    entry(map, key).map(|e| &e.value)
}

/// Reads the outline; `None` when the text does not parse as YAML (the editor shows why).
pub fn outline(text: &str) -> Option<Outline> {
    let root = yaml::parse(text).ok()??;
    let sets = items(child(&root, "compatibilities"))
        .iter()
        .map(|set| SetItem {
            span: set.span,
            description: scalar_text(child(set, "description")),
            tag: scalar_text(child(set, "tag")),
            weight: scalar_text(child(set, "weight")),
            rules: items(child(set, "rules"))
                .iter()
                .map(|rule| RuleItem {
                    span: rule.span,
                    name: scalar_text(child(rule, "name")),
                    terms: items(child(rule, "matchFeatures"))
                        .iter()
                        .map(term_item)
                        .collect(),
                })
                .collect(),
        })
        .collect();
    Some(Outline { sets })
}

fn term_item(term: &Node) -> TermItem {
    let expressions = match child(term, "matchExpressions").map(|n| &n.value) {
        Some(Value::Map(entries)) => entries
            .iter()
            .map(|e| ExprItem {
                span: e.key.span.cover(e.value.span),
                element: scalar_text(Some(&e.key)),
                op: scalar_text(child(&e.value, "op")),
                values: match child(&e.value, "value").map(|v| &v.value) {
                    Some(Value::Seq(vs)) => vs.iter().map(|v| scalar_text(Some(v))).collect(),
                    Some(Value::Scalar(s)) => vec![s.go_string().into_owned()],
                    _ => Vec::new(),
                },
                value_type: scalar_text(child(&e.value, "type")),
            })
            .collect(),
        _ => Vec::new(),
    };
    TermItem {
        span: term.span,
        feature: scalar_text(child(term, "feature")),
        expressions,
    }
}

/// A scalar as YAML that NFD reads back as exactly `s`: plain when that is safe, else quoted.
pub fn scalar(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '+'));
    let plain = !s.is_empty()
        && plain_chars
        && !s.starts_with(['-', '.'])
        && yaml::resolve_plain(s) == Resolved::Str;
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// `{op: In, value: [a, b]}` (and `type: version` when asked for).
pub fn expression(op: &str, values: &[String], value_type: &str) -> String {
    let mut out = format!("{{op: {}", scalar(op));
    if !values.is_empty() {
        let list: Vec<String> = values.iter().map(|v| scalar(v)).collect();
        out.push_str(&format!(", value: [{}]", list.join(", ")));
    }
    if !value_type.is_empty() {
        out.push_str(&format!(", type: {}", scalar(value_type)));
    }
    out.push('}');
    out
}

struct Doc<'t> {
    text: &'t str,
    lines: LineIndex<'t>,
    root: Node,
}

impl<'t> Doc<'t> {
    fn parse(text: &'t str) -> Result<Doc<'t>, Refusal> {
        let root = yaml::parse(text)
            .map_err(|e| format!("{}: fix it in the editor first", e.message))?
            .ok_or("the spec is empty: start from the template (New spec)")?;
        if !matches!(root.value, Value::Map(_)) {
            return Err("the spec is not a mapping: fix it in the editor first".into());
        }
        Ok(Doc {
            text,
            lines: LineIndex::new(text),
            root,
        })
    }

    fn col(&self, offset: usize) -> usize {
        self.lines.line_col(offset).1 - 1
    }

    fn line_end(&self, offset: usize) -> usize {
        self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i)
    }

    fn line_start(&self, offset: usize) -> usize {
        self.text[..offset].rfind('\n').map_or(0, |i| i + 1)
    }

    fn set(&self, i: usize) -> Result<&Node, Refusal> {
        items(child(&self.root, "compatibilities"))
            .get(i)
            .ok_or_else(|| format!("compatibility set #{} no longer exists", i + 1))
    }

    fn rule(&self, t: Target) -> Result<&Node, Refusal> {
        let r = t.rule.ok_or("no rule chosen")?;
        items(child(self.set(t.set)?, "rules"))
            .get(r)
            .ok_or_else(|| format!("rule #{} of set #{} no longer exists", r + 1, t.set + 1))
    }

    fn term(&self, t: Target) -> Result<&Node, Refusal> {
        let i = t.term.ok_or("no term chosen")?;
        items(child(self.rule(t)?, "matchFeatures"))
            .get(i)
            .ok_or_else(|| format!("term #{} no longer exists", i + 1))
    }

    fn is_flow(&self, node: &Node) -> bool {
        matches!(self.text.as_bytes().get(node.span.start), Some(b'[' | b'{'))
    }

    /// Where a node's text ends. The reader's span of a flow collection can run on past its
    /// closing bracket (over a trailing comment), so the bracket is found here; a block
    /// collection ends where its last child does.
    fn end(&self, node: &Node) -> usize {
        if !self.is_flow(node) {
            return match &node.value {
                Value::Map(entries) => entries
                    .last()
                    .map_or(node.span.end, |e| self.end(&e.value).max(e.key.span.end)),
                Value::Seq(items) => items.last().map_or(node.span.end, |n| self.end(n)),
                Value::Scalar(_) => node.span.end,
            };
        }
        let bytes = self.text.as_bytes();
        let mut depth = 0usize;
        let mut i = node.span.start;
        while i < bytes.len() {
            match bytes[i] {
                b'[' | b'{' => depth += 1,
                b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'\'' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        i += 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        node.span.end
    }

    fn is_empty_value(node: &Node) -> bool {
        match &node.value {
            Value::Scalar(s) => s.resolved == Resolved::Null,
            Value::Seq(items) => items.is_empty(),
            Value::Map(entries) => entries.is_empty(),
        }
    }

    /// Lines at `col`, each prefixed by `first` on the first line and by as many spaces after.
    fn block(col: usize, first: &str, lines: &[String]) -> String {
        let pad = " ".repeat(col);
        let cont = " ".repeat(first.len());
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("\n{pad}{}{l}", if i == 0 { first } else { &cont }))
            .collect()
    }

    /// Appends an item to the sequence under `key` in `owner`, creating the key if needed.
    fn append_item(&self, owner: &Node, key: &str, lines: &[String]) -> Result<Edit, Refusal> {
        match entry(owner, key) {
            Some(e)
                if matches!(e.value.value, Value::Seq(_)) && !Self::is_empty_value(&e.value) =>
            {
                if self.is_flow(&e.value) {
                    return Err(format!(
                        "`{key}` is written in flow style ([...]): add to it in the editor"
                    ));
                }
                let seq = items(Some(&e.value));
                let first = &seq[0];
                let last = &seq[seq.len() - 1];
                let dash_col = self.col(first.span.start).saturating_sub(2);
                let at = self.line_end(self.end(last));
                Ok(vec![Change {
                    start: at,
                    end: at,
                    insert: Self::block(dash_col, "- ", lines),
                }])
            }
            Some(e) if Self::is_empty_value(&e.value) => {
                let key_col = self.col(e.key.span.start);
                Ok(self.replace_empty_value(e, Self::block(key_col, "- ", lines)))
            }
            Some(_) => Err(format!(
                "`{key}` is not a list here: fix it in the editor first"
            )),
            None => self.add_key(owner, key, String::new(), |col| {
                Self::block(col, "- ", lines)
            }),
        }
    }

    /// Adds an entry to the mapping under `key` in `owner`, creating the key if needed.
    fn add_map_entry(&self, owner: &Node, key: &str, line: &str) -> Result<Edit, Refusal> {
        let line = [line.to_string()];
        match entry(owner, key) {
            Some(e) if matches!(&e.value.value, Value::Map(m) if !m.is_empty()) => {
                if self.is_flow(&e.value) {
                    return Err(format!(
                        "`{key}` is written in flow style ({{...}}): add to it in the editor"
                    ));
                }
                let Value::Map(entries) = &e.value.value else {
                    unreachable!("matched a map above")
                };
                let col = self.col(entries[0].key.span.start);
                let at = self.line_end(self.end(&entries[entries.len() - 1].value));
                Ok(vec![Change {
                    start: at,
                    end: at,
                    insert: Self::block(col, "", &line),
                }])
            }
            Some(e) if Self::is_empty_value(&e.value) => {
                let col = self.col(e.key.span.start) + 2;
                Ok(self.replace_empty_value(e, Self::block(col, "", &line)))
            }
            Some(_) => Err(format!(
                "`{key}` is not a mapping here: fix it in the editor first"
            )),
            None => self.add_key(owner, key, String::new(), |col| {
                Self::block(col + 2, "", &line)
            }),
        }
    }

    /// Removes an empty value (`[]`, `{}`, `~`, nothing) and puts `block` after its line, so
    /// that a comment after the value stays on the key's line.
    fn replace_empty_value(&self, e: &yaml::Entry, block: String) -> Edit {
        let colon = self.text[e.key.span.end..]
            .find(':')
            .map_or(e.key.span.end, |i| e.key.span.end + i);
        let value_end = self.end(&e.value);
        let value_on_line = value_end > e.value.span.start
            && self.line_start(e.value.span.start) == self.line_start(colon);
        let mut edit = Vec::new();
        if value_on_line {
            edit.push(Change {
                start: colon + 1,
                end: value_end,
                insert: String::new(),
            });
        }
        let at = self.line_end(colon);
        edit.push(Change {
            start: at,
            end: at,
            insert: block,
        });
        edit
    }

    /// Adds `key:` as the last entry of `owner` (at its keys' column), followed by what
    /// `value(key_col)` returns, or `inline` right after the colon.
    fn add_key(
        &self,
        owner: &Node,
        key: &str,
        inline: String,
        value: impl Fn(usize) -> String,
    ) -> Result<Edit, Refusal> {
        let Value::Map(entries) = &owner.value else {
            return Err("this part is not a mapping: fix it in the editor first".into());
        };
        let Some(first) = entries.first() else {
            return Err(
                "this part is empty or written in flow style: edit it in the editor".into(),
            );
        };
        if self.is_flow(owner) {
            return Err("this part is written in flow style ({...}): edit it in the editor".into());
        }
        let col = self.col(first.key.span.start);
        let at = self.line_end(self.end(owner));
        let inline = inline.trim_start_matches('\n');
        let sep = if inline.is_empty() { "" } else { " " };
        Ok(vec![Change {
            start: at,
            end: at,
            insert: format!("\n{}{key}:{sep}{inline}{}", " ".repeat(col), value(col)),
        }])
    }

    /// Sets a scalar field of `owner` (replacing its value, or adding the key).
    fn set_scalar(&self, owner: &Node, key: &str, value: &str) -> Result<Edit, Refusal> {
        let written = scalar(value);
        match entry(owner, key) {
            Some(e) if e.value.as_scalar().is_some() && e.value.span.end > e.value.span.start => {
                Ok(vec![Change {
                    start: e.value.span.start,
                    end: e.value.span.end,
                    insert: written,
                }])
            }
            Some(e) if e.value.is_null() => {
                let colon = self.text[e.key.span.end..]
                    .find(':')
                    .map_or(e.key.span.end, |i| e.key.span.end + i);
                Ok(vec![Change {
                    start: colon + 1,
                    end: colon + 1,
                    insert: format!(" {written}"),
                }])
            }
            Some(_) => Err(format!(
                "`{key}` is not a single value: edit it in the editor"
            )),
            None => self.add_key(owner, key, written, |_| String::new()),
        }
    }

    /// Deletes the whole lines an item occupies, provided nothing else is written on them.
    fn remove_lines(&self, span: Span, what: &str) -> Result<Edit, Refusal> {
        let start = self.line_start(span.start);
        let lead = &self.text[start..span.start];
        let end = self.line_end(span.end);
        let own_lines = lead.chars().all(|c| c == ' ' || c == '-')
            && self.text[span.end..end]
                .trim_start()
                .chars()
                .next()
                .is_none_or(|c| c == '#');
        if !own_lines {
            return Err(format!(
                "this {what} shares its line with other parts (flow style): remove it in the editor"
            ));
        }
        // Take the line break after the item; at the end of the text, the one before it.
        let (start, end) = if end < self.text.len() {
            (start, end + 1)
        } else {
            (start.saturating_sub(1), end)
        };
        Ok(vec![Change {
            start,
            end,
            insert: String::new(),
        }])
    }
}

fn rule_lines(name: &str, feature: &str) -> Vec<String> {
    vec![
        format!("name: {}", scalar(name)),
        "matchFeatures:".into(),
        format!("- feature: {}", scalar(feature)),
    ]
}

/// Adds a compatibility set with one rule on one feature.
pub fn add_set(
    text: &str,
    description: &str,
    tag: &str,
    weight: Option<i64>,
    rule: &str,
    feature: &str,
) -> Result<Edit, Refusal> {
    let doc = Doc::parse(text)?;
    let mut lines = Vec::new();
    if !description.is_empty() {
        lines.push(format!("description: {}", scalar(description)));
    }
    if let Some(w) = weight {
        lines.push(format!("weight: {w}"));
    }
    if !tag.is_empty() {
        lines.push(format!("tag: {}", scalar(tag)));
    }
    lines.push("rules:".into());
    lines.extend(
        rule_lines(rule, feature)
            .into_iter()
            .enumerate()
            .map(|(i, l)| format!("{}{l}", if i == 0 { "- " } else { "  " })),
    );
    doc.append_item(&doc.root, "compatibilities", &lines)
}

/// Adds a rule with one term to a set.
pub fn add_rule(text: &str, set: usize, name: &str, feature: &str) -> Result<Edit, Refusal> {
    let doc = Doc::parse(text)?;
    doc.append_item(doc.set(set)?, "rules", &rule_lines(name, feature))
}

/// Adds a term (`- feature: ...`) to a rule's `matchFeatures`.
pub fn add_term(text: &str, target: Target, feature: &str) -> Result<Edit, Refusal> {
    let doc = Doc::parse(text)?;
    let line = format!("feature: {}", scalar(feature));
    doc.append_item(doc.rule(target)?, "matchFeatures", &[line])
}

/// Adds `element: {op: ..., value: [...]}` to a term's `matchExpressions`.
pub fn add_expression(
    text: &str,
    target: Target,
    element: &str,
    op: &str,
    values: &[String],
    value_type: &str,
) -> Result<Edit, Refusal> {
    let doc = Doc::parse(text)?;
    let line = format!(
        "{}: {}",
        scalar(element),
        expression(op, values, value_type)
    );
    doc.add_map_entry(doc.term(target)?, "matchExpressions", &line)
}

/// Replaces one expression (its value, keeping the element key and anything around it).
pub fn set_expression(
    text: &str,
    target: Target,
    op: &str,
    values: &[String],
    value_type: &str,
) -> Result<Edit, Refusal> {
    let doc = Doc::parse(text)?;
    let e = expression_entry(&doc, target)?;
    Ok(vec![Change {
        start: e.value.span.start,
        end: doc.end(&e.value).max(e.value.span.start),
        insert: expression(op, values, value_type),
    }])
}

fn expression_entry<'d>(doc: &'d Doc, target: Target) -> Result<&'d yaml::Entry, Refusal> {
    let i = target.expr.ok_or("no expression chosen")?;
    match child(doc.term(target)?, "matchExpressions").map(|n| &n.value) {
        Some(Value::Map(entries)) => entries
            .get(i)
            .ok_or_else(|| format!("expression #{} no longer exists", i + 1)),
        _ => Err("the term has no matchExpressions".into()),
    }
}

/// Sets a set's description, tag or weight.
pub fn set_field(text: &str, set: usize, key: &str, value: &str) -> Result<Edit, Refusal> {
    let doc = Doc::parse(text)?;
    if key == "weight" {
        value
            .parse::<i64>()
            .map_err(|_| format!("weight must be a whole number, not {value:?}"))?;
        let mut edit = doc.set_scalar(doc.set(set)?, key, value)?;
        // A weight is a number: write it unquoted.
        for c in &mut edit {
            c.insert = c.insert.replace('"', "");
        }
        return Ok(edit);
    }
    doc.set_scalar(doc.set(set)?, key, value)
}

/// Renames a rule.
pub fn rename_rule(text: &str, target: Target, name: &str) -> Result<Edit, Refusal> {
    let doc = Doc::parse(text)?;
    doc.set_scalar(doc.rule(target)?, "name", name)
}

/// Removes the deepest part `target` names (expression, term, rule or set).
pub fn remove(text: &str, target: Target) -> Result<Edit, Refusal> {
    let doc = Doc::parse(text)?;
    if target.expr.is_some() {
        let e = expression_entry(&doc, target)?;
        let span = Span::new(e.key.span.start, doc.end(&e.value));
        doc.remove_lines(span, "expression")
    } else {
        let (node, what) = if target.term.is_some() {
            (doc.term(target)?, "term")
        } else if target.rule.is_some() {
            (doc.rule(target)?, "rule")
        } else {
            (doc.set(target.set)?, "set")
        };
        doc.remove_lines(Span::new(node.span.start, doc.end(node)), what)
    }
}

/// Applies an edit to a text (the editor does the same through CodeMirror).
pub fn apply(text: &str, edit: &Edit) -> String {
    let mut changes: Vec<&Change> = edit.iter().collect();
    changes.sort_by_key(|c| c.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for c in changes {
        out.push_str(&text[at..c.start]);
        out.push_str(&c.insert);
        at = c.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "\
# Needs a Mellanox NIC.
version: v1alpha1
compatibilities:
- description: \"Fast path\"   # keep me
  weight: 10
  rules:
  - name: nic
    matchFeatures:
    - feature: pci.device
      matchExpressions:
        vendor: {op: In, value: [\"15b3\"]}  # Mellanox
";

    fn t(set: usize, rule: Option<usize>, term: Option<usize>, expr: Option<usize>) -> Target {
        Target {
            set,
            rule,
            term,
            expr,
        }
    }

    fn lint_errors(text: &str) -> Vec<String> {
        nodefit_core::lint::lint(text, &[])
            .into_iter()
            .filter(|d| d.severity == nodefit_core::lint::Severity::Error)
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect()
    }

    #[test]
    fn outline_lists_every_part() {
        let o = outline(SPEC).unwrap();
        assert_eq!(o.sets.len(), 1);
        assert_eq!(o.sets[0].description, "Fast path");
        assert_eq!(o.sets[0].weight, "10");
        let term = &o.sets[0].rules[0].terms[0];
        assert_eq!(term.feature, "pci.device");
        assert_eq!(term.expressions[0].element, "vendor");
        assert_eq!(term.expressions[0].op, "In");
        assert_eq!(term.expressions[0].values, ["15b3"]);
    }

    #[test]
    fn adding_keeps_everything_else_byte_for_byte() {
        let target = t(0, Some(0), Some(0), None);
        let edit = add_expression(SPEC, target, "class", "In", &["0200".into()], "").unwrap();
        let out = apply(SPEC, &edit);
        assert_eq!(
            out,
            SPEC.replace(
                "# Mellanox\n",
                "# Mellanox\n        class: {op: In, value: [\"0200\"]}\n"
            )
        );
        assert!(lint_errors(&out).is_empty(), "{:?}", lint_errors(&out));

        let out = apply(
            &out,
            &add_term(&out, target, "kernel.loadedmodule").unwrap(),
        );
        assert!(
            out.ends_with("    - feature: kernel.loadedmodule\n"),
            "{out}"
        );
        let out = apply(&out, &add_rule(&out, 0, "cpu", "cpu.model").unwrap());
        assert!(out.contains("  - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n"));
        let out = apply(
            &out,
            &add_set(&out, "Fallback", "fallback", Some(1), "any", "cpu.model").unwrap(),
        );
        assert!(
            out.ends_with("- description: Fallback\n  weight: 1\n  tag: fallback\n  rules:\n  - name: any\n    matchFeatures:\n    - feature: cpu.model\n"),
            "{out}"
        );
        assert!(out.starts_with("# Needs a Mellanox NIC.\n"));
        assert!(out.contains("\"Fast path\"   # keep me"));
        let o = outline(&out).unwrap();
        assert_eq!(o.sets.len(), 2);
        assert_eq!(o.sets[0].rules.len(), 2);
        assert_eq!(o.sets[0].rules[0].terms.len(), 2);
    }

    #[test]
    fn empty_and_missing_collections_are_filled_in() {
        let text = "version: v1alpha1\ncompatibilities: []  # none yet\n";
        let out = apply(
            text,
            &add_set(text, "", "", None, "r", "cpu.model").unwrap(),
        );
        assert_eq!(
            out,
            "version: v1alpha1\ncompatibilities:  # none yet\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: cpu.model\n"
        );
        let target = t(0, Some(0), Some(0), None);
        let out = apply(
            &out,
            &add_expression(&out, target, "vendor_id", "In", &["Intel".into()], "").unwrap(),
        );
        assert!(
            out.ends_with("    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel]}\n"),
            "{out}"
        );
        assert!(lint_errors(&out).is_empty(), "{:?}", lint_errors(&out));

        let text = "version: v1alpha1\n";
        let out = apply(
            text,
            &add_set(text, "", "", None, "r", "cpu.model").unwrap(),
        );
        assert!(
            out.starts_with("version: v1alpha1\ncompatibilities:\n- rules:\n"),
            "{out}"
        );
    }

    #[test]
    fn editing_and_removing() {
        let target = t(0, Some(0), Some(0), Some(0));
        let out = apply(
            SPEC,
            &set_expression(SPEC, target, "In", &["15b3".into(), "8086".into()], "").unwrap(),
        );
        assert!(
            out.contains("vendor: {op: In, value: [15b3, \"8086\"]}  # Mellanox\n"),
            "{out}"
        );
        let out = apply(&out, &set_field(&out, 0, "tag", "fast").unwrap());
        assert!(
            out.contains("  rules:\n") && out.contains("  tag: fast\n"),
            "{out}"
        );
        let out = apply(&out, &set_field(&out, 0, "weight", "20").unwrap());
        assert!(out.contains("  weight: 20\n"));
        assert!(set_field(&out, 0, "weight", "high").is_err());
        let out = apply(&out, &rename_rule(&out, target, "mellanox nic").unwrap());
        assert!(out.contains("  - name: \"mellanox nic\"\n"));
        let out = apply(&out, &remove(&out, target).unwrap());
        assert!(!out.contains("vendor:"));
        assert!(out.contains("      matchExpressions:\n"));
        let out = apply(&out, &remove(&out, t(0, None, None, None)).unwrap());
        assert_eq!(
            out,
            "# Needs a Mellanox NIC.\nversion: v1alpha1\ncompatibilities:\n"
        );
    }

    #[test]
    fn refuses_what_it_cannot_edit_in_place() {
        let flow = "version: v1alpha1\ncompatibilities: [{rules: [{name: a}]}]\n";
        assert!(add_set(flow, "", "", None, "r", "cpu.model")
            .unwrap_err()
            .contains("flow style"));
        assert!(add_rule("version: [", 0, "r", "cpu.model").is_err());
        assert!(add_rule(SPEC, 3, "r", "cpu.model")
            .unwrap_err()
            .contains("no longer exists"));
    }

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        assert_eq!(scalar("Intel"), "Intel");
        assert_eq!(scalar("vfio-pci"), "vfio-pci");
        assert_eq!(scalar("0300"), "\"0300\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("5.10"), "\"5.10\"");
        assert_eq!(scalar("a b"), "\"a b\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(
            expression("GtLt", &["5".into(), "10".into()], ""),
            "{op: GtLt, value: [\"5\", \"10\"]}"
        );
        assert_eq!(expression("Exists", &[], ""), "{op: Exists}");
    }
}
