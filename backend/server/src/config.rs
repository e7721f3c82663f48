//! The server's settings: command-line flags and environment variables over an optional TOML
//! file over defaults, validated once at start so that a typo stops the server instead of
//! surfacing on the first publish. docs/server.md describes the file.
//!
//! Registry credentials live only here, inside [`nodefit_registry::Secret`]s whose `Debug` prints
//! nothing; the signing key is decrypted at start (so a wrong password stops the server, not a
//! publish) and its password is not kept. No endpoint returns any of them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use nodefit_files::MAX_SECRET_BYTES;
use nodefit_registry::{Credentials, Secret, MAX_CA_FILE_BYTES};

/// Where the server listens unless told otherwise: loopback only, so that a first run exposes
/// nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Largest snapshot upload (`--max-upload-bytes`).
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Longest a request may take before it is answered 408 (`request_timeout_secs`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Database connections per process (`db_max_connections`).
pub const DEFAULT_DB_MAX_CONNECTIONS: u32 = 10;
/// Client connections open at once (`max_connections`): far below the usual 1,024 descriptors
/// a process may hold, which also serve the database, registries and files.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Time a client has to send a request head, which is also how long a kept-alive connection
/// may stay idle (`header_timeout_secs`).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest configuration file read.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;
/// The database file inside the data directory.
pub const SQLITE_FILE: &str = "nodefit.db";

/// Where the data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// An SQLite file (created with its directory on first run).
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl DatabaseLocation {
    /// `--database-url` wins over `--data-dir`; `sqlite:` URLs are accepted too.
    pub fn choose(database_url: Option<&str>, data_dir: Option<&Path>) -> Result<Self> {
        match database_url.filter(|u| !u.is_empty()) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres(url.to_owned()))
            }
            Some(url) => match url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
            {
                Some(path) if !path.is_empty() && !path.contains('?') => {
                    Ok(Self::Sqlite(PathBuf::from(path)))
                }
                _ => bail!(
                    "--database-url: expected postgres://USER@HOST/DB or sqlite:PATH (without \
                     options), not {:?}",
                    redact_url(url)
                ),
            },
            None => {
                let dir = match data_dir {
                    Some(dir) => dir.to_path_buf(),
                    None => default_data_dir(),
                };
                Ok(Self::Sqlite(dir.join(SQLITE_FILE)))
            }
        }
    }

    /// For logs: the file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite {}", path.display()),
            Self::Postgres(url) => format!("PostgreSQL {}", redact_url(url)),
        }
    }
}

/// `$XDG_DATA_HOME/nodefit`, else `~/.local/share/nodefit`, else `./nodefit-data`.
fn default_data_dir() -> PathBuf {
    let nonempty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(xdg) = nonempty("XDG_DATA_HOME") {
        return PathBuf::from(xdg).join("nodefit");
    }
    if let Some(home) = nonempty("HOME") {
        return PathBuf::from(home).join(".local/share/nodefit");
    }
    PathBuf::from("nodefit-data")
}

/// A URL with any `user:password@` reduced to `user:***@`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{masked}{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Compact,
    /// One JSON object per event, for log collectors.
    Json,
}

impl LogFormat {
    pub const ALL: [LogFormat; 2] = [LogFormat::Compact, LogFormat::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Compact => "compact",
            LogFormat::Json => "json",
        }
    }

    pub fn parse(text: &str) -> Option<LogFormat> {
        LogFormat::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

/// A registry publishing may reach. Nothing else is ever dialled.
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// What clients call it (`GET /api/v1/registries`, `"registry"` in publish requests).
    pub name: String,
    /// `host` or `host:port`, as image references name it.
    pub host: String,
    pub plain_http: bool,
    /// Extra CA certificates (PEM) to trust for this registry.
    pub ca_file: Option<PathBuf>,
    pub credentials: Credentials,
    /// Hosts besides `host` that may serve its token realm over HTTPS (Docker Hub's
    /// `auth.docker.io`).
    pub token_realm_hosts: Vec<String>,
}

/// What publish signs with, read (and decrypted) at start: a cosign key for sigstore bundles and
/// classic signatures, a key and certificate chain for Notary Project signatures, or both.
#[derive(Clone, Debug)]
pub struct SigningConfig {
    pub cosign: Option<CosignSigner>,
    pub notation: Option<std::sync::Arc<NotationSigner>>,
    /// The formats a publish signs in, in order (`formats`; default: a sigstore bundle, or a
    /// Notary Project signature when only notation's key is configured).
    pub formats: Vec<nodefit_signing::remote::Format>,
}

#[derive(Clone, Debug)]
pub struct CosignSigner {
    pub key_file: PathBuf,
    /// p256's key prints no secret in `Debug` and zeroizes itself when dropped.
    pub key: p256::ecdsa::SigningKey,
    /// Its public half as PKIX PEM (`cosign.pub`), for `GET /api/v1/signing/public-key`.
    pub public_key_pem: String,
}

/// notation's signing key (RSA or ECDSA, unencrypted PEM, as notation keeps it) and the
/// certificate chain that goes into every envelope.
pub struct NotationSigner {
    pub key: nodefit_signing::notary::keys::SigningKey,
    /// DER certificates, signing certificate first, ending with the root.
    pub chain: Vec<Vec<u8>>,
    pub envelope: nodefit_signing::notary::EnvelopeFormat,
}

impl std::fmt::Debug for NotationSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotationSigner")
            .field("certificates", &self.chain.len())
            .field("envelope", &self.envelope)
            .finish_non_exhaustive()
    }
}

/// Everything `nodefit serve` runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: DatabaseLocation,
    pub db_max_connections: u32,
    /// The web UI build (index.html and its assets).
    pub ui_dir: PathBuf,
    pub max_upload_bytes: usize,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// Pieces of CPU-bound work (lint, evaluation, parsing, diffs) run at once.
    pub cpu_workers: usize,
    pub log_format: LogFormat,
    /// Sorted by name.
    pub registries: Vec<RegistryConfig>,
    pub signing: Option<SigningConfig>,
    /// The trust policy (`[trust] policy_file`), read with everything it names at start: what
    /// must verify before an attached spec is listed as trusted, served for evaluation, or
    /// published over. Without one, the server trusts its own signing key only.
    pub trust: Option<std::sync::Arc<nodefit_signing::trust_files::Policy>>,
    /// What the operator should know about the configuration, logged once logging is set up.
    pub notices: Vec<String>,
}

impl Config {
    pub fn registry(&self, name: &str) -> Option<&RegistryConfig> {
        self.registries.iter().find(|r| r.name == name)
    }
}

/// What the command line (and the environment variables clap reads for it) gave.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub ui_dir: Option<PathBuf>,
    pub max_upload_bytes: Option<usize>,
    pub log_format: Option<LogFormat>,
}

/// The TOML file. Unknown keys are refused: a misspelt `pasword_file` must not silently mean
/// "no password".
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    db_max_connections: Option<u32>,
    ui_dir: Option<PathBuf>,
    max_upload_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    header_timeout_secs: Option<u64>,
    cpu_workers: Option<usize>,
    /// The size of a cache the fleet replaced: accepted so that a file naming it still starts
    /// the server, with a notice.
    feature_cache_mb: Option<usize>,
    log_format: Option<LogFormat>,
    signing: Option<FileSigning>,
    trust: Option<FileTrust>,
    #[serde(default)]
    registries: BTreeMap<String, FileRegistry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTrust {
    /// A nodefit trust policy (docs/signing.md).
    policy_file: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSigning {
    /// A cosign key: bundles and classic signatures.
    key_file: Option<PathBuf>,
    password_file: Option<PathBuf>,
    /// notation's key and its certificate chain (PEM, signing certificate first).
    notation_key_file: Option<PathBuf>,
    notation_cert_file: Option<PathBuf>,
    /// `jws` (default, as notation) or `cose`.
    notation_envelope: Option<String>,
    /// `bundle`, `classic`, `notation`: the formats a publish signs in, in this order.
    formats: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRegistry {
    host: String,
    #[serde(default)]
    plain_http: bool,
    ca_file: Option<PathBuf>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    #[serde(default)]
    token_realm_hosts: Vec<String>,
}

/// Reads the environment through a function so that tests need not change the process's.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, empty values counting as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Builds the configuration: flags over the file over defaults; secrets from the environment
/// over the file.
pub fn load(file: Option<&Path>, overrides: &Overrides, env: Env) -> Result<Config> {
    let file_config = match file {
        Some(path) => {
            // Read as a secret: it may hold registry passwords and tokens.
            let bytes = nodefit_files::read_secret(path, MAX_CONFIG_BYTES)?;
            let text = bytes.text()?;
            toml::from_str::<FileConfig>(text).map_err(|e| {
                // The position and message only: toml's own text quotes the line, and that line
                // may hold a password.
                let at = e.span().map_or(String::new(), |span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("line {line}, column {column}: ")
                });
                anyhow::anyhow!(
                    "{}: not a valid nodefit server configuration: {at}{}",
                    path.display(),
                    e.message()
                )
            })?
        }
        None => FileConfig::default(),
    };
    let base = file.and_then(Path::parent).unwrap_or(Path::new(""));
    // Relative paths in the file are relative to the file, so that it can move with its secrets.
    let in_file = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };

    let listen_text = overrides
        .listen
        .clone()
        .or(file_config.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen: SocketAddr = listen_text
        .parse()
        .with_context(|| format!("listen address {listen_text:?} is not IP:PORT"))?;

    let database_url = overrides.database_url.clone().or(file_config.database_url);
    let data_dir = overrides
        .data_dir
        .clone()
        .or(file_config.data_dir.map(in_file));
    let database = DatabaseLocation::choose(database_url.as_deref(), data_dir.as_deref())?;

    let max_upload_bytes = overrides
        .max_upload_bytes
        .or(file_config.max_upload_bytes)
        .unwrap_or(DEFAULT_MAX_UPLOAD_BYTES);
    if max_upload_bytes == 0 || max_upload_bytes > 1024 * 1024 * 1024 {
        bail!("max_upload_bytes must be between 1 byte and 1 GiB, not {max_upload_bytes}");
    }
    let request_timeout = file_config
        .request_timeout_secs
        .map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_secs);
    if request_timeout.is_zero() {
        bail!("request_timeout_secs must be at least 1");
    }
    let db_max_connections = file_config
        .db_max_connections
        .unwrap_or(DEFAULT_DB_MAX_CONNECTIONS);
    if db_max_connections == 0 {
        bail!("db_max_connections must be at least 1");
    }
    let max_connections = file_config
        .max_connections
        .unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if max_connections == 0 {
        bail!("max_connections must be at least 1");
    }
    let header_timeout = file_config
        .header_timeout_secs
        .map_or(DEFAULT_HEADER_TIMEOUT, Duration::from_secs);
    if header_timeout.is_zero() {
        bail!("header_timeout_secs must be at least 1");
    }
    let cpu_workers = match file_config.cpu_workers {
        Some(0) => bail!("cpu_workers must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };

    let registries = file_config
        .registries
        .into_iter()
        .map(|(name, r)| registry(name, r, &in_file, env))
        .collect::<Result<Vec<_>>>()?;
    check_env_prefixes(&registries)?;

    let signing = file_config
        .signing
        .map(|s| signing(s, &in_file, env))
        .transpose()?;
    let trust = file_config
        .trust
        .map(|t| {
            nodefit_signing::trust_files::Policy::load(&in_file(t.policy_file))
                .map(std::sync::Arc::new)
                .context("trust: policy_file")
        })
        .transpose()?;

    Ok(Config {
        listen,
        database,
        db_max_connections,
        ui_dir: overrides
            .ui_dir
            .clone()
            .or(file_config.ui_dir.map(in_file))
            .unwrap_or_else(|| PathBuf::from("frontend/dist")),
        max_upload_bytes,
        request_timeout,
        max_connections,
        header_timeout,
        cpu_workers,
        log_format: overrides
            .log_format
            .or(file_config.log_format)
            .unwrap_or_default(),
        registries,
        signing,
        trust,
        notices: file_config
            .feature_cache_mb
            .map(|_| {
                "feature_cache_mb has no effect any more: the server holds the whole fleet, \
                 interned (docs/server.md, \"Fleet evaluation\"); remove it from the file"
                    .to_owned()
            })
            .into_iter()
            .collect(),
    })
}

/// A secret file's content without one trailing newline (what `echo secret > file` leaves).
fn read_secret_file(path: &Path, what: &str) -> Result<Secret> {
    let context = || format!("{what}: cannot read the secret file");
    let bytes = nodefit_files::read_secret(path, MAX_SECRET_BYTES).with_context(context)?;
    let text = bytes.text().with_context(context)?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    if text.is_empty() {
        bail!("{what}: {} is empty", path.display());
    }
    Ok(Secret::new(text.to_owned()))
}

/// The environment variable prefix of a registry: `NODEFIT_REGISTRY_<NAME>_`, the name upper-cased
/// with every other character than a letter or digit turned into `_`.
pub fn env_prefix(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("NODEFIT_REGISTRY_{upper}_")
}

fn check_env_prefixes(registries: &[RegistryConfig]) -> Result<()> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for r in registries {
        if let Some(other) = seen.insert(env_prefix(&r.name), &r.name) {
            bail!(
                "registries {other:?} and {:?} share the environment variables {}*; rename one",
                r.name,
                env_prefix(&r.name)
            );
        }
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

/// `host` or `host:port` (a bracketed IPv6 address with a port too), nothing more: the scheme
/// comes from `plain_http`, and a path would let a request reach somewhere else than the
/// registry's API.
fn valid_host(host: &str) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((addr, "")) => (addr, None),
            Some((addr, port)) => match port.strip_prefix(':') {
                Some(p) => (addr, Some(p)),
                None => return false,
            },
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:".contains(c));
    port_ok && name_ok
}

fn registry(
    name: String,
    r: FileRegistry,
    in_file: &dyn Fn(PathBuf) -> PathBuf,
    env: Env,
) -> Result<RegistryConfig> {
    if !valid_name(&name) {
        bail!(
            "registry name {name:?}: use 1 to 63 lower-case letters, digits, '-', '_' or '.', \
             starting with a letter or digit"
        );
    }
    let what = format!("registry {name:?}");
    if !valid_host(&r.host) {
        bail!(
            "{what}: host {:?} must be HOST or HOST:PORT, without a scheme or path (plain HTTP is \
             `plain_http = true`)",
            r.host
        );
    }
    if let Some(bad) = r.token_realm_hosts.iter().find(|h| !valid_host(h)) {
        bail!(
            "{what}: token realm host {bad:?} must be HOST or HOST:PORT, without a scheme or path"
        );
    }
    let ca_file = r.ca_file.map(in_file);
    if let Some(ca) = &ca_file {
        let pem = nodefit_files::read_bytes(ca, MAX_CA_FILE_BYTES)
            .with_context(|| format!("{what}: ca_file"))?;
        let has_certificate = std::str::from_utf8(&pem)
            .is_ok_and(|text| text.contains("-----BEGIN CERTIFICATE-----"));
        if !has_certificate {
            bail!("{what}: ca_file {} holds no PEM certificate", ca.display());
        }
    }
    let prefix = env_prefix(&name);
    let from_env = |suffix: &str| env(&format!("{prefix}{suffix}"));

    let username = from_env("USERNAME").or(r.username);
    let password = match (from_env("PASSWORD"), r.password, r.password_file) {
        (Some(p), _, _) => Some(Secret::new(p)),
        (None, Some(_), Some(_)) => bail!("{what}: give password or password_file, not both"),
        (None, Some(p), None) => Some(Secret::new(p)),
        (None, None, Some(f)) => Some(read_secret_file(
            &in_file(f),
            &format!("{what}: password_file"),
        )?),
        (None, None, None) => None,
    };
    let token = match (from_env("TOKEN"), r.token, r.token_file) {
        (Some(t), _, _) => Some(Secret::new(t)),
        (None, Some(_), Some(_)) => bail!("{what}: give token or token_file, not both"),
        (None, Some(t), None) => Some(Secret::new(t)),
        (None, None, Some(f)) => Some(read_secret_file(
            &in_file(f),
            &format!("{what}: token_file"),
        )?),
        (None, None, None) => None,
    };
    let credentials = match (username, password, token) {
        (_, Some(_), Some(_)) => bail!("{what}: give a password or a token, not both"),
        (Some(username), Some(password), None) if !username.is_empty() => {
            Credentials::Basic { username, password }
        }
        (_, Some(_), None) => {
            bail!("{what}: a password needs a username ({prefix}USERNAME or username)")
        }
        (Some(u), None, None) if !u.is_empty() => {
            bail!("{what}: username {u:?} without a password ({prefix}PASSWORD, password or password_file)")
        }
        (_, None, Some(token)) => Credentials::AccessToken(token),
        _ => Credentials::Anonymous,
    };
    Ok(RegistryConfig {
        name,
        host: r.host,
        plain_http: r.plain_http,
        ca_file,
        credentials,
        token_realm_hosts: r.token_realm_hosts,
    })
}

fn signing(
    s: FileSigning,
    in_file: &dyn Fn(PathBuf) -> PathBuf,
    env: Env,
) -> Result<SigningConfig> {
    use nodefit_signing::remote::Format;
    let cosign = s
        .key_file
        .map(|key_file| cosign_signer(in_file(key_file), s.password_file, in_file, env))
        .transpose()?;
    let notation = match (s.notation_key_file, s.notation_cert_file) {
        (Some(key), Some(cert)) => Some(std::sync::Arc::new(notation_signer(
            &in_file(key),
            &in_file(cert),
            s.notation_envelope.as_deref(),
        )?)),
        (None, None) if s.notation_envelope.is_none() => None,
        _ => bail!(
            "signing: notation_key_file and notation_cert_file go together (notation_envelope \
             with them)"
        ),
    };
    let default = if cosign.is_some() {
        "bundle"
    } else {
        "notation"
    };
    let mut formats = Vec::new();
    for name in s.formats.unwrap_or_else(|| vec![default.into()]) {
        match Format::parse(&name) {
            Some(format) if formats.contains(&format) => {
                bail!("signing: formats: {name:?} is listed twice")
            }
            Some(Format::Notation) if notation.is_none() => bail!(
                "signing: formats: \"notation\" needs notation_key_file and notation_cert_file"
            ),
            Some(format @ (Format::Bundle | Format::Classic)) if cosign.is_none() => bail!(
                "signing: formats: {:?} needs key_file, a cosign key",
                format.name()
            ),
            Some(format) => formats.push(format),
            None => bail!(
                "signing: formats: {name:?} is not a format (\"bundle\", \"classic\", \
                 \"notation\")"
            ),
        }
    }
    if formats.is_empty() {
        bail!("signing: formats is empty; leave it out to sign in \"{default}\"");
    }
    Ok(SigningConfig {
        cosign,
        notation,
        formats,
    })
}

fn cosign_signer(
    key_file: PathBuf,
    password_file: Option<PathBuf>,
    in_file: &dyn Fn(PathBuf) -> PathBuf,
    env: Env,
) -> Result<CosignSigner> {
    use nodefit_signing::{keys, read_private_key, MAX_KEY_BYTES, PASSWORD_ENV};
    let key_bytes =
        nodefit_files::read_secret(&key_file, MAX_KEY_BYTES).context("signing: key_file")?;
    let password = match (env(PASSWORD_ENV), password_file) {
        (Some(p), _) => Some(Secret::new(p)),
        (None, Some(f)) => Some(read_secret_file(&in_file(f), "signing: password_file")?),
        (None, None) => None,
    };
    // Without a password an encrypted key is tried with the empty one, as cosign does with an
    // empty COSIGN_PASSWORD.
    let (key, _) = read_private_key(key_bytes.as_bytes(), || {
        Ok(zeroize::Zeroizing::new(
            password.as_ref().map_or("", Secret::expose).to_owned(),
        ))
    })
    .map_err(|e| {
        let hint = if password.is_none() {
            format!(" (give its password in {PASSWORD_ENV} or password_file)")
        } else {
            String::new()
        };
        anyhow::anyhow!("signing: key_file {}: {e}{hint}", key_file.display())
    })?;
    let public_key_pem = keys::public_pem(key.verifying_key())?;
    Ok(CosignSigner {
        key_file,
        key,
        public_key_pem,
    })
}

fn notation_signer(key: &Path, cert: &Path, envelope: Option<&str>) -> Result<NotationSigner> {
    use nodefit_signing::notary::{keys::SigningKey, trust_store, EnvelopeFormat};
    use nodefit_signing::trust_files::MAX_CERT_FILE_BYTES;
    let envelope = match envelope.unwrap_or("jws") {
        "jws" => EnvelopeFormat::Jws,
        "cose" => EnvelopeFormat::Cose,
        other => bail!("signing: notation_envelope {other:?} is not \"jws\" or \"cose\""),
    };
    let bytes = nodefit_files::read_secret(key, nodefit_signing::MAX_KEY_BYTES)
        .context("signing: notation_key_file")?;
    let key = SigningKey::from_pem(bytes.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing: notation_key_file {}: {e}", key.display()))?;
    let chain = nodefit_files::read_bytes(cert, MAX_CERT_FILE_BYTES)
        .context("signing: notation_cert_file")?;
    let chain = trust_store::certificates(&chain)
        .map_err(|e| anyhow::anyhow!("signing: notation_cert_file {}: {e}", cert.display()))?;
    Ok(NotationSigner {
        key,
        chain,
        envelope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("nodefit-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn defaults_listen_on_loopback_with_sqlite() {
        let c = load(
            None,
            &Overrides {
                data_dir: Some("/d".into()),
                ..Default::default()
            },
            &no_env,
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.database, DatabaseLocation::Sqlite("/d/nodefit.db".into()));
        assert_eq!(c.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES);
        assert!(c.registries.is_empty() && c.signing.is_none());
    }

    #[test]
    fn database_urls() {
        let pg = DatabaseLocation::choose(Some("postgres://u:pw@h/db"), None).unwrap();
        assert_eq!(
            pg,
            DatabaseLocation::Postgres("postgres://u:pw@h/db".into())
        );
        assert_eq!(pg.describe(), "PostgreSQL postgres://u:***@h/db");
        assert_eq!(
            DatabaseLocation::choose(Some("sqlite:/x/y.db"), Some(Path::new("/ignored"))).unwrap(),
            DatabaseLocation::Sqlite("/x/y.db".into())
        );
        let err = DatabaseLocation::choose(Some("mysql://u:secret@h/db"), None).unwrap_err();
        assert!(!format!("{err:#}").contains("secret"), "{err:#}");
    }

    #[test]
    fn registries_with_credentials_from_file_and_environment() {
        let dir = temp_dir("registries");
        write(&dir, "pw", "s3cret\n");
        let file = write(
            &dir,
            "nodefit.toml",
            r#"
listen = "0.0.0.0:9000"
[registries.prod]
host = "registry.example.com"
username = "ci"
password_file = "pw"
[registries.local-dev]
host = "127.0.0.1:5000"
plain_http = true
"#,
        );
        let env =
            |name: &str| (name == "NODEFIT_REGISTRY_LOCAL_DEV_TOKEN").then(|| "tok".to_owned());
        let c = load(
            Some(&file),
            &Overrides {
                listen: Some("127.0.0.1:1".into()),
                ..Default::default()
            },
            &env,
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:1");
        let names: Vec<_> = c.registries.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["local-dev", "prod"]);
        assert_eq!(
            c.registry("prod").unwrap().credentials,
            Credentials::Basic {
                username: "ci".into(),
                password: Secret::new("s3cret".into())
            }
        );
        assert_eq!(
            c.registry("local-dev").unwrap().credentials,
            Credentials::AccessToken(Secret::new("tok".into()))
        );
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn refuses_what_would_surprise_later() {
        let dir = temp_dir("refuses");
        let cases = [
            (
                "[registries.p]\nhost = \"https://r.example.com\"\n",
                "without a scheme",
            ),
            (
                "[registries.p]\nhost = \"r.example.com/path\"\n",
                "without a scheme",
            ),
            ("[registries.P]\nhost = \"r\"\n", "registry name"),
            (
                "[registries.p]\nhost = \"r\"\nusername = \"u\"\n",
                "without a password",
            ),
            (
                "[registries.p]\nhost = \"r\"\npassword = \"x\"\n",
                "needs a username",
            ),
            (
                "[registries.p]\nhost = \"r\"\npasword_file = \"x\"\n",
                "unknown field",
            ),
            (
                "[registries.a-b]\nhost = \"r\"\n[registries.a_b]\nhost = \"s\"\n",
                "share",
            ),
            ("[signing]\nkey_file = \"missing.key\"\n", "key_file"),
            ("listen = \"localhost\"\n", "IP:PORT"),
        ];
        for (i, (text, expected)) in cases.iter().enumerate() {
            let file = write(&dir, &format!("c{i}.toml"), text);
            let err = format!(
                "{:#}",
                load(Some(&file), &Overrides::default(), &no_env).unwrap_err()
            );
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn secret_files_are_read_within_their_budget() {
        let dir = temp_dir("secret-budget");
        write(&dir, "big", &"x".repeat(MAX_SECRET_BYTES + 1));
        let file = write(
            &dir,
            "c.toml",
            "[registries.p]\nhost = \"r\"\nusername = \"u\"\npassword_file = \"big\"\n",
        );
        let err = format!(
            "{:#}",
            load(Some(&file), &Overrides::default(), &no_env).unwrap_err()
        );
        assert!(
            err.contains("password_file")
                && err.contains(&format!("larger than {MAX_SECRET_BYTES} bytes")),
            "{err}"
        );
    }

    #[test]
    fn signing_keys_are_decrypted_at_start() {
        use nodefit_signing::keys;
        let dir = temp_dir("signing");
        let key = keys::generate().unwrap();
        write(&dir, "cosign.key", &keys::cosign_pem(&key, b"pw").unwrap());
        write(&dir, "plain.key", &keys::pkcs8_pem(&key).unwrap());
        write(&dir, "pw", "pw\n");
        let expected = keys::public_pem(key.verifying_key()).unwrap();
        let load_with = |text: &str, env: Env| {
            let file = write(&dir, "c.toml", text);
            load(Some(&file), &Overrides::default(), env)
        };
        let c = load_with(
            "[signing]\nkey_file = \"cosign.key\"\npassword_file = \"pw\"\n",
            &no_env,
        )
        .unwrap();
        assert_eq!(c.signing.unwrap().cosign.unwrap().public_key_pem, expected);
        let env = |name: &str| (name == "NODEFIT_KEY_PASSWORD").then(|| "pw".to_owned());
        assert!(load_with("[signing]\nkey_file = \"cosign.key\"\n", &env).is_ok());
        let c = load_with("[signing]\nkey_file = \"plain.key\"\n", &no_env).unwrap();
        assert_eq!(c.signing.unwrap().cosign.unwrap().public_key_pem, expected);
        let err = format!(
            "{:#}",
            load_with("[signing]\nkey_file = \"cosign.key\"\n", &no_env).unwrap_err()
        );
        assert!(
            err.contains("wrong password") && err.contains("NODEFIT_KEY_PASSWORD"),
            "{err}"
        );
        let debug = format!(
            "{:?}",
            load_with("[signing]\nkey_file = \"plain.key\"\n", &no_env).unwrap()
        );
        assert!(debug.contains("SigningKey { .. }"), "{debug}");
    }

    #[test]
    fn signing_formats_need_their_keys_and_trust_its_policy() {
        let dir = temp_dir("formats");
        let key = nodefit_signing::keys::generate().unwrap();
        write(
            &dir,
            "plain.key",
            &nodefit_signing::keys::pkcs8_pem(&key).unwrap(),
        );
        let load_with = |text: &str| {
            let file = write(&dir, "c.toml", text);
            load(Some(&file), &Overrides::default(), &no_env).map_err(|e| format!("{e:#}"))
        };
        for (text, says) in [
            (
                "[signing]\nkey_file = \"plain.key\"\nformats = [\"notation\"]\n",
                "needs notation_key_file and notation_cert_file",
            ),
            (
                "[signing]\nnotation_key_file = \"n.key\"\n",
                "notation_key_file and notation_cert_file go together",
            ),
            (
                "[signing]\nkey_file = \"plain.key\"\nformats = [\"bundle\", \"bundle\"]\n",
                "listed twice",
            ),
            (
                "[signing]\nkey_file = \"plain.key\"\nformats = [\"x509\"]\n",
                "is not a format",
            ),
            (
                "[trust]\npolicy_file = \"missing.json\"\n",
                "trust: policy_file",
            ),
        ] {
            let error = load_with(text).unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
        write(
            &dir,
            "trust.json",
            r#"{"version": "1", "policies": [{"name": "p", "scopes": ["*"], "require": "any-of", "trust": [{"cosignKey": "nothing.pub"}]}]}"#,
        );
        let error = load_with("[trust]\npolicy_file = \"trust.json\"\n").unwrap_err();
        assert!(error.contains("nothing.pub"), "read at start: {error}");
        let c = load_with("[signing]\nkey_file = \"plain.key\"\n").unwrap();
        assert_eq!(
            c.signing.unwrap().formats,
            [nodefit_signing::remote::Format::Bundle]
        );
    }

    #[test]
    fn hosts() {
        for ok in [
            "r",
            "r.example.com",
            "r:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "r:",
            "r:0",
            "r:99999",
            "http://r",
            "r/x",
            "user@r",
            "[::1",
            "r:5000/v2",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }
}
