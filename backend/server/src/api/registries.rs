//! `/api/v1/registries`: the names of the registries publishing may reach. Hosts and
//! credentials stay in the server's configuration.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Serialize, ToSchema)]
pub struct Registry {
    /// What publish requests call it.
    pub name: String,
}

/// The server's registry allow-list, by name only.
#[utoipa::path(
    get,
    path = "/registries",
    tag = "registries",
    responses((status = 200, body = Vec<Registry>), (status = 401, body = ErrorBody)),
    security(("token" = []))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<Registry>>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(axum::Json(
        state
            .config
            .registries
            .iter()
            .map(|r| Registry {
                name: r.name.clone(),
            })
            .collect(),
    ))
}
