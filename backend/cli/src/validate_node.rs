//! `nodefit validate-node`: NFD's `nfd compat validate-node`: fetch the spec NFD would use for
//! the image, then evaluate it like `nodefit test` on this host (captured as NFD's sources
//! discover it) or on the snapshots given.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use nodefit_core::eval::Options;

use super::capture::{report_problems, HostArgs};
use super::registry_opts::{platform, RegistryOpts};
use super::test::{
    evaluate_nodes, exit_code, load_snapshot_file, load_spec, print_reports, LabelledNode,
};
use super::trust_opts::TrustOpts;
use super::verify::fetch_spec;
use nodefit_capture as capture;
use nodefit_core::snapshot::NodeSnapshot;
use nodefit_registry::{Access, Client, ImageRef};

#[derive(Args)]
pub struct ValidateNodeArgs {
    /// The image whose compatibility artifact to use, with its registry.
    #[arg(long, value_name = "REF")]
    image: String,
    /// Evaluate these nodes instead of this host: `nfd export features` JSON, a NodeFeature or
    /// a NodeFeatureList. Repeat for more files.
    #[arg(long, short = 's', value_name = "FILE")]
    snapshot: Vec<PathBuf>,
    /// This host's name, for `system.name.nodename` when it is captured. NFD reads NODE_NAME.
    #[arg(long, env = "NODE_NAME", value_name = "NAME")]
    node_name: Option<String>,
    #[command(flatten)]
    host: HostArgs,
    /// Evaluate only compatibility sets with one of these tags (comma-separated).
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// The artifact platform, `os[/arch[/variant]][:osversion]`: resolve a multi-platform image
    /// to that platform's manifest first.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    /// Print NFD's JSON report instead of tables.
    #[arg(long)]
    output_json: bool,
    /// Verify the artifact's signatures with this cosign public key before evaluating (bundles
    /// and classic signatures; repeat for more); refuse an unsigned, tampered or wrongly signed
    /// spec (exit 4).
    #[arg(long, value_name = "FILE")]
    verify_key: Vec<PathBuf>,
    #[command(flatten)]
    trust: TrustOpts,
    #[command(flatten)]
    registry: RegistryOpts,
}

pub async fn run(args: ValidateNodeArgs) -> Result<u8> {
    let image = ImageRef::parse(&args.image)?;
    let platform = platform(args.platform.as_deref())?;
    if args.registry.reads_stdin() && args.snapshot.iter().any(|p| p.as_os_str() == "-") {
        bail!("a snapshot and the registry secret cannot both come from standard input");
    }
    let mut nodes = Vec::new();
    for path in &args.snapshot {
        nodes.extend(load_snapshot_file(path)?);
    }
    if args.snapshot.is_empty() {
        nodes.push(this_host(
            &args.host,
            args.node_name.as_deref().unwrap_or_default(),
        )?);
    }
    let repository = format!("{}/{}", image.registry(), image.repository());
    let requirement = args.trust.requirement(&args.verify_key, &repository)?;
    let client = Client::new(image, Access::Pull, args.registry.settings()?)?;
    let fetched = fetch_spec(&client, platform.as_ref(), requirement.as_ref()).await?;
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    let spec_name = client.image().at_digest(&fetched.artifact);
    let Ok(spec_src) = String::from_utf8(fetched.spec) else {
        bail!("the spec layer of {spec_name} is not UTF-8 text");
    };
    let spec = load_spec(&spec_name, &spec_src)?;
    let options = Options {
        tags: args.tags,
        ..Options::default()
    };
    let reports = evaluate_nodes(&spec, &spec_name, &spec_src, &nodes, &options)?;
    print_reports(&reports, args.output_json);
    Ok(exit_code(&reports))
}

/// This host, captured as NFD's feature sources discover it. Like NFD, a source that cannot
/// list its sysfs directory (network, pci, storage) stops validation; other problems are
/// warnings and the feature is left out.
fn this_host(host: &HostArgs, node_name: &str) -> Result<LabelledNode> {
    let captured = capture::capture(&host.roots(), node_name);
    report_problems(&captured);
    if let Some(fatal) = captured.problems.iter().find(|p| p.aborts_nfd) {
        bail!(
            "error during discovery of source {}: {} (NFD stops here too)",
            fatal.source,
            fatal.message
        );
    }
    let label = if node_name.is_empty() {
        "this host".to_owned()
    } else {
        node_name.to_owned()
    };
    Ok(LabelledNode {
        label,
        source: "captured".to_owned(),
        snapshot: NodeSnapshot {
            name: (!node_name.is_empty()).then(|| node_name.to_owned()),
            features: captured.features,
            ..NodeSnapshot::default()
        },
    })
}
