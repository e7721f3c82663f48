//! `nodefit attach`: publish a spec as a compatibility artifact of an image.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use std::io::IsTerminal;

use nodefit_core::lint::{self, Severity};

use super::registry_opts::{platform, Output, RegistryOpts};
use super::render;
use super::sign::{load_private_key, print_signed, sign_attached};
use nodefit_files::read_text;
use nodefit_registry::{self as registry, Access, Client, ImageRef, ReferrersSource, CREATED};

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
    /// Sign the artifact once attached: a classic cosign signature, as `nodefit sign`.
    #[arg(long, requires = "key")]
    sign: bool,
    /// The private key for --sign (PKCS#8 or SEC1 PEM, or cosign's encrypted format).
    #[arg(long, value_name = "FILE", requires = "sign")]
    key: Option<PathBuf>,
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
    let spec = read_text(&args.spec)?;
    preflight(&name, &spec, args.force)?;
    let annotations = annotations(&args.annotations)?;
    let title = match args.spec.file_name() {
        Some(file) if name != "-" => file.to_string_lossy().into_owned(),
        _ => "spec.yaml".to_owned(),
    };
    // Read before anything is published, so that a wrong password leaves no unsigned artifact.
    let key = args
        .key
        .as_deref()
        .filter(|_| args.sign)
        .map(load_private_key)
        .transpose()?;
    let client = Client::new(image, Access::Push, args.registry.settings()?)?;
    let attached = client
        .attach(platform.as_ref(), spec.as_bytes(), &title, &annotations)
        .await?;
    let signed = match key {
        Some(key) => Some(sign_attached(&client, platform.as_ref(), &attached.digest, &key).await?),
        None => None,
    };
    if args.registry.verbose {
        eprintln!("nodefit: {} HTTP requests", client.requests());
    }
    match args.output {
        Output::Json => {
            let mut json = serde_json::to_value(&attached)?;
            if let Some(signed) = &signed {
                json["signature"] = serde_json::to_value(signed)?;
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
            if let Some(signed) = &signed {
                print_signed(&client, signed);
            }
        }
    }
    Ok(0)
}

/// The check a spec passes before it is published: no lint error (`nodefit lint`'s rules:
/// NFD refusing or aborting on it, keys NFD ignores, rules no node can satisfy...). `--force`
/// publishes anyway, after showing them.
fn preflight(name: &str, spec: &str, force: bool) -> Result<()> {
    let errors: Vec<_> = lint::lint(spec, &[])
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    let shown = render::diagnostics(
        name,
        spec,
        &errors,
        super::use_color(std::io::stderr().is_terminal()),
    );
    if force {
        eprint!("{shown}");
        eprintln!(
            "warning: attaching anyway (--force) despite {} lint error(s)",
            errors.len()
        );
        return Ok(());
    }
    bail!(
        "{shown}refusing to attach {name}: {} lint error(s) (`nodefit lint {name}` shows every diagnostic; --force overrides)",
        errors.len()
    )
}

/// `key=value` pairs, plus `org.opencontainers.image.created` set to now (RFC 3339, UTC,
/// nanoseconds, so that quick successive attaches still sort in order) unless given.
fn annotations(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut annotations = BTreeMap::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("--annotation {pair:?}: expected KEY=VALUE");
        };
        annotations.insert(key.to_owned(), value.to_owned());
    }
    match annotations.get(CREATED) {
        Some(created) if registry::created_is_valid(created) => {}
        Some(created) => bail!(
            "--annotation {CREATED}={created:?} is not an RFC 3339 time NFD can read; NFD would \
             treat the artifact as the oldest"
        ),
        None => {
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            annotations.insert(CREATED.to_owned(), now);
        }
    }
    Ok(annotations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_get_a_creation_time_nfd_can_read() {
        let a = annotations(&["team=hpc".into(), "empty=".into(), "x=a=b".into()]).unwrap();
        assert_eq!(a["team"], "hpc");
        assert_eq!(a["empty"], "");
        assert_eq!(a["x"], "a=b");
        assert!(registry::created_is_valid(&a[CREATED]), "{}", a[CREATED]);

        let given = format!("{CREATED}=2025-01-01T00:00:00Z");
        assert_eq!(
            annotations(&[given]).unwrap()[CREATED],
            "2025-01-01T00:00:00Z"
        );
        assert!(annotations(&[format!("{CREATED}=yesterday")]).is_err());
        assert!(annotations(&["novalue".into()]).is_err());
        assert!(annotations(&["=v".into()]).is_err());
    }

    #[test]
    fn specs_with_lint_errors_are_refused_unless_forced() {
        let undecodable = "compatibilities: [{rules: 5}]\n";
        let unknown_op = "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: kernel.loadedmodule\n      matchExpressions:\n        vfio_pci: {op: exists}\n";
        for broken in [undecodable, unknown_op] {
            let refused = preflight("s.yaml", broken, false).unwrap_err().to_string();
            assert!(refused.contains("refusing to attach s.yaml"), "{refused}");
            assert!(preflight("s.yaml", broken, true).is_ok());
        }
        let warnings_only = unknown_op
            .replace("exists", "Exists")
            .replace("vfio_pci", "vfio-pci");
        assert!(preflight("s.yaml", &warnings_only, false).is_ok());
    }
}
