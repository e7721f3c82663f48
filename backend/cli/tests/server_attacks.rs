//! The attacks of issue 12, sent as an outsider, a viewer and an author would send them, to a
//! real `nodefit serve` confined to 4 GiB of address space and 1,024 descriptors. For each: the
//! server answers with a 4xx or a bounded result, keeps answering `/healthz` in under a second
//! throughout, stays under 1 GiB of resident memory, and burns no CPU once it has answered.

mod server_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};
use server_support::*;

/// What the issue asks of `/healthz` while an attack runs.
const HEALTH_WITHIN: Duration = Duration::from_secs(1);
/// How long the server must stay idle after answering.
const IDLE_WINDOW: Duration = Duration::from_secs(2);

/// One attack at a time: `/healthz` timings mean nothing while other servers of this binary
/// load the same two cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn confined() -> (Server, TempDir) {
    let (store, dir) = sqlite();
    (Server::start_confined(&store, Options::default()), dir)
}

fn create_spec(server: &Server, name: &str, content: &str) -> i64 {
    let r = server.json(
        "POST",
        "/api/v1/specs",
        ADMIN,
        &json!({"name": name, "content": content}),
    );
    r.expect(201);
    r.json()["id"].as_i64().unwrap()
}

fn save_spec(server: &Server, id: i64, content: &str) {
    server
        .json(
            "PUT",
            &format!("/api/v1/specs/{id}"),
            ADMIN,
            &json!({"content": content}),
        )
        .expect(200);
}

fn upload_sample(server: &Server, tag: &str) {
    server
        .upload("", ADMIN, "application/json", &unique_snapshot(tag))
        .expect(201);
}

/// A spec with one rule whose `varsTemplate` is `template`, matching every node with cpuid flags.
fn templated_spec(template: &str) -> String {
    format!(
        "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: bomb\n    varsTemplate: |\n      {template}\n    matchFeatures:\n    - feature: cpu.cpuid\n      matchName: {{op: Exists}}\n"
    )
}

/// A spec whose one expression has these `InRegexp` patterns.
fn regex_spec(patterns: &[String]) -> String {
    let values: Vec<String> = patterns.iter().map(|p| format!("'{p}'")).collect();
    format!(
        "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: regexes\n    matchFeatures:\n    - feature: system.name\n      matchExpressions:\n        nodename: {{op: InRegexp, value: [{}]}}\n",
        values.join(", ")
    )
}

/// Checks the server after an attack: healthy throughout, bounded memory, idle now.
#[track_caller]
fn assert_survived(server: &Server, health: server_support::confine::HealthWatch) {
    health.assert_answered_within(HEALTH_WITHIN);
    server.assert_peak_rss_bounded();
    server.assert_idle(IDLE_WINDOW);
    server.get("/healthz", ADMIN).expect(200);
}

/// Sends one request on a kept-alive connection and reads its answer (status, body).
fn keep_alive_request(stream: &mut BufReader<TcpStream>, head: &str) -> (u16, Vec<u8>) {
    stream.get_mut().write_all(head.as_bytes()).unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    (status, body)
}

/// 1. Anyone, without a token: made-up methods must not grow the metrics without end.
#[test]
fn made_up_methods_do_not_grow_the_metrics() {
    let _serial = one_at_a_time();
    let (server, _dir) = confined();
    let health = server.watch_health();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let addr = server.addr;
            thread::spawn(move || {
                let mut stream = BufReader::new(TcpStream::connect(addr).unwrap());
                for i in 0..2_500 {
                    let method: String = format!("X{w}{i}")
                        .chars()
                        .chain(std::iter::repeat('M'))
                        .take(2_000)
                        .collect();
                    let (status, _) = keep_alive_request(
                        &mut stream,
                        &format!("{method} /api/v1/specs HTTP/1.1\r\nHost: x\r\n\r\n"),
                    );
                    assert_eq!(status, 405);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let metrics = server.request("GET", "/metrics", None, None);
    metrics.expect(200);
    let text = metrics.text();
    assert!(
        text.len() < 64 * 1024,
        "the metrics grew to {} bytes",
        text.len()
    );
    assert!(
        text.contains("method=\"other\",route=\"/api/v1/specs\",status=\"405\"} 20000"),
        "every made-up method counted under one series:\n{text}"
    );
    assert!(!text.contains("MMMM"), "a method name reached the metrics");
    assert_survived(&server, health);
}

/// 2. Viewer: a version diff of two 1 MiB versions with no line in common, asked twice at once.
#[test]
fn a_worst_case_diff_is_bounded_in_time() {
    let _serial = one_at_a_time();
    let (server, _dir) = confined();
    let lines = 524_000;
    let id = create_spec(&server, "diff-bomb", &"a\n".repeat(lines));
    save_spec(&server, id, &"b\n".repeat(lines));
    let viewer = server.token("viewer");
    let health = server.watch_health();
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (addr, viewer) = (server.addr, viewer.clone());
            thread::spawn(move || {
                http(
                    addr,
                    "GET",
                    &format!("/api/v1/specs/{id}/diff"),
                    &[("Authorization", &format!("Bearer {viewer}"))],
                    None,
                )
            })
        })
        .collect();
    for c in callers {
        let r = c.join().unwrap();
        r.expect(200);
        let diff = r.json();
        // Past the diff's budgets the answer is coarser and cut short, never wrong: it starts by
        // removing the old lines, and holds at most 20,000 lines.
        assert_eq!(diff["truncated"], true);
        let hunks = diff["hunks"].as_array().unwrap();
        let kept: usize = hunks
            .iter()
            .map(|h| h["lines"].as_array().unwrap().len())
            .sum();
        assert!(kept <= 20_000, "{kept} lines");
        assert_eq!(
            hunks[0]["lines"][0],
            json!({"kind": "removed", "text": "a"})
        );
        assert!(diff["unified"]
            .as_str()
            .unwrap()
            .starts_with("--- diff-bomb@v1\n+++ diff-bomb@v2\n@@ -1,"));
    }
    assert_survived(&server, health);
}

/// 3. Viewer: `varsTemplate` bombs, one that writes gigabytes and one that loops for hours.
#[test]
fn template_bombs_stop_at_their_budgets() {
    let _serial = one_at_a_time();
    let (server, _dir) = confined();
    for i in 0..20 {
        upload_sample(&server, &format!("template-{i}"));
    }
    let viewer = server.token("viewer");
    let writes = templated_spec(&format!(
        "{{{{range .cpu.cpuid}}}}{{{{range $.cpu.cpuid}}}}{{{{range $.cpu.cpuid}}}}{}{{{{end}}}}{{{{end}}}}{{{{end}}}}",
        "x".repeat(3_000)
    ));
    let loops = templated_spec(
        "{{range .cpu.cpuid}}{{range $.cpu.cpuid}}{{range $.cpu.cpuid}}{{range $.cpu.cpuid}}{{range $.cpu.cpuid}}{{end}}{{end}}{{end}}{{end}}{{end}}",
    );
    for (spec, budget) in [(writes, "template-output"), (loops, "template-steps")] {
        let id = create_spec(&server, budget, &spec);
        let health = server.watch_health();
        let r = server.json(
            "POST",
            &format!("/api/v1/specs/{id}/evaluate"),
            &viewer,
            &json!({}),
        );
        r.expect(200);
        let matrix = r.json();
        assert_eq!(matrix["total"], 20);
        assert_eq!(matrix["errors"], 20, "{matrix}");
        let error = matrix["items"][0]["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("over the {budget} budget")),
            "{error}"
        );
        assert!(error.starts_with("line 6, column 7:"), "{error}");
        assert!(
            error.ends_with("(nodefit's budget: NFD would go on)"),
            "{error}"
        );
        assert_survived(&server, health);
    }
}

/// 3b. A fleet evaluation that would take minutes is stopped at the request's deadline: the
/// client gets a 408 that names the limit, and no core keeps burning.
#[test]
fn the_request_deadline_stops_a_long_evaluation() {
    let _serial = one_at_a_time();
    let (store, _dir) = sqlite();
    let config = TempDir::new("config");
    let file = config.path().join("server.toml");
    std::fs::write(&file, "request_timeout_secs = 2\n").unwrap();
    let server = Server::start_confined(
        &store,
        Options {
            args: vec!["--config", file.to_str().unwrap()],
            ..Options::default()
        },
    );
    for i in 0..200 {
        upload_sample(&server, &format!("deadline-{i}"));
    }
    // 1,000,000 template steps per node (about 40 ms): 200 nodes take far beyond 2 s. The
    // rule also reads each node's host name, which differs on every one, so that the fleet
    // cannot evaluate them as one group.
    let loops = templated_spec(
        "{{range .cpu.cpuid}}{{range $.cpu.cpuid}}{{range $.cpu.cpuid}}{{range $.cpu.cpuid}}{{range $.cpu.cpuid}}{{end}}{{end}}{{end}}{{end}}{{end}}",
    ) + "    - feature: system.name\n      matchName: {op: Exists}\n";
    let id = create_spec(&server, "slow", &loops);
    let health = server.watch_health();
    let r = server.json(
        "POST",
        &format!("/api/v1/specs/{id}/evaluate"),
        ADMIN,
        &json!({}),
    );
    let error = r.expect_error(408, "request_timeout");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("request_timeout_secs"),
        "{error}"
    );
    assert_survived(&server, health);
}

/// 4. Viewer: `InRegexp` patterns that each compile to megabytes.
#[test]
fn regex_compile_bombs_are_refused_within_the_spec_budget() {
    let _serial = one_at_a_time();
    let (server, _dir) = confined();
    upload_sample(&server, "regex");
    let viewer = server.token("viewer");
    let pattern = |i: usize| format!("[\\w\\pN]{{1000}}{i}");
    let hundred: Vec<String> = (0..100).map(pattern).collect();
    let lint_id = create_spec(&server, "regex-lint", &regex_spec(&hundred));
    let three_hundred: Vec<String> = (0..300).map(pattern).collect();
    let eval_id = create_spec(&server, "regex-eval", &regex_spec(&three_hundred));
    let health = server.watch_health();

    let r = server.json(
        "POST",
        &format!("/api/v1/specs/{lint_id}/lint"),
        &viewer,
        &json!({}),
    );
    r.expect(200);
    let diagnostics = r.json()["diagnostics"].clone();
    let over: Vec<&Value> = diagnostics
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "over-budget")
        .collect();
    assert_eq!(over.len(), 100, "every pattern refused: {diagnostics}");
    assert!(over[0]["message"]
        .as_str()
        .unwrap()
        .contains("regex-pattern budget"));
    assert_eq!(over[0]["line"], 8);

    let r = server.json(
        "POST",
        &format!("/api/v1/specs/{eval_id}/evaluate"),
        &viewer,
        &json!({}),
    );
    let error = r.expect_error(422, "over_budget");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("line 8, column"),
        "{error}"
    );
    assert_survived(&server, health);
}

/// The 860 KB spec of the issue: one 400 KB anchored scalar referenced 150,000 times.
fn alias_bomb_spec() -> String {
    let mut spec = format!(
        "version: v1alpha1\ncompatibilities:\n- description: &a {}\n  rules: []\n  tag: [",
        "x".repeat(400_000)
    );
    spec.push_str(&"*a,".repeat(150_000));
    spec.push_str("*a]\n");
    spec
}

/// 5. Author: YAML alias byte bombs, in a spec and in a NodeFeature upload.
#[test]
fn alias_byte_bombs_are_refused_before_they_cost_memory() {
    let _serial = one_at_a_time();
    let (server, _dir) = confined();
    let spec = alias_bomb_spec();
    assert!(spec.len() > 800_000 && spec.len() < 1024 * 1024);
    let author = server.token("author");
    let health = server.watch_health();
    let r = server.json(
        "POST",
        "/api/v1/specs",
        &author,
        &json!({"name": "alias-bomb", "content": spec}),
    );
    r.expect(201);
    let id = r.json()["id"].as_i64().unwrap();
    let r = server.json(
        "POST",
        &format!("/api/v1/specs/{id}/lint"),
        &author,
        &json!({}),
    );
    r.expect(200);
    let diagnostics = r.json()["diagnostics"].clone();
    assert_eq!(diagnostics[0]["code"], "over-budget", "{diagnostics}");
    assert!(diagnostics[0]["message"]
        .as_str()
        .unwrap()
        .contains("yaml-alias-bytes"));

    let label = "y".repeat(2 * 1024 * 1024 - 40_000);
    let mut node_feature = format!(
        "apiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeature\nmetadata:\n  name: n\n  labels:\n    a: &big {label}\n"
    );
    for i in 0..1_500 {
        node_feature.push_str(&format!("    l{i}: *big\n"));
    }
    node_feature.push_str("spec:\n  features: {}\n");
    let r = server.upload("", &author, "application/yaml", node_feature.as_bytes());
    let error = r.expect_error(400, "parse_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("yaml-alias-bytes"),
        "{error}"
    );
    assert_survived(&server, health);
}

/// 6. Connections that send nothing, or half a head, cannot use up the descriptors.
#[test]
fn idle_and_half_open_connections_cannot_exhaust_descriptors() {
    let _serial = one_at_a_time();
    let (server, _dir) = confined();
    let health = server.watch_health();
    let mut held = Vec::new();
    for i in 0..1_100 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        if i % 2 == 0 {
            // Half a request head, never finished.
            let _ = s.write_all(b"GET /api/v1/specs HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        }
        held.push(s);
    }
    // The server keeps serving: the longest-idle connections made room.
    for _ in 0..20 {
        server.get("/api/v1/me", ADMIN).expect(200);
    }
    let metrics = server.request("GET", "/metrics", None, None).text();
    let open: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("nodefit_http_connections_open "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(open <= 512.0, "{open} connections open");
    assert!(
        !server.logs().contains("Too many open files"),
        "{}",
        server.logs()
    );
    drop(held);
    assert_survived(&server, health);
}

/// An idle kept-alive connection, or one that never finishes its head, is closed after the
/// header timeout.
#[test]
fn connections_that_send_nothing_are_closed_after_the_header_timeout() {
    let _serial = one_at_a_time();
    let (store, _dir) = sqlite();
    let config = TempDir::new("config");
    let file = config.path().join("server.toml");
    std::fs::write(&file, "header_timeout_secs = 1\n").unwrap();
    let server = Server::start_with(
        &store,
        Options {
            args: vec!["--config", file.to_str().unwrap()],
            ..Options::default()
        },
    );
    let mut silent = TcpStream::connect(server.addr).unwrap();
    let mut half = TcpStream::connect(server.addr).unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    for s in [&mut silent, &mut half] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut rest = Vec::new();
        // The server closes it (with or without a 408 first): the read ends, it does not time out.
        let read = s.read_to_end(&mut rest);
        assert!(read.is_ok(), "still open after 10 s: {read:?}");
    }
}

/// Security headers on every kind of answer; only a safe, short `x-request-id` is repeated.
#[test]
fn every_answer_carries_the_security_headers_and_a_safe_request_id() {
    let _serial = one_at_a_time();
    let (store, _dir) = sqlite();
    let ui = TempDir::new("ui");
    std::fs::write(
        ui.path().join("index.html"),
        "<!doctype html><title>t</title>",
    )
    .unwrap();
    let server = Server::start_with(
        &store,
        Options {
            args: vec!["--ui-dir", ui.path().to_str().unwrap()],
            ..Options::default()
        },
    );
    for (method, path, token) in [
        ("GET", "/", None),
        ("GET", "/specs/12", None),
        ("GET", "/missing.js", None),
        ("GET", "/api/v1/specs", Some(ADMIN)),
        ("GET", "/api/v1/specs", None),
        ("GET", "/api/v1/nothing", Some(ADMIN)),
        ("BREW", "/api/v1/specs", Some(ADMIN)),
        ("GET", "/healthz", None),
        ("GET", "/metrics", None),
    ] {
        let r = server.request(method, path, token, None);
        let csp = r
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{method} {path}: no CSP ({})", r.status));
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{csp}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }

    let kept = server_support::http(
        server.addr,
        "GET",
        "/healthz",
        &[("x-request-id", "deploy-42.a_b:c")],
        None,
    );
    assert_eq!(kept.header("x-request-id"), Some("deploy-42.a_b:c"));
    let long = "a".repeat(65);
    for bad in [long.as_str(), "forged\tline", "has space", "ünïcode"] {
        let r = server_support::http(
            server.addr,
            "GET",
            "/healthz",
            &[("x-request-id", bad)],
            None,
        );
        let id = r.header("x-request-id").unwrap();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 36, "a new UUID instead of {bad:?}: {id}");
    }
    assert!(!server.logs().contains(&long), "the long id was logged");
}
