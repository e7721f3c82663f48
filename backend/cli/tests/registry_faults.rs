//! Registries that fail: stopped mid-attach, answering 5xx or 429, too slow for the timeouts,
//! refusing to list tags.
//! A proxy on loopback stands between nodefit and a real distribution 2.8 and injects the
//! faults; the registry's own storage is then checked for a whole fallback index.

mod registry_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use registry_support::*;

fn proxied_args(proxy: &Proxy, reference: &str) -> Vec<String> {
    vec![
        "--image".into(),
        format!("{}/{reference}", proxy.host()),
        "--plain-http".into(),
    ]
}

/// The registry dies as nodefit writes the fallback index: the write is not sent again blindly
/// (a late copy could overwrite other writers), the index is read again to start over, and
/// that read fails after its retries, named; the index in storage is the previous one, whole.
#[test]
fn registry_stopped_mid_attach_leaves_the_index_whole() {
    let registry = Arc::new(Mutex::new(Registry::distribution()));
    let (host, image) = {
        let r = registry.lock().unwrap();
        (r.host(), seed_image(&r, "demo/app:v1"))
    };
    let dir = TempDir::new("stopped");
    let first = write_spec(dir.path(), "first.yaml", "first");
    let second = write_spec(dir.path(), "second.yaml", "second");
    let a1 = {
        let r = registry.lock().unwrap();
        printed_digest(
            &nodefit(&["attach"])
                .args(&image_args(&r, "demo/app:v1"))
                .arg(&first)
                .run(),
        )
    };
    let before = fallback_index(&registry.lock().unwrap(), "demo/app", &image).unwrap();

    let tag_put = format!(
        "/v2/demo/app/manifests/sha256-{}",
        &image["sha256:".len()..]
    );
    let victim = registry.clone();
    let proxy = Proxy::start(&host, move |head, _| {
        if head.method == "PUT" && head.path() == tag_put {
            victim.lock().unwrap().stop();
        }
        Action::Forward
    });
    let started = Instant::now();
    let out = nodefit(&["attach", "--request-timeout", "2"])
        .args(&proxied_args(&proxy, "demo/app:v1"))
        .arg(&second)
        .run();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(started.elapsed() < Duration::from_secs(15), "{out}");
    let expected = format!(
        "GET http://{}/v2/demo/app/manifests/sha256-{} (registry {}, repository demo/app)",
        proxy.host(),
        &image["sha256:".len()..],
        proxy.host()
    );
    assert!(out.stderr.contains(&expected), "{out}");
    assert!(out.stderr.contains("[gave up after 4 attempts]"), "{out}");
    let tag_puts = proxy
        .seen()
        .iter()
        .filter(|h| h.method == "PUT" && h.path().contains("/manifests/sha256-"))
        .count();
    assert_eq!(
        tag_puts, 1,
        "a write is sent once; a new round starts from a new read"
    );

    registry.lock().unwrap().restart();
    let r = registry.lock().unwrap();
    assert_eq!(fallback_index(&r, "demo/app", &image).unwrap(), before);
    assert_eq!(discovered(&r, "demo/app:v1"), vec![a1.clone()]);

    // Running the attach again completes it.
    let again = nodefit(&["attach"])
        .args(&image_args(&r, "demo/app:v1"))
        .arg(&second)
        .run();
    again.assert_success();
    assert_eq!(discovered(&r, "demo/app:v1"), [printed_digest(&again), a1]);
}

/// 503s and a 429 with Retry-After on the way: every request is retried with backoff and the
/// attach succeeds.
#[test]
fn transient_errors_are_retried() {
    let registry = Registry::distribution();
    let image = seed_image(&registry, "demo/app:v1");
    let failures = Mutex::new(BTreeMap::<String, u32>::new());
    let proxy = Proxy::start(&registry.host(), move |head, _| {
        let mut failures = failures.lock().unwrap();
        let count = failures.entry(head.line()).or_insert(0);
        *count += 1;
        match *count {
            // The subject's first answer asks for a one-second pause.
            1 if head.method == "HEAD" && head.path().ends_with("/manifests/v1") => {
                Action::Respond {
                    status: 429,
                    headers: vec![("Retry-After".into(), "1".into())],
                    body: Vec::new(),
                }
            }
            1 | 2 => Action::status(503),
            _ => Action::Forward,
        }
    });
    let dir = TempDir::new("retried");
    let spec = write_spec(dir.path(), "spec.yaml", "retried");
    let started = Instant::now();
    let out = nodefit(&["attach", "-v"])
        .args(&proxied_args(&proxy, "demo/app:v1"))
        .arg(&spec)
        .run();
    out.assert_success();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert!(out.stderr.contains("retrying in 1000 ms"), "{out}");
    assert!(out.stderr.contains("-> 503"), "{out}");
    let artifact = printed_digest(&out);
    assert_eq!(discovered(&registry, "demo/app:v1"), vec![artifact.clone()]);
    let (_, index) = fallback_index(&registry, "demo/app", &image).unwrap();
    assert_eq!(index_digests(&index), [artifact]);
}

/// A registry that keeps failing the index write: a clear error after the retries, and the
/// index in storage untouched.
#[test]
fn persistent_server_errors_fail_cleanly() {
    let registry = Registry::distribution();
    let image = seed_image(&registry, "demo/app:v1");
    let dir = TempDir::new("persistent");
    let first = write_spec(dir.path(), "first.yaml", "first");
    nodefit(&["attach"])
        .args(&image_args(&registry, "demo/app:v1"))
        .arg(&first)
        .run()
        .assert_success();
    let before = fallback_index(&registry, "demo/app", &image).unwrap();

    let proxy = Proxy::start(&registry.host(), |head, _| {
        if head.method == "PUT" && head.path().contains("/manifests/sha256-") {
            Action::status(500)
        } else {
            Action::Forward
        }
    });
    let second = write_spec(dir.path(), "second.yaml", "second");
    let out = nodefit(&["attach"])
        .args(&proxied_args(&proxy, "demo/app:v1"))
        .arg(&second)
        .run();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "(registry {}, repository demo/app): HTTP 500 Internal Server Error: UNAVAILABLE: \
             injected 500 [gave up after 4 attempts]",
            proxy.host()
        )),
        "{out}"
    );
    assert!(out.stderr.contains("PUT http://"), "{out}");
    assert_eq!(
        fallback_index(&registry, "demo/app", &image).unwrap(),
        before
    );
}

/// Too slow for --request-timeout: each attempt is cut off, retried, and the error says which
/// limit was hit; slow but within the limit succeeds.
#[test]
fn slow_registries_meet_the_timeouts() {
    let registry = Registry::distribution();
    seed_image(&registry, "demo/app:v1");
    let delay = Arc::new(Mutex::new(Duration::from_secs(3)));
    let wait = delay.clone();
    let proxy = Proxy::start(&registry.host(), move |_, _| {
        Action::Delay(*wait.lock().unwrap())
    });

    let started = Instant::now();
    let out = nodefit(&["discover", "--request-timeout", "0.5"])
        .args(&proxied_args(&proxy, "demo/app:v1"))
        .run();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(
        out.stderr
            .contains("no answer within 500 ms (--request-timeout)"),
        "{out}"
    );
    assert!(out.stderr.contains("[gave up after 4 attempts]"), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "HEAD http://{}/v2/demo/app/manifests/v1",
            proxy.host()
        )),
        "{out}"
    );
    // Four cut-off attempts and three backoffs (0.1-0.2, 0.2-0.4, 0.4-0.8 s).
    assert!(
        took >= Duration::from_millis(2_500) && took < Duration::from_secs(8),
        "{took:?}"
    );

    // The overall --timeout wins over retries.
    let started = Instant::now();
    let out = nodefit(&["discover", "--request-timeout", "10", "--timeout", "1.5"])
        .args(&proxied_args(&proxy, "demo/app:v1"))
        .run();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(out.stderr.contains("overall timeout (--timeout)"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(3), "{out}");

    *delay.lock().unwrap() = Duration::from_millis(300);
    let out = nodefit(&["discover", "--request-timeout", "2"])
        .args(&proxied_args(&proxy, "demo/app:v1"))
        .run();
    out.assert_success();
}

/// A hung registry (SIGSTOP: connections accepted, never answered) is given up on at the
/// overall deadline.
#[test]
fn a_hung_registry_is_given_up_on() {
    let registry = Registry::distribution();
    seed_image(&registry, "demo/app:v1");
    registry.pause();
    let started = Instant::now();
    let out = nodefit(&["fetch", "--timeout", "2"])
        .args(&image_args(&registry, "demo/app:v1"))
        .run();
    registry.resume();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(started.elapsed() < Duration::from_secs(4), "{out}");
    assert!(out.stderr.contains("overall timeout (--timeout)"), "{out}");
    assert!(
        out.stderr
            .contains(&format!("registry {}", registry.host())),
        "{out}"
    );
}

/// A registry that serves images but refuses to list tags (as some do for pull-only tokens):
/// `discover` looks each `.sig` tag up instead, and still shows classic signatures beside the
/// bundles it finds among the referrers.
#[test]
fn signatures_are_found_without_the_tag_list() {
    let registry = Registry::distribution();
    seed_image(&registry, "demo/app:v1");
    let dir = TempDir::new("no-tag-list");
    let key = dir.path().join("signer.key");
    nodefit(&["keygen", "--output-key"])
        .arg(&key)
        .run()
        .assert_success();
    let attach = |name: &str, format: Option<&str>| {
        let spec = write_spec(dir.path(), name, name);
        let mut command = nodefit(&["attach"])
            .args(&image_args(&registry, "demo/app:v1"))
            .arg(&spec);
        if let Some(format) = format {
            command = command
                .args(&["--sign", "--format", format, "--key"])
                .arg(&key);
        }
        let out = command.run();
        out.assert_success();
        printed_digest(&out)
    };
    let signed = attach("signed.yaml", Some("classic"));
    let bundled = attach("bundled.yaml", Some("bundle"));
    let unsigned = attach("unsigned.yaml", None);
    let sig_tag = |digest: &str| format!("{}.sig", digest.replace(':', "-"));

    let proxy = Proxy::start(&registry.host(), |head, _| {
        if head.path().ends_with("/tags/list") {
            Action::status(403)
        } else {
            Action::Forward
        }
    });
    let out = nodefit(&["discover", "-v"])
        .args(&proxied_args(&proxy, "demo/app:v1"))
        .run();
    out.assert_success();
    assert!(
        out.stdout.contains(&format!(
            "└── classic {} layer 1: not verified",
            sig_tag(&signed)
        )),
        "{out}"
    );
    let bundle_line = out
        .stdout
        .lines()
        .skip_while(|l| !l.contains(&bundled))
        .nth(1)
        .unwrap_or_default();
    assert!(
        bundle_line.contains("bundle sha256:")
            && bundle_line.contains(": not verified: no trusted key or certificate was given"),
        "{out}"
    );
    assert!(out.stdout.contains(&unsigned), "{out}");
    assert!(!out.stdout.contains(&sig_tag(&unsigned)), "{out}");
    for digest in [&signed, &bundled, &unsigned] {
        let path = format!("/v2/demo/app/manifests/{}", sig_tag(digest));
        assert!(
            request_lines(&out.stderr)
                .iter()
                .any(|l| l.starts_with("nodefit: HEAD ") && l.contains(&path)),
            "each .sig tag looked up: {out}"
        );
    }
}

// ---- A hostile registry: the fault-injecting registry of the test bed plays it, and a second
// listener on another loopback address is the host it tries to send nodefit to. ----

/// A small image manifest for a hostile registry to serve as `demo/app:v1`.
pub const SUBJECT: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

fn script() -> Script {
    Script {
        repository: "demo/app".into(),
        manifest: SUBJECT.as_bytes().to_vec(),
        ..Script::default()
    }
}

/// `n` compatibility artifact descriptors, as a referrers page lists them.
fn artifacts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{i:064x}","size":600,"artifactType":"{ARTIFACT_TYPE}","annotations":{{"org.opencontainers.image.created":"2025-01-01T00:00:{:02}Z"}}}}"#,
                i % 60
            )
        })
        .collect()
}

/// The other host: 127.0.0.2 is not the registry's address, to nodefit another host.
fn elsewhere() -> Proxy {
    Proxy::recorder(std::net::Ipv4Addr::new(127, 0, 0, 2))
}

#[track_caller]
fn assert_untouched(other: &Proxy, out: &Output) {
    assert!(
        other.seen().is_empty(),
        "requests reached the other host: {:?}\n{out}",
        other.seen()
    );
}

/// Bearer challenges that name a token realm on another host, on another port of the
/// registry's host over plain HTTP, or over plain HTTP at all: nodefit sends nothing there,
/// neither credentials nor an anonymous request, and says why.
#[test]
fn token_realms_elsewhere_get_nothing() {
    let other = elsewhere();
    let same_host_other_port = Proxy::recorder(std::net::Ipv4Addr::LOCALHOST);
    for (realm, why) in [
        (format!("{}/token", other.url()), "is plain HTTP"),
        (format!("https://{}/token", other.host()), "on another host"),
        (
            format!("{}/token", same_host_other_port.url()),
            "is plain HTTP",
        ),
    ] {
        let hostile = Proxy::standalone(
            std::net::Ipv4Addr::LOCALHOST,
            Script {
                challenge: Some(format!(r#"Bearer realm="{realm}",service="registry""#)),
                ..script()
            }
            .rule(),
        );
        for credentials in [true, false] {
            let mut command = nodefit(&["discover"]).args(&proxied_args(&hostile, "demo/app:v1"));
            if credentials {
                command = command
                    .args(&["--registry-username", "ci", "--registry-password-stdin"])
                    .stdin("realm-secret-4711\n");
            }
            let out = command.run();
            assert_eq!(out.status.code(), Some(3), "{out}");
            assert!(out.stderr.contains("token realm"), "{out}");
            assert!(out.stderr.contains(why), "{realm}: {out}");
            assert!(!out.stderr.contains("realm-secret-4711"), "{out}");
            assert_untouched(&other, &out);
            assert_untouched(&same_host_other_port, &out);
        }
    }
}

/// Redirects of manifests and blobs and `Link` next pages that point at another origin are
/// refused before anything is sent there.
#[test]
fn redirects_and_next_pages_stay_on_the_registry() {
    let other = elsewhere();
    let redirecting = Proxy::standalone(
        std::net::Ipv4Addr::LOCALHOST,
        Script {
            redirect_to: Some(other.url()),
            ..script()
        }
        .rule(),
    );
    let out = nodefit(&["discover"])
        .args(&proxied_args(&redirecting, "demo/app:v1"))
        .run();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(out.stderr.contains("outside its origin"), "{out}");
    assert_untouched(&other, &out);

    let paging = Proxy::standalone(
        std::net::Ipv4Addr::LOCALHOST,
        Script {
            referrers: artifacts(2),
            extra_pages: 3,
            next_page_base: Some(other.url()),
            ..script()
        }
        .rule(),
    );
    let out = nodefit(&["fetch"])
        .args(&proxied_args(&paging, "demo/app:v1"))
        .run();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(
        out.stderr
            .contains("Link header points outside the registry"),
        "{out}"
    );
    assert_untouched(&other, &out);
}

/// 3,000 artifacts: listed whole with a bounded number of requests and connections (the
/// signatures of the newest 50 looked up, 8 requests at most in flight); endless 4 MB pages:
/// refused at the listing's byte budget.
#[test]
fn floods_of_referrers_are_bounded() {
    let flood = Proxy::standalone(
        std::net::Ipv4Addr::LOCALHOST,
        Script {
            referrers: artifacts(3000),
            ..script()
        }
        .rule(),
    );
    let out = nodefit(&["discover", "--output", "json"])
        .args(&proxied_args(&flood, "demo/app:v1"))
        .run();
    out.assert_success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["referrers"].as_array().unwrap().len(), 3000);
    assert_eq!(json["signaturesLookedUp"], 50);
    // Per artifact looked up: its classic `.sig` tag and its referrers (bundles, notation).
    let requests = flood.seen().len();
    assert!(requests <= 2 * 50 + 10, "{requests} requests");
    // 8 requests in flight at most; the registry's side counts a connection until its thread
    // has closed it, which can lag the client's next request by a moment.
    assert!(flood.most_open() <= 10, "{} at once", flood.most_open());

    let pages = Proxy::standalone(
        std::net::Ipv4Addr::LOCALHOST,
        Script {
            referrers: artifacts(1),
            extra_pages: 1000,
            page_padding: 4_000_000,
            ..script()
        }
        .rule(),
    );
    let out = nodefit(&["fetch"])
        .args(&proxied_args(&pages, "demo/app:v1"))
        .run();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(out.stderr.contains("MAX_LISTING_BYTES"), "{out}");
    let fetched = pages
        .seen()
        .iter()
        .filter(|h| h.path().contains("/referrers/"))
        .count();
    assert!(fetched <= 5, "{fetched} pages of 4 MB read");
}

/// A blob is read up to exactly the size its descriptor declares: a registry that sends more
/// is cut off and refused.
#[test]
fn blobs_are_read_to_their_declared_size() {
    let registry = Registry::distribution();
    seed_image(&registry, "demo/app:v1");
    let dir = TempDir::new("declared");
    let spec = write_spec(dir.path(), "spec.yaml", "declared");
    nodefit(&["attach"])
        .args(&image_args(&registry, "demo/app:v1"))
        .arg(&spec)
        .run()
        .assert_success();
    let layer = sha256_digest(&std::fs::read(&spec).unwrap());
    let mut padded = std::fs::read(&spec).unwrap();
    padded.extend(std::iter::repeat_n(b'#', 1 << 20));
    let proxy = Proxy::start(&registry.host(), move |head, _| {
        if head.path().ends_with(&format!("/blobs/{layer}")) {
            Action::respond(
                200,
                &[("Content-Type", "application/octet-stream")],
                padded.clone(),
            )
        } else {
            Action::Forward
        }
    });
    let out = nodefit(&["fetch"])
        .args(&proxied_args(&proxy, "demo/app:v1"))
        .run();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(out.stderr.contains("larger than"), "{out}");
}
