//! Capacity questions: `GET /api/v1/tests/{id}/trend?agent=<id>&threshold=<value>
//! &field=<measurement.field>&history_days=21&horizon_days=14` — when one series of a
//! test is expected to reach `threshold`, with the interval of that time (`field`: by
//! default the kind's key field, the one the analytics score).
//!
//! The series' hourly means over `history_days` (read through the time-series
//! `Reader`, rollups where the store keeps them) are fitted by
//! [`streamswarm_stats::trend`] (MSTL with daily and weekly periods + AutoETS, 95 %
//! interval) and forecast `horizon_days` ahead. The answer holds the history, the
//! forecast band, and three times: when the interval first reaches the threshold (the
//! earliest), when the expected value does, and when the far edge of the interval does
//! (all but certain by then) — `null` when not within the horizon. Computed on request
//! (a few milliseconds); nothing is stored.

use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::api::insights::series_of;
use crate::http::api::series::{ValuePoint, read_error};
use crate::http::routes::ok;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use streamswarm_stats::model::FitError;
use streamswarm_stats::trend::{self, Direction, LEVEL, MIN_POINTS, STEP_S};
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, Selector, TagFilter, TimeRange, Value,
};
use warp::reply::Response;

/// Days of history read by default, and the most.
pub const HISTORY_DAYS: u32 = 21;
pub const MAX_HISTORY_DAYS: u32 = 90;
/// Days looked ahead by default, and the most.
pub const HORIZON_DAYS: u32 = 14;
pub const MAX_HORIZON_DAYS: u32 = 60;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrendQuery {
    agent: Option<String>,
    field: Option<String>,
    threshold: Option<String>,
    history_days: Option<String>,
    horizon_days: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TrendPoint {
    /// Hour start, Unix milliseconds.
    pub t: i64,
    pub expected: f64,
    pub lower: f64,
    pub upper: f64,
}

/// When the threshold is reached (Unix milliseconds; `null`: not within the horizon).
#[derive(Debug, Serialize, JsonSchema)]
pub struct TrendCrossing {
    /// The interval's near edge reaches it: the earliest it may happen.
    pub earliest: Option<i64>,
    /// The expected value reaches it.
    pub expected: Option<i64>,
    /// The interval's far edge reaches it: all but certain by then.
    pub latest: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
pub struct Trend {
    pub test_id: i64,
    pub agent_id: i64,
    /// The series, as `measurement.field`.
    pub metric: String,
    pub unit: String,
    pub threshold: f64,
    /// `rising` (the threshold is above the last value) or `falling`.
    pub direction: String,
    /// Confidence level of the interval, in percent.
    pub level_percent: f64,
    /// The last hourly mean.
    pub last: f64,
    /// Hourly means read, oldest first.
    pub history: Vec<ValuePoint>,
    /// The forecast per hour ahead.
    pub forecast: Vec<TrendPoint>,
    pub crossing: TrendCrossing,
    /// The answer in one sentence.
    pub summary: String,
}

fn days(field: &str, v: Option<&str>, default: u32, max: u32) -> Result<u32> {
    match v.map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<u32>() {
            Ok(d) if (1..=max).contains(&d) => Ok(d),
            _ => Err(Error::invalid(
                field,
                format!("{s:?} is not a number of days from 1 to {max}"),
            )),
        },
    }
}

pub async fn trend(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let q: TrendQuery = ctx.query()?;
    let agent = match q.agent.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(Error::invalid(
                "agent",
                "missing: the agent whose series to forecast",
            ));
        }
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| Error::invalid("agent", format!("{s:?} is not an agent id")))?,
    };
    let threshold = match q.threshold.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(Error::invalid(
                "threshold",
                "missing: the value whose crossing to forecast",
            ));
        }
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| Error::invalid("threshold", format!("{s:?} is not a number")))?,
    };
    let history_days = days(
        "history_days",
        q.history_days.as_deref(),
        HISTORY_DAYS,
        MAX_HISTORY_DAYS,
    )?;
    let horizon_days = days(
        "horizon_days",
        q.horizon_days.as_deref(),
        HORIZON_DAYS,
        MAX_HORIZON_DAYS,
    )?;
    let test = ctx.test(id).await?;
    let (measurement, field_def) = series_of(test.spec.kind, q.field.as_deref())?;
    let now_s = ctx.state.store.clock().now_ms() / 1000;
    let end_s = now_s - now_s.rem_euclid(STEP_S);
    let start_s = end_s - i64::from(history_days) * 86_400;
    let query = Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: measurement.into(),
            filters: vec![
                TagFilter::eq("agent", agent.to_string()),
                TagFilter::eq("test", id.to_string()),
            ],
            range: TimeRange {
                start_ns: start_s * 1_000_000_000,
                end_ns: end_s * 1_000_000_000,
            },
        },
        fields: vec![(field_def.name.to_owned(), Aggregate::Mean)],
        interval: Some(Duration::from_secs(STEP_S as u64)),
        group_by_tags: Vec::new(),
        fill: Fill::None,
    });
    let hours = ((end_s - start_s) / STEP_S) as usize;
    let mut grid: Vec<Option<f64>> = vec![None; hours];
    for s in ctx
        .state
        .timeseries
        .reader()
        .query(&query)
        .await
        .map_err(read_error)?
    {
        for r in &s.rows {
            let v = r
                .values
                .first()
                .and_then(Option::as_ref)
                .and_then(Value::as_f64);
            let i = (r.time_ns.div_euclid(1_000_000_000) - start_s) / STEP_S;
            if let (Some(v), Ok(i)) = (v, usize::try_from(i))
                && i < hours
            {
                grid[i] = Some(v);
            }
        }
    }
    let horizon = horizon_days as usize * 24;
    let f = trend::forecast(&grid, end_s, horizon, threshold).map_err(|e| match e {
        FitError::TooShort { have, need } => Error::Conflict(format!(
            "agent {agent} has {have} hours of {measurement}.{} for test {id} in the last \
             {history_days} days; a trend needs at least {need} (MIN_POINTS {MIN_POINTS})",
            field_def.name
        )),
        FitError::Forecaster(m) => Error::Internal(anyhow::anyhow!("trend forecast: {m}")),
    })?;
    let at = |i: Option<usize>| i.map(|i| (end_s + i as i64 * STEP_S) * 1000);
    let crossing = TrendCrossing {
        earliest: at(f.crossing.earliest),
        expected: at(f.crossing.expected),
        latest: at(f.crossing.latest),
    };
    let metric = format!("{measurement}.{}", field_def.name);
    let summary = summary(
        &metric,
        field_def.unit,
        threshold,
        f.direction,
        &crossing,
        horizon_days,
    );
    ok(&Trend {
        test_id: id,
        agent_id: agent,
        metric,
        unit: field_def.unit.to_owned(),
        threshold,
        direction: match f.direction {
            Direction::Rising => "rising",
            Direction::Falling => "falling",
        }
        .into(),
        level_percent: LEVEL * 100.0,
        last: f.last,
        history: grid
            .iter()
            .enumerate()
            .map(|(i, v)| ValuePoint {
                t: (start_s + i as i64 * STEP_S) * 1000,
                v: *v,
            })
            .collect(),
        forecast: f
            .model
            .bands
            .iter()
            .enumerate()
            .map(|(i, b)| TrendPoint {
                t: (end_s + i as i64 * STEP_S) * 1000,
                expected: b.expected,
                lower: b.lower,
                upper: b.upper,
            })
            .collect(),
        crossing,
        summary,
    })
}

fn when(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn summary(
    metric: &str,
    unit: &str,
    threshold: f64,
    direction: Direction,
    c: &TrendCrossing,
    horizon_days: u32,
) -> String {
    let verb = match direction {
        Direction::Rising => "rise to",
        Direction::Falling => "fall to",
    };
    let level = LEVEL * 100.0;
    let target = format!("{threshold} {unit}");
    match (c.earliest, c.expected, c.latest) {
        (None, _, _) => format!(
            "{metric} is not expected to {verb} {target} within {horizon_days} days \
             (not even at the edge of the {level:.0} % interval)."
        ),
        (Some(e), None, _) => format!(
            "{metric} is not expected to {verb} {target} within {horizon_days} days; the \
             {level:.0} % interval reaches it from {}.",
            when(e)
        ),
        (Some(e), Some(x), l) => format!(
            "{metric} is expected to {verb} {target} at {} ({level:.0} % interval: from {} \
             {}).",
            when(x),
            when(e),
            l.map_or_else(
                || format!("to beyond the {horizon_days}-day horizon"),
                |l| format!("to {}", when(l))
            )
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_checked() {
        assert_eq!(days("horizon_days", None, 14, 60).unwrap(), 14);
        assert_eq!(days("horizon_days", Some(" 3 "), 14, 60).unwrap(), 3);
        for bad in ["0", "61", "-1", "x", "1.5"] {
            let e = days("horizon_days", Some(bad), 14, 60).unwrap_err();
            assert!(e.to_string().contains("horizon_days"), "{e}");
        }
    }

    #[test]
    fn summaries_say_when_and_the_interval() {
        let c = TrendCrossing {
            earliest: Some(1_765_000_800_000),
            expected: Some(1_765_087_200_000),
            latest: None,
        };
        assert_eq!(
            summary("ping.rtt_avg_ms", "ms", 55.0, Direction::Rising, &c, 14),
            "ping.rtt_avg_ms is expected to rise to 55 ms at 2025-12-07 06:00 UTC (95 % \
             interval: from 2025-12-06 06:00 UTC to beyond the 14-day horizon)."
        );
        let none = TrendCrossing {
            earliest: None,
            expected: None,
            latest: None,
        };
        assert!(
            summary("ping.loss_percent", "%", 1.0, Direction::Rising, &none, 7)
                .starts_with("ping.loss_percent is not expected to rise to 1 % within 7 days")
        );
    }
}
