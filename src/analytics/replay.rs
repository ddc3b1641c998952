//! Replays the labelled evaluation set ([`super::eval`]) through the [`Engine`] minute
//! by minute, as the analytics process would see it live: every series refitted on its
//! own (masked) history when its model is due, each point scored as it arrives, the
//! scope regrouped after each minute. Every insight the engine opens — and every change
//! of a wide insight's members, which is when it names more agents or targets — is a
//! [`Finding`] for [`super::score`].

use super::engine::{self, Engine, EngineConfig, InsightEvent, Sample, Scope, SeriesKey, Signal};
use super::eval::{self, EvalSet};
use super::score::Finding;
use std::collections::{BTreeMap, BTreeSet};

/// What a replay produced.
#[derive(Debug, Default)]
pub struct Replay {
    pub findings: Vec<Finding>,
    /// Anomalous points the engine wrote.
    pub anomalies: usize,
    /// Model fits.
    pub fits: usize,
    pub fit_seconds: f64,
    /// What the live model expected at each scored point: (agent, target, time, value).
    pub expected: Vec<(usize, usize, i64, f64)>,
}

/// The engine's key of an evaluation series.
pub fn key(agent: usize, target: usize) -> SeriesKey {
    SeriesKey {
        measurement: "ping",
        agent: EvalSet::agent_name(agent),
        test: EvalSet::test_id(target).to_string(),
        target: EvalSet::target_name(target),
    }
}

/// A ping point as the engine sees it: RTT average, and echoes sent and lost.
pub fn sample(p: &eval::PingPoint) -> Sample {
    Sample {
        time_s: p.time_s,
        latency: p.rtt_avg_ms,
        trials: Some((u64::from(p.sent), u64::from(p.sent - p.received))),
    }
}

/// Runs the engine over `set` after its training days.
pub fn replay(set: &EvalSet, config: EngineConfig) -> Replay {
    let mut engine = Engine::new(config);
    let mut index: BTreeMap<SeriesKey, (usize, usize)> = BTreeMap::new();
    let mut samples: BTreeMap<SeriesKey, Vec<Sample>> = BTreeMap::new();
    for (&(a, t), points) in &set.series {
        let k = key(a, t);
        engine.add_series(&k);
        index.insert(k.clone(), (a, t));
        samples.insert(k, points.iter().map(sample).collect());
    }
    let mut masked: BTreeMap<SeriesKey, BTreeSet<(i64, Signal)>> = BTreeMap::new();
    let mut out = Replay::default();
    // Members each wide insight was last reported with.
    let mut reported: BTreeMap<String, usize> = BTreeMap::new();
    let first = (i64::from(set.config.training_days) * 1440) as usize;
    let minutes = samples.values().map(Vec::len).min().unwrap_or(0);
    let history = (config.history_days * 1440) as usize;
    for m in first..minutes {
        let now_s = set.config.start_s + m as i64 * 60;
        // The due series refitted together, on every core, as the process does.
        let jobs: Vec<_> = samples
            .iter()
            .filter(|(k, _)| engine.needs_refit(k, now_s))
            .map(|(k, series)| {
                let mask = masked.get(k);
                let past: Vec<Sample> = series[m.saturating_sub(history)..m]
                    .iter()
                    .map(|s| {
                        let at = |signal| mask.is_some_and(|set| set.contains(&(s.time_s, signal)));
                        engine::mask(s, at(Signal::Latency), at(Signal::Loss))
                    })
                    .collect();
                engine.refit_job(k, past, now_s)
            })
            .collect();
        if !jobs.is_empty() {
            let started = std::time::Instant::now();
            for f in engine::fit_all(jobs) {
                engine.install(f);
                out.fits += 1;
            }
            out.fit_seconds += started.elapsed().as_secs_f64();
        }
        for (k, series) in &samples {
            if let Some(band) = engine.model(k).and_then(|model| model.band_at(now_s)) {
                let (a, t) = index[k];
                out.expected.push((a, t, now_s, band.expected));
            }
            for a in engine.observe(k, &series[m]) {
                out.anomalies += 1;
                masked
                    .entry(k.clone())
                    .or_default()
                    .insert((a.time_s, a.signal));
            }
        }
        for event in engine.tick(now_s + 60) {
            let insight = match event {
                InsightEvent::Opened(i) => i,
                InsightEvent::Updated(i)
                    if reported
                        .get(&i.fingerprint)
                        .is_some_and(|&n| i.members.len() > n) =>
                {
                    i
                }
                _ => continue,
            };
            reported.insert(insight.fingerprint.clone(), insight.members.len());
            let series: Vec<(usize, usize)> = insight.members.iter().map(|k| index[k]).collect();
            let scope = match &insight.scope {
                Scope::Pair(k) => {
                    let (agent, target) = index[k];
                    eval::Scope::Pair { agent, target }
                }
                Scope::Target { .. } => eval::Scope::Target {
                    target: series[0].1,
                    agents: series.iter().map(|s| s.0).collect(),
                },
                Scope::Agent(_) => eval::Scope::Agent { agent: series[0].0 },
            };
            // The point that made it sure is the minute just scored.
            out.findings.push(Finding {
                series,
                scope,
                detected_s: now_s,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::eval::{EvalConfig, IncidentKind, generate};
    use crate::analytics::score::score;

    /// A small set end to end: the engine finds the plain incidents and raises few
    /// false alarms. (The full set's numbers are in bench/README.md.)
    #[test]
    fn the_engine_finds_injected_incidents_on_a_small_set() {
        let set = generate(&EvalConfig {
            agents: 3,
            targets: 3,
            days: 16,
            training_days: 14,
            incidents_per_kind: 1,
            ..EvalConfig::default()
        });
        let r = replay(&set, EngineConfig::default());
        let s = score(&set, &r.findings);
        assert!(s.recall >= 0.8, "{s:#?}");
        assert!(s.precision >= 0.6, "{s:#?}");
        let shift = &s.per_kind[&IncidentKind::LevelShift];
        assert_eq!(shift.found, 1, "{s:#?}");
    }
}
