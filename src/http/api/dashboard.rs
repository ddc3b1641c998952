//! `GET /api/v1/dashboard`: the dashboard's numbers (the page at `/` polls it).

use super::agents::{AgentStatus, AgentView, views};
use crate::error::Result;
use crate::http::Ctx;
use crate::http::routes::ok;
use crate::store::insights::{HealthState, InsightRecord, SubjectHealth, health};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::HashMap;
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, Selector, Series, TimeRange, Value,
};
use warp::reply::Response;

#[derive(Serialize, JsonSchema, Default)]
pub struct AgentCounts {
    pub total: usize,
    pub online: usize,
    pub offline: usize,
    pub never_seen: usize,
    pub revoked: usize,
}

#[derive(Serialize, JsonSchema)]
pub struct TestCounts {
    pub total: i64,
    /// Enabled tests.
    pub active: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct Dashboard {
    pub agents: AgentCounts,
    pub tests: TestCounts,
    /// Agents that need attention (offline, or enrolled but never heard from), at most
    /// [`MAX_PROBLEMS`], longest silent first.
    pub problems: Vec<AgentView>,
    /// How many agents need attention in all.
    pub problems_total: usize,
    /// Points the agents delivered to the time-series store in the last hour: per agent
    /// the increase of `agent_self.points_sent_total` over the hour (its last value minus
    /// its first), summed. After an agent restart in the hour only what it sent since
    /// counts. `null` with `timeseries_error` when the store could not be read.
    pub points_last_hour: Option<i64>,
    /// Agents whose own metrics show trouble: a spool backlog (latest
    /// `oldest_unsent_age_s` over [`BACKLOG_AGE_S`]) or failing probes
    /// (`probe_errors_total` increased in the last 15 minutes); at most [`MAX_PROBLEMS`].
    pub health: Vec<AgentHealth>,
    /// Why the time-series numbers above are missing, when they are.
    pub timeseries_error: Option<String>,
    /// The analytics insights open now and the health they give agents, tests and
    /// targets.
    pub insights: InsightOverview,
}

/// What the dashboard shows of the open insights.
#[derive(Serialize, JsonSchema, Default)]
pub struct InsightOverview {
    pub open: usize,
    pub critical: usize,
    pub warning: usize,
    pub agents: HealthCounts,
    pub tests: HealthCounts,
    pub targets: HealthCounts,
    /// The newest started open insights, at most [`LATEST_INSIGHTS`].
    pub latest: Vec<InsightRecord>,
}

/// How many subjects of a kind are degraded and failing (the others are healthy).
#[derive(Serialize, JsonSchema, Default)]
pub struct HealthCounts {
    pub degraded: usize,
    pub failing: usize,
}

/// Open insights listed on the dashboard.
pub const LATEST_INSIGHTS: usize = 5;

impl HealthCounts {
    fn of<'a>(subjects: impl Iterator<Item = &'a SubjectHealth>) -> Self {
        let mut c = HealthCounts::default();
        for s in subjects {
            match s.state {
                HealthState::Degraded => c.degraded += 1,
                HealthState::Failing => c.failing += 1,
                HealthState::Healthy => {}
            }
        }
        c
    }
}

/// The open insights' counts, the health they give, and the newest of them.
pub fn insight_overview(open: Vec<InsightRecord>) -> InsightOverview {
    let report = health(&open);
    InsightOverview {
        open: open.len(),
        critical: open.iter().filter(|i| i.severity == "critical").count(),
        warning: open.iter().filter(|i| i.severity != "critical").count(),
        agents: HealthCounts::of(report.agents.values()),
        tests: HealthCounts::of(report.tests.values()),
        targets: HealthCounts::of(report.targets.values()),
        latest: open.into_iter().take(LATEST_INSIGHTS).collect(),
    }
}

#[derive(Serialize, JsonSchema)]
pub struct AgentHealth {
    pub id: i64,
    pub name: String,
    pub hostname: String,
    /// Latest `agent_self.spool_bytes`.
    pub spool_bytes: Option<i64>,
    /// Latest `agent_self.oldest_unsent_age_s`.
    pub oldest_unsent_age_s: Option<f64>,
    /// Increase of `agent_self.probe_errors_total` in the last 15 minutes.
    pub probe_errors: Option<i64>,
    /// What is wrong, as text.
    pub problem: String,
}

/// A spool whose oldest unsent point is older than this (seconds) is a backlog.
pub const BACKLOG_AGE_S: f64 = 120.0;
const HEALTH_WINDOW_MS: i64 = 15 * 60 * 1000;

fn num(v: Option<&Option<Value>>) -> Option<f64> {
    match v? {
        Some(Value::Float(f)) => Some(*f),
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(Value::Unsigned(u)) => Some(*u as f64),
        _ => None,
    }
}

/// One row per agent of an aggregate over `agent_self` in the last `span_ms`:
/// agent id → column → value.
async fn agent_self(
    ctx: &Ctx,
    span_ms: i64,
    fields: &[(&str, Aggregate)],
) -> std::result::Result<HashMap<i64, HashMap<String, f64>>, String> {
    let now_ms = ctx.state.store.clock().now_ms();
    let q = Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: "agent_self".into(),
            filters: Vec::new(),
            range: TimeRange {
                start_ns: (now_ms - span_ms) * 1_000_000,
                end_ns: (now_ms + 1) * 1_000_000,
            },
        },
        fields: fields.iter().map(|(f, a)| ((*f).into(), *a)).collect(),
        interval: None,
        group_by_tags: vec!["agent".into()],
        fill: Fill::None,
    });
    let series: Vec<Series> = ctx
        .state
        .timeseries
        .reader()
        .query(&q)
        .await
        .map_err(|e| format!("time-series store: {e}"))?;
    let mut out = HashMap::new();
    for s in series {
        let Some(agent) = s.tags.get("agent").and_then(|a| a.parse::<i64>().ok()) else {
            continue;
        };
        let Some(row) = s.rows.first() else { continue };
        let cols = s
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| num(row.values.get(i)).map(|v| (c.clone(), v)))
            .collect();
        out.insert(agent, cols);
    }
    Ok(out)
}

pub const MAX_PROBLEMS: usize = 24;

/// The increase of a counter from its `first` to its `last` value in a window. A counter
/// lower at the end than at the start was reset (the agent restarted): then what it
/// counted since the reset, its last value.
fn increase(c: &HashMap<String, f64>, counter: &str) -> Option<i64> {
    let last = *c.get(&format!("last_{counter}"))?;
    let first = c.get(&format!("first_{counter}")).copied().unwrap_or(last);
    Some(if last >= first { last - first } else { last } as i64)
}

pub async fn dashboard(ctx: &Ctx) -> Result<Dashboard> {
    let agents = views(ctx, ctx.state.store.list_agents().await?).await?;
    let mut timeseries_error = None;
    // Selectors only: the store answers each with one seek per agent and field, so the
    // cost grows with the number of agents, not with how many points they wrote.
    let (sent, health_rows) = tokio::join!(
        agent_self(
            ctx,
            3_600_000,
            &[
                ("points_sent_total", Aggregate::First),
                ("points_sent_total", Aggregate::Last),
            ],
        ),
        agent_self(
            ctx,
            HEALTH_WINDOW_MS,
            &[
                ("spool_bytes", Aggregate::Last),
                ("oldest_unsent_age_s", Aggregate::Last),
                ("probe_errors_total", Aggregate::First),
                ("probe_errors_total", Aggregate::Last),
            ],
        ),
    );
    let points_last_hour = match sent {
        Ok(rows) => Some(
            rows.values()
                .filter_map(|c| increase(c, "points_sent_total"))
                .sum(),
        ),
        Err(e) => {
            timeseries_error = Some(e);
            None
        }
    };
    let self_rows = match health_rows {
        Ok(rows) => rows,
        Err(e) => {
            timeseries_error.get_or_insert(e);
            HashMap::new()
        }
    };
    let mut health = Vec::new();
    for a in &agents {
        if a.status == AgentStatus::Revoked {
            continue;
        }
        let Some(c) = self_rows.get(&a.agent.id) else {
            continue;
        };
        let age = c.get("last_oldest_unsent_age_s").copied();
        let spool = c.get("last_spool_bytes").map(|v| *v as i64);
        let errors = increase(c, "probe_errors_total");
        let mut why = Vec::new();
        if let Some(age) = age.filter(|a| *a > BACKLOG_AGE_S) {
            why.push(format!(
                "spool backlog: oldest unsent point {age:.0} s old, {} bytes waiting",
                spool.unwrap_or(0)
            ));
        }
        if let Some(n) = errors.filter(|n| *n > 0) {
            why.push(format!("{n} probe errors in the last 15 min"));
        }
        if !why.is_empty() {
            health.push(AgentHealth {
                id: a.agent.id,
                name: a.agent.name.clone(),
                hostname: a.agent.hostname.clone(),
                spool_bytes: spool,
                oldest_unsent_age_s: age,
                probe_errors: errors,
                problem: why.join("; "),
            });
        }
    }
    health.sort_by(|a, b| {
        b.oldest_unsent_age_s
            .partial_cmp(&a.oldest_unsent_age_s)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.id.cmp(&b.id))
    });
    health.truncate(MAX_PROBLEMS);
    let mut counts = AgentCounts {
        total: agents.len(),
        ..AgentCounts::default()
    };
    let mut problems = Vec::new();
    for a in agents {
        match a.status {
            AgentStatus::Online => counts.online += 1,
            AgentStatus::Offline => counts.offline += 1,
            AgentStatus::NeverSeen => counts.never_seen += 1,
            AgentStatus::Revoked => counts.revoked += 1,
        }
        if matches!(a.status, AgentStatus::Offline | AgentStatus::NeverSeen) {
            problems.push(a);
        }
    }
    problems.sort_by_key(|a| a.agent.last_seen_at.map_or(i64::MIN, |t| t.0));
    let problems_total = problems.len();
    problems.truncate(MAX_PROBLEMS);
    let (total, active) = ctx.state.store.count_tests().await?;
    let insights = insight_overview(ctx.state.store.open_insights().await?);
    Ok(Dashboard {
        agents: counts,
        tests: TestCounts { total, active },
        problems,
        problems_total,
        points_last_hour,
        health,
        timeseries_error,
        insights,
    })
}

pub async fn get(ctx: Ctx) -> Result<Response> {
    ok(&dashboard(&ctx).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_increase_survives_a_restart() {
        let row = |first: f64, last: f64| {
            HashMap::from([("first_n".to_string(), first), ("last_n".to_string(), last)])
        };
        assert_eq!(increase(&row(100.0, 250.0), "n"), Some(150));
        // Reset in the window: what it counted since.
        assert_eq!(increase(&row(900.0, 40.0), "n"), Some(40));
        assert_eq!(increase(&HashMap::new(), "n"), None);
        let only_last = HashMap::from([("last_n".to_string(), 7.0)]);
        assert_eq!(increase(&only_last, "n"), Some(0));
    }
}
