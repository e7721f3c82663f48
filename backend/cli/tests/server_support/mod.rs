//! Shared by the server tests: `nodefit serve` as a real process on a free loopback port, a
//! small HTTP/1.1 client (so that bodies, headers and broken requests are exactly what the test
//! writes), and a throwaway PostgreSQL cluster.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

pub use nodefit_e2e::testbed::TempDir;
use serde_json::{json, Value};

pub mod confine;

/// The admin token every test server starts with (`NODEFIT_ADMIN_TOKEN`).
pub const ADMIN: &str = "nodefit-test-admin-token-0123456789";

/// Where a server keeps its data.
#[derive(Clone, Debug)]
pub enum Store {
    /// An SQLite database in this directory.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

/// A fresh database of each kind. SQLite directories live as long as the returned guard.
pub fn sqlite() -> (Store, TempDir) {
    let dir = TempDir::new("server-data");
    (Store::Sqlite(dir.path().join("data")), dir)
}

pub fn postgres_db() -> Store {
    Store::Postgres(postgres().create_database())
}

pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/core/tests/data")
        .join(rel)
}

pub fn read_data(rel: &str) -> String {
    std::fs::read_to_string(data(rel)).unwrap()
}

/// A running `nodefit serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<String>>,
    pub store: Store,
}

/// How to start a server beyond the defaults.
#[derive(Default)]
pub struct Options<'a> {
    pub args: Vec<&'a str>,
    pub env: Vec<(&'a str, &'a str)>,
    /// Leave `NODEFIT_ADMIN_TOKEN` unset.
    pub no_admin_token: bool,
    /// A program (with its arguments) that runs the server, such as `prlimit ... --`.
    pub wrapper: Option<Vec<String>>,
}

impl Server {
    pub fn start(store: &Store) -> Server {
        Self::start_with(store, Options::default())
    }

    pub fn start_with(store: &Store, options: Options) -> Server {
        Self::try_start(store, options)
            .unwrap_or_else(|logs| panic!("nodefit serve did not start:\n{logs}"))
    }

    /// Starts a server, or returns what it printed before exiting.
    pub fn try_start(store: &Store, options: Options) -> Result<Server, String> {
        let mut cmd = match &options.wrapper {
            Some(wrapper) => {
                let mut c = Command::new(&wrapper[0]);
                c.args(&wrapper[1..]).arg(env!("CARGO_BIN_EXE_nodefit"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_nodefit")),
        };
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match store {
            Store::Sqlite(dir) => cmd.arg("--data-dir").arg(dir),
            Store::Postgres(url) => cmd.args(["--database-url", url]),
        };
        if !options.no_admin_token {
            cmd.env("NODEFIT_ADMIN_TOKEN", ADMIN);
        }
        if !options.args.contains(&"--ui-dir") {
            cmd.args(["--ui-dir", "/nonexistent-ui"]);
        }
        cmd.args(&options.args);
        cmd.envs(options.env.iter().copied());
        let mut child = cmd.spawn().expect("run nodefit serve");
        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let logs = logs.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        // Followed by a space (compact logs) or a quote (JSON logs).
                        let addr: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c))
                            .collect();
                        let _ = tx.send(Some(
                            addr.parse::<SocketAddr>().expect("the listening address"),
                        ));
                    }
                    let mut l = logs.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                let _ = tx.send(None);
            });
        }
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(addr)) => Ok(Server {
                child,
                addr,
                logs,
                store: store.clone(),
            }),
            Ok(None) => {
                // An output stream closed before the server listened: it is exiting.
                let _ = child.wait();
                thread::sleep(Duration::from_millis(100));
                Err(logs.lock().unwrap().clone())
            }
            Err(_) => {
                let _ = child.kill();
                Err(format!("timed out; logs:\n{}", logs.lock().unwrap()))
            }
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM (unless the process is already gone), and the exit status once it is.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        // The process may have gone in between: then the kill fails and the wait below ends.
        if self.child.try_wait().unwrap().is_none() {
            sigterm(self.child.id());
        }
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {within:?} of SIGTERM:\n{}",
                self.logs()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> Response {
        let mut headers = Vec::new();
        let auth;
        if let Some(t) = token {
            auth = format!("Bearer {t}");
            headers.push(("Authorization", auth.as_str()));
        }
        if let Some((content_type, _)) = body {
            headers.push(("Content-Type", content_type));
        }
        http(self.addr, method, path, &headers, body.map(|(_, b)| b))
    }

    pub fn get(&self, path: &str, token: &str) -> Response {
        self.request("GET", path, Some(token), None)
    }

    pub fn delete(&self, path: &str, token: &str) -> Response {
        self.request("DELETE", path, Some(token), None)
    }

    pub fn json(&self, method: &str, path: &str, token: &str, body: &Value) -> Response {
        let bytes = serde_json::to_vec(body).unwrap();
        self.request(
            method,
            path,
            Some(token),
            Some(("application/json", &bytes)),
        )
    }

    /// Uploads a snapshot file as is.
    pub fn upload(&self, query: &str, token: &str, content_type: &str, body: &[u8]) -> Response {
        self.request(
            "POST",
            &format!("/api/v1/snapshots{query}"),
            Some(token),
            Some((content_type, body)),
        )
    }

    /// A token with this role, created by the admin.
    pub fn token(&self, role: &str) -> String {
        let r = self.json(
            "POST",
            "/api/v1/tokens",
            ADMIN,
            &json!({"name": format!("{role}-user"), "role": role}),
        );
        r.expect(201);
        r.json()["token"].as_str().unwrap().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM through the shell's `kill` (procps' may not be installed); whether it was sent.
pub fn sigterm(pid: u32) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {pid}"))
        .status()
        .is_ok_and(|s| s.success())
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text());
        self
    }

    /// Asserts an API error with this status and code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        self.expect(status);
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        body["error"].clone()
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    try_http(addr, method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// [`http`], with a failed connection or a cut-off answer as an error instead of a panic.
pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    match body {
        Some(b) if b.len() > 64 * 1024 => {
            // The server may answer (413) and close before reading everything: write from
            // another thread and read here, so that the answer is read as it arrives.
            let mut writer = stream.try_clone()?;
            let body = b.to_vec();
            let sending = thread::spawn(move || {
                let _ = writer.write_all(&body);
            });
            let response = try_read_response(&mut stream);
            let _ = stream.shutdown(std::net::Shutdown::Both);
            let _ = sending.join();
            response
        }
        Some(b) => {
            // An early answer may cut the write short; what it said is read below.
            let _ = stream.write_all(b);
            try_read_response(&mut stream)
        }
        None => try_read_response(&mut stream),
    }
}

/// Reads a whole response (the connection is closed after it).
pub fn read_response(stream: &mut TcpStream) -> Response {
    try_read_response(stream).unwrap_or_else(|e| panic!("no response: {e}"))
}

fn try_read_response(stream: &mut TcpStream) -> std::io::Result<Response> {
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        // A reset after the server answered and closed is fine if the answer arrived.
        if raw.is_empty() {
            return Err(e);
        }
    }
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "incomplete response",
        ));
    }
    Ok(parse_response(&raw))
}

pub fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("incomplete response: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

/// The sample export with one attribute made unique, so that its content hash is new.
pub fn unique_snapshot(tag: &str) -> Vec<u8> {
    static BASE: OnceLock<Value> = OnceLock::new();
    let mut doc = BASE
        .get_or_init(|| {
            serde_json::from_str(&read_data("samples/intel-spr-h100-cx6.features.json")).unwrap()
        })
        .clone();
    doc["attributes"]["test.unique"] = json!({"elements": {"tag": tag}});
    doc["attributes"]["system.name"] = json!({"elements": {"nodename": format!("node-{tag}")}});
    serde_json::to_vec(&doc).unwrap()
}

// ---- PostgreSQL ----

/// A PostgreSQL cluster on a free loopback port, for the whole test binary. It stops and its
/// directory is removed when the test process ends, however it ends: a shell started with it
/// waits on a pipe from this process and stops the server when the pipe closes.
pub struct Postgres {
    pub port: u16,
    _watchdog: Mutex<ChildStdin>,
}

const PG_SUPERUSER: &str = "nodefit";

pub fn postgres() -> &'static Postgres {
    static PG: OnceLock<Postgres> = OnceLock::new();
    PG.get_or_init(Postgres::start)
}

fn pg_bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| Some(e.ok()?.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.into_iter()
        .rev()
        .find(|d| d.join("initdb").is_file())
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): the server's \
                 PostgreSQL tests need Debian's `postgresql` package; scripts/test.sh installs it"
            )
        })
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// A command run as the cluster's owner: `postgres` when we are root (initdb refuses root).
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    fn start() -> Postgres {
        let bin = pg_bin_dir();
        let dir = cluster_dir("pg");
        let data = dir.join("data");
        initdb(&data, &["--no-sync"]);
        let port = free_port();
        // Speed matters here; the crash tests run their own DurablePostgres.
        let script = r#"
            "$1" -D "$2" -p "$3" -k "$4" -c listen_addresses=127.0.0.1 -c max_connections=400 \
                -c fsync=off -c synchronous_commit=off -c full_page_writes=off >"$4/postgres.log" 2>&1 &
            pid=$!
            read _ignored
            kill -INT "$pid"
            wait "$pid"
            rm -rf "$4"
        "#;
        let mut watchdog = as_owner(Path::new("/bin/sh"))
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(bin.join("postgres"))
            .arg(&data)
            .arg(port.to_string())
            .arg(&dir)
            .stdin(Stdio::piped())
            .spawn()
            .expect("start postgres");
        // Dropping the handle leaves the shell running; the pipe is what ties it to us.
        let stdin = watchdog.stdin.take().unwrap();
        drop(watchdog);
        let pg = Postgres {
            port,
            _watchdog: Mutex::new(stdin),
        };
        wait_until_ready(port, &dir.join("postgres.log"));
        pg
    }

    /// A new empty database; its URL.
    pub fn create_database(&self) -> String {
        create_database(self.port)
    }
}

fn create_database(port: u16) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "t{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let out = Command::new(pg_bin_dir().join("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            PG_SUPERUSER,
            "-d",
            "postgres",
        ])
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "CREATE DATABASE: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("postgres://{PG_SUPERUSER}@127.0.0.1:{port}/{name}")
}

/// A directory for a cluster, owned by the user PostgreSQL runs as.
fn cluster_dir(kind: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir =
        std::env::temp_dir().join(format!("nodefit-{kind}-{}-{nanos:08x}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    if is_root() {
        let ok = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(
            ok.success(),
            "chown the PostgreSQL directory to the postgres user"
        );
    }
    dir
}

fn initdb(data: &Path, extra: &[&str]) {
    let out = as_owner(&pg_bin_dir().join("initdb"))
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            PG_SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
        ])
        .args(extra)
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_until_ready(port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(pg_bin_dir().join("pg_isready"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                PG_SUPERUSER,
                "-q",
            ])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("PostgreSQL did not start on port {port}:\n{log}");
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// A PostgreSQL cluster that makes every commit durable before answering it (`fsync=on`,
/// `synchronous_commit=on`, `full_page_writes=on`: the defaults a production server runs
/// with), which the crash tests can kill with SIGKILL and start again on the same data
/// directory. Each test that wants one gets its own; it is stopped and removed when dropped,
/// or when the test process ends however it ends (a watchdog shell waits on a pipe from us).
pub struct DurablePostgres {
    pub port: u16,
    data: PathBuf,
    log: PathBuf,
    postmaster: Option<Child>,
    watchdog: Option<ChildStdin>,
}

impl DurablePostgres {
    pub fn start() -> DurablePostgres {
        let dir = cluster_dir("pg-durable");
        let data = dir.join("data");
        initdb(&data, &[]);
        let script = r#"
            read _ignored
            [ -f "$1/postmaster.pid" ] && kill -INT "$(head -n 1 "$1/postmaster.pid")" 2>/dev/null
            i=0
            while [ -f "$1/postmaster.pid" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
            rm -rf "$2"
        "#;
        let mut watchdog = as_owner(Path::new("/bin/sh"))
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&data)
            .arg(&dir)
            .stdin(Stdio::piped())
            .spawn()
            .expect("start the cluster's watchdog");
        let stdin = watchdog.stdin.take().unwrap();
        drop(watchdog);
        let mut pg = DurablePostgres {
            port: free_port(),
            log: dir.join("postgres.log"),
            data,
            postmaster: None,
            watchdog: Some(stdin),
        };
        pg.restart();
        pg
    }

    /// Starts PostgreSQL on the data directory (crash recovery included, after a kill).
    pub fn restart(&mut self) {
        assert!(self.postmaster.is_none(), "PostgreSQL is running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = as_owner(&pg_bin_dir().join("postgres"))
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.data.parent().unwrap())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=100",
                "-c",
                "fsync=on",
                "-c",
                "synchronous_commit=on",
                "-c",
                "full_page_writes=on",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.postmaster = Some(child);
        wait_until_ready(self.port, &self.log);
    }

    /// SIGKILL to the postmaster and every process it started, at once: no checkpoint, no
    /// flush of anything still in shared memory, as in a crash of the database host's
    /// processes.
    pub fn kill9(&mut self) {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        let postmaster: u32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
        let mut pids = vec![postmaster];
        pids.extend(children_of(postmaster));
        let list: Vec<String> = pids.iter().map(u32::to_string).collect();
        // A backend may end by itself between the listing and the kill, which makes `kill`
        // fail for it: whether every process is gone is checked below instead.
        Command::new("sh")
            .arg("-c")
            .arg(format!("kill -KILL {}", list.join(" ")))
            .status()
            .unwrap();
        if let Some(mut child) = self.postmaster.take() {
            child.wait().unwrap();
        }
        // Its servers must be gone before a new postmaster may take the data directory.
        let deadline = Instant::now() + Duration::from_secs(30);
        while pids.iter().any(|p| is_alive(*p)) {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL processes survived SIGKILL"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn create_database(&self) -> String {
        create_database(self.port)
    }
}

impl Drop for DurablePostgres {
    fn drop(&mut self) {
        // The watchdog stops PostgreSQL (SIGINT) and removes the directory.
        drop(self.watchdog.take());
        if let Some(mut child) = self.postmaster.take() {
            let _ = child.wait();
        }
    }
}

/// Processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                // `pid (comm) state ppid ...`: comm may hold spaces, so count from its end.
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

/// Whether `pid` still runs (a zombie has released everything and does not count).
fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}
