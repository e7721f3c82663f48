//! `nodefit verify`: check a compatibility artifact's classic cosign signature against a
//! trusted public key; and the verified fetch that `fetch --verify-key` and
//! `validate-node --verify-key` use.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use p256::ecdsa::VerifyingKey;
use serde::Serialize;

use super::registry_opts::{platform, Output, RegistryOpts};
use nodefit_registry::{Access, Client, Digest, ImageRef, Platform};
use nodefit_signing::remote::{self, Verified};
use nodefit_signing::{read_public_key, Refusal, MAX_KEY_BYTES};

use crate::EXIT_REFUSED;

#[derive(Args)]
pub struct VerifyArgs {
    /// The image whose compatibility artifact to verify, with its registry.
    #[arg(long, value_name = "REF")]
    image: String,
    /// The trusted public key (PEM `PUBLIC KEY`, as `nodefit keygen` and `cosign
    /// generate-key-pair` write it).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The compatibility artifact to verify [default: the newest, the one NFD uses].
    #[arg(long, value_name = "DIGEST", value_parser = Digest::parse)]
    artifact: Option<Digest>,
    /// Resolve a multi-platform image to this platform's manifest first, as NFD's --platform.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    registry: RegistryOpts,
}

/// `--output json`: the verdict, and what was checked or why it was refused.
#[derive(Serialize)]
struct Verdict<'a> {
    verified: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    checked: Option<&'a Verified>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

pub async fn run(args: VerifyArgs) -> Result<u8> {
    let image = ImageRef::parse(&args.image)?;
    let platform = platform(args.platform.as_deref())?;
    let key = load_public_key(&args.key)?;
    let client = Client::new(image, Access::Pull, args.registry.settings()?)?;
    let verdict = remote::verify(&client, platform.as_ref(), args.artifact.as_ref(), &key).await?;
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    match (args.output, verdict) {
        (Output::Json, Ok(verified)) => print_json(&Verdict {
            verified: true,
            checked: Some(&verified),
            refusal: None,
            message: None,
        })?,
        (Output::Json, Err(refusal)) => {
            print_json(&Verdict {
                verified: false,
                checked: None,
                refusal: Some(refusal.kind()),
                message: Some(refusal.to_string()),
            })?;
            eprintln!("error: {refusal}");
            return Ok(EXIT_REFUSED);
        }
        (Output::Text, Ok(verified)) => {
            println!("Verified {}", verified.reference);
            println!("  subject:   {}", verified.subject);
            println!(
                "  signature: {} ({} signature{}; verified layer {})",
                verified.signature_tag,
                verified.signatures,
                if verified.signatures == 1 { "" } else { "s" },
                verified.claim.layer
            );
            println!("  signed as: {}", verified.claim.docker_reference);
            println!("  spec:      {}", verified.spec_layer);
        }
        (Output::Text, Err(refusal)) => return Err(refused(refusal, &client, &args.key)),
    }
    Ok(0)
}

fn print_json(verdict: &Verdict) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(verdict)?);
    Ok(())
}

/// A refusal as an error that names the image and the key; `main` exits with
/// [`EXIT_REFUSED`] for it.
fn refused(refusal: Refusal, client: &Client, key: &Path) -> anyhow::Error {
    anyhow::Error::new(refusal).context(format!(
        "refusing the compatibility artifact of {} (key {})",
        client.image(),
        key.display()
    ))
}

/// Reads a trusted public key file. Errors name the file.
pub(super) fn load_public_key(path: &Path) -> Result<VerifyingKey> {
    let bytes = nodefit_files::read_bytes(path, MAX_KEY_BYTES as u64)?;
    read_public_key(&bytes).with_context(|| format!("public key {}", path.display()))
}

/// The spec NFD would use for the image, as `fetch` and `validate-node` need it.
pub(super) struct Spec {
    pub spec: Vec<u8>,
    /// The artifact's digest.
    pub artifact: String,
    /// How many compatibility artifacts the image has.
    pub artifacts: usize,
}

/// Fetches the spec NFD would use; with `key` (from `key_path`), only once its signature
/// verified, and refusing it otherwise.
pub(super) async fn fetch_spec(
    client: &Client,
    platform: Option<&Platform>,
    key: Option<(&VerifyingKey, &Path)>,
) -> Result<Spec> {
    let Some((key, key_path)) = key else {
        let fetched = client.fetch_spec(platform).await?;
        return Ok(Spec {
            spec: fetched.spec,
            artifact: fetched.artifact.digest,
            artifacts: fetched.listing.artifacts.len(),
        });
    };
    match remote::verify(client, platform, None, key).await? {
        Ok(verified) => {
            eprintln!(
                "Verified the signature of {} with {}",
                verified.reference,
                key_path.display()
            );
            Ok(Spec {
                spec: verified.spec,
                artifact: verified.artifact.into(),
                artifacts: verified.artifacts,
            })
        }
        Err(refusal) => Err(refused(refusal, client, key_path)),
    }
}
