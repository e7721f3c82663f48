//! Kubernetes objects nodefit writes (a NodeFeatureRule, a pod affinity), as an ordered tree
//! that prints as YAML people read and paste, or as JSON.
//!
//! The YAML is written so that every YAML 1.1 reader (kubectl's go-yaml among them) reads back
//! exactly the tree: every string is double-quoted (no `y`, `0302` or `5.10` can turn into
//! something else) except multi-line text, written as a literal block when that is exact.

use std::fmt::Write as _;

/// A YAML/JSON value whose mappings keep their order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tree {
    Str(String),
    Int(i64),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

impl Tree {
    pub fn str(s: impl Into<String>) -> Tree {
        Tree::Str(s.into())
    }

    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Tree)>) -> Tree {
        Tree::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A mapping of strings (labels, vars).
    pub fn strings<'a>(entries: impl IntoIterator<Item = (&'a String, &'a String)>) -> Tree {
        Tree::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.clone(), Tree::Str(v.clone())))
                .collect(),
        )
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Tree::Str(s) => serde_json::Value::String(s.clone()),
            Tree::Int(i) => serde_json::Value::from(*i),
            Tree::List(items) => {
                serde_json::Value::Array(items.iter().map(Tree::to_json).collect())
            }
            Tree::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The tree as a YAML document (block style, two-space indents, ending in a newline).
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        match self {
            Tree::Map(entries) if !entries.is_empty() => write_map(entries, 0, &mut out),
            Tree::List(items) if !items.is_empty() => write_list(items, 0, &mut out),
            other => {
                out.push_str(&scalar(other, 0));
                out.push('\n');
            }
        }
        out
    }
}

/// A key written bare when no YAML 1.1 reader can take it for anything but that string.
fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && crate::yaml::resolve_plain(k) == crate::yaml::Resolved::Str;
    if plain {
        k.to_string()
    } else {
        quote(k)
    }
}

/// JSON's string escapes are valid in YAML double-quoted scalars.
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Multi-line text as a literal block, when one reads back exactly: printable lines, no
/// leading space or tab on the first line (it would set the indentation), and at most one
/// final newline (`|` keeps one, `|-` none).
fn literal(s: &str, indent: usize) -> Option<String> {
    if !s.contains('\n')
        || s.starts_with([' ', '\t', '\n'])
        || s.ends_with("\n\n")
        || s.chars()
            .any(|c| (c.is_control() && c != '\n') || crate::text::is_hidden(c))
        || s.lines().any(|l| l.ends_with([' ', '\t']))
    {
        return None;
    }
    let body = s.strip_suffix('\n');
    let mut out = String::from(if body.is_some() { "|" } else { "|-" });
    let pad = " ".repeat(indent);
    for line in body.unwrap_or(s).split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    Some(out)
}

fn scalar(t: &Tree, indent: usize) -> String {
    match t {
        Tree::Str(s) => literal(s, indent).unwrap_or_else(|| quote(s)),
        Tree::Int(i) => i.to_string(),
        Tree::List(_) => "[]".into(),
        Tree::Map(_) => "{}".into(),
    }
}

fn write_map(entries: &[(String, Tree)], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in entries {
        let _ = write!(out, "{pad}{}:", key(k));
        match v {
            Tree::Map(m) if !m.is_empty() => {
                out.push('\n');
                write_map(m, indent + 2, out);
            }
            Tree::List(items) if !items.is_empty() => {
                out.push('\n');
                write_list(items, indent + 2, out);
            }
            other => {
                let _ = writeln!(out, " {}", scalar(other, indent + 2));
            }
        }
    }
}

fn write_list(items: &[Tree], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for item in items {
        match item {
            Tree::Map(m) if !m.is_empty() => {
                // The first entry goes on the dash's line, the others under it.
                let mut first = String::new();
                write_map(&m[..1], indent + 2, &mut first);
                let _ = write!(out, "{pad}- {}", &first[indent + 2..]);
                write_map(&m[1..], indent + 2, out);
            }
            Tree::List(inner) if !inner.is_empty() => {
                let _ = writeln!(out, "{pad}-");
                write_list(inner, indent + 2, out);
            }
            other => {
                let _ = writeln!(out, "{pad}- {}", scalar(other, indent + 2));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn round_trip(t: &Tree) {
        let text = t.to_yaml();
        let node = yaml::parse(&text).unwrap().unwrap();
        // YAML 1.1 reading, then the JSON kubectl sends.
        assert_eq!(yaml::to_json(&node), t.to_json(), "{text}");
    }

    #[test]
    fn yaml_reads_back_as_the_tree() {
        let tricky = [
            "y",
            "no",
            "0302",
            "5.10",
            "~",
            "",
            "null",
            "-",
            "a: b",
            "#x",
            "{",
            "'q'",
            "\"dq\"",
            "@cpu.model.vendor_id",
            "tab\there",
            "line\nbreak",
            "two\n",
            "lead\n  ing\n",
            " space first\nx",
            "trailing \nspace",
            "end\n\n",
            "\u{200b}hidden\nx",
            "é\nü\n",
        ];
        let tree = Tree::map([
            ("apiVersion", Tree::str("nfd.k8s-sigs.io/v1alpha1")),
            (
                "strings",
                Tree::List(tricky.iter().map(|s| Tree::str(*s)).collect()),
            ),
            (
                "keys",
                Tree::Map(
                    tricky
                        .iter()
                        .map(|s| (s.to_string(), Tree::Int(1)))
                        .collect(),
                ),
            ),
            ("empty", Tree::map(Vec::<(String, Tree)>::new())),
            ("none", Tree::List(vec![])),
            (
                "nested",
                Tree::List(vec![
                    Tree::map([
                        ("a", Tree::Int(-3)),
                        ("b", Tree::List(vec![Tree::str("x")])),
                    ]),
                    Tree::List(vec![Tree::List(vec![Tree::Int(1)])]),
                    Tree::map([(
                        "m",
                        Tree::map([(
                            "template",
                            Tree::str("{{ range .a }}x={{ .Name }}\n{{ end }}\n"),
                        )]),
                    )]),
                ]),
            ),
        ]);
        round_trip(&tree);
        assert!(
            tree.to_yaml().contains("template: |\n"),
            "{}",
            tree.to_yaml()
        );
    }
}
