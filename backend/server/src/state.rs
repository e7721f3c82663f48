//! What every handler can reach. Nothing here holds state that matters across requests: the
//! database is the truth, the feature cache is content-addressed (never stale), and metrics
//! are per process by design (Prometheus scrapes each).

use std::path::PathBuf;
use std::sync::Arc;

use super::config::Config;
use super::db::Db;
use super::fleet::FeatureCache;
use super::metrics::Metrics;
use super::work::Work;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub cache: Arc<FeatureCache>,
    pub metrics: Arc<Metrics>,
    /// Where CPU-bound work runs (see `work`).
    pub work: Arc<Work>,
    /// The web UI build, when it exists.
    pub ui_dir: Option<PathBuf>,
}
