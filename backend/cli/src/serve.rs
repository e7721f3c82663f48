//! `nodefit serve`: the HTTP server with its web UI (docs/server.md).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nodefit_server::config::{self, Config, LogFormat, Overrides};

/// Where the database is: shared by `serve` and `token`.
#[derive(Args)]
pub struct DatabaseArgs {
    /// Directory of the SQLite database, created on first run [default: $XDG_DATA_HOME/nodefit
    /// or ~/.local/share/nodefit].
    #[arg(long, env = "NODEFIT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use this database instead: postgres://USER[:PASSWORD]@HOST[:PORT]/DB (or sqlite:PATH).
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Server configuration file (TOML): registries, the signing key, limits.
    #[arg(long, env = "NODEFIT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl DatabaseArgs {
    /// The configuration these flags, the environment and the file give.
    pub fn load(&self, extra: Overrides) -> Result<Config> {
        let overrides = Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..extra
        };
        config::load(self.config.as_deref(), &overrides, &config::process_env)
    }
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "NODEFIT_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    #[command(flatten)]
    database: DatabaseArgs,
    /// The web UI build to serve [default: frontend/dist].
    #[arg(long, env = "NODEFIT_UI_DIR", value_name = "DIR")]
    ui_dir: Option<PathBuf>,
    /// Largest snapshot upload in bytes [default: 5242880].
    #[arg(long, env = "NODEFIT_MAX_UPLOAD_BYTES", value_name = "BYTES")]
    max_upload_bytes: Option<usize>,
    /// Log lines for people (compact) or for log collectors (json) [default: compact].
    #[arg(long, env = "NODEFIT_LOG_FORMAT", value_parser = crate::one_of(LogFormat::ALL.map(LogFormat::as_str), LogFormat::parse))]
    log_format: Option<LogFormat>,
}

pub fn run(args: ServeArgs) -> Result<u8> {
    let config = args.database.load(Overrides {
        listen: args.listen,
        ui_dir: args.ui_dir,
        max_upload_bytes: args.max_upload_bytes,
        log_format: args.log_format,
        ..Overrides::default()
    })?;
    init_logging(config.log_format);
    let admin_token = config::process_env("NODEFIT_ADMIN_TOKEN");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(nodefit_server::run(config, admin_token))?;
    Ok(0)
}

/// Logs to standard error; `RUST_LOG` chooses what (default: info, and warnings from sqlx,
/// which otherwise logs every statement).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    match format {
        LogFormat::Compact => builder.compact().init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}
