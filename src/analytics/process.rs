//! The analytics process: every `analytics.poll_seconds` one [`Analytics::cycle`]
//! reads the minutes completed since the last cycle through the time-series reader
//! (embedded store or InfluxDB alike), refits the models that are due, scores each new
//! minute with the [`Engine`], and writes back what it found:
//!
//! - insight rows in the metadata store (opened, updated, resolved; one open row per
//!   fingerprint, so a restart that finds the same problem again updates it);
//! - `anomaly` points (every point of an open episode, with its insight id), `forecast`
//!   points (each refit's band for the minutes ahead) and `health` points (per agent and
//!   per agent × test, each cycle) in the time-series store.
//!
//! Only one process analyses at a time: each cycle first takes or renews the
//! `analytics` lease in the metadata store; a process that does not hold it idles, and
//! takes over when the holder stops renewing (`analytics.lease_seconds`).
//!
//! Incremental: each new minute is scored as it is read; a refit reads from the store
//! only the minutes since the previous refit's read, the older ones are kept in memory
//! ([`super::history`]; the `anomaly` points masked out are read for the whole window,
//! they are few). The position (the last minute scored) is kept in `analytics_state`,
//! so a restart goes on from there. The engine's memory (models, calibration, open
//! episodes) is rebuilt: models are refitted on first use, with their anomalous minutes
//! (the stored `anomaly` points, per metric) masked out of the history; insights left
//! open by the previous run that the engine has not found again after
//! [`RESUME_GRACE_S`] of scored minutes are resolved.
//!
//! What is analysed: every series (agent × test × target) of the kinds in
//! [`sources`] — ping's RTT average, DNS resolution, TCP connect and HTTP total times
//! against the forecast, ping's lost echoes as binomial loss — read as 1-minute
//! aggregates (means of the time field; sums of `sent` and `received`); and per agent
//! its host and self-metrics ([`agents::read_host_minutes`]) for its isolation forest
//! and the host context of its insights.

use super::agents;
use super::engine::{
    self, AnomalyPoint, Engine, EngineConfig, Insight, InsightEvent, Sample, Scope, SeriesKey,
    Signal,
};
use super::explain;
use super::history::History;
use super::sources::{self, Source};
use crate::config::AnalyticsConfig;
use crate::store::Store;
use crate::store::insights::NewInsight;
use crate::timeseries::TimeSeries;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use streamswarm_schema::measurements::{anomaly, forecast, health};
use streamswarm_tsdb::line_protocol::{Dynamic, Point, Timestamp};
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, ReadError, Selector, TagFilter, TimeRange,
};

/// The lease's name in the metadata store.
pub const LEASE: &str = "analytics";
/// `analytics_state` key of the last scored minute's end (Unix seconds).
pub const POSITION_KEY: &str = "scored_to_s";
/// Where a process that never ran starts: this long before now (its models are fitted
/// on the history before that).
pub const FIRST_START_S: i64 = 10 * 60;
/// Scored minutes after a start before insights left open by the previous run and not
/// found again are resolved.
pub const RESUME_GRACE_S: i64 = 15 * 60;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("reading the time series: {0}")]
    Read(#[from] ReadError),
    #[error("metadata store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("writing findings: {0:#}")]
    Write(anyhow::Error),
}

/// What one cycle did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleStats {
    /// Whether this process held the lease.
    pub leader: bool,
    pub minutes: usize,
    pub series: usize,
    pub fits: usize,
    /// Series-minutes read from the store for the refits (see [`super::history`]).
    pub history_read: usize,
    pub anomalies: usize,
    pub opened: usize,
    pub resolved: usize,
    /// Whether minutes remain to be scored (the next cycle should follow at once).
    pub behind: bool,
}

/// One analytics process.
pub struct Analytics {
    store: Store,
    timeseries: TimeSeries,
    config: AnalyticsConfig,
    holder: String,
    engine: Engine,
    /// The minutes the refits learn from, kept between refits.
    history: History,
    /// End of the last scored minute (Unix seconds).
    position: Option<i64>,
    /// Insight ids by fingerprint, for the engine's open insights.
    ids: BTreeMap<String, i64>,
    /// Open rows found at start that the engine has not claimed yet, and when the
    /// grace for them ends.
    inherited: BTreeMap<String, i64>,
    grace_until_s: Option<i64>,
}

impl Analytics {
    pub fn new(store: Store, timeseries: TimeSeries, config: AnalyticsConfig) -> Self {
        let engine = Engine::new(EngineConfig {
            refit_every_s: config.refit_minutes as i64 * 60,
            history_days: config.history_days as i64,
            ..EngineConfig::default()
        });
        let holder = format!(
            "{}:{}:{:08x}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()),
            std::process::id(),
            rand::random::<u32>()
        );
        Analytics {
            store,
            timeseries,
            config,
            holder,
            engine,
            history: History::default(),
            position: None,
            ids: BTreeMap::new(),
            inherited: BTreeMap::new(),
            grace_until_s: None,
        }
    }

    /// Who holds the lease when this process does.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Runs cycles until `shutdown`, then gives the lease back.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let every = Duration::from_secs(self.config.poll_seconds);
        loop {
            let now_s = self.store.clock().now_ms() / 1000;
            let mut behind = false;
            match self.cycle(now_s).await {
                Ok(s) if s.behind => {
                    behind = true;
                    tracing::debug!(?s, "analytics catching up");
                }
                Ok(s) if s.opened + s.resolved > 0 || s.fits > 0 => {
                    tracing::info!(?s, "analytics cycle");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "analytics cycle failed; retrying next cycle"),
            }
            let pause = if behind { Duration::ZERO } else { every };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        let _ = self.store.release_lease(LEASE, &self.holder).await;
    }

    /// One cycle at `now_s` (see the module doc).
    pub async fn cycle(&mut self, now_s: i64) -> Result<CycleStats, AnalyticsError> {
        let mut stats = CycleStats::default();
        let ttl_ms = self.config.lease_seconds as i64 * 1000;
        if !self
            .store
            .try_lease(LEASE, &self.holder, ttl_ms, now_s * 1000)
            .await?
        {
            // Another process analyses; whatever this one knew is stale when it takes
            // over, so it starts again from the stored position then.
            self.position = None;
            return Ok(stats);
        }
        stats.leader = true;
        let to = floor_minute(now_s - self.config.lateness_seconds as i64);
        let from = match self.position {
            Some(p) => p,
            None => self.resume(to).await?,
        };
        if from >= to {
            return Ok(stats);
        }
        // At most one refit interval per cycle: the models fitted at its start forecast
        // that far. A process behind catches up cycle after cycle.
        let limit = from + self.engine.config.refit_every_s;
        stats.behind = to > limit;
        let to = to.min(limit);
        let new = read_minutes(&self.timeseries, from, to, None).await?;
        let hosts = agents::read_host_minutes(&self.timeseries, from, to).await?;
        stats.series = new.len();
        for key in new.keys() {
            self.engine.add_series(key);
        }
        (stats.fits, stats.history_read) = self.refit_due(from).await?;
        // Score minute by minute, all series at each minute, then regroup.
        let mut anomalies: Vec<(AnomalyPoint, Option<(i64, &'static str)>)> = Vec::new();
        let mut cursor: BTreeMap<&SeriesKey, usize> = BTreeMap::new();
        let mut minute = from;
        while minute < to {
            for (agent, minutes) in &hosts {
                if let Some(h) = minutes.get(&minute) {
                    self.engine.observe_host(agent, minute, *h);
                }
            }
            for (key, samples) in &new {
                let i = cursor.entry(key).or_default();
                while *i < samples.len() && samples[*i].time_s < minute + 60 {
                    if samples[*i].time_s >= minute {
                        for a in self.engine.observe(key, &samples[*i]) {
                            anomalies.push((a, None));
                        }
                    }
                    *i += 1;
                }
            }
            let events = self.engine.tick(minute + 60);
            let (opened, resolved) = self.apply(events, minute + 60).await?;
            stats.opened += opened;
            stats.resolved += resolved;
            // Each anomalous point belongs to the insight holding its series now.
            for (a, id) in anomalies.iter_mut().filter(|(_, id)| id.is_none()) {
                *id = self.insight_of(&a.key, a.signal);
            }
            stats.minutes += 1;
            minute += 60;
        }
        self.resolve_inherited(to).await?;
        stats.anomalies = anomalies.len();
        let mut points: Vec<Point<Dynamic>> = anomalies
            .iter()
            .map(|(a, id)| anomaly_point(a, *id))
            .collect();
        points.extend(self.health_points(to));
        self.timeseries
            .write_points(&points, now_s * 1_000_000_000)
            .await
            .map_err(AnalyticsError::Write)?;
        self.position = Some(to);
        self.store
            .set_analytics_state(POSITION_KEY, &to.to_string())
            .await?;
        Ok(stats)
    }

    /// Where to start after a start or a takeover: the stored position, else a little
    /// before now. Open rows are inherited, to be claimed or resolved.
    async fn resume(&mut self, to: i64) -> Result<i64, AnalyticsError> {
        let stored = self
            .store
            .analytics_state(POSITION_KEY)
            .await?
            .and_then(|v| v.parse::<i64>().ok());
        self.engine = Engine::new(self.engine.config);
        self.history.clear();
        self.ids.clear();
        self.inherited = self
            .store
            .open_insights()
            .await?
            .into_iter()
            .map(|r| (r.fingerprint, r.id))
            .collect();
        let from = stored.unwrap_or(to - FIRST_START_S).min(to);
        self.grace_until_s = Some(from + RESUME_GRACE_S);
        Ok(from)
    }

    /// Refits, per test, the series whose model is due at `now_s` on their history (what
    /// the store has that [`History`] does not keep yet, read once per test); writes each
    /// new forecast. Returns the fits made and the series-minutes read.
    async fn refit_due(&mut self, now_s: i64) -> Result<(usize, usize), AnalyticsError> {
        let due: BTreeSet<(&'static str, String)> = self
            .engine
            .series()
            .filter(|k| self.engine.needs_refit(k, now_s))
            .map(|k| (k.measurement, k.test.clone()))
            .collect();
        let (mut fits, mut read) = (0, 0);
        let days = self.config.history_days as i64;
        // A test not refitted for two refit intervals is gone (or has no series left).
        self.history
            .forget_before(now_s - 2 * self.engine.config.refit_every_s);
        for (measurement, test) in due {
            let start = now_s - days * 86_400;
            let test_key = (measurement, test.clone());
            let from = self.history.read_from(&test_key, start, now_s);
            let new =
                read_minutes(&self.timeseries, from, now_s, Some((measurement, &test))).await?;
            read += new.values().map(Vec::len).sum::<usize>();
            let history = self.history.update(&test_key, start, from, now_s, new);
            let masked = read_anomalous_minutes(&self.timeseries, start, now_s, &test).await?;
            let mut jobs = Vec::new();
            for (key, mut samples) in history {
                if !self.engine.needs_refit(&key, now_s) {
                    continue;
                }
                let latency = explain::metric(&key, Signal::Latency);
                let loss = explain::metric(&key, Signal::Loss);
                let at = |metric: &str, time_s: i64| {
                    masked.contains(&(
                        key.agent.clone(),
                        key.target.clone(),
                        metric.to_owned(),
                        time_s,
                    ))
                };
                for s in samples.iter_mut() {
                    *s = engine::mask(s, at(&latency, s.time_s), at(&loss, s.time_s));
                }
                jobs.push(self.engine.refit_job(&key, samples, now_s));
            }
            // The fits use every core, off the async runtime (the server shares it
            // under `streamswarm up`).
            let fitted = tokio::task::spawn_blocking(move || engine::fit_all(jobs))
                .await
                .expect("the refit threads do not panic");
            let mut forecasts = Vec::new();
            for f in fitted {
                let key = f.key().clone();
                self.engine.install(f);
                fits += 1;
                if let Some(model) = self.engine.model(&key) {
                    for (i, b) in model.bands.iter().enumerate() {
                        let t = model.start_s + i as i64 * model.step_s;
                        forecasts.push(
                            Point::new(forecast::MEASUREMENT)
                                .tag(forecast::tags::AGENT, key.agent.as_str())
                                .tag(forecast::tags::TEST, key.test.as_str())
                                .tag(forecast::tags::TARGET, key.target.as_str())
                                .tag(
                                    forecast::tags::METRIC,
                                    explain::metric(&key, Signal::Latency),
                                )
                                .field(forecast::fields::EXPECTED, b.expected)
                                .field(forecast::fields::LOWER, b.lower)
                                .field(forecast::fields::UPPER, b.upper)
                                .field(forecast::fields::LEVEL_PERCENT, model.level * 100.0)
                                .timestamp(Timestamp::from_nanos(t * 1_000_000_000))
                                .into_dynamic(),
                        );
                    }
                }
            }
            // Series of this test with no point in the history read: not fitted now,
            // tried again next cycle.
            self.timeseries
                .write_points(&forecasts, now_s * 1_000_000_000)
                .await
                .map_err(AnalyticsError::Write)?;
        }
        Ok((fits, read))
    }

    /// Writes the engine's insight events to the metadata store.
    async fn apply(
        &mut self,
        events: Vec<InsightEvent>,
        at_s: i64,
    ) -> Result<(usize, usize), AnalyticsError> {
        let (mut opened, mut resolved) = (0, 0);
        for event in events {
            match event {
                InsightEvent::Opened(i) | InsightEvent::Updated(i) => {
                    let row = new_insight(&i);
                    let (id, created) = self.store.upsert_insight(&row, at_s * 1000).await?;
                    self.inherited.remove(&i.fingerprint);
                    self.ids.insert(i.fingerprint.clone(), id);
                    if created {
                        opened += 1;
                    }
                }
                InsightEvent::Resolved { insight, at_s } => {
                    // Refresh the row's last values before closing it.
                    let row = new_insight(&insight);
                    self.store.upsert_insight(&row, at_s * 1000).await?;
                    if self
                        .store
                        .resolve_insight(&insight.fingerprint, at_s * 1000)
                        .await?
                        .is_some()
                    {
                        resolved += 1;
                    }
                    self.ids.remove(&insight.fingerprint);
                }
            }
        }
        Ok((opened, resolved))
    }

    /// Resolves rows left open by a previous run that the engine has not found again.
    async fn resolve_inherited(&mut self, scored_to: i64) -> Result<(), AnalyticsError> {
        if self.grace_until_s.is_some_and(|g| scored_to >= g) {
            for fingerprint in std::mem::take(&mut self.inherited).into_keys() {
                self.store
                    .resolve_insight(&fingerprint, scored_to * 1000)
                    .await?;
            }
            self.grace_until_s = None;
        }
        Ok(())
    }

    /// The id and scope of the open insight holding `key`'s `signal`.
    fn insight_of(&self, key: &SeriesKey, signal: Signal) -> Option<(i64, &'static str)> {
        self.engine
            .open_insights()
            .find(|i| i.signal == signal && i.members.contains(key))
            .and_then(|i| Some((*self.ids.get(&i.fingerprint)?, i.scope.kind())))
    }

    /// Health of every agent and agent × test the engine knows, from its open insights.
    fn health_points(&self, at_s: i64) -> Vec<Point<Dynamic>> {
        let mut agents: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        let mut tests: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
        for k in self.engine.series() {
            agents.entry(&k.agent).or_default();
            tests.entry((&k.agent, &k.test)).or_default();
        }
        for i in self.engine.open_insights() {
            let level = if explain::severity(i) == "critical" {
                2
            } else {
                1
            };
            let mut seen_agents = BTreeSet::new();
            for k in &i.members {
                if seen_agents.insert(k.agent.as_str())
                    && let Some(h) = agents.get_mut(k.agent.as_str())
                {
                    h.0 = h.0.max(level);
                    h.1 += 1;
                }
                if let Some(h) = tests.get_mut(&(k.agent.as_str(), k.test.as_str())) {
                    h.0 = h.0.max(level);
                    h.1 += 1;
                }
            }
        }
        let t = Timestamp::from_nanos(at_s * 1_000_000_000);
        let mut out = Vec::new();
        for (agent, (level, n)) in agents {
            out.push(
                Point::new(health::MEASUREMENT)
                    .tag(health::tags::AGENT, agent)
                    .field(health::fields::LEVEL, level)
                    .field(health::fields::OPEN_INSIGHTS, n)
                    .timestamp(t)
                    .into_dynamic(),
            );
        }
        for ((agent, test), (level, n)) in tests {
            out.push(
                Point::new(health::MEASUREMENT)
                    .tag(health::tags::AGENT, agent)
                    .tag(health::tags::TEST, test)
                    .field(health::fields::LEVEL, level)
                    .field(health::fields::OPEN_INSIGHTS, n)
                    .timestamp(t)
                    .into_dynamic(),
            );
        }
        out
    }
}

/// The row of an engine insight.
fn new_insight(i: &Insight) -> NewInsight {
    let first = i.members.iter().next();
    let (test, target) = match &i.scope {
        Scope::Pair(k) => (Some(k.test.clone()), Some(k.target.clone())),
        Scope::Target { test, target } => (Some(test.clone()), Some(target.clone())),
        Scope::Agent(_) => (None, None),
    };
    let agent_ids: BTreeSet<i64> = i
        .members
        .iter()
        .filter_map(|k| k.agent.parse().ok())
        .collect();
    let metric = match i.signal {
        Signal::Multivariate => "agent.multivariate".to_owned(),
        _ => first.map_or_else(String::new, |k| explain::metric(k, i.signal)),
    };
    NewInsight {
        fingerprint: i.fingerprint.clone(),
        kind: i.signal.as_str().into(),
        metric: metric.clone(),
        scope: i.scope.kind().into(),
        test_id: test.as_deref().and_then(|t| t.parse().ok()),
        target: target
            .or_else(|| first.map(|k| k.target.clone()))
            .filter(|_| !matches!(i.scope, Scope::Agent(_))),
        agent_ids: agent_ids.into_iter().collect(),
        agents_total: match i.scope {
            Scope::Target { .. } => i.of as i64,
            _ => 1,
        },
        severity: explain::severity(i).into(),
        started_at: i.start_s * 1000,
        detected_at: i.detected_s * 1000,
        expected: (i.signal != Signal::Multivariate).then_some(i.expected),
        observed: Some(i.observed),
        unit: explain::unit(i.signal).into(),
        summary: explain::sentence(i),
        evidence: serde_json::json!({
            "series": i.members.iter().map(|k| {
                let metric = explain::metric(k, i.signal);
                let (measurement, field) = metric.split_once('.').unwrap_or((k.measurement, ""));
                serde_json::json!({
                    "agent_id": k.agent.parse::<i64>().ok(),
                    "test_id": k.test.parse::<i64>().ok(),
                    "target": k.target,
                    "measurement": measurement,
                    "field": field,
                })
            }).collect::<Vec<_>>(),
            "window": { "from": i.start_s * 1000, "to": null },
            "change_percent": explain::change_percent(i),
            "of": i.of,
            "notes": i.notes,
        }),
    }
}

fn anomaly_point(a: &AnomalyPoint, insight: Option<(i64, &'static str)>) -> Point<Dynamic> {
    let scope = insight.map_or("pair", |(_, s)| s);
    Point::new(anomaly::MEASUREMENT)
        .tag(anomaly::tags::AGENT, a.key.agent.as_str())
        .tag(anomaly::tags::TEST, a.key.test.as_str())
        .tag(anomaly::tags::TARGET, a.key.target.as_str())
        .tag(anomaly::tags::METRIC, explain::metric(&a.key, a.signal))
        .tag(anomaly::tags::SCOPE, scope)
        .field(anomaly::fields::OBSERVED, a.observed)
        .field(anomaly::fields::EXPECTED, a.expected)
        .field(anomaly::fields::SCORE, a.score)
        .field_opt(anomaly::fields::INSIGHT_ID, insight.map(|(id, _)| id))
        .timestamp(Timestamp::from_nanos(a.time_s * 1_000_000_000))
        .into_dynamic()
}

fn floor_minute(s: i64) -> i64 {
    s - s.rem_euclid(60)
}

/// Every analysed series' 1-minute aggregates in `[from, to)` (all sources, or only
/// `test`'s when given with its measurement).
pub async fn read_minutes(
    ts: &TimeSeries,
    from: i64,
    to: i64,
    test: Option<(&str, &str)>,
) -> Result<BTreeMap<SeriesKey, Vec<Sample>>, ReadError> {
    let mut out = BTreeMap::new();
    for source in &sources::SOURCES {
        if test.is_some_and(|(measurement, _)| measurement != source.measurement) {
            continue;
        }
        out.extend(read_source(ts, source, from, to, test.map(|(_, t)| t)).await?);
    }
    Ok(out)
}

async fn read_source(
    ts: &TimeSeries,
    source: &'static Source,
    from: i64,
    to: i64,
    test: Option<&str>,
) -> Result<BTreeMap<SeriesKey, Vec<Sample>>, ReadError> {
    let mut fields = vec![(source.latency_field.to_owned(), Aggregate::Mean)];
    if let Some((trials, ok)) = source.trials {
        fields.push((trials.to_owned(), Aggregate::Sum));
        fields.push((ok.to_owned(), Aggregate::Sum));
    }
    let q = Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: source.measurement.into(),
            filters: test
                .map(|t| vec![TagFilter::eq("test", t)])
                .unwrap_or_default(),
            range: TimeRange {
                start_ns: from * 1_000_000_000,
                end_ns: to * 1_000_000_000,
            },
        },
        fields,
        interval: Some(Duration::from_secs(60)),
        group_by_tags: vec!["agent".into(), "test".into(), "target".into()],
        fill: Fill::None,
    });
    let mut out = BTreeMap::new();
    for s in ts.reader().query(&q).await? {
        let tag = |t: &str| s.tags.get(t).cloned().unwrap_or_default();
        let key = SeriesKey {
            measurement: source.measurement,
            agent: tag("agent"),
            test: tag("test"),
            target: tag("target"),
        };
        if key.agent.is_empty() || key.test.is_empty() {
            continue;
        }
        let samples: Vec<Sample> = s
            .rows
            .iter()
            .map(|r| {
                let num = |i: usize| r.values.get(i).and_then(Option::as_ref)?.as_f64();
                let trials = match (num(1), num(2)) {
                    (Some(sent), Some(received)) if sent >= received && sent > 0.0 => {
                        Some((sent as u64, (sent - received) as u64))
                    }
                    _ => None,
                };
                Sample {
                    time_s: r.time_ns.div_euclid(1_000_000_000),
                    latency: num(0),
                    trials,
                }
            })
            .filter(|s| s.latency.is_some() || s.trials.is_some())
            .collect();
        out.insert(key, samples);
    }
    Ok(out)
}

/// Minutes of `test` that were anomalous (the stored `anomaly` points), as
/// (agent, target, metric, minute start): each metric's anomalous minutes are taken out
/// of what its model learns from ([`engine::mask`]).
async fn read_anomalous_minutes(
    ts: &TimeSeries,
    from: i64,
    to: i64,
    test: &str,
) -> Result<BTreeSet<(String, String, String, i64)>, ReadError> {
    let q = Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: anomaly::NAME.into(),
            filters: vec![TagFilter::eq("test", test)],
            range: TimeRange {
                start_ns: from * 1_000_000_000,
                end_ns: to * 1_000_000_000,
            },
        },
        fields: vec![("score".into(), Aggregate::Count)],
        interval: Some(Duration::from_secs(60)),
        group_by_tags: vec!["agent".into(), "target".into(), "metric".into()],
        fill: Fill::None,
    });
    let mut out = BTreeSet::new();
    for s in ts.reader().query(&q).await? {
        let agent = s.tags.get("agent").cloned().unwrap_or_default();
        let target = s.tags.get("target").cloned().unwrap_or_default();
        let metric = s.tags.get("metric").cloned().unwrap_or_default();
        for r in &s.rows {
            out.insert((
                agent.clone(),
                target.clone(),
                metric.clone(),
                r.time_ns.div_euclid(1_000_000_000),
            ));
        }
    }
    Ok(out)
}
