//! `/api/v1/snapshots`: node feature snapshots as teams upload them.

use nodefit_api::snapshots::{LabelsEdit, SnapshotSummary, SnapshotWithFeatures, UploadResult};
use nodefit_api::{ErrorBody, Page};
use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use nodefit_core::features::Features;
use nodefit_core::fleet::FeatureValue;
use nodefit_core::snapshot::{self, SnapshotFormat};
use nodefit_registry::Digest;
use serde_json::value::RawValue;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{check_text, Json, Path, QueryPairs};
use crate::auth::{Caller, Role};
use crate::db::{NewSnapshot, SnapshotQuery, Stored, StoredFeatures, Upload};
use crate::error::{ApiError, ErrorCode};
use crate::fleet::ValueSet;
use crate::state::AppState;

/// The NodeFeature label that names the node; it becomes the snapshot's node name instead of a
/// label.
pub const NODE_NAME_LABEL: &str = "nfd.node.kubernetes.io/node-name";
/// Most labels on one snapshot.
pub const MAX_LABELS: usize = 64;
/// Longest label key, label value or node name (a Kubernetes name's limit).
pub const MAX_NAME_BYTES: usize = 253;
/// Most nodes in one upload (a NodeFeatureList).
pub const MAX_NODES_PER_UPLOAD: usize = 1000;

/// Media types an upload may declare (the content decides the shape).
const UPLOAD_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
];

pub fn router(max_upload_bytes: usize) -> OpenApiRouter<AppState> {
    let (schemas, paths, methods) = routes!(upload, list);
    OpenApiRouter::new()
        .routes((
            schemas,
            paths,
            methods.layer(DefaultBodyLimit::max(max_upload_bytes)),
        ))
        .routes(routes!(get_one, patch_labels, delete))
}

/// The upload body: its media type and declared length are checked before anything is read, the
/// size limit again while reading.
pub struct UploadBody(pub Bytes);

impl FromRequest<AppState> for UploadBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        check_upload_type(req.headers())?;
        let limit = state.config.max_upload_bytes;
        let too_large = || {
            ApiError::too_large(format!(
                "the upload is larger than {} (the server's --max-upload-bytes)",
                super::size_text(limit as u64)
            ))
            .with_details(serde_json::json!({ "limitBytes": limit }))
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        // Past the declared length, the route's DefaultBodyLimit (the same limit) stops the read.
        match Bytes::from_request(req, state).await {
            Ok(body) => Ok(UploadBody(body)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Upload snapshots: `nfd export features` JSON, a NodeFeature (YAML or JSON), or a
/// NodeFeatureList (one snapshot per node).
#[utoipa::path(
    post,
    path = "/snapshots",
    tag = "snapshots",
    params(
        ("label" = Option<Vec<String>>, Query, description = "`key=value` to set on every node of the upload; repeat for more"),
        ("node" = Option<String>, Query, description = "Node name, for an upload of one node"),
    ),
    request_body(content = String, description = "The snapshot file as is", content_type = "application/yaml"),
    responses(
        (status = 201, description = "Stored (some nodes may be duplicates)", body = UploadResult),
        (status = 200, description = "Every node was already stored", body = UploadResult),
        (status = 400, description = "Not a snapshot: the message names the line, column and field", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, description = "Larger than the upload limit", body = ErrorBody),
        (status = 415, description = "Not JSON or YAML", body = ErrorBody),
    ),
    security(("token" = []))
)]
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryPairs,
    req: Request,
) -> Result<(StatusCode, axum::Json<UploadResult>), ApiError> {
    caller.require(Role::Author)?;
    query.only(&["label", "node"])?;
    let labels = parse_label_params(query.all("label"))?;
    let node = query.get("node").map(str::to_owned);
    // Read only once the caller may write and the query is good.
    let UploadBody(body) = UploadBody::from_request(req, &state).await?;
    let upload = state
        .work
        .run(move |_| prepare(&body, labels, node))
        .await??;
    let stored = state.db.insert_snapshots(&upload, &caller.name).await?;
    let mut result = UploadResult {
        snapshots: Vec::with_capacity(stored.len()),
        duplicates: Vec::new(),
    };
    let mut created = false;
    for s in stored {
        match s {
            Stored::Created(row) => {
                created = true;
                result.snapshots.push(row);
            }
            Stored::Duplicate(row) => {
                result.duplicates.push(row.id);
                result.snapshots.push(row);
            }
        }
    }
    state
        .metrics
        .snapshots_uploaded
        .inc_by(result.snapshots.len() as u64 - result.duplicates.len() as u64);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(result)))
}

fn check_upload_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = given
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if UPLOAD_TYPES.contains(&essence.as_str()) {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(format!(
            "Content-Type {given:?}: send the snapshot as one of {}",
            UPLOAD_TYPES.join(", ")
        )))
    }
}

/// `key=value` pairs from `label` parameters.
fn parse_label_params<'a>(
    values: impl Iterator<Item = &'a str>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut labels = BTreeMap::new();
    for v in values {
        let (k, val) = v
            .split_once('=')
            .ok_or_else(|| ApiError::bad_request(format!("label {v:?}: expected key=value")))?;
        labels.insert(k.to_owned(), val.to_owned());
    }
    check_labels(&labels)?;
    Ok(labels)
}

pub fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if labels.len() > MAX_LABELS {
        return Err(ApiError::bad_request(format!(
            "more than {MAX_LABELS} labels"
        )));
    }
    for (k, v) in labels {
        if k.is_empty() || k.contains('=') || k.chars().any(char::is_whitespace) {
            return Err(ApiError::bad_request(format!(
                "label key {k:?} must be non-empty, without '=' or spaces"
            )));
        }
        check_text(&format!("label key {k:?}"), k, MAX_NAME_BYTES, false)?;
        check_text(&format!("label {k:?}'s value"), v, MAX_NAME_BYTES, false)?;
    }
    Ok(())
}

/// Parses an upload into rows to store: each node's canonical JSON hashed, its features split
/// into values, the values of all nodes once (CPU work: runs on a blocking thread).
fn prepare(
    body: &[u8],
    query_labels: BTreeMap<String, String>,
    node_param: Option<String>,
) -> Result<Upload, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ParseError,
            format!("the body is not UTF-8 text: {e}"),
        )
    })?;
    let parsed = snapshot::parse(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ParseError,
            format!("line {}, column {}: {}", e.line, e.column, e.message),
        )
        .with_details(serde_json::json!({"line": e.line, "column": e.column}))
    })?;
    if parsed.nodes.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ParseError,
            "the NodeFeatureList has no items",
        ));
    }
    if parsed.nodes.len() > MAX_NODES_PER_UPLOAD {
        return Err(ApiError::too_large(format!(
            "{} nodes in one upload; at most {MAX_NODES_PER_UPLOAD}",
            parsed.nodes.len()
        )));
    }
    if node_param.is_some() && parsed.nodes.len() > 1 {
        return Err(ApiError::bad_request(
            "?node= names the node of a single-node upload; a NodeFeatureList names its nodes",
        ));
    }
    let format = match parsed.format {
        SnapshotFormat::NfdFeatures => "nfdFeatures",
        SnapshotFormat::NodeFeature => "nodeFeature",
        SnapshotFormat::NodeFeatureList => "nodeFeatureList",
    };
    let mut values = ValueSet::default();
    let snapshots = parsed
        .nodes
        .into_iter()
        .enumerate()
        .map(|(i, node)| {
            let mut labels = node.labels;
            let label_name = labels.remove(NODE_NAME_LABEL);
            labels.extend(query_labels.clone());
            let node_name = node_param
                .clone()
                .or(node.name)
                .or(label_name)
                .or_else(|| system_node_name(&node.features))
                .filter(|n| !n.is_empty());
            let at = |what: &str| {
                if format == "nodeFeatureList" {
                    format!("items[{i}]: {what}")
                } else {
                    what.to_owned()
                }
            };
            if let Some(name) = &node_name {
                check_text(&at("the node name"), name, MAX_NAME_BYTES, false)?;
            }
            check_labels(&labels).map_err(|e| ApiError::bad_request(at(&e.message)))?;
            let f = &node.features;
            let feature_count = (f.flags.len() + f.attributes.len() + f.instances.len()) as i64;
            let (json, positions) = values.add(f);
            Ok(NewSnapshot {
                node_name,
                format,
                content_hash: Digest::sha256_of(json.as_bytes()).into(),
                feature_count,
                labels,
                values: positions,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Upload {
        values: values.values,
        snapshots,
    })
}

/// NFD's system source reports the node's name as `system.name`'s `nodename`.
fn system_node_name(features: &Features) -> Option<String> {
    features
        .attributes
        .get("system.name")?
        .elements
        .as_ref()?
        .get("nodename")
        .map(ToString::to_string)
}

/// List snapshots, newest first.
#[utoipa::path(
    get,
    path = "/snapshots",
    tag = "snapshots",
    params(
        ("label" = Option<Vec<String>>, Query, description = "`key=value` the snapshot must have; repeat for more (all must match)"),
        ("node" = Option<String>, Query, description = "Exact node name"),
        ("q" = Option<String>, Query, description = "Case-insensitive text in the node name, labels or content hash"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 500 (default 50)"),
        ("offset" = Option<i64>, Query, description = "Items to skip"),
    ),
    responses((status = 200, body = Page<SnapshotSummary>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryPairs,
) -> Result<axum::Json<Page<SnapshotSummary>>, ApiError> {
    caller.require(Role::Viewer)?;
    query.only(&["label", "node", "q", "limit", "offset"])?;
    let (limit, offset) = query.page()?;
    let filter = SnapshotQuery {
        labels: parse_label_params(query.all("label"))?
            .into_iter()
            .collect(),
        node: query.get("node").map(str::to_owned),
        text: query.get("q").filter(|q| !q.is_empty()).map(str::to_owned),
    };
    let (rows, total) = state.db.list_snapshots(&filter, limit, offset).await?;
    Ok(axum::Json(Page {
        items: rows.into_iter().collect(),
        total,
        limit,
        offset,
    }))
}

/// A snapshot with its features.
#[utoipa::path(
    get,
    path = "/snapshots/{id}",
    tag = "snapshots",
    params(("id" = i64, Path)),
    responses((status = 200, body = SnapshotWithFeatures), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<SnapshotWithFeatures>, ApiError> {
    caller.require(Role::Viewer)?;
    let (row, stored) = state
        .db
        .get_snapshot(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("snapshot {id}")))?;
    let features = state
        .work
        .run(move |_| canonical_json(stored))
        .await?
        .map_err(ApiError::internal)?;
    Ok(axum::Json(SnapshotWithFeatures {
        summary: row,
        features: RawValue::from_string(features).map_err(ApiError::internal)?,
    }))
}

/// The `nfd export features` JSON of a stored snapshot: the very text its content hash was
/// taken of, rebuilt from its values (CPU work: runs on a blocking thread).
fn canonical_json(stored: StoredFeatures) -> Result<String, String> {
    let values = match stored {
        StoredFeatures::Json(json) => return Ok(json),
        StoredFeatures::Values(values) => values,
    };
    let mut features = Features::default();
    for row in values {
        let value = FeatureValue::from_json(&row.value)
            .map_err(|e| format!("stored feature value {} does not parse: {e}", row.id))?;
        value.add_to(&mut features, row.name.into());
    }
    serde_json::to_string(&features).map_err(|e| e.to_string())
}

/// Replace a snapshot's labels.
#[utoipa::path(
    patch,
    path = "/snapshots/{id}",
    tag = "snapshots",
    params(("id" = i64, Path)),
    request_body = LabelsEdit,
    responses(
        (status = 200, body = SnapshotSummary), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("token" = []))
)]
async fn patch_labels(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(edit): Json<LabelsEdit>,
) -> Result<axum::Json<SnapshotSummary>, ApiError> {
    caller.require(Role::Author)?;
    check_labels(&edit.labels)?;
    let row = state
        .db
        .set_snapshot_labels(id, &edit.labels)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("snapshot {id}")))?;
    Ok(axum::Json(row))
}

/// Delete a snapshot.
#[utoipa::path(
    delete,
    path = "/snapshots/{id}",
    tag = "snapshots",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []))
)]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Author)?;
    if state.db.delete_snapshot(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("snapshot {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_and_labels_from_the_upload() {
        let yaml =
            include_str!("../../../../shared/core/tests/data/samples/nodefeature-gpu-node-01.yaml");
        let labels = BTreeMap::from([("pool".to_owned(), "gpu".to_owned())]);
        let nodes = prepare(yaml.as_bytes(), labels.clone(), None)
            .unwrap()
            .snapshots;
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].node_name.as_deref(), Some("gpu-node-01"));
        assert_eq!(
            nodes[0].labels, labels,
            "the node-name label becomes the node name"
        );
        assert_eq!(nodes[0].format, "nodeFeature");
        assert!(nodes[0].content_hash.starts_with("sha256:"));

        let json = include_str!(
            "../../../../shared/core/tests/data/samples/intel-spr-h100-cx6.features.json"
        );
        let nodes = prepare(json.as_bytes(), BTreeMap::new(), Some("n1".into()))
            .unwrap()
            .snapshots;
        assert_eq!(nodes[0].node_name.as_deref(), Some("n1"));
        let nodes = prepare(json.as_bytes(), BTreeMap::new(), None)
            .unwrap()
            .snapshots;
        assert_eq!(
            nodes[0].node_name.as_deref(),
            Some("gpu-node-01"),
            "from system.name"
        );
    }

    #[test]
    fn bad_uploads_name_the_place() {
        let e = prepare(b"kind: NodeFeature\nspec: [", BTreeMap::new(), None).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, ErrorCode::ParseError)
        );
        assert!(e.message.starts_with("line "), "{}", e.message);
        let e = prepare(&[0xff, 0xfe], BTreeMap::new(), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::ParseError);
        assert!(parse_label_params(["novalue"].into_iter()).is_err());
        assert!(parse_label_params(["a b=c"].into_iter()).is_err());
        assert!(parse_label_params(["k=v=w"].into_iter()).unwrap()["k"] == "v=w");
    }
}
