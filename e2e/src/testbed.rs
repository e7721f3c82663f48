//! The test bed integration tests run against: real OCI registries on loopback, real images, and the
//! reference CLIs (`oras`, `cosign` 2.5 and 3.x, `notation`).
//!
//! Everything here drives real programs that `e2e/testbed/setup.sh` installs: Debian's
//! `docker-registry` (distribution 2.8, no referrers API), a patched go-containerregistry registry
//! (`ggcr-registry`, with the referrers API), `skopeo` and `umoci` to build and push images offline,
//! and trixie's `oras` and `cosign`, sid's `cosign3` and `notation`. The module is std-only so that it costs nothing to build.
//!
//! Processes are killed when their owner is dropped. If a test panics, the registry's temporary
//! directory (config, storage, log) is kept and its path printed, so the failure can be inspected.

use std::collections::BTreeSet;
use std::env;
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SETUP_HINT: &str = "run `bash e2e/testbed/setup.sh` as root to install the test bed";

/// How long a registry may take to answer `/v2/` after being started.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Bump when the image recipe in [`build_images`] changes, so stale caches are not reused.
const IMAGE_CACHE_VERSION: &str = "v1";

/// The workspace root (the parent of the `e2e` package).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("e2e is inside the workspace")
        .to_path_buf()
}

/// Where `setup.sh` put the test bed: `$TESTBED_DIR` (relative paths are taken from the workspace
/// root, as in `setup.sh`), or `<workspace>/target/testbed`.
pub fn testbed_dir() -> PathBuf {
    match env::var_os("TESTBED_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target").join("testbed"),
    }
}

/// Path of a test-bed program: `oras`, `cosign` and `ggcr-registry` come from the test bed's
/// `bin/`; Debian-installed ones (`docker-registry`, `skopeo`, `umoci`, `htpasswd`, `curl`) from
/// `PATH`. Panics with a hint to run `setup.sh` when the program is missing.
pub fn bin(name: &str) -> PathBuf {
    let in_testbed = testbed_dir().join("bin").join(name);
    if is_executable(&in_testbed) {
        return in_testbed;
    }
    env::var_os("PATH")
        .iter()
        .flat_map(env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| is_executable(path))
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is neither in {} nor on PATH: {SETUP_HINT}",
                in_testbed.parent().unwrap().display()
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A loopback TCP port that was free a moment ago. Ports are never handed out twice within one
/// test process, so parallel tests cannot race each other for the same one.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("bind an ephemeral loopback port")
            .port();
        if HANDED_OUT.lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// A directory removed on drop unless [`TempDir::keep`] was called.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// Creates a new, empty directory under the system's temporary directory.
    pub fn new(prefix: &str) -> Self {
        Self::new_in(&env::temp_dir(), &format!("nodefit-e2e-{prefix}"))
    }

    fn new_in(parent: &Path, prefix: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("{prefix}-{}-{n}-{nanos:08x}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => return Self { path, keep: false },
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("create {}: {e}", path.display()),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the directory in place when this value is dropped.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// What a finished command printed. Output is captured, never inherited, so that failing
/// assertions can show it next to the command line.
#[derive(Debug)]
pub struct Output {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics with the command line and its output unless it exited 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.success(), "command failed: {self}");
        self
    }

    /// Panics with the command line and its output if it exited 0.
    #[track_caller]
    pub fn assert_failure(&self) -> &Self {
        assert!(!self.success(), "command unexpectedly succeeded: {self}");
        self
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs a command to completion with no standard input (so a prompt fails instead of hanging)
/// and captures its output. Panics only if it cannot be started.
pub fn run(cmd: &mut Command) -> Output {
    let command = describe(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{command}`: {e}"));
    Output {
        command,
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `Command` for the test bed's `oras`, to add a working directory or environment. File
/// arguments of `oras push`/`attach` must be relative to the working directory: oras refuses
/// absolute paths unless given `--disable-path-validation`.
pub fn oras_cmd() -> Command {
    Command::new(bin("oras"))
}

/// Runs the test bed's `oras` with `args`.
pub fn oras<S: AsRef<OsStr>>(args: &[S]) -> Output {
    run(oras_cmd().args(args))
}

/// A `Command` for the test bed's `cosign` (trixie's 2.5). `COSIGN_YES` stops it from asking
/// for confirmations; offline verification still needs `--insecure-ignore-tlog=true` and
/// `--allow-http-registry`.
pub fn cosign_cmd() -> Command {
    let mut cmd = Command::new(bin("cosign"));
    cmd.env("COSIGN_YES", "true");
    cmd
}

/// Runs the test bed's `cosign` with `args`.
pub fn cosign<S: AsRef<OsStr>>(args: &[S]) -> Output {
    run(cosign_cmd().args(args))
}

/// A `Command` for the test bed's `cosign3` (sid's cosign 3.x, which signs into sigstore bundles
/// attached as referrers). Offline signing needs a signing config without services
/// (`cosign3 signing-config create --no-default-…`) and `--allow-insecure-registry`; offline
/// verification `--insecure-ignore-tlog`. `HOME` should be a scratch directory: it caches TUF
/// metadata there.
pub fn cosign3_cmd() -> Command {
    let mut cmd = Command::new(bin("cosign3"));
    cmd.env("COSIGN_YES", "true");
    cmd
}

/// A `Command` for the test bed's `notation` (sid's 1.x). Its configuration (keys, trust store,
/// trust policy) lives under `$XDG_CONFIG_HOME/notation`: point that at a scratch directory.
pub fn notation_cmd() -> Command {
    Command::new(bin("notation"))
}

/// `sha256:<hex>` of `bytes`, computed by coreutils' `sha256sum` to keep this crate std-only.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    // sha256sum reads all its input before writing its one line, so this cannot deadlock.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(bytes)
        .expect("write to sha256sum");
    let out = child.wait_with_output().expect("wait for sha256sum");
    assert!(out.status.success(), "sha256sum failed");
    let hex = String::from_utf8_lossy(&out.stdout);
    format!(
        "sha256:{}",
        hex.split_whitespace().next().unwrap_or_default()
    )
}

/// Which registry implementation a [`Registry`] runs; each has behaviours clients must handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryKind {
    /// Debian's `docker-registry`, distribution 2.8: no referrers API (`GET .../referrers/<digest>`
    /// is a plain-text 404), so clients fall back to the `sha256-<hex>` tag schema; no
    /// `OCI-Subject` header; storage on disk, kept across [`Registry::restart`].
    Distribution,
    /// go-containerregistry's in-memory registry with `ggcr-referrers.patch`: referrers API with
    /// `artifactType` filtering, `OCI-Subject` on manifest pushes; data is lost on restart.
    Referrers,
}

impl RegistryKind {
    pub fn has_referrers_api(self) -> bool {
        self == RegistryKind::Referrers
    }

    pub fn keeps_data_across_restart(self) -> bool {
        self == RegistryKind::Distribution
    }
}

/// A registry process on `127.0.0.1:<port>`, killed on drop.
pub struct Registry {
    kind: RegistryKind,
    program: PathBuf,
    port: u16,
    credentials: Option<(String, String)>,
    dir: TempDir,
    child: Option<Child>,
}

impl Registry {
    /// distribution 2.8, anonymous, deletes enabled, storage in a temporary directory.
    #[track_caller]
    pub fn distribution() -> Self {
        Self::start_new(RegistryKind::Distribution, None)
    }

    /// distribution 2.8 behind HTTP basic auth (bcrypt htpasswd): anonymous requests get 401
    /// with `Www-Authenticate: Basic realm="basic-realm"`.
    #[track_caller]
    pub fn distribution_with_basic_auth(user: &str, password: &str) -> Self {
        Self::start_new(
            RegistryKind::Distribution,
            Some((user.to_owned(), password.to_owned())),
        )
    }

    /// The patched go-containerregistry registry, with the referrers API.
    #[track_caller]
    pub fn referrers() -> Self {
        Self::start_new(RegistryKind::Referrers, None)
    }

    #[track_caller]
    fn start_new(kind: RegistryKind, credentials: Option<(String, String)>) -> Self {
        // Resolved first, so a missing test bed fails with setup.sh's hint and leaves nothing.
        let program = bin(match kind {
            RegistryKind::Distribution => "docker-registry",
            RegistryKind::Referrers => "ggcr-registry",
        });
        if credentials.is_some() {
            bin("htpasswd");
        }
        let mut registry = Registry {
            kind,
            program,
            port: 0,
            credentials,
            dir: TempDir::new(match kind {
                RegistryKind::Distribution => "distribution",
                RegistryKind::Referrers => "referrers",
            }),
            child: None,
        };
        registry.write_config_files();
        // Another process may take a port between free_port() and the registry binding it.
        for attempt in 1.. {
            registry.port = free_port();
            match registry.try_start() {
                Ok(()) => return registry,
                Err(e) if attempt < 5 && e.contains("address already in use") => continue,
                Err(e) => registry.fail(&e),
            }
        }
        unreachable!()
    }

    pub fn kind(&self) -> RegistryKind {
        self.kind
    }

    /// `127.0.0.1:PORT`, as used in image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `(user, password)` when the registry requires basic auth.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// Arguments that make `oras` log in, if the registry needs it: `-u USER -p PASS`.
    pub fn oras_auth_args(&self) -> Vec<String> {
        self.credentials()
            .map(|(user, password)| vec!["-u".into(), user.into(), "-p".into(), password.into()])
            .unwrap_or_default()
    }

    /// The registry's temporary directory (config, storage, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir().join("registry.log")
    }

    /// The last `lines` lines of the registry's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Kills the registry (SIGKILL: nothing is flushed, as in a crash). Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the registry if running, then starts it again on the same port with the same
    /// storage: a distribution registry keeps its data, a go-containerregistry one starts empty.
    #[track_caller]
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.try_start() {
            self.fail(&e);
        }
    }

    /// Whether the process is still alive (it may have been stopped or have crashed).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Freezes the registry (SIGSTOP): connections are accepted by the kernel but never answered,
    /// which is how a hung registry looks to a client with timeouts.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Resumes a registry frozen by [`Registry::pause`].
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("registry is not running");
        run(Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string()))
        .assert_success();
    }

    /// An HTTP request with `curl`, with the registry's credentials if it has any. `path` starts
    /// with `/v2/`; `headers` are `(name, value)` pairs.
    pub fn http(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
        http_request(method, &self.url(), path, headers, self.credentials())
    }

    /// Like [`Registry::http`] but never sends credentials.
    pub fn http_anonymous(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        http_request(method, &self.url(), path, headers, None)
    }

    fn write_config_files(&self) {
        if self.kind != RegistryKind::Distribution {
            return;
        }
        let dir = self.dir();
        let auth = match self.credentials() {
            Some((user, password)) => {
                let htpasswd = run(Command::new(bin("htpasswd")).args(["-Bbn", user, password]));
                htpasswd.assert_success();
                let path = dir.join("htpasswd");
                fs::write(&path, htpasswd.stdout.trim_end()).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd: {{realm: basic-realm, path: {}}}\n",
                    path.display()
                )
            }
            None => String::new(),
        };
        // The port is filled in by try_start(): it changes when a start is retried.
        let config = format!(
            "version: 0.1\n\
             log: {{level: info}}\n\
             storage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\n\
             http: {{addr: '127.0.0.1:@PORT@', secret: nodefit-e2e-only}}\n{auth}",
            dir.join("data").display()
        );
        fs::write(dir.join("config.yml.in"), config).expect("write registry config");
    }

    fn try_start(&mut self) -> Result<(), String> {
        let dir = self.dir().to_path_buf();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open registry log");
        writeln!(log, "=== nodefit-e2e: starting on port {} ===", self.port).unwrap();
        let mut cmd = match self.kind {
            RegistryKind::Distribution => {
                let template = fs::read_to_string(dir.join("config.yml.in")).unwrap();
                let config = dir.join("config.yml");
                fs::write(&config, template.replace("@PORT@", &self.port.to_string())).unwrap();
                let mut cmd = Command::new(&self.program);
                cmd.arg("serve").arg(config);
                // distribution lets REGISTRY_* variables override any config key.
                for (name, _) in env::vars_os() {
                    if name.to_string_lossy().starts_with("REGISTRY_") {
                        cmd.env_remove(name);
                    }
                }
                cmd
            }
            RegistryKind::Referrers => {
                let mut cmd = Command::new(&self.program);
                cmd.arg("-addr").arg(self.host());
                cmd
            }
        };
        cmd.current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", describe(&cmd)))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let ready_status = if self.credentials.is_some() { 401 } else { 200 };
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last = String::from("no answer");
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!(
                    "{:?} registry exited with {status} before answering; log:\n{}",
                    self.kind,
                    self.log_tail(30)
                ));
            }
            match probe_v2(self.port) {
                Some(status) if status == ready_status => return Ok(()),
                Some(status) => last = format!("GET /v2/ answered {status}"),
                None => {}
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "{:?} registry on {} not ready after {START_TIMEOUT:?} ({last}); log:\n{}",
            self.kind,
            self.host(),
            self.log_tail(30)
        ))
    }

    #[track_caller]
    fn fail(&mut self, message: &str) -> ! {
        self.stop();
        self.dir.keep();
        panic!(
            "{message}\n(registry files kept in {})",
            self.dir().display()
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() && !self.dir.keep {
            self.dir.keep();
            eprintln!(
                "{:?} registry {}: files kept in {} (log: registry.log)",
                self.kind,
                self.host(),
                self.dir().display()
            );
        }
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("kind", &self.kind)
            .field("host", &self.host())
            .field("dir", &self.dir())
            .finish()
    }
}

/// The status of `GET /v2/`, with a raw socket: polled many times per start, and must not depend
/// on anything but the registry.
fn probe_v2(port: u16) -> Option<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request =
        format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    let _ = stream.take(4096).read_to_end(&mut response);
    let status_line = String::from_utf8_lossy(&response);
    status_line.split_whitespace().nth(1)?.parse().ok()
}

/// A response fetched by [`Registry::http`].
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names are lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn http_request(
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    credentials: Option<(&str, &str)>,
) -> HttpResponse {
    let tmp = TempDir::new("http");
    let (head_file, body_file) = (tmp.path().join("head"), tmp.path().join("body"));
    let mut cmd = Command::new(bin("curl"));
    // A paused registry must fail the test, not hang it.
    cmd.args(["-sS", "--max-time", "30", "-D"])
        .arg(&head_file)
        .arg("-o")
        .arg(&body_file);
    if method.eq_ignore_ascii_case("HEAD") {
        // `-X HEAD` would wait for a body that never comes.
        cmd.arg("-I");
    } else {
        cmd.args(["-X", method]);
    }
    for (name, value) in headers {
        cmd.arg("-H").arg(format!("{name}: {value}"));
    }
    if let Some((user, password)) = credentials {
        cmd.arg("-u").arg(format!("{user}:{password}"));
    }
    cmd.arg(format!("{base}{path}"));
    run(&mut cmd).assert_success();

    let head = fs::read_to_string(&head_file).expect("read curl's header dump");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {head:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let body = if method.eq_ignore_ascii_case("HEAD") {
        Vec::new()
    } else {
        fs::read(&body_file).unwrap_or_default()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// A manifest in the cached OCI layout.
#[derive(Clone, Debug)]
struct Descriptor {
    digest: String,
    size: usize,
}

/// The OCI layout every seeded image is copied from, built once and cached in the test bed dir.
/// Tags: `amd64` and `arm64` (image manifests), `multi` (an index of both).
#[derive(Debug)]
struct ImageCache {
    layout: PathBuf,
    amd64: Descriptor,
    arm64: Descriptor,
    multi: Descriptor,
}

fn image_cache() -> &'static ImageCache {
    static CACHE: OnceLock<ImageCache> = OnceLock::new();
    CACHE.get_or_init(|| {
        let images = testbed_dir().join("images");
        let dir = images.join(IMAGE_CACHE_VERSION);
        if !dir.join("digests").exists() {
            // Built aside and renamed into place, so that concurrent test processes never see a
            // half-built layout: the first rename wins, later ones fail on the non-empty target.
            let mut tmp = TempDir::new_in(&images, ".build");
            build_images(tmp.path());
            if fs::rename(tmp.path(), &dir).is_ok() {
                tmp.keep();
            }
        }
        load_image_cache(&dir)
    })
}

fn build_images(dir: &Path) {
    let layout = dir.join("layout");
    let image = |tag: &str| format!("{}:{tag}", layout.display());
    let umoci = |args: &[&str]| {
        run(Command::new(bin("umoci")).args(args)).assert_success();
    };
    umoci(&["init", "--layout", &layout.display().to_string()]);
    let mut digests = String::new();
    let mut entries = Vec::new();
    let mut platforms = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        umoci(&["new", "--image", &image(arch)]);
        // One small file that differs per architecture, so each manifest has its own layer.
        let file = dir.join(format!("{arch}.txt"));
        fs::write(&file, format!("nodefit e2e test image for linux/{arch}\n")).unwrap();
        let file = file.display().to_string();
        umoci(&[
            "insert",
            "--rootless",
            "--image",
            &image(arch),
            &file,
            "/etc/nodefit-e2e.txt",
        ]);
        umoci(&[
            "config",
            "--image",
            &image(arch),
            "--os",
            "linux",
            "--architecture",
            arch,
            "--config.cmd",
            "/bin/true",
        ]);
        let manifest = run(Command::new(bin("skopeo"))
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}", image(arch))));
        manifest.assert_success();
        // umoci 0.4 omits the manifest's optional `mediaType`, which nearly every other tool
        // writes; add it so seeded images look like typical ones. The rewritten manifest becomes
        // the tag's target when index.json is written below.
        let bytes = manifest
            .stdout
            .trim_end()
            .replacen(
                r#"{"schemaVersion":2,"config""#,
                r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config""#,
                1,
            );
        assert!(
            bytes.contains(r#""mediaType":"application/vnd.oci.image.manifest.v1+json","config""#),
            "unexpected umoci manifest: {bytes}"
        );
        let desc = Descriptor {
            digest: write_blob(&layout, bytes.as_bytes()),
            size: bytes.len(),
        };
        let descriptor = |extra: &str| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{}{extra}}}"#,
                desc.digest, desc.size
            )
        };
        let variant = variant
            .map(|v| format!(r#","variant":"{v}""#))
            .unwrap_or_default();
        platforms.push(descriptor(&format!(
            r#","platform":{{"architecture":"{arch}","os":"linux"{variant}}}"#
        )));
        entries.push(descriptor(&format!(
            r#","annotations":{{"org.opencontainers.image.ref.name":"{arch}"}}"#
        )));
        digests.push_str(&format!("{arch} {} {}\n", desc.digest, desc.size));
    }
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        platforms.join(",")
    );
    let index_digest = write_blob(&layout, index.as_bytes());
    entries.push(format!(
        r#"{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{index_digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"multi"}}}}"#,
        index.len()
    ));
    // Written whole rather than edited: umoci's index.json holds exactly the two tags above.
    fs::write(
        layout.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            entries.join(",")
        ),
    )
    .unwrap();
    umoci(&["gc", "--layout", &layout.display().to_string()]);
    digests.push_str(&format!("multi {index_digest} {}\n", index.len()));
    fs::write(dir.join("digests"), digests).unwrap();
}

/// Stores `bytes` as a blob of the OCI layout and returns its digest.
fn write_blob(layout: &Path, bytes: &[u8]) -> String {
    let digest = sha256_digest(bytes);
    let hex = digest.strip_prefix("sha256:").unwrap();
    fs::write(layout.join("blobs/sha256").join(hex), bytes).unwrap();
    digest
}

fn load_image_cache(dir: &Path) -> ImageCache {
    let digests = fs::read_to_string(dir.join("digests")).expect("read cached image digests");
    let find = |name: &str| {
        digests
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                (fields.next()? == name).then(|| Descriptor {
                    digest: fields.next().unwrap_or_default().to_owned(),
                    size: fields
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_default(),
                })
            })
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "{} has no {name} entry: delete the directory",
                    dir.display()
                )
            })
    };
    ImageCache {
        layout: dir.join("layout"),
        amd64: find("amd64"),
        arm64: find("arm64"),
        multi: find("multi"),
    }
}

/// Copies tag `tag` of the cached layout to `registry`/`reference` with skopeo and returns the
/// digest the registry stored, checked against the layout's.
fn push_from_cache(
    registry: &Registry,
    tag: &str,
    reference: &str,
    all: bool,
    expected: &str,
) -> String {
    let cache = image_cache();
    let tmp = TempDir::new("seed");
    let digest_file = tmp.path().join("digest");
    let mut cmd = Command::new(bin("skopeo"));
    // --insecure-policy: the host's /etc/containers/policy.json is none of the tests' business.
    // --preserve-digests: fail rather than silently re-encode, the digests are what tests check.
    cmd.args([
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
    ])
    .arg("--digestfile")
    .arg(&digest_file);
    if all {
        cmd.arg("--all");
    }
    if let Some((user, password)) = registry.credentials() {
        cmd.arg("--dest-creds").arg(format!("{user}:{password}"));
    }
    cmd.arg(format!("oci:{}:{tag}", cache.layout.display()))
        .arg(format!("docker://{}/{reference}", registry.host()));
    run(&mut cmd).assert_success();
    let digest = fs::read_to_string(&digest_file).expect("read skopeo's digest file");
    let digest = digest.trim().to_owned();
    assert_eq!(
        digest, expected,
        "skopeo pushed {reference} with another digest than the cached layout's"
    );
    digest
}

/// Pushes a small linux/amd64 image to `registry` as `reference` (`repo:tag`) and returns its
/// manifest digest. All calls push the same image.
pub fn seed_image(registry: &Registry, reference: &str) -> String {
    let expected = &image_cache().amd64.digest;
    push_from_cache(registry, "amd64", reference, false, expected)
}

/// The digests of an image pushed by [`seed_multi_arch_image`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiArchImage {
    /// The image index.
    pub index: String,
    /// The linux/amd64 image manifest.
    pub amd64: String,
    /// The linux/arm64 (variant v8) image manifest.
    pub arm64: String,
}

impl MultiArchImage {
    /// `(platform, manifest digest)` pairs, in index order.
    pub fn platforms(&self) -> [(&'static str, &str); 2] {
        [("linux/amd64", &self.amd64), ("linux/arm64", &self.arm64)]
    }
}

/// Pushes an image index with linux/amd64 and linux/arm64 manifests to `registry` as `reference`.
/// Its amd64 manifest is the image [`seed_image`] pushes.
pub fn seed_multi_arch_image(registry: &Registry, reference: &str) -> MultiArchImage {
    let cache = image_cache();
    // skopeo checked the index digest, and the index bytes name the platform manifests.
    let index = push_from_cache(registry, "multi", reference, true, &cache.multi.digest);
    MultiArchImage {
        index,
        amd64: cache.amd64.digest.clone(),
        arm64: cache.arm64.digest.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_known_vectors() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_digest(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports: BTreeSet<u16> = (0..50).map(|_| free_port()).collect();
        assert_eq!(ports.len(), 50);
    }

    #[test]
    fn temp_dir_is_removed_unless_kept() {
        let dropped = TempDir::new("unit");
        let path = dropped.path().to_path_buf();
        assert!(path.is_dir());
        drop(dropped);
        assert!(!path.exists());

        let mut kept = TempDir::new("unit");
        kept.keep();
        let path = kept.path().to_path_buf();
        drop(kept);
        assert!(path.is_dir());
        fs::remove_dir(path).unwrap();
    }
}
