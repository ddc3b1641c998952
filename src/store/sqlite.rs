//! A small pool of SQLite connections used from blocking threads.
//!
//! WAL mode lets readers proceed while one writer writes; `busy_timeout` turns writer
//! contention into waiting instead of errors. Every call runs in `spawn_blocking`, so a
//! slow disk never stalls the async runtime.

use super::StoreError;
use super::db::{PoolStatus, Row, Value};
use rusqlite::types::ValueRef;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct SqlitePool {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    permits: Semaphore,
    max_size: usize,
    closed: AtomicBool,
}

impl SqlitePool {
    pub fn open(path: &Path, max_size: usize) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Open(format!("cannot create {}: {e}", dir.display())))?;
        }
        let first = open_connection(path)?;
        let max_size = max_size.max(1);
        Ok(SqlitePool {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                idle: Mutex::new(vec![first]),
                permits: Semaphore::new(max_size),
                max_size,
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Runs `f` with a connection on a blocking thread.
    pub async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.idle.lock().expect("sqlite pool lock").pop();
            let mut conn = match conn {
                Some(c) => c,
                None => open_connection(&inner.path)?,
            };
            let result = f(&mut conn);
            inner.idle.lock().expect("sqlite pool lock").push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Open(format!("sqlite worker failed: {e}")))?
    }

    pub async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        let sql = positional(sql);
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let columns: Arc<[String]> = stmt.column_names().map(|c| c.to_string()).collect();
            let n = columns.len();
            let mut rows = stmt.query(rusqlite::params_from_iter(params.iter().map(to_sqlite)))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(n);
                for i in 0..n {
                    values.push(match row.get_ref(i)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(v) => Value::Int(v),
                        ValueRef::Real(v) => Value::Float(v),
                        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(_) => {
                            return Err(StoreError::Decode("unexpected BLOB column".into()));
                        }
                    });
                }
                out.push(Row::new(columns.clone(), values));
            }
            Ok(out)
        })
        .await
    }

    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        let sql = positional(sql);
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            Ok(stmt.execute(rusqlite::params_from_iter(params.iter().map(to_sqlite)))? as u64)
        })
        .await
    }

    pub fn status(&self) -> PoolStatus {
        let idle = self.inner.idle.lock().map(|v| v.len()).unwrap_or(0);
        let in_use = self.inner.max_size - self.inner.permits.available_permits();
        PoolStatus {
            size: idle + in_use,
            available: idle,
            max_size: self.inner.max_size,
        }
    }

    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.permits.close();
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.clear();
        }
    }
}

/// SQLite's library-wide settings, applied once before its first connection opens.
///
/// Memory statistics off: with them on (SQLite's default) every allocation takes one
/// process-wide mutex, and readers on different threads queue on it; measured on the
/// dashboard's fleet read (1,000 agents), a quarter of its time was that contention.
fn configure_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_config` is called before any connection exists (this runs
        // first in `open_connection`, the only way this crate opens a file); once SQLite
        // is initialised it refuses with SQLITE_MISUSE and changes nothing.
        let rc =
            unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0) };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was initialised already; memory statistics stay on"
            );
        }
    });
}

pub(crate) fn open_connection(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    configure_library();
    let conn = rusqlite::Connection::open(path).map_err(|e| {
        StoreError::Open(format!(
            "cannot open SQLite database {}: {e}",
            path.display()
        ))
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Read the file through a memory map (up to 256 MiB of it) instead of copying each
    // page with read(2): the dashboard's fleet reads touch thousands of pages.
    conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
    conn.set_prepared_statement_cache_capacity(128);
    // One query plan per statement, whatever is bound (the query planner stability
    // guarantee). Without it SQLite marks statements such as `… WHERE series_id = ?1
    // ORDER BY time DESC` to be re-prepared on every new binding, so a cached
    // statement was parsed and planned again on each use: most of the cost of the
    // dashboard's thousands of one-row reads. Our statements have one sensible plan.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    unicode_lower(&conn)?;
    Ok(conn)
}

/// SQLite's built-in `lower()` folds ASCII only, so a search for "über" would miss
/// "Über-Check" here but not on PostgreSQL. Replace it with Unicode lower-casing, the
/// same `to_lowercase` the server applies to the search string.
fn unicode_lower(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "lower",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Null => None,
                ValueRef::Text(t) => Some(String::from_utf8_lossy(t).to_lowercase()),
                ValueRef::Integer(i) => Some(i.to_string()),
                ValueRef::Real(f) => Some(f.to_string()),
                ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).to_lowercase()),
            })
        },
    )
}

pub(super) fn to_sqlite(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Int(i) => V::Integer(*i),
        Value::Float(f) => V::Real(*f),
        Value::Text(s) => V::Text(s.clone()),
        Value::Bool(b) => V::Integer(i64::from(*b)),
    }
}

/// Rewrites PostgreSQL placeholders `$N` to SQLite's positional `?N`.
///
/// SQLite reads `$1` as a *named* parameter numbered by first appearance, which would
/// silently misbind `… $2 … $1 …`; `?N` is bound by its number. String literals are
/// left alone.
pub fn positional(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_literal = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_literal = !in_literal;
                out.push(c);
            }
            '$' if !in_literal && chars.peek().is_some_and(|d| d.is_ascii_digit()) => out.push('?'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::positional;

    #[test]
    fn placeholders_become_positional_outside_literals() {
        assert_eq!(
            positional("SELECT $2, '$1', $10 FROM t WHERE a = $1"),
            "SELECT ?2, '$1', ?10 FROM t WHERE a = ?1"
        );
    }
}
