//! Specs and their versions: every save that changes the content is a new version.

use nodefit_registry::Digest;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{format_time, is_unique_violation, like_pattern, now_ms, Bind, Db};

#[derive(Clone, Debug)]
pub struct SpecRow {
    pub id: i64,
    pub name: String,
    /// The latest version.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
}

#[derive(Clone, Debug)]
pub struct VersionRow {
    pub version: i64,
    pub content_hash: String,
    pub message: String,
    pub created_at: String,
    pub created_by: String,
    /// Left out of version lists.
    pub content: Option<String>,
}

/// A save of a spec.
#[derive(Clone, Debug)]
pub struct SpecUpdate {
    pub content: String,
    pub name: Option<String>,
    pub message: String,
    /// When given, the save is refused unless this is still the latest version.
    pub base_version: Option<i64>,
}

#[derive(Clone, Debug)]
pub enum UpdateOutcome {
    NotFound,
    /// `base_version` is no longer the latest: someone else saved in between.
    Stale {
        latest: i64,
    },
    NameTaken,
    Saved {
        spec: SpecRow,
        new_version: bool,
    },
}

pub fn content_hash(content: &str) -> String {
    Digest::sha256_of(content.as_bytes()).into()
}

const SPEC_COLUMNS: &str = "id, name, latest_version, created_at, updated_at, created_by";
const VERSION_COLUMNS: &str = "version, content_hash, message, created_at, created_by";

fn spec_row(row: &AnyRow) -> Result<SpecRow, sqlx::Error> {
    Ok(SpecRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        version: row.try_get("latest_version")?,
        created_at: format_time(row.try_get("created_at")?),
        updated_at: format_time(row.try_get("updated_at")?),
        created_by: row.try_get("created_by")?,
    })
}

fn version_row(row: &AnyRow, with_content: bool) -> Result<VersionRow, sqlx::Error> {
    Ok(VersionRow {
        version: row.try_get("version")?,
        content_hash: row.try_get("content_hash")?,
        message: row.try_get("message")?,
        created_at: format_time(row.try_get("created_at")?),
        created_by: row.try_get("created_by")?,
        content: if with_content {
            Some(row.try_get("content")?)
        } else {
            None
        },
    })
}

impl Db {
    /// Creates a spec at version 1; `None` when the name is taken.
    pub async fn create_spec(
        &self,
        name: &str,
        content: &str,
        message: &str,
        created_by: &str,
    ) -> Result<Option<SpecRow>, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO specs (name, latest_version, created_at, updated_at, created_by) \
             VALUES ($1, 1, $2, $2, $3) RETURNING {SPEC_COLUMNS}"
        ))
        .bind(name)
        .bind(now)
        .bind(created_by)
        .fetch_one(&mut *tx)
        .await;
        let spec = match inserted {
            Ok(row) => spec_row(&row)?,
            Err(e) if is_unique_violation(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        insert_version(&mut tx, spec.id, 1, content, message, now, created_by).await?;
        tx.commit().await?;
        Ok(Some(spec))
    }

    pub async fn list_specs(
        &self,
        text: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<SpecRow>, i64), sqlx::Error> {
        let mut binds = Vec::new();
        let clause = match text {
            Some(t) => {
                binds.push(Bind::Text(like_pattern(t)));
                " WHERE LOWER(name) LIKE $1 ESCAPE '\\'"
            }
            None => "",
        };
        let (rows, total) = self
            .page(
                SPEC_COLUMNS,
                "specs",
                clause,
                "name",
                binds,
                (limit, offset),
            )
            .await?;
        Ok((rows.iter().map(spec_row).collect::<Result<_, _>>()?, total))
    }

    /// A spec and one of its versions (the latest when `version` is `None`), with content.
    pub async fn spec_version(
        &self,
        id: i64,
        version: Option<i64>,
    ) -> Result<Option<(SpecRow, VersionRow)>, sqlx::Error> {
        let Some(spec) = sqlx::query(&format!("SELECT {SPEC_COLUMNS} FROM specs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let spec = spec_row(&spec)?;
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS}, content FROM spec_versions WHERE spec_id = $1 AND version = $2"
        ))
        .bind(id)
        .bind(version.unwrap_or(spec.version))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((spec, version_row(&r, true)?))).transpose()
    }

    /// Every version of a spec, newest first; `None` when there is no such spec.
    /// A page of a spec's versions, newest first (without content); `None` when the spec
    /// does not exist.
    pub async fn spec_versions(
        &self,
        id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Option<(Vec<VersionRow>, i64)>, sqlx::Error> {
        let (rows, total) = self
            .page(
                VERSION_COLUMNS,
                "spec_versions",
                " WHERE spec_id = $1",
                "version DESC",
                vec![Bind::Int(id)],
                (limit, offset),
            )
            .await?;
        // A spec always has version 1, so none means no spec.
        if total == 0 {
            return Ok(None);
        }
        let rows = rows
            .iter()
            .map(|r| version_row(r, false))
            .collect::<Result<_, _>>()?;
        Ok(Some((rows, total)))
    }

    /// Saves a spec: a new version when the content changed, a rename when asked.
    pub async fn update_spec(
        &self,
        id: i64,
        update: &SpecUpdate,
        created_by: &str,
    ) -> Result<UpdateOutcome, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // The first statement writes, which locks the spec's row until commit: concurrent
        // saves (from any process) take turns and number their versions without gaps.
        let Some(row) = sqlx::query(
            "UPDATE specs SET updated_at = updated_at WHERE id = $1 RETURNING latest_version",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(UpdateOutcome::NotFound);
        };
        let latest: i64 = row.try_get("latest_version")?;
        if update.base_version.is_some_and(|base| base != latest) {
            return Ok(UpdateOutcome::Stale { latest });
        }
        let latest_hash: String = sqlx::query(
            "SELECT content_hash FROM spec_versions WHERE spec_id = $1 AND version = $2",
        )
        .bind(id)
        .bind(latest)
        .fetch_one(&mut *tx)
        .await?
        .try_get("content_hash")?;
        let new_version = latest_hash != content_hash(&update.content);
        if new_version {
            insert_version(
                &mut tx,
                id,
                latest + 1,
                &update.content,
                &update.message,
                now,
                created_by,
            )
            .await?;
            sqlx::query("UPDATE specs SET latest_version = $1, updated_at = $2 WHERE id = $3")
                .bind(latest + 1)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(name) = &update.name {
            let renamed = sqlx::query(
                "UPDATE specs SET name = $1, updated_at = $2 WHERE id = $3 AND name <> $1",
            )
            .bind(name.as_str())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await;
            match renamed {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(UpdateOutcome::NameTaken),
                Err(e) => return Err(e),
            }
        }
        let spec = spec_row(
            &sqlx::query(&format!("SELECT {SPEC_COLUMNS} FROM specs WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?,
        )?;
        tx.commit().await?;
        Ok(UpdateOutcome::Saved { spec, new_version })
    }

    pub async fn delete_spec(&self, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM specs WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    spec_id: i64,
    version: i64,
    content: &str,
    message: &str,
    now: i64,
    created_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO spec_versions (spec_id, version, content, content_hash, message, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(spec_id)
    .bind(version)
    .bind(content)
    .bind(content_hash(content))
    .bind(message)
    .bind(now)
    .bind(created_by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
