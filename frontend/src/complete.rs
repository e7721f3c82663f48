//! Autocomplete for the spec editor: which kind of word the cursor is on (a key at some level
//! of the spec, a feature name, an element, an op, a value) and what fits there.
//!
//! The context is read from the text around the cursor, not from the YAML tree: while someone
//! types, the document is usually incomplete and does not parse, but indentation still tells
//! which mapping a line belongs to.

use crate::vocab::{self, SnapshotIndex, Suggestion};

/// Suggestions for the word `from..to` (byte offsets).
#[derive(Debug, PartialEq)]
pub struct Completion {
    pub from: usize,
    pub to: usize,
    pub options: Vec<Suggestion>,
}

const TOP_KEYS: &[(&str, &str)] = &[
    ("version", "Spec version: v1alpha1"),
    (
        "compatibilities",
        "Compatibility sets; a node fits when one set matches",
    ),
];
const SET_KEYS: &[(&str, &str)] = &[
    ("description", "What this set stands for"),
    ("weight", "Preference among matching sets (1..100)"),
    ("tag", "Name for `--tags` selection"),
    ("rules", "Rules that must all match"),
];
const RULE_KEYS: &[(&str, &str)] = &[
    ("name", "Rule name shown in reports"),
    ("matchFeatures", "Terms that must all match"),
    ("matchAny", "Alternatives: one must match"),
];
const TERM_KEYS: &[(&str, &str)] = &[
    ("feature", "Feature name, <source>.<feature>"),
    ("matchExpressions", "Element → expression"),
    ("matchName", "Expression on element names"),
];
const EXPR_KEYS: &[(&str, &str)] = &[
    ("op", "Operator"),
    ("value", "Values for the operator"),
    ("type", "`version` for version comparison"),
];

/// One line's structure: where its key starts and the key and value text.
struct Line<'a> {
    key_col: usize,
    key: Option<&'a str>,
    value: &'a str,
    /// The line opens a sequence item (`- `) right before its key.
    item: bool,
}

fn split_line(line: &str) -> Line<'_> {
    let mut col = 0;
    let mut item = false;
    let bytes = line.as_bytes();
    loop {
        match bytes.get(col) {
            Some(b' ') => col += 1,
            Some(b'-') if matches!(bytes.get(col + 1), Some(b' ') | None) => {
                item = true;
                col += 1;
            }
            _ => break,
        }
    }
    let rest = &line[col..];
    match find_key_colon(rest) {
        Some(i) => Line {
            key_col: col,
            key: Some(rest[..i].trim_matches(|c| c == '"' || c == '\'')),
            value: rest[i + 1..].trim(),
            item,
        },
        None => Line {
            key_col: col,
            key: None,
            value: rest.trim(),
            item,
        },
    }
}

/// The colon ending a plain key: followed by a space or the end of the line, outside quotes.
fn find_key_colon(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if matches!(bytes.first(), Some(b'{' | b'[' | b'#')) {
        return None;
    }
    bytes
        .iter()
        .enumerate()
        .find(|(i, &b)| b == b':' && matches!(bytes.get(i + 1), Some(b' ') | None))
        .map(|(i, _)| i)
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// The mappings enclosing a position, innermost first: the key each one hangs under and the
/// keys (with their values) written above the position in that mapping.
#[derive(Debug, Default)]
struct Scope {
    /// `parents[0]` is the key of the mapping containing the cursor's mapping, and so on.
    parents: Vec<String>,
    /// `siblings[0]` are the entries of the cursor's own mapping, `siblings[1]` of its parent...
    siblings: Vec<Vec<(String, String)>>,
}

impl Scope {
    fn sibling(&self, level: usize, key: &str) -> Option<&str> {
        self.siblings
            .get(level)?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim_matches(|c| c == '"' || c == '\''))
    }
}

fn scope(lines: &[&str], at_col: usize, cursor_line_is_item: bool) -> Scope {
    let mut scope = Scope {
        parents: Vec::new(),
        siblings: vec![Vec::new()],
    };
    let mut threshold = at_col;
    // Once the line starting the current sequence item is passed, keys at the same column
    // belong to an earlier item, not to this mapping.
    let mut item_closed = cursor_line_is_item;
    for line in lines.iter().rev() {
        if is_blank_or_comment(line) {
            continue;
        }
        let l = split_line(line);
        if l.key_col < threshold {
            let Some(key) = l.key else {
                // A bare `- item` line or flow text at a lower column: still inside a sequence.
                continue;
            };
            scope.parents.push(key.to_string());
            scope
                .siblings
                .push(vec![(key.to_string(), l.value.to_string())]);
            threshold = l.key_col;
            item_closed = l.item;
            if threshold == 0 {
                break;
            }
        } else if l.key_col == threshold && !item_closed {
            if let (Some(key), Some(level)) = (l.key, scope.siblings.last_mut()) {
                level.push((key.to_string(), l.value.to_string()));
            }
            item_closed = l.item;
        }
    }
    scope
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')
}

/// Suggestions at byte offset `pos`; `explicit` when the user asked (Ctrl-Space), which also
/// offers suggestions before anything is typed.
pub fn complete(
    text: &str,
    pos: usize,
    explicit: bool,
    index: &SnapshotIndex,
) -> Option<Completion> {
    let pos = pos.min(text.len());
    if !text.is_char_boundary(pos) {
        return None;
    }
    let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
    let prefix = &text[line_start..pos];
    let word_len: usize = prefix
        .chars()
        .rev()
        .take_while(|c| is_word_char(*c))
        .map(char::len_utf8)
        .sum();
    let from = pos - word_len;
    let to = from
        + text[from..line_end]
            .chars()
            .take_while(|c| is_word_char(*c))
            .map(char::len_utf8)
            .sum::<usize>();
    if word_len == 0 && !explicit && !prefix.ends_with(": ") && !prefix.ends_with("- ") {
        return None;
    }
    let before_word = &prefix[..prefix.len() - word_len];
    if before_word.trim_start().starts_with('#') || before_word.contains(" #") {
        return None;
    }

    let line = split_line(prefix);
    let lines: Vec<&str> = text[..line_start].lines().collect();
    let options = if let Some(flow_at) = before_word.find(['{', '[']) {
        let scope = scope(&lines, line.key_col, line.item);
        flow_options(&before_word[flow_at..], line.key, &scope, index)
    } else if let Some(key) = line.key {
        // The cursor is after `key: `: a value.
        let scope = scope(&lines, line.key_col, line.item);
        value_options(key, &scope, index)
    } else {
        // A key being typed, or a `- value` item of a block list.
        let scope = scope(&lines, line.key_col, line.item);
        if line.item && scope.parents.first().is_some_and(|p| p == "value") {
            element_values(&scope, 1, index)
        } else {
            key_options(&scope, index)
        }
    };
    (!options.is_empty()).then_some(Completion { from, to, options })
}

/// The feature of the term that an expression at `level` (0: the cursor's mapping is the
/// expression itself) belongs to, and its element.
fn expression_context(scope: &Scope, level: usize) -> Option<(&str, &str)> {
    // Expression mapping → element key (parents[level]) under matchExpressions
    // (parents[level + 1]) in the term, whose `feature` is a sibling at level + 2.
    let element = scope.parents.get(level)?;
    if scope.parents.get(level + 1)? != "matchExpressions" {
        return None;
    }
    Some((scope.sibling(level + 2, "feature")?, element))
}

fn element_values(scope: &Scope, level: usize, index: &SnapshotIndex) -> Vec<Suggestion> {
    // The expression mapping hangs under `parents[level]`: an element, or `matchName`.
    if scope.parents.get(level).is_some_and(|p| p == "matchName") {
        let feature = scope.sibling(level + 1, "feature").unwrap_or_default();
        return vocab::elements(feature, index);
    }
    match expression_context(scope, level) {
        Some((feature, element)) => vocab::values(feature, element, index),
        None => Vec::new(),
    }
}

fn key_options(scope: &Scope, index: &SnapshotIndex) -> Vec<Suggestion> {
    match scope.parents.first().map(String::as_str) {
        None => vocab::keys(TOP_KEYS),
        Some("compatibilities") => vocab::keys(SET_KEYS),
        Some("rules") => vocab::keys(RULE_KEYS),
        Some("matchFeatures") => vocab::keys(TERM_KEYS),
        Some("matchAny") => vocab::keys(&[("matchFeatures", "Terms that must all match")]),
        Some("matchExpressions") => match scope.sibling(1, "feature") {
            Some(feature) => vocab::element_keys(feature, index),
            None => Vec::new(),
        },
        Some("matchName") => vocab::keys(EXPR_KEYS),
        Some(_)
            if scope
                .parents
                .get(1)
                .is_some_and(|p| p == "matchExpressions") =>
        {
            vocab::keys(EXPR_KEYS)
        }
        Some(_) => Vec::new(),
    }
}

fn value_options(key: &str, scope: &Scope, index: &SnapshotIndex) -> Vec<Suggestion> {
    match key {
        "feature" => vocab::features(index),
        "op" => vocab::ops(),
        "type" => vocab::keys(&[("version", "Compare as versions")])
            .into_iter()
            .map(|mut s| {
                s.apply = None;
                s
            })
            .collect(),
        "version" if scope.parents.is_empty() => vec![Suggestion {
            label: "v1alpha1".into(),
            kind: "constant",
            detail: None,
            info: None,
            apply: None,
        }],
        "value" => element_values(scope, 0, index),
        _ => Vec::new(),
    }
}

/// Inside `{...}`/`[...]` on one line: `element: {op: In, value: [x` or `matchName: {op: ...}`.
fn flow_options(
    flow: &str,
    line_key: Option<&str>,
    scope: &Scope,
    index: &SnapshotIndex,
) -> Vec<Suggestion> {
    // The last `key:` inside the flow text decides; after `,` or `{` a key is being typed.
    let trimmed = flow.trim_end();
    let last_key = flow
        .rfind([',', '{'])
        .map(|i| &flow[i + 1..])
        .and_then(|tail| tail.split_once(':'))
        .map(|(k, _)| k.trim());
    let in_list = flow.rfind('[') > flow.rfind(']');
    let expecting_key = trimmed.ends_with('{') || (trimmed.ends_with(',') && !in_list);
    let is_match_name = line_key == Some("matchName");
    if expecting_key {
        return vocab::keys(EXPR_KEYS);
    }
    match (in_list, last_key) {
        (_, Some("op")) if !in_list => vocab::ops(),
        (true, _) | (_, Some("value")) => {
            if is_match_name {
                vocab::elements(scope.sibling(0, "feature").unwrap_or_default(), index)
            } else if scope
                .parents
                .first()
                .is_some_and(|p| p == "matchExpressions")
            {
                let feature = scope.sibling(1, "feature").unwrap_or_default();
                vocab::values(feature, line_key.unwrap_or_default(), index)
            } else {
                Vec::new()
            }
        }
        (_, Some("type")) => value_options("type", scope, index),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> SnapshotIndex {
        let snap = nodefit_core::snapshot::parse(
            r#"{"attributes":{"cpu.model":{"elements":{"vendor_id":"Intel","family":"6"}}},
                "instances":{"pci.device":{"elements":[{"attributes":{"vendor":"10de"}}]}}}"#,
        )
        .unwrap();
        let mut index = SnapshotIndex::default();
        index.add(&snap.nodes[0].features);
        index
    }

    /// Completes at the `|` in `text`.
    fn at(text: &str) -> Option<(String, Vec<String>)> {
        let pos = text.find('|').unwrap();
        let text = text.replace('|', "");
        complete(&text, pos, true, &index()).map(|c| {
            (
                text[c.from..c.to].to_string(),
                c.options.into_iter().map(|s| s.label).collect(),
            )
        })
    }

    const HEAD: &str =
        "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n";

    #[test]
    fn top_level_and_set_keys() {
        let (_, labels) = at("ver|").unwrap();
        assert!(labels.contains(&"version".into()));
        let (_, labels) = at("version: v1alpha1\ncompatibilities:\n- we|").unwrap();
        assert!(labels.contains(&"weight".into()));
        let (_, labels) = at("version: v1alpha1\ncompatibilities:\n- rules: []\n  ta|").unwrap();
        assert!(labels.contains(&"tag".into()), "{labels:?}");
    }

    #[test]
    fn feature_names_after_feature_key() {
        let (word, labels) = at(&format!("{HEAD}    - feature: cpu.mo|")).unwrap();
        assert_eq!(word, "cpu.mo");
        assert!(labels.contains(&"cpu.model".into()));
    }

    #[test]
    fn element_keys_use_the_terms_feature() {
        let text = format!(
            "{HEAD}    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {{op: In}}\n        fa|"
        );
        let (_, labels) = at(&text).unwrap();
        assert!(labels.contains(&"family".into()), "{labels:?}");
        assert!(!labels.contains(&"op".into()));
    }

    #[test]
    fn ops_and_values_in_flow_expressions() {
        let text = format!(
            "{HEAD}    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {{op: I|"
        );
        let (word, labels) = at(&text).unwrap();
        assert_eq!(word, "I");
        assert!(labels.contains(&"InRegexp".into()));
        let text = format!(
            "{HEAD}    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {{op: In, value: [|"
        );
        let (_, labels) = at(&text).unwrap();
        assert_eq!(labels, ["Intel"]);
    }

    #[test]
    fn values_in_block_expressions() {
        let text = format!(
            "{HEAD}    - feature: pci.device\n      matchExpressions:\n        vendor:\n          op: In\n          value:\n          - 10|"
        );
        let (word, labels) = at(&text).unwrap();
        assert_eq!(word, "10");
        assert_eq!(labels, ["10de"]);
        let text = format!(
            "{HEAD}    - feature: pci.device\n      matchExpressions:\n        vendor:\n          o|"
        );
        let (_, labels) = at(&text).unwrap();
        assert!(labels.contains(&"op".into()));
    }

    #[test]
    fn match_name_values_are_element_names() {
        let text = format!("{HEAD}    - feature: cpu.model\n      matchName: {{op: In, value: [|");
        let (_, labels) = at(&text).unwrap();
        assert!(labels.contains(&"vendor_id".into()), "{labels:?}");
    }

    #[test]
    fn earlier_items_do_not_leak_into_the_current_one() {
        // The first term's feature must not be taken for the second term's.
        let text = format!(
            "{HEAD}    - feature: pci.device\n    - feature: cpu.model\n      matchExpressions:\n        fam|"
        );
        let (_, labels) = at(&text).unwrap();
        assert!(labels.contains(&"family".into()), "{labels:?}");
        assert!(!labels.contains(&"vendor".into()));
    }

    #[test]
    fn nothing_in_comments_or_without_a_word() {
        assert!(at("# ver|").is_none());
        let text = "version: v1alpha1\n";
        assert!(complete(text, text.len(), false, &index()).is_none());
    }
}
