//! `nodefit discover`: the compatibility artifacts attached to an image, newest first.

use anyhow::Result;
use clap::{Args, ValueEnum};
use oci_client::manifest::OciDescriptor;
use serde::Serialize;

use super::registry_opts::{platform, RegistryOpts};
use super::trust_opts::TrustOpts;
use nodefit_registry::{Access, Client, ImageRef, ReferrersSource, ARTIFACT_TYPE, CREATED};
use nodefit_signing::{self as signing, remote::SignatureReport};
use std::path::PathBuf;

#[derive(Args)]
pub struct DiscoverArgs {
    /// The image, with its registry: `registry.example.com/team/app:v1`.
    #[arg(long, value_name = "REF")]
    image: String,
    /// Look at this platform's manifest of a multi-platform image instead of its index.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Tree)]
    output: Output,
    /// Verify each signature with this cosign public key (repeatable) and the trust flags;
    /// without any, signatures are listed unverified.
    #[arg(long, value_name = "FILE")]
    key: Vec<PathBuf>,
    #[command(flatten)]
    trust: TrustOpts,
    #[command(flatten)]
    registry: RegistryOpts,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Tree,
    Json,
}

/// The JSON form: the subject's descriptor and its referrers, in the shape of
/// `oras discover --format json` (1.3), plus where the list came from and NFD's choice.
#[derive(Serialize)]
struct Discovered {
    reference: String,
    #[serde(flatten)]
    subject: OciDescriptor,
    source: ReferrersSource,
    /// The artifact NFD's validate-node uses, if any.
    #[serde(rename = "nfdSelected")]
    nfd_selected: Option<String>,
    /// How many referrers, newest first, had their signatures looked up (at most
    /// `MAX_SIGNATURE_LOOKUPS`); the others show `signatures: null` without having been looked up.
    /// Every signature of every format is listed, verified when trust flags are given.
    #[serde(rename = "signaturesLookedUp")]
    signatures_looked_up: usize,
    referrers: Vec<Referrer>,
}

#[derive(Serialize)]
struct Referrer {
    reference: String,
    #[serde(flatten)]
    descriptor: OciDescriptor,
    /// Every signature of the artifact (bundles, Notary Project, classic): format, signer,
    /// verified or not and why; null when not looked up.
    signatures: Option<Vec<SignatureReport>>,
}

pub async fn run(args: DiscoverArgs) -> Result<u8> {
    let image = ImageRef::parse(&args.image)?;
    let platform = platform(args.platform.as_deref())?;
    let repository = format!("{}/{}", image.registry(), image.repository());
    let requirement = args.trust.requirement(&args.key, &repository)?;
    let client = Client::new(image, Access::Pull, args.registry.settings()?)?;
    let subject = client.resolve(platform.as_ref()).await?;
    let listing = client.referrers(&subject).await?;
    let signatures =
        signing::remote::signatures(&client, &listing.artifacts, requirement.as_ref()).await?;
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    let image = client.image();
    match args.output {
        Output::Json => {
            let discovered = Discovered {
                reference: image.at_digest(&subject.digest),
                nfd_selected: listing.artifacts.first().map(|a| a.digest.clone()),
                subject,
                source: listing.source,
                signatures_looked_up: signatures.len(),
                referrers: listing
                    .artifacts
                    .into_iter()
                    .zip(
                        signatures
                            .into_iter()
                            .map(|s| Some(s.reports))
                            .chain(std::iter::repeat_with(|| None)),
                    )
                    .map(|(descriptor, signatures)| Referrer {
                        reference: image.at_digest(&descriptor.digest),
                        descriptor,
                        signatures,
                    })
                    .collect(),
            };
            println!("{}", serde_json::to_string_pretty(&discovered)?);
        }
        Output::Tree => {
            let source = match listing.source {
                ReferrersSource::Api => "referrers API",
                ReferrersSource::TagSchema => "referrers tag schema",
            };
            let artifacts = listing
                .artifacts
                .iter()
                .enumerate()
                .map(|(i, artifact)| Node {
                    label: artifact_label(artifact, i == 0),
                    children: signatures
                        .get(i)
                        .map(|found| found.reports.iter().map(signature_node).collect())
                        .unwrap_or_default(),
                })
                .collect::<Vec<_>>();
            let group = if artifacts.is_empty() {
                Node::leaf(format!("{ARTIFACT_TYPE}: none ({source})"))
            } else {
                Node {
                    label: format!("{ARTIFACT_TYPE} ({source})"),
                    children: artifacts,
                }
            };
            println!("{}", image.at_digest(&subject.digest));
            print!("{}", render(&[group]));
            if signatures.len() < listing.artifacts.len() {
                println!(
                    "(signatures looked up for the newest {} of {} artifacts only)",
                    signatures.len(),
                    listing.artifacts.len()
                );
            }
        }
    }
    Ok(0)
}

/// `sha256:…  created …  [used by NFD]`.
fn artifact_label(artifact: &OciDescriptor, newest: bool) -> String {
    let created = artifact
        .annotations
        .as_ref()
        .and_then(|a| a.get(CREATED))
        .map_or("no creation time".to_owned(), |c| format!("created {c}"));
    let selected = if newest { "  <- used by NFD" } else { "" };
    format!("{}  {created}{selected}", artifact.digest)
}

/// `bundle sha256:…  verified with key k.pub, signer key …`.
fn signature_node(report: &SignatureReport) -> Node {
    Node::leaf(super::verify::describe(report))
}

/// A line of the tree and what hangs under it (signatures hang under artifacts).
struct Node {
    label: String,
    children: Vec<Node>,
}

impl Node {
    fn leaf(label: String) -> Self {
        Self {
            label,
            children: Vec::new(),
        }
    }
}

/// Draws nodes with `oras discover`'s box-drawing branches.
fn render(nodes: &[Node]) -> String {
    fn walk(nodes: &[Node], prefix: &str, out: &mut String) {
        for (i, node) in nodes.iter().enumerate() {
            let last = i + 1 == nodes.len();
            out.push_str(prefix);
            out.push_str(if last { "└── " } else { "├── " });
            out.push_str(&node.label);
            out.push('\n');
            let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
            walk(&node.children, &deeper, out);
        }
    }
    let mut out = String::new();
    walk(nodes, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_are_drawn_like_oras() {
        let tree = vec![Node {
            label: "type".into(),
            children: vec![
                Node {
                    label: "a".into(),
                    children: vec![Node::leaf("a.sig".into())],
                },
                Node::leaf("b".into()),
            ],
        }];
        assert_eq!(
            render(&tree),
            "└── type\n    ├── a\n    │   └── a.sig\n    └── b\n"
        );
    }

    #[test]
    fn labels_show_creation_and_nfds_choice() {
        let mut artifact = OciDescriptor {
            digest: "sha256:x".into(),
            ..Default::default()
        };
        assert_eq!(
            artifact_label(&artifact, false),
            "sha256:x  no creation time"
        );
        artifact.annotations =
            Some([(CREATED.to_owned(), "2025-01-01T00:00:00Z".to_owned())].into());
        assert_eq!(
            artifact_label(&artifact, true),
            "sha256:x  created 2025-01-01T00:00:00Z  <- used by NFD"
        );
    }
}
