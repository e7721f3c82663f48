//! Publishing: `/api/v1/publish` (the publish pipeline of `nodefit-publish`, then record),
//! `/api/v1/publications`, the artifacts attached to an image (`/api/v1/images/referrers`,
//! list and detach) and `/api/v1/signing/public-key`. Registry clients, registry errors and
//! the claim protocol are in `crate::publishing`.

use nodefit_api::publish::{
    ArtifactSignature, ImageSpec, Publication, PublishRequest, PublishedSignature,
    ReferrerArtifact, Referrers,
};
use nodefit_api::{ErrorBody, Page};
use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use nodefit_core::lint;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Json, QueryPairs};
use crate::auth::{Caller, Role};
use crate::db::{NewPublication, PublicationKey, PublicationRow, SpecRow, VersionRow};
use crate::error::{ApiError, ErrorCode};
use crate::publishing::{claim, client, registry_deadline, Claimed};
use crate::state::AppState;
use nodefit_publish::{self as pipeline, Annotations, Signer};
use nodefit_registry::{Access, Client, Digest, Platform, ReferrersSource, CREATED};
use nodefit_signing as signing;
use signing::remote::Format;
use signing::trust::{Requirement, Rule, Trusted};

/// The annotation that ties an artifact to the spec version it holds: two versions with the
/// same text are two artifacts, and a retry of one version (after a failed signature) is the
/// same content, which attaching again leaves as it is.
pub const SPEC_ANNOTATION: &str = "dev.nodefit.spec-version";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish))
        .routes(routes!(publications))
        .routes(routes!(referrers, detach))
        .routes(routes!(image_spec))
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
            signed: Vec::new(),
            created_at: r.created_at,
            created_by: r.created_by,
            detached_at: r.detached.as_ref().map(|(at, _)| at.clone()),
            detached_by: r.detached.map(|(_, by)| by),
        }
    }
}

fn platform(text: Option<&str>) -> Result<Option<Platform>, ApiError> {
    text.filter(|p| !p.is_empty())
        .map(Platform::parse)
        .transpose()
        .map_err(ApiError::from)
}

/// The publish pipeline (lint, attach, sign with the server's key when one is configured),
/// then record. Publishing the same spec version to the same image digest again returns the
/// recorded publication (200) without touching the registry beyond resolving the image; while
/// an identical publish is in progress (a client retrying too early, here or on another server
/// on the same database), the request waits for it and returns its publication.
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
    let answer_by = registry_deadline(&state.config);
    let (spec, version) = state
        .db
        .spec_version(req.spec_id, req.version)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("spec {} version {:?}", req.spec_id, req.version))
        })?;
    let checked = lint_gate(&state, &spec, &version).await?;
    let platform = platform(req.platform.as_deref())?;
    let (client, registry) = client(&state, &req.registry, &req.image, Access::Push)?;
    let signers = signers(&state);
    check_trust(&state, &client, &registry.name, &req.image, &signers)?;
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
    let published = pipeline::publish(
        &client,
        &checked,
        &pipeline::Publication {
            platform: platform.as_ref(),
            // Spec names are free text; the registry client makes the file name safe.
            title: &format!("{}.yaml", spec.name),
            annotations: &Annotations::created_now(BTreeMap::from([(
                SPEC_ANNOTATION.to_owned(),
                format!("{}:{}", spec.id, version.version),
            )])),
            signers: &signers,
        },
    )
    .await?;
    let (row, created) = state
        .db
        .record_publication(&NewPublication {
            spec_id: spec.id,
            version: version.version,
            registry: &registry.name,
            image: req.image.trim(),
            image_digest: &subject.digest,
            artifact_digest: published.attached.digest.as_str(),
            signature_digest: published
                .signatures
                .first()
                .map(|s| s.signature_manifest.as_str()),
            created_by: &caller.name,
        })
        .await?;
    tracing::info!(spec = spec.id, version = version.version, registry = %registry.name, image = %row.image, artifact = %row.artifact_digest, "published");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut answer = Publication::from(row);
    answer.signed = published
        .signatures
        .iter()
        .map(|s| PublishedSignature {
            format: s.format.name().to_owned(),
            digest: s.signature_manifest.clone(),
            unchanged: s.unchanged,
        })
        .collect();
    Ok((status, axum::Json(answer)).into_response())
}

/// One signer per format of `[signing] formats`, in its order.
fn signers(state: &AppState) -> Vec<Signer<'_>> {
    let Some(signing) = &state.config.signing else {
        return Vec::new();
    };
    signing
        .formats
        .iter()
        .filter_map(|format| match format {
            Format::Bundle => signing.cosign.as_ref().map(|c| Signer::Bundle(&c.key)),
            Format::Classic => signing.cosign.as_ref().map(|c| Signer::Classic(&c.key)),
            Format::Notation => signing.notation.as_deref().map(|n| Signer::Notation {
                key: &n.key,
                chain: &n.chain,
                envelope: n.envelope,
            }),
        })
        .collect()
}

/// With a trust policy, refuses (before anything is written) a publish whose signatures the
/// policy would not accept for the image's repository: NFD's newest artifact would then be one
/// that `verify`, `validate-node --trust-policy` and this server refuse.
fn check_trust(
    state: &AppState,
    client: &Client,
    registry: &str,
    image: &str,
    signers: &[Signer],
) -> Result<(), ApiError> {
    let Some(requirement) = policy_requirement(state, client, registry, image)? else {
        return Ok(());
    };
    let with: Vec<_> = signers.iter().map(Signer::with).collect();
    let verifies =
        signing::remote::would_verify(&with, &requirement, chrono::Utc::now().timestamp());
    if requirement.satisfied(&verifies) {
        return Ok(());
    }
    let needs: Vec<&str> = requirement.trusted.iter().map(Trusted::name).collect();
    let signs: Vec<&str> = signers.iter().map(|s| s.with().format().name()).collect();
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::UntrustedPublish,
        format!(
            "the trust policy {:?} for {} on registry `{registry}` requires a signature by {} \
             of: {}; this server signs {}, which it would not accept, so nothing was published",
            requirement.policy,
            image.trim(),
            match requirement.rule {
                Rule::AllOf => "each",
                _ => "one",
            },
            needs.join("; "),
            if signs.is_empty() {
                "nothing (no [signing] configured)".to_owned()
            } else {
                format!("in {}", signs.join(", "))
            },
        ),
    ))
}

/// What the trust policy requires for the image's repository; `None` without a policy. A
/// repository no scope covers is refused, as `verify --trust-policy` refuses it. Messages name
/// the registry by its configured name, never its host.
fn policy_requirement(
    state: &AppState,
    client: &Client,
    registry: &str,
    image: &str,
) -> Result<Option<Requirement>, ApiError> {
    let Some(policy) = &state.config.trust else {
        return Ok(None);
    };
    let reference = client.image();
    let repository = format!("{}/{}", reference.registry(), reference.repository());
    policy.requirement(&repository).map(Some).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NoTrustPolicy,
            format!(
                "the server's trust policy has no scope for {} on registry `{registry}`, so \
                 nothing there is trusted",
                image.trim()
            ),
        )
    })
}

/// What signatures are checked against: the trust policy when there is one, else the server's
/// own signing keys (its cosign key, its notation certificate chain).
fn trust_requirement(
    state: &AppState,
    client: &Client,
    registry: &str,
    image: &str,
) -> Result<Option<Requirement>, ApiError> {
    if state.config.trust.is_some() {
        return policy_requirement(state, client, registry, image);
    }
    let Some(signing) = &state.config.signing else {
        return Ok(None);
    };
    let mut trusted = Vec::new();
    if let Some(cosign) = &signing.cosign {
        trusted.push(Trusted::Key {
            name: "the server's signing key".into(),
            key: *cosign.key.verifying_key(),
        });
    }
    if let Some(notation) = &signing.notation {
        trusted.push(Trusted::Notary(signing::notary::Trust {
            name: "the server's notation certificate chain".into(),
            certificates: notation.chain.clone(),
            identities: Vec::new(),
            level: signing::notary::trust_store::Level::Strict,
        }));
    }
    Ok(Some(Requirement {
        policy: "the server's signing keys".into(),
        rule: Rule::AnyOf,
        trusted,
    }))
}

/// The publish pipeline's lint gate, on the blocking pool: any error-severity diagnostic
/// refuses the publish (`422 lint_failed`, the diagnostics in the details) before any registry
/// is contacted.
async fn lint_gate(
    state: &AppState,
    spec: &SpecRow,
    version: &VersionRow,
) -> Result<pipeline::Checked, ApiError> {
    let content = version.content.clone().unwrap_or_default();
    let name = spec.name.clone();
    let checked = state
        .work
        .run(move |_| {
            pipeline::check(content, false)
                .map_err(|refused| lint::to_json(&name, &refused.spec, &refused.errors))
        })
        .await?;
    checked.map_err(|errors| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::LintFailed,
            format!(
                "spec {:?} version {} has {} lint error(s); fix them before publishing",
                spec.name,
                version.version,
                errors.len()
            ),
        )
        .with_details(serde_json::json!({ "diagnostics": errors }))
    })
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
    // A repository no scope covers is still listed (so that its artifacts can be seen and
    // detached), with nothing trusted.
    let requirement = match trust_requirement(&state, &client, &config.name, &image) {
        Err(_) if state.config.trust.is_some() => Some(Requirement {
            policy: "no scope of the trust policy (nothing is trusted here)".into(),
            rule: Rule::AnyOf,
            trusted: Vec::new(),
        }),
        other => other?,
    };
    let signatures =
        signing::remote::signatures(&client, &listing.artifacts, requirement.as_ref()).await?;
    let signatures_looked_up = signatures.len();
    let digests: Vec<String> = listing.artifacts.iter().map(|a| a.digest.clone()).collect();
    let mut published: BTreeMap<String, Publication> = state
        .db
        .publications_of_artifacts(&config.name, &digests)
        .await?
        .into_iter()
        .map(|p| (p.artifact_digest.clone(), Publication::from(p)))
        .collect();
    let artifacts = listing
        .artifacts
        .iter()
        .zip(
            signatures
                .into_iter()
                .map(Some)
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
                trusted: sig.as_ref().and_then(|s| s.satisfied),
                signatures: sig
                    .map(|s| s.reports)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| artifact_signature(s, &client, &config.name))
                    .collect(),
                publication: published.remove(&a.digest),
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
        trust: requirement.map(|r| r.policy),
        artifacts,
    }))
}

/// A spec attached to an image: by default the one NFD's validate-node would use (the newest
/// compatibility artifact's first layer), or the artifact named by `artifact`. Its bytes are
/// read up to the spec size limit and checked against the layer's digest.
#[utoipa::path(
    get,
    path = "/images/spec",
    tag = "publishing",
    params(
        ("registry" = String, Query), ("image" = String, Query), ("platform" = Option<String>, Query),
        ("artifact" = Option<String>, Query, description = "An attached artifact's digest; default: the one NFD uses"),
    ),
    responses(
        (status = 200, body = ImageSpec), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No compatibility artifact (or not that one) is attached to the image"),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody),
    ),
    security(("token" = []))
)]
async fn image_spec(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryPairs,
) -> Result<axum::Json<ImageSpec>, ApiError> {
    caller.require(Role::Viewer)?;
    let (registry, image, platform_text) = image_query(&query, &["artifact"])?;
    let wanted = query.get("artifact").map(str::to_owned);
    let platform = platform(platform_text.as_deref())?;
    let (client, config) = client(&state, &registry, &image, Access::Pull)?;
    let subject = client.resolve(platform.as_ref()).await?;
    let listing = client.referrers(&subject).await?;
    let position = match &wanted {
        Some(digest) => listing.artifacts.iter().position(|a| &a.digest == digest),
        None => (!listing.artifacts.is_empty()).then_some(0),
    };
    let Some(position) = position else {
        return Err(ApiError::not_found(match wanted {
            Some(digest) => format!(
                "compatibility artifact {digest} attached to {}",
                image.trim()
            ),
            None => format!("a compatibility artifact attached to {}", image.trim()),
        }));
    };
    let artifact = &listing.artifacts[position];
    let trusted_spec = match policy_requirement(&state, &client, &config.name, &image)? {
        Some(requirement) => Some(
            trusted_spec(
                &client,
                &config.name,
                platform.as_ref(),
                &artifact.digest,
                &requirement,
            )
            .await?,
        ),
        None => None,
    };
    let content = match trusted_spec {
        Some(bytes) => bytes,
        None => untrusted_spec(&client, artifact, &config.name).await?,
    };
    let content = String::from_utf8(content).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RegistryContent,
            format!(
                "artifact {} on registry `{}`: its spec is not UTF-8 text",
                artifact.digest, config.name
            ),
        )
    })?;
    let publication = state
        .db
        .publications_of_artifacts(&config.name, std::slice::from_ref(&artifact.digest))
        .await?
        .into_iter()
        .next()
        .map(Publication::from);
    Ok(axum::Json(ImageSpec {
        registry: config.name,
        image: image.trim().to_owned(),
        subject_digest: subject.digest,
        artifact_digest: artifact.digest.clone(),
        nfd_choice: position == 0,
        content,
        publication,
    }))
}

/// The artifact's spec once its signatures satisfy `requirement` (verified as `nodefit verify`
/// does, the spec read from what was verified); refused with every signature's reason.
async fn trusted_spec(
    client: &Client,
    registry: &str,
    platform: Option<&Platform>,
    artifact: &str,
    requirement: &Requirement,
) -> Result<Vec<u8>, ApiError> {
    let digest = Digest::parse(artifact).map_err(|e| ApiError::bad_request(e.to_string()))?;
    match signing::remote::verify(client, platform, Some(&digest), requirement).await? {
        Ok(verified) => Ok(verified.spec),
        Err(refused) => {
            let signatures: Vec<ArtifactSignature> = refused
                .signatures
                .into_iter()
                .map(|s| artifact_signature(s, client, registry))
                .collect();
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Untrusted,
                named(
                    format!(
                        "artifact {artifact} does not satisfy the trust policy {:?}: {}",
                        requirement.policy, refused.refusal
                    ),
                    client,
                    registry,
                ),
            )
            .with_details(serde_json::json!({
                "refusal": refused.refusal.kind(),
                "signatures": signatures,
            })))
        }
    }
}

/// `text` with the registry's host (as the image names it, and the endpoint it is reached
/// at) replaced by the registry's configured name: hosts never reach clients (docs/server.md),
/// and a signature's texts can name one (a classic payload's identity, a refusal's reason).
fn named(text: String, client: &Client, registry: &str) -> String {
    let image = client.image();
    text.replace(image.endpoint(), registry)
        .replace(image.registry(), registry)
}

fn artifact_signature(
    s: signing::remote::SignatureReport,
    client: &Client,
    registry: &str,
) -> ArtifactSignature {
    let named = |text: String| named(text, client, registry);
    ArtifactSignature {
        format: s.format.name().to_owned(),
        envelope: s.envelope.map(|e| e.name().to_owned()),
        reference: named(s.reference),
        signer: s.signer.map(named),
        verified: s.verified,
        verified_by: s.verified_by,
        reason: s.reason.map(named),
        unchecked: s.unchecked.into_iter().map(named).collect(),
    }
}

/// The artifact's first layer as NFD reads it, digest-checked, without looking at signatures.
async fn untrusted_spec(
    client: &Client,
    artifact: &nodefit_registry::OciDescriptor,
    registry: &str,
) -> Result<Vec<u8>, ApiError> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&client.listed_artifact(artifact).await?).unwrap_or_default();
    let unusable = |why: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RegistryContent,
            format!(
                "artifact {} on registry `{registry}`: {why}",
                artifact.digest
            ),
        )
    };
    let layer = manifest
        .pointer("/layers/0")
        .ok_or_else(|| unusable("it has no layer, so NFD finds no spec in it"))?;
    let (Some(digest), Some(size)) = (
        layer.get("digest").and_then(|d| d.as_str()),
        layer.get("size").and_then(|s| s.as_i64()),
    ) else {
        return Err(unusable("its first layer is not a descriptor"));
    };
    let bytes = client
        .blob_unchecked(
            digest,
            size,
            super::specs::MAX_SPEC_BYTES,
            "the spec size limit (1 MiB)",
        )
        .await?;
    if Digest::sha256_of(&bytes) != digest {
        return Err(unusable("its spec does not match the layer's digest"));
    }
    Ok(bytes)
}

/// Deletes a compatibility artifact (and its entry in the fallback index), and marks its
/// publications detached.
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
    let (client, config) = client(&state, &registry, &image, Access::Delete)?;
    client.detach(platform.as_ref(), &artifact).await?;
    // The history says so from now on, and the same version may be published there again.
    state
        .db
        .detach_publications(&config.name, artifact.as_str(), &caller.name)
        .await?;
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
    let cosign = state
        .config
        .signing
        .as_ref()
        .and_then(|s| s.cosign.as_ref())
        .ok_or_else(|| {
            ApiError::not_found(
                "signing key (the server is not configured to sign with a cosign key)",
            )
        })?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        cosign.public_key_pem.clone(),
    )
        .into_response())
}
