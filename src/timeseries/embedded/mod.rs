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
//! writer writes. All SQLite work runs on blocking threads.
//!
//! **Partial batches:** a write is all or nothing. The first bad line (or type conflict)
//! refuses the whole batch with 400 and stores nothing, as InfluxDB 2 OSS does — unlike
//! InfluxDB 1.x, which stores the good lines and answers 400 "partial write". A client
//! that fixes or drops the bad line and retries then never writes a point twice.

pub mod ingest;
pub mod query;
pub mod retention;
pub mod rollup;
pub mod storage;

use crate::store::StoreError;
use crate::store::sqlite::SqlitePool;
use ingest::{Precision, WriteError};
use query::{QueryStats, ScanCounts};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use storage::Catalog;
use streamswarm_tsdb::query::{BoxFuture, Query, ReadError, Reader, Series};

/// Readers in the pool: queries are few and short; the UI and analytics share them.
const READERS: usize = 4;
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
    writer: SqlitePool,
    readers: SqlitePool,
    /// Replaced (not mutated) when a write adds series or fields, so queries hold a
    /// consistent catalog without blocking writers.
    catalog: RwLock<Arc<Catalog>>,
    stats: QueryStats,
}

/// What one accepted write stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        let path = path.to_owned();
        let writer = SqlitePool::open(&path, 1)?;
        let catalog = writer
            .with_conn(|conn| {
                // Larger pages and cache suit long index ranges of small rows.
                conn.pragma_update(None, "cache_size", -32_000)?;
                conn.execute_batch(storage::SCHEMA)?;
                Catalog::load(conn)
            })
            .await?;
        let readers = SqlitePool::open(&path, READERS)?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                path,
                writer,
                readers,
                catalog: RwLock::new(Arc::new(catalog)),
                stats: QueryStats::default(),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.read().expect("catalog lock").clone()
    }

    /// Decodes, parses and stores one write request's body: all of it or nothing.
    pub async fn write(
        &self,
        body: bytes::Bytes,
        gzip: bool,
        max_decompressed: usize,
        precision: Precision,
        now_ns: i64,
    ) -> Result<Written, WriteError> {
        let snapshot = self.catalog();
        let points = tokio::task::spawn_blocking(move || {
            let text = ingest::decode_body(&body, gzip, max_decompressed)?;
            ingest::parse_batch(&text, precision, now_ns, |m, f| {
                snapshot.field(m, f).map(|i| i.field_type)
            })
        })
        .await
        .map_err(|e| WriteError::Store(StoreError::Open(format!("parser task failed: {e}"))))??;
        if points.is_empty() {
            return Ok(Written {
                points: 0,
                values: 0,
            });
        }
        let inner = self.inner.clone();
        let n = points.len();
        let result = self
            .inner
            .writer
            .with_conn(move |conn| {
                let catalog = inner.catalog.read().expect("catalog lock").clone();
                let added = match storage::write_batch(conn, &catalog, &points) {
                    Ok(a) => a,
                    Err(WriteError::Store(e)) => return Err(e),
                    Err(e) => return Ok(Err(e)),
                };
                let values = added.points;
                if !added.series.is_empty() || !added.fields.is_empty() {
                    let mut next = (*catalog).clone();
                    next.extend(added);
                    *inner.catalog.write().expect("catalog lock") = Arc::new(next);
                }
                Ok(Ok(values))
            })
            .await??;
        Ok(Written {
            points: n,
            values: result,
        })
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

    /// What queries have read so far.
    pub fn scan_counts(&self) -> ScanCounts {
        self.inner.stats.snapshot()
    }

    /// Recomputes every dirty rollup bucket, one small transaction at a time.
    pub async fn roll_up(&self, cutoffs: rollup::Cutoffs) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self
                .inner
                .writer
                .with_conn(move |conn| rollup::roll_up(conn, ROLLUP_BATCH, cutoffs))
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
        let catalog = self.catalog();
        let mut pairs = Vec::new();
        for ((measurement, _), field) in &catalog.fields {
            for s in catalog.series_of(measurement) {
                pairs.push((s.id, field.id));
            }
        }
        pairs.sort_unstable();
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
                        .inner
                        .writer
                        .with_conn(move |conn| {
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

    pub fn close(&self) {
        self.inner.writer.close();
        self.inner.readers.close();
    }
}

impl Reader for EmbeddedStore {
    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<Vec<Series>, ReadError>> {
        Box::pin(self.run(q))
    }
}
