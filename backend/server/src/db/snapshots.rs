//! Node snapshots, stored as the fleet is held in memory: each distinct feature value once in
//! `feature_values` (keyed by the SHA-256 of its name and canonical JSON), and per snapshot the
//! ids of its values. Every write that changes what the fleet holds also appends to
//! `fleet_changes`, which each server process follows to keep its copy of the fleet current.
//!
//! Two PostgreSQL advisory locks, both held until commit, keep the processes honest with each
//! other. [`CHANGES_LOCK`] is taken just before a change row is written: the rows' sequence is
//! then their commit order, so a process that has seen change N has seen every change before
//! it. [`VALUES_LOCK`] is held shared by every write that refers to feature values and
//! exclusively by [`Db::collect_values`], so values are never collected between a writer
//! finding them and its snapshots referring to them. SQLite runs one write transaction at a
//! time, which gives both for free.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::Row;

use nodefit_api::snapshots::SnapshotSummary;

use super::{bind_all, format_time, labels_from_row, like_pattern, now_ms, Bind, Db, Dialect};

/// Held shared by writes that refer to feature values, exclusively while collecting them.
const VALUES_LOCK: i64 = 0x6e6f_6465_6669_7401;
/// Held from writing fleet changes until commit.
const CHANGES_LOCK: i64 = 0x6e6f_6465_6669_7402;
/// Rows per multi-row statement (PostgreSQL takes at most 65,535 parameters, SQLite 32,766).
const VALUES_PER_STATEMENT: usize = 500;
const SNAPSHOTS_PER_STATEMENT: usize = 200;
const IDS_PER_STATEMENT: usize = 1000;

/// A distinct feature value of an upload.
#[derive(Clone, Debug)]
pub struct NewValue {
    /// SHA-256 of the name as a JSON string followed by `json`.
    pub hash: [u8; 32],
    pub name: String,
    /// The value's canonical JSON (`FeatureValue::to_json`).
    pub json: String,
}

/// A snapshot to store.
#[derive(Clone, Debug)]
pub struct NewSnapshot {
    pub node_name: Option<String>,
    pub format: &'static str,
    /// `sha256:` of the canonical `nfd export features` JSON.
    pub content_hash: String,
    pub feature_count: i64,
    pub labels: BTreeMap<String, String>,
    /// Its values, as positions in the upload's `values`.
    pub values: Vec<usize>,
}

/// The nodes of one upload and their distinct values.
#[derive(Clone, Debug, Default)]
pub struct Upload {
    pub values: Vec<NewValue>,
    pub snapshots: Vec<NewSnapshot>,
}

/// What happened to each uploaded node.
#[derive(Clone, Debug)]
pub enum Stored {
    Created(SnapshotSummary),
    /// Identical features were already stored: the existing snapshot.
    Duplicate(SnapshotSummary),
}

/// Which snapshots a list covers.
#[derive(Clone, Debug, Default)]
pub struct SnapshotQuery {
    /// Every one must match (`key = value`).
    pub labels: Vec<(String, String)>,
    pub node: Option<String>,
    /// Case-insensitive text in the node name, the labels or the content hash.
    pub text: Option<String>,
}

/// A snapshot as the fleet holds it.
#[derive(Clone, Debug)]
pub struct FleetRow {
    pub id: i64,
    pub node_name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub value_ids: Vec<i64>,
}

/// Rows as one JSON array, and the last row's id.
#[derive(Clone, Debug)]
pub struct JsonChunk {
    pub last: i64,
    pub rows: String,
}

/// A stored feature value.
#[derive(Clone, Debug)]
pub struct ValueRow {
    pub id: i64,
    pub name: String,
    pub value: String,
}

/// A snapshot's features as stored: its values, or (until the server converts it) the JSON
/// stored before migration 4.
#[derive(Clone, Debug)]
pub enum StoredFeatures {
    Values(Vec<ValueRow>),
    Json(String),
}

/// Snapshots stored before migration 4, claimed for conversion: the transaction holds them
/// until [`Backfill::finish`] commits their values.
pub struct Backfill {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    /// Snapshot ids and their features JSON.
    pub rows: Vec<(i64, String)>,
}

const SUMMARY_COLUMNS: &str =
    "id, node_name, labels, format, content_hash, feature_count, created_at, created_by";

fn summary(row: &AnyRow) -> Result<SnapshotSummary, sqlx::Error> {
    Ok(SnapshotSummary {
        id: row.try_get("id")?,
        node_name: row.try_get("node_name")?,
        labels: labels_from_row(row, "labels")?,
        format: row.try_get("format")?,
        content_hash: row.try_get("content_hash")?,
        feature_count: row.try_get("feature_count")?,
        created_at: format_time(row.try_get("created_at")?),
        created_by: row.try_get("created_by")?,
    })
}

/// Value ids as stored: ascending, each the difference to the one before, in LEB128.
pub fn encode_value_ids(ids: &[i64]) -> Vec<u8> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let mut out = Vec::with_capacity(ids.len() * 3);
    let mut previous = 0;
    for id in sorted {
        let mut delta = id.wrapping_sub(previous) as u64;
        previous = id;
        loop {
            let byte = (delta & 0x7f) as u8;
            delta >>= 7;
            if delta == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

/// The ids [`encode_value_ids`] wrote; `None` for bytes it cannot have written.
pub fn decode_value_ids(bytes: &[u8]) -> Option<Vec<i64>> {
    let mut out = Vec::with_capacity(bytes.len() / 2);
    let mut previous: i64 = 0;
    let mut delta: u64 = 0;
    let mut shift = 0;
    for &byte in bytes {
        if shift > 63 {
            return None;
        }
        delta |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            previous = previous.checked_add(i64::try_from(delta).ok()?)?;
            out.push(previous);
            delta = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    (shift == 0).then_some(out)
}

fn fleet_row(row: &AnyRow) -> Result<FleetRow, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    let bytes: Vec<u8> = row.try_get("value_ids")?;
    let value_ids = decode_value_ids(&bytes).ok_or_else(|| {
        sqlx::Error::Decode(format!("snapshot {id}: value_ids is not a list of ids").into())
    })?;
    Ok(FleetRow {
        id,
        node_name: row.try_get("node_name")?,
        labels: labels_from_row(row, "labels")?,
        value_ids,
    })
}

fn value_row(row: &AnyRow) -> Result<ValueRow, sqlx::Error> {
    Ok(ValueRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        value: row.try_get("value")?,
    })
}

impl SnapshotQuery {
    /// The WHERE clause (with a leading space, or empty) and its values.
    fn clause(&self) -> (String, Vec<Bind>) {
        fn next(b: Bind, binds: &mut Vec<Bind>) -> String {
            binds.push(b);
            format!("${}", binds.len())
        }
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        for (key, value) in &self.labels {
            let k = next(Bind::Text(key.clone()), &mut binds);
            let v = next(Bind::Text(value.clone()), &mut binds);
            conditions.push(format!(
                "id IN (SELECT snapshot_id FROM snapshot_labels WHERE key = {k} AND value = {v})"
            ));
        }
        if let Some(node) = &self.node {
            let n = next(Bind::Text(node.clone()), &mut binds);
            conditions.push(format!("node_name = {n}"));
        }
        if let Some(text) = &self.text {
            let p = next(Bind::Text(like_pattern(text)), &mut binds);
            conditions.push(format!(
                "(LOWER(COALESCE(node_name, '')) LIKE {p} ESCAPE '\\' \
                 OR LOWER(labels) LIKE {p} ESCAPE '\\' OR content_hash LIKE {p} ESCAPE '\\')"
            ));
        }
        if conditions.is_empty() {
            (String::new(), binds)
        } else {
            (format!(" WHERE {}", conditions.join(" AND ")), binds)
        }
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Db {
    /// On PostgreSQL, takes the values lock shared (see the module's documentation).
    async fn share_values(&self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT 1 AS locked FROM pg_advisory_xact_lock_shared($1)")
                .bind(VALUES_LOCK)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Appends a fleet change for each snapshot; the transaction's last writes.
    async fn record_changes(&self, tx: &mut Tx, ids: &[i64]) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT 1 AS locked FROM pg_advisory_xact_lock($1)")
                .bind(CHANGES_LOCK)
                .execute(&mut **tx)
                .await?;
        }
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO fleet_changes (snapshot_id) VALUES {}",
                self.placeholders(1, chunk.len(), 1)
            );
            let binds: Vec<Bind> = chunk.iter().map(|&id| Bind::Int(id)).collect();
            bind_all(&sql, &binds).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Stores the values not stored yet; the id of each, in order. The first statement is a
    /// write, so that SQLite takes its write lock at once.
    async fn store_values(
        &self,
        tx: &mut Tx,
        values: &[NewValue],
    ) -> Result<Vec<i64>, sqlx::Error> {
        for chunk in values.chunks(VALUES_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO feature_values (hash, name, value) VALUES {} \
                 ON CONFLICT (hash) DO NOTHING",
                self.placeholders(1, chunk.len(), 3)
            );
            let binds: Vec<Bind> = chunk
                .iter()
                .flat_map(|v| {
                    [
                        Bind::Blob(v.hash.to_vec()),
                        Bind::Text(v.name.clone()),
                        Bind::Text(v.json.clone()),
                    ]
                })
                .collect();
            bind_all(&sql, &binds).execute(&mut **tx).await?;
        }
        let mut ids: HashMap<Vec<u8>, i64> = HashMap::with_capacity(values.len());
        for chunk in values.chunks(VALUES_PER_STATEMENT) {
            let sql = format!(
                "SELECT id, hash FROM feature_values WHERE hash IN {}",
                self.placeholders(1, 1, chunk.len())
            );
            let binds: Vec<Bind> = chunk.iter().map(|v| Bind::Blob(v.hash.to_vec())).collect();
            for row in bind_all(&sql, &binds).fetch_all(&mut **tx).await? {
                ids.insert(row.try_get("hash")?, row.try_get("id")?);
            }
        }
        values
            .iter()
            .map(|v| {
                ids.get(v.hash.as_slice()).copied().ok_or_else(|| {
                    sqlx::Error::Protocol(format!("feature value {} was not stored", v.name))
                })
            })
            .collect()
    }

    /// Stores the nodes of one upload in one transaction: all of them or none.
    pub async fn insert_snapshots(
        &self,
        upload: &Upload,
        created_by: &str,
    ) -> Result<Vec<Stored>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        self.share_values(&mut tx).await?;
        let value_ids = self.store_values(&mut tx, &upload.values).await?;
        let created_at = now_ms();
        let mut out: Vec<Option<Stored>> = vec![None; upload.snapshots.len()];
        let mut labels = Vec::with_capacity(upload.snapshots.len());
        for (chunk_index, chunk) in upload.snapshots.chunks(SNAPSHOTS_PER_STATEMENT).enumerate() {
            let start = chunk_index * SNAPSHOTS_PER_STATEMENT;
            let sql = format!(
                "INSERT INTO snapshots \
                 (node_name, format, content_hash, feature_count, labels, created_at, created_by, value_ids) \
                 VALUES {} ON CONFLICT (content_hash) DO NOTHING RETURNING id, content_hash",
                self.placeholders(1, chunk.len(), 8)
            );
            let mut binds = Vec::with_capacity(chunk.len() * 8);
            for node in chunk {
                let ids: Vec<i64> = node.values.iter().map(|&v| value_ids[v]).collect();
                binds.extend([
                    node.node_name.clone().map_or(Bind::Null, Bind::Text),
                    Bind::Text(node.format.to_owned()),
                    Bind::Text(node.content_hash.clone()),
                    Bind::Int(node.feature_count),
                    Bind::Text(
                        serde_json::to_string(&node.labels)
                            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
                    ),
                    Bind::Int(created_at),
                    Bind::Text(created_by.to_owned()),
                    Bind::Blob(encode_value_ids(&ids)),
                ]);
            }
            for row in bind_all(&sql, &binds).fetch_all(&mut *tx).await? {
                let id: i64 = row.try_get("id")?;
                let hash: String = row.try_get("content_hash")?;
                // Nodes with the same features in one upload: the first is the one stored.
                let Some(at) = (start..start + chunk.len())
                    .find(|&i| out[i].is_none() && upload.snapshots[i].content_hash == hash)
                else {
                    continue;
                };
                let node = &upload.snapshots[at];
                labels.push((id, &node.labels));
                out[at] = Some(Stored::Created(SnapshotSummary {
                    id,
                    node_name: node.node_name.clone(),
                    labels: node.labels.clone(),
                    format: node.format.to_owned(),
                    content_hash: node.content_hash.clone(),
                    feature_count: node.feature_count,
                    created_at: format_time(created_at),
                    created_by: created_by.to_owned(),
                }));
            }
        }
        // The others were stored before, by an earlier upload or earlier in this one.
        let mut existing: HashMap<String, SnapshotSummary> = out
            .iter()
            .flatten()
            .map(|s| match s {
                Stored::Created(s) | Stored::Duplicate(s) => (s.content_hash.clone(), s.clone()),
            })
            .collect();
        let missing: Vec<String> = upload
            .snapshots
            .iter()
            .zip(&out)
            .filter(|(node, stored)| stored.is_none() && !existing.contains_key(&node.content_hash))
            .map(|(node, _)| node.content_hash.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for chunk in missing.chunks(IDS_PER_STATEMENT) {
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM snapshots WHERE content_hash IN {}",
                self.placeholders(1, 1, chunk.len())
            );
            let binds: Vec<Bind> = chunk.iter().map(|h| Bind::Text(h.clone())).collect();
            for row in bind_all(&sql, &binds).fetch_all(&mut *tx).await? {
                let s = summary(&row)?;
                existing.insert(s.content_hash.clone(), s);
            }
        }
        let out = upload
            .snapshots
            .iter()
            .zip(out)
            .map(|(node, stored)| match stored {
                Some(s) => Ok(s),
                None => existing
                    .get(&node.content_hash)
                    .map(|s| Stored::Duplicate(s.clone()))
                    .ok_or_else(|| {
                        sqlx::Error::Protocol(format!("snapshot {} vanished", node.content_hash))
                    }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.insert_labels(&mut tx, &labels).await?;
        let created: Vec<i64> = labels.iter().map(|(id, _)| *id).collect();
        self.record_changes(&mut tx, &created).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// A page of snapshots, newest first, and how many match in all.
    pub async fn list_snapshots(
        &self,
        query: &SnapshotQuery,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<SnapshotSummary>, i64), sqlx::Error> {
        let (clause, binds) = query.clause();
        let (rows, total) = self
            .page(
                SUMMARY_COLUMNS,
                "snapshots",
                &clause,
                "id DESC",
                binds,
                (limit, offset),
            )
            .await?;
        let items = rows.iter().map(summary).collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    /// A snapshot with its features as stored.
    pub async fn get_snapshot(
        &self,
        id: i64,
    ) -> Result<Option<(SnapshotSummary, StoredFeatures)>, sqlx::Error> {
        let Some(row) = sqlx::query(
            "SELECT s.id, s.node_name, s.labels, s.format, s.content_hash, s.feature_count, \
             s.created_at, s.created_by, s.value_ids, b.features \
             FROM snapshots s LEFT JOIN snapshot_backfill b ON b.snapshot_id = s.id WHERE s.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let features = match row.try_get::<Option<String>, _>("features")? {
            Some(json) => StoredFeatures::Json(json),
            None => {
                let bytes: Vec<u8> = row.try_get("value_ids")?;
                let ids = decode_value_ids(&bytes).ok_or_else(|| {
                    sqlx::Error::Decode(
                        format!("snapshot {id}: value_ids is not a list of ids").into(),
                    )
                })?;
                StoredFeatures::Values(self.feature_values(&ids).await?)
            }
        };
        Ok(Some((summary(&row)?, features)))
    }

    /// Replaces a snapshot's labels.
    pub async fn set_snapshot_labels(
        &self,
        id: i64,
        labels: &BTreeMap<String, String>,
    ) -> Result<Option<SnapshotSummary>, sqlx::Error> {
        let text = serde_json::to_string(labels).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query(&format!(
            "UPDATE snapshots SET labels = $1 WHERE id = $2 RETURNING {SUMMARY_COLUMNS}"
        ))
        .bind(text.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        sqlx::query("DELETE FROM snapshot_labels WHERE snapshot_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.insert_labels(&mut tx, &[(id, labels)]).await?;
        self.record_changes(&mut tx, &[id]).await?;
        let summary = summary(&row)?;
        tx.commit().await?;
        Ok(Some(summary))
    }

    pub async fn delete_snapshot(&self, id: i64) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM snapshots WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        self.record_changes(&mut tx, &[id]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The last fleet change's sequence number (0 before the first).
    pub async fn fleet_sequence(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM fleet_changes")
            .fetch_one(&self.pool)
            .await?
            .try_get("seq")
    }

    /// The snapshots changed after `after` up to `upto`, or `None` when more than `most`.
    pub async fn fleet_changes(
        &self,
        after: i64,
        upto: i64,
        most: usize,
    ) -> Result<Option<Vec<i64>>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT DISTINCT snapshot_id FROM fleet_changes WHERE seq > $1 AND seq <= $2 LIMIT $3",
        )
        .bind(after)
        .bind(upto)
        .bind(i64::try_from(most).unwrap_or(i64::MAX).saturating_add(1))
        .fetch_all(&self.pool)
        .await?;
        if rows.len() > most {
            return Ok(None);
        }
        rows.iter()
            .map(|r| r.try_get("snapshot_id"))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// The snapshots (converted to values) among `ids`; ids not stored are left out.
    pub async fn fleet_rows(&self, ids: &[i64]) -> Result<Vec<FleetRow>, sqlx::Error> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let sql = format!(
                "SELECT id, node_name, labels, value_ids FROM snapshots \
                 WHERE value_ids IS NOT NULL AND id IN {}",
                self.placeholders(1, 1, chunk.len())
            );
            let binds: Vec<Bind> = chunk.iter().map(|&id| Bind::Int(id)).collect();
            for row in bind_all(&sql, &binds).fetch_all(&self.pool).await? {
                out.push(fleet_row(&row)?);
            }
        }
        Ok(out)
    }

    /// Up to `limit` snapshots (converted to values) with ids above `after`, as one JSON
    /// array of `[id, node_name, labels, value_ids in hex]`; `None` past the last.
    ///
    /// Loading the fleet reads every row of two tables: sqlx's SQLite driver hands each row
    /// from its own thread to the caller, which cost more than all else in a load (a thread
    /// wake-up per row), so the database aggregates a chunk into one row instead.
    pub async fn fleet_rows_chunk(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Option<JsonChunk>, sqlx::Error> {
        let sql = match self.dialect {
            Dialect::Sqlite => {
                "SELECT MAX(id) AS last, json_group_array(json_array(id, node_name, json(labels), \
                 hex(value_ids))) AS rows FROM (SELECT id, node_name, labels, value_ids \
                 FROM snapshots WHERE value_ids IS NOT NULL AND id > $1 ORDER BY id LIMIT $2)"
            }
            Dialect::Postgres => {
                "SELECT MAX(id) AS last, json_agg(json_build_array(id, node_name, labels::json, \
                 encode(value_ids, 'hex')))::text AS rows FROM (SELECT id, node_name, labels, \
                 value_ids FROM snapshots WHERE value_ids IS NOT NULL AND id > $1 ORDER BY id \
                 LIMIT $2) AS chunk"
            }
        };
        self.json_chunk(sql, after, limit).await
    }

    /// Up to `limit` feature values with ids above `after`, as one JSON array of `[id, name,
    /// value]`; `None` past the last (see [`Self::fleet_rows_chunk`] for why one row).
    pub async fn feature_values_chunk(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Option<JsonChunk>, sqlx::Error> {
        let sql = match self.dialect {
            Dialect::Sqlite => {
                "SELECT MAX(id) AS last, json_group_array(json_array(id, name, json(value))) \
                 AS rows FROM (SELECT id, name, value FROM feature_values WHERE id > $1 \
                 ORDER BY id LIMIT $2)"
            }
            Dialect::Postgres => {
                "SELECT MAX(id) AS last, json_agg(json_build_array(id, name, value::json))::text \
                 AS rows FROM (SELECT id, name, value FROM feature_values WHERE id > $1 \
                 ORDER BY id LIMIT $2) AS chunk"
            }
        };
        self.json_chunk(sql, after, limit).await
    }

    async fn json_chunk(
        &self,
        sql: &str,
        after: i64,
        limit: i64,
    ) -> Result<Option<JsonChunk>, sqlx::Error> {
        let row = sqlx::query(sql)
            .bind(after)
            .bind(limit)
            .fetch_one(&self.pool)
            .await?;
        let Some(last) = row.try_get::<Option<i64>, _>("last")? else {
            return Ok(None);
        };
        Ok(Some(JsonChunk {
            last,
            rows: row.try_get("rows")?,
        }))
    }

    /// The feature values among `ids` (ids not stored are left out).
    pub async fn feature_values(&self, ids: &[i64]) -> Result<Vec<ValueRow>, sqlx::Error> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let sql = format!(
                "SELECT id, name, value FROM feature_values WHERE id IN {}",
                self.placeholders(1, 1, chunk.len())
            );
            let binds: Vec<Bind> = chunk.iter().map(|&id| Bind::Int(id)).collect();
            for row in bind_all(&sql, &binds).fetch_all(&self.pool).await? {
                out.push(value_row(&row)?);
            }
        }
        Ok(out)
    }

    /// Deletes the feature values no snapshot refers to; how many. Holds the values lock (or
    /// SQLite's write lock) throughout, so no writer can be about to refer to one.
    pub async fn collect_values(&self) -> Result<u64, sqlx::Error> {
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT 1 AS locked FROM pg_advisory_xact_lock($1)")
                    .bind(VALUES_LOCK)
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        let blobs: Vec<Vec<u8>> =
            sqlx::query("SELECT value_ids FROM snapshots WHERE value_ids IS NOT NULL")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get("value_ids"))
                .collect::<Result<_, _>>()?;
        let all: Vec<i64> = sqlx::query("SELECT id FROM feature_values")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        // Decoding every snapshot's ids is CPU work: off the async workers.
        let unreferenced = tokio::task::spawn_blocking(move || {
            let mut referenced = HashSet::with_capacity(all.len());
            for blob in &blobs {
                referenced.extend(decode_value_ids(blob).unwrap_or_default());
            }
            all.into_iter()
                .filter(|id| !referenced.contains(id))
                .collect::<Vec<i64>>()
        })
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("collecting values: {e}")))?;
        for chunk in unreferenced.chunks(IDS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM feature_values WHERE id IN {}",
                self.placeholders(1, 1, chunk.len())
            );
            let binds: Vec<Bind> = chunk.iter().map(|&id| Bind::Int(id)).collect();
            bind_all(&sql, &binds).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(unreferenced.len() as u64)
    }

    /// Stores snapshots' labels (their old ones already deleted, if they had any).
    async fn insert_labels(
        &self,
        tx: &mut Tx,
        labels: &[(i64, &BTreeMap<String, String>)],
    ) -> Result<(), sqlx::Error> {
        let rows: Vec<(i64, &String, &String)> = labels
            .iter()
            .flat_map(|(id, labels)| labels.iter().map(move |(k, v)| (*id, k, v)))
            .collect();
        for chunk in rows.chunks(VALUES_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO snapshot_labels (snapshot_id, key, value) VALUES {}",
                self.placeholders(1, chunk.len(), 3)
            );
            let binds: Vec<Bind> = chunk
                .iter()
                .flat_map(|(id, k, v)| {
                    [
                        Bind::Int(*id),
                        Bind::Text((*k).clone()),
                        Bind::Text((*v).clone()),
                    ]
                })
                .collect();
            bind_all(&sql, &binds).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Claims up to `limit` snapshots stored before migration 4, or `None` when none is left.
    pub async fn claim_backfill(&self, limit: i64) -> Result<Option<Backfill>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        self.share_values(&mut tx).await?;
        // A write first (SQLite's lock); another process converting at the same time claims
        // other rows, or none.
        let rows: Vec<(i64, String)> = sqlx::query(
            "DELETE FROM snapshot_backfill WHERE snapshot_id IN \
             (SELECT snapshot_id FROM snapshot_backfill ORDER BY snapshot_id LIMIT $1) \
             RETURNING snapshot_id, features",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("snapshot_id")?, r.try_get("features")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(Backfill { tx, rows }))
    }
}

impl Backfill {
    /// Stores the claimed snapshots' values (`snapshots`: id and positions in `values`) and
    /// commits.
    pub async fn finish(
        mut self,
        db: &Db,
        values: &[NewValue],
        snapshots: &[(i64, Vec<usize>)],
    ) -> Result<(), sqlx::Error> {
        let ids = db.store_values(&mut self.tx, values).await?;
        for (id, positions) in snapshots {
            let value_ids: Vec<i64> = positions.iter().map(|&p| ids[p]).collect();
            sqlx::query("UPDATE snapshots SET value_ids = $1 WHERE id = $2")
                .bind(encode_value_ids(&value_ids))
                .bind(*id)
                .execute(&mut *self.tx)
                .await?;
        }
        let converted: Vec<i64> = snapshots.iter().map(|(id, _)| *id).collect();
        db.record_changes(&mut self.tx, &converted).await?;
        self.tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_ids_round_trip_sorted_and_compact() {
        let ids = [300, 1, 128, 5_000_000_000, 2];
        let bytes = encode_value_ids(&ids);
        assert_eq!(bytes[..3], [1, 1, 126], "deltas from 0: 1, 1, 126");
        assert_eq!(
            decode_value_ids(&bytes),
            Some(vec![1, 2, 128, 300, 5_000_000_000])
        );
        assert_eq!(decode_value_ids(&[]), Some(vec![]));
        assert_eq!(decode_value_ids(&[0x80]), None, "cut off");
        assert_eq!(decode_value_ids(&[0xff; 11]), None, "too long");
    }
}
