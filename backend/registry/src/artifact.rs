//! The compatibility artifact: building its manifest exactly as NFD expects, and choosing the
//! one NFD uses among an image's referrers. Pure functions only.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use oci_client::manifest::{OciDescriptor, OciImageManifest};

use crate::Digest;

/// `artifactType` of NFD compatibility artifacts (NFD's `compatv1alpha1.ArtifactType`).
pub const ARTIFACT_TYPE: &str = "application/vnd.nfd.image-compatibility.v1alpha1";
/// Media type of the spec layer.
pub const SPEC_MEDIA_TYPE: &str = "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml";
/// The OCI empty descriptor's media type, used for the config.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The OCI empty blob.
pub const EMPTY_BLOB: &[u8] = b"{}";
/// The annotation NFD sorts artifacts by.
pub const CREATED: &str = "org.opencontainers.image.created";
/// The layer annotation `oras pull` names the file by (it skips layers without one).
pub const TITLE: &str = "org.opencontainers.image.title";
/// Longest layer title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A descriptor of `bytes`.
pub fn descriptor(media_type: &str, bytes: &[u8]) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_owned(),
        digest: Digest::sha256_of(bytes).into(),
        size: bytes.len() as i64,
        ..Default::default()
    }
}

/// A compatibility artifact ready to push: the exact manifest bytes and what they refer to.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// The manifest as pushed; its digest is computed from these bytes, never re-serialised.
    pub manifest: Vec<u8>,
    /// The manifest's descriptor as it goes into a referrers list: media type, digest, size,
    /// `artifactType` and the manifest's annotations, as distribution-spec 1.1 asks.
    pub descriptor: OciDescriptor,
    pub config: OciDescriptor,
    pub layer: OciDescriptor,
}

/// Builds the artifact NFD's `validate-node` reads: `artifactType` [`ARTIFACT_TYPE`], the empty
/// config, one spec layer titled `title`, `subject` the image, and `annotations` on the manifest
/// (the caller includes [`CREATED`]).
pub fn build(
    subject: &OciDescriptor,
    spec: &[u8],
    title: &str,
    annotations: &BTreeMap<String, String>,
) -> Artifact {
    let config = descriptor(EMPTY_MEDIA_TYPE, EMPTY_BLOB);
    let mut layer = descriptor(SPEC_MEDIA_TYPE, spec);
    layer.annotations = Some(BTreeMap::from([(TITLE.to_owned(), safe_title(title))]));
    let subject = OciDescriptor {
        media_type: subject.media_type.clone(),
        digest: subject.digest.clone(),
        size: subject.size,
        ..Default::default()
    };
    let manifest = OciImageManifest {
        schema_version: 2,
        // oci-client's builders leave this unset; registries and NFD's decoder expect it.
        media_type: Some(OCI_MANIFEST.to_owned()),
        config: config.clone(),
        layers: vec![layer.clone()],
        subject: Some(subject),
        artifact_type: Some(ARTIFACT_TYPE.to_owned()),
        annotations: (!annotations.is_empty()).then(|| annotations.clone()),
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest always serialises");
    let mut descriptor = descriptor(OCI_MANIFEST, &bytes);
    descriptor.artifact_type = Some(ARTIFACT_TYPE.to_owned());
    descriptor.annotations = manifest.annotations;
    Artifact {
        manifest: bytes,
        descriptor,
        config,
        layer,
    }
}

/// `title` as a plain file name, since `oras pull` and other tools write the layer to the path
/// its title names: letters, digits and `.-_+@=,` only (anything else becomes `_`, so no `/`,
/// `\`, control or bidirectional characters), no `..`, no leading `.` or `-`, at most
/// [`MAX_TITLE_CHARS`] characters, and `spec.yaml` when nothing is left.
pub fn safe_title(title: &str) -> String {
    let mut safe = String::new();
    for c in title.chars() {
        let c = if c.is_alphanumeric() || ".-_+@=,".contains(c) {
            c
        } else {
            '_'
        };
        let repeated = matches!(c, '.' | '_') && safe.ends_with(c);
        if !repeated {
            safe.push(c);
        }
    }
    let trim = |s: &str| {
        s.trim_start_matches(['.', '_', '-'])
            .trim_end_matches(['.', '_'])
            .to_owned()
    };
    let safe = trim(&safe);
    let safe = trim(&safe.chars().take(MAX_TITLE_CHARS).collect::<String>());
    if safe.is_empty() {
        "spec.yaml".to_owned()
    } else {
        safe
    }
}

/// Whether `existing` carries the same content as `new`: same config, same single spec layer,
/// same annotations apart from [`CREATED`]. The layer's title (a file name) is not content.
pub fn same_content(existing: &OciImageManifest, new: &Artifact) -> bool {
    let without_created = |a: &Option<BTreeMap<String, String>>| {
        let mut a = a.clone().unwrap_or_default();
        a.remove(CREATED);
        a
    };
    existing.artifact_type.as_deref() == Some(ARTIFACT_TYPE)
        && existing.config.digest == new.config.digest
        && existing.config.media_type == new.config.media_type
        && matches!(existing.layers.as_slice(),
            [layer] if layer.digest == new.layer.digest && layer.media_type == new.layer.media_type)
        && without_created(&existing.annotations) == without_created(&new.descriptor.annotations)
}

/// A point in time as Go's `time.Time` orders it: seconds since 0001-01-01T00:00:00Z, then
/// nanoseconds. `(0, 0)` is Go's zero time.
pub type Instant = (i64, u32);

/// Go's zero time, which NFD gives artifacts without a parseable [`CREATED`] annotation.
pub const ZERO_TIME: Instant = (0, 0);

/// Parses `text` as Go's `time.Parse(time.RFC3339, text)` does: `YYYY-MM-DDTHH:MM:SS`, optional
/// fraction after `.` or `,`, then `Z` or `±HH:MM`; fields in range (no leap second, no lower-case
/// `t`/`z`). `None` when Go would return an error.
pub fn parse_go_rfc3339(text: &str) -> Option<Instant> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let mut i = 19;
    let mut nanos = 0u32;
    if matches!(b.get(i), Some(b'.' | b',')) {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        // Go keeps nanoseconds and drops further digits.
        for k in 0..9 {
            let d = if k < digits { b[i + 1 + k] - b'0' } else { 0 };
            nanos = nanos * 10 + u32::from(d);
        }
        i += 1 + digits;
    }
    let offset_seconds = match b.get(i..)? {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let magnitude = i64::from(h * 3600 + m * 60);
            if *sign == b'-' {
                -magnitude
            } else {
                magnitude
            }
        }
        _ => return None,
    };
    let epoch = NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date");
    let days = date.signed_duration_since(epoch).num_days();
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    Some((seconds, nanos))
}

/// When NFD considers `artifact` created.
pub fn created(artifact: &OciDescriptor) -> Instant {
    artifact
        .annotations
        .as_ref()
        .and_then(|a| a.get(CREATED))
        .and_then(|t| parse_go_rfc3339(t))
        .unwrap_or(ZERO_TIME)
}

/// The artifacts newest first; the first one is the artifact NFD's `validate-node` uses.
///
/// NFD sorts ascending by [`created`] and takes the last. Its `slices.SortFunc` is an insertion
/// sort up to 12 elements, so ties keep registry order and the last tied one wins; a stable sort
/// reversed gives exactly that. Beyond 12 artifacts with equal timestamps, Go's pattern-defeating
/// quicksort may order ties differently (see docs/registry.md).
pub fn newest_first(mut artifacts: Vec<OciDescriptor>) -> Vec<OciDescriptor> {
    artifacts.sort_by_key(created);
    artifacts.reverse();
    artifacts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> OciDescriptor {
        descriptor(OCI_MANIFEST, b"image manifest")
    }

    fn annotated(digest: &str, created: Option<&str>) -> OciDescriptor {
        OciDescriptor {
            media_type: OCI_MANIFEST.into(),
            digest: digest.into(),
            size: 1,
            annotations: created.map(|c| BTreeMap::from([(CREATED.to_owned(), c.to_owned())])),
            artifact_type: Some(ARTIFACT_TYPE.into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_manifest_is_what_nfd_reads() {
        let annotations = BTreeMap::from([
            (CREATED.to_owned(), "2025-01-02T03:04:05Z".to_owned()),
            ("team".to_owned(), "hpc".to_owned()),
        ]);
        let artifact = build(
            &subject(),
            b"version: v1alpha1\n",
            "spec.yaml",
            &annotations,
        );
        let json: serde_json::Value = serde_json::from_slice(&artifact.manifest).unwrap();
        assert_eq!(json["schemaVersion"], 2);
        assert_eq!(json["mediaType"], OCI_MANIFEST);
        assert_eq!(json["artifactType"], ARTIFACT_TYPE);
        assert_eq!(json["config"]["mediaType"], EMPTY_MEDIA_TYPE);
        assert_eq!(
            json["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(json["config"]["size"], 2);
        assert_eq!(json["layers"].as_array().unwrap().len(), 1);
        assert_eq!(json["layers"][0]["mediaType"], SPEC_MEDIA_TYPE);
        assert_eq!(
            json["layers"][0]["digest"],
            Digest::sha256_of(b"version: v1alpha1\n").as_str()
        );
        assert_eq!(json["layers"][0]["annotations"][TITLE], "spec.yaml");
        assert_eq!(json["subject"]["digest"], subject().digest);
        assert_eq!(json["subject"]["mediaType"], OCI_MANIFEST);
        assert_eq!(json["annotations"][CREATED], "2025-01-02T03:04:05Z");
        assert_eq!(json["annotations"]["team"], "hpc");

        assert_eq!(
            artifact.descriptor.digest,
            Digest::sha256_of(&artifact.manifest)
        );
        assert_eq!(artifact.descriptor.size, artifact.manifest.len() as i64);
        assert_eq!(
            artifact.descriptor.artifact_type.as_deref(),
            Some(ARTIFACT_TYPE)
        );
        assert_eq!(artifact.descriptor.annotations, Some(annotations));
    }

    #[test]
    fn titles_are_plain_file_names() {
        assert_eq!(safe_title("spec.yaml"), "spec.yaml");
        assert_eq!(safe_title("x86 nodes.yaml"), "x86_nodes.yaml");
        assert_eq!(
            safe_title("../../../home/user/.bashrc#.yaml"),
            "home_user_.bashrc_.yaml"
        );
        assert_eq!(
            safe_title("../../../home/user/.bashrc#"),
            "home_user_.bashrc"
        );
        assert_eq!(safe_title("a\\..\\b.yaml"), "a_._b.yaml");
        assert_eq!(safe_title("evil\u{202e}lmth.yaml"), "evil_lmth.yaml");
        assert_eq!(safe_title("tab\there\n.yaml"), "tab_here_.yaml");
        assert_eq!(safe_title("-rf.yaml"), "rf.yaml");
        assert_eq!(safe_title(".."), "spec.yaml");
        assert_eq!(safe_title("/"), "spec.yaml");
        assert_eq!(safe_title("Größe.yaml"), "Größe.yaml");
        let long = safe_title(&format!("{}.yaml", "a".repeat(500)));
        assert_eq!(long.chars().count(), MAX_TITLE_CHARS);
        for name in ["../x", "a/b", "a\\b", "x\u{0}y", "\u{2066}z", "...", "a..b"] {
            let t = safe_title(name);
            assert!(
                !t.contains(['/', '\\']) && !t.contains("..") && !t.chars().any(char::is_control),
                "{name:?} -> {t:?}"
            );
        }
    }

    #[test]
    fn identical_content_ignores_created_and_title() {
        let at = |created: &str, team: &str| {
            BTreeMap::from([
                (CREATED.to_owned(), created.to_owned()),
                ("team".to_owned(), team.to_owned()),
            ])
        };
        let old = build(
            &subject(),
            b"spec",
            "a.yaml",
            &at("2020-01-01T00:00:00Z", "x"),
        );
        let old: OciImageManifest = serde_json::from_slice(&old.manifest).unwrap();
        let again = build(
            &subject(),
            b"spec",
            "b.yaml",
            &at("2030-01-01T00:00:00Z", "x"),
        );
        assert!(same_content(&old, &again));
        let other_annotation = build(
            &subject(),
            b"spec",
            "a.yaml",
            &at("2030-01-01T00:00:00Z", "y"),
        );
        assert!(!same_content(&old, &other_annotation));
        let other_spec = build(
            &subject(),
            b"spec2",
            "a.yaml",
            &at("2030-01-01T00:00:00Z", "x"),
        );
        assert!(!same_content(&old, &other_spec));
    }

    #[test]
    fn rfc3339_parses_like_go() {
        let t = |s: &str| parse_go_rfc3339(s);
        assert_eq!(t("0001-01-01T00:00:00Z"), Some(ZERO_TIME));
        assert_eq!(t("0001-01-01T00:00:01.5Z"), Some((1, 500_000_000)));
        assert_eq!(t("0001-01-01T00:00:00,000000001Z"), Some((0, 1)));
        assert_eq!(t("0001-01-01T00:00:00.1234567891Z"), Some((0, 123_456_789)));
        assert_eq!(t("0001-01-01T01:00:00+01:00"), Some(ZERO_TIME));
        assert_eq!(t("0001-01-01T00:00:00-00:30"), Some((1800, 0)));
        assert!(t("0000-12-31T23:59:59Z").unwrap() < ZERO_TIME);
        assert_eq!(
            t("2025-03-01T00:00:00Z").unwrap().0 - t("2025-02-28T00:00:00Z").unwrap().0,
            86_400
        );
        for bad in [
            "",
            "2025-01-02",
            "2025-01-02t03:04:05Z",
            "2025-01-02 03:04:05Z",
            "2025-01-02T03:04:05z",
            "2025-01-02T03:04:05",
            "2025-02-30T03:04:05Z",
            "2025-01-02T24:00:00Z",
            "2025-01-02T23:59:60Z",
            "2025-01-02T03:04:05.Z",
            "2025-01-02T03:04:05+0100",
            "2025-01-02T03:04:05+01:00 ",
            "2025-1-02T03:04:05Z",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_newest_artifact_comes_first_and_ties_go_to_the_last_listed() {
        let list = vec![
            annotated("sha256:a", Some("2025-01-01T00:00:00Z")),
            annotated("sha256:b", None),
            annotated("sha256:c", Some("2025-06-01T00:00:00+02:00")),
            annotated("sha256:d", Some("not a time")),
            annotated("sha256:e", Some("2025-05-31T22:00:00Z")),
            annotated("sha256:f", Some("2024-01-01T00:00:00Z")),
        ];
        let order: Vec<String> = newest_first(list).into_iter().map(|d| d.digest).collect();
        // c and e are the same instant: e is listed later, so NFD takes e.
        assert_eq!(
            order,
            ["sha256:e", "sha256:c", "sha256:a", "sha256:f", "sha256:d", "sha256:b"]
        );
    }
}
