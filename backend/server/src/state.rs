//! What every handler can reach. Nothing here holds state that matters across requests: the
//! database is the truth, the fleet is this process's copy of it brought up to date before
//! every use (never stale), and metrics are per process by design (Prometheus scrapes each).

use std::path::PathBuf;
use std::sync::Arc;

use super::config::Config;
use super::db::Db;
use super::fleet::FleetIndex;
use super::metrics::Metrics;
use super::work::Work;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub fleet: Arc<FleetIndex>,
    pub metrics: Arc<Metrics>,
    /// Where CPU-bound work runs (see `work`).
    pub work: Arc<Work>,
    /// The web UI build, when it exists.
    pub ui_dir: Option<PathBuf>,
}
