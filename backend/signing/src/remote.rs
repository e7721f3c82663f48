//! Signing and verifying compatibility artifacts on a registry: the `.sig` image beside each
//! artifact, read and written through [`Client`].
//!
//! Verification follows cosign: resolve the image to digest I; find the artifact among I's
//! referrers; require its `subject` to be I; fetch `sha256-<D>.sig` where D is the digest of the
//! artifact manifest's bytes as fetched; accept when one layer's payload hashes to its
//! descriptor, its signature verifies with the trusted key, and it claims D; then fetch the
//! spec layer and check its digest. Only then are the spec's bytes handed out, so nothing is
//! evaluated that did not pass.

use std::collections::BTreeMap;

use futures_util::future::{try_join, try_join_all};
use oci_client::manifest::OciDescriptor;
use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::Serialize;

use super::simple_signing::{
    docker_reference, payload, sign as sign_payload, signature_image, signature_layer,
    SignatureManifest, CONFIG_MEDIA_TYPE, SIMPLE_SIGNING_MEDIA_TYPE,
};
use super::verify::{refuse, verify_layer, Claim, Refusal};
use nodefit_registry::{
    Client, Digest, Error, Platform, ReferrersSource, ARTIFACT_TYPE, MAX_BLOB_BYTES,
};

/// Most signature layers checked: each costs a blob fetch, and a `.sig` image is untrusted.
pub const MAX_SIGNATURE_LAYERS: usize = 100;
/// Artifacts, newest first, whose `.sig` image a listing looks up: each may cost two requests,
/// and an image can have thousands of artifacts. The listing says how many were looked up.
pub const MAX_SIGNATURE_LOOKUPS: usize = 50;
/// Largest payload read (cosign's are about 250 bytes).
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// A compatibility artifact found among an image's referrers, with its manifest's exact bytes.
struct Target {
    subject: OciDescriptor,
    /// Digest-checked against the listing by the registry client.
    manifest: Vec<u8>,
    /// `manifest`, parsed.
    json: serde_json::Value,
    /// How many compatibility artifacts the image has.
    artifacts: usize,
}

/// What `sign` did.
#[derive(Debug, Serialize)]
pub struct Signed {
    /// `registry/repository@digest` of the signed artifact.
    pub reference: String,
    pub artifact: Digest,
    pub subject: String,
    #[serde(rename = "signatureTag")]
    pub signature_tag: String,
    /// Digest of the `.sig` manifest now under the tag.
    #[serde(rename = "signatureManifest")]
    pub signature_manifest: String,
    /// Signatures in it, this one included.
    pub signatures: usize,
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
    #[serde(rename = "signatureTag")]
    pub signature_tag: String,
    /// Signature layers in the `.sig` manifest (one verifying is enough).
    pub signatures: usize,
    pub claim: Claim,
    #[serde(rename = "specLayer")]
    pub spec_layer: String,
    /// The spec layer's bytes, digest-checked.
    #[serde(skip)]
    pub spec: Vec<u8>,
}

/// The signatures of one artifact, as `discover` lists them (unverified).
#[derive(Debug, Serialize)]
pub struct SignatureSummary {
    pub tag: String,
    pub digest: String,
    /// Signature layers in the `.sig` manifest.
    pub count: usize,
    /// Why the `.sig` manifest could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Signs the compatibility artifact `artifact` of the image (default: the newest, which NFD
/// uses) and adds the signature to its `.sig` image, unless a signature by this key for it is
/// there already.
pub async fn sign(
    client: &Client,
    platform: Option<&Platform>,
    artifact: Option<&Digest>,
    key: &SigningKey,
) -> Result<Signed, Error> {
    let target = find(client, platform, artifact).await?;
    let digest = Digest::sha256_of(&target.manifest);
    let image = client.image();
    // A fallback index can list anything; a signature must not vouch for another image's spec.
    if let Err(refusal) = check_subject(&target, &digest, client) {
        return Err(content(client, format!("refusing to sign: {refusal}")));
    }
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
        reference: image.at_digest(digest.as_str()),
        artifact: digest.clone(),
        subject: target.subject.digest.clone(),
        signature_tag: tag.clone(),
        signature_manifest,
        signatures,
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

/// Verifies the compatibility artifact `artifact` of the image (default: the newest, which NFD
/// uses) against `key`. The outer error is a registry that could not be used; the inner one a
/// refusal to trust what it holds.
pub async fn verify(
    client: &Client,
    platform: Option<&Platform>,
    artifact: Option<&Digest>,
    key: &VerifyingKey,
) -> Result<Result<Verified, Refusal>, Error> {
    let target = find(client, platform, artifact).await?;
    let digest = Digest::sha256_of(&target.manifest);
    if let Err(refusal) = check_subject(&target, &digest, client) {
        return Ok(Err(refusal));
    }
    let tag = digest.signature_tag();
    let Some((bytes, _)) = client.manifest_if_exists(&tag).await? else {
        return Ok(Err(Refusal::NoSignature(format!(
            "artifact {} is unsigned: repository {} has no tag {tag}. nodefit reads classic \
             cosign signatures (`nodefit sign`, `cosign sign --key`); sigstore bundles that \
             cosign v3 attaches as referrers are not read",
            client.display_at(digest.as_str()),
            client.image().repository()
        ))));
    };
    let signatures = match SignatureManifest::parse(&bytes) {
        Ok(parsed) => parsed.layers,
        Err(e) => return Ok(Err(Refusal::Malformed(format!("{tag}: {e}")))),
    };
    if signatures.len() > MAX_SIGNATURE_LAYERS {
        return Ok(Err(Refusal::Malformed(format!(
            "{tag} has {} layers; nodefit checks at most {MAX_SIGNATURE_LAYERS}",
            signatures.len()
        ))));
    }
    let mut failures = Vec::new();
    let mut claim = None;
    for layer in &signatures {
        let blob = client
            .blob_unchecked(
                &layer.digest,
                layer.size,
                MAX_PAYLOAD_BYTES,
                "signing::remote::MAX_PAYLOAD_BYTES",
            )
            .await?;
        match verify_layer(layer, &blob, key, &digest) {
            Ok(verified) => {
                claim = Some(verified);
                break;
            }
            Err(failure) => failures.push(failure),
        }
    }
    let Some(claim) = claim else {
        return Ok(Err(refuse(&digest, &tag, &failures)));
    };
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
        return Ok(Err(Refusal::BlobDigestMismatch(format!(
            "the spec layer of artifact {digest} is {} bytes with digest {actual}; the signed \
             manifest says {} bytes with digest {}",
            spec.len(),
            layer.size,
            layer.digest
        ))));
    }
    Ok(Ok(Verified {
        reference: client.display_at(digest.as_str()),
        subject: target.subject.digest,
        artifact: digest,
        artifacts: target.artifacts,
        signature_tag: tag,
        signatures: signatures.len(),
        claim,
        spec_layer: layer.digest,
        spec,
    }))
}

/// The `.sig` image of each of the first [`MAX_SIGNATURE_LOOKUPS`] of `artifacts` (newest
/// first), if it has one; not verified. The answer is shorter than `artifacts` when there are
/// more: the rest were not looked up.
///
/// With several artifacts, one read of the tag list says which have a `.sig` tag, so that only
/// those are fetched (unsigned artifacts cost no request); when the registry does not list
/// tags, each `.sig` tag is looked up. The client runs at most `MAX_CONCURRENT_REQUESTS` of
/// these requests at once.
pub async fn signatures(
    client: &Client,
    artifacts: &[OciDescriptor],
) -> Result<Vec<Option<SignatureSummary>>, Error> {
    let artifacts = &artifacts[..artifacts.len().min(MAX_SIGNATURE_LOOKUPS)];
    let listed = if artifacts.len() > 1 {
        client.tags().await?
    } else {
        None
    };
    let listed = &listed;
    try_join_all(artifacts.iter().map(|artifact| async move {
        let Ok(tag) = Digest::parse(&artifact.digest).map(|d| d.signature_tag()) else {
            return Ok(None);
        };
        let found = match listed {
            Some(tags) if !tags.contains(&tag) => None,
            Some(_) => client.listed_manifest(&tag).await?,
            None => client.manifest_if_exists(&tag).await?,
        };
        let Some((bytes, descriptor)) = found else {
            return Ok(None);
        };
        let (count, problem) = match SignatureManifest::parse(&bytes) {
            Ok(parsed) => (parsed.layers.len(), None),
            Err(e) => (0, Some(e)),
        };
        Ok(Some(SignatureSummary {
            tag,
            digest: descriptor.digest,
            count,
            problem,
        }))
    }))
    .await
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
