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
    /// The server's stable error code (docs/api.md), or `network` / `bad-response`.
    pub code: String,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

/// `text` as the start of a sentence: capitalised, without a final full stop.
fn clause(text: &str) -> String {
    let text = text.trim().trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            details: None,
        }
    }

    /// An answer that is not what the API says it sends.
    pub fn unreadable(status: u16, why: impl fmt::Display) -> ApiError {
        ApiError::new(status, "bad-response", why.to_string())
    }

    fn network(e: JsValue) -> ApiError {
        let message = e
            .as_string()
            .or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| "the request did not complete".into());
        ApiError::new(0, "network", message)
    }

    /// The limit a 413 names, in bytes (`details.limitBytes`).
    pub fn limit_bytes(&self) -> Option<u64> {
        self.details.as_ref()?.get("limitBytes")?.as_u64()
    }

    /// Each place a 422 names in `details.errors` (where the API server would refuse a
    /// NodeFeatureRule file, or NFD a spec), in the server's order.
    pub fn places(&self) -> Vec<Place> {
        let Some(errors) = self
            .details
            .as_ref()
            .and_then(|d| d.get("errors"))
            .and_then(serde_json::Value::as_array)
        else {
            return Vec::new();
        };
        let text = |e: &serde_json::Value, key: &str| {
            e.get(key)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let number = |e: &serde_json::Value, key: &str| {
            e.get(key)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or_default()
        };
        errors
            .iter()
            .map(|e| Place {
                line: number(e, "line"),
                column: number(e, "column"),
                path: text(e, "path"),
                message: text(e, "message"),
            })
            .collect()
    }

    /// What happened and what to do, in one or two sentences, for each code the server
    /// answers with. The server's message says what happened where it is specific (it names
    /// no host and quotes nothing a registry sent, docs/server.md); the rest is ours.
    pub fn sentence(&self) -> String {
        let what = clause(&self.message);
        match self.code.as_str() {
            // Said by this page, not the server: the message is the whole sentence.
            "new-spec" => self.message.clone(),
            "network" => "The server could not be reached. Check that `nodefit serve` is running and reachable, then try again.".into(),
            "bad-response" => format!("The server's answer could not be read ({}). The server may be another version than this page: reload the page.", self.message.trim()),
            "unauthorized" => "The server does not accept this API token (it may have been revoked). Log in again with a valid token; an admin makes one with `nodefit token create`.".into(),
            "forbidden" => format!("{what}. Your token's role does not allow this: ask an admin for a token with the role it needs."),
            "not_found" => format!("{what}: it may have been deleted meanwhile. Reload and try again."),
            "method_not_allowed" => "The server does not offer this: it may be older than this page. Update the server.".into(),
            "bad_request" => format!("The server refused the request: {}. Correct it and try again.", self.message.trim().trim_end_matches('.')),
            "parse_error" => format!("{what}. Correct the file at that place and try again."),
            "invalid_spec" => format!("{what}. Fix the errors the Editor's Problems list shows, then try again."),
            "over_budget" => format!("{what}. The spec goes over one of nodefit's budgets (docs/server.md, Budgets): make the part named smaller."),
            "lint_failed" => format!("{what}. Fix the errors in the Editor's Problems list, then try again."),
            "conflict" => format!("{what}. Reload to see the current state, then try again."),
            "payload_too_large" => match self.limit_bytes() {
                Some(limit) => format!("Too large: the server takes at most {}. Make it smaller, or ask the operator to raise the limit.", crate::size_text(limit)),
                None => format!("{what}. Make it smaller."),
            },
            "unsupported_media_type" => format!("{what}. Use a JSON or YAML file."),
            "registry_content" => format!("{what}. Check the image reference (repository, tag or digest) and the platform."),
            "registry_unavailable" => format!("{what}. Try again in a moment; if it keeps failing, the server's log has the details under this request."),
            "untrusted" => format!("{what}. The server's trust policy refuses this artifact: it was not signed by a key the policy names. Ask a publisher to sign it, or open another artifact."),
            "untrusted_publish" => format!("{what}. Publishing would leave an artifact the server itself would refuse: ask the operator to configure signing that the trust policy accepts."),
            "no_trust_policy" => format!("{what}. Ask the operator to add a scope for this repository to the server's trust policy."),
            "detached" => format!("{what}. Publish the spec again to schedule it."),
            "cannot_schedule" => format!("{what}. Change the spec as the message says, then try again."),
            "invalid_rule_file" => format!("{what}. Fix the errors the lint lists, then try again."),
            "publish_in_progress" => "The same publish is still running: wait a moment and publish again to see its result.".into(),
            "unavailable" => "The server is not ready: its database did not answer. Try again in a moment.".into(),
            "request_timeout" => format!("{what}."),
            "shutting_down" => "The server is shutting down: try again once it is back.".into(),
            "internal" => "Something went wrong inside the server. Try again; if it keeps failing, the server's log has the details.".into(),
            _ => format!("{what} (HTTP {}). Try again; if it keeps failing, the server's log has the details.", self.status),
        }
    }
}

/// One entry of a 422's `details.errors`: where in the file, and what is wrong there.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub line: u64,
    pub column: u64,
    /// The field, as `spec.rules[0].name`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence())
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
    Err(match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => ApiError {
            status,
            code: b.error.code,
            message: b.error.message,
            details: b.error.details,
        },
        // Not the API's error shape (a proxy's page): said by status, never quoted.
        Err(_) => ApiError::new(
            status,
            match status {
                401 => "unauthorized",
                403 => "forbidden",
                413 => "payload_too_large",
                502..=504 => "registry_unavailable",
                _ => "",
            },
            match status {
                403 => "This token's role may not do that".to_string(),
                413 => "The request is larger than the server accepts".to_string(),
                502..=504 => "The server or a proxy in front of it could not answer".to_string(),
                _ => format!("The server answered {status}"),
            },
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_a_sentence_that_says_what_to_do() {
        for code in nodefit_api::ErrorCode::all() {
            let e = ApiError::new(400, code.as_str(), "spec 3 not found");
            let sentence = e.sentence();
            assert!(!sentence.contains("HTTP"), "{code}: {sentence}");
            assert!(sentence.ends_with('.'), "{code}: {sentence}");
            assert!(
                sentence.starts_with(char::is_uppercase),
                "{code}: {sentence}"
            );
        }
        let too_large = ApiError {
            details: Some(serde_json::json!({"limitBytes": 5 * 1024 * 1024})),
            ..ApiError::new(413, "payload_too_large", "the upload is larger than 5 MiB")
        };
        assert!(
            too_large.sentence().contains("at most 5 MiB"),
            "{too_large}"
        );
        let refused = ApiError {
            details: Some(serde_json::json!({"errors": [
                {"path": "spec.rules[0].name", "message": "required", "line": 7, "column": 5},
            ]})),
            ..ApiError::new(
                422,
                "invalid_rule_file",
                "the Kubernetes API server would refuse this NodeFeatureRule file",
            )
        };
        assert_eq!(
            refused.places(),
            [Place {
                line: 7,
                column: 5,
                path: "spec.rules[0].name".into(),
                message: "required".into(),
            }]
        );
        assert_eq!(too_large.places(), []);
        let missing = ApiError::new(
            422,
            "registry_content",
            "registry `lab` answered 404 for the tag `nope` in repository demo/app: it does not exist",
        );
        assert_eq!(
            missing.to_string(),
            "Registry `lab` answered 404 for the tag `nope` in repository demo/app: it does not exist. Check the image reference (repository, tag or digest) and the platform."
        );
    }
}
