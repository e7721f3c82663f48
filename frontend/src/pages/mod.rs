//! One module per tab, and how the pages show what they share.

pub mod editor;
pub mod fleet;
pub mod publish;
pub mod rules;
pub mod snapshots;
pub mod test;
pub mod tokens;
pub mod versions;

use std::collections::BTreeMap;

use nodefit_api::snapshots::SnapshotSummary;

/// What the pages call a snapshot: its node's name, or its id when it has none.
pub fn node_name(s: &SnapshotSummary) -> String {
    match &s.node_name {
        Some(name) if !name.is_empty() => name.clone(),
        _ => s.id.to_string(),
    }
}

/// Labels as `k=v, k=v`, the way they are typed in.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a=b, c=d` → pairs; entries without `=` are reported back.
pub fn parse_labels(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("`{p}` is not a label: write key=value")),
        })
        .collect()
}

/// `41200` as `41,200`.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n thing` or `n things`, with `n` grouped by thousands.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// A lint summary: how many errors, warnings and notes.
pub fn problem_counts(errors: usize, warnings: usize, notes: usize) -> String {
    format!(
        "{}, {}, {}",
        counted(errors, "error", "errors"),
        counted(warnings, "warning", "warnings"),
        counted(notes, "note", "notes")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_back_as_written() {
        let pairs = parse_labels(" pool=gpu, zone = a ,,").unwrap();
        assert_eq!(
            pairs,
            [("pool".into(), "gpu".into()), ("zone".into(), "a".into())]
        );
        assert_eq!(
            labels_text(&pairs.into_iter().collect()),
            "pool=gpu, zone=a"
        );
        assert_eq!(
            parse_labels("pool=gpu, gpu").unwrap_err(),
            "`gpu` is not a label: write key=value"
        );
        assert!(parse_labels("=gpu").is_err());
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(41_200), "41,200");
        assert_eq!(count(1_000_000), "1,000,000");
    }

    #[test]
    fn problem_counts_say_one_and_many() {
        assert_eq!(
            problem_counts(1, 0, 1_200),
            "1 error, 0 warnings, 1,200 notes"
        );
    }
}
