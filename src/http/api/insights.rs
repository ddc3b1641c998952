//! What the analytics process found, for API clients and the pages:
//!
//! - `GET /api/v1/insights?state=open|resolved&scope=&severity=&test=&agent=&since=&limit=`
//!   — insights newest started first (`limit` 1–1,000, default 100; `X-Total-Count`
//!   says how many match in all); `since` (Unix ms) keeps those open at some time since
//!   then.
//! - `GET /api/v1/insights/{id}` — one insight.
//! - `GET /api/v1/health` — the health of every agent, every test and every target with
//!   an open insight (`healthy | degraded | failing`), computed from the open insights
//!   (`store::insights::health`).
//! - `GET /api/v1/tests/{id}/forecast?agent=<id>&field=ping.rtt_avg_ms&range=…|from=&to=` —
//!   one series' forecast band (`forecast` points: expected, lower, upper), its
//!   observed values and its `anomaly` points, read through the time-series `Reader` in
//!   the buckets `series::window_of` chooses.
//!
//! Bad parameters are a 400 naming the parameter.

use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::api::series::{ValuePoint, Window, read_error, window_of};
use crate::http::routes::ok;
use crate::store::insights::{
    self, HealthReport, InsightFilter, InsightRecord, SCOPES, SEVERITIES, STATES, SubjectHealth,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use streamswarm_schema::measurements::FieldType;
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, RawQuery, Selector, TagFilter, TimeRange, Value,
};
use warp::reply::Response;

/// Most insights one request lists.
pub const MAX_LIMIT: i64 = 1000;
/// Most insights a chart marks.
pub const CHART_INSIGHTS: i64 = 100;
/// Most anomaly points one forecast answer carries (the oldest in the window first).
pub const MAX_ANOMALIES: usize = 5000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    scope: Option<String>,
    severity: Option<String>,
    test: Option<String>,
    agent: Option<String>,
    since: Option<String>,
    limit: Option<String>,
}

/// One of `allowed`, or a 400 naming `field`; an empty value is no filter.
fn one_of(field: &str, v: Option<String>, allowed: &[&str]) -> Result<Option<String>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if allowed.contains(&s) => Ok(Some(s.to_owned())),
        Some(s) => Err(Error::invalid(
            field,
            format!(
                "unknown {field} {s:?}: expected one of {}",
                allowed.join(", ")
            ),
        )),
    }
}

/// An id (a positive integer), or a 400 naming `field`; an empty value is no filter.
fn id_param(field: &str, what: &str, v: Option<&str>) -> Result<Option<i64>> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Some(id)),
            _ => Err(Error::invalid(
                field,
                format!("{s:?} is not {what} id (a positive integer)"),
            )),
        },
    }
}

/// The filter of a list request, every parameter checked.
fn filter_of(q: ListQuery) -> Result<InsightFilter> {
    let since = match q.since.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => match s.parse::<i64>() {
            Ok(ms) if ms >= 0 => Some(ms),
            _ => {
                return Err(Error::invalid(
                    "since",
                    format!("{s:?} is not a time: expected Unix milliseconds from 0"),
                ));
            }
        },
    };
    let limit = match q.limit.as_deref().map(str::trim) {
        None | Some("") => insights::DEFAULT_LIMIT,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(Error::invalid(
                    "limit",
                    format!("{s:?} is not a limit: expected a whole number from 1 to {MAX_LIMIT}"),
                ));
            }
        },
    };
    Ok(InsightFilter {
        state: one_of("state", q.state, &STATES)?,
        scope: one_of("scope", q.scope, &SCOPES)?,
        severity: one_of("severity", q.severity, &SEVERITIES)?,
        test_id: id_param("test", "a test", q.test.as_deref())?,
        agent_id: id_param("agent", "an agent", q.agent.as_deref())?,
        since,
        limit,
    })
}

/// The filter the request's query string asks for, every parameter checked.
pub fn requested_filter(ctx: &Ctx) -> Result<InsightFilter> {
    filter_of(ctx.query()?)
}

/// The insights matching `f` and how many match in all.
pub async fn listing(ctx: &Ctx, f: &InsightFilter) -> Result<(Vec<InsightRecord>, i64)> {
    let store = &ctx.state.store;
    let list = store.list_insights(f).await?;
    let total = store.count_insights(f).await?;
    Ok((list, total))
}

pub async fn list(ctx: Ctx) -> Result<Response> {
    let f = requested_filter(&ctx)?;
    let (list, total) = listing(&ctx, &f).await?;
    let mut r = ok(&list)?;
    r.headers_mut()
        .insert("x-total-count", warp::http::HeaderValue::from(total));
    Ok(r)
}

pub async fn load(ctx: &Ctx, id: i64) -> Result<InsightRecord> {
    ctx.state
        .store
        .insight(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("insight {id}")))
}

pub async fn get(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    ok(&load(&ctx, id).await?)
}

/// The health report over the open insights, with every agent and every test the store
/// holds (healthy when nothing open touches it); targets only when something does.
pub async fn health_report(ctx: &Ctx) -> Result<HealthReport> {
    let store = &ctx.state.store;
    let mut report = insights::health(&store.open_insights().await?);
    for a in store.list_agents().await? {
        report
            .agents
            .entry(a.id)
            .or_insert_with(SubjectHealth::healthy);
    }
    for (id, _, _) in store.test_names().await? {
        report
            .tests
            .entry(id)
            .or_insert_with(SubjectHealth::healthy);
    }
    Ok(report)
}

pub async fn health(ctx: Ctx) -> Result<Response> {
    ok(&health_report(&ctx).await?)
}

/// An insight as a chart marks it: a shaded window from `started_at` to `resolved_at`
/// (or the chart's end while open).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChartInsight {
    pub id: i64,
    pub started_at: i64,
    pub resolved_at: Option<i64>,
    /// `warning` or `critical`.
    pub severity: String,
    pub summary: String,
    /// `pair`, `target` or `agent`.
    pub scope: String,
    /// The series, as `measurement.field`.
    pub metric: String,
    pub agent_ids: Vec<i64>,
}

impl From<InsightRecord> for ChartInsight {
    fn from(i: InsightRecord) -> Self {
        ChartInsight {
            id: i.id,
            started_at: i.started_at,
            resolved_at: i.resolved_at,
            severity: i.severity,
            summary: i.summary,
            scope: i.scope,
            metric: i.metric,
            agent_ids: i.agent_ids,
        }
    }
}

/// The insights of a test (`None`: of any test) and optionally of one agent that were
/// open at some time in the window, for its charts.
pub async fn chart_insights(
    ctx: &Ctx,
    test_id: Option<i64>,
    agent_id: Option<i64>,
    w: &Window,
) -> Result<Vec<ChartInsight>> {
    Ok(ctx
        .state
        .store
        .insights_between(test_id, agent_id, w.start_ms, w.end_ms, CHART_INSIGHTS)
        .await?
        .into_iter()
        .map(ChartInsight::from)
        .collect())
}

// ---------------------------------------------------------------------------------------
// Forecast

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForecastQuery {
    agent: Option<String>,
    field: Option<String>,
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ForecastPoint {
    /// Bucket start, Unix milliseconds.
    pub t: i64,
    /// Mean of the forecast values in the bucket.
    pub expected: Option<f64>,
    /// Lowest lower bound of the prediction interval in the bucket.
    pub lower: Option<f64>,
    /// Highest upper bound of the prediction interval in the bucket.
    pub upper: Option<f64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AnomalyPoint {
    /// Unix milliseconds.
    pub t: i64,
    pub observed: Option<f64>,
    pub expected: Option<f64>,
    /// How far outside normal (robust z-score, or -log10 of a tail probability for loss).
    pub score: Option<f64>,
    /// The insight the anomaly belongs to.
    pub insight_id: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
pub struct Forecast {
    pub test_id: i64,
    pub agent_id: i64,
    /// The series, as `measurement.field` (the `metric` tag of the analytics points).
    pub metric: String,
    /// Unit of the values.
    pub unit: String,
    pub range: String,
    pub interval_seconds: u64,
    /// Range start and end, Unix milliseconds.
    pub start: i64,
    pub end: i64,
    /// The forecast band per bucket (`forecast` points).
    pub points: Vec<ForecastPoint>,
    /// The series itself, mean per bucket.
    pub observed: Vec<ValuePoint>,
    /// The anomalous points in the range (`anomaly` points), oldest first, at most 5,000.
    pub anomalies: Vec<AnomalyPoint>,
}

fn number(v: Option<&Option<Value>>) -> Option<f64> {
    v?.as_ref()?.as_f64()
}

fn integer(v: Option<&Option<Value>>) -> Option<i64> {
    match v? {
        Some(Value::Integer(i)) => Some(*i),
        Some(Value::Unsigned(u)) => i64::try_from(*u).ok(),
        Some(Value::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
        _ => None,
    }
}

/// The measurements a test of `kind` writes: the one named after the kind when the
/// schema lists it (`ping`), the kind's own `[[measurements]]`, those its charts read.
fn measurements_of(kind: streamswarm_schema::TestKind) -> Vec<&'static str> {
    let def = kind.def();
    let mut out: Vec<&'static str> = Vec::new();
    let named = streamswarm_schema::measurements::find(kind.as_str()).map(|m| m.name);
    let charted = def.charts.iter().map(|c| c.measurement);
    for m in named
        .into_iter()
        .chain(def.measurements.iter().copied())
        .chain(charted)
    {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// The numeric fields a test of `kind` writes, as `measurement.field` with the unit, and
/// its key field: the one the analytics score (RTT for ping, resolution time for DNS…),
/// else the first.
pub(crate) fn numeric_fields(
    kind: streamswarm_schema::TestKind,
) -> (Vec<(String, &'static str)>, Option<String>) {
    let mut out = Vec::new();
    for m in measurements_of(kind) {
        if let Some(def) = streamswarm_schema::measurements::find(m) {
            for f in def.fields {
                if matches!(f.field_type, FieldType::Float | FieldType::Integer) {
                    out.push((format!("{m}.{}", f.name), f.unit));
                }
            }
        }
    }
    let key = measurements_of(kind)
        .first()
        .and_then(|m| crate::analytics::sources::get(m))
        .map(|s| s.latency_metric())
        .or_else(|| out.first().map(|(name, _)| name.clone()));
    (out, key)
}

/// The measurement and field `field` names for a test of `kind`: `measurement.field`,
/// or a bare field of the kind's first measurement, or (none given) the kind's key field
/// ([`numeric_fields`]); it must be a numeric field of one of the measurements the kind
/// writes.
pub(crate) fn series_of(
    kind: streamswarm_schema::TestKind,
    field: Option<&str>,
) -> Result<(
    &'static str,
    &'static streamswarm_schema::measurements::FieldDef,
)> {
    let key;
    let field = match field.map(str::trim) {
        Some(f) if !f.is_empty() => f,
        _ => {
            key = numeric_fields(kind).1.ok_or_else(|| {
                Error::invalid("field", format!("{kind} tests write no numeric field"))
            })?;
            key.as_str()
        }
    };
    let written = measurements_of(kind);
    let (measurement, name) = match field.split_once('.') {
        Some((m, f)) => (m, f),
        None => match written.first() {
            Some(m) => (*m, field),
            None => {
                return Err(Error::invalid(
                    "field",
                    format!("{kind} tests write no measurement"),
                ));
            }
        },
    };
    let Some(m) = written.iter().find(|m| **m == measurement) else {
        return Err(Error::invalid(
            "field",
            format!(
                "{kind} tests do not write {measurement:?}: expected one of {}",
                written.join(", ")
            ),
        ));
    };
    let known = streamswarm_schema::measurements::find(m)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("measurement {m} is not catalogued")))?;
    match known.field(name) {
        Some(f) if matches!(f.field_type, FieldType::Float | FieldType::Integer) => Ok((m, f)),
        Some(_) => Err(Error::invalid(
            "field",
            format!("{m}.{name} is not a numeric field"),
        )),
        None => Err(Error::invalid(
            "field",
            format!("{m} has no field {name:?} (see docs/metrics.md)"),
        )),
    }
}

pub async fn forecast(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let q: ForecastQuery = ctx.query()?;
    let agent = id_param("agent", "an agent", q.agent.as_deref())?
        .ok_or_else(|| Error::invalid("agent", "missing: the agent whose series to show"))?;
    let w = window_of(&ctx, q.range.as_deref(), q.from.as_deref(), q.to.as_deref())?;
    let test = ctx.test(id).await?;
    let (measurement, field_def) = series_of(test.spec.kind, q.field.as_deref())?;
    let metric = format!("{measurement}.{}", field_def.name);
    ok(&read_forecast(
        &ctx,
        id,
        agent,
        measurement,
        field_def.name,
        &metric,
        field_def.unit,
        &w,
    )
    .await?)
}

#[allow(clippy::too_many_arguments)]
async fn read_forecast(
    ctx: &Ctx,
    test_id: i64,
    agent_id: i64,
    measurement: &str,
    field: &str,
    metric: &str,
    unit: &str,
    w: &Window,
) -> Result<Forecast> {
    let reader = ctx.state.timeseries.reader();
    let range = TimeRange {
        start_ns: w.start_ms * 1_000_000,
        end_ns: w.end_ms * 1_000_000,
    };
    let series_filters = vec![
        TagFilter::eq("agent", agent_id.to_string()),
        TagFilter::eq("test", test_id.to_string()),
    ];
    let mut analytics_filters = series_filters.clone();
    analytics_filters.push(TagFilter::eq("metric", metric));
    let aggregate =
        |measurement: &str, filters: Vec<TagFilter>, fields: Vec<(String, Aggregate)>| {
            Query::Aggregate(AggregateQuery {
                selector: Selector {
                    measurement: measurement.into(),
                    filters,
                    range,
                },
                fields,
                interval: Some(Duration::from_secs(w.step)),
                group_by_tags: Vec::new(),
                fill: Fill::None,
            })
        };
    let band = aggregate(
        "forecast",
        analytics_filters.clone(),
        vec![
            ("expected".into(), Aggregate::Mean),
            ("lower".into(), Aggregate::Min),
            ("upper".into(), Aggregate::Max),
        ],
    );
    let mut points = Vec::new();
    for s in reader.query(&band).await.map_err(read_error)? {
        let col = |c: &str| s.columns.iter().position(|x| x == c);
        let (e, l, u) = (col("mean_expected"), col("min_lower"), col("max_upper"));
        for r in &s.rows {
            let at = |i: Option<usize>| number(i.and_then(|i| r.values.get(i)));
            points.push(ForecastPoint {
                t: r.time_ns / 1_000_000,
                expected: at(e),
                lower: at(l),
                upper: at(u),
            });
        }
    }
    let seen = aggregate(
        measurement,
        series_filters,
        vec![(field.to_owned(), Aggregate::Mean)],
    );
    let mut observed = Vec::new();
    for s in reader.query(&seen).await.map_err(read_error)? {
        let i = s.columns.iter().position(|c| *c == format!("mean_{field}"));
        observed.extend(s.rows.iter().map(|r| ValuePoint {
            t: r.time_ns / 1_000_000,
            v: number(i.and_then(|i| r.values.get(i))),
        }));
    }
    let fields = ["observed", "expected", "score", "insight_id"];
    let raw = Query::Raw(RawQuery {
        selector: Selector {
            measurement: "anomaly".into(),
            filters: analytics_filters,
            range,
        },
        fields: fields.iter().map(|f| f.to_string()).collect(),
        group_by_tags: Vec::new(),
        limit: MAX_ANOMALIES,
    });
    let mut anomalies = Vec::new();
    for s in reader.query(&raw).await.map_err(read_error)? {
        let idx: Vec<Option<usize>> = fields
            .iter()
            .map(|f| s.columns.iter().position(|c| c == f))
            .collect();
        for r in &s.rows {
            let v = |k: usize| idx[k].and_then(|i| r.values.get(i));
            anomalies.push(AnomalyPoint {
                t: r.time_ns / 1_000_000,
                observed: number(v(0)),
                expected: number(v(1)),
                score: number(v(2)),
                insight_id: integer(v(3)),
            });
        }
    }
    anomalies.sort_by_key(|a| a.t);
    anomalies.truncate(MAX_ANOMALIES);
    Ok(Forecast {
        test_id,
        agent_id,
        metric: metric.to_owned(),
        unit: unit.to_owned(),
        range: w.label.to_owned(),
        interval_seconds: w.step,
        start: w.start_ms,
        end: w.end_ms,
        points,
        observed,
        anomalies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_error(r: Result<impl std::fmt::Debug>) -> (String, String) {
        match r {
            Err(Error::Invalid(v)) => (v[0].field.clone(), v[0].message.clone()),
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        let mut q = ListQuery {
            state: None,
            scope: None,
            severity: None,
            test: None,
            agent: None,
            since: None,
            limit: None,
        };
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "state" => q.state = v,
                "scope" => q.scope = v,
                "severity" => q.severity = v,
                "test" => q.test = v,
                "agent" => q.agent = v,
                "since" => q.since = v,
                "limit" => q.limit = v,
                _ => unreachable!(),
            }
        }
        q
    }

    #[test]
    fn list_parameters_are_checked_and_errors_name_them() {
        for (k, v) in [
            ("state", "closed"),
            ("scope", "global"),
            ("severity", "info"),
            ("test", "x"),
            ("test", "0"),
            ("agent", "-3"),
            ("since", "yesterday"),
            ("since", "-1"),
            ("limit", "0"),
            ("limit", "1001"),
            ("limit", "99999999999999999999"),
        ] {
            let (field, message) = field_error(filter_of(query(&[(k, v)])).map(|_| ()));
            assert_eq!(field, k, "{k}={v}: {message}");
        }
        let f = filter_of(query(&[])).unwrap();
        assert_eq!(f, InsightFilter::default());
        assert_eq!(f.limit, 100);
        let f = filter_of(query(&[
            ("state", "resolved"),
            ("scope", "target"),
            ("severity", "critical"),
            ("test", "3"),
            ("agent", "5"),
            ("since", "0"),
            ("limit", "1000"),
        ]))
        .unwrap();
        assert_eq!(
            f,
            InsightFilter {
                state: Some("resolved".into()),
                scope: Some("target".into()),
                severity: Some("critical".into()),
                test_id: Some(3),
                agent_id: Some(5),
                since: Some(0),
                limit: 1000,
            }
        );
    }

    #[test]
    fn forecast_fields_are_numeric_fields_the_kind_writes() {
        use streamswarm_schema::TestKind;
        let (m, f) = series_of(TestKind::Ping, Some("rtt_avg_ms")).unwrap();
        assert_eq!((m, f.name, f.unit), ("ping", "rtt_avg_ms", "ms"));
        // None given: the field the analytics score.
        let (m, f) = series_of(TestKind::Ping, None).unwrap();
        assert_eq!((m, f.name), ("ping", "rtt_avg_ms"));
        let (m, f) = series_of(TestKind::Dns, Some(" ")).unwrap();
        assert_eq!((m, f.name), ("dns", "resolution_time_ms"));
        let (m, f) = series_of(TestKind::Ping, Some("ping.loss_percent")).unwrap();
        assert_eq!((m, f.name, f.unit), ("ping", "loss_percent", "%"));
        for bad in ["nope", "ping.error", "host_cpu.usage_percent", "ping."] {
            assert_eq!(
                field_error(series_of(TestKind::Ping, Some(bad))).0,
                "field",
                "{bad}"
            );
        }
        // Every kind's default measurement has the field its charts read.
        for k in streamswarm_schema::kinds::all() {
            let written = measurements_of(k.kind);
            for c in k.charts {
                assert!(
                    written.contains(&c.measurement),
                    "{}: {}",
                    k.kind,
                    c.measurement
                );
                for f in c.fields {
                    let name = format!("{}.{}", c.measurement, f.field);
                    assert!(series_of(k.kind, Some(&name)).is_ok(), "{name}");
                }
            }
            // Every kind has a key field, one of its numeric fields.
            let (fields, key) = numeric_fields(k.kind);
            let key = key.unwrap_or_else(|| panic!("{}: no key field", k.kind));
            assert!(fields.iter().any(|(f, _)| *f == key), "{}: {key}", k.kind);
            assert!(series_of(k.kind, None).is_ok(), "{}", k.kind);
        }
    }
}
