//! The OpenAPI 3.1 document's frame; its paths and schemas come from the handlers'
//! `#[utoipa::path]` attributes as the router collects them (see `app.rs`), so the document
//! cannot drift from the code.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "nodefit",
        description = "Node snapshots, image compatibility specs with their history, lint and fleet \
                       evaluation. Every /api/v1 request except this document needs \
                       `Authorization: Bearer <token>`."
    ),
    modifiers(&BearerToken),
    tags(
        (name = "snapshots", description = "Node feature snapshots"),
        (name = "specs", description = "Image compatibility specs, versions, lint and evaluation"),
        (name = "registries", description = "The registries publishing may reach"),
        (name = "publishing", description = "Publishing specs (lint, sign, attach), what is attached to images, and the NodeFeatureRule and pod affinity of a publication"),
        (name = "nodefeaturerules", description = "NodeFeatureRule files, their lint, and the labels nfd-master would apply with them on the stored snapshots"),
        (name = "auth", description = "API tokens"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token from `nodefit token create` or POST /api/v1/tokens",
                    ))
                    .build(),
            ),
        );
    }
}
