//! The embedded time-series store: the zero-setup stand-in for InfluxDB, in its own
//! SQLite file under the data directory.
//!
//! - [`ingest`]: request body → points (pure): InfluxData's parser, precision, types.
//! - [`storage`]: the schema and the write path (one transaction per batch).
//! - [`query`]: the product's queries with InfluxQL's semantics.
//! - [`rollup`]: 1-minute and 1-hour summaries, maintained from dirty buckets.
//! - [`retention`]: background deletion of old raw points and rollups.
//!
//! Connections: one writer (writes, rollups and retention take turns on it, so SQLite
//! never sees two writers) and a small pool of readers, which WAL lets read while the
//! writer writes; a checkpointer copies the WAL back on a reader connection so writers
//! do not. Two writes proceed at once: one parses while the other holds the writer.
//! At most `timeseries.max_concurrent_writes` requests are in progress or waiting
//! ([`EmbeddedStore::admit_write`], taken by the HTTP layer before it reads the body);
//! one more is refused at once ([`WriteError::Busy`], 429 with `Retry-After`), so a
//! burst of large bodies cannot pile up in memory. All SQLite work runs on blocking threads.
//!
//! **Large bodies** are read in parts of about [`WRITE_CHUNK_BYTES`] of whole lines
//! ([`ingest::BodyChunks`], inflating gzip as it goes), each parsed, checked and added
//! to the one transaction of the request ([`storage::Batch`]) before the next is read:
//! memory stays bounded by a part, not by the body, and the batch is still all or
//! nothing. A body of one part is parsed before the writer is taken, as before.
//!
//! **Partial batches:** a write is all or nothing. The first bad line (or type conflict)
//! refuses the whole batch with 400 and stores nothing, as InfluxDB 2 OSS does — unlike
//! InfluxDB 1.x, which stores the good lines and answers 400 "partial write". A client
//! that fixes or drops the bad line and retries then never writes a point twice.

pub mod influxql;
pub mod ingest;
pub mod policy;
pub mod query;
pub mod retention;
pub mod rollup;
pub mod storage;

use crate::store::StoreError;
use crate::store::sqlite::SqlitePool;
use ingest::{Precision, WriteError};
use policy::WritePolicy;
use query::{QueryStats, ScanCounts};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use storage::Catalog;
use streamswarm_tsdb::query::{BoxFuture, Query, ReadError, Reader, Series};
use tokio::sync::{Notify, Semaphore};

/// Readers in the pool: queries are few and short; the UI and analytics share them.
const READERS: usize = 4;
/// Inflated bytes of line protocol parsed and stored at a time (a part of a larger
/// body): ~24,000 lines, a few MiB of parsed points.
pub const WRITE_CHUNK_BYTES: usize = 1 << 20;
/// `timeseries.max_concurrent_writes` when not configured.
pub const DEFAULT_MAX_CONCURRENT_WRITES: usize = 16;
/// Dirty buckets recomputed per transaction.
const ROLLUP_BATCH: usize = 500;
/// Rows deleted per statement by retention, and `(series, field)` pairs per turn.
const RETENTION_BATCH: usize = 5_000;
const RETENTION_PAIRS_PER_TURN: usize = 64;

/// The embedded store. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The one writing connection; locked on blocking threads only.
    writer: Mutex<rusqlite::Connection>,
    /// Writes admitted at once: one can parse while another holds the writer.
    write_slots: Semaphore,
    /// Writes in progress or waiting for a slot; none waits for this one.
    admitted: Arc<Semaphore>,
    max_concurrent_writes: usize,
    readers: SqlitePool,
    /// Wakes the checkpointer after writes.
    checkpoint: Notify,
    /// Replaced (not mutated) when a write adds series or fields, so queries hold a
    /// consistent catalog without blocking writers.
    catalog: RwLock<Arc<Catalog>>,
    stats: QueryStats,
}

/// A place among the writes admitted at once (see [`EmbeddedStore::admit_write`]).
#[derive(Debug)]
pub struct WriteAdmission(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

/// What one accepted write stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    pub points: usize,
    pub values: usize,
}

/// Retention periods in days, from the runtime settings.
#[derive(Debug, Clone, Copy)]
pub struct RetentionDays {
    pub raw: i64,
    pub rollup_1m: i64,
    pub rollup_1h: i64,
}

impl RetentionDays {
    pub fn from_settings(s: &crate::settings::RuntimeSettings) -> Self {
        RetentionDays {
            raw: s.get("raw_retention_days"),
            rollup_1m: s.get("rollup_1m_retention_days"),
            rollup_1h: s.get("rollup_1h_retention_days"),
        }
    }

    fn cutoff(now_ns: i64, days: i64) -> i64 {
        now_ns.saturating_sub(days.saturating_mul(86_400_000_000_000))
    }

    pub fn cutoffs(&self, now_ns: i64) -> rollup::Cutoffs {
        rollup::Cutoffs {
            raw_ns: Self::cutoff(now_ns, self.raw),
            minute_ns: Self::cutoff(now_ns, self.rollup_1m),
        }
    }
}

/// Rows deleted by one retention run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trimmed {
    pub raw: u64,
    pub rollup_1m: u64,
    pub rollup_1h: u64,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, DEFAULT_MAX_CONCURRENT_WRITES).await
    }

    /// As [`open`](Self::open), admitting at most `max_concurrent_writes` writes at once.
    pub async fn open_with(path: &Path, max_concurrent_writes: usize) -> Result<Self, StoreError> {
        let max_concurrent_writes = max_concurrent_writes.max(1);
        let path = path.to_owned();
        let (writer, catalog) = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Open(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                let mut conn = crate::store::sqlite::open_connection(&path)?;
                // A larger cache suits a write-heavy file. Checkpoints run on their own
                // thread (see `checkpointer`), so writers do not copy the WAL back
                // themselves; the writer's own checkpoint is only a backstop for a WAL
                // that grows past ~256 MiB because the checkpointer cannot keep up.
                conn.pragma_update(None, "cache_size", -65_536)?;
                conn.pragma_update(None, "wal_autocheckpoint", 65_536)?;
                conn.execute_batch(storage::SCHEMA)?;
                storage::upgrade(&mut conn)?;
                let catalog = Catalog::load(&conn)?;
                Ok((conn, catalog))
            })
            .await
            .map_err(|e| StoreError::Open(format!("opening task failed: {e}")))??
        };
        let readers = SqlitePool::open(&path, READERS)?;
        let store = EmbeddedStore {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                write_slots: Semaphore::new(2),
                admitted: Arc::new(Semaphore::new(max_concurrent_writes)),
                max_concurrent_writes,
                checkpoint: Notify::new(),
                readers,
                catalog: RwLock::new(Arc::new(catalog)),
                stats: QueryStats::default(),
            }),
        };
        tokio::spawn(checkpointer(Arc::downgrade(&store.inner)));
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.read().expect("catalog lock").clone()
    }

    /// Runs `f` with the writer connection on a blocking thread.
    async fn with_writer<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _slot = self
            .inner
            .write_slots
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().map_err(|_| StoreError::Closed)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Open(format!("time-series writer task failed: {e}")))?
    }

    /// One of the `max_concurrent_writes` places of writes in progress or waiting, held
    /// until the returned value is dropped; [`WriteError::Busy`] when none is free. The
    /// HTTP layer takes one before it reads a write's body (`http::write::admit`).
    pub fn admit_write(&self) -> Result<WriteAdmission, WriteError> {
        match self.inner.admitted.clone().try_acquire_owned() {
            Ok(permit) => Ok(WriteAdmission(permit)),
            Err(tokio::sync::TryAcquireError::NoPermits) => Err(WriteError::Busy {
                limit: self.inner.max_concurrent_writes,
            }),
            Err(tokio::sync::TryAcquireError::Closed) => Err(StoreError::Closed.into()),
        }
    }

    /// Decodes, parses, checks (`policy`) and stores one write request's body: all of it
    /// or nothing. A body of one part is parsed before the writer is taken, so concurrent
    /// writes overlap; a larger one is parsed part by part inside its transaction.
    pub async fn write(
        &self,
        body: bytes::Bytes,
        gzip: bool,
        max_decompressed: usize,
        precision: Precision,
        now_ns: i64,
        policy: WritePolicy,
    ) -> Result<Written, WriteError> {
        let _slot = self
            .inner
            .write_slots
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut parts =
                ingest::BodyChunks::new(&body, gzip, max_decompressed, WRITE_CHUNK_BYTES);
            let Some(first) = parts.next_chunk()? else {
                return Ok(Written::default());
            };
            let snapshot = inner.catalog.read().expect("catalog lock").clone();
            let points = ingest::parse_lines_from(
                &first.text,
                first.first_line,
                precision,
                now_ns,
                |m, f| snapshot.field(m, f).map(|i| i.field_type),
            )?;
            policy.check(&points, &snapshot)?;
            drop(snapshot);
            let mut next = parts.next_chunk()?;
            if points.is_empty() && next.is_none() {
                return Ok(Written::default());
            }
            let mut conn = inner.writer.lock().map_err(|_| StoreError::Closed)?;
            // The catalog only changes under the writer lock: this one is current.
            let catalog = inner.catalog.read().expect("catalog lock").clone();
            let mut batch = storage::Batch::begin(&mut conn, &catalog, policy.series_cap())?;
            let mut written = Written {
                points: points.len(),
                values: 0,
            };
            batch.write(&points)?;
            drop(points);
            drop(first);
            while let Some(part) = next {
                let known = batch.known_fields();
                let points = ingest::parse_lines_from(
                    &part.text,
                    part.first_line,
                    precision,
                    now_ns,
                    |m, f| known.field_type(m, f),
                )?;
                policy.check(&points, &catalog)?;
                batch.write(&points)?;
                written.points += points.len();
                drop(points);
                next = parts.next_chunk()?;
            }
            let added = batch.commit()?;
            written.values = added.values;
            if !added.series.is_empty() || !added.fields.is_empty() {
                let mut next = (*catalog).clone();
                drop(catalog);
                next.extend(added);
                *inner.catalog.write().expect("catalog lock") = Arc::new(next);
            }
            inner.checkpoint.notify_one();
            Ok(written)
        })
        .await
        .map_err(|e| WriteError::Store(StoreError::Open(format!("writer task failed: {e}"))))?
    }

    /// Answers `q` (see [`query`] for the semantics).
    pub async fn run(&self, q: &Query) -> Result<Vec<Series>, ReadError> {
        let catalog = self.catalog();
        let inner = self.inner.clone();
        let q = q.clone();
        self.inner
            .readers
            .with_conn(move |conn| Ok(query::run(conn, &catalog, &inner.stats, &q)))
            .await
            .map_err(|e| ReadError::Unreachable(format!("embedded store: {e}")))?
    }

    /// Answers InfluxQL `statements` (see [`influxql`]) on one read snapshot.
    pub async fn influxql(
        &self,
        statements: Vec<influxdb_influxql_parser::statement::Statement>,
        database: Option<String>,
        now_ns: i64,
        raw_retention_days: i64,
    ) -> Result<Vec<influxql::StatementResult>, ReadError> {
        let catalog = self.catalog();
        let inner = self.inner.clone();
        self.inner
            .readers
            .with_conn(move |conn| {
                let env = influxql::Env {
                    now_ns,
                    database: database.as_deref(),
                    raw_retention_days,
                };
                Ok(query::with_snapshot(conn, &inner.stats, |snap| {
                    influxql::execute(snap, &catalog, &statements, env)
                }))
            })
            .await
            .map_err(|e| ReadError::Unreachable(format!("embedded store: {e}")))?
    }

    /// What queries have read so far.
    pub fn scan_counts(&self) -> ScanCounts {
        self.inner.stats.snapshot()
    }

    /// Recomputes every dirty rollup bucket, one small transaction at a time.
    pub async fn roll_up(&self, cutoffs: rollup::Cutoffs) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self
                .with_writer(move |conn| rollup::roll_up(conn, ROLLUP_BATCH, cutoffs))
                .await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Deletes what is past retention at `now_ns`.
    pub async fn enforce_retention(
        &self,
        now_ns: i64,
        days: RetentionDays,
    ) -> Result<Trimmed, StoreError> {
        let pairs = self.catalog().pairs();
        let mut trimmed = Trimmed::default();
        for (table, d) in [
            (retention::Table::Raw, days.raw),
            (retention::Table::Minute, days.rollup_1m),
            (retention::Table::Hour, days.rollup_1h),
        ] {
            let cutoff = RetentionDays::cutoff(now_ns, d);
            for chunk in pairs.chunks(RETENTION_PAIRS_PER_TURN) {
                loop {
                    let chunk = chunk.to_vec();
                    let (n, more) = self
                        .with_writer(move |conn| {
                            retention::trim(conn, table, &chunk, cutoff, RETENTION_BATCH)
                        })
                        .await?;
                    match table {
                        retention::Table::Raw => trimmed.raw += n,
                        retention::Table::Minute => trimmed.rollup_1m += n,
                        retention::Table::Hour => trimmed.rollup_1h += n,
                    }
                    if !more {
                        break;
                    }
                }
            }
        }
        Ok(trimmed)
    }

    /// Brings rollups up to date, then deletes what is past retention. Rollups go first
    /// so a bucket is summarised before its raw points can be deleted.
    pub async fn maintain(&self, now_ns: i64, days: RetentionDays) -> Result<Trimmed, StoreError> {
        self.roll_up(days.cutoffs(now_ns)).await?;
        self.enforce_retention(now_ns, days).await
    }

    /// Every stored point as text, in key order (tests: nothing changes on refusal).
    pub async fn dump(&self) -> Result<String, StoreError> {
        self.inner.readers.with_conn(|c| storage::dump(c)).await
    }

    pub async fn count_points(&self) -> Result<i64, StoreError> {
        self.inner
            .readers
            .with_conn(|c| storage::count_points(c))
            .await
    }

    /// Rows of a rollup level (tests).
    pub async fn count_rollups(&self, level: rollup::Level) -> Result<i64, StoreError> {
        self.inner
            .readers
            .with_conn(move |c| {
                Ok(c.query_row(
                    &format!("SELECT count(*) FROM {}", level.table()),
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
    }

    /// Dirty buckets not yet recomputed.
    pub async fn pending_rollups(&self) -> Result<i64, StoreError> {
        self.inner.readers.with_conn(|c| rollup::pending(c)).await
    }

    /// Refuses further writes and closes the readers; the writer connection closes
    /// when the last handle is dropped (after any write in progress).
    pub fn close(&self) {
        self.inner.write_slots.close();
        self.inner.admitted.close();
        self.inner.readers.close();
        // The checkpointer wakes, finds the readers closed and ends.
        self.inner.checkpoint.notify_one();
    }
}

/// Copies the WAL back into the database after writes, on a reader connection and a
/// blocking thread, so that writers never do it in their own time. A passive
/// checkpoint takes no lock writers need. Ends when the store is dropped or closed.
async fn checkpointer(inner: std::sync::Weak<Inner>) {
    loop {
        let notified = match inner.upgrade() {
            Some(i) => {
                let i2 = i.clone();
                async move { i2.checkpoint.notified().await }
            }
            None => return,
        };
        notified.await;
        let Some(i) = inner.upgrade() else { return };
        let result = i
            .readers
            .with_conn(|c| {
                c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
                Ok(())
            })
            .await;
        if let Err(StoreError::Closed) = result {
            return;
        }
    }
}

impl Reader for EmbeddedStore {
    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<Vec<Series>, ReadError>> {
        Box::pin(self.run(q))
    }
}
