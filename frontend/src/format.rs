//! "Format document": one indentation style for a spec, keeping everything else as written.
//!
//! No YAML formatter keeps comments and NFD's YAML 1.1 reading, so this one changes only where
//! lines start, from the core's YAML tree with spans: block mappings two spaces deeper than
//! their key, block sequences at their key's column (`rules:` then `- name:`), one space after
//! each line's leading `-`, and no trailing spaces. Every other byte (scalars as quoted, flow
//! collections, comments, blank lines) is kept; lines inside multi-line scalars and flow
//! collections move with the line they start on, so block scalars keep their content.
//!
//! The result must read as the same tree (every scalar's text, style and resolution), which is
//! checked by parsing it again: what NFD, lint and evaluation see cannot change. When it would
//! (an odd construct the rules above do not cover), the text is left as it is and the reason
//! said.

use std::collections::BTreeMap;

use nodefit_core::yaml::{self, Node, Style, Value};

/// Why a text was not formatted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotFormatted(pub String);

/// The source's lines: where each starts, and its first non-space byte.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        if starts.last() == Some(&text.len()) && !text.is_empty() {
            starts.pop();
        }
        Lines { text, starts }
    }

    fn line_of(&self, byte: usize) -> usize {
        self.starts.partition_point(|s| *s <= byte) - 1
    }

    fn col_of(&self, byte: usize) -> usize {
        byte - self.starts[self.line_of(byte)]
    }

    /// The line without its line break.
    fn line(&self, i: usize) -> &'a str {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        self.text[self.starts[i]..end].trim_end_matches('\n')
    }

    fn first_col(&self, i: usize) -> usize {
        let line = self.line(i);
        line.len() - line.trim_start_matches(' ').len()
    }
}

/// What the walk decided for one line.
#[derive(Clone, Copy, Debug)]
enum Plan {
    /// A line where structure starts: its first token goes to this column; `dash` when that
    /// token is a sequence's `-`, followed by one space.
    Start { col: usize, dash: bool },
    /// A line inside a multi-line scalar or flow collection: moved by this many columns.
    Shift(isize),
}

struct Walk<'a> {
    lines: Lines<'a>,
    plans: BTreeMap<usize, Plan>,
}

impl Walk<'_> {
    /// The output column of source byte `at`, on a line already planned.
    fn out_col(&self, at: usize) -> usize {
        let line = self.lines.line_of(at);
        let col = self.lines.col_of(at);
        let first = self.lines.first_col(line);
        match self.plans.get(&line) {
            Some(Plan::Start { col: out, dash }) => {
                if *dash {
                    let text = self.lines.line(line);
                    let after = first + 1 + text[first + 1..].len()
                        - text[first + 1..].trim_start_matches(' ').len();
                    if col >= after {
                        return out + 2 + (col - after);
                    }
                }
                out + col.saturating_sub(first)
            }
            Some(Plan::Shift(by)) => (col as isize + by).max(0) as usize,
            None => col,
        }
    }

    fn starts_line(&self, at: usize) -> bool {
        let line = self.lines.line_of(at);
        self.lines.col_of(at) == self.lines.first_col(line)
    }

    fn plan_start(&mut self, at: usize, col: usize, dash: bool) {
        let line = self.lines.line_of(at);
        self.plans.entry(line).or_insert(Plan::Start { col, dash });
    }

    /// Plans `node`, which starts at output column `col`.
    fn node(&mut self, node: &Node, col: usize) {
        let start = node.span.start;
        // A block collection's span can start at its first item, which may itself be a flow
        // collection (`- {key: a}`): only its own opener makes a collection flow.
        let opener = self.lines.text.as_bytes().get(start);
        match &node.value {
            Value::Map(entries) if opener != Some(&b'{') => {
                for entry in entries {
                    let key = entry.key.span.start;
                    if self.starts_line(key) {
                        self.plan_start(key, col, false);
                    }
                    let key_col = self.out_col(key);
                    self.leaf(&entry.key);
                    self.value(&entry.value, key, key_col);
                }
            }
            Value::Seq(items) if opener != Some(&b'[') => {
                for item in items {
                    let Some(dash) = self.dash_before(item.span.start) else {
                        continue;
                    };
                    if self.starts_line(dash) {
                        self.plan_start(dash, col, true);
                    }
                    let item_col =
                        if self.lines.line_of(item.span.start) == self.lines.line_of(dash) {
                            self.out_col(item.span.start)
                        } else {
                            self.out_col(dash) + 2
                        };
                    if Self::is_block_scalar(item) {
                        self.leaf_from(item, dash);
                        continue;
                    }
                    if !self.same_line(dash, item.span.start) && self.starts_line(item.span.start) {
                        self.plan_start(item.span.start, item_col, false);
                    }
                    self.node(item, item_col);
                }
            }
            _ => self.leaf(node),
        }
    }

    /// A mapping value: on its key's line, or on the lines below.
    fn value(&mut self, value: &Node, key: usize, key_col: usize) {
        let start = value.span.start;
        if Self::is_block_scalar(value) {
            return self.leaf_from(value, key);
        }
        if value.span.start == value.span.end || self.same_line(key, start) {
            let col = self.out_col(start);
            return self.node(value, col);
        }
        let block_seq = matches!(value.value, Value::Seq(_))
            && self.lines.text.as_bytes().get(start) != Some(&b'[');
        // A sequence sits at its key's column; anything else two columns deeper.
        let col = if block_seq { key_col } else { key_col + 2 };
        if self.starts_line(start) && !block_seq {
            self.plan_start(start, col, false);
        }
        self.node(value, col);
    }

    /// A scalar or flow collection: the lines after its first move with it.
    fn leaf(&mut self, node: &Node) {
        self.leaf_from(node, node.span.start);
    }

    /// A scalar or flow collection whose text continues on the lines after `anchor` (its own
    /// start, or for a block scalar, whose span starts at its content, the key or `-` its
    /// `|` or `>` follows): those lines move as `anchor` does.
    fn leaf_from(&mut self, node: &Node, anchor: usize) {
        // A block scalar's span runs up to the next token: its last line is its last text.
        let written = self.lines.text[node.span.start..node.span.end].trim_end();
        let (first, last) = (
            self.lines.line_of(anchor),
            self.lines.line_of(
                (node.span.start + written.len())
                    .saturating_sub(1)
                    .max(node.span.start),
            ),
        );
        if last > first {
            let by = self.out_col(anchor) as isize - self.lines.col_of(anchor) as isize;
            for line in first + 1..=last {
                self.plans.insert(line, Plan::Shift(by));
            }
        }
    }

    /// A block scalar (`|`, `>`): its header is on its key's or `-`'s line.
    fn is_block_scalar(node: &Node) -> bool {
        matches!(&node.value, Value::Scalar(s) if matches!(s.style, Style::Literal | Style::Folded))
    }

    fn same_line(&self, a: usize, b: usize) -> bool {
        self.lines.line_of(a) == self.lines.line_of(b)
    }

    /// The `-` of the sequence item starting at `item`: the nearest one before it, with only
    /// spaces, line breaks, tags and anchors between.
    fn dash_before(&self, item: usize) -> Option<usize> {
        let bytes = self.lines.text.as_bytes();
        let floor = item.saturating_sub(4096);
        (floor..item).rev().find(|&i| {
            bytes[i] == b'-' && matches!(bytes.get(i + 1), None | Some(b' ' | b'\n' | b'\r'))
        })
    }
}

/// Whether two trees read the same: every scalar's text, style and resolution, every key and
/// item in order; spans aside.
fn same_tree(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Scalar(x), Value::Scalar(y)) => x == y,
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_tree(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(a, b)| same_tree(&a.key, &b.key) && same_tree(&a.value, &b.value))
        }
        _ => false,
    }
}

/// Formats `text`; `Err` says why it was left as it is.
pub fn format(text: &str) -> Result<String, NotFormatted> {
    let parsed = yaml::parse_document(text).map_err(|e| {
        NotFormatted(format!(
            "The spec was not formatted: its YAML does not parse ({}). Fix it first (see Problems).",
            e.message
        ))
    })?;
    let Some(root) = &parsed.root else {
        return Ok(text.to_string());
    };
    let mut walk = Walk {
        lines: Lines::new(text),
        plans: BTreeMap::new(),
    };
    if walk.starts_line(root.span.start) {
        walk.plan_start(root.span.start, 0, false);
    }
    walk.node(root, 0);

    let lines = &walk.lines;
    let end_line = lines.line_of(root.span.end.saturating_sub(1).max(root.span.start));
    let mut out = Vec::with_capacity(lines.starts.len());
    for i in 0..lines.starts.len() {
        let line = lines.line(i);
        let first = lines.first_col(i);
        let rest = &line[first..];
        let formatted = match walk.plans.get(&i) {
            Some(Plan::Start { col, dash: true }) => {
                let after = rest[1..].trim_start_matches(' ');
                let gap = if after.is_empty() { "" } else { " " };
                format!("{}-{gap}{}", " ".repeat(*col), after.trim_end())
            }
            Some(Plan::Start { col, dash: false }) => {
                format!("{}{}", " ".repeat(*col), rest.trim_end())
            }
            Some(Plan::Shift(by)) => {
                if *by >= 0 {
                    format!("{}{line}", " ".repeat(*by as usize))
                } else {
                    let cut = (-by) as usize;
                    if rest.is_empty() {
                        line[cut.min(line.len())..].to_string()
                    } else if first >= cut {
                        line[cut..].to_string()
                    } else {
                        return Err(NotFormatted(format!(
                            "The spec was not formatted: line {} is indented less than the text it continues.",
                            i + 1
                        )));
                    }
                }
            }
            None if rest.is_empty() => String::new(),
            // A comment takes the indentation of what follows it (or precedes it, at the end).
            None if rest.starts_with('#') && i <= end_line => {
                let next = (i + 1..lines.starts.len())
                    .find_map(|j| match walk.plans.get(&j) {
                        Some(Plan::Start { col, .. }) => Some(*col),
                        _ => None,
                    })
                    .unwrap_or(0);
                format!("{}{}", " ".repeat(next), rest.trim_end())
            }
            None => line.trim_end().to_string(),
        };
        out.push(formatted);
    }
    let mut formatted = out.join("\n");
    if text.ends_with('\n') || !formatted.is_empty() {
        formatted.push('\n');
    }

    let again = yaml::parse_document(&formatted).ok().and_then(|d| d.root);
    match again {
        Some(node) if same_tree(root, &node) => Ok(formatted),
        _ => Err(NotFormatted(
            "The spec was not formatted: formatting would change how NFD reads it, so it was left as it is.".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSY: &str = "\
# A spec written by hand.
version:   v1alpha1
compatibilities:
    -   description: \"GPU nodes\"   # trailing comment
        tag: gpu
        rules:
            # the module first
            -   name: vfio
                matchFeatures:
                  - feature: kernel.loadedmodule
                    matchExpressions:
                        vfio_pci: {op: Exists}
                varsTemplate: |
                    {{ range .pci.device }}vendor-{{ .vendor }}=1
                      indented line
                    {{ end }}
    -   tag: plain
        description: a plain scalar
            that goes on
        rules: []
";

    const TIDY: &str = "\
# A spec written by hand.
version:   v1alpha1
compatibilities:
- description: \"GPU nodes\"   # trailing comment
  tag: gpu
  rules:
  # the module first
  - name: vfio
    matchFeatures:
    - feature: kernel.loadedmodule
      matchExpressions:
        vfio_pci: {op: Exists}
    varsTemplate: |
        {{ range .pci.device }}vendor-{{ .vendor }}=1
          indented line
        {{ end }}
- tag: plain
  description: a plain scalar
      that goes on
  rules: []
";

    #[test]
    fn a_block_sequence_of_flow_mappings_is_indented_as_a_block() {
        let text = "rules:\n- name: gpu\n  taints:\n      - {key: a, effect: NoSchedule}\n";
        let formatted = format(text).unwrap();
        assert_eq!(
            formatted,
            "rules:\n- name: gpu\n  taints:\n  - {key: a, effect: NoSchedule}\n"
        );
        assert_eq!(format(&formatted), Ok(formatted.clone()));
    }

    #[test]
    fn indentation_becomes_one_style_and_the_rest_is_kept() {
        let formatted = format(MESSY).unwrap();
        assert_eq!(formatted, TIDY);
        assert_eq!(format(TIDY).unwrap(), TIDY, "formatting is idempotent");
    }

    #[test]
    fn what_does_not_parse_is_left_alone() {
        let e = format("a: [\n").unwrap_err();
        assert!(e.0.contains("does not parse"), "{e:?}");
        assert_eq!(format("").unwrap(), "");
    }
}

/// Formatting must not change what lint and evaluation say: every spec of the repository
/// (the gallery, NFD's examples, each example of docs/lint-rules.md, which exercise odd YAML
/// on purpose), formatted, lints to the same diagnostics and evaluates to the same verdicts on
/// the real snapshots; and formatting twice changes nothing more.
#[cfg(test)]
mod equivalence {
    use super::format;
    use nodefit_core::eval::{self, Options};
    use nodefit_core::features::Features;
    use nodefit_core::verdict;

    fn root(rel: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(rel)
    }

    fn specs() -> Vec<(String, String)> {
        let mut out = Vec::new();
        for dir in ["docs/examples", "shared/core/tests/data/examples"] {
            for entry in std::fs::read_dir(root(dir)).unwrap() {
                let path = entry.unwrap().path();
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
        let rules = std::fs::read_to_string(root("docs/lint-rules.md")).unwrap();
        for (i, block) in rules.split("```yaml\n").skip(1).enumerate() {
            let text = block.split("```").next().unwrap().replace(['«', '»'], "");
            out.push((format!("lint-rules.md block {i}"), text));
        }
        assert!(out.len() > 30, "{}", out.len());
        out
    }

    fn snapshots() -> Vec<Features> {
        std::fs::read_dir(root("shared/core/tests/data/samples"))
            .unwrap()
            .flat_map(|e| {
                let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
                nodefit_core::snapshot::parse(&text).unwrap().nodes
            })
            .map(|n| n.features)
            .collect()
    }

    /// The diagnostics without their places, sorted: formatting moves text, so diagnostics at
    /// the same place can come out in another order (a missing key is reported at the start
    /// of the mapping, which indentation moves).
    fn lint(text: &str) -> Vec<(String, String, String)> {
        let mut found: Vec<_> = nodefit_core::lint::lint(text, &[])
            .into_iter()
            .map(|d| {
                (
                    d.code.to_string(),
                    d.severity.as_str().to_string(),
                    d.message,
                )
            })
            .collect();
        found.sort();
        found
    }

    fn verdicts(text: &str, nodes: &[Features]) -> Vec<String> {
        let Ok(spec) = nodefit_core::parse_spec(text) else {
            return vec!["refused".into()];
        };
        nodes
            .iter()
            .map(|f| match eval::evaluate(&spec, f, &Options::default()) {
                Ok(e) => {
                    let v = verdict::judge(&spec, &e);
                    format!("{v} {:?}", v.sets)
                }
                Err(e) => format!("error {}", e.message),
            })
            .collect()
    }

    #[test]
    fn formatted_specs_lint_and_evaluate_as_before() {
        let nodes = snapshots();
        let mut formatted_count = 0;
        for (name, text) in specs() {
            // Messier than written: every line two spaces deeper, which the formatter undoes.
            let deeper: String = text.lines().map(|l| format!("  {l}\n")).collect();
            for input in [&text, &deeper] {
                let Ok(formatted) = format(input) else {
                    continue;
                };
                formatted_count += 1;
                assert_eq!(lint(&formatted), lint(input), "{name}:\n{formatted}");
                assert_eq!(
                    verdicts(&formatted, &nodes),
                    verdicts(input, &nodes),
                    "{name}"
                );
                assert_eq!(
                    format(&formatted).as_ref(),
                    Ok(&formatted),
                    "{name}: idempotent"
                );
            }
        }
        assert!(formatted_count > 50, "most specs format: {formatted_count}");
    }
}
