//! `nodefit lint`: every mistake in a spec at the line where it was written, as rustc-style
//! text, JSON or SARIF.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use nodefit_core::lint::{self, Diagnostic, LintSnapshot, Severity, RULES};
use nodefit_core::nfr;
use serde_json::json;

use super::render;
use super::test::{load_snapshot_file, LabelledNode};
use nodefit_files::read_text;

#[derive(Args)]
pub struct LintArgs {
    /// Spec files, or NodeFeatureRule files (YAML or JSON).
    #[arg(required = true)]
    specs: Vec<PathBuf>,
    /// Snapshots to check feature and element names against, and to count rule matches on.
    #[arg(long, short = 's')]
    snapshot: Vec<PathBuf>,
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Sarif,
}

/// Exit code when some file has an error-severity diagnostic.
const EXIT_LINT_ERRORS: u8 = 1;
/// Exit code when some file goes over a budget: nodefit refuses to process it, as any other
/// unusable input.
const EXIT_OVER_BUDGET: u8 = 2;

#[derive(serde::Serialize)]
struct JsonOutput {
    diagnostics: Vec<lint::JsonDiagnostic>,
}

struct Linted {
    file: String,
    src: String,
    diagnostics: Vec<Diagnostic>,
}

pub fn run(args: LintArgs) -> Result<u8> {
    let mut nodes: Vec<LabelledNode> = Vec::new();
    for path in &args.snapshot {
        nodes.extend(load_snapshot_file(path)?);
    }
    let snapshots: Vec<LintSnapshot> = nodes
        .iter()
        .map(|n| LintSnapshot {
            name: &n.label,
            features: &n.snapshot.features,
        })
        .collect();
    let mut linted = Vec::with_capacity(args.specs.len());
    for path in &args.specs {
        let src = read_text(path)?;
        // NodeFeatureRules are linted on their own: their matchers are a spec's, but they are
        // not evaluated against snapshots here (`nodefit labels` does that).
        let diagnostics = if nfr::is_node_feature_rule_file(&src) {
            lint::lint_node_feature_rules(&src)
        } else {
            lint::lint(&src, &snapshots)
        };
        linted.push(Linted {
            file: path.display().to_string(),
            src,
            diagnostics,
        });
    }
    match args.format {
        Format::Human => print!(
            "{}",
            human(&linted, super::use_color(std::io::stdout().is_terminal()))
        ),
        Format::Json => {
            let diagnostics = linted
                .iter()
                .flat_map(|l| lint::to_json(&l.file, &l.src, &l.diagnostics))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&JsonOutput { diagnostics })?
            );
        }
        Format::Sarif => println!("{}", serde_json::to_string_pretty(&sarif(&linted))?),
    }
    let all = || linted.iter().flat_map(|l| &l.diagnostics);
    Ok(if all().any(lint::is_over_budget) {
        EXIT_OVER_BUDGET
    } else if all().any(|d| d.severity == Severity::Error) {
        EXIT_LINT_ERRORS
    } else {
        0
    })
}

/// rustc-style output: the location, the source line, a caret under the span, the hint and fix.
fn human(linted: &[Linted], color: bool) -> String {
    let mut out = String::new();
    for l in linted {
        out.push_str(&render::diagnostics(&l.file, &l.src, &l.diagnostics, color));
    }
    let all = || linted.iter().flat_map(|l| &l.diagnostics);
    let errors = all().filter(|d| d.severity == Severity::Error).count();
    let warnings = all().filter(|d| d.severity == Severity::Warning).count();
    let files = linted.len();
    out.push_str(&format!(
        "{} file{} checked: {errors} error{}, {warnings} warning{}\n",
        files,
        if files == 1 { "" } else { "s" },
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    ));
    out
}

/// SARIF 2.1.0 for code-scanning tools. Written with serde_json: the typed `serde-sarif` crate
/// generates every SARIF type at build time, far more than the few fields used here.
fn sarif(linted: &[Linted]) -> serde_json::Value {
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "shortDescription": { "text": r.summary },
                "helpUri": format!("https://github.com/nodefit/nodefit/blob/main/docs/lint-rules.md#{}", r.code),
                "defaultConfiguration": { "level": sarif_level(r.severity) },
            })
        })
        .collect();
    let results: Vec<_> = linted
        .iter()
        .flat_map(|l| {
            lint::to_json(&l.file, &l.src, &l.diagnostics)
                .into_iter()
                .zip(&l.diagnostics)
                .map(|(j, d)| {
                    let mut message = d.message.clone();
                    if let Some(hint) = &d.hint {
                        message.push_str(&format!(" ({hint})"));
                    }
                    let mut result = json!({
                        "ruleId": d.code,
                        "ruleIndex": RULES.iter().position(|r| r.code == d.code).unwrap_or(0),
                        "level": sarif_level(d.severity),
                        "message": { "text": message },
                        "locations": [{
                            "physicalLocation": {
                                "artifactLocation": { "uri": j.file },
                                "region": {
                                    "startLine": j.at.line, "startColumn": j.at.column,
                                    "endLine": j.at.end_line, "endColumn": j.at.end_column,
                                    "byteOffset": j.at.start_byte, "byteLength": j.at.end_byte - j.at.start_byte,
                                }
                            }
                        }],
                    });
                    if let Some(f) = &j.fix {
                        result["fixes"] = json!([{
                            "description": { "text": format!("replace with `{}`", f.replacement) },
                            "artifactChanges": [{
                                "artifactLocation": { "uri": j.file },
                                "replacements": [{
                                    "deletedRegion": { "byteOffset": f.at.start_byte, "byteLength": f.at.end_byte - f.at.start_byte },
                                    "insertedContent": { "text": f.replacement },
                                }]
                            }]
                        }]);
                    }
                    result
                })
                .collect::<Vec<_>>()
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "nodefit",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/nodefit/nodefit",
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}
