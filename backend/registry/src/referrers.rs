//! The referrers tag schema of distribution-spec 1.1, for registries without the referrers API:
//! an image index tagged `sha256-<hex>` after the subject's digest (`Digest::tag`) lists the
//! subject's referrers.
//! Pure functions; `mod.rs` does the reading and writing.
//!
//! Other tools (oras, cosign, notation) write the same index, so it is handled as JSON values:
//! every entry and field nodefit does not own is kept as found.

use oci_client::manifest::OciDescriptor;
use serde_json::{Map, Value};

use super::artifact::OCI_INDEX;

/// A referrers index as found in (or about to be written to) the fallback tag.
#[derive(Clone, Debug, PartialEq)]
pub struct FallbackIndex {
    index: Map<String, Value>,
}

impl FallbackIndex {
    /// The index written when the tag does not exist yet.
    pub fn empty() -> Self {
        let mut index = Map::new();
        index.insert("schemaVersion".into(), 2.into());
        index.insert("mediaType".into(), OCI_INDEX.into());
        index.insert("manifests".into(), Value::Array(Vec::new()));
        Self { index }
    }

    /// Reads the fallback tag's content. Anything but an OCI image index is refused rather than
    /// overwritten: the tag schema says to report a failure when the tag holds something else.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("not JSON: {}", super::json_problem(&e)))?;
        let Value::Object(index) = value else {
            return Err("not a JSON object".into());
        };
        match index.get("mediaType") {
            None => {}
            Some(Value::String(t)) if t == OCI_INDEX => {}
            Some(_) => return Err(format!("its media type is not {OCI_INDEX}")),
        }
        if !matches!(index.get("manifests"), Some(Value::Array(_))) {
            return Err("no \"manifests\" list".into());
        }
        Ok(Self { index })
    }

    fn manifests(&self) -> &[Value] {
        match self.index.get("manifests") {
            Some(Value::Array(list)) => list,
            _ => &[],
        }
    }

    fn manifests_mut(&mut self) -> &mut Vec<Value> {
        let entry = self
            .index
            .entry("manifests")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        match entry {
            Value::Array(list) => list,
            _ => unreachable!("just made an array"),
        }
    }

    /// The entries that are well-formed descriptors, in index order. Malformed entries are
    /// skipped here but kept when the index is rewritten.
    pub fn entries(&self) -> Vec<OciDescriptor> {
        self.manifests()
            .iter()
            .filter_map(|entry| serde_json::from_value(entry.clone()).ok())
            .collect()
    }

    pub fn contains(&self, digest: &str) -> bool {
        self.manifests()
            .iter()
            .any(|entry| entry.get("digest").and_then(Value::as_str) == Some(digest))
    }

    /// This index with `entry` appended, or `None` when it already lists that digest (the tag
    /// schema forbids duplicates, and leaving the index alone keeps re-attaching a no-op).
    pub fn with_added(&self, entry: &OciDescriptor) -> Option<Self> {
        if self.contains(&entry.digest) {
            return None;
        }
        let mut updated = self.clone();
        let value = serde_json::to_value(entry).expect("a descriptor always serialises");
        updated.manifests_mut().push(value);
        Some(updated)
    }

    /// This index without any entry for `digest`, or `None` when it lists none.
    pub fn with_removed(&self, digest: &str) -> Option<Self> {
        if !self.contains(digest) {
            return None;
        }
        let mut updated = self.clone();
        updated
            .manifests_mut()
            .retain(|entry| entry.get("digest").and_then(Value::as_str) != Some(digest));
        Some(updated)
    }

    /// The bytes to push. Written with an explicit `mediaType`, which the tag schema requires
    /// and some registries need to accept an index.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut index = self.index.clone();
        index.insert("mediaType".into(), OCI_INDEX.into());
        serde_json::to_vec(&Value::Object(index)).expect("JSON values always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{ARTIFACT_TYPE, OCI_MANIFEST};
    use serde_json::json;

    fn ours(digest: &str) -> OciDescriptor {
        OciDescriptor {
            media_type: OCI_MANIFEST.into(),
            digest: digest.into(),
            size: 700,
            artifact_type: Some(ARTIFACT_TYPE.into()),
            ..Default::default()
        }
    }

    #[test]
    fn merging_keeps_what_other_tools_wrote() {
        // As oras 1.2 writes it, plus fields nodefit does not know.
        let existing = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "annotations": {"written-by": "someone else"},
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": "sha256:oras", "size": 784,
                 "artifactType": ARTIFACT_TYPE,
                 "annotations": {"org.opencontainers.image.created": "2025-01-01T00:00:00Z"},
                 "x-unknown": [1, 2.5, {"deep": true}]},
                {"mediaType": OCI_MANIFEST, "digest": "sha256:sig", "size": 1,
                 "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json"},
                {"not": "a descriptor"}
            ]
        });
        let index = FallbackIndex::parse(existing.to_string().as_bytes()).unwrap();
        assert_eq!(index.entries().len(), 2);

        let added = index.with_added(&ours("sha256:nodefit")).unwrap();
        let written: Value = serde_json::from_slice(&added.to_bytes()).unwrap();
        let mut expected = existing.clone();
        expected["manifests"].as_array_mut().unwrap().push(json!({
            "mediaType": OCI_MANIFEST, "digest": "sha256:nodefit", "size": 700,
            "artifactType": ARTIFACT_TYPE
        }));
        assert_eq!(written, expected);

        assert_eq!(added.with_added(&ours("sha256:nodefit")), None);
        assert_eq!(index.with_added(&ours("sha256:oras")), None);

        let removed = added.with_removed("sha256:oras").unwrap();
        let written: Value = serde_json::from_slice(&removed.to_bytes()).unwrap();
        let digests: Vec<Value> = written["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["digest"].clone())
            .collect();
        assert_eq!(
            digests,
            [json!("sha256:sig"), Value::Null, json!("sha256:nodefit")]
        );
        assert_eq!(written["annotations"], existing["annotations"]);
        assert_eq!(removed.with_removed("sha256:oras"), None);
    }

    #[test]
    fn an_empty_index_gains_one_entry() {
        let added = FallbackIndex::empty()
            .with_added(&ours("sha256:a"))
            .unwrap();
        let written: Value = serde_json::from_slice(&added.to_bytes()).unwrap();
        assert_eq!(
            written,
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": "sha256:a", "size": 700,
                 "artifactType": ARTIFACT_TYPE}
            ]})
        );
        let reparsed = FallbackIndex::parse(&added.to_bytes()).unwrap();
        let entries = reparsed.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].digest, "sha256:a");
        assert_eq!(entries[0].artifact_type.as_deref(), Some(ARTIFACT_TYPE));
    }

    #[test]
    fn only_an_image_index_is_accepted() {
        assert!(FallbackIndex::parse(br#"{"manifests": []}"#).is_ok());
        for bad in [
            &b"not json"[..],
            br#"[]"#,
            br#"{"mediaType": "application/vnd.oci.image.manifest.v1+json", "manifests": []}"#,
            br#"{"schemaVersion": 2, "layers": []}"#,
            br#"{"manifests": {}}"#,
        ] {
            assert!(
                FallbackIndex::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
