//! The `/api/v1` handlers, one module per resource. Handlers are thin: they check the caller's
//! role, turn the request into values, call the database layer or the core, and shape the
//! answer. Extractors here answer their rejections as [`ApiError`]s, so every failure has the
//! API's error shape.

pub mod publish;
pub mod registries;
pub mod snapshots;
pub mod specs;
pub mod tokens;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use nodefit_core::text;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Page size when a request names none.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page a list answers.
pub const MAX_LIMIT: i64 = 500;
/// Largest JSON request body (specs, label edits, evaluation requests); uploads have their own.
pub const MAX_JSON_BODY: usize = 2 * 1024 * 1024;

/// `axum::Json` whose rejections are [`ApiError`]s (400, 413, 415).
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

/// `axum::extract::Path` whose rejections are [`ApiError`]s.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(value))
    }
}

/// The query string as name/value pairs in order (names may repeat, as `label` does).
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state).await?;
        Ok(QueryPairs(pairs))
    }
}

impl QueryPairs {
    /// Refuses parameters other than `known`: a misspelt filter must not silently list
    /// everything.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            Some((k, _)) => Err(ApiError::bad_request(format!(
                "unknown query parameter {k:?} (expected one of: {})",
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// The last value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("{name}: {v:?} is not an integer")))
            })
            .transpose()
    }

    /// `limit` and `offset`, checked.
    pub fn page(&self) -> Result<(i64, i64), ApiError> {
        page(self.int("limit")?, self.int("offset")?)
    }
}

/// `limit` (default [`DEFAULT_LIMIT`], 1 to [`MAX_LIMIT`]) and `offset` (0 or more).
/// A size as people read it: `5 MiB`, `512 KiB`, `300 bytes` (to one decimal when not whole).
pub fn size_text(bytes: u64) -> String {
    let (unit, name) = match bytes {
        b if b >= 1 << 20 => (1u64 << 20, "MiB"),
        b if b >= 1 << 10 => (1 << 10, "KiB"),
        _ => return format!("{bytes} bytes"),
    };
    if bytes.is_multiple_of(unit) {
        format!("{} {name}", bytes / unit)
    } else {
        format!("{:.1} {name}", bytes as f64 / unit as f64)
    }
}

pub fn page(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::bad_request("offset must not be negative"));
    }
    Ok((limit, offset))
}

/// Refuses text PostgreSQL cannot store (NUL) or that would be invisible in the UI. One-line
/// text (names, labels) also refuses the characters that hide or reorder text (bidirectional
/// controls, zero-width characters: `nodefit_core::text::is_hidden`), with which one name can
/// pass for another; multi-line text (spec content, messages) keeps them, and lint warns about
/// them in specs, since NFD reads them.
pub fn check_text(
    what: &str,
    text: &str,
    max_bytes: usize,
    allow_newlines: bool,
) -> Result<(), ApiError> {
    if text.len() > max_bytes {
        return Err(ApiError::bad_request(format!(
            "{what} is longer than {max_bytes} bytes"
        )));
    }
    let bad = |c: char| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t'));
    if text.chars().any(bad) {
        return Err(ApiError::bad_request(format!(
            "{what} contains control characters"
        )));
    }
    if !allow_newlines {
        if let Some(c) = text.chars().find(|c| text::is_hidden(*c)) {
            return Err(ApiError::bad_request(format!(
                "{what} contains {}, an invisible or text-reordering character",
                text::describe(c)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(super::size_text(5 * 1024 * 1024), "5 MiB");
        assert_eq!(super::size_text(1536), "1.5 KiB");
        assert_eq!(super::size_text(300), "300 bytes");
    }
}
