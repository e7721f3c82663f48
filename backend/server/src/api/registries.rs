//! `/api/v1/registries`: the names of the registries publishing may reach. Hosts and
//! credentials stay in the server's configuration.

use axum::extract::State;
use nodefit_api::publish::Registry;
use nodefit_api::{ErrorBody, Page};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// The server's registry allow-list, by name only.
#[utoipa::path(
    get,
    path = "/registries",
    tag = "registries",
    responses((status = 200, body = Page<Registry>), (status = 401, body = ErrorBody)),
    security(("token" = []))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Page<Registry>>, ApiError> {
    caller.require(Role::Viewer)?;
    // The allow-list is the configuration's, a handful of names: one page holds it.
    Ok(axum::Json(Page::all(
        state
            .config
            .registries
            .iter()
            .map(|r| Registry {
                name: r.name.clone(),
            })
            .collect(),
    )))
}
