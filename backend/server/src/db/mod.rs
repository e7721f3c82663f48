//! Storage for the server: SQLite (one file, the default) or PostgreSQL (several processes).
//!
//! One `AnyPool` and one set of SQL serve both. sqlx's Any driver was chosen over two concrete
//! pools behind an enum because the queries are the same in both dialects once times are Unix
//! milliseconds and parameters are `$N` (SQLite accepts those too): two implementations would
//! double every query and let them drift, while the Any driver's costs (values converted
//! through its own types, no driver-specific types) do not matter for text and integers. Only
//! the schema differs, so the migrations come in one folder per dialect, embedded in the binary.
//!
//! Write transactions start with a write. SQLite then takes its write lock at once (waiting
//! for it up to the busy timeout) instead of failing when a read transaction tries to upgrade,
//! and PostgreSQL locks the row being changed, which serialises concurrent saves of one spec
//! across processes.

mod node_feature_rules;
mod publications;
mod snapshots;
mod specs;
mod tokens;

use std::borrow::Cow;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row};

pub use node_feature_rules::{RuleFileRow, RuleFileUpdate, RuleFileUpdateOutcome};
pub use publications::{NewPublication, PublicationKey, PublicationRow};
pub use snapshots::{
    decode_value_ids, Backfill, FleetRow, JsonChunk, NewSnapshot, NewValue, SnapshotQuery, Stored,
    StoredFeatures, Upload, ValueRow,
};
pub use specs::{SpecRow, SpecUpdate, UpdateOutcome, VersionRow};
pub use tokens::TokenRow;

use super::config::DatabaseLocation;

/// How long a request waits for a free connection before it is answered 503.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an SQLite connection waits for another's write lock.
pub const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// The migrations of each dialect, in order. Each file is embedded so that the binary is the
/// whole server; a test checks that every file in migrations/ is listed here.
pub const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../../../migrations/sqlite/0001_initial.sql"),
        include_str!("../../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "publish_claims",
        include_str!("../../../../migrations/sqlite/0002_publish_claims.sql"),
        include_str!("../../../../migrations/postgres/0002_publish_claims.sql"),
    ),
    (
        3,
        "unique_token_names",
        include_str!("../../../../migrations/sqlite/0003_unique_token_names.sql"),
        include_str!("../../../../migrations/postgres/0003_unique_token_names.sql"),
    ),
    (
        4,
        "detached_publications",
        include_str!("../../../../migrations/sqlite/0004_detached_publications.sql"),
        include_str!("../../../../migrations/postgres/0004_detached_publications.sql"),
    ),
    (
        5,
        "interned_features",
        include_str!("../../../../migrations/sqlite/0005_interned_features.sql"),
        include_str!("../../../../migrations/postgres/0005_interned_features.sql"),
    ),
    (
        6,
        "node_feature_rules",
        include_str!("../../../../migrations/sqlite/0006_node_feature_rules.sql"),
        include_str!("../../../../migrations/postgres/0006_node_feature_rules.sql"),
    ),
];

#[derive(Debug)]
struct Embedded(Dialect);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sqlite, postgres)| {
                    let sql = match self.0 {
                        Dialect::Sqlite => sqlite,
                        Dialect::Postgres => postgres,
                    };
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The database handle; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

/// `sqlite://` URL of a file path; `%`, `?` and `#` are escaped because sqlx decodes the path.
fn sqlite_url(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    let escaped = text
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    format!("sqlite://{escaped}?mode=rwc")
}

impl Db {
    /// Opens the database (creating an SQLite file and its directory on first run) and brings
    /// its schema up to date.
    pub async fn open(location: &DatabaseLocation, max_connections: u32) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let (url, dialect) = match location {
            DatabaseLocation::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    create_private_dir(dir)?;
                }
                (sqlite_url(path), Dialect::Sqlite)
            }
            DatabaseLocation::Postgres(url) => (url.clone(), Dialect::Postgres),
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT);
        if dialect == Dialect::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; synchronous=FULL syncs the WAL on
                    // every commit, so an upload answered 2xx survives a crash or kill -9.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute(
                        format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").as_str(),
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&url)
            .await
            .with_context(|| format!("cannot open the database ({})", location.describe()))?;
        let db = Db { pool, dialect };
        Migrator::new(Embedded(dialect))
            .await?
            .run(&db.pool)
            .await
            .context("cannot bring the database schema up to date")?;
        Ok(db)
    }

    /// For `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.pool.execute("SELECT 1").await.map(|_| ())
    }

    /// Waits for queries in flight and closes every connection (SQLite then checkpoints its WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The data directory holds token hashes and registry-bound specs: only its owner reads it.
fn create_private_dir(dir: &std::path::Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// Now, in the unit the database keeps (Unix milliseconds).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339 with milliseconds, in UTC, as the API shows times.
pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A `LIKE` pattern matching `text` anywhere, case-insensitively (the column is lower-cased
/// too); `\` escapes the pattern characters.
pub fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Whether an error is a unique-constraint violation (a duplicate name, a lost race).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// A bind value for queries built at run time.
#[derive(Clone, Debug)]
pub enum Bind {
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

/// Runs a query built at run time with its values bound in order.
fn bind_all<'q>(
    sql: &'q str,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    binds.iter().fold(sqlx::query(sql), |q, b| match b {
        Bind::Int(i) => q.bind(*i),
        Bind::Text(t) => q.bind(t.as_str()),
        Bind::Blob(b) => q.bind(b.as_slice()),
        Bind::Null => q.bind(Option::<String>::None),
    })
}

impl Db {
    /// One page of `SELECT {columns} FROM {table}{clause} ORDER BY {order}` and the count of
    /// all rows the clause selects, `binds` being the clause's values in order.
    async fn page(
        &self,
        columns: &str,
        table: &str,
        clause: &str,
        order: &str,
        mut binds: Vec<Bind>,
        (limit, offset): (i64, i64),
    ) -> Result<(Vec<AnyRow>, i64), sqlx::Error> {
        let count_sql = format!("SELECT COUNT(*) AS n FROM {table}{clause}");
        let total: i64 = bind_all(&count_sql, &binds)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        binds.push(Bind::Int(limit));
        binds.push(Bind::Int(offset));
        let page_sql = format!(
            "SELECT {columns} FROM {table}{clause} ORDER BY {order} LIMIT ${} OFFSET ${}",
            binds.len() - 1,
            binds.len()
        );
        let rows = bind_all(&page_sql, &binds).fetch_all(&self.pool).await?;
        Ok((rows, total))
    }
}

impl Db {
    /// Placeholders for a multi-row `VALUES` of `rows` rows of `columns` values, numbered from
    /// `first`: `($1, $2), ($3, $4)` on PostgreSQL, `(?, ?), (?, ?)` on SQLite, where anonymous
    /// parameters are bound in order while sqlx finds each `$N` by name in a list SQLite
    /// searches from the start, which made statements of hundreds of values quadratic
    /// (measured: a fifth of an upload's time). `first` must follow the statement's
    /// parameters before these.
    fn placeholders(&self, first: usize, rows: usize, columns: usize) -> String {
        let mut out = String::with_capacity(rows * columns * 6);
        for row in 0..rows {
            if row > 0 {
                out.push_str(", ");
            }
            out.push('(');
            for column in 0..columns {
                if column > 0 {
                    out.push_str(", ");
                }
                match self.dialect {
                    Dialect::Sqlite => out.push('?'),
                    Dialect::Postgres => {
                        out.push_str(&format!("${}", first + row * columns + column))
                    }
                }
            }
            out.push(')');
        }
        out
    }
}

/// The labels column: a JSON object of strings (written only by this module).
fn labels_from_row(
    row: &AnyRow,
    column: &str,
) -> Result<std::collections::BTreeMap<String, String>, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_in_both_dialects() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let expected: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.0, m.1))
            .collect();
        for dialect in ["sqlite", "postgres"] {
            let mut files: Vec<String> = std::fs::read_dir(root.join(dialect))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            assert_eq!(files, expected, "migrations/{dialect}");
        }
    }

    #[test]
    fn like_patterns_escape() {
        assert_eq!(like_pattern("GPU_1%"), "%gpu\\_1\\%%");
    }

    #[test]
    fn sqlite_urls_escape_what_sqlx_decodes() {
        assert_eq!(
            sqlite_url(std::path::Path::new("/d/a?b#c%d.db")),
            "sqlite:///d/a%3Fb%23c%25d.db?mode=rwc"
        );
    }
}
