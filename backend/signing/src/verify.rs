//! Checking a compatibility artifact's classic cosign signatures against a trusted public key.
//! Pure functions over bytes already fetched; the order of the checks is cosign's.
//!
//! For each layer of the `.sig` manifest: the payload blob must hash to the layer's digest
//! (and have its size), the ECDSA signature in the annotation must verify over those exact
//! bytes with the trusted key, the payload's `type` must be cosign's image signature type, and
//! its `docker-manifest-digest` must be the digest of the artifact manifest as fetched. One
//! passing layer is enough; with none, the refusal names the most telling failure.
//!
//! The payload's `docker-reference` is reported, not required to match: like cosign, nodefit
//! lets signatures travel with an image copied to a mirror. The digest binds everything that
//! matters (the artifact's subject, and through it the image; the spec layer's digest).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::Serialize;

use super::simple_signing::{Descriptor, Payload, SIGNATURE_TYPE};
use nodefit_registry::Digest;

/// Why nodefit refuses to trust an artifact. Each has its own message prefix and
/// [`Refusal::kind`], so that people and scripts can tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no signature found: {0}")]
    NoSignature(String),
    #[error("signature does not verify with this key: {0}")]
    WrongKey(String),
    #[error("payload digest does not match the artifact (tampered): {0}")]
    Tampered(String),
    #[error("subject mismatch: {0}")]
    SubjectMismatch(String),
    #[error("blob digest mismatch: {0}")]
    BlobDigestMismatch(String),
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("certificate not trusted: {0}")]
    UntrustedCertificate(String),
    #[error("certificate expired: {0}")]
    ExpiredCertificate(String),
    #[error("no trust policy applies: {0}")]
    NoPolicy(String),
}

impl Refusal {
    /// A stable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::NoSignature(_) => "no-signature",
            Refusal::WrongKey(_) => "wrong-key",
            Refusal::Tampered(_) => "tampered",
            Refusal::SubjectMismatch(_) => "subject-mismatch",
            Refusal::BlobDigestMismatch(_) => "blob-digest-mismatch",
            Refusal::Malformed(_) => "malformed",
            Refusal::UntrustedCertificate(_) => "untrusted-certificate",
            Refusal::ExpiredCertificate(_) => "expired-certificate",
            Refusal::NoPolicy(_) => "no-policy",
        }
    }
}

/// What a verified signature says.
#[derive(Clone, Debug, Serialize)]
pub struct Claim {
    /// The signature layer that verified.
    #[serde(rename = "signatureLayer")]
    pub layer: String,
    #[serde(rename = "dockerReference")]
    pub docker_reference: String,
    #[serde(rename = "manifestDigest")]
    pub manifest_digest: String,
}

/// Why one layer did not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerFailure {
    /// The payload's bytes are not what the layer's descriptor says.
    Blob { layer: String, detail: String },
    /// No signature annotation, or one that is not base64 DER.
    Unreadable { layer: String, detail: String },
    /// The signature does not verify over the payload with the trusted key.
    Signature { layer: String },
    /// Signed by the key, but not an image signature payload.
    Payload { layer: String, detail: String },
    /// Signed by the key, for another manifest.
    OtherManifest { layer: String, signed: String },
}

/// Verifies one signature layer whose payload blob is `blob`, for the artifact manifest whose
/// bytes hash to `artifact_digest`.
pub fn verify_layer(
    layer: &Descriptor,
    blob: &[u8],
    key: &VerifyingKey,
    artifact_digest: &Digest,
) -> Result<Claim, LayerFailure> {
    let name = layer.digest.clone();
    let actual = Digest::sha256_of(blob);
    if actual != layer.digest || blob.len() as i64 != layer.size {
        return Err(LayerFailure::Blob {
            layer: name,
            detail: format!(
                "the payload fetched is {} bytes with digest {actual}; the layer says {} bytes",
                blob.len(),
                layer.size
            ),
        });
    }
    let Some(encoded) = layer.signature() else {
        return Err(LayerFailure::Unreadable {
            layer: name,
            detail: "the layer has no dev.cosignproject.cosign/signature annotation".into(),
        });
    };
    let signature = BASE64
        .decode(encoded.trim())
        .ok()
        .and_then(|der| Signature::from_der(&der).ok())
        .ok_or_else(|| LayerFailure::Unreadable {
            layer: name.clone(),
            detail: "the signature annotation is not a base64 DER ECDSA signature".into(),
        })?;
    if key.verify(blob, &signature).is_err() {
        return Err(LayerFailure::Signature { layer: name });
    }
    let payload: Payload = serde_json::from_slice(blob).map_err(|e| LayerFailure::Payload {
        layer: name.clone(),
        detail: format!("the payload is not a simple-signing document: {e}"),
    })?;
    if payload.critical.kind != SIGNATURE_TYPE {
        return Err(LayerFailure::Payload {
            layer: name,
            detail: format!(
                "the payload's type is {:?}, not {SIGNATURE_TYPE:?}",
                payload.critical.kind
            ),
        });
    }
    let signed = payload.critical.image.docker_manifest_digest;
    if *artifact_digest != signed {
        return Err(LayerFailure::OtherManifest {
            layer: name,
            signed,
        });
    }
    Ok(Claim {
        layer: name,
        docker_reference: payload.critical.identity.docker_reference,
        manifest_digest: signed,
    })
}

#[cfg(test)]
mod tests {
    use super::super::keys::generate;
    use super::super::simple_signing::{payload, sign, signature_layer};
    use super::*;

    const ARTIFACT: &str =
        "sha256:2c1bc4207317e8495198a953d86e35744d97f4ac29672f227ac3b591f70d7fe4";
    const OTHER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn artifact() -> Digest {
        Digest::parse(ARTIFACT).unwrap()
    }

    fn signed(key: &p256::ecdsa::SigningKey, digest: &str) -> (Descriptor, Vec<u8>) {
        let digest = &Digest::parse(digest).unwrap();
        let payload = payload("127.0.0.1:5000/demo/app", digest);
        (signature_layer(&payload, &sign(key, &payload)), payload)
    }

    #[test]
    fn a_signature_by_the_trusted_key_for_the_artifact_verifies() {
        let key = generate().unwrap();
        let (layer, blob) = signed(&key, ARTIFACT);
        let claim = verify_layer(&layer, &blob, key.verifying_key(), &artifact()).unwrap();
        assert_eq!(claim.manifest_digest, ARTIFACT);
        assert_eq!(claim.docker_reference, "127.0.0.1:5000/demo/app");
        assert_eq!(claim.layer, layer.digest);
    }

    #[test]
    fn a_cosign_signature_verifies_with_cosigns_public_key() {
        // Signed by cosign 2.5.0 (a Go ECDSA signature: random nonce, possibly high S).
        let public = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQa0Bbg8AmN8XO3Gwk0tzTFU+L61I
lhnKw2RQYibMmzy/UvvTBBt3Hdf5nrHaB3DJH8mrBdcWnfpjx7MhEvVMWQ==
-----END PUBLIC KEY-----
";
        let key = super::super::keys::read_public_key(public.as_bytes()).unwrap();
        let blob = payload("127.0.0.1:5917/demo/app", &artifact());
        let layer = signature_layer(&blob, "MEUCIB/xhhpcSlSCtTgwhnQT4h32L97/tYOx2ZZXZjietP8uAiEAqfdzNTkrt9PZpaMO3who2G5ux0jHUE9KM9Fije8hoSQ=");
        verify_layer(&layer, &blob, &key, &artifact()).unwrap();
    }

    #[test]
    fn each_way_of_failing_is_told_apart() {
        let key = generate().unwrap();
        let other_key = generate().unwrap();
        let trusted = key.verifying_key();

        let (layer, blob) = signed(&other_key, ARTIFACT);
        let wrong_key = verify_layer(&layer, &blob, trusted, &artifact()).unwrap_err();
        assert!(matches!(wrong_key, LayerFailure::Signature { .. }));

        let (layer, blob) = signed(&key, OTHER);
        let tampered = verify_layer(&layer, &blob, trusted, &artifact()).unwrap_err();
        assert_eq!(
            tampered,
            LayerFailure::OtherManifest {
                layer: layer.digest.clone(),
                signed: OTHER.into()
            }
        );

        let (layer, mut blob) = signed(&key, ARTIFACT);
        blob.push(b' ');
        let changed = verify_layer(&layer, &blob, trusted, &artifact()).unwrap_err();
        assert!(matches!(changed, LayerFailure::Blob { .. }));

        let mut layer = signed(&key, ARTIFACT).0;
        layer.annotations.clear();
        let unsigned = verify_layer(&layer, &signed(&key, ARTIFACT).1, trusted, &artifact());
        assert!(matches!(unsigned, Err(LayerFailure::Unreadable { .. })));
    }

    #[test]
    fn payloads_signed_by_the_key_must_be_image_signatures() {
        let key = generate().unwrap();
        let blob = payload("r/app", &artifact());
        let text = String::from_utf8(blob).unwrap();
        for bad in [
            text.replace(SIGNATURE_TYPE, "cosign attestation"),
            text[..text.len() - 1].to_owned(),
            "null".to_owned(),
        ] {
            let layer = signature_layer(bad.as_bytes(), &sign(&key, bad.as_bytes()));
            let failure =
                verify_layer(&layer, bad.as_bytes(), key.verifying_key(), &artifact()).unwrap_err();
            assert!(
                matches!(failure, LayerFailure::Payload { .. }),
                "{bad}: {failure:?}"
            );
        }
    }

    #[test]
    fn garbage_signatures_are_errors_not_panics() {
        let key = generate().unwrap();
        let (mut layer, blob) = signed(&key, ARTIFACT);
        for garbage in ["", "!!!", "AAAA", "MEUCIQ==", &BASE64.encode([0x30; 200])] {
            layer.annotations.insert(
                super::super::simple_signing::SIGNATURE_ANNOTATION.into(),
                garbage.into(),
            );
            let failure =
                verify_layer(&layer, &blob, key.verifying_key(), &artifact()).unwrap_err();
            assert!(
                matches!(failure, LayerFailure::Unreadable { .. }),
                "{garbage}"
            );
        }
    }
}
