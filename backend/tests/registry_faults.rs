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

/// The registry dies as nodefit writes the fallback index: nodefit retries, then fails naming
/// the request, and the index in storage is the previous one, whole.
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
        "PUT http://{}/v2/demo/app/manifests/sha256-{} (registry {}, repository demo/app)",
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
    assert_eq!(tag_puts, 4, "one attempt and three retries");

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
/// `discover` looks each `.sig` tag up instead, and still shows the signatures.
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
    let attach = |name: &str, sign: bool| {
        let spec = write_spec(dir.path(), name, name);
        let mut command = nodefit(&["attach"])
            .args(&image_args(&registry, "demo/app:v1"))
            .arg(&spec);
        if sign {
            command = command.args(&["--sign", "--key"]).arg(&key);
        }
        let out = command.run();
        out.assert_success();
        printed_digest(&out)
    };
    let signed = attach("signed.yaml", true);
    let unsigned = attach("unsigned.yaml", false);
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
        out.stdout
            .contains(&format!("└── {}  1 cosign signature", sig_tag(&signed))),
        "{out}"
    );
    assert!(out.stdout.contains(&unsigned), "{out}");
    assert!(!out.stdout.contains(&sig_tag(&unsigned)), "{out}");
    for digest in [&signed, &unsigned] {
        let path = format!("/v2/demo/app/manifests/{}", sig_tag(digest));
        assert!(
            request_lines(&out.stderr)
                .iter()
                .any(|l| l.starts_with("nodefit: HEAD ") && l.contains(&path)),
            "each .sig tag looked up: {out}"
        );
    }
}
