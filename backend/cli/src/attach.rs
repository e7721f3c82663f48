//! `nodefit attach`: publish a spec as a compatibility artifact of an image, through the
//! publish pipeline the server runs too (`nodefit-publish`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::Args;

use super::registry_opts::{platform, Output, RegistryOpts};
use super::render;
use super::sign::{print_signed, SignerArgs};
use nodefit_files::read_text;
use nodefit_publish::{self as publish, Annotations, Checked, Publication, Signer};
use nodefit_registry::{Access, Client, ImageRef, ReferrersSource};

#[derive(Args)]
pub struct AttachArgs {
    /// The image to attach to, with its registry: `registry.example.com/team/app:v1`.
    #[arg(long, value_name = "REF")]
    image: String,
    /// The compatibility spec (YAML or JSON; `-` for standard input).
    spec: PathBuf,
    /// Attach to this platform's manifest of a multi-platform image instead of to its index:
    /// `os[/arch[/variant]][:osversion]`, as NFD's --platform.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    /// An annotation on the artifact, `key=value`; repeat for more.
    /// `org.opencontainers.image.created` defaults to now.
    #[arg(long = "annotation", short = 'a', value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// Attach even if the spec has errors.
    #[arg(long)]
    force: bool,
    /// Sign the artifact once attached, as `nodefit sign` does (--format, --key, --cert,
    /// --envelope).
    #[arg(long, requires = "key")]
    sign: bool,
    #[command(flatten)]
    signer: SignerArgs,
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    registry: RegistryOpts,
}

pub async fn run(args: AttachArgs) -> Result<u8> {
    let image = ImageRef::parse(&args.image)?;
    let platform = platform(args.platform.as_deref())?;
    let name = args.spec.display().to_string();
    if name == "-" && args.registry.reads_stdin() {
        bail!("the spec and the registry secret cannot both come from standard input");
    }
    let spec = preflight(&name, read_text(&args.spec)?, args.force)?;
    let annotations = annotations(&args.annotations)?;
    let title = match args.spec.file_name() {
        Some(file) if name != "-" => file.to_string_lossy().into_owned(),
        _ => "spec.yaml".to_owned(),
    };
    // Read before anything is published, so that a wrong password leaves no unsigned artifact.
    let keys = args.sign.then(|| args.signer.load()).transpose()?;
    let signers: Vec<Signer> = keys.iter().flat_map(|k| k.signers()).collect();
    let client = Client::new(image, Access::Push, args.registry.settings()?)?;
    let published = publish::publish(
        &client,
        &spec,
        &Publication {
            platform: platform.as_ref(),
            title: &title,
            annotations: &annotations,
            signers: &signers,
        },
    )
    .await?;
    let attached = &published.attached;
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    match args.output {
        Output::Json => {
            let mut json = serde_json::to_value(attached)?;
            if !published.signatures.is_empty() {
                json["signatures"] = serde_json::to_value(&published.signatures)?;
            }
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Output::Text => {
            let subject = client.image().at_digest(&attached.subject.digest);
            if attached.unchanged {
                println!(
                    "Unchanged: the newest compatibility artifact of {subject} already has this \
                     spec and these annotations"
                );
            } else {
                let listed = match attached.referrers {
                    ReferrersSource::Api => "the registry's referrers API".to_owned(),
                    ReferrersSource::TagSchema => format!(
                        "the referrers tag schema ({} round{})",
                        attached.index_rounds,
                        if attached.index_rounds == 1 { "" } else { "s" }
                    ),
                };
                println!("Attached to {subject}, listed through {listed}");
            }
            println!("Digest: {}", attached.artifact.digest);
            for signed in &published.signatures {
                print_signed(&client, signed);
            }
        }
    }
    Ok(0)
}

/// The lint gate, with the diagnostics it found shown: a refusal names them and how to
/// override it; `--force` publishes anyway after showing them.
fn preflight(name: &str, spec: String, force: bool) -> Result<Checked> {
    let shown = |spec: &str, errors| {
        render::diagnostics(
            name,
            spec,
            errors,
            super::use_color(std::io::stderr().is_terminal()),
        )
    };
    match publish::check(spec, force) {
        Ok(checked) => {
            if !checked.forced().is_empty() {
                eprint!("{}", shown(checked.spec(), checked.forced()));
                eprintln!(
                    "warning: attaching anyway (--force) despite {} lint error(s)",
                    checked.forced().len()
                );
            }
            Ok(checked)
        }
        Err(refused) => bail!(
            "{}refusing to attach {name}: {} lint error(s) (`nodefit lint {name}` shows every \
             diagnostic; --force overrides)",
            shown(&refused.spec, &refused.errors),
            refused.errors.len()
        ),
    }
}

/// `--annotation key=value` pairs, with the creation time the pipeline adds or checks.
fn annotations(pairs: &[String]) -> Result<Annotations> {
    let mut annotations = BTreeMap::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("--annotation {pair:?}: expected KEY=VALUE");
        };
        annotations.insert(key.to_owned(), value.to_owned());
    }
    publish::annotations(annotations).map_err(|e| anyhow!("--annotation {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nodefit_registry::CREATED;

    #[test]
    fn annotations_are_key_value_pairs() {
        let a = annotations(&["team=hpc".into(), "empty=".into(), "x=a=b".into()]).unwrap();
        assert_eq!(a.get("team"), Some("hpc"));
        assert_eq!(a.get("empty"), Some(""));
        assert_eq!(a.get("x"), Some("a=b"));
        assert!(a.get(CREATED).is_some());
        assert!(annotations(&["novalue".into()]).is_err());
        assert!(annotations(&["=v".into()]).is_err());
        let bad = annotations(&[format!("{CREATED}=yesterday")]).unwrap_err();
        assert!(
            bad.to_string()
                .starts_with(&format!("--annotation {CREATED}=\"yesterday\" is not")),
            "{bad}"
        );
    }

    #[test]
    fn whatever_attach_reads_fetch_reads_back() {
        assert_eq!(
            nodefit_files::MAX_INPUT_BYTES,
            nodefit_registry::MAX_BLOB_BYTES as u64
        );
    }

    #[test]
    fn refusals_name_the_file_and_the_override() {
        let undecodable = "compatibilities: [{rules: 5}]\n";
        let refused = preflight("s.yaml", undecodable.to_owned(), false)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("refusing to attach s.yaml"), "{refused}");
        assert!(refused.contains("--force overrides"), "{refused}");
        assert!(preflight("s.yaml", undecodable.to_owned(), true).is_ok());
    }
}
