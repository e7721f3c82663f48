//! NodeFeatureRule files, edited in place, and the publications `schedule` reads.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::publications::{row as publication_row, COLUMNS as PUBLICATION_COLUMNS};
use super::specs::content_hash;
use super::{format_time, is_unique_violation, like_pattern, now_ms, Bind, Db, PublicationRow};

#[derive(Clone, Debug)]
pub struct RuleFileRow {
    pub id: i64,
    pub name: String,
    pub content_hash: String,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    /// Left out of lists.
    pub content: Option<String>,
}

/// A save of a rule file.
#[derive(Clone, Debug)]
pub struct RuleFileUpdate {
    pub content: String,
    pub name: Option<String>,
}

#[derive(Clone, Debug)]
pub enum RuleFileUpdateOutcome {
    NotFound,
    NameTaken,
    Saved(RuleFileRow),
}

const COLUMNS: &str = "id, name, content_hash, created_at, updated_at, created_by";

fn rule_row(row: &AnyRow, with_content: bool) -> Result<RuleFileRow, sqlx::Error> {
    Ok(RuleFileRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        content_hash: row.try_get("content_hash")?,
        created_at: format_time(row.try_get("created_at")?),
        updated_at: format_time(row.try_get("updated_at")?),
        created_by: row.try_get("created_by")?,
        content: if with_content {
            Some(row.try_get("content")?)
        } else {
            None
        },
    })
}

impl Db {
    /// Stores a rule file; `None` when the name is taken.
    pub async fn create_rule_file(
        &self,
        name: &str,
        content: &str,
        created_by: &str,
    ) -> Result<Option<RuleFileRow>, sqlx::Error> {
        let now = now_ms();
        let inserted = sqlx::query(&format!(
            "INSERT INTO node_feature_rules (name, content, content_hash, created_at, updated_at, \
             created_by) VALUES ($1, $2, $3, $4, $4, $5) RETURNING {COLUMNS}, content"
        ))
        .bind(name)
        .bind(content)
        .bind(content_hash(content))
        .bind(now)
        .bind(created_by)
        .fetch_one(&self.pool)
        .await;
        match inserted {
            Ok(row) => Ok(Some(rule_row(&row, true)?)),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn list_rule_files(
        &self,
        text: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<RuleFileRow>, i64), sqlx::Error> {
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
                COLUMNS,
                "node_feature_rules",
                clause,
                "name",
                binds,
                (limit, offset),
            )
            .await?;
        let rows = rows
            .iter()
            .map(|r| rule_row(r, false))
            .collect::<Result<_, _>>()?;
        Ok((rows, total))
    }

    /// A rule file with its content.
    pub async fn rule_file(&self, id: i64) -> Result<Option<RuleFileRow>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS}, content FROM node_feature_rules WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| rule_row(&r, true))
        .transpose()
    }

    pub async fn update_rule_file(
        &self,
        id: i64,
        update: &RuleFileUpdate,
    ) -> Result<RuleFileUpdateOutcome, sqlx::Error> {
        let updated = sqlx::query(&format!(
            "UPDATE node_feature_rules SET content = $1, content_hash = $2, updated_at = $3, \
             name = COALESCE($4, name) WHERE id = $5 RETURNING {COLUMNS}, content"
        ))
        .bind(&update.content)
        .bind(content_hash(&update.content))
        .bind(now_ms())
        .bind(update.name.as_deref())
        .bind(id)
        .fetch_optional(&self.pool)
        .await;
        match updated {
            Ok(Some(row)) => Ok(RuleFileUpdateOutcome::Saved(rule_row(&row, true)?)),
            Ok(None) => Ok(RuleFileUpdateOutcome::NotFound),
            Err(e) if is_unique_violation(&e) => Ok(RuleFileUpdateOutcome::NameTaken),
            Err(e) => Err(e),
        }
    }

    pub async fn delete_rule_file(&self, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM node_feature_rules WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// One publication, by id.
    pub async fn publication(&self, id: i64) -> Result<Option<PublicationRow>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {PUBLICATION_COLUMNS} FROM publications WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| publication_row(&r))
        .transpose()
    }
}
