//! Publishing through the server, end to end: a real `nodefit serve` with a signing key and two
//! real registries (distribution 2.8 with basic auth, no referrers API; go-containerregistry
//! with it), checked through the registry, `nodefit verify` and the real cosign. Then how a
//! publish fails: a registry that is down, answers 5xx or hangs (through a proxy that fails or
//! stalls requests on their way to a real registry), an identical publish still running on
//! another server, and a request that never finishes arriving.

mod server_support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nodefit_e2e::faults::{Action, Proxy, Script};
use nodefit_e2e::testbed::{self, Registry, TempDir};
use serde_json::{json, Value};
use server_support::{free_port, postgres_db, sqlite, Options, Server, Store, ADMIN};

const PASSWORD: &str = "publish-test-key-password";
const SPEC: &str = "version: v1alpha1\ncompatibilities:\n- description: x86 nodes\n  rules:\n  - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [\"Intel\", \"AMD\"]}\n";

struct Setup {
    server: Server,
    basic: Registry,
    referrers: Registry,
    public_key: std::path::PathBuf,
    _dirs: (TempDir, TempDir),
}

fn nodefit(args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodefit"))
        .args(args)
        .env("NODEFIT_KEY_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nodefit");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A signing key pair (`nodefit keygen`, cosign's format) in a directory of its own.
struct Keys {
    dir: TempDir,
    key: PathBuf,
    public_key: PathBuf,
}

fn keys() -> Keys {
    let dir = TempDir::new("publish-keys");
    let key = dir.path().join("cosign.key");
    let public_key = dir.path().join("cosign.pub");
    let out = nodefit(
        &[
            "keygen",
            "--cosign-format",
            "--output-key",
            key.to_str().unwrap(),
            "--output-pub",
            public_key.to_str().unwrap(),
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Keys {
        dir,
        key,
        public_key,
    }
}

impl Keys {
    /// A server configuration that signs with this key and knows `registries` (each a name and
    /// the rest of its table, `host` first), written next to the key as `file`.
    fn config(
        &self,
        file: &str,
        request_timeout_secs: Option<u64>,
        registries: &[(&str, String)],
    ) -> PathBuf {
        let mut text = String::new();
        if let Some(secs) = request_timeout_secs {
            text.push_str(&format!("request_timeout_secs = {secs}\n"));
        }
        // Both formats: bundles (the default, cosign 3's) and the classic `.sig` image that
        // cosign 2.5 checks below.
        text.push_str(&format!(
            "[signing]\nkey_file = {:?}\nformats = [\"bundle\", \"classic\"]\n",
            self.key
        ));
        for (name, table) in registries {
            text.push_str(&format!(
                "\n[registries.{name}]\n{table}plain_http = true\n"
            ));
        }
        let path = self.dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// A registry table for an anonymous registry at `host`.
fn anonymous(host: &str) -> String {
    format!("host = {host:?}\n")
}

fn serve(store: &Store, config: &Path) -> Server {
    Server::start_with(
        store,
        Options {
            args: vec!["--config", config.to_str().unwrap()],
            env: vec![("NODEFIT_KEY_PASSWORD", PASSWORD)],
            ..Options::default()
        },
    )
}

fn setup() -> Setup {
    let basic = Registry::distribution_with_basic_auth("publisher", "registry-secret");
    let referrers = Registry::referrers();
    testbed::seed_image(&basic, "demo/app:v1");
    testbed::seed_image(&referrers, "demo/app:v1");
    let keys = keys();
    let config = keys.config(
        "nodefit.toml",
        None,
        &[
            (
                "lab",
                format!(
                    "host = {:?}\nusername = \"publisher\"\npassword = \"registry-secret\"\n",
                    basic.host()
                ),
            ),
            ("oci", anonymous(&referrers.host())),
        ],
    );
    let (store, data) = sqlite();
    let server = serve(&store, &config);
    Setup {
        server,
        basic,
        referrers,
        public_key: keys.public_key.clone(),
        _dirs: (keys.dir, data),
    }
}

fn create_spec(server: &Server, name: &str, content: &str) -> i64 {
    let created = server.json(
        "POST",
        "/api/v1/specs",
        ADMIN,
        &json!({"name": name, "content": content}),
    );
    created.expect(201);
    created.json()["id"].as_i64().unwrap()
}

fn referrers(server: &Server, registry: &str) -> Value {
    let r = server.get(
        &format!("/api/v1/images/referrers?registry={registry}&image=demo/app:v1"),
        ADMIN,
    );
    r.expect(200);
    r.json()
}

#[test]
fn publish_signs_attaches_records_and_is_idempotent_on_both_registries() {
    let s = setup();
    let publisher = s.server.token("publisher");
    let spec = create_spec(&s.server, "x86", SPEC);
    assert_eq!(
        s.server.get("/api/v1/registries", ADMIN).json()["items"],
        json!([{"name": "lab"}, {"name": "oci"}]),
        "names only: no host, no credentials"
    );

    for (name, registry) in [("lab", &s.basic), ("oci", &s.referrers)] {
        let request = json!({"specId": spec, "registry": name, "image": "demo/app:v1"});
        let first = s
            .server
            .json("POST", "/api/v1/publish", &publisher, &request);
        first.expect(201);
        let publication = first.json();
        let artifact = publication["artifactDigest"].as_str().unwrap().to_owned();
        assert!(publication["signatureDigest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(publication["version"], 1);
        assert_eq!(publication["createdBy"], "publisher-user");
        let formats: Vec<&str> = publication["signed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["format"].as_str().unwrap())
            .collect();
        assert_eq!(formats, ["bundle", "classic"], "{publication}");

        let again = s
            .server
            .json("POST", "/api/v1/publish", &publisher, &request);
        again.expect(200);
        assert_eq!(
            again.json()["id"],
            publication["id"],
            "a retry finds the first publication"
        );

        let listed = referrers(&s.server, name);
        let artifacts = listed["artifacts"].as_array().unwrap();
        assert_eq!(artifacts.len(), 1, "published once: {listed}");
        assert_eq!(artifacts[0]["digest"], artifact.as_str());
        assert_eq!(artifacts[0]["nfdChoice"], true);
        assert!(
            !listed.to_string().contains(&registry.host()),
            "hosts never reach clients, not even inside a signature: {listed}"
        );
        assert_eq!(listed["trust"], "the server's signing keys", "{listed}");
        assert_eq!(artifacts[0]["trusted"], true, "{listed}");
        let signatures = artifacts[0]["signatures"].as_array().unwrap();
        assert_eq!(signatures.len(), 2, "{listed}");
        assert!(
            signatures
                .iter()
                .all(|s| s["verified"] == true && s["verifiedBy"] == "the server's signing key"),
            "{listed}"
        );
        assert_eq!(
            listed["source"],
            if name == "lab" {
                "tag-schema"
            } else {
                "referrers-api"
            }
        );

        // The registry holds a signed artifact nodefit's own verifier accepts.
        let image = format!("{}/demo/app:v1", registry.host());
        let mut args = vec![
            "verify",
            "--image",
            &image,
            "--key",
            s.public_key.to_str().unwrap(),
            "--plain-http",
        ];
        let mut stdin = String::new();
        if let Some((user, password)) = registry.credentials() {
            args.extend(["--registry-username", user, "--registry-password-stdin"]);
            stdin = format!("{password}\n");
        }
        let verified = nodefit(&args, &stdin);
        assert!(
            verified.status.success(),
            "nodefit verify: {}",
            String::from_utf8_lossy(&verified.stderr)
        );
        assert!(String::from_utf8_lossy(&verified.stdout).contains(&artifact));
    }

    // And the real cosign accepts the server's signature (anonymous registry).
    let cosign = testbed::cosign(&[
        "verify",
        "--key",
        s.public_key.to_str().unwrap(),
        "--insecure-ignore-tlog=true",
        "--allow-http-registry",
        &format!(
            "{}/demo/app@{}",
            s.referrers.host(),
            referrers(&s.server, "oci")["artifacts"][0]["digest"]
                .as_str()
                .unwrap()
        ),
    ]);
    cosign.assert_success();

    for path in [
        "/api/v1/signing/public-key",
        "/api/v1/publications",
        "/api/v1/images/referrers?registry=oci&image=demo/app:v1",
    ] {
        s.server
            .request("GET", path, None, None)
            .expect_error(401, "unauthorized");
    }
    let public_key = s.server.get("/api/v1/signing/public-key", ADMIN);
    public_key.expect(200);
    assert_eq!(
        public_key.text(),
        std::fs::read_to_string(&s.public_key).unwrap()
    );

    let history = s
        .server
        .get(&format!("/api/v1/publications?specId={spec}"), ADMIN);
    history.expect(200);
    assert_eq!(history.json()["total"], 2);
    assert_eq!(history.json()["items"].as_array().unwrap().len(), 2);
}

/// A client retrying while its first publish is still signing and attaching: every identical
/// request gets the one publication, and the image gets one artifact.
#[test]
fn identical_publishes_at_once_attach_once() {
    let s = setup();
    let publisher = s.server.token("publisher");
    let spec = create_spec(&s.server, "x86", SPEC);
    for name in ["lab", "oci"] {
        let request = json!({"specId": spec, "registry": name, "image": "demo/app:v1"});
        let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let requests: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let r = s
                            .server
                            .json("POST", "/api/v1/publish", &publisher, &request);
                        (r.status, r.json())
                    })
                })
                .collect();
            requests.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let created = answers.iter().filter(|(status, _)| *status == 201).count();
        assert_eq!(created, 1, "one request published: {answers:?}");
        assert!(
            answers
                .iter()
                .all(|(status, _)| *status == 201 || *status == 200),
            "{answers:?}"
        );
        let ids: std::collections::BTreeSet<String> =
            answers.iter().map(|(_, p)| p["id"].to_string()).collect();
        assert_eq!(ids.len(), 1, "the same publication for all: {answers:?}");
        let listed = referrers(&s.server, name);
        assert_eq!(
            listed["artifacts"].as_array().unwrap().len(),
            1,
            "attached once: {listed}"
        );
    }
}

#[test]
fn a_new_version_publishes_a_newer_artifact_that_nfd_picks() {
    let s = setup();
    let spec = create_spec(&s.server, "x86", SPEC);
    let publish = |version: i64| {
        s.server.json(
            "POST",
            "/api/v1/publish",
            ADMIN,
            &json!({"specId": spec, "version": version, "registry": "oci", "image": "demo/app:v1"}),
        )
    };
    publish(1).expect(201);
    let v2 = SPEC.replace("x86 nodes", "x86 nodes, v2");
    s.server
        .json(
            "PUT",
            &format!("/api/v1/specs/{spec}"),
            ADMIN,
            &json!({"content": v2}),
        )
        .expect(200);
    let second = publish(2);
    second.expect(201);
    let listed = referrers(&s.server, "oci");
    assert_eq!(listed["artifacts"].as_array().unwrap().len(), 2);
    assert_eq!(
        listed["artifacts"][0]["digest"],
        second.json()["artifactDigest"],
        "the newest is NFD's choice"
    );

    let fetched = nodefit(
        &[
            "fetch",
            "--image",
            &format!("{}/demo/app:v1", s.referrers.host()),
            "--plain-http",
        ],
        "",
    );
    assert!(fetched.status.success());
    assert_eq!(String::from_utf8_lossy(&fetched.stdout), v2);
}

#[test]
fn publishing_is_refused_before_any_registry_is_reached_when_it_must_be() {
    let s = setup();
    let viewer = s.server.token("viewer");
    let author = s.server.token("author");
    let spec = create_spec(&s.server, "x86", SPEC);
    let broken = create_spec(&s.server, "broken", &SPEC.replace("op: In", "op: in"));
    let request = |spec: i64, registry: &str, image: &str| json!({"specId": spec, "registry": registry, "image": image});

    let anonymous = serde_json::to_vec(&request(spec, "oci", "demo/app:v1")).unwrap();
    s.server
        .request(
            "POST",
            "/api/v1/publish",
            None,
            Some(("application/json", &anonymous)),
        )
        .expect_error(401, "unauthorized");
    s.server
        .json(
            "POST",
            "/api/v1/publish",
            &viewer,
            &request(spec, "oci", "demo/app:v1"),
        )
        .expect_error(403, "forbidden");
    s.server
        .json(
            "POST",
            "/api/v1/publish",
            &author,
            &request(spec, "oci", "demo/app:v1"),
        )
        .expect_error(403, "forbidden");
    s.server
        .json(
            "POST",
            "/api/v1/publish",
            ADMIN,
            &request(spec, "elsewhere", "demo/app:v1"),
        )
        .expect_error(400, "bad_request");
    s.server
        .json(
            "POST",
            "/api/v1/publish",
            ADMIN,
            &request(spec, "oci", "http://evil.example.com/app:v1"),
        )
        .expect_error(400, "bad_request");
    // A host-like first component stays a repository path inside the configured registry.
    s.server
        .json(
            "POST",
            "/api/v1/publish",
            ADMIN,
            &request(spec, "oci", "evil.example.com/app:v1"),
        )
        .expect_error(422, "registry_content");
    s.server
        .json(
            "POST",
            "/api/v1/publish",
            ADMIN,
            &request(9999, "oci", "demo/app:v1"),
        )
        .expect_error(404, "not_found");

    let lint = s.server.json(
        "POST",
        "/api/v1/publish",
        ADMIN,
        &request(broken, "oci", "demo/app:v1"),
    );
    let error = lint.expect_error(422, "lint_failed");
    let diagnostics = error["details"]["diagnostics"].as_array().unwrap();
    assert!(
        diagnostics
            .iter()
            .any(|d| d["code"] == "unknown-op" && d["line"] == 9),
        "{error}"
    );

    assert!(
        referrers(&s.server, "oci")["artifacts"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing attached"
    );
    assert!(
        !s.server.logs().contains("registry-secret"),
        "credentials never logged"
    );
}

/// Detach deletes the artifact and its cosign signature (the `.sig` tag), so that the same
/// manifest pushed again is not signed; on distribution 2.8, which refuses to delete a tag by
/// name, through the signature manifest's digest.
#[test]
fn detach_removes_the_artifact_and_its_signature_from_the_image() {
    let s = setup();
    let spec = create_spec(&s.server, "x86", SPEC);
    let viewer = s.server.token("viewer");
    for (registry, store) in [("lab", &s.basic), ("oci", &s.referrers)] {
        let published = s.server.json(
            "POST",
            "/api/v1/publish",
            ADMIN,
            &json!({"specId": spec, "registry": registry, "image": "demo/app:v1"}),
        );
        published.expect(201);
        let artifact = published.json()["artifactDigest"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!(
            "/api/v1/images/referrers?registry={registry}&image=demo/app:v1&artifact={artifact}"
        );
        // The listing names the publication that attached it.
        let listed = referrers(&s.server, registry);
        let publication = &listed["artifacts"][0]["publication"];
        assert_eq!(
            (&publication["specId"], &publication["artifactDigest"]),
            (&json!(spec), &json!(artifact)),
            "{listed}"
        );
        s.server
            .delete(&path, &viewer)
            .expect_error(403, "forbidden");
        let sig = format!("/v2/demo/app/manifests/{}.sig", artifact.replace(':', "-"));
        let accept = [("Accept", "application/vnd.oci.image.manifest.v1+json")];
        assert_eq!(store.http("HEAD", &sig, &accept).status, 200, "signed");
        s.server.delete(&path, ADMIN).expect(204);
        assert!(referrers(&s.server, registry)["artifacts"]
            .as_array()
            .unwrap()
            .is_empty());
        assert_eq!(
            store.http("HEAD", &sig, &accept).status,
            404,
            "{registry}: the signature tag is gone"
        );
        // The history says it was detached, and by whom.
        let history = s
            .server
            .get(&format!("/api/v1/publications?specId={spec}"), ADMIN)
            .json();
        let mine: Vec<&Value> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["registry"] == registry)
            .collect();
        assert_eq!(mine.len(), 1, "{history}");
        assert!(mine[0]["detachedAt"].is_string(), "{history}");
        assert_eq!(mine[0]["detachedBy"], "admin");
        // Publishing the same version again attaches it again (it is no longer there), and
        // the history keeps both.
        let again = s.server.json(
            "POST",
            "/api/v1/publish",
            ADMIN,
            &json!({"specId": spec, "registry": registry, "image": "demo/app:v1"}),
        );
        again.expect(201);
        assert!(again.json().get("detachedAt").is_none());
        let listed = referrers(&s.server, registry);
        assert_eq!(listed["artifacts"].as_array().unwrap().len(), 1, "{listed}");
        let history = s
            .server
            .get(&format!("/api/v1/publications?specId={spec}"), ADMIN)
            .json();
        let attached: Vec<bool> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["registry"] == registry)
            .map(|p| p.get("detachedAt").is_none())
            .collect();
        assert_eq!(attached, [true, false], "newest first: {history}");
    }
}

/// The spec attached to an image reads back as NFD would use it (the newest), or any attached
/// artifact by digest, with this server's publication of it; a viewer may read it, and an
/// image with nothing attached is a 404 that names no host.
#[test]
fn the_spec_attached_to_an_image_reads_back() {
    let s = setup();
    let spec = create_spec(&s.server, "x86", SPEC);
    let viewer = s.server.token("viewer");
    let first = publish(&s.server, ADMIN, spec, "oci");
    first.expect(201);
    let first_artifact = first.json()["artifactDigest"].as_str().unwrap().to_owned();
    let newer = SPEC.replace("x86 nodes", "x86 nodes, newer");
    s.server
        .json(
            "PUT",
            &format!("/api/v1/specs/{spec}"),
            ADMIN,
            &json!({"content": newer}),
        )
        .expect(200);
    publish(&s.server, ADMIN, spec, "oci").expect(201);

    let read = |query: &str| {
        s.server.get(
            &format!("/api/v1/images/spec?registry=oci&image=demo/app:v1{query}"),
            &viewer,
        )
    };
    let nfd = read("");
    nfd.expect(200);
    let nfd = nfd.json();
    assert_eq!(nfd["content"], newer.as_str());
    assert_eq!(nfd["nfdChoice"], true);
    assert_eq!(nfd["publication"]["version"], 2);
    let old = read(&format!("&artifact={first_artifact}"));
    old.expect(200);
    let old = old.json();
    assert_eq!(old["content"], SPEC);
    assert_eq!(
        (&old["nfdChoice"], &old["publication"]["version"]),
        (&json!(false), &json!(1))
    );
    read("&artifact=sha256:0000000000000000000000000000000000000000000000000000000000000000")
        .expect_error(404, "not_found");

    testbed::seed_image(&s.referrers, "demo/bare:v1");
    let bare = s.server.get(
        "/api/v1/images/spec?registry=oci&image=demo/bare:v1",
        &viewer,
    );
    let error = bare.expect_error(404, "not_found");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("demo/bare:v1"), "{message}");
    assert!(
        !bare.text().contains(&s.referrers.host()),
        "{}",
        bare.text()
    );
    let missing = s.server.get(
        "/api/v1/images/spec?registry=oci&image=demo/app:nope",
        &viewer,
    );
    missing.expect_error(422, "registry_content");
    assert!(
        !missing.text().contains(&s.referrers.host()),
        "{}",
        missing.text()
    );
}

/// A spec name is free text; the file name in the artifact (the layer title, which `oras pull`
/// writes to) is a plain file name whatever it is.
#[test]
fn spec_names_become_plain_file_names() {
    let s = setup();
    let spec = create_spec(&s.server, "../../../home/user/.bashrc#", SPEC);
    let published = s.server.json(
        "POST",
        "/api/v1/publish",
        ADMIN,
        &json!({"specId": spec, "registry": "oci", "image": "demo/app:v1"}),
    );
    published.expect(201);
    let artifact = published.json()["artifactDigest"]
        .as_str()
        .unwrap()
        .to_owned();
    let manifest = s.referrers.http(
        "GET",
        &format!("/v2/demo/app/manifests/{artifact}"),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
    );
    let manifest: Value = serde_json::from_slice(&manifest.body).unwrap();
    assert_eq!(
        manifest["layers"][0]["annotations"]["org.opencontainers.image.title"],
        "home_user_.bashrc_.yaml"
    );
}

// ---- A hostile registry in the server's allow-list, played by the test bed's fault-injecting
// registry; a recorder on 127.0.0.2 is the other host it points the server at. ----

const SUBJECT: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
const INTERNAL: &str = "panic at db-internal.corp:5432 (password=hunter2) in /srv/registry";

fn hostile(script: Script) -> Proxy {
    Proxy::standalone(
        Ipv4Addr::LOCALHOST,
        Script {
            repository: "demo/app".into(),
            manifest: SUBJECT.as_bytes().to_vec(),
            ..script
        }
        .rule(),
    )
}

fn artifacts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{i:064x}","size":600,"artifactType":"application/vnd.nfd.image-compatibility.v1alpha1"}}"#
            )
        })
        .collect()
}

/// Every way a configured registry could steer the server, against a server confined to 4 GiB
/// of address space and 1,024 descriptors: nothing reaches another host, every answer is an
/// error that names the registry by its configured name (no host, none of the registry's own
/// text) or a bounded listing, `/healthz` answers within a second throughout, memory stays
/// under 1 GiB, and nothing runs on after the answers.
#[test]
fn a_hostile_registry_cannot_steer_the_server() {
    let other = Proxy::recorder(Ipv4Addr::new(127, 0, 0, 2));
    let registries = [
        (
            "realm",
            hostile(Script {
                challenge: Some(format!(
                    r#"Bearer realm="https://{}/token",service="x""#,
                    other.host()
                )),
                ..Script::default()
            }),
            502,
        ),
        (
            "plain-realm",
            hostile(Script {
                challenge: Some(format!(r#"Bearer realm="{}/token""#, other.url())),
                ..Script::default()
            }),
            502,
        ),
        (
            "redirect",
            hostile(Script {
                redirect_to: Some(other.url()),
                ..Script::default()
            }),
            502,
        ),
        (
            "link",
            hostile(Script {
                referrers: artifacts(1),
                extra_pages: 5,
                next_page_base: Some(other.url()),
                ..Script::default()
            }),
            502,
        ),
        (
            "flood",
            hostile(Script {
                referrers: artifacts(3000),
                ..Script::default()
            }),
            200,
        ),
        (
            "pages",
            hostile(Script {
                referrers: artifacts(1),
                extra_pages: 1000,
                page_padding: 4_000_000,
                ..Script::default()
            }),
            502,
        ),
        (
            "errors",
            hostile(Script {
                error_page: Some((
                    500,
                    format!("<html><body><pre>{INTERNAL}</pre></body></html>"),
                )),
                ..Script::default()
            }),
            502,
        ),
    ];
    let dir = TempDir::new("hostile");
    let config = dir.path().join("nodefit.toml");
    let mut toml = String::new();
    for (name, proxy, _) in &registries {
        toml.push_str(&format!(
            "[registries.{name}]\nhost = {:?}\nplain_http = true\nusername = \"ci\"\npassword = \"registry-secret-31337\"\n\n",
            proxy.host()
        ));
    }
    std::fs::write(&config, toml).unwrap();
    let (store, _data) = sqlite();
    let server = Server::start_confined(
        &store,
        Options {
            args: vec!["--config", config.to_str().unwrap()],
            ..Options::default()
        },
    );
    let spec = create_spec(&server, "x86", SPEC);
    let health = server.watch_health();

    let hosts: Vec<String> = registries
        .iter()
        .map(|(_, p, _)| p.host())
        .chain([other.host(), "127.0.0.".into()])
        .collect();
    let check = |name: &str, status: u16, answer: &server_support::Response| {
        assert_eq!(answer.status, status, "{name}: {}", answer.text());
        let text = answer.text();
        for host in &hosts {
            assert!(!text.contains(host.as_str()), "{name} names a host: {text}");
        }
        for secret in [
            "hunter2",
            "db-internal",
            "/srv/registry",
            "registry-secret-31337",
        ] {
            assert!(!text.contains(secret), "{name} echoes the registry: {text}");
        }
        if status != 200 {
            let message = answer.json()["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(
                message.contains(&format!("registry `{name}`")),
                "{name}: {message}"
            );
        }
    };
    for (name, _, status) in &registries {
        let answer = server.get(
            &format!("/api/v1/images/referrers?registry={name}&image=demo/app:v1"),
            ADMIN,
        );
        check(name, *status, &answer);
        if *status == 200 {
            let listed = answer.json();
            assert_eq!(listed["artifacts"].as_array().unwrap().len(), 3000);
            assert_eq!(listed["signaturesLookedUp"], 50);
        }
    }
    let published = server.json(
        "POST",
        "/api/v1/publish",
        ADMIN,
        &json!({"specId": spec, "registry": "realm", "image": "demo/app:v1"}),
    );
    check("realm", 502, &published);
    let message = published.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("token realm"), "{message}");
    let missing = server.get(
        "/api/v1/images/referrers?registry=flood&image=demo/app:v2",
        ADMIN,
    );
    check("flood", 422, &missing);
    assert!(
        missing.text().contains("answered 404 for the tag `v2`"),
        "{}",
        missing.text()
    );

    // Three listings of endless 4 MB pages at once (this crashed the server before).
    std::thread::scope(|scope| {
        let requests: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    server.get(
                        "/api/v1/images/referrers?registry=pages&image=demo/app:v1",
                        ADMIN,
                    )
                })
            })
            .collect();
        for request in requests {
            check("pages", 502, &request.join().unwrap());
        }
    });

    let record = health.assert_answered_within(Duration::from_secs(1));
    server.assert_peak_rss_bounded();
    server.assert_idle(Duration::from_secs(2));
    assert!(
        other.seen().is_empty(),
        "requests reached another host: {:?}",
        other.seen()
    );
    let flood = &registries[4].1;
    // 8 requests in flight at most; the registry's side counts a connection until its thread
    // has closed it, which can lag the client's next request by a moment.
    assert!(
        flood.most_open() <= 10,
        "{} connections at once",
        flood.most_open()
    );
    let logs = server.logs();
    assert!(
        logs.contains("WARN") && logs.contains(&registries[6].1.host()),
        "the log has the full story: {logs}"
    );
    assert!(
        !logs.contains("registry-secret-31337"),
        "credentials never logged"
    );
    eprintln!(
        "healthz: {} probes, slowest {:?}; peak RSS {} MiB; flood: {} requests, {} at once",
        record.probes,
        record.slowest,
        server.peak_rss() >> 20,
        flood.seen().len(),
        flood.most_open()
    );
}

fn publish(server: &Server, token: &str, spec: i64, registry: &str) -> server_support::Response {
    server.json(
        "POST",
        "/api/v1/publish",
        token,
        &json!({"specId": spec, "registry": registry, "image": "demo/app:v1"}),
    )
}

fn publications(server: &Server) -> Vec<Value> {
    server.get("/api/v1/publications", ADMIN).json()["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// A registry nothing listens on, and a registry that answers 503 to every write: both are a
/// 502 `registry_unavailable` after the retries, nothing is recorded, and the claim is given
/// back, so that the same publish succeeds once the registry is back.
#[test]
fn a_registry_down_or_answering_5xx_is_a_502_and_a_later_retry_publishes() {
    let registry = Registry::referrers();
    testbed::seed_image(&registry, "demo/app:v1");
    let failing = Arc::new(AtomicBool::new(true));
    let proxy = {
        let failing = failing.clone();
        Proxy::start(&registry.host(), move |head, _| {
            let write = !matches!(head.method.as_str(), "GET" | "HEAD");
            if write && failing.load(Ordering::SeqCst) {
                Action::status(503)
            } else {
                Action::Forward
            }
        })
    };
    let keys = keys();
    // Bound to a port and closed again: connections to it are refused.
    let down = format!("127.0.0.1:{}", free_port());
    let config = keys.config(
        "nodefit.toml",
        None,
        &[
            ("down", anonymous(&down)),
            ("flaky", anonymous(&proxy.host())),
        ],
    );
    let (store, _data) = sqlite();
    let server = serve(&store, &config);
    let spec = create_spec(&server, "x86", SPEC);

    let started = Instant::now();
    publish(&server, ADMIN, spec, "down").expect_error(502, "registry_unavailable");
    // Connection errors are retried with backoff (0.2 s, 0.4 s, 0.8 s), well within the
    // 28 s the request may spend on the registry.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    publish(&server, ADMIN, spec, "flaky").expect_error(502, "registry_unavailable");
    let writes: Vec<String> = proxy
        .seen()
        .iter()
        .filter(|h| !matches!(h.method.as_str(), "GET" | "HEAD"))
        .map(|h| h.line())
        .collect();
    // Each write is tried 4 times (the retry policy's attempts) before the publish gives up;
    // the two blobs of the artifact are pushed side by side, so up to 8 arrive.
    assert!(
        (4..=8).contains(&writes.len())
            && writes
                .iter()
                .all(|w| w == "POST /v2/demo/app/blobs/uploads/"),
        "{writes:?}"
    );
    assert!(publications(&server).is_empty(), "nothing recorded");

    failing.store(false, Ordering::SeqCst);
    let published = publish(&server, ADMIN, spec, "flaky");
    published.expect(201);
    assert_eq!(publications(&server).len(), 1);
    let listed = referrers(&server, "flaky");
    assert_eq!(
        listed["artifacts"].as_array().unwrap().len(),
        1,
        "the failed attempt left no artifact: {listed}"
    );
    assert_eq!(
        listed["artifacts"][0]["digest"],
        published.json()["artifactDigest"]
    );
}

/// A publish whose signature cannot be written (the registry refuses the `.sig` tag) is a 502
/// with nothing recorded, and leaves its artifact attached but unsigned; publishing again
/// attaches nothing new and signs that artifact.
#[test]
fn a_retry_after_a_failed_signature_signs_the_artifact_already_attached() {
    let registry = Registry::distribution();
    testbed::seed_image(&registry, "demo/app:v1");
    let failing = Arc::new(AtomicBool::new(true));
    let proxy = {
        let failing = failing.clone();
        Proxy::start(&registry.host(), move |head, _| {
            let signature = head.method == "PUT" && head.path().ends_with(".sig");
            if signature && failing.load(Ordering::SeqCst) {
                Action::status(503)
            } else {
                Action::Forward
            }
        })
    };
    let keys = keys();
    let config = keys.config("nodefit.toml", None, &[("lab", anonymous(&proxy.host()))]);
    let (store, _data) = sqlite();
    let server = serve(&store, &config);
    let spec = create_spec(&server, "x86", SPEC);

    publish(&server, ADMIN, spec, "lab").expect_error(502, "registry_unavailable");
    assert!(publications(&server).is_empty(), "nothing recorded");
    let listed = referrers(&server, "lab");
    let artifacts = listed["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "{listed}");
    let classic = |artifact: &serde_json::Value| {
        artifact["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["format"] == "classic")
            .count()
    };
    assert_eq!(classic(&artifacts[0]), 0, "{listed}");
    let attached = artifacts[0]["digest"].clone();

    failing.store(false, Ordering::SeqCst);
    let published = publish(&server, ADMIN, spec, "lab");
    published.expect(201);
    assert_eq!(published.json()["artifactDigest"], attached);
    assert!(published.json()["signatureDigest"].is_string());
    let listed = referrers(&server, "lab");
    let artifacts = listed["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "attached once: {listed}");
    assert_eq!(artifacts[0]["digest"], attached);
    assert_eq!(classic(&artifacts[0]), 1, "{listed}");
}

/// A registry that accepts connections and never answers (SIGSTOP): the publish stops talking
/// to it 2 s before the request time is up and answers 502 with the registry's error, not a
/// bare 408 from the request timeout; after it resumes, the publish goes through.
#[test]
fn a_hung_registry_is_a_502_before_the_request_time_is_up() {
    const REQUEST_TIMEOUT: u64 = 6;
    let registry = Registry::referrers();
    testbed::seed_image(&registry, "demo/app:v1");
    let keys = keys();
    let config = keys.config(
        "nodefit.toml",
        Some(REQUEST_TIMEOUT),
        &[("oci", anonymous(&registry.host()))],
    );
    let (store, _data) = sqlite();
    let server = serve(&store, &config);
    let spec = create_spec(&server, "x86", SPEC);

    registry.pause();
    let started = Instant::now();
    let answer = publish(&server, ADMIN, spec, "oci");
    let took = started.elapsed();
    registry.resume();
    answer.expect_error(502, "registry_unavailable");
    let deadline = Duration::from_secs(REQUEST_TIMEOUT - 2);
    assert!(
        took >= deadline - Duration::from_millis(200) && took < Duration::from_secs(REQUEST_TIMEOUT),
        "answered after {took:?}: the registry deadline is {deadline:?}, the request time {REQUEST_TIMEOUT} s"
    );
    publish(&server, ADMIN, spec, "oci").expect(201);
}

/// An identical publish still running on another server of the same database when this one
/// must answer: 409 `publish_in_progress` (nothing attached twice); once the first has
/// finished, the same request gets its publication. The first server's registry requests are
/// stalled by a proxy; the second server has a short request time, so it must answer while the
/// first is still at work.
#[test]
fn an_identical_publish_still_running_elsewhere_is_a_409_then_its_publication() {
    const STALL: Duration = Duration::from_secs(8);
    let registry = Registry::referrers();
    testbed::seed_image(&registry, "demo/app:v1");
    let stalled_once = Arc::new(AtomicBool::new(false));
    let proxy = {
        let stalled_once = stalled_once.clone();
        // Listing the image's referrers is the publisher's first request after taking the
        // claim: stalling it there keeps the claim held.
        Proxy::start(&registry.host(), move |head, _| {
            if head.path().contains("/referrers/") && !stalled_once.swap(true, Ordering::SeqCst) {
                Action::Delay(STALL)
            } else {
                Action::Forward
            }
        })
    };
    let keys = keys();
    let registries = [("oci", anonymous(&proxy.host()))];
    let patient = keys.config("patient.toml", None, &registries);
    let hasty = keys.config("hasty.toml", Some(3), &registries);
    let store = postgres_db();
    let first = serve(&store, &patient);
    let second = serve(&store, &hasty);
    let spec = create_spec(&first, "x86", SPEC);

    std::thread::scope(|scope| {
        let running = scope.spawn(|| publish(&first, ADMIN, spec, "oci"));
        let waited = Instant::now();
        while !stalled_once.load(Ordering::SeqCst) {
            assert!(
                waited.elapsed() < Duration::from_secs(30),
                "the first publish never reached the registry"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let started = Instant::now();
        let error = publish(&second, ADMIN, spec, "oci").expect_error(409, "publish_in_progress");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(600) && took < Duration::from_secs(3),
            "waited for the first publish until 1 s (request time − 2 s) was used up: {took:?} {error}"
        );
        assert!(
            !running.is_finished(),
            "the first publish was still running"
        );
        running.join().unwrap().expect(201);
    });
    let first_publication = publications(&first);
    assert_eq!(first_publication.len(), 1);
    let again = publish(&second, ADMIN, spec, "oci");
    again.expect(200);
    assert_eq!(again.json()["id"], first_publication[0]["id"]);
    assert_eq!(
        referrers(&second, "oci")["artifacts"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "attached once"
    );
}

/// A publish request whose body stops arriving half-way (a slow or hostile client): 408 when
/// the request time is up, and the server goes on serving.
#[test]
fn a_publish_whose_body_never_arrives_is_a_408_at_the_request_time() {
    const REQUEST_TIMEOUT: u64 = 2;
    let keys = keys();
    let config = keys.config(
        "nodefit.toml",
        Some(REQUEST_TIMEOUT),
        &[("down", anonymous(&format!("127.0.0.1:{}", free_port())))],
    );
    let (store, _data) = sqlite();
    let server = serve(&store, &config);
    let body = br#"{"specId": 1, "registry": "down", "image": "demo/app:v1"}"#;
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /api/v1/publish HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..body.len() / 2]).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    // The server closes the connection after answering; only the status line is needed.
    let mut buffer = [0; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream
            .read(&mut buffer)
            .expect("an answer before the read timeout");
        assert!(
            n > 0,
            "closed without an answer after {:?}",
            started.elapsed()
        );
        answer.extend_from_slice(&buffer[..n]);
    }
    let took = started.elapsed();
    let response = server_support::parse_response(&answer);
    assert_eq!(response.status, 408, "{}", String::from_utf8_lossy(&answer));
    assert!(
        took >= Duration::from_millis(REQUEST_TIMEOUT * 1000 - 200)
            && took < Duration::from_secs(REQUEST_TIMEOUT + 3),
        "answered after {took:?}, the request time is {REQUEST_TIMEOUT} s"
    );
    server.request("GET", "/healthz", None, None).expect(200);
}

/// A notation test certificate made by the real notation (`cert generate-test`), trusted by a
/// strict notation policy in `xdg/notation`: `(key, certificate)`.
fn notation_identity(xdg: &Path, name: &str) -> (PathBuf, PathBuf) {
    let out = testbed::run(
        testbed::notation_cmd()
            .env("HOME", xdg)
            .env("XDG_CONFIG_HOME", xdg)
            .args(["cert", "generate-test", "--default", name]),
    );
    out.assert_success();
    std::fs::write(
        xdg.join("notation/trustpolicy.json"),
        format!(
            r#"{{"version": "1.0", "trustPolicies": [{{"name": "t", "registryScopes": ["*"],
            "signatureVerification": {{"level": "strict"}}, "trustStores": ["ca:{name}"],
            "trustedIdentities": ["*"]}}]}}"#
        ),
    )
    .unwrap();
    let keys = xdg.join("notation/localkeys");
    (
        keys.join(format!("{name}.key")),
        keys.join(format!("{name}.crt")),
    )
}

fn image_spec(server: &Server, image: &str) -> server_support::Response {
    server.get(
        &format!("/api/v1/images/spec?registry=lab&image={image}"),
        ADMIN,
    )
}

/// `[trust] policy_file`: the server signs in the formats its policy requires (a Notary Project
/// signature from notation's own test certificate beside a bundle), refuses to publish what the
/// policy would refuse, lists each artifact as trusted or not, serves only trusted specs for
/// evaluation, and refuses repositories no scope covers. notation itself verifies the server's
/// signature under its strict policy.
#[test]
fn the_trust_policy_decides_what_is_published_listed_and_served() {
    let registry = Registry::distribution();
    testbed::seed_image(&registry, "demo/app:v1");
    testbed::seed_image(&registry, "other/app:v1");
    let keys = keys();
    let dir = keys.dir.path();
    let xdg = dir.join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    let (notation_key, notation_cert) = notation_identity(&xdg, "release");
    std::fs::write(
        dir.join("trust.json"),
        format!(
            r#"{{"version": "1", "policies": [
              {{"name": "release", "scopes": ["{}/demo/*"], "require": "all-of",
                "trust": [{{"cosignKey": "cosign.pub"}}, {{"notationConfig": "xdg/notation"}}]}}]}}"#,
            registry.host()
        ),
    )
    .unwrap();
    let config = |name: &str, signing: &str| {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "[trust]\npolicy_file = \"trust.json\"\n\n[signing]\n{signing}\n\n\
                 [registries.lab]\nhost = {:?}\nplain_http = true\n",
                registry.host()
            ),
        )
        .unwrap();
        path
    };
    let (store, _data) = sqlite();

    // Signing with the cosign key alone: the policy needs notation's signature too, so the
    // publish is refused before anything is written.
    let bundle_only = config(
        "bundle-only.toml",
        &format!("key_file = {:?}\nformats = [\"bundle\"]", keys.key),
    );
    let server = serve(&store, &bundle_only);
    let spec = create_spec(&server, "x86", SPEC);
    let refused = publish(&server, ADMIN, spec, "lab").expect_error(422, "untrusted_publish");
    let message = refused["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains("\"release\"") && message.contains("each") && message.contains("bundle"),
        "{refused}"
    );
    assert!(!message.contains(&registry.host()), "no host: {refused}");
    assert_eq!(
        referrers(&server, "lab")["artifacts"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "nothing attached"
    );
    drop(server);

    // Both: published, listed as trusted, served.
    let both = config(
        "both.toml",
        &format!(
            "key_file = {:?}\nnotation_key_file = {notation_key:?}\nnotation_cert_file = \
             {notation_cert:?}\nformats = [\"bundle\", \"notation\"]",
            keys.key
        ),
    );
    let server = serve(&store, &both);
    let published = publish(&server, ADMIN, spec, "lab");
    published.expect(201);
    let publication = published.json();
    let formats: Vec<&str> = publication["signed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["bundle", "notation"], "{publication}");
    let artifact = publication["artifactDigest"].as_str().unwrap().to_owned();
    let listed = referrers(&server, "lab");
    assert_eq!(listed["trust"], "release", "{listed}");
    let first = &listed["artifacts"][0];
    assert_eq!(first["trusted"], true, "{listed}");
    assert!(
        first["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["verified"] == true),
        "{listed}"
    );
    let served = image_spec(&server, "demo/app:v1");
    served.expect(200);
    assert_eq!(served.json()["content"], SPEC);

    // notation verifies the server's Notary Project signature under its strict policy.
    let at = format!("{}/demo/app@{artifact}", registry.host());
    let out = testbed::run(
        testbed::notation_cmd()
            .env("HOME", &xdg)
            .env("XDG_CONFIG_HOME", &xdg)
            .args(["verify", "--insecure-registry", &at]),
    );
    out.assert_success();

    // An unsigned artifact attached on top is what NFD would now use: listed as not trusted,
    // and not served for evaluation.
    let unsigned = dir.join("unsigned.yaml");
    std::fs::write(&unsigned, SPEC.replace("x86 nodes", "unsigned")).unwrap();
    let attach_unsigned = |image: &str| {
        let image = format!("{}/{image}", registry.host());
        let out = nodefit(
            &[
                "attach",
                "--image",
                &image,
                "--plain-http",
                unsigned.to_str().unwrap(),
            ],
            "",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    attach_unsigned("demo/app:v1");
    let listed = referrers(&server, "lab");
    assert_eq!(listed["artifacts"][0]["trusted"], false, "{listed}");
    assert_eq!(listed["artifacts"][1]["trusted"], true, "{listed}");
    let refused = image_spec(&server, "demo/app:v1").expect_error(422, "untrusted");
    assert_eq!(refused["details"]["refusal"], "no-signature", "{refused}");
    assert!(!refused.to_string().contains(&registry.host()), "{refused}");
    // The trusted one is still served when asked for by digest.
    let by_digest = server.get(
        &format!("/api/v1/images/spec?registry=lab&image=demo/app:v1&artifact={artifact}"),
        ADMIN,
    );
    by_digest.expect(200);

    // A repository outside every scope: nothing there is trusted or published.
    attach_unsigned("other/app:v1");
    image_spec(&server, "other/app:v1").expect_error(422, "no_trust_policy");
    let listed = server.get(
        "/api/v1/images/referrers?registry=lab&image=other/app:v1",
        ADMIN,
    );
    listed.expect(200);
    assert_eq!(
        listed.json()["artifacts"][0]["trusted"],
        false,
        "{}",
        listed.text()
    );
    server
        .json(
            "POST",
            "/api/v1/publish",
            ADMIN,
            &json!({"specId": spec, "registry": "lab", "image": "other/app:v1"}),
        )
        .expect_error(422, "no_trust_policy");
}
