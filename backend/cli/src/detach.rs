//! `nodefit detach`: delete a compatibility artifact and drop it from the fallback index (the
//! KEP's `remove-spec`).

use anyhow::Result;
use clap::Args;

use super::registry_opts::{platform, RegistryOpts};
use nodefit_registry::{Access, Client, Digest, ImageRef};

#[derive(Args)]
pub struct DetachArgs {
    /// The image the artifact is attached to, with its registry.
    #[arg(long, value_name = "REF")]
    image: String,
    /// The artifact's manifest digest, as `nodefit discover` lists it.
    #[arg(long, value_name = "DIGEST", value_parser = Digest::parse)]
    artifact: Digest,
    /// The platform the artifact was attached to, for multi-platform images.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    #[command(flatten)]
    registry: RegistryOpts,
}

pub async fn run(args: DetachArgs) -> Result<u8> {
    let image = ImageRef::parse(&args.image)?;
    let platform = platform(args.platform.as_deref())?;
    let client = Client::new(image, Access::Delete, args.registry.settings()?)?;
    let detached = client.detach(platform.as_ref(), &args.artifact).await?;
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    println!(
        "Detached {} from {}{}",
        detached.artifact,
        client.image().at_digest(&detached.subject.digest),
        if detached.removed_from_index {
            " (removed from the fallback index, then deleted)"
        } else {
            " (deleted)"
        }
    );
    if let Some(tag) = &detached.signature_tag {
        println!("Deleted its cosign signature {tag}");
    }
    if detached.signature_referrers > 0 {
        println!(
            "Deleted {} signature(s) referring to it",
            detached.signature_referrers
        );
    }
    Ok(0)
}
