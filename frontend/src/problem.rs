//! The core's lint, as the editor shows it: each diagnostic with its line and column for the
//! problems list and UTF-16 offsets for CodeMirror, and its fix as a labelled quick fix.

use serde::Serialize;

use nodefit_core::lint::{self, Diagnostic};
use nodefit_core::source::LineIndex;

use crate::offsets::Offsets;

/// A lint fix as the editor applies it (UTF-16 positions).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuickFix {
    pub label: String,
    pub from: usize,
    pub to: usize,
    pub insert: String,
}

/// One diagnostic, for CodeMirror and the problems list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    pub code: &'static str,
    pub severity: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub line: usize,
    pub column: usize,
    pub from: usize,
    pub to: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<QuickFix>,
}

fn short(s: &str) -> String {
    let one_line = s.replace('\n', "⏎");
    if one_line.chars().count() > 40 {
        format!("{}…", one_line.chars().take(40).collect::<String>())
    } else {
        one_line
    }
}

/// Lints `text` with the core and converts the diagnostics for the editor; with them, the spec
/// lint decoded when NFD can read it, for the results to evaluate without decoding again.
pub fn lint(text: &str) -> (Vec<Problem>, Option<nodefit_core::spec::Spec>) {
    let (diagnostics, spec) = lint::lint_and_decode(text);
    let offsets = Offsets::new(text);
    let lines = LineIndex::new(text);
    let problems = diagnostics
        .iter()
        .map(|d: &Diagnostic| {
            let (line, column) = lines.line_col(d.span.start);
            Problem {
                code: d.code,
                severity: d.severity.as_str(),
                message: d.message.clone(),
                hint: d.hint.clone(),
                line,
                column,
                from: offsets.to_utf16(d.span.start),
                to: offsets.to_utf16(d.span.end),
                fix: d.fix.as_ref().map(|f| {
                    let old = text.get(f.span.start..f.span.end).unwrap_or_default();
                    let label = match (old.is_empty(), f.replacement.is_empty()) {
                        (true, _) => format!("Insert `{}`", short(&f.replacement)),
                        (false, true) => format!("Delete `{}`", short(old)),
                        (false, false) => {
                            format!("Replace `{}` with `{}`", short(old), short(&f.replacement))
                        }
                    };
                    QuickFix {
                        label,
                        from: offsets.to_utf16(f.span.start),
                        to: offsets.to_utf16(f.span.end),
                        insert: f.replacement.clone(),
                    }
                }),
            }
        })
        .collect();
    (problems, spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_lines_and_fix_labels() {
        let text = "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: kernel.loadedmodule\n      matchExpressions:\n        vfio-pci: {op: Exists}\n";
        let (found, spec) = lint(text);
        assert!(
            spec.is_some(),
            "NFD reads it: its spec comes back for the results"
        );
        let hyphen = found
            .iter()
            .find(|p| p.code == "module-name-hyphen")
            .expect("module-name-hyphen");
        assert_eq!(hyphen.line, 8);
        assert_eq!(hyphen.severity, "warning");
        let fix = hyphen.fix.as_ref().expect("a fix");
        assert_eq!(fix.insert, "vfio_pci");
        assert_eq!(fix.label, "Replace `vfio-pci` with `vfio_pci`");
        assert_eq!(&text[fix.from..fix.to], "vfio-pci");
    }
}
