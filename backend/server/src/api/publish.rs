//! Publishing: `/api/v1/publish` (lint, sign, attach, record), `/api/v1/publications`, the
//! artifacts attached to an image (`/api/v1/images/referrers`, list and detach) and
//! `/api/v1/signing/public-key`.
//!
//! Only registries of the server's allow-list are ever dialled: a request names one by name,
//! and the image it names is placed inside that registry's host, so no client-supplied host
//! or URL reaches the network.

use nodefit_api::publish::{
    Publication, PublishRequest, ReferrerArtifact, Referrers, SignatureInfo,
};
use nodefit_api::{ErrorBody, Page};
use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use nodefit_core::lint::{self, Severity};
use tokio::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Json, QueryPairs};
use crate::auth::{Caller, Role};
use crate::config::RegistryConfig;
use crate::db::{Db, NewPublication, PublicationKey, PublicationRow};
use crate::error::ApiError;
use crate::state::AppState;
use nodefit_registry::{
    self as registry, Access, Client, CredentialSource, Digest, ImageRef, Platform,
    ReferrersSource, Setting, Settings, CREATED,
};
use nodefit_signing as signing;

/// Longest a single registry request may take.
pub const REGISTRY_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a TCP or TLS connection to a registry may take to set up.
pub const REGISTRY_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long before the request timeout a publish, list or detach stops talking to the
/// registry, so that the caller gets the registry's error rather than a bare 408.
pub const REGISTRY_DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// Longest image reference accepted.
const MAX_IMAGE_BYTES: usize = 512;
/// How often a publish request waiting for an identical one in progress looks again.
pub const CLAIM_POLL: Duration = Duration::from_millis(200);
/// How much longer than the request timeout a publish claim lasts when its server stopped
/// without releasing it (a cancelled request releases its claim itself).
pub const CLAIM_LEASE_MARGIN: Duration = Duration::from_secs(10);
/// The annotation that ties an artifact to the spec version it holds, so that retrying a
/// publish whose signing failed re-uses the artifact instead of attaching a second one.
pub const SPEC_ANNOTATION: &str = "dev.nodefit.spec-version";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish))
        .routes(routes!(publications))
        .routes(routes!(referrers, detach))
        .routes(routes!(public_key))
}

impl From<PublicationRow> for Publication {
    fn from(r: PublicationRow) -> Self {
        Self {
            id: r.id,
            spec_id: r.spec_id,
            version: r.version,
            registry: r.registry,
            image: r.image,
            image_digest: r.image_digest,
            artifact_digest: r.artifact_digest,
            signature_digest: r.signature_digest,
            created_at: r.created_at,
            created_by: r.created_by,
        }
    }
}

/// Where the configuration sets `setting` for the registry called `registry`.
fn config_key(setting: Setting, registry: &str) -> String {
    let table = format!("[registries.{registry}]");
    match setting {
        Setting::CaFile => format!("ca_file in {table}"),
        Setting::Credentials => format!("username and password, or token, in {table}"),
        Setting::UsernamePassword => format!("username and password in {table}"),
        Setting::TokenRealmHosts => format!("token_realm_hosts in {table}"),
        Setting::Deadline => "request_timeout_secs".to_owned(),
        Setting::RequestTimeout => "the server's limit per registry request".to_owned(),
    }
}

/// A registry failure as clients see it: the registry by its configured name and what went
/// wrong, never its host nor anything it sent. The whole story, host and registry's words
/// included, goes to the log at warn level, under the request's id.
impl From<registry::Error> for ApiError {
    fn from(e: registry::Error) -> Self {
        let message = e.public_message(&config_key);
        let logged = e.message(&config_key);
        match &e {
            registry::Error::Usage(_) => ApiError::bad_request(message),
            // A file the server's configuration names: the server's problem, not the client's.
            registry::Error::File(_) => ApiError::internal(logged),
            registry::Error::Content(_) => {
                tracing::warn!(error = %logged, "registry content unusable");
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "registry_content",
                    message,
                )
            }
            registry::Error::Request(_) | registry::Error::Conflict(_) => {
                tracing::warn!(error = %logged, "registry failed");
                ApiError::new(StatusCode::BAD_GATEWAY, "registry_unavailable", message)
            }
        }
    }
}

/// The configured registry called `name`, and a client for `image` inside it.
fn client(
    state: &AppState,
    name: &str,
    image: &str,
    access: Access,
) -> Result<(Client, RegistryConfig), ApiError> {
    let config = state
        .config
        .registry(name)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown registry {name:?} (see GET /api/v1/registries)"
            ))
        })?
        .clone();
    let image = image.trim();
    if image.is_empty()
        || image.len() > MAX_IMAGE_BYTES
        || image.contains("://")
        || image.starts_with('/')
    {
        return Err(ApiError::bad_request(
            "image must be `repository:tag` or `repository@sha256:...` inside the registry",
        ));
    }
    // Parse errors quote the reference, which here holds the host: say it without.
    let reference = ImageRef::parse(&format!("{}/{image}", config.host)).map_err(|_| {
        ApiError::bad_request(format!(
            "image {image:?} is not a valid `repository:tag` or `repository@sha256:...`"
        ))
    })?;
    // Defence in depth: whatever the image text, the host dialled is the configured one.
    if reference.registry() != config.host {
        return Err(ApiError::bad_request(
            "image must not name another registry",
        ));
    }
    let settings = Settings {
        plain_http: config.plain_http,
        ca_file: config.ca_file.clone(),
        credentials: CredentialSource::Given(config.credentials.clone()),
        request_timeout: REGISTRY_REQUEST_TIMEOUT,
        connect_timeout: REGISTRY_CONNECT_TIMEOUT,
        deadline: Instant::now()
            + state
                .config
                .request_timeout
                .saturating_sub(REGISTRY_DEADLINE_MARGIN),
        observer: None,
        token_realm_hosts: config.token_realm_hosts.clone(),
    };
    let client = Client::new(reference, access, settings)?.named(&config.name);
    Ok((client, config))
}

fn platform(text: Option<&str>) -> Result<Option<Platform>, ApiError> {
    text.filter(|p| !p.is_empty())
        .map(Platform::parse)
        .transpose()
        .map_err(ApiError::from)
}

/// Lint, sign with the server's key when one is configured, attach, and record. Publishing the
/// same spec version to the same image digest again returns the recorded publication (200)
/// without touching the registry beyond resolving the image; while an identical publish is in
/// progress (a client retrying too early, here or on another server on the same database),
/// the request waits for it and returns its publication.
#[utoipa::path(
    post,
    path = "/publish",
    tag = "publishing",
    request_body = PublishRequest,
    responses(
        (status = 201, body = Publication, description = "attached (and signed)"),
        (status = 200, body = Publication, description = "already published"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "an identical publish was still in progress when this request had to answer (`publish_in_progress`): retry later"),
        (status = 422, body = ErrorBody, description = "the spec has lint errors (`lint_failed`, diagnostics in details) or the registry content is unusable"),
        (status = 502, body = ErrorBody, description = "the registry could not be used"),
    ),
    security(("token" = []))
)]
async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<PublishRequest>,
) -> Result<Response, ApiError> {
    caller.require(Role::Publisher)?;
    let answer_by = Instant::now()
        + state
            .config
            .request_timeout
            .saturating_sub(REGISTRY_DEADLINE_MARGIN);
    let (spec, version) = state
        .db
        .spec_version(req.spec_id, req.version)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("spec {} version {:?}", req.spec_id, req.version))
        })?;
    let content = version.content.clone().unwrap_or_default();
    let checked = content.clone();
    let name = spec.name.clone();
    let errors: Vec<_> = state
        .work
        .run(move |_| {
            let diagnostics = lint::lint(&checked, &[]);
            let errors: Vec<_> = diagnostics
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            lint::to_json(&name, &checked, &errors)
        })
        .await?;
    if !errors.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "lint_failed",
            format!(
                "spec {:?} version {} has {} lint error(s); fix them before publishing",
                spec.name,
                version.version,
                errors.len()
            ),
        )
        .with_details(serde_json::json!({ "diagnostics": errors })));
    }
    let platform = platform(req.platform.as_deref())?;
    let (client, registry) = client(&state, &req.registry, &req.image, Access::Push)?;
    let subject = client.resolve(platform.as_ref()).await?;
    let key = PublicationKey {
        spec_id: spec.id,
        version: version.version,
        registry: registry.name.clone(),
        image_digest: subject.digest.clone(),
    };
    let _claim = match claim(&state, key, answer_by).await? {
        Claimed::Done(existing) => {
            return Ok((StatusCode::OK, axum::Json(Publication::from(existing))).into_response())
        }
        Claimed::Ours(claim) => claim,
    };

    let marker = format!("{}:{}", spec.id, version.version);
    let artifact = match reusable_artifact(&client, &subject, &marker, content.as_bytes()).await? {
        Some(digest) => digest,
        None => {
            let annotations = BTreeMap::from([
                (
                    CREATED.to_owned(),
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                ),
                (SPEC_ANNOTATION.to_owned(), marker),
            ]);
            // Spec names are free text; the artifact's file name is made safe by `attach`.
            let title = format!("{}.yaml", spec.name);
            client
                .attach(platform.as_ref(), content.as_bytes(), &title, &annotations)
                .await?
                .digest
        }
    };
    let signature = match &state.config.signing {
        Some(signing) => Some(
            signing::remote::sign(&client, platform.as_ref(), Some(&artifact), &signing.key)
                .await?
                .signature_manifest,
        ),
        None => None,
    };
    let (row, created) = state
        .db
        .record_publication(&NewPublication {
            spec_id: spec.id,
            version: version.version,
            registry: &registry.name,
            image: req.image.trim(),
            image_digest: &subject.digest,
            artifact_digest: artifact.as_str(),
            signature_digest: signature.as_deref(),
            created_by: &caller.name,
        })
        .await?;
    tracing::info!(spec = spec.id, version = version.version, registry = %registry.name, image = %row.image, artifact = %row.artifact_digest, "published");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(Publication::from(row))).into_response())
}

enum Claimed {
    /// The publication exists (recorded before or while this request waited).
    Done(PublicationRow),
    /// This request publishes; the claim is released when it is dropped.
    Ours(Claim),
}

/// Waits until this request may publish `key`, or until an identical request in progress has
/// recorded it; gives up (409) in time to answer by `answer_by`.
async fn claim(
    state: &AppState,
    key: PublicationKey,
    answer_by: Instant,
) -> Result<Claimed, ApiError> {
    let lease = state.config.request_timeout + CLAIM_LEASE_MARGIN;
    loop {
        let find = || {
            state
                .db
                .find_publication(key.spec_id, key.version, &key.registry, &key.image_digest)
        };
        if let Some(existing) = find().await? {
            return Ok(Claimed::Done(existing));
        }
        if state.db.claim_publication(&key, lease).await? {
            let claim = Claim {
                db: state.db.clone(),
                key: Some(key.clone()),
            };
            // The request that held the claim may have recorded the publication just before
            // releasing it.
            return Ok(match find().await? {
                Some(existing) => Claimed::Done(existing),
                None => Claimed::Ours(claim),
            });
        }
        if Instant::now() + CLAIM_POLL >= answer_by {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "publish_in_progress",
                format!(
                    "spec {} version {} is being published to this image by another request; \
                     retry later to get its result",
                    key.spec_id, key.version
                ),
            ));
        }
        tokio::time::sleep(CLAIM_POLL).await;
    }
}

/// A publish claim, released when the publish ends: also when the request is cancelled (its
/// timeout drops the handler), through a task of its own.
struct Claim {
    db: Db,
    key: Option<PublicationKey>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let (Some(key), Ok(runtime)) = (self.key.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let db = self.db.clone();
        runtime.spawn(async move {
            if let Err(e) = db.release_publication(&key).await {
                tracing::warn!(error = %e, spec = key.spec_id, version = key.version, "a publish claim was not released; it expires with its lease");
            }
        });
    }
}

/// The newest compatibility artifact of `subject`, if an earlier attempt of this publication
/// attached it (same spec version marker, same spec bytes): a retry after a failed signing
/// signs it instead of attaching a second copy.
async fn reusable_artifact(
    client: &Client,
    subject: &oci_client::manifest::OciDescriptor,
    marker: &str,
    spec: &[u8],
) -> Result<Option<Digest>, ApiError> {
    let listing = client.referrers(subject).await?;
    let Some(newest) = listing.artifacts.first() else {
        return Ok(None);
    };
    let marked = newest
        .annotations
        .as_ref()
        .and_then(|a| a.get(SPEC_ANNOTATION))
        .is_some_and(|m| m == marker);
    if !marked {
        return Ok(None);
    }
    let bytes = client.listed_artifact(newest).await?;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let layer = manifest
        .pointer("/layers/0/digest")
        .and_then(|d| d.as_str());
    let same = layer.is_some_and(|layer| Digest::sha256_of(spec) == layer);
    Ok(same.then(|| Digest::parse(&newest.digest).ok()).flatten())
}

/// Publications, newest first (`specId` to see one spec's).
#[utoipa::path(
    get,
    path = "/publications",
    tag = "publishing",
    params(("specId" = Option<i64>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = Page<Publication>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []))
)]
async fn publications(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryPairs,
) -> Result<axum::Json<Page<Publication>>, ApiError> {
    caller.require(Role::Viewer)?;
    query.only(&["specId", "limit", "offset"])?;
    let (limit, offset) = query.page()?;
    let spec_id = query.int("specId")?;
    let (rows, total) = state.db.list_publications(spec_id, limit, offset).await?;
    Ok(axum::Json(Page {
        items: rows.into_iter().map(Publication::from).collect(),
        total,
        limit,
        offset,
    }))
}

/// What `/images/referrers` takes.
fn image_query(
    query: &QueryPairs,
    extra: &[&str],
) -> Result<(String, String, Option<String>), ApiError> {
    let mut known = vec!["registry", "image", "platform"];
    known.extend_from_slice(extra);
    query.only(&known)?;
    let need = |name: &str| {
        query.get(name).map(str::to_owned).ok_or_else(|| {
            ApiError::bad_request(format!("the query parameter {name:?} is required"))
        })
    };
    Ok((
        need("registry")?,
        need("image")?,
        query.get("platform").map(str::to_owned),
    ))
}

/// The compatibility artifacts attached to an image, with their signatures.
#[utoipa::path(
    get,
    path = "/images/referrers",
    tag = "publishing",
    params(("registry" = String, Query), ("image" = String, Query), ("platform" = Option<String>, Query)),
    responses((status = 200, body = Referrers), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("token" = []))
)]
async fn referrers(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryPairs,
) -> Result<axum::Json<Referrers>, ApiError> {
    caller.require(Role::Viewer)?;
    let (registry, image, platform_text) = image_query(&query, &[])?;
    let platform = platform(platform_text.as_deref())?;
    let (client, config) = client(&state, &registry, &image, Access::Pull)?;
    let subject = client.resolve(platform.as_ref()).await?;
    let listing = client.referrers(&subject).await?;
    let signatures = signing::remote::signatures(&client, &listing.artifacts).await?;
    let signatures_looked_up = signatures.len();
    let artifacts = listing
        .artifacts
        .iter()
        .zip(
            signatures
                .into_iter()
                .chain(std::iter::repeat_with(|| None)),
        )
        .enumerate()
        .map(|(i, (a, sig))| {
            let annotations: BTreeMap<String, String> = a
                .annotations
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect();
            ReferrerArtifact {
                digest: a.digest.clone(),
                size: a.size,
                created: annotations.get(CREATED).cloned(),
                annotations,
                nfd_choice: i == 0,
                signature: sig.map(|s| SignatureInfo {
                    tag: s.tag,
                    digest: s.digest,
                    count: s.count,
                }),
            }
        })
        .collect();
    Ok(axum::Json(Referrers {
        registry: config.name,
        image: image.trim().to_owned(),
        subject_digest: subject.digest,
        source: match listing.source {
            ReferrersSource::Api => "referrers-api".into(),
            ReferrersSource::TagSchema => "tag-schema".into(),
        },
        signatures_looked_up,
        artifacts,
    }))
}

/// Deletes a compatibility artifact (and its entry in the fallback index).
#[utoipa::path(
    delete,
    path = "/images/referrers",
    tag = "publishing",
    params(("registry" = String, Query), ("image" = String, Query), ("artifact" = String, Query), ("platform" = Option<String>, Query)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("token" = []))
)]
async fn detach(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryPairs,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Publisher)?;
    let (registry, image, platform_text) = image_query(&query, &["artifact"])?;
    let artifact = query
        .get("artifact")
        .ok_or_else(|| ApiError::bad_request("the query parameter \"artifact\" is required"))?;
    let artifact = Digest::parse(artifact).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let platform = platform(platform_text.as_deref())?;
    let (client, _) = client(&state, &registry, &image, Access::Delete)?;
    client.detach(platform.as_ref(), &artifact).await?;
    tracing::info!(registry = %registry, image = %image.trim(), artifact = %artifact, by = %caller.name, "detached");
    Ok(StatusCode::NO_CONTENT)
}

/// The public key that verifies what the server signs (PKIX PEM, as `cosign.pub`).
#[utoipa::path(
    get,
    path = "/signing/public-key",
    tag = "publishing",
    responses((status = 200, content_type = "text/plain", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn public_key(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let signing =
        state.config.signing.as_ref().ok_or_else(|| {
            ApiError::not_found("signing key (the server is not configured to sign)")
        })?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        signing.public_key_pem.clone(),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::{RequestError, Text};

    #[test]
    fn registry_settings_are_named_by_their_configuration_keys() {
        let error = registry::Error::Request(Box::new(RequestError {
            registry: "lab".into(),
            repository: "demo/app".into(),
            method: "GET".into(),
            target: "https://10.0.0.5:5000/v2/demo/app/manifests/v1".into(),
            what: "the tag `v1`".into(),
            status: Some(401),
            outcome: "HTTP 401 Unauthorized".into(),
            reason: Text::from("its token realm is not named in ")
                .setting(Setting::TokenRealmHosts)
                .words("; nothing was sent there"),
            attempts: 1,
            retryable: false,
        }));
        let answer = ApiError::from(error);
        assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
        assert_eq!(
            answer.message,
            "registry `lab` answered 401 for the tag `v1` in repository demo/app: its token \
             realm is not named in token_realm_hosts in [registries.lab]; nothing was sent there"
        );
        assert_eq!(config_key(Setting::Deadline, "lab"), "request_timeout_secs");
        assert_eq!(
            config_key(Setting::CaFile, "lab"),
            "ca_file in [registries.lab]"
        );
    }
}
