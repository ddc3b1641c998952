//! The scheduler through its public API.
//!
//! Most tests run on Tokio's paused clock (`start_paused`): time moves only when every
//! task waits, straight to the next timer, so run times are exact and a day of
//! schedule takes milliseconds. They use [`FakeProbe`], a runner that records when each
//! run started, counts runs in flight and takes a scripted time, and a wall clock that
//! moves with the paused monotonic clock ([`paused_wall_clock`]). The last test runs the
//! real ping (127.0.0.1) and host probes on the real clocks.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use streamswarm_agent::probes::{self, ProbeError};
use streamswarm_agent::schedule::{
    self, AssignedTest, RunContext, Runner, SchedulerConfig, SchedulerHandle, WallClock,
};
use streamswarm_schema::test_spec::{HostParams, PingParams, Schedule, TestParams, TestSpec};
use streamswarm_tsdb::{FieldValue, Point, Timestamp, assert_follows_schema};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

/// Wall-clock time of the paused tests' start: a whole minute, in ms since the epoch.
const BASE_MS: i64 = 1_700_000_040_000;

/// A wall clock that reads `base_ms` when created and then moves with Tokio's
/// (paused) monotonic clock.
fn paused_wall_clock(base_ms: i64) -> WallClock {
    let mono_base = Instant::now();
    let wall_base = UNIX_EPOCH + Duration::from_millis(base_ms as u64);
    Arc::new(move || wall_base + Instant::now().duration_since(mono_base))
}

fn wall_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// What a [`FakeProbe`] run does.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    Take(Duration),
    Hang,
    Fail,
}

#[derive(Debug, Clone)]
struct Start {
    test: i64,
    k: u64,
    slot: Instant,
    at: Instant,
    started_at: SystemTime,
    /// Runs this test's state had seen, this one included.
    state_runs: u64,
}

/// A fake probe (see the module doc); every run behaves the same.
#[derive(Clone)]
struct FakeProbe(Arc<FakeInner>);

struct FakeInner {
    behaviour: Behaviour,
    starts: Mutex<Vec<Start>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl FakeProbe {
    fn new(behaviour: Behaviour) -> Self {
        FakeProbe(Arc::new(FakeInner {
            behaviour,
            starts: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }))
    }

    fn starts(&self) -> Vec<Start> {
        self.0.starts.lock().unwrap().clone()
    }

    fn starts_of(&self, test: i64) -> Vec<Start> {
        self.starts()
            .into_iter()
            .filter(|s| s.test == test)
            .collect()
    }

    fn max_in_flight(&self) -> usize {
        self.0.max_in_flight.load(Ordering::SeqCst)
    }
}

struct Leaving(Arc<FakeInner>);

impl Drop for Leaving {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Runner for FakeProbe {
    type State = Arc<AtomicU64>;

    fn prepare(&self, test: &AssignedTest) -> Result<Self::State, ProbeError> {
        // The real answer to "can this agent run it".
        probes::prepare(&test.spec).map(|_| Arc::default())
    }

    fn run(
        &self,
        run: RunContext,
        state: Self::State,
    ) -> impl Future<Output = Result<Vec<Point>, ProbeError>> + Send + 'static {
        let inner = Arc::clone(&self.0);
        async move {
            let state_runs = state.fetch_add(1, Ordering::SeqCst) + 1;
            inner.starts.lock().unwrap().push(Start {
                test: run.test.id,
                k: run.slot.k,
                slot: run.slot.at,
                at: Instant::now(),
                started_at: run.started_at,
                state_runs,
            });
            let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let _leaving = Leaving(Arc::clone(&inner));
            match inner.behaviour {
                Behaviour::Take(d) => sleep(d).await,
                Behaviour::Hang => std::future::pending().await,
                Behaviour::Fail => {
                    return Err(ProbeError::failed(run.test.spec.kind, "fake probe failure"));
                }
            }
            // No timestamp: the scheduler stamps points with the run's start.
            Ok(vec![
                Point::new_dynamic("fake_run")
                    .tag_dynamic("test", run.test.id.to_string())
                    .field_dynamic("k", run.slot.k as i64),
            ])
        }
    }
}

fn schedule(interval_seconds: u32) -> Schedule {
    Schedule::every(interval_seconds)
}

fn ping_test(id: i64, schedule: Schedule) -> AssignedTest {
    ping_test_with(id, "127.0.0.1", PingParams::default(), schedule)
}

fn ping_test_with(id: i64, target: &str, params: PingParams, schedule: Schedule) -> AssignedTest {
    AssignedTest {
        id,
        name: format!("ping {id}"),
        spec: TestSpec {
            kind: streamswarm_schema::TestKind::Ping,
            target: target.into(),
            params: TestParams::Ping(params),
            schedule,
        },
    }
}

fn host_test(id: i64, schedule: Schedule) -> AssignedTest {
    AssignedTest {
        id,
        name: format!("host {id}"),
        spec: TestSpec {
            kind: streamswarm_schema::TestKind::Host,
            target: String::new(),
            params: TestParams::Host(HostParams {}),
            schedule,
        },
    }
}

/// The batches a scheduler sent, collected by a task.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<Vec<Point>>>>);

impl Collected {
    fn batches(&self) -> Vec<Vec<Point>> {
        self.0.lock().unwrap().clone()
    }
}

fn collect() -> (mpsc::Sender<Vec<Point>>, Collected) {
    let (tx, mut rx) = mpsc::channel::<Vec<Point>>(1024);
    let collected = Collected::default();
    let sink = collected.clone();
    tokio::spawn(async move {
        while let Some(batch) = rx.recv().await {
            sink.0.lock().unwrap().push(batch);
        }
    });
    (tx, collected)
}

struct Harness {
    scheduler: SchedulerHandle,
    probe: FakeProbe,
    points: Collected,
    /// The paused monotonic clock at the wall clock's `BASE_MS`.
    t0: Instant,
}

fn harness(
    agent_id: i64,
    default: Behaviour,
    configure: impl FnOnce(&mut SchedulerConfig),
) -> Harness {
    let mut config = SchedulerConfig::new(agent_id);
    config.probe_timeout_margin = Duration::from_secs(1);
    configure(&mut config);
    let probe = FakeProbe::new(default);
    let (tx, points) = collect();
    let t0 = Instant::now();
    let scheduler = schedule::spawn_with(config, tx, probe.clone(), paused_wall_clock(BASE_MS));
    Harness {
        scheduler,
        probe,
        points,
        t0,
    }
}

impl Harness {
    /// Sleeps on the paused clock until `secs` after the start.
    async fn until(&self, secs: f64) {
        tokio::time::sleep_until(self.t0 + Duration::from_secs_f64(secs)).await;
    }

    /// Start times of `test`'s runs in ms after the start.
    fn start_offsets_ms(&self, test: i64) -> Vec<u64> {
        self.probe
            .starts_of(test)
            .iter()
            .map(|s| s.at.duration_since(self.t0).as_millis() as u64)
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn runs_stay_on_the_grid_for_ten_thousand_intervals() {
    // Every run takes 700 ms: "previous run + interval" would be 7,000 s late by the end.
    let h = harness(1, Behaviour::Take(Duration::from_millis(700)), |_| {});
    let mut s = schedule(10);
    s.start_at_ms = Some(BASE_MS + 250);
    h.scheduler.set_tests(vec![ping_test(5, s)]);
    h.until(100_001.0).await;

    let starts = h.probe.starts_of(5);
    assert_eq!(
        starts.len(),
        10_001,
        "runs at 0.25 s, 10.25 s, … 100,000.25 s"
    );
    for (k, start) in starts.iter().enumerate() {
        let expected = h.t0 + Duration::from_millis(250) + Duration::from_secs(10) * k as u32;
        assert_eq!(start.k, k as u64);
        assert_eq!(start.slot, expected);
        // The paused clock wakes timers at their deadline: the run starts on its slot.
        assert_eq!(start.at, expected, "run {k}");
        assert_eq!(wall_ms(start.started_at), BASE_MS + 250 + 10_000 * k as i64);
    }
    let stats = h.scheduler.stats();
    assert_eq!((stats.runs_started, stats.runs_completed), (10_001, 10_001));
    assert_eq!(stats.overlaps_skipped, 0);
    assert_eq!(stats.max_lag_ms, 0.0);
    // Every run's point arrived, stamped with the wall-clock time its run started.
    let batches = h.points.batches();
    assert_eq!(batches.len(), 10_001);
    for (k, batch) in batches.iter().enumerate() {
        let expected = (BASE_MS + 250 + 10_000 * k as i64) * 1_000_000;
        assert_eq!(batch[0].time(), Some(Timestamp::from_nanos(expected)));
    }
}

#[tokio::test(start_paused = true)]
async fn aligned_tests_phase_lock_on_the_wall_clock_with_a_stable_per_agent_jitter() {
    let mut s = schedule(60);
    s.jitter_seconds = 30;
    let mut offsets = Vec::new();
    for agent in 1..=6 {
        let h = harness(agent, Behaviour::Take(Duration::ZERO), |_| {});
        h.scheduler.set_tests(vec![ping_test(42, s.clone())]);
        h.until(600.0).await;
        let starts = h.probe.starts_of(42);
        assert_eq!(starts.len(), 10, "one run a minute for 10 minutes");
        let phase: Vec<i64> = starts
            .iter()
            .map(|st| wall_ms(st.started_at) % 60_000)
            .collect();
        // The same offset into every wall-clock minute, within [0, 30 s).
        assert!(phase.iter().all(|p| *p == phase[0]), "{phase:?}");
        assert!((0..30_000).contains(&phase[0]), "{phase:?}");
        assert_eq!(
            Duration::from_millis(phase[0] as u64),
            schedule::plan::jitter(agent, 42, 30)
        );
        h.scheduler.shutdown().await;
        offsets.push(phase[0]);
    }
    // Assigned again (a restart), agent 1 keeps its phase.
    let h = harness(1, Behaviour::Take(Duration::ZERO), |_| {});
    h.scheduler.set_tests(vec![ping_test(42, s.clone())]);
    h.until(60.0).await;
    assert_eq!(
        wall_ms(h.probe.starts_of(42)[0].started_at) % 60_000,
        offsets[0]
    );
    offsets.sort_unstable();
    offsets.dedup();
    assert!(
        offsets.len() > 1,
        "agents spread over the jitter range: {offsets:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn no_run_starts_before_the_window_opens_or_once_it_has_closed() {
    let h = harness(1, Behaviour::Take(Duration::from_millis(100)), |_| {});
    let mut s = schedule(10);
    s.start_at_ms = Some(BASE_MS + 10_500);
    s.end_at_ms = Some(BASE_MS + 40_500);
    h.scheduler.set_tests(vec![ping_test(1, s)]);
    h.until(200.0).await;
    // 40.5 s is the end itself: excluded.
    assert_eq!(h.start_offsets_ms(1), [10_500, 20_500, 30_500]);
}

#[tokio::test(start_paused = true)]
async fn one_shot_tests_run_once_per_id_and_spec() {
    let h = harness(1, Behaviour::Take(Duration::from_millis(100)), |_| {});
    let mut now = schedule(60);
    now.one_shot = true;
    let mut later = now.clone();
    later.start_at_ms = Some(BASE_MS + 30_000);
    let assigned = vec![ping_test(1, now.clone()), ping_test(2, later.clone())];
    h.scheduler.set_tests(assigned.clone());
    h.until(10.0).await;
    assert_eq!(h.start_offsets_ms(1), [0], "no start: as soon as assigned");
    assert!(h.start_offsets_ms(2).is_empty());
    h.until(3_600.0).await;
    assert_eq!(h.start_offsets_ms(2), [30_000], "at its start");
    // Assigned again, unchanged or after being removed: never again.
    h.scheduler.set_tests(assigned.clone());
    h.until(3_700.0).await;
    h.scheduler.set_tests(Vec::new());
    h.until(3_800.0).await;
    h.scheduler.set_tests(assigned);
    h.until(7_200.0).await;
    assert_eq!(h.probe.starts().len(), 2);
    // A changed spec is a new one-shot.
    let edited = ping_test_with(1, "127.0.0.2", PingParams::default(), now);
    h.scheduler.set_tests(vec![edited]);
    h.until(7_300.0).await;
    assert_eq!(h.start_offsets_ms(1), [0, 7_200_000]);
    assert_eq!(h.scheduler.stats().runs_started, 3);
}

#[tokio::test(start_paused = true)]
async fn set_tests_keeps_unchanged_tests_and_picks_up_changes() {
    let h = harness(1, Behaviour::Take(Duration::from_millis(100)), |_| {});
    // BASE_MS is a whole minute, so the aligned 10 s grid is at 0, 10, 20 … s.
    let a = ping_test(1, schedule(10));
    h.scheduler.set_tests(vec![a.clone()]);
    h.until(25.0).await;
    let b = host_test(2, schedule(10));
    let mut renamed = a.clone();
    renamed.name = "renamed".into();
    h.scheduler.set_tests(vec![renamed.clone(), b.clone()]);
    h.until(45.0).await;
    // A changed spec: anchored at 46.5 s.
    let mut s = schedule(10);
    s.start_at_ms = Some(BASE_MS + 46_500);
    let a2 = ping_test(1, s);
    h.scheduler.set_tests(vec![a2.clone(), b.clone()]);
    h.until(65.0).await;
    // B removed.
    h.scheduler.set_tests(vec![a2]);
    h.until(100.0).await;

    assert_eq!(
        h.start_offsets_ms(1),
        [
            0, 10_000, 20_000, 30_000, 40_000, 46_500, 56_500, 66_500, 76_500, 86_500, 96_500
        ]
    );
    let state_runs: Vec<u64> = h.probe.starts_of(1).iter().map(|s| s.state_runs).collect();
    // Same state through the rename; a fresh one for the changed spec.
    assert_eq!(state_runs, [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6]);
    assert_eq!(h.start_offsets_ms(2), [30_000, 40_000, 50_000, 60_000]);
    assert_eq!(h.scheduler.stats().tests_scheduled, 1);
}

#[tokio::test(start_paused = true)]
async fn slots_during_a_running_run_are_skipped_counted_and_lag_is_measured() {
    let h = harness(1, Behaviour::Take(Duration::from_millis(2_500)), |_| {});
    let mut s = schedule(1);
    s.start_at_ms = Some(BASE_MS + 1_000);
    h.scheduler.set_tests(vec![ping_test(1, s)]);
    h.until(10.2).await;
    // Each run covers the next two slots.
    assert_eq!(h.start_offsets_ms(1), [1_000, 4_000, 7_000, 10_000]);
    let stats = h.scheduler.stats();
    assert_eq!(stats.overlaps_skipped, 6);
    assert_eq!(h.probe.max_in_flight(), 1);
    // The first skipped slot (2 s) was 1.5 s late when its test became free (3.5 s).
    assert_eq!(stats.max_lag_ms, 1_500.0);
    assert_eq!(stats.runs_started, 4);
}

#[tokio::test(start_paused = true)]
async fn a_run_past_its_limit_is_cancelled_and_reports_a_timeout_point() {
    let h = harness(3, Behaviour::Hang, |c| {
        c.probe_timeout_margin = Duration::from_millis(1_000);
    });
    let params = PingParams {
        count: 3,
        interval_ms: 200,
        timeout_ms: 1_000,
        ..PingParams::default()
    };
    let mut s = schedule(60);
    s.start_at_ms = Some(BASE_MS + 1_000);
    h.scheduler
        .set_tests(vec![ping_test_with(9, "192.0.2.1", params, s)]);
    // Limit: 5 s resolution + 2 × 200 ms + 1 s timeout + 1 s margin = 7.4 s.
    h.until(8.399).await;
    assert!(h.points.batches().is_empty());
    assert_eq!(h.scheduler.stats().runs_in_flight, 1);
    h.until(8.401).await;
    let batches = h.points.batches();
    assert_eq!(batches.len(), 1);
    let point = &batches[0][0];
    assert_follows_schema(point);
    assert_eq!(point.measurement(), "ping");
    assert_eq!(point.tag_value("agent"), Some("3"));
    assert_eq!(point.tag_value("test"), Some("9"));
    assert_eq!(
        point.field_value("loss_percent"),
        Some(&FieldValue::Float(100.0))
    );
    assert_eq!(point.field_value("received"), Some(&FieldValue::Integer(0)));
    match point.field_value("error") {
        Some(FieldValue::String(e)) => assert!(e.starts_with("timeout: "), "{e}"),
        other => panic!("no error: {other:?}"),
    }
    // Stamped with when the run started, not when it was cancelled.
    assert_eq!(
        point.time(),
        Some(Timestamp::from_nanos((BASE_MS + 1_000) * 1_000_000))
    );
    let stats = h.scheduler.stats();
    assert_eq!(
        (
            stats.runs_started,
            stats.runs_completed,
            stats.probe_timeouts,
            stats.runs_in_flight
        ),
        (1, 0, 1, 0)
    );
    // The next slot runs as usual.
    h.until(62.0).await;
    assert_eq!(h.start_offsets_ms(9), [1_000, 61_000]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_probe_is_counted_and_sends_nothing() {
    let h = harness(1, Behaviour::Fail, |_| {});
    h.scheduler.set_tests(vec![ping_test(1, schedule(10))]);
    h.until(35.0).await;
    let stats = h.scheduler.stats();
    assert_eq!((stats.runs_completed, stats.probe_errors), (4, 4));
    assert!(h.points.batches().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_limit_is_never_exceeded_and_waiting_counts_as_lag() {
    let h = harness(1, Behaviour::Take(Duration::from_millis(300)), |c| {
        c.max_concurrent = 4;
    });
    // Twelve tests due at the same instants: three waves of four.
    let tests = (1..=12).map(|id| ping_test(id, schedule(1))).collect();
    h.scheduler.set_tests(tests);
    h.until(9.95).await;
    assert_eq!(h.probe.max_in_flight(), 4);
    let stats = h.scheduler.stats();
    assert_eq!(stats.runs_started, 12 * 10, "slots at 0 … 9 s");
    assert_eq!(stats.overlaps_skipped, 0);
    assert_eq!(stats.concurrency_waits, 8 * 10);
    // The third wave starts 600 ms after its slot.
    assert_eq!(stats.max_lag_ms, 600.0);
    let lags: Vec<u128> = h
        .probe
        .starts()
        .iter()
        .map(|s| s.at.duration_since(s.slot).as_millis())
        .collect();
    for wave in lags.chunks(12) {
        let mut wave = wave.to_vec();
        wave.sort_unstable();
        assert_eq!(wave, [0, 0, 0, 0, 300, 300, 300, 300, 600, 600, 600, 600]);
    }
}

/// Log lines of the current thread (a `#[tokio::test]` runtime runs every task on it).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(start_paused = true)]
async fn invalid_tests_are_not_scheduled_and_refused_once() {
    // (Every kind has its probe: agent/src/probes/registry.rs checks that, so the
    // refusal left to prove is the invalid test's.)
    let logs = Logs::default();
    let _capture = logs.capture();
    let (tx, points) = collect();
    let scheduler = schedule::spawn(SchedulerConfig::new(1), tx);
    let tests = vec![ping_test(2, schedule(0))];
    scheduler.set_tests(tests.clone());
    sleep(Duration::from_secs(30)).await;
    scheduler.set_tests(tests.clone());
    sleep(Duration::from_secs(30)).await;
    let stats = scheduler.stats();
    assert_eq!((stats.tests_refused, stats.tests_scheduled), (1, 0));
    assert_eq!(stats.runs_started, 0);
    assert!(points.batches().is_empty());
    // The refusal is logged once, however often the same test is assigned.
    let text = logs.text();
    assert_eq!(
        text.matches("invalid test: schedule.interval_seconds")
            .count(),
        1,
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_test_changed_to_one_shot_waits_for_its_running_run() {
    let h = harness(1, Behaviour::Take(Duration::from_secs(5)), |_| {});
    let mut s = schedule(60);
    s.start_at_ms = Some(BASE_MS + 1_000);
    h.scheduler.set_tests(vec![ping_test(1, s.clone())]);
    h.until(2.0).await;
    s.one_shot = true;
    s.start_at_ms = None;
    h.scheduler.set_tests(vec![ping_test(1, s)]);
    h.until(120.0).await;
    // The one-shot is due at 2 s, but the previous spec's run holds the test until 6 s.
    assert_eq!(h.start_offsets_ms(1), [1_000, 6_000]);
    assert_eq!(h.scheduler.stats().overlaps_skipped, 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_running_runs_finish_and_starts_no_more() {
    let h = harness(1, Behaviour::Take(Duration::from_secs(5)), |c| {
        c.max_concurrent = 1;
    });
    let mut s = schedule(60);
    s.start_at_ms = Some(BASE_MS + 1_000);
    // Test 2 waits for test 1's permit when shutdown comes.
    h.scheduler
        .set_tests(vec![ping_test(1, s.clone()), ping_test(2, s)]);
    h.until(2.0).await;
    h.scheduler.shutdown().await;
    assert_eq!(Instant::now().duration_since(h.t0), Duration::from_secs(6));
    // Whichever test got the permit ran; the other never started.
    let starts = h.probe.starts();
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0].at.duration_since(h.t0), Duration::from_secs(1));
    // Give the collector a turn.
    sleep(Duration::from_millis(1)).await;
    assert_eq!(h.points.batches().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_is_bounded_when_a_run_hangs() {
    let h = harness(1, Behaviour::Hang, |_| {});
    let mut s = schedule(60);
    s.start_at_ms = Some(BASE_MS + 1_000);
    let params = PingParams {
        count: 1,
        timeout_ms: 1_000,
        ..PingParams::default()
    };
    h.scheduler
        .set_tests(vec![ping_test_with(1, "192.0.2.1", params, s)]);
    h.until(2.0).await;
    h.scheduler.shutdown().await;
    // Shutdown waits no longer than the run's limit (5 s + 1 s + 1 s margin from 1 s),
    // and the cancelled run still reports.
    assert_eq!(Instant::now().duration_since(h.t0), Duration::from_secs(8));
    sleep(Duration::from_millis(1)).await;
    let batches = h.points.batches();
    assert_eq!(batches.len(), 1);
    assert!(matches!(
        batches[0][0].field_value("error"),
        Some(FieldValue::String(e)) if e.starts_with("timeout: ")
    ));
}

/// The real probes on the real clocks: ping 127.0.0.1 (the agent tests run as root,
/// like CI; datagram sockets are tried first) and the host probe, each every second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_ping_and_host_runs_produce_schema_points() {
    let (tx, points) = collect();
    let scheduler = schedule::spawn(SchedulerConfig::new(7), tx);
    let params = PingParams {
        count: 3,
        interval_ms: 10,
        timeout_ms: 1_000,
        ..PingParams::default()
    };
    let before = SystemTime::now();
    scheduler.set_tests(vec![
        ping_test_with(1, "127.0.0.1", params, schedule(1)),
        host_test(2, schedule(1)),
    ]);
    let host_batches = |points: &Collected| {
        points
            .batches()
            .into_iter()
            .filter(|b| b.iter().any(|p| p.measurement().starts_with("host_")))
            .collect::<Vec<_>>()
    };
    // A guard against hanging, not a measurement: two runs need about two seconds.
    tokio::time::timeout(Duration::from_secs(60), async {
        while host_batches(&points).len() < 2 {
            sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("two host runs within a minute");
    scheduler.shutdown().await;

    let batches = points.batches();
    for point in batches.iter().flatten() {
        assert_follows_schema(point);
        assert_eq!(point.tag_value("agent"), Some("7"));
        let time = point.time().expect("every point is stamped");
        assert!(time >= Timestamp::from_system_time(before).unwrap());
    }
    let pings: Vec<&Point> = batches
        .iter()
        .flatten()
        .filter(|p| p.measurement() == "ping")
        .collect();
    assert!(!pings.is_empty());
    for ping in pings {
        assert_eq!(ping.tag_value("test"), Some("1"));
        assert_eq!(ping.tag_value("target"), Some("127.0.0.1"));
        assert_eq!(ping.field_value("error"), None, "loopback answers");
        assert_eq!(ping.field_value("received"), Some(&FieldValue::Integer(3)));
        assert_eq!(
            ping.field_value("loss_percent"),
            Some(&FieldValue::Float(0.0))
        );
    }
    // The test's sampler is kept between runs: its first sample has no rates, the
    // second has loopback's rates over the real interval.
    let hosts = host_batches(&points);
    let has_lo_rates = |batch: &Vec<Point>| {
        batch
            .iter()
            .any(|p| p.measurement() == "host_net" && p.tag_value("interface") == Some("lo"))
    };
    assert!(!has_lo_rates(&hosts[0]));
    assert!(has_lo_rates(&hosts[1]));
}

#[tokio::test(start_paused = true)]
async fn five_thousand_tests_each_run_on_their_own_jittered_slot() {
    let h = harness(1, Behaviour::Take(Duration::from_millis(20)), |c| {
        c.max_concurrent = 5_000;
    });
    let mut s = schedule(2);
    s.jitter_seconds = 1;
    h.scheduler
        .set_tests((1..=5_000).map(|id| ping_test(id, s.clone())).collect());
    h.until(9.999).await;
    let starts = h.probe.starts();
    // Slots at j, 2 s + j, … 8 s + j for every test, each started exactly on its slot.
    assert_eq!(starts.len(), 5 * 5_000);
    // The grid index of each test's first run (aligned slots count intervals since 1970).
    let mut first_k = std::collections::HashMap::new();
    for start in &starts {
        let k0 = first_k.entry(start.test).or_insert(start.k);
        *k0 = (*k0).min(start.k);
    }
    for start in &starts {
        assert_eq!(start.at, start.slot);
        let j = schedule::plan::jitter(1, start.test, 1);
        let nth = (start.k - first_k[&start.test]) as u32;
        assert_eq!(
            start.at.duration_since(h.t0),
            Duration::from_secs(2) * nth + j
        );
    }
    let stats = h.scheduler.stats();
    assert_eq!((stats.overlaps_skipped, stats.max_lag_ms), (0, 0.0));
}
