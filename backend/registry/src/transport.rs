//! HTTP to one repository of one registry: authentication, retries, timeouts, size limits,
//! request counting, and errors that say which registry, repository and request failed how.
//!
//! This is ours rather than `oci_client::Client` because that client
//! - sends an extra `GET /v2/` before every request of an anonymous session (its token cache
//!   stores nothing when there is no token), doubling the requests to public registries;
//! - has no retries, no overall deadline and no request count;
//! - reports failures without the request and status, and panics when a registry answers a
//!   manifest push by digest without `Location`;
//! - knows neither docker's config file nor credential helpers.
//!
//! It uses the same reqwest underneath, so nodefit carries one HTTP stack.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};
use tokio::time::Instant;

use super::auth::{parse_challenges, Challenge, CredentialSource, Credentials};
use super::event::{Event, Observer, Outcome};
use super::retry;
use super::setting::{Setting, Text};
use super::{Error, RequestError};

/// Largest error body read to explain a failure.
const MAX_ERROR_BODY: usize = 16 * 1024;
/// Largest token server answer.
const MAX_TOKEN_BODY: usize = 1024 * 1024;
/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;
/// Longest explanation quoted from a registry's error body.
const MAX_DETAIL_CHARS: usize = 300;
/// Requests one operation may have in flight at once: listing thousands of artifacts costs
/// this many connections, not thousands.
pub const MAX_CONCURRENT_REQUESTS: usize = 8;
/// HTTP requests one operation may send, retries, redirects and token requests included: a
/// registry that keeps handing out work (pages, artifacts, redirects) meets this limit.
pub const MAX_REQUESTS: u64 = 1000;
/// Largest CA certificate file read: the system's whole bundle is about 200 KiB.
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// How to reach a registry; one per command.
#[derive(Clone)]
pub struct Settings {
    /// Plain HTTP to the registry; redirects to HTTPS are still followed, over verified TLS.
    pub plain_http: bool,
    /// Extra trusted CA certificates (PEM), added to the system's roots.
    pub ca_file: Option<std::path::PathBuf>,
    pub credentials: CredentialSource,
    /// Longest a single request may take, body included.
    pub request_timeout: Duration,
    /// Longest a TCP (and TLS) connection may take to set up.
    pub connect_timeout: Duration,
    /// When the whole command gives up.
    pub deadline: Instant,
    /// Told about every request, retry and credential lookup, if given.
    pub observer: Option<Observer>,
    /// Hosts (`host` or `host:port`, port 443 when left out) other than the registry's own
    /// that may serve its token realm, such as `auth.docker.io` for Docker Hub.
    pub token_realm_hosts: Vec<String>,
}

/// What a repository is opened for; decides the scope of bearer tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Pull,
    Push,
    Delete,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
            Access::Delete => "pull,push,delete",
        }
    }
}

/// A request to send, to the registry's own origin (URLs the registry hands out elsewhere are
/// refused before they are dialled).
pub struct Request {
    pub method: Method,
    pub url: Url,
    pub accept: Option<String>,
    pub content_type: Option<&'static str>,
    pub body: Option<Vec<u8>>,
    /// Largest successful response body accepted.
    pub limit: usize,
    /// A blob read, which may be redirected to storage on another origin (over HTTPS, without
    /// the registry's credentials).
    pub blob: bool,
    /// Whether a failed attempt is sent again. Not for writes whose content depends on a read
    /// made before them: a late copy would overwrite what others wrote in between.
    pub retry: bool,
}

impl Request {
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            accept: None,
            content_type: None,
            body: None,
            limit: 0,
            blob: false,
            retry: true,
        }
    }

    /// A blob read of at most `limit` bytes.
    pub fn blob(mut self, limit: usize) -> Self {
        self.blob = true;
        self.limit = limit;
        self
    }

    /// Sent once: see [`Request::retry`].
    pub fn once(mut self) -> Self {
        self.retry = false;
        self
    }

    pub fn accept(mut self, accept: &str) -> Self {
        self.accept = Some(accept.to_owned());
        self
    }

    pub fn body(mut self, content_type: &'static str, body: Vec<u8>) -> Self {
        self.content_type = Some(content_type);
        self.body = Some(body);
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// A registry's answer. Error statuses are answers too: the caller decides what it expected.
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// How many times the request was sent (retries included, authentication not).
    pub attempts: u32,
    method: Method,
    url: Url,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct Transport {
    /// For `http://` URLs, only when the settings ask for plain HTTP; loads no CA roots.
    plain: Option<reqwest::Client>,
    /// For `https://` URLs, built when the first one is dialled: loading the system's CA roots
    /// takes longer than a whole `discover` on a local registry.
    tls: OnceLock<Result<reqwest::Client, Text>>,
    extra_roots: Vec<reqwest::Certificate>,
    base: Url,
    registry: String,
    /// What messages call the registry: the host the user wrote, or the server's name for it.
    label: String,
    repository: String,
    scope: String,
    settings: Settings,
    credentials: Mutex<Option<Credentials>>,
    auth: tokio::sync::Mutex<AuthState>,
    requests: AtomicU64,
    in_flight: tokio::sync::Semaphore,
    /// The quickest answered exchange so far, in microseconds: the registry's round trip
    /// when nothing holds it up.
    fastest: AtomicU64,
}

#[derive(Default)]
struct AuthState {
    header: Option<HeaderValue>,
    /// Bumped whenever `header` changes, so that requests that were refused together answer the
    /// challenge once.
    generation: u64,
}

/// Why one attempt failed without a usable HTTP answer.
struct Failure {
    /// For the command line and logs: may name hosts.
    detail: Text,
    /// The same in words that name no host and quote nothing the registry sent.
    public: Text,
    /// Whether another attempt may succeed (a refused connection may; a certificate the
    /// system does not trust, or an oversized answer, will not).
    transient: bool,
}

impl Failure {
    fn transient(detail: impl Into<Text>, public: &str) -> Self {
        Self {
            detail: detail.into(),
            public: public.into(),
            transient: true,
        }
    }

    fn permanent(detail: impl Into<Text>, public: &str) -> Self {
        Self {
            detail: detail.into(),
            public: public.into(),
            transient: false,
        }
    }

    fn from_reqwest(error: &reqwest::Error) -> Self {
        let (detail, untrusted) = describe_reqwest_error(error);
        let transient = !untrusted;
        let public = if !transient {
            "its TLS certificate is not trusted"
        } else if error.is_timeout() {
            "it did not answer in time"
        } else if error.is_connect() {
            "it could not be reached"
        } else if error.is_body() || error.is_decode() {
            "its answer broke off"
        } else {
            "the connection failed"
        };
        Self {
            detail,
            public: public.into(),
            transient,
        }
    }
}

/// What to do with a redirect.
#[derive(Debug, PartialEq, Eq)]
enum Hop {
    /// Follow it; with the registry's `Authorization` only on the registry's own origin.
    Follow {
        authorization: bool,
    },
    Refuse,
}

/// Where a redirect may go: anywhere on the registry's origin; for blob reads also to storage
/// on another origin (presigned S3 or CDN URLs) over HTTPS, without credentials. Everything
/// else would let a registry (or anything on its path) point nodefit at hosts nobody named.
fn redirect_hop(base: &Url, method: &Method, blob: bool, next: &Url) -> Hop {
    if same_origin(base, next) {
        Hop::Follow {
            authorization: true,
        }
    } else if blob && matches!(*method, Method::GET | Method::HEAD) && next.scheme() == "https" {
        Hop::Follow {
            authorization: false,
        }
    } else {
        Hop::Refuse
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether a token may be asked for at `realm`: over HTTPS on the registry's own host or a host
/// the configuration names, or on the registry's own plain-HTTP origin when the registry is
/// plain HTTP. A challenge naming anything else would make nodefit send the registry's
/// credentials (or, anonymous, a request) wherever the challenge says. `Err` says why not,
/// naming the realm (for the command line and logs).
fn check_realm(realm: &Url, base: &Url, allowed_hosts: &[String]) -> Result<(), Text> {
    let shown = display_url(realm);
    match realm.scheme() {
        "https" => {
            let named = allowed_hosts.iter().any(|allowed| {
                Url::parse(&format!("https://{allowed}/")).is_ok_and(|u| same_origin(&u, realm))
            });
            if base.host_str() == realm.host_str() || named {
                Ok(())
            } else {
                Err(Text::from(format!(
                    "the token realm {shown} is on another host than the registry's, and not on \
                     one named as a token realm host ("
                ))
                .setting(Setting::TokenRealmHosts)
                .words("); nothing is sent there"))
            }
        }
        "http" if base.scheme() == "http" && same_origin(realm, base) => Ok(()),
        "http" => Err(format!(
            "the token realm {shown} is plain HTTP and not the registry's own plain-HTTP \
             origin; nothing is sent there"
        )
        .into()),
        _ => Err(
            format!("the token realm {shown} is not an HTTP(S) URL; nothing is sent there").into(),
        ),
    }
}

impl Transport {
    /// A transport to `repository` on `endpoint` (`host[:port]`); `registry` is the name the user
    /// wrote, used in messages.
    pub fn new(
        registry: &str,
        endpoint: &str,
        repository: &str,
        access: Access,
        settings: Settings,
    ) -> Result<Self, Error> {
        // reqwest is built without a default crypto provider (ring instead of aws-lc: no cmake
        // or C toolchain beyond cc on CI); installing one twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let scheme = if settings.plain_http { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{endpoint}/"))
            .map_err(|e| Error::Usage(format!("registry {registry:?} is not a valid host: {e}")))?;
        let mut extra_roots = Vec::new();
        if let Some(path) = &settings.ca_file {
            let pem = nodefit_files::read_bytes(path, MAX_CA_FILE_BYTES)?;
            extra_roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::Usage(format!("{} holds no PEM certificates: {e}", path.display()))
            })?;
            if extra_roots.is_empty() {
                return Err(Error::Usage(format!(
                    "{} holds no PEM certificates",
                    path.display()
                )));
            }
        }
        let plain = if settings.plain_http {
            let client = client_builder(&settings)
                .tls_certs_only(Vec::new())
                .build()
                .map_err(|e| Error::Usage(format!("cannot set up HTTP: {}", error_chain(&e))))?;
            Some(client)
        } else {
            None
        };
        Ok(Self {
            plain,
            tls: OnceLock::new(),
            extra_roots,
            base,
            registry: registry.to_owned(),
            label: registry.to_owned(),
            repository: repository.to_owned(),
            scope: format!("repository:{repository}:{}", access.actions()),
            settings,
            credentials: Mutex::new(None),
            auth: tokio::sync::Mutex::new(AuthState::default()),
            requests: AtomicU64::new(0),
            in_flight: tokio::sync::Semaphore::new(MAX_CONCURRENT_REQUESTS),
            fastest: AtomicU64::new(u64::MAX),
        })
    }

    /// Calls the registry `label` in every message instead of by its host.
    pub fn set_label(&mut self, label: &str) {
        self.label = label.to_owned();
    }

    /// What messages call the registry.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The client for `url`'s scheme. Plain HTTP only when the settings ask for it.
    fn client_for(&self, url: &Url) -> Result<&reqwest::Client, Failure> {
        if url.scheme() == "http" {
            return self.plain.as_ref().ok_or_else(|| {
                Failure::permanent(
                    "refusing plain HTTP to a registry reached over HTTPS",
                    "it sent nodefit to plain HTTP, which is refused",
                )
            });
        }
        self.tls
            .get_or_init(|| {
                client_builder(&self.settings)
                    .https_only(true)
                    .tls_certs_merge(self.extra_roots.clone())
                    .build()
                    .map_err(|e| {
                        Text::from(
                            "cannot set up HTTPS (no system CA certificates? install \
                             ca-certificates, or give ",
                        )
                        .setting(Setting::CaFile)
                        .words(&format!("): {}", error_chain(&e)))
                    })
            })
            .as_ref()
            .map_err(|e| Failure::permanent(e.clone(), "HTTPS could not be set up"))
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// Tells the settings' observer, if any.
    pub fn report(&self, event: &Event) {
        if let Some(observer) = &self.settings.observer {
            observer(event);
        }
    }

    /// The quickest answered exchange so far (zero before the first).
    pub fn fastest_exchange(&self) -> Duration {
        match self.fastest.load(Ordering::Relaxed) {
            u64::MAX => Duration::ZERO,
            micros => Duration::from_micros(micros),
        }
    }

    /// HTTP requests sent so far (retries and token requests included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// `/v2/<repository>/<rest>` on the registry.
    pub fn url(&self, rest: &str) -> Url {
        self.base
            .join(&format!("v2/{}/{rest}", self.repository))
            .expect("repository names and digests are URL-safe")
    }

    /// Resolves a URL the registry handed out (an upload `Location`, a `Link` to the next
    /// page) against the answer's URL, as HTTP says relative ones are; refused unless it stays
    /// on the registry's origin.
    pub fn registry_url(
        &self,
        response: &Response,
        header: &str,
        value: &str,
    ) -> Result<Url, Error> {
        let url = response
            .url
            .join(value)
            .map_err(|e| self.fail(response, format!("unusable {header} header: {e}")))?;
        if !self.same_origin(&url) {
            return Err(self.refuse(
                response,
                format!(
                    "its {header} header points outside the registry ({}); nodefit only follows \
                     the registry's own origin",
                    display_url(&url)
                ),
                format!("its {header} header points outside the registry, which is refused"),
            ));
        }
        Ok(url)
    }

    /// The upload `Location` of an answer.
    pub fn location(&self, response: &Response) -> Result<Url, Error> {
        let location = response.header("location").ok_or_else(|| {
            self.fail(response, "the registry sent no Location header".to_owned())
        })?;
        self.registry_url(response, "Location", location)
    }

    /// An error for an answer the caller did not expect: the command line gets the status and
    /// the registry's explanation, clients of the server only the status and what it means.
    pub fn unexpected(&self, response: &Response) -> Error {
        let status = reqwest::StatusCode::from_u16(response.status)
            .map(|s| s.to_string())
            .unwrap_or_else(|_| response.status.to_string());
        let detail = error_detail(&response.body);
        let outcome = if detail.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {detail}")
        };
        self.error(
            &response.method,
            &response.url,
            Some(response.status),
            outcome.into(),
            explain_status(response.status).into(),
            response.attempts,
        )
    }

    /// Fails unless the status is one of `ok`.
    pub fn expect(&self, response: Response, ok: &[u16]) -> Result<Response, Error> {
        if ok.contains(&response.status) {
            Ok(response)
        } else {
            Err(self.unexpected(&response))
        }
    }

    /// An error about what `response` holds. `outcome` is nodefit's own finding and must name
    /// no host and quote no more of the answer than digests.
    pub fn fail(&self, response: &Response, outcome: String) -> Error {
        let outcome = Text::from(outcome);
        self.error(
            &response.method,
            &response.url,
            Some(response.status),
            outcome.clone(),
            outcome,
            response.attempts,
        )
    }

    /// An error about `response` that nodefit refuses to act on: `detail` may name hosts,
    /// `public` may not.
    fn refuse(
        &self,
        response: &Response,
        detail: impl Into<Text>,
        public: impl Into<Text>,
    ) -> Error {
        self.error(
            &response.method,
            &response.url,
            Some(response.status),
            detail.into(),
            public.into(),
            response.attempts,
        )
    }

    fn error(
        &self,
        method: &Method,
        url: &Url,
        status: Option<u16>,
        outcome: Text,
        reason: Text,
        attempts: u32,
    ) -> Error {
        Error::Request(Box::new(RequestError {
            registry: self.label.clone(),
            repository: self.repository.clone(),
            method: method.to_string(),
            target: display_url(url),
            what: self.describe(url),
            status,
            outcome,
            reason,
            attempts,
            retryable: status.is_some_and(retry::retryable_status),
        }))
    }

    /// What a URL is, in words that name no host: `tag v1`, `blob sha256:…`.
    fn describe(&self, url: &Url) -> String {
        if !self.same_origin(url) {
            return "a request outside the registry".into();
        }
        let prefix = format!("/v2/{}/", self.repository);
        let Some(rest) = url.path().strip_prefix(&prefix) else {
            return "the registry".into();
        };
        if let Some(reference) = rest.strip_prefix("manifests/") {
            if reference.starts_with("sha256:") {
                format!("manifest {reference}")
            } else if reference.starts_with("sha256-") && reference.ends_with(".sig") {
                format!("the signature tag `{reference}`")
            } else if reference.starts_with("sha256-") {
                format!("the referrers index tag `{reference}`")
            } else {
                format!("the tag `{reference}`")
            }
        } else if rest.starts_with("blobs/uploads") {
            "a blob upload".into()
        } else if let Some(digest) = rest.strip_prefix("blobs/") {
            format!("blob {digest}")
        } else if let Some(digest) = rest.strip_prefix("referrers/") {
            format!("the referrers list of {digest}")
        } else if rest == "tags/list" {
            "the tag list".into()
        } else {
            "the registry".into()
        }
    }

    /// Sends `request`, answering authentication challenges and retrying transient failures
    /// (429, 5xx, connection errors, timeouts) with backoff until [`retry::MAX_ATTEMPTS`] or the
    /// deadline. Returns the registry's last answer, whatever its status.
    pub async fn send(&self, request: &Request) -> Result<Response, Error> {
        if !self.same_origin(&request.url) {
            return Err(self.error(
                &request.method,
                &request.url,
                None,
                "refusing a request outside the registry's origin".into(),
                "a request outside the registry was refused".into(),
                0,
            ));
        }
        let mut attempts = 0;
        let mut challenges_answered = 0;
        loop {
            let (authorization, generation) = {
                let state = self.auth.lock().await;
                (state.header.clone(), state.generation)
            };
            attempts += 1;
            let outcome = self.attempt(request, authorization.as_ref()).await;
            let outcome = match outcome {
                // A 401 is not a failed attempt but a question; it is answered at most twice
                // (once more for an expired token), then the credentials were refused.
                Ok(mut response) if response.status == 401 => {
                    if challenges_answered == 2 {
                        response.attempts = attempts;
                        return Err(self.refused(&response));
                    }
                    self.answer_challenge(&response, generation).await?;
                    challenges_answered += 1;
                    attempts -= 1;
                    continue;
                }
                other => other,
            };
            let (transient, retry_after) = match &outcome {
                Ok(response) => (
                    retry::retryable_status(response.status),
                    response
                        .header("retry-after")
                        .and_then(retry::parse_retry_after),
                ),
                Err(failure) => (failure.transient, None),
            };
            let wait = retry::backoff(attempts, retry_after);
            let out_of_time = Instant::now() + wait >= self.settings.deadline;
            if transient && request.retry && attempts < retry::MAX_ATTEMPTS && !out_of_time {
                self.report(&Event::Retry {
                    method: request.method.as_str(),
                    url: &display_url(&request.url),
                    wait,
                });
                tokio::time::sleep(wait).await;
                continue;
            }
            return match outcome {
                Ok(mut response) => {
                    response.attempts = attempts;
                    Ok(response)
                }
                Err(failure) => {
                    let mut outcome = failure.detail;
                    if transient && out_of_time && attempts < retry::MAX_ATTEMPTS {
                        outcome = outcome
                            .words("; no time left to retry before the overall timeout (")
                            .setting(Setting::Deadline)
                            .words(")");
                    }
                    let mut error = self.error(
                        &request.method,
                        &request.url,
                        None,
                        outcome,
                        failure.public,
                        attempts,
                    );
                    if let Error::Request(e) = &mut error {
                        e.retryable = failure.transient;
                    }
                    Err(error)
                }
            };
        }
    }

    /// Counts one more request against [`MAX_REQUESTS`].
    fn count_request(&self) -> Result<(), Failure> {
        if self.requests.fetch_add(1, Ordering::Relaxed) >= MAX_REQUESTS {
            return Err(Failure::permanent(
                format!(
                    "this operation reached its limit of {MAX_REQUESTS} HTTP requests \
                     (transport::MAX_REQUESTS)"
                ),
                &format!("the operation reached its limit of {MAX_REQUESTS} requests"),
            ));
        }
        Ok(())
    }

    /// One HTTP exchange, redirects and body included, bounded by the request timeout and the
    /// deadline, and holding one of the [`MAX_CONCURRENT_REQUESTS`] slots.
    async fn attempt(
        &self,
        request: &Request,
        authorization: Option<&HeaderValue>,
    ) -> Result<Response, Failure> {
        let now = Instant::now();
        if now >= self.settings.deadline {
            return Err(Failure::transient(
                Text::from("the overall timeout (")
                    .setting(Setting::Deadline)
                    .words(") expired before it could be sent"),
                "time ran out before the request could be sent",
            ));
        }
        let budget = self
            .settings
            .request_timeout
            .min(self.settings.deadline - now);
        let started = std::time::Instant::now();
        let exchange = async {
            let _slot = self
                .in_flight
                .acquire()
                .await
                .expect("the semaphore is never closed");
            let mut url = request.url.clone();
            let mut authorization = authorization;
            let mut hops = 0;
            let response = loop {
                self.count_request()?;
                let mut builder = self
                    .client_for(&url)?
                    .request(request.method.clone(), url.clone());
                if let Some(accept) = &request.accept {
                    builder = builder.header(ACCEPT, accept);
                }
                if let Some(value) = authorization {
                    builder = builder.header(AUTHORIZATION, value.clone());
                }
                if let Some(body) = &request.body {
                    let content_type = request.content_type.unwrap_or("application/octet-stream");
                    builder = builder
                        .header(CONTENT_TYPE, content_type)
                        .body(body.clone());
                } else if matches!(request.method, Method::PUT | Method::POST) {
                    builder = builder.header(reqwest::header::CONTENT_LENGTH, "0");
                }
                let response = builder
                    .send()
                    .await
                    .map_err(|e| Failure::from_reqwest(&e))?;
                let follows = response.status().is_redirection()
                    && matches!(request.method, Method::GET | Method::HEAD);
                let next = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .filter(|_| follows);
                let Some(next) = next else {
                    break response;
                };
                match redirect_hop(&self.base, &request.method, request.blob, &next) {
                    Hop::Follow {
                        authorization: keep,
                    } => {
                        if !keep {
                            authorization = None;
                        }
                    }
                    Hop::Refuse => {
                        return Err(Failure::permanent(
                            format!(
                                "the registry redirected to {}, outside its origin; nodefit \
                                 follows redirects only within the registry (and, for blobs, \
                                 to HTTPS storage)",
                                display_url(&next)
                            ),
                            "it redirected outside the registry, which is refused",
                        ))
                    }
                }
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(Failure::permanent(
                        format!("more than {MAX_REDIRECTS} redirects (transport::MAX_REDIRECTS)"),
                        &format!("it redirected more than {MAX_REDIRECTS} times"),
                    ));
                }
                url = next;
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let url = response.url().clone();
            let success = (200..300).contains(&status);
            let limit = if success {
                request.limit
            } else {
                MAX_ERROR_BODY
            };
            let body = read_body(response, limit, !success).await?;
            Ok(Response {
                status,
                headers,
                body,
                attempts: 1,
                method: request.method.clone(),
                url,
            })
        };
        let outcome = match tokio::time::timeout(budget, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Failure::transient(
                if budget < self.settings.request_timeout {
                    Text::from("no answer before the overall timeout (")
                        .setting(Setting::Deadline)
                        .words(&format!(") expired ({} ms left)", budget.as_millis()))
                } else {
                    Text::from(format!("no answer within {} (", human_duration(budget)))
                        .setting(Setting::RequestTimeout)
                        .words(")")
                },
                "it did not answer in time",
            )),
        };
        if outcome.is_ok() {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX - 1);
            self.fastest.fetch_min(micros, Ordering::Relaxed);
        }
        self.report(&Event::Exchange {
            method: request.method.as_str(),
            url: &display_url(&request.url),
            outcome: match &outcome {
                Ok(r) => Outcome::Status(r.status),
                Err(f) => Outcome::Failed(&f.detail),
            },
            took: started.elapsed(),
        });
        outcome
    }

    /// Whether `url` is on the registry's own origin (scheme, host and port).
    pub fn same_origin(&self, url: &Url) -> bool {
        same_origin(&self.base, url)
    }

    fn credentials(&self) -> Result<Credentials, Error> {
        let mut cached = self.credentials.lock().expect("credentials lock");
        if let Some(credentials) = cached.as_ref() {
            return Ok(credentials.clone());
        }
        // Looked up only when a registry asks: anonymous registries never run a helper.
        let (credentials, origin) = self.settings.credentials.resolve(&self.registry)?;
        self.report(&Event::Credentials {
            registry: &self.registry,
            kind: credentials.kind(),
            origin: &origin,
        });
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    fn refused(&self, response: &Response) -> Error {
        let kind = self
            .credentials
            .lock()
            .expect("credentials lock")
            .as_ref()
            .map_or("no credentials", Credentials::kind);
        let mut error = self.unexpected(response);
        if let Error::Request(e) = &mut error {
            e.outcome = std::mem::take(&mut e.outcome)
                .words(&format!(" (authentication with {kind} was refused; use "))
                .setting(Setting::Credentials)
                .words(")");
        }
        error
    }

    /// Answers a 401: basic credentials for a `Basic` challenge, a token from the realm for a
    /// `Bearer` one. Requests refused at the same time answer it once (`generation`).
    async fn answer_challenge(&self, response: &Response, generation: u64) -> Result<(), Error> {
        let mut state = self.auth.lock().await;
        if state.generation != generation {
            return Ok(());
        }
        let challenges: Vec<Challenge> = response
            .headers
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_challenges)
            .collect();
        let credentials = self.credentials()?;
        let header = if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            match &credentials {
                Credentials::AccessToken(token) => format!("Bearer {}", token.expose()),
                _ => format!(
                    "Bearer {}",
                    self.fetch_token(bearer, &credentials, response).await?
                ),
            }
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            match &credentials {
                Credentials::Basic { username, password } => {
                    use base64::Engine;
                    let pair = format!("{username}:{}", password.expose());
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(pair)
                    )
                }
                other => {
                    return Err(self.refuse(
                        response,
                        Text::from(format!(
                            "HTTP 401 Unauthorized: the registry wants a username and password \
                             (basic auth) and nodefit has {}; use ",
                            other.kind()
                        ))
                        .setting(Setting::UsernamePassword),
                        format!(
                            "it wants a username and password, and nodefit has {}",
                            other.kind()
                        ),
                    ))
                }
            }
        } else {
            return Err(self.fail(
                response,
                "HTTP 401 Unauthorized without a Basic or Bearer challenge".to_owned(),
            ));
        };
        let mut value = HeaderValue::from_str(&header).map_err(|_| {
            self.fail(
                response,
                "the credentials contain characters not allowed in an HTTP header".to_owned(),
            )
        })?;
        value.set_sensitive(true);
        state.header = Some(value);
        state.generation += 1;
        Ok(())
    }

    /// Gets a bearer token from the challenge's realm for this repository's scope: with the
    /// refresh token (OAuth2 `POST`) or basic credentials or anonymously (`GET`), like docker
    /// and oras.
    async fn fetch_token(
        &self,
        challenge: &Challenge,
        credentials: &Credentials,
        challenged: &Response,
    ) -> Result<String, Error> {
        // The token server is not the registry: its failures are told as the token's.
        let token_error = |url: &Url, outcome: Text, reason: Text, attempts| {
            let mut error = self.error(&Method::GET, url, None, outcome, reason, attempts);
            if let Error::Request(e) = &mut error {
                e.what = "a token".into();
            }
            error
        };
        let realm = challenge
            .params
            .get("realm")
            .and_then(|r| Url::parse(r).ok())
            .ok_or_else(|| {
                self.refuse(
                    challenged,
                    "the Bearer challenge has no usable realm URL",
                    "its authentication challenge names no usable token realm",
                )
            })?;
        check_realm(&realm, &self.base, &self.settings.token_realm_hosts).map_err(|why| {
            self.refuse(
                challenged,
                why,
                Text::from(
                    "its token realm is neither on the registry's host nor on a token realm \
                     host named in ",
                )
                .setting(Setting::TokenRealmHosts)
                .words(", or is plain HTTP; nothing was sent there"),
            )
        })?;
        let mut params: Vec<(&str, &str)> = vec![("scope", &self.scope)];
        if let Some(service) = challenge.params.get("service") {
            params.push(("service", service));
        }
        let mut request = match credentials {
            Credentials::IdentityToken(token) => {
                let mut form = Url::parse("http://form.invalid/").expect("static URL");
                form.query_pairs_mut()
                    .extend_pairs(&params)
                    .append_pair("grant_type", "refresh_token")
                    .append_pair("client_id", "nodefit")
                    .append_pair("refresh_token", token.expose());
                let body = form.query().unwrap_or_default().as_bytes().to_vec();
                Request::new(Method::POST, realm.clone())
                    .body("application/x-www-form-urlencoded", body)
            }
            _ => {
                let mut url = realm.clone();
                url.query_pairs_mut().extend_pairs(&params);
                Request::new(Method::GET, url)
            }
        };
        request.limit = MAX_TOKEN_BODY;
        let basic = match credentials {
            Credentials::Basic { username, password } => Some((username, password)),
            _ => None,
        };
        let mut attempts = 0;
        let failed = |f: Failure, attempts| token_error(&request.url, f.detail, f.public, attempts);
        let response = loop {
            attempts += 1;
            // Token servers are not followed through redirects: the realm checked above is
            // where credentials go, and nowhere else.
            let sent = async {
                let _slot = self.in_flight.acquire().await.expect("never closed");
                self.count_request()?;
                let mut builder = self
                    .client_for(&request.url)?
                    .request(request.method.clone(), request.url.clone())
                    .timeout(self.settings.request_timeout);
                if let Some((username, password)) = basic {
                    builder = builder.basic_auth(username, Some(password.expose()));
                }
                if let Some(body) = &request.body {
                    builder = builder
                        .header(CONTENT_TYPE, request.content_type.unwrap_or_default())
                        .body(body.clone());
                }
                let response = builder
                    .send()
                    .await
                    .map_err(|e| Failure::from_reqwest(&e))?;
                let status = response.status().as_u16();
                let body = if response.status().is_success() {
                    read_body(response, MAX_TOKEN_BODY, false).await?
                } else {
                    Vec::new()
                };
                Ok::<_, Failure>((status, body))
            }
            .await;
            self.report(&Event::Token {
                method: request.method.as_str(),
                url: &display_url(&request.url),
                scope: &self.scope,
                outcome: match &sent {
                    Ok((status, _)) => Outcome::Status(*status),
                    Err(f) => Outcome::Failed(&f.detail),
                },
            });
            match sent {
                Ok((status, body)) if !retry::retryable_status(status) => break (status, body),
                Ok(answer) if attempts >= retry::MAX_ATTEMPTS => break answer,
                Err(f) if !f.transient || attempts >= retry::MAX_ATTEMPTS => {
                    return Err(failed(f, attempts))
                }
                _ => tokio::time::sleep(retry::backoff(attempts, None)).await,
            }
        };
        let (status, body) = response;
        if !(200..300).contains(&status) {
            // The body is not quoted: token servers may echo what they were sent.
            return Err(token_error(
                &request.url,
                format!(
                    "token server answered HTTP {status} for scope {} with {}",
                    self.scope,
                    credentials.kind()
                )
                .into(),
                format!(
                    "its token server refused a token for {} with {}",
                    self.scope,
                    credentials.kind()
                )
                .into(),
                attempts,
            ));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let malformed = |what: &str| {
            token_error(
                &request.url,
                what.into(),
                "its token server's answer holds no usable token".into(),
                attempts,
            )
        };
        let token: Token = serde_json::from_slice(&body)
            .map_err(|_| malformed("the token server's answer is not the JSON registries use"))?;
        let token = if token.token.is_empty() {
            token.access_token
        } else {
            token.token
        };
        if token.is_empty() {
            return Err(malformed("the token server's answer holds no token"));
        }
        Ok(token)
    }
}

/// Redirects are followed by `Transport::attempt`, one hop at a time through `redirect_hop`,
/// never by reqwest, whose policy would follow a registry anywhere.
fn client_builder(settings: &Settings) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("nodefit/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(settings.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
}

/// Reads a body up to `limit` bytes: beyond it, an error, or (`truncate`, for error bodies)
/// just the first `limit` bytes.
async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
    truncate: bool,
) -> Result<Vec<u8>, Failure> {
    let too_large = || {
        Failure::permanent(
            format!("the answer is larger than {limit} bytes, the most nodefit reads here"),
            &format!("its answer is larger than the {limit} bytes nodefit reads here"),
        )
    };
    if !truncate && response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::from_reqwest(&e))?
    {
        if body.len() + chunk.len() > limit {
            if truncate {
                body.extend_from_slice(&chunk[..limit - body.len()]);
                return Ok(body);
            }
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A URL for messages and logs: without its query, which may carry upload state or signatures.
fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// A reqwest error as a cause, without its URL (which may carry a query) and with its sources;
/// and whether it is about a certificate, which another attempt will not change.
fn describe_reqwest_error(error: &reqwest::Error) -> (Text, bool) {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else if error.is_redirect() {
        "bad redirect"
    } else {
        "request failed"
    };
    let chain = error_chain(error);
    let detail = if chain.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {chain}")
    };
    let certificate = detail.contains("certificate");
    let private_ca =
        detail.contains("UnknownIssuer") || detail.contains("invalid peer certificate");
    let mut text = Text::from(detail);
    if private_ca {
        text = text
            .words(" (a private CA? give its certificate with ")
            .setting(Setting::CaFile)
            .words(")");
    }
    (text, certificate)
}

/// The sources of an error, joined, skipping reqwest's own URL-bearing top line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// A short, printable explanation from a registry's error body: the distribution-spec
/// `{"errors": [{"code", "message"}]}` when present, else the first line of text.
fn error_detail(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let text = match serde_json::from_slice::<Errors>(body) {
        Ok(parsed) if !parsed.errors.is_empty() => parsed
            .errors
            .iter()
            .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
                (false, false) => format!("{}: {}", e.code, e.message),
                (false, true) => e.code.clone(),
                _ => e.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(body)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default()
            .to_owned(),
    };
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() > MAX_DETAIL_CHARS {
        let cut: String = clean.chars().take(MAX_DETAIL_CHARS).collect();
        format!("{cut}...")
    } else {
        clean
    }
}

/// What an unexpected status means, in words that quote nothing the registry sent.
fn explain_status(status: u16) -> &'static str {
    match status {
        400 => "it refused the request as invalid",
        401 => "the credentials were refused",
        403 => "access is denied",
        404 => "it does not exist",
        405 => "the registry does not allow this operation",
        409 => "it conflicts with what the registry holds",
        413 => "it is too large for the registry",
        429 => "the registry is limiting requests; try again later",
        500..=599 => "the registry failed (a server error)",
        300..=399 => "a redirect that nodefit does not follow",
        _ => "an answer nodefit did not expect",
    }
}

/// `1.5 s`, `300 ms`.
fn human_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_summarised() {
        assert_eq!(
            error_detail(
                br#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:..."}]}"#
            ),
            "MANIFEST_BLOB_UNKNOWN: blob unknown to registry"
        );
        assert_eq!(
            error_detail(b"\n404 page not found\n"),
            "404 page not found"
        );
        assert_eq!(error_detail(b""), "");
        let long = "x".repeat(1000);
        assert_eq!(error_detail(long.as_bytes()).len(), MAX_DETAIL_CHARS + 3);
        assert_eq!(error_detail(b"a\x1b[31mb"), "a [31mb");
    }

    #[test]
    fn token_realms_are_the_registrys_host_or_named_ones_over_https() {
        let url = |u: &str| Url::parse(u).unwrap();
        let tls = url("https://registry.example.com/");
        let plain = url("http://10.0.0.5:5000/");
        let hub = ["auth.docker.io".to_owned()];
        let ok = |realm: &str, base: &Url, named: &[String]| {
            check_realm(&url(realm), base, named).is_ok()
        };
        assert!(ok("https://registry.example.com/token", &tls, &[]));
        assert!(ok("https://registry.example.com:8443/token", &tls, &[]));
        assert!(ok("https://auth.docker.io/token", &tls, &hub));
        assert!(ok("http://10.0.0.5:5000/token", &plain, &[]));
        assert!(!ok("https://auth.docker.io/token", &tls, &[]));
        assert!(!ok("https://auth.docker.io:8443/token", &tls, &hub));
        assert!(!ok("https://evil.example.com/token", &tls, &hub));
        assert!(!ok("http://registry.example.com/token", &tls, &[]));
        assert!(!ok("http://10.0.0.5:5001/token", &plain, &[]));
        assert!(!ok("http://10.0.0.6:5000/token", &plain, &[]));
        assert!(!ok("http://auth.docker.io/token", &plain, &hub));
        assert!(!ok("ftp://registry.example.com/token", &tls, &[]));
        let why = check_realm(&url("https://evil.example.com/t?secret=1"), &tls, &[])
            .unwrap_err()
            .to_string();
        assert!(
            why.contains("https://evil.example.com/t") && !why.contains("secret"),
            "{why}"
        );
    }

    #[test]
    fn redirects_stay_on_the_registry_except_blobs_to_https_storage() {
        let url = |u: &str| Url::parse(u).unwrap();
        let base = url("http://127.0.0.1:5000/");
        let with_auth = Hop::Follow {
            authorization: true,
        };
        let without = Hop::Follow {
            authorization: false,
        };
        let hop =
            |method: Method, blob: bool, next: &str| redirect_hop(&base, &method, blob, &url(next));
        assert_eq!(
            hop(Method::GET, false, "http://127.0.0.1:5000/v2/x"),
            with_auth
        );
        assert_eq!(
            hop(Method::GET, true, "https://bucket.s3.example/x?sig=1"),
            without
        );
        assert_eq!(hop(Method::HEAD, true, "https://cdn.example/x"), without);
        assert_eq!(
            hop(Method::GET, true, "http://storage.example/x"),
            Hop::Refuse
        );
        assert_eq!(
            hop(Method::GET, false, "https://cdn.example/x"),
            Hop::Refuse
        );
        assert_eq!(
            hop(Method::GET, false, "http://127.0.0.2:5000/v2/x"),
            Hop::Refuse
        );
        assert_eq!(
            hop(Method::GET, false, "http://127.0.0.1:5001/v2/x"),
            Hop::Refuse
        );
        assert_eq!(hop(Method::PUT, true, "https://cdn.example/x"), Hop::Refuse);
    }

    #[test]
    fn statuses_are_explained_without_the_registrys_words() {
        for status in [400, 401, 403, 404, 405, 409, 413, 429, 500, 503, 307, 418] {
            let text = explain_status(status);
            assert!(
                !text.is_empty() && !text.contains("HTTP"),
                "{status}: {text}"
            );
        }
        assert_eq!(explain_status(404), "it does not exist");
    }

    #[test]
    fn urls_in_messages_carry_no_query_or_userinfo() {
        let url =
            Url::parse("http://u:p@127.0.0.1:5000/v2/a/blobs/uploads/x?_state=secret&digest=d")
                .unwrap();
        assert_eq!(
            display_url(&url),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/x"
        );
    }
}
