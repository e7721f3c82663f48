//! `/api/v1/nodefeaturerules`: NodeFeatureRule files kept on the server, their lint, and the
//! labels nfd-master would apply with them on the stored snapshots. Decoding, lint and
//! processing are the core's (`nfr`, `lint`), as in `nodefit labels`.

use nodefit_api::nodefeaturerules::{
    CreateRuleFile, LabelsMatrix, LabelsRequest, NfdMasterSettings, RuleFile, UpdateRuleFile,
};
use nodefit_api::specs::LintResult;
use nodefit_api::{ErrorBody, Page};

use axum::extract::State;
use axum::http::StatusCode;
use nodefit_core::decode::DecodeError;
use nodefit_core::lint;
use nodefit_core::nfr;
use nodefit_core::nfr::process::{Ruleset, Settings};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::snapshots::check_labels;
use super::specs::MAX_SPEC_NAME_BYTES;
use super::{check_text, page, Json, Path, QueryPairs};
use crate::auth::{Caller, Role};
use crate::db::{RuleFileRow, RuleFileUpdate, RuleFileUpdateOutcome};
use crate::error::{ApiError, ErrorCode};
use crate::fleet::Selection;
use crate::labels::{self, LabelsJob};
use crate::state::AppState;

/// Largest rule file (NFD's samples are a few kilobytes; a cluster's whole set of rules fits).
pub const MAX_RULE_FILE_BYTES: usize = 1024 * 1024;
/// Most namespaces in `denyLabelNs` or `extraLabelNs`.
pub const MAX_SETTING_NAMESPACES: usize = 100;
/// Most snapshots one labels request processes: groups of nodes the rules cannot tell apart
/// are processed once, but a template writing dynamic values can make every node its own,
/// rebuilt whole from the interned fleet (about 25 KB each).
pub const MAX_LABELLED_SNAPSHOTS: usize = 10_000;
/// Longest namespace there (a DNS subdomain's limit, with a leading `*`).
const MAX_NAMESPACE_BYTES: usize = 254;
/// Longest `labelWhitelist` pattern (the core's `regex-source` budget).
const MAX_WHITELIST_BYTES: usize = nodefit_core::budget::REGEX_SOURCE.value;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(lint_file))
        .routes(routes!(labels_of))
}

fn answer(row: RuleFileRow) -> RuleFile {
    RuleFile {
        id: row.id,
        name: row.name,
        content_hash: row.content_hash,
        content: row.content,
        created_at: row.created_at,
        updated_at: row.updated_at,
        created_by: row.created_by,
    }
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("NodeFeatureRule file {id}"))
}

fn check_fields(name: Option<&str>, content: &str) -> Result<(), ApiError> {
    if let Some(name) = name {
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("the name must not be empty"));
        }
        check_text("the name", name, MAX_SPEC_NAME_BYTES, false)?;
    }
    if content.len() > MAX_RULE_FILE_BYTES {
        return Err(ApiError::too_large(format!(
            "the NodeFeatureRule file is larger than {MAX_RULE_FILE_BYTES} bytes"
        )));
    }
    check_text(
        "the NodeFeatureRule file",
        content,
        MAX_RULE_FILE_BYTES,
        true,
    )
}

/// Store a NodeFeatureRule file.
#[utoipa::path(
    post,
    path = "/nodefeaturerules",
    tag = "nodefeaturerules",
    request_body = CreateRuleFile,
    responses(
        (status = 201, body = RuleFile), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 413, body = ErrorBody),
    ),
    security(("token" = []))
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateRuleFile>,
) -> Result<(StatusCode, axum::Json<RuleFile>), ApiError> {
    caller.require(Role::Author)?;
    check_fields(Some(&req.name), &req.content)?;
    let row = state
        .db
        .create_rule_file(&req.name, &req.content, &caller.name)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(format!(
                "a NodeFeatureRule file named {:?} exists",
                req.name
            ))
        })?;
    Ok((StatusCode::CREATED, axum::Json(answer(row))))
}

/// List NodeFeatureRule files by name (without content).
#[utoipa::path(
    get,
    path = "/nodefeaturerules",
    tag = "nodefeaturerules",
    params(
        ("q" = Option<String>, Query, description = "Case-insensitive text in the name"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 500 (default 50)"),
        ("offset" = Option<i64>, Query),
    ),
    responses((status = 200, body = Page<RuleFile>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryPairs,
) -> Result<axum::Json<Page<RuleFile>>, ApiError> {
    caller.require(Role::Viewer)?;
    query.only(&["q", "limit", "offset"])?;
    let (limit, offset) = query.page()?;
    let text = query.get("q").filter(|q| !q.is_empty());
    let (rows, total) = state.db.list_rule_files(text, limit, offset).await?;
    Ok(axum::Json(Page {
        items: rows.into_iter().map(answer).collect(),
        total,
        limit,
        offset,
    }))
}

/// A NodeFeatureRule file with its content.
#[utoipa::path(
    get,
    path = "/nodefeaturerules/{id}",
    tag = "nodefeaturerules",
    params(("id" = i64, Path)),
    responses((status = 200, body = RuleFile), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<RuleFile>, ApiError> {
    caller.require(Role::Viewer)?;
    let row = state.db.rule_file(id).await?.ok_or_else(|| not_found(id))?;
    Ok(axum::Json(answer(row)))
}

/// Save a NodeFeatureRule file (in place: no versions).
#[utoipa::path(
    put,
    path = "/nodefeaturerules/{id}",
    tag = "nodefeaturerules",
    params(("id" = i64, Path)),
    request_body = UpdateRuleFile,
    responses(
        (status = 200, body = RuleFile), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody), (status = 413, body = ErrorBody),
    ),
    security(("token" = []))
)]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<UpdateRuleFile>,
) -> Result<axum::Json<RuleFile>, ApiError> {
    caller.require(Role::Author)?;
    check_fields(req.name.as_deref(), &req.content)?;
    let update = RuleFileUpdate {
        content: req.content,
        name: req.name,
    };
    match state.db.update_rule_file(id, &update).await? {
        RuleFileUpdateOutcome::NotFound => Err(not_found(id)),
        RuleFileUpdateOutcome::NameTaken => Err(ApiError::conflict(format!(
            "a NodeFeatureRule file named {:?} exists",
            update.name.unwrap_or_default()
        ))),
        RuleFileUpdateOutcome::Saved(row) => Ok(axum::Json(answer(row))),
    }
}

/// Delete a NodeFeatureRule file.
#[utoipa::path(
    delete,
    path = "/nodefeaturerules/{id}",
    tag = "nodefeaturerules",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Author)?;
    if state.db.delete_rule_file(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(id))
    }
}

/// Lint a NodeFeatureRule file (the same diagnostics as `nodefit lint --format json`).
#[utoipa::path(
    post,
    path = "/nodefeaturerules/{id}/lint",
    tag = "nodefeaturerules",
    params(("id" = i64, Path)),
    responses((status = 200, body = LintResult), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn lint_file(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<LintResult>, ApiError> {
    caller.require(Role::Viewer)?;
    let row = state.db.rule_file(id).await?.ok_or_else(|| not_found(id))?;
    let content = row.content.unwrap_or_default();
    let name = row.name;
    let diagnostics = state
        .work
        .run(move |_| {
            let diagnostics = lint::lint_node_feature_rules(&content);
            lint::to_json(&name, &content, &diagnostics)
        })
        .await?;
    Ok(axum::Json(LintResult { diagnostics }))
}

fn check_settings(s: &NfdMasterSettings) -> Result<(), ApiError> {
    for (what, list) in [
        ("denyLabelNs", &s.deny_label_ns),
        ("extraLabelNs", &s.extra_label_ns),
    ] {
        if list.len() > MAX_SETTING_NAMESPACES {
            return Err(ApiError::bad_request(format!(
                "{what}: at most {MAX_SETTING_NAMESPACES} namespaces"
            )));
        }
        for ns in list {
            check_text(&format!("{what} entry"), ns, MAX_NAMESPACE_BYTES, false)?;
        }
    }
    if let Some(w) = &s.label_whitelist {
        check_text("labelWhitelist", w, MAX_WHITELIST_BYTES, false)?;
    }
    Ok(())
}

/// 422 with every place the API server refuses, as lint would show them.
pub fn invalid_file(src: &str, errors: &[DecodeError]) -> ApiError {
    ApiError::undecodable(
        src,
        errors,
        (
            ErrorCode::InvalidRuleFile,
            "the Kubernetes API server would refuse this NodeFeatureRule file",
        ),
        "nodefit refuses this NodeFeatureRule file",
    )
}

/// The labels, annotations, extended resources and taints nfd-master would apply with this
/// file on one snapshot, a chosen set, or all of them.
#[utoipa::path(
    post,
    path = "/nodefeaturerules/{id}/labels",
    tag = "nodefeaturerules",
    params(("id" = i64, Path)),
    request_body = LabelsRequest,
    responses(
        (status = 200, body = LabelsMatrix), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "The API server would refuse the file (details: every error with its line)", body = ErrorBody),
    ),
    security(("token" = []))
)]
async fn labels_of(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<LabelsRequest>,
) -> Result<axum::Json<LabelsMatrix>, ApiError> {
    caller.require(Role::Viewer)?;
    let (limit, offset) = page(req.limit, req.offset)?;
    let selection = req.labels.unwrap_or_default();
    check_labels(&selection)?;
    let settings = req.settings.unwrap_or_default();
    check_settings(&settings)?;
    let ids = req.snapshot_ids.map(|mut ids| {
        ids.sort_unstable();
        ids.dedup();
        ids
    });
    if ids
        .as_ref()
        .is_some_and(|ids| ids.len() > MAX_LABELLED_SNAPSHOTS)
    {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_LABELLED_SNAPSHOTS} snapshot ids"
        )));
    }
    let explain = ids.as_ref().is_some_and(|ids| ids.len() == 1);
    let row = state.db.rule_file(id).await?.ok_or_else(|| not_found(id))?;
    state.fleet.current(&state.db, &state.work).await?;
    let selection = Selection {
        ids,
        labels: selection.into_iter().collect(),
    };
    let fleet = state.fleet.clone();
    let content = row.content.unwrap_or_default();
    let matrix = state
        .work
        .run(move |interrupt| {
            let objects = nfr::parse(&content).map_err(|e| invalid_file(&content, &e))?;
            let settings = Settings::new(
                settings.deny_label_ns,
                settings.extra_label_ns,
                settings.label_whitelist.as_deref(),
                settings.enable_taints,
            )
            .map_err(|e| ApiError::bad_request(format!("labelWhitelist: {e}")))?;
            let job = LabelsJob {
                rule_file_id: id,
                settings,
                explain,
                limit: limit as usize,
                offset: offset as usize,
                interrupt: interrupt.clone(),
            };
            let ruleset = Ruleset::new(&objects);
            fleet.with_selected(
                &selection,
                MAX_LABELLED_SNAPSHOTS,
                ruleset.names_read(),
                |selected| labels::matrix(&job, &ruleset, selected),
            )
        })
        .await??;
    Ok(axum::Json(matrix))
}
