//! `GET /api/v1/tests/{id}/series?range=1h|6h|24h|7d|30d[&format=csv]` (or
//! `?from=<ms>&to=<ms>`, a custom range, see [`window_of`]): a test's results
//! aggregated for its charts, one series per agent, read through the time-series
//! `Reader` (never raw points over long ranges): per bucket the RTT minimum and maximum
//! (the band), the mean of the runs' medians (`rtt_p50_ms`) and the mean loss. Buckets
//! are chosen from the range so a series has at most [`MAX_POINTS`] points.
//!
//! `GET /api/v1/agents/{id}/series?range=…` (or `from`/`to`) does the same for an agent's host metrics
//! (CPU, memory, disk space per mount, network per interface).
//!
//! Every answer also carries the analytics `insights` open at some time in its range
//! (the test's, the agent's, or for the fleet chart every test's), for the charts to
//! shade (`api::insights::chart_insights`).
//!
//! Only ping tests write results so far (`schema/measurements.toml`); for other kinds
//! the answer has no series and says why.

use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::api::insights::{ChartInsight, chart_insights};
use crate::http::routes::ok;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;
use streamswarm_schema::TestKind;
use streamswarm_schema::kinds::ChartDef;
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, ReadError, Selector, TagFilter, TimeRange, Value,
};
use warp::http::{HeaderValue, header};
use warp::reply::Response;

pub const MAX_POINTS: u64 = 1000;

/// The selectable ranges and their bucket widths (at most [`MAX_POINTS`] buckets each).
pub const RANGES: &[(&str, u64, u64)] = &[
    ("1h", 3600, 10),
    ("6h", 6 * 3600, 30),
    ("24h", 86_400, 120),
    ("7d", 7 * 86_400, 900),
    ("30d", 30 * 86_400, 3600),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesQuery {
    range: Option<String>,
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Bucket widths (seconds) a custom range picks from: the smallest that keeps it within
/// [`MAX_POINTS`] whole buckets. The widest covers [`MAX_CUSTOM_SPAN_MS`] with room for
/// the ends moving out to whole buckets.
const CUSTOM_STEPS: &[u64] = &[
    10,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86_400,
    2 * 86_400,
];
/// The longest custom range: 1,000 days.
pub const MAX_CUSTOM_SPAN_MS: i64 = 1000 * 86_400 * 1000;
/// The latest time a custom range may end at: times reach the store in nanoseconds
/// (`i64`, so up to April 2262), after the end moves out to a whole bucket.
pub const MAX_TIME_MS: i64 = i64::MAX / 1_000_000 - 4 * 86_400 * 1000;

/// The window of a request: a named `range`, or a custom `from`/`to` (Unix
/// milliseconds, both given, `0 <= from < to <= MAX_TIME_MS`, at most
/// [`MAX_CUSTOM_SPAN_MS`] apart), never both. A custom window is cut into whole buckets
/// of the smallest [`CUSTOM_STEPS`] width that keeps it within [`MAX_POINTS`] buckets.
pub fn window_of(
    ctx: &Ctx,
    range: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Window> {
    let ms = |field: &str, v: Option<&str>| -> Result<Option<i64>> {
        v.map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                Error::invalid(
                    field,
                    format!("{v:?} is not a time: expected Unix milliseconds"),
                )
            })
        })
        .transpose()
    };
    let (from, to) = (ms("from", from)?, ms("to", to)?);
    match (range, from, to) {
        (_, None, None) => window(ctx, range.unwrap_or("24h")),
        (Some(_), _, _) => Err(Error::invalid(
            "range",
            "give either range or from and to, not both",
        )),
        (None, Some(_), None) => Err(Error::invalid(
            "to",
            "missing: a custom range needs both from and to (Unix milliseconds)",
        )),
        (None, None, Some(_)) => Err(Error::invalid(
            "from",
            "missing: a custom range needs both from and to (Unix milliseconds)",
        )),
        (None, Some(from), Some(to)) => custom_window(from, to),
    }
}

/// A custom window in whole buckets. Client numbers: every step is checked, and a
/// value out of range is an error naming its parameter.
fn custom_window(from: i64, to: i64) -> Result<Window> {
    if from < 0 {
        return Err(Error::invalid("from", "must not be before 1970"));
    }
    if to > MAX_TIME_MS {
        return Err(Error::invalid(
            "to",
            format!("must be at most {MAX_TIME_MS} (Unix milliseconds, April 2262)"),
        ));
    }
    if from >= to {
        return Err(Error::invalid("from", "must be before to"));
    }
    let too_long = || {
        Error::invalid(
            "to",
            format!(
                "a custom range spans at most {} days",
                MAX_CUSTOM_SPAN_MS / 86_400_000
            ),
        )
    };
    if to
        .checked_sub(from)
        .is_none_or(|span| span > MAX_CUSTOM_SPAN_MS)
    {
        return Err(too_long());
    }
    for &step in CUSTOM_STEPS {
        let step_ms = step as i64 * 1000;
        let start_ms = from.div_euclid(step_ms) * step_ms;
        let Some(end_ms) = to
            .checked_add(step_ms - 1)
            .map(|t| t.div_euclid(step_ms) * step_ms)
        else {
            return Err(too_long());
        };
        if ((end_ms - start_ms) / step_ms) as u64 <= MAX_POINTS {
            return Ok(Window {
                label: "custom",
                step,
                start_ms,
                end_ms,
            });
        }
    }
    Err(too_long())
}

#[derive(Serialize, JsonSchema)]
pub struct Point {
    /// Bucket start, Unix milliseconds.
    pub t: i64,
    /// Lowest RTT of any run in the bucket (ms).
    pub min: Option<f64>,
    /// Highest RTT of any run in the bucket (ms).
    pub max: Option<f64>,
    /// Mean of the runs' median RTTs (ms).
    pub p50: Option<f64>,
    /// Mean packet loss of the runs (%).
    pub loss: Option<f64>,
    /// Most echo requests one run sent in the bucket (the test's `count` in effect).
    pub sent: Option<f64>,
}

#[derive(Serialize, JsonSchema)]
pub struct AgentSeries {
    /// Agent id (the `agent` tag).
    pub agent: String,
    /// The agent's current name, when it still exists.
    pub agent_name: Option<String>,
    pub points: Vec<Point>,
}

#[derive(Serialize, JsonSchema)]
pub struct TestSeries {
    pub test_id: i64,
    pub range: String,
    pub interval_seconds: u64,
    /// Range start and end, Unix milliseconds.
    pub start: i64,
    pub end: i64,
    /// Ping tests: per agent the RTT band, median and loss (the recent-results table
    /// and the CSV export); empty for other kinds.
    pub series: Vec<AgentSeries>,
    /// The charts the test's kind declares, one line per agent and field.
    pub panels: Vec<Panel>,
    /// Why there is no chart, when the test's kind declares none.
    pub note: Option<String>,
    /// The analytics insights of this test (the fleet chart: of every test) open at some
    /// time in the range, newest started first (at most 100), for the charts to mark.
    pub insights: Vec<ChartInsight>,
}

fn number(v: &Option<Value>) -> Option<f64> {
    match v {
        Some(Value::Float(f)) => Some(*f),
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(Value::Unsigned(u)) => Some(*u as f64),
        _ => None,
    }
}

pub(crate) fn read_error(e: ReadError) -> Error {
    match e {
        ReadError::Unreachable(_) | ReadError::Server { .. } => {
            Error::Unavailable(format!("time-series store: {e}"))
        }
        other => Error::Internal(anyhow::anyhow!("{other}")),
    }
}

/// A selected range as whole buckets: the last one ends after now, so the newest
/// results are included.
pub struct Window {
    pub label: &'static str,
    pub step: u64,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Window {
    /// The same window in buckets at least `min_step` seconds wide (the wider step a
    /// multiple of `min_step`), its ends moved out to whole buckets. A window's ends
    /// are at most [`MAX_TIME_MS`], which leaves room for the move.
    pub fn at_least(self, min_step: u64) -> Window {
        if self.step >= min_step {
            return self;
        }
        let step_ms = (min_step * 1000) as i64;
        Window {
            step: min_step,
            start_ms: self.start_ms.div_euclid(step_ms) * step_ms,
            end_ms: (self.end_ms + step_ms - 1).div_euclid(step_ms) * step_ms,
            ..self
        }
    }
}

pub fn window(ctx: &Ctx, range: &str) -> Result<Window> {
    let &(label, span, step) = RANGES.iter().find(|r| r.0 == range).ok_or_else(|| {
        let names: Vec<&str> = RANGES.iter().map(|r| r.0).collect();
        Error::invalid(
            "range",
            format!(
                "unknown range {range:?}: expected one of {}",
                names.join(", ")
            ),
        )
    })?;
    let now_ms = ctx.state.store.clock().now_ms();
    let step_ms = (step * 1000) as i64;
    let end_ms = (now_ms / step_ms + 1) * step_ms;
    Ok(Window {
        label,
        step,
        start_ms: end_ms - (span * 1000) as i64,
        end_ms,
    })
}

pub async fn test_series(ctx: &Ctx, id: i64, w: Window) -> Result<TestSeries> {
    let test = ctx.test(id).await?;
    let (label, step, start_ms, end_ms) = (w.label, w.step, w.start_ms, w.end_ms);
    let mut out = TestSeries {
        test_id: id,
        range: label.to_owned(),
        interval_seconds: step,
        start: start_ms,
        end: end_ms,
        series: Vec::new(),
        panels: Vec::new(),
        note: None,
        insights: chart_insights(ctx, Some(id), None, &w).await?,
    };
    let charts = test.spec.kind.def().charts;
    if charts.is_empty() {
        out.note = Some(format!(
            "{} tests declare no result charts (schema/kinds/{}.toml)",
            test.spec.kind, test.spec.kind
        ));
        return Ok(out);
    }
    let filters = [TagFilter::eq("test", id.to_string())];
    let names = agent_names(ctx).await?;
    out.panels = chart_panels(ctx, charts, &filters, &w, Some(&names)).await?;
    if test.spec.kind == TestKind::Ping {
        out.series = ping_series(ctx, filters.to_vec(), &w, vec!["agent".into()]).await?;
    }
    Ok(out)
}

/// Agent id (the `agent` tag) → current name.
async fn agent_names(ctx: &Ctx) -> Result<HashMap<String, String>> {
    Ok(ctx
        .state
        .store
        .list_agents()
        .await?
        .into_iter()
        .map(|a| (a.id.to_string(), a.name))
        .collect())
}

/// The ping results matching `filters` in the window, aggregated per bucket and per
/// `group_by` tag (no tag: one series over everything, labelled `all`).
async fn ping_series(
    ctx: &Ctx,
    filters: Vec<TagFilter>,
    w: &Window,
    group_by: Vec<String>,
) -> Result<Vec<AgentSeries>> {
    let (step, start_ms, end_ms) = (w.step, w.start_ms, w.end_ms);
    let mut out = Vec::new();
    let q = Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: "ping".into(),
            filters,
            range: TimeRange {
                start_ns: start_ms * 1_000_000,
                end_ns: end_ms * 1_000_000,
            },
        },
        fields: vec![
            ("rtt_min_ms".into(), Aggregate::Min),
            ("rtt_max_ms".into(), Aggregate::Max),
            ("rtt_p50_ms".into(), Aggregate::Mean),
            ("loss_percent".into(), Aggregate::Mean),
            ("sent".into(), Aggregate::Max),
        ],
        interval: Some(Duration::from_secs(step)),
        group_by_tags: group_by,
        fill: Fill::None,
    });
    let series = ctx
        .state
        .timeseries
        .reader()
        .query(&q)
        .await
        .map_err(read_error)?;
    let names = agent_names(ctx).await?;
    for s in series {
        let agent = s.tags.get("agent").cloned().unwrap_or_else(|| "all".into());
        let col = |name: &str| s.columns.iter().position(|c| c == name);
        let (min, max, p50, loss, sent) = (
            col("min_rtt_min_ms"),
            col("max_rtt_max_ms"),
            col("mean_rtt_p50_ms"),
            col("mean_loss_percent"),
            col("max_sent"),
        );
        let at = |row: &streamswarm_tsdb::query::Row, i: Option<usize>| {
            i.and_then(|i| number(row.values.get(i).unwrap_or(&None)))
        };
        let points = s
            .rows
            .iter()
            .map(|r| Point {
                t: r.time_ns / 1_000_000,
                min: at(r, min),
                max: at(r, max),
                p50: at(r, p50),
                loss: at(r, loss),
                sent: at(r, sent),
            })
            .collect();
        out.push(AgentSeries {
            agent_name: names.get(&agent).cloned(),
            agent,
            points,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetQuery {
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/v1/dashboard/series?range=…`: every ping result of every agent and test as
/// one series (band = lowest minimum and highest maximum, mean of the medians, mean
/// loss per bucket), in the shape of a test's series (`test_id` 0).
///
/// Its buckets are at least a minute wide: then the store answers from its all-series
/// 1-minute (or 1-hour) rollups, one row per bucket whatever the fleet's size, instead
/// of reading every series.
pub async fn fleet(ctx: Ctx) -> Result<Response> {
    let q: FleetQuery = ctx.query()?;
    let w = window_of(&ctx, q.range.as_deref(), q.from.as_deref(), q.to.as_deref())?.at_least(60);
    let mut series = ping_series(&ctx, Vec::new(), &w, Vec::new()).await?;
    for s in &mut series {
        s.agent_name = Some("all agents".into());
    }
    ok(&TestSeries {
        test_id: 0,
        range: w.label.to_owned(),
        interval_seconds: w.step,
        start: w.start_ms,
        end: w.end_ms,
        series,
        panels: Vec::new(),
        note: None,
        insights: chart_insights(&ctx, None, None, &w).await?,
    })
}

/// A CSV field: quoted when needed, and text a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@` first) prefixed with `'` (agent names are user input).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_number(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

pub async fn get(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let q: SeriesQuery = ctx.query()?;
    let w = window_of(&ctx, q.range.as_deref(), q.from.as_deref(), q.to.as_deref())?;
    let data = test_series(&ctx, id, w).await?;
    match q.format.as_deref() {
        None | Some("json") => ok(&data),
        Some("csv") => {
            let mut body = String::from(
                "time,agent,agent_name,rtt_min_ms,rtt_max_ms,rtt_p50_mean_ms,loss_percent_mean\n",
            );
            for s in &data.series {
                for p in &s.points {
                    let t = crate::clock::Timestamp(p.t).rfc3339();
                    body.push_str(&format!(
                        "{t},{},{},{},{},{},{}\n",
                        csv_field(&s.agent),
                        csv_field(s.agent_name.as_deref().unwrap_or("")),
                        csv_number(p.min),
                        csv_number(p.max),
                        csv_number(p.p50),
                        csv_number(p.loss)
                    ));
                }
            }
            let mut r = Response::new(body.into());
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            let name = format!("attachment; filename=\"test-{id}-{}.csv\"", data.range);
            r.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&name).expect("ASCII"),
            );
            Ok(r)
        }
        Some(other) => Err(Error::invalid(
            "format",
            format!("unknown format {other:?}: expected json or csv"),
        )),
    }
}

#[derive(Serialize, JsonSchema)]
pub struct ValuePoint {
    /// Bucket start, Unix milliseconds.
    pub t: i64,
    pub v: Option<f64>,
}

#[derive(Serialize, JsonSchema)]
pub struct Line {
    /// Legend label: the series and the field's label.
    pub label: String,
    /// Which series the line belongs to (agent name and/or `group_by` value; empty for
    /// a chart of one agent without grouping): a band's lines share it.
    pub series: String,
    /// The field shown.
    pub field: &'static str,
    pub points: Vec<ValuePoint>,
}

/// One chart, as declared in the kind's `[[charts]]` (`schema/kinds/<kind>.toml`).
#[derive(Serialize, JsonSchema)]
pub struct Panel {
    pub key: &'static str,
    pub title: &'static str,
    /// Unit of the values as stored (`%`, `bytes/s`).
    pub unit: &'static str,
    /// `line`, `band` (per series: the first field is the lower edge, the last the
    /// upper, the ones between lines), `bar` or `stacked` (bars stacked per series).
    pub style: &'static str,
    pub lines: Vec<Line>,
}

#[derive(Serialize, JsonSchema)]
pub struct HostSeries {
    pub agent_id: i64,
    pub range: String,
    pub interval_seconds: u64,
    pub start: i64,
    pub end: i64,
    pub panels: Vec<Panel>,
    /// The analytics insights this agent sees that were open at some time in the range,
    /// newest started first (at most 100), for the charts to mark.
    pub insights: Vec<ChartInsight>,
}

fn aggregate(name: &str) -> Aggregate {
    match name {
        "min" => Aggregate::Min,
        "max" => Aggregate::Max,
        "sum" => Aggregate::Sum,
        "count" => Aggregate::Count,
        _ => Aggregate::Mean,
    }
}

fn join_label(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The declared `charts` over the points matching `filters` in the window, one line per
/// field and series; a series is an agent when `by_agent` (named by `names`), and a
/// value of the chart's `group_by` tag.
async fn chart_panels(
    ctx: &Ctx,
    charts: &'static [ChartDef],
    filters: &[TagFilter],
    w: &Window,
    names: Option<&HashMap<String, String>>,
) -> Result<Vec<Panel>> {
    let reader = ctx.state.timeseries.reader();
    let mut panels = Vec::new();
    for chart in charts {
        let mut filters = filters.to_vec();
        filters.extend(chart.filter.iter().map(|(t, v)| TagFilter::eq(*t, *v)));
        let mut group_by: Vec<String> = Vec::new();
        if names.is_some() {
            group_by.push("agent".into());
        }
        group_by.extend(chart.group_by.map(str::to_owned));
        let query = Query::Aggregate(AggregateQuery {
            selector: Selector {
                measurement: chart.measurement.into(),
                filters,
                range: TimeRange {
                    start_ns: w.start_ms * 1_000_000,
                    end_ns: w.end_ms * 1_000_000,
                },
            },
            fields: chart
                .fields
                .iter()
                .map(|f| (f.field.to_owned(), aggregate(f.aggregate)))
                .collect(),
            interval: Some(Duration::from_secs(w.step)),
            group_by_tags: group_by,
            fill: Fill::None,
        });
        let mut lines = Vec::new();
        for s in reader.query(&query).await.map_err(read_error)? {
            let agent = match names {
                Some(names) => {
                    let id = s.tags.get("agent").cloned().unwrap_or_default();
                    names.get(&id).cloned().unwrap_or(format!("agent {id}"))
                }
                None => String::new(),
            };
            // A bare number (a hop's TTL) says nothing without its tag: `hop 3`.
            let group = match chart.group_by.and_then(|t| s.tags.get(t).map(|v| (t, v))) {
                Some((tag, v)) if v.parse::<f64>().is_ok() => format!("{tag} {v}"),
                Some((_, v)) => v.clone(),
                None => String::new(),
            };
            let series = join_label(&[&agent, &group]);
            for (i, f) in chart.fields.iter().enumerate() {
                lines.push(Line {
                    label: join_label(&[&series, f.label]),
                    series: series.clone(),
                    field: f.field,
                    points: s
                        .rows
                        .iter()
                        .map(|r| ValuePoint {
                            t: r.time_ns / 1_000_000,
                            v: number(r.values.get(i).unwrap_or(&None)),
                        })
                        .collect(),
                });
            }
        }
        panels.push(Panel {
            key: chart.key,
            title: chart.title,
            unit: chart.unit,
            style: chart.style,
            lines,
        });
    }
    Ok(panels)
}

/// `GET /api/v1/agents/{id}/series?range=…` (or `from`/`to`): the agent's host metrics,
/// the charts the `host` kind declares (`schema/kinds/host.toml`), per bucket.
pub async fn agent_host(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let q: SeriesQuery = ctx.query()?;
    if q.format.is_some() {
        return Err(Error::invalid("format", "only JSON is offered here"));
    }
    ctx.state
        .store
        .agent(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("agent {id}")))?;
    let w = window_of(&ctx, q.range.as_deref(), q.from.as_deref(), q.to.as_deref())?;
    let filters = [TagFilter::eq("agent", id.to_string())];
    let panels = chart_panels(&ctx, TestKind::Host.def().charts, &filters, &w, None).await?;
    let insights = chart_insights(&ctx, None, Some(id), &w).await?;
    ok(&HostSeries {
        agent_id: id,
        range: w.label.to_owned(),
        interval_seconds: w.step,
        start: w.start_ms,
        end: w.end_ms,
        panels,
        insights,
    })
}

#[cfg(test)]
mod tests {
    use super::{MAX_CUSTOM_SPAN_MS, MAX_POINTS, MAX_TIME_MS, csv_field, custom_window};

    #[test]
    fn every_allowed_custom_range_fits_in_whole_buckets() {
        let day = 86_400_000;
        let spans = [
            1,
            9_999,
            10_000,
            10_001,
            day,
            999 * day,
            999 * day + 1,
            MAX_CUSTOM_SPAN_MS,
        ];
        let starts = [
            0,
            1,
            12_345,
            day / 3,
            1_700_000_000_000,
            MAX_TIME_MS - MAX_CUSTOM_SPAN_MS,
        ];
        for from in starts {
            for span in spans {
                let to = from + span;
                let w = custom_window(from, to).unwrap_or_else(|e| panic!("{from}..{to}: {e}"));
                let step_ms = w.step as i64 * 1000;
                assert!(w.start_ms <= from && w.end_ms >= to, "{from}..{to}");
                assert_eq!(w.start_ms % step_ms, 0);
                assert_eq!(w.end_ms % step_ms, 0);
                assert!(
                    ((w.end_ms - w.start_ms) / step_ms) as u64 <= MAX_POINTS,
                    "{from}..{to}"
                );
                assert!(w.end_ms.checked_mul(1_000_000).is_some(), "{from}..{to}");
            }
        }
    }

    #[test]
    fn custom_ranges_out_of_bounds_name_their_parameter() {
        let field = |from, to| match custom_window(from, to) {
            Err(crate::error::Error::Invalid(v)) => v[0].field.clone(),
            other => panic!("{from}..{to}: {:?}", other.map(|w| (w.start_ms, w.end_ms))),
        };
        assert_eq!(field(-1, 5), "from");
        assert_eq!(field(i64::MIN, 5), "from");
        assert_eq!(field(5, 5), "from");
        assert_eq!(field(0, MAX_CUSTOM_SPAN_MS + 1), "to");
        assert_eq!(field(9_223_372_036_854_775_000, i64::MAX), "to");
        assert_eq!(field(0, MAX_TIME_MS + 1), "to");
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("edge-1"), "edge-1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
