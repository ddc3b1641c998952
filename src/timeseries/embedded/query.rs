//! Answering the product's [`Query`]s from the embedded store, with InfluxQL's semantics
//! (`streamswarm_tsdb::query` states them; what InfluxDB 1.x does where the model is
//! silent was checked on InfluxDB 1.6.7 and in its source, `query/call_iterator.go`):
//!
//! - buckets are `[k·interval, (k+1)·interval)` from the epoch; a row's time is its
//!   bucket's start, or the range start without an interval (InfluxQL gives a lone
//!   selector the selected point's time there; the model, and the InfluxDB client, use
//!   the range start);
//! - a result series exists only if at least one of its rows has a value; then
//!   `Fill::Null` emits every bucket from the one holding the range start to the one
//!   holding its last nanosecond, `Fill::None` only buckets with a value in some column;
//!   an empty bucket's `count` is `0` under `Fill::Null` (InfluxQL fills counts with 0)
//!   and null under `Fill::None`;
//! - `mean` is `sum / count` as a float; `sum`, `min`, `max`, `first`, `last` and
//!   percentiles keep the field's type, `count` is an integer;
//! - `first`/`last`: the earliest/latest point; among points at the same time (merged
//!   series) the greater value wins (for booleans `first` prefers `false`, `last` `true`),
//!   InfluxQL's reducer rule. InfluxDB 1.6.7 merges series through a heap, so which of
//!   several series' points at the very same nanosecond it meets first — and so its
//!   `first`/`last` among such ties, and the order of such raw rows — is not stable;
//!   here it is (greater value; rows in tag order). A differential test compares rows
//!   of one timestamp as a set;
//! - `percentile(p)`: sort the bucket's values, take index `floor(n·p/100 + 0.5) − 1`;
//!   an index outside `0..n` is no value (so `p1` of 7 values is null);
//! - `min`/`max` also take booleans; `mean`, `sum` and percentiles need a numeric field,
//!   `min`/`max` a numeric or boolean one: otherwise the query is invalid (InfluxDB
//!   refuses it too);
//! - raw rows are ordered by time, then by series (tags); a row exists where at least
//!   one requested field has a value; `limit` counts per result series;
//! - a series lacking a tag has the empty value for it, in filters and in groups.
//!
//! Aggregates that rollups can answer (`mean`, `min`, `max`, `count`, `sum` of a
//! numeric field) read, for every stretch of the range covering whole 1-hour (or
//! 1-minute) buckets, the rollup rows instead of the raw points — when the interval is
//! a multiple of the rollup width, or there is no interval. Partial buckets at the
//! range's edges and buckets still dirty (written since their rollup was computed) are
//! read from the level below, down to raw points. Float sums may then differ from a
//! raw summation in the last bits, as InfluxDB's own do between shards. An aggregate
//! with no filter and no grouping spans every series of its measurement: it reads the
//! all-series rollups (one row per bucket, see `rollup.rs`), and the series' raw points
//! only for the edges and stale buckets.
//!
//! `first` and `last` without an interval read one point per series (an index seek
//! from either end of the range), not the range.

use super::rollup::{Level, Num, Partial, partial_from_row};
use super::storage::{
    ALL_SERIES, Catalog, FieldInfo, HOUR_NS, MINUTE_NS, SeriesInfo, bucket_start, from_sql,
    is_numeric,
};
use rusqlite::params;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use streamswarm_schema::measurements::FieldType;
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, RawQuery, ReadError, Row, Selector, Series, TagFilter,
    TagValuesQuery, Value,
};

/// What queries read, cumulatively: proof that long ranges read rollups.
#[derive(Debug, Default)]
pub struct QueryStats {
    pub raw_values: AtomicU64,
    pub rollup_1m_rows: AtomicU64,
    pub rollup_1h_rows: AtomicU64,
}

/// A snapshot of [`QueryStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanCounts {
    pub raw_values: u64,
    pub rollup_1m_rows: u64,
    pub rollup_1h_rows: u64,
}

impl QueryStats {
    pub fn snapshot(&self) -> ScanCounts {
        ScanCounts {
            raw_values: self.raw_values.load(Ordering::Relaxed),
            rollup_1m_rows: self.rollup_1m_rows.load(Ordering::Relaxed),
            rollup_1h_rows: self.rollup_1h_rows.load(Ordering::Relaxed),
        }
    }
}

fn invalid(m: impl Into<String>) -> ReadError {
    ReadError::Invalid(m.into())
}

fn db_error(e: impl std::fmt::Display) -> ReadError {
    ReadError::Unreachable(format!("embedded store: {e}"))
}

/// The column name the model fixes: `mean_rtt_avg_ms`.
pub fn column_name(field: &str, aggregate: Aggregate) -> String {
    format!("{}_{field}", aggregate.label())
}

/// InfluxQL's nearest-rank index for `percentile(p)` of `n` sorted values.
pub fn percentile_index(n: usize, p: f64) -> Option<usize> {
    let i = (n as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
    (0..n as i64).contains(&i).then_some(i as usize)
}

/// Series of the selector's measurement that pass every filter.
fn matching_series(
    catalog: &Catalog,
    measurement: &str,
    filters: &[TagFilter],
) -> Vec<Arc<SeriesInfo>> {
    catalog
        .series_of(measurement)
        .iter()
        .filter(|s| {
            filters
                .iter()
                .all(|f| f.values.iter().any(|v| v == s.tag(&f.tag)))
        })
        .cloned()
        .collect()
}

/// Series grouped by the values of `tags`, in tag order.
fn group(
    series: Vec<Arc<SeriesInfo>>,
    tags: &[String],
) -> BTreeMap<BTreeMap<String, String>, Vec<Arc<SeriesInfo>>> {
    let mut groups: BTreeMap<BTreeMap<String, String>, Vec<Arc<SeriesInfo>>> = BTreeMap::new();
    for s in series {
        let key = tags
            .iter()
            .map(|t| (t.clone(), s.tag(t).to_owned()))
            .collect();
        groups.entry(key).or_default().push(s);
    }
    for members in groups.values_mut() {
        members.sort_by(|a, b| a.tags.cmp(&b.tags));
    }
    groups
}

fn check_selector(s: &Selector) -> Result<(), ReadError> {
    if s.measurement.is_empty() {
        return Err(invalid("measurement must not be empty"));
    }
    if s.range.end_ns <= s.range.start_ns {
        return Err(invalid("the range must end after it starts"));
    }
    Ok(())
}

/// Runs `q` against one read snapshot of `conn`.
pub fn run(
    conn: &mut rusqlite::Connection,
    catalog: &Catalog,
    stats: &QueryStats,
    q: &Query,
) -> Result<Vec<Series>, ReadError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)
        .map_err(db_error)?;
    let mut reader = Snapshot { tx: &tx, stats };
    let out = match q {
        Query::Aggregate(a) => aggregate(&mut reader, catalog, a),
        Query::Raw(r) => raw(&mut reader, catalog, r),
        Query::TagValues(t) => Ok(tag_values(catalog, t)),
    };
    drop(tx);
    out
}

/// Runs `f` on one read snapshot of `conn` (the InfluxQL endpoint's entry).
pub(super) fn with_snapshot<T>(
    conn: &mut rusqlite::Connection,
    stats: &QueryStats,
    f: impl FnOnce(&mut Snapshot<'_>) -> T,
) -> Result<T, ReadError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)
        .map_err(db_error)?;
    let mut snap = Snapshot { tx: &tx, stats };
    let out = f(&mut snap);
    drop(tx);
    Ok(out)
}

pub(super) struct Snapshot<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    stats: &'a QueryStats,
}

impl Snapshot<'_> {
    /// Raw values of one field of one series in `[a, b)`, oldest first, at most `limit`.
    pub(super) fn scan(
        &mut self,
        series: i64,
        field: FieldInfo,
        a: i64,
        b: i64,
        limit: Option<usize>,
        mut each: impl FnMut(i64, Value),
    ) -> Result<(), ReadError> {
        if a >= b {
            return Ok(());
        }
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT time, value FROM points WHERE series_id = ?1 AND field_id = ?2
                 AND time >= ?3 AND time < ?4 ORDER BY time",
            )
            .map_err(db_error)?;
        // The limit is applied here, not as `LIMIT ?`: SQLite may re-prepare a
        // statement whose bound LIMIT changes, which costs more than the read.
        let limit = limit.map_or(u64::MAX, |l| l as u64);
        let mut rows = stmt
            .query(params![series, field.id, a, b])
            .map_err(db_error)?;
        let mut n = 0;
        while n < limit
            && let Some(r) = rows.next().map_err(db_error)?
        {
            n += 1;
            let t: i64 = r.get(0).map_err(db_error)?;
            if let Some(v) = from_sql(field.field_type, r.get_ref(1).map_err(db_error)?) {
                each(t, v);
            }
        }
        self.stats.raw_values.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// The earliest (`newest` false) or latest point of one field of one series in
    /// `[a, b)`: one index seek, however many points the range holds. A series has at
    /// most one point per field and time, so no tie rule applies here.
    fn select(
        &mut self,
        series: i64,
        field: FieldInfo,
        a: i64,
        b: i64,
        newest: bool,
    ) -> Result<Option<(i64, Value)>, ReadError> {
        if a >= b {
            return Ok(None);
        }
        let mut stmt = self
            .tx
            .prepare_cached(if newest {
                "SELECT time, value FROM points WHERE series_id = ?1 AND field_id = ?2
                 AND time >= ?3 AND time < ?4 ORDER BY time DESC"
            } else {
                "SELECT time, value FROM points WHERE series_id = ?1 AND field_id = ?2
                 AND time >= ?3 AND time < ?4 ORDER BY time"
            })
            .map_err(db_error)?;
        let mut rows = stmt
            .query(params![series, field.id, a, b])
            .map_err(db_error)?;
        let mut n = 0;
        let mut found = None;
        // Rows are stepped lazily: normally one; more only past values of another type.
        while let Some(r) = rows.next().map_err(db_error)? {
            n += 1;
            let t: i64 = r.get(0).map_err(db_error)?;
            if let Some(v) = from_sql(field.field_type, r.get_ref(1).map_err(db_error)?) {
                found = Some((t, v));
                break;
            }
        }
        self.stats.raw_values.fetch_add(n, Ordering::Relaxed);
        Ok(found)
    }

    /// Partials of one numeric field of one series over `[a, b)`, each tagged with a time
    /// inside the span it summarises (a rollup bucket's start, or a raw point's time),
    /// reading the coarsest clean level available at and below `level`.
    fn partials(
        &mut self,
        level: Option<Level>,
        source: Source<'_>,
        field: FieldInfo,
        a: i64,
        b: i64,
        out: &mut dyn FnMut(i64, Partial),
    ) -> Result<(), ReadError> {
        if a >= b {
            return Ok(());
        }
        let series = source.rollup_series();
        let Some(level) = level else {
            for &s in source.raw_series() {
                self.scan(s, field, a, b, None, |t, v| {
                    if let Some(n) = Num::from_value(&v) {
                        out(t, Partial::of(n));
                    }
                })?;
            }
            return Ok(());
        };
        let below = match level {
            Level::Hour => Some(Level::Minute),
            Level::Minute => None,
        };
        let w = level.width();
        let inner_a = bucket_start(a, w) + if a.rem_euclid(w) == 0 { 0 } else { w };
        let inner_b = bucket_start(b, w);
        if inner_a >= inner_b {
            return self.partials(below, source, field, a, b, out);
        }
        self.partials(below, source, field, a, inner_a, out)?;
        // A bucket is stale while it, or any minute under it, awaits recomputation:
        // the upkeep marks an hour dirty only when it recomputes one of its minutes.
        let mut dirty: Vec<i64> = Vec::new();
        {
            let mut stmt = self
                .tx
                .prepare_cached(
                    "SELECT bucket FROM rollup_dirty WHERE level = ?1 AND series_id = ?2
                     AND field_id = ?3 AND bucket >= ?4 AND bucket < ?5",
                )
                .map_err(db_error)?;
            let levels: &[Level] = match level {
                Level::Minute => &[Level::Minute],
                Level::Hour => &[Level::Hour, Level::Minute],
            };
            for l in levels {
                let rows = stmt
                    .query_map(params![l.id(), series, field.id, inner_a, inner_b], |r| {
                        r.get::<_, i64>(0)
                    })
                    .map_err(db_error)?;
                for b in rows {
                    dirty.push(bucket_start(b.map_err(db_error)?, w));
                }
            }
        }
        dirty.sort_unstable();
        dirty.dedup();
        {
            let mut stmt = self
                .tx
                .prepare_cached(&format!(
                    "SELECT bucket, count, sum, min, max FROM {} WHERE series_id = ?1
                     AND field_id = ?2 AND bucket >= ?3 AND bucket < ?4",
                    level.table()
                ))
                .map_err(db_error)?;
            let mut rows = stmt
                .query(params![series, field.id, inner_a, inner_b])
                .map_err(db_error)?;
            let mut n = 0;
            while let Some(r) = rows.next().map_err(db_error)? {
                n += 1;
                let bucket: i64 = r.get(0).map_err(db_error)?;
                if dirty.binary_search(&bucket).is_ok() {
                    continue;
                }
                if let Some(p) = partial_from_row(field.field_type, r, 1) {
                    out(bucket, p);
                }
            }
            let counter = match level {
                Level::Minute => &self.stats.rollup_1m_rows,
                Level::Hour => &self.stats.rollup_1h_rows,
            };
            counter.fetch_add(n, Ordering::Relaxed);
        }
        for bucket in dirty {
            self.partials(below, source, field, bucket, bucket + w, out)?;
        }
        self.partials(below, source, field, inner_b, b, out)
    }
}

/// Whose partials to read: one series, or every series of a measurement together
/// (its all-series rollups, and those series' raw points where they are stale).
#[derive(Clone, Copy)]
enum Source<'m> {
    Series(i64),
    All(&'m [i64]),
}

impl Source<'_> {
    /// The series id of its rollup rows.
    fn rollup_series(&self) -> i64 {
        match self {
            Source::Series(id) => *id,
            Source::All(_) => ALL_SERIES,
        }
    }

    /// The series whose raw points it stands for.
    fn raw_series(&self) -> &[i64] {
        match self {
            Source::Series(id) => std::slice::from_ref(id),
            Source::All(members) => members,
        }
    }
}

/// What one column accumulates per bucket.
enum Acc {
    Partial(Option<Partial>),
    Selected(Option<(i64, Value)>),
    Values(Vec<Value>),
    Count(i64),
}

#[derive(Clone, Copy)]
pub(super) struct Column {
    pub(super) aggregate: Aggregate,
    pub(super) field: Option<FieldInfo>,
}

impl Column {
    fn uses_partials(&self) -> bool {
        matches!(
            self.aggregate,
            Aggregate::Mean | Aggregate::Min | Aggregate::Max | Aggregate::Count | Aggregate::Sum
        ) && self.field.is_some_and(|f| is_numeric(f.field_type))
    }

    fn new_acc(&self) -> Acc {
        if self.uses_partials() {
            return Acc::Partial(None);
        }
        match self.aggregate {
            Aggregate::Count => Acc::Count(0),
            Aggregate::Percentile(_) => Acc::Values(Vec::new()),
            _ => Acc::Selected(None),
        }
    }
}

/// Whether `(t, v)` replaces the current selection, by InfluxQL's selector rules.
pub(super) fn replaces(aggregate: Aggregate, current: &(i64, Value), t: i64, v: &Value) -> bool {
    let (ct, cv) = current;
    let greater = |a: &Value, b: &Value| match (a, b) {
        (Value::Float(a), Value::Float(b)) => a > b,
        (Value::Integer(a), Value::Integer(b)) => a > b,
        (Value::Unsigned(a), Value::Unsigned(b)) => a > b,
        (Value::String(a), Value::String(b)) => a > b,
        (Value::Bool(a), Value::Bool(b)) => a & !b,
        _ => false,
    };
    match aggregate {
        Aggregate::First => {
            t < *ct
                || (t == *ct
                    && match (v, cv) {
                        (Value::Bool(a), Value::Bool(b)) => !a && *b,
                        _ => greater(v, cv),
                    })
        }
        Aggregate::Last => t > *ct || (t == *ct && greater(v, cv)),
        // Booleans only: numeric min/max go through partials.
        Aggregate::Min => greater(cv, v) || (v == cv && t < *ct),
        Aggregate::Max => greater(v, cv) || (v == cv && t < *ct),
        _ => false,
    }
}

fn finish(acc: &mut Acc, aggregate: Aggregate) -> Option<Value> {
    match acc {
        Acc::Partial(None) => None,
        Acc::Partial(Some(p)) => Some(match aggregate {
            Aggregate::Mean => Value::Float(p.mean()),
            Aggregate::Count => Value::Integer(p.count),
            Aggregate::Sum => p.sum.to_value(),
            Aggregate::Min => p.min.to_value(),
            Aggregate::Max => p.max.to_value(),
            _ => return None,
        }),
        Acc::Selected(s) => s.take().map(|(_, v)| v),
        Acc::Count(0) => None,
        Acc::Count(n) => Some(Value::Integer(*n)),
        Acc::Values(values) => {
            let Aggregate::Percentile(p) = aggregate else {
                return None;
            };
            let i = percentile_index(values.len(), p)?;
            values.sort_by(|a, b| match (a, b) {
                (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
                (Value::Integer(a), Value::Integer(b)) => a.cmp(b),
                (Value::Unsigned(a), Value::Unsigned(b)) => a.cmp(b),
                _ => std::cmp::Ordering::Equal,
            });
            Some(values[i].clone())
        }
    }
}

pub(super) fn check_aggregate(
    field: &str,
    aggregate: Aggregate,
    t: FieldType,
) -> Result<(), ReadError> {
    let ok = match aggregate {
        Aggregate::Count | Aggregate::First | Aggregate::Last => true,
        Aggregate::Min | Aggregate::Max => t != FieldType::String,
        Aggregate::Mean | Aggregate::Sum | Aggregate::Percentile(_) => is_numeric(t),
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{}() is not defined for field {field:?}, a {} field",
            aggregate.label(),
            t.as_str()
        )))
    }
}

fn aggregate(
    snap: &mut Snapshot<'_>,
    catalog: &Catalog,
    q: &AggregateQuery,
) -> Result<Vec<Series>, ReadError> {
    let sel = &q.selector;
    check_selector(sel)?;
    if q.fields.is_empty() {
        return Err(invalid("an aggregate query needs at least one field"));
    }
    let mut names = Vec::with_capacity(q.fields.len());
    let mut columns = Vec::with_capacity(q.fields.len());
    for (field, aggregate) in &q.fields {
        if field.is_empty() {
            return Err(invalid("field name must not be empty"));
        }
        if let Aggregate::Percentile(p) = aggregate
            && !(p.is_finite() && *p > 0.0 && *p <= 100.0)
        {
            return Err(invalid(format!("percentile must be in (0, 100], got {p}")));
        }
        let name = column_name(field, *aggregate);
        if names.contains(&name) {
            return Err(invalid(format!("column {name:?} is requested twice")));
        }
        names.push(name);
        let info = catalog.field(&sel.measurement, field);
        if let Some(info) = info {
            check_aggregate(field, *aggregate, info.field_type)?;
        }
        columns.push(Column {
            aggregate: *aggregate,
            field: info,
        });
    }
    for t in &q.group_by_tags {
        if t.is_empty() {
            return Err(invalid("group-by tag must not be empty"));
        }
    }
    let width = match q.interval {
        Some(d) => {
            let n = i64::try_from(d.as_nanos()).map_err(|_| invalid("interval is too long"))?;
            if n == 0 {
                return Err(invalid("interval must be longer than 0"));
            }
            Some(n)
        }
        None => None,
    };
    let (start, end) = (sel.range.start_ns, sel.range.end_ns);
    let whole_measurement = sel.filters.is_empty() && q.group_by_tags.is_empty();
    let mut out = Vec::new();
    for (tags, members) in group(
        matching_series(catalog, &sel.measurement, &sel.filters),
        &q.group_by_tags,
    ) {
        let mut rows = aggregate_rows(
            snap,
            &columns,
            &members,
            whole_measurement,
            width,
            start,
            end,
        )?;
        if rows.is_empty() {
            continue;
        }
        if let (Fill::Null, Some(w)) = (q.fill, width) {
            let mut b = bucket_start(start, w);
            let last = bucket_start(end - 1, w);
            while b <= last {
                rows.entry(b).or_insert_with(|| vec![None; columns.len()]);
                b += w;
            }
            for values in rows.values_mut() {
                for (v, col) in values.iter_mut().zip(&columns) {
                    if v.is_none() && col.aggregate == Aggregate::Count {
                        *v = Some(Value::Integer(0));
                    }
                }
            }
        }
        out.push(Series {
            name: sel.measurement.clone(),
            tags,
            columns: names.clone(),
            rows: rows
                .into_iter()
                .map(|(time_ns, values)| Row { time_ns, values })
                .collect(),
        });
    }
    Ok(out)
}

/// The rows of one group of series: bucket → one value per column, buckets without
/// any value left out (no fill). `whole` says the group is every series of its
/// measurement (it then reads the all-series rollups). The InfluxQL endpoint shares it.
pub(super) fn aggregate_rows(
    snap: &mut Snapshot<'_>,
    columns: &[Column],
    members: &[Arc<SeriesInfo>],
    whole: bool,
    width: Option<i64>,
    start: i64,
    end: i64,
) -> Result<BTreeMap<i64, Vec<Option<Value>>>, ReadError> {
    let bucket_of = |t: i64| width.map_or(start, |w| bucket_start(t, w));
    let level = match width {
        None => Some(Level::Hour),
        Some(w) if w % HOUR_NS == 0 => Some(Level::Hour),
        Some(w) if w % MINUTE_NS == 0 => Some(Level::Minute),
        Some(_) => None,
    };
    // Columns by field: (field, columns read from partials, columns read raw).
    let mut by_field: Vec<(FieldInfo, Vec<usize>, Vec<usize>)> = Vec::new();
    for (ci, col) in columns.iter().enumerate() {
        let Some(field) = col.field else { continue };
        let at = match by_field.iter().position(|(f, _, _)| f.id == field.id) {
            Some(i) => i,
            None => {
                by_field.push((field, Vec::new(), Vec::new()));
                by_field.len() - 1
            }
        };
        if col.uses_partials() {
            by_field[at].1.push(ci);
        } else {
            by_field[at].2.push(ci);
        }
    }
    // bucket → one accumulator per column.
    let mut buckets: BTreeMap<i64, Vec<Acc>> = BTreeMap::new();
    let new_row = || columns.iter().map(Column::new_acc).collect::<Vec<_>>();
    // Each field is read once per series, however many columns aggregate it: one
    // pass over partials for the rollup-able columns, one raw scan for the rest.
    let member_ids: Vec<i64> = members.iter().map(|s| s.id).collect();
    // A group of every series of the measurement reads the all-series rollups.
    let sources: Vec<Source> = if whole {
        vec![Source::All(&member_ids)]
    } else {
        member_ids.iter().map(|&id| Source::Series(id)).collect()
    };
    for (field, partial_cols, raw_cols) in &by_field {
        for &source in &sources {
            if !partial_cols.is_empty() {
                // Pieces mostly arrive in time order: summarise a run of pieces of
                // one bucket locally and touch the bucket map once per run.
                let mut run: Option<(i64, Partial)> = None;
                let flush = |buckets: &mut BTreeMap<i64, Vec<Acc>>, (b, p): (i64, Partial)| {
                    let accs = buckets.entry(b).or_insert_with(new_row);
                    for &ci in partial_cols {
                        if let Acc::Partial(acc) = &mut accs[ci] {
                            match acc {
                                Some(a) => a.merge(&p),
                                None => *acc = Some(p),
                            }
                        }
                    }
                };
                snap.partials(level, source, *field, start, end, &mut |t, p| {
                    let b = bucket_of(t);
                    match &mut run {
                        Some((rb, rp)) if *rb == b => rp.merge(&p),
                        _ => {
                            if let Some(done) = run.replace((b, p)) {
                                flush(&mut buckets, done);
                            }
                        }
                    }
                })?;
                if let Some(done) = run {
                    flush(&mut buckets, done);
                }
            }
        }
        // Without an interval, `first` and `last` need one point each: seek it
        // instead of reading the range (the dashboard's per-agent numbers).
        let selectors_only = width.is_none()
            && raw_cols
                .iter()
                .all(|&ci| matches!(columns[ci].aggregate, Aggregate::First | Aggregate::Last));
        for s in members {
            if !raw_cols.is_empty() && selectors_only {
                let mut picked: [Option<Option<(i64, Value)>>; 2] = [None, None];
                for &ci in raw_cols {
                    let newest = columns[ci].aggregate == Aggregate::Last;
                    let slot = &mut picked[usize::from(newest)];
                    if slot.is_none() {
                        *slot = Some(snap.select(s.id, *field, start, end, newest)?);
                    }
                    let Some(Some((t, v))) = slot else { continue };
                    let accs = buckets.entry(start).or_insert_with(new_row);
                    if let Acc::Selected(sel) = &mut accs[ci]
                        && sel
                            .as_ref()
                            .is_none_or(|cur| replaces(columns[ci].aggregate, cur, *t, v))
                    {
                        *sel = Some((*t, v.clone()));
                    }
                }
            } else if !raw_cols.is_empty() {
                snap.scan(s.id, *field, start, end, None, |t, v| {
                    let accs = buckets.entry(bucket_of(t)).or_insert_with(new_row);
                    for &ci in raw_cols {
                        match &mut accs[ci] {
                            Acc::Count(n) => *n += 1,
                            Acc::Values(vs) => vs.push(v.clone()),
                            Acc::Selected(sel) => {
                                if sel
                                    .as_ref()
                                    .is_none_or(|cur| replaces(columns[ci].aggregate, cur, t, &v))
                                {
                                    *sel = Some((t, v.clone()));
                                }
                            }
                            Acc::Partial(_) => {}
                        }
                    }
                })?;
            }
        }
    }
    let mut rows: BTreeMap<i64, Vec<Option<Value>>> = BTreeMap::new();
    for (bucket, mut accs) in buckets {
        let values: Vec<Option<Value>> = accs
            .iter_mut()
            .zip(columns)
            .map(|(acc, col)| finish(acc, col.aggregate))
            .collect();
        if values.iter().any(Option::is_some) {
            rows.insert(bucket, values);
        }
    }
    Ok(rows)
}

fn raw(snap: &mut Snapshot<'_>, catalog: &Catalog, q: &RawQuery) -> Result<Vec<Series>, ReadError> {
    let sel = &q.selector;
    check_selector(sel)?;
    if q.fields.is_empty() {
        return Err(invalid("a raw query needs at least one field"));
    }
    if q.limit == 0 {
        return Err(invalid("a raw query's limit must be at least 1"));
    }
    for (i, f) in q.fields.iter().enumerate() {
        if f.is_empty() {
            return Err(invalid("field name must not be empty"));
        }
        if q.fields[..i].contains(f) {
            return Err(invalid(format!("field {f:?} is requested twice")));
        }
    }
    let fields: Vec<Option<FieldInfo>> = q
        .fields
        .iter()
        .map(|f| catalog.field(&sel.measurement, f))
        .collect();
    let mut out = Vec::new();
    for (tags, members) in group(
        matching_series(catalog, &sel.measurement, &sel.filters),
        &q.group_by_tags,
    ) {
        // (time, member index) → values; members are in tag order.
        let mut rows: BTreeMap<(i64, usize), Vec<Option<Value>>> = BTreeMap::new();
        for (si, s) in members.iter().enumerate() {
            for (fi, field) in fields.iter().enumerate() {
                let Some(field) = field else { continue };
                // No series contributes more than `limit` rows to the first `limit`.
                snap.scan(
                    s.id,
                    *field,
                    sel.range.start_ns,
                    sel.range.end_ns,
                    Some(q.limit),
                    |t, v| {
                        rows.entry((t, si))
                            .or_insert_with(|| vec![None; fields.len()])[fi] = Some(v);
                    },
                )?;
            }
        }
        if rows.is_empty() {
            continue;
        }
        out.push(Series {
            name: sel.measurement.clone(),
            tags,
            columns: q.fields.clone(),
            rows: rows
                .into_iter()
                .take(q.limit)
                .map(|((time_ns, _), values)| Row { time_ns, values })
                .collect(),
        });
    }
    Ok(out)
}

fn tag_values(catalog: &Catalog, q: &TagValuesQuery) -> Vec<Series> {
    let mut values: Vec<String> = matching_series(catalog, &q.measurement, &q.filters)
        .iter()
        .filter_map(|s| s.tags.get(&q.tag).map(str::to_owned))
        .collect();
    values.sort();
    values.dedup();
    if values.is_empty() {
        return Vec::new();
    }
    vec![Series {
        name: q.measurement.clone(),
        tags: BTreeMap::new(),
        columns: vec![q.tag.clone()],
        rows: values
            .into_iter()
            .map(|v| Row {
                time_ns: 0,
                values: vec![Some(Value::String(v))],
            })
            .collect(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_influxql_nearest_rank() {
        // Worked by hand from floor(n·p/100 + 0.5) − 1.
        assert_eq!(percentile_index(7, 50.0), Some(3));
        assert_eq!(percentile_index(7, 1.0), None);
        assert_eq!(percentile_index(7, 100.0), Some(6));
        assert_eq!(percentile_index(10, 90.0), Some(8));
        assert_eq!(percentile_index(10, 95.0), Some(9));
        assert_eq!(percentile_index(10, 94.9), Some(8));
        assert_eq!(percentile_index(100, 99.0), Some(98));
        assert_eq!(percentile_index(1000, 99.9), Some(998));
        assert_eq!(percentile_index(1, 50.0), Some(0));
        assert_eq!(percentile_index(1, 49.0), None);
        assert_eq!(percentile_index(0, 50.0), None);
        assert_eq!(percentile_index(2, 75.0), Some(1));
    }

    #[test]
    fn selectors_break_ties_like_influxql() {
        let f = |x: f64| Value::Float(x);
        // first: earlier wins; same time → greater value.
        assert!(replaces(Aggregate::First, &(10, f(1.0)), 5, &f(0.0)));
        assert!(!replaces(Aggregate::First, &(10, f(1.0)), 11, &f(9.0)));
        assert!(replaces(Aggregate::First, &(10, f(1.0)), 10, &f(2.0)));
        assert!(!replaces(Aggregate::First, &(10, f(1.0)), 10, &f(0.5)));
        // last: later wins; same time → greater value.
        assert!(replaces(Aggregate::Last, &(10, f(1.0)), 11, &f(0.0)));
        assert!(replaces(Aggregate::Last, &(10, f(1.0)), 10, &f(2.0)));
        assert!(!replaces(Aggregate::Last, &(10, f(1.0)), 9, &f(2.0)));
        // Booleans: first prefers false, last prefers true.
        let b = Value::Bool;
        assert!(replaces(Aggregate::First, &(10, b(true)), 10, &b(false)));
        assert!(!replaces(Aggregate::First, &(10, b(false)), 10, &b(true)));
        assert!(replaces(Aggregate::Last, &(10, b(false)), 10, &b(true)));
        assert!(replaces(Aggregate::Min, &(10, b(true)), 20, &b(false)));
        assert!(replaces(Aggregate::Max, &(10, b(false)), 20, &b(true)));
    }
}
