//! `nodefit verify`: check a compatibility artifact's signatures (sigstore bundles, Notary
//! Project, classic cosign) against what is trusted; and the verified fetch that `fetch` and
//! `validate-node` use when given something to trust.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::registry_opts::{platform, Output, RegistryOpts};
use super::trust_opts::TrustOpts;
use nodefit_registry::{Access, Client, Digest, ImageRef, Platform};
use nodefit_signing::remote::{self, Refused, SignatureReport, Verified};
use nodefit_signing::trust::Requirement;

use crate::EXIT_REFUSED;

#[derive(Args)]
pub struct VerifyArgs {
    /// The image whose compatibility artifact to verify, with its registry.
    #[arg(long, value_name = "REF")]
    image: String,
    /// A trusted cosign public key (PEM `PUBLIC KEY`, as `nodefit keygen` and `cosign
    /// generate-key-pair` write it): sigstore bundles and classic signatures. Repeat for more.
    #[arg(long, value_name = "FILE")]
    key: Vec<PathBuf>,
    #[command(flatten)]
    trust: TrustOpts,
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

/// `--output json`: the verdict, every signature found, and what was checked or why the
/// artifact was refused.
#[derive(Serialize)]
struct Verdict<'a> {
    verified: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    checked: Option<&'a Verified>,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact: Option<&'a Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signatures: Option<&'a [SignatureReport]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

pub async fn run(args: VerifyArgs) -> Result<u8> {
    let image = ImageRef::parse(&args.image)?;
    let platform = platform(args.platform.as_deref())?;
    if !args.trust.given(&args.key) {
        anyhow::bail!(
            "nothing to verify with: give --key, --trusted-cert, --notation-config or \
             --trust-policy"
        );
    }
    let repository = format!("{}/{}", image.registry(), image.repository());
    let requirement = args
        .trust
        .requirement(&args.key, &repository)?
        .expect("something is trusted");
    let client = Client::new(image, Access::Pull, args.registry.settings()?)?;
    let verdict = remote::verify(
        &client,
        platform.as_ref(),
        args.artifact.as_ref(),
        &requirement,
    )
    .await?;
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    match (args.output, verdict) {
        (Output::Json, Ok(verified)) => print_json(&Verdict {
            verified: true,
            checked: Some(&verified),
            artifact: None,
            signatures: None,
            refusal: None,
            message: None,
        })?,
        (Output::Json, Err(refused)) => {
            print_json(&Verdict {
                verified: false,
                checked: None,
                artifact: refused.artifact.as_ref(),
                signatures: Some(&refused.signatures),
                refusal: Some(refused.refusal.kind()),
                message: Some(refused.refusal.to_string()),
            })?;
            eprintln!("error: {}", refused.refusal);
            return Ok(EXIT_REFUSED);
        }
        (Output::Text, Ok(verified)) => {
            println!("Verified {}", verified.reference);
            println!("  subject:   {}", verified.subject);
            println!(
                "  policy:    {} ({})",
                verified.policy,
                match verified.rule {
                    nodefit_signing::trust::Rule::AnyOf => "any of its entries",
                    nodefit_signing::trust::Rule::AllOf => "each of its entries",
                    nodefit_signing::trust::Rule::None => "no signature required",
                }
            );
            for report in &verified.signatures {
                println!("  {}", describe(report));
                for note in &report.unchecked {
                    println!("      not checked: {note}");
                }
            }
            println!("  spec:      {}", verified.spec_layer);
        }
        (Output::Text, Err(refused)) => return Err(refusal_error(refused, &client)),
    }
    Ok(0)
}

/// One line per signature: `bundle sha256:… verified with key k.pub: key …`.
pub(super) fn describe(report: &SignatureReport) -> String {
    let envelope = report
        .envelope
        .map(|e| format!(" ({})", e.name()))
        .unwrap_or_default();
    let signer = report
        .signer
        .as_deref()
        .map(|s| format!(", signer {s}"))
        .unwrap_or_default();
    if report.verified {
        format!(
            "{}{envelope} {}: verified with {}{signer}",
            report.format.name(),
            report.reference,
            report.verified_by.as_deref().unwrap_or("?")
        )
    } else {
        format!(
            "{}{envelope} {}: not verified: {}{signer}",
            report.format.name(),
            report.reference,
            report.reason.as_deref().unwrap_or("?")
        )
    }
}

fn print_json(verdict: &Verdict) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(verdict)?);
    Ok(())
}

/// A refusal as an error that names the image; `main` exits with [`EXIT_REFUSED`] for it.
fn refusal_error(refused: Refused, client: &Client) -> anyhow::Error {
    anyhow::Error::new(refused.refusal).context(format!(
        "refusing the compatibility artifact of {}",
        client.image()
    ))
}

/// The spec NFD would use for the image, as `fetch` and `validate-node` need it.
pub(super) struct Spec {
    pub spec: Vec<u8>,
    /// The artifact's digest.
    pub artifact: String,
    /// How many compatibility artifacts the image has.
    pub artifacts: usize,
}

/// Fetches the spec NFD would use; with a requirement, only once its signatures satisfy it,
/// and refusing it otherwise.
pub(super) async fn fetch_spec(
    client: &Client,
    platform: Option<&Platform>,
    requirement: Option<&Requirement>,
) -> Result<Spec> {
    let Some(requirement) = requirement else {
        let fetched = client.fetch_spec(platform).await?;
        return Ok(Spec {
            spec: fetched.spec,
            artifact: fetched.artifact.digest,
            artifacts: fetched.listing.artifacts.len(),
        });
    };
    match remote::verify(client, platform, None, requirement).await? {
        Ok(verified) => {
            let by: Vec<&str> = verified
                .signatures
                .iter()
                .filter(|s| s.verified)
                .filter_map(|s| s.verified_by.as_deref())
                .collect();
            eprintln!(
                "Verified the signature of {} ({}: {})",
                verified.reference,
                verified.policy,
                if by.is_empty() {
                    "no signature required".to_owned()
                } else {
                    by.join(", ")
                }
            );
            Ok(Spec {
                spec: verified.spec,
                artifact: verified.artifact.into(),
                artifacts: verified.artifacts,
            })
        }
        Err(refused) => Err(refusal_error(refused, client)),
    }
}
