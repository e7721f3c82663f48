//! Publications: which spec version went to which image, with the digests that prove it.

use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{format_time, is_unique_violation, now_ms, Bind, Db};

#[derive(Clone, Debug)]
pub struct PublicationRow {
    pub id: i64,
    pub spec_id: i64,
    pub version: i64,
    pub registry: String,
    pub image: String,
    pub image_digest: String,
    pub artifact_digest: String,
    pub signature_digest: Option<String>,
    pub created_at: String,
    pub created_by: String,
    /// When and by whom the artifact was detached from the image.
    pub detached: Option<(String, String)>,
}

/// A publication to record.
#[derive(Clone, Debug)]
pub struct NewPublication<'a> {
    pub spec_id: i64,
    pub version: i64,
    pub registry: &'a str,
    pub image: &'a str,
    pub image_digest: &'a str,
    pub artifact_digest: &'a str,
    pub signature_digest: Option<&'a str>,
    pub created_by: &'a str,
}

const COLUMNS: &str = "id, spec_id, version, registry, image, image_digest, artifact_digest, \
                       signature_digest, created_at, created_by, detached_at, detached_by";

fn row(r: &AnyRow) -> Result<PublicationRow, sqlx::Error> {
    Ok(PublicationRow {
        id: r.try_get("id")?,
        spec_id: r.try_get("spec_id")?,
        version: r.try_get("version")?,
        registry: r.try_get("registry")?,
        image: r.try_get("image")?,
        image_digest: r.try_get("image_digest")?,
        artifact_digest: r.try_get("artifact_digest")?,
        signature_digest: r.try_get("signature_digest")?,
        created_at: format_time(r.try_get("created_at")?),
        created_by: r.try_get("created_by")?,
        detached: match (
            r.try_get::<Option<i64>, _>("detached_at")?,
            r.try_get::<Option<String>, _>("detached_by")?,
        ) {
            (Some(at), by) => Some((format_time(at), by.unwrap_or_default())),
            (None, _) => None,
        },
    })
}

/// What identifies a publication: this spec version on this image digest of this registry.
#[derive(Clone, Debug)]
pub struct PublicationKey {
    pub spec_id: i64,
    pub version: i64,
    pub registry: String,
    pub image_digest: String,
}

impl Db {
    /// Claims the right to publish `key`, unless another request holds a claim younger than
    /// `lease`. Taking over an expired claim and claiming anew are one insert: of two requests
    /// racing, the database lets exactly one in.
    pub async fn claim_publication(
        &self,
        key: &PublicationKey,
        lease: Duration,
    ) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        sqlx::query(
            "DELETE FROM publish_claims WHERE spec_id = $1 AND version = $2 AND registry = $3 \
             AND image_digest = $4 AND claimed_at < $5",
        )
        .bind(key.spec_id)
        .bind(key.version)
        .bind(&key.registry)
        .bind(&key.image_digest)
        .bind(now.saturating_sub(lease_ms))
        .execute(&self.pool)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO publish_claims (spec_id, version, registry, image_digest, claimed_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key.spec_id)
        .bind(key.version)
        .bind(&key.registry)
        .bind(&key.image_digest)
        .bind(now)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Ends a claim, whether the publish succeeded or not.
    pub async fn release_publication(&self, key: &PublicationKey) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM publish_claims WHERE spec_id = $1 AND version = $2 AND registry = $3 \
             AND image_digest = $4",
        )
        .bind(key.spec_id)
        .bind(key.version)
        .bind(&key.registry)
        .bind(&key.image_digest)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// The publication of this spec version to this image digest that is still attached, if
    /// there is one.
    pub async fn find_publication(
        &self,
        spec_id: i64,
        version: i64,
        registry: &str,
        image_digest: &str,
    ) -> Result<Option<PublicationRow>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM publications \
             WHERE spec_id = $1 AND version = $2 AND registry = $3 AND image_digest = $4 \
             AND detached_at IS NULL"
        ))
        .bind(spec_id)
        .bind(version)
        .bind(registry)
        .bind(image_digest)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| row(&r))
        .transpose()
    }

    /// Records a publication. When a concurrent request recorded the same one first, returns
    /// that one and `false`.
    pub async fn record_publication(
        &self,
        p: &NewPublication<'_>,
    ) -> Result<(PublicationRow, bool), sqlx::Error> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO publications (spec_id, version, registry, image, image_digest, \
             artifact_digest, signature_digest, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
        ))
        .bind(p.spec_id)
        .bind(p.version)
        .bind(p.registry)
        .bind(p.image)
        .bind(p.image_digest)
        .bind(p.artifact_digest)
        .bind(p.signature_digest)
        .bind(now_ms())
        .bind(p.created_by)
        .fetch_one(&self.pool)
        .await;
        match inserted {
            Ok(r) => Ok((row(&r)?, true)),
            Err(e) if is_unique_violation(&e) => {
                let existing = self
                    .find_publication(p.spec_id, p.version, p.registry, p.image_digest)
                    .await?
                    .ok_or(e)?;
                Ok((existing, false))
            }
            Err(e) => Err(e),
        }
    }

    /// Marks the attached publications of `artifact` on `registry` as detached; returns how many.
    pub async fn detach_publications(
        &self,
        registry: &str,
        artifact: &str,
        by: &str,
    ) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE publications SET detached_at = $1, detached_by = $2 \
             WHERE registry = $3 AND artifact_digest = $4 AND detached_at IS NULL",
        )
        .bind(now_ms())
        .bind(by)
        .bind(registry)
        .bind(artifact)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// The attached publications of these artifacts on `registry`.
    pub async fn publications_of_artifacts(
        &self,
        registry: &str,
        artifacts: &[String],
    ) -> Result<Vec<PublicationRow>, sqlx::Error> {
        if artifacts.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..artifacts.len())
            .map(|i| format!("${}", i + 2))
            .collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM publications WHERE registry = $1 AND detached_at IS NULL \
             AND artifact_digest IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(registry);
        for a in artifacts {
            query = query.bind(a);
        }
        query.fetch_all(&self.pool).await?.iter().map(row).collect()
    }

    /// Publications, newest first, optionally of one spec.
    pub async fn list_publications(
        &self,
        spec_id: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<PublicationRow>, i64), sqlx::Error> {
        let (clause, binds) = match spec_id {
            Some(id) => (" WHERE spec_id = $1", vec![Bind::Int(id)]),
            None => ("", Vec::new()),
        };
        let (rows, total) = self
            .page(
                COLUMNS,
                "publications",
                clause,
                "created_at DESC, id DESC",
                binds,
                (limit, offset),
            )
            .await?;
        Ok((rows.iter().map(row).collect::<Result<_, _>>()?, total))
    }
}
