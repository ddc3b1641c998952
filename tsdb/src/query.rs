//! The product's query set, as data.
//!
//! The UI, the analytics and the tests ask a time-series store only these questions.
//! Each is a plain value, rendered to InfluxQL for a real InfluxDB (`influxql`) and
//! executed directly by the server's embedded store, and both must answer identically:
//! the differential test runs every query on both.
//!
//! Semantics follow InfluxQL (InfluxDB 1.x), which is what InfluxDB 1.x, 2.x (v1
//! compatibility API) and 3.x all speak:
//! - a range is `[start, end)` in nanoseconds since the epoch;
//! - `interval` buckets are aligned to the epoch; a row's time is its bucket's start;
//!   without an interval there is one row whose time is the range start;
//! - with [`Fill::None`] empty buckets are omitted, with [`Fill::Null`] they are present
//!   with null values;
//! - without `group_by_tags` all matching series are merged into one result series with
//!   no tags; with them, one result series per distinct tag combination, ordered by
//!   tag values;
//! - `Mean` of integers is a float; `Count` is an integer; `Min`, `Max`, `First`, `Last`
//!   keep the field's type; `Sum` keeps integer/float; `Percentile(p)` is InfluxQL's
//!   nearest-rank percentile.
//! - Result columns are `time` then, per requested field, `"{aggregate}_{field}"`
//!   (`mean_rtt_avg_ms`, `p99_rtt_avg_ms`, `last_loss_percent`); raw queries name
//!   columns by field.
//! - `Count` of a bucket with no values is `0` under [`Fill::Null`] (InfluxQL fills
//!   counts with 0, checked on InfluxDB 1.6.7); under [`Fill::None`] a row kept for
//!   another column's sake has a null count.
//! - [`Query::TagValues`] answers one series named after the measurement, without tags,
//!   with one column named after the tag and one row per value (time 0), sorted; no
//!   matching series, no result series.

use std::collections::BTreeMap;
use std::time::Duration;

/// A half-open time range `[start_ns, end_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_ns: i64,
    pub end_ns: i64,
}

/// Series whose `tag` has one of `values` (several filters: all must hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub tag: String,
    pub values: Vec<String>,
}

impl TagFilter {
    pub fn eq(tag: impl Into<String>, value: impl Into<String>) -> Self {
        TagFilter {
            tag: tag.into(),
            values: vec![value.into()],
        }
    }
}

/// Which points: one measurement, tag filters, a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub measurement: String,
    pub filters: Vec<TagFilter>,
    pub range: TimeRange,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    Mean,
    Min,
    Max,
    Count,
    Sum,
    First,
    Last,
    /// Nearest-rank percentile, 0 < p ≤ 100.
    Percentile(f64),
}

impl Aggregate {
    /// The column-name prefix: `mean`, `min`, …, `p99`, `p99_9`.
    pub fn label(self) -> String {
        match self {
            Aggregate::Mean => "mean".into(),
            Aggregate::Min => "min".into(),
            Aggregate::Max => "max".into(),
            Aggregate::Count => "count".into(),
            Aggregate::Sum => "sum".into(),
            Aggregate::First => "first".into(),
            Aggregate::Last => "last".into(),
            Aggregate::Percentile(p) => format!("p{}", p.to_string().replace('.', "_")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fill {
    #[default]
    None,
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggregateQuery {
    pub selector: Selector,
    pub fields: Vec<(String, Aggregate)>,
    /// Bucket width (`GROUP BY time(interval)`); one bucket for the whole range when absent.
    pub interval: Option<Duration>,
    pub group_by_tags: Vec<String>,
    pub fill: Fill,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawQuery {
    pub selector: Selector,
    pub fields: Vec<String>,
    pub group_by_tags: Vec<String>,
    /// Most rows per series, oldest first.
    pub limit: usize,
}

/// Distinct values of `tag` among series of `measurement` matching `filters`
/// (`SHOW TAG VALUES`), ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagValuesQuery {
    pub measurement: String,
    pub tag: String,
    pub filters: Vec<TagFilter>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Aggregate(AggregateQuery),
    Raw(RawQuery),
    TagValues(TagValuesQuery),
}

/// A field value as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Bool(bool),
    String(String),
}

impl Value {
    /// The value as a number: floats, integers and unsigned integers (not booleans or
    /// strings).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(v) => Some(*v),
            Value::Integer(v) => Some(*v as f64),
            Value::Unsigned(v) => Some(*v as f64),
            Value::Bool(_) | Value::String(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub time_ns: i64,
    /// One entry per column after `time`; `None` is null.
    pub values: Vec<Option<Value>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// Column names after `time`.
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("invalid query: {0}")]
    Invalid(String),
    #[error("the time-series store answered {status}: {message}")]
    Server { status: u16, message: String },
    #[error("cannot reach the time-series store: {0}")]
    Unreachable(String),
    #[error("unexpected answer from the time-series store: {0}")]
    Decode(String),
}

/// Answers the product's queries. Implemented by the InfluxDB client and by the
/// server's embedded store; the UI and analytics hold a `dyn Reader`.
pub trait Reader: Send + Sync {
    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<Vec<Series>, ReadError>>;
}

/// A boxed future, so `Reader` can be used as `dyn Reader`.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
