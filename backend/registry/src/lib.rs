//! Publishing and finding compatibility artifacts on OCI registries, with or without the
//! referrers API.
//!
//! - `reference`: image references that name their registry, and NFD's `--platform`.
//! - `artifact`: the artifact manifest NFD reads, and which artifact NFD picks (pure).
//! - `referrers`: the distribution-spec 1.1 referrers tag schema (pure).
//! - `auth`: credentials given by the caller, from docker's config file and credential helpers.
//! - `transport`: HTTP with authentication, retries, timeouts, limits and request counting.
//! - `retry`: the retry policy (pure).
//! - `digest`: the one type for content digests and the tags named after them.
//! - `setting`, `event`: how errors point to settings and what the client reports as it works,
//!   so that each caller words and shows them for its own users.
//!
//! [`Client`] strings these together into the operations the command line and the server
//! offer. Every function that talks to a registry goes through one [`transport::Transport`], so
//! every request is counted, bounded, retried and named in errors the same way. Nothing here
//! prints, chooses exit codes or names a caller's flags or configuration keys.

mod artifact;
mod auth;
mod digest;
mod event;
mod reference;
mod referrers;
mod retry;
mod setting;
mod transport;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures_util::future::{try_join, try_join3};
use oci_client::manifest::{OciDescriptor, OciImageIndex, OciImageManifest};
use reqwest::Method;
use serde::Serialize;
use tokio::time::Instant;

pub use artifact::{ARTIFACT_TYPE, CREATED, SPEC_MEDIA_TYPE};
pub use auth::{CredentialSource, Credentials, Origin, Secret, MAX_DOCKER_CONFIG_BYTES};
pub use digest::{Digest, NotADigest};
pub use event::{Event, Observer, Outcome};
pub use reference::{ImageRef, Platform};
pub use setting::{Setting, SettingNames, Text};
pub use transport::{Access, Settings, MAX_CA_FILE_BYTES, MAX_CONCURRENT_REQUESTS, MAX_REQUESTS};

use artifact::{
    newest_first, Artifact, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST,
};
use referrers::FallbackIndex;
use transport::{Request, Response, Transport};

/// Largest manifest, referrers index or page read (distribution's own limit for manifests).
/// A manifest whose descriptor declares a size is read up to exactly that size.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest spec layer or image config read; a blob is read up to exactly its declared size, and
/// a declared size above this is refused before anything is read. The size of the largest spec
/// nodefit reads from a file, so that whatever can be attached can be fetched.
pub const MAX_BLOB_BYTES: usize = 64 * 1024 * 1024;
/// Most pages of a paginated referrers API answer followed.
pub const MAX_REFERRERS_PAGES: usize = 20;
/// Most bytes of one listing (referrers pages, or tag list pages) read in total.
pub const MAX_LISTING_BYTES: usize = 16 * 1024 * 1024;
/// Most referrers one listing may hold, of every artifact type: NFD's choice needs all of them,
/// so a longer list is refused rather than cut.
pub const MAX_LISTED_REFERRERS: usize = 10_000;
/// Tags asked for per page of the tag list.
pub const TAGS_PER_PAGE: usize = 1000;
/// Most pages of the tag list read to find `.sig` tags; past them, each tag is looked up.
pub const MAX_TAG_PAGES: usize = 10;
/// Fresh reads of the fallback index before writing, when the read at hand has grown stale.
pub const MAX_STALE_REREADS: u32 = 2;
/// Rounds of read, merge, write and verify of the fallback index before giving up.
pub const MAX_INDEX_ROUNDS: u32 = 10;
/// Pushes of a manifest the registry refused because of a blob being committed concurrently.
pub const MAX_MANIFEST_PUSHES: u32 = 4;
/// Reads of the fallback index while waiting for concurrent writers to settle, per round.
pub const MAX_VERIFY_READS: u32 = 8;
/// Shortest and longest wait before reading a written fallback index back (see `settle_delay`).
pub const MIN_SETTLE: Duration = Duration::from_millis(5);
pub const MAX_SETTLE: Duration = Duration::from_secs(2);

/// Every manifest type an image reference may resolve to.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input cannot be used: reference, platform, credentials.
    #[error("{0}")]
    Usage(String),
    /// A file the settings name (CA certificates, docker's config) cannot be read.
    #[error(transparent)]
    File(#[from] nodefit_files::ReadError),
    /// The registry answered, but not with what NFD needs: no such image or artifact, no
    /// manifest for the platform, malformed content.
    #[error("{0}")]
    Content(String),
    /// A request failed for good: see [`RequestError`].
    #[error(transparent)]
    Request(Box<RequestError>),
    /// Other writers kept replacing the fallback index.
    #[error("{0}")]
    Conflict(String),
}

impl Error {
    /// The full story, for the command line and logs: URL, host and the registry's
    /// explanation, with settings called what `names` calls them. `Display` names them
    /// neutrally.
    pub fn message(&self, names: SettingNames) -> String {
        match self {
            Error::Request(e) => e.message(names),
            other => other.to_string(),
        }
    }

    /// The error for someone who must not learn the registry's host or read what it sent (the
    /// server's clients): the registry by its label, what was asked and what the answer means.
    pub fn public_message(&self, names: SettingNames) -> String {
        match self {
            Error::Request(e) => e.summary(names),
            other => other.to_string(),
        }
    }
}

/// A request that failed: which registry, repository and request, and how.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message(&|setting, _| setting.to_string()))]
pub struct RequestError {
    /// The registry's label: the host the user wrote, or the server's name for it.
    pub registry: String,
    pub repository: String,
    pub method: String,
    /// The URL, without query string.
    pub target: String,
    /// What was asked for, in words that name no host (`the tag `v1``, `blob sha256:…`).
    pub what: String,
    /// The registry's status, when it answered.
    pub status: Option<u16>,
    /// The status and the registry's explanation, or why no answer came.
    pub outcome: Text,
    /// Why it failed, in words that name no host and quote nothing the registry sent.
    pub reason: Text,
    pub attempts: u32,
    /// Whether sending it again might work (no answer, or 429 and most 5xx).
    pub retryable: bool,
}

impl RequestError {
    /// `GET https://… (registry …, repository …): HTTP 500 …: … [gave up after 4 attempts]`.
    pub fn message(&self, names: SettingNames) -> String {
        let attempts = if self.attempts > 1 {
            format!(" [gave up after {} attempts]", self.attempts)
        } else {
            String::new()
        };
        format!(
            "{} {} (registry {}, repository {}): {}{attempts}",
            self.method,
            self.target,
            self.registry,
            self.repository,
            self.outcome.render(&|s| names(s, &self.registry))
        )
    }

    /// `registry `lab` answered 404 for the tag `v1` in repository demo/app: it does not exist`.
    pub fn summary(&self, names: SettingNames) -> String {
        let reason = self.reason.render(&|s| names(s, &self.registry));
        match self.status {
            Some(status) => format!(
                "registry `{}` answered {status} for {} in repository {}: {reason}",
                self.registry, self.what, self.repository
            ),
            None => format!(
                "registry `{}` could not be used for {} in repository {}: {reason}",
                self.registry, self.what, self.repository
            ),
        }
    }
}

/// How a subject's referrers are listed on this registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ReferrersSource {
    /// `GET /v2/<name>/referrers/<digest>`; the registry keeps the list.
    #[serde(rename = "referrers-api")]
    Api,
    /// The `sha256-<hex>` tag schema; clients keep the list.
    #[serde(rename = "tag-schema")]
    TagSchema,
}

/// The compatibility artifacts of a subject.
pub struct Listing {
    pub source: ReferrersSource,
    /// Compatibility artifacts only, newest first: the first is the one NFD uses.
    pub artifacts: Vec<OciDescriptor>,
    /// The fallback index as read, to merge into without reading it again.
    fallback: Option<FallbackRead>,
}

/// What `attach` did.
#[derive(Debug, Serialize)]
pub struct Attached {
    /// `registry/repository@digest` of the artifact.
    pub reference: String,
    pub artifact: OciDescriptor,
    /// `artifact.digest`, checked.
    #[serde(skip)]
    pub digest: Digest,
    pub subject: OciDescriptor,
    /// True when the newest compatibility artifact already had this content: nothing was
    /// written, and `artifact` is that one.
    pub unchanged: bool,
    pub referrers: ReferrersSource,
    /// Rounds it took to update the fallback index (0 when it was not needed).
    #[serde(rename = "indexRounds")]
    pub index_rounds: u32,
}

/// What `fetch_spec` found.
pub struct FetchedSpec {
    pub listing: Listing,
    /// The artifact NFD uses (the newest).
    pub artifact: OciDescriptor,
    /// Its first layer's bytes, digest-checked.
    pub spec: Vec<u8>,
}

/// What `detach` did.
#[derive(Debug)]
pub struct Detached {
    pub artifact: Digest,
    pub subject: OciDescriptor,
    /// Whether the artifact was listed in the fallback index and is not any more.
    pub removed_from_index: bool,
    /// The classic cosign signature tag (`sha256-<hex>.sig`) deleted with it, if it had one.
    pub signature_tag: Option<String>,
    /// Signatures that referred to it (cosign bundles, notation) and were deleted.
    pub signature_referrers: usize,
}

/// The fallback tag as read: its index (none when the tag does not exist), the digest of the
/// bytes read, and when the read started.
#[derive(Clone)]
struct FallbackRead {
    index: Option<FallbackIndex>,
    digest: Option<Digest>,
    at: Instant,
}

#[derive(Clone, Copy)]
enum Change<'a> {
    Add(&'a OciDescriptor),
    Remove(&'a Digest),
}

impl Change<'_> {
    fn apply(self, index: &FallbackIndex) -> Option<FallbackIndex> {
        match self {
            Change::Add(entry) => index.with_added(entry),
            Change::Remove(digest) => index.with_removed(digest.as_str()),
        }
    }

    fn holds(self, read: &FallbackRead) -> bool {
        let listed = |digest| read.index.as_ref().is_some_and(|i| i.contains(digest));
        match self {
            Change::Add(entry) => listed(&entry.digest),
            Change::Remove(digest) => !listed(digest.as_str()),
        }
    }
}

/// A client for the repository of one image.
pub struct Client {
    transport: Transport,
    image: ImageRef,
}

impl Client {
    pub fn new(image: ImageRef, access: Access, settings: Settings) -> Result<Self, Error> {
        let transport = Transport::new(
            image.registry(),
            image.endpoint(),
            image.repository(),
            access,
            settings,
        )?;
        Ok(Self { transport, image })
    }

    /// Calls the registry `label` in every message instead of by its host: the server names
    /// registries by their configured names and never shows hosts to its clients.
    pub fn named(mut self, label: &str) -> Self {
        self.transport.set_label(label);
        self
    }

    pub fn image(&self) -> &ImageRef {
        &self.image
    }

    /// What messages call the registry.
    pub fn label(&self) -> &str {
        self.transport.label()
    }

    /// `label/repository@digest`, for messages: [`ImageRef::at_digest`] with the registry's
    /// label, which is its host on the command line.
    pub fn display_at(&self, digest: &str) -> String {
        format!(
            "{}/{}@{digest}",
            self.transport.label(),
            self.image.repository()
        )
    }

    /// HTTP requests sent so far.
    pub fn requests(&self) -> u64 {
        self.transport.requests()
    }

    /// The descriptor the image reference resolves to, as NFD's `oras.Resolve`: without a
    /// platform, what the tag or digest names (an index stays an index); with one, the first
    /// manifest of an index that matches it, or the image itself if its config matches.
    pub async fn resolve(&self, platform: Option<&Platform>) -> Result<OciDescriptor, Error> {
        let reference = self.image.manifest_reference();
        if platform.is_none() {
            let response = self
                .send(
                    Request::new(Method::HEAD, self.manifest_url(reference))
                        .accept(MANIFEST_ACCEPT),
                )
                .await?;
            if response.status == 404 {
                return Err(self.not_found(&response, "no such image"));
            }
            let response = self.transport.expect(response, &[200])?;
            // A digest that is not one is not used: the body's hash is, below.
            let digest = response
                .header("docker-content-digest")
                .filter(|d| Digest::parse(d).is_ok());
            let media_type = response.header("content-type").map(media_type_of);
            let size = response
                .header("content-length")
                .and_then(|n| n.parse::<i64>().ok());
            if let (Some(digest), Some(media_type), Some(size)) = (digest, media_type, size) {
                if is_manifest_type(media_type) && self.image.digest().is_none_or(|d| d == digest) {
                    return Ok(OciDescriptor {
                        media_type: media_type.to_owned(),
                        digest: digest.to_owned(),
                        size,
                        ..Default::default()
                    });
                }
            }
            // Some registries omit these headers on HEAD; the body tells everything.
        }
        let (bytes, descriptor) = self.get_manifest(reference).await?;
        let Some(platform) = platform else {
            return Ok(descriptor);
        };
        match descriptor.media_type.as_str() {
            OCI_INDEX | DOCKER_MANIFEST_LIST => {
                let index: OciImageIndex = serde_json::from_slice(&bytes).map_err(|e| {
                    self.content(format!(
                        "index {} is malformed: {}",
                        descriptor.digest,
                        json_problem(&e)
                    ))
                })?;
                let mut seen = Vec::new();
                for entry in &index.manifests {
                    if let Some(p) = &entry.platform {
                        let (os, arch) = (p.os.to_string(), p.architecture.to_string());
                        if platform.matches(
                            &os,
                            &arch,
                            p.variant.as_deref(),
                            p.os_version.as_deref(),
                        ) {
                            return Ok(OciDescriptor {
                                media_type: entry.media_type.clone(),
                                digest: entry.digest.clone(),
                                size: entry.size,
                                ..Default::default()
                            });
                        }
                        let variant = p.variant.as_deref().map(|v| format!("/{}", word(v)));
                        seen.push(format!(
                            "{}/{}{}",
                            word(&os),
                            word(&arch),
                            variant.unwrap_or_default()
                        ));
                    }
                }
                Err(self.content(format!(
                    "index {} has no manifest for platform {platform} (it has: {})",
                    descriptor.digest,
                    if seen.is_empty() {
                        "none with a platform".to_owned()
                    } else {
                        seen.join(", ")
                    }
                )))
            }
            _ => {
                let manifest: OciImageManifest = serde_json::from_slice(&bytes).map_err(|e| {
                    self.content(format!(
                        "manifest {} is malformed: {}",
                        descriptor.digest,
                        json_problem(&e)
                    ))
                })?;
                let config = self.get_blob(&manifest.config).await?;
                let config: serde_json::Value = serde_json::from_slice(&config).map_err(|e| {
                    self.content(format!("image config is not JSON: {}", json_problem(&e)))
                })?;
                let field = |name: &str| config.get(name).and_then(|v| v.as_str());
                let (os, arch) = (
                    field("os").unwrap_or_default(),
                    field("architecture").unwrap_or_default(),
                );
                if platform.matches(os, arch, field("variant"), field("os.version")) {
                    Ok(descriptor)
                } else {
                    Err(self.content(format!(
                        "image {} is for {}/{}{}, not for platform {platform}",
                        descriptor.digest,
                        word(os),
                        word(arch),
                        field("variant")
                            .map(|v| format!("/{}", word(v)))
                            .unwrap_or_default()
                    )))
                }
            }
        }
    }

    /// The compatibility artifacts referring to `subject`, from the referrers API when the
    /// registry has it, else from the fallback tag (as oras-go's `Referrers`, which NFD uses).
    pub async fn referrers(&self, subject: &OciDescriptor) -> Result<Listing, Error> {
        let mut url = self.transport.url(&format!("referrers/{}", subject.digest));
        url.query_pairs_mut()
            .append_pair("artifactType", ARTIFACT_TYPE);
        let mut found = Vec::new();
        let (mut listed, mut bytes) = (0, 0);
        for page in 1.. {
            let response = self
                .send(
                    Request::new(Method::GET, url.clone())
                        .accept(OCI_INDEX)
                        .limit(MAX_MANIFEST_BYTES),
                )
                .await?;
            if response.status == 404 && page == 1 {
                return self.referrers_from_tag(subject).await;
            }
            let response = self.transport.expect(response, &[200])?;
            bytes += response.body.len();
            if bytes > MAX_LISTING_BYTES {
                return Err(self.transport.fail(
                    &response,
                    format!(
                        "the referrers list is larger than {MAX_LISTING_BYTES} bytes \
                         (MAX_LISTING_BYTES); NFD's choice needs it whole, so none is used"
                    ),
                ));
            }
            let index = FallbackIndex::parse(&response.body).map_err(|e| {
                self.transport
                    .fail(&response, format!("the referrers list is malformed: {e}"))
            })?;
            let entries = index.entries();
            listed += entries.len();
            if listed > MAX_LISTED_REFERRERS {
                return Err(self.transport.fail(
                    &response,
                    format!(
                        "the referrers list holds more than {MAX_LISTED_REFERRERS} entries \
                         (MAX_LISTED_REFERRERS); NFD's choice needs them all, so none is used"
                    ),
                ));
            }
            let filtered = response
                .header("oci-filters-applied")
                .is_some_and(|f| f.split(',').any(|f| f.trim() == "artifactType"));
            found.extend(
                entries
                    .into_iter()
                    .filter(|d| filtered || d.artifact_type.as_deref() == Some(ARTIFACT_TYPE)),
            );
            let Some(next) = next_page(&response) else {
                break;
            };
            if page == MAX_REFERRERS_PAGES {
                return Err(self.transport.fail(
                    &response,
                    format!(
                        "the referrers list has more than {MAX_REFERRERS_PAGES} pages \
                         (MAX_REFERRERS_PAGES); NFD's choice needs it whole, so none is used"
                    ),
                ));
            }
            url = self.transport.registry_url(&response, "Link", &next)?;
        }
        Ok(Listing {
            source: ReferrersSource::Api,
            artifacts: newest_first(found),
            fallback: None,
        })
    }

    async fn referrers_from_tag(&self, subject: &OciDescriptor) -> Result<Listing, Error> {
        let read = self.read_fallback(&self.fallback_tag(subject)?).await?;
        let artifacts = read
            .index
            .as_ref()
            .map(|i| i.entries())
            .unwrap_or_default()
            .into_iter()
            .filter(|d| d.artifact_type.as_deref() == Some(ARTIFACT_TYPE))
            .collect();
        Ok(Listing {
            source: ReferrersSource::TagSchema,
            artifacts: newest_first(artifacts),
            fallback: Some(read),
        })
    }

    /// Attaches `spec` to the image (resolved for `platform`, if given). Unless the newest
    /// compatibility artifact already has this content (then nothing is written): pushes the
    /// blobs the repository lacks, the manifest by digest, and, when the registry does not
    /// confirm it indexes referrers itself (`OCI-Subject`), adds the artifact to the fallback
    /// index.
    pub async fn attach(
        &self,
        platform: Option<&Platform>,
        spec: &[u8],
        title: &str,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Attached, Error> {
        let config = artifact::descriptor(artifact::EMPTY_MEDIA_TYPE, artifact::EMPTY_BLOB);
        let layer = artifact::descriptor(SPEC_MEDIA_TYPE, spec);
        let (subject, config_exists, layer_exists) = try_join3(
            self.resolve(platform),
            self.blob_exists(&config.digest),
            self.blob_exists(&layer.digest),
        )
        .await?;
        let artifact = artifact::build(&subject, spec, title, annotations);

        // An artifact with this spec can only exist if its layer blob does.
        let mut prior = None;
        if layer_exists {
            let listing = self.referrers(&subject).await?;
            if let Some(newest) = listing.artifacts.first() {
                if let Some(digest) = self.has_content(newest, &artifact).await? {
                    return Ok(Attached {
                        reference: self.image.at_digest(&newest.digest),
                        artifact: newest.clone(),
                        digest,
                        subject,
                        unchanged: true,
                        referrers: listing.source,
                        index_rounds: 0,
                    });
                }
            }
            prior = listing.fallback;
        }

        try_join(
            async {
                match config_exists {
                    true => Ok(()),
                    false => self.upload_blob(&config, artifact::EMPTY_BLOB).await,
                }
            },
            async {
                match layer_exists {
                    true => Ok(()),
                    false => self.upload_blob(&layer, spec).await,
                }
            },
        )
        .await?;

        let pushed = self.push_manifest(&artifact, spec).await?;
        let (referrers, index_rounds) = if pushed.header("oci-subject").is_some() {
            (ReferrersSource::Api, 0)
        } else {
            let rounds = self
                .update_fallback(&subject, Change::Add(&artifact.descriptor), prior)
                .await?;
            (ReferrersSource::TagSchema, rounds)
        };
        Ok(Attached {
            reference: self.image.at_digest(&artifact.descriptor.digest),
            digest: Digest::sha256_of(&artifact.manifest),
            artifact: artifact.descriptor,
            subject,
            unchanged: false,
            referrers,
            index_rounds,
        })
    }

    /// The spec NFD's `validate-node` would use for the image: the first layer of the newest
    /// compatibility artifact (no media type check, as in NFD).
    pub async fn fetch_spec(&self, platform: Option<&Platform>) -> Result<FetchedSpec, Error> {
        let subject = self.resolve(platform).await?;
        let listing = self.referrers(&subject).await?;
        let Some(artifact) = listing.artifacts.first().cloned() else {
            return Err(self.content(format!(
                "compatibility artifact not found: nothing of artifactType {ARTIFACT_TYPE} \
                 refers to {} (listed through the {}); NFD's validate-node fails here too",
                self.display_at(&subject.digest),
                match listing.source {
                    ReferrersSource::Api => "referrers API",
                    ReferrersSource::TagSchema => "referrers tag schema",
                }
            )));
        };
        let (bytes, _) = self.get_listed_manifest(&artifact).await?;
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            self.content(format!(
                "artifact {} is not JSON: {}",
                artifact.digest,
                json_problem(&e)
            ))
        })?;
        let Some(layer) = manifest.get("layers").and_then(|l| l.get(0)) else {
            return Err(self.content(format!(
                "compatibility layer not found: artifact {} has no layers",
                artifact.digest
            )));
        };
        let layer: OciDescriptor = serde_json::from_value(layer.clone()).map_err(|e| {
            self.content(format!(
                "artifact {}: its first layer is not a descriptor: {}",
                artifact.digest,
                json_problem(&e)
            ))
        })?;
        let spec = self.get_blob(&layer).await?;
        Ok(FetchedSpec {
            listing,
            artifact,
            spec,
        })
    }

    /// Deletes a compatibility artifact of the image: first out of the fallback index (so that
    /// no reader is ever sent to a deleted manifest), then the manifest itself.
    pub async fn detach(
        &self,
        platform: Option<&Platform>,
        artifact_digest: &Digest,
    ) -> Result<Detached, Error> {
        let subject = self.resolve(platform).await?;
        let (bytes, _) = self.get_manifest(artifact_digest.as_str()).await?;
        let manifest: OciImageManifest = serde_json::from_slice(&bytes).map_err(|e| {
            self.content(format!(
                "{artifact_digest} is not an image manifest: {}",
                json_problem(&e)
            ))
        })?;
        if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
            return Err(self.content(format!(
                "{artifact_digest} is not a compatibility artifact (artifactType {}); \
                 nodefit only removes those",
                manifest.artifact_type.as_deref().unwrap_or("unset")
            )));
        }
        match &manifest.subject {
            Some(s) if s.digest == subject.digest => {}
            other => {
                return Err(self.content(format!(
                    "{artifact_digest} refers to {}, not to {}",
                    other.as_ref().map_or("nothing", |s| s.digest.as_str()),
                    self.display_at(&subject.digest)
                )))
            }
        }
        let tag = self.fallback_tag(&subject)?;
        let read = self.read_fallback(&tag).await?;
        let removed_from_index = read
            .index
            .as_ref()
            .is_some_and(|i| i.contains(artifact_digest.as_str()));
        if removed_from_index {
            self.update_fallback(&subject, Change::Remove(artifact_digest), Some(read))
                .await?;
        }
        let response = self
            .send(Request::new(
                Method::DELETE,
                self.manifest_url(artifact_digest.as_str()),
            ))
            .await?;
        // 404: gone already (an earlier attempt whose answer was lost, or another client).
        if !matches!(response.status, 200 | 202 | 204 | 404) {
            let mut error = self.transport.unexpected(&response);
            if let (Error::Request(e), true) = (&mut error, removed_from_index) {
                e.outcome.push_str(
                    "; the artifact was removed from the fallback index, so NFD no longer sees \
                     it on this registry, but its manifest is still there",
                );
            }
            return Err(error);
        }
        let (signature_tag, signature_referrers) = self
            .remove_signatures(artifact_digest)
            .await
            .map_err(|mut error| {
                if let Error::Request(e) = &mut error {
                    let left = "; the artifact was deleted, but its signature is still there and \
                                would vouch for the same manifest pushed again";
                    e.outcome.push_str(left);
                    e.reason.push_str(left);
                }
                error
            })?;
        Ok(Detached {
            artifact: artifact_digest.clone(),
            subject,
            removed_from_index,
            signature_tag,
            signature_referrers,
        })
    }

    /// Deletes what signs `artifact`: its classic cosign signature tag and the signatures that
    /// refer to it, so that the manifest, pushed again by anyone, is not signed any more.
    async fn remove_signatures(&self, artifact: &Digest) -> Result<(Option<String>, usize), Error> {
        let tag = artifact.signature_tag();
        let head = self
            .send(Request::new(Method::HEAD, self.manifest_url(&tag)).accept(MANIFEST_ACCEPT))
            .await?;
        let removed_tag = match head.status {
            404 => None,
            200 => {
                // OCI 1.1 deletes a tag by name; distribution 2.8 refuses (400), and there
                // deleting the manifest by digest takes its tags with it. The `.sig` manifest
                // names this artifact's digest, so no other tag shares it.
                let by_tag = self
                    .send(Request::new(Method::DELETE, self.manifest_url(&tag)))
                    .await?;
                if !matches!(by_tag.status, 200 | 202 | 204 | 404) {
                    let digest = match head.header("docker-content-digest") {
                        Some(d) if Digest::parse(d).is_ok() => d.to_owned(),
                        _ => self.get_manifest(&tag).await?.1.digest,
                    };
                    let by_digest = self
                        .send(Request::new(Method::DELETE, self.manifest_url(&digest)))
                        .await?;
                    self.transport.expect(by_digest, &[200, 202, 204, 404])?;
                }
                let again = self
                    .send(
                        Request::new(Method::HEAD, self.manifest_url(&tag)).accept(MANIFEST_ACCEPT),
                    )
                    .await?;
                if again.status != 404 {
                    return Err(self.transport.fail(
                        &again,
                        "the registry accepted deleting the signature, yet still serves it".into(),
                    ));
                }
                Some(tag)
            }
            _ => return Err(self.transport.unexpected(&head)),
        };
        let mut removed = 0;
        for signature in self.signature_referrers(artifact).await? {
            let response = self
                .send(Request::new(Method::DELETE, self.manifest_url(&signature)))
                .await?;
            self.transport.expect(response, &[200, 202, 204, 404])?;
            removed += 1;
        }
        Ok((removed_tag, removed))
    }

    /// The digests of signatures that refer to `artifact` (sigstore bundles as cosign 3
    /// attaches them, cosign and notation signatures).
    async fn signature_referrers(&self, artifact: &Digest) -> Result<Vec<String>, Error> {
        let is_signature = |d: &OciDescriptor| {
            d.artifact_type.as_deref().is_some_and(|t| {
                t.starts_with("application/vnd.dev.sigstore.bundle")
                    || t.starts_with("application/vnd.dev.cosign.")
                    || t == "application/vnd.cncf.notary.signature"
            })
        };
        Ok(self
            .referrers_of(artifact)
            .await?
            .1
            .into_iter()
            .filter(is_signature)
            .map(|d| d.digest)
            .collect())
    }

    /// Every referrer of the manifest `digest`, of any type, from the referrers API when the
    /// registry has it, else from the fallback tag; entries whose digest is not a sha256 digest
    /// are left out. Bounded as [`Client::referrers`] is.
    pub async fn referrers_of(
        &self,
        digest: &Digest,
    ) -> Result<(ReferrersSource, Vec<OciDescriptor>), Error> {
        let mut url = self.transport.url(&format!("referrers/{digest}"));
        let mut found = Vec::new();
        let mut bytes = 0;
        for page in 1.. {
            let response = self
                .send(
                    Request::new(Method::GET, url.clone())
                        .accept(OCI_INDEX)
                        .limit(MAX_MANIFEST_BYTES),
                )
                .await?;
            if response.status == 404 && page == 1 {
                let entries = self
                    .read_fallback(&digest.tag())
                    .await?
                    .index
                    .map(|i| i.entries())
                    .unwrap_or_default();
                return Ok((ReferrersSource::TagSchema, usable(entries)));
            }
            let response = self.transport.expect(response, &[200])?;
            bytes += response.body.len();
            let index = FallbackIndex::parse(&response.body).map_err(|e| {
                self.transport
                    .fail(&response, format!("the referrers list is malformed: {e}"))
            })?;
            found.extend(index.entries());
            if bytes > MAX_LISTING_BYTES || found.len() > MAX_LISTED_REFERRERS {
                return Err(self.transport.fail(
                    &response,
                    format!(
                        "the referrers list is over {MAX_LISTING_BYTES} bytes or \
                         {MAX_LISTED_REFERRERS} entries (MAX_LISTING_BYTES, MAX_LISTED_REFERRERS)"
                    ),
                ));
            }
            let Some(next) = next_page(&response) else {
                break;
            };
            if page == MAX_REFERRERS_PAGES {
                return Err(self.transport.fail(
                    &response,
                    format!(
                        "the referrers list has more than {MAX_REFERRERS_PAGES} pages \
                         (MAX_REFERRERS_PAGES)"
                    ),
                ));
            }
            url = self.transport.registry_url(&response, "Link", &next)?;
        }
        Ok((ReferrersSource::Api, usable(found)))
    }

    /// Pushes `manifest` (an OCI image manifest whose `subject` is `subject`) by digest after
    /// the blobs it names, and lists it as a referrer of `subject`: by the registry itself when
    /// it says so (`OCI-Subject`), else in the fallback index, as [`Client::attach`] does
    /// (same concurrency protocol; other tools' entries kept). `listed` is its descriptor for
    /// referrers lists (`artifactType`, annotations). Returns the manifest's digest, where it
    /// is listed, and the rounds the fallback index took.
    pub async fn push_referrer(
        &self,
        subject: &OciDescriptor,
        manifest: Vec<u8>,
        listed: OciDescriptor,
        blobs: &[(OciDescriptor, &[u8])],
    ) -> Result<(Digest, ReferrersSource, u32), Error> {
        let digest = Digest::sha256_of(&manifest);
        futures_util::future::try_join_all(
            blobs
                .iter()
                .map(|(descriptor, bytes)| self.ensure_blob(descriptor, bytes)),
        )
        .await?;
        let response = self
            .send(
                Request::new(Method::PUT, self.manifest_url(digest.as_str()))
                    .body(OCI_MANIFEST, manifest),
            )
            .await?;
        let response = self.transport.expect(response, &[200, 201])?;
        if response.header("oci-subject").is_some() {
            return Ok((digest, ReferrersSource::Api, 0));
        }
        let listed = OciDescriptor {
            digest: digest.to_string(),
            ..listed
        };
        let rounds = self
            .update_fallback(subject, Change::Add(&listed), None)
            .await?;
        Ok((digest, ReferrersSource::TagSchema, rounds))
    }

    /// Adds or removes an entry of the fallback index, safe against concurrent writers as far
    /// as a registry without compare-and-swap allows: read, merge, write, then read back after
    /// a settling delay until the change holds in a quiet index; if another writer's index
    /// replaced ours, merge again. Returns the number of rounds.
    ///
    /// Why reading back right away is not enough: a writer that read the index before our
    /// write and writes after our check would drop our entry unseen. Waiting longer than the
    /// read-to-write window of such writers before the last check closes that gap for writers
    /// as fast as us; later writers read our entry and keep it.
    ///
    /// Superseded indexes are not deleted: on distribution a DELETE by
    /// digest also drops every tag on that digest, which would remove the fallback tag when a
    /// concurrent writer has just written identical bytes. Registry garbage collection removes
    /// them as untagged manifests.
    async fn update_fallback(
        &self,
        subject: &OciDescriptor,
        change: Change<'_>,
        prior: Option<FallbackRead>,
    ) -> Result<u32, Error> {
        let tag = self.fallback_tag(subject)?;
        let mut read = match prior {
            Some(read) => read,
            None => self.read_fallback(&tag).await?,
        };
        let mut failed_writes = 0;
        for round in 1..=MAX_INDEX_ROUNDS {
            // A read that took long to come back, or that waited long since, may predate what
            // other writers wrote meanwhile: writing a merge into it would drop their entries.
            let mut rereads = 0;
            while rereads < MAX_STALE_REREADS && read.at.elapsed() > self.stale_after() {
                read = self.read_fallback(&tag).await?;
                rereads += 1;
            }
            let current = read.index.clone().unwrap_or_else(FallbackIndex::empty);
            let written = match change.apply(&current) {
                Some(updated) => {
                    let bytes = updated.to_bytes();
                    let digest = Digest::sha256_of(&bytes);
                    // Sent once: the same bytes sent again later would lay this read over
                    // whatever others wrote since. A failed write starts over from a new read
                    // (which also shows whether a write whose answer was lost went through).
                    let sent = self
                        .send(
                            Request::new(Method::PUT, self.manifest_url(&tag))
                                .body(OCI_INDEX, bytes)
                                .once(),
                        )
                        .await
                        .and_then(|response| self.transport.expect(response, &[200, 201]));
                    match sent {
                        Ok(_) => Some(digest),
                        Err(Error::Request(mut e)) if e.retryable => {
                            failed_writes += 1;
                            if failed_writes == retry::MAX_ATTEMPTS {
                                e.attempts = failed_writes;
                                return Err(Error::Request(e));
                            }
                            tokio::time::sleep(retry::backoff(failed_writes, None)).await;
                            read = self.read_fallback(&tag).await?;
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
                None => None,
            };
            let mut settle = settle_delay(read.at.elapsed());
            let mut previous = written.or_else(|| read.digest.clone());
            let mut held = false;
            for _ in 0..MAX_VERIFY_READS {
                tokio::time::sleep(settle).await;
                read = self.read_fallback(&tag).await?;
                held = change.holds(&read);
                // Unchanged since our write (or our last look): no writer was in flight.
                if !held || read.digest == previous {
                    break;
                }
                previous = read.digest.clone();
                // Other writers are active: give the slowest of them more time.
                settle = (settle * 2).min(MAX_SETTLE);
            }
            // Held on every read, even if other writers kept going: they all kept it.
            if held {
                return Ok(round);
            }
            tokio::time::sleep(retry::backoff(round, None)).await;
            read = self.read_fallback(&tag).await?;
        }
        Err(Error::Conflict(format!(
            "registry {}, repository {}: other writers replaced the fallback index {tag} \
             {MAX_INDEX_ROUNDS} times in a row; the artifact manifest is pushed but may not be \
             listed. Run the command again.",
            self.transport.label(),
            self.transport.repository()
        )))
    }

    /// How old a read of the fallback index may be when a write is based on it: three of this
    /// command's fastest exchanges with the registry, or [`MIN_SETTLE`] if longer. Others wait
    /// at least 2.5 times their own read-to-write time before checking their entry survived.
    fn stale_after(&self) -> Duration {
        (self.transport.fastest_exchange() * 3).max(MIN_SETTLE)
    }

    fn fallback_tag(&self, subject: &OciDescriptor) -> Result<String, Error> {
        Digest::parse(&subject.digest)
            .map(|digest| digest.tag())
            .map_err(|_| self.content("the image's digest is not a digest".into()))
    }

    async fn read_fallback(&self, tag: &str) -> Result<FallbackRead, Error> {
        let at = Instant::now();
        let response = self
            .send(
                Request::new(Method::GET, self.manifest_url(tag))
                    .accept(OCI_INDEX)
                    .limit(MAX_MANIFEST_BYTES),
            )
            .await?;
        if response.status == 404 {
            return Ok(FallbackRead {
                index: None,
                digest: None,
                at,
            });
        }
        let response = self.transport.expect(response, &[200])?;
        let index = FallbackIndex::parse(&response.body).map_err(|e| {
            self.transport.fail(
                &response,
                format!(
                    "the fallback tag {tag} does not hold a referrers index ({e}); \
                     refusing to overwrite it"
                ),
            )
        })?;
        Ok(FallbackRead {
            index: Some(index),
            digest: Some(Digest::sha256_of(&response.body)),
            at,
        })
    }

    /// The digest of `existing` (a referrer) if it carries the same content as `new`.
    async fn has_content(
        &self,
        existing: &OciDescriptor,
        new: &Artifact,
    ) -> Result<Option<Digest>, Error> {
        let (bytes, _) = self.get_listed_manifest(existing).await?;
        let same = serde_json::from_slice::<OciImageManifest>(&bytes)
            .is_ok_and(|manifest| artifact::same_content(&manifest, new));
        // The bytes hash to the listed digest: `get_listed_manifest` checked it.
        Ok(same.then(|| Digest::sha256_of(&bytes)))
    }

    async fn blob_exists(&self, digest: &str) -> Result<bool, Error> {
        let response = self
            .send(Request::new(
                Method::HEAD,
                self.transport.url(&format!("blobs/{digest}")),
            ))
            .await?;
        match response.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.transport.unexpected(&response)),
        }
    }

    /// `POST` then `PUT ?digest=`: distribution 2.8 ignores the body of a single-request
    /// `POST ?digest=` upload, so the two-step form is the portable one.
    async fn upload_blob(&self, descriptor: &OciDescriptor, bytes: &[u8]) -> Result<(), Error> {
        let started = self
            .send(Request::new(
                Method::POST,
                self.transport.url("blobs/uploads/"),
            ))
            .await?;
        let started = self.transport.expect(started, &[202])?;
        let mut url = self.transport.location(&started)?;
        url.query_pairs_mut()
            .append_pair("digest", &descriptor.digest);
        let response = self
            .send(Request::new(Method::PUT, url).body("application/octet-stream", bytes.to_vec()))
            .await?;
        // A retried PUT finds the session closed if the lost first attempt completed it.
        if response.status == 404
            && response.attempts > 1
            && self.blob_exists(&descriptor.digest).await?
        {
            return Ok(());
        }
        self.transport.expect(response, &[201])?;
        Ok(())
    }

    /// Pushes the manifest by digest and returns the registry's answer (for `OCI-Subject`).
    ///
    /// With many writers of one repository, distribution 2.8 sometimes refuses a manifest
    /// because a blob another writer is committing at that moment (typically the shared empty
    /// config) reads as unknown or corrupt. The blobs are then checked, re-uploaded if
    /// missing, and the manifest pushed again.
    async fn push_manifest(&self, artifact: &Artifact, spec: &[u8]) -> Result<Response, Error> {
        let mut round = 1;
        let response = loop {
            let response = self
                .send(
                    Request::new(Method::PUT, self.manifest_url(&artifact.descriptor.digest))
                        .body(OCI_MANIFEST, artifact.manifest.clone()),
                )
                .await?;
            let blob_trouble = response.status == 400
                && ["BLOB_UNKNOWN", "DIGEST_INVALID"]
                    .iter()
                    .any(|code| String::from_utf8_lossy(&response.body).contains(code));
            if !blob_trouble || round == MAX_MANIFEST_PUSHES {
                break response;
            }
            self.transport.report(&Event::ManifestRetry {
                refusal: &self.transport.unexpected(&response),
            });
            tokio::time::sleep(retry::backoff(round, None)).await;
            try_join(
                self.ensure_blob(&artifact.config, artifact::EMPTY_BLOB),
                self.ensure_blob(&artifact.layer, spec),
            )
            .await?;
            round += 1;
        };
        let response = self.transport.expect(response, &[200, 201])?;
        if let Some(digest) = response.header("docker-content-digest") {
            if digest != artifact.descriptor.digest {
                return Err(self.transport.fail(
                    &response,
                    format!(
                        "the registry stored the manifest as {}, not as {}",
                        shown_digest(digest),
                        artifact.descriptor.digest
                    ),
                ));
            }
        }
        Ok(response)
    }

    async fn ensure_blob(&self, descriptor: &OciDescriptor, bytes: &[u8]) -> Result<(), Error> {
        match self.blob_exists(&descriptor.digest).await? {
            true => Ok(()),
            false => self.upload_blob(descriptor, bytes).await,
        }
    }

    /// A manifest's bytes and descriptor. When `reference` is a digest, the bytes must hash to
    /// it; otherwise to the registry's `Docker-Content-Digest`, if it sent one.
    async fn get_manifest(&self, reference: &str) -> Result<(Vec<u8>, OciDescriptor), Error> {
        self.get_manifest_within(reference, MAX_MANIFEST_BYTES)
            .await
    }

    /// The manifest a listing describes, read up to exactly the size it declares.
    async fn get_listed_manifest(
        &self,
        descriptor: &OciDescriptor,
    ) -> Result<(Vec<u8>, OciDescriptor), Error> {
        if Digest::parse(&descriptor.digest).is_err() {
            return Err(self.content(format!(
                "{} is not a sha256 digest",
                shown_digest(&descriptor.digest)
            )));
        }
        let size = self.declared_size(descriptor, MAX_MANIFEST_BYTES, "MAX_MANIFEST_BYTES")?;
        let (bytes, found) = self.get_manifest_within(&descriptor.digest, size).await?;
        if bytes.len() != size {
            return Err(self.content(format!(
                "manifest {} is {} bytes; its descriptor says {size}",
                descriptor.digest,
                bytes.len()
            )));
        }
        Ok((bytes, found))
    }

    async fn get_manifest_within(
        &self,
        reference: &str,
        limit: usize,
    ) -> Result<(Vec<u8>, OciDescriptor), Error> {
        let response = self.request_manifest(reference, limit).await?;
        if response.status == 404 {
            return Err(self.not_found(&response, "no such manifest"));
        }
        self.read_manifest(reference, response)
    }

    async fn request_manifest(&self, reference: &str, limit: usize) -> Result<Response, Error> {
        // Digests also come from registry listings: never let one reshape the URL.
        if reference.contains(':') && Digest::parse(reference).is_err() {
            return Err(self.content(format!(
                "{} is not a sha256 digest",
                shown_digest(reference)
            )));
        }
        self.send(
            Request::new(Method::GET, self.manifest_url(reference))
                .accept(MANIFEST_ACCEPT)
                .limit(limit),
        )
        .await
    }

    /// The size `descriptor` declares, if nodefit reads that much of this kind (`cap`, named
    /// `cap_name` in the error): what is read is then exactly this many bytes.
    fn declared_size(
        &self,
        descriptor: &OciDescriptor,
        cap: usize,
        cap_name: &str,
    ) -> Result<usize, Error> {
        usize::try_from(descriptor.size)
            .ok()
            .filter(|size| *size <= cap)
            .ok_or_else(|| {
                self.content(format!(
                    "{} declares {} bytes; nodefit reads at most {cap} ({cap_name})",
                    descriptor.digest, descriptor.size
                ))
            })
    }

    /// Checks a manifest answer: status, digest, media type.
    fn read_manifest(
        &self,
        reference: &str,
        response: Response,
    ) -> Result<(Vec<u8>, OciDescriptor), Error> {
        let response = self.transport.expect(response, &[200])?;
        let digest = Digest::sha256_of(&response.body);
        let expected = if Digest::parse(reference).is_ok() {
            Some(reference)
        } else {
            response
                .header("docker-content-digest")
                .filter(|d| Digest::parse(d).is_ok())
        };
        if let Some(expected) = expected.filter(|e| digest != **e) {
            return Err(self.transport.fail(
                &response,
                format!("the content's digest is {digest}, not {expected}"),
            ));
        }
        // The manifest's own mediaType wins over Content-Type, which some registries get wrong.
        let media_type = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|m| m.get("mediaType")?.as_str().map(str::to_owned))
            .or_else(|| {
                response
                    .header("content-type")
                    .map(|t| media_type_of(t).to_owned())
            })
            .unwrap_or_else(|| OCI_MANIFEST.to_owned());
        let descriptor = OciDescriptor {
            media_type,
            digest: digest.into(),
            size: response.body.len() as i64,
            ..Default::default()
        };
        Ok((response.body, descriptor))
    }

    /// A blob's bytes, checked against the descriptor's digest and size.
    async fn get_blob(&self, descriptor: &OciDescriptor) -> Result<Vec<u8>, Error> {
        if Digest::parse(&descriptor.digest).is_err() {
            return Err(self.content(format!(
                "{} is not a sha256 digest",
                shown_digest(&descriptor.digest)
            )));
        }
        let size = self.declared_size(descriptor, MAX_BLOB_BYTES, "MAX_BLOB_BYTES")?;
        let response = self
            .send(
                Request::new(
                    Method::GET,
                    self.transport.url(&format!("blobs/{}", descriptor.digest)),
                )
                .blob(size),
            )
            .await?;
        if response.status == 404 {
            return Err(self.not_found(&response, "no such blob"));
        }
        let response = self.transport.expect(response, &[200])?;
        let digest = Digest::sha256_of(&response.body);
        if digest != descriptor.digest || response.body.len() as i64 != descriptor.size {
            return Err(self.transport.fail(
                &response,
                format!(
                    "the blob is {} bytes with digest {digest}; its descriptor says {} bytes \
                     with digest {}",
                    response.body.len(),
                    descriptor.size,
                    descriptor.digest
                ),
            ));
        }
        Ok(response.body)
    }

    async fn send(&self, request: Request) -> Result<Response, Error> {
        self.transport.send(&request).await
    }

    fn manifest_url(&self, reference: &str) -> reqwest::Url {
        self.transport.url(&format!("manifests/{reference}"))
    }

    fn content(&self, message: String) -> Error {
        Error::Content(format!(
            "registry {}, repository {}: {message}",
            self.transport.label(),
            self.transport.repository()
        ))
    }

    fn not_found(&self, response: &Response, what: &str) -> Error {
        match self.transport.unexpected(response) {
            // What a 404 means names no setting: the neutral names are never used.
            Error::Request(e) => Error::Content(format!(
                "{what}: {}",
                e.summary(&|setting, _| setting.to_string())
            )),
            other => other,
        }
    }
}

/// Raw reads and writes for classic cosign signatures (`signing::remote`, issue 6), whose `.sig`
/// images live beside the artifacts under a tag. Blob digests are checked by the caller, so
/// that it can name a mismatch in its own terms.
impl Client {
    /// The exact bytes and descriptor of the manifest `reference` (tag or digest) names; when
    /// it is a digest, the bytes hash to it.
    pub async fn manifest(&self, reference: &str) -> Result<(Vec<u8>, OciDescriptor), Error> {
        self.get_manifest(reference).await
    }

    /// The exact bytes of the manifest a listing describes, read up to exactly its declared
    /// size and hashing to its digest.
    pub async fn listed_artifact(&self, descriptor: &OciDescriptor) -> Result<Vec<u8>, Error> {
        Ok(self.get_listed_manifest(descriptor).await?.0)
    }

    /// Like [`Client::manifest`], but `None` when the registry has no such manifest: a `.sig`
    /// tag is absent for every unsigned artifact.
    pub async fn manifest_if_exists(
        &self,
        reference: &str,
    ) -> Result<Option<(Vec<u8>, OciDescriptor)>, Error> {
        let head = self
            .send(Request::new(Method::HEAD, self.manifest_url(reference)).accept(MANIFEST_ACCEPT))
            .await?;
        if head.status == 404 {
            return Ok(None);
        }
        self.get_manifest(reference).await.map(Some)
    }

    /// Like [`Client::manifest_if_exists`] for a tag known to exist (from [`Client::tags`]):
    /// no `HEAD` first, and `None` if it was deleted since.
    pub async fn listed_manifest(
        &self,
        tag: &str,
    ) -> Result<Option<(Vec<u8>, OciDescriptor)>, Error> {
        let response = self.request_manifest(tag, MAX_MANIFEST_BYTES).await?;
        if response.status == 404 {
            return Ok(None);
        }
        self.read_manifest(tag, response).map(Some)
    }

    /// Every tag of the repository, from the tag list API; `None` when the registry does not
    /// let this client list them (some allow pulls but not listing), or when they span more
    /// than [`MAX_TAG_PAGES`] pages: then looking tags up one by one is the cheaper way.
    pub async fn tags(&self) -> Result<Option<HashSet<String>>, Error> {
        #[derive(serde::Deserialize)]
        struct TagList {
            tags: Option<Vec<String>>,
        }
        let mut url = self.transport.url("tags/list");
        url.query_pairs_mut()
            .append_pair("n", &TAGS_PER_PAGE.to_string());
        let mut tags = HashSet::new();
        let mut bytes = 0;
        for _ in 0..MAX_TAG_PAGES {
            let response = self
                .send(
                    Request::new(Method::GET, url.clone())
                        .accept("application/json")
                        .limit(MAX_MANIFEST_BYTES),
                )
                .await?;
            bytes += response.body.len();
            // Past the budget, looking tags up one by one is the bounded way.
            if bytes > MAX_LISTING_BYTES {
                return Ok(None);
            }
            if matches!(response.status, 401 | 403 | 404 | 405) {
                return Ok(None);
            }
            let response = self.transport.expect(response, &[200])?;
            let list: TagList = serde_json::from_slice(&response.body).map_err(|e| {
                self.transport.fail(
                    &response,
                    format!("the tag list is malformed: {}", json_problem(&e)),
                )
            })?;
            tags.extend(list.tags.unwrap_or_default());
            match next_page(&response) {
                Some(next) => url = self.transport.registry_url(&response, "Link", &next)?,
                None => return Ok(Some(tags)),
            }
        }
        Ok(None)
    }

    /// A blob's bytes as the registry sent them: at most the `size` its descriptor declares,
    /// which must be at most `cap` (named `cap_name` in the error); not checked against
    /// `digest`.
    pub async fn blob_unchecked(
        &self,
        digest: &str,
        size: i64,
        cap: usize,
        cap_name: &str,
    ) -> Result<Vec<u8>, Error> {
        if Digest::parse(digest).is_err() {
            return Err(self.content(format!("{} is not a sha256 digest", shown_digest(digest))));
        }
        let declared = OciDescriptor {
            digest: digest.to_owned(),
            size,
            ..Default::default()
        };
        let size = self.declared_size(&declared, cap, cap_name)?;
        let response = self
            .send(
                Request::new(Method::GET, self.transport.url(&format!("blobs/{digest}")))
                    .blob(size),
            )
            .await?;
        if response.status == 404 {
            return Err(self.not_found(&response, "no such blob"));
        }
        Ok(self.transport.expect(response, &[200])?.body)
    }

    /// Uploads `bytes` as a blob unless the repository has it already.
    pub async fn push_blob(&self, media_type: &str, bytes: &[u8]) -> Result<OciDescriptor, Error> {
        let descriptor = artifact::descriptor(media_type, bytes);
        self.ensure_blob(&descriptor, bytes).await?;
        Ok(descriptor)
    }

    /// Puts an OCI image manifest under `tag` and returns its digest, computed from `bytes`.
    pub async fn push_tagged_manifest(&self, tag: &str, bytes: Vec<u8>) -> Result<Digest, Error> {
        let digest = Digest::sha256_of(&bytes);
        let response = self
            .send(Request::new(Method::PUT, self.manifest_url(tag)).body(OCI_MANIFEST, bytes))
            .await?;
        let response = self.transport.expect(response, &[200, 201])?;
        match response.header("docker-content-digest") {
            Some(stored) if digest != *stored => Err(self.transport.fail(
                &response,
                format!(
                    "the registry stored the manifest as {}, not as {digest}",
                    shown_digest(stored)
                ),
            )),
            _ => Ok(digest),
        }
    }
}

/// Referrers whose digest can be put in a URL.
fn usable(entries: Vec<OciDescriptor>) -> Vec<OciDescriptor> {
    entries
        .into_iter()
        .filter(|d| Digest::parse(&d.digest).is_ok())
        .take(MAX_LISTED_REFERRERS)
        .collect()
}

/// Whether NFD can read `text` as an `org.opencontainers.image.created` time.
pub fn created_is_valid(text: &str) -> bool {
    artifact::parse_go_rfc3339(text).is_some()
}

/// The wait before reading the fallback index back: 2.5 to 3 times what our own read, merge
/// and write took. A writer that read the index before our write needs about as long to write
/// its own; the margin covers writers slowed down by a busy machine, and the quiet check in
/// `update_fallback` (waiting longer each time the index changed under us) covers contention.
fn settle_delay(read_to_write: Duration) -> Duration {
    let base = (read_to_write * 2).clamp(MIN_SETTLE, MAX_SETTLE);
    base + retry::jittered(base / 2)
}

/// The media type in a `Content-Type` value, without parameters.
fn media_type_of(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

fn is_manifest_type(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_MANIFEST_LIST
    )
}

/// A digest for a message: itself when it is one, else words, since a registry could put
/// anything (a host, its own error text) where a digest belongs.
fn shown_digest(text: &str) -> &str {
    if Digest::parse(text).is_ok() {
        text
    } else {
        "a malformed digest"
    }
}

/// A platform word from registry content (`linux`, `amd64`, `v8`) for a message: letters and
/// digits only, at most 20, so that content cannot carry a host or a sentence into it.
fn word(text: &str) -> String {
    let kept: String = text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    if kept.is_empty() {
        "?".into()
    } else {
        kept
    }
}

/// The `rel="next"` target of a `Link` header.
fn next_page(response: &Response) -> Option<String> {
    let link = response.header("link")?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

/// What is wrong with a JSON document, by kind and position only: serde's own message can
/// quote the document, and a registry's content is not repeated to anyone.
pub fn json_problem(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let kind = match error.classify() {
        Category::Io | Category::Eof => "it ends early",
        Category::Syntax => "it is not valid JSON",
        Category::Data => "it does not have the expected structure",
    };
    format!("{kind} (line {}, column {})", error.line(), error.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_summarised_by_label_without_host_or_registry_text() {
        let error = RequestError {
            registry: "lab".into(),
            repository: "demo/app".into(),
            method: "HEAD".into(),
            target: "https://10.0.0.5:5000/v2/demo/app/manifests/v1".into(),
            what: "the tag `v1`".into(),
            status: Some(404),
            outcome: "HTTP 404 Not Found: MANIFEST_UNKNOWN: internal detail".into(),
            reason: "it does not exist".into(),
            attempts: 1,
            retryable: false,
        };
        assert_eq!(
            Error::Request(Box::new(error)).public_message(&|s, _| s.to_string()),
            "registry `lab` answered 404 for the tag `v1` in repository demo/app: it does not exist"
        );
    }

    #[test]
    fn json_problems_quote_nothing() {
        let e = serde_json::from_slice::<OciImageManifest>(br#"{"schemaVersion":"secret-text"}"#)
            .unwrap_err();
        let problem = json_problem(&e);
        assert!(!problem.contains("secret"), "{problem}");
        assert!(problem.contains("line 1"), "{problem}");
    }

    #[test]
    fn settling_scales_with_the_write_window() {
        for _ in 0..20 {
            let d = settle_delay(Duration::from_micros(100));
            assert!(d >= MIN_SETTLE * 5 / 4 && d <= MIN_SETTLE * 3 / 2, "{d:?}");
            let d = settle_delay(Duration::from_millis(100));
            assert!(d >= Duration::from_millis(250) && d <= Duration::from_millis(300));
            assert!(settle_delay(Duration::from_secs(60)) <= MAX_SETTLE * 3 / 2);
        }
    }

    #[test]
    fn content_types_lose_their_parameters() {
        assert_eq!(
            media_type_of("application/vnd.oci.image.index.v1+json; charset=utf-8"),
            OCI_INDEX
        );
        assert!(is_manifest_type(DOCKER_MANIFEST_LIST));
        assert!(!is_manifest_type("text/plain"));
    }
}
