//! `/api/v1/publications/{id}/schedule`: the NodeFeatureRule and pod affinity of a published
//! spec version (`nodefit schedule`, by the core's `schedule::generate`), with annotations that
//! trace the rule to the signed artifact.

use std::collections::BTreeMap;

use nodefit_api::nodefeaturerules::{Schedule, ScheduledSet};
use nodefit_api::ErrorBody;

use axum::extract::State;
use axum::http::StatusCode;
use nodefit_core::schedule::{self, Options};
use nodefit_core::source::LineIndex;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{check_text, Path, QueryPairs};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ErrorCode};
use crate::fleet::invalid_spec;
use crate::state::AppState;

/// Most tags a request selects.
const MAX_TAGS: usize = 100;
/// Longest tag (a label name part is at most 63 characters anyway).
const MAX_TAG_BYTES: usize = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(publication_schedule))
}

/// `repo:tag` or `repo@sha256:...` → `repo`.
fn repository(image: &str) -> &str {
    match image.split_once('@') {
        Some((repo, _)) => repo,
        None => image.rsplit_once(':').map_or(image, |(repo, _)| repo),
    }
}

/// The NodeFeatureRule that labels the nodes this publication's spec version finds compatible,
/// and the pod affinity that schedules onto them.
#[utoipa::path(
    get,
    path = "/publications/{id}/schedule",
    tag = "publishing",
    params(
        ("id" = i64, Path),
        ("name" = Option<String>, Query, description = "Names the labels and the rule; default: made from the spec's name"),
        ("tags" = Option<String>, Query, description = "Only the sets with one of these tags (comma-separated, may repeat)"),
    ),
    responses(
        (status = 200, body = Schedule), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such publication, or its spec version is no longer stored", body = ErrorBody),
        (status = 422, description = "No NodeFeatureRule can answer as validate-node does for this spec (details: each reason with its line)", body = ErrorBody),
    ),
    security(("token" = []))
)]
async fn publication_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    query: QueryPairs,
) -> Result<axum::Json<Schedule>, ApiError> {
    caller.require(Role::Viewer)?;
    query.only(&["name", "tags"])?;
    let tags: Vec<String> = query
        .all("tags")
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if tags.len() > MAX_TAGS {
        return Err(ApiError::bad_request(format!("at most {MAX_TAGS} tags")));
    }
    for t in &tags {
        check_text("a tag", t, MAX_TAG_BYTES, false)?;
    }
    let publication = state
        .db
        .publication(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("publication {id}")))?;
    let (spec, version) = state
        .db
        .spec_version(publication.spec_id, Some(publication.version))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "spec {} version {} of publication {id} (the spec was deleted)",
                publication.spec_id, publication.version
            ))
        })?;
    // A rule traced to an artifact that is gone would label nodes for a spec NFD no longer sees.
    if let Some((at, by)) = &publication.detached {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Detached,
            format!(
                "publication {id}'s artifact was detached from {} on {at} by {by}: publish the \
                 version again to schedule pods with it",
                publication.image
            ),
        ));
    }
    let name = match query.get("name") {
        Some(n) => n.to_owned(),
        None => schedule::suggest_name(&spec.name),
    };
    schedule::check_name(&name).map_err(|e| ApiError::bad_request(e.message))?;
    let annotations = BTreeMap::from([
        (
            schedule::ANNOTATION_SPEC_DIGEST.to_string(),
            version.content_hash.clone(),
        ),
        (
            schedule::ANNOTATION_ARTIFACT_DIGEST.to_string(),
            publication.artifact_digest.clone(),
        ),
        (
            schedule::ANNOTATION_IMAGE.to_string(),
            format!(
                "{}@{}",
                repository(&publication.image),
                publication.image_digest
            ),
        ),
        (
            schedule::ANNOTATION_REGISTRY.to_string(),
            publication.registry.clone(),
        ),
    ]);
    let content = version.content.unwrap_or_default();
    let options = Options {
        name: name.clone(),
        tags: tags.clone(),
        annotations,
    };
    let generated = state
        .work
        .run(move |_| {
            let spec = nodefit_core::parse_spec(&content)
                .map_err(|errors| invalid_spec(&content, &errors))?;
            schedule::generate(&spec, &options).map_err(|errors| {
                let index = LineIndex::new(&content);
                let details: Vec<serde_json::Value> = errors
                    .iter()
                    .map(|e| {
                        let mut d = serde_json::json!({ "message": e.message });
                        if let Some(span) = e.span {
                            let (line, column) = index.line_col(span.start);
                            d["line"] = line.into();
                            d["column"] = column.into();
                        }
                        d
                    })
                    .collect();
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::CannotSchedule,
                    format!(
                        "no NodeFeatureRule can answer as validate-node does for this spec: {}",
                        errors.first().map_or("", |e| e.message.as_str())
                    ),
                )
                .with_details(serde_json::json!({ "errors": details }))
            })
        })
        .await??;
    Ok(axum::Json(Schedule {
        publication_id: publication.id,
        spec_id: publication.spec_id,
        version: publication.version,
        name,
        tags,
        object_name: generated.object_name,
        node_feature_rule: generated.node_feature_rule.to_yaml(),
        affinity: generated.affinity.to_yaml(),
        sets: generated
            .sets
            .into_iter()
            .map(|s| ScheduledSet {
                index: s.index,
                tag: s.tag,
                weight: s.weight,
                label: s.label,
                preferred_weight: s.preferred_weight,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_lose_their_tag_or_digest() {
        assert_eq!(repository("demo/app:v1"), "demo/app");
        assert_eq!(repository("demo/app@sha256:ab"), "demo/app");
        assert_eq!(repository("demo/app"), "demo/app");
    }
}
