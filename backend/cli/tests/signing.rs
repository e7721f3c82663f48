//! Signing and verification against real registries (distribution 2.8 without the referrers
//! API, go-containerregistry with it) and the real cosign (Debian trixie's 2.5) on both sides:
//! what nodefit signs, cosign verifies; what cosign signs, nodefit verifies; keys go both ways.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nodefit_e2e::testbed::{
    cosign_cmd, oras, run, seed_image, seed_multi_arch_image, Output, Registry, TempDir,
};
use serde_json::Value;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// nodefit's exit code for a refused signature check.
const REFUSED: i32 = 4;

/// A `nodefit` command with no credentials, proxies or key password from the environment.
fn nodefit_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodefit"));
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("DOCKER_CONFIG", dir.join("docker-config"))
        .env_remove("NODEFIT_KEY_PASSWORD");
    for proxy in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
    ] {
        cmd.env_remove(proxy);
    }
    cmd
}

fn nodefit<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Output {
    run(nodefit_cmd(dir).args(args))
}

#[track_caller]
fn assert_refused(out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(REFUSED), "{out}");
    assert!(out.stderr.contains(message), "expected {message:?}: {out}");
}

/// One repository on one registry, with a working directory for keys and specs.
struct Bed {
    registry: Registry,
    dir: TempDir,
    /// `host/demo/app`.
    repo: String,
    /// The seeded image's digest.
    image: String,
}

impl Bed {
    fn new(registry: Registry) -> Self {
        let image = seed_image(&registry, "demo/app:v1");
        let dir = TempDir::new("signing");
        fs::create_dir(dir.path().join("docker-config")).unwrap();
        let repo = format!("{}/demo/app", registry.host());
        Bed {
            registry,
            dir,
            repo,
            image,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn nodefit<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        nodefit(self.dir.path(), args)
    }

    /// `nodefit <command> --image REPO:v1 --plain-http <args>`.
    fn on_image(&self, command: &str, args: &[&str]) -> Output {
        let image = format!("{}:v1", self.repo);
        let mut all = vec![command, "--image", &image, "--plain-http"];
        all.extend_from_slice(args);
        self.nodefit(&all)
    }

    /// A key pair from `nodefit keygen` (PKCS#8): `(private, public)` paths.
    fn keygen(&self, name: &str) -> (String, String) {
        let (key, public) = (format!("{name}.key"), format!("{name}.pub"));
        self.nodefit(&["keygen", "--output-key", &key])
            .assert_success();
        (key, public)
    }

    /// Writes a small valid spec told apart by `description`.
    fn spec(&self, name: &str, description: &str) -> String {
        fs::write(
            self.path(name),
            format!(
                "version: v1alpha1\ncompatibilities:\n- description: {description:?}\n  rules:\n  \
                 - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      \
                 matchExpressions:\n        vendor_id: {{op: In, value: [Intel, AMD]}}\n"
            ),
        )
        .unwrap();
        name.to_owned()
    }

    /// Attaches a spec (signed with `key`, if given) and returns the artifact's digest.
    fn attach(&self, spec: &str, key: Option<&str>) -> String {
        let mut args = vec![spec];
        if let Some(key) = key {
            args.extend(["--sign", "--format", "classic", "--key", key]);
        }
        let out = self.on_image("attach", &args);
        out.assert_success();
        if key.is_some() {
            assert!(out.stdout.contains("\nSigned "), "{out}");
        }
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("Digest: "))
            .unwrap_or_else(|| panic!("no digest: {out}"))
            .to_owned()
    }

    /// `nodefit verify --output json`, parsed, and the exit code.
    fn verify_json(&self, public: &str) -> (Option<i32>, Value) {
        let out = self.on_image("verify", &["--key", public, "--output", "json"]);
        let json = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
        (out.status.code(), json)
    }

    /// The manifest under `reference` (a tag or digest) as JSON, `None` if there is none.
    fn manifest(&self, reference: &str) -> Option<Value> {
        let response = self.registry.http(
            "GET",
            &format!("/v2/demo/app/manifests/{reference}"),
            &[("Accept", &format!("{OCI_MANIFEST}, {OCI_INDEX}"))],
        );
        match response.status {
            404 => None,
            200 => Some(serde_json::from_slice(&response.body).unwrap()),
            other => panic!("GET {reference}: {other} {}", response.text()),
        }
    }

    fn signature_layers(&self, artifact: &str) -> usize {
        let tag = sig_tag(artifact);
        self.manifest(&tag).unwrap_or_else(|| panic!("no {tag}"))["layers"]
            .as_array()
            .unwrap()
            .len()
    }

    /// The real cosign's verdict on `artifact`.
    fn cosign_verify(&self, public: &str, artifact: &str) -> Output {
        run(cosign_cmd().current_dir(self.dir.path()).args([
            "verify",
            "--key",
            public,
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            &format!("{}@{artifact}", self.repo),
        ]))
    }

    /// Copies the manifest under tag `from` to tag `to`, with oras.
    fn copy_tag(&self, from: &str, to: &str) {
        oras(&["tag", "--plain-http", &format!("{}:{from}", self.repo), to]).assert_success();
    }
}

fn sig_tag(digest: &str) -> String {
    format!("sha256-{}.sig", digest.strip_prefix("sha256:").unwrap())
}

/// Good key, other key, unsigned, tampered, wrong subject, appending, discover, and the
/// commands that must refuse before evaluating, on one registry.
fn sign_and_verify(bed: &Bed) {
    let (key, public) = bed.keygen("trusted");
    let (other_key, other_public) = bed.keygen("other");
    let spec = bed.spec("spec.yaml", "signed");
    let signed = bed.attach(&spec, Some(&key));
    assert_eq!(bed.signature_layers(&signed), 1);

    // Good key: verified, in text and JSON.
    let out = bed.on_image("verify", &["--key", &public]);
    out.assert_success();
    assert!(
        out.stdout
            .starts_with(&format!("Verified {}@{signed}\n", bed.repo)),
        "{out}"
    );
    let (code, json) = bed.verify_json(&public);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["verified"], true);
    assert_eq!(json["artifact"], signed.as_str());
    assert_eq!(json["subject"], bed.image.as_str());
    let signature = &json["signatures"][0];
    assert_eq!(signature["format"], "classic");
    assert_eq!(signature["verified"], true);
    assert!(
        signature["signer"]
            .as_str()
            .unwrap()
            .ends_with(&format!("(signed as {})", bed.repo)),
        "{json}"
    );

    // Wrong key: refused, with its own message and refusal kind.
    let out = bed.on_image("verify", &["--key", &other_public]);
    assert_refused(&out, "signature does not verify with this key");
    assert!(out.stdout.is_empty(), "{out}");
    let (code, json) = bed.verify_json(&other_public);
    assert_eq!(
        (code, &json["refusal"]),
        (Some(REFUSED), &Value::from("wrong-key"))
    );

    // Signing again with the same key adds nothing; another key appends a second layer, and
    // either key then verifies.
    let out = bed.on_image("sign", &["--format", "classic", "--key", &key]);
    out.assert_success();
    assert!(
        out.stdout.starts_with("Already signed with this key"),
        "{out}"
    );
    assert_eq!(bed.signature_layers(&signed), 1);
    let out = bed.on_image(
        "sign",
        &[
            "--format", "classic", "--key", &other_key, "--output", "json",
        ],
    );
    out.assert_success();
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (json["signatures"].as_u64(), &json["unchanged"]),
        (Some(2), &Value::from(false))
    );
    assert_eq!(bed.signature_layers(&signed), 2);
    for public in [&public, &other_public] {
        bed.on_image("verify", &["--key", public]).assert_success();
    }

    // The verified spec is the one fetched and evaluated.
    let out = bed.on_image("fetch", &["--verify-key", &public]);
    out.assert_success();
    assert_eq!(out.stdout, fs::read_to_string(bed.path(&spec)).unwrap());
    assert!(out.stderr.contains("Verified the signature of"), "{out}");
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/core/tests/data/samples/intel-spr-h100-cx6.features.json");
    let snapshot = snapshot.to_str().unwrap();
    let out = bed.on_image(
        "validate-node",
        &[
            "--verify-key",
            &public,
            "--snapshot",
            snapshot,
            "--output-json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(out.stdout.contains(r#""description":"signed""#), "{out}");

    // Discover shows the signatures under their artifact, one line each.
    let out = bed.on_image("discover", &[]);
    out.assert_success();
    let tag = sig_tag(&signed);
    assert_eq!(
        out.stdout
            .matches(&format!("── classic {tag} layer "))
            .count(),
        2,
        "{out}"
    );

    // Unsigned: a newer artifact, which NFD would use, has no signature.
    let unsigned = bed.attach(&bed.spec("changed.yaml", "changed"), None);
    // With two artifacts discover finds `.sig` tags through the tag list: still the signed
    // one's signatures, and none for the unsigned one.
    let out = bed.on_image("discover", &[]);
    out.assert_success();
    assert_eq!(
        out.stdout
            .matches(&format!("── classic {tag} layer "))
            .count(),
        2,
        "{out}"
    );
    assert!(out.stdout.contains(&unsigned), "{out}");
    assert!(!out.stdout.contains(&sig_tag(&unsigned)), "{out}");
    let out = bed.on_image("verify", &["--key", &public]);
    assert_refused(&out, "no signature found");
    assert!(out.stderr.contains(&unsigned), "{out}");
    let (code, json) = bed.verify_json(&public);
    assert_eq!(
        (code, &json["refusal"]),
        (Some(REFUSED), &Value::from("no-signature"))
    );
    // Nothing is written or evaluated.
    let out = bed.on_image("fetch", &["--verify-key", &public]);
    assert_refused(&out, "no signature found");
    assert!(out.stdout.is_empty(), "{out}");
    let out = bed.on_image(
        "validate-node",
        &["--verify-key", &public, "--snapshot", snapshot],
    );
    assert_refused(&out, "no signature found");
    assert!(out.stdout.is_empty(), "{out}");
    // Without a key, nodefit behaves as NFD: it uses the newest artifact, signed or not.
    let out = bed.on_image("fetch", &[]);
    out.assert_success();
    assert!(out.stdout.contains("changed"), "{out}");
    // --artifact picks the older, signed one.
    bed.on_image("verify", &["--key", &public, "--artifact", &signed])
        .assert_success();

    // Tampered: the genuine signature copied over the changed artifact.
    bed.copy_tag(&sig_tag(&signed), &sig_tag(&unsigned));
    let out = bed.on_image("verify", &["--key", &public]);
    assert_refused(
        &out,
        "payload digest does not match the artifact (tampered)",
    );
    assert!(
        out.stderr.contains(&signed),
        "names the signed manifest: {out}"
    );
    let (code, json) = bed.verify_json(&public);
    assert_eq!(
        (code, &json["refusal"]),
        (Some(REFUSED), &Value::from("tampered"))
    );
    let out = bed.on_image(
        "validate-node",
        &["--verify-key", &public, "--snapshot", snapshot],
    );
    assert_refused(&out, "(tampered)");
    assert!(out.stdout.is_empty(), "{out}");

    // The real cosign agrees: it accepts the signed artifact and refuses the tampered one.
    bed.cosign_verify(&public, &signed).assert_success();
    bed.cosign_verify(&other_public, &signed).assert_success();
    let out = bed.cosign_verify(&public, &unsigned);
    out.assert_failure();
    assert!(
        out.stderr.contains("invalid or missing digest in claim"),
        "{out}"
    );
}

#[test]
fn sign_and_verify_on_distribution_without_referrers_api() {
    sign_and_verify(&Bed::new(Registry::distribution()));
}

#[test]
fn sign_and_verify_on_a_registry_with_the_referrers_api() {
    sign_and_verify(&Bed::new(Registry::referrers()));
}

/// An artifact listed for an image it does not refer to is refused before its signature is
/// looked at: on distribution, anyone who can push may write the fallback index.
#[test]
fn an_artifact_of_another_image_is_refused() {
    let bed = Bed::new(Registry::distribution());
    let (key, public) = bed.keygen("trusted");
    let signed = bed.attach(&bed.spec("spec.yaml", "for amd64"), Some(&key));
    let other = seed_multi_arch_image(&bed.registry, "demo/app:multi").arm64;
    // Copy the image's fallback index (listing the signed artifact) to the other image's tag.
    let hex = |d: &str| d.strip_prefix("sha256:").unwrap().to_owned();
    bed.copy_tag(
        &format!("sha256-{}", hex(&bed.image)),
        &format!("sha256-{}", hex(&other)),
    );
    let out = bed.nodefit(&[
        "verify",
        "--image",
        &format!("{}@{other}", bed.repo),
        "--plain-http",
        "--key",
        &public,
    ]);
    assert_refused(&out, "subject mismatch");
    assert!(
        out.stderr.contains(&signed) && out.stderr.contains(&bed.image),
        "{out}"
    );
}

/// What cosign signs (with a key from `nodefit keygen --cosign-format`), nodefit verifies; a key
/// from `cosign generate-key-pair` signs in nodefit, and cosign verifies that.
fn cosign_interop(bed: &Bed) {
    let password = "correct horse";
    let out = run(nodefit_cmd(bed.dir.path())
        .args(["keygen", "--cosign-format", "--output-key", "ours.key"])
        .env("NODEFIT_KEY_PASSWORD", password));
    out.assert_success();
    let mode = fs::metadata(bed.path("ours.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let pem = fs::read_to_string(bed.path("ours.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));

    let artifact = bed.attach(&bed.spec("spec.yaml", "cosign signs"), None);
    let reference = format!("{}@{artifact}", bed.repo);
    run(cosign_cmd()
        .current_dir(bed.dir.path())
        .env("COSIGN_PASSWORD", password)
        .args([
            "sign",
            "--key",
            "ours.key",
            "--tlog-upload=false",
            "--allow-http-registry",
        ])
        .arg(&reference))
    .assert_success();
    let (code, json) = bed.verify_json("ours.pub");
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["signatures"].as_array().unwrap().len(), 1, "{json}");

    // nodefit recognises cosign's (randomised) signature by the same key as a duplicate.
    let out = run(nodefit_cmd(bed.dir.path())
        .args([
            "sign",
            "--image",
            &format!("{}:v1", bed.repo),
            "--plain-http",
        ])
        .args(["--format", "classic", "--key", "ours.key"])
        .env("NODEFIT_KEY_PASSWORD", password));
    out.assert_success();
    assert!(
        out.stdout.starts_with("Already signed with this key"),
        "{out}"
    );

    // A cosign key pair signs in nodefit, appended to cosign's own signature.
    run(cosign_cmd()
        .current_dir(bed.dir.path())
        .env("COSIGN_PASSWORD", "theirs")
        .args(["generate-key-pair"]))
    .assert_success();
    let out = run(nodefit_cmd(bed.dir.path())
        .args([
            "sign",
            "--image",
            &format!("{}:v1", bed.repo),
            "--plain-http",
        ])
        .args(["--format", "classic", "--key", "cosign.key"])
        .env("NODEFIT_KEY_PASSWORD", "theirs"));
    out.assert_success();
    assert_eq!(bed.signature_layers(&artifact), 2);
    bed.cosign_verify("cosign.pub", &artifact).assert_success();
    bed.cosign_verify("ours.pub", &artifact).assert_success();
    bed.on_image("verify", &["--key", "cosign.pub"])
        .assert_success();

    // A wrong password is said to be one, before anything is sent.
    let out = run(nodefit_cmd(bed.dir.path())
        .args(["sign", "--image", "127.0.0.1:9/nothing:v1", "--plain-http"])
        .args(["--key", "cosign.key"])
        .env("NODEFIT_KEY_PASSWORD", "wrong"));
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("wrong password"), "{out}");
    assert!(
        !out.stderr.contains("wrong\n") && !out.stderr.contains("theirs"),
        "{out}"
    );
}

#[test]
fn cosign_interop_on_distribution() {
    cosign_interop(&Bed::new(Registry::distribution()));
}

#[test]
fn cosign_interop_on_a_registry_with_the_referrers_api() {
    cosign_interop(&Bed::new(Registry::referrers()));
}

/// Keys from `nodefit keygen` work in cosign's offline blob signing, and keygen protects
/// existing files and refuses to prompt without a terminal.
#[test]
fn keygen_writes_keys_cosign_uses() {
    let dir = TempDir::new("keygen");
    let run_keygen = |args: &[&str], password: Option<&str>| {
        let mut cmd = nodefit_cmd(dir.path());
        cmd.arg("keygen").args(args);
        if let Some(password) = password {
            cmd.env("NODEFIT_KEY_PASSWORD", password);
        }
        run(&mut cmd)
    };
    run_keygen(&["--cosign-format", "--output-key", "c.key"], Some("pw")).assert_success();
    fs::write(dir.path().join("blob"), "hello\n").unwrap();
    run(cosign_cmd()
        .current_dir(dir.path())
        .env("COSIGN_PASSWORD", "pw")
        .args(["sign-blob", "--key", "c.key", "--tlog-upload=false"])
        .args(["--output-signature", "blob.sig", "blob"]))
    .assert_success();
    run(cosign_cmd().current_dir(dir.path()).args([
        "verify-blob",
        "--key",
        "c.pub",
        "--insecure-ignore-tlog=true",
        "--signature",
        "blob.sig",
        "blob",
    ]))
    .assert_success();

    // The default, unencrypted PKCS#8, is mode 0600; cosign itself refuses it for signing.
    run_keygen(&[], None).assert_success();
    let mode = |name: &str| {
        fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!((mode("nodefit.key"), mode("nodefit.pub")), (0o600, 0o644));
    let key = fs::read(dir.path().join("nodefit.key")).unwrap();

    let out = run_keygen(&[], None);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("nodefit.key exists; --force replaces it"),
        "{out}"
    );
    assert_eq!(fs::read(dir.path().join("nodefit.key")).unwrap(), key);
    run_keygen(&["--force"], None).assert_success();
    assert_ne!(fs::read(dir.path().join("nodefit.key")).unwrap(), key);

    let out = run_keygen(&["--cosign-format", "--output-key", "p.key"], None);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("set NODEFIT_KEY_PASSWORD"), "{out}");
    assert!(!dir.path().join("p.key").exists());
}
