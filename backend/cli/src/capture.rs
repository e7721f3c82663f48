//! `nodefit capture`: this host's features, written as `nfd export features` prints them or as
//! a NodeFeature custom resource.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::{Args, ValueEnum};
use nodefit_core::features::Features;
use serde::Serialize;

use nodefit_capture::cpuid::{Cpuid, CpuidDump};
use nodefit_capture::{self as capture, Capture, HostRoots, Processor};
use nodefit_core::report::to_go_json_indent;
use nodefit_files::read_text;

use super::EXIT_BAD_INPUT;

#[derive(Args)]
pub struct CaptureArgs {
    /// Where to write the snapshot; `-` is standard output. Repeat to write several copies
    /// (`-o - -o node.json` prints it and keeps a file).
    #[arg(long, short = 'o', value_name = "FILE", default_value = "-")]
    output: Vec<PathBuf>,
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::Features)]
    format: Format,
    /// The node's name: `system.name.nodename` and the NodeFeature's name. NFD reads NODE_NAME.
    #[arg(long, env = "NODE_NAME", value_name = "NAME")]
    node_name: Option<String>,
    #[command(flatten)]
    host: HostArgs,
    /// Answer CPUID from a dump (the output of `cpuid -r -1`) instead of this processor.
    #[arg(long, value_name = "FILE")]
    cpuid_dump: Option<PathBuf>,
    /// Read the processor as NFD does on this architecture rather than this machine's: for a
    /// host tree copied from an arm64 machine (with --root), `arm64` reads its HWCAPs from
    /// DIR/proc/self/auxv and MIDR_EL1 from its sysfs.
    #[arg(long, value_enum, value_name = "ARCH", conflicts_with = "cpuid_dump")]
    cpu_arch: Option<CpuArch>,
    /// Also send the snapshot to the nodefit server at this URL (`POST /api/v1/snapshots`).
    #[arg(
        long,
        env = "NODEFIT_SERVER_URL",
        value_name = "URL",
        requires = "token"
    )]
    upload: Option<String>,
    /// The API token for --upload (a role that may write snapshots: author or above).
    #[arg(
        long,
        env = "NODEFIT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// A label for the uploaded snapshot, `key=value` (pool, cloud, os...); repeat for more.
    #[arg(long = "label", value_name = "KEY=VALUE", requires = "upload")]
    labels: Vec<String>,
}

/// Where the host's directories are: flags and environment shared by the commands that read
/// the host (`capture`, and `validate-node` without a snapshot).
#[derive(Args)]
pub struct HostArgs {
    /// Read a whole host filesystem mounted (or faked) under DIR: DIR/sys, DIR/proc, DIR/etc,
    /// DIR/boot, DIR/usr, DIR/lib, and the paths NFD reads without prefix (DIR/proc/modules...).
    #[arg(
        long,
        env = "NODEFIT_ROOT",
        value_name = "DIR",
        conflicts_with = "host_prefix"
    )]
    root: Option<PathBuf>,
    /// NFD's container convention: PREFIX is glued to each directory name (`/host-` reads
    /// /host-sys, /host-proc, /host-etc, /host-boot, /host-usr, /host-lib); the paths NFD reads
    /// without prefix stay as they are.
    #[arg(long, env = "NODEFIT_HOST_PREFIX", value_name = "PREFIX")]
    host_prefix: Option<String>,
    /// The host's /sys (overrides --root and --host-prefix for this directory).
    #[arg(long, env = "NODEFIT_HOST_SYS", value_name = "DIR")]
    host_sys: Option<PathBuf>,
    /// The host's /proc, for /proc/swaps.
    #[arg(long, env = "NODEFIT_HOST_PROC", value_name = "DIR")]
    host_proc: Option<PathBuf>,
    /// The host's /etc, for /etc/os-release.
    #[arg(long, env = "NODEFIT_HOST_ETC", value_name = "DIR")]
    host_etc: Option<PathBuf>,
    /// The host's /boot, for the kernel config.
    #[arg(long, env = "NODEFIT_HOST_BOOT", value_name = "DIR")]
    host_boot: Option<PathBuf>,
    /// The host's /usr, for kernel configs under src/ and lib/.
    #[arg(long, env = "NODEFIT_HOST_USR", value_name = "DIR")]
    host_usr: Option<PathBuf>,
    /// The host's /lib, for modules/<release>/modules.builtin.
    #[arg(long, env = "NODEFIT_HOST_LIB", value_name = "DIR")]
    host_lib: Option<PathBuf>,
}

impl HostArgs {
    /// Per-directory flags win over `--root` / `--host-prefix`, which win over this machine's
    /// `/`.
    pub fn roots(&self) -> HostRoots {
        let mut roots = match (&self.root, &self.host_prefix) {
            (Some(root), _) => HostRoots::under(root),
            (None, Some(prefix)) => HostRoots::with_prefix(prefix),
            (None, None) => HostRoots::local(),
        };
        for (flag, dir) in [
            (&self.host_sys, &mut roots.sys),
            (&self.host_proc, &mut roots.proc),
            (&self.host_etc, &mut roots.etc),
            (&self.host_boot, &mut roots.boot),
            (&self.host_usr, &mut roots.usr),
            (&self.host_lib, &mut roots.lib),
        ] {
            if let Some(path) = flag {
                *dir = path.clone();
            }
        }
        roots
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CpuArch {
    Arm64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The JSON `nfd export features` prints.
    Features,
    /// A NodeFeature custom resource (nfd.k8s-sigs.io/v1alpha1), written as JSON, which is
    /// also YAML.
    Nodefeature,
}

pub async fn run(args: CaptureArgs) -> Result<u8> {
    let roots = args.host.roots();
    let node_name = args.node_name.clone().unwrap_or_default();
    if args.format == Format::Nodefeature && node_name.is_empty() {
        return Err(anyhow!(
            "--format nodefeature needs the node's name: pass --node-name or set NODE_NAME"
        ));
    }
    let dump = match &args.cpuid_dump {
        Some(path) => {
            let text = read_text(path)?;
            Some(CpuidDump::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let captured = match (&dump, args.cpu_arch) {
        (Some(d), _) => capture::capture_with(&roots, &node_name, Processor::X86(d as &dyn Cpuid)),
        (None, Some(CpuArch::Arm64)) => capture::capture_with(&roots, &node_name, Processor::Arm64),
        (None, None) => capture::capture(&roots, &node_name),
    };
    report_problems(&captured);
    let text = match args.format {
        Format::Features => to_go_json_indent(&captured.features),
        Format::Nodefeature => to_go_json_indent(&node_feature(&node_name, &captured.features)),
    };
    let mut code = 0;
    for path in &args.output {
        if let Err(e) = write_output(path, &text) {
            eprintln!("error: {e:#}");
            code = EXIT_BAD_INPUT;
        }
    }
    if let (Some(server), Some(token)) = (&args.upload, &args.token) {
        let summary = upload(server, token, &args.labels, text).await?;
        eprintln!("uploaded to {server}: {summary}");
    }
    Ok(code)
}

/// Longest an upload may take.
const UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Sends the snapshot to a nodefit server; returns what it stored, in words.
async fn upload(server: &str, token: &str, labels: &[String], body: String) -> Result<String> {
    for label in labels {
        if label.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
            return Err(anyhow!("--label {label:?}: expected KEY=VALUE"));
        }
    }
    let mut url = reqwest::Url::parse(server)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            anyhow!("--upload {server:?}: expected the server's http:// or https:// URL")
        })?;
    url.path_segments_mut()
        .map_err(|()| anyhow!("--upload {server:?} cannot have a path appended"))?
        .pop_if_empty()
        .extend(["api", "v1", "snapshots"]);
    for label in labels {
        url.query_pairs_mut().append_pair("label", label);
    }
    // reqwest is built without a default crypto provider (see registry/transport.rs).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .user_agent(concat!("nodefit/", env!("CARGO_PKG_VERSION")))
        .timeout(UPLOAD_TIMEOUT)
        .build()
        .context("cannot set up HTTP")?;
    let where_to = format!(
        "POST {}",
        url.as_str().split('?').next().unwrap_or_default()
    );
    let response = client
        .post(url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| anyhow!("{where_to}: {e}"))?;
    let status = response.status();
    let answer = response.text().await.unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
    if !status.is_success() {
        let message = json
            .pointer("/error/message")
            .and_then(|m| m.as_str())
            .unwrap_or("no explanation");
        return Err(anyhow!("{where_to}: {status}: {message}"));
    }
    let stored: Vec<String> = json["snapshots"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| format!("snapshot {}", s["id"]))
        .collect();
    let duplicates = json["duplicates"].as_array().map_or(0, Vec::len);
    Ok(format!(
        "{}{}",
        stored.join(", "),
        if duplicates > 0 {
            " (already stored: identical features)"
        } else {
            ""
        }
    ))
}

/// Prints each source problem as a warning on standard error.
pub fn report_problems(captured: &Capture) {
    for p in &captured.problems {
        let nfd = if p.aborts_nfd {
            " (nfd validate-node stops on this error)"
        } else {
            ""
        };
        eprintln!("warning: source {}: {}{nfd}", p.source, p.message);
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeFeature<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    spec: Spec<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
    labels: std::collections::BTreeMap<&'static str, &'a str>,
}

#[derive(Serialize)]
struct Spec<'a> {
    features: &'a Features,
}

/// The object nfd-worker writes for its node (without the labels it computes from rules).
fn node_feature<'a>(name: &'a str, features: &'a Features) -> NodeFeature<'a> {
    NodeFeature {
        api_version: "nfd.k8s-sigs.io/v1alpha1",
        kind: "NodeFeature",
        metadata: Metadata {
            name,
            labels: [("nfd.node.kubernetes.io/node-name", name)].into(),
        },
        spec: Spec { features },
    }
}

fn write_output(path: &Path, text: &str) -> Result<()> {
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("cannot write the snapshot to standard output")
    } else {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_indent_escapes_like_go() {
        let mut f = Features::default();
        f.attributes.insert(
            "system.dmiid".into(),
            nodefit_core::features::AttributeSet {
                elements: Some(
                    [("sys_vendor".into(), "AT&T <x>".into())]
                        .into_iter()
                        .collect(),
                ),
            },
        );
        assert_eq!(
            to_go_json_indent(&f),
            "{\n    \"attributes\": {\n        \"system.dmiid\": {\n            \"elements\": {\n                \"sys_vendor\": \"AT\\u0026T \\u003cx\\u003e\"\n            }\n        }\n    },\n    \"flags\": {},\n    \"instances\": {}\n}\n"
        );
    }
}
