//! The fleet: every stored snapshot, held in memory as the core's interned `Fleet` and kept
//! current from the database's change log, and the fleet matrix computed from it (nothing
//! here decides a match: that is the core's `eval::evaluate` and `verdict`).
//!
//! Each process holds its own copy; the database stays the truth. Before answering, a request
//! asks for the latest change's sequence (one query) and applies what changed since its copy
//! was current: the changed snapshots' rows as they are now and the values its copy lacks.
//! Changes are committed in sequence order (`db::snapshots`), so no change is ever skipped.
//! A process starts by loading everything: each distinct value once, then each snapshot's
//! list of value ids.
//!
//! A matrix is computed once per (spec version, tags, selection, fleet sequence): the spec
//! runs once per group of nodes that agree on every feature it reads (`Fleet::group`, exact),
//! and the answer is cached; pages, filters and summaries are read from the cached matrix.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use nodefit_api::fleet::{
    FleetFilter, FleetItem, FleetMatrix, GroupCount, LabelKey, Outcome, RuleCount, SetResult,
    SetSummary, Verdict,
};
use nodefit_core::eval::{self, Options};
use nodefit_core::features::{Features, Hasher};
use nodefit_core::fleet::{canonical_json, FeatureValue, Fleet, Grouping, InsertError};
use nodefit_core::source::LineIndex;
use nodefit_core::spec::Spec;
use nodefit_core::{report, verdict};
use prometheus::{IntCounter, IntGauge};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::db::{decode_value_ids, Db, FleetRow, NewValue, ValueRow};
use super::error::{ApiError, ErrorCode};
use super::work::Work;

/// Changed snapshots applied one by one; past this many since the last sync, the whole fleet
/// is loaded again.
pub const MAX_CHANGES_APPLIED: usize = 20_000;
/// Rows per query when loading the whole fleet.
const LOAD_VALUES_CHUNK: i64 = 20_000;
const LOAD_SNAPSHOTS_CHUNK: i64 = 10_000;
/// Matrices kept (the most recently used).
pub const MATRIX_CACHE_ENTRIES: usize = 16;
/// Most outcomes, failing rules and groups an answer lists.
pub const MAX_SUMMARY_ROWS: usize = 1000;
/// Most label keys an answer lists.
pub const MAX_LABEL_KEYS: usize = 100;
/// Feature values no snapshot refers to any more are deleted from the database once a process
/// has seen at least this many go, and at least a tenth of the values it holds.
const COLLECT_AFTER_VALUES: usize = 256;
/// Fewest groups worth a thread of their own.
const MIN_PER_THREAD: usize = 32;

pub type Labels = BTreeMap<String, String>;

/// Selected snapshots, grouped by the values of some feature names.
pub struct Selected<'f> {
    fleet: &'f Fleet,
    /// In id order.
    pub nodes: Vec<(i64, &'f NodeMeta)>,
    /// Each node's group, in the order of `nodes`.
    pub grouping: Grouping<'f>,
}

impl Selected<'_> {
    /// A selected node's features, rebuilt whole.
    pub fn features(&self, id: i64) -> Option<Features> {
        self.fleet.features(id)
    }
}

/// What the fleet keeps of a snapshot besides its features.
pub struct NodeMeta {
    pub name: Option<Arc<str>>,
    pub labels: Arc<Labels>,
}

/// One process's copy of the fleet.
#[derive(Default)]
pub struct FleetState {
    loaded: bool,
    /// The last change applied.
    pub seq: i64,
    pub fleet: Fleet,
    /// By snapshot id.
    pub nodes: BTreeMap<i64, NodeMeta>,
    /// Label maps are shared between nodes that have the same ones.
    label_sets: HashSet<Arc<Labels>, Hasher>,
}

impl FleetState {
    fn add_values(&mut self, rows: Vec<ValueRow>) -> Result<(), String> {
        for row in rows {
            let value = FeatureValue::from_json(&row.value)
                .map_err(|e| format!("stored feature value {} does not parse: {e}", row.id))?;
            self.fleet.add_value(row.id, &row.name, &value);
        }
        Ok(())
    }

    /// Adds the values of a `Db::feature_values_chunk`.
    fn add_value_chunk(&mut self, rows: &str) -> Result<(), String> {
        let rows: Vec<(i64, String, FeatureValue)> = serde_json::from_str(rows)
            .map_err(|e| format!("stored feature values do not parse: {e}"))?;
        for (id, name, value) in rows {
            self.fleet.add_value(id, &name, &value);
        }
        Ok(())
    }

    /// Adds or replaces the snapshots of a `Db::fleet_rows_chunk`.
    fn put_chunk(&mut self, rows: &str) -> Result<(), String> {
        let rows: Vec<(i64, Option<String>, Labels, String)> = serde_json::from_str(rows)
            .map_err(|e| format!("stored snapshots do not parse: {e}"))?;
        for (id, node_name, labels, value_ids) in rows {
            let value_ids = hex::decode(&value_ids)
                .ok()
                .and_then(|bytes| decode_value_ids(&bytes))
                .ok_or_else(|| format!("snapshot {id}: value_ids is not a list of ids"))?;
            self.put(FleetRow {
                id,
                node_name,
                labels,
                value_ids,
            });
        }
        Ok(())
    }

    /// Adds or replaces a snapshot. One whose values are gone was deleted (values go only
    /// when no snapshot refers to them): it is left out, as its deletion's change says.
    fn put(&mut self, row: FleetRow) {
        match self.fleet.insert(row.id, &row.value_ids) {
            Ok(()) => {
                let labels = match self.label_sets.get(&row.labels) {
                    Some(labels) => labels.clone(),
                    None => {
                        let labels = Arc::new(row.labels);
                        self.label_sets.insert(labels.clone());
                        labels
                    }
                };
                let meta = NodeMeta {
                    name: row.node_name.map(Arc::from),
                    labels,
                };
                self.nodes.insert(row.id, meta);
            }
            Err(e) => {
                if let InsertError::RepeatedName(_) = e {
                    tracing::warn!(snapshot = row.id, error = %e, "stored snapshot left out of the fleet");
                }
                self.remove(row.id);
            }
        }
    }

    fn remove(&mut self, id: i64) {
        self.fleet.remove(id);
        self.nodes.remove(&id);
    }

    /// Drops values and label maps no snapshot holds any more; how many values.
    fn tidy(&mut self) -> usize {
        self.label_sets
            .retain(|labels| Arc::strong_count(labels) > 1);
        self.fleet.drop_unheld()
    }
}

/// The fleet's counters (`/metrics`).
pub struct FleetMetrics {
    pub nodes: IntGauge,
    pub values: IntGauge,
    pub loads: IntCounter,
    pub syncs: IntCounter,
    pub matrix_hits: IntCounter,
    pub matrix_misses: IntCounter,
    pub values_collected: IntCounter,
}

/// The fleet of this process, the matrices computed from it, and how it stays current.
pub struct FleetIndex {
    state: RwLock<FleetState>,
    /// One sync at a time; held until its changes are applied.
    syncing: Arc<tokio::sync::Mutex<()>>,
    matrices: Mutex<VecDeque<(MatrixKey, Arc<Matrix>)>>,
    /// Values dropped since the database's unreferenced values were last collected.
    dropped: AtomicUsize,
    collecting: AtomicBool,
    metrics: FleetMetrics,
}

impl FleetIndex {
    pub fn new(metrics: FleetMetrics) -> FleetIndex {
        FleetIndex {
            state: RwLock::default(),
            syncing: Arc::default(),
            matrices: Mutex::default(),
            dropped: AtomicUsize::new(0),
            collecting: AtomicBool::new(false),
            metrics,
        }
    }

    // A panic while holding a lock leaves at worst a fleet that is behind (its sequence is
    // set last) or a cache entry missing, so a poisoned lock is still usable.
    pub fn read(&self) -> RwLockReadGuard<'_, FleetState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, FleetState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn is_at(&self, latest: i64) -> bool {
        let state = self.read();
        state.loaded && state.seq >= latest
    }

    /// Brings this process's copy up to the database's latest change.
    pub async fn current(self: &Arc<Self>, db: &Db, work: &Work) -> Result<(), ApiError> {
        let latest = db.fleet_sequence().await?;
        if self.is_at(latest) {
            return Ok(());
        }
        // Owned, so that a request that goes away while its changes are applied on a blocking
        // thread does not let another sync start from a half-applied copy.
        let syncing = self.syncing.clone().lock_owned().await;
        if self.is_at(latest) {
            return Ok(());
        }
        let (loaded, seq) = {
            let state = self.read();
            (state.loaded, state.seq)
        };
        if loaded {
            if let Some(ids) = db.fleet_changes(seq, latest, MAX_CHANGES_APPLIED).await? {
                return self.apply(db, work, ids, latest, syncing).await;
            }
        }
        self.load(db, work, latest, syncing).await
    }

    /// Applies the changes to `ids` (their rows as they are now).
    async fn apply(
        self: &Arc<Self>,
        db: &Db,
        work: &Work,
        ids: Vec<i64>,
        latest: i64,
        syncing: tokio::sync::OwnedMutexGuard<()>,
    ) -> Result<(), ApiError> {
        let rows = db.fleet_rows(&ids).await?;
        let needed: Vec<i64> = {
            let state = self.read();
            rows.iter()
                .flat_map(|r| r.value_ids.iter().copied())
                .filter(|&key| !state.fleet.has_value(key))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect()
        };
        let values = db.feature_values(&needed).await?;
        let index = self.clone();
        let dropped = work
            .run(move |_| {
                let _syncing = syncing;
                let mut state = index.write();
                state.add_values(values)?;
                let present: HashSet<i64> = rows.iter().map(|r| r.id).collect();
                for id in ids.into_iter().filter(|id| !present.contains(id)) {
                    state.remove(id);
                }
                for row in rows {
                    state.put(row);
                }
                let dropped = state.tidy();
                state.seq = latest;
                Ok::<_, String>(dropped)
            })
            .await?
            .map_err(ApiError::internal)?;
        self.metrics.syncs.inc();
        self.synced(db, dropped);
        Ok(())
    }

    /// Loads the whole fleet into a new copy and puts it in place. Everything committed by
    /// the change `latest` is read: values before snapshots, so that a snapshot read refers
    /// only to values read, except those of snapshots changed after `latest`, which the next
    /// sync applies again.
    async fn load(
        self: &Arc<Self>,
        db: &Db,
        work: &Work,
        latest: i64,
        syncing: tokio::sync::OwnedMutexGuard<()>,
    ) -> Result<(), ApiError> {
        let started = Instant::now();
        let mut reading = Duration::ZERO;
        let mut state = FleetState::default();
        // Each chunk is read while the one before is built.
        let timed = |read: Instant, chunk| (read.elapsed(), chunk);
        let mut chunk = db.feature_values_chunk(0, LOAD_VALUES_CHUNK).await?;
        while let Some(current) = chunk {
            let read = Instant::now();
            let (next, built) = tokio::join!(
                async {
                    timed(
                        read,
                        db.feature_values_chunk(current.last, LOAD_VALUES_CHUNK)
                            .await,
                    )
                },
                work.run(move |_| state.add_value_chunk(&current.rows).map(|()| state)),
            );
            reading += next.0;
            state = built?.map_err(ApiError::internal)?;
            chunk = next.1?;
        }
        let mut chunk = db.fleet_rows_chunk(0, LOAD_SNAPSHOTS_CHUNK).await?;
        while let Some(current) = chunk {
            let read = Instant::now();
            let (next, built) = tokio::join!(
                async {
                    timed(
                        read,
                        db.fleet_rows_chunk(current.last, LOAD_SNAPSHOTS_CHUNK)
                            .await,
                    )
                },
                work.run(move |_| state.put_chunk(&current.rows).map(|()| state)),
            );
            reading += next.0;
            state = built?.map_err(ApiError::internal)?;
            chunk = next.1?;
        }
        let index = self.clone();
        let dropped = work
            .run(move |_| {
                let _syncing = syncing;
                // Values no snapshot refers to were read too, until they are collected.
                let dropped = state.tidy();
                state.loaded = true;
                state.seq = latest;
                tracing::info!(
                    nodes = state.nodes.len(),
                    values = state.fleet.distinct_values(),
                    strings = state.fleet.distinct_strings(),
                    ms = started.elapsed().as_millis() as u64,
                    // Reading overlaps building: the load waited on the database for at most
                    // this long.
                    reading_ms = reading.as_millis() as u64,
                    "fleet loaded"
                );
                // The old copy is dropped here, on this blocking thread.
                *index.write() = state;
                dropped
            })
            .await?;
        self.metrics.loads.inc();
        self.synced(db, dropped);
        Ok(())
    }

    /// After a sync: the gauges, and collecting the database's unreferenced values when
    /// enough have gone.
    fn synced(self: &Arc<Self>, db: &Db, dropped: usize) {
        let held = {
            let state = self.read();
            self.metrics.nodes.set(state.nodes.len() as i64);
            self.metrics
                .values
                .set(state.fleet.distinct_values() as i64);
            state.fleet.distinct_values()
        };
        let gone = self.dropped.fetch_add(dropped, Ordering::Relaxed) + dropped;
        if gone < COLLECT_AFTER_VALUES || gone.saturating_mul(10) < held {
            return;
        }
        if self.collecting.swap(true, Ordering::AcqRel) {
            return;
        }
        self.dropped.store(0, Ordering::Relaxed);
        let index = self.clone();
        let db = db.clone();
        tokio::spawn(async move {
            match db.collect_values().await {
                Ok(n) => {
                    index.metrics.values_collected.inc_by(n);
                    tracing::info!(values = n, "deleted feature values no snapshot refers to");
                }
                Err(e) => tracing::warn!(error = %e, "collecting unreferenced feature values"),
            }
            index.collecting.store(false, Ordering::Release);
        });
    }

    /// The features of each snapshot of `ids` with its name for messages, or the ids the
    /// fleet does not hold (CPU work: call from a blocking thread).
    pub fn node_features(&self, ids: &[i64]) -> Result<Vec<(String, Features)>, Vec<i64>> {
        let state = self.read();
        let missing: Vec<i64> = ids
            .iter()
            .filter(|id| !state.nodes.contains_key(id))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        Ok(ids
            .iter()
            .filter_map(|id| {
                let name = state.nodes[id]
                    .name
                    .as_deref()
                    .map_or_else(|| format!("snapshot {id}"), str::to_owned);
                Some((name, state.fleet.features(*id)?))
            })
            .collect())
    }

    /// Runs `work` on the snapshots of `selection` (in id order), grouped by their values of
    /// `names`, for work other than the fleet matrix (the labels matrix); more than `max` is
    /// refused first (CPU work: call from a blocking thread, the fleet current). The fleet
    /// stays as it is while `work` runs, so the groups and `Selected::features` agree.
    pub fn with_selected<'n, R>(
        &self,
        selection: &Selection,
        max: usize,
        names: impl IntoIterator<Item = &'n str>,
        work: impl FnOnce(&Selected<'_>) -> R,
    ) -> Result<R, ApiError> {
        let state = self.read();
        let chosen = chosen(&state, selection)?;
        if chosen.len() > max {
            return Err(ApiError::bad_request(format!(
                "{} snapshots selected; at most {max} per request (select fewer by labels)",
                chosen.len()
            )));
        }
        let ids: Vec<i64> = chosen.iter().map(|(id, _)| *id).collect();
        let grouping = state.fleet.group_by(names, &ids);
        Ok(work(&Selected {
            fleet: &state.fleet,
            nodes: chosen,
            grouping,
        }))
    }

    /// The matrix of `key` from the cache, or computed and cached; then the page, filter and
    /// summaries of `view` (CPU work: call from a blocking thread, the fleet current).
    pub fn answer(
        &self,
        key: MatrixKey,
        spec_src: &str,
        view: &View,
        interrupt: &nodefit_core::budget::Interrupt,
    ) -> Result<FleetMatrix, ApiError> {
        let state = self.read();
        let cached = {
            let mut matrices = self.matrices.lock().unwrap_or_else(|p| p.into_inner());
            let at = matrices
                .iter()
                .position(|(k, m)| *k == key && m.seq == state.seq);
            at.and_then(|at| matrices.remove(at))
        };
        let matrix = match cached {
            Some((_, matrix)) => {
                self.metrics.matrix_hits.inc();
                matrix
            }
            None => {
                self.metrics.matrix_misses.inc();
                let spec = nodefit_core::parse_spec(spec_src)
                    .map_err(|errors| invalid_spec(spec_src, &errors))?;
                let request = FleetRequest {
                    spec,
                    spec_src,
                    options: Options {
                        tags: key.tags.clone(),
                        interrupt: interrupt.clone(),
                    },
                    with_report: key.report,
                };
                Arc::new(compute(&state, &request, &key.selection)?)
            }
        };
        drop(state);
        let answer = view.answer(&key, &matrix);
        let mut matrices = self.matrices.lock().unwrap_or_else(|p| p.into_inner());
        matrices.retain(|(k, _)| *k != key);
        matrices.push_front((key, matrix));
        matrices.truncate(MATRIX_CACHE_ENTRIES);
        Ok(answer)
    }
}

/// The distinct values of some nodes, as stored (`feature_values`).
#[derive(Default)]
pub struct ValueSet {
    /// Positions in `values` by a fast hash of name and JSON.
    index: HashMap<u64, Vec<usize>>,
    hasher: Hasher,
    pub values: Vec<NewValue>,
}

impl ValueSet {
    /// Splits a node's features into one value per feature name and adds those not seen yet;
    /// the node's canonical JSON and its values as positions in `values`.
    pub fn add(&mut self, features: &Features) -> (String, Vec<usize>) {
        let (node, values) = canonical_json(features);
        let positions = values
            .into_iter()
            .map(|(name, json)| {
                let quick = self.hasher.hash_one((name, json.as_str()));
                let bucket = self.index.entry(quick).or_default();
                if let Some(&at) = bucket
                    .iter()
                    .find(|&&at| self.values[at].name == name && self.values[at].json == json)
                {
                    return at;
                }
                let mut sha = Sha256::new();
                // The name as a JSON string ends where its closing quote is, so name and value
                // cannot run into each other.
                sha.update(serde_json::to_string(name).expect("strings serialize"));
                sha.update(&json);
                let at = self.values.len();
                self.values.push(NewValue {
                    hash: sha.finalize().into(),
                    name: name.to_owned(),
                    json,
                });
                bucket.push(at);
                at
            })
            .collect();
        (node, positions)
    }
}

/// Snapshots converted per transaction when upgrading a database from before migration 4.
const BACKFILL_BATCH: i64 = 200;

/// Converts the snapshots a database from before migration 4 stored as JSON into values (once,
/// at start; another process starting at the same time converts other snapshots); how many.
pub async fn convert_stored_snapshots(db: &Db) -> anyhow::Result<usize> {
    let mut converted = 0;
    while let Some(claimed) = db.claim_backfill(BACKFILL_BATCH).await? {
        let rows = claimed.rows.clone();
        let (values, snapshots) = tokio::task::spawn_blocking(move || {
            let mut values = ValueSet::default();
            let snapshots = rows
                .into_iter()
                .map(|(id, json)| {
                    let features: Features = serde_json::from_str(&json).map_err(|e| {
                        anyhow::anyhow!("the stored features of snapshot {id} do not parse: {e}")
                    })?;
                    Ok((id, values.add(&features).1))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok::<_, anyhow::Error>((values.values, snapshots))
        })
        .await??;
        converted += snapshots.len();
        claimed.finish(db, &values, &snapshots).await?;
    }
    Ok(converted)
}

/// Which snapshots a matrix covers: these ids (when given) with all these labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Sorted, without repeats.
    pub ids: Option<Vec<i64>>,
    pub labels: Vec<(String, String)>,
}

/// What a matrix is computed for; its fleet sequence is the matrix's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixKey {
    pub spec_id: i64,
    /// 0 for unsaved text.
    pub spec_version: i64,
    /// SHA-256 of unsaved text evaluated (`content`): drafts share version 0.
    pub draft: Option<[u8; 32]>,
    pub tags: Vec<String>,
    pub selection: Selection,
    /// Attach NFD's report to each item (a single requested snapshot).
    pub report: bool,
}

/// What one evaluation of the matrix needs besides the snapshots.
struct FleetRequest<'a> {
    spec: Spec,
    spec_src: &'a str,
    options: Options,
    with_report: bool,
}

/// One distinct answer.
struct OutcomeEntry {
    id: String,
    compatible: bool,
    best_set: Option<usize>,
    sets: Vec<SetResult>,
    error: Option<String>,
    report: Option<Box<RawValue>>,
}

struct MatrixNode {
    id: i64,
    name: Option<Arc<str>>,
    /// In the matrix's `label_sets`.
    labels: u32,
    outcome: u32,
}

/// The evaluation of one selection at one fleet sequence.
pub struct Matrix {
    seq: i64,
    sets: Vec<SetSummary>,
    compatible: usize,
    errors: usize,
    outcomes: Vec<OutcomeEntry>,
    /// In snapshot id order.
    nodes: Vec<MatrixNode>,
    /// The nodes' distinct label maps (pools share theirs): filters and groups by label are
    /// decided once per map, not per node.
    label_sets: Vec<Arc<Labels>>,
    label_keys: Vec<LabelKey>,
}

/// Evaluates the selected snapshots once per group of nodes the spec cannot tell apart.
/// The snapshots of `selection` the fleet holds, in id order. Named ids the fleet does not
/// hold are a 404 when no labels narrow the selection.
fn chosen<'s>(
    state: &'s FleetState,
    selection: &Selection,
) -> Result<Vec<(i64, &'s NodeMeta)>, ApiError> {
    let has_labels = |labels: &Labels| {
        selection
            .labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
    };
    Ok(match &selection.ids {
        Some(ids) => {
            let missing: Vec<i64> = ids
                .iter()
                .filter(|id| !state.nodes.contains_key(id))
                .copied()
                .collect();
            if !missing.is_empty() && selection.labels.is_empty() {
                return Err(ApiError::not_found(format!("snapshots {missing:?}"))
                    .with_details(serde_json::json!({ "missing": missing })));
            }
            ids.iter()
                .filter_map(|id| Some((*id, state.nodes.get(id)?)))
                .filter(|(_, meta)| has_labels(&meta.labels))
                .collect()
        }
        None => state
            .nodes
            .iter()
            .filter(|(_, meta)| has_labels(&meta.labels))
            .map(|(id, meta)| (*id, meta))
            .collect(),
    })
}

fn compute(
    state: &FleetState,
    request: &FleetRequest,
    selection: &Selection,
) -> Result<Matrix, ApiError> {
    let chosen = chosen(state, selection)?;
    let ids: Vec<i64> = chosen.iter().map(|(id, _)| *id).collect();
    let grouping = state.fleet.group(&request.spec, &ids);
    let results = evaluate_groups(request, &grouping);

    // Groups with the same answer share an outcome.
    let mut outcomes: Vec<OutcomeEntry> = Vec::new();
    let mut by_answer: HashMap<String, u32> = HashMap::new();
    let group_outcome: Vec<u32> = results
        .into_iter()
        .map(|r| {
            let answer = serde_json::json!([r.compatible, r.best_set, r.sets, r.error]).to_string();
            *by_answer.entry(answer).or_insert_with_key(|answer| {
                outcomes.push(OutcomeEntry {
                    id: hex::encode(&Sha256::digest(answer.as_bytes())[..8]),
                    compatible: r.compatible,
                    best_set: r.best_set,
                    sets: r.sets,
                    error: r.error,
                    report: r.report,
                });
                (outcomes.len() - 1) as u32
            })
        })
        .collect();
    let mut label_sets: Vec<Arc<Labels>> = Vec::new();
    let mut label_index: HashMap<*const Labels, u32, Hasher> = HashMap::default();
    let nodes: Vec<MatrixNode> = chosen
        .into_iter()
        .zip(&grouping.assignment)
        .map(|((id, meta), group)| MatrixNode {
            id,
            name: meta.name.clone(),
            labels: *label_index
                .entry(Arc::as_ptr(&meta.labels))
                .or_insert_with(|| {
                    label_sets.push(meta.labels.clone());
                    (label_sets.len() - 1) as u32
                }),
            outcome: group_outcome[group.expect("chosen nodes are in the fleet") as usize],
        })
        .collect();
    let mut per_outcome = vec![0usize; outcomes.len()];
    for node in &nodes {
        per_outcome[node.outcome as usize] += 1;
    }
    let mut sets: Vec<SetSummary> = request
        .spec
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
    let (mut compatible, mut errors) = (0, 0);
    for (outcome, &count) in outcomes.iter().zip(&per_outcome) {
        compatible += usize::from(outcome.compatible) * count;
        errors += usize::from(outcome.error.is_some()) * count;
        for s in outcome.sets.iter().filter(|s| s.is_match) {
            if let Some(summary) = sets.iter_mut().find(|x| x.index == s.index) {
                summary.matched += count;
            }
        }
    }
    let label_keys = label_keys(&nodes, &label_sets);
    Ok(Matrix {
        seq: state.seq,
        sets,
        compatible,
        errors,
        outcomes,
        nodes,
        label_sets,
        label_keys,
    })
}

/// The label keys of the nodes, most used first.
fn label_keys(nodes: &[MatrixNode], label_sets: &[Arc<Labels>]) -> Vec<LabelKey> {
    let mut per_set = vec![0usize; label_sets.len()];
    for node in nodes {
        per_set[node.labels as usize] += 1;
    }
    let mut keys: HashMap<&str, (usize, HashSet<&str>)> = HashMap::new();
    for (labels, count) in label_sets.iter().zip(per_set) {
        for (k, v) in labels.iter() {
            let entry = keys.entry(k).or_default();
            entry.0 += count;
            entry.1.insert(v);
        }
    }
    let mut out: Vec<LabelKey> = keys
        .into_iter()
        .map(|(key, (nodes, values))| LabelKey {
            key: key.to_owned(),
            nodes,
            values: values.len(),
        })
        .collect();
    out.sort_by(|a, b| b.nodes.cmp(&a.nodes).then_with(|| a.key.cmp(&b.key)));
    out.truncate(MAX_LABEL_KEYS);
    out
}

struct GroupResult {
    compatible: bool,
    best_set: Option<usize>,
    sets: Vec<SetResult>,
    error: Option<String>,
    report: Option<Box<RawValue>>,
}

/// Each group's answer, on every core when there are enough groups.
fn evaluate_groups(
    request: &FleetRequest,
    grouping: &nodefit_core::fleet::Grouping,
) -> Vec<GroupResult> {
    let groups = grouping.len();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(groups / MIN_PER_THREAD)
        .max(1);
    let one = |g: usize| evaluate_one(request, &grouping.features(g));
    if threads == 1 {
        return (0..groups).map(one).collect();
    }
    let per_thread = groups.div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..groups)
            .step_by(per_thread)
            .map(|start| {
                let one = &one;
                scope.spawn(move || {
                    (start..(start + per_thread).min(groups))
                        .map(one)
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

fn evaluate_one(request: &FleetRequest, features: &Features) -> GroupResult {
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
            GroupResult {
                compatible: verdict.compatible,
                best_set: verdict.best_set,
                sets,
                error: None,
                report,
            }
        }
        Err(e) => {
            let (line, column) = LineIndex::new(request.spec_src).line_col(e.span.start);
            GroupResult {
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

/// 422 with every place NFD's decoder refuses, as lint would show them.
pub fn invalid_spec(src: &str, errors: &[nodefit_core::decode::DecodeError]) -> ApiError {
    ApiError::undecodable(
        src,
        errors,
        (
            ErrorCode::InvalidSpec,
            "NFD cannot decode this spec version",
        ),
        "nodefit refuses this spec version",
    )
}

/// What a request reads of a matrix: a filter, summaries by labels, one page.
#[derive(Clone, Debug, Default)]
pub struct View {
    pub filter: FleetFilter,
    pub group_by: Vec<String>,
    pub limit: usize,
    pub offset: usize,
}

impl View {
    fn answer(&self, key: &MatrixKey, matrix: &Matrix) -> FleetMatrix {
        let f = &self.filter;
        let keep_outcome: Vec<bool> = matrix
            .outcomes
            .iter()
            .map(|o| {
                let verdict = match f.verdict {
                    None => true,
                    Some(Verdict::Compatible) => o.compatible,
                    Some(Verdict::Incompatible) => !o.compatible && o.error.is_none(),
                    Some(Verdict::Error) => o.error.is_some(),
                };
                let best = f.best_set.is_none_or(|b| o.best_set == Some(b));
                let failing = f.failing_rule.as_ref().is_none_or(|r| {
                    o.sets
                        .iter()
                        .any(|s| s.index == r.set && s.failing_rules.contains(&r.rule))
                });
                let outcome = f.outcome.as_ref().is_none_or(|id| *id == o.id);
                verdict && best && failing && outcome
            })
            .collect();
        let text = f.text.as_deref().map(str::to_lowercase);
        let text = text.as_deref();
        // Per label map: whether it passes the label filter, and whether a `key=value` of it
        // has the text.
        let label_pass: Vec<bool> = matrix
            .label_sets
            .iter()
            .map(|labels| {
                f.labels
                    .iter()
                    .flatten()
                    .all(|(k, v)| labels.get(k) == Some(v))
            })
            .collect();
        let label_text: Vec<bool> = match text {
            None => Vec::new(),
            Some(t) => matrix
                .label_sets
                .iter()
                .map(|labels| {
                    labels
                        .iter()
                        .any(|(k, v)| format!("{k}={v}").to_lowercase().contains(t))
                })
                .collect(),
        };
        let filtered: Vec<&MatrixNode> = matrix
            .nodes
            .iter()
            .filter(|n| keep_outcome[n.outcome as usize] && label_pass[n.labels as usize])
            .filter(|n| {
                text.is_none_or(|t| {
                    label_text[n.labels as usize]
                        || n.name
                            .as_deref()
                            .is_some_and(|name| name.to_lowercase().contains(t))
                })
            })
            .collect();

        let mut per_outcome = vec![0usize; matrix.outcomes.len()];
        for node in &filtered {
            per_outcome[node.outcome as usize] += 1;
        }
        let mut truncated = false;
        let mut outcomes: Vec<Outcome> = matrix
            .outcomes
            .iter()
            .zip(&per_outcome)
            .filter(|(_, &n)| n > 0)
            .map(|(o, &nodes)| Outcome {
                id: o.id.clone(),
                compatible: o.compatible,
                best_set: o.best_set,
                sets: o.sets.clone(),
                error: o.error.clone(),
                nodes,
            })
            .collect();
        outcomes.sort_by(|a, b| b.nodes.cmp(&a.nodes).then_with(|| a.id.cmp(&b.id)));
        truncated |= outcomes.len() > MAX_SUMMARY_ROWS;
        outcomes.truncate(MAX_SUMMARY_ROWS);

        let mut rules: HashMap<(usize, &str), usize> = HashMap::new();
        for (o, &count) in matrix.outcomes.iter().zip(&per_outcome) {
            for set in o.sets.iter().filter(|_| count > 0) {
                for rule in &set.failing_rules {
                    *rules.entry((set.index, rule)).or_default() += count;
                }
            }
        }
        let mut failing_rules: Vec<RuleCount> = rules
            .into_iter()
            .map(|((set, rule), nodes)| RuleCount {
                set,
                rule: rule.to_owned(),
                nodes,
            })
            .collect();
        failing_rules.sort_by(|a, b| {
            b.nodes
                .cmp(&a.nodes)
                .then_with(|| (a.set, &a.rule).cmp(&(b.set, &b.rule)))
        });
        truncated |= failing_rules.len() > MAX_SUMMARY_ROWS;
        failing_rules.truncate(MAX_SUMMARY_ROWS);

        let mut groups = Vec::new();
        if !self.group_by.is_empty() {
            // Each label map's values of the keys, as a combination's index.
            let mut combinations: Vec<Vec<Option<&str>>> = Vec::new();
            let mut combination_index: HashMap<Vec<Option<&str>>, u32, Hasher> = HashMap::default();
            let of_set: Vec<u32> = matrix
                .label_sets
                .iter()
                .map(|labels| {
                    let values: Vec<Option<&str>> = self
                        .group_by
                        .iter()
                        .map(|k| labels.get(k).map(String::as_str))
                        .collect();
                    *combination_index
                        .entry(values)
                        .or_insert_with_key(|values| {
                            combinations.push(values.clone());
                            (combinations.len() - 1) as u32
                        })
                })
                .collect();
            let mut counts: HashMap<(u32, u32), usize, Hasher> = HashMap::default();
            for node in &filtered {
                *counts
                    .entry((of_set[node.labels as usize], node.outcome))
                    .or_default() += 1;
            }
            groups = counts
                .into_iter()
                .map(|((combination, outcome), nodes)| GroupCount {
                    labels: self
                        .group_by
                        .iter()
                        .cloned()
                        .zip(
                            combinations[combination as usize]
                                .iter()
                                .map(|v| v.map(str::to_owned)),
                        )
                        .collect(),
                    outcome: matrix.outcomes[outcome as usize].id.clone(),
                    nodes,
                })
                .collect();
            groups.sort_by(|a: &GroupCount, b: &GroupCount| {
                b.nodes
                    .cmp(&a.nodes)
                    .then_with(|| a.labels.cmp(&b.labels))
                    .then_with(|| a.outcome.cmp(&b.outcome))
            });
            truncated |= groups.len() > MAX_SUMMARY_ROWS;
            groups.truncate(MAX_SUMMARY_ROWS);
        }

        let items = filtered
            .iter()
            .skip(self.offset)
            .take(self.limit)
            .map(|node| {
                let o = &matrix.outcomes[node.outcome as usize];
                FleetItem {
                    snapshot_id: node.id,
                    node_name: node.name.as_deref().map(str::to_owned),
                    labels: (*matrix.label_sets[node.labels as usize]).clone(),
                    outcome: o.id.clone(),
                    compatible: o.compatible,
                    best_set: o.best_set,
                    sets: o.sets.clone(),
                    error: o.error.clone(),
                    report: o.report.clone(),
                }
            })
            .collect();
        FleetMatrix {
            spec_id: key.spec_id,
            spec_version: key.spec_version,
            fleet_sequence: matrix.seq,
            sets: matrix.sets.clone(),
            total: matrix.nodes.len(),
            compatible: matrix.compatible,
            errors: matrix.errors,
            filtered: filtered.len(),
            outcomes,
            failing_rules,
            groups,
            truncated,
            label_keys: matrix.label_keys.clone(),
            items,
            limit: self.limit,
            offset: self.offset,
        }
    }
}
