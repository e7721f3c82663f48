//! `nodefit serve`: the HTTP server behind the web UI (docs/server.md, docs/api.md).
//!
//! - `config`: flags, environment and the TOML file, validated at start (registries included).
//! - `db`: SQLite or PostgreSQL through one set of queries; migrations in `migrations/`.
//! - `auth`: tokens and roles; `error`: the API's error answers.
//! - `api`: the `/api/v1` handlers, one module per resource; `fleet`: the fleet matrix on top of
//!   the core's evaluation; `app`: routing, the UI, operational endpoints and middleware.
//! - `publishing`: registry clients for the configured registries, how registry failures are
//!   answered, and the claim protocol of publishes (the pipeline is `nodefit-publish`).
//!
//! Invariants: handlers are thin (the core decides matches and lint, `db` holds the SQL); no
//! in-process state matters, so several processes on one PostgreSQL are one service; no URL
//! from a client is ever dialled (registries are the configured ones, by name).

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod fleet;
pub mod labels;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod publishing;
pub mod state;
pub mod work;

use std::sync::Arc;

use anyhow::{Context, Result};

use self::config::Config;
use self::db::Db;
use self::fleet::FleetIndex;
use self::listen::ConnectionLimits;
use self::metrics::Metrics;
use self::state::AppState;
use self::work::Work;

/// Time beyond the request timeout that shutdown waits for answers to be written.
const SHUTDOWN_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);
/// Time CPU-bound work may go on after SIGTERM before it is interrupted.
pub const WORK_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the server until SIGTERM or SIGINT, then finishes the requests in flight and closes
/// the database. `admin_token` is `NODEFIT_ADMIN_TOKEN`.
pub async fn run(config: Config, admin_token: Option<String>) -> Result<()> {
    // Before anything that takes time: a SIGTERM during start-up must stop the server cleanly,
    // not kill it with the signal's default action.
    let shutdown = shutdown_signal()?;
    tracing::info!(database = %config.database.describe(), "opening the database");
    let db = Db::open(&config.database, config.db_max_connections).await?;
    bootstrap_admin(&db, admin_token).await?;
    let converted = fleet::convert_stored_snapshots(&db)
        .await
        .context("cannot convert the snapshots stored by an earlier version")?;
    if converted > 0 {
        tracing::info!(snapshots = converted, "stored snapshots as feature values");
    }
    for notice in &config.notices {
        tracing::warn!("{notice}");
    }

    let metrics = Arc::new(Metrics::new().context("cannot set up metrics")?);
    let fleet = Arc::new(FleetIndex::new(
        metrics.fleet().context("cannot set up metrics")?,
    ));
    let ui_dir = Some(config.ui_dir.clone()).filter(|d| d.join("index.html").is_file());
    match &ui_dir {
        Some(dir) => tracing::info!(dir = %dir.display(), "serving the web UI"),
        None => tracing::warn!(
            dir = %config.ui_dir.display(),
            "no web UI build (index.html) there: `/` explains how to build it"
        ),
    }
    let registry_names: Vec<&str> = config.registries.iter().map(|r| r.name.as_str()).collect();
    tracing::info!(registries = ?registry_names, signing = config.signing.is_some(), "publishing targets");

    let listener = listen::bind(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let limits = ConnectionLimits {
        max_connections: config.max_connections,
        header_read_timeout: config.header_timeout,
        // Requests in flight may take up to the request timeout; a little more for the answer.
        shutdown_grace: config.request_timeout + SHUTDOWN_MARGIN,
    };
    let work = Arc::new(Work::new(config.cpu_workers));
    let state = AppState {
        db: db.clone(),
        config: Arc::new(config),
        fleet: fleet.clone(),
        metrics: metrics.clone(),
        work: work.clone(),
        ui_dir,
    };
    // The first evaluation should not wait for the whole fleet to be read: start now, beside
    // the requests (which wait for it if they come first).
    let (warm_db, warm_work) = (db.clone(), work.clone());
    tokio::spawn(async move {
        if let Err(e) = fleet.current(&warm_db, &warm_work).await {
            tracing::warn!(error = %e.message, "loading the fleet");
        }
    });
    let router = app::build(state);
    tracing::info!(addr = %addr, "listening on http://{addr}");
    listen::serve(listener, router, limits, metrics, async move {
        shutdown.await;
        // Requests in flight finish; CPU-bound work still running after a grace period is
        // interrupted (its requests answer 503), so that shutdown never waits on a long
        // evaluation.
        tokio::spawn(async move {
            tokio::time::sleep(WORK_SHUTDOWN_GRACE).await;
            work.shut_down();
        });
    })
    .await;
    tracing::info!("stopped accepting requests; closing the database");
    db.close().await;
    Ok(())
}

/// Creates the first admin token on a database that never had one.
async fn bootstrap_admin(db: &Db, given: Option<String>) -> Result<()> {
    let generated = given.is_none();
    let token = match given {
        Some(token) => {
            auth::check_given_token(&token)
                .map_err(|e| anyhow::anyhow!("NODEFIT_ADMIN_TOKEN {e}"))?;
            token
        }
        None => auth::generate_token()?,
    };
    if !db.bootstrap_admin(&auth::hash_token(&token)).await? {
        return Ok(());
    }
    if generated {
        // Printed, not logged: log collectors must never see it.
        eprintln!(
            "\nnodefit: created the first admin token. It is shown only this once; keep it:\n\n    {token}\n\n\
             Use it as `Authorization: Bearer <token>`, and create tokens for people and CI with\n\
             `nodefit token create --role viewer|author|publisher` or POST /api/v1/tokens.\n"
        );
    } else {
        tracing::info!("created the first admin token from NODEFIT_ADMIN_TOKEN");
    }
    Ok(())
}

/// Completes on the first SIGTERM or SIGINT. The handlers are installed when this is called.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        }
    })
}
