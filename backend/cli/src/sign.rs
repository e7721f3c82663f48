//! `nodefit sign`: a classic cosign signature of a compatibility artifact, in its `.sig` image.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use p256::ecdsa::SigningKey;

use super::registry_opts::{platform, Output, RegistryOpts};
use crate::password::{password, Confirm};
use nodefit_registry::{Access, Client, Digest, ImageRef};
use nodefit_signing::remote::{self, Signed};
use nodefit_signing::{read_private_key, MAX_KEY_BYTES};

#[derive(Args)]
pub struct SignArgs {
    /// The image whose compatibility artifact to sign, with its registry.
    #[arg(long, value_name = "REF")]
    image: String,
    /// The private key: PKCS#8 or SEC1 PEM, or cosign's encrypted format (its password from
    /// NODEFIT_KEY_PASSWORD, else asked for).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The compatibility artifact to sign [default: the newest, the one NFD uses].
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

pub async fn run(args: SignArgs) -> Result<u8> {
    let image = ImageRef::parse(&args.image)?;
    let platform = platform(args.platform.as_deref())?;
    let key = load_private_key(&args.key)?;
    let client = Client::new(image, Access::Push, args.registry.settings()?)?;
    let signed = remote::sign(&client, platform.as_ref(), args.artifact.as_ref(), &key).await?;
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&signed)?),
        Output::Text => print_signed(&client, &signed),
    }
    Ok(0)
}

pub(super) fn print_signed(client: &Client, signed: &Signed) {
    let image = client.image();
    if signed.unchanged {
        println!(
            "Already signed with this key: {} (nothing written)",
            signed.reference
        );
    } else {
        println!("Signed {}", signed.reference);
    }
    println!(
        "Signatures: {}/{}:{} ({} signature{})",
        image.registry(),
        image.repository(),
        signed.signature_tag,
        signed.signatures,
        if signed.signatures == 1 { "" } else { "s" }
    );
}

/// Reads a private key file, asking for the password only if the key is encrypted. Errors
/// name the file, never its content.
pub(super) fn load_private_key(path: &Path) -> Result<SigningKey> {
    let bytes = nodefit_files::read_secret(path, MAX_KEY_BYTES)?;
    let prompt = format!("Enter the password for {}: ", path.display());
    let (key, _) = read_private_key(bytes.as_bytes(), || password(&prompt, Confirm::Once))
        .with_context(|| format!("private key {}", path.display()))?;
    Ok(key)
}
