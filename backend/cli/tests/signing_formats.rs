//! Sigstore bundles (cosign 3.x from Debian sid) and Notary Project signatures (notation from
//! Debian sid) both ways, on distribution 2.8 (no referrers API: the fallback index) and on
//! the referrers-API registry: what nodefit signs, the reference tool verifies; what the
//! reference tool signs, nodefit verifies; and both refuse the same forgeries, each with its
//! own message. Certificates are made when the test runs (notation's test certificates are
//! valid for 24 hours; the expired one with openssl).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use nodefit_e2e::testbed::{
    cosign3_cmd, notation_cmd, oras_cmd, run, seed_image, Output, Registry, TempDir,
};
use serde_json::Value;

const REFUSED: i32 = 4;
const PASSWORD: &str = "bundles";

struct Bed {
    registry: Registry,
    dir: TempDir,
    repo: String,
}

impl Bed {
    fn new(registry: Registry) -> Self {
        seed_image(&registry, "demo/app:v1");
        let dir = TempDir::new("formats");
        for sub in ["docker-config", "home", "xdg", "other-xdg"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let repo = format!("{}/demo/app", registry.host());
        Bed {
            registry,
            dir,
            repo,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn nodefit(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodefit"));
        cmd.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("DOCKER_CONFIG", self.path("docker-config"))
            .env("NODEFIT_KEY_PASSWORD", PASSWORD)
            .args(args);
        run(&mut cmd)
    }

    /// `nodefit <command> --image REPO:v1 --plain-http <args>`.
    fn on_image(&self, command: &str, args: &[&str]) -> Output {
        let image = format!("{}:v1", self.repo);
        let mut all = vec![command, "--image", &image, "--plain-http"];
        all.extend_from_slice(args);
        self.nodefit(&all)
    }

    fn attach(&self, description: &str) -> String {
        let name = format!("{description}.yaml");
        fs::write(
            self.path(&name),
            format!(
                "version: v1alpha1\ncompatibilities:\n- description: {description:?}\n  rules:\n  \
                 - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      \
                 matchExpressions:\n        vendor_id: {{op: In, value: [Intel, AMD]}}\n"
            ),
        )
        .unwrap();
        let out = self.on_image("attach", &[&name]);
        out.assert_success();
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("Digest: "))
            .unwrap()
            .to_owned()
    }

    fn at(&self, artifact: &str) -> String {
        format!("{}@{artifact}", self.repo)
    }

    fn cosign3(&self, args: &[&str]) -> Output {
        run(cosign3_cmd()
            .current_dir(self.dir.path())
            .env("HOME", self.path("home"))
            .env("COSIGN_PASSWORD", PASSWORD)
            .args(args))
    }

    fn cosign3_verify(&self, public: &str, artifact: &str) -> Output {
        self.cosign3(&[
            "verify",
            "--key",
            public,
            "--insecure-ignore-tlog",
            "--allow-insecure-registry",
            &self.at(artifact),
        ])
    }

    fn notation(&self, xdg: &str, args: &[&str]) -> Output {
        run(notation_cmd()
            .current_dir(self.dir.path())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path(xdg))
            .args(args))
    }

    /// A notation test certificate `name` in the configuration `xdg`, trusted by a strict
    /// policy there: `(key, certificate)` paths.
    fn notation_identity(&self, xdg: &str, name: &str) -> (String, String) {
        self.notation(xdg, &["cert", "generate-test", "--default", name])
            .assert_success();
        fs::write(
            self.path(xdg).join("notation/trustpolicy.json"),
            format!(
                r#"{{"version": "1.0", "trustPolicies": [{{"name": "t", "registryScopes": ["*"],
                "signatureVerification": {{"level": "strict"}}, "trustStores": ["ca:{name}"],
                "trustedIdentities": ["*"]}}]}}"#
            ),
        )
        .unwrap();
        let keys = self.path(xdg).join("notation/localkeys");
        (
            keys.join(format!("{name}.key")).display().to_string(),
            keys.join(format!("{name}.crt")).display().to_string(),
        )
    }

    fn notation_verify(&self, xdg: &str, artifact: &str) -> Output {
        self.notation(xdg, &["verify", "--insecure-registry", &self.at(artifact)])
    }

    fn verify_json(&self, artifact: &str, trust: &[&str]) -> (Option<i32>, Value) {
        let mut args = vec!["--artifact", artifact, "--output", "json"];
        args.extend_from_slice(trust);
        let out = self.on_image("verify", &args);
        let json = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
        (out.status.code(), json)
    }

    /// Copies a signature's envelope or bundle onto another artifact with oras, as a forger
    /// would: same bytes, listed as a referrer of `onto`.
    fn copy_signature(&self, layer: &Path, artifact_type: &str, media_type: &str, onto: &str) {
        let name = layer.file_name().unwrap().to_str().unwrap();
        run(oras_cmd()
            .current_dir(layer.parent().unwrap())
            .args(["attach", "--plain-http", "--artifact-type", artifact_type])
            .arg(self.at(onto))
            .arg(format!("{name}:{media_type}")))
        .assert_success();
    }

    /// The first layer's bytes of the referrer of `artifact` of `artifact_type`, saved to
    /// `name`.
    fn save_signature(&self, artifact: &str, artifact_type: &str, name: &str) -> PathBuf {
        let out = self.on_image("discover", &["--output", "json"]);
        out.assert_success();
        let json: Value = serde_json::from_str(&out.stdout).unwrap();
        let reference = json["referrers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["digest"] == artifact)
            .and_then(|r| r["signatures"].as_array())
            .and_then(|s| {
                s.iter().find(|s| {
                    s["format"]
                        == if artifact_type.contains("sigstore") {
                            "bundle"
                        } else {
                            "notation"
                        }
                })
            })
            .unwrap_or_else(|| panic!("no {artifact_type} signature: {out}"))["reference"]
            .as_str()
            .unwrap()
            .to_owned();
        let manifest: Value = serde_json::from_slice(
            &self
                .registry
                .http(
                    "GET",
                    &format!("/v2/demo/app/manifests/{reference}"),
                    &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
                )
                .body,
        )
        .unwrap();
        let blob = self.registry.http(
            "GET",
            &format!(
                "/v2/demo/app/blobs/{}",
                manifest["layers"][0]["digest"].as_str().unwrap()
            ),
            &[],
        );
        let dir = self.path("forged");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), &blob.body).unwrap();
        dir.join(name)
    }
}

#[track_caller]
fn refused(out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(REFUSED), "{out}");
    assert!(out.stderr.contains(message), "expected {message:?}: {out}");
}

fn bundles_both_ways(bed: &Bed) {
    bed.nodefit(&["keygen", "--cosign-format", "--output-key", "ours.key"])
        .assert_success();
    bed.nodefit(&["keygen", "--cosign-format", "--output-key", "other.key"])
        .assert_success();

    // nodefit signs (the default format is a bundle); cosign 3 verifies it, and finds it as a
    // bundle: there is no `.sig` tag to fall back to.
    let ours = bed.attach("nodefit signs");
    let out = bed.on_image("sign", &["--key", "ours.key", "--artifact", &ours]);
    out.assert_success();
    assert!(out.stdout.contains("as a sigstore bundle"), "{out}");
    let sig_tag = format!("sha256-{}.sig", &ours["sha256:".len()..]);
    let tag = bed
        .registry
        .http("HEAD", &format!("/v2/demo/app/manifests/{sig_tag}"), &[]);
    assert_eq!(tag.status, 404, "no classic signature was written");
    bed.cosign3_verify("ours.pub", &ours).assert_success();
    let out = bed.cosign3(&[
        "verify",
        "--key",
        "ours.pub",
        "--insecure-ignore-tlog",
        "--allow-insecure-registry",
        "--new-bundle-format=false",
        &bed.at(&ours),
    ]);
    out.assert_failure();
    let (code, json) = bed.verify_json(&ours, &["--key", "ours.pub"]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["signatures"][0]["format"], "bundle");
    assert_eq!(json["signatures"][0]["verified"], true);
    // Signing again writes nothing.
    let out = bed.on_image("sign", &["--key", "ours.key", "--artifact", &ours]);
    assert!(out.stdout.starts_with("Already signed"), "{out}");

    // cosign 3 signs; nodefit verifies.
    run(cosign3_cmd()
        .current_dir(bed.dir.path())
        .env("HOME", bed.path("home"))
        .args([
            "signing-config",
            "create",
            "--no-default-fulcio",
            "--no-default-oidc",
            "--no-default-rekor",
            "--no-default-tsa",
            "--out",
            "sc.json",
        ]))
    .assert_success();
    let theirs = bed.attach("cosign signs");
    bed.cosign3(&[
        "sign",
        "--key",
        "ours.key",
        "--signing-config",
        "sc.json",
        "--allow-insecure-registry",
        &bed.at(&theirs),
    ])
    .assert_success();
    let (code, json) = bed.verify_json(&theirs, &["--key", "ours.pub"]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["signatures"][0]["format"], "bundle");

    // Wrong key: refused by both.
    let out = bed.on_image("verify", &["--key", "other.pub", "--artifact", &theirs]);
    refused(&out, "signature does not verify with this key");
    assert!(
        out.stderr.contains("bundle signature does not verify"),
        "{out}"
    );
    bed.cosign3_verify("other.pub", &theirs).assert_failure();

    // Unsigned: refused by both.
    let unsigned = bed.attach("unsigned");
    let out = bed.on_image("verify", &["--key", "ours.pub", "--artifact", &unsigned]);
    refused(&out, "no signature found");
    bed.cosign3_verify("ours.pub", &unsigned).assert_failure();

    // Tampered: the spec changed (a new artifact), cosign's genuine bundle copied onto it.
    // Its statement names the signed artifact, not this one.
    let bundle = bed.save_signature(
        &theirs,
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "bundle.json",
    );
    bed.copy_signature(
        &bundle,
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        &unsigned,
    );
    let out = bed.on_image("verify", &["--key", "ours.pub", "--artifact", &unsigned]);
    refused(
        &out,
        "payload digest does not match the artifact (tampered)",
    );
    assert!(
        out.stderr.contains("statement subject is another artifact"),
        "{out}"
    );
    assert!(out.stderr.contains(&theirs), "{out}");
    bed.cosign3_verify("ours.pub", &unsigned).assert_failure();

    // fetch and validate-node refuse it too, before writing or evaluating anything.
    let out = bed.on_image("fetch", &["--verify-key", "ours.pub"]);
    refused(&out, "(tampered)");
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn bundles_on_distribution() {
    bundles_both_ways(&Bed::new(Registry::distribution()));
}

#[test]
fn bundles_on_a_registry_with_the_referrers_api() {
    bundles_both_ways(&Bed::new(Registry::referrers()));
}

/// An expired code-signing certificate: valid from 2020 until 3 seconds from now.
fn short_lived_certificate(dir: &Path) -> (String, String) {
    let ca = dir.join("ca");
    fs::create_dir_all(&ca).unwrap();
    fs::write(ca.join("index.txt"), "").unwrap();
    fs::write(ca.join("serial"), "01\n").unwrap();
    fs::write(
        ca.join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
         default_md = sha256\npolicy = p\nx509_extensions = ext\nunique_subject = no\n[p]\n\
         countryName = optional\nstateOrProvinceName = optional\norganizationName = optional\n\
         commonName = supplied\n[ext]\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = codeSigning\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        run(Command::new("openssl").current_dir(&ca).args(args)).assert_success();
    };
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "exp.key",
        "-out",
        "exp.csr",
        "-subj",
        "/C=US/ST=WA/O=Expired/CN=expired",
    ]);
    let until = run(Command::new("date").args(["-u", "-d", "+3 seconds", "+%Y%m%d%H%M%SZ"]));
    openssl(&[
        "ca",
        "-batch",
        "-config",
        "ca.cnf",
        "-selfsign",
        "-keyfile",
        "exp.key",
        "-in",
        "exp.csr",
        "-out",
        "exp.crt",
        "-notext",
        "-startdate",
        "20200101000000Z",
        "-enddate",
        until.stdout.trim(),
    ]);
    (
        ca.join("exp.key").display().to_string(),
        ca.join("exp.crt").display().to_string(),
    )
}

fn notation_both_ways(bed: &Bed) {
    let (key, cert) = bed.notation_identity("xdg", "nodefit-test");
    let (_, other_cert) = bed.notation_identity("other-xdg", "someone-else");
    let config = bed.path("xdg").join("notation").display().to_string();

    // notation signs, JWS and COSE; nodefit verifies both, with notation's own configuration
    // and with the certificate given.
    let jws = bed.attach("notation jws");
    bed.notation("xdg", &["sign", "--insecure-registry", &bed.at(&jws)])
        .assert_success();
    let cose = bed.attach("notation cose");
    bed.notation(
        "xdg",
        &[
            "sign",
            "--insecure-registry",
            "--signature-format",
            "cose",
            &bed.at(&cose),
        ],
    )
    .assert_success();
    for (artifact, envelope) in [(&jws, "jws"), (&cose, "cose")] {
        let (code, json) = bed.verify_json(artifact, &["--notation-config", &config]);
        assert_eq!(code, Some(0), "{json}");
        let signature = &json["signatures"][0];
        assert_eq!(
            (&signature["format"], &signature["envelope"]),
            (&Value::from("notation"), &Value::from(envelope))
        );
        assert!(
            signature["signer"]
                .as_str()
                .unwrap()
                .contains("CN=nodefit-test"),
            "{json}"
        );
        let (code, json) = bed.verify_json(artifact, &["--trusted-cert", &cert]);
        assert_eq!(code, Some(0), "{json}");
    }

    // nodefit signs, JWS and COSE; notation verifies under its strict policy.
    for envelope in ["jws", "cose"] {
        let artifact = bed.attach(&format!("nodefit {envelope}"));
        let out = bed.on_image(
            "sign",
            &[
                "--format",
                "notation",
                "--key",
                &key,
                "--cert",
                &cert,
                "--envelope",
                envelope,
                "--artifact",
                &artifact,
            ],
        );
        out.assert_success();
        assert!(
            out.stdout.contains("as a Notary Project signature"),
            "{out}"
        );
        bed.notation_verify("xdg", &artifact).assert_success();
        bed.on_image(
            "verify",
            &["--notation-config", &config, "--artifact", &artifact],
        )
        .assert_success();
    }

    // Certificate not trusted: refused by both.
    let out = bed.on_image(
        "verify",
        &["--trusted-cert", &other_cert, "--artifact", &jws],
    );
    refused(&out, "certificate not trusted");
    bed.notation_verify("other-xdg", &jws).assert_failure();

    // Tampered: the spec changed, notation's genuine envelope copied onto the new artifact.
    let forged = bed.attach("forged");
    let envelope = bed.save_signature(&jws, "application/vnd.cncf.notary.signature", "sig.jws");
    bed.copy_signature(
        &envelope,
        "application/vnd.cncf.notary.signature",
        "application/jose+json",
        &forged,
    );
    let out = bed.on_image(
        "verify",
        &["--notation-config", &config, "--artifact", &forged],
    );
    refused(
        &out,
        "payload digest does not match the artifact (tampered)",
    );
    assert!(
        out.stderr
            .contains(&format!("the signed payload names {jws}")),
        "{out}"
    );
    bed.notation_verify("xdg", &forged).assert_failure();

    // Expired certificate: signed while valid, verified once it has expired.
    let (expired_key, expired_cert) = short_lived_certificate(bed.dir.path());
    let expiring = bed.attach("expiring");
    bed.on_image(
        "sign",
        &[
            "--format",
            "notation",
            "--key",
            &expired_key,
            "--cert",
            &expired_cert,
            "--artifact",
            &expiring,
        ],
    )
    .assert_success();
    std::thread::sleep(std::time::Duration::from_secs(4));
    let out = bed.on_image(
        "verify",
        &["--trusted-cert", &expired_cert, "--artifact", &expiring],
    );
    refused(&out, "certificate expired");
    let store = bed.path("xdg").join("notation/truststore/x509/ca/expired");
    fs::create_dir_all(&store).unwrap();
    fs::copy(&expired_cert, store.join("exp.crt")).unwrap();
    fs::write(
        bed.path("xdg").join("notation/trustpolicy.json"),
        r#"{"version": "1.0", "trustPolicies": [{"name": "t", "registryScopes": ["*"],
           "signatureVerification": {"level": "strict"}, "trustStores": ["ca:expired"],
           "trustedIdentities": ["*"]}]}"#,
    )
    .unwrap();
    bed.notation_verify("xdg", &expiring).assert_failure();
}

#[test]
fn notation_on_distribution() {
    notation_both_ways(&Bed::new(Registry::distribution()));
}

#[test]
fn notation_on_a_registry_with_the_referrers_api() {
    notation_both_ways(&Bed::new(Registry::referrers()));
}

/// One trust policy: a scope that needs a bundle by one key and a Notary Project signature,
/// all of them; a scope that needs nothing; a repository no scope covers.
#[test]
fn one_trust_policy_for_every_format() {
    let bed = Bed::new(Registry::distribution());
    bed.nodefit(&["keygen", "--cosign-format", "--output-key", "ci.key"])
        .assert_success();
    let (key, cert) = bed.notation_identity("xdg", "release");
    let artifact = bed.attach("both");
    let policy = |require: &str, scope: &str| {
        fs::write(
            bed.path("policy.json"),
            format!(
                r#"{{"version": "1", "policies": [
                  {{"name": "app", "scopes": ["{scope}"], "require": "{require}",
                    "trust": [{{"cosignKey": "ci.pub"}}, {{"trustedCerts": ["{cert}"], "identities": ["x509.subject: C=US, ST=WA, O=Notary"]}}]}},
                  {{"name": "scratch", "scopes": ["{}/demo/scratch"], "require": "none"}}]}}"#,
                bed.registry.host()
            ),
        )
        .unwrap();
    };
    let scope = format!("{}/demo/*", bed.registry.host());
    policy("all-of", &scope);
    bed.on_image("sign", &["--key", "ci.key"]).assert_success();
    let out = bed.on_image("verify", &["--trust-policy", "policy.json"]);
    refused(&out, "requires a signature by each of its entries");
    bed.on_image(
        "sign",
        &["--format", "notation", "--key", &key, "--cert", &cert],
    )
    .assert_success();
    let (code, json) = bed.verify_json(&artifact, &["--trust-policy", "policy.json"]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["policy"], "app");
    assert_eq!(json["signatures"].as_array().unwrap().len(), 2, "{json}");
    let out = bed.on_image(
        "validate-node",
        &[
            "--trust-policy",
            "policy.json",
            "--snapshot",
            &format!(
                "{}/../../shared/core/tests/data/samples/intel-spr-h100-cx6.features.json",
                env!("CARGO_MANIFEST_DIR")
            ),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out}");
    // discover lists both, verified, under the policy.
    let out = bed.on_image("discover", &["--trust-policy", "policy.json"]);
    out.assert_success();
    assert!(
        out.stdout.contains("bundle sha256:") && out.stdout.contains("notation (jws) sha256:"),
        "{out}"
    );
    assert_eq!(out.stdout.matches(": verified with").count(), 2, "{out}");
    // A repository outside every scope is refused.
    policy("any-of", &format!("{}/elsewhere", bed.registry.host()));
    let out = bed.on_image("fetch", &["--trust-policy", "policy.json"]);
    refused(&out, "no trust policy applies");
}
