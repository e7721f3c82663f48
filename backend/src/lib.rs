//! The nodefit binary: CLI commands, and (as they land) the registry client, signing, host
//! capture and the HTTP server. Everything that touches files, the network, the database or the
//! terminal lives here; the rules themselves live in `nodefit-core`.

pub mod capture;
pub mod cli;
pub mod files;
pub mod registry;
pub mod server;
pub mod signing;
