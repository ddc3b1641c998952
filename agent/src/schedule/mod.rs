//! The scheduler: runs the agent's assigned tests on time and sends their points on.
//!
//! - **When.** Each test runs at `anchor + k·interval + jitter` ([`plan`]): the anchor
//!   is its `start_at_ms` or the epoch-aligned grid, the jitter a fixed per-(agent, test)
//!   offset. The wall clock is read once when a test is (re)assigned; runs then follow
//!   the monotonic clock (`tokio::time::sleep_until`), slot `k` always computed from the
//!   anchor, so nothing drifts. No run starts before `start_at_ms` or at/after
//!   `end_at_ms`; a one-shot test runs once per (id, spec) for the scheduler's life.
//! - **Never overlapping.** A slot that comes while the test's previous run is still
//!   going (or waiting for a permit) is skipped and counted (`overlaps_skipped`); when
//!   that run ends, how late the first skipped slot now is counts as schedule lag.
//! - **Bounded.** Each run may take its probe's natural duration
//!   ([`crate::probes::natural_duration`]) plus `probe_timeout_margin`; past that it is
//!   cancelled and reports [`crate::probes::timeout_points`] (ping: loss 100 % and an
//!   `error`). At most `max_concurrent` runs measure at once (a semaphore); the wait
//!   for a permit is part of the run's lag.
//! - **Stamped.** A run's points carry the wall-clock time its probe started; a point a
//!   probe left unstamped gets that time.
//! - **State.** Tests whose id and spec are unchanged by [`SchedulerHandle::set_tests`]
//!   keep their plan and probe state (the host probe's sampler); a changed spec starts a
//!   new plan. Kinds this agent cannot run yet are logged once and not scheduled.
//!
//! One actor task owns the test table; every run is its own task. The probe side is the
//! [`Runner`] trait: [`ProbeRunner`] is the real dispatch in `probes/mod.rs`; tests
//! inject their own runner and wall clock through [`spawn_with`].

pub mod plan;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use streamswarm_schema::TestSpec;
use streamswarm_tsdb::Timestamp;
use streamswarm_tsdb::line_protocol::Point;
use tokio::sync::{Semaphore, TryAcquireError, mpsc};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

use crate::probes::{self, ProbeError};
pub use plan::{Plan, Slot};

/// How long [`SchedulerHandle::shutdown`] waits beyond the longest running run's limit.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(2);

/// A test as the server assigned it to this agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignedTest {
    pub id: i64,
    pub name: String,
    pub spec: TestSpec,
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The server's id of this agent: the `agent` tag, and half of every jitter's seed.
    pub agent_id: i64,
    /// Runs measuring at the same time, at most (64 by default; at least 1).
    pub max_concurrent: usize,
    /// Added to each probe's natural duration before a run is cancelled.
    pub probe_timeout_margin: Duration,
    /// The addresses probes may reach (`[probes] deny` / `allow`).
    pub target_policy: Arc<probes::TargetPolicy>,
}

impl Default for SchedulerConfig {
    /// Agent id 0: set the real one.
    fn default() -> Self {
        Self::new(0)
    }
}

impl SchedulerConfig {
    pub fn new(agent_id: i64) -> Self {
        SchedulerConfig {
            agent_id,
            max_concurrent: 1024,
            probe_timeout_margin: Duration::from_secs(2),
            target_policy: Arc::default(),
        }
    }
}

/// Cumulative counters since the scheduler started.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SchedulerStats {
    /// Runs whose probe started (after getting a permit).
    pub runs_started: u64,
    /// Runs that ended by themselves, with points or with a probe error.
    pub runs_completed: u64,
    /// Completed runs whose probe failed inside the agent (no points), panics included.
    pub probe_errors: u64,
    /// Runs cancelled at their limit. `runs_started = runs_completed + probe_timeouts +
    /// runs_in_flight`.
    pub probe_timeouts: u64,
    /// Slots not run because the test's previous run was still going.
    pub overlaps_skipped: u64,
    /// Runs that had to wait for a concurrency permit.
    pub concurrency_waits: u64,
    /// Largest and latest delay between a slot and the start of its run, in ms.
    pub max_lag_ms: f64,
    pub last_lag_ms: f64,
    /// Runs measuring now.
    pub runs_in_flight: u64,
    /// Assigned tests being scheduled now.
    pub tests_scheduled: u64,
    /// Assigned tests not scheduled (kind not supported by this agent, invalid spec).
    pub tests_refused: u64,
}

/// How the probe side of a run is done; [`ProbeRunner`] is the real one.
pub trait Runner: Send + Sync + 'static {
    /// What a test keeps between its runs; each run gets a clone.
    type State: Clone + Send + Sync + 'static;

    /// The test's state, or why this agent cannot run it (logged once; not scheduled).
    fn prepare(&self, test: &AssignedTest) -> Result<Self::State, ProbeError>;

    /// One run; `Err` when the agent itself could not measure (counted as a probe error).
    fn run(
        &self,
        run: RunContext,
        state: Self::State,
    ) -> impl Future<Output = Result<Vec<Point>, ProbeError>> + Send + 'static;

    /// How long a run of `spec` takes by its own parameters (before the margin).
    fn natural_duration(&self, spec: &TestSpec) -> Duration {
        probes::natural_duration(spec)
    }

    /// What a run cancelled after `limit` reports.
    fn timed_out(&self, run: &RunContext, limit: Duration) -> Vec<Point> {
        probes::timeout_points(
            run.agent_id,
            run.test.id,
            &run.test.spec,
            run.started_at,
            limit,
        )
    }
}

/// What a run knows about itself.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub agent_id: i64,
    pub test: Arc<AssignedTest>,
    /// The slot this run fills.
    pub slot: Slot,
    /// Wall-clock time the probe started: the time its points are stamped with.
    pub started_at: SystemTime,
}

/// The real probes (`probes::run_test`) under the agent's target policy.
#[derive(Debug, Clone, Default)]
pub struct ProbeRunner {
    pub policy: Arc<probes::TargetPolicy>,
}

impl Runner for ProbeRunner {
    type State = probes::ProbeState;

    fn prepare(&self, test: &AssignedTest) -> Result<Self::State, ProbeError> {
        probes::prepare(&test.spec)
    }

    #[allow(
        clippy::manual_async_fn,
        reason = "an `async fn` would borrow `self`; runs outlive it ('static)"
    )]
    fn run(
        &self,
        run: RunContext,
        state: Self::State,
    ) -> impl Future<Output = Result<Vec<Point>, ProbeError>> + Send + 'static {
        let policy = Arc::clone(&self.policy);
        async move {
            let ctx = probes::RunContext {
                agent_id: run.agent_id,
                test_id: run.test.id,
                spec: &run.test.spec,
                policy: &policy,
                started_at: run.started_at,
            };
            probes::run(ctx, &state).await
        }
    }
}

/// The wall clock the scheduler reads (once per plan, once per run start).
pub type WallClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Starts the scheduler with the real probes and the system clock. Call inside a
/// Tokio runtime; the scheduler runs no test until [`SchedulerHandle::set_tests`].
pub fn spawn(config: SchedulerConfig, out: mpsc::Sender<Vec<Point>>) -> SchedulerHandle {
    let runner = ProbeRunner {
        policy: Arc::clone(&config.target_policy),
    };
    spawn_with(config, out, runner, Arc::new(SystemTime::now))
}

/// [`spawn`] with a chosen runner and wall clock (tests inject both).
pub fn spawn_with<R: Runner>(
    config: SchedulerConfig,
    out: mpsc::Sender<Vec<Point>>,
    runner: R,
    wall_clock: WallClock,
) -> SchedulerHandle {
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    let actor = Actor {
        semaphore: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
        config,
        runner: Arc::new(runner),
        wall_clock,
        out,
        shared: Arc::clone(&shared),
        commands: commands_rx,
        tests: HashMap::new(),
        queue: BTreeSet::new(),
        refused: HashMap::new(),
        one_shots_taken: HashMap::new(),
        running: HashMap::new(),
        tasks: HashMap::new(),
        runs: JoinSet::new(),
    };
    let task = tokio::spawn(actor.run());
    SchedulerHandle {
        commands,
        shared,
        task,
    }
}

/// Controls a running scheduler. Dropping it stops the scheduler as
/// [`SchedulerHandle::shutdown`] does, without waiting for it.
#[derive(Debug)]
pub struct SchedulerHandle {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl SchedulerHandle {
    /// Replaces the whole set of tests. Tests with the same id and spec as before keep
    /// their phase and state; new or changed ones get a new plan; missing ones stop
    /// (a run in progress finishes and its points are still sent).
    pub fn set_tests(&self, tests: Vec<AssignedTest>) {
        // Fails only when the actor is gone, which only shutdown does.
        let _ = self.commands.send(Command::SetTests(tests));
    }

    pub fn stats(&self) -> SchedulerStats {
        self.shared.stats()
    }

    /// The largest schedule lag since the previous call (ms), then resets it: the
    /// `agent_self.schedule_lag_max_ms` of one self-metrics interval.
    pub fn take_interval_max_lag_ms(&self) -> f64 {
        us_to_ms(self.shared.interval_max_lag_us.swap(0, Ordering::Relaxed))
    }

    /// Stops starting runs (including ones waiting for a permit), waits for running ones
    /// up to the longest one's limit plus two seconds, then cancels what is left.
    pub async fn shutdown(self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Err(e) = self.task.await
            && e.is_panic()
        {
            tracing::error!(error = %e, "the scheduler panicked");
        }
    }
}

enum Command {
    SetTests(Vec<AssignedTest>),
    Shutdown,
}

#[derive(Debug, Default)]
struct Shared {
    runs_started: AtomicU64,
    runs_completed: AtomicU64,
    probe_errors: AtomicU64,
    probe_timeouts: AtomicU64,
    overlaps_skipped: AtomicU64,
    concurrency_waits: AtomicU64,
    max_lag_us: AtomicU64,
    last_lag_us: AtomicU64,
    interval_max_lag_us: AtomicU64,
    runs_in_flight: AtomicU64,
    tests_scheduled: AtomicU64,
    tests_refused: AtomicU64,
}

impl Shared {
    fn stats(&self) -> SchedulerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SchedulerStats {
            runs_started: get(&self.runs_started),
            runs_completed: get(&self.runs_completed),
            probe_errors: get(&self.probe_errors),
            probe_timeouts: get(&self.probe_timeouts),
            overlaps_skipped: get(&self.overlaps_skipped),
            concurrency_waits: get(&self.concurrency_waits),
            max_lag_ms: us_to_ms(get(&self.max_lag_us)),
            last_lag_ms: us_to_ms(get(&self.last_lag_us)),
            runs_in_flight: get(&self.runs_in_flight),
            tests_scheduled: get(&self.tests_scheduled),
            tests_refused: get(&self.tests_refused),
        }
    }

    fn record_lag(&self, lag: Duration) {
        let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
        self.last_lag_us.store(us, Ordering::Relaxed);
        self.max_lag_us.fetch_max(us, Ordering::Relaxed);
        self.interval_max_lag_us.fetch_max(us, Ordering::Relaxed);
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1_000.0
}

/// Counts a run as in flight for as long as it lives, cancellation included.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(shared: &Arc<Shared>) -> Self {
        Shared::count(&shared.runs_in_flight);
        InFlight(Arc::clone(shared))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.runs_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A test being scheduled.
struct Entry<S> {
    test: Arc<AssignedTest>,
    plan: Plan,
    /// Natural duration plus margin.
    limit: Duration,
    state: S,
    next: Option<Slot>,
}

/// A test with a run in progress (kept by id, so it outlives a changed or removed spec).
struct Running {
    limit: Duration,
    /// The first slot skipped while this run went on.
    skipped_since: Option<Instant>,
}

struct Actor<R: Runner> {
    config: SchedulerConfig,
    runner: Arc<R>,
    wall_clock: WallClock,
    out: mpsc::Sender<Vec<Point>>,
    shared: Arc<Shared>,
    semaphore: Arc<Semaphore>,
    commands: mpsc::UnboundedReceiver<Command>,
    tests: HashMap<i64, Entry<R::State>>,
    /// Tests not scheduled, with the spec that was refused (so each is logged once).
    refused: HashMap<i64, TestSpec>,
    /// One-shot specs that have had their run, by test id.
    one_shots_taken: HashMap<i64, Vec<TestSpec>>,
    /// `(next slot, test id)` of every test with a next run, earliest first.
    queue: BTreeSet<(Instant, i64)>,
    running: HashMap<i64, Running>,
    tasks: HashMap<tokio::task::Id, i64>,
    runs: JoinSet<()>,
}

impl<R: Runner> Actor<R> {
    async fn run(mut self) {
        loop {
            let due = self.queue.first().map(|(at, _)| *at);
            let timer = async move {
                match due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    Some(Command::SetTests(tests)) => self.set_tests(tests),
                    Some(Command::Shutdown) | None => break,
                },
                Some(joined) = self.runs.join_next_with_id() => self.finished(joined),
                () = timer => self.start_due(),
            }
        }
        self.shutdown().await;
    }

    fn set_tests(&mut self, tests: Vec<AssignedTest>) {
        let mut assigned = HashSet::new();
        for test in tests {
            if !assigned.insert(test.id) {
                tracing::warn!(test = test.id, "test assigned twice; the first one is kept");
                continue;
            }
            if let Some(entry) = self.tests.get_mut(&test.id)
                && entry.test.spec == test.spec
            {
                if entry.test.name != test.name {
                    entry.test = Arc::new(test);
                }
                continue;
            }
            self.remove(test.id);
            self.add(test);
        }
        let gone: Vec<i64> = self
            .tests
            .keys()
            .filter(|id| !assigned.contains(id))
            .copied()
            .collect();
        for id in gone {
            self.remove(id);
        }
        self.refused.retain(|id, _| assigned.contains(id));
        self.publish_counts();
    }

    fn add(&mut self, test: AssignedTest) {
        if let Err(errors) = test.spec.validate() {
            let reason = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            self.refuse(test, &format!("invalid test: {reason}"));
            return;
        }
        if test.spec.schedule.one_shot
            && self
                .one_shots_taken
                .get(&test.id)
                .is_some_and(|specs| specs.contains(&test.spec))
        {
            tracing::debug!(test = test.id, "one-shot test already ran; not again");
            return;
        }
        let state = match self.runner.prepare(&test) {
            Ok(state) => state,
            Err(reason) => {
                self.refuse(test, &reason);
                return;
            }
        };
        self.refused.remove(&test.id);
        let schedule = &test.spec.schedule;
        let jitter = plan::jitter(self.config.agent_id, test.id, schedule.jitter_seconds);
        let (wall_now, now) = ((self.wall_clock)(), Instant::now());
        let plan = Plan::new(schedule, jitter, wall_now, now);
        let next = plan.next_run(now);
        let limit = self.runner.natural_duration(&test.spec) + self.config.probe_timeout_margin;
        tracing::debug!(test = test.id, kind = %test.spec.kind, ?next, ?jitter, "test scheduled");
        let id = test.id;
        self.tests.insert(
            id,
            Entry {
                test: Arc::new(test),
                plan,
                limit,
                state,
                next: None,
            },
        );
        self.set_next(id, next);
    }

    fn remove(&mut self, id: i64) {
        self.set_next(id, None);
        self.tests.remove(&id);
    }

    /// Sets a test's next slot, keeping the due queue in step.
    fn set_next(&mut self, id: i64, next: Option<Slot>) {
        let Some(entry) = self.tests.get_mut(&id) else {
            return;
        };
        if let Some(old) = entry.next {
            self.queue.remove(&(old.at, id));
        }
        entry.next = next;
        if let Some(new) = next {
            self.queue.insert((new.at, id));
        }
    }

    fn refuse(&mut self, test: AssignedTest, reason: &dyn std::fmt::Display) {
        if self.refused.get(&test.id) != Some(&test.spec) {
            tracing::warn!(test = test.id, name = %test.name, kind = %test.spec.kind, "{reason}");
            self.refused.insert(test.id, test.spec);
        }
    }

    fn publish_counts(&self) {
        let scheduled = self.tests.len() as u64;
        self.shared
            .tests_scheduled
            .store(scheduled, Ordering::Relaxed);
        let refused = self.refused.len() as u64;
        self.shared.tests_refused.store(refused, Ordering::Relaxed);
    }

    /// Starts (or skips) every slot that is due.
    fn start_due(&mut self) {
        let now = Instant::now();
        while let Some(&(at, id)) = self.queue.first()
            && at <= now
        {
            let Some(entry) = self.tests.get(&id) else {
                self.queue.pop_first();
                continue;
            };
            let Some(slot) = entry.next.filter(|slot| slot.at == at) else {
                // Not the entry's slot any more (`set_next` keeps them in step).
                self.queue.pop_first();
                continue;
            };
            if let Some(running) = self.running.get_mut(&id) {
                if entry.plan.is_one_shot() {
                    // Its single run waits for the previous spec's run; `finished` re-arms it.
                    self.set_next(id, None);
                    continue;
                }
                Shared::count(&self.shared.overlaps_skipped);
                running.skipped_since.get_or_insert(slot.at);
                tracing::debug!(
                    test = id,
                    k = slot.k,
                    "previous run still going; slot skipped"
                );
            } else if entry.plan.open_at(now) {
                let limit = entry.limit;
                if entry.plan.is_one_shot() {
                    self.one_shots_taken
                        .entry(id)
                        .or_default()
                        .push(entry.test.spec.clone());
                }
                self.start(id, slot);
                self.running.insert(
                    id,
                    Running {
                        limit,
                        skipped_since: None,
                    },
                );
            }
            let next = self
                .tests
                .get(&id)
                .and_then(|entry| entry.plan.next_at_or_after(now, slot.k + 1));
            self.set_next(id, next);
        }
    }

    fn start(&mut self, id: i64, slot: Slot) {
        let Some(entry) = self.tests.get(&id) else {
            return;
        };
        let context = RunContext {
            agent_id: self.config.agent_id,
            test: Arc::clone(&entry.test),
            slot,
            // Replaced when the probe starts.
            started_at: SystemTime::UNIX_EPOCH,
        };
        let state = entry.state.clone();
        let limit = entry.limit;
        let runner = Arc::clone(&self.runner);
        let semaphore = Arc::clone(&self.semaphore);
        let shared = Arc::clone(&self.shared);
        let wall_clock = Arc::clone(&self.wall_clock);
        let out = self.out.clone();
        let handle = self.runs.spawn(async move {
            let permit = match Arc::clone(&semaphore).try_acquire_owned() {
                Ok(permit) => permit,
                Err(TryAcquireError::Closed) => return,
                Err(TryAcquireError::NoPermits) => {
                    Shared::count(&shared.concurrency_waits);
                    match semaphore.acquire_owned().await {
                        Ok(permit) => permit,
                        // Closed: the scheduler is shutting down.
                        Err(_) => return,
                    }
                }
            };
            let mut context = context;
            context.started_at = wall_clock();
            shared.record_lag(Instant::now().saturating_duration_since(slot.at));
            Shared::count(&shared.runs_started);
            let in_flight = InFlight::new(&shared);
            let outcome = tokio::time::timeout(limit, runner.run(context.clone(), state)).await;
            drop(permit);
            drop(in_flight);
            let test = context.test.id;
            let points = match outcome {
                Ok(Ok(points)) => {
                    Shared::count(&shared.runs_completed);
                    points
                }
                Ok(Err(error)) => {
                    Shared::count(&shared.runs_completed);
                    Shared::count(&shared.probe_errors);
                    tracing::warn!(test, %error, "probe failed; this run has no points");
                    Vec::new()
                }
                Err(_) => {
                    Shared::count(&shared.probe_timeouts);
                    tracing::warn!(
                        test,
                        limit_ms = limit.as_millis() as u64,
                        "run exceeded its limit and was cancelled"
                    );
                    runner.timed_out(&context, limit)
                }
            };
            let points = stamp(points, context.started_at);
            if !points.is_empty() && out.send(points).await.is_err() {
                tracing::error!(test, "the points consumer is gone; a run's points are lost");
            }
        });
        self.tasks.insert(handle.id(), id);
    }

    fn finished(&mut self, joined: Result<(tokio::task::Id, ()), JoinError>) {
        let task = match &joined {
            Ok((task, ())) => *task,
            Err(e) => e.id(),
        };
        let Some(id) = self.tasks.remove(&task) else {
            return;
        };
        if let Err(e) = joined
            && e.is_panic()
        {
            Shared::count(&self.shared.runs_completed);
            Shared::count(&self.shared.probe_errors);
            tracing::error!(test = id, error = %e, "probe panicked; this run has no points");
        }
        let now = Instant::now();
        if let Some(Running {
            skipped_since: Some(slot),
            ..
        }) = self.running.remove(&id)
        {
            self.shared.record_lag(now.saturating_duration_since(slot));
        }
        // A one-shot that waited for this run.
        if let Some(entry) = self.tests.get(&id)
            && entry.plan.is_one_shot()
            && entry.next.is_none()
            && !self
                .one_shots_taken
                .get(&id)
                .is_some_and(|specs| specs.contains(&entry.test.spec))
        {
            let next = entry.plan.next_run(now);
            self.set_next(id, next);
        }
    }

    async fn shutdown(mut self) {
        // Runs waiting for a permit give up; running ones keep theirs.
        self.semaphore.close();
        let longest = self
            .running
            .values()
            .map(|r| r.limit)
            .max()
            .unwrap_or_default();
        let deadline = Instant::now() + longest + SHUTDOWN_SLACK;
        loop {
            match tokio::time::timeout_at(deadline, self.runs.join_next_with_id()).await {
                Ok(Some(joined)) => self.finished(joined),
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        runs = self.runs.len(),
                        "runs still going at shutdown; cancelled"
                    );
                    self.runs.abort_all();
                    while self.runs.join_next().await.is_some() {}
                    break;
                }
            }
        }
        self.tests.clear();
        self.queue.clear();
        self.publish_counts();
    }
}

/// Gives every point without a time the run's start time.
fn stamp(points: Vec<Point>, started_at: SystemTime) -> Vec<Point> {
    let Some(time) = Timestamp::from_system_time(started_at) else {
        return points;
    };
    points
        .into_iter()
        .map(|p| {
            if p.time().is_none() {
                p.timestamp(time)
            } else {
                p
            }
        })
        .collect()
}
