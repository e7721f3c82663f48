//! Shared by the registry integration tests: running `nodefit` as a process with a clean
//! credential environment, reading what a registry really holds, and an HTTP proxy that counts,
//! fails, delays or authenticates requests on their way to a real registry.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

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
        .join("../shared/tests/data")
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

/// A request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Head {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `METHOD /path` for assertions.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path())
    }
}

/// What the proxy does with a request.
pub enum Action {
    Forward,
    /// Answer without asking the registry.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Wait, then forward.
    Delay(Duration),
    /// Close the connection without answering, as a crashed registry does.
    Hangup,
}

impl Action {
    pub fn status(status: u16) -> Self {
        Action::Respond {
            status,
            headers: Vec::new(),
            body: format!(
                r#"{{"errors":[{{"code":"UNAVAILABLE","message":"injected {status}"}}]}}"#
            )
            .into_bytes(),
        }
    }
}

type Rule = dyn FnMut(&Head, &[u8]) -> Action + Send;

/// An HTTP/1.1 proxy on loopback in front of a registry. Each connection carries one request
/// (`Connection: close`), which keeps it small and makes every request visible.
pub struct Proxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Head>>>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Proxy {
    /// A proxy to `upstream` (`host:port`) that asks `rule` what to do with each request.
    pub fn start(
        upstream: &str,
        rule: impl FnMut(&Head, &[u8]) -> Action + Send + 'static,
    ) -> Proxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rule: Arc<Mutex<Box<Rule>>> = Arc::new(Mutex::new(Box::new(rule)));
        let upstream = upstream.to_owned();
        let accept = {
            let (stop, seen) = (stop.clone(), seen.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (rule, seen, upstream) = (rule.clone(), seen.clone(), upstream.clone());
                    thread::spawn(move || {
                        let _ = serve(stream, &upstream, &rule, &seen);
                    });
                }
            })
        };
        Proxy {
            addr,
            stop,
            seen,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Every request received so far, in order of arrival.
    pub fn seen(&self) -> Vec<Head> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    upstream: &str,
    rule: &Mutex<Box<Rule>>,
    seen: &Mutex<Vec<Head>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some((head, body)) = read_request(&mut reader)? else {
        return Ok(());
    };
    seen.lock().unwrap().push(head.clone());
    let action = (rule.lock().unwrap())(&head, &body);
    let mut client = stream;
    match action {
        Action::Hangup => return client.shutdown(Shutdown::Both),
        Action::Respond {
            status,
            headers,
            body,
        } => {
            let mut response = format!("HTTP/1.1 {status} Injected\r\n");
            for (name, value) in headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            client.write_all(response.as_bytes())?;
            if head.method != "HEAD" {
                client.write_all(&body)?;
            }
            return client.flush();
        }
        Action::Delay(wait) => thread::sleep(wait),
        Action::Forward => {}
    }
    let Ok(mut server) = TcpStream::connect(upstream) else {
        // The registry is down: to the client this is a dropped connection.
        return client.shutdown(Shutdown::Both);
    };
    let mut request = format!("{} {} HTTP/1.1\r\n", head.method, head.target);
    for (name, value) in &head.headers {
        if !matches!(
            name.as_str(),
            "connection" | "content-length" | "transfer-encoding"
        ) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    server.write_all(request.as_bytes())?;
    server.write_all(&body)?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    client.write_all(&response)?;
    client.flush()
}

/// Reads one request: head, then a body by `Content-Length` or chunked encoding.
fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<(Head, Vec<u8>)>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let head = Head {
        method,
        target,
        headers,
    };
    let mut body = Vec::new();
    if head
        .header("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                line.clear();
                reader.read_line(&mut line)?;
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = head.header("content-length").and_then(|l| l.parse().ok()) {
        body = vec![0; length];
        reader.read_exact(&mut body)?;
    }
    Ok(Some((head, body)))
}

/// Counts of `METHOD /path` lines, for assertions about which requests were sent.
pub fn tally(heads: &[Head]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for head in heads {
        *counts.entry(head.method.clone()).or_insert(0) += 1;
    }
    counts
}
