//! What the browser tests (`ui_*.rs`) run against: the real `nodefit serve` on a free loopback
//! port with a temporary database, and Debian's Chromium driven through chromedriver by
//! fantoccini. Screenshots go to `e2e/artifacts/ui/`.
//!
//! The UI must have been built (`cargo xtask build-ui`, which `scripts/test.sh` runs first) and
//! the `nodefit` binary too (`cargo test --workspace` builds it; `$NODEFIT_BIN` overrides it).

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nodefit_e2e::testbed::{free_port, workspace_root, TempDir};
use serde_json::{json, Value};

/// How long to wait for the UI to show something after an action.
pub const UI_TIMEOUT: Duration = Duration::from_secs(20);

/// Browser tests run one at a time: two Chromiums on two shared cores make timings meaningless
/// and waits flaky.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub const ADMIN_TOKEN: &str = "nodefit-e2e-admin-token";

fn nodefit_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("NODEFIT_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let bin = target.join("debug/nodefit");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p nodefit` (or set NODEFIT_BIN)",
        bin.display()
    );
    bin
}

/// The built UI, checked so that a missing build fails with what to run.
pub fn ui_dir() -> PathBuf {
    let dist = workspace_root().join("frontend/dist");
    assert!(
        dist.join("index.html").is_file(),
        "{} has no index.html: run `cargo xtask build-ui` first",
        dist.display()
    );
    dist
}

/// A `nodefit serve` process, killed on drop; its log is printed if the test panicked.
pub struct Server {
    child: Child,
    pub url: String,
    pub dir: TempDir,
}

impl Server {
    /// Starts the server with an optional configuration file body (TOML).
    pub fn start(config: Option<&str>) -> Server {
        let dir = TempDir::new("ui-server");
        let mut cmd = Command::new(nodefit_bin());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--ui-dir")
            .arg(ui_dir())
            .env("NODEFIT_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null());
        if let Some(config) = config {
            let path = dir.path().join("server.toml");
            fs::write(&path, config).unwrap();
            cmd.arg("--config").arg(path);
        }
        let port = free_port();
        let log = fs::File::create(dir.path().join("server.log")).unwrap();
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", nodefit_bin().display()));
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        server.wait_healthy(port);
        server
    }

    fn wait_healthy(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http_status(port, "/healthz") == Some(200) {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "nodefit serve did not answer /healthz within 30 s; log:\n{}",
            self.log()
        );
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("--- nodefit serve log ---\n{}", self.log());
        }
    }
}

/// The status code of a plain HTTP/1.0 GET, or `None` when nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Chromium under chromedriver, with a fantoccini client. Call [`Browser::close`] at the end;
/// dropping only kills chromedriver (and with it the browser).
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: TempDir,
    shots: PathBuf,
}

impl Browser {
    pub async fn start(shots: &str) -> Browser {
        for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            assert!(
                Path::new(bin).is_file(),
                "{bin} is missing: `apt-get install chromium chromium-driver` (scripts/test.sh does)"
            );
        }
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            thread::sleep(Duration::from_millis(50));
        }
        let profile = TempDir::new("chromium-profile");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                // These work as root in a container (FRONTEND-BUILD.md); a fresh profile keeps
                // runs independent.
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("open a Chromium session through chromedriver");
        let shots = workspace_root().join("e2e/artifacts/ui").join(shots);
        fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            driver,
            _profile: profile,
            shots,
        }
    }

    pub async fn close(self) {
        // The client is a handle; closing a clone ends the session for all of them.
        let _ = self.client.clone().close().await;
    }

    /// Saves a PNG of the page as `e2e/artifacts/ui/<dir>/<name>.png`.
    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}` within {UI_TIMEOUT:?}: {e}"))
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    /// Clicks the first button (or other element matching `css`) whose text contains `text`.
    pub async fn click_text(&self, css: &str, text: &str) {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            for el in self
                .client
                .find_all(Locator::Css(css))
                .await
                .unwrap_or_default()
            {
                if el.text().await.unwrap_or_default().contains(text)
                    && el.is_enabled().await.unwrap_or(false)
                {
                    el.click()
                        .await
                        .unwrap_or_else(|e| panic!("click `{css}` \"{text}\": {e}"));
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no enabled `{css}` with text {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// The text of every element matching `css`.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for el in self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
        {
            out.push(el.text().await.unwrap_or_default());
        }
        out
    }

    /// Waits until some element matching `css` has text containing `text`; returns that text.
    pub async fn wait_text(&self, css: &str, text: &str) -> String {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let texts = self.texts(css).await;
            if let Some(t) = texts.iter().find(|t| t.contains(text)) {
                return t.clone();
            }
            if Instant::now() > deadline {
                let notice = self.texts("[data-testid=notice]").await.join(" ");
                panic!("no `{css}` containing {text:?} within {UI_TIMEOUT:?}; found {texts:?}; notice: {notice:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `check` holds for the texts of the elements matching `css`.
    pub async fn wait_texts(
        &self,
        css: &str,
        what: &str,
        check: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let texts = self.texts(css).await;
            if check(&texts) {
                return texts;
            }
            if Instant::now() > deadline {
                let notice = self.texts("[data-testid=notice]").await.join(" ");
                panic!("`{css}`: expected {what} within {UI_TIMEOUT:?}; found {texts:?}; notice: {notice:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Selects the editor's whole text and replaces it through the browser's input pipeline
    /// (as a paste would: CodeMirror sees DOM input, not an API call).
    pub async fn replace_editor_text(&self, text: &str) {
        self.click(".cm-content").await;
        self.js(
            "const el = document.querySelector('.cm-content'); el.focus();
             document.execCommand('selectAll', false, null);
             document.execCommand('insertText', false, arguments[0]);",
            vec![json!(text)],
        )
        .await;
    }

    /// The editor's text as CodeMirror holds it (one line per `.cm-line`).
    pub async fn editor_text(&self) -> String {
        self.js(
            "return Array.from(document.querySelectorAll('.cm-content .cm-line')).map(l => l.textContent).join('\\n');",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub async fn tab(&self, name: &str) {
        self.click(&format!("#tab-{name}")).await;
        self.find(&format!("#panel-{name}:not([hidden])")).await;
    }
}

/// A Chrome DevTools Protocol command, sent through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"cmd": self.cmd, "params": self.params}).to_string()),
        )
    }
}

impl Browser {
    /// Makes the page see `prefers-color-scheme: dark` (or light), as a system setting would.
    pub async fn color_scheme(&self, scheme: &str) {
        self.client
            .issue_cmd(Cdp {
                cmd: "Emulation.setEmulatedMedia",
                params: json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
            })
            .await
            .expect("emulate the colour scheme");
    }

    /// axe-core's serious and critical violations on the page as it is (axe-core from the
    /// editor's npm packages; injected through WebDriver, which the page's CSP does not
    /// govern). Each is `id: help (targets)`.
    pub async fn axe(&self) -> Vec<String> {
        let source = fs::read_to_string(
            workspace_root().join("frontend/editor/node_modules/axe-core/axe.min.js"),
        )
        .expect("axe-core is installed with the editor's packages (npm ci in frontend/editor)");
        let found = self
            .client
            .execute_async(
                &format!(
                    "{source}\nconst done = arguments[arguments.length - 1];
                     axe.run(document, {{resultTypes: ['violations']}}).then(r => done(r.violations
                       .filter(v => v.impact === 'serious' || v.impact === 'critical')
                       .map(v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).join(', ') + ')')),
                       e => done(['axe failed: ' + e]));"
                ),
                vec![],
            )
            .await
            .expect("run axe-core");
        serde_json::from_value(found).unwrap()
    }

    /// Calls the API from the page, with the admin token: `[status, body]`.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let answer = self
            .client
            .execute_async(
                "const [method, path, body, token] = arguments;
                 const done = arguments[arguments.length - 1];
                 const headers = {'Authorization': 'Bearer ' + token};
                 if (body !== null) headers['Content-Type'] = 'application/json';
                 fetch('/api/v1' + path, {method, headers, body: body === null ? undefined : JSON.stringify(body)})
                   .then(async r => done([r.status, await r.text()]), e => done([0, String(e)]));",
                vec![json!(method), json!(path), body.unwrap_or(Value::Null), json!(ADMIN_TOKEN)],
            )
            .await
            .expect("call the API from the page");
        let status = answer[0].as_u64().unwrap() as u16;
        let text = answer[1].as_str().unwrap_or_default();
        (status, serde_json::from_str(text).unwrap_or(Value::Null))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A file from the core's test data (real NFD snapshots).
pub fn sample(name: &str) -> PathBuf {
    workspace_root()
        .join("shared/core/tests/data/samples")
        .join(name)
}
