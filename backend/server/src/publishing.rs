//! What the publishing handlers share: clients for the configured registries, how registry
//! failures are answered, and the claim protocol that keeps identical publishes from running
//! twice (on this server or another on the same database).
//!
//! Only registries of the server's allow-list are ever dialled: a request names one by name,
//! and the image it names is placed inside that registry's host, so no client-supplied host
//! or URL reaches the network.

use std::time::Duration;

use axum::http::StatusCode;
use tokio::time::Instant;

use crate::config::{Config, RegistryConfig};
use crate::db::{Db, PublicationKey, PublicationRow};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use nodefit_registry::{
    self as registry, Access, Client, CredentialSource, ImageRef, Setting, Settings,
};

/// Longest a single registry request may take.
pub const REGISTRY_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a TCP or TLS connection to a registry may take to set up.
pub const REGISTRY_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long before the request timeout a publish, list or detach stops talking to the
/// registry, so that the caller gets the registry's error rather than a bare 408.
pub const REGISTRY_DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// Longest image reference accepted.
const MAX_IMAGE_BYTES: usize = 512;
/// How often a publish request waiting for an identical one in progress looks again.
pub const CLAIM_POLL: Duration = Duration::from_millis(200);
/// How much longer than the request timeout a publish claim lasts when its server stopped
/// without releasing it (a cancelled request releases its claim itself).
pub const CLAIM_LEASE_MARGIN: Duration = Duration::from_secs(10);

/// When a request started now must be done with registries (and with waiting for a claim).
pub fn registry_deadline(config: &Config) -> Instant {
    Instant::now()
        + config
            .request_timeout
            .saturating_sub(REGISTRY_DEADLINE_MARGIN)
}

/// Where the configuration sets `setting` for the registry called `registry`.
fn config_key(setting: Setting, registry: &str) -> String {
    let table = format!("[registries.{registry}]");
    match setting {
        Setting::CaFile => format!("ca_file in {table}"),
        Setting::Credentials => format!("username and password, or token, in {table}"),
        Setting::UsernamePassword => format!("username and password in {table}"),
        Setting::TokenRealmHosts => format!("token_realm_hosts in {table}"),
        Setting::Deadline => "request_timeout_secs".to_owned(),
        Setting::RequestTimeout => "the server's limit per registry request".to_owned(),
    }
}

/// A registry failure as clients see it: the registry by its configured name and what went
/// wrong, never its host nor anything it sent. The whole story, host and registry's words
/// included, goes to the log at warn level, under the request's id.
impl From<registry::Error> for ApiError {
    fn from(e: registry::Error) -> Self {
        let message = e.public_message(&config_key);
        let logged = e.message(&config_key);
        match &e {
            registry::Error::Usage(_) => ApiError::bad_request(message),
            // A file the server's configuration names: the server's problem, not the client's.
            registry::Error::File(_) => ApiError::internal(logged),
            registry::Error::Content(_) => {
                tracing::warn!(error = %logged, "registry content unusable");
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::RegistryContent,
                    message,
                )
            }
            registry::Error::Request(_) | registry::Error::Conflict(_) => {
                tracing::warn!(error = %logged, "registry failed");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    ErrorCode::RegistryUnavailable,
                    message,
                )
            }
        }
    }
}

/// The configured registry called `name`, and a client for `image` inside it.
pub fn client(
    state: &AppState,
    name: &str,
    image: &str,
    access: Access,
) -> Result<(Client, RegistryConfig), ApiError> {
    let config = state
        .config
        .registry(name)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown registry {name:?} (see GET /api/v1/registries)"
            ))
        })?
        .clone();
    let image = image.trim();
    if image.is_empty()
        || image.len() > MAX_IMAGE_BYTES
        || image.contains("://")
        || image.starts_with('/')
    {
        return Err(ApiError::bad_request(
            "image must be `repository:tag` or `repository@sha256:...` inside the registry",
        ));
    }
    // Parse errors quote the reference, which here holds the host: say it without.
    let reference = ImageRef::parse(&format!("{}/{image}", config.host)).map_err(|_| {
        ApiError::bad_request(format!(
            "image {image:?} is not a valid `repository:tag` or `repository@sha256:...`"
        ))
    })?;
    // Defence in depth: whatever the image text, the host dialled is the configured one.
    if reference.registry() != config.host {
        return Err(ApiError::bad_request(
            "image must not name another registry",
        ));
    }
    let settings = Settings {
        plain_http: config.plain_http,
        ca_file: config.ca_file.clone(),
        credentials: CredentialSource::Given(config.credentials.clone()),
        request_timeout: REGISTRY_REQUEST_TIMEOUT,
        connect_timeout: REGISTRY_CONNECT_TIMEOUT,
        deadline: registry_deadline(&state.config),
        observer: None,
        token_realm_hosts: config.token_realm_hosts.clone(),
    };
    let client = Client::new(reference, access, settings)?.named(&config.name);
    Ok((client, config))
}

/// Whose turn it is to publish.
pub enum Claimed {
    /// The publication exists (recorded before or while this request waited).
    Done(PublicationRow),
    /// This request publishes; the claim is released when it is dropped.
    Ours(Claim),
}

/// Waits until this request may publish `key`, or until an identical request in progress has
/// recorded it; gives up (409) in time to answer by `answer_by`. Each publish first takes a
/// claim on its key in the database; the others poll until its publication is recorded.
pub async fn claim(
    state: &AppState,
    key: PublicationKey,
    answer_by: Instant,
) -> Result<Claimed, ApiError> {
    let lease = state.config.request_timeout + CLAIM_LEASE_MARGIN;
    loop {
        let find = || {
            state
                .db
                .find_publication(key.spec_id, key.version, &key.registry, &key.image_digest)
        };
        if let Some(existing) = find().await? {
            return Ok(Claimed::Done(existing));
        }
        if state.db.claim_publication(&key, lease).await? {
            let claim = Claim {
                db: state.db.clone(),
                key: Some(key.clone()),
            };
            // The request that held the claim may have recorded the publication just before
            // releasing it.
            return Ok(match find().await? {
                Some(existing) => Claimed::Done(existing),
                None => Claimed::Ours(claim),
            });
        }
        if Instant::now() + CLAIM_POLL >= answer_by {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::PublishInProgress,
                format!(
                    "spec {} version {} is being published to this image by another request; \
                     retry later to get its result",
                    key.spec_id, key.version
                ),
            ));
        }
        tokio::time::sleep(CLAIM_POLL).await;
    }
}

/// A publish claim, released when the publish ends: also when the request is cancelled (its
/// timeout drops the handler), through a task of its own.
pub struct Claim {
    db: Db,
    key: Option<PublicationKey>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let (Some(key), Ok(runtime)) = (self.key.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let db = self.db.clone();
        runtime.spawn(async move {
            if let Err(e) = db.release_publication(&key).await {
                tracing::warn!(error = %e, spec = key.spec_id, version = key.version, "a publish claim was not released; it expires with its lease");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::{RequestError, Text};

    #[test]
    fn registry_settings_are_named_by_their_configuration_keys() {
        let error = registry::Error::Request(Box::new(RequestError {
            registry: "lab".into(),
            repository: "demo/app".into(),
            method: "GET".into(),
            target: "https://10.0.0.5:5000/v2/demo/app/manifests/v1".into(),
            what: "the tag `v1`".into(),
            status: Some(401),
            outcome: "HTTP 401 Unauthorized".into(),
            reason: Text::from("its token realm is not named in ")
                .setting(Setting::TokenRealmHosts)
                .words("; nothing was sent there"),
            attempts: 1,
            retryable: false,
        }));
        let answer = ApiError::from(error);
        assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
        assert_eq!(
            answer.message,
            "registry `lab` answered 401 for the tag `v1` in repository demo/app: its token \
             realm is not named in token_realm_hosts in [registries.lab]; nothing was sent there"
        );
        assert_eq!(config_key(Setting::Deadline, "lab"), "request_timeout_secs");
        assert_eq!(
            config_key(Setting::CaFile, "lab"),
            "ca_file in [registries.lab]"
        );
    }
}
