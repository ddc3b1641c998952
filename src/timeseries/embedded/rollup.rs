//! Rollups: per series, per numeric field, the count, sum, min and max of every 1-minute
//! and every 1-hour bucket, so that a 30-day chart reads 43 200 (or 720) rows per series
//! instead of millions of raw points.
//!
//! Maintenance is driven by "dirty" buckets. Every write records, in its own
//! transaction, the 1-minute buckets it touched (`rollup_dirty`, level 1); the background
//! task recomputes each dirty minute from the raw points, which marks its hour dirty
//! (level 2), and recomputes each dirty hour from its minutes. Because a recomputation
//! replaces the bucket, late and duplicate points are corrected, not double counted.
//!
//! Each field also has all-series rollups (series id [`ALL_SERIES`]): per bucket the
//! summary of every series of the measurement, merged from their rows of the same level,
//! so a fleet-wide chart reads one row per bucket instead of one per series and bucket.
//! A write marks the all-series minute dirty with the series' one; recomputing a
//! series' minute marks both hours.
//!
//! Reads never see a stale rollup: a query that reads rollups reads a dirty bucket from
//! the level below instead (see `query.rs`), all within one read snapshot.
//!
//! A bucket whose raw data is already past retention is not recomputed (that would
//! erase it); its dirty mark is dropped. A point written that late reaches only the raw
//! table, until retention deletes it.

use super::storage::{ALL_SERIES, HOUR_NS, MINUTE_NS, bucket_start, parse_type};
use crate::store::StoreError;
use rusqlite::params;
use rusqlite::types::ValueRef;
use streamswarm_schema::measurements::FieldType;
use streamswarm_tsdb::query::Value;

/// A numeric value, keeping its type: InfluxQL keeps integer sums integer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    F(f64),
    I(i64),
    U(u64),
}

impl Num {
    pub fn from_value(v: &Value) -> Option<Num> {
        match v {
            Value::Float(f) => Some(Num::F(*f)),
            Value::Integer(i) => Some(Num::I(*i)),
            Value::Unsigned(u) => Some(Num::U(*u)),
            _ => None,
        }
    }

    pub fn from_sql(t: FieldType, v: ValueRef<'_>) -> Option<Num> {
        match (t, v) {
            (FieldType::Float, ValueRef::Real(f)) => Some(Num::F(f)),
            (FieldType::Float, ValueRef::Integer(i)) => Some(Num::F(i as f64)),
            (FieldType::Integer, ValueRef::Integer(i)) => Some(Num::I(i)),
            (FieldType::Unsigned, ValueRef::Integer(i)) => Some(Num::U(i as u64)),
            _ => None,
        }
    }

    pub fn to_sql(self) -> rusqlite::types::Value {
        use rusqlite::types::Value as V;
        match self {
            Num::F(f) => V::Real(f),
            Num::I(i) => V::Integer(i),
            Num::U(u) => V::Integer(u as i64),
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            Num::F(f) => Value::Float(f),
            Num::I(i) => Value::Integer(i),
            Num::U(u) => Value::Unsigned(u),
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Num::F(f) => f,
            Num::I(i) => i as f64,
            Num::U(u) => u as f64,
        }
    }

    /// Integer sums wrap on overflow, as InfluxDB's (Go) do.
    fn add(self, o: Num) -> Num {
        match (self, o) {
            (Num::I(a), Num::I(b)) => Num::I(a.wrapping_add(b)),
            (Num::U(a), Num::U(b)) => Num::U(a.wrapping_add(b)),
            (a, b) => Num::F(a.as_f64() + b.as_f64()),
        }
    }

    fn less(self, o: Num) -> bool {
        match (self, o) {
            (Num::I(a), Num::I(b)) => a < b,
            (Num::U(a), Num::U(b)) => a < b,
            (a, b) => a.as_f64() < b.as_f64(),
        }
    }
}

/// The mergeable summary of a set of numeric values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partial {
    pub count: i64,
    pub sum: Num,
    pub min: Num,
    pub max: Num,
}

impl Partial {
    pub fn of(v: Num) -> Self {
        Partial {
            count: 1,
            sum: v,
            min: v,
            max: v,
        }
    }

    pub fn merge(&mut self, o: &Partial) {
        self.count += o.count;
        self.sum = self.sum.add(o.sum);
        if o.min.less(self.min) {
            self.min = o.min;
        }
        if self.max.less(o.max) {
            self.max = o.max;
        }
    }

    pub fn mean(&self) -> f64 {
        self.sum.as_f64() / self.count as f64
    }
}

/// A rollup level: its table and bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Minute,
    Hour,
}

impl Level {
    pub fn table(self) -> &'static str {
        match self {
            Level::Minute => "rollup_1m",
            Level::Hour => "rollup_1h",
        }
    }

    pub fn width(self) -> i64 {
        match self {
            Level::Minute => MINUTE_NS,
            Level::Hour => HOUR_NS,
        }
    }

    /// Its number in `rollup_dirty.level`.
    pub fn id(self) -> i64 {
        match self {
            Level::Minute => 1,
            Level::Hour => 2,
        }
    }
}

/// Reads one rollup row's partial.
pub fn partial_from_row(t: FieldType, row: &rusqlite::Row<'_>, first: usize) -> Option<Partial> {
    Some(Partial {
        count: row.get(first).ok()?,
        sum: Num::from_sql(t, row.get_ref(first + 1).ok()?)?,
        min: Num::from_sql(t, row.get_ref(first + 2).ok()?)?,
        max: Num::from_sql(t, row.get_ref(first + 3).ok()?)?,
    })
}

/// Where recomputation must stop: buckets ending at or before these times have lost
/// (some of) their inputs to retention.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    pub raw_ns: i64,
    pub minute_ns: i64,
}

/// Recomputes up to `max` dirty buckets of each level in one transaction; returns how
/// many marks it cleared (0: nothing left to do).
///
/// An all-series bucket ([`ALL_SERIES`]) is recomputed from the series' rows of its
/// level, so only once no series' mark of that level is left: a series bucket still
/// waiting would be missing from it. Until then readers treat it as dirty.
pub fn roll_up(
    conn: &mut rusqlite::Connection,
    max: usize,
    cutoffs: Cutoffs,
) -> Result<usize, StoreError> {
    let tx = conn.transaction()?;
    let mut done = 0;
    for level in [Level::Minute, Level::Hour] {
        let series_marks = marks(&tx, level, false, max)?;
        let series_left = series_marks.len() == max;
        for mark in series_marks {
            recompute(&tx, level, mark, cutoffs)?;
            done += 1;
        }
        if !series_left {
            for mark in marks(&tx, level, true, max)? {
                recompute(&tx, level, mark, cutoffs)?;
                done += 1;
            }
        }
    }
    tx.commit()?;
    Ok(done)
}

/// A dirty bucket: series, field, bucket start, field type.
type Mark = (i64, i64, i64, String);

/// Up to `max` dirty buckets of `level`: of the series, or (`all`) the all-series ones.
fn marks(
    tx: &rusqlite::Transaction<'_>,
    level: Level,
    all: bool,
    max: usize,
) -> Result<Vec<Mark>, StoreError> {
    let mut stmt = tx.prepare_cached(if all {
        "SELECT d.series_id, d.field_id, d.bucket, f.type FROM rollup_dirty d
         JOIN fields f ON f.id = d.field_id
         WHERE d.level = ?1 AND d.series_id = 0 ORDER BY d.field_id, d.bucket"
    } else {
        "SELECT d.series_id, d.field_id, d.bucket, f.type FROM rollup_dirty d
         JOIN fields f ON f.id = d.field_id
         WHERE d.level = ?1 AND d.series_id > 0 ORDER BY d.series_id, d.field_id, d.bucket"
    })?;
    let mut rows = stmt.query(params![level.id()])?;
    let mut out = Vec::new();
    // The cap is applied here: a bound LIMIT would make SQLite re-prepare the statement.
    while out.len() < max
        && let Some(r) = rows.next()?
    {
        out.push((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?));
    }
    Ok(out)
}

/// Recomputes one dirty bucket from the level below and clears its mark.
fn recompute(
    tx: &rusqlite::Transaction<'_>,
    level: Level,
    (series, field, bucket, t): Mark,
    cutoffs: Cutoffs,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "DELETE FROM rollup_dirty WHERE level = ?1 AND series_id = ?2 AND field_id = ?3 AND bucket = ?4",
    )?
    .execute(params![level.id(), series, field, bucket])?;
    let Some(t) = parse_type(&t) else {
        return Ok(());
    };
    let end = bucket + level.width();
    let all = series == ALL_SERIES;
    // A series' bucket whose inputs are past retention keeps what it has.
    let source_cutoff = match level {
        Level::Minute => cutoffs.raw_ns,
        Level::Hour => cutoffs.minute_ns,
    };
    if !all && end <= source_cutoff {
        return Ok(());
    }
    let mut acc: Option<Partial> = None;
    let mut merge = |p: Partial| match &mut acc {
        Some(a) => a.merge(&p),
        None => acc = Some(p),
    };
    if level == Level::Minute && !all {
        let mut stmt = tx.prepare_cached(
            "SELECT value FROM points WHERE series_id = ?1 AND field_id = ?2 AND time >= ?3 AND time < ?4",
        )?;
        let mut rows = stmt.query(params![series, field, bucket, end])?;
        while let Some(r) = rows.next()? {
            if let Some(v) = Num::from_sql(t, r.get_ref(0)?) {
                merge(Partial::of(v));
            }
        }
    } else {
        let mut fold = |mut rows: rusqlite::Rows<'_>| -> rusqlite::Result<()> {
            while let Some(r) = rows.next()? {
                if let Some(p) = partial_from_row(t, r, 0) {
                    merge(p);
                }
            }
            Ok(())
        };
        if all {
            // Every series' row of this bucket, same level (index `…_by_bucket`).
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT count, sum, min, max FROM {} WHERE field_id = ?1 AND bucket = ?2
                 AND series_id > 0",
                level.table()
            ))?;
            fold(stmt.query(params![field, bucket])?)?;
        } else {
            let mut stmt = tx.prepare_cached(
                "SELECT count, sum, min, max FROM rollup_1m WHERE series_id = ?1 AND field_id = ?2
                 AND bucket >= ?3 AND bucket < ?4",
            )?;
            fold(stmt.query(params![series, field, bucket, end])?)?;
        }
    }
    match acc {
        Some(p) => {
            tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO {} (series_id, field_id, bucket, count, sum, min, max) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                level.table()
            ))?
            .execute(params![
                series,
                field,
                bucket,
                p.count,
                p.sum.to_sql(),
                p.min.to_sql(),
                p.max.to_sql()
            ])?;
        }
        None => {
            tx.prepare_cached(&format!(
                "DELETE FROM {} WHERE series_id = ?1 AND field_id = ?2 AND bucket = ?3",
                level.table()
            ))?
            .execute(params![series, field, bucket])?;
        }
    }
    // A series' new minute makes its hour, and the all-series hour, stale.
    if level == Level::Minute && !all {
        let mut mark = tx.prepare_cached(
            "INSERT OR IGNORE INTO rollup_dirty (level, series_id, field_id, bucket) VALUES (2, ?1, ?2, ?3)",
        )?;
        let hour = bucket_start(bucket, HOUR_NS);
        mark.execute(params![series, field, hour])?;
        mark.execute(params![ALL_SERIES, field, hour])?;
    }
    Ok(())
}

/// How many buckets wait for recomputation (tests, metrics).
pub fn pending(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM rollup_dirty", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partials_merge_keeping_integer_types() {
        let mut p = Partial::of(Num::I(5));
        p.merge(&Partial::of(Num::I(-2)));
        p.merge(&Partial::of(Num::I(9)));
        assert_eq!(
            p,
            Partial {
                count: 3,
                sum: Num::I(12),
                min: Num::I(-2),
                max: Num::I(9)
            }
        );
        assert_eq!(p.mean(), 4.0);
        let mut u = Partial::of(Num::U(u64::MAX));
        u.merge(&Partial::of(Num::U(1)));
        assert_eq!(u.min, Num::U(1));
        assert_eq!(u.max, Num::U(u64::MAX));
        let mut f = Partial::of(Num::F(0.5));
        f.merge(&Partial::of(Num::F(-1.5)));
        assert_eq!(f.sum, Num::F(-1.0));
        assert_eq!(f.mean(), -0.5);
    }
}
