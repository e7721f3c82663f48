//! Flags every registry command shares (NFD's `validate-node` names where NFD has one), and
//! how the registry client's settings, errors and progress are worded on the command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use nodefit_files::{SecretBytes, MAX_SECRET_BYTES};
use nodefit_registry::{
    CredentialSource, Credentials, Event, Origin, Outcome, Platform, Setting, Settings,
};

#[derive(Args)]
pub struct RegistryOpts {
    /// Use plain HTTP for every request to the registry (no TLS).
    #[arg(long)]
    pub plain_http: bool,
    /// Also trust the CA certificates in this PEM file (the system's are always trusted).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Registry username; used only together with a non-empty --registry-password-stdin.
    #[arg(
        long,
        value_name = "USER",
        default_value = "",
        hide_default_value = true
    )]
    pub registry_username: String,
    /// Read the registry password from standard input (one trailing newline is dropped).
    #[arg(long, conflicts_with = "registry_token_stdin")]
    pub registry_password_stdin: bool,
    /// Read a registry access token from standard input, sent as a bearer token.
    #[arg(long)]
    pub registry_token_stdin: bool,
    /// Give up on the whole command after this many seconds (NFD's validate-node: 60).
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = seconds)]
    pub timeout: Duration,
    /// Give up on one HTTP request (it is then retried) after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = seconds)]
    pub request_timeout: Duration,
    /// Print every HTTP request (method, URL without query, status, time) to standard error.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// A host (HOST or HOST:PORT, port 443 when left out) besides the registry's own that may
    /// serve its token realm, over HTTPS: `auth.docker.io` for Docker Hub. Repeatable.
    #[arg(long, value_name = "HOST")]
    pub token_realm_host: Vec<String>,
}

/// `--output` of the registry commands: sentences for people, or JSON for scripts.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// Longest wait for a TCP or TLS connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(value > 0.0 && value <= 86_400.0) {
        return Err(format!("{text} is not between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(value))
}

impl RegistryOpts {
    /// Whether a secret is to be read from standard input.
    pub fn reads_stdin(&self) -> bool {
        self.registry_password_stdin || self.registry_token_stdin
    }

    /// Connection settings; reads the password or token from standard input if asked to. The
    /// deadline starts now.
    pub fn settings(&self) -> Result<Settings> {
        if let Some(bad) = self
            .token_realm_host
            .iter()
            .find(|h| h.is_empty() || h.contains('/') || h.contains('@'))
        {
            bail!("--token-realm-host {bad:?}: give HOST or HOST:PORT, without a scheme or path");
        }
        let flag = match (self.registry_password_stdin, self.registry_token_stdin) {
            (true, _) => Some("--registry-password-stdin"),
            (_, true) => Some("--registry-token-stdin"),
            _ => None,
        };
        let stdin = flag.map(read_secret).transpose()?;
        let given = match (&stdin, flag) {
            (Some(secret), Some(flag)) => nfd_trimmed(secret.text().context(flag)?),
            _ => "",
        };
        let (password, token) = if self.registry_password_stdin {
            (given, "")
        } else {
            ("", given)
        };
        let credentials = match Credentials::from_flags(&self.registry_username, password, token) {
            Some(given) => CredentialSource::Given(given),
            None => CredentialSource::DockerConfig,
        };
        Ok(Settings {
            plain_http: self.plain_http,
            ca_file: self.ca_file.clone(),
            credentials,
            request_timeout: self.request_timeout,
            connect_timeout: CONNECT_TIMEOUT.min(self.request_timeout),
            deadline: tokio::time::Instant::now() + self.timeout,
            observer: self
                .verbose
                .then(|| std::sync::Arc::new(print_event) as nodefit_registry::Observer),
            token_realm_hosts: self.token_realm_host.clone(),
        })
    }
}

/// The flags that set `setting` (of any registry: the command line has one).
pub fn flag(setting: Setting, _registry: &str) -> String {
    match setting {
        Setting::CaFile => "--ca-file",
        Setting::Credentials => {
            "`docker login`, or --registry-username with --registry-password-stdin, or \
             --registry-token-stdin"
        }
        Setting::UsernamePassword => {
            "`docker login`, or --registry-username with --registry-password-stdin"
        }
        Setting::TokenRealmHosts => "--token-realm-host",
        Setting::Deadline => "--timeout",
        Setting::RequestTimeout => "--request-timeout",
    }
    .to_owned()
}

/// `-v`: one line per event on standard error.
fn print_event(event: &Event) {
    let outcome = |outcome: &Outcome| match outcome {
        Outcome::Status(status) => status.to_string(),
        Outcome::Failed(why) => format!("failed: {}", why.render(&|s| flag(s, ""))),
    };
    match event {
        Event::Exchange {
            method,
            url,
            outcome: result,
            took,
        } => eprintln!(
            "nodefit: {method} {url} -> {} ({:.1} ms)",
            outcome(result),
            took.as_secs_f64() * 1000.0
        ),
        Event::Token {
            method,
            url,
            scope,
            outcome: result,
        } => eprintln!(
            "nodefit: {method} {url} (token for {scope}) -> {}",
            outcome(result)
        ),
        Event::Retry { method, url, wait } => {
            eprintln!(
                "nodefit: {method} {url}: retrying in {} ms",
                wait.as_millis()
            )
        }
        Event::Credentials {
            registry,
            kind,
            origin,
        } => {
            let origin = match origin {
                Origin::Given => "the command line",
                Origin::DockerConfig(found) => found,
            };
            eprintln!("nodefit: credentials for {registry}: {kind} from {origin}");
        }
        Event::ManifestRetry { refusal } => eprintln!(
            "nodefit: {}: checking blobs before pushing the manifest again",
            refusal.message(&flag)
        ),
    }
}

/// Reads the secret `flag` asks for from standard input.
fn read_secret(flag: &str) -> Result<SecretBytes> {
    nodefit_files::read_secret_stdin(MAX_SECRET_BYTES).context(flag.to_owned())
}

/// A secret as NFD takes it from standard input: without one trailing `\n`, then one `\r`.
fn nfd_trimmed(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

/// Parses an optional `--platform`.
pub fn platform(text: Option<&str>) -> Result<Option<Platform>> {
    Ok(text.map(Platform::parse).transpose()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_named_by_the_flags_that_set_them() {
        let settings = [
            (Setting::CaFile, "--ca-file"),
            (Setting::Credentials, "--registry-token-stdin"),
            (Setting::UsernamePassword, "--registry-password-stdin"),
            (Setting::TokenRealmHosts, "--token-realm-host"),
            (Setting::Deadline, "--timeout"),
            (Setting::RequestTimeout, "--request-timeout"),
        ];
        for (setting, expected) in settings {
            assert!(flag(setting, "r.example").contains(expected), "{setting:?}");
        }
        let text = nodefit_registry::Text::from("the overall timeout (")
            .setting(Setting::Deadline)
            .words(") expired");
        assert_eq!(
            text.render(&|s| flag(s, "r.example")),
            "the overall timeout (--timeout) expired"
        );
    }

    #[test]
    fn secrets_lose_one_newline_as_in_nfd() {
        assert_eq!(nfd_trimmed("pw\r\n"), "pw");
        assert_eq!(nfd_trimmed("pw\n\n"), "pw\n");
        assert_eq!(nfd_trimmed("pw\r"), "pw");
        assert_eq!(nfd_trimmed(" pw "), " pw ");
    }

    #[test]
    fn seconds_accept_fractions_within_a_day() {
        assert_eq!(seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(seconds("60"), Ok(Duration::from_secs(60)));
        for bad in ["0", "-1", "NaN", "inf", "1e9", "soon"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
    }
}
