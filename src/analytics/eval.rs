//! The labelled evaluation set for the analytics (issue 12): ping series of a synthetic
//! fleet, agents × targets at 1-minute resolution over weeks, with daily and weekly
//! seasonality, heavy-tailed noise and benign one-minute blips, plus incidents injected
//! with a known kind, scope, start and end. The labels are the injections themselves —
//! never the output of a detector's rules — so a detector's precision and recall
//! measured on this set mean something.
//!
//! Deterministic: the same [`EvalConfig`] (seed included) gives the same points and
//! labels on every machine and every version of this crate's dependencies (ChaCha8 is a
//! specified generator; `StdRng` is not).
//!
//! The first `training_days` days carry no incident: a detector fits on them.
//! Incidents start later, never overlap on a series (a quiet gap separates them), and
//! each lists the series it affects, so "found" and "scope right" are decidable.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, StudentT};
use serde::Serialize;
use std::collections::BTreeMap;
use streamswarm_agent::probes::stats::summarize;

/// What to generate.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub seed: u64,
    pub agents: usize,
    pub targets: usize,
    pub days: u32,
    /// Incident-free days at the start (the training window).
    pub training_days: u32,
    /// Unix seconds of the first minute (a Monday 00:00 UTC keeps weeks aligned).
    pub start_s: i64,
    /// Echo requests per one-minute ping point.
    pub pings_per_point: u32,
    /// Incidents of each kind to inject.
    pub incidents_per_kind: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            seed: 11,
            agents: 6,
            targets: 6,
            // Two weeks of history before the first incident: a weekly season (weekends
            // are quieter) can only be learnt from two of them.
            days: 22,
            training_days: 14,
            // Monday 2026-11-02 00:00 UTC.
            start_s: 1_793_577_600,
            pings_per_point: 10,
            incidents_per_kind: 6,
        }
    }
}

/// The kinds of incident injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// RTT steps up by a fixed amount on one agent–target pair.
    LevelShift,
    /// RTT and jitter up together, with some loss (a congested link) on one pair.
    Congestion,
    /// Loss of 20–60 % on one pair, RTT unchanged.
    LossBurst,
    /// RTT rising linearly over hours on one pair, back to normal at the end.
    SlowRamp,
    /// One target degraded (RTT step) as seen from most agents.
    TargetDegraded,
    /// One agent degraded (RTT step) towards every target.
    AgentDegraded,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 6] = [
        IncidentKind::LevelShift,
        IncidentKind::Congestion,
        IncidentKind::LossBurst,
        IncidentKind::SlowRamp,
        IncidentKind::TargetDegraded,
        IncidentKind::AgentDegraded,
    ];
}

/// Who an incident affects: the answer to "one pair, one target, or one agent?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Scope {
    Pair { agent: usize, target: usize },
    Target { target: usize, agents: Vec<usize> },
    Agent { agent: usize },
}

/// One injected incident: the label.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: usize,
    pub kind: IncidentKind,
    #[serde(flatten)]
    pub scope: Scope,
    /// Unix seconds, first affected minute (inclusive).
    pub start_s: i64,
    /// Unix seconds, first minute after it (exclusive).
    pub end_s: i64,
    /// Size of the change: extra RTT in ms (for a ramp, at its end), or loss in %.
    pub magnitude: f64,
    /// The (agent, target) series it affects.
    pub series: Vec<(usize, usize)>,
}

/// One one-minute ping summary, as the ping probe writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PingPoint {
    pub time_s: i64,
    pub sent: u32,
    pub received: u32,
    /// Absent when nothing came back.
    pub rtt_avg_ms: Option<f64>,
    pub rtt_min_ms: Option<f64>,
    pub rtt_max_ms: Option<f64>,
    /// iputils' mdev: the population standard deviation.
    pub rtt_mdev_ms: Option<f64>,
    /// Nearest-rank percentiles, as the ping probe computes them.
    pub rtt_p50_ms: Option<f64>,
    pub rtt_p90_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
}

impl PingPoint {
    pub fn loss_percent(&self) -> f64 {
        100.0 * f64::from(self.sent - self.received) / f64::from(self.sent)
    }
}

/// A generated set: per (agent, target) series its points, and the labels.
#[derive(Debug, Clone)]
pub struct EvalSet {
    pub config: EvalConfig,
    pub series: BTreeMap<(usize, usize), Vec<PingPoint>>,
    pub incidents: Vec<Incident>,
    /// Benign one-minute blips (unlabelled on purpose; listed for diagnosis only).
    pub blips: Vec<(usize, usize, i64)>,
}

/// The quiet series of one pair: its baseline and seasonal shape.
struct Profile {
    base_ms: f64,
    daily_amp: f64,
    /// Hour of the daily peak (the pair's evening busy hour).
    peak_hour: f64,
    weekend_factor: f64,
    noise_ms: f64,
    base_loss: f64,
}

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;

/// Generates the set for `config`.
pub fn generate(config: &EvalConfig) -> EvalSet {
    assert!(
        config.training_days < config.days,
        "no day left for incidents"
    );
    assert!(
        config.agents >= 3 && config.targets >= 3,
        "scopes need ≥ 3 agents and targets"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let minutes = i64::from(config.days) * DAY / MINUTE;
    let mut profiles = BTreeMap::new();
    for a in 0..config.agents {
        for t in 0..config.targets {
            let base_ms = rng.random_range(4.0..80.0);
            profiles.insert(
                (a, t),
                Profile {
                    base_ms,
                    daily_amp: base_ms * rng.random_range(0.05..0.25),
                    peak_hour: rng.random_range(18.0..22.0),
                    weekend_factor: rng.random_range(0.85..0.97),
                    noise_ms: base_ms * rng.random_range(0.01..0.04) + 0.05,
                    base_loss: rng.random_range(0.0..0.002),
                },
            );
        }
    }
    let bases: BTreeMap<(usize, usize), f64> =
        profiles.iter().map(|(k, p)| (*k, p.base_ms)).collect();
    let incidents = place_incidents(config, &mut rng, &bases);
    let student = StudentT::new(3.0).unwrap();
    let unit = Normal::new(0.0, 1.0).unwrap();
    let mut series = BTreeMap::new();
    let mut blips = Vec::new();
    for (&(a, t), p) in &profiles {
        let mut points = Vec::with_capacity(minutes as usize);
        let affecting: Vec<&Incident> = incidents
            .iter()
            .filter(|i| i.series.contains(&(a, t)))
            .collect();
        for m in 0..minutes {
            let time_s = config.start_s + m * MINUTE;
            let into_day = (time_s - config.start_s).rem_euclid(DAY) as f64 / 3600.0;
            let weekday = ((time_s - config.start_s) / DAY).rem_euclid(7);
            let weekend = weekday >= 5;
            let phase = (into_day - p.peak_hour) / 24.0 * std::f64::consts::TAU;
            let mut level = p.base_ms + p.daily_amp * phase.cos();
            if weekend {
                level *= p.weekend_factor;
            }
            let mut noise = p.noise_ms;
            let mut loss = p.base_loss;
            for i in &affecting {
                if time_s < i.start_s || time_s >= i.end_s {
                    continue;
                }
                match i.kind {
                    IncidentKind::LevelShift
                    | IncidentKind::TargetDegraded
                    | IncidentKind::AgentDegraded => level += i.magnitude,
                    IncidentKind::Congestion => {
                        level += i.magnitude;
                        noise += i.magnitude * 0.4;
                        loss += 0.02;
                    }
                    IncidentKind::LossBurst => loss += i.magnitude / 100.0,
                    IncidentKind::SlowRamp => {
                        let f = (time_s - i.start_s) as f64 / (i.end_s - i.start_s) as f64;
                        level += i.magnitude * f;
                    }
                }
            }
            // A benign blip: about one a day per series, one minute, 2–5× the level.
            if rng.random_bool(1.0 / 1440.0) {
                level *= rng.random_range(2.0..5.0);
                blips.push((a, t, time_s));
            }
            let sent = config.pings_per_point;
            let received = (0..sent)
                .filter(|_| !rng.random_bool(loss.clamp(0.0, 1.0)))
                .count() as u32;
            if received == 0 {
                points.push(PingPoint {
                    time_s,
                    sent,
                    received,
                    rtt_avg_ms: None,
                    rtt_min_ms: None,
                    rtt_max_ms: None,
                    rtt_mdev_ms: None,
                    rtt_p50_ms: None,
                    rtt_p90_ms: None,
                    jitter_ms: None,
                });
                continue;
            }
            // Per-echo RTTs: the level plus heavy-tailed, one-sided-ish noise (queues
            // only ever add delay), never below the propagation floor.
            let floor = p.base_ms * 0.8;
            let rtts: Vec<f64> = (0..received)
                .map(|_| {
                    let e: f64 = student.sample(&mut rng);
                    let jitter: f64 = unit.sample(&mut rng) * noise * 0.3;
                    (level + e.abs() * noise + jitter).max(floor)
                })
                .collect();
            // Summarised exactly as the ping probe summarises its echoes.
            let sum = summarize(&rtts).expect("at least one RTT");
            points.push(PingPoint {
                time_s,
                sent,
                received,
                rtt_avg_ms: Some(sum.avg_ms),
                rtt_min_ms: Some(sum.min_ms),
                rtt_max_ms: Some(sum.max_ms),
                rtt_mdev_ms: Some(sum.mdev_ms),
                rtt_p50_ms: Some(sum.p50_ms),
                rtt_p90_ms: Some(sum.p90_ms),
                jitter_ms: sum.jitter_ms,
            });
        }
        series.insert((a, t), points);
    }
    EvalSet {
        config: config.clone(),
        series,
        incidents,
        blips,
    }
}

/// Places `incidents_per_kind` of each kind after the training days, so that no series
/// has two incidents within an hour of each other.
fn place_incidents(
    config: &EvalConfig,
    rng: &mut ChaCha8Rng,
    bases: &BTreeMap<(usize, usize), f64>,
) -> Vec<Incident> {
    let first = config.start_s + i64::from(config.training_days) * DAY;
    let last = config.start_s + i64::from(config.days) * DAY;
    let mut busy: BTreeMap<(usize, usize), Vec<(i64, i64)>> = BTreeMap::new();
    let mut out = Vec::new();
    for kind in IncidentKind::ALL {
        let mut placed = 0;
        let mut tries = 0;
        while placed < config.incidents_per_kind {
            tries += 1;
            assert!(
                tries < 10_000,
                "cannot place {kind:?} incidents: too many for the days"
            );
            let minutes: i64 = match kind {
                IncidentKind::LossBurst => rng.random_range(5..=30),
                IncidentKind::SlowRamp => rng.random_range(180..=480),
                _ => rng.random_range(20..=180),
            };
            let start_s = rng.random_range(first..last - minutes * MINUTE) / MINUTE * MINUTE;
            let end_s = start_s + minutes * MINUTE;
            let agent = rng.random_range(0..config.agents);
            let target = rng.random_range(0..config.targets);
            let (scope, series) = match kind {
                IncidentKind::TargetDegraded => {
                    // Most agents, not all: "4 of 6 agents see +35 ms".
                    let k = (config.agents * 2).div_ceil(3);
                    let mut agents: Vec<usize> = (0..config.agents).collect();
                    for i in (1..agents.len()).rev() {
                        agents.swap(i, rng.random_range(0..=i));
                    }
                    agents.truncate(k);
                    agents.sort_unstable();
                    let series = agents.iter().map(|&a| (a, target)).collect();
                    (Scope::Target { target, agents }, series)
                }
                IncidentKind::AgentDegraded => (
                    Scope::Agent { agent },
                    (0..config.targets).map(|t| (agent, t)).collect(),
                ),
                _ => (Scope::Pair { agent, target }, vec![(agent, target)]),
            };
            let gap = 60 * MINUTE;
            let clear = series.iter().all(|s: &(usize, usize)| {
                busy.get(s).is_none_or(|spans| {
                    spans
                        .iter()
                        .all(|&(a, b)| end_s + gap <= a || start_s >= b + gap)
                })
            });
            if !clear {
                continue;
            }
            for s in &series {
                busy.entry(*s).or_default().push((start_s, end_s));
            }
            // Sizes relative to the affected paths' baseline RTT, from subtle (+10 %, a
            // few ms on a short path) to plain (+60 %); loss from 10 to 50 %.
            let base = series
                .iter()
                .map(|s| bases[s])
                .fold(f64::INFINITY, f64::min);
            let magnitude = match kind {
                IncidentKind::LossBurst => rng.random_range(10.0..50.0),
                IncidentKind::SlowRamp => base * rng.random_range(0.2..0.8) + 1.0,
                _ => base * rng.random_range(0.1..0.6) + 1.0,
            };
            out.push(Incident {
                id: out.len(),
                kind,
                scope,
                start_s,
                end_s,
                magnitude,
                series,
            });
            placed += 1;
        }
    }
    out.sort_by_key(|i| (i.start_s, i.id));
    for (i, incident) in out.iter_mut().enumerate() {
        incident.id = i;
    }
    out
}

impl EvalSet {
    /// The agent and target names used in the points' tags.
    pub fn agent_name(a: usize) -> String {
        format!("{}", a + 1)
    }

    pub fn target_name(t: usize) -> String {
        format!("10.0.{}.1", t + 1)
    }

    /// The test id of an (agent, target) series: one ping test per target.
    pub fn test_id(t: usize) -> i64 {
        t as i64 + 1
    }

    /// The points of every series as `ping` line protocol (second precision), in
    /// chunks of at most `max_lines` lines, series after series.
    pub fn line_protocol(&self, max_lines: usize) -> Vec<String> {
        self.lines(max_lines, i64::MAX, true)
    }

    /// As [`EvalSet::line_protocol`], the points before `until_s` with only the fields
    /// the analytics process reads (`sent`, `received`, `rtt_avg_ms`): the speed
    /// benchmark loads a thousand series without paying for what is never read.
    pub fn line_protocol_analysed(&self, max_lines: usize, until_s: i64) -> Vec<String> {
        self.lines(max_lines, until_s, false)
    }

    fn lines(&self, max_lines: usize, until_s: i64, all_fields: bool) -> Vec<String> {
        let mut chunks = Vec::new();
        let mut chunk = String::new();
        let mut lines = 0;
        for (&(a, t), points) in &self.series {
            for p in points.iter().take_while(|p| p.time_s < until_s) {
                use std::fmt::Write;
                write!(
                    chunk,
                    "ping,agent={},target={},test={} sent={}i,received={}i",
                    Self::agent_name(a),
                    Self::target_name(t),
                    Self::test_id(t),
                    p.sent,
                    p.received,
                )
                .unwrap();
                if let Some(v) = p.rtt_avg_ms {
                    write!(chunk, ",rtt_avg_ms={v}").unwrap();
                }
                if all_fields {
                    write!(chunk, ",duplicates=0i,loss_percent={}", p.loss_percent()).unwrap();
                    for (name, v) in [
                        ("rtt_min_ms", p.rtt_min_ms),
                        ("rtt_max_ms", p.rtt_max_ms),
                        ("rtt_mdev_ms", p.rtt_mdev_ms),
                        ("rtt_p50_ms", p.rtt_p50_ms),
                        ("rtt_p90_ms", p.rtt_p90_ms),
                        ("jitter_ms", p.jitter_ms),
                    ] {
                        if let Some(v) = v {
                            write!(chunk, ",{name}={v}").unwrap();
                        }
                    }
                }
                writeln!(chunk, " {}", p.time_s).unwrap();
                lines += 1;
                if lines == max_lines {
                    chunks.push(std::mem::take(&mut chunk));
                    lines = 0;
                }
            }
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        chunks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> EvalConfig {
        EvalConfig {
            agents: 3,
            targets: 3,
            days: 10,
            training_days: 7,
            incidents_per_kind: 2,
            ..EvalConfig::default()
        }
    }

    /// Median of the minutes' RTT averages (robust to the benign blips).
    fn mean_rtt(points: &[PingPoint], from: i64, to: i64) -> f64 {
        let mut v: Vec<f64> = points
            .iter()
            .filter(|p| p.time_s >= from && p.time_s < to)
            .filter_map(|p| p.rtt_avg_ms)
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    #[test]
    fn the_same_seed_gives_the_same_set_and_another_seed_another() {
        let a = generate(&small());
        let b = generate(&small());
        assert_eq!(a.series, b.series);
        assert_eq!(
            serde_json::to_string(&a.incidents).unwrap(),
            serde_json::to_string(&b.incidents).unwrap()
        );
        let c = generate(&EvalConfig {
            seed: 12,
            ..small()
        });
        assert_ne!(a.series, c.series);
    }

    #[test]
    fn every_series_has_every_minute_and_no_incident_in_training() {
        let config = small();
        let set = generate(&config);
        assert_eq!(set.series.len(), 9);
        for points in set.series.values() {
            assert_eq!(points.len(), 10 * 1440);
            assert!(points.windows(2).all(|w| w[1].time_s - w[0].time_s == 60));
        }
        let training_end = config.start_s + 7 * DAY;
        assert_eq!(set.incidents.len(), 12);
        for i in &set.incidents {
            assert!(i.start_s >= training_end, "{i:?}");
            assert!(i.end_s <= config.start_s + 10 * DAY, "{i:?}");
            assert!(!i.series.is_empty());
        }
    }

    #[test]
    fn incidents_change_what_their_kind_says_on_exactly_their_series() {
        let set = generate(&small());
        for i in &set.incidents {
            for (&(a, t), points) in &set.series {
                // Same minutes a week earlier (training days): the seasonal baseline.
                let before = mean_rtt(points, i.start_s - 7 * DAY, i.end_s - 7 * DAY);
                let during = mean_rtt(points, i.start_s, i.end_s);
                let lost: u32 = points
                    .iter()
                    .filter(|p| p.time_s >= i.start_s && p.time_s < i.end_s)
                    .map(|p| p.sent - p.received)
                    .sum();
                let n = ((i.end_s - i.start_s) / 60) as f64;
                let loss_pct = 100.0 * f64::from(lost) / (n * 10.0);
                let affected = i.series.contains(&(a, t));
                match (i.kind, affected) {
                    (IncidentKind::LossBurst, true) => {
                        assert!(loss_pct > i.magnitude * 0.5, "{i:?}: {loss_pct} %")
                    }
                    (IncidentKind::SlowRamp, true) => {
                        assert!(
                            during - before > i.magnitude * 0.25,
                            "{i:?}: {before} → {during}"
                        )
                    }
                    (_, true) => {
                        assert!(
                            during - before > i.magnitude * 0.6,
                            "{i:?}: {before} → {during}"
                        )
                    }
                    // Unaffected series stay near their baseline (blips aside).
                    (_, false) if i.kind != IncidentKind::LossBurst => {
                        let others_hit = set.incidents.iter().any(|o| {
                            o.series.contains(&(a, t)) && o.start_s < i.end_s && o.end_s > i.start_s
                        });
                        if !others_hit {
                            assert!(
                                (during - before).abs() < i.magnitude * 0.5,
                                "{i:?} leaked to ({a}, {t}): {before} → {during}"
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn scopes_name_the_series_they_affect() {
        let config = small();
        let set = generate(&config);
        for i in &set.incidents {
            match &i.scope {
                Scope::Pair { agent, target } => assert_eq!(i.series, vec![(*agent, *target)]),
                Scope::Target { target, agents } => {
                    assert_eq!(agents.len(), 2, "2 of 3 agents");
                    assert!(i.series.iter().all(|(_, t)| t == target));
                }
                Scope::Agent { agent } => {
                    assert_eq!(i.series.len(), config.targets);
                    assert!(i.series.iter().all(|(a, _)| a == agent));
                }
            }
        }
    }

    #[test]
    fn the_quiet_series_is_seasonal_daily_and_weekly() {
        let config = small();
        let set = generate(&config);
        let points = &set.series[&(0, 0)];
        let hourly = |day: i64, hour: i64| {
            let from = config.start_s + day * DAY + hour * 3600;
            mean_rtt(points, from, from + 3600)
        };
        // Evening (the peak is 18–22 h) above early morning on a training weekday.
        assert!(
            hourly(1, 20) > hourly(1, 8),
            "{} vs {}",
            hourly(1, 20),
            hourly(1, 8)
        );
        // Saturday (day 5) below Tuesday (day 1), same hour.
        assert!(hourly(5, 20) < hourly(1, 20));
    }

    #[test]
    fn line_protocol_follows_the_ping_schema() {
        let set = generate(&EvalConfig { days: 8, ..small() });
        let chunks = set.line_protocol(5_000);
        let lines: usize = chunks.iter().map(|c| c.lines().count()).sum();
        assert_eq!(lines, 9 * 8 * 1440);
        assert!(chunks.iter().all(|c| c.lines().count() <= 5_000));
        let first = chunks[0].lines().next().unwrap();
        assert!(
            first.starts_with("ping,agent=1,target=10.0.1.1,test=1 sent=10i,received="),
            "{first}"
        );
        // Parsed as the embedded store's write path does, every point follows the schema.
        use crate::timeseries::embedded::ingest::{Precision, parse_batch, type_of};
        let points = parse_batch(&chunks[0], Precision::Seconds, 0, |_, _| None).unwrap();
        assert_eq!(points.len(), 5_000);
        for p in &points {
            let checked = streamswarm_schema::measurements::check_point(
                &p.measurement,
                p.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
                p.fields.iter().map(|(k, v)| (k.as_ref(), type_of(v))),
            );
            assert!(checked.is_ok(), "line {}: {checked:?}", p.line);
        }
        assert_eq!(points[0].time_ns, set.config.start_s * 1_000_000_000);
        // The analysed fields only, before a cut: the same points, fewer fields.
        let until = set.config.start_s + 86_400;
        let analysed = set.line_protocol_analysed(5_000, until);
        let points = parse_batch(&analysed[0], Precision::Seconds, 0, |_, _| None).unwrap();
        let names: Vec<&str> = points[0].fields.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(names, ["sent", "received", "rtt_avg_ms"]);
        let lines: usize = analysed.iter().map(|c| c.lines().count()).sum();
        assert_eq!(lines, 9 * 1440);
    }
}
