//! Signing and verifying compatibility artifacts on a registry, in every format: sigstore
//! bundles attached as referrers (cosign 3), Notary Project signatures attached as referrers
//! (notation), and classic cosign signatures in the `sha256-<hex>.sig` tag. Reads and writes go
//! through [`Client`]; referrers are pushed through the same referrers and fallback-index code
//! as the artifacts themselves.
//!
//! Verification: resolve the image to digest I; find the artifact among I's referrers; require
//! its `subject` to be I; compute D from the artifact manifest's bytes as fetched; gather every
//! signature of D (the `.sig` tag's layers, and D's referrers that are bundles or Notary Project
//! signatures, each required to refer to D); check each against what the trust policy trusts
//! for the repository; accept when the policy's rule is met; then fetch the spec layer and check
//! its digest. Only then are the spec's bytes handed out, so nothing is evaluated that did not
//! pass.

use std::collections::BTreeMap;

use futures_util::future::{try_join, try_join_all};
use oci_client::manifest::OciDescriptor;
use p256::ecdsa::SigningKey;
use serde::Serialize;

use super::bundle::{self, Subject};
use super::notary::{self, EnvelopeFormat};
use super::simple_signing::{
    docker_reference, payload, sign as sign_payload, signature_image, signature_layer,
    SignatureManifest, CONFIG_MEDIA_TYPE, SIMPLE_SIGNING_MEDIA_TYPE,
};
use super::trust::{Requirement, Rule, Trusted};
use super::verify::{verify_layer, LayerFailure, Refusal};
use nodefit_registry::{
    Client, Digest, Error, Platform, ReferrersSource, ARTIFACT_TYPE, MAX_BLOB_BYTES,
};

/// Most signature layers of a `.sig` image checked: each costs a blob fetch.
pub const MAX_SIGNATURE_LAYERS: usize = 100;
/// Most signatures (of every format) of one artifact looked at: each costs a manifest and a
/// blob fetch, and anyone who can push can add some.
pub const MAX_SIGNATURES_PER_ARTIFACT: usize = 100;
/// Artifacts, newest first, whose signatures a listing looks up: each costs requests, and an
/// image can have thousands of artifacts. The listing says how many were looked up.
pub const MAX_SIGNATURE_LOOKUPS: usize = 50;
/// Largest classic payload read (cosign's are about 250 bytes).
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// A signature format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A sigstore bundle referrer, as cosign 3 signs.
    Bundle,
    /// A layer of the classic cosign `.sig` image.
    Classic,
    /// A Notary Project signature referrer (JWS or COSE), as notation signs.
    Notation,
}

impl Format {
    pub const NAMES: [&'static str; 3] = ["bundle", "classic", "notation"];

    pub fn name(self) -> &'static str {
        match self {
            Format::Bundle => "bundle",
            Format::Classic => "classic",
            Format::Notation => "notation",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "bundle" => Some(Format::Bundle),
            "classic" => Some(Format::Classic),
            "notation" => Some(Format::Notation),
            _ => None,
        }
    }
}

/// One signature of an artifact, and what checking it found.
#[derive(Clone, Debug, Serialize)]
pub struct SignatureReport {
    pub format: Format,
    /// `jws` or `cose` for Notary Project signatures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope: Option<EnvelopeFormat>,
    /// Where it is: the referrer manifest's digest, or `<.sig tag> layer <n>`.
    pub reference: String,
    /// Who it says signed: `key <base64 SHA-256 of the key>` or the certificate's subject and
    /// issuer; unverified unless `verified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    pub verified: bool,
    /// The trusted key or certificates it verified with.
    #[serde(rename = "verifiedBy", skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
    /// Why it did not verify (or why it was not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The refusal kind its failure would be (`wrong-key`, `tampered`...).
    #[serde(rename = "failure", skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'static str>,
    /// What was not checked offline.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
}

/// A signature as fetched, before any check.
struct Found {
    format: Format,
    envelope: Option<EnvelopeFormat>,
    reference: String,
    /// The bundle, envelope or classic payload; `Err` when it could not be used.
    content: Result<Vec<u8>, (&'static str, String)>,
    /// The classic layer's descriptor.
    layer: Option<super::simple_signing::Descriptor>,
}

/// How to sign.
pub enum SignWith<'k> {
    Bundle(&'k SigningKey),
    Classic(&'k SigningKey),
    Notation {
        key: &'k notary::keys::SigningKey,
        /// DER certificates, signing certificate first, ending with the root.
        chain: &'k [Vec<u8>],
        envelope: EnvelopeFormat,
    },
}

impl SignWith<'_> {
    pub fn format(&self) -> Format {
        match self {
            SignWith::Bundle(_) => Format::Bundle,
            SignWith::Classic(_) => Format::Classic,
            SignWith::Notation { .. } => Format::Notation,
        }
    }
}

/// What `sign` did.
#[derive(Debug, Serialize)]
pub struct Signed {
    pub format: Format,
    /// `registry/repository@digest` of the signed artifact.
    pub reference: String,
    pub artifact: Digest,
    pub subject: String,
    /// The signature's manifest: the `.sig` image for classic signatures, the referrer for
    /// the others.
    #[serde(rename = "signatureManifest")]
    pub signature_manifest: String,
    /// The `.sig` tag (classic) or how the referrer is listed (`referrers-api`, `tag-schema`).
    pub location: String,
    /// Signatures in the `.sig` image, this one included (classic only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatures: Option<usize>,
    /// True when a signature by this key was there already: nothing was written.
    pub unchanged: bool,
}

/// What a successful `verify` checked, and the spec it vouches for.
#[derive(Debug, Serialize)]
pub struct Verified {
    /// `registry/repository@digest` of the artifact.
    pub reference: String,
    pub subject: String,
    pub artifact: Digest,
    /// How many compatibility artifacts the image has (NFD uses the newest).
    pub artifacts: usize,
    /// The trust policy that applied (`--key`/`--trusted-cert` when given on the command line).
    pub policy: String,
    pub rule: Rule,
    /// Every signature found, verified or not.
    pub signatures: Vec<SignatureReport>,
    #[serde(rename = "specLayer")]
    pub spec_layer: String,
    /// The spec layer's bytes, digest-checked.
    #[serde(skip)]
    pub spec: Vec<u8>,
}

/// A refusal, with every signature found and why each did not count.
#[derive(Debug)]
pub struct Refused {
    pub refusal: Refusal,
    pub artifact: Option<Digest>,
    pub signatures: Vec<SignatureReport>,
}

/// A compatibility artifact found among an image's referrers, with its manifest's exact bytes.
struct Target {
    subject: OciDescriptor,
    manifest: Vec<u8>,
    json: serde_json::Value,
    artifacts: usize,
}

impl Target {
    fn signed(&self) -> Subject {
        Subject {
            media_type: OCI_MANIFEST.into(),
            digest: Digest::sha256_of(&self.manifest),
            size: self.manifest.len() as i64,
        }
    }
}

/// `2026-12-06T04:34:24Z`: what cosign and notation write as the creation time of a signature.
fn created_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Signs the compatibility artifact `artifact` of the image (default: the newest, which NFD
/// uses), unless a signature of this format by this key is there already.
pub async fn sign(
    client: &Client,
    platform: Option<&Platform>,
    artifact: Option<&Digest>,
    with: &SignWith<'_>,
) -> Result<Signed, Error> {
    let target = find(client, platform, artifact).await?;
    let digest = Digest::sha256_of(&target.manifest);
    // A fallback index can list anything; a signature must not vouch for another image's spec.
    if let Err(refusal) = check_subject(&target, &digest, client) {
        return Err(content(client, format!("refusing to sign: {refusal}")));
    }
    match with {
        SignWith::Classic(key) => sign_classic(client, &target, key).await,
        SignWith::Bundle(key) => sign_bundle(client, &target, key).await,
        SignWith::Notation {
            key,
            chain,
            envelope,
        } => sign_notation(client, &target, key, chain, *envelope).await,
    }
}

async fn sign_classic(client: &Client, target: &Target, key: &SigningKey) -> Result<Signed, Error> {
    let digest = Digest::sha256_of(&target.manifest);
    let image = client.image();
    let payload = payload(
        &docker_reference(image.registry(), image.repository()),
        &digest,
    );
    let tag = digest.signature_tag();
    let (mut layers, annotations, current) = match client.manifest_if_exists(&tag).await? {
        Some((bytes, descriptor)) => {
            let existing = SignatureManifest::parse(&bytes).map_err(|e| {
                content(
                    client,
                    format!("{tag} is not a signature manifest ({e}); refusing to replace it"),
                )
            })?;
            (existing.layers, existing.annotations, descriptor.digest)
        }
        None => (Vec::new(), BTreeMap::new(), String::new()),
    };
    let done = |signature_manifest: String, signatures: usize, unchanged: bool| Signed {
        format: Format::Classic,
        reference: image.at_digest(digest.as_str()),
        artifact: digest.clone(),
        subject: target.subject.digest.clone(),
        signature_manifest,
        location: tag.clone(),
        signatures: Some(signatures),
        unchanged,
    };
    // As cosign does: a layer with this payload that this key signed is a duplicate, whichever
    // tool made it (cosign's signatures are randomised, nodefit's deterministic).
    if layers
        .iter()
        .any(|layer| verify_layer(layer, &payload, key.verifying_key(), &digest).is_ok())
    {
        return Ok(done(current, layers.len(), true));
    }
    layers.push(signature_layer(&payload, &sign_payload(key, &payload)));
    let count = layers.len();
    let (manifest, config) = signature_image(layers, annotations);
    try_join(
        client.push_blob(SIMPLE_SIGNING_MEDIA_TYPE, &payload),
        client.push_blob(CONFIG_MEDIA_TYPE, &config),
    )
    .await?;
    let pushed = client.push_tagged_manifest(&tag, manifest).await?;
    Ok(done(pushed.into(), count, false))
}

/// The descriptor a referrer is listed with: its `artifactType` and annotations.
fn listed(artifact_type: &str, manifest: &[u8]) -> OciDescriptor {
    let annotations = serde_json::from_slice::<serde_json::Value>(manifest)
        .ok()
        .and_then(|m| serde_json::from_value(m.get("annotations")?.clone()).ok());
    OciDescriptor {
        media_type: OCI_MANIFEST.into(),
        digest: Digest::sha256_of(manifest).into(),
        size: manifest.len() as i64,
        artifact_type: Some(artifact_type.into()),
        annotations,
        ..Default::default()
    }
}

fn subject_descriptor(target: &Target) -> OciDescriptor {
    let signed = target.signed();
    OciDescriptor {
        media_type: signed.media_type,
        digest: signed.digest.into(),
        size: signed.size,
        ..Default::default()
    }
}

async fn sign_bundle(client: &Client, target: &Target, key: &SigningKey) -> Result<Signed, Error> {
    let signed = target.signed();
    let done = |signature_manifest: String, location: String, unchanged: bool| Signed {
        format: Format::Bundle,
        reference: client.image().at_digest(signed.digest.as_str()),
        artifact: signed.digest.clone(),
        subject: target.subject.digest.clone(),
        signature_manifest,
        location,
        signatures: None,
        unchanged,
    };
    for found in collect(client, &signed.digest, false).await? {
        if let (Format::Bundle, Ok(bytes)) = (found.format, &found.content) {
            if bundle::verify(bytes, key.verifying_key(), &signed.digest).is_ok() {
                return Ok(done(found.reference, "already listed".into(), true));
            }
        }
    }
    let written = bundle::bundle(key, &signed.digest);
    let manifest = bundle::manifest(&written, &signed, &created_now());
    let (config_type, config) = bundle::empty_config();
    let descriptor = listed(bundle::BUNDLE_MEDIA_TYPE, &manifest);
    let blobs = [
        (blob_descriptor(config_type, config), config),
        (
            blob_descriptor(bundle::BUNDLE_MEDIA_TYPE, &written),
            written.as_slice(),
        ),
    ];
    let (digest, source, _) = client
        .push_referrer(&subject_descriptor(target), manifest, descriptor, &blobs)
        .await?;
    Ok(done(digest.into(), source_name(source), false))
}

async fn sign_notation(
    client: &Client,
    target: &Target,
    key: &notary::keys::SigningKey,
    chain: &[Vec<u8>],
    envelope: EnvelopeFormat,
) -> Result<Signed, Error> {
    let signed = target.signed();
    let usage = |e: notary::Failure| {
        Error::Usage(format!(
            "cannot sign with this key and certificate chain: {}",
            notary::failure_text(&e)
        ))
    };
    let parsed_chain = notary::x509::Chain::parse(chain).map_err(usage)?;
    parsed_chain.check_requirements().map_err(usage)?;
    let certificate_key = parsed_chain.signing_key().map_err(usage)?;
    if !certificate_key.same_as(&key.public_key()) {
        return Err(Error::Usage(
            "the private key is not the signing certificate's (the first of --cert)".into(),
        ));
    }
    let algorithm = certificate_key
        .algorithm()
        .map_err(|e| usage(notary::Failure::Unsupported(e)))?;
    let now = chrono::Utc::now().timestamp();
    parsed_chain.check_valid_at(now, "now").map_err(usage)?;
    let done = |signature_manifest: String, location: String, unchanged: bool| Signed {
        format: Format::Notation,
        reference: client.image().at_digest(signed.digest.as_str()),
        artifact: signed.digest.clone(),
        subject: target.subject.digest.clone(),
        signature_manifest,
        location,
        signatures: None,
        unchanged,
    };
    // A signature by this signing certificate, in this envelope format, is there already.
    let own = notary::Trust {
        name: "the signing certificate".into(),
        certificates: chain.to_vec(),
        identities: Vec::new(),
        level: notary::trust_store::Level::Strict,
    };
    let wanted = notary::Target {
        digest: signed.digest.to_string(),
        media_type: signed.media_type.clone(),
        size: signed.size,
    };
    for found in collect(client, &signed.digest, false).await? {
        if let (Format::Notation, Some(format), Ok(bytes)) =
            (found.format, found.envelope, &found.content)
        {
            let same_signer = notary::describe(bytes, format)
                .is_ok_and(|s| s.thumbprint == parsed_chain.thumbprints()[0]);
            if format == envelope
                && same_signer
                && notary::verify(bytes, format, &own, &wanted, now).is_ok()
            {
                return Ok(done(found.reference, "already listed".into(), true));
            }
        }
    }
    let payload = notary::payload(&signed.digest, &signed.media_type, signed.size);
    let written = notary::envelope::build(
        envelope,
        &notary::envelope::ToSign {
            key,
            algorithm,
            chain,
            payload: &payload,
            signing_time: now,
        },
    )
    .map_err(usage)?;
    let manifest = notary::manifest(
        &written,
        envelope,
        &signed,
        &parsed_chain.thumbprints(),
        &created_now(),
    );
    let (config_type, config) = notary::empty_config();
    let descriptor = listed(notary::SIGNATURE_ARTIFACT_TYPE, &manifest);
    let blobs = [
        (blob_descriptor(config_type, config), config),
        (
            blob_descriptor(envelope.media_type(), &written),
            written.as_slice(),
        ),
    ];
    let (digest, source, _) = client
        .push_referrer(&subject_descriptor(target), manifest, descriptor, &blobs)
        .await?;
    Ok(done(digest.into(), source_name(source), false))
}

fn blob_descriptor(media_type: &str, bytes: &[u8]) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.into(),
        digest: Digest::sha256_of(bytes).into(),
        size: bytes.len() as i64,
        ..Default::default()
    }
}

fn source_name(source: ReferrersSource) -> String {
    match source {
        ReferrersSource::Api => "referrers-api".into(),
        ReferrersSource::TagSchema => "tag-schema".into(),
    }
}

/// Verifies the compatibility artifact `artifact` of the image (default: the newest, which NFD
/// uses) under `requirement`. The outer error is a registry that could not be used; the inner
/// one a refusal to trust what it holds.
pub async fn verify(
    client: &Client,
    platform: Option<&Platform>,
    artifact: Option<&Digest>,
    requirement: &Requirement,
) -> Result<Result<Verified, Refused>, Error> {
    let target = find(client, platform, artifact).await?;
    let digest = Digest::sha256_of(&target.manifest);
    if let Err(refusal) = check_subject(&target, &digest, client) {
        return Ok(Err(Refused {
            refusal,
            artifact: Some(digest),
            signatures: Vec::new(),
        }));
    }
    let signatures = if requirement.rule == Rule::None {
        Vec::new()
    } else {
        collect(client, &digest, true).await?
    };
    let (reports, verified_by) = evaluate(&signatures, requirement, &target);
    if !requirement.satisfied(&verified_by) {
        return Ok(Err(Refused {
            refusal: refusal(client, &digest, requirement, &reports, &verified_by),
            artifact: Some(digest),
            signatures: reports,
        }));
    }
    let Some(layer) = target
        .json
        .pointer("/layers/0")
        .and_then(|l| serde_json::from_value::<OciDescriptor>(l.clone()).ok())
    else {
        return Err(content(
            client,
            format!("compatibility layer not found: artifact {digest} has no usable first layer"),
        ));
    };
    let spec = client
        .blob_unchecked(&layer.digest, layer.size, MAX_BLOB_BYTES, "MAX_BLOB_BYTES")
        .await?;
    let actual = Digest::sha256_of(&spec);
    if actual != layer.digest || spec.len() as i64 != layer.size {
        return Ok(Err(Refused {
            refusal: Refusal::BlobDigestMismatch(format!(
                "the spec layer of artifact {digest} is {} bytes with digest {actual}; the \
                 signed manifest says {} bytes with digest {}",
                spec.len(),
                layer.size,
                layer.digest
            )),
            artifact: Some(digest),
            signatures: reports,
        }));
    }
    Ok(Ok(Verified {
        reference: client.display_at(digest.as_str()),
        subject: target.subject.digest,
        artifact: digest,
        artifacts: target.artifacts,
        policy: requirement.policy.clone(),
        rule: requirement.rule,
        signatures: reports,
        spec_layer: layer.digest,
        spec,
    }))
}

/// The indexes of `requirement`'s trusted entries that signatures made with `signers` would
/// verify under, found by signing a stand-in manifest in memory and verifying it with the same
/// checks as [`verify`], at `now` (seconds since the Unix epoch). A server checks this before it
/// publishes, so that it never attaches a spec its own trust policy would then refuse.
pub fn would_verify(signers: &[SignWith], requirement: &Requirement, now: i64) -> Vec<usize> {
    let stand_in = Digest::sha256_of(b"nodefit: would these signers verify?");
    let wanted = notary::Target {
        digest: stand_in.to_string(),
        media_type: OCI_MANIFEST.into(),
        size: 0,
    };
    let envelope = |key: &notary::keys::SigningKey, chain: &[Vec<u8>], format| {
        let algorithm = key.public_key().algorithm().ok()?;
        let payload = notary::payload(&stand_in, OCI_MANIFEST, 0);
        notary::envelope::build(
            format,
            &notary::envelope::ToSign {
                key,
                algorithm,
                chain,
                payload: &payload,
                signing_time: now,
            },
        )
        .ok()
    };
    let envelopes: Vec<(Vec<u8>, EnvelopeFormat)> = signers
        .iter()
        .filter_map(|signer| match signer {
            SignWith::Notation {
                key,
                chain,
                envelope: format,
            } => envelope(key, chain, *format).map(|e| (e, *format)),
            _ => None,
        })
        .collect();
    requirement
        .trusted
        .iter()
        .enumerate()
        .filter(|(_, trusted)| match trusted {
            Trusted::Key { key, .. } => signers.iter().any(|signer| match signer {
                SignWith::Bundle(own) | SignWith::Classic(own) => own.verifying_key() == key,
                SignWith::Notation { .. } => false,
            }),
            Trusted::Notary(trust) => envelopes
                .iter()
                .any(|(bytes, format)| notary::verify(bytes, *format, trust, &wanted, now).is_ok()),
        })
        .map(|(index, _)| index)
        .collect()
}

/// An artifact's signatures as [`signatures`] found them.
pub struct ArtifactSignatures {
    pub reports: Vec<SignatureReport>,
    /// Whether the signatures that verified satisfy the requirement's rule; `None` when no
    /// requirement was given.
    pub satisfied: Option<bool>,
}

/// The signatures of each of the first [`MAX_SIGNATURE_LOOKUPS`] of `artifacts` (newest
/// first), every format; checked under `requirement` when given, else only described. The
/// answer is shorter than `artifacts` when there are more: the rest were not looked up.
pub async fn signatures(
    client: &Client,
    artifacts: &[OciDescriptor],
    requirement: Option<&Requirement>,
) -> Result<Vec<ArtifactSignatures>, Error> {
    let artifacts = &artifacts[..artifacts.len().min(MAX_SIGNATURE_LOOKUPS)];
    try_join_all(artifacts.iter().map(|artifact| async move {
        let Ok(digest) = Digest::parse(&artifact.digest) else {
            return Ok(ArtifactSignatures {
                reports: Vec::new(),
                satisfied: requirement.map(|r| r.satisfied(&[])),
            });
        };
        let found = collect(client, &digest, true).await?;
        Ok(match requirement {
            Some(requirement) => {
                let manifest = client.listed_artifact(artifact).await?;
                let target = Target {
                    subject: OciDescriptor::default(),
                    json: serde_json::Value::Null,
                    artifacts: 0,
                    manifest,
                };
                let (reports, verified_by) = evaluate(&found, requirement, &target);
                ArtifactSignatures {
                    reports,
                    satisfied: Some(requirement.satisfied(&verified_by)),
                }
            }
            None => ArtifactSignatures {
                reports: found.iter().map(describe).collect(),
                satisfied: None,
            },
        })
    }))
    .await
}

/// Every signature of the manifest `digest`: the `.sig` tag's layers (when `classic`), and the
/// referrers that are sigstore bundles or Notary Project signatures. Entries listed with the
/// empty config's type are read too: cosign 3 lists its bundles so in a fallback index.
async fn collect(client: &Client, digest: &Digest, classic: bool) -> Result<Vec<Found>, Error> {
    let mut found = Vec::new();
    if classic {
        let tag = digest.signature_tag();
        if let Some((bytes, _)) = client.manifest_if_exists(&tag).await? {
            match SignatureManifest::parse(&bytes) {
                Err(e) => found.push(Found {
                    format: Format::Classic,
                    envelope: None,
                    reference: tag.clone(),
                    content: Err(("malformed", e)),
                    layer: None,
                }),
                Ok(parsed) if parsed.layers.len() > MAX_SIGNATURE_LAYERS => found.push(Found {
                    format: Format::Classic,
                    envelope: None,
                    reference: tag.clone(),
                    content: Err((
                        "malformed",
                        format!(
                            "{} layers; nodefit checks at most {MAX_SIGNATURE_LAYERS} \
                             (signing::remote::MAX_SIGNATURE_LAYERS)",
                            parsed.layers.len()
                        ),
                    )),
                    layer: None,
                }),
                Ok(parsed) => {
                    let blobs = try_join_all(parsed.layers.iter().map(|layer| {
                        client.blob_unchecked(
                            &layer.digest,
                            layer.size,
                            MAX_PAYLOAD_BYTES,
                            "signing::remote::MAX_PAYLOAD_BYTES",
                        )
                    }))
                    .await?;
                    for (i, (layer, blob)) in parsed.layers.into_iter().zip(blobs).enumerate() {
                        found.push(Found {
                            format: Format::Classic,
                            envelope: None,
                            reference: format!("{tag} layer {}", i + 1),
                            content: Ok(blob),
                            layer: Some(layer),
                        });
                    }
                }
            }
        }
    }
    let (_, referrers) = client.referrers_of(digest).await?;
    let candidates: Vec<OciDescriptor> = referrers
        .into_iter()
        .filter(|d| match d.artifact_type.as_deref() {
            None => true,
            Some(t) => {
                t == bundle::BUNDLE_MEDIA_TYPE
                    || t.starts_with("application/vnd.dev.sigstore.bundle")
                    || t == notary::SIGNATURE_ARTIFACT_TYPE
                    || t == EMPTY_MEDIA_TYPE
            }
        })
        .collect();
    if candidates.len() > MAX_SIGNATURES_PER_ARTIFACT {
        return Err(content(
            client,
            format!(
                "artifact {digest} has {} signature referrers; nodefit reads at most \
                 {MAX_SIGNATURES_PER_ARTIFACT} (signing::remote::MAX_SIGNATURES_PER_ARTIFACT)",
                candidates.len()
            ),
        ));
    }
    let read = try_join_all(candidates.iter().map(|d| read_referrer(client, d, digest))).await?;
    found.extend(read.into_iter().flatten());
    Ok(found)
}

/// A referrer's signature, if it is one: its manifest (which must refer to `digest`) and its
/// first layer's blob.
async fn read_referrer(
    client: &Client,
    descriptor: &OciDescriptor,
    digest: &Digest,
) -> Result<Option<Found>, Error> {
    let manifest = client.listed_artifact(descriptor).await?;
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&manifest) else {
        return Ok(None);
    };
    let text = |pointer: &str| json.pointer(pointer).and_then(|v| v.as_str()).unwrap_or("");
    let artifact_type = match text("/artifactType") {
        "" => text("/config/mediaType"),
        t => t,
    };
    let layer_type = text("/layers/0/mediaType");
    let (format, envelope, cap) = if artifact_type
        .starts_with("application/vnd.dev.sigstore.bundle")
        && layer_type.starts_with("application/vnd.dev.sigstore.bundle")
    {
        (Format::Bundle, None, bundle::MAX_BUNDLE_BYTES)
    } else if artifact_type == notary::SIGNATURE_ARTIFACT_TYPE {
        let Some(envelope) = EnvelopeFormat::of_media_type(layer_type) else {
            return Ok(None);
        };
        (Format::Notation, Some(envelope), notary::MAX_ENVELOPE_BYTES)
    } else {
        return Ok(None);
    };
    let mut found = Found {
        format,
        envelope,
        reference: descriptor.digest.clone(),
        content: Err(("malformed", String::new())),
        layer: None,
    };
    if text("/subject/digest") != digest.as_str() {
        found.content = Err((
            "subject-mismatch",
            format!(
                "listed as a referrer of {digest} but refers to {}",
                match text("/subject/digest") {
                    "" => "nothing",
                    other => other,
                }
            ),
        ));
        return Ok(Some(found));
    }
    let (layer_digest, size) = (
        text("/layers/0/digest").to_owned(),
        json.pointer("/layers/0/size")
            .and_then(|v| v.as_i64())
            .unwrap_or(-1),
    );
    if size < 0 || size as usize > cap {
        found.content = Err((
            "malformed",
            format!("its layer declares {size} bytes; nodefit reads at most {cap}"),
        ));
        return Ok(Some(found));
    }
    let blob = client
        .blob_unchecked(&layer_digest, size, cap, "the signature format's budget")
        .await?;
    found.content = if Digest::sha256_of(&blob) != layer_digest {
        Err((
            "blob-digest-mismatch",
            format!("its layer's bytes do not hash to {layer_digest}"),
        ))
    } else {
        Ok(blob)
    };
    Ok(Some(found))
}

/// A signature described without checking it.
fn describe(found: &Found) -> SignatureReport {
    let mut report = SignatureReport {
        format: found.format,
        envelope: found.envelope,
        reference: found.reference.clone(),
        signer: None,
        verified: false,
        verified_by: None,
        reason: Some("no trusted key or certificate was given".into()),
        failure: None,
        unchecked: Vec::new(),
    };
    match &found.content {
        Err((kind, why)) => {
            report.reason = Some(why.clone());
            report.failure = Some(kind);
        }
        Ok(bytes) => match (found.format, found.envelope) {
            (Format::Bundle, _) => {
                if let Ok(described) = bundle::describe(bytes) {
                    report.signer = described.key_hint.map(|h| format!("key {h}"));
                    report.unchecked = described.unchecked;
                }
            }
            (Format::Notation, Some(format)) => {
                report.signer = notary::describe(bytes, format)
                    .ok()
                    .map(|s| format!("{} (issuer {})", s.subject, s.issuer));
            }
            _ => {}
        },
    }
    report
}

/// Checks each signature against each trusted entry: the reports, and for each verified
/// signature the index of the entry it verified with.
fn evaluate(
    found: &[Found],
    requirement: &Requirement,
    target: &Target,
) -> (Vec<SignatureReport>, Vec<usize>) {
    let digest = Digest::sha256_of(&target.manifest);
    let wanted = notary::Target {
        digest: digest.to_string(),
        media_type: OCI_MANIFEST.into(),
        size: target.manifest.len() as i64,
    };
    let now = chrono::Utc::now().timestamp();
    let mut verified_by = Vec::new();
    let mut reports = Vec::new();
    for signature in found {
        let mut report = describe(signature);
        report.reason = None;
        let Ok(bytes) = &signature.content else {
            report.reason = describe(signature).reason;
            reports.push(report);
            continue;
        };
        // The most telling failure over all trusted entries.
        let mut failures: Vec<(&'static str, String)> = Vec::new();
        for (index, trusted) in requirement.trusted.iter().enumerate() {
            let outcome = check(signature, bytes, trusted, &digest, &wanted, now);
            match outcome {
                Ok((signer, unchecked)) => {
                    report.verified = true;
                    report.verified_by = Some(trusted.name().to_owned());
                    if signer.is_some() {
                        report.signer = signer;
                    }
                    report.unchecked = unchecked;
                    verified_by.push(index);
                    break;
                }
                Err(Some(failure)) => failures.push(failure),
                Err(None) => {}
            }
        }
        if !report.verified {
            let (kind, why) = failures
                .into_iter()
                .min_by_key(|(kind, _)| rank(kind))
                .unwrap_or((
                    "wrong-key",
                    format!(
                        "nothing the policy trusts checks {} signatures",
                        signature.format.name()
                    ),
                ));
            report.failure = Some(kind);
            report.reason = Some(why);
        }
        reports.push(report);
    }
    (reports, verified_by)
}

/// One signature against one trusted entry: the signer and what was not checked, or the
/// failure (`None` when the entry does not check this format).
#[allow(clippy::type_complexity)]
fn check(
    signature: &Found,
    bytes: &[u8],
    trusted: &Trusted,
    digest: &Digest,
    wanted: &notary::Target,
    now: i64,
) -> Result<(Option<String>, Vec<String>), Option<(&'static str, String)>> {
    match (signature.format, trusted) {
        (Format::Classic, Trusted::Key { key, .. }) => {
            let layer = signature.layer.as_ref().ok_or(None)?;
            match verify_layer(layer, bytes, key, digest) {
                Ok(claim) => Ok((
                    Some(format!(
                        "key {} (signed as {})",
                        bundle::key_hint(key),
                        claim.docker_reference
                    )),
                    Vec::new(),
                )),
                Err(failure) => Err(Some(match failure {
                    LayerFailure::Blob { detail, .. } => ("blob-digest-mismatch", detail),
                    LayerFailure::Unreadable { detail, .. } => ("malformed", detail),
                    LayerFailure::Signature { .. } => (
                        "wrong-key",
                        "signature does not verify with this key: signed with another key, or \
                         the payload was changed"
                            .into(),
                    ),
                    LayerFailure::Payload { detail, .. } => ("malformed", detail),
                    LayerFailure::OtherManifest { signed, .. } => (
                        "tampered",
                        format!(
                            "payload digest does not match the artifact (tampered): a valid \
                             signature by this key for manifest {signed}, but the artifact \
                             fetched is {digest}: the artifact was changed after it was signed"
                        ),
                    ),
                })),
            }
        }
        (Format::Bundle, Trusted::Key { key, .. }) => match bundle::verify(bytes, key, digest) {
            Ok(described) => Ok((
                Some(format!("key {}", bundle::key_hint(key))),
                described.unchecked,
            )),
            Err(failure) => Err(Some(match failure {
                bundle::Failure::Malformed(why) => ("malformed", why),
                bundle::Failure::Keyless => (
                    "untrusted-certificate",
                    "signed keyless (a Fulcio certificate): nodefit trusts keys and Notary \
                     Project certificates only"
                        .into(),
                ),
                bundle::Failure::Signature => (
                    "wrong-key",
                    "bundle signature does not verify with this key".into(),
                ),
                bundle::Failure::OtherArtifact { signed } => (
                    "tampered",
                    format!(
                        "statement subject is another artifact: the bundle's in-toto statement \
                         names {signed}, not the artifact {digest}"
                    ),
                ),
                bundle::Failure::NotASignature { predicate_type } => (
                    "malformed",
                    format!("an attestation of predicate type {predicate_type}, not a signature"),
                ),
            })),
        },
        (Format::Notation, Trusted::Notary(trust)) => {
            let format = signature.envelope.ok_or(None)?;
            match notary::verify(bytes, format, trust, wanted, now) {
                Ok(verified) => Ok((
                    Some(format!(
                        "{} (issuer {})",
                        verified.signer.subject, verified.signer.issuer
                    )),
                    verified.unchecked,
                )),
                Err(failure) => Err(Some(match failure {
                    notary::Failure::Malformed(why) | notary::Failure::Unsupported(why) => {
                        ("malformed", why)
                    }
                    notary::Failure::Signature(why) => ("tampered", why),
                    notary::Failure::Untrusted(why) => ("untrusted-certificate", why),
                    notary::Failure::Expired(why) => ("expired-certificate", why),
                    notary::Failure::OtherArtifact { signed } => (
                        "tampered",
                        format!(
                            "the signed payload names {signed}, not the artifact {digest} \
                             (tampered)"
                        ),
                    ),
                })),
            }
        }
        _ => Err(None),
    }
}

/// How telling a failure is when several signatures fail: lower is more.
fn rank(kind: &str) -> usize {
    [
        "tampered",
        "blob-digest-mismatch",
        "expired-certificate",
        "untrusted-certificate",
        "subject-mismatch",
        "malformed",
        "wrong-key",
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(usize::MAX)
}

/// The refusal for an artifact whose signatures do not meet the requirement.
fn refusal(
    client: &Client,
    digest: &Digest,
    requirement: &Requirement,
    reports: &[SignatureReport],
    verified_by: &[usize],
) -> Refusal {
    let at = client.display_at(digest.as_str());
    if reports.is_empty() {
        return Refusal::NoSignature(format!(
            "artifact {at} is unsigned: no sigstore bundle, Notary Project signature or classic \
             `.sig` signature refers to it (policy {:?} requires one)",
            requirement.policy
        ));
    }
    let mut lines: Vec<String> = reports
        .iter()
        .map(|r| {
            format!(
                "\n  - {} {}: {}",
                r.format.name(),
                r.reference,
                if r.verified {
                    format!("verified with {}", r.verified_by.as_deref().unwrap_or(""))
                } else {
                    r.reason.clone().unwrap_or_default()
                }
            )
        })
        .collect();
    if requirement.rule == Rule::AllOf {
        let missing: Vec<&str> = requirement
            .trusted
            .iter()
            .enumerate()
            .filter(|(i, _)| !verified_by.contains(i))
            .map(|(_, t)| t.name())
            .collect();
        lines.push(format!(
            "\n  policy {:?} requires a signature by each of its entries; none by: {}",
            requirement.policy,
            missing.join(", ")
        ));
    }
    let detail = format!(
        "artifact {at}: {} signature{} found, not enough verified under policy {:?}:{}",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" },
        requirement.policy,
        lines.concat()
    );
    let kind = reports
        .iter()
        .filter(|r| !r.verified)
        .filter_map(|r| r.failure)
        .min_by_key(|k| rank(k))
        .unwrap_or("wrong-key");
    match kind {
        "tampered" => Refusal::Tampered(detail),
        "blob-digest-mismatch" => Refusal::BlobDigestMismatch(detail),
        "expired-certificate" => Refusal::ExpiredCertificate(detail),
        "untrusted-certificate" => Refusal::UntrustedCertificate(detail),
        "subject-mismatch" => Refusal::SubjectMismatch(detail),
        "malformed" => Refusal::Malformed(detail),
        _ => Refusal::WrongKey(detail),
    }
}

/// Requires the artifact manifest's `subject` to be the image it was found for.
fn check_subject(target: &Target, digest: &Digest, client: &Client) -> Result<(), Refusal> {
    let subject = target
        .json
        .pointer("/subject/digest")
        .and_then(|d| d.as_str());
    if subject == Some(target.subject.digest.as_str()) {
        return Ok(());
    }
    Err(Refusal::SubjectMismatch(format!(
        "artifact {digest} refers to {}, not to the image {}",
        subject.unwrap_or("nothing (it has no subject)"),
        client.display_at(&target.subject.digest)
    )))
}

/// The artifact to sign or verify: `wanted`, which must be among the image's compatibility
/// artifacts, or the newest of them.
async fn find(
    client: &Client,
    platform: Option<&Platform>,
    wanted: Option<&Digest>,
) -> Result<Target, Error> {
    let subject = client.resolve(platform).await?;
    let listing = client.referrers(&subject).await?;
    let artifact = match wanted {
        Some(wanted) => listing.artifacts.iter().find(|a| a.digest == *wanted),
        None => listing.artifacts.first(),
    }
    .cloned()
    .ok_or_else(|| {
        content(
            client,
            format!(
                "compatibility artifact not found: nothing of artifactType {ARTIFACT_TYPE} {}\
                 refers to {} (listed through the {})",
                wanted.map_or(String::new(), |w| format!("with digest {w} ")),
                client.display_at(&subject.digest),
                match listing.source {
                    ReferrersSource::Api => "referrers API",
                    ReferrersSource::TagSchema => "referrers tag schema",
                }
            ),
        )
    })?;
    let manifest = client.listed_artifact(&artifact).await?;
    let json = serde_json::from_slice(&manifest)
        .map_err(|_| content(client, format!("artifact {} is not JSON", artifact.digest)))?;
    Ok(Target {
        subject,
        artifacts: listing.artifacts.len(),
        manifest,
        json,
    })
}

fn content(client: &Client, message: String) -> Error {
    Error::Content(format!(
        "registry {}, repository {}: {message}",
        client.label(),
        client.image().repository()
    ))
}
