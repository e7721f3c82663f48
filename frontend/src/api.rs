//! The HTTP client of the server's API (docs/api.md): `/api/v1` on the page's own origin with
//! `Authorization: Bearer`, and failures said so that people know what to do. No cookies: the
//! token lives in sessionStorage. What is sent and received are `nodefit_api`'s types, the ones
//! the server serializes; nothing here describes a resource.

use std::fmt;

use nodefit_api::{ErrorBody, Page};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

const BASE: &str = "/api/v1";
const TOKEN_KEY: &str = "nodefit.token";

/// A failed call, said so that people know what happened and what to do about it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status, or 0 when the server could not be reached.
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    /// An answer that is not what the API says it sends.
    pub fn unreadable(status: u16, why: impl fmt::Display) -> ApiError {
        ApiError {
            status,
            code: "bad-response".into(),
            message: format!("The server's answer could not be read: {why}"),
        }
    }

    fn network(e: JsValue) -> ApiError {
        ApiError {
            status: 0,
            code: "network".into(),
            message: e
                .as_string()
                .or_else(|| {
                    e.dyn_ref::<js_sys::Error>()
                        .map(|e| String::from(e.message()))
                })
                .unwrap_or_else(|| "the request did not complete".into()),
        }
    }

    /// What to do next, by status.
    pub fn advice(&self) -> &'static str {
        if self.code == "publish_in_progress" {
            return "The same publish is still running: wait a moment and publish again to see its result.";
        }
        match self.status {
            0 => "Check that `nodefit serve` is running and reachable, then try again.",
            400 | 422 => "Correct the input named above and try again.",
            401 => "Log in again with a valid API token (`nodefit token create --role author` makes one).",
            403 => "Your token's role does not allow this: ask an admin for a token with the needed role.",
            404 => "It does not exist (any more): reload the page, and check that the server is as new as this UI.",
            409 => "Someone changed it meanwhile: reload and try again.",
            413 => "The file is larger than the server accepts: upload a smaller file or raise --max-upload-bytes.",
            502..=504 => "The server could not reach a dependency (registry?): try again in a moment.",
            _ => "Try again; if it keeps failing, the server log has the details.",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.status == 0 {
            write!(f, "The server could not be reached ({}). ", self.message)?;
        } else {
            write!(f, "{} (HTTP {}). ", self.message, self.status)?;
        }
        f.write_str(self.advice())
    }
}

pub type Result<T> = std::result::Result<T, ApiError>;

pub fn stored_token() -> Option<String> {
    session_storage()?.get_item(TOKEN_KEY).ok().flatten()
}

pub fn store_token(token: Option<&str>) {
    if let Some(storage) = session_storage() {
        let _ = match token {
            Some(t) => storage.set_item(TOKEN_KEY, t),
            None => storage.remove_item(TOKEN_KEY),
        };
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// Percent-encodes a query component.
pub fn enc(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// A request body: JSON, or a file sent as it is.
pub enum Body<'a> {
    None,
    Json(String),
    File(&'a web_sys::File, &'a str),
}

/// Sends one request and returns the status and body text.
pub async fn send(method: &str, path: &str, body: Body<'_>) -> Result<(u16, String)> {
    let init = RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(ApiError::network)?;
    if let Some(token) = stored_token() {
        headers
            .set("Authorization", &format!("Bearer {token}"))
            .map_err(ApiError::network)?;
    }
    match &body {
        Body::None => {}
        Body::Json(json) => {
            headers
                .set("Content-Type", "application/json")
                .map_err(ApiError::network)?;
            init.set_body(&JsValue::from_str(json));
        }
        Body::File(file, content_type) => {
            headers
                .set("Content-Type", content_type)
                .map_err(ApiError::network)?;
            init.set_body(file);
        }
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(&format!("{BASE}{path}"), &init)
        .map_err(ApiError::network)?;
    let window = web_sys::window().ok_or_else(|| ApiError::network("no window".into()))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(ApiError::network)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(ApiError::network)?)
        .await
        .map_err(ApiError::network)?
        .as_string()
        .unwrap_or_default();
    let status = response.status();
    if (200..300).contains(&status) {
        return Ok((status, text));
    }
    let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => (
            String::new(),
            match status {
                401 => "The server does not accept this API token".to_string(),
                403 => "This token's role may not do that".to_string(),
                404 => "Not found".to_string(),
                _ if text.trim().is_empty() => format!("The server answered {status}"),
                _ => text.trim().chars().take(300).collect(),
            },
        ),
    };
    Err(ApiError {
        status,
        code,
        message,
    })
}

pub async fn call<T: DeserializeOwned>(method: &str, path: &str, body: Body<'_>) -> Result<T> {
    let (status, text) = send(method, path, body).await?;
    serde_json::from_str(&text).map_err(|e| ApiError::unreadable(status, e))
}

/// The largest page the server gives of a list.
pub const MAX_PAGE: i64 = 500;

/// Every item of a paged list (`path` without `limit` and `offset`), a page of [`MAX_PAGE`] at
/// a time. An empty page ends it too, so a list that shrinks meanwhile cannot loop forever.
pub async fn every<T: DeserializeOwned>(path: &str) -> Result<Vec<T>> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    loop {
        let offset = items.len();
        let page: Page<T> = call(
            "GET",
            &format!("{path}{separator}limit={MAX_PAGE}&offset={offset}"),
            Body::None,
        )
        .await?;
        let last = page.items.is_empty() || (offset + page.items.len()) as i64 >= page.total;
        items.extend(page.items);
        if last {
            return Ok(items);
        }
    }
}

pub fn json<T: Serialize>(value: &T) -> Body<'static> {
    Body::Json(serde_json::to_string(value).unwrap_or_default())
}
