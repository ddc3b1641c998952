//! InfluxQL reads on the embedded store: what `GET|POST /query` answers (InfluxDB
//! 1.x's query API), so Grafana's InfluxDB datasource, InfluxDB's clients and analysts
//! read the embedded store as they read an InfluxDB.
//!
//! - Statements are parsed by InfluxData's own parser (`influxql/`, vendored).
//! - [`show`]: `SHOW DATABASES | RETENTION POLICIES | MEASUREMENTS | TAG KEYS |
//!   TAG VALUES | FIELD KEYS | SERIES`, from the catalog.
//! - [`select`]: `SELECT`: fields, aggregates, selectors, transformations and math;
//!   `WHERE` on time, tags and fields; `GROUP BY time(…[, offset])`, tags, `*` or a
//!   regex; `fill(…)`; `ORDER BY time DESC`; `LIMIT/OFFSET/SLIMIT/SOFFSET`; several
//!   measurements or a subquery in `FROM`. Aggregates the rollups can answer (mean,
//!   min, max, count, sum, first, last, percentile of stored fields, filtered by tags
//!   only) go through the product's query path (`query::aggregate_rows`), which reads
//!   the 1-minute and 1-hour rollups; everything else reads raw points. Both give
//!   InfluxDB 1.6.7's answers (the differential test holds them to it).
//! - Whatever is not implemented is refused with an error saying what
//!   ([`Fail::Unsupported`]), never answered approximately.
//!
//! Results keep InfluxDB's shape ([`StatementResult`], [`ResultSeries`]); the HTTP
//! layer (`http::query`) encodes them (`epoch`, `chunked`).

mod cond;
mod functions;
mod select;
mod show;

use super::query::Snapshot;
use super::storage::Catalog;
use influxdb_influxql_parser::statement::Statement;
use std::collections::BTreeMap;
use streamswarm_tsdb::query::{ReadError, Value};

/// The one database of the embedded store, as `SHOW DATABASES` names it. Queries
/// naming another database read the same store, as writes to any `db` write to it.
pub const DATABASE: &str = "streamswarm";

/// Most buckets a query may ask for per series, and most values it may read: InfluxDB
/// would try and exhaust its memory; this store refuses with a message instead.
const MAX_BUCKETS: i64 = 1_000_000;
const MAX_VALUES: usize = 20_000_000;

/// One cell of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    /// Nanoseconds since the epoch, in the `time` column.
    Time(i64),
    Value(Value),
}

impl From<Option<Value>> for Cell {
    fn from(v: Option<Value>) -> Self {
        v.map_or(Cell::Null, Cell::Value)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Value(Value::String(s.to_owned()))
    }
}

/// A result series, as InfluxDB 1.x answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSeries {
    /// `None` for `SHOW SERIES`, whose series has no name.
    pub name: Option<String>,
    /// Empty: the series has no `tags` object.
    pub tags: BTreeMap<String, String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// What one statement answered: series, or an error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementResult {
    pub series: Vec<ResultSeries>,
    pub error: Option<String>,
}

/// Why a statement has no answer.
#[derive(Debug)]
pub enum Fail {
    /// The statement is wrong (InfluxDB would refuse it too).
    Invalid(String),
    /// Valid InfluxQL this store does not answer.
    Unsupported(String),
    Store(ReadError),
}

impl Fail {
    pub fn unsupported(what: impl Into<String>) -> Fail {
        Fail::Unsupported(what.into())
    }

    pub fn message(&self) -> String {
        match self {
            Fail::Invalid(m) => m.clone(),
            Fail::Unsupported(what) => {
                format!("not supported by the StreamSwarm embedded store: {what}")
            }
            Fail::Store(e) => e.to_string(),
        }
    }
}

impl From<ReadError> for Fail {
    fn from(e: ReadError) -> Self {
        Fail::Store(e)
    }
}

/// What a statement is evaluated against besides the data.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    pub now_ns: i64,
    /// The `db` parameter, if any.
    pub database: Option<&'a str>,
    /// How long raw points are kept (`SHOW RETENTION POLICIES`).
    pub raw_retention_days: i64,
}

/// Parses a request's `q`: one or more `;`-separated statements.
pub fn parse(text: &str) -> Result<Vec<Statement>, String> {
    influxdb_influxql_parser::parse_statements(text)
        .map_err(|e| format!("error parsing query: {e}"))
}

/// Answers `statements` in order on one read snapshot; after a statement fails, the
/// rest are not run (as InfluxDB does).
pub(super) fn execute(
    snap: &mut Snapshot<'_>,
    catalog: &Catalog,
    statements: &[Statement],
    env: Env<'_>,
) -> Vec<StatementResult> {
    let mut out = Vec::with_capacity(statements.len());
    for s in statements {
        let r = run(snap, catalog, s, env);
        let failed = r.is_err();
        out.push(match r {
            Ok(series) => StatementResult {
                series,
                error: None,
            },
            Err(e) => StatementResult {
                series: Vec::new(),
                error: Some(e.message()),
            },
        });
        if failed {
            break;
        }
    }
    out
}

fn run(
    snap: &mut Snapshot<'_>,
    catalog: &Catalog,
    s: &Statement,
    env: Env<'_>,
) -> Result<Vec<ResultSeries>, Fail> {
    let needs_db = || {
        if env.database.is_none_or(str::is_empty) {
            Err(Fail::Invalid("database name required".into()))
        } else {
            Ok(())
        }
    };
    match s {
        Statement::ShowDatabases(_) => Ok(show::databases()),
        Statement::ShowRetentionPolicies(_) => Ok(show::retention_policies(env)),
        Statement::ShowMeasurements(m) => {
            needs_db()?;
            show::measurements(catalog, m)
        }
        Statement::ShowTagKeys(t) => {
            needs_db()?;
            show::tag_keys(catalog, t)
        }
        Statement::ShowTagValues(t) => {
            needs_db()?;
            show::tag_values(catalog, t)
        }
        Statement::ShowFieldKeys(f) => {
            needs_db()?;
            show::field_keys(catalog, f)
        }
        Statement::ShowSeries(f) => {
            needs_db()?;
            show::series(catalog, f)
        }
        Statement::Select(sel) => {
            needs_db()?;
            select::select(snap, catalog, sel, env, None)
        }
        Statement::CreateDatabase(_) | Statement::Delete(_) | Statement::DropMeasurement(_) => {
            Err(Fail::unsupported(
                "statements that change data (this endpoint only reads; write with /write)",
            ))
        }
        Statement::Explain(_) => Err(Fail::unsupported("EXPLAIN")),
    }
}
