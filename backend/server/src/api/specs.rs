//! `/api/v1/specs`: specs with their history, lint and the fleet matrix. Lint and evaluation
//! are the core's (`lint::lint`, `eval::evaluate`, `report::build`), as in the CLI.

use nodefit_api::fleet::{FleetFilter, FleetMatrix};
use nodefit_api::specs::{
    CreateSpec, Diff, DiffKind, DiffLine, EvaluateRequest, Hunk, LintRequest, LintResult, Spec,
    UpdateSpec, Version,
};
use nodefit_api::{ErrorBody, Page};

use axum::extract::State;
use axum::http::StatusCode;
use nodefit_core::lint::{self, LintSnapshot};
use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use similar::udiff::UnifiedHunkHeader;
use similar::{ChangeTag, DiffOp, TextDiff};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::snapshots::{check_labels, MAX_NAME_BYTES};
use super::{check_text, page, Json, Path, QueryPairs};
use crate::auth::{Caller, Role};
use crate::db::{SpecRow, SpecUpdate, UpdateOutcome, VersionRow};
use crate::error::ApiError;
use crate::fleet::{MatrixKey, Selection, View};
use crate::state::AppState;

/// Largest spec (NFD's own specs are a few kilobytes).
pub const MAX_SPEC_BYTES: usize = 1024 * 1024;
/// Longest spec name.
pub const MAX_SPEC_NAME_BYTES: usize = 200;
/// Longest version message.
pub const MAX_MESSAGE_BYTES: usize = 2000;
/// Most snapshots a lint request checks names against.
pub const MAX_LINT_SNAPSHOTS: usize = 1000;
/// Most snapshot ids an evaluation names (selections by label have no such limit).
pub const MAX_EVALUATED_IDS: usize = 10_000;
/// Most label keys an evaluation groups its summary by.
pub const MAX_GROUP_BY: usize = 4;
/// Longest rule name or outcome id in a fleet filter.
pub const MAX_FILTER_BYTES: usize = 1000;
/// Lines of context around each change in a diff.
const DIFF_CONTEXT: usize = 3;
/// Time the diff algorithm may take before it settles for a coarser diff.
pub const DIFF_TIME: std::time::Duration = std::time::Duration::from_secs(1);
/// Most lines (context, removed and added) a diff answers with.
pub const MAX_DIFF_LINES: usize = 20_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(versions))
        .routes(routes!(version))
        .routes(routes!(diff))
        .routes(routes!(lint_spec))
        .routes(routes!(evaluate))
}

/// A spec as the API shows it.
fn spec_answer(row: SpecRow, content: Option<String>) -> Spec {
    Spec {
        id: row.id,
        name: row.name,
        version: row.version,
        content,
        created_at: row.created_at,
        updated_at: row.updated_at,
        created_by: row.created_by,
    }
}

impl From<VersionRow> for Version {
    fn from(v: VersionRow) -> Self {
        Self {
            version: v.version,
            content_hash: v.content_hash,
            message: v.message,
            created_at: v.created_at,
            created_by: v.created_by,
            content: v.content,
        }
    }
}

fn check_spec_fields(
    name: Option<&str>,
    content: &str,
    message: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(name) = name {
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("the spec name must not be empty"));
        }
        check_text("the spec name", name, MAX_SPEC_NAME_BYTES, false)?;
    }
    if content.len() > MAX_SPEC_BYTES {
        return Err(ApiError::too_large(format!(
            "the spec is larger than {}",
            super::size_text(MAX_SPEC_BYTES as u64)
        ))
        .with_details(serde_json::json!({ "limitBytes": MAX_SPEC_BYTES })));
    }
    check_text("the spec", content, MAX_SPEC_BYTES, true)?;
    if let Some(message) = message {
        check_text("the message", message, MAX_MESSAGE_BYTES, true)?;
    }
    Ok(())
}

fn spec_not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("spec {id}"))
}

fn version_not_found(id: i64, version: Option<i64>) -> ApiError {
    match version {
        Some(v) => ApiError::not_found(format!("spec {id} version {v}")),
        None => spec_not_found(id),
    }
}

/// Create a spec (version 1).
#[utoipa::path(
    post,
    path = "/specs",
    tag = "specs",
    request_body = CreateSpec,
    responses(
        (status = 201, body = Spec), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("token" = []))
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateSpec>,
) -> Result<(StatusCode, axum::Json<Spec>), ApiError> {
    caller.require(Role::Author)?;
    check_spec_fields(Some(&req.name), &req.content, req.message.as_deref())?;
    let row = state
        .db
        .create_spec(
            &req.name,
            &req.content,
            req.message.as_deref().unwrap_or(""),
            &caller.name,
        )
        .await?
        .ok_or_else(|| ApiError::conflict(format!("a spec named {:?} exists", req.name)))?;
    Ok((
        StatusCode::CREATED,
        axum::Json(spec_answer(row, Some(req.content))),
    ))
}

/// List specs by name.
#[utoipa::path(
    get,
    path = "/specs",
    tag = "specs",
    params(
        ("q" = Option<String>, Query, description = "Case-insensitive text in the name"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 500 (default 50)"),
        ("offset" = Option<i64>, Query),
    ),
    responses((status = 200, body = Page<Spec>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryPairs,
) -> Result<axum::Json<Page<Spec>>, ApiError> {
    caller.require(Role::Viewer)?;
    query.only(&["q", "limit", "offset"])?;
    let (limit, offset) = query.page()?;
    let text = query.get("q").filter(|q| !q.is_empty());
    let (rows, total) = state.db.list_specs(text, limit, offset).await?;
    Ok(axum::Json(Page {
        items: rows.into_iter().map(|r| spec_answer(r, None)).collect(),
        total,
        limit,
        offset,
    }))
}

/// A spec with its latest content.
#[utoipa::path(
    get,
    path = "/specs/{id}",
    tag = "specs",
    params(("id" = i64, Path)),
    responses((status = 200, body = Spec), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<Spec>, ApiError> {
    caller.require(Role::Viewer)?;
    let (spec, version) = state
        .db
        .spec_version(id, None)
        .await?
        .ok_or_else(|| spec_not_found(id))?;
    Ok(axum::Json(spec_answer(spec, version.content)))
}

/// Save a spec: a new version when the content changed (identical content creates none).
#[utoipa::path(
    put,
    path = "/specs/{id}",
    tag = "specs",
    params(("id" = i64, Path)),
    request_body = UpdateSpec,
    responses(
        (status = 200, body = Spec), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The name is taken, or baseVersion is not the latest", body = ErrorBody),
        (status = 413, body = ErrorBody),
    ),
    security(("token" = []))
)]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<UpdateSpec>,
) -> Result<axum::Json<Spec>, ApiError> {
    caller.require(Role::Author)?;
    check_spec_fields(req.name.as_deref(), &req.content, req.message.as_deref())?;
    let update = SpecUpdate {
        content: req.content,
        name: req.name,
        message: req.message.unwrap_or_default(),
        base_version: req.base_version,
    };
    match state.db.update_spec(id, &update, &caller.name).await? {
        UpdateOutcome::NotFound => Err(spec_not_found(id)),
        UpdateOutcome::Stale { latest } => Err(ApiError::conflict(format!(
            "version {} is no longer the latest (version {latest} is): reload and edit again",
            update.base_version.unwrap_or_default()
        ))
        .with_details(serde_json::json!({ "latestVersion": latest }))),
        UpdateOutcome::NameTaken => Err(ApiError::conflict(format!(
            "a spec named {:?} exists",
            update.name.unwrap_or_default()
        ))),
        UpdateOutcome::Saved { spec, .. } => {
            Ok(axum::Json(spec_answer(spec, Some(update.content))))
        }
    }
}

/// Delete a spec and its versions.
#[utoipa::path(
    delete,
    path = "/specs/{id}",
    tag = "specs",
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
    if state.db.delete_spec(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(spec_not_found(id))
    }
}

/// Every version of a spec, newest first (without content).
#[utoipa::path(
    get,
    path = "/specs/{id}/versions",
    tag = "specs",
    params(("id" = i64, Path), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = Page<Version>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    query: QueryPairs,
) -> Result<axum::Json<Page<Version>>, ApiError> {
    caller.require(Role::Viewer)?;
    query.only(&["limit", "offset"])?;
    let (limit, offset) = query.page()?;
    let (rows, total) = state
        .db
        .spec_versions(id, limit, offset)
        .await?
        .ok_or_else(|| spec_not_found(id))?;
    Ok(axum::Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        total,
        limit,
        offset,
    }))
}

/// One version of a spec, with its content.
#[utoipa::path(
    get,
    path = "/specs/{id}/versions/{version}",
    tag = "specs",
    params(("id" = i64, Path), ("version" = i64, Path)),
    responses((status = 200, body = Version), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn version(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, version)): Path<(i64, i64)>,
) -> Result<axum::Json<Version>, ApiError> {
    caller.require(Role::Viewer)?;
    let (_, row) = state
        .db
        .spec_version(id, Some(version))
        .await?
        .ok_or_else(|| version_not_found(id, Some(version)))?;
    Ok(axum::Json(row.into()))
}

/// The changes between two versions.
#[utoipa::path(
    get,
    path = "/specs/{id}/diff",
    tag = "specs",
    params(
        ("id" = i64, Path),
        ("from" = Option<i64>, Query, description = "Default: the version before `to`"),
        ("to" = Option<i64>, Query, description = "Default: the latest"),
    ),
    responses((status = 200, body = Diff), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn diff(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    query: QueryPairs,
) -> Result<axum::Json<Diff>, ApiError> {
    caller.require(Role::Viewer)?;
    query.only(&["from", "to"])?;
    let to_requested = query.int("to")?;
    let (spec, to) = state
        .db
        .spec_version(id, to_requested)
        .await?
        .ok_or_else(|| version_not_found(id, to_requested))?;
    let from_version = query.int("from")?.unwrap_or((to.version - 1).max(1));
    let (_, from) = state
        .db
        .spec_version(id, Some(from_version))
        .await?
        .ok_or_else(|| version_not_found(id, Some(from_version)))?;
    let old = from.content.unwrap_or_default();
    let new = to.content.unwrap_or_default();
    let names = (
        format!("{}@v{}", spec.name, from.version),
        format!("{}@v{}", spec.name, to.version),
    );
    let mut diff = state
        .work
        .run(move |_| diff_texts(&old, &new, &names))
        .await?;
    diff.from = from.version;
    diff.to = to.version;
    Ok(axum::Json(diff))
}

/// A line diff within budgets: [`DIFF_TIME`] for the algorithm, which is quadratic in the worst
/// case (two versions with no line in common) and past its deadline settles for a coarser diff,
/// still correct, that replaces larger blocks; and [`MAX_DIFF_LINES`] for the answer, which
/// stops there (with `truncated`), in the middle of a hunk if need be.
fn diff_texts(old: &str, new: &str, (from, to): &(String, String)) -> Diff {
    let text_diff = TextDiff::configure()
        .timeout(DIFF_TIME)
        .diff_lines(old, new);
    let mut diff = Diff {
        from: 0,
        to: 0,
        unified: String::new(),
        hunks: Vec::new(),
        truncated: false,
    };
    let mut lines_left = MAX_DIFF_LINES;
    for group in text_diff.grouped_ops(DIFF_CONTEXT) {
        let mut ops = Vec::with_capacity(group.len());
        for op in group {
            let len = op_lines(&op);
            if len > lines_left {
                diff.truncated = true;
                if lines_left > 0 {
                    ops.push(clip(op, lines_left));
                }
                break;
            }
            lines_left -= len;
            ops.push(op);
        }
        let (Some(first), Some(last)) = (ops.first(), ops.last()) else {
            break;
        };
        if diff.unified.is_empty() {
            diff.unified = format!("--- {from}\n+++ {to}\n");
        }
        // What similar's unified diff writes for a hunk, from the (possibly clipped) ops.
        let _ = writeln!(diff.unified, "{}", UnifiedHunkHeader::new(&ops));
        let mut lines = Vec::new();
        for change in ops.iter().flat_map(|op| text_diff.iter_changes(op)) {
            diff.unified
                .push_str(&format!("{}{}", change.tag(), change.value()));
            if change.missing_newline() {
                diff.unified.push_str("\n\\ No newline at end of file\n");
            }
            lines.push(DiffLine {
                kind: match change.tag() {
                    ChangeTag::Equal => DiffKind::Context,
                    ChangeTag::Insert => DiffKind::Added,
                    ChangeTag::Delete => DiffKind::Removed,
                },
                text: change.value().trim_end_matches(['\n', '\r']).to_owned(),
            });
        }
        diff.hunks.push(Hunk {
            old_start: first.old_range().start + 1,
            old_lines: last.old_range().end - first.old_range().start,
            new_start: first.new_range().start + 1,
            new_lines: last.new_range().end - first.new_range().start,
            lines,
        });
        if diff.truncated {
            break;
        }
    }
    diff
}

/// Lines an op contributes to a diff.
fn op_lines(op: &DiffOp) -> usize {
    let (_, old, new) = op.as_tag_tuple();
    match op {
        DiffOp::Equal { len, .. } => *len,
        _ => old.len() + new.len(),
    }
}

/// The first `n` lines of an op (`n` less than its length).
fn clip(op: DiffOp, n: usize) -> DiffOp {
    match op {
        DiffOp::Equal {
            old_index,
            new_index,
            ..
        } => DiffOp::Equal {
            old_index,
            new_index,
            len: n,
        },
        DiffOp::Delete {
            old_index,
            new_index,
            ..
        } => DiffOp::Delete {
            old_index,
            old_len: n,
            new_index,
        },
        DiffOp::Insert {
            old_index,
            new_index,
            ..
        } => DiffOp::Insert {
            old_index,
            new_index,
            new_len: n,
        },
        // A replacement lists its removed lines first.
        DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            ..
        } if n <= old_len => DiffOp::Delete {
            old_index,
            old_len: n,
            new_index,
        },
        DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            ..
        } => DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            new_len: n - old_len,
        },
    }
}

/// Lint a version of the spec, optionally against snapshots (the same diagnostics as
/// `nodefit lint --format json`).
#[utoipa::path(
    post,
    path = "/specs/{id}/lint",
    tag = "specs",
    params(("id" = i64, Path)),
    request_body = LintRequest,
    responses((status = 200, body = LintResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn lint_spec(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<LintRequest>,
) -> Result<axum::Json<LintResult>, ApiError> {
    caller.require(Role::Viewer)?;
    let ids = req.snapshot_ids.unwrap_or_default();
    if ids.len() > MAX_LINT_SNAPSHOTS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_LINT_SNAPSHOTS} snapshots per lint"
        )));
    }
    let (spec, version) = state
        .db
        .spec_version(id, req.version)
        .await?
        .ok_or_else(|| version_not_found(id, req.version))?;
    if !ids.is_empty() {
        state.fleet.current(&state.db, &state.work).await?;
    }
    let content = version.content.unwrap_or_default();
    let fleet = state.fleet.clone();
    let diagnostics = state
        .work
        .run(move |interrupt| {
            let nodes = fleet.node_features(&ids).map_err(|missing| {
                ApiError::not_found(format!("snapshots {missing:?}"))
                    .with_details(serde_json::json!({ "missing": missing }))
            })?;
            let snapshots: Vec<LintSnapshot> = nodes
                .iter()
                .map(|(name, features)| LintSnapshot { name, features })
                .collect();
            let diagnostics = lint::lint_interruptible(&content, &snapshots, interrupt);
            Ok::<_, ApiError>(lint::to_json(&spec.name, &content, &diagnostics))
        })
        .await??;
    Ok(axum::Json(LintResult { diagnostics }))
}

/// Evaluate a version of the spec, or unsaved text of it (`content`), against one snapshot, a
/// chosen set, or all of them: the fleet matrix.
#[utoipa::path(
    post,
    path = "/specs/{id}/evaluate",
    tag = "specs",
    params(("id" = i64, Path)),
    request_body = EvaluateRequest,
    responses(
        (status = 200, body = FleetMatrix), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "NFD cannot decode this spec version (details: every error with its line)", body = ErrorBody),
    ),
    security(("token" = []))
)]
async fn evaluate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<EvaluateRequest>,
) -> Result<axum::Json<FleetMatrix>, ApiError> {
    caller.require(Role::Viewer)?;
    let (limit, offset) = page(req.limit, req.offset)?;
    let labels = req.labels.unwrap_or_default();
    check_labels(&labels)?;
    let filter = req.filter.unwrap_or_default();
    check_filter(&filter)?;
    let group_by = req.group_by.unwrap_or_default();
    if group_by.len() > MAX_GROUP_BY {
        return Err(ApiError::bad_request(format!(
            "groupBy: at most {MAX_GROUP_BY} label keys"
        )));
    }
    for key in &group_by {
        check_text(&format!("groupBy key {key:?}"), key, MAX_NAME_BYTES, false)?;
    }
    let ids = req.snapshot_ids.map(|mut ids| {
        ids.sort_unstable();
        ids.dedup();
        ids
    });
    if ids
        .as_ref()
        .is_some_and(|ids| ids.len() > MAX_EVALUATED_IDS)
    {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_EVALUATED_IDS} snapshot ids (select more by labels)"
        )));
    }
    if req.content.is_some() && req.version.is_some() {
        return Err(ApiError::bad_request(
            "send either `content` (text to evaluate) or `version` (a stored one), not both",
        ));
    }
    if let Some(content) = &req.content {
        check_spec_fields(None, content, None)?;
    }
    let (spec_row, version) = state
        .db
        .spec_version(id, req.version)
        .await?
        .ok_or_else(|| version_not_found(id, req.version))?;
    state.fleet.current(&state.db, &state.work).await?;
    // Unsaved text is evaluated as the spec it belongs to, pinned to no stored version; its
    // matrix is cached under the text's hash, so a draft evaluated again is not recomputed.
    let (spec_src, spec_version, draft) = match req.content {
        Some(content) => {
            let hash: [u8; 32] = Sha256::digest(content.as_bytes()).into();
            (content, 0, Some(hash))
        }
        None => (version.content.unwrap_or_default(), version.version, None),
    };
    let key = MatrixKey {
        spec_id: spec_row.id,
        spec_version,
        draft,
        tags: req.tags.unwrap_or_default(),
        report: ids.as_ref().is_some_and(|ids| ids.len() == 1),
        selection: Selection {
            ids,
            labels: labels.into_iter().collect(),
        },
    };
    let view = View {
        filter,
        group_by,
        limit: limit as usize,
        offset: offset as usize,
    };
    let fleet = state.fleet.clone();
    let matrix = state
        .work
        .run(move |interrupt| fleet.answer(key, &spec_src, &view, interrupt))
        .await??;
    Ok(axum::Json(matrix))
}

/// Refuses filters over the documented limits.
fn check_filter(filter: &FleetFilter) -> Result<(), ApiError> {
    if let Some(labels) = &filter.labels {
        check_labels(labels)?;
    }
    if let Some(text) = &filter.text {
        check_text("filter.text", text, MAX_NAME_BYTES, false)?;
    }
    if let Some(rule) = &filter.failing_rule {
        check_text(
            "filter.failingRule.rule",
            &rule.rule,
            MAX_FILTER_BYTES,
            false,
        )?;
    }
    if let Some(outcome) = &filter.outcome {
        check_text("filter.outcome", outcome, MAX_FILTER_BYTES, false)?;
    }
    Ok(())
}
