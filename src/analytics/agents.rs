//! Each agent as a whole. Per minute one row of features — its paths' latency against
//! their forecasts (median error, in flag levels), its packet loss, its host's CPU and
//! interface errors, its own probe scheduling lag and oldest unsent point — scored by
//! an isolation forest fitted on the agent's own normal minutes
//! ([`streamswarm_stats::multivariate`]). From it:
//!
//! - **multivariate episodes**: minutes unusual as a combination (at least two columns
//!   far from usual and the forest's score above its training quantile), 3 of 5 to
//!   open, 15 ordinary to close (the latency rule's numbers). The engine raises them as
//!   agent insights only when no latency or loss insight already covers the agent.
//! - **host context** for every insight holding the agent's series: the host and agent
//!   columns that stand out since the insight began ("host CPU 97 % (usual 14 %)"),
//!   so "the agent's own link or host" comes with the evidence for it.
//!
//! The rows live in memory (a week per agent). A restarted process starts with none:
//! an agent gets its forest again after [`MIN_ROWS`] minutes.

use super::detector::LatencyRule;
use super::multivariate::{self, AgentForest, FEATURES, MIN_ROWS, NAMES, Row, UNITS};
use crate::timeseries::TimeSeries;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use streamswarm_schema::measurements::{agent_self, host_cpu, host_net};
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, ReadError, Selector, TagFilter, TimeRange, Value,
};

/// Rows kept per agent (a week of minutes): what its forest is fitted on.
pub const KEEP_ROWS: usize = 7 * 1440;

/// The host and self-metrics of an agent in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HostMinute {
    /// `host_cpu` `usage_percent` of `cpu=total`, mean.
    pub cpu_percent: Option<f64>,
    /// `host_net` receive and transmit errors and drops per second, summed over
    /// interfaces.
    pub iface_errors_per_s: Option<f64>,
    /// `agent_self` `schedule_lag_max_ms`, max.
    pub lag_ms: Option<f64>,
    /// `agent_self` `oldest_unsent_age_s`, max.
    pub oldest_unsent_s: Option<f64>,
    /// `agent_self` `clock_offset_ms` (the server's clock minus the agent's), mean. Not
    /// a column of the forest: context for the notes ([`CLOCK_NOTE_MS`]).
    pub clock_offset_ms: Option<f64>,
}

/// A clock this far from the server's (ms, either way) is worth a note: the agent
/// stamps its points, so they land in other minutes than the server's and other
/// agents' (scores against a seasonal forecast, alignment across agents).
pub const CLOCK_NOTE_MS: f64 = 1000.0;

/// What a minute of an agent gathers while its series are scored.
#[derive(Debug, Clone, Default)]
struct Pending {
    errors: Vec<f64>,
    trials: u64,
    failures: u64,
    host: HostMinute,
}

impl Pending {
    fn row(&self) -> Row {
        let none = f64::NAN;
        let latency = if self.errors.is_empty() {
            none
        } else {
            let mut e = self.errors.clone();
            let mid = e.len() / 2;
            *e.select_nth_unstable_by(mid, f64::total_cmp).1
        };
        let loss = if self.trials > 0 {
            100.0 * self.failures as f64 / self.trials as f64
        } else {
            none
        };
        let h = self.host;
        [
            latency,
            loss,
            h.cpu_percent.unwrap_or(none),
            h.iface_errors_per_s.unwrap_or(none),
            h.lag_ms.unwrap_or(none),
            h.oldest_unsent_s.unwrap_or(none),
        ]
    }
}

/// An agent's multivariate episode.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentEpisode {
    pub start_s: i64,
    pub detected_s: i64,
    /// Set when it closed.
    pub last_s: Option<i64>,
    /// The highest score (spreads above the training median) and that minute's row.
    pub peak: f64,
    pub peak_row: Row,
}

/// One agent's rows, forest and multivariate state.
#[derive(Debug, Default)]
pub struct AgentState {
    pending: BTreeMap<i64, Pending>,
    /// (minute, row, whether the minute was normal: no episode of the agent open).
    rows: VecDeque<(i64, Row, bool)>,
    /// (minute, clock offset) of the minutes that reported one, as long as the rows.
    clock: VecDeque<(i64, f64)>,
    forest: Option<AgentForest>,
    fitted_at_s: Option<i64>,
    recent: VecDeque<bool>,
    clear_run: usize,
    pub episode: Option<AgentEpisode>,
}

impl AgentState {
    /// A latency point of one of the agent's series: its error in flag levels.
    pub fn add_error(&mut self, minute_s: i64, error: f64) {
        // Capped: one path ten times slower is one path, not the agent.
        let e = error.clamp(-5.0, 5.0);
        self.pending.entry(minute_s).or_default().errors.push(e);
    }

    pub fn add_trials(&mut self, minute_s: i64, trials: u64, failures: u64) {
        let p = self.pending.entry(minute_s).or_default();
        p.trials += trials;
        p.failures += failures;
    }

    pub fn add_host(&mut self, minute_s: i64, host: HostMinute) {
        self.pending.entry(minute_s).or_default().host = host;
    }

    /// Scores the minutes before `now_s` gathered so far (`troubled`: whether a
    /// latency or loss episode of the agent is open, so the minutes are not normal).
    /// Refits the forest when due. Returns whether the episode opened or closed.
    pub fn advance(
        &mut self,
        now_s: i64,
        troubled: bool,
        rule: &LatencyRule,
        refit_every_s: i64,
    ) -> Option<bool> {
        let mut changed = None;
        let due: Vec<i64> = self.pending.range(..now_s).map(|(t, _)| *t).collect();
        for minute in due {
            let Some(p) = self.pending.remove(&minute) else {
                continue;
            };
            let row = p.row();
            let mut unusual = false;
            if let Some(forest) = &self.forest {
                let (u, z) = forest.unusual(&row);
                unusual = u;
                if let Some(e) = self.episode.as_mut().filter(|e| e.last_s.is_none())
                    && z > e.peak
                {
                    e.peak = z;
                    e.peak_row = row;
                }
                self.recent.push_back(u);
                while self.recent.len() > rule.open_n {
                    self.recent.pop_front();
                }
                let open = self.episode.as_ref().is_some_and(|e| e.last_s.is_none());
                if open {
                    self.clear_run = if u { 0 } else { self.clear_run + 1 };
                    if self.clear_run >= rule.close_after
                        && let Some(e) = self.episode.as_mut()
                    {
                        e.last_s = Some(minute - self.clear_run as i64 * 60);
                        changed = Some(false);
                    }
                } else if u && self.recent.iter().filter(|f| **f).count() >= rule.open_k {
                    let first = minute - (self.recent.len() as i64 - 1) * 60;
                    let start_s = self
                        .recent
                        .iter()
                        .position(|f| *f)
                        .map_or(minute, |i| first + i as i64 * 60);
                    self.episode = Some(AgentEpisode {
                        start_s,
                        detected_s: minute + 60,
                        last_s: None,
                        peak: forest.unusual(&row).1,
                        peak_row: row,
                    });
                    self.clear_run = 0;
                    changed = Some(true);
                }
            }
            let open = self.episode.as_ref().is_some_and(|e| e.last_s.is_none());
            self.rows
                .push_back((minute, row, !troubled && !open && !unusual));
            while self.rows.len() > KEEP_ROWS {
                self.rows.pop_front();
            }
            if let Some(offset) = p.host.clock_offset_ms {
                self.clock.push_back((minute, offset));
            }
            while self.clock.len() > KEEP_ROWS {
                self.clock.pop_front();
            }
        }
        if self.fitted_at_s.is_none_or(|t| now_s - t >= refit_every_s) {
            let normal: Vec<Row> = self
                .rows
                .iter()
                .filter(|(_, _, n)| *n)
                .map(|(_, r, _)| *r)
                .collect();
            if normal.len() >= MIN_ROWS {
                self.forest = multivariate::fit(&normal).ok();
                self.fitted_at_s = Some(now_s);
            }
        }
        changed
    }

    /// Forgets a closed episode (its insight was resolved).
    pub fn clear_closed(&mut self) {
        if self.episode.as_ref().is_some_and(|e| e.last_s.is_some()) {
            self.episode = None;
        }
    }

    /// What stands out in `row` against the agent's usual minutes, as notes; only the
    /// columns in `columns`.
    fn notes_for(&self, row: &Row, columns: std::ops::Range<usize>) -> Vec<String> {
        let Some(forest) = &self.forest else {
            return Vec::new();
        };
        forest
            .outstanding(row, multivariate::MIN_Z)
            .into_iter()
            .filter(|(c, _)| columns.contains(c))
            .map(|(c, _)| {
                format!(
                    "{} {} (usual {})",
                    NAMES[c],
                    value(row[c], UNITS[c]),
                    value(forest.usual(c), UNITS[c])
                )
            })
            .collect()
    }

    /// Notes for the multivariate episode: every column that stood out at its peak.
    pub fn episode_notes(&self) -> Vec<String> {
        self.episode
            .as_ref()
            .map(|e| self.notes_for(&e.peak_row, 0..FEATURES))
            .unwrap_or_default()
    }

    /// Host context since `since_s`: the host and agent columns (CPU, interface errors,
    /// scheduling lag, spool age) whose median since then stands out.
    pub fn host_notes(&self, since_s: i64) -> Vec<String> {
        let since: Vec<&Row> = self
            .rows
            .iter()
            .filter(|(t, _, _)| *t >= since_s)
            .map(|(_, r, _)| r)
            .collect();
        if since.is_empty() {
            return Vec::new();
        }
        let mut median = [f64::NAN; FEATURES];
        for (c, m) in median.iter_mut().enumerate().skip(2) {
            let mut col: Vec<f64> = since
                .iter()
                .map(|r| r[c])
                .filter(|v| v.is_finite())
                .collect();
            if !col.is_empty() {
                let mid = col.len() / 2;
                *m = *col.select_nth_unstable_by(mid, f64::total_cmp).1;
            }
        }
        let mut notes = self.notes_for(&median, 2..FEATURES);
        let mut offsets: Vec<f64> = self
            .clock
            .iter()
            .filter(|(t, _)| *t >= since_s)
            .map(|(_, o)| *o)
            .collect();
        if !offsets.is_empty() {
            let mid = offsets.len() / 2;
            let offset = *offsets.select_nth_unstable_by(mid, f64::total_cmp).1;
            if offset.abs() >= CLOCK_NOTE_MS {
                let way = if offset > 0.0 { "behind" } else { "ahead of" };
                notes.push(format!(
                    "agent clock {:.1} s {way} the server's",
                    offset.abs() / 1000.0
                ));
            }
        }
        notes
    }
}

fn value(v: f64, unit: &str) -> String {
    match unit {
        "%" => format!("{v:.0} %"),
        "flag levels" => format!("{v:.1} × its flag level"),
        "/s" => format!("{v:.1}/s"),
        _ => format!("{v:.0} {unit}"),
    }
}

/// Every agent's host and self-metrics in `[from, to)`, per minute.
pub async fn read_host_minutes(
    ts: &TimeSeries,
    from: i64,
    to: i64,
) -> Result<BTreeMap<String, BTreeMap<i64, HostMinute>>, ReadError> {
    let range = TimeRange {
        start_ns: from * 1_000_000_000,
        end_ns: to * 1_000_000_000,
    };
    let query = |measurement: &str, filters, fields, group: &[&str]| {
        Query::Aggregate(AggregateQuery {
            selector: Selector {
                measurement: measurement.into(),
                filters,
                range,
            },
            fields,
            interval: Some(Duration::from_secs(60)),
            group_by_tags: group.iter().map(|g| g.to_string()).collect(),
            fill: Fill::None,
        })
    };
    let mut out: BTreeMap<String, BTreeMap<i64, HostMinute>> = BTreeMap::new();
    let num = |v: Option<&Option<Value>>| v.and_then(Option::as_ref).and_then(Value::as_f64);
    let cpu = query(
        host_cpu::NAME,
        vec![TagFilter::eq("cpu", "total")],
        vec![(
            host_cpu::fields::USAGE_PERCENT.name().into(),
            Aggregate::Mean,
        )],
        &["agent"],
    );
    for s in ts.reader().query(&cpu).await? {
        let agent = s.tags.get("agent").cloned().unwrap_or_default();
        for r in &s.rows {
            let m = out.entry(agent.clone()).or_default();
            m.entry(r.time_ns.div_euclid(1_000_000_000))
                .or_default()
                .cpu_percent = num(r.values.first());
        }
    }
    let net_fields = [
        host_net::fields::RX_ERRORS_PER_S.name(),
        host_net::fields::TX_ERRORS_PER_S.name(),
        host_net::fields::RX_DROPS_PER_S.name(),
        host_net::fields::TX_DROPS_PER_S.name(),
    ];
    let net = query(
        host_net::NAME,
        Vec::new(),
        net_fields
            .iter()
            .map(|f| (f.to_string(), Aggregate::Mean))
            .collect(),
        &["agent", "interface"],
    );
    for s in ts.reader().query(&net).await? {
        let agent = s.tags.get("agent").cloned().unwrap_or_default();
        for r in &s.rows {
            let sum: f64 = (0..net_fields.len())
                .filter_map(|i| num(r.values.get(i)))
                .sum();
            let h = out
                .entry(agent.clone())
                .or_default()
                .entry(r.time_ns.div_euclid(1_000_000_000))
                .or_default();
            h.iface_errors_per_s = Some(h.iface_errors_per_s.unwrap_or(0.0) + sum);
        }
    }
    let me = query(
        agent_self::NAME,
        Vec::new(),
        vec![
            (
                agent_self::fields::SCHEDULE_LAG_MAX_MS.name().into(),
                Aggregate::Max,
            ),
            (
                agent_self::fields::OLDEST_UNSENT_AGE_S.name().into(),
                Aggregate::Max,
            ),
            (
                agent_self::fields::CLOCK_OFFSET_MS.name().into(),
                Aggregate::Mean,
            ),
        ],
        &["agent"],
    );
    for s in ts.reader().query(&me).await? {
        let agent = s.tags.get("agent").cloned().unwrap_or_default();
        for r in &s.rows {
            let h = out
                .entry(agent.clone())
                .or_default()
                .entry(r.time_ns.div_euclid(1_000_000_000))
                .or_default();
            h.lag_ms = num(r.values.first());
            h.oldest_unsent_s = num(r.values.get(1));
            h.clock_offset_ms = num(r.values.get(2));
        }
    }
    out.retain(|agent, _| !agent.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::engine::{Engine, EngineConfig, InsightEvent, Sample, SeriesKey, Signal};

    /// Deterministic noise in [0, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A whole minute.
    const T0: i64 = 1_700_000_040;

    fn keys() -> Vec<SeriesKey> {
        (1..=3)
            .map(|t| SeriesKey {
                measurement: "ping",
                agent: "1".into(),
                test: t.to_string(),
                target: format!("10.0.0.{t}"),
            })
            .collect()
    }

    fn sample(rng: &mut Lcg, time_s: i64, extra_ms: f64) -> Sample {
        Sample {
            time_s,
            latency: Some(20.0 + 2.0 * rng.next() + extra_ms),
            trials: Some((30, 0)),
        }
    }

    fn host(rng: &mut Lcg, busy: bool) -> HostMinute {
        HostMinute {
            cpu_percent: Some(if busy { 97.0 } else { 10.0 + 10.0 * rng.next() }),
            iface_errors_per_s: Some(0.0),
            lag_ms: Some(if busy { 2000.0 } else { 2.0 + 3.0 * rng.next() }),
            oldest_unsent_s: Some(5.0 + 5.0 * rng.next()),
            clock_offset_ms: None,
        }
    }

    /// An engine and the history of its series (agent 1 towards three targets).
    struct Lab {
        engine: Engine,
        history: BTreeMap<SeriesKey, Vec<Sample>>,
        rng: Lcg,
    }

    impl Lab {
        /// Two days of history, then `normal` ordinary minutes scored (the agent's
        /// forest is fitted on them); `series` of the three keys.
        fn warmed(seed: u64, normal: i64, series: usize) -> Lab {
            let mut rng = Lcg(seed);
            let mut history = BTreeMap::new();
            for k in keys().into_iter().take(series) {
                let h: Vec<Sample> = (0..2 * 1440)
                    .map(|m| sample(&mut rng, T0 - (2 * 1440 - m) * 60, 0.0))
                    .collect();
                history.insert(k, h);
            }
            let mut lab = Lab {
                engine: Engine::new(EngineConfig::default()),
                history,
                rng,
            };
            for m in 0..normal {
                lab.minute(m, 0.0, Some(false));
            }
            lab
        }

        /// Minute `m`: every path `extra_ms` slower, the host busy or not (or no host
        /// metrics); refits what is due first, as the process does.
        fn minute(&mut self, m: i64, extra_ms: f64, busy: Option<bool>) -> Vec<InsightEvent> {
            let t = T0 + m * 60;
            for (k, h) in &self.history {
                if self.engine.needs_refit(k, t) {
                    self.engine.refit(k, h, t);
                }
            }
            if let Some(busy) = busy {
                let h = host(&mut self.rng, busy);
                self.engine.observe_host("1", t, h);
            }
            for (k, h) in &mut self.history {
                let s = sample(&mut self.rng, t, extra_ms);
                self.engine.observe(k, &s);
                h.push(s);
            }
            self.engine.tick(t + 60)
        }
    }

    #[test]
    fn a_saturated_host_is_a_multivariate_agent_insight_that_resolves() {
        let mut lab = Lab::warmed(3, 300, 3);
        assert_eq!(lab.engine.open_insights().count(), 0);
        let mut opened = None;
        for m in 300..315 {
            for e in lab.minute(m, 0.0, Some(true)) {
                if let InsightEvent::Opened(i) = e {
                    opened.get_or_insert((m, i));
                }
            }
        }
        let (m, i) = opened.expect("no insight for 15 saturated minutes");
        assert!(m <= 304, "opened at minute {m}");
        assert_eq!(i.signal, Signal::Multivariate);
        assert_eq!(i.scope, crate::analytics::engine::Scope::Agent("1".into()));
        assert_eq!(i.start_s, T0 + 300 * 60);
        assert!(
            i.notes
                .iter()
                .any(|n| n.starts_with("host CPU 97 % (usual 1")),
            "{:?}",
            i.notes
        );
        assert!(
            i.notes
                .iter()
                .any(|n| n.starts_with("probe scheduling lag 2000 ms")),
            "{:?}",
            i.notes
        );
        let mut resolved = None;
        for m in 315..345 {
            for e in lab.minute(m, 0.0, Some(false)) {
                if let InsightEvent::Resolved { at_s, .. } = e {
                    resolved.get_or_insert(at_s);
                }
            }
        }
        assert_eq!(
            resolved,
            Some(T0 + 330 * 60),
            "resolved after 15 calm minutes"
        );
        assert_eq!(lab.engine.open_insights().count(), 0);
    }

    #[test]
    fn an_agent_latency_insight_quotes_its_saturated_host_and_no_multivariate_one_opens() {
        let mut lab = Lab::warmed(5, 300, 3);
        let mut seen = Vec::new();
        for m in 300..310 {
            for e in lab.minute(m, 15.0, Some(true)) {
                if let InsightEvent::Opened(i) | InsightEvent::Updated(i) = e {
                    seen.push(i);
                }
            }
        }
        assert!(
            seen.iter().all(|i| i.signal == Signal::Latency),
            "{:?}",
            seen.iter().map(|i| &i.fingerprint).collect::<Vec<_>>()
        );
        let last = seen.last().expect("no latency insight");
        assert_eq!(
            last.scope,
            crate::analytics::engine::Scope::Agent("1".into())
        );
        assert!(
            last.notes.iter().any(|n| n.starts_with("host CPU 97 %")),
            "{:?}",
            last.notes
        );
        let sentence = crate::analytics::explain::sentence(last);
        assert!(sentence.contains("On the agent: "), "{sentence}");
    }

    #[test]
    fn minutes_without_host_metrics_add_no_host_notes() {
        let mut lab = Lab::warmed(9, 300, 1);
        let mut notes = Vec::new();
        for m in 300..310 {
            for e in lab.minute(m, 15.0, None) {
                if let InsightEvent::Opened(i) | InsightEvent::Updated(i) = e {
                    notes.extend(i.notes);
                }
            }
        }
        assert!(lab.engine.open_insights().count() > 0);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn an_insight_notes_an_agent_clock_far_from_the_servers_even_without_a_forest() {
        for (offset, expected) in [
            (2500.0, Some("agent clock 2.5 s behind the server's")),
            (-1800.0, Some("agent clock 1.8 s ahead of the server's")),
            (300.0, None),
        ] {
            let mut lab = Lab::warmed(7, 0, 1);
            for m in 0..10 {
                let host = HostMinute {
                    clock_offset_ms: Some(offset),
                    ..HostMinute::default()
                };
                lab.engine.observe_host("1", T0 + m * 60, host);
                lab.minute(m, 15.0, None);
            }
            let open: Vec<_> = lab.engine.open_insights().collect();
            assert_eq!(open.len(), 1, "offset {offset}");
            let clock: Vec<&String> = open[0]
                .notes
                .iter()
                .filter(|n| n.contains("clock"))
                .collect();
            assert_eq!(clock.first().map(|n| n.as_str()), expected, "{open:?}");
        }
    }
}
