//! Analytics insights (migration 0004): what the analytics process found, one row per
//! finding, opened and updated by fingerprint and resolved when the series is back to
//! normal; the named leases that keep one analytics process working at a time; the
//! process's own state by key. Written by `crate::analytics`, read by the insights API
//! and pages. [`health`] turns the open insights into the health of agents, tests and
//! targets (computed at read time, never stored).

use super::db::{Row, Value};
use super::{Store, StoreError};
use crate::params;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an insight lies: one agent towards one target, one target from many agents,
/// one agent towards everything it measures.
pub const SCOPES: [&str; 3] = ["pair", "target", "agent"];
pub const SEVERITIES: [&str; 2] = ["warning", "critical"];
pub const STATES: [&str; 2] = ["open", "resolved"];

/// A finding as the analytics process raises it (see [`Store::upsert_insight`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewInsight {
    /// What and where, stable across restarts, e.g.
    /// `latency|ping.rtt_avg_ms|target|test=3|target=10.0.3.1`.
    pub fingerprint: String,
    /// `latency`, `loss`, `multivariate` or `trend`.
    pub kind: String,
    /// The series, as `measurement.field` (`ping.rtt_avg_ms`).
    pub metric: String,
    /// One of [`SCOPES`].
    pub scope: String,
    pub test_id: Option<i64>,
    pub target: Option<String>,
    /// The agents that see it.
    pub agent_ids: Vec<i64>,
    /// Of how many agents measuring that test or target.
    pub agents_total: i64,
    /// One of [`SEVERITIES`].
    pub severity: String,
    /// Unix ms of the first anomalous point.
    pub started_at: i64,
    /// Unix ms when the process raised it.
    pub detected_at: i64,
    /// Baseline or forecast value at the start.
    pub expected: Option<f64>,
    /// Latest or peak observed value.
    pub observed: Option<f64>,
    /// `ms`, `%`.
    pub unit: String,
    /// The cause, as one sentence.
    pub summary: String,
    /// `{"series": [{agent_id, test_id, target, measurement, field}], "window": {from,
    /// to}, "change_percent", "notes": […]}`.
    pub evidence: serde_json::Value,
}

/// A stored insight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InsightRecord {
    pub id: i64,
    /// What and where, e.g. `latency|ping.rtt_avg_ms|target|test=3|target=10.0.3.1`;
    /// at most one insight per fingerprint is open.
    pub fingerprint: String,
    /// `latency`, `loss`, `multivariate` or `trend`.
    pub kind: String,
    /// The series, as `measurement.field` (`ping.rtt_avg_ms`).
    pub metric: String,
    /// `pair` (one agent towards one target), `target` (one target from many agents) or
    /// `agent` (one agent towards everything it measures).
    pub scope: String,
    pub test_id: Option<i64>,
    pub target: Option<String>,
    /// The agents that see it.
    pub agent_ids: Vec<i64>,
    /// Of how many agents measuring that test or target.
    pub agents_total: i64,
    /// `warning` or `critical`.
    pub severity: String,
    /// `open` or `resolved`.
    pub state: String,
    /// Unix ms of the first anomalous point.
    pub started_at: i64,
    /// Unix ms when the analytics process raised it.
    pub detected_at: i64,
    /// Unix ms of the last update.
    pub updated_at: i64,
    /// Unix ms when it was resolved; absent while open.
    pub resolved_at: Option<i64>,
    /// Baseline or forecast value at the start.
    pub expected: Option<f64>,
    /// Latest or peak observed value.
    pub observed: Option<f64>,
    /// Unit of `expected` and `observed` (`ms`, `%`).
    pub unit: String,
    /// The cause, as one sentence.
    pub summary: String,
    /// The series it was found in, the window, the change and notes: `{"series":
    /// [{"agent_id", "test_id", "target", "measurement", "field"}], "window": {"from",
    /// "to"}, "change_percent", "notes": […]}`.
    pub evidence: serde_json::Value,
}

/// Which insights [`Store::list_insights`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightFilter {
    /// `open` or `resolved`.
    pub state: Option<String>,
    pub scope: Option<String>,
    pub severity: Option<String>,
    pub test_id: Option<i64>,
    /// Insights whose `agent_ids` contain this agent.
    pub agent_id: Option<i64>,
    /// Insights open at some time since this Unix ms: still open, or resolved then or
    /// later.
    pub since: Option<i64>,
    pub limit: i64,
}

/// Insights listed when no limit is given.
pub const DEFAULT_LIMIT: i64 = 100;

impl Default for InsightFilter {
    fn default() -> Self {
        InsightFilter {
            state: None,
            scope: None,
            severity: None,
            test_id: None,
            agent_id: None,
            since: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

const INSIGHT_COLUMNS: &str = "id, fingerprint, kind, metric, scope, test_id, target, agent_ids, \
     agents_total, severity, state, started_at, detected_at, updated_at, resolved_at, expected, \
     observed, unit, summary, evidence";

/// `agent_ids` as stored: a JSON array of distinct ids in ascending order, no spaces
/// (the agent filter matches `,<id>,` in it).
fn agent_ids_json(ids: &[i64]) -> String {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    serde_json::to_string(&ids).expect("a list of integers serialises")
}

fn record(r: &Row) -> Result<InsightRecord, StoreError> {
    let agent_ids = r.text("agent_ids")?;
    let evidence = r.text("evidence")?;
    Ok(InsightRecord {
        id: r.i64("id")?,
        fingerprint: r.text("fingerprint")?,
        kind: r.text("kind")?,
        metric: r.text("metric")?,
        scope: r.text("scope")?,
        test_id: r.opt_i64("test_id")?,
        target: r.opt_text("target")?,
        agent_ids: serde_json::from_str(&agent_ids)
            .map_err(|e| StoreError::Decode(format!("insights.agent_ids: {e}")))?,
        agents_total: r.i64("agents_total")?,
        severity: r.text("severity")?,
        state: r.text("state")?,
        started_at: r.i64("started_at")?,
        detected_at: r.i64("detected_at")?,
        updated_at: r.i64("updated_at")?,
        resolved_at: r.opt_i64("resolved_at")?,
        expected: r.opt_f64("expected")?,
        observed: r.opt_f64("observed")?,
        unit: r.text("unit")?,
        summary: r.text("summary")?,
        evidence: serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Decode(format!("insights.evidence: {e}")))?,
    })
}

/// The `WHERE` condition of a filter (its limit aside) and its parameters.
fn filter_condition(f: &InsightFilter) -> (String, Vec<Value>) {
    let mut sql = String::from("1 = 1");
    let mut values: Vec<Value> = Vec::new();
    let mut add = |condition: &str, value: Value| {
        values.push(value);
        sql.push_str(&condition.replace("$?", &format!("${}", values.len())));
    };
    if let Some(v) = &f.state {
        add(" AND state = $?", v.into());
    }
    if let Some(v) = &f.scope {
        add(" AND scope = $?", v.into());
    }
    if let Some(v) = &f.severity {
        add(" AND severity = $?", v.into());
    }
    if let Some(v) = f.test_id {
        add(" AND test_id = $?", v.into());
    }
    if let Some(v) = f.agent_id {
        add(&format!(" AND {SEES_AGENT}"), agent_pattern(v));
    }
    if let Some(v) = f.since {
        add(" AND (resolved_at IS NULL OR resolved_at >= $?)", v.into());
    }
    (sql, values)
}

/// True when `agent_ids` (as [`agent_ids_json`] writes it) holds the agent whose
/// [`agent_pattern`] is bound at `$?`: `[1,4,6]` becomes `,1,4,6,`.
const SEES_AGENT: &str = "REPLACE(REPLACE(agent_ids, '[', ','), ']', ',') LIKE $?";

fn agent_pattern(agent_id: i64) -> Value {
    Value::Text(format!("%,{agent_id},%"))
}

/// How often [`Store::upsert_insight`] goes round when another writer opens or resolves
/// the same fingerprint between its update and its insert.
const UPSERT_ATTEMPTS: usize = 5;

impl Store {
    /// Opens an insight, or updates the open one with the same fingerprint (scope,
    /// agent_ids, agents_total, severity, observed, summary, evidence, updated_at =
    /// now_ms; started_at/detected_at/expected keep the first values). Returns (id,
    /// created).
    ///
    /// Two statements, each atomic: update the open insight of this fingerprint; if
    /// there is none, insert one unless another writer just did (the partial unique
    /// index on open fingerprints), then update that one. Values the schema refuses (a
    /// scope or severity outside [`SCOPES`], [`SEVERITIES`], a test that does not
    /// exist) are `StoreError::Conflict`.
    pub async fn upsert_insight(
        &self,
        i: &NewInsight,
        now_ms: i64,
    ) -> Result<(i64, bool), StoreError> {
        let agent_ids = agent_ids_json(&i.agent_ids);
        let evidence = i.evidence.to_string();
        for _ in 0..UPSERT_ATTEMPTS {
            let updated = self
                .db
                .query_opt(
                    "UPDATE insights SET scope = $2, agent_ids = $3, agents_total = $4,
                       severity = $5, observed = $6, summary = $7, evidence = $8, updated_at = $9
                     WHERE fingerprint = $1 AND state = 'open' RETURNING id",
                    params![
                        &i.fingerprint,
                        &i.scope,
                        &agent_ids,
                        i.agents_total,
                        &i.severity,
                        i.observed,
                        &i.summary,
                        &evidence,
                        now_ms,
                    ],
                )
                .await?;
            if let Some(r) = updated {
                return Ok((r.i64("id")?, false));
            }
            let inserted = self
                .db
                .query_opt(
                    "INSERT INTO insights (fingerprint, kind, metric, scope, test_id, target,
                       agent_ids, agents_total, severity, state, started_at, detected_at,
                       updated_at, resolved_at, expected, observed, unit, summary, evidence)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11, $12, NULL,
                       $13, $14, $15, $16, $17)
                     ON CONFLICT DO NOTHING RETURNING id",
                    params![
                        &i.fingerprint,
                        &i.kind,
                        &i.metric,
                        &i.scope,
                        i.test_id,
                        i.target.as_deref(),
                        &agent_ids,
                        i.agents_total,
                        &i.severity,
                        i.started_at,
                        i.detected_at,
                        now_ms,
                        i.expected,
                        i.observed,
                        &i.unit,
                        &i.summary,
                        &evidence,
                    ],
                )
                .await?;
            if let Some(r) = inserted {
                return Ok((r.i64("id")?, true));
            }
        }
        Err(StoreError::Conflict(format!(
            "insight {:?} kept changing under concurrent writers",
            i.fingerprint
        )))
    }

    /// Resolves the open insight with this fingerprint; returns its id if there was one.
    pub async fn resolve_insight(
        &self,
        fingerprint: &str,
        at_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.db
            .query_opt(
                "UPDATE insights SET state = 'resolved', resolved_at = $2, updated_at = $2
                 WHERE fingerprint = $1 AND state = 'open' RETURNING id",
                params![fingerprint, at_ms],
            )
            .await?
            .map(|r| r.i64("id"))
            .transpose()
    }

    /// Every open insight, newest started first.
    pub async fn open_insights(&self) -> Result<Vec<InsightRecord>, StoreError> {
        let rows = self
            .db
            .query(
                &format!(
                    "SELECT {INSIGHT_COLUMNS} FROM insights WHERE state = 'open'
                     ORDER BY started_at DESC, id DESC"
                ),
                vec![],
            )
            .await?;
        rows.iter().map(record).collect()
    }

    /// The insights matching `f`, newest started first, at most `f.limit` (a limit
    /// below 1 lists nothing).
    pub async fn list_insights(&self, f: &InsightFilter) -> Result<Vec<InsightRecord>, StoreError> {
        if f.limit < 1 {
            return Ok(Vec::new());
        }
        let (condition, mut values) = filter_condition(f);
        values.push(f.limit.into());
        let sql = format!(
            "SELECT {INSIGHT_COLUMNS} FROM insights WHERE {condition}
             ORDER BY started_at DESC, id DESC LIMIT ${}",
            values.len()
        );
        let rows = self.db.query(&sql, values).await?;
        rows.iter().map(record).collect()
    }

    /// How many insights match `f`, whatever its limit.
    pub async fn count_insights(&self, f: &InsightFilter) -> Result<i64, StoreError> {
        let (condition, values) = filter_condition(f);
        self.db
            .query_one(
                &format!("SELECT COUNT(*) AS n FROM insights WHERE {condition}"),
                values,
            )
            .await?
            .i64("n")
    }

    /// The insights of a test (or, without one, of any test) that were open at some
    /// time in `[from_ms, to_ms)`, optionally only those an agent sees; newest started
    /// first, at most `limit`. What charts mark.
    pub async fn insights_between(
        &self,
        test_id: Option<i64>,
        agent_id: Option<i64>,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<InsightRecord>, StoreError> {
        let mut sql = format!(
            "SELECT {INSIGHT_COLUMNS} FROM insights
             WHERE started_at < $1 AND (resolved_at IS NULL OR resolved_at >= $2)"
        );
        let mut values = params![to_ms, from_ms];
        if let Some(t) = test_id {
            values.push(t.into());
            sql.push_str(&format!(" AND test_id = ${}", values.len()));
        }
        if let Some(a) = agent_id {
            values.push(agent_pattern(a));
            sql.push_str(&format!(
                " AND {}",
                SEES_AGENT.replace("$?", &format!("${}", values.len()))
            ));
        }
        values.push(limit.max(0).into());
        sql.push_str(&format!(
            " ORDER BY started_at DESC, id DESC LIMIT ${}",
            values.len()
        ));
        let rows = self.db.query(&sql, values).await?;
        rows.iter().map(record).collect()
    }

    pub async fn insight(&self, id: i64) -> Result<Option<InsightRecord>, StoreError> {
        self.db
            .query_opt(
                &format!("SELECT {INSIGHT_COLUMNS} FROM insights WHERE id = $1"),
                params![id],
            )
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    /// How many insights are open (the navbar's badge).
    pub async fn open_insight_count(&self) -> Result<i64, StoreError> {
        self.db
            .query_one(
                "SELECT COUNT(*) AS n FROM insights WHERE state = 'open'",
                vec![],
            )
            .await?
            .i64("n")
    }

    /// Takes or renews a named lease: succeeds when nobody holds it, it expired, or
    /// `holder` already holds it. Atomic on both backends (single statement or
    /// transaction) — two processes racing must not both succeed.
    ///
    /// One upsert whose update only happens when the row's holder is `holder` or its
    /// lease has expired (`expires_at <= now_ms`); it changed a row exactly when the
    /// lease is ours until `now_ms + ttl_ms`.
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let expires_at = now_ms.saturating_add(ttl_ms.max(0));
        let changed = self
            .db
            .execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
                params![name, holder, expires_at, now_ms],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Gives a lease up, if `holder` holds it (anyone else's lease is left alone).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "DELETE FROM leases WHERE name = $1 AND holder = $2",
                params![name, holder],
            )
            .await?;
        Ok(())
    }

    pub async fn analytics_state(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.db
            .query_opt(
                "SELECT value FROM analytics_state WHERE key = $1",
                params![key],
            )
            .await?
            .map(|r| r.text("value"))
            .transpose()
    }

    pub async fn set_analytics_state(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO analytics_state (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .await?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Health

/// Health of an agent, a test or a target, from the open insights touching it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// No open insight.
    Healthy,
    /// An open warning insight.
    Degraded,
    /// An open critical insight.
    Failing,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Failing => "failing",
        }
    }

    fn of_severity(severity: &str) -> Self {
        if severity == "critical" {
            HealthState::Failing
        } else {
            HealthState::Degraded
        }
    }
}

/// An open insight as the health report names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InsightRef {
    pub id: i64,
    pub summary: String,
    /// `warning` or `critical`.
    pub severity: String,
}

/// One subject's health and the open insights behind it (critical first, then newest
/// started first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SubjectHealth {
    pub state: HealthState,
    pub insights: Vec<InsightRef>,
}

impl SubjectHealth {
    pub fn healthy() -> Self {
        SubjectHealth {
            state: HealthState::Healthy,
            insights: Vec::new(),
        }
    }
}

/// Health per agent id, per test id and per target, from the open insights. Only
/// subjects with an open insight are listed: a missing one is healthy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HealthReport {
    pub agents: BTreeMap<i64, SubjectHealth>,
    pub tests: BTreeMap<i64, SubjectHealth>,
    pub targets: BTreeMap<String, SubjectHealth>,
}

impl HealthReport {
    /// The state of an agent (healthy when not listed).
    pub fn agent(&self, id: i64) -> HealthState {
        self.agents
            .get(&id)
            .map_or(HealthState::Healthy, |h| h.state)
    }

    pub fn test(&self, id: i64) -> HealthState {
        self.tests
            .get(&id)
            .map_or(HealthState::Healthy, |h| h.state)
    }

    pub fn target(&self, target: &str) -> HealthState {
        self.targets
            .get(target)
            .map_or(HealthState::Healthy, |h| h.state)
    }
}

/// Health from the open insights: a subject is `failing` if an open critical insight
/// touches it, `degraded` if an open warning does, healthy otherwise. An insight
/// touches every agent in its `agent_ids`, its test and its target. Insights that are
/// not open are ignored.
pub fn health(open: &[InsightRecord]) -> HealthReport {
    fn touch(h: &mut SubjectHealth, i: &InsightRecord) {
        h.state = h.state.max(HealthState::of_severity(&i.severity));
        if !h.insights.iter().any(|r| r.id == i.id) {
            h.insights.push(InsightRef {
                id: i.id,
                summary: i.summary.clone(),
                severity: i.severity.clone(),
            });
        }
    }
    let mut report = HealthReport::default();
    let mut ordered: Vec<&InsightRecord> = open.iter().filter(|i| i.state == "open").collect();
    // Critical first, then newest started first: the order every subject lists them in.
    ordered.sort_by(|a, b| {
        HealthState::of_severity(&b.severity)
            .cmp(&HealthState::of_severity(&a.severity))
            .then(b.started_at.cmp(&a.started_at))
            .then(b.id.cmp(&a.id))
    });
    for i in ordered {
        for agent in &i.agent_ids {
            touch(
                report
                    .agents
                    .entry(*agent)
                    .or_insert_with(SubjectHealth::healthy),
                i,
            );
        }
        if let Some(test) = i.test_id {
            touch(
                report
                    .tests
                    .entry(test)
                    .or_insert_with(SubjectHealth::healthy),
                i,
            );
        }
        if let Some(target) = &i.target {
            touch(
                report
                    .targets
                    .entry(target.clone())
                    .or_insert_with(SubjectHealth::healthy),
                i,
            );
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn insight(
        id: i64,
        severity: &str,
        agents: &[i64],
        test: Option<i64>,
        target: Option<&str>,
    ) -> InsightRecord {
        InsightRecord {
            id,
            fingerprint: format!("latency|ping.rtt_avg_ms|pair|{id}"),
            kind: "latency".into(),
            metric: "ping.rtt_avg_ms".into(),
            scope: "pair".into(),
            test_id: test,
            target: target.map(str::to_owned),
            agent_ids: agents.to_vec(),
            agents_total: 6,
            severity: severity.into(),
            state: "open".into(),
            started_at: 1_000 + id,
            detected_at: 2_000,
            updated_at: 2_000,
            resolved_at: None,
            expected: Some(20.0),
            observed: Some(55.0),
            unit: "ms".into(),
            summary: format!("insight {id}"),
            evidence: json!({}),
        }
    }

    #[test]
    fn nothing_open_is_an_empty_report() {
        let r = health(&[]);
        assert_eq!(r, HealthReport::default());
        assert_eq!(r.agent(1), HealthState::Healthy);
        assert_eq!(r.test(1), HealthState::Healthy);
        assert_eq!(r.target("10.0.3.1"), HealthState::Healthy);
    }

    #[test]
    fn an_insight_touches_its_agents_its_test_and_its_target() {
        let r = health(&[insight(7, "warning", &[1, 4], Some(3), Some("10.0.3.1"))]);
        assert_eq!(r.agents.keys().copied().collect::<Vec<_>>(), vec![1, 4]);
        assert_eq!(r.tests.keys().copied().collect::<Vec<_>>(), vec![3]);
        assert_eq!(
            r.targets.keys().cloned().collect::<Vec<_>>(),
            vec!["10.0.3.1"]
        );
        for h in r
            .agents
            .values()
            .chain(r.tests.values())
            .chain(r.targets.values())
        {
            assert_eq!(h.state, HealthState::Degraded);
            assert_eq!(
                h.insights,
                vec![InsightRef {
                    id: 7,
                    summary: "insight 7".into(),
                    severity: "warning".into()
                }]
            );
        }
        assert_eq!(
            r.agent(2),
            HealthState::Healthy,
            "agents not in agent_ids are not listed"
        );
    }

    #[test]
    fn critical_wins_over_warning_and_is_listed_first() {
        let r = health(&[
            insight(1, "warning", &[1], Some(3), Some("a")),
            insight(2, "critical", &[1, 2], Some(3), None),
            insight(3, "warning", &[2], Some(4), Some("a")),
        ]);
        assert_eq!(r.agent(1), HealthState::Failing);
        assert_eq!(r.agent(2), HealthState::Failing);
        assert_eq!(r.test(3), HealthState::Failing);
        assert_eq!(r.test(4), HealthState::Degraded);
        assert_eq!(r.target("a"), HealthState::Degraded);
        let ids = |h: &SubjectHealth| h.insights.iter().map(|i| i.id).collect::<Vec<_>>();
        assert_eq!(ids(&r.agents[&1]), vec![2, 1]);
        assert_eq!(ids(&r.agents[&2]), vec![2, 3]);
        assert_eq!(ids(&r.targets["a"]), vec![3, 1], "newest started first");
    }

    #[test]
    fn agent_scope_insights_without_test_or_target_touch_only_agents() {
        let mut i = insight(9, "critical", &[5], None, None);
        i.scope = "agent".into();
        let r = health(&[i]);
        assert_eq!(r.agent(5), HealthState::Failing);
        assert!(r.tests.is_empty() && r.targets.is_empty());
    }

    #[test]
    fn resolved_insights_are_ignored_and_duplicate_agents_count_once() {
        let mut resolved = insight(1, "critical", &[1], Some(3), Some("a"));
        resolved.state = "resolved".into();
        resolved.resolved_at = Some(5_000);
        let r = health(&[resolved, insight(2, "warning", &[1, 1], None, None)]);
        assert_eq!(r.agent(1), HealthState::Degraded);
        assert_eq!(r.agents[&1].insights.len(), 1);
        assert!(r.tests.is_empty());
    }

    #[test]
    fn the_report_serialises_with_string_keys_and_lowercase_states() {
        let r = health(&[insight(1, "critical", &[2], Some(3), Some("h"))]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["agents"]["2"]["state"], "failing");
        assert_eq!(v["tests"]["3"]["insights"][0]["id"], 1);
        assert_eq!(v["targets"]["h"]["insights"][0]["severity"], "critical");
    }

    #[test]
    fn agent_ids_are_stored_sorted_distinct_and_without_spaces() {
        assert_eq!(agent_ids_json(&[6, 1, 4, 1]), "[1,4,6]");
        assert_eq!(agent_ids_json(&[]), "[]");
    }
}
