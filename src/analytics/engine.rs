//! The detection engine: per series a model ([`super::model`]) refitted on a schedule
//! and the online rules of [`super::detector`]; across series the scope of what is
//! wrong, as insights. The same engine runs in the analytics process (fed from the
//! time-series reader) and in the evaluation (fed from the labelled set), so what is
//! measured is what runs.
//!
//! **Scope** (at every [`Engine::tick`]): open episodes of one signal are grouped
//! - by agent: an agent with episodes towards at least half of the targets it measures
//!   (and at least [`ScopeRule::min_members`]) has a problem of its own — its link or its
//!   host — one `agent` insight, not one per target;
//! - by (test, target), over the episodes left: at least half of the agents measuring
//!   the target (and at least `min_members`) — one `target` insight ("4 of 6 agents");
//! - the rest are `pair` insights, one per series.
//!
//! An insight lives while any of its members' episodes is open (so it does not flap as
//! agents' episodes open and close a minute apart) and takes in new episodes of its
//! subject. Pair insights absorbed into a new target or agent insight are resolved.
//!
//! **Each agent as a whole** ([`super::agents`]): the minutes of its series (and of its
//! host, [`Engine::observe_host`]) make one row per minute for its isolation forest. An
//! agent whose minutes are unusual as a combination while no latency or loss insight
//! covers it gets a `multivariate` agent insight; every insight holding an agent's
//! series quotes the agent's host and self-metrics that stand out since it began.

use super::agents::{AgentState, HostMinute};
use super::detector::{
    Calibration, LatencyRule, LatencyState, LossRule, LossState, Scored, Threshold, Transition,
};
use super::model::{self, FitConfig, Model};
use std::collections::{BTreeMap, BTreeSet};

/// One series: an agent measuring a test's target (the test's kind writes
/// `measurement`, see [`super::sources`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    pub measurement: &'static str,
    pub agent: String,
    pub test: String,
    pub target: String,
}

/// What is watched on a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    /// A latency-like value (ping RTT, DNS/TCP/HTTP time), scored against a forecast.
    Latency,
    /// Failures among trials (lost echoes), scored as binomial.
    Loss,
    /// An agent's minutes as a whole (paths, loss, host), scored by its isolation
    /// forest; only in agent insights.
    Multivariate,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Latency => "latency",
            Signal::Loss => "loss",
            Signal::Multivariate => "multivariate",
        }
    }
}

/// Where an insight lies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Pair(SeriesKey),
    Target { test: String, target: String },
    Agent(String),
}

impl Scope {
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Pair(_) => "pair",
            Scope::Target { .. } => "target",
            Scope::Agent(_) => "agent",
        }
    }
}

/// One minute of a series as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    pub time_s: i64,
    pub latency: Option<f64>,
    /// (trials, failures), e.g. echoes sent and lost.
    pub trials: Option<(u64, u64)>,
}

/// The engine's knobs.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    pub fit: FitConfig,
    pub latency: LatencyRule,
    pub loss: LossRule,
    pub scope: ScopeRule,
    /// Seconds between refits of a series' model.
    pub refit_every_s: i64,
    /// Days of history a refit reads.
    pub history_days: i64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            fit: FitConfig::default(),
            latency: LatencyRule::default(),
            loss: LossRule::default(),
            scope: ScopeRule::default(),
            refit_every_s: 3600,
            history_days: 14,
        }
    }
}

/// When episodes of many series are one problem.
#[derive(Debug, Clone, Copy)]
pub struct ScopeRule {
    /// Fraction of a target's agents (or an agent's targets) that must see it.
    pub fraction: f64,
    pub min_members: usize,
    /// Fleet comparison: mean error (in flag levels) and points a target's other agent
    /// needs to join its target-wide insight.
    pub join_level: f64,
    pub join_points: usize,
}

impl Default for ScopeRule {
    fn default() -> Self {
        ScopeRule {
            fraction: 0.5,
            min_members: 2,
            join_level: 0.5,
            join_points: 5,
        }
    }
}

/// An anomalous point, as written to the `anomaly` measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyPoint {
    pub key: SeriesKey,
    pub signal: Signal,
    pub time_s: i64,
    pub observed: f64,
    pub expected: f64,
    pub score: f64,
}

/// One series' anomaly from its opening to its closing.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub key: SeriesKey,
    pub signal: Signal,
    pub start_s: i64,
    pub detected_s: i64,
    /// Set when it closed: the last anomalous point.
    pub last_s: Option<i64>,
    /// Latency: the mean forecast and the mean observed value over the points that
    /// made the episode (error above half the flag level). Loss: the baseline rate and
    /// the worst failure % over 10 minutes (the `%` of lost trials). What a resolved
    /// insight reports is what happened, not the last point before it closed.
    pub expected: f64,
    pub observed: f64,
    /// Points averaged into `expected` and `observed` (latency).
    pub points: usize,
}

impl Episode {
    fn add(&mut self, expected: f64, observed: f64) {
        match self.signal {
            Signal::Loss => self.observed = self.observed.max(observed),
            _ => {
                let n = self.points as f64;
                self.expected = (self.expected * n + expected) / (n + 1.0);
                self.observed = (self.observed * n + observed) / (n + 1.0);
                self.points += 1;
            }
        }
    }
}

/// An insight as the engine holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Insight {
    pub fingerprint: String,
    pub signal: Signal,
    pub scope: Scope,
    /// Series whose episodes it holds (open or closed since it opened).
    pub members: BTreeSet<SeriesKey>,
    /// How many series the scope covers (agents of a target, targets of an agent).
    pub of: usize,
    pub start_s: i64,
    pub detected_s: i64,
    pub expected: f64,
    pub observed: f64,
    /// Context in plain words: what else stood out on the agent (its host and its own
    /// metrics), or what made a multivariate insight.
    pub notes: Vec<String>,
}

/// What a tick changed.
#[derive(Debug, Clone, PartialEq)]
pub enum InsightEvent {
    Opened(Insight),
    /// Members, scope size or values changed.
    Updated(Insight),
    Resolved {
        insight: Insight,
        at_s: i64,
    },
}

#[derive(Debug, Default)]
struct SeriesState {
    model: Option<Model>,
    /// Baseline failure rate from the history.
    p0: f64,
    fitted_at_s: Option<i64>,
    /// Minutes of history the model was fitted on.
    history_minutes: usize,
    /// Recent normal forecast errors and the threshold they give (fixed between refits).
    calibration: Calibration,
    threshold: Option<Threshold>,
    latency: LatencyState,
    loss: LossState,
    /// (trials, failures) of the last minutes, for the observed loss %.
    recent_trials: std::collections::VecDeque<(u64, u64)>,
    /// (time, error in units of the flag level) of the last [`RECENT_ERRORS`] scored
    /// latency points: what the fleet comparison of a target insight reads.
    recent_errors: std::collections::VecDeque<(i64, f64)>,
}

/// Refit interval of a series with less than a day of history (seconds).
pub const YOUNG_REFIT_S: i64 = 600;

/// Latency errors kept per series for the fleet comparison (minutes).
pub const RECENT_ERRORS: usize = 180;

/// The engine.
#[derive(Debug, Default)]
pub struct Engine {
    pub config: EngineConfig,
    series: BTreeMap<SeriesKey, SeriesState>,
    /// Open episodes, and episodes closed since their insight was last ticked.
    episodes: BTreeMap<(SeriesKey, Signal), Episode>,
    insights: BTreeMap<String, Insight>,
    agents: BTreeMap<String, AgentState>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            config,
            ..Default::default()
        }
    }

    /// Makes the engine know a series (so scope fractions count it) without data yet.
    pub fn add_series(&mut self, key: &SeriesKey) {
        self.series.entry(key.clone()).or_default();
    }

    pub fn series(&self) -> impl Iterator<Item = &SeriesKey> {
        self.series.keys()
    }

    /// Whether `key` has no model or its model is older than the refit interval.
    pub fn needs_refit(&self, key: &SeriesKey, now_s: i64) -> bool {
        self.series.get(key).is_none_or(|s| {
            // A young series learns fast: without a model it is tried again every
            // YOUNG_REFIT_S, and with less than a day of history at least that often.
            let every = if s.model.is_none() || s.history_minutes < 1440 {
                self.config.refit_every_s.min(YOUNG_REFIT_S)
            } else {
                self.config.refit_every_s
            };
            s.fitted_at_s.is_none_or(|t| now_s - t >= every)
        })
    }

    /// The current model of `key`.
    pub fn model(&self, key: &SeriesKey) -> Option<&Model> {
        self.series.get(key).and_then(|s| s.model.as_ref())
    }

    /// Refits `key` on `history` (one sample per minute up to `now_s`, anomalous points
    /// already taken out by the caller: the model learns what normal is). A series with
    /// too little history keeps no model and is not scored for latency.
    pub fn refit(&mut self, key: &SeriesKey, history: &[Sample], now_s: i64) {
        let fitted = self.refit_job(key, history.to_vec(), now_s).run();
        self.install(fitted);
    }

    /// What [`Engine::refit`] computes, as a job that owns its inputs: the fitting (the
    /// expensive part — a model, and the two backtests of a series not yet calibrated)
    /// can run on other threads ([`fit_all`]) while the engine waits for
    /// [`Engine::install`].
    pub fn refit_job(&self, key: &SeriesKey, history: Vec<Sample>, now_s: i64) -> RefitJob {
        let calibrated = self
            .series
            .get(key)
            .is_some_and(|s| s.calibration.len() >= Calibration::MIN);
        RefitJob {
            key: key.clone(),
            history,
            now_s,
            config: self.config,
            backtest: !calibrated,
        }
    }

    /// Takes a fitted model into the engine.
    pub fn install(&mut self, fitted: Fitted) {
        let config = self.config;
        let state = self.series.entry(fitted.key).or_default();
        for e in fitted.backtest_errors {
            state.calibration.push(e);
        }
        state.threshold = state.calibration.threshold(&config.latency);
        state.history_minutes = fitted.history_minutes;
        state.model = fitted.model;
        state.p0 = fitted.p0;
        state.fitted_at_s = Some(fitted.now_s);
    }

    /// Scores one sample of `key` (in time order per series); returns its anomalous
    /// points and opens or closes the series' episodes.
    pub fn observe(&mut self, key: &SeriesKey, sample: &Sample) -> Vec<AnomalyPoint> {
        let config = self.config;
        let state = self.series.entry(key.clone()).or_default();
        let mut out = Vec::new();
        // (signal, scored, expected, observed, whether the point counts towards the
        // episode's values)
        let mut transitions: Vec<(Signal, Scored, f64, f64, bool)> = Vec::new();
        if let (Some(v), Some(model)) = (sample.latency, &state.model)
            && let Some(band) = model.band_at(sample.time_s)
            && let Some(threshold) = state.threshold
        {
            let scored =
                state
                    .latency
                    .observe(&config.latency, sample.time_s, v, band.expected, threshold);
            if !scored.anomalous && !state.latency.is_open() {
                state.calibration.push(v - band.expected);
            }
            let level = (v - band.expected) / threshold.flag_at;
            self.agents
                .entry(key.agent.clone())
                .or_default()
                .add_error(floor_minute(sample.time_s), level);
            state.recent_errors.push_back((sample.time_s, level));
            while state.recent_errors.len() > RECENT_ERRORS {
                state.recent_errors.pop_front();
            }
            if scored.anomalous {
                out.push(AnomalyPoint {
                    key: key.clone(),
                    signal: Signal::Latency,
                    time_s: sample.time_s,
                    observed: v,
                    expected: band.expected,
                    score: scored.score,
                });
            }
            transitions.push((Signal::Latency, scored, band.expected, v, level > 0.5));
        }
        if let Some((trials, failures)) = sample.trials
            && trials > 0
            && state.fitted_at_s.is_some()
        {
            let scored =
                state
                    .loss
                    .observe(&config.loss, sample.time_s, trials, failures, state.p0);
            self.agents
                .entry(key.agent.clone())
                .or_default()
                .add_trials(floor_minute(sample.time_s), trials, failures);
            state.recent_trials.push_back((trials, failures));
            while state.recent_trials.len() > 10 {
                state.recent_trials.pop_front();
            }
            let (n, k) = state
                .recent_trials
                .iter()
                .fold((0, 0), |(n, k), (t, f)| (n + t, k + f));
            let observed = 100.0 * k as f64 / n.max(1) as f64;
            let expected = 100.0 * state.p0;
            if scored.anomalous {
                out.push(AnomalyPoint {
                    key: key.clone(),
                    signal: Signal::Loss,
                    time_s: sample.time_s,
                    observed: 100.0 * failures as f64 / trials as f64,
                    expected,
                    score: scored.score,
                });
            }
            transitions.push((Signal::Loss, scored, expected, observed, true));
        }
        for (signal, scored, expected, observed, counts) in transitions {
            let id = (key.clone(), signal);
            match scored.transition {
                Some(Transition::Opened { start_s }) => {
                    self.episodes.insert(
                        id,
                        Episode {
                            key: key.clone(),
                            signal,
                            start_s,
                            detected_s: sample.time_s,
                            last_s: None,
                            expected,
                            observed,
                            points: 1,
                        },
                    );
                }
                Some(Transition::Closed { last_s }) => {
                    if let Some(e) = self.episodes.get_mut(&id) {
                        e.last_s = Some(last_s);
                    }
                }
                None => {
                    if let Some(e) = self.episodes.get_mut(&id)
                        && e.last_s.is_none()
                        && counts
                    {
                        e.add(expected, observed);
                    }
                }
            }
        }
        out
    }

    /// One minute of `agent`'s host and self-metrics (before the minute's tick).
    pub fn observe_host(&mut self, agent: &str, minute_s: i64, host: HostMinute) {
        self.agents
            .entry(agent.to_owned())
            .or_default()
            .add_host(floor_minute(minute_s), host);
    }

    /// The insights open now.
    pub fn open_insights(&self) -> impl Iterator<Item = &Insight> {
        self.insights.values()
    }

    /// Regroups the episodes into insights (see the module doc) and says what changed.
    pub fn tick(&mut self, now_s: i64) -> Vec<InsightEvent> {
        let mut events = Vec::new();
        self.advance_agents(now_s);
        let mut multivariate: BTreeMap<String, Insight> = BTreeMap::new();
        self.insights.retain(|fp, i| {
            if i.signal == Signal::Multivariate {
                multivariate.insert(fp.clone(), i.clone());
                false
            } else {
                true
            }
        });
        let open: BTreeSet<(SeriesKey, Signal)> = self
            .episodes
            .iter()
            .filter(|(_, e)| e.last_s.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        let mut claimed: BTreeSet<(SeriesKey, Signal)> = BTreeSet::new();
        let mut kept: BTreeMap<String, Insight> = BTreeMap::new();
        let mut pairs: BTreeMap<String, Insight> = BTreeMap::new();
        // 1. Agent- and target-wide insights live on while a member is open and take in
        //    new open episodes of their subject. Pair insights wait for step 3: their
        //    series may join a wider group.
        for (fp, mut insight) in std::mem::take(&mut self.insights) {
            if matches!(insight.scope, Scope::Pair(_)) {
                pairs.insert(fp, insight);
                continue;
            }
            let subject: Vec<(SeriesKey, Signal)> = open
                .iter()
                .filter(|(k, s)| *s == insight.signal && covers(&insight.scope, k))
                .filter(|id| !claimed.contains(*id))
                .cloned()
                .collect();
            if !subject.iter().any(|id| insight.members.contains(&id.0)) {
                events.push(InsightEvent::Resolved {
                    insight,
                    at_s: now_s,
                });
                continue;
            }
            let before = insight.clone();
            for id in subject {
                insight.members.insert(id.0.clone());
                claimed.insert(id);
            }
            self.refresh(&mut insight);
            if insight != before {
                events.push(InsightEvent::Updated(insight.clone()));
            }
            kept.insert(fp, insight);
        }
        // 2. New agent-wide, then target-wide groups from the open episodes left.
        let mut wide: Vec<(Scope, Signal, Vec<SeriesKey>)> = Vec::new();
        let mut by_agent: BTreeMap<(String, Signal), Vec<SeriesKey>> = BTreeMap::new();
        for (k, s) in open.iter().filter(|id| !claimed.contains(*id)) {
            by_agent
                .entry((k.agent.clone(), *s))
                .or_default()
                .push(k.clone());
        }
        for ((agent, signal), keys) in by_agent {
            let of = self.series.keys().filter(|k| k.agent == agent).count();
            if self.enough(keys.len(), of) {
                for k in &keys {
                    claimed.insert((k.clone(), signal));
                }
                wide.push((Scope::Agent(agent), signal, keys));
            }
        }
        let mut by_target: BTreeMap<(String, String, Signal), Vec<SeriesKey>> = BTreeMap::new();
        for (k, s) in open.iter().filter(|id| !claimed.contains(*id)) {
            by_target
                .entry((k.test.clone(), k.target.clone(), *s))
                .or_default()
                .push(k.clone());
        }
        for ((test, target, signal), keys) in by_target {
            let of = self
                .series
                .keys()
                .filter(|k| k.test == test && k.target == target)
                .count();
            if self.enough(keys.len(), of) {
                for k in &keys {
                    claimed.insert((k.clone(), signal));
                }
                wide.push((Scope::Target { test, target }, signal, keys));
            }
        }
        for (scope, signal, keys) in wide {
            let insight = self.new_insight(scope, signal, keys, now_s);
            events.push(InsightEvent::Opened(insight.clone()));
            kept.insert(insight.fingerprint.clone(), insight);
        }
        // 3. Every open episode no wider insight holds is a pair insight; pair insights
        //    whose episode closed or joined a wider insight are resolved.
        for (k, s) in open.iter().filter(|id| !claimed.contains(*id)) {
            let scope = Scope::Pair(k.clone());
            let fp = fingerprint(*s, &scope);
            match pairs.remove(&fp) {
                Some(mut insight) => {
                    let before = insight.clone();
                    self.refresh(&mut insight);
                    if insight != before {
                        events.push(InsightEvent::Updated(insight.clone()));
                    }
                    kept.insert(fp, insight);
                }
                None => {
                    let insight = self.new_insight(scope, *s, vec![k.clone()], now_s);
                    events.push(InsightEvent::Opened(insight.clone()));
                    kept.insert(fp, insight);
                }
            }
        }
        for insight in pairs.into_values() {
            events.push(InsightEvent::Resolved {
                insight,
                at_s: now_s,
            });
        }
        self.insights = kept;
        self.tick_multivariate(multivariate, now_s, &mut events);
        // Closed episodes no insight holds any more are forgotten.
        let held: BTreeSet<(SeriesKey, Signal)> = self
            .insights
            .values()
            .flat_map(|i| i.members.iter().map(|k| (k.clone(), i.signal)))
            .collect();
        self.episodes
            .retain(|id, e| e.last_s.is_none() || held.contains(id));
        events
    }

    fn new_insight(
        &self,
        scope: Scope,
        signal: Signal,
        keys: Vec<SeriesKey>,
        now_s: i64,
    ) -> Insight {
        let mut insight = Insight {
            fingerprint: fingerprint(signal, &scope),
            signal,
            scope,
            members: keys.into_iter().collect(),
            of: 0,
            start_s: now_s,
            detected_s: now_s,
            expected: 0.0,
            observed: 0.0,
            notes: Vec::new(),
        };
        self.refresh(&mut insight);
        insight
    }

    /// Scores the agents' finished minutes (see [`super::agents`]).
    fn advance_agents(&mut self, now_s: i64) {
        let troubled: BTreeSet<&str> = self
            .episodes
            .values()
            .filter(|e| e.last_s.is_none())
            .map(|e| e.key.agent.as_str())
            .collect();
        for (agent, state) in &mut self.agents {
            state.advance(
                now_s,
                troubled.contains(agent.as_str()),
                &self.config.latency,
                self.config.refit_every_s,
            );
        }
    }

    /// Multivariate agent insights: opened for an agent's open multivariate episode
    /// when no other insight holds the agent's series, resolved when the episode
    /// closes.
    fn tick_multivariate(
        &mut self,
        mut previous: BTreeMap<String, Insight>,
        now_s: i64,
        events: &mut Vec<InsightEvent>,
    ) {
        let covered: BTreeSet<String> = self
            .insights
            .values()
            .flat_map(|i| i.members.iter().map(|k| k.agent.clone()))
            .collect();
        let agents: Vec<String> = self.agents.keys().cloned().collect();
        for agent in agents {
            let scope = Scope::Agent(agent.clone());
            let fp = fingerprint(Signal::Multivariate, &scope);
            let Some(episode) = self.agents[&agent].episode.clone() else {
                continue;
            };
            let members: BTreeSet<SeriesKey> = self
                .series
                .keys()
                .filter(|k| k.agent == agent)
                .cloned()
                .collect();
            let make = |notes: Vec<String>| Insight {
                fingerprint: fp.clone(),
                signal: Signal::Multivariate,
                scope: scope.clone(),
                of: members.len(),
                members: members.clone(),
                start_s: episode.start_s,
                detected_s: episode.detected_s,
                expected: 0.0,
                observed: episode.peak,
                notes,
            };
            let notes = self.agents[&agent].episode_notes();
            match (previous.remove(&fp), episode.last_s) {
                (Some(before), None) => {
                    let insight = Insight {
                        detected_s: before.detected_s,
                        ..make(notes)
                    };
                    if insight != before {
                        events.push(InsightEvent::Updated(insight.clone()));
                    }
                    self.insights.insert(fp, insight);
                }
                (Some(before), Some(_)) => {
                    events.push(InsightEvent::Resolved {
                        insight: Insight {
                            detected_s: before.detected_s,
                            ..make(notes)
                        },
                        at_s: now_s,
                    });
                    if let Some(a) = self.agents.get_mut(&agent) {
                        a.clear_closed();
                    }
                }
                (None, None) if !covered.contains(&agent) && !members.is_empty() => {
                    let insight = make(notes);
                    events.push(InsightEvent::Opened(insight.clone()));
                    self.insights.insert(fp, insight);
                }
                (None, Some(_)) => {
                    if let Some(a) = self.agents.get_mut(&agent) {
                        a.clear_closed();
                    }
                }
                (None, None) => {}
            }
        }
    }

    fn enough(&self, members: usize, of: usize) -> bool {
        let rule = self.config.scope;
        members >= rule.min_members && members as f64 >= rule.fraction * of as f64
    }

    /// The fleet comparison of a target-wide latency insight: the target's other
    /// agents whose errors since the insight began are, on average, at least
    /// [`ScopeRule::join_level`] of their flag level over [`ScopeRule::join_points`]
    /// points or more. A change too small to open an episode on one path (a long path's
    /// noise hides a few ms) is still that path's share of the target's problem.
    fn fleet_members(&self, insight: &Insight) -> Vec<SeriesKey> {
        let Scope::Target { test, target } = &insight.scope else {
            return Vec::new();
        };
        if insight.signal != Signal::Latency {
            return Vec::new();
        }
        let rule = self.config.scope;
        self.series
            .iter()
            .filter(|(k, _)| &k.test == test && &k.target == target)
            .filter(|(k, _)| !insight.members.contains(*k))
            .filter(|(_, s)| {
                let since: Vec<f64> = s
                    .recent_errors
                    .iter()
                    .filter(|(t, _)| *t >= insight.start_s)
                    .map(|(_, u)| *u)
                    .collect();
                since.len() >= rule.join_points
                    && since.iter().sum::<f64>() / since.len() as f64 >= rule.join_level
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Recomputes an insight's start, size and values from its members' episodes.
    fn refresh(&self, insight: &mut Insight) {
        let joined = self.fleet_members(insight);
        insight.members.extend(joined);
        let episodes: Vec<&Episode> = insight
            .members
            .iter()
            .filter_map(|k| self.episodes.get(&(k.clone(), insight.signal)))
            .collect();
        insight.of = match &insight.scope {
            Scope::Pair(_) => 1,
            Scope::Target { test, target } => self
                .series
                .keys()
                .filter(|k| &k.test == test && &k.target == target)
                .count(),
            Scope::Agent(agent) => self.series.keys().filter(|k| &k.agent == agent).count(),
        };
        if let Some(start) = episodes.iter().map(|e| e.start_s).min() {
            insight.start_s = start;
        }
        let n = episodes.len().max(1) as f64;
        insight.expected = episodes.iter().map(|e| e.expected).sum::<f64>() / n;
        insight.observed = episodes.iter().map(|e| e.observed).sum::<f64>() / n;
        // The host context of every agent in the insight (for a target insight, an
        // agent whose host is saturated may be why it sees more than the others).
        let agents: BTreeSet<&str> = insight.members.iter().map(|k| k.agent.as_str()).collect();
        let mut notes = Vec::new();
        for agent in agents {
            if let Some(a) = self.agents.get(agent) {
                for note in a.host_notes(insight.start_s) {
                    notes.push(match insight.scope {
                        Scope::Agent(_) | Scope::Pair(_) => note,
                        Scope::Target { .. } => format!("agent {agent}: {note}"),
                    });
                }
            }
        }
        insight.notes = notes;
    }
}

/// Whether a series falls in a scope.
fn covers(scope: &Scope, key: &SeriesKey) -> bool {
    match scope {
        Scope::Pair(k) => k == key,
        Scope::Target { test, target } => &key.test == test && &key.target == target,
        Scope::Agent(agent) => &key.agent == agent,
    }
}

/// One series' refit, owning what it needs ([`Engine::refit_job`]).
pub struct RefitJob {
    key: SeriesKey,
    history: Vec<Sample>,
    now_s: i64,
    config: EngineConfig,
    backtest: bool,
}

/// A refit's result, for [`Engine::install`].
pub struct Fitted {
    key: SeriesKey,
    backtest_errors: Vec<f64>,
    history_minutes: usize,
    model: Option<Model>,
    p0: f64,
    now_s: i64,
}

impl Fitted {
    pub fn key(&self) -> &SeriesKey {
        &self.key
    }
}

impl RefitJob {
    pub fn run(self) -> Fitted {
        let config = &self.config;
        let horizon = (config.refit_every_s / 60) as usize + 30;
        let start_s = self.now_s - self.now_s.rem_euclid(60);
        let grid = grid(&self.history, start_s, config.history_days);
        let mut backtest_errors = Vec::new();
        if self.backtest {
            backtest(&grid, start_s, config, &mut backtest_errors);
        }
        let (n, k) = self
            .history
            .iter()
            .filter_map(|s| s.trials)
            .fold((0u64, 0u64), |(n, k), (t, f)| (n + t, k + f));
        Fitted {
            backtest_errors,
            history_minutes: grid.len(),
            model: model::fit(&grid, start_s, horizon, &config.fit).ok(),
            // Laplace's rule: a series that lost nothing has a small, not zero, rate.
            p0: (k as f64 + 1.0) / (n as f64 + 2.0),
            now_s: self.now_s,
            key: self.key,
        }
    }
}

/// Runs `jobs` on as many threads as the machine has cores (each thread takes the next
/// job until none is left); the results in the jobs' order. A full refit of many
/// series is the process's heaviest work: it runs off the async runtime
/// (`spawn_blocking`) and uses every core.
pub fn fit_all(jobs: Vec<RefitJob>) -> Vec<Fitted> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, jobs.len().max(1));
    let queue = std::sync::Mutex::new(jobs.into_iter().enumerate());
    let mut done: Vec<(usize, Fitted)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        // The lock is held only to take the next job.
                        let next = queue.lock().expect("the job queue").next();
                        let Some((i, job)) = next else {
                            return out;
                        };
                        out.push((i, job.run()));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a refit thread panicked"))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, f)| f).collect()
}

/// Seeds a series' calibration before its first scoring: the model fitted on the
/// history without its last `window` × `n` minutes forecasts `window` of them, for `n`
/// = 2, 1 (`window` = [`BACKTEST_MINUTES`], less for a young series), and the errors are
/// what the live forecast would have made.
fn backtest(grid: &[Option<f64>], end_s: i64, config: &EngineConfig, into: &mut Vec<f64>) {
    // A young series backtests shorter windows: half of what its model does not need.
    let window = BACKTEST_MINUTES.min(grid.len().saturating_sub(config.fit.min_points) / 2);
    if window < 10 {
        return;
    }
    for n in [2usize, 1] {
        let cut = n * window;
        let (past, ahead) = grid.split_at(grid.len() - cut);
        let start_s = end_s - cut as i64 * 60;
        let Ok(model) = model::fit(past, start_s, window, &config.fit) else {
            continue;
        };
        for (band, v) in model.bands.iter().zip(ahead) {
            if let Some(v) = v {
                into.push(v - band.expected);
            }
        }
    }
}

/// Minutes each backtest forecasts.
pub const BACKTEST_MINUTES: usize = 360;

/// `sample` without what anomalous points of its minute cover: a latency anomaly takes
/// out the latency, a loss anomaly the trials. Each signal's model learns from its own
/// normal minutes: the RTTs measured during a loss burst are still normal RTTs (and
/// masking them would leave a young series without the backtest errors it needs to be
/// scored).
pub fn mask(sample: &Sample, latency: bool, loss: bool) -> Sample {
    Sample {
        time_s: sample.time_s,
        latency: sample.latency.filter(|_| !latency),
        trials: sample.trials.filter(|_| !loss),
    }
}

/// What and where, stable across restarts: one open insight per fingerprint.
pub fn fingerprint(signal: Signal, scope: &Scope) -> String {
    let s = signal.as_str();
    match scope {
        Scope::Pair(k) => format!(
            "{s}|pair|agent={}|test={}|target={}",
            k.agent, k.test, k.target
        ),
        Scope::Target { test, target } => format!("{s}|target|test={test}|target={target}"),
        Scope::Agent(agent) => format!("{s}|agent|agent={agent}"),
    }
}

fn floor_minute(s: i64) -> i64 {
    s - s.rem_euclid(60)
}

/// `history` on a 1-minute grid of `days` before `end_s` (`None` where nothing was
/// measured or the caller masked a point).
fn grid(history: &[Sample], end_s: i64, days: i64) -> Vec<Option<f64>> {
    let minutes = (days * 1440) as usize;
    let from = end_s - minutes as i64 * 60;
    let first = history
        .iter()
        .filter(|s| s.time_s >= from && s.latency.is_some())
        .map(|s| s.time_s)
        .min();
    let Some(first) = first else {
        return Vec::new();
    };
    let from = first - first.rem_euclid(60);
    let len = ((end_s - from) / 60).max(0) as usize;
    let mut out = vec![None; len];
    for s in history {
        if s.time_s >= from && s.time_s < end_s {
            out[((s.time_s - from) / 60) as usize] = s.latency;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_takes_out_only_the_anomalous_signal() {
        let s = Sample {
            time_s: 420,
            latency: Some(4.2),
            trials: Some((30, 9)),
        };
        assert_eq!(mask(&s, false, true).latency, s.latency);
        assert_eq!(mask(&s, false, true).trials, None);
        assert_eq!(mask(&s, true, false).latency, None);
        assert_eq!(mask(&s, true, false).trials, s.trials);
        assert_eq!(mask(&s, false, false), s);
    }
}
