//! `nodefit test`: a spec against snapshots, answered as `nfd compat validate-node` would.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::{Args, ValueEnum};
use nodefit_core::eval::{self, Options};
use nodefit_core::report::{self, CompatibilityStatus};
use nodefit_core::snapshot::{self, NodeSnapshot};
use nodefit_core::spec::Spec;
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

/// One evaluated node, as printed for more than one node.
#[derive(Serialize)]
pub struct NodeReport<'a> {
    node: String,
    snapshot: String,
    compatible: bool,
    #[serde(rename = "bestSet")]
    best_set: Option<usize>,
    report: Vec<CompatibilityStatus<'a>>,
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
    print_reports(&spec, &reports, matches!(args.output, Output::Json));
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
                    "{}: {} (while evaluating node {}; NFD aborts validation here)",
                    location(spec_name, spec_src, e.span),
                    e.message,
                    node.label
                )
            })?;
            Ok(NodeReport {
                node: node.label.clone(),
                snapshot: node.source.clone(),
                compatible: evaluation.is_compatible(),
                best_set: evaluation.best_set(spec),
                report: report::build(spec, &evaluation, features),
            })
        })
        .collect()
}

/// Prints reports as NFD's JSON (one node: NFD's array; several: an array of node reports) or
/// as tables with a verdict per node.
pub fn print_reports(spec: &Spec, reports: &[NodeReport], json: bool) {
    if json {
        if let [only] = reports {
            println!("{}", report::to_go_json(&only.report));
        } else {
            println!("{}", report::to_go_json(reports));
        }
        return;
    }
    let color = super::use_color(std::io::stdout().is_terminal());
    let many = reports.len() > 1;
    for r in reports {
        if many {
            println!("NODE: {} ({})", r.node, r.snapshot);
        }
        print!("{}", render::report_table(&r.report, color));
        println!("{}", verdict(spec, r, color));
        if many {
            println!();
        }
    }
}

/// 0 when every node is compatible, 1 otherwise.
pub fn exit_code(reports: &[NodeReport]) -> u8 {
    if reports.iter().all(|r| r.compatible) {
        0
    } else {
        EXIT_NOT_COMPATIBLE
    }
}

fn verdict(spec: &Spec, r: &NodeReport, color: bool) -> String {
    let status = render::status_text(r.compatible, color);
    match r.best_set {
        Some(i) => {
            let set = &spec.compatibilities[i];
            let tag = if set.tag.is_empty() {
                String::new()
            } else {
                format!(", tag {:?}", set.tag)
            };
            format!(
                "VERDICT: {status} compatible: best set #{}{tag}, weight {}",
                i + 1,
                set.weight
            )
        }
        None if r.report.is_empty() => {
            format!("VERDICT: {status} no compatibility set selected (check --tags)")
        }
        None => format!(
            "VERDICT: {status} not compatible: no compatibility set has all its rules matched"
        ),
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
