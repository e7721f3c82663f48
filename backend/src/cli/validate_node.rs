//! `nodefit validate-node`: NFD's `nfd compat validate-node`, with the node given as a
//! snapshot: fetch the spec NFD would use for the image, then evaluate it like `nodefit test`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use nodefit_core::eval::Options;

use super::registry_opts::{platform, RegistryOpts};
use super::test::{evaluate_nodes, exit_code, load_snapshot_file, load_spec, print_reports};
use super::verify::{fetch_spec, load_public_key};
use crate::registry::{Access, Client, ImageRef};

#[derive(Args)]
pub struct ValidateNodeArgs {
    /// The image whose compatibility artifact to use, with its registry.
    #[arg(long, value_name = "REF")]
    image: String,
    /// The node's features: `nfd export features` JSON, a NodeFeature or a NodeFeatureList.
    /// Repeat for more files.
    #[arg(long, short = 's', required = true, value_name = "FILE")]
    snapshot: Vec<PathBuf>,
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
    /// Verify the artifact's cosign signature with this public key before evaluating; refuse
    /// an unsigned, tampered or wrongly signed spec (exit 4).
    #[arg(long, value_name = "FILE")]
    verify_key: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryOpts,
}

pub fn run(args: ValidateNodeArgs) -> Result<u8> {
    let image = ImageRef::parse(&args.image)?;
    let platform = platform(args.platform.as_deref())?;
    if args.registry.reads_stdin() && args.snapshot.iter().any(|p| p.as_os_str() == "-") {
        bail!("a snapshot and the registry secret cannot both come from standard input");
    }
    let mut nodes = Vec::new();
    for path in &args.snapshot {
        nodes.extend(load_snapshot_file(path)?);
    }
    let key = args
        .verify_key
        .as_deref()
        .map(load_public_key)
        .transpose()?;
    let client = Client::new(image, Access::Pull, args.registry.settings()?)?;
    let key = key.as_ref().zip(args.verify_key.as_deref());
    let fetched = fetch_spec(&client, platform.as_ref(), key)?;
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    let spec_name = client.image().at_digest(&fetched.artifact);
    let Ok(spec_src) = String::from_utf8(fetched.spec) else {
        bail!("the spec layer of {spec_name} is not UTF-8 text");
    };
    let spec = load_spec(&spec_name, &spec_src)?;
    let options = Options { tags: args.tags };
    let reports = evaluate_nodes(&spec, &spec_name, &spec_src, &nodes, &options)?;
    print_reports(&spec, &reports, args.output_json);
    Ok(exit_code(&reports))
}
