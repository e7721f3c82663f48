//! The `nodefit` binary: flag parsing, dispatch and rendering. Each command lives in its own
//! module, calls the library crates and returns an exit code; errors are printed here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's malloc: parsing, lint and evaluation allocate many small
/// strings and maps, and mimalloc makes them 15-20% faster (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod attach;
mod capture;
mod detach;
mod discover;
mod fetch;
mod keygen;
mod lint;
mod password;
mod registry_opts;
pub mod render;
mod serve;
mod sign;
mod test;
mod token;
mod trust_opts;
mod validate_node;
mod verify;

/// Exit code for a command whose input could not be used (a file unreadable, a spec NFD would
/// refuse, an evaluation error).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a registry that could not be used (unreachable, refused, timed out, other
/// writers kept replacing the fallback index), so that scripts can tell "try again later" from
/// "fix the input" (2).
pub const EXIT_REGISTRY: u8 = 3;
/// Exit code when a signature check refuses an artifact (unsigned, wrong key, tampered), so
/// that scripts can tell "do not trust this" from "not compatible" (1), "unusable input" (2)
/// and "registry unreachable" (3).
pub const EXIT_REFUSED: u8 = 4;

#[derive(Parser)]
#[command(
    name = "nodefit",
    version,
    about = "Author, test, sign and publish Node Feature Discovery image compatibility specs"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a spec against node feature snapshots, exactly as `nfd compat validate-node` would.
    Test(test::TestArgs),
    /// Report every mistake in specs at the line where it was written (human, JSON or SARIF).
    Lint(lint::LintArgs),
    /// Discover this host's features as NFD does and write the `nfd export features` JSON.
    Capture(capture::CaptureArgs),
    /// Attach a spec to an image in a registry as an NFD compatibility artifact.
    Attach(attach::AttachArgs),
    /// List the compatibility artifacts attached to an image, newest (NFD's choice) first.
    Discover(discover::DiscoverArgs),
    /// Download the spec NFD's validate-node would use for an image.
    Fetch(fetch::FetchArgs),
    /// Delete a compatibility artifact and drop it from the referrers fallback index.
    Detach(detach::DetachArgs),
    /// `nfd compat validate-node` for a node snapshot: fetch the image's spec and evaluate it.
    ValidateNode(validate_node::ValidateNodeArgs),
    /// Generate an ECDSA P-256 key pair for signing compatibility artifacts (cosign-compatible).
    Keygen(keygen::KeygenArgs),
    /// Sign an image's compatibility artifact: a sigstore bundle, a Notary Project signature or a
    /// classic cosign signature.
    Sign(sign::SignArgs),
    /// Verify an image's compatibility artifact: every signature, under keys, certificates or a
    /// trust policy.
    Verify(verify::VerifyArgs),
    /// Run the server: the JSON API and the web UI, on SQLite (default) or PostgreSQL.
    Serve(serve::ServeArgs),
    /// Create, list and revoke the server's API tokens.
    Token(token::TokenArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Test(args) => test::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Capture(args) => run_async(capture::run(args)),
        Command::Attach(args) => run_async(attach::run(args)),
        Command::Discover(args) => run_async(discover::run(args)),
        Command::Fetch(args) => run_async(fetch::run(args)),
        Command::Detach(args) => run_async(detach::run(args)),
        Command::ValidateNode(args) => run_async(validate_node::run(args)),
        Command::Keygen(args) => keygen::run(args),
        Command::Sign(args) => run_async(sign::run(args)),
        Command::Verify(args) => run_async(verify::run(args)),
        // The server builds its own, multi-threaded runtime.
        Command::Serve(args) => serve::run(args),
        Command::Token(args) => run_async(token::run(args)),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(report(&e)),
    }
}

/// Runs a command on the one runtime it gets, so that everything it does (one HTTP client and
/// its connections, the database pool) lives on one runtime. Single-threaded: a command's work
/// is a handful of requests, and concurrency comes from joining futures, not from threads.
fn run_async(command: impl std::future::Future<Output = anyhow::Result<u8>>) -> anyhow::Result<u8> {
    use anyhow::Context;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(command)
}

/// Prints an error and returns its exit code.
fn report(error: &anyhow::Error) -> u8 {
    let (message, code) = describe(error);
    eprintln!("error: {message}");
    code
}

/// An error with its causes, as anyhow's `{:#}` writes it but with registry errors worded for
/// the command line, and its exit code.
fn describe(error: &anyhow::Error) -> (String, u8) {
    use nodefit_registry::Error as RegistryError;
    let mut code = EXIT_BAD_INPUT;
    let mut causes = Vec::new();
    for cause in error.chain() {
        if cause.is::<nodefit_signing::Refusal>() {
            code = EXIT_REFUSED;
        }
        match cause.downcast_ref::<RegistryError>() {
            Some(e) => {
                if matches!(e, RegistryError::Request(_) | RegistryError::Conflict(_)) {
                    code = EXIT_REGISTRY;
                }
                causes.push(e.message(&registry_opts::flag));
            }
            None => causes.push(cause.to_string()),
        }
    }
    (causes.join(": "), code)
}

/// Whether to color output written to a stream (`NO_COLOR` and non-terminals turn it off).
/// A flag value that is one of the names a library type lists (the libraries know nothing of
/// clap): `--help` shows the names and a wrong one is refused with them.
pub fn one_of<T: Clone + Send + Sync + 'static>(
    names: impl IntoIterator<Item = &'static str>,
    parse: fn(&str) -> Option<T>,
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(names)
        .map(move |name| parse(&name).expect("clap checked it is one of the names"))
}

pub fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nodefit_registry::{RequestError, Setting, Text};

    fn request_error(outcome: Text) -> nodefit_registry::Error {
        nodefit_registry::Error::Request(Box::new(RequestError {
            registry: "127.0.0.1:5000".into(),
            repository: "demo/app".into(),
            method: "GET".into(),
            target: "http://127.0.0.1:5000/v2/demo/app/manifests/v1".into(),
            what: "the tag `v1`".into(),
            status: None,
            outcome,
            reason: "it did not answer in time".into(),
            attempts: 4,
            retryable: true,
        }))
    }

    #[test]
    fn registry_errors_name_flags_and_exit_3() {
        let outcome = Text::from("no answer within 1 s (")
            .setting(Setting::RequestTimeout)
            .words(")");
        let error = anyhow::Error::new(request_error(outcome)).context("fetching");
        let (message, code) = describe(&error);
        assert_eq!(code, EXIT_REGISTRY);
        assert_eq!(
            message,
            "fetching: GET http://127.0.0.1:5000/v2/demo/app/manifests/v1 (registry \
             127.0.0.1:5000, repository demo/app): no answer within 1 s (--request-timeout) \
             [gave up after 4 attempts]"
        );
    }

    #[test]
    fn refusals_exit_4_and_unusable_input_2() {
        let refusal = nodefit_signing::Refusal::WrongKey("x".into());
        let (message, code) = describe(&anyhow::Error::new(refusal).context("refusing"));
        assert_eq!(
            (message.as_str(), code),
            (
                "refusing: signature does not verify with this key: x",
                EXIT_REFUSED
            )
        );
        let usage = nodefit_registry::Error::Usage("bad reference".into());
        assert_eq!(
            describe(&usage.into()),
            ("bad reference".to_owned(), EXIT_BAD_INPUT)
        );
    }
}
