//! Human-readable output shared by commands: NFD-style report tables and source locations.

use annotate_snippets::{Level, Renderer, Snippet};
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use nodefit_core::lint::{Diagnostic, Severity};
use nodefit_core::report::{CompatibilityStatus, MatchedExpression, MatcherType};
use nodefit_core::source::{LineIndex, Span};
use nodefit_core::verdict;

/// `file:line:column` of a span.
pub fn location(file: &str, src: &str, span: Span) -> String {
    let (line, column) = LineIndex::new(src).line_col(span.start);
    format!("{file}:{line}:{column}")
}

/// The report as `nfd compat validate-node` prints it (a header per set, a table per rule),
/// plus a column with the node's actual values.
pub fn report_table(report: &[CompatibilityStatus], color: bool) -> String {
    let mut out = String::new();
    for set in report {
        let mut header = format!(
            "COMPATIBILITY SET #{} Weight: {}",
            set.index + 1,
            set.weight
        );
        if !set.tag.is_empty() {
            header.push_str(&format!("; Tag: {}", set.tag));
        }
        out.push_str(&header);
        out.push('\n');
        out.push_str(&format!("Description: {}\n", set.description));
        for rule in set.rules.iter().flatten() {
            let status = status_text(rule.is_match, color);
            out.push_str(&format!(
                " RULE: {} - {}\n",
                rule.name.to_uppercase(),
                status
            ));
            let mut table = Table::new();
            table
                .load_preset(presets::ASCII_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header([
                    "#",
                    "FEATURE",
                    "EXPRESSION",
                    "MATCHER TYPE",
                    "STATUS",
                    "NODE VALUE",
                ]);
            let mut n = 0;
            let mut add = |table: &mut Table, e: &MatchedExpression| {
                n += 1;
                table.add_row(row(n, e, color));
            };
            for e in &rule.matched_expressions {
                add(&mut table, e);
            }
            for (i, any) in rule.matched_any.iter().enumerate() {
                table.add_row(vec![
                    Cell::new(""),
                    Cell::new(format!("matchAny #{}", i + 1)),
                ]);
                for e in any.matched_expressions.iter().flatten() {
                    add(&mut table, e);
                }
            }
            if n > 0 {
                for line in table.to_string().lines() {
                    out.push_str("  ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    out
}

fn row(n: usize, e: &MatchedExpression, color: bool) -> Vec<Cell> {
    let feature = if e.name.is_empty() {
        e.feature.to_string()
    } else {
        format!("{}.{}", e.feature, e.name)
    };
    let matcher = match e.matcher_type {
        MatcherType::MatchExpression => "matchExpression",
        MatcherType::MatchName => "matchName",
    };
    let status = verdict::status_word(e.is_match);
    let mut status_cell = Cell::new(status);
    if color {
        status_cell = status_cell.fg(if e.is_match { Color::Green } else { Color::Red });
    }
    vec![
        Cell::new(n),
        Cell::new(feature),
        Cell::new(
            e.expression
                .map_or_else(|| "null".to_string(), |x| x.to_string()),
        ),
        Cell::new(matcher),
        status_cell,
        Cell::new(verdict::actual_text(
            e.actual.as_deref(),
            Some(SHOWN_VALUES),
        )),
    ]
}

/// Values shown in a report's NODE VALUE column before "… (+N more)".
const SHOWN_VALUES: usize = 6;

/// `OK` or `FAIL`, green or red on a terminal.
pub fn status_text(ok: bool, color: bool) -> String {
    let word = verdict::status_word(ok);
    match (ok, color) {
        (true, true) => format!("\x1b[32m{word}\x1b[0m"),
        (false, true) => format!("\x1b[31m{word}\x1b[0m"),
        (_, false) => word.into(),
    }
}

/// Lint diagnostics as rustc prints errors: the location, the source line, a mark under the
/// span, the hint and the fix (via annotate-snippets, rustc's own renderer).
pub fn diagnostics(file: &str, src: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let level = |severity| match severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Info => Level::Info,
    };
    let mut out = String::new();
    for d in diagnostics {
        let fix_note = d.fix.as_ref().map(|f| {
            if f.span.start == f.span.end {
                format!("fix: insert `{}`", f.replacement.trim_end())
            } else {
                format!(
                    "fix: replace `{}` with `{}`",
                    &src[f.span.start..f.span.end],
                    f.replacement
                )
            }
        });
        let end = d.span.end.max(d.span.start);
        let mut message = level(d.severity).title(&d.message).id(d.code).snippet(
            Snippet::source(src)
                .line_start(1)
                .origin(file)
                .fold(true)
                .annotation(level(d.severity).span(d.span.start..end)),
        );
        if let Some(hint) = &d.hint {
            message = message.footer(Level::Help.title(hint));
        }
        if let Some(note) = &fix_note {
            message = message.footer(Level::Note.title(note));
        }
        out.push_str(&renderer.render(message).to_string());
        out.push_str("\n\n");
    }
    out
}
