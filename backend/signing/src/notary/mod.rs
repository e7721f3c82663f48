//! Notary Project signatures (what `notation sign` writes): the JWS and COSE envelopes, the
//! X.509 checks, and the signature manifest, after the Notary Project specifications
//! (signature-specification.md, signature-envelope-jws.md, signature-envelope-cose.md,
//! trust-store-trust-policy.md). Pure functions: `now` is a parameter.
//!
//! - `envelope`: building and reading JWS (JSON flattened serialization) and COSE_Sign1.
//! - `x509`: certificate chains: links, the code-signing requirements, trust, validity.
//! - `keys`: the RSA and ECDSA keys notation signs with, and their algorithms.
//! - `trust_store`: notation's `trustpolicy.json` and trust-store layout, read from files the
//!   caller hands over.
//!
//! Checked offline: integrity (the envelope's signature with the leaf certificate's key, the
//! algorithm that key dictates), authenticity (a well-formed chain to a trusted certificate,
//! code-signing key usage and EKU, key sizes, no SHA-1, the trusted identities), expiry (the
//! signed `expiry`), and validity (every certificate valid now and at the signing time). Not
//! checked: revocation (OCSP and CRLs need the network) and RFC 3161 timestamp countersignatures
//! (so validity is judged at verification time, which refuses more, never less, than a
//! timestamp would); `notary.x509.signingAuthority` signatures are refused.

pub mod envelope;
pub mod keys;
pub mod trust_store;
pub mod x509;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use nodefit_registry::Digest;

/// The config media type of a Notary Project signature manifest, and its `artifactType` in
/// referrers lists.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
pub const COSE_MEDIA_TYPE: &str = "application/cose";
/// The payload's content type, the only one defined.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
pub const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
pub const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
pub const EXPIRY: &str = "io.cncf.notary.expiry";
pub const SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
pub const THUMBPRINTS_ANNOTATION: &str = "io.cncf.notary.x509chain.thumbprint#S256";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const EMPTY_BLOB: &[u8] = b"{}";
/// Largest envelope read: a JWS with a three-certificate chain is about 5 KiB.
pub const MAX_ENVELOPE_BYTES: usize = 256 * 1024;
/// Most certificates in an envelope's chain.
pub const MAX_CHAIN_CERTIFICATES: usize = 10;
/// Largest certificate read (in an envelope or a trust store).
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;

/// The envelope format of a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvelopeFormat {
    Jws,
    Cose,
}

impl EnvelopeFormat {
    pub fn name(self) -> &'static str {
        match self {
            EnvelopeFormat::Jws => "jws",
            EnvelopeFormat::Cose => "cose",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            EnvelopeFormat::Jws => JWS_MEDIA_TYPE,
            EnvelopeFormat::Cose => COSE_MEDIA_TYPE,
        }
    }

    pub fn of_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            JWS_MEDIA_TYPE => Some(EnvelopeFormat::Jws),
            COSE_MEDIA_TYPE => Some(EnvelopeFormat::Cose),
            _ => None,
        }
    }
}

/// The signed payload: the descriptor of the manifest signed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Payload {
    #[serde(rename = "targetArtifact")]
    pub target: Target,
}

/// notation writes the descriptor's fields in this order (Go's `ocispec.Descriptor` marshalled
/// through a map: sorted keys).
#[derive(Debug, Serialize, Deserialize)]
pub struct Target {
    pub digest: String,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub size: i64,
}

/// The payload signing the manifest `digest` (`media_type`, `size` bytes), exact bytes.
pub fn payload(digest: &Digest, media_type: &str, size: i64) -> Vec<u8> {
    serde_json::to_vec(&Payload {
        target: Target {
            digest: digest.to_string(),
            media_type: media_type.to_owned(),
            size,
        },
    })
    .expect("a struct of strings always serialises")
}

/// The signature manifest as notation writes it: config of media type
/// [`SIGNATURE_ARTIFACT_TYPE`] (the empty blob), one envelope layer, `subject` the signed
/// manifest, the chain's thumbprints and the creation time as annotations.
pub fn manifest(
    envelope: &[u8],
    format: EnvelopeFormat,
    subject: &crate::bundle::Subject,
    thumbprints: &[String],
    created: &str,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Manifest<'a> {
        #[serde(rename = "schemaVersion")]
        schema_version: u32,
        #[serde(rename = "mediaType")]
        media_type: &'a str,
        config: Descriptor,
        layers: Vec<Descriptor>,
        subject: Descriptor,
        annotations: BTreeMap<&'a str, String>,
    }
    #[derive(Serialize)]
    struct Descriptor {
        #[serde(rename = "mediaType")]
        media_type: String,
        digest: String,
        size: i64,
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        config: Descriptor {
            media_type: SIGNATURE_ARTIFACT_TYPE.into(),
            digest: Digest::sha256_of(EMPTY_BLOB).into(),
            size: EMPTY_BLOB.len() as i64,
        },
        layers: vec![Descriptor {
            media_type: format.media_type().into(),
            digest: Digest::sha256_of(envelope).into(),
            size: envelope.len() as i64,
        }],
        subject: Descriptor {
            media_type: subject.media_type.clone(),
            digest: subject.digest.to_string(),
            size: subject.size,
        },
        annotations: BTreeMap::from([
            (
                THUMBPRINTS_ANNOTATION,
                serde_json::to_string(thumbprints).expect("strings always serialise"),
            ),
            ("org.opencontainers.image.created", created.to_owned()),
        ]),
    };
    serde_json::to_vec(&manifest).expect("a manifest always serialises")
}

/// The config blob of every signature manifest.
pub fn empty_config() -> (&'static str, &'static [u8]) {
    (SIGNATURE_ARTIFACT_TYPE, EMPTY_BLOB)
}

/// Why a Notary Project signature does not vouch for the artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Not an envelope nodefit can read, or one the specification forbids.
    Malformed(String),
    /// Valid in form but outside what nodefit verifies (a signing scheme, an algorithm).
    Unsupported(String),
    /// The envelope's signature does not verify with its own signing certificate.
    Signature(String),
    /// The chain is not one the specification accepts, or leads to no trusted certificate, or
    /// the signer is not a trusted identity.
    Untrusted(String),
    /// A certificate is not valid now or was not at signing time, or the signature's expiry
    /// passed.
    Expired(String),
    /// A valid signature, for another manifest.
    OtherArtifact { signed: String },
}

/// Who signed, as people read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Signer {
    /// The signing certificate's subject (RFC 4514).
    pub subject: String,
    pub issuer: String,
    /// SHA-256 of the signing certificate's DER, hex.
    pub thumbprint: String,
}

/// What a verified signature says.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    pub signer: Signer,
    /// The trust it verified under (a trust store or a set of trusted certificates).
    pub trust: String,
    #[serde(rename = "signingTime")]
    pub signing_time: Option<String>,
    /// What was not checked offline.
    pub unchecked: Vec<String>,
}

/// Certificates and identities trusted to sign: a notation trust store of type `ca` with a
/// policy's `trustedIdentities`, or `--trusted-cert` files (any identity).
#[derive(Clone, Debug)]
pub struct Trust {
    /// How messages name it (`ca:acme`, `certs.pem`).
    pub name: String,
    /// The trusted certificates, DER.
    pub certificates: Vec<Vec<u8>>,
    /// Each a set of subject attributes the signing certificate must have; empty means any
    /// identity (notation's `*`).
    pub identities: Vec<Vec<(String, String)>>,
    /// What is enforced (notation's verification level); what is not is reported instead.
    pub level: trust_store::Level,
}

/// Reads an envelope and verifies it under `trust` for the manifest `artifact` of `size` bytes
/// and `media_type`, at `now` (seconds since the Unix epoch).
pub fn verify(
    envelope: &[u8],
    format: EnvelopeFormat,
    trust: &Trust,
    artifact: &Target,
    now: i64,
) -> Result<Verified, Failure> {
    use trust_store::Level;
    let parsed = envelope::parse(envelope, format)?;
    let chain = x509::Chain::parse(&parsed.chain)?;
    // Integrity is always enforced; the level decides whether authenticity and validity
    // failures refuse the signature or are only reported (notation's "logged").
    chain.check_signature(&parsed)?;
    let mut logged = Vec::new();
    let mut enforce = |result: Result<(), Failure>, enforced: bool| match result {
        Err(failure) if !enforced => {
            logged.push(format!(
                "not enforced at this level: {}",
                failure_text(&failure)
            ));
            Ok(())
        }
        other => other,
    };
    let authenticity = matches!(trust.level, Level::Strict | Level::Permissive);
    let validity = trust.level == Level::Strict;
    enforce(chain.check_requirements(), authenticity)?;
    enforce(chain.check_trusted(trust), authenticity)?;
    if let Some(expiry) = parsed.expiry {
        let expired = (now >= expiry).then(|| {
            Failure::Expired(format!(
                "the signature expired at {} (its signed expiry)",
                envelope::rfc3339(expiry)
            ))
        });
        enforce(expired.map_or(Ok(()), Err), validity)?;
    }
    enforce(chain.check_valid_at(now, "now"), validity)?;
    if let Some(signed_at) = parsed.signing_time {
        enforce(
            chain.check_valid_at(signed_at, "at its signing time"),
            validity,
        )?;
    }
    let payload: Payload = serde_json::from_slice(&parsed.payload).map_err(|e| {
        Failure::Malformed(format!(
            "the payload is not a Notary Project payload: {}",
            nodefit_registry::json_problem(&e)
        ))
    })?;
    if payload.target.digest != artifact.digest {
        return Err(Failure::OtherArtifact {
            signed: payload.target.digest,
        });
    }
    if payload.target.size != artifact.size || payload.target.media_type != artifact.media_type {
        return Err(Failure::OtherArtifact {
            signed: format!(
                "{} ({} bytes of {}: the descriptor does not match the manifest fetched)",
                payload.target.digest, payload.target.size, payload.target.media_type
            ),
        });
    }
    let mut unchecked = logged;
    unchecked.push("revocation (OCSP, CRL) is not checked offline".to_owned());
    if parsed.has_timestamp {
        unchecked.push(
            "the RFC 3161 timestamp countersignature is not checked; validity was judged now"
                .to_owned(),
        );
    }
    Ok(Verified {
        signer: chain.signer(),
        trust: trust.name.clone(),
        signing_time: parsed.signing_time.map(envelope::rfc3339),
        unchecked,
    })
}

/// A failure's explanation, without its kind.
pub fn failure_text(failure: &Failure) -> String {
    match failure {
        Failure::Malformed(text)
        | Failure::Unsupported(text)
        | Failure::Signature(text)
        | Failure::Untrusted(text)
        | Failure::Expired(text) => text.clone(),
        Failure::OtherArtifact { signed } => format!("signed for {signed}"),
    }
}

/// The signer an envelope names, unverified (for listings).
pub fn describe(envelope: &[u8], format: EnvelopeFormat) -> Result<Signer, Failure> {
    let parsed = envelope::parse(envelope, format)?;
    Ok(x509::Chain::parse(&parsed.chain)?.signer())
}
