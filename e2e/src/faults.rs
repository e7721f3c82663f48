//! A hostile registry on loopback: an HTTP/1.1 server that asks a rule what to do with each
//! request, and either forwards it to a real registry or answers itself, in ways no honest
//! registry does (credentials challenged towards another host, redirects and `Link` pages
//! elsewhere, huge listings, internal error pages, reset connections, writes applied whose
//! answer never comes, reads answered late).
//!
//! It stands in only for a registry that misbehaves; everything else in the tests is a real
//! registry. A second one without an upstream is the "other host" a hostile registry points
//! at: it records every request that reaches it, so a test can show none ever did.
//!
//! Each connection carries one request (`Connection: close`), which keeps the server small and
//! makes every request visible. Std-only, like the rest of the test bed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A request as the server saw it.
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

/// What the server does with a request.
pub enum Action {
    /// Pass it to the upstream registry and its answer back.
    Forward,
    /// Answer without asking the registry.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Wait, then forward: a slow registry, or a write that arrives late.
    Delay(Duration),
    /// Forward at once, then hold the answer back: the registry did the work (a read of what it
    /// held then) long before the client hears of it.
    DelayAnswer(Duration),
    /// Reset the connection (TCP RST) without answering.
    Reset,
    /// Forward (the registry applies a write), then reset the connection instead of answering:
    /// the write happened, the client cannot know.
    ApplyThenReset,
}

impl Action {
    /// A distribution-style error answer.
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

    /// An answer with headers and a body.
    pub fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Self {
        Action::Respond {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.into(),
        }
    }
}

type Rule = dyn FnMut(&Head, &[u8]) -> Action + Send;

/// The server: in front of a registry (`upstream`) or on its own.
pub struct Proxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Head>>>,
    most_open: Arc<AtomicUsize>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Proxy {
    /// A server on 127.0.0.1 in front of `upstream` (`host:port`) that asks `rule` what to do
    /// with each request.
    pub fn start(
        upstream: &str,
        rule: impl FnMut(&Head, &[u8]) -> Action + Send + 'static,
    ) -> Proxy {
        Self::start_on(Ipv4Addr::LOCALHOST.into(), Some(upstream), rule)
    }

    /// A server on `ip` (any of 127.0.0.0/8 is a host of its own to a client) with no
    /// registry behind it: [`Action::Forward`] hangs up.
    pub fn standalone(
        ip: Ipv4Addr,
        rule: impl FnMut(&Head, &[u8]) -> Action + Send + 'static,
    ) -> Proxy {
        Self::start_on(ip.into(), None, rule)
    }

    /// A standalone server that answers every request with 200 and an empty JSON object, and
    /// records it: the other host a hostile registry sends clients to.
    pub fn recorder(ip: Ipv4Addr) -> Proxy {
        Self::standalone(ip, |_, _| {
            Action::respond(200, &[("Content-Type", "application/json")], "{}")
        })
    }

    fn start_on(
        ip: IpAddr,
        upstream: Option<&str>,
        rule: impl FnMut(&Head, &[u8]) -> Action + Send + 'static,
    ) -> Proxy {
        let listener = TcpListener::bind((ip, 0)).expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(AtomicUsize::new(0));
        let most_open = Arc::new(AtomicUsize::new(0));
        let rule: Arc<Mutex<Box<Rule>>> = Arc::new(Mutex::new(Box::new(rule)));
        let upstream = upstream.map(str::to_owned);
        let accept = {
            let (stop, seen, open, most_open) =
                (stop.clone(), seen.clone(), open.clone(), most_open.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    most_open.fetch_max(now, Ordering::SeqCst);
                    let (rule, seen, upstream, open) =
                        (rule.clone(), seen.clone(), upstream.clone(), open.clone());
                    thread::spawn(move || {
                        let _ = serve(stream, upstream.as_deref(), &rule, &seen);
                        open.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            })
        };
        Proxy {
            addr,
            stop,
            seen,
            most_open,
            accept: Some(accept),
        }
    }

    /// `IP:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://IP:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order of arrival.
    pub fn seen(&self) -> Vec<Head> {
        self.seen.lock().unwrap().clone()
    }

    /// The most connections that were open at once.
    pub fn most_open(&self) -> usize {
        self.most_open.load(Ordering::SeqCst)
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
    upstream: Option<&str>,
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
    let mut hold_answer = None;
    let mut reset_after = false;
    match action {
        Action::Reset => return reset(client),
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
        Action::DelayAnswer(wait) => hold_answer = Some(wait),
        Action::ApplyThenReset => reset_after = true,
        Action::Forward => {}
    }
    let Some(mut server) = upstream.and_then(|u| TcpStream::connect(u).ok()) else {
        // No registry (standalone, or it is down): to the client, a dropped connection.
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
    if reset_after {
        return reset(client);
    }
    if let Some(wait) = hold_answer {
        thread::sleep(wait);
    }
    client.write_all(&response)?;
    client.flush()
}

/// Closes `stream` with a TCP RST (`SO_LINGER` of zero), as a crashed peer or a middlebox
/// does. std has no stable call for it; the C library's `setsockopt` is linked anyway.
fn reset(stream: TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        on: i32,
        seconds: i32,
    }
    extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const Linger, len: u32) -> i32;
    }
    // Linux's SOL_SOCKET and SO_LINGER.
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    let linger = Linger { on: 1, seconds: 0 };
    // SAFETY: a valid descriptor owned by `stream` and a correctly sized `struct linger`.
    let status = unsafe {
        setsockopt(
            stream.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &linger,
            std::mem::size_of::<Linger>() as u32,
        )
    };
    if status != 0 {
        return Err(std::io::Error::last_os_error());
    }
    drop(stream);
    Ok(())
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

/// What a hostile registry serves for one image: enough of the distribution API for a client to
/// resolve `repo:tag` and list its referrers, with each misbehaviour switched on by a field.
/// Requests it does not know are answered 404 as a registry would.
#[derive(Clone, Default)]
pub struct Script {
    /// The repository, such as `demo/app`.
    pub repository: String,
    /// The subject's manifest bytes (its digest is computed).
    pub manifest: Vec<u8>,
    /// Answer every request without `Authorization` with 401 and this `WWW-Authenticate`.
    pub challenge: Option<String>,
    /// Redirect manifest and blob reads to this URL prefix (path kept).
    pub redirect_to: Option<String>,
    /// Referrers API pages: the first page's entries, and how many more pages follow, each
    /// pointing with `Link` at `next_page_base` (or at this registry when `None`).
    pub referrers: Vec<String>,
    pub extra_pages: usize,
    pub next_page_base: Option<String>,
    /// Bytes of padding (an annotation) in each referrers page.
    pub page_padding: usize,
    /// Answer referrers with this status and body, as an internal error page.
    pub error_page: Option<(u16, String)>,
}

impl Script {
    /// The subject's digest, `sha256:...`.
    pub fn digest(&self) -> String {
        crate::testbed::sha256_digest(&self.manifest)
    }

    /// A rule that plays this script.
    pub fn rule(self) -> impl FnMut(&Head, &[u8]) -> Action + Send + 'static {
        let digest = self.digest();
        let index = "application/vnd.oci.image.index.v1+json";
        let page = move |script: &Script, n: usize| -> Vec<u8> {
            let entries = if n == 0 {
                script.referrers.join(",")
            } else {
                String::new()
            };
            let padding = "x".repeat(script.page_padding);
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{index}","manifests":[{entries}],"annotations":{{"padding":"{padding}"}}}}"#
            )
            .into_bytes()
        };
        move |head, _| {
            let script = &self;
            if let Some(challenge) = &script.challenge {
                if head.header("authorization").is_none() {
                    return Action::respond(
                        401,
                        &[("WWW-Authenticate", challenge.as_str())],
                        r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                    );
                }
            }
            let prefix = format!("/v2/{}/", script.repository);
            let Some(rest) = head.path().strip_prefix(&prefix) else {
                return Action::status(404);
            };
            if let Some(to) = &script.redirect_to {
                if rest.starts_with("manifests/") || rest.starts_with("blobs/") {
                    let location = format!("{to}{}", head.path());
                    return Action::respond(307, &[("Location", location.as_str())], "");
                }
            }
            if rest == "manifests/v1" || rest == format!("manifests/{digest}") {
                return Action::respond(
                    200,
                    &[
                        ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                        ("Docker-Content-Digest", digest.as_str()),
                    ],
                    script.manifest.clone(),
                );
            }
            if let Some(subject) = rest.strip_prefix("referrers/") {
                // A registry with the referrers API answers every subject, an empty list for
                // one nothing refers to (distribution-spec 1.1: never 404).
                if subject != digest {
                    let empty =
                        format!(r#"{{"schemaVersion":2,"mediaType":"{index}","manifests":[]}}"#);
                    return Action::respond(200, &[("Content-Type", index)], empty);
                }
                if let Some((status, body)) = &script.error_page {
                    return Action::respond(
                        *status,
                        &[("Content-Type", "text/html")],
                        body.clone(),
                    );
                }
                let n: usize = head
                    .query()
                    .split('&')
                    .find_map(|p| p.strip_prefix("page="))
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                let body = page(script, n);
                if n < script.extra_pages {
                    let base = script.next_page_base.clone().unwrap_or_default();
                    let link = format!(
                        "<{base}/v2/{}/referrers/{digest}?page={}>; rel=\"next\"",
                        script.repository,
                        n + 1
                    );
                    return Action::respond(
                        200,
                        &[("Content-Type", index), ("Link", link.as_str())],
                        body,
                    );
                }
                return Action::respond(200, &[("Content-Type", index)], body);
            }
            Action::status(404)
        }
    }
}
