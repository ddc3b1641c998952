//! The metadata store: users, sessions, tokens, agents, groups, tests, assignments,
//! settings, the audit log, traceroute paths and analytics insights, in PostgreSQL or an
//! embedded SQLite file.
//!
//! Each table's queries live in their own file as `impl Store` blocks, written once
//! over [`db::Db`] so both backends run the very same code.

pub mod agents;
pub mod audit;
pub mod db;
pub mod insights;
pub mod migrate;
pub mod paths;
mod postgres;
pub mod sessions;
pub mod settings;
pub mod sqlite;
pub mod tests;
pub mod tokens;
pub mod users;

use crate::clock::Clock;
use db::Db;
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("cannot decode stored data: {0}")]
    Decode(String),
    #[error("{0}")]
    Open(String),
    #[error("the store is shut down")]
    Closed,
    #[error(
        "the database schema is at version {database}, newer than this binary knows ({binary}); \
         run a newer streamswarm or restore a backup"
    )]
    SchemaTooNew { database: i64, binary: i64 },
    #[error(
        "migration {version} in the database differs from the one in this binary (edited after it was applied)"
    )]
    MigrationChanged { version: i64 },
    #[error("PostgreSQL: {}", postgres_cause(.0))]
    Postgres(tokio_postgres::Error),
    #[error("PostgreSQL pool: {0}")]
    Pool(String),
    #[error("SQLite: {}", sqlite_cause(.0))]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
            _ => StoreError::Sqlite(e),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::from(e),
            deadpool_postgres::PoolError::Closed => StoreError::Closed,
            other => StoreError::Pool(other.to_string()),
        }
    }
}

/// Constraint violations become `Conflict` on PostgreSQL as they do on SQLite (a derived
/// `From` would turn a duplicate username into an internal error, a 500).
impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        match e.code() {
            Some(c)
                if *c == SqlState::UNIQUE_VIOLATION
                    || *c == SqlState::FOREIGN_KEY_VIOLATION
                    || *c == SqlState::CHECK_VIOLATION =>
            {
                StoreError::Conflict(
                    e.as_db_error()
                        .map(|d| d.message().to_owned())
                        .unwrap_or_else(|| e.to_string()),
                )
            }
            _ => StoreError::Postgres(e),
        }
    }
}

/// What went wrong in PostgreSQL, for the log: the server's message and SQLSTATE, or
/// the client error with its source. tokio-postgres alone says only "db error". The
/// server's DETAIL and the statement's parameters are left out (they can quote values).
fn postgres_cause(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{} {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// SQLite's message with its extended result code.
fn sqlite_cause(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => format!("{e} (SQLite code {})", f.extended_code),
        e => e.to_string(),
    }
}

/// Where the metadata lives, parsed from `database.url`.
#[derive(Debug, Clone)]
pub enum DatabaseLocation {
    Sqlite(PathBuf),
    Postgres(SecretString),
}

impl DatabaseLocation {
    /// `sqlite://relative/path.db`, `sqlite:///absolute/path.db` or `postgres://…`.
    pub fn parse(url: &SecretString) -> Result<Self, String> {
        let s = url.expose_secret();
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "sqlite:// needs a file path, e.g. sqlite://./data/streamswarm.db".into(),
                );
            }
            Ok(DatabaseLocation::Sqlite(PathBuf::from(path)))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            s.parse::<tokio_postgres::Config>()
                .map_err(|e| format!("not a valid PostgreSQL URL: {e}"))?;
            Ok(DatabaseLocation::Postgres(url.clone()))
        } else {
            Err("must start with sqlite:// or postgres://".into())
        }
    }
}

/// The metadata store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: Db,
    pub(crate) clock: Clock,
}

impl Store {
    /// Opens the pool (no I/O for PostgreSQL until first use) without migrating.
    pub fn open(
        location: &DatabaseLocation,
        pool_size: usize,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        let db = match location {
            DatabaseLocation::Sqlite(path) => {
                Db::Sqlite(sqlite::SqlitePool::open(path, pool_size)?)
            }
            DatabaseLocation::Postgres(url) => Db::Postgres(postgres::pool(url, pool_size)?),
        };
        Ok(Store { db, clock })
    }

    /// Opens and brings the schema up to date.
    pub async fn connect(
        location: &DatabaseLocation,
        pool_size: usize,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        let store = Self::open(location, pool_size, clock)?;
        migrate::run(&store.db).await?;
        Ok(store)
    }

    pub fn backend(&self) -> &'static str {
        self.db.backend()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The database under the store, for running migrations and inspecting the schema
    /// (the conformance suite checks `migrate::run` on both backends through it).
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }

    pub fn pool_status(&self) -> db::PoolStatus {
        self.db.pool_status()
    }

    pub fn close(&self) {
        self.db.close()
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}
