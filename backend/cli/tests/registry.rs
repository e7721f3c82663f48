//! `nodefit attach`, `discover`, `fetch`, `detach` and `validate-node` against real registries
//! on loopback: Debian's distribution 2.8 (no referrers API; anonymous and with htpasswd basic
//! auth) and go-containerregistry with the referrers API; images seeded with umoci and skopeo;
//! the real `oras` on the other side of the interop checks.

mod registry_support;

use std::fs;

use registry_support::*;
use serde_json::{json, Value};

/// The whole life of a compatibility artifact on one registry, checked against what the
/// registry itself holds.
fn lifecycle(registry: &Registry) {
    let image = seed_image(registry, "demo/app:v1");
    let dir = TempDir::new("lifecycle");
    let first = write_spec(dir.path(), "first.yaml", "first");
    let second = write_spec(dir.path(), "second.yaml", "second");

    let out = nodefit(&["attach"])
        .args(&image_args(registry, "demo/app:v1"))
        .arg(&first)
        .login(registry)
        .run();
    out.assert_success();
    let a1 = printed_digest(&out);
    assert!(
        out.stdout
            .contains(&format!("Attached to {}/demo/app@{image}", registry.host())),
        "{out}"
    );

    // The artifact is exactly what NFD reads.
    let m = manifest(registry, "demo/app", &a1);
    assert_eq!(m["mediaType"], OCI_MANIFEST);
    assert_eq!(m["artifactType"], ARTIFACT_TYPE);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(m["config"]["size"], 2);
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    assert_eq!(m["layers"][0]["mediaType"], SPEC_MEDIA_TYPE);
    assert_eq!(
        m["layers"][0]["digest"],
        sha256_digest(&fs::read(&first).unwrap())
    );
    assert_eq!(m["subject"]["digest"], image.as_str());
    assert_eq!(m["subject"]["mediaType"], OCI_MANIFEST);
    let created = m["annotations"]["org.opencontainers.image.created"]
        .as_str()
        .unwrap();
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");

    // Listed the way this registry lists referrers.
    let index = fallback_index(registry, "demo/app", &image);
    if registry.kind().has_referrers_api() {
        assert!(
            index.is_none(),
            "a registry with the referrers API needs no fallback tag"
        );
    } else {
        let (_, index) = index.expect("fallback index written");
        assert_eq!(index["mediaType"], OCI_INDEX);
        assert_eq!(index_digests(&index), vec![a1.clone()]);
        assert_eq!(index["manifests"][0]["artifactType"], ARTIFACT_TYPE);
        assert_eq!(
            index["manifests"][0]["annotations"]["org.opencontainers.image.created"],
            created
        );
    }

    let out = nodefit(&["attach", "--output", "json", "-a", "team=hpc"])
        .args(&image_args(registry, "demo/app:v1"))
        .arg(&second)
        .login(registry)
        .run();
    out.assert_success();
    let attached: Value = serde_json::from_str(&out.stdout).unwrap();
    let a2 = attached["artifact"]["digest"].as_str().unwrap().to_owned();
    assert_eq!(attached["unchanged"], false);
    assert_eq!(attached["subject"]["digest"], image.as_str());
    assert_eq!(attached["artifact"]["annotations"]["team"], "hpc");
    assert_eq!(
        attached["referrers"],
        if registry.kind().has_referrers_api() {
            "referrers-api"
        } else {
            "tag-schema"
        }
    );

    // Newest first, like NFD picks.
    let listing = discover_json(registry, "demo/app:v1");
    assert_eq!(listing["digest"], image.as_str());
    assert_eq!(listing["nfdSelected"], a2.as_str());
    assert_eq!(
        discovered(registry, "demo/app:v1"),
        [a2.clone(), a1.clone()]
    );
    let tree = nodefit(&["discover"])
        .args(&image_args(registry, "demo/app:v1"))
        .login(registry)
        .run();
    tree.assert_success();
    assert!(tree.stdout.contains(&format!("{a2}  created")), "{tree}");
    assert!(tree.stdout.contains("<- used by NFD"), "{tree}");

    // fetch returns the newest spec, byte for byte.
    let fetched = dir.path().join("fetched.yaml");
    nodefit(&["fetch", "-o"])
        .arg(&fetched)
        .args(&image_args(registry, "demo/app:v1"))
        .login(registry)
        .run()
        .assert_success();
    assert_eq!(fs::read(&fetched).unwrap(), fs::read(&second).unwrap());
    let stdout = nodefit(&["fetch"])
        .args(&image_args(registry, &format!("demo/app@{image}")))
        .login(registry)
        .run();
    stdout.assert_success();
    assert_eq!(stdout.stdout, fs::read_to_string(&second).unwrap());

    // detach removes it from the listing and the registry; the other one becomes NFD's choice.
    nodefit(&["detach", "--artifact", &a2])
        .args(&image_args(registry, "demo/app:v1"))
        .login(registry)
        .run()
        .assert_success();
    assert_eq!(discovered(registry, "demo/app:v1"), vec![a1.clone()]);
    let gone = registry.http(
        "GET",
        &format!("/v2/demo/app/manifests/{a2}"),
        &[("Accept", OCI_MANIFEST)],
    );
    assert_eq!(gone.status, 404);
    if let Some((_, index)) = fallback_index(registry, "demo/app", &image) {
        assert_eq!(index_digests(&index), vec![a1.clone()]);
    }
    let fetched = nodefit(&["fetch"])
        .args(&image_args(registry, "demo/app:v1"))
        .login(registry)
        .run();
    assert_eq!(fetched.stdout, fs::read_to_string(&first).unwrap());

    // Detaching what is not an artifact of this image is refused, and changes nothing.
    let other = seed_multi_arch_image(registry, "demo/app:multi");
    let refused = nodefit(&["detach", "--artifact", &a1])
        .args(&image_args(registry, "demo/app:multi"))
        .login(registry)
        .run();
    refused.assert_failure();
    assert_eq!(refused.status.code(), Some(2), "{refused}");
    assert!(
        refused
            .stderr
            .contains(&format!("refers to {image}, not to")),
        "{refused}"
    );
    assert!(refused.stderr.contains(&other.index), "{refused}");
    assert_eq!(discovered(registry, "demo/app:v1"), [a1]);
}

#[test]
fn lifecycle_on_distribution_without_referrers_api() {
    lifecycle(&Registry::distribution());
}

#[test]
fn lifecycle_on_distribution_with_basic_auth() {
    lifecycle(&Registry::distribution_with_basic_auth(
        "nodefit",
        "s3cret-pw",
    ));
}

#[test]
fn lifecycle_on_a_registry_with_the_referrers_api() {
    lifecycle(&Registry::referrers());
}

/// validate-node answers exactly like `nodefit test` on the spec NFD would pick.
#[test]
fn validate_node_evaluates_the_newest_artifact() {
    let registry = Registry::distribution();
    seed_image(&registry, "demo/app:v1");
    let snapshot = data("samples/intel-spr-h100-cx6.features.json");
    let spec = data("examples/preferred-fallback.yaml");

    let missing = nodefit(&["validate-node", "--snapshot"])
        .arg(&snapshot)
        .args(&image_args(&registry, "demo/app:v1"))
        .run();
    missing.assert_failure();
    assert_eq!(missing.status.code(), Some(2), "{missing}");
    assert!(
        missing.stderr.contains("compatibility artifact not found"),
        "{missing}"
    );
    let fetch_missing = nodefit(&["fetch"])
        .args(&image_args(&registry, "demo/app:v1"))
        .run();
    assert_eq!(fetch_missing.status.code(), Some(2), "{fetch_missing}");
    assert!(
        fetch_missing
            .stderr
            .contains("compatibility artifact not found"),
        "{fetch_missing}"
    );

    let dir = TempDir::new("validate");
    let older = write_spec(dir.path(), "older.yaml", "older");
    nodefit(&["attach"])
        .args(&image_args(&registry, "demo/app:v1"))
        .arg(&older)
        .run()
        .assert_success();
    nodefit(&["attach"])
        .args(&image_args(&registry, "demo/app:v1"))
        .arg(&spec)
        .run()
        .assert_success();

    for extra in [&[][..], &["--tags", "fallback"][..]] {
        let expected = nodefit(&["test", "--output", "json", "--snapshot"])
            .arg(&snapshot)
            .arg(&spec)
            .args(extra)
            .run();
        let actual = nodefit(&["validate-node", "--output-json", "--snapshot"])
            .arg(&snapshot)
            .args(&image_args(&registry, "demo/app:v1"))
            .args(extra)
            .run();
        assert_eq!(
            actual.status.code(),
            expected.status.code(),
            "{actual}\n{expected}"
        );
        assert_eq!(actual.stdout, expected.stdout, "{actual}");
    }

    let tables = nodefit(&["validate-node", "--snapshot"])
        .arg(&snapshot)
        .args(&image_args(&registry, "demo/app:v1"))
        .run();
    tables.assert_success();
    assert!(tables.stdout.contains("COMPATIBILITY SET #1"), "{tables}");
    assert!(tables.stdout.contains("VERDICT"), "{tables}");

    // An artifact set as newer by its creation time wins, whatever the order of attaching.
    let pinned = write_spec(dir.path(), "pinned.yaml", "pinned-in-the-future");
    nodefit(&[
        "attach",
        "-a",
        "org.opencontainers.image.created=2999-01-01T00:00:00Z",
    ])
    .args(&image_args(&registry, "demo/app:v1"))
    .arg(&pinned)
    .run()
    .assert_success();
    nodefit(&["attach"])
        .args(&image_args(&registry, "demo/app:v1"))
        .arg(&spec)
        .run()
        .assert_success();
    let fetched = nodefit(&["fetch"])
        .args(&image_args(&registry, "demo/app:v1"))
        .run();
    assert_eq!(fetched.stdout, fs::read_to_string(&pinned).unwrap());
}

/// Index subjects: attach to the index or, with --platform, to one platform's manifest;
/// validate-node resolves like NFD (an index without --platform, the platform's manifest with).
#[test]
fn multi_platform_images() {
    let registry = Registry::distribution();
    let image = seed_multi_arch_image(&registry, "demo/multi:v1");
    let dir = TempDir::new("multi");
    let for_index = write_spec(dir.path(), "index.yaml", "for the index");
    let for_arm = write_spec(dir.path(), "arm.yaml", "for arm64");

    let attach = |spec: &std::path::Path, platform: &[&str]| {
        let out = nodefit(&["attach", "--output", "json"])
            .args(&image_args(&registry, "demo/multi:v1"))
            .args(platform)
            .arg(spec)
            .run();
        out.assert_success();
        serde_json::from_str::<Value>(&out.stdout).unwrap()
    };
    let on_index = attach(&for_index, &[]);
    assert_eq!(on_index["subject"]["digest"], image.index.as_str());
    assert_eq!(on_index["subject"]["mediaType"], OCI_INDEX);
    let on_arm = attach(&for_arm, &["--platform", "linux/arm64/v8"]);
    assert_eq!(on_arm["subject"]["digest"], image.arm64.as_str());
    assert_eq!(on_arm["subject"]["mediaType"], OCI_MANIFEST);

    let listed = |platform: &[&str]| {
        let out = nodefit(&["discover", "--output", "json"])
            .args(&image_args(&registry, "demo/multi:v1"))
            .args(platform)
            .run();
        out.assert_success();
        let json: Value = serde_json::from_str(&out.stdout).unwrap();
        (
            json["digest"].as_str().unwrap().to_owned(),
            json["referrers"].as_array().unwrap().len(),
        )
    };
    assert_eq!(listed(&[]), (image.index.clone(), 1));
    assert_eq!(
        listed(&["--platform", "linux/arm64"]),
        (image.arm64.clone(), 1)
    );
    assert_eq!(
        listed(&["--platform", "linux/amd64"]),
        (image.amd64.clone(), 0)
    );

    let fetch = |platform: &[&str]| {
        nodefit(&["fetch"])
            .args(&image_args(&registry, "demo/multi:v1"))
            .args(platform)
            .run()
    };
    assert_eq!(fetch(&[]).stdout, fs::read_to_string(&for_index).unwrap());
    assert_eq!(
        fetch(&["--platform", "linux/arm64"]).stdout,
        fs::read_to_string(&for_arm).unwrap()
    );
    let no_spec = fetch(&["--platform", "linux/amd64"]);
    assert_eq!(no_spec.status.code(), Some(2), "{no_spec}");
    let no_platform = fetch(&["--platform", "linux/s390x"]);
    assert_eq!(no_platform.status.code(), Some(2), "{no_platform}");
    assert!(
        no_platform
            .stderr
            .contains("no manifest for platform linux/s390x")
            && no_platform.stderr.contains("linux/amd64, linux/arm64/v8"),
        "{no_platform}"
    );

    // A single-platform image with --platform is checked against its config, as oras does.
    seed_image(&registry, "demo/single:v1");
    let wrong = nodefit(&["discover", "--platform", "linux/arm64"])
        .args(&image_args(&registry, "demo/single:v1"))
        .run();
    assert_eq!(wrong.status.code(), Some(2), "{wrong}");
    assert!(
        wrong
            .stderr
            .contains("is for linux/amd64, not for platform linux/arm64"),
        "{wrong}"
    );

    let validated = nodefit(&[
        "validate-node",
        "--output-json",
        "--platform",
        "linux/arm64",
        "--snapshot",
    ])
    .arg(data("samples/arm64-graviton3-al2023.features.json"))
    .args(&image_args(&registry, "demo/multi:v1"))
    .run();
    let expected = nodefit(&["test", "--output", "json", "--snapshot"])
        .arg(data("samples/arm64-graviton3-al2023.features.json"))
        .arg(&for_arm)
        .run();
    assert_eq!(validated.stdout, expected.stdout, "{validated}");
    assert_eq!(validated.status.code(), expected.status.code());
}

/// Attaching the content the newest artifact already has writes nothing at all.
#[test]
fn reattaching_identical_content_changes_nothing() {
    for registry in [Registry::distribution(), Registry::referrers()] {
        let image = seed_image(&registry, "demo/app:v1");
        let dir = TempDir::new("idempotent");
        let spec = write_spec(dir.path(), "spec.yaml", "same");
        let attach = |extra: &[&str]| {
            nodefit(&["attach", "-v", "--output", "json", "-a", "team=hpc"])
                .args(&image_args(&registry, "demo/app:v1"))
                .args(extra)
                .arg(&spec)
                .run()
        };
        let first = attach(&[]);
        first.assert_success();
        let first: Value = serde_json::from_str(&first.stdout).unwrap();
        let before = fallback_index(&registry, "demo/app", &image);

        let again = attach(&[]);
        again.assert_success();
        let json: Value = serde_json::from_str(&again.stdout).unwrap();
        assert_eq!(json["unchanged"], true, "{again}");
        assert_eq!(json["artifact"]["digest"], first["artifact"]["digest"]);
        let writes: Vec<&str> = request_lines(&again.stderr)
            .into_iter()
            .filter(|l| !l.contains(": GET ") && !l.contains(": HEAD "))
            .collect();
        assert!(writes.is_empty(), "{writes:?}\n{again}");
        assert_eq!(fallback_index(&registry, "demo/app", &image), before);
        assert_eq!(discovered(&registry, "demo/app:v1").len(), 1);

        // Other annotations are other content.
        let changed = nodefit(&["attach", "--output", "json", "-a", "team=ai"])
            .args(&image_args(&registry, "demo/app:v1"))
            .arg(&spec)
            .run();
        changed.assert_success();
        assert_eq!(
            serde_json::from_str::<Value>(&changed.stdout).unwrap()["unchanged"],
            false
        );
        assert_eq!(discovered(&registry, "demo/app:v1").len(), 2);
    }
}

/// What nodefit attaches, oras lists and pulls; what oras attaches, nodefit lists, fetches and
/// validates; both tools' entries live in one fallback index.
#[test]
fn interop_with_oras_both_ways() {
    for registry in [Registry::distribution(), Registry::referrers()] {
        let image = seed_image(&registry, "demo/app:v1");
        let dir = TempDir::new("interop");
        let ours = write_spec(dir.path(), "ours.yaml", "attached by nodefit");
        write_spec(dir.path(), "theirs.yaml", "attached by oras");

        let oras_first = oras_attach(&registry, dir.path(), "demo/app:v1", "theirs.yaml");
        let out = nodefit(&["attach"])
            .args(&image_args(&registry, "demo/app:v1"))
            .arg(&ours)
            .run();
        out.assert_success();
        let nodefit_digest = printed_digest(&out);
        // oras writes second-precision times: make sure its next one is strictly later.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let oras_second = oras_attach(&registry, dir.path(), "demo/app:v1", "theirs.yaml");

        let mut listed_by_oras = oras_discovered(&registry, "demo/app:v1");
        listed_by_oras.sort();
        let mut all = vec![
            oras_first.clone(),
            nodefit_digest.clone(),
            oras_second.clone(),
        ];
        all.sort();
        assert_eq!(listed_by_oras, all);
        let ours_listed = discovered(&registry, "demo/app:v1");
        assert_eq!(
            ours_listed[0], oras_second,
            "oras' last attach is the newest"
        );
        assert_eq!(ours_listed.len(), 3);
        if !registry.kind().has_referrers_api() {
            let (_, index) = fallback_index(&registry, "demo/app", &image).unwrap();
            assert_eq!(
                index_digests(&index),
                [
                    oras_first.clone(),
                    nodefit_digest.clone(),
                    oras_second.clone()
                ]
            );
        }

        // oras pull fetches what nodefit attached, under the spec's file name.
        let pulled = TempDir::new("pulled");
        run(oras_cmd()
            .current_dir(pulled.path())
            .args(["pull", "--plain-http"])
            .arg(format!("{}/demo/app@{nodefit_digest}", registry.host())))
        .assert_success();
        assert_eq!(
            fs::read(pulled.path().join("ours.yaml")).unwrap(),
            fs::read(&ours).unwrap()
        );

        // nodefit fetches and validates what oras attached last.
        let fetched = nodefit(&["fetch"])
            .args(&image_args(&registry, "demo/app:v1"))
            .run();
        fetched.assert_success();
        assert_eq!(
            fetched.stdout,
            fs::read_to_string(dir.path().join("theirs.yaml")).unwrap()
        );
        let validated = nodefit(&["validate-node", "--output-json", "--snapshot"])
            .arg(data("samples/intel-spr-h100-cx6.features.json"))
            .args(&image_args(&registry, "demo/app:v1"))
            .run();
        validated.assert_success();
        assert!(
            validated
                .stdout
                .contains(r#""description":"attached by oras""#),
            "{validated}"
        );

        // Detaching an oras artifact keeps the others, for both tools.
        nodefit(&["detach", "--artifact", &oras_first])
            .args(&image_args(&registry, "demo/app:v1"))
            .run()
            .assert_success();
        let mut remaining = oras_discovered(&registry, "demo/app:v1");
        remaining.sort();
        let mut expected = vec![nodefit_digest.clone(), oras_second.clone()];
        expected.sort();
        assert_eq!(remaining, expected);
    }
}

/// Credentials from a docker credential helper, from NFD's flags, and refusals that name the
/// registry without printing the secret.
#[test]
fn basic_auth_sources_and_refusals() {
    let registry = Registry::distribution_with_basic_auth("alice", "pa55-w0rd-xyz");
    seed_image(&registry, "demo/app:v1");
    let dir = TempDir::new("auth");
    let spec = write_spec(dir.path(), "spec.yaml", "auth");

    // A credential helper named in credHelpers, found on PATH as docker-credential-<name>.
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let helper = bin.join("docker-credential-nodefit-test");
    fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n\
             [ \"$server\" = \"{}\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\n\
             echo '{{\"ServerURL\":\"'$server'\",\"Username\":\"alice\",\"Secret\":\"pa55-w0rd-xyz\"}}'\n",
            registry.host()
        ),
    )
    .unwrap();
    run(std::process::Command::new("chmod").arg("+x").arg(&helper)).assert_success();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = nodefit(&["attach", "-v"])
        .args(&image_args(&registry, "demo/app:v1"))
        .arg(&spec)
        .env("PATH", &path)
        .docker_config(&json!({"credHelpers": {registry.host(): "nodefit-test"}}))
        .run();
    out.assert_success();
    assert!(
        out.stderr
            .contains("credential helper docker-credential-nodefit-test"),
        "{out}"
    );
    assert!(!out.stderr.contains("pa55-w0rd-xyz") && !out.stdout.contains("pa55-w0rd-xyz"));

    // NFD's flags: the password on standard input, one trailing newline dropped.
    let out = nodefit(&[
        "discover",
        "-v",
        "--registry-username",
        "alice",
        "--registry-password-stdin",
    ])
    .args(&image_args(&registry, "demo/app:v1"))
    .stdin("pa55-w0rd-xyz\r\n")
    .run();
    out.assert_success();
    assert!(
        out.stderr
            .contains("a username and password from the command line"),
        "{out}"
    );

    // Anonymous: refused with a hint, exit code 3.
    let out = nodefit(&["discover"])
        .args(&image_args(&registry, "demo/app:v1"))
        .run();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(
        out.stderr
            .contains(&format!("registry {}", registry.host())),
        "{out}"
    );
    assert!(out.stderr.contains("basic auth"), "{out}");

    // A wrong password: refused, named, never echoed.
    let out = nodefit(&[
        "discover",
        "-v",
        "--registry-username",
        "alice",
        "--registry-password-stdin",
    ])
    .args(&image_args(&registry, "demo/app:v1"))
    .stdin("wrong-secret-123\n")
    .run();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(out.stderr.contains("401"), "{out}");
    assert!(out.stderr.contains("repository demo/app"), "{out}");
    assert!(!out.stderr.contains("wrong-secret-123") && !out.stdout.contains("wrong-secret-123"));
}

/// Bearer tokens through the `WWW-Authenticate` challenge: a proxy in front of distribution
/// plays the token server and refuses requests without a token for the right scope.
#[test]
fn bearer_tokens_through_the_challenge() {
    let registry = Registry::distribution();
    seed_image(&registry, "demo/app:v1");
    let proxy_port = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let realm_host = proxy_port.clone();
    let proxy = Proxy::start(&registry.host(), move |head, body| {
        let realm = format!("http://{}/token", realm_host.get().unwrap());
        if head.path() == "/token" {
            let form = if head.method == "POST" {
                String::from_utf8_lossy(body).into_owned()
            } else {
                head.query().to_owned()
            };
            let scope = form
                .split('&')
                .find_map(|p| p.strip_prefix("scope="))
                .unwrap_or_default()
                .replace("%3A", ":")
                .replace("%2F", "/")
                .replace("%2C", ",");
            let basic = format!("Basic {}", base64("bob:token-pw-777"));
            let allowed = head.header("authorization") == Some(basic.as_str())
                || form.contains("grant_type=refresh_token")
                    && form.contains("refresh_token=refresh-abc-999");
            if !allowed || !form.contains("service=nodefit-test") {
                return Action::status(401);
            }
            let token = format!("{{\"token\":\"issued:{scope}\"}}");
            return Action::Respond {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: token.into_bytes(),
            };
        }
        let write = !matches!(head.method.as_str(), "GET" | "HEAD");
        let token = head.header("authorization").unwrap_or_default();
        let ok = token == "Bearer static-access-555" && !write
            || token.starts_with("Bearer issued:repository:demo/app:pull")
                && (!write || token.contains("push"));
        if ok {
            Action::Forward
        } else {
            let scope = if write { "pull,push" } else { "pull" };
            Action::Respond {
                status: 401,
                headers: vec![(
                    "WWW-Authenticate".into(),
                    format!(
                        r#"Bearer realm="{realm}",service="nodefit-test",scope="repository:demo/app:{scope}""#
                    ),
                )],
                body:
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                        .to_vec(),
            }
        }
    });
    proxy_port.set(proxy.host()).unwrap();
    let dir = TempDir::new("bearer");
    let spec = write_spec(dir.path(), "spec.yaml", "bearer");
    let image = [
        "--image".to_owned(),
        format!("{}/demo/app:v1", proxy.host()),
        "--plain-http".to_owned(),
    ];

    // Basic credentials from docker's config, exchanged for a push token.
    let out = nodefit(&["attach", "-v"])
        .args(&image)
        .arg(&spec)
        .docker_config(&docker_auths(&proxy.host(), "bob", "token-pw-777"))
        .run();
    out.assert_success();
    let token_requests = proxy.seen().iter().filter(|h| h.path() == "/token").count();
    assert_eq!(token_requests, 1, "one token for the whole attach: {out}");
    assert!(
        !out.stderr.contains("token-pw-777") && !out.stderr.contains("issued:"),
        "{out}"
    );

    // An identity token (OAuth2 refresh token) from docker's config.
    let out = nodefit(&["fetch"])
        .args(&image)
        .docker_config(&json!({"auths": {proxy.host(): {"identitytoken": "refresh-abc-999"}}}))
        .run();
    out.assert_success();
    assert!(out.stdout.contains("bearer"), "{out}");

    // A ready access token on standard input, as NFD's --registry-token-stdin.
    let out = nodefit(&["discover", "--registry-token-stdin", "-v"])
        .args(&image)
        .stdin("static-access-555\n")
        .run();
    out.assert_success();
    assert!(!out.stderr.contains("static-access-555"), "{out}");

    // No credentials: the anonymous token is refused by the token server; the error says so.
    let out = nodefit(&["discover"]).args(&image).run();
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(
        out.stderr.contains("token server answered HTTP 401"),
        "{out}"
    );
}

/// TLS with a private CA: refused with a hint without --ca-file, trusted with it; plain HTTP
/// is never used unless asked for.
#[test]
fn tls_with_a_private_ca() {
    let dir = TempDir::new("tls");
    let openssl = |args: &[&str]| {
        run(std::process::Command::new("openssl")
            .current_dir(dir.path())
            .args(args))
        .assert_success();
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=nodefit test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    fs::write(
        dir.path().join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext",
        "-out",
        "server.pem",
    ]);

    let registry = Registry::distribution();
    seed_image(&registry, "demo/app:v1");
    // A TLS front: distribution itself, configured with the certificate, on the same storage.
    let port = nodefit_e2e::testbed::free_port();
    let config = dir.path().join("tls.yml");
    fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: test\n  tls: {{certificate: {}, key: {}}}\n",
            registry.dir().join("data").display(),
            dir.path().join("server.pem").display(),
            dir.path().join("server.key").display()
        ),
    )
    .unwrap();
    let mut tls = std::process::Command::new(nodefit_e2e::testbed::bin("docker-registry"))
        .arg("serve")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = {
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed().as_secs() < 20,
                "TLS registry did not start"
            );
            if let Ok(Some(status)) = tls.try_wait() {
                panic!("TLS registry exited: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Kill(tls)
    };
    let image = format!("127.0.0.1:{port}/demo/app:v1");

    let untrusted = nodefit(&["discover", "--image", &image, "--request-timeout", "5"]).run();
    assert_eq!(untrusted.status.code(), Some(3), "{untrusted}");
    assert!(untrusted.stderr.contains("--ca-file"), "{untrusted}");
    assert!(
        untrusted.stderr.contains(&format!(
            "https://127.0.0.1:{port}/v2/demo/app/manifests/v1"
        )),
        "{untrusted}"
    );

    // Without --plain-http nodefit speaks TLS even to a plain HTTP registry, and fails.
    let plain = nodefit(&[
        "discover",
        "--image",
        &format!("{}/demo/app:v1", registry.host()),
    ])
    .run();
    assert_eq!(plain.status.code(), Some(3), "{plain}");
    assert!(
        plain
            .stderr
            .contains(&format!("https://{}/v2/", registry.host())),
        "{plain}"
    );

    let ca = dir.path().join("ca.pem");
    let trusted = nodefit(&[
        "discover",
        "--output",
        "json",
        "--image",
        &image,
        "--ca-file",
    ])
    .arg(&ca)
    .run();
    trusted.assert_success();

    let spec = write_spec(dir.path(), "spec.yaml", "over tls");
    nodefit(&["attach", "--image", &image, "--ca-file"])
        .arg(&ca)
        .arg(&spec)
        .run()
        .assert_success();
    let fetched = nodefit(&["fetch", "--image", &image, "--ca-file"])
        .arg(&ca)
        .run();
    assert_eq!(
        fetched.stdout,
        fs::read_to_string(&spec).unwrap(),
        "{fetched}"
    );
}

/// Bad input is refused before any request, with exit code 2.
#[test]
fn unusable_input_is_refused_up_front() {
    let dir = TempDir::new("input");
    let broken = dir.path().join("broken.yaml");
    fs::write(
        &broken,
        "version: v1alpha1\ncompatibilities: [{rules: 5}]\n",
    )
    .unwrap();
    let good = write_spec(dir.path(), "good.yaml", "good");
    // Nothing listens on port 9: any request would fail with exit code 3, not 2.
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "attach".into(),
                "--image".into(),
                "127.0.0.1:9/a:v1".into(),
                broken.display().to_string(),
            ],
            "error[wrong-type]",
        ),
        (
            vec![
                "attach".into(),
                "--image".into(),
                "app:v1".into(),
                good.display().to_string(),
            ],
            "must start with its registry",
        ),
        (
            vec![
                "discover".into(),
                "--image".into(),
                "127.0.0.1:9/a:v1".into(),
                "--platform".into(),
                "linux/".into(),
            ],
            "architecture cannot be empty",
        ),
        (
            vec![
                "attach".into(),
                "--image".into(),
                "127.0.0.1:9/a:v1".into(),
                "-a".into(),
                "novalue".into(),
                good.display().to_string(),
            ],
            "expected KEY=VALUE",
        ),
        (
            vec![
                "detach".into(),
                "--image".into(),
                "127.0.0.1:9/a:v1".into(),
                "--artifact".into(),
                "latest".into(),
            ],
            "is not a digest",
        ),
    ];
    for (args, message) in cases {
        let out = nodefit(&args).run();
        assert_eq!(out.status.code(), Some(2), "{out}");
        assert!(out.stderr.contains(message), "{message}: {out}");
    }
    // --force publishes a spec NFD would refuse, with a warning.
    let registry = Registry::distribution();
    seed_image(&registry, "demo/app:v1");
    let out = nodefit(&["attach", "--force"])
        .args(&image_args(&registry, "demo/app:v1"))
        .arg(&broken)
        .run();
    out.assert_success();
    assert!(
        out.stderr.contains("warning: attaching anyway (--force)"),
        "{out}"
    );
}
