//! Command-line interface: flag parsing and dispatch. Each command lives in its own module and
//! returns an exit code; errors are printed here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod capture;
mod lint;
pub mod render;
mod test;

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
    /// Discover this host's features as NFD does and write the `nfd export features` JSON.
    Capture(capture::CaptureArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Test(args) => test::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Capture(args) => capture::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Whether to color output written to a stream (`NO_COLOR` and non-terminals turn it off).
pub fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
