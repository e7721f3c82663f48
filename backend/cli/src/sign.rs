//! `nodefit sign`: sign a compatibility artifact as a sigstore bundle (the default, as cosign 3
//! signs), a Notary Project signature (as notation signs) or a classic cosign signature.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use p256::ecdsa::SigningKey;

use super::registry_opts::{platform, Output, RegistryOpts};
use crate::one_of;
use crate::password::{password, Confirm};
use nodefit_publish::Signer;
use nodefit_registry::{Access, Client, Digest, ImageRef};
use nodefit_signing::notary::{self, trust_store, EnvelopeFormat};
use nodefit_signing::remote::{self, Format, Signed};
use nodefit_signing::{read_private_key, MAX_KEY_BYTES};

/// Largest certificate chain file read (`--cert`).
const MAX_CHAIN_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Args)]
pub struct SignArgs {
    /// The image whose compatibility artifact to sign, with its registry.
    #[arg(long, value_name = "REF")]
    image: String,
    #[command(flatten)]
    signer: SignerArgs,
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

/// How to sign: the format(s), the key and, for Notary Project signatures, the certificate
/// chain and envelope. Shared by `sign` and `attach --sign`.
#[derive(Args)]
pub struct SignerArgs {
    /// The signature format: `bundle` (a sigstore bundle referrer, as cosign 3 signs),
    /// `notation` (a Notary Project signature, as notation signs) or `classic` (cosign's
    /// `.sig` tag, as cosign 2 signs). Repeat to sign in several.
    #[arg(long = "format", value_name = "FORMAT", default_value = "bundle",
          value_parser = one_of(Format::NAMES, Format::parse))]
    pub formats: Vec<Format>,
    /// The private key. bundle and classic: P-256 PKCS#8 or SEC1 PEM, or cosign's encrypted
    /// format (its password from NODEFIT_KEY_PASSWORD, else asked for). notation: RSA or ECDSA
    /// (P-256, P-384) PKCS#8, PKCS#1 or SEC1 PEM, unencrypted, as notation's keys are.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// notation: the certificate chain (PEM), signing certificate first, ending with the root.
    #[arg(long, value_name = "PEM")]
    pub cert: Option<PathBuf>,
    /// notation: the envelope, `jws` (notation's default) or `cose`.
    #[arg(long, value_name = "ENVELOPE", default_value = "jws",
          value_parser = one_of(["jws", "cose"], |n| match n { "jws" => Some(EnvelopeFormat::Jws), "cose" => Some(EnvelopeFormat::Cose), _ => None }))]
    pub envelope: EnvelopeFormat,
}

/// The keys a [`SignerArgs`] names, read before anything is sent.
pub struct SignerKeys {
    formats: Vec<Format>,
    cosign: Option<SigningKey>,
    notary: Option<(notary::keys::SigningKey, Vec<Vec<u8>>)>,
    envelope: EnvelopeFormat,
}

impl SignerArgs {
    /// Reads the key (and the chain) for the formats asked for. Errors name the files.
    pub fn load(&self) -> Result<SignerKeys> {
        let Some(key) = &self.key else {
            bail!("signing needs --key");
        };
        let mut formats = self.formats.clone();
        formats.sort();
        formats.dedup();
        let wants_notation = formats.contains(&Format::Notation);
        let wants_cosign = formats.iter().any(|f| *f != Format::Notation);
        if wants_notation && wants_cosign {
            bail!(
                "--format notation signs with a certificate's key, bundle and classic with a \
                 cosign key: sign in them with separate commands"
            );
        }
        if self.cert.is_some() && !wants_notation {
            bail!("--cert is for --format notation");
        }
        let cosign = wants_cosign.then(|| load_private_key(key)).transpose()?;
        let notary = if wants_notation {
            let Some(cert) = &self.cert else {
                bail!("--format notation needs --cert, the signing certificate's chain (PEM)");
            };
            let bytes = nodefit_files::read_secret(key, MAX_KEY_BYTES)?;
            let signing = notary::keys::SigningKey::from_pem(bytes.as_bytes())
                .with_context(|| format!("private key {}", key.display()))?;
            let chain = nodefit_files::read_bytes(cert, MAX_CHAIN_FILE_BYTES)?;
            let chain = trust_store::certificates(&chain)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("certificate chain {}", cert.display()))?;
            Some((signing, chain))
        } else {
            None
        };
        Ok(SignerKeys {
            formats,
            cosign,
            notary,
            envelope: self.envelope,
        })
    }
}

impl SignerKeys {
    /// One signer per format, in the order bundle, classic, notation.
    pub fn signers(&self) -> Vec<Signer<'_>> {
        self.formats
            .iter()
            .filter_map(|format| match format {
                Format::Bundle => self.cosign.as_ref().map(Signer::Bundle),
                Format::Classic => self.cosign.as_ref().map(Signer::Classic),
                Format::Notation => self.notary.as_ref().map(|(key, chain)| Signer::Notation {
                    key,
                    chain,
                    envelope: self.envelope,
                }),
            })
            .collect()
    }
}

pub async fn run(args: SignArgs) -> Result<u8> {
    let image = ImageRef::parse(&args.image)?;
    let platform = platform(args.platform.as_deref())?;
    let keys = args.signer.load()?;
    let client = Client::new(image, Access::Push, args.registry.settings()?)?;
    let mut done = Vec::new();
    for signer in keys.signers() {
        done.push(
            remote::sign(
                &client,
                platform.as_ref(),
                args.artifact.as_ref(),
                &signer.with(),
            )
            .await?,
        );
    }
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    match args.output {
        Output::Json if done.len() == 1 => {
            println!("{}", serde_json::to_string_pretty(&done[0])?)
        }
        Output::Json => println!("{}", serde_json::to_string_pretty(&done)?),
        Output::Text => {
            for signed in &done {
                print_signed(&client, signed);
            }
        }
    }
    Ok(0)
}

pub(super) fn print_signed(client: &Client, signed: &Signed) {
    let image = client.image();
    let format = match signed.format {
        Format::Bundle => "a sigstore bundle",
        Format::Classic => "a classic cosign signature",
        Format::Notation => "a Notary Project signature",
    };
    if signed.unchanged {
        println!(
            "Already signed with this key as {format}: {} (nothing written)",
            signed.reference
        );
    } else {
        println!("Signed {} as {format}", signed.reference);
    }
    match signed.signatures {
        Some(count) => println!(
            "Signatures: {}/{}:{} ({count} signature{})",
            image.registry(),
            image.repository(),
            signed.location,
            if count == 1 { "" } else { "s" }
        ),
        None => println!(
            "Signature: {}/{}@{} ({})",
            image.registry(),
            image.repository(),
            signed.signature_manifest,
            signed.location
        ),
    }
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
