//! `nodefit schedule`: a spec's NodeFeatureRule (one label per compatibility set, set exactly
//! where validate-node finds the set matching) and the pod affinity that schedules onto them.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use clap::{Args, ValueEnum};
use nodefit_core::lint::{self, Severity};
use nodefit_core::schedule::{self, Options};
use sha2::{Digest, Sha256};

use super::render::location;
use super::test::load_spec;
use nodefit_files::read_text;

#[derive(Args)]
pub struct ScheduleArgs {
    /// The compatibility spec (YAML or JSON).
    spec: PathBuf,
    /// Names the labels (`compat.nodefit.io/NAME.<tag or setN>`) and the NodeFeatureRule
    /// (`nodefit-NAME`): lower-case letters, digits, '-' and '.'. Default: the spec's file name.
    #[arg(long)]
    name: Option<String>,
    /// Only the compatibility sets with one of these tags (comma-separated), like NFD's --tags.
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// Print the pod affinity instead of the NodeFeatureRule.
    #[arg(long)]
    affinity: bool,
    /// The digest of the published compatibility artifact (`sha256:...`), recorded in the
    /// rule's annotations so it can be traced to what was signed.
    #[arg(long)]
    artifact_digest: Option<String>,
    /// The image the artifact is attached to, recorded beside the digest.
    #[arg(long)]
    image: Option<String>,
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Yaml)]
    output: Output,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Yaml,
    Json,
}

/// `app.v2.yaml` → `app.v2` (see `schedule::suggest_name`).
fn name_from_file(path: &Path) -> String {
    schedule::suggest_name(
        &path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

pub fn run(args: ScheduleArgs) -> Result<u8> {
    let spec_name = args.spec.display().to_string();
    let src = read_text(&args.spec)?;
    let spec = load_spec(&spec_name, &src)?;
    let errors = lint::lint(&src, &[])
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        eprintln!(
            "warning: {spec_name} has {errors} lint error{} (`nodefit lint {spec_name}`): the rule reproduces what validate-node makes of it anyway",
            if errors == 1 { "" } else { "s" }
        );
    }
    let mut annotations = std::collections::BTreeMap::from([(
        schedule::ANNOTATION_SPEC_DIGEST.to_string(),
        format!("sha256:{}", hex::encode(Sha256::digest(src.as_bytes()))),
    )]);
    if let Some(d) = args.artifact_digest {
        annotations.insert(schedule::ANNOTATION_ARTIFACT_DIGEST.into(), d);
    }
    if let Some(i) = args.image {
        annotations.insert(schedule::ANNOTATION_IMAGE.into(), i);
    }
    let options = Options {
        name: args.name.unwrap_or_else(|| name_from_file(&args.spec)),
        tags: args.tags,
        annotations,
    };
    let generated = schedule::generate(&spec, &options).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| match e.span {
                Some(span) => format!("{}: {}", location(&spec_name, &src, span), e.message),
                None => e.message.clone(),
            })
            .collect();
        anyhow!(
            "no NodeFeatureRule can answer as validate-node does for this spec:\n  {}",
            lines.join("\n  ")
        )
    })?;
    match args.output {
        Output::Json => {
            let out = serde_json::json!({
                "nodeFeatureRule": generated.node_feature_rule.to_json(),
                "affinity": generated.affinity.to_json()["affinity"],
                "sets": generated.sets,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Output::Yaml if args.affinity => print!("{}", generated.affinity.to_yaml()),
        Output::Yaml => {
            print!("{}", generated.node_feature_rule.to_yaml());
            for s in &generated.sets {
                let weight = s
                    .preferred_weight
                    .map_or(String::new(), |w| format!(", preferred weight {w}"));
                eprintln!(
                    "compatibility set {}{}: {}=true{weight}",
                    s.index + 1,
                    if s.tag.is_empty() {
                        String::new()
                    } else {
                        format!(" (tag {})", s.tag)
                    },
                    s.label
                );
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_file_names() {
        assert_eq!(name_from_file(Path::new("/x/My App_v2.yaml")), "my-app-v2");
        assert_eq!(name_from_file(Path::new("gpu.spec.yaml")), "gpu.spec");
        assert_eq!(name_from_file(Path::new("-x-.yaml")), "x");
    }
}
