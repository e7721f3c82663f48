//! Prometheus metrics (`GET /metrics`): requests by route and status, their latency, and the
//! counters that explain the fleet evaluation's speed. The registry belongs to the state, not
//! to a global, so that several servers can run in one process (as tests do).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use std::sync::Arc;

use super::fleet::FleetMetrics;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    pub snapshots_uploaded: IntCounter,
    pub connections_open: IntGauge,
    pub connections_evicted: IntCounter,
    pub connections_refused: IntCounter,
}

/// Latency buckets (seconds): fine below 100 ms, where the API should answer.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "nodefit_http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "nodefit_http_request_duration_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let snapshots_uploaded = IntCounter::new(
            "nodefit_snapshots_stored_total",
            "Snapshots stored (duplicates not counted)",
        )?;
        let connections_open =
            IntGauge::new("nodefit_http_connections_open", "Connections open now")?;
        let connections_evicted = IntCounter::new(
            "nodefit_http_connections_evicted_total",
            "Idle connections closed to make room for a new one (max_connections reached)",
        )?;
        let connections_refused = IntCounter::new(
            "nodefit_http_connections_refused_total",
            "Connections closed at once because every open one was busy (max_connections)",
        )?;
        registry.register(Box::new(connections_open.clone()))?;
        registry.register(Box::new(connections_evicted.clone()))?;
        registry.register(Box::new(connections_refused.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(snapshots_uploaded.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
            snapshots_uploaded,
            connections_open,
            connections_evicted,
            connections_refused,
        })
    }

    /// The fleet's gauges and counters, registered here.
    pub fn fleet(&self) -> Result<FleetMetrics, prometheus::Error> {
        let metrics = FleetMetrics {
            nodes: IntGauge::new(
                "nodefit_fleet_nodes",
                "Snapshots in this process's copy of the fleet",
            )?,
            values: IntGauge::new(
                "nodefit_fleet_values",
                "Distinct feature values in this process's copy of the fleet",
            )?,
            loads: IntCounter::new(
                "nodefit_fleet_loads_total",
                "Times the whole fleet was read from the database",
            )?,
            syncs: IntCounter::new(
                "nodefit_fleet_syncs_total",
                "Times changes from other requests or processes were applied to the fleet",
            )?,
            matrix_hits: IntCounter::new(
                "nodefit_fleet_matrix_hits_total",
                "Evaluations answered from a matrix computed before",
            )?,
            matrix_misses: IntCounter::new(
                "nodefit_fleet_matrix_misses_total",
                "Evaluations that computed their matrix",
            )?,
            values_collected: IntCounter::new(
                "nodefit_feature_values_collected_total",
                "Stored feature values deleted because no snapshot referred to them any more",
            )?,
        };
        self.registry.register(Box::new(metrics.nodes.clone()))?;
        self.registry.register(Box::new(metrics.values.clone()))?;
        self.registry.register(Box::new(metrics.loads.clone()))?;
        self.registry.register(Box::new(metrics.syncs.clone()))?;
        self.registry
            .register(Box::new(metrics.matrix_hits.clone()))?;
        self.registry
            .register(Box::new(metrics.matrix_misses.clone()))?;
        self.registry
            .register(Box::new(metrics.values_collected.clone()))?;
        Ok(metrics)
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into memory fails only on metrics this module did not build.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Counts and times every request. Every label comes from a bounded set, so that no client can
/// grow the series without end: the route is the matched route (`/api/v1/specs/{id}`, never the
/// raw path, `other` when none matched), the method one of HTTP's standard ones (anything else
/// is `other`), the status a three-digit code.
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", MatchedPath::as_str)
        .to_owned();
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    m.duration
        .with_label_values(&[method, route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    m.requests
        .with_label_values(&[method, route.as_str(), response.status().as_str()])
        .inc();
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}
