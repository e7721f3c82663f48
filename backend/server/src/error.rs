//! The one error type handlers return, answered as
//! `{"error": {"code": "...", "message": "...", "details": ...}}` with a fitting status.
//! Internal failures are logged with the request's id and answered without their detail, so
//! that no database message (or anything in it) reaches a client.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
pub use nodefit_api::{ErrorBody, ErrorCode, ErrorObject};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// 422 with every place `src` could not be decoded, with its line and column, as lint
    /// shows them: `code` and `what` say who refuses it, or `over_budget` when a budget did.
    pub fn undecodable(
        src: &str,
        errors: &[nodefit_core::decode::DecodeError],
        (code, what): (ErrorCode, &str),
        over_budget: &str,
    ) -> Self {
        let index = nodefit_core::source::LineIndex::new(src);
        let details: Vec<serde_json::Value> = errors
            .iter()
            .map(|e| {
                let (line, column) = index.line_col(e.span.start);
                serde_json::json!({ "path": e.path, "message": e.message, "line": line, "column": column })
            })
            .collect();
        let first = errors.first().map_or_else(String::new, |e| {
            let (line, column) = index.line_col(e.span.start);
            format!(": line {line}, column {column}: {}", e.message)
        });
        let (code, what) = if errors.iter().any(|e| e.budget.is_some()) {
            (ErrorCode::OverBudget, over_budget)
        } else {
            (code, what)
        };
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            format!("{what}{first}"),
        )
        .with_details(serde_json::json!({ "errors": details }))
    }

    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{} not found", what.into()),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            message,
        )
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            message,
        )
    }

    /// The request ran out of time (`request_timeout_secs`).
    pub fn request_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RequestTimeout,
            format!(
                "the request took longer than the server allows ({} s, request_timeout_secs); \
                 select fewer snapshots or simplify the spec",
                limit.as_secs()
            ),
        )
    }

    /// The server is stopping: the work was interrupted, nothing was changed by it.
    pub fn shutting_down() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ShuttingDown,
            "the server is shutting down; try again",
        )
    }

    /// A failure that is ours, not the client's: logged in full, answered in general terms.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal server error",
        )
    }

    /// A rejection from one of axum's extractors, keeping its status (400, 413, 415, 422).
    fn rejection(status: StatusCode, text: String) -> Self {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            s if s.is_server_error() => return Self::internal(text),
            _ => ErrorCode::BadRequest,
        };
        // axum's 422 (a body that does not fit the request type) is a bad request here: 422 is
        // kept for specs that NFD refuses.
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        Self::new(status, code, text)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorObject {
                code: self.code.as_str().to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"nodefit\""),
            );
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => {
                tracing::error!("no database connection available in time");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    "the database is not available; try again",
                )
            }
            e => Self::internal(format_args!("database: {e}")),
        }
    }
}

macro_rules! from_rejection {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(r: $t) -> Self {
                Self::rejection(r.status(), r.body_text())
            }
        }
    )*};
}

from_rejection!(JsonRejection, QueryRejection, PathRejection, BytesRejection);

#[cfg(test)]
mod documented {
    use super::ErrorCode;

    /// docs/api.md lists every code the server may answer, with its status.
    #[test]
    fn every_code_is_in_the_api_docs() {
        let docs = include_str!("../../../docs/api.md");
        for code in ErrorCode::all() {
            assert!(
                docs.contains(&format!("| `{code}` |")),
                "docs/api.md does not list `{code}`"
            );
        }
    }
}
