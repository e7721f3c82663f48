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
mod labels;
mod lint;
mod password;
mod registry_opts;
pub mod render;
mod schedule;
mod serve;
mod sign;
mod test;
mod token;
mod validate_node;
mod verify;

/// Exit code for a command whose input could not be used (a file unreadable, a spec NFD would
/// refuse, an evaluation error).
pub const EXIT_BAD_INPUT: u8 = 2;

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
    /// The labels, annotations, extended resources and taints nfd-master would put on each node
    /// for NodeFeatureRules, which rule set each, and why the others did not match.
    Labels(labels::LabelsArgs),
    /// Write the NodeFeatureRule that labels the nodes a spec finds compatible, and the pod
    /// affinity that schedules onto them.
    Schedule(schedule::ScheduleArgs),
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
    /// Sign an image's compatibility artifact (a classic cosign signature, in its `.sig` tag).
    Sign(sign::SignArgs),
    /// Verify an image's compatibility artifact against a trusted public key, as cosign would.
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
        Command::Labels(args) => labels::run(args),
        Command::Schedule(args) => schedule::run(args),
        Command::Capture(args) => capture::run(args),
        Command::Attach(args) => attach::run(args),
        Command::Discover(args) => discover::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Detach(args) => detach::run(args),
        Command::ValidateNode(args) => validate_node::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Token(args) => token::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<nodefit_signing::Refusal>().is_some() {
                return ExitCode::from(nodefit_signing::EXIT_REFUSED);
            }
            let registry = e.downcast_ref::<nodefit_registry::Error>();
            ExitCode::from(registry.map_or(EXIT_BAD_INPUT, nodefit_registry::Error::exit_code))
        }
    }
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
