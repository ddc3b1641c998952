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
//! Series id 0 ([`ALL_SERIES`]) is no series: its rollup rows summarise a field over
//! every series of its measurement (the fleet-wide view), kept by the same dirty marks.
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
use std::collections::{BTreeMap, HashMap};
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
CREATE INDEX IF NOT EXISTS rollup_1m_by_bucket ON rollup_1m (field_id, bucket);
CREATE INDEX IF NOT EXISTS rollup_1h_by_bucket ON rollup_1h (field_id, bucket);
CREATE TABLE IF NOT EXISTS rollup_dirty (
    level INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    field_id INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    PRIMARY KEY (level, series_id, field_id, bucket)
) WITHOUT ROWID;
";

/// The file's format (`PRAGMA user_version`); 1 added the all-series rollups.
const FORMAT: i64 = 1;

/// Brings a file written by an older version up to [`FORMAT`], in one transaction.
pub fn upgrade(conn: &mut rusqlite::Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= FORMAT {
        return Ok(());
    }
    let tx = conn.transaction()?;
    // Every bucket the series have (or are about to have) gets its all-series rollup
    // from the upkeep; until then queries read the series.
    tx.execute_batch(
        "INSERT OR IGNORE INTO rollup_dirty (level, series_id, field_id, bucket)
           SELECT DISTINCT 1, 0, field_id, bucket FROM rollup_1m WHERE series_id > 0;
         INSERT OR IGNORE INTO rollup_dirty (level, series_id, field_id, bucket)
           SELECT DISTINCT 2, 0, field_id, bucket FROM rollup_1h WHERE series_id > 0;
         INSERT OR IGNORE INTO rollup_dirty (level, series_id, field_id, bucket)
           SELECT DISTINCT level, 0, field_id, bucket FROM rollup_dirty WHERE series_id > 0;",
    )?;
    tx.pragma_update(None, "user_version", FORMAT)?;
    tx.commit()?;
    Ok(())
}

/// The rollup "series" of a field over every series of its measurement: one row per
/// bucket answers an unfiltered, ungrouped aggregate (the fleet-wide chart) however many
/// series there are. Real series ids start at 1.
pub const ALL_SERIES: i64 = 0;

/// The tag naming the agent that wrote a series.
const AGENT_TAG: &str = "agent";

/// A series: one measurement with one tag set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    pub id: i64,
    pub measurement: String,
    pub tags: Tags,
}

impl SeriesInfo {
    /// The tag value InfluxQL sees for `key`: absent tags read as the empty string.
    pub fn tag(&self, key: &str) -> &str {
        self.tags.get(key).unwrap_or("")
    }
}

/// A series' tags sorted by key, each key once: what a `BTreeMap<String, String>` holds
/// (and ordered as one), in a fraction of its memory — the catalog keeps one per series,
/// and stores may hold hundreds of thousands of series.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tags(Box<[(Box<str>, Box<str>)]>);

impl Tags {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| self.0[i].1.as_ref())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// The stored form: a JSON object, keys sorted.
    fn to_json(&self) -> String {
        serde_json::to_string(&self.iter().collect::<BTreeMap<_, _>>()).expect("tags serialize")
    }
}

impl<K: Into<Box<str>>, V: Into<Box<str>>> FromIterator<(K, V)> for Tags {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut tags: Vec<(Box<str>, Box<str>)> = iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        tags.dedup_by(|a, b| a.0 == b.0);
        Tags(tags.into_boxed_slice())
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
    /// Canonical series key (see [`series_key`]) → id.
    series_ids: HashMap<String, i64>,
    pub series: HashMap<String, Vec<Arc<SeriesInfo>>>,
    /// measurement → field → its id and type.
    pub fields: HashMap<String, HashMap<String, FieldInfo>>,
    /// `agent` tag value → how many series carry it (the per-agent series cap).
    agent_series: HashMap<String, usize>,
}

/// Writes the canonical key of a series into `buf`: every part length-prefixed, so no
/// measurement, tag key or value (which may hold any character) can forge another's.
pub fn series_key<'a>(
    buf: &mut String,
    measurement: &str,
    tags: impl Iterator<Item = (&'a str, &'a str)>,
) {
    use std::fmt::Write;
    buf.clear();
    let _ = write!(buf, "{}:{measurement}", measurement.len());
    for (k, v) in tags {
        let _ = write!(buf, ",{}:{k}{}:{v}", k.len(), v.len());
    }
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
                tags: tags.into_iter().collect(),
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
                .entry(measurement)
                .or_default()
                .insert(name, FieldInfo { id, field_type });
        }
        Ok(c)
    }

    fn add_series(&mut self, s: SeriesInfo) {
        let mut key = String::new();
        series_key(&mut key, &s.measurement, s.tags.iter());
        self.series_ids.insert(key, s.id);
        if let Some(agent) = s.tags.get(AGENT_TAG) {
            match self.agent_series.get_mut(agent) {
                Some(n) => *n += 1,
                None => {
                    self.agent_series.insert(agent.to_owned(), 1);
                }
            }
        }
        self.series
            .entry(s.measurement.clone())
            .or_default()
            .push(Arc::new(s));
    }

    /// Whether the series of `measurement` with exactly these tags (sorted by key, as
    /// parsed points hold them) exists.
    pub fn has_series<'t>(
        &self,
        measurement: &str,
        tags: impl Iterator<Item = (&'t str, &'t str)>,
    ) -> bool {
        let mut key = String::new();
        series_key(&mut key, measurement, tags);
        self.series_ids.contains_key(&key)
    }

    /// How many series carry the tag `agent=<agent>`.
    pub fn series_of_agent(&self, agent: &str) -> usize {
        self.agent_series.get(agent).copied().unwrap_or(0)
    }

    pub fn field(&self, measurement: &str, name: &str) -> Option<FieldInfo> {
        self.fields.get(measurement)?.get(name).copied()
    }

    pub fn series_of(&self, measurement: &str) -> &[Arc<SeriesInfo>] {
        self.series.get(measurement).map_or(&[], Vec::as_slice)
    }

    /// Every `(series, field)` pair that may hold data (with [`ALL_SERIES`] for each
    /// field's all-series rollups), in id order.
    pub fn pairs(&self) -> Vec<(i64, i64)> {
        let mut pairs = Vec::new();
        for (measurement, fields) in &self.fields {
            pairs.extend(fields.values().map(|f| (ALL_SERIES, f.id)));
            for s in self.series_of(measurement) {
                pairs.extend(fields.values().map(|f| (s.id, f.id)));
            }
        }
        pairs.sort_unstable();
        pairs
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
    pub fields: Vec<(String, String, FieldInfo)>,
    pub values: usize,
}

/// A value bound without copying it.
struct Bind<'a>(&'a Value);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Float(f) => ValueRef::Real(*f),
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Unsigned(u) => ValueRef::Integer(*u as i64),
            Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
            Value::String(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// Rows per multi-row `INSERT`: fewer statements to step through (SQLite allows 32 766
/// parameters; 4 per row).
const ROWS_PER_INSERT: usize = 64;

fn insert_sql(rows: usize) -> String {
    let mut sql =
        String::from("INSERT OR REPLACE INTO points (series_id, field_id, time, value) VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?)");
    }
    sql
}

/// The fields a batch in progress knows: stored ones and its own new ones.
pub struct KnownFields<'a> {
    catalog: &'a Catalog,
    new_fields: &'a HashMap<(String, String), FieldInfo>,
}

impl KnownFields<'_> {
    pub fn field_type(&self, measurement: &str, field: &str) -> Option<FieldType> {
        self.catalog
            .field(measurement, field)
            .or_else(|| {
                self.new_fields
                    .get(&(measurement.to_owned(), field.to_owned()))
                    .copied()
            })
            .map(|f| f.field_type)
    }
}

/// One write request's transaction, fed part by part (see `ingest::BodyChunks`):
/// everything [`Batch::write`] was given is committed together by [`Batch::commit`], or
/// nothing is when it is dropped uncommitted (any error).
///
/// Values are inserted in key order (series, field, time) within each part, so each
/// lands next to the previous one in the B-tree; the sort is stable and parts are written
/// in order, so of two values with the same key the later line's wins, as in InfluxDB.
/// Types were checked against a snapshot of the catalog while parsing; a field created
/// since by another writer is checked here.
pub struct Batch<'c> {
    tx: rusqlite::Transaction<'c>,
    catalog: &'c Catalog,
    new_series: HashMap<String, SeriesInfo>,
    new_fields: HashMap<(String, String), FieldInfo>,
    /// The agent whose new series are capped, the cap, and how many it created here.
    cap: Option<(String, usize, usize)>,
    values: usize,
    key: String,
}

impl<'c> Batch<'c> {
    /// Begins the transaction. `cap`: series tagged `agent=<agent>` may number at most
    /// this many (agent credentials).
    pub fn begin(
        conn: &'c mut rusqlite::Connection,
        catalog: &'c Catalog,
        cap: Option<(&str, usize)>,
    ) -> Result<Self, WriteError> {
        Ok(Batch {
            tx: conn.transaction().map_err(StoreError::from)?,
            catalog,
            new_series: HashMap::new(),
            new_fields: HashMap::new(),
            cap: cap.map(|(a, n)| (a.to_owned(), n, 0)),
            values: 0,
            key: String::new(),
        })
    }

    /// The fields stored or created by this batch, for parsing later parts.
    pub fn known_fields(&self) -> KnownFields<'_> {
        KnownFields {
            catalog: self.catalog,
            new_fields: &self.new_fields,
        }
    }

    /// Adds one part's points to the transaction.
    pub fn write(&mut self, points: &[Point<'_>]) -> Result<(), WriteError> {
        let tx = &self.tx;
        let catalog = self.catalog;
        let new_series = &mut self.new_series;
        let new_fields = &mut self.new_fields;
        let key = &mut self.key;
        let mut rows: Vec<(i64, i64, i64, bool, &Value)> = Vec::with_capacity(points.len() * 4);
        {
            let mut insert_series = tx
                .prepare_cached(
                    "INSERT INTO series (measurement, tags) VALUES (?1, ?2) RETURNING id",
                )
                .map_err(StoreError::from)?;
            let mut insert_field = tx
                .prepare_cached(
                    "INSERT INTO fields (measurement, name, type) VALUES (?1, ?2, ?3) RETURNING id",
                )
                .map_err(StoreError::from)?;
            let mut shape_of: Option<String> = None;
            let mut shape: Vec<(String, FieldInfo)> = Vec::new();
            for p in points {
                series_key(
                    key,
                    &p.measurement,
                    p.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
                );
                let series_id = match catalog
                    .series_ids
                    .get(key.as_str())
                    .or_else(|| new_series.get(key.as_str()).map(|s| &s.id))
                {
                    Some(id) => *id,
                    None => {
                        let tags: Tags = p
                            .tags
                            .iter()
                            .map(|(k, v)| (k.as_ref(), v.as_ref()))
                            .collect();
                        if let Some((agent, limit, created)) = &mut self.cap
                            && tags.get(AGENT_TAG) == Some(agent.as_str())
                        {
                            if catalog.series_of_agent(agent) + *created >= *limit {
                                return Err(WriteError::SeriesCap {
                                    line: p.line,
                                    agent: agent.clone(),
                                    limit: *limit,
                                });
                            }
                            *created += 1;
                        }
                        let json = tags.to_json();
                        let id: i64 = insert_series
                            .query_row(params![p.measurement, json], |r| r.get(0))
                            .map_err(StoreError::from)?;
                        new_series.insert(
                            key.clone(),
                            SeriesInfo {
                                id,
                                measurement: p.measurement.to_string(),
                                tags,
                            },
                        );
                        id
                    }
                };
                // Consecutive points usually have the same measurement and field names:
                // then the previous point's field infos apply as they are.
                let same_shape = shape_of.as_deref() == Some(p.measurement.as_ref())
                    && shape.len() == p.fields.len()
                    && shape.iter().zip(&p.fields).all(|((n, _), (f, _))| n == f);
                if !same_shape {
                    shape.clear();
                    shape_of = Some(p.measurement.to_string());
                    let known = catalog.fields.get(p.measurement.as_ref());
                    for (name, value) in &p.fields {
                        let input = ingest::type_of(value);
                        let field = match known.and_then(|k| k.get(name.as_ref())) {
                            Some(f) => *f,
                            None => {
                                let fkey = (p.measurement.to_string(), name.to_string());
                                match new_fields.get(&fkey) {
                                    Some(f) => *f,
                                    None => {
                                        let id: i64 = insert_field
                                            .query_row(
                                                params![p.measurement, name, type_name(input)],
                                                |r| r.get(0),
                                            )
                                            .map_err(StoreError::from)?;
                                        let info = FieldInfo {
                                            id,
                                            field_type: input,
                                        };
                                        new_fields.insert(fkey, info);
                                        info
                                    }
                                }
                            }
                        };
                        shape.push((name.to_string(), field));
                    }
                }
                for ((_, field), (name, value)) in shape.iter().zip(&p.fields) {
                    let input = ingest::type_of(value);
                    if field.field_type != input {
                        return Err(WriteError::TypeConflict {
                            line: p.line,
                            measurement: p.measurement.to_string(),
                            field: name.to_string(),
                            input,
                            existing: field.field_type,
                        });
                    }
                    rows.push((
                        series_id,
                        field.id,
                        p.time_ns,
                        is_numeric(field.field_type),
                        value,
                    ));
                }
            }
        }
        rows.sort_by_key(|r| (r.0, r.1, r.2));
        let mut full = tx
            .prepare_cached(&insert_sql(ROWS_PER_INSERT))
            .map_err(StoreError::from)?;
        let mut single = tx
            .prepare_cached(&insert_sql(1))
            .map_err(StoreError::from)?;
        let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
        for chunk in chunks.by_ref() {
            for (i, (s, f, t, _, v)) in chunk.iter().enumerate() {
                full.raw_bind_parameter(4 * i + 1, s)
                    .map_err(StoreError::from)?;
                full.raw_bind_parameter(4 * i + 2, f)
                    .map_err(StoreError::from)?;
                full.raw_bind_parameter(4 * i + 3, t)
                    .map_err(StoreError::from)?;
                full.raw_bind_parameter(4 * i + 4, Bind(v))
                    .map_err(StoreError::from)?;
            }
            full.raw_execute().map_err(StoreError::from)?;
        }
        for (s, f, t, _, v) in chunks.remainder() {
            single
                .execute(params![s, f, t, Bind(v)])
                .map_err(StoreError::from)?;
        }
        // Rows are sorted, so each dirty minute comes as a run: mark it once. The
        // field's all-series minute is marked too, before this transaction commits, so
        // no reader takes it for current once new points are visible.
        let mut mark = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO rollup_dirty (level, series_id, field_id, bucket) VALUES (1, ?1, ?2, ?3)",
            )
            .map_err(StoreError::from)?;
        let mut last = None;
        let mut all = std::collections::BTreeSet::new();
        for (s, f, t, numeric, _) in &rows {
            if !numeric {
                continue;
            }
            let dirty = (*s, *f, bucket_start(*t, MINUTE_NS));
            if last != Some(dirty) {
                mark.execute(params![dirty.0, dirty.1, dirty.2])
                    .map_err(StoreError::from)?;
                all.insert((dirty.1, dirty.2));
                last = Some(dirty);
            }
        }
        for (f, bucket) in all {
            mark.execute(params![ALL_SERIES, f, bucket])
                .map_err(StoreError::from)?;
        }
        self.values += rows.len();
        Ok(())
    }

    /// Commits everything written; returns what the catalog gains.
    pub fn commit(self) -> Result<Added, WriteError> {
        self.tx.commit().map_err(StoreError::from)?;
        Ok(Added {
            series: self.new_series.into_values().collect(),
            fields: self
                .new_fields
                .into_iter()
                .map(|((m, f), info)| (m, f, info))
                .collect(),
            values: self.values,
        })
    }
}

/// Writes a parsed batch in one transaction: all of it or, on any error, none of it.
pub fn write_batch(
    conn: &mut rusqlite::Connection,
    catalog: &Catalog,
    points: &[Point<'_>],
) -> Result<Added, WriteError> {
    let mut batch = Batch::begin(conn, catalog, None)?;
    batch.write(points)?;
    batch.commit()
}

impl Catalog {
    /// Takes in what a committed write created.
    pub fn extend(&mut self, added: Added) {
        for s in added.series {
            self.add_series(s);
        }
        for (m, f, info) in added.fields {
            self.fields.entry(m).or_default().insert(f, info);
        }
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
