//! `/api/v1/me` and `/api/v1/tokens`: who the caller is, and token management (admin).

use axum::extract::State;
use axum::http::StatusCode;
use nodefit_api::auth::{CreateToken, CreatedToken, Me, Token};
use nodefit_api::{ErrorBody, Page};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{check_text, Json, Path, QueryPairs};
use crate::auth::{generate_token, hash_token, Caller, Role};
use crate::db::{format_time, TokenRow};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest token name.
pub const MAX_TOKEN_NAME_BYTES: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(create, list))
        .routes(routes!(delete))
}

impl From<TokenRow> for Token {
    fn from(t: TokenRow) -> Self {
        Self {
            id: t.id,
            name: t.name,
            role: t.role,
            created_at: format_time(t.created_at),
            created_by: t.created_by,
        }
    }
}

/// The caller's token name and role.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("token" = []))
)]
async fn me(caller: Caller) -> axum::Json<Me> {
    axum::Json(Me {
        permissions: caller.role.permissions(),
        role: caller.role,
        name: caller.name,
    })
}

/// Create a token (admin); the answer is the only time the token is shown. Names are unique.
#[utoipa::path(
    post,
    path = "/tokens",
    tag = "auth",
    request_body = CreateToken,
    responses(
        (status = 201, body = CreatedToken), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a token with this name exists (`conflict`)"),
    ),
    security(("token" = []))
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateToken>,
) -> Result<(StatusCode, axum::Json<CreatedToken>), ApiError> {
    caller.require(Role::Admin)?;
    if req.name.trim().is_empty() {
        return Err(ApiError::bad_request("the token name must not be empty"));
    }
    // Names are shown as the author of what a token writes: " ci" would pass for "ci".
    if req.name.trim() != req.name {
        return Err(ApiError::bad_request(
            "the token name must not start or end with spaces",
        ));
    }
    check_text("the token name", &req.name, MAX_TOKEN_NAME_BYTES, false)?;
    let token = generate_token().map_err(ApiError::internal)?;
    let row = state
        .db
        .create_token(&req.name, req.role, &hash_token(&token), &caller.name)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(format!(
                "a token named {:?} exists; token names are unique",
                req.name
            ))
        })?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedToken {
            info: row.into(),
            token,
        }),
    ))
}

/// Every token (admin), without the tokens themselves.
#[utoipa::path(
    get,
    path = "/tokens",
    tag = "auth",
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = Page<Token>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryPairs,
) -> Result<axum::Json<Page<Token>>, ApiError> {
    caller.require(Role::Admin)?;
    query.only(&["limit", "offset"])?;
    let (limit, offset) = query.page()?;
    let (rows, total) = state.db.list_tokens(limit, offset).await?;
    Ok(axum::Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        total,
        limit,
        offset,
    }))
}

/// Revoke a token (admin); it stops working at once on every server process.
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    tag = "auth",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    if state.db.delete_token(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("token {id}")))
    }
}
