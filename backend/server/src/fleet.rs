//! The fleet matrix: one spec against many stored snapshots, by the core's `eval::evaluate` and
//! `report::build` (nothing here decides a match).
//!
//! The spec is parsed once per request. Parsed features are kept in memory by content hash:
//! a hash names exactly one features document, so a cached entry can never be stale, and two
//! server processes with different caches give the same answers. The cache only saves the
//! database read and the JSON parse; evaluation runs on every core.

use nodefit_api::fleet::{FleetItem, FleetMatrix, SetResult, SetSummary};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use nodefit_core::eval::{self, Options};
use nodefit_core::features::Features;
use nodefit_core::source::LineIndex;
use nodefit_core::spec::Spec;
use nodefit_core::{report, verdict};
use prometheus::IntCounter;
use serde_json::value::RawValue;

use super::db::{Db, EvalRow};
use super::error::ApiError;
use super::work::Work;

/// Most snapshots one evaluation covers; a larger fleet is evaluated by label selections.
pub const MAX_EVALUATED_SNAPSHOTS: usize = 10_000;
/// Content hashes fetched from the database per query.
const FETCH_CHUNK: usize = 500;
/// Fewest snapshots worth a thread of their own.
const MIN_PER_THREAD: usize = 32;
/// Parsed features take about this many times their JSON's size in memory.
const MEMORY_PER_JSON_BYTE: usize = 3;

/// Parsed features by content hash, bounded by an estimate of their memory; the oldest entry
/// goes first.
pub struct FeatureCache {
    inner: Mutex<CacheInner>,
    budget: usize,
    hits: IntCounter,
    misses: IntCounter,
}

#[derive(Default)]
struct CacheInner {
    map: HashMap<String, (Arc<Features>, usize)>,
    order: VecDeque<String>,
    used: usize,
}

impl FeatureCache {
    pub fn new(budget: usize, hits: IntCounter, misses: IntCounter) -> Self {
        Self {
            inner: Mutex::default(),
            budget,
            hits,
            misses,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // A panic while holding the lock cannot leave the map inconsistent with its purpose
        // (entries are immutable), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, hash: &str) -> Option<Arc<Features>> {
        let found = self.lock().map.get(hash).map(|(f, _)| f.clone());
        match found {
            Some(_) => self.hits.inc(),
            None => self.misses.inc(),
        }
        found
    }

    fn insert(&self, hash: String, features: Arc<Features>, json_len: usize) {
        let weight = json_len.saturating_mul(MEMORY_PER_JSON_BYTE);
        if weight > self.budget {
            return;
        }
        let mut inner = self.lock();
        if inner.map.contains_key(&hash) {
            return;
        }
        while inner.used + weight > self.budget {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some((_, w)) = inner.map.remove(&old) {
                inner.used -= w;
            }
        }
        inner.used += weight;
        inner.order.push_back(hash.clone());
        inner.map.insert(hash, (features, weight));
    }
}

/// Features for each row, from the cache or the database. A snapshot deleted since `rows` was
/// read is left out.
pub async fn load_features(
    db: &Db,
    cache: &Arc<FeatureCache>,
    work: &Work,
    rows: Vec<EvalRow>,
) -> Result<Vec<(EvalRow, Arc<Features>)>, ApiError> {
    let mut found: HashMap<String, Arc<Features>> = HashMap::new();
    let mut missing: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for row in &rows {
        if !seen.insert(row.content_hash.as_str()) {
            continue;
        }
        match cache.get(&row.content_hash) {
            Some(f) => {
                found.insert(row.content_hash.clone(), f);
            }
            None => missing.push(row.content_hash.clone()),
        }
    }
    for chunk in missing.chunks(FETCH_CHUNK) {
        let fetched = db.features_by_hash(chunk).await?;
        let cache = cache.clone();
        let parsed = work
            .run(move |_| {
                fetched
                    .into_iter()
                    .map(|(hash, json)| {
                        let features: Features = serde_json::from_str(&json)
                            .map_err(|e| format!("stored features of {hash} do not parse: {e}"))?;
                        let features = Arc::new(features);
                        cache.insert(hash.clone(), features.clone(), json.len());
                        Ok((hash, features))
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .await?
            .map_err(ApiError::internal)?;
        found.extend(parsed);
    }
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let f = found.get(&row.content_hash)?.clone();
            Some((row, f))
        })
        .collect())
}

/// What one evaluation of the matrix needs besides the snapshots.
pub struct FleetRequest {
    pub spec_id: i64,
    pub spec_version: i64,
    pub spec: Spec,
    pub spec_src: String,
    pub options: Options,
    pub limit: usize,
    pub offset: usize,
    /// Attach NFD's report to each item (a single requested snapshot).
    pub with_report: bool,
}

struct NodeResult {
    compatible: bool,
    best_set: Option<usize>,
    sets: Vec<SetResult>,
    error: Option<String>,
    report: Option<Box<RawValue>>,
}

/// Evaluates every node (CPU work: call from a blocking thread) and assembles the matrix.
pub fn matrix(request: &FleetRequest, nodes: Vec<(EvalRow, Arc<Features>)>) -> FleetMatrix {
    let results = evaluate_all(request, &nodes);
    let spec = &request.spec;
    let mut sets: Vec<SetSummary> = spec
        .compatibilities
        .iter()
        .enumerate()
        .filter(|(_, c)| request.options.tags.is_empty() || request.options.tags.contains(&c.tag))
        .map(|(index, c)| SetSummary {
            index,
            tag: c.tag.clone(),
            weight: c.weight,
            description: c.description.clone(),
            matched: 0,
        })
        .collect();
    let mut compatible = 0;
    let mut errors = 0;
    for r in &results {
        compatible += usize::from(r.compatible);
        errors += usize::from(r.error.is_some());
        for s in r.sets.iter().filter(|s| s.is_match) {
            if let Some(summary) = sets.iter_mut().find(|x| x.index == s.index) {
                summary.matched += 1;
            }
        }
    }
    let total = results.len();
    let items = nodes
        .into_iter()
        .zip(results)
        .skip(request.offset)
        .take(request.limit)
        .map(|((row, _), r)| FleetItem {
            snapshot_id: row.id,
            node_name: row.node_name,
            labels: row.labels,
            compatible: r.compatible,
            best_set: r.best_set,
            sets: r.sets,
            error: r.error,
            report: r.report,
        })
        .collect();
    FleetMatrix {
        spec_id: request.spec_id,
        spec_version: request.spec_version,
        sets,
        total,
        compatible,
        errors,
        items,
        limit: request.limit,
        offset: request.offset,
    }
}

fn evaluate_all(request: &FleetRequest, nodes: &[(EvalRow, Arc<Features>)]) -> Vec<NodeResult> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(nodes.len() / MIN_PER_THREAD)
        .max(1);
    if threads == 1 {
        return nodes
            .iter()
            .map(|(_, f)| evaluate_one(request, f))
            .collect();
    }
    let per_thread = nodes.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = nodes
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(_, f)| evaluate_one(request, f))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn evaluate_one(request: &FleetRequest, features: &Features) -> NodeResult {
    let spec = &request.spec;
    match eval::evaluate(spec, features, &request.options) {
        Ok(evaluation) => {
            let verdict = if request.with_report {
                verdict::explain(spec, &evaluation, features)
            } else {
                verdict::judge(spec, &evaluation)
            };
            let sets = verdict
                .sets
                .iter()
                .map(|set| SetResult {
                    index: set.index,
                    is_match: set.is_match,
                    failing_rules: set.failing_rules().map(str::to_owned).collect(),
                })
                .collect();
            let report = verdict.report.as_ref().map(|statuses| {
                // The core's Go-style JSON, so the report is byte for byte what the CLI prints.
                // It is valid JSON; were it ever not, the item says `null` rather than the
                // whole matrix failing.
                RawValue::from_string(report::to_go_json(statuses)).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "report JSON did not parse");
                    Box::default()
                })
            });
            NodeResult {
                compatible: verdict.compatible,
                best_set: verdict.best_set,
                sets,
                error: None,
                report,
            }
        }
        Err(e) => {
            let (line, column) = LineIndex::new(&request.spec_src).line_col(e.span.start);
            NodeResult {
                compatible: false,
                best_set: None,
                sets: Vec::new(),
                error: Some(format!(
                    "line {line}, column {column}: {} ({})",
                    e.message,
                    verdict::error_note(&e)
                )),
                report: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keeps_within_its_budget_oldest_out_first() {
        let counter = || IntCounter::new("c", "c").unwrap();
        let cache = FeatureCache::new(30, counter(), counter());
        let f = Arc::new(Features::default());
        cache.insert("a".into(), f.clone(), 4);
        cache.insert("b".into(), f.clone(), 4);
        assert!(cache.get("a").is_some() && cache.get("b").is_some());
        cache.insert("c".into(), f.clone(), 4);
        assert!(cache.get("a").is_none(), "the oldest entry goes first");
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        cache.insert("huge".into(), f, 100);
        assert!(cache.get("huge").is_none() && cache.get("c").is_some());
        assert_eq!(cache.hits.get(), 5);
    }
}
