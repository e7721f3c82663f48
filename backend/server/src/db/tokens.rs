//! API tokens (hashes only) and the first admin token.

use sqlx::Row;

use super::{is_unique_violation, now_ms, Db};
use crate::auth::{Caller, Role};

#[derive(Clone, Debug)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub created_by: String,
}

fn role_of(text: &str) -> Result<Role, sqlx::Error> {
    Role::parse(text).ok_or_else(|| sqlx::Error::Decode(format!("unknown role {text:?}").into()))
}

impl Db {
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<Caller>, sqlx::Error> {
        let row = sqlx::query("SELECT name, role FROM tokens WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Caller {
                name: r.try_get("name")?,
                role: role_of(&r.try_get::<String, _>("role")?)?,
            })
        })
        .transpose()
    }

    /// Creates a token; `None` when another token has this name (names are unique, since
    /// records name their author by token name).
    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        hash: &str,
        created_by: &str,
    ) -> Result<Option<TokenRow>, sqlx::Error> {
        let created_at = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO tokens (name, role, token_hash, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(hash)
        .bind(created_at)
        .bind(created_by)
        .fetch_one(&self.pool)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) if is_unique_violation(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(TokenRow {
            id,
            name: name.to_owned(),
            role,
            created_at,
            created_by: created_by.to_owned(),
        }))
    }

    pub async fn list_tokens(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<TokenRow>, i64), sqlx::Error> {
        let (rows, total) = self
            .page(
                "id, name, role, created_at, created_by",
                "tokens",
                "",
                "id",
                Vec::new(),
                (limit, offset),
            )
            .await?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok(TokenRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    role: role_of(&r.try_get::<String, _>("role")?)?,
                    created_at: r.try_get("created_at")?,
                    created_by: r.try_get("created_by")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((rows, total))
    }

    pub async fn delete_token(&self, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Creates the first admin token (with this hash) when the database has never had one, and
    /// says whether it did. Safe when several processes start at once on one database: the
    /// marker row's primary key lets exactly one of them through.
    pub async fn bootstrap_admin(&self, hash: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let marked = sqlx::query(
            "INSERT INTO server_state (key, value) \
             SELECT 'first-admin-token', $1 WHERE NOT EXISTS (SELECT 1 FROM tokens) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(now_ms().to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO tokens (name, role, token_hash, created_at, created_by) \
             VALUES ('admin', 'admin', $1, $2, 'nodefit serve')",
        )
        .bind(hash)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
