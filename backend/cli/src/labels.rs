//! `nodefit labels`: what nfd-master would put on each node for a set of NodeFeatureRules, which
//! rule set each label, why the others did not match, and what nfd-master would log.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::{Args, ValueEnum};
use comfy_table::{presets, ContentArrangement, Table};
use nodefit_core::lint::{self, Diagnostic, JsonDiagnostic, Severity};
use nodefit_core::nfr::process::{self, NodeResult, OutputKind, RuleStatus, Ruleset, Settings};
use nodefit_core::nfr::{self, NodeFeatureRule};
use serde::Serialize;

use super::render::{self, location};
use super::test::load_snapshot_file;
use nodefit_files::read_text;

#[derive(Args)]
pub struct LabelsArgs {
    /// NodeFeatureRule files (YAML or JSON; one or many documents, Lists too).
    #[arg(required = true)]
    rules: Vec<PathBuf>,
    /// A node feature snapshot (`nfd export features` JSON, a NodeFeature or a NodeFeatureList).
    /// Repeat for more files.
    #[arg(long, short = 's', required = true)]
    snapshot: Vec<PathBuf>,
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    output: Output,
    /// nfd-master's -deny-label-ns: namespaces whose labels it drops (`*.example.com` for a
    /// domain's subdomains). Comma-separated.
    #[arg(long, value_delimiter = ',')]
    deny_label_ns: Vec<String>,
    /// nfd-master's -extra-label-ns: namespaces it allows even when denied. Comma-separated.
    #[arg(long, value_delimiter = ',')]
    extra_label_ns: Vec<String>,
    /// nfd-master's -label-whitelist: a Go regexp every label's name part must match.
    #[arg(long)]
    label_whitelist: Option<String>,
    /// nfd-master's -enable-taints: without it, nfd-master sets no taints.
    #[arg(long)]
    enable_taints: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

/// Exit code when nfd-master would log an error on some node (a rule failed, or something a
/// rule produced is dropped).
const EXIT_NFD_ERRORS: u8 = 1;

struct RuleFile {
    name: String,
    src: String,
    diagnostics: Vec<Diagnostic>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeJson<'a> {
    node: &'a str,
    snapshot: &'a str,
    #[serde(flatten)]
    result: &'a NodeResult,
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    nodes: Vec<NodeJson<'a>>,
    diagnostics: Vec<JsonDiagnostic>,
}

pub fn run(args: LabelsArgs) -> Result<u8> {
    let settings = Settings::new(
        args.deny_label_ns,
        args.extra_label_ns,
        args.label_whitelist.as_deref(),
        args.enable_taints,
    )
    .map_err(|e| anyhow!("--label-whitelist: {e}"))?;
    let mut files = Vec::new();
    let mut objects: Vec<NodeFeatureRule> = Vec::new();
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    for path in &args.rules {
        let name = path.display().to_string();
        let src = read_text(path)?;
        let parsed = nfr::parse(&src).map_err(|errors| {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| {
                    let at = if e.path.is_empty() {
                        String::new()
                    } else {
                        format!("{}: ", e.path)
                    };
                    format!("{}: {at}{}", location(&name, &src, e.span), e.message)
                })
                .collect();
            anyhow!(
                "the API server would refuse these NodeFeatureRules:\n  {}",
                lines.join("\n  ")
            )
        })?;
        for o in &parsed {
            if let Some(other) = origin.insert(o.name.clone(), name.clone()) {
                bail!(
                    "two NodeFeatureRules are named {:?} ({other} and {name}): a cluster holds only one",
                    o.name
                );
            }
        }
        objects.extend(parsed);
        files.push(RuleFile {
            diagnostics: lint::lint_node_feature_rules(&src),
            name,
            src,
        });
    }
    let budget_limit = nodefit_core::budget::NFR_RULES;
    let rules: usize = objects.iter().map(|o| o.rules.len()).sum();
    if rules > budget_limit.value {
        bail!("{rules} rules in all: {}", budget_limit.exceeded());
    }
    let mut nodes = Vec::new();
    for path in &args.snapshot {
        nodes.extend(load_snapshot_file(path)?);
    }
    let ruleset = Ruleset::new(&objects);
    let options = process::Options {
        explain: true,
        ..Default::default()
    };
    let results: Vec<NodeResult> = nodes
        .iter()
        .map(|n| {
            process::process(&ruleset, &n.snapshot.features, &settings, &options)
                .map_err(|e| anyhow!("{e} (on node {})", n.label))
        })
        .collect::<Result<_>>()?;
    match args.output {
        Output::Json => {
            let out = JsonOutput {
                nodes: nodes
                    .iter()
                    .zip(&results)
                    .map(|(n, r)| NodeJson {
                        node: &n.label,
                        snapshot: &n.source,
                        result: r,
                    })
                    .collect(),
                diagnostics: files
                    .iter()
                    .flat_map(|f| lint::to_json(&f.name, &f.src, &f.diagnostics))
                    .collect(),
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Output::Table => {
            let lint_shown: Vec<&RuleFile> = files
                .iter()
                .filter(|f| f.diagnostics.iter().any(|d| d.severity != Severity::Info))
                .collect();
            let color = super::use_color(std::io::stderr().is_terminal());
            for f in lint_shown {
                eprint!(
                    "{}",
                    render::diagnostics(&f.name, &f.src, &f.diagnostics, color)
                );
            }
            for (n, r) in nodes.iter().zip(&results) {
                if n.label == n.source {
                    println!("NODE: {}", n.label);
                } else {
                    println!("NODE: {} ({})", n.label, n.source);
                }
                print!("{}", node_text(&n.label, r));
            }
        }
    }
    Ok(if results.iter().any(NodeResult::has_errors) {
        EXIT_NFD_ERRORS
    } else {
        0
    })
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    t
}

fn indented(t: &Table) -> String {
    t.to_string()
        .lines()
        .map(|l| format!("  {}\n", l.trim_end()))
        .collect()
}

fn kind_word(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Label => "label",
        OutputKind::Annotation => "annotation",
        OutputKind::ExtendedResource => "extended resource",
        OutputKind::Taint => "taint",
    }
}

/// One node as text: what lands on it, what nfd-master drops and logs, and every rule's outcome.
fn node_text(node: &str, r: &NodeResult) -> String {
    let mut out = String::new();
    for (title, items) in [
        ("LABELS", &r.labels),
        ("ANNOTATIONS", &r.annotations),
        ("EXTENDED RESOURCES", &r.extended_resources),
    ] {
        if items.is_empty() && title != "LABELS" {
            continue;
        }
        out.push_str(&format!("{title} ({})\n", items.len()));
        if items.is_empty() {
            continue;
        }
        let mut t = table(&["KEY", "VALUE", "SET BY"]);
        for p in items {
            t.add_row(vec![
                p.key.clone(),
                p.value.clone(),
                format!("{} / {}", p.object, p.rule),
            ]);
        }
        out.push_str(&indented(&t));
    }
    if !r.taints.is_empty() {
        out.push_str(&format!("TAINTS ({})\n", r.taints.len()));
        let mut t = table(&["TAINT", "SET BY"]);
        for p in &r.taints {
            t.add_row(vec![
                format!("{}={}:{}", p.key, p.value, p.effect),
                format!("{} / {}", p.object, p.rule),
            ]);
        }
        out.push_str(&indented(&t));
    }
    if !r.taints_not_enabled.is_empty() {
        out.push_str(&format!(
            "TAINTS NOT APPLIED ({}): nfd-master sets taints only with -enable-taints\n",
            r.taints_not_enabled.len()
        ));
        for p in &r.taints_not_enabled {
            out.push_str(&format!(
                "  {}={}:{}  ({} / {})\n",
                p.key, p.value, p.effect, p.object, p.rule
            ));
        }
    }
    out.push_str("RULES\n");
    let mut t = table(&["STATUS", "RULE", "WHY NOT"]);
    for rule in &r.rules {
        let status = match rule.status {
            RuleStatus::Matched => "matched",
            RuleStatus::NotMatched => "no match",
            RuleStatus::Error => "ERROR",
        };
        let why = match rule.status {
            RuleStatus::Error => rule.error.clone().unwrap_or_default(),
            _ => rule.why.join("; "),
        };
        t.add_row(vec![
            status.to_string(),
            format!("{} / {}", rule.object, rule.rule),
            why,
        ]);
    }
    out.push_str(&indented(&t));
    if r.has_errors() {
        out.push_str("NFD-MASTER WOULD LOG\n");
        for rule in r.rules.iter().filter(|x| x.status == RuleStatus::Error) {
            out.push_str(&format!(
                "  \"failed to process rule\" err={:?} ruleName={:?} nodefeaturerule={:?} nodeName={node:?}\n",
                rule.error.as_deref().unwrap_or_default(),
                rule.rule,
                rule.object
            ));
        }
        for x in &r.rejected {
            let what = match x.kind {
                OutputKind::Label => "ignoring label",
                OutputKind::Annotation => "ignoring annotation",
                OutputKind::ExtendedResource => "failed to create extended resources",
                OutputKind::Taint => "ignoring taint",
            };
            out.push_str(&format!(
                "  {what:?} err={:?} {} {:?}={:?} (set by {} / {})\n",
                x.reason,
                kind_word(x.kind),
                x.key,
                x.value,
                x.object,
                x.rule
            ));
        }
    }
    out.push('\n');
    out
}
