//! Credentials: where they come from (flags, docker's config file and credential helpers) and how
//! a registry's `WWW-Authenticate` challenge reads. The HTTP side of answering a challenge is in
//! `transport.rs`.
//!
//! oci-client takes ready-made credentials only; docker's config file and credential helpers,
//! which docker, oras and skopeo all read, are implemented here.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{json_problem, Error};

/// Longest a credential helper may take to answer.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read from a credential helper.
const MAX_HELPER_OUTPUT: usize = 64 * 1024;
/// Largest docker config file read: a few entries are a few hundred bytes.
pub const MAX_DOCKER_CONFIG_BYTES: usize = 1024 * 1024;

/// A password or token. Its `Debug` prints nothing, so it cannot reach an error message or a log
/// line by accident; [`Secret::expose`] is the one way to read it. Wiped when dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What nodefit presents to a registry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Credentials {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: Secret,
    },
    /// A registry access token, sent as a bearer token as-is (NFD's `--registry-token-stdin`,
    /// docker's `registrytoken`).
    AccessToken(Secret),
    /// An OAuth2 refresh token (docker's `identitytoken`, or a helper's `<token>` user),
    /// exchanged at the registry's token server.
    IdentityToken(Secret),
}

impl Credentials {
    /// NFD's rule for its flags: basic auth when username and password are both non-empty, else
    /// the token when non-empty, else none.
    pub fn from_flags(username: &str, password: &str, token: &str) -> Option<Self> {
        if !username.is_empty() && !password.is_empty() {
            Some(Self::Basic {
                username: username.to_owned(),
                password: Secret::new(password.to_owned()),
            })
        } else if !token.is_empty() {
            Some(Self::AccessToken(Secret::new(token.to_owned())))
        } else {
            None
        }
    }

    /// What kind of credentials these are, for messages (never their value).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Anonymous => "no credentials",
            Self::Basic { .. } => "a username and password",
            Self::AccessToken(_) => "an access token",
            Self::IdentityToken(_) => "an identity token",
        }
    }
}

/// Where a command takes its credentials from.
#[derive(Clone, Debug)]
pub enum CredentialSource {
    /// Given by the caller (the command line's flags, the server's configuration).
    Given(Credentials),
    /// docker's config file (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`): its
    /// credential helpers, else its `auths`; anonymous when it has nothing for the registry.
    DockerConfig,
}

/// Where credentials came from, for messages (never what they are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// [`CredentialSource::Given`].
    Given,
    /// docker's configuration: which file and entry, or why there was none.
    DockerConfig(String),
}

impl CredentialSource {
    /// The credentials for `registry` (as named in the image reference), and where they came from.
    pub fn resolve(&self, registry: &str) -> Result<(Credentials, Origin), Error> {
        let found = |credentials, origin| Ok((credentials, Origin::DockerConfig(origin)));
        match self {
            Self::Given(credentials) => Ok((credentials.clone(), Origin::Given)),
            Self::DockerConfig => {
                let Some(path) = docker_config_path() else {
                    return found(Credentials::Anonymous, "nowhere (no HOME)".into());
                };
                // It holds credentials: read as a secret, and parsed from that buffer.
                let bytes = match nodefit_files::read_secret(&path, MAX_DOCKER_CONFIG_BYTES) {
                    Ok(bytes) => bytes,
                    Err(e) if e.is_not_found() => {
                        return found(
                            Credentials::Anonymous,
                            format!("nowhere ({} does not exist)", path.display()),
                        )
                    }
                    Err(e) => return Err(e.into()),
                };
                // The problem by kind and position only: serde's message can quote a value.
                let config: DockerConfig =
                    serde_json::from_slice(bytes.as_bytes()).map_err(|e| {
                        Error::Usage(format!(
                            "{} is not a docker config file: {}",
                            path.display(),
                            json_problem(&e)
                        ))
                    })?;
                let (credentials, origin) = config.lookup(registry, &run_helper)?;
                found(credentials, format!("{} ({origin})", path.display()))
            }
        }
    }
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".docker").join("config.json"))
}

/// The parts of docker's `config.json` that hold credentials.
#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// A credential helper: `(helper name, server address)` to credentials, `None` when it has none.
type Helper<'a> = &'a dyn Fn(&str, &str) -> Result<Option<Credentials>, Error>;

const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// The host of a config key: docker accepts `host`, `https://host` and `https://host/v1/`.
fn key_host(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

impl DockerConfig {
    /// docker's order: a `credHelpers` entry for the registry, else `credsStore`, else `auths`.
    /// A helper is authoritative: when it has nothing, the request is anonymous, as in docker.
    fn lookup(&self, registry: &str, helper: Helper) -> Result<(Credentials, String), Error> {
        let same_host = |key: &str| {
            let host = key_host(key);
            host == registry || (is_docker_hub(registry) && is_docker_hub(host))
        };
        let server = if is_docker_hub(registry) {
            DOCKER_HUB_SERVER
        } else {
            registry
        };
        let named = self
            .cred_helpers
            .iter()
            .find(|(key, _)| same_host(key))
            .map(|(_, name)| name.as_str());
        let store = self.creds_store.as_deref().filter(|s| !s.is_empty());
        if let Some(name) = named.or(store) {
            let found = helper(name, server)?;
            let origin = format!("credential helper docker-credential-{name}");
            return Ok((found.unwrap_or_default(), origin));
        }
        let entry = self.auths.get(registry).or_else(|| {
            self.auths
                .iter()
                .find(|(key, _)| same_host(key))
                .map(|(_, e)| e)
        });
        let Some(entry) = entry else {
            return Ok((Credentials::Anonymous, "no entry for this registry".into()));
        };
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        let credentials = if let Some(token) = non_empty(&entry.identitytoken) {
            Credentials::IdentityToken(Secret::new(token))
        } else if let Some(token) = non_empty(&entry.registrytoken) {
            Credentials::AccessToken(Secret::new(token))
        } else if let Some(auth) = non_empty(&entry.auth) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            // The value is a secret: the message must not quote it.
            let Some((username, password)) = decoded.as_deref().and_then(|d| d.split_once(':'))
            else {
                return Err(Error::Usage(format!(
                    "the \"auth\" entry for {registry} in docker's config is not base64 of user:password"
                )));
            };
            Credentials::Basic {
                username: username.to_owned(),
                password: Secret::new(password.to_owned()),
            }
        } else if let (Some(username), Some(password)) =
            (non_empty(&entry.username), non_empty(&entry.password))
        {
            Credentials::Basic {
                username,
                password: Secret::new(password),
            }
        } else {
            Credentials::Anonymous
        };
        Ok((credentials, "auths".into()))
    }
}

/// Runs `docker-credential-<name> get` with the server address on standard input, as docker does.
fn run_helper(name: &str, server: &str) -> Result<Option<Credentials>, Error> {
    let program = format!("docker-credential-{name}");
    let fail = |what: String| Error::Usage(format!("credential helper {program}: {what}"));
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| fail(format!("cannot write to it: {e}")))?;
    }
    // Helpers answer with a few hundred bytes, far below a pipe's buffer, so waiting before
    // reading cannot deadlock.
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < HELPER_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("no answer within {HELPER_TIMEOUT:?}")));
            }
            Err(e) => return Err(fail(format!("cannot wait for it: {e}"))),
        }
    };
    // The answer holds the secret: read as one.
    let stdout = child
        .stdout
        .take()
        .map(|out| nodefit_files::read_secret_from(out, "its answer", MAX_HELPER_OUTPUT))
        .transpose()
        .map_err(|e| fail(e.to_string()))?;
    let stdout = stdout.as_ref().map_or(&[][..], |out| out.as_bytes());
    if !status.success() {
        let mut stderr = Vec::new();
        if let Some(err) = child.stderr.take() {
            let _ = err.take(MAX_HELPER_OUTPUT as u64).read_to_end(&mut stderr);
        }
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(stdout),
            String::from_utf8_lossy(&stderr)
        );
        if said.contains("credentials not found") {
            return Ok(None);
        }
        // Its output is not repeated: a broken helper might print what it holds.
        return Err(fail(format!("failed ({status})")));
    }
    parse_helper_answer(stdout).map_err(fail)
}

/// Reads a helper's `{"ServerURL", "Username", "Secret"}`; the user `<token>` marks an identity
/// token.
fn parse_helper_answer(stdout: &[u8]) -> Result<Option<Credentials>, String> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let answer: Answer = serde_json::from_slice(stdout)
        .map_err(|_| "its answer is not the JSON docker expects".to_owned())?;
    Ok(match (answer.username.as_str(), answer.secret) {
        (_, secret) if secret.is_empty() => None,
        ("<token>", secret) => Some(Credentials::IdentityToken(Secret::new(secret))),
        (username, secret) => Some(Credentials::Basic {
            username: username.to_owned(),
            password: Secret::new(secret),
        }),
    })
}

/// One challenge of a `WWW-Authenticate` header: the scheme in lower case and its parameters
/// (names in lower case).
#[derive(Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses a `WWW-Authenticate` value, which may hold several challenges:
/// `Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"`.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut challenges: Vec<Challenge> = Vec::new();
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            return challenges;
        }
        let end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        let after_ws = after.trim_start();
        if let (Some(value_part), Some(current)) =
            (after_ws.strip_prefix('='), challenges.last_mut())
        {
            let value_part = value_part.trim_start();
            let (value, remaining) = if let Some(quoted) = value_part.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut consumed = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next().map(|(_, c)| c)),
                        '"' => {
                            consumed = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &quoted[consumed..])
            } else {
                let end = value_part.find(',').unwrap_or(value_part.len());
                (value_part[..end].trim().to_owned(), &value_part[end..])
            };
            current.params.insert(token.to_ascii_lowercase(), value);
            rest = remaining;
        } else {
            challenges.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            rest = after;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> Credentials {
        Credentials::Basic {
            username: user.into(),
            password: Secret::new(password.into()),
        }
    }

    #[test]
    fn flags_follow_nfd() {
        assert_eq!(
            Credentials::from_flags("u", "p", "t"),
            Some(basic("u", "p"))
        );
        assert_eq!(
            Credentials::from_flags("u", "", "t"),
            Some(Credentials::AccessToken(Secret::new("t".into())))
        );
        assert_eq!(
            Credentials::from_flags("", "p", "t"),
            Some(Credentials::AccessToken(Secret::new("t".into())))
        );
        assert_eq!(Credentials::from_flags("u", "", ""), None);
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let shown = format!("{:?}", basic("alice", "hunter2"));
        assert!(
            shown.contains("alice") && !shown.contains("hunter2"),
            "{shown}"
        );
        let shown = format!(
            "{:?}",
            Credentials::IdentityToken(Secret::new("tok".into()))
        );
        assert!(!shown.contains("tok"), "{shown}");
    }

    fn config(json: &str) -> DockerConfig {
        serde_json::from_str(json).unwrap()
    }

    fn no_helper(name: &str, _: &str) -> Result<Option<Credentials>, Error> {
        panic!("helper {name} must not run")
    }

    #[test]
    fn auths_entries_are_found_by_host() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let c = config(&format!(
            r#"{{"auths": {{
                "127.0.0.1:5000": {{"auth": "{}"}},
                "https://reg.example:8443/v2/": {{"username": "bob", "password": "pw"}},
                "https://index.docker.io/v1/": {{"auth": "{}"}},
                "tok.example": {{"identitytoken": "refresh"}},
                "rt.example": {{"registrytoken": "access"}},
                "empty.example": {{}}
            }}}}"#,
            b64("alice:s3:cret"),
            b64("hub:pw")
        ));
        let get = |r: &str| c.lookup(r, &no_helper).unwrap().0;
        assert_eq!(get("127.0.0.1:5000"), basic("alice", "s3:cret"));
        assert_eq!(get("reg.example:8443"), basic("bob", "pw"));
        assert_eq!(get("docker.io"), basic("hub", "pw"));
        assert_eq!(
            get("tok.example"),
            Credentials::IdentityToken(Secret::new("refresh".into()))
        );
        assert_eq!(
            get("rt.example"),
            Credentials::AccessToken(Secret::new("access".into()))
        );
        assert_eq!(get("empty.example"), Credentials::Anonymous);
        assert_eq!(get("other.example"), Credentials::Anonymous);
        assert_eq!(get("127.0.0.1:5001"), Credentials::Anonymous);

        let bad = config(r#"{"auths": {"x.example": {"auth": "bm90IGEgcGFpcg=="}}}"#);
        let err = bad.lookup("x.example", &no_helper).unwrap_err().to_string();
        assert!(!err.contains("bm90IGEgcGFpcg"), "{err}");
    }

    #[test]
    fn credential_helpers_come_first() {
        let c = config(
            r#"{"auths": {"reg.example": {"auth": "dTpw"}, "docker.io": {"auth": "dTpw"}},
                "credHelpers": {"reg.example": "special"},
                "credsStore": "desktop"}"#,
        );
        let helper = |name: &str, server: &str| -> Result<Option<Credentials>, Error> {
            Ok(match (name, server) {
                ("special", "reg.example") => Some(basic("from", "special")),
                ("desktop", DOCKER_HUB_SERVER) => {
                    Some(Credentials::IdentityToken(Secret::new("hub".into())))
                }
                _ => None,
            })
        };
        let get = |r: &str| c.lookup(r, &helper).unwrap().0;
        assert_eq!(get("reg.example"), basic("from", "special"));
        assert_eq!(
            get("docker.io"),
            Credentials::IdentityToken(Secret::new("hub".into()))
        );
        // The store is authoritative, as in docker: nothing there means anonymous.
        assert_eq!(get("other.example"), Credentials::Anonymous);
    }

    #[test]
    fn helper_answers_are_read_like_docker() {
        assert_eq!(
            parse_helper_answer(br#"{"ServerURL":"r","Username":"u","Secret":"p"}"#).unwrap(),
            Some(basic("u", "p"))
        );
        assert_eq!(
            parse_helper_answer(br#"{"Username":"<token>","Secret":"t"}"#).unwrap(),
            Some(Credentials::IdentityToken(Secret::new("t".into())))
        );
        assert_eq!(
            parse_helper_answer(br#"{"Username":"","Secret":""}"#).unwrap(),
            None
        );
        assert!(parse_helper_answer(b"password123").is_err());
    }

    #[test]
    fn challenges_are_parsed() {
        let parsed = parse_challenges(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].scheme, "bearer");
        assert_eq!(parsed[0].params["realm"], "https://auth.example/token");
        assert_eq!(parsed[0].params["service"], "registry.example");
        assert_eq!(parsed[0].params["scope"], "repository:a/b:pull,push");

        let parsed = parse_challenges(r#"Basic realm="basic-realm""#);
        assert_eq!(parsed[0].scheme, "basic");
        assert_eq!(parsed[0].params["realm"], "basic-realm");

        let parsed =
            parse_challenges(r#"Basic realm="a \"quoted\", realm", BEARER Realm=http://t/x , x=y"#);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].params["realm"], r#"a "quoted", realm"#);
        assert_eq!(parsed[1].scheme, "bearer");
        assert_eq!(parsed[1].params["realm"], "http://t/x");
        assert_eq!(parsed[1].params["x"], "y");

        assert!(parse_challenges("").is_empty());
    }
}
