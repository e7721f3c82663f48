//! Registries, publishing and what is attached to images.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A registry of the server's allow-list, by name only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registry {
    /// What publish requests call it.
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishRequest {
    pub spec_id: i64,
    /// The latest when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// A registry of the allow-list (`GET /api/v1/registries`).
    pub registry: String,
    /// `repository:tag` or `repository@sha256:...` inside that registry.
    pub image: String,
    /// Attach to this platform's manifest of a multi-platform image (`os/arch[/variant]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// A spec version published to an image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Publication {
    pub id: i64,
    pub spec_id: i64,
    pub version: i64,
    pub registry: String,
    pub image: String,
    /// The manifest (or index) the artifact refers to.
    pub image_digest: String,
    pub artifact_digest: String,
    /// The first signature's manifest when the server signs (the referrer for a bundle or a
    /// Notary Project signature, the `.sig` image for a classic one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_digest: Option<String>,
    /// What the publish that answers signed, one per format the server signs in (`[signing]
    /// formats`); empty on answers about an earlier publication.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed: Vec<PublishedSignature>,
    pub created_at: String,
    pub created_by: String,
    /// When the artifact was detached from the image (`DELETE /images/referrers`); absent
    /// while it is attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detached_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detached_by: Option<String>,
}

/// The compatibility artifacts attached to an image, newest (the one NFD uses) first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Referrers {
    pub registry: String,
    pub image: String,
    pub subject_digest: String,
    /// `referrers-api` or `tag-schema` (the `sha256-<hex>` fallback index).
    pub source: String,
    /// How many artifacts, newest first, had their signature looked up (at most 50); the
    /// others have no `signature` whether they are signed or not.
    pub signatures_looked_up: usize,
    pub artifacts: Vec<ReferrerArtifact>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReferrerArtifact {
    pub digest: String,
    pub size: i64,
    /// `org.opencontainers.image.created`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub annotations: BTreeMap<String, String>,
    /// The artifact NFD's validate-node would use.
    pub nfd_choice: bool,
    /// Its classic cosign signature image, if any (kept for clients that read only this;
    /// `signatures` lists every format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureInfo>,
    /// The publication that attached it, when this server published it (which spec and
    /// version, who and when).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publication: Option<Publication>,
    /// Every signature of the artifact, of every format, each checked against the server's
    /// signing key (`verified`), with why not; empty when unsigned or not looked up.
    #[serde(default)]
    pub signatures: Vec<ArtifactSignature>,
}

/// One signature of an artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ArtifactSignature {
    /// `bundle` (sigstore bundle, cosign 3), `notation` (Notary Project) or `classic`
    /// (cosign's `.sig` tag).
    pub format: String,
    /// `jws` or `cose` for notation signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    /// The signature's manifest digest, or `<.sig tag> layer <n>` for classic signatures.
    pub reference: String,
    /// Who it says signed: `key <base64 SHA-256 of the public key>`, or the certificate's
    /// subject and issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Verified with what the server trusts (its signing key).
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
    /// Why it is not verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What a verified signature carries that is not checked offline (transparency-log
    /// entries, timestamps, revocation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
}

/// A signature a publish made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PublishedSignature {
    /// `bundle`, `classic` or `notation`.
    pub format: String,
    /// The signature's manifest.
    pub digest: String,
    /// True when it was there already (nothing written).
    pub unchanged: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SignatureInfo {
    pub tag: String,
    pub digest: String,
    pub count: usize,
}

/// A spec attached to an image (`GET /images/spec`): by default the one NFD's validate-node
/// would use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    pub registry: String,
    pub image: String,
    pub subject_digest: String,
    pub artifact_digest: String,
    /// Whether this is the artifact NFD would use (the newest).
    pub nfd_choice: bool,
    /// The artifact's first layer, as NFD reads it.
    pub content: String,
    /// This server's record of attaching it, when it published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publication: Option<Publication>,
}
