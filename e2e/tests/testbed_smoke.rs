//! Checks that the test bed behaves as the integration tests assume: each registry kind accepts
//! seeded images and oras attachments, and exposes referrers the way its kind promises (the
//! referrers API on go-containerregistry, the `sha256-<hex>` tag fallback on distribution 2.8).
//! If one of these fails, the test bed is broken, not nodefit.

use std::fs;
use std::process::Command;

use nodefit_e2e::testbed::{
    self, oras_cmd, run, seed_image, seed_multi_arch_image, sha256_digest, Registry, RegistryKind,
    TempDir,
};
use serde_json::Value;

const ARTIFACT_TYPE: &str = "application/vnd.nfd.image-compatibility.v1alpha1";
const SPEC_MEDIA_TYPE: &str = "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Attaches a compatibility spec with `oras attach` to `subject` (`repo:tag` or `repo@digest`)
/// and returns the artifact manifest's digest, checked against the manifest oras exported.
fn attach(registry: &Registry, subject: &str, spec: &str) -> String {
    let dir = TempDir::new("attach");
    fs::write(dir.path().join("spec.yaml"), spec).unwrap();
    let out = run(oras_cmd()
        .current_dir(dir.path())
        .args(["attach", "--plain-http", "--artifact-type", ARTIFACT_TYPE])
        .args(registry.oras_auth_args())
        .args(["--export-manifest", "manifest.json"])
        .arg(format!("{}/{subject}", registry.host()))
        .arg(format!("spec.yaml:{SPEC_MEDIA_TYPE}")));
    out.assert_success();
    let digest = out
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("no `Digest:` line in {out}"))
        .trim()
        .to_owned();
    let exported = fs::read(dir.path().join("manifest.json")).unwrap();
    assert_eq!(sha256_digest(&exported), digest, "{out}");
    digest
}

/// The referrers of `subject` as `oras discover --format json` lists them.
fn discover(registry: &Registry, subject: &str) -> Vec<Value> {
    let out = run(oras_cmd()
        .args(["discover", "--plain-http", "--format", "json"])
        .args(registry.oras_auth_args())
        .arg(format!("{}/{subject}", registry.host())));
    out.assert_success();
    let json: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    // oras 1.2 says "manifests"; 1.3 renamed the list to "referrers".
    json.get("manifests")
        .or_else(|| json.get("referrers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| panic!("no referrer list in {out}"))
}

fn digests_of(descriptors: &[Value]) -> Vec<&str> {
    descriptors
        .iter()
        .map(|d| d["digest"].as_str().expect("descriptor digest"))
        .collect()
}

fn json_body(response: &testbed::HttpResponse) -> Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("{e}: body {:?}", response.text()))
}

/// Fetches a manifest by tag or digest and checks the registry serves exactly `digest`.
fn get_manifest(registry: &Registry, repo: &str, reference: &str, digest: &str) -> Value {
    let accept = format!("{OCI_MANIFEST}, {OCI_INDEX}");
    let response = registry.http(
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Accept", &accept)],
    );
    assert_eq!(
        response.status,
        200,
        "{repo}:{reference}: {}",
        response.text()
    );
    assert_eq!(sha256_digest(&response.body), digest, "{repo}:{reference}");
    json_body(&response)
}

/// The referrer descriptors of `subject` as the registry itself publishes them: through the
/// referrers API where it has one, else through the `sha256-<hex>` fallback tag. Also checks that
/// the other mechanism is absent, since clients must pick the right one.
fn registry_referrers(registry: &Registry, repo: &str, subject: &str) -> Vec<Value> {
    let api = registry.http("GET", &format!("/v2/{repo}/referrers/{subject}"), &[]);
    let tag = format!("sha256-{}", subject.strip_prefix("sha256:").unwrap());
    let fallback = registry.http(
        "GET",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Accept", OCI_INDEX)],
    );
    let listing = match registry.kind() {
        RegistryKind::Distribution => {
            assert_eq!(
                api.status,
                404,
                "distribution 2.8 has no referrers API: {}",
                api.text()
            );
            assert_eq!(
                fallback.status,
                200,
                "no fallback tag {tag}: {}",
                fallback.text()
            );
            fallback
        }
        RegistryKind::Referrers => {
            assert_eq!(api.status, 200, "referrers API: {}", api.text());
            // OCI-Subject on the push told oras the registry indexes referrers itself.
            assert_eq!(fallback.status, 404, "unexpected fallback tag {tag}");
            api
        }
    };
    assert_eq!(listing.header("content-type"), Some(OCI_INDEX));
    let index = json_body(&listing);
    assert_eq!(index["mediaType"], OCI_INDEX);
    index["manifests"].as_array().cloned().unwrap_or_default()
}

/// Attaches to `subject_ref` and checks the artifact as oras, the manifest and the registry's
/// referrer listing see it. Returns the artifact digest.
fn attach_and_check(registry: &Registry, repo: &str, subject_ref: &str, subject: &str) -> String {
    let artifact = attach(
        registry,
        subject_ref,
        "version: v1alpha1\ncompatibilities: []\n",
    );

    let manifest = get_manifest(registry, repo, &artifact, &artifact);
    assert_eq!(manifest["artifactType"], ARTIFACT_TYPE);
    assert_eq!(manifest["subject"]["digest"], subject);
    assert_eq!(manifest["layers"][0]["mediaType"], SPEC_MEDIA_TYPE);

    let discovered = discover(registry, subject_ref);
    assert_eq!(digests_of(&discovered), [artifact.as_str()]);
    assert_eq!(discovered[0]["artifactType"], ARTIFACT_TYPE);

    let listed = registry_referrers(registry, repo, subject);
    assert_eq!(digests_of(&listed), [artifact.as_str()]);
    assert_eq!(listed[0]["artifactType"], ARTIFACT_TYPE);
    assert_eq!(listed[0]["mediaType"], OCI_MANIFEST);
    artifact
}

/// Seeds both images, attaches specs to a tag, an index and one platform manifest, then attaches
/// a second spec to the same subject: both must be listed (on distribution, oras has to merge
/// into the existing fallback index).
fn exercise(registry: &Registry) {
    let image = seed_image(registry, "demo/app:v1");
    let manifest = get_manifest(registry, "demo/app", "v1", &image);
    assert_eq!(manifest["mediaType"], OCI_MANIFEST);
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);

    let multi = seed_multi_arch_image(registry, "demo/multi:v1");
    let index = get_manifest(registry, "demo/multi", "v1", &multi.index);
    assert_eq!(index["mediaType"], OCI_INDEX);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(
        digests_of(entries),
        [multi.amd64.as_str(), multi.arm64.as_str()]
    );
    for ((platform, digest), entry) in multi.platforms().into_iter().zip(entries) {
        let (os, arch) = platform.split_once('/').unwrap();
        assert_eq!(entry["platform"]["os"], os);
        assert_eq!(entry["platform"]["architecture"], arch);
        let config = get_manifest(registry, "demo/multi", digest, digest)["config"].clone();
        assert_eq!(
            config["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
    }

    let first = attach_and_check(registry, "demo/app", "demo/app:v1", &image);
    attach_and_check(registry, "demo/multi", "demo/multi:v1", &multi.index);
    let arm64 = format!("demo/multi@{}", multi.arm64);
    attach_and_check(registry, "demo/multi", &arm64, &multi.arm64);

    let second = attach(
        registry,
        "demo/app:v1",
        "version: v1alpha1\ncompatibilities: [{}]\n",
    );
    assert_ne!(first, second);
    let mut discovered = digests_of(&discover(registry, "demo/app:v1"))
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    discovered.sort();
    let mut listed = digests_of(&registry_referrers(registry, "demo/app", &image))
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    listed.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(discovered, expected);
    assert_eq!(listed, expected);
}

#[test]
fn distribution_serves_referrers_through_the_tag_fallback() {
    let registry = Registry::distribution();
    assert_eq!(registry.kind(), RegistryKind::Distribution);
    assert!(!registry.kind().has_referrers_api());
    exercise(&registry);
}

#[test]
fn distribution_with_basic_auth_requires_credentials() {
    let registry = Registry::distribution_with_basic_auth("nodefit", "s3cret");
    let anonymous = registry.http_anonymous("GET", "/v2/", &[]);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some(r#"Basic realm="basic-realm""#)
    );
    assert_eq!(registry.http("GET", "/v2/", &[]).status, 200);

    exercise(&registry);

    // Without credentials oras must be refused, or the auth tests would prove nothing.
    let out = testbed::oras(&[
        "discover",
        "--plain-http",
        &format!("{}/demo/app:v1", registry.host()),
    ]);
    out.assert_failure();
    // oras 1.2 reports the 401 as "basic credential not found".
    assert!(out.stderr.contains("credential"), "{out}");
}

#[test]
fn ggcr_registry_serves_the_referrers_api() {
    let registry = Registry::referrers();
    assert!(registry.kind().has_referrers_api());
    exercise(&registry);

    // ggcr-referrers.patch: the artifactType filter is applied and announced.
    let image = seed_image(&registry, "demo/app:v1");
    let referrers = format!("/v2/demo/app/referrers/{image}");
    let filtered = registry.http(
        "GET",
        &format!("{referrers}?artifactType={ARTIFACT_TYPE}"),
        &[],
    );
    assert_eq!(filtered.status, 200);
    assert_eq!(filtered.header("oci-filters-applied"), Some("artifactType"));
    assert_eq!(
        json_body(&filtered)["manifests"].as_array().unwrap().len(),
        2
    );
    let other = registry.http("GET", &format!("{referrers}?artifactType=text/plain"), &[]);
    assert_eq!(json_body(&other)["manifests"], serde_json::json!([]));

    // A subject nobody refers to has an empty list, not a 404.
    let zero = format!("sha256:{}", "0".repeat(64));
    let empty = registry.http("GET", &format!("/v2/demo/app/referrers/{zero}"), &[]);
    assert_eq!(empty.status, 200);
    assert_eq!(json_body(&empty)["manifests"], serde_json::json!([]));
}

#[test]
fn distribution_keeps_its_data_across_a_restart() {
    let mut registry = Registry::distribution();
    let image = seed_image(&registry, "demo/app:v1");
    let host = registry.host();

    registry.stop();
    assert!(!registry.is_running());
    let refused = run(Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://{host}/v2/")));
    refused.assert_failure();

    registry.restart();
    assert!(registry.is_running());
    assert_eq!(registry.host(), host);
    get_manifest(&registry, "demo/app", "v1", &image);
}

#[test]
fn ggcr_registry_forgets_everything_on_restart() {
    let mut registry = Registry::referrers();
    assert!(!registry.kind().keeps_data_across_restart());
    seed_image(&registry, "demo/app:v1");
    registry.restart();
    let response = registry.http(
        "GET",
        "/v2/demo/app/manifests/v1",
        &[("Accept", OCI_MANIFEST)],
    );
    assert_eq!(response.status, 404);
}

#[test]
fn a_paused_registry_hangs_until_resumed() {
    let registry = Registry::referrers();
    registry.pause();
    let hung = run(Command::new("curl")
        .args(["-sS", "--max-time", "1"])
        .arg(format!("{}/v2/", registry.url())));
    // curl's exit code 28 is "operation timed out": connected, but never answered.
    assert_eq!(hung.status.code(), Some(28), "{hung}");
    registry.resume();
    assert_eq!(registry.http("GET", "/v2/", &[]).status, 200);
}
