//! The on-disk layout and the write path.
//!
//! ```sql
//! series (id INTEGER PRIMARY KEY, measurement TEXT, tags TEXT /* JSON object, keys sorted */,
//!         UNIQUE (measurement, tags))
//! fields (id INTEGER PRIMARY KEY, measurement TEXT, name TEXT, type TEXT, UNIQUE (measurement, name))
//! points (series_id, field_id, time /* ns */, value /* no affinity */,
//!         PRIMARY KEY (series_id, field_id, time)) WITHOUT ROWID
//! rollup_1m, rollup_1h (series_id, field_id, bucket /* ns */, count, sum, min, max,
//!         PRIMARY KEY (series_id, field_id, bucket)) WITHOUT ROWID
//! rollup_dirty (level, series_id, field_id, bucket, PRIMARY KEY (...)) WITHOUT ROWID
//! ```
//!
//! One row per field value: a clustered primary key makes the range scan of one field of
//! one series a contiguous index range, and `INSERT OR REPLACE` on it gives InfluxDB's
//! duplicate rule (same series and time: each field written again is overwritten, the
//! others kept — the field sets merge). Values keep their type in SQLite's dynamic
//! typing: floats as REAL, integers and booleans as INTEGER, strings as TEXT, unsigned
//! integers as the INTEGER with the same bits (the field's type says how to read it).
//!
//! Series and fields are few and read on every write, so they are also kept in memory
//! ([`Catalog`]); the file is the truth, the catalog is loaded from it at open and only
//! extended after a transaction commits.

use super::ingest::{self, Point, WriteError};
use crate::store::StoreError;
use rusqlite::{OptionalExtension, params};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use streamswarm_schema::measurements::FieldType;
use streamswarm_tsdb::query::Value;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    measurement TEXT NOT NULL,
    tags TEXT NOT NULL,
    UNIQUE (measurement, tags)
);
CREATE TABLE IF NOT EXISTS fields (
    id INTEGER PRIMARY KEY,
    measurement TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    UNIQUE (measurement, name)
);
CREATE TABLE IF NOT EXISTS points (
    series_id INTEGER NOT NULL,
    field_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    value,
    PRIMARY KEY (series_id, field_id, time)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_1m (
    series_id INTEGER NOT NULL,
    field_id INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    count INTEGER NOT NULL,
    sum,
    min,
    max,
    PRIMARY KEY (series_id, field_id, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_1h (
    series_id INTEGER NOT NULL,
    field_id INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    count INTEGER NOT NULL,
    sum,
    min,
    max,
    PRIMARY KEY (series_id, field_id, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_dirty (
    level INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    field_id INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    PRIMARY KEY (level, series_id, field_id, bucket)
) WITHOUT ROWID;
";

/// A series: one measurement with one tag set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    pub id: i64,
    pub measurement: String,
    pub tags: BTreeMap<String, String>,
}

impl SeriesInfo {
    /// The tag value InfluxQL sees for `key`: absent tags read as the empty string.
    pub fn tag(&self, key: &str) -> &str {
        self.tags.get(key).map_or("", String::as_str)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInfo {
    pub id: i64,
    pub field_type: FieldType,
}

/// Series and fields by name, mirrored from the file.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    series_ids: HashMap<(String, Vec<(String, String)>), i64>,
    pub series: HashMap<String, Vec<Arc<SeriesInfo>>>,
    pub fields: HashMap<(String, String), FieldInfo>,
}

impl Catalog {
    pub fn load(conn: &rusqlite::Connection) -> Result<Self, StoreError> {
        let mut c = Catalog::default();
        let mut stmt = conn.prepare("SELECT id, measurement, tags FROM series ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, measurement, tags) = row?;
            let tags: BTreeMap<String, String> = serde_json::from_str(&tags)
                .map_err(|e| StoreError::Decode(format!("series {id} tags: {e}")))?;
            c.add_series(SeriesInfo {
                id,
                measurement,
                tags,
            });
        }
        let mut stmt = conn.prepare("SELECT id, measurement, name, type FROM fields")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (id, measurement, name, t) = row?;
            let field_type = parse_type(&t)
                .ok_or_else(|| StoreError::Decode(format!("field {id} has type {t:?}")))?;
            c.fields
                .insert((measurement, name), FieldInfo { id, field_type });
        }
        Ok(c)
    }

    fn add_series(&mut self, s: SeriesInfo) {
        let key = (
            s.measurement.clone(),
            s.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        );
        self.series_ids.insert(key, s.id);
        self.series
            .entry(s.measurement.clone())
            .or_default()
            .push(Arc::new(s));
    }

    pub fn field(&self, measurement: &str, name: &str) -> Option<FieldInfo> {
        self.fields
            .get(&(measurement.to_owned(), name.to_owned()))
            .copied()
    }

    pub fn series_of(&self, measurement: &str) -> &[Arc<SeriesInfo>] {
        self.series.get(measurement).map_or(&[], Vec::as_slice)
    }
}

pub fn type_name(t: FieldType) -> &'static str {
    t.as_str()
}

pub fn parse_type(s: &str) -> Option<FieldType> {
    Some(match s {
        "float" => FieldType::Float,
        "integer" => FieldType::Integer,
        "unsigned" => FieldType::Unsigned,
        "bool" => FieldType::Bool,
        "string" => FieldType::String,
        _ => return None,
    })
}

pub fn is_numeric(t: FieldType) -> bool {
    matches!(
        t,
        FieldType::Float | FieldType::Integer | FieldType::Unsigned
    )
}

/// A value as stored.
pub fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Float(f) => V::Real(*f),
        Value::Integer(i) => V::Integer(*i),
        Value::Unsigned(u) => V::Integer(*u as i64),
        Value::Bool(b) => V::Integer(i64::from(*b)),
        Value::String(s) => V::Text(s.clone()),
    }
}

/// A stored value read back as the field's type.
pub fn from_sql(t: FieldType, v: rusqlite::types::ValueRef<'_>) -> Option<Value> {
    use rusqlite::types::ValueRef as R;
    Some(match (t, v) {
        (_, R::Null) => return None,
        (FieldType::Float, R::Real(f)) => Value::Float(f),
        (FieldType::Float, R::Integer(i)) => Value::Float(i as f64),
        (FieldType::Integer, R::Integer(i)) => Value::Integer(i),
        (FieldType::Unsigned, R::Integer(i)) => Value::Unsigned(i as u64),
        (FieldType::Bool, R::Integer(i)) => Value::Bool(i != 0),
        (FieldType::String, R::Text(s)) => Value::String(String::from_utf8_lossy(s).into_owned()),
        _ => return None,
    })
}

/// 1-minute and 1-hour rollup widths, in nanoseconds.
pub const MINUTE_NS: i64 = 60_000_000_000;
pub const HOUR_NS: i64 = 3_600_000_000_000;

/// Start of the `width`-wide epoch-aligned bucket holding `t` (also for negative `t`).
pub fn bucket_start(t: i64, width: i64) -> i64 {
    t - t.rem_euclid(width)
}

/// What a committed write added to the catalog.
pub struct Added {
    pub series: Vec<SeriesInfo>,
    pub fields: Vec<((String, String), FieldInfo)>,
    pub points: usize,
}

/// Writes a parsed batch in one transaction: all of it or, on any error, none of it.
/// Type conflicts with stored fields are checked first, so a refused batch never opens
/// a transaction at all.
pub fn write_batch(
    conn: &mut rusqlite::Connection,
    catalog: &Catalog,
    points: &[Point],
) -> Result<Added, WriteError> {
    ingest::check_stored_types(points, |m, f| catalog.field(m, f).map(|i| i.field_type))?;
    let tx = conn.transaction().map_err(StoreError::from)?;
    let mut new_series: HashMap<(String, Vec<(String, String)>), i64> = HashMap::new();
    let mut new_fields: HashMap<(String, String), FieldInfo> = HashMap::new();
    let mut dirty: HashSet<(i64, i64, i64)> = HashSet::new();
    let mut count = 0;
    {
        let mut insert_series = tx
            .prepare_cached("INSERT INTO series (measurement, tags) VALUES (?1, ?2) RETURNING id")
            .map_err(StoreError::from)?;
        let mut insert_field = tx
            .prepare_cached(
                "INSERT INTO fields (measurement, name, type) VALUES (?1, ?2, ?3) RETURNING id",
            )
            .map_err(StoreError::from)?;
        let mut insert_point = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO points (series_id, field_id, time, value) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(StoreError::from)?;
        // The lookup key is built once per point; most points belong to known series.
        let mut key = (String::new(), Vec::new());
        for p in points {
            key.0.clone_from(&p.measurement);
            key.1.clone_from(&p.tags);
            let series_id = match catalog
                .series_ids
                .get(&key)
                .or_else(|| new_series.get(&key))
            {
                Some(id) => *id,
                None => {
                    let tags: BTreeMap<&str, &str> = p
                        .tags
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let json = serde_json::to_string(&tags).expect("tags serialize");
                    let id: i64 = insert_series
                        .query_row(params![p.measurement, json], |r| r.get(0))
                        .map_err(StoreError::from)?;
                    new_series.insert(key.clone(), id);
                    id
                }
            };
            for (name, value) in &p.fields {
                let fkey = (p.measurement.clone(), name.clone());
                let field = match catalog.fields.get(&fkey).or_else(|| new_fields.get(&fkey)) {
                    Some(f) => *f,
                    None => {
                        let field_type = ingest::type_of(value);
                        let id: i64 = insert_field
                            .query_row(params![p.measurement, name, type_name(field_type)], |r| {
                                r.get(0)
                            })
                            .map_err(StoreError::from)?;
                        let info = FieldInfo { id, field_type };
                        new_fields.insert(fkey, info);
                        info
                    }
                };
                insert_point
                    .execute(params![series_id, field.id, p.time_ns, to_sql(value)])
                    .map_err(StoreError::from)?;
                count += 1;
                if is_numeric(field.field_type) {
                    dirty.insert((series_id, field.id, bucket_start(p.time_ns, MINUTE_NS)));
                }
            }
        }
        let mut mark = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO rollup_dirty (level, series_id, field_id, bucket) VALUES (1, ?1, ?2, ?3)",
            )
            .map_err(StoreError::from)?;
        for (s, f, b) in &dirty {
            mark.execute(params![s, f, b]).map_err(StoreError::from)?;
        }
    }
    tx.commit().map_err(StoreError::from)?;
    let series = new_series
        .into_iter()
        .map(|((measurement, tags), id)| SeriesInfo {
            id,
            measurement,
            tags: tags.into_iter().collect(),
        })
        .collect();
    Ok(Added {
        series,
        fields: new_fields.into_iter().collect(),
        points: count,
    })
}

impl Catalog {
    /// Takes in what a committed write created.
    pub fn extend(&mut self, added: Added) {
        for s in added.series {
            self.add_series(s);
        }
        self.fields.extend(added.fields);
    }
}

/// Every stored point, in key order, as text: what tests compare before and after a
/// refused write ("nothing already stored is touched").
pub fn dump(conn: &rusqlite::Connection) -> Result<String, StoreError> {
    use std::fmt::Write;
    let mut out = String::new();
    let mut stmt = conn.prepare(
        "SELECT s.measurement, s.tags, f.name, f.type, p.time, p.value
         FROM points p JOIN series s ON s.id = p.series_id JOIN fields f ON f.id = p.field_id
         ORDER BY s.measurement, s.tags, f.name, p.time",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let t: String = r.get(3)?;
        let value = parse_type(&t).and_then(|t| from_sql(t, r.get_ref(5).ok()?));
        let _ = writeln!(
            out,
            "{} {} {}:{} {} {:?}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            t,
            r.get::<_, i64>(4)?,
            value
        );
    }
    for table in ["series", "fields"] {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        let _ = writeln!(out, "{table}: {n}");
    }
    Ok(out)
}

/// How many raw values are stored (tests and the benchmark).
pub fn count_points(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM points", [], |r| r.get(0))?)
}

/// The newest raw time of one field of one series (tests).
pub fn newest(
    conn: &rusqlite::Connection,
    series: i64,
    field: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT max(time) FROM points WHERE series_id = ?1 AND field_id = ?2",
            params![series, field],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_epoch_aligned_for_negative_times_too() {
        assert_eq!(bucket_start(0, MINUTE_NS), 0);
        assert_eq!(bucket_start(MINUTE_NS - 1, MINUTE_NS), 0);
        assert_eq!(bucket_start(MINUTE_NS, MINUTE_NS), MINUTE_NS);
        assert_eq!(bucket_start(-1, MINUTE_NS), -MINUTE_NS);
        assert_eq!(bucket_start(-MINUTE_NS, MINUTE_NS), -MINUTE_NS);
        assert_eq!(bucket_start(3 * HOUR_NS + 5, HOUR_NS), 3 * HOUR_NS);
    }

    #[test]
    fn values_round_trip_through_sqlite_types() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v)").unwrap();
        let values = [
            (FieldType::Float, Value::Float(1.0)),
            (FieldType::Float, Value::Float(-2.5e300)),
            (FieldType::Integer, Value::Integer(i64::MIN)),
            (FieldType::Unsigned, Value::Unsigned(u64::MAX)),
            (FieldType::Bool, Value::Bool(true)),
            (FieldType::Bool, Value::Bool(false)),
            (FieldType::String, Value::String("ü \"x\"".into())),
        ];
        for (t, v) in values {
            conn.execute("DELETE FROM t", []).unwrap();
            conn.execute("INSERT INTO t VALUES (?1)", [to_sql(&v)])
                .unwrap();
            let back = conn
                .query_row("SELECT v FROM t", [], |r| Ok(from_sql(t, r.get_ref(0)?)))
                .unwrap();
            assert_eq!(back, Some(v));
        }
    }
}
