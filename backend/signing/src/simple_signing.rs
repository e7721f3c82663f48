//! The classic cosign signature of a manifest, byte for byte as cosign 2.x writes it: the
//! simple-signing payload, the `.sig` image's config and manifest, and the ECDSA signature in
//! a layer annotation. Pure functions only.
//!
//! Digests are always computed from the exact bytes produced here or fetched, never from a
//! re-serialisation, and the structs serialise their fields in the order Go's `encoding/json`
//! writes cosign's (go-containerregistry's) types, so that what nodefit pushes is what cosign
//! would have pushed for the same signature.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde::{Deserialize, Serialize};

use nodefit_registry::Digest;

/// Media type of a signature layer, whose blob is the payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 DER ECDSA signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of every payload cosign accepts for an image signature.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Go's zero `time.Time`, which cosign leaves in the config.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The `docker-reference` cosign writes for a repository: go-containerregistry's name for it,
/// which spells Docker Hub `index.docker.io`.
pub fn docker_reference(registry: &str, repository: &str) -> String {
    let registry = if registry == "docker.io" {
        "index.docker.io"
    } else {
        registry
    };
    format!("{registry}/{repository}")
}

/// The simple-signing payload (cosign's `payload.Cosign`). `optional` is always written, as
/// `null` when empty: cosign's verifier unmarshals into a struct whose absent field would still
/// verify, but other tools compare payloads as written by cosign.
#[derive(Debug, Serialize, Deserialize)]
pub struct Payload {
    pub critical: Critical,
    pub optional: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Critical {
    pub identity: Identity,
    pub image: Image,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Image {
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// The payload that signs the manifest `digest` of `docker_reference`'s repository.
pub fn payload(docker_reference: &str, digest: &Digest) -> Vec<u8> {
    let payload = Payload {
        critical: Critical {
            identity: Identity {
                docker_reference: docker_reference.to_owned(),
            },
            image: Image {
                docker_manifest_digest: digest.to_string(),
            },
            kind: SIGNATURE_TYPE.to_owned(),
        },
        optional: None,
    };
    serde_json::to_vec(&payload).expect("a struct of strings always serialises")
}

/// The signature cosign puts in [`SIGNATURE_ANNOTATION`]: ECDSA P-256 over SHA-256 of the
/// payload, DER-encoded, base64. Deterministic (RFC 6979), so signing a payload twice with one
/// key yields the same layer.
pub fn sign(key: &SigningKey, payload: &[u8]) -> String {
    let signature: Signature = key.sign(payload);
    BASE64.encode(signature.to_der().as_bytes())
}

/// A descriptor as go-containerregistry writes it. Fields nodefit does not use are kept as
/// read, so that appending to a `.sig` manifest written by another tool loses nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub size: i64,
    pub digest: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Descriptor {
    fn of(media_type: &str, bytes: &[u8]) -> Self {
        Self {
            media_type: media_type.to_owned(),
            size: bytes.len() as i64,
            digest: Digest::sha256_of(bytes).into(),
            annotations: BTreeMap::new(),
            other: serde_json::Map::new(),
        }
    }

    /// The signature in [`SIGNATURE_ANNOTATION`], if the layer has one.
    pub fn signature(&self) -> Option<&str> {
        self.annotations
            .get(SIGNATURE_ANNOTATION)
            .map(String::as_str)
    }
}

/// The layer of one signature: the payload's descriptor with the signature annotation.
pub fn signature_layer(payload: &[u8], signature: &str) -> Descriptor {
    let mut layer = Descriptor::of(SIMPLE_SIGNING_MEDIA_TYPE, payload);
    layer
        .annotations
        .insert(SIGNATURE_ANNOTATION.to_owned(), signature.to_owned());
    layer
}

/// A `.sig` image manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignatureManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl SignatureManifest {
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "not an image manifest: {}",
                nodefit_registry::json_problem(&e)
            )
        })
    }
}

/// The exact bytes of a `.sig` manifest with `layers` (existing ones first, then new ones) and
/// of its config, whose `rootfs.diff_ids` and `history` have one entry per layer, as cosign's.
/// Manifest annotations of an existing manifest are kept.
pub fn signature_image(
    layers: Vec<Descriptor>,
    annotations: BTreeMap<String, String>,
) -> (Vec<u8>, Vec<u8>) {
    #[derive(Serialize)]
    struct Config<'a> {
        architecture: &'a str,
        created: &'a str,
        history: Vec<History<'a>>,
        os: &'a str,
        rootfs: RootFs<'a>,
        config: serde_json::Map<String, serde_json::Value>,
    }
    #[derive(Serialize)]
    struct History<'a> {
        created: &'a str,
    }
    #[derive(Serialize)]
    struct RootFs<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        diff_ids: Vec<&'a str>,
    }
    let config = Config {
        architecture: "",
        created: ZERO_TIME,
        history: layers
            .iter()
            .map(|_| History { created: ZERO_TIME })
            .collect(),
        os: "",
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.digest.as_str()).collect(),
        },
        config: serde_json::Map::new(),
    };
    let config = serde_json::to_vec(&config).expect("a struct of strings always serialises");
    let manifest = SignatureManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_owned()),
        config: Descriptor::of(CONFIG_MEDIA_TYPE, &config),
        layers,
        annotations,
    };
    let manifest = serde_json::to_vec(&manifest).expect("a manifest always serialises");
    (manifest, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;

    fn digest() -> Digest {
        Digest::parse("sha256:2c1bc4207317e8495198a953d86e35744d97f4ac29672f227ac3b591f70d7fe4")
            .unwrap()
    }
    /// What cosign 2.5.0 pushed for `cosign sign --key` of 127.0.0.1:5917/demo/app@DIGEST: the
    /// payload, the config and the manifest, byte for byte.
    const COSIGN_PAYLOAD: &str = r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5917/demo/app"},"image":{"docker-manifest-digest":"sha256:2c1bc4207317e8495198a953d86e35744d97f4ac29672f227ac3b591f70d7fe4"},"type":"cosign container image signature"},"optional":null}"#;
    const COSIGN_SIGNATURE: &str = "MEUCIB/xhhpcSlSCtTgwhnQT4h32L97/tYOx2ZZXZjietP8uAiEAqfdzNTkrt9PZpaMO3who2G5ux0jHUE9KM9Fije8hoSQ=";
    const COSIGN_CONFIG: &str = r#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:2ccbae30ff94ab098c6b572c2abb8edea0e1c9d8d38c0cb36fdf9cca09603817"]},"config":{}}"#;
    const COSIGN_MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"sha256:5922e9b67a4c9891c1726e4dde2383d63ccb502e8facf885215d9dfd5c49762b"},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":239,"digest":"sha256:2ccbae30ff94ab098c6b572c2abb8edea0e1c9d8d38c0cb36fdf9cca09603817","annotations":{"dev.cosignproject.cosign/signature":"MEUCIB/xhhpcSlSCtTgwhnQT4h32L97/tYOx2ZZXZjietP8uAiEAqfdzNTkrt9PZpaMO3who2G5ux0jHUE9KM9Fije8hoSQ="}}]}"#;
    /// A second signature cosign appended (another key, same payload), and the config then.
    const COSIGN_SECOND_SIGNATURE: &str = "MEYCIQCv71sRqB9nr87tGZWJjnM7vjMG8GOBcNl/Z9xSlnPyzAIhAMVZMohcSrfV0i+RiLk3pNcoPcHsswYALkPZtcU1tKw5";
    const COSIGN_TWO_LAYER_CONFIG: &str = r#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"},{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:2ccbae30ff94ab098c6b572c2abb8edea0e1c9d8d38c0cb36fdf9cca09603817","sha256:2ccbae30ff94ab098c6b572c2abb8edea0e1c9d8d38c0cb36fdf9cca09603817"]},"config":{}}"#;

    #[test]
    fn payload_config_and_manifest_are_cosigns_bytes() {
        let payload = payload("127.0.0.1:5917/demo/app", &digest());
        assert_eq!(String::from_utf8_lossy(&payload), COSIGN_PAYLOAD);
        let layer = signature_layer(&payload, COSIGN_SIGNATURE);
        let (manifest, config) = signature_image(vec![layer.clone()], BTreeMap::new());
        assert_eq!(String::from_utf8_lossy(&config), COSIGN_CONFIG);
        assert_eq!(String::from_utf8_lossy(&manifest), COSIGN_MANIFEST);

        let second = signature_layer(&payload, COSIGN_SECOND_SIGNATURE);
        let (_, config) = signature_image(vec![layer, second], BTreeMap::new());
        assert_eq!(String::from_utf8_lossy(&config), COSIGN_TWO_LAYER_CONFIG);
    }

    #[test]
    fn manifests_read_back_to_what_was_written() {
        let parsed = SignatureManifest::parse(COSIGN_MANIFEST.as_bytes()).unwrap();
        assert_eq!(parsed.layers.len(), 1);
        assert_eq!(parsed.layers[0].signature(), Some(COSIGN_SIGNATURE));
        let (manifest, _) = signature_image(parsed.layers, parsed.annotations);
        assert_eq!(String::from_utf8_lossy(&manifest), COSIGN_MANIFEST);
    }

    #[test]
    fn fields_other_tools_add_survive_an_append() {
        let with_extras = COSIGN_MANIFEST.replace(
            r#""annotations":{"dev.cosignproject.cosign/signature""#,
            r#""urls":["https://example.com"],"annotations":{"dev.sigstore.cosign/bundle":"{}","dev.cosignproject.cosign/signature""#,
        );
        let with_extras = with_extras.replace(r#""}}]}"#, r#""}}],"annotations":{"team":"hpc"}}"#);
        let parsed = SignatureManifest::parse(with_extras.as_bytes()).unwrap();
        let (manifest, _) = signature_image(parsed.layers, parsed.annotations);
        let text = String::from_utf8(manifest).unwrap();
        assert!(text.contains(r#""urls":["https://example.com"]"#), "{text}");
        assert!(
            text.contains(r#""dev.sigstore.cosign/bundle":"{}""#),
            "{text}"
        );
        assert!(text.ends_with(r#""annotations":{"team":"hpc"}}"#), "{text}");
    }

    #[test]
    fn signatures_verify_over_the_exact_payload_and_are_deterministic() {
        let key = super::super::keys::generate().unwrap();
        let payload = payload("r.example/app", &digest());
        let signature = sign(&key, &payload);
        assert_eq!(signature, sign(&key, &payload));
        let der = BASE64.decode(&signature).unwrap();
        let signature = Signature::from_der(&der).unwrap();
        key.verifying_key().verify(&payload, &signature).unwrap();
        let mut changed = payload.clone();
        changed[10] ^= 1;
        assert!(key.verifying_key().verify(&changed, &signature).is_err());
    }

    #[test]
    fn docker_hub_is_named_as_cosign_names_it() {
        assert_eq!(
            docker_reference("docker.io", "library/alpine"),
            "index.docker.io/library/alpine"
        );
        assert_eq!(
            docker_reference("127.0.0.1:5000", "demo/app"),
            "127.0.0.1:5000/demo/app"
        );
    }
}
