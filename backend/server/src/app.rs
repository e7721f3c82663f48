//! The router: the API under `/api/v1` with its OpenAPI document, the operational endpoints,
//! the web UI for everything else, and the layers every request passes through.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{self, MAX_JSON_BODY};
use super::error::{ApiError, ErrorCode};
use super::metrics;
use super::openapi::ApiDoc;
use super::state::AppState;
use nodefit_api::Status;

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long browsers may keep a content-hashed asset (its name changes with its content).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The whole application.
pub fn build(state: AppState) -> Router {
    let api = OpenApiRouter::new()
        .merge(api::snapshots::router(state.config.max_upload_bytes))
        .merge(api::specs::router())
        .merge(api::tokens::router())
        .merge(api::registries::router())
        .merge(api::publish::router())
        .merge(api::schedule::router())
        .merge(api::node_feature_rules::router());
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api)
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
        .split_for_parts();
    let document = Arc::new(openapi.to_pretty_json().unwrap_or_default());
    router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document.as_str().to_owned()) }
            }),
        )
        .route("/api/v1/{*rest}", axum::routing::any(api_not_found))
        .route("/api", axum::routing::any(api_not_found))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(ui)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(axum::middleware::from_fn_with_state(state.clone(), deadline))
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings are the client's and need not be logged.
                    tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Micros),
                ),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn(drop_unusable_request_id))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a handler panicked").into_response()
        }))
        .layer(always(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .layer(always(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(always(header::REFERRER_POLICY, "no-referrer"))
        .layer(always(header::X_FRAME_OPTIONS, "DENY"))
        .with_state(state)
}

/// The request's deadline (`request_timeout_secs`): past it the handler's future is dropped,
/// which also interrupts its CPU-bound work (see `work`), and the client gets a 408 that says
/// which limit it hit.
async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::request_timeout(limit).into_response(),
    }
}

/// Longest `x-request-id` taken from a client.
const MAX_REQUEST_ID_BYTES: usize = 64;

/// A caller's `x-request-id` is repeated in every log line of its request and in the answer, so
/// only a short id of safe characters is kept; anything else (control characters that would
/// forge log lines, a megabyte of text) is dropped and replaced by a new UUID.
async fn drop_unusable_request_id(mut req: Request, next: Next) -> Response {
    let usable = req.headers().get("x-request-id").is_none_or(|v| {
        let id = v.as_bytes();
        !id.is_empty()
            && id.len() <= MAX_REQUEST_ID_BYTES
            && id
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    });
    if !usable {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// The policy the web UI works under: its own scripts and WebAssembly only (CodeMirror inserts
/// its style elements, hence inline styles), requests to its own origin, never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A header on every response that does not set its own. Together: the CSP above, `nosniff`,
/// no referrer, never framed. HSTS is left to the TLS-terminating proxy: nodefit itself serves
/// plain HTTP (docs/server.md).
fn always(name: header::HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

async fn api_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("{method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Status)))]
async fn healthz() -> axum::Json<Status> {
    axum::Json(Status {
        status: "ok".into(),
    })
}

/// The database answers: this process can serve requests.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, body = Status), (status = 503, body = Status))
)]
async fn readyz(State(state): State<AppState>) -> (StatusCode, axum::Json<Status>) {
    let (code, status) = match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: database error");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    };
    (
        code,
        axum::Json(Status {
            status: status.into(),
        }),
    )
}

/// Prometheus metrics of this process.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// The web UI: files from the build, `index.html` for every path that is not a file (the
/// single-page app routes in the browser), a 404 for missing files.
async fn ui(State(state): State<AppState>, mut req: Request) -> Response {
    let Some(dir) = &state.ui_dir else {
        return not_built();
    };
    let path = req.uri().path().to_owned();
    let file_name = path.rsplit('/').next().unwrap_or_default();
    let is_file = file_name.contains('.');
    if !is_file {
        *req.uri_mut() = Uri::from_static("/index.html");
    }
    let mut response = match ServeDir::new(dir).try_call(req).await {
        Ok(r) => r.map(axum::body::Body::new),
        Err(e) => return ApiError::internal(format_args!("serving {path}: {e}")).into_response(),
    };
    let cache = if is_file && response.status() == StatusCode::OK && is_hashed_asset(file_name) {
        IMMUTABLE
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// Whether a file name carries a content hash (`app-3f2a9c1b7e6d5a4c_bg.wasm`,
/// `index-BdX3a8Kf.js`): a `-`-separated part of its stem of at least 8 letters and digits,
/// with at least one digit.
fn is_hashed_asset(file_name: &str) -> bool {
    let stem = file_name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.split('-').skip(1).any(|part| {
        part.len() >= 8
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && part.chars().any(|c| c.is_ascii_digit())
    })
}

fn not_built() -> Response {
    let page = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
        <title>nodefit</title></head><body>\n<h1>nodefit is running</h1>\n\
        <p>The web UI is not built. Build it with <code>cargo xtask build-ui</code> (it writes \
        <code>frontend/dist</code>) and restart the server, or start it with \
        <code>--ui-dir DIR</code>.</p>\n\
        <p>The API is at <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>\n\
        </body></html>\n";
    ([(header::CACHE_CONTROL, "no-cache")], Html(page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_assets() {
        for hashed in [
            "nodefit-frontend-3f2a9c1b7e6d5a4c_bg.wasm",
            "nodefit-frontend-3f2a9c1b7e6d5a4c.js",
            "style-0123abcd.css",
            "index-BdX3a8Kf.js",
        ] {
            assert!(is_hashed_asset(hashed), "{hashed}");
        }
        for plain in [
            "index.html",
            "favicon.ico",
            "nodefit-frontend.js",
            "app-frontend.css",
            "12345678.js",
        ] {
            assert!(!is_hashed_asset(plain), "{plain}");
        }
    }
}
