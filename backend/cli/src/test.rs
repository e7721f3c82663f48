//! `nodefit test`: a spec against snapshots, answered as `nfd compat validate-node` would.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::{Args, ValueEnum};
use nodefit_core::eval::{self, Options};
use nodefit_core::report::{self, CompatibilityStatus};
use nodefit_core::snapshot::{self, NodeSnapshot};
use nodefit_core::spec::Spec;
use nodefit_core::verdict::{self, NodeVerdict};
use serde::Serialize;

use super::render::{self, location};
use nodefit_files::read_text;

#[derive(Args)]
pub struct TestArgs {
    /// The compatibility spec (YAML or JSON).
    spec: PathBuf,
    /// A node feature snapshot: `nfd export features` JSON, a NodeFeature or a NodeFeatureList
    /// (YAML or JSON). Repeat for more files.
    #[arg(long, short = 's', required = true)]
    snapshot: Vec<PathBuf>,
    /// Evaluate only compatibility sets with one of these tags (comma-separated), like NFD's --tags.
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

/// Exit code when some node is not compatible.
const EXIT_NOT_COMPATIBLE: u8 = 1;

/// One evaluated node: its label, the file it came from, and its verdict.
pub struct NodeReport<'s> {
    node: String,
    snapshot: String,
    verdict: NodeVerdict<'s>,
}

impl<'s> NodeReport<'s> {
    /// NFD's report of the node (every verdict here is explained).
    fn report(&self) -> &[CompatibilityStatus<'s>] {
        self.verdict.report.as_deref().unwrap_or_default()
    }
}

/// A node as printed in the JSON array for more than one node.
#[derive(Serialize)]
struct NodeJson<'r, 's> {
    node: &'r str,
    snapshot: &'r str,
    compatible: bool,
    #[serde(rename = "bestSet")]
    best_set: Option<usize>,
    report: &'r [CompatibilityStatus<'s>],
}

pub fn run(args: TestArgs) -> Result<u8> {
    let spec_name = args.spec.display().to_string();
    let spec_src = read_text(&args.spec)?;
    let spec = load_spec(&spec_name, &spec_src)?;
    let mut nodes = Vec::new();
    for path in &args.snapshot {
        nodes.extend(load_snapshot_file(path)?);
    }
    let options = Options {
        tags: args.tags,
        ..Options::default()
    };
    let reports = evaluate_nodes(&spec, &spec_name, &spec_src, &nodes, &options)?;
    print_reports(&reports, matches!(args.output, Output::Json));
    Ok(exit_code(&reports))
}

/// A node to evaluate: a display label, the file it came from, its features.
pub struct LabelledNode {
    pub label: String,
    pub source: String,
    pub snapshot: NodeSnapshot,
}

/// Reads every node of a snapshot file; unnamed nodes are labelled by the file name.
pub fn load_snapshot_file(path: &std::path::Path) -> Result<Vec<LabelledNode>> {
    let name = path.display().to_string();
    let src = read_text(path)?;
    let parsed = snapshot::parse(&src)
        .map_err(|e| anyhow!("{name}:{}:{}: {}", e.line, e.column, e.message))?;
    let count = parsed.nodes.len();
    Ok(parsed
        .nodes
        .into_iter()
        .enumerate()
        .map(|(i, node)| LabelledNode {
            label: match &node.name {
                Some(n) => n.clone(),
                None if count == 1 => name.clone(),
                None => format!("{name}#{i}"),
            },
            source: name.clone(),
            snapshot: node,
        })
        .collect())
}

/// Evaluates the spec on each node; an evaluation error (which aborts NFD) names the spec
/// location and the node.
pub fn evaluate_nodes<'s>(
    spec: &'s Spec,
    spec_name: &str,
    spec_src: &str,
    nodes: &[LabelledNode],
    options: &Options,
) -> Result<Vec<NodeReport<'s>>> {
    nodes
        .iter()
        .map(|node| {
            let features = &node.snapshot.features;
            let evaluation = eval::evaluate(spec, features, options).map_err(|e| {
                anyhow!(
                    "{}: {} (while evaluating node {}; {})",
                    location(spec_name, spec_src, e.span),
                    e.message,
                    node.label,
                    verdict::error_note(&e)
                )
            })?;
            Ok(NodeReport {
                node: node.label.clone(),
                snapshot: node.source.clone(),
                verdict: verdict::explain(spec, &evaluation, features),
            })
        })
        .collect()
}

/// Prints reports as NFD's JSON (one node: NFD's array; several: an array of node reports) or
/// as tables with a verdict per node.
pub fn print_reports(reports: &[NodeReport], json: bool) {
    if json {
        if let [only] = reports {
            println!("{}", report::to_go_json(only.report()));
        } else {
            let nodes: Vec<NodeJson> = reports
                .iter()
                .map(|r| NodeJson {
                    node: &r.node,
                    snapshot: &r.snapshot,
                    compatible: r.verdict.compatible,
                    best_set: r.verdict.best_set,
                    report: r.report(),
                })
                .collect();
            println!("{}", report::to_go_json(&nodes));
        }
        return;
    }
    let color = super::use_color(std::io::stdout().is_terminal());
    let many = reports.len() > 1;
    for r in reports {
        if many {
            println!("NODE: {} ({})", r.node, r.snapshot);
        }
        print!("{}", render::report_table(r.report(), color));
        println!(
            "VERDICT: {} {}",
            render::status_text(r.verdict.compatible, color),
            r.verdict.explanation()
        );
        if many {
            println!();
        }
    }
}

/// 0 when every node is compatible, 1 otherwise.
pub fn exit_code(reports: &[NodeReport]) -> u8 {
    if reports.iter().all(|r| r.verdict.compatible) {
        0
    } else {
        EXIT_NOT_COMPATIBLE
    }
}

/// Parses a spec or explains, with file:line:column, why NFD would refuse it.
pub fn load_spec(name: &str, src: &str) -> Result<Spec> {
    nodefit_core::parse_spec(src).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| {
                let path = if e.path.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", e.path)
                };
                format!("{}: {path}{}", location(name, src, e.span), e.message)
            })
            .collect();
        anyhow!("NFD cannot decode this spec:\n  {}", lines.join("\n  "))
    })
}
