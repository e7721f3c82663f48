//! The server's HTTP API (docs/api.md), reached only through `/api/v1` on the page's own origin
//! with `Authorization: Bearer`. No cookies: the token lives in sessionStorage.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
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

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
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
    serde_json::from_str(&text).map_err(|e| ApiError {
        status,
        code: "bad-response".into(),
        message: format!("The server's answer could not be read: {e}"),
    })
}

pub fn json<T: Serialize>(value: &T) -> Body<'static> {
    Body::Json(serde_json::to_string(value).unwrap_or_default())
}

// ---- resources ----

/// Reads an id the server sends as a number or a string; the UI keeps ids as text.
fn id_text<'de, D>(d: D) -> std::result::Result<String, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// An id as the server wants it back: a number when it is one.
pub fn id_json(id: &str) -> serde_json::Value {
    id.parse::<i64>()
        .map(Into::into)
        .unwrap_or_else(|_| id.into())
}

/// Reads `null` as the type's default: servers may send `null` for an absent text.
fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Me {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    pub role: String,
    #[serde(default, deserialize_with = "null_default")]
    pub permissions: Vec<String>,
}

impl Me {
    pub fn may(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSummary {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub node_name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    pub format: String,
    #[serde(default, deserialize_with = "null_default")]
    pub feature_count: usize,
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, deserialize_with = "null_default")]
    pub total: usize,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Uploaded {
    #[serde(default, deserialize_with = "null_default")]
    pub snapshots: Vec<SnapshotSummary>,
    #[serde(default, deserialize_with = "null_default")]
    pub duplicates: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SnapshotDetail {
    /// The `nfd export features` JSON.
    pub features: serde_json::Value,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub version: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub content: String,
    #[serde(default, deserialize_with = "null_default")]
    pub updated_at: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub version: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: String,
    #[serde(default, deserialize_with = "null_default")]
    pub created_by: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct VersionContent {
    pub content: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Diff {
    #[serde(default, deserialize_with = "null_default")]
    pub unified: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FleetSet {
    pub index: usize,
    #[serde(default, deserialize_with = "null_default")]
    pub tag: String,
    #[serde(default, deserialize_with = "null_default")]
    pub weight: i64,
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
    #[serde(default, deserialize_with = "null_default")]
    pub matched: usize,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FleetCell {
    pub index: usize,
    pub is_match: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub failing_rules: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FleetItem {
    #[serde(deserialize_with = "id_text")]
    pub snapshot_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub node_name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    pub compatible: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub best_set: Option<usize>,
    #[serde(default, deserialize_with = "null_default")]
    pub sets: Vec<FleetCell>,
    #[serde(default, deserialize_with = "null_default")]
    pub error: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Fleet {
    #[serde(default, deserialize_with = "null_default")]
    pub spec_version: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub sets: Vec<FleetSet>,
    #[serde(default, deserialize_with = "null_default")]
    pub total: usize,
    #[serde(default, deserialize_with = "null_default")]
    pub compatible: usize,
    #[serde(default, deserialize_with = "null_default")]
    pub items: Vec<FleetItem>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RegistryName {
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Publication {
    #[serde(default, deserialize_with = "id_text")]
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub version: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub registry: String,
    #[serde(default, deserialize_with = "null_default")]
    pub image: String,
    #[serde(default, deserialize_with = "null_default")]
    pub image_digest: String,
    #[serde(default, deserialize_with = "null_default")]
    pub artifact_digest: String,
    #[serde(default, deserialize_with = "null_default")]
    pub signature_digest: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: String,
    #[serde(default, deserialize_with = "null_default")]
    pub created_by: String,
}

/// One compatibility artifact attached to an image, as the server lists it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Referrer {
    #[serde(default, deserialize_with = "null_default")]
    pub digest: String,
    #[serde(default, alias = "createdAt")]
    pub created: Option<String>,
    /// The artifact NFD's validate-node would use (the newest).
    #[serde(default)]
    pub nfd_choice: bool,
    #[serde(default)]
    pub signature: Option<SignatureInfo>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct SignatureInfo {
    #[serde(default, deserialize_with = "null_default")]
    pub digest: String,
    #[serde(default)]
    pub count: usize,
}

/// What the server found attached to an image.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageReferrers {
    #[serde(default, deserialize_with = "null_default")]
    pub subject_digest: String,
    /// `referrers-api`, or `tag-schema` for registries without the referrers API.
    #[serde(default, deserialize_with = "null_default")]
    pub source: String,
    #[serde(default)]
    pub artifacts: Vec<Referrer>,
}

/// A list that the server may send bare or paged.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum List<T> {
    Bare(Vec<T>),
    Paged { items: Vec<T> },
}

impl<T> List<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            List::Bare(v) | List::Paged { items: v } => v,
        }
    }
}
