//! `nodefit fetch`: the spec NFD's validate-node would use for an image.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::registry_opts::{platform, RegistryOpts};
use super::trust_opts::TrustOpts;
use super::verify::fetch_spec;
use nodefit_registry::{Access, Client, ImageRef};

#[derive(Args)]
pub struct FetchArgs {
    /// The image, with its registry: `registry.example.com/team/app:v1`.
    #[arg(long, value_name = "REF")]
    image: String,
    /// Resolve a multi-platform image to this platform first, as NFD's --platform.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    /// Write the spec to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Verify the artifact's signatures first with this cosign public key (bundles and classic
    /// signatures; repeat for more); refuse an unsigned, tampered or wrongly signed spec (exit 4)
    /// without writing it.
    #[arg(long, value_name = "FILE")]
    verify_key: Vec<PathBuf>,
    #[command(flatten)]
    trust: TrustOpts,
    #[command(flatten)]
    registry: RegistryOpts,
}

pub async fn run(args: FetchArgs) -> Result<u8> {
    let image = ImageRef::parse(&args.image)?;
    let platform = platform(args.platform.as_deref())?;
    let repository = format!("{}/{}", image.registry(), image.repository());
    let requirement = args.trust.requirement(&args.verify_key, &repository)?;
    let client = Client::new(image, Access::Pull, args.registry.settings()?)?;
    let fetched = fetch_spec(&client, platform.as_ref(), requirement.as_ref()).await?;
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    match &args.output {
        Some(path) => std::fs::write(path, &fetched.spec)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&fetched.spec)
                .and_then(|()| stdout.flush())
                .context("cannot write to standard output")?;
        }
    }
    eprintln!(
        "Spec of {} (the newest of {} compatibility artifact{})",
        client.image().at_digest(&fetched.artifact),
        fetched.artifacts,
        if fetched.artifacts == 1 { "" } else { "s" }
    );
    Ok(0)
}
