//! Shared by the registry integration tests: running `nodefit` as a process with a clean
//! credential environment, and reading what a registry really holds. The proxy that counts,
//! fails, delays or authenticates requests on their way to a real registry is the test bed's
//! fault-injecting registry (`nodefit_e2e::faults`).
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code, unused_imports)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use nodefit_e2e::faults::{Action, Head, Proxy, Script};
pub use nodefit_e2e::testbed::{
    oras_cmd, run, seed_image, seed_multi_arch_image, sha256_digest, Output, Registry, TempDir,
};
use serde_json::Value;

pub const ARTIFACT_TYPE: &str = "application/vnd.nfd.image-compatibility.v1alpha1";
pub const SPEC_MEDIA_TYPE: &str = "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A `nodefit` invocation. Credentials come only from what the test sets: `DOCKER_CONFIG`
/// points at an empty directory unless [`Nodefit::docker_config`] fills it, so the developer's
/// own `~/.docker/config.json` never leaks in.
pub struct Nodefit {
    cmd: Command,
    stdin: Option<String>,
    config_dir: TempDir,
}

pub fn nodefit<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Nodefit {
    let config_dir = TempDir::new("docker-config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodefit"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env("DOCKER_CONFIG", config_dir.path())
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY");
    Nodefit {
        cmd,
        stdin: None,
        config_dir,
    }
}

impl Nodefit {
    pub fn arg<S: AsRef<std::ffi::OsStr>>(mut self, arg: S) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<S: AsRef<std::ffi::OsStr>>(mut self, args: &[S]) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(name, value);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_owned());
        self
    }

    /// Writes `config.json` into this invocation's `DOCKER_CONFIG`.
    pub fn docker_config(self, config: &Value) -> Self {
        std::fs::write(
            self.config_dir.path().join("config.json"),
            config.to_string(),
        )
        .unwrap();
        self
    }

    /// Credentials of a basic-auth registry through docker's config file, if it has any.
    pub fn login(self, registry: &Registry) -> Self {
        match registry.credentials() {
            Some((user, password)) => {
                self.docker_config(&docker_auths(&registry.host(), user, password))
            }
            None => self,
        }
    }

    /// Starts the process; [`Running::wait`] collects it.
    pub fn spawn(mut self) -> Running {
        let command = format!("{:?}", self.cmd);
        self.cmd
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("start nodefit");
        if let Some(text) = &self.stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        Running {
            child,
            command,
            _config_dir: self.config_dir,
        }
    }

    pub fn run(self) -> Output {
        self.spawn().wait()
    }
}

pub struct Running {
    child: std::process::Child,
    command: String,
    _config_dir: TempDir,
}

impl Running {
    pub fn wait(self) -> Output {
        let out = self.child.wait_with_output().expect("wait for nodefit");
        Output {
            command: self.command,
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A docker `config.json` with basic credentials for `host`.
pub fn docker_auths(host: &str, user: &str, password: &str) -> Value {
    let auth = base64(&format!("{user}:{password}"));
    serde_json::json!({"auths": {host: {"auth": auth}}})
}

/// Standard base64, with `base64` from coreutils (keeps the tests free of crates).
pub fn base64(text: &str) -> String {
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

/// Arguments every nodefit command against `registry` takes: the registry is plain HTTP.
pub fn image_args(registry: &Registry, reference: &str) -> Vec<String> {
    vec![
        "--image".into(),
        format!("{}/{reference}", registry.host()),
        "--plain-http".into(),
    ]
}

/// The path of a file of the core's test data.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/core/tests/data")
        .join(rel)
}

/// Writes a small valid spec, distinguished by `description`, and returns its path.
pub fn write_spec(dir: &Path, name: &str, description: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "version: v1alpha1\ncompatibilities:\n- description: {description:?}\n  rules:\n  \
             - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        \
             vendor_id: {{op: In, value: [Intel, AMD]}}\n"
        ),
    )
    .unwrap();
    path
}

/// The `Digest: sha256:...` line of `nodefit attach` (or `oras attach`).
#[track_caller]
pub fn printed_digest(out: &Output) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("no Digest line: {out}"))
        .trim()
        .to_owned()
}

/// `nodefit discover --output json`, parsed.
#[track_caller]
pub fn discover_json(registry: &Registry, reference: &str) -> Value {
    let out = nodefit(&["discover", "--output", "json"])
        .args(&image_args(registry, reference))
        .login(registry)
        .run();
    out.assert_success();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Digests of the `referrers` of `nodefit discover --output json`, newest first.
pub fn discovered(registry: &Registry, reference: &str) -> Vec<String> {
    discover_json(registry, reference)["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// The fallback index as the registry holds it: `None` when the tag does not exist.
pub fn fallback_index(registry: &Registry, repo: &str, subject: &str) -> Option<(String, Value)> {
    let tag = format!("sha256-{}", subject.strip_prefix("sha256:").unwrap());
    let response = registry.http(
        "GET",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Accept", OCI_INDEX)],
    );
    match response.status {
        404 => None,
        200 => Some((
            sha256_digest(&response.body),
            serde_json::from_slice(&response.body).expect("fallback index is JSON"),
        )),
        other => panic!("GET fallback tag: {other} {}", response.text()),
    }
}

/// Digests listed in a fallback index.
pub fn index_digests(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// A registry manifest as JSON, checked to hash to `digest`.
pub fn manifest(registry: &Registry, repo: &str, digest: &str) -> Value {
    let response = registry.http(
        "GET",
        &format!("/v2/{repo}/manifests/{digest}"),
        &[("Accept", &format!("{OCI_MANIFEST}, {OCI_INDEX}"))],
    );
    assert_eq!(response.status, 200, "{digest}: {}", response.text());
    assert_eq!(sha256_digest(&response.body), digest);
    serde_json::from_slice(&response.body).unwrap()
}

/// Attaches `file` (relative to `dir`) with `oras attach`; returns the artifact digest.
pub fn oras_attach(registry: &Registry, dir: &Path, subject: &str, file: &str) -> String {
    let out = run(oras_cmd()
        .current_dir(dir)
        .args(["attach", "--plain-http", "--artifact-type", ARTIFACT_TYPE])
        .args(registry.oras_auth_args())
        .arg(format!("{}/{subject}", registry.host()))
        .arg(format!("{file}:{SPEC_MEDIA_TYPE}")));
    out.assert_success();
    printed_digest(&out)
}

/// Digests `oras discover --format json` lists for `subject`.
pub fn oras_discovered(registry: &Registry, subject: &str) -> Vec<String> {
    let out = run(oras_cmd()
        .args(["discover", "--plain-http", "--format", "json"])
        .args(registry.oras_auth_args())
        .arg(format!("{}/{subject}", registry.host())));
    out.assert_success();
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    json.get("manifests")
        .or_else(|| json.get("referrers"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no referrer list: {out}"))
        .iter()
        .map(|d| d["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// Lines of `nodefit -v` output that record an HTTP request (`nodefit: METHOD URL -> ...`).
pub fn request_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.strip_prefix("nodefit: ")
                .and_then(|rest| rest.split(' ').next())
                .is_some_and(|m| ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"].contains(&m))
                && l.contains(" -> ")
        })
        .collect()
}
