//! Node snapshots: one row per node, features stored once per content hash.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::Row;

use nodefit_api::snapshots::SnapshotSummary;

use super::{bind_all, format_time, labels_from_row, like_pattern, now_ms, Bind, Db};

/// A snapshot to store.
#[derive(Clone, Debug)]
pub struct NewSnapshot {
    pub node_name: Option<String>,
    pub format: &'static str,
    pub content_hash: String,
    pub feature_count: i64,
    pub labels: BTreeMap<String, String>,
    /// The canonical `nfd export features` JSON.
    pub features: String,
}

/// What happened to each uploaded node.
#[derive(Clone, Debug)]
pub enum Stored {
    Created(SnapshotSummary),
    /// Identical features were already stored: the existing snapshot.
    Duplicate(SnapshotSummary),
}

/// Which snapshots a list or an evaluation covers.
#[derive(Clone, Debug, Default)]
pub struct SnapshotQuery {
    pub ids: Option<Vec<i64>>,
    /// Every one must match (`key = value`).
    pub labels: Vec<(String, String)>,
    pub node: Option<String>,
    /// Case-insensitive text in the node name, the labels or the content hash.
    pub text: Option<String>,
}

/// What an evaluation needs of a snapshot besides its features.
#[derive(Clone, Debug)]
pub struct EvalRow {
    pub id: i64,
    pub node_name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub content_hash: String,
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

impl SnapshotQuery {
    /// The WHERE clause (with a leading space, or empty) and its values.
    fn clause(&self) -> (String, Vec<Bind>) {
        fn next(b: Bind, binds: &mut Vec<Bind>) -> String {
            binds.push(b);
            format!("${}", binds.len())
        }
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        if let Some(ids) = &self.ids {
            if ids.is_empty() {
                conditions.push("1 = 0".to_owned());
            } else {
                let list: Vec<String> = ids
                    .iter()
                    .map(|id| next(Bind::Int(*id), &mut binds))
                    .collect();
                conditions.push(format!("id IN ({})", list.join(", ")));
            }
        }
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

impl Db {
    /// Stores the nodes of one upload in one transaction: all of them or none.
    pub async fn insert_snapshots(
        &self,
        nodes: &[NewSnapshot],
        created_by: &str,
    ) -> Result<Vec<Stored>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let created_at = now_ms();
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            let labels = serde_json::to_string(&node.labels)
                .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            let inserted = sqlx::query(
                "INSERT INTO snapshots \
                 (node_name, format, content_hash, feature_count, labels, created_at, created_by, features) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (content_hash) DO NOTHING RETURNING id",
            )
            .bind(node.node_name.as_deref())
            .bind(node.format)
            .bind(node.content_hash.as_str())
            .bind(node.feature_count)
            .bind(labels.as_str())
            .bind(created_at)
            .bind(created_by)
            .bind(node.features.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            match inserted {
                Some(row) => {
                    let id: i64 = row.try_get("id")?;
                    insert_labels(&mut tx, id, &node.labels).await?;
                    out.push(Stored::Created(SnapshotSummary {
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
                None => {
                    let row = sqlx::query(&format!(
                        "SELECT {SUMMARY_COLUMNS} FROM snapshots WHERE content_hash = $1"
                    ))
                    .bind(node.content_hash.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                    out.push(Stored::Duplicate(summary(&row)?));
                }
            }
        }
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

    /// A snapshot with its features JSON.
    pub async fn get_snapshot(
        &self,
        id: i64,
    ) -> Result<Option<(SnapshotSummary, String)>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS}, features FROM snapshots WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((summary(&r)?, r.try_get("features")?)))
            .transpose()
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
        insert_labels(&mut tx, id, labels).await?;
        let summary = summary(&row)?;
        tx.commit().await?;
        Ok(Some(summary))
    }

    pub async fn delete_snapshot(&self, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM snapshots WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The snapshots an evaluation covers, oldest first, without features.
    pub async fn eval_rows(&self, query: &SnapshotQuery) -> Result<Vec<EvalRow>, sqlx::Error> {
        let (clause, binds) = query.clause();
        let sql = format!(
            "SELECT id, node_name, labels, content_hash FROM snapshots{clause} ORDER BY id"
        );
        bind_all(&sql, &binds)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(EvalRow {
                    id: r.try_get("id")?,
                    node_name: r.try_get("node_name")?,
                    labels: labels_from_row(r, "labels")?,
                    content_hash: r.try_get("content_hash")?,
                })
            })
            .collect()
    }

    /// Features JSON by content hash (hashes not stored are left out).
    pub async fn features_by_hash(
        &self,
        hashes: &[String],
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let binds: Vec<Bind> = hashes.iter().map(|h| Bind::Text(h.clone())).collect();
        let list: Vec<String> = (1..=binds.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT content_hash, features FROM snapshots WHERE content_hash IN ({})",
            list.join(", ")
        );
        bind_all(&sql, &binds)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("content_hash")?, r.try_get("features")?)))
            .collect()
    }
}

/// Stores a snapshot's labels (its old ones already deleted, if it had any).
async fn insert_labels(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    labels: &BTreeMap<String, String>,
) -> Result<(), sqlx::Error> {
    for (key, value) in labels {
        sqlx::query("INSERT INTO snapshot_labels (snapshot_id, key, value) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(key.as_str())
            .bind(value.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
