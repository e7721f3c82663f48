//! Sigstore bundles (v0.3) as cosign 3 attaches them to what it signs, byte for byte: the
//! in-toto statement, the DSSE envelope, the bundle JSON and the referrer manifest around it; and
//! their verification against a trusted public key. Pure functions only.
//!
//! cosign 3's `sign --key` writes a bundle whose content is a DSSE envelope (payload type
//! `application/vnd.in-toto+json`) over an in-toto v1 statement: subject the signed manifest's
//! sha256, predicate type `https://sigstore.dev/cosign/sign/v1`, empty predicate. DSSE signs
//! `PAE(payloadType, payload)`, not the payload alone. Bundles may instead carry a
//! `messageSignature` (a signature over the artifact's bytes, with their digest): read too.
//!
//! Offline, with a key, nodefit checks what `cosign verify --key … --insecure-ignore-tlog`
//! checks: the signature over the exact bytes with the trusted key, and that the signed subject
//! is the artifact. Transparency-log entries and timestamps a bundle carries are reported, not
//! checked (that needs the log's and the TSA's keys, i.e. a trusted root); a bundle whose
//! verification material is a certificate (keyless signing) is reported as such and not
//! trusted, since nodefit trusts keys and Notary Project certificates only.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::EncodePublicKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use nodefit_registry::Digest;

/// The bundle's media type, the referrer's `artifactType` and its layer's media type.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Older bundle media types cosign 2.x's `--new-bundle-format` and sigstore clients wrote; read
/// as v0.3 (the fields nodefit uses did not change).
const OLDER_BUNDLE_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
];
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Statement type of in-toto 0.1, which older sigstore clients wrote: same shape.
const STATEMENT_TYPE_V01: &str = "https://in-toto.io/Statement/v0.1";
/// What cosign 3 signs an image with: the predicate type of a plain signature.
pub const SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
pub const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
pub const PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_BLOB: &[u8] = b"{}";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Largest bundle read. cosign's are under 1 KiB; one with a certificate chain and log entries
/// a few KiB.
pub const MAX_BUNDLE_BYTES: usize = 256 * 1024;

/// `base64(SHA-256(DER public key))`: the hint cosign 3 writes in
/// `verificationMaterial.publicKey`, and how nodefit names a key to people.
pub fn key_hint(key: &VerifyingKey) -> String {
    let der = key
        .to_public_key_der()
        .expect("a P-256 public key always encodes");
    BASE64.encode(Sha256::digest(der.as_bytes()))
}

/// DSSE's pre-authentication encoding, what a DSSE signature signs.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The in-toto statement cosign 3 signs for the manifest `digest`, exact bytes.
pub fn statement(digest: &Digest) -> Vec<u8> {
    format!(
        r#"{{"_type":"{STATEMENT_TYPE}","subject":[{{"digest":{{"sha256":"{}"}},"annotations":{{}}}}],"predicateType":"{SIGN_PREDICATE_TYPE}","predicate":{{}}}}"#,
        digest.hex()
    )
    .into_bytes()
}

/// The bundle JSON signing `digest` with `key`, exact bytes as cosign 3 writes them. ECDSA here
/// is deterministic (RFC 6979): the same key and digest give the same bundle.
pub fn bundle(key: &SigningKey, digest: &Digest) -> Vec<u8> {
    let payload = statement(digest);
    let signature: Signature = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &payload));
    format!(
        r#"{{"mediaType":"{BUNDLE_MEDIA_TYPE}","verificationMaterial":{{"publicKey":{{"hint":"{}"}}}},"dsseEnvelope":{{"payload":"{}","payloadType":"{IN_TOTO_PAYLOAD_TYPE}","signatures":[{{"sig":"{}"}}]}}}}"#,
        key_hint(key.verifying_key()),
        BASE64.encode(&payload),
        BASE64.encode(signature.to_der().as_bytes())
    )
    .into_bytes()
}

/// The referrer manifest cosign 3 pushes around a bundle: the empty config (whose descriptor,
/// as cosign writes it, carries the bundle's `artifactType` too), one bundle layer, the
/// annotations, `subject` the signed manifest. Field order is go-containerregistry's.
pub fn manifest(bundle: &[u8], subject: &Subject, created: &str) -> Vec<u8> {
    let manifest = Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        config: Descriptor {
            media_type: EMPTY_MEDIA_TYPE.into(),
            size: EMPTY_BLOB.len() as i64,
            digest: Digest::sha256_of(EMPTY_BLOB).into(),
            artifact_type: Some(BUNDLE_MEDIA_TYPE.into()),
        },
        layers: vec![Descriptor {
            media_type: BUNDLE_MEDIA_TYPE.into(),
            size: bundle.len() as i64,
            digest: Digest::sha256_of(bundle).into(),
            artifact_type: None,
        }],
        annotations: BTreeMap::from([
            (CONTENT_ANNOTATION, "dsse-envelope"),
            (PREDICATE_TYPE_ANNOTATION, SIGN_PREDICATE_TYPE),
            ("org.opencontainers.image.created", created),
        ]),
        subject: Descriptor {
            media_type: subject.media_type.clone(),
            size: subject.size,
            digest: subject.digest.to_string(),
            artifact_type: None,
        },
        artifact_type: BUNDLE_MEDIA_TYPE,
    };
    serde_json::to_vec(&manifest).expect("a manifest always serialises")
}

/// The empty config blob every bundle referrer points to.
pub fn empty_config() -> (&'static str, &'static [u8]) {
    (EMPTY_MEDIA_TYPE, EMPTY_BLOB)
}

/// The manifest a signature refers to.
#[derive(Clone, Debug)]
pub struct Subject {
    pub media_type: String,
    pub digest: Digest,
    pub size: i64,
}

#[derive(Serialize)]
struct Manifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: Descriptor,
    layers: Vec<Descriptor>,
    annotations: BTreeMap<&'a str, &'a str>,
    subject: Descriptor,
    #[serde(rename = "artifactType")]
    artifact_type: &'a str,
}

#[derive(Serialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    size: i64,
    digest: String,
    #[serde(rename = "artifactType", skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
}

/// A bundle as read: only the fields verification uses; the rest is ignored, as sigstore's
/// clients ignore unknown fields.
#[derive(Deserialize)]
struct Bundle {
    #[serde(rename = "mediaType")]
    media_type: String,
    #[serde(rename = "verificationMaterial")]
    material: Material,
    #[serde(rename = "dsseEnvelope")]
    dsse: Option<Envelope>,
    #[serde(rename = "messageSignature")]
    message: Option<MessageSignature>,
}

#[derive(Deserialize)]
struct Material {
    #[serde(rename = "publicKey")]
    public_key: Option<PublicKeyHint>,
    #[serde(rename = "x509CertificateChain")]
    chain: Option<serde_json::Value>,
    certificate: Option<serde_json::Value>,
    #[serde(rename = "tlogEntries", default)]
    tlog_entries: Vec<serde_json::Value>,
    #[serde(rename = "timestampVerificationData")]
    timestamps: Option<TimestampData>,
}

#[derive(Deserialize)]
struct PublicKeyHint {
    #[serde(default)]
    hint: String,
}

#[derive(Deserialize)]
struct TimestampData {
    #[serde(rename = "rfc3161Timestamps", default)]
    rfc3161: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Envelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

#[derive(Deserialize)]
struct MessageSignature {
    #[serde(rename = "messageDigest")]
    digest: MessageDigest,
    signature: String,
}

#[derive(Deserialize)]
struct MessageDigest {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    kind: String,
    subject: Vec<StatementSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
}

#[derive(Deserialize)]
struct StatementSubject {
    #[serde(default)]
    digest: BTreeMap<String, String>,
}

/// What a bundle says before any key is tried: who it names as signer, and what is left
/// unchecked offline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Described {
    /// `verificationMaterial.publicKey.hint` (base64 SHA-256 of the key), if the bundle names
    /// a key.
    pub key_hint: Option<String>,
    /// What a bundle carries that nodefit does not check offline.
    pub unchecked: Vec<String>,
}

/// Why a bundle does not vouch for the artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Not a bundle nodefit can read.
    Malformed(String),
    /// Keyless: a certificate, not a key, signed it.
    Keyless,
    /// The signature does not verify with the key.
    Signature,
    /// Signed by the key, for another artifact.
    OtherArtifact { signed: String },
    /// Signed by the key, but an attestation with another predicate, not a signature.
    NotASignature { predicate_type: String },
}

/// Reads what a bundle names without verifying it.
pub fn describe(bytes: &[u8]) -> Result<Described, Failure> {
    let bundle = parse(bytes)?;
    Ok(describe_parsed(&bundle))
}

fn describe_parsed(bundle: &Bundle) -> Described {
    let mut unchecked = Vec::new();
    let entries = bundle.material.tlog_entries.len();
    if entries > 0 {
        unchecked.push(format!(
            "{entries} transparency-log entr{} (not checked offline: needs the log's key)",
            if entries == 1 { "y" } else { "ies" }
        ));
    }
    let stamps = bundle
        .material
        .timestamps
        .as_ref()
        .map_or(0, |t| t.rfc3161.len());
    if stamps > 0 {
        unchecked.push(format!(
            "{stamps} RFC 3161 timestamp{} (not checked offline: needs the TSA's certificate)",
            if stamps == 1 { "" } else { "s" }
        ));
    }
    Described {
        key_hint: bundle
            .material
            .public_key
            .as_ref()
            .map(|k| k.hint.clone())
            .filter(|h| !h.is_empty()),
        unchecked,
    }
}

fn parse(bytes: &[u8]) -> Result<Bundle, Failure> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(Failure::Malformed(format!(
            "the bundle is {} bytes; nodefit reads at most {MAX_BUNDLE_BYTES} \
             (signing::bundle::MAX_BUNDLE_BYTES)",
            bytes.len()
        )));
    }
    let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| {
        Failure::Malformed(format!(
            "not a sigstore bundle: {}",
            nodefit_registry::json_problem(&e)
        ))
    })?;
    if bundle.media_type != BUNDLE_MEDIA_TYPE
        && !OLDER_BUNDLE_MEDIA_TYPES.contains(&bundle.media_type.as_str())
    {
        return Err(Failure::Malformed(format!(
            "unknown bundle media type {:?}",
            bundle.media_type
        )));
    }
    Ok(bundle)
}

/// Verifies a bundle's signature with `key` and that what it signs is the manifest `artifact`.
pub fn verify(bytes: &[u8], key: &VerifyingKey, artifact: &Digest) -> Result<Described, Failure> {
    let bundle = parse(bytes)?;
    let described = describe_parsed(&bundle);
    if bundle.material.public_key.is_none()
        && (bundle.material.chain.is_some() || bundle.material.certificate.is_some())
    {
        return Err(Failure::Keyless);
    }
    match (&bundle.dsse, &bundle.message) {
        (Some(envelope), None) => verify_dsse(envelope, key, artifact)?,
        (None, Some(message)) => verify_message(message, key, artifact)?,
        _ => {
            return Err(Failure::Malformed(
                "a bundle holds exactly one of dsseEnvelope and messageSignature".into(),
            ))
        }
    }
    Ok(described)
}

fn verify_dsse(envelope: &Envelope, key: &VerifyingKey, artifact: &Digest) -> Result<(), Failure> {
    let payload = BASE64
        .decode(&envelope.payload)
        .map_err(|_| Failure::Malformed("the DSSE payload is not base64".into()))?;
    let signed = pae(&envelope.payload_type, &payload);
    // One signature by the key is enough, as in sigstore's verifiers.
    let verified = envelope
        .signatures
        .iter()
        .any(|s| decode_signature(&s.sig).is_some_and(|sig| key.verify(&signed, &sig).is_ok()));
    if !verified {
        return Err(Failure::Signature);
    }
    // Only what the key signed is read from here on.
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Failure::Malformed(format!(
            "the DSSE payload type is {:?}, not {IN_TOTO_PAYLOAD_TYPE:?}",
            envelope.payload_type
        )));
    }
    let statement: Statement = serde_json::from_slice(&payload).map_err(|e| {
        Failure::Malformed(format!(
            "the DSSE payload is not an in-toto statement: {}",
            nodefit_registry::json_problem(&e)
        ))
    })?;
    if statement.kind != STATEMENT_TYPE && statement.kind != STATEMENT_TYPE_V01 {
        return Err(Failure::Malformed(format!(
            "the statement's _type is {:?}",
            statement.kind
        )));
    }
    let subjects: Vec<&str> = statement
        .subject
        .iter()
        .filter_map(|s| s.digest.get("sha256").map(String::as_str))
        .collect();
    if !subjects.contains(&artifact.hex()) {
        return Err(Failure::OtherArtifact {
            signed: match subjects.as_slice() {
                [] => "no sha256 subject".to_owned(),
                some => some
                    .iter()
                    .map(|hex| format!("sha256:{hex}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        });
    }
    // cosign verify checks image signatures; attestations are `verify-attestation`'s.
    if statement.predicate_type != SIGN_PREDICATE_TYPE {
        return Err(Failure::NotASignature {
            predicate_type: statement.predicate_type,
        });
    }
    Ok(())
}

/// A message signature signs the artifact's bytes; the bundle carries their digest, which must
/// be the artifact's, and the ECDSA signature is checked over that digest.
fn verify_message(
    message: &MessageSignature,
    key: &VerifyingKey,
    artifact: &Digest,
) -> Result<(), Failure> {
    if message.digest.algorithm != "SHA2_256" {
        return Err(Failure::Malformed(format!(
            "message digest algorithm {:?}; nodefit reads SHA2_256",
            message.digest.algorithm
        )));
    }
    let digest = BASE64
        .decode(&message.digest.digest)
        .map_err(|_| Failure::Malformed("the message digest is not base64".into()))?;
    let signature = decode_signature(&message.signature).ok_or(Failure::Signature)?;
    if key.verify_prehash(&digest, &signature).is_err() {
        return Err(Failure::Signature);
    }
    if hex::encode(&digest) != artifact.hex() {
        return Err(Failure::OtherArtifact {
            signed: format!("sha256:{}", hex::encode(&digest)),
        });
    }
    Ok(())
}

fn decode_signature(text: &str) -> Option<Signature> {
    let der = BASE64.decode(text.trim()).ok()?;
    Signature::from_der(&der).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{generate, read_public_key};

    const ARTIFACT: &str =
        "sha256:ecf4d7728f26fd75dcebe46a672dff945c8871821de8708bca385003cbd0ac23";

    fn artifact() -> Digest {
        Digest::parse(ARTIFACT).unwrap()
    }

    /// What cosign 3.1.1 pushed for `cosign sign --key` of 127.0.0.1:5931/demo/app@ARTIFACT
    /// (a signing config without services), its key, and the referrer manifest.
    const COSIGN3_PUB: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEl1jOqiETUgn+FS3H/DhRBLpwNdgm
lmy0pVNIrJjrAmpDps2yNULcKuaYJJo72SLOjYGAjaF+MYT2HEo1+kVl0Q==
-----END PUBLIC KEY-----
";
    const COSIGN3_BUNDLE: &str = r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"VQpBh7A7sI946q7hyOoy83TVqc2LBexan/pjF72r2go="}},"dsseEnvelope":{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLCJzdWJqZWN0IjpbeyJkaWdlc3QiOnsic2hhMjU2IjoiZWNmNGQ3NzI4ZjI2ZmQ3NWRjZWJlNDZhNjcyZGZmOTQ1Yzg4NzE4MjFkZTg3MDhiY2EzODUwMDNjYmQwYWMyMyJ9LCJhbm5vdGF0aW9ucyI6e319XSwicHJlZGljYXRlVHlwZSI6Imh0dHBzOi8vc2lnc3RvcmUuZGV2L2Nvc2lnbi9zaWduL3YxIiwicHJlZGljYXRlIjp7fX0=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEQCIBI9TIvf/oX5H0lI9gBmmIN0J2uJ1ElbhT+jwoxx/OyWAiBALrAMUeHwxfkWTne+/13BV+UuUdqSki31DruVc2dIrA=="}]}}"#;
    const COSIGN3_MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"},"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":659,"digest":"sha256:8fddb6cb9d0823313cca787c4a9230e16aef55209750e313b6bc12c2580638ce"}],"annotations":{"dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1","org.opencontainers.image.created":"2026-12-06T04:34:24Z"},"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":785,"digest":"sha256:ecf4d7728f26fd75dcebe46a672dff945c8871821de8708bca385003cbd0ac23"},"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#;

    #[test]
    fn cosign3s_bundle_verifies_and_its_layout_is_ours() {
        let key = read_public_key(COSIGN3_PUB.as_bytes()).unwrap();
        let described = verify(COSIGN3_BUNDLE.as_bytes(), &key, &artifact()).unwrap();
        assert_eq!(described.key_hint.as_deref(), Some(key_hint(&key).as_str()));
        assert!(described.unchecked.is_empty());
        // The statement cosign signed is byte for byte the one nodefit signs.
        let bundle: Bundle = serde_json::from_str(COSIGN3_BUNDLE).unwrap();
        let payload = BASE64.decode(bundle.dsse.unwrap().payload).unwrap();
        assert_eq!(payload, statement(&artifact()));
        // So is the manifest around it, for a bundle of the same size.
        let subject = Subject {
            media_type: OCI_MANIFEST.into(),
            digest: artifact(),
            size: 785,
        };
        let ours = manifest(COSIGN3_BUNDLE.as_bytes(), &subject, "2026-12-06T04:34:24Z");
        assert_eq!(String::from_utf8(ours).unwrap(), COSIGN3_MANIFEST);
    }

    #[test]
    fn nodefits_bundles_verify_and_have_cosigns_shape() {
        let key = generate().unwrap();
        let written = bundle(&key, &artifact());
        assert_eq!(written, bundle(&key, &artifact()), "deterministic");
        verify(&written, key.verifying_key(), &artifact()).unwrap();
        let text = String::from_utf8(written).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(COSIGN3_BUNDLE).unwrap();
        let ours: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&ours), keys(&theirs));
        assert!(text.len() < 700 && text.starts_with(r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":""#));
    }

    #[test]
    fn each_way_of_failing_is_told_apart() {
        let key = generate().unwrap();
        let other = generate().unwrap();
        let written = bundle(&key, &artifact());
        assert_eq!(
            verify(&written, other.verifying_key(), &artifact()),
            Err(Failure::Signature)
        );
        let elsewhere = Digest::sha256_of(b"another manifest");
        assert_eq!(
            verify(&written, key.verifying_key(), &elsewhere),
            Err(Failure::OtherArtifact {
                signed: ARTIFACT.to_owned()
            })
        );
        // An attestation by the key is not a signature.
        let attestation = String::from_utf8(statement(&artifact()))
            .unwrap()
            .replace(SIGN_PREDICATE_TYPE, "https://spdx.dev/Document");
        let sig: Signature = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, attestation.as_bytes()));
        let attested = format!(
            r#"{{"mediaType":"{BUNDLE_MEDIA_TYPE}","verificationMaterial":{{"publicKey":{{"hint":""}}}},"dsseEnvelope":{{"payload":"{}","payloadType":"{IN_TOTO_PAYLOAD_TYPE}","signatures":[{{"sig":"{}"}}]}}}}"#,
            BASE64.encode(&attestation),
            BASE64.encode(sig.to_der().as_bytes())
        );
        assert!(matches!(
            verify(attested.as_bytes(), key.verifying_key(), &artifact()),
            Err(Failure::NotASignature { .. })
        ));
        // A changed payload no longer verifies.
        let tampered = String::from_utf8(written.clone()).unwrap().replace(
            &BASE64.encode(statement(&artifact())),
            &BASE64.encode(statement(&elsewhere)),
        );
        assert_eq!(
            verify(tampered.as_bytes(), key.verifying_key(), &elsewhere),
            Err(Failure::Signature)
        );
        for garbage in [&b"{}"[..], b"null", b"[", &vec![b' '; MAX_BUNDLE_BYTES + 1]] {
            assert!(matches!(
                verify(garbage, key.verifying_key(), &artifact()),
                Err(Failure::Malformed(_))
            ));
        }
        let keyless = r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"AA=="}},"dsseEnvelope":{"payload":"","payloadType":"x","signatures":[]}}"#;
        assert_eq!(
            verify(keyless.as_bytes(), key.verifying_key(), &artifact()),
            Err(Failure::Keyless)
        );
    }

    #[test]
    fn message_signatures_sign_the_artifacts_digest() {
        let key = generate().unwrap();
        let manifest_bytes = b"the artifact manifest";
        let digest = Digest::sha256_of(manifest_bytes);
        let sig: Signature = key.sign(manifest_bytes);
        let raw = hex::decode(digest.hex()).unwrap();
        let message = |digest_b64: &str| {
            format!(
                r#"{{"mediaType":"{BUNDLE_MEDIA_TYPE}","verificationMaterial":{{"publicKey":{{"hint":"h"}},"tlogEntries":[{{}}]}},"messageSignature":{{"messageDigest":{{"algorithm":"SHA2_256","digest":"{digest_b64}"}},"signature":"{}"}}}}"#,
                BASE64.encode(sig.to_der().as_bytes())
            )
        };
        let good = message(&BASE64.encode(&raw));
        let described = verify(good.as_bytes(), key.verifying_key(), &digest).unwrap();
        assert_eq!(described.unchecked.len(), 1, "{described:?}");
        assert!(described.unchecked[0].contains("transparency-log entry"));
        let elsewhere = Digest::sha256_of(b"x");
        assert!(matches!(
            verify(good.as_bytes(), key.verifying_key(), &elsewhere),
            Err(Failure::OtherArtifact { .. })
        ));
        let wrong = message(&BASE64.encode(Sha256::digest(b"x")));
        assert_eq!(
            verify(wrong.as_bytes(), key.verifying_key(), &elsewhere),
            Err(Failure::Signature)
        );
    }

    #[test]
    fn pae_is_dsses() {
        // The DSSE specification's example.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }
}
