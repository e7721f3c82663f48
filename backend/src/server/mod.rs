//! `nodefit serve`: the HTTP server behind the web UI (docs/server.md, docs/api.md).
//!
//! - `config`: flags, environment and the TOML file, validated at start (registries included).
//! - `db`: SQLite or PostgreSQL through one set of queries; migrations in `migrations/`.
//! - `auth`: tokens and roles; `error`: the API's error answers.
//! - `api`: the `/api/v1` handlers, one module per resource; `fleet`: the fleet matrix on top of
//!   the core's evaluation; `app`: routing, the UI, operational endpoints and middleware.
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
pub mod metrics;
pub mod openapi;
pub mod state;

use std::sync::Arc;

use anyhow::{Context, Result};

use self::config::Config;
use self::db::Db;
use self::fleet::FeatureCache;
use self::metrics::Metrics;
use self::state::AppState;

/// Runs the server until SIGTERM or SIGINT, then finishes the requests in flight and closes
/// the database. `admin_token` is `NODEFIT_ADMIN_TOKEN`.
pub async fn run(config: Config, admin_token: Option<String>) -> Result<()> {
    tracing::info!(database = %config.database.describe(), "opening the database");
    let db = Db::open(&config.database, config.db_max_connections).await?;
    bootstrap_admin(&db, admin_token).await?;

    let metrics = Arc::new(Metrics::new().context("cannot set up metrics")?);
    let cache = Arc::new(FeatureCache::new(
        config.feature_cache_bytes,
        metrics.cache_hits.clone(),
        metrics.cache_misses.clone(),
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

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let state = AppState {
        db: db.clone(),
        config: Arc::new(config),
        cache,
        metrics,
        ui_dir,
    };
    let router = app::build(state);
    tracing::info!(addr = %addr, "listening on http://{addr}");
    // Small answers are written at once: without TCP_NODELAY, Nagle's algorithm and delayed
    // ACKs can hold a keep-alive response back by 40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the HTTP server failed")?;
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

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
