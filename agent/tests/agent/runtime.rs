//! The run loop against a FAKE server (agent API + write endpoint) and a stand-in
//! scheduler that records what it is told. End-to-end with the real server and the
//! real scheduler comes with the merge.

use crate::fake_server::{FakeServer, Recorded, Reply, refused_addr};
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use streamswarm_agent::assignments::{Assignments, RawTest};
use streamswarm_agent::config::AgentConfig;
use streamswarm_agent::runtime::{REVOKED_MESSAGE, run_with};
use streamswarm_agent::scheduler_seam::{
    AssignedTest, BoxFuture, Scheduler, SchedulerStats, SpawnScheduler,
};
use streamswarm_agent::state::StateDir;
use streamswarm_tsdb::line_protocol::{Point, Timestamp};
use tokio::sync::mpsc;

/// What the stand-in scheduler was told.
#[derive(Debug, Default)]
struct SchedulerLog {
    spawned: usize,
    shut_down: usize,
    agent_ids: Vec<i64>,
    test_sets: Vec<Vec<i64>>,
}

/// A stand-in for `schedule::spawn` (tests only): records the calls and, for every
/// `set_tests`, sends one point per test, as runs would.
struct StandInScheduler {
    log: Arc<Mutex<SchedulerLog>>,
    points: mpsc::Sender<Vec<Point>>,
    agent_id: i64,
}

impl Scheduler for StandInScheduler {
    fn set_tests(&self, tests: Vec<AssignedTest>) {
        self.log
            .lock()
            .unwrap()
            .test_sets
            .push(tests.iter().map(|t| t.id).collect());
        let now = Timestamp::from_system_time(std::time::SystemTime::now()).unwrap();
        let points = tests
            .iter()
            .map(|t| {
                Point::new_dynamic("standin_run")
                    .tag_dynamic("agent", self.agent_id.to_string())
                    .tag_dynamic("test", t.id.to_string())
                    .field_dynamic("ok", true)
                    .timestamp(now)
            })
            .collect();
        let _ = self.points.try_send(points);
    }

    fn stats(&self) -> SchedulerStats {
        SchedulerStats {
            probe_errors_total: 1,
            schedule_lag_max_ms: 0.5,
        }
    }

    fn shutdown(self: Box<Self>) -> BoxFuture {
        self.log.lock().unwrap().shut_down += 1;
        Box::pin(async {})
    }
}

fn stand_in(log: &Arc<Mutex<SchedulerLog>>) -> SpawnScheduler {
    let log = log.clone();
    Arc::new(move |config, points| {
        let mut l = log.lock().unwrap();
        l.spawned += 1;
        l.agent_ids.push(config.agent_id);
        Box::new(StandInScheduler {
            log: log.clone(),
            points,
            agent_id: config.agent_id,
        })
    })
}

/// The fake server's mutable side.
#[derive(Debug)]
struct Api {
    revoked: bool,
    etag: String,
    tests: serde_json::Value,
    writes: Vec<String>,
}

fn ping_test(id: i64, target: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "name": format!("ping {target}"), "updated_at_ms": 1, "kind": "ping",
        "target": target, "params": {"count": 2}, "schedule": {"interval_seconds": 10}})
}

fn handler(api: &Arc<Mutex<Api>>) -> impl Fn(&Recorded) -> Reply + Send + Sync + 'static {
    let api = api.clone();
    move |r| {
        let mut api = api.lock().unwrap();
        let authorized = |prefix: &str| {
            !api.revoked && r.header("authorization") == Some(&format!("{prefix} ssw_agt_cred"))
        };
        match r.path.as_str() {
            "/api/v1/agent/enrol" => {
                if r.header("authorization") != Some("Bearer ssw_enr_token") {
                    return Reply::error(401, "enrolment token used up");
                }
                Reply::json(
                    201,
                    serde_json::json!({"agent_id": 42, "name": "edge", "credential": "ssw_agt_cred",
                    "heartbeat_interval_seconds": 1, "write": {"kind": "server"}}),
                )
            }
            "/api/v1/agent/heartbeat" => {
                if !authorized("Bearer") {
                    return Reply::error(401, "agent credential revoked");
                }
                let sent = r.json()["sent_at_ms"].as_i64().unwrap();
                Reply::json(
                    200,
                    serde_json::json!({"server_time_ms": sent, "heartbeat_interval_seconds": 1,
                    "assignments_etag": api.etag}),
                )
            }
            "/api/v1/agent/assignments" => {
                if !authorized("Bearer") {
                    return Reply::error(401, "agent credential revoked");
                }
                if r.header("if-none-match") == Some(api.etag.as_str()) {
                    return Reply::status(304);
                }
                Reply::json(200, serde_json::json!({"agent_id": 42, "tests": api.tests}))
                    .with_header("etag", api.etag.clone())
            }
            "/api/v2/write" => {
                if !authorized("Token") {
                    return Reply::json(
                        401,
                        serde_json::json!({"code": "unauthorized", "message": "revoked"}),
                    );
                }
                let text = r.text();
                api.writes.extend(text.lines().map(str::to_owned));
                Reply::status(204)
            }
            other => Reply::error(404, &format!("no route {other}")),
        }
    }
}

fn config(state: &std::path::Path, server: &str, token: Option<&str>) -> AgentConfig {
    let mut c = AgentConfig::default();
    c.state.dir = state.to_owned();
    c.server.url = Some(server.to_owned());
    c.server.enrol_token = token.map(|t| secrecy::SecretString::from(t.to_owned()));
    c.server.revoked_recheck_interval = Duration::from_secs(2);
    c.self_metrics.interval = Duration::from_secs(1);
    c.spool.fsync = "never".into();
    c.validate().unwrap();
    c
}

/// Log lines written while a test runs (current-thread runtime: every task logs here).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_ansi(false)
                .with_env_filter("info")
                .with_writer(move || logs.clone())
                .finish(),
        )
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn fake_server_run_enrols_heartbeats_follows_assignments_and_writes() {
    let logs = Logs::default();
    let _guard = logs.install();
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(Mutex::new(Api {
        revoked: false,
        etag: "\"v1\"".into(),
        tests: serde_json::json!([ping_test(12, "192.0.2.1")]),
        writes: vec![],
    }));
    let server = FakeServer::start(handler(&api)).await;
    let sched = Arc::new(Mutex::new(SchedulerLog::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_addr = refused_addr().await;
    let mut cfg = config(dir.path(), &server.url(), Some("ssw_enr_token"));
    cfg.self_metrics.prometheus_listen = Some(metrics_addr.to_string());
    let agent = tokio::spawn(run_with(cfg, stand_in(&sched), async move {
        let _ = stopped.await;
    }));

    until("the first assignments", || {
        sched.lock().unwrap().test_sets == vec![vec![12]]
    })
    .await;
    let state = StateDir::open(dir.path()).unwrap();
    assert_eq!(state.load_identity().unwrap().unwrap().agent_id, 42);
    assert_eq!(sched.lock().unwrap().agent_ids, vec![42]);
    assert_eq!(state.load_assignments().unwrap().unwrap().etag, "\"v1\"");

    // An edit on the server reaches the agent within a heartbeat.
    {
        let mut api = api.lock().unwrap();
        api.etag = "\"v2\"".into();
        api.tests = serde_json::json!([ping_test(12, "192.0.2.1"), ping_test(13, "192.0.2.2")]);
    }
    until("the new assignments", || {
        sched.lock().unwrap().test_sets.len() == 2
    })
    .await;
    assert_eq!(sched.lock().unwrap().test_sets[1], vec![12, 13]);
    let fetches = server.requests_to("/api/v1/agent/assignments");
    assert_eq!(
        fetches.last().unwrap().header("if-none-match"),
        Some("\"v1\"")
    );
    assert_eq!(state.load_assignments().unwrap().unwrap().tests.len(), 2);

    // The stand-in's run points and the self-metrics reach the write endpoint.
    until("self-metrics and run points written", || {
        let api = api.lock().unwrap();
        api.writes
            .iter()
            .any(|l| l.starts_with("agent_self,agent=42 "))
            && api
                .writes
                .iter()
                .any(|l| l.starts_with("agent_drops,agent=42,reason=spool_full "))
            && api
                .writes
                .iter()
                .filter(|l| l.starts_with("standin_run,"))
                .count()
                == 3
    })
    .await;
    // The local Prometheus endpoint shows the latest sample: points were produced.
    let text = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let produced: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("streamswarm_agent_points_produced_total "))
        .expect(&text)
        .parse()
        .unwrap();
    assert!(produced > 0, "{text}");
    assert!(
        text.contains("streamswarm_agent_probe_errors_total 1"),
        "{text}"
    );

    let heartbeats = server.requests_to("/api/v1/agent/heartbeat");
    assert!(heartbeats[0].json()["facts"]["clock_offset_ms"].is_null());
    assert!(heartbeats[1].json()["facts"]["clock_offset_ms"].is_number());
    assert_eq!(
        heartbeats[0].json()["hostname"],
        streamswarm_agent::facts::hostname()
    );

    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
    assert_eq!(sched.lock().unwrap().shut_down, 1);
    let text = logs.text();
    assert!(
        !text.contains("ssw_agt_cred") && !text.contains("ssw_enr_token"),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn fake_server_a_revoked_agent_stops_says_so_once_idles_and_resumes() {
    let logs = Logs::default();
    let _guard = logs.install();
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(Mutex::new(Api {
        revoked: false,
        etag: "\"v1\"".into(),
        tests: serde_json::json!([ping_test(12, "192.0.2.1")]),
        writes: vec![],
    }));
    let server = FakeServer::start(handler(&api)).await;
    let sched = Arc::new(Mutex::new(SchedulerLog::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(run_with(
        config(dir.path(), &server.url(), Some("ssw_enr_token")),
        stand_in(&sched),
        async move {
            let _ = stopped.await;
        },
    ));
    until("running", || !sched.lock().unwrap().test_sets.is_empty()).await;

    api.lock().unwrap().revoked = true;
    until("the scheduler stopped", || {
        sched.lock().unwrap().shut_down == 1
    })
    .await;
    let heartbeats_at_revocation = server.requests_to("/api/v1/agent/heartbeat").len();
    let writes_at_revocation = api.lock().unwrap().writes.len();
    // While revoked it re-checks only every revoked_recheck_interval (2 s here), not
    // every heartbeat interval (1 s), and writes nothing.
    until("two re-checks", || {
        server.requests_to("/api/v1/agent/heartbeat").len() >= heartbeats_at_revocation + 2
    })
    .await;
    assert_eq!(
        sched.lock().unwrap().spawned,
        1,
        "not restarted while revoked"
    );
    assert_eq!(api.lock().unwrap().writes.len(), writes_at_revocation);
    let errors = logs.text().matches(REVOKED_MESSAGE).count();
    assert_eq!(errors, 1, "one clear error:\n{}", logs.text());
    assert!(
        !agent.is_finished(),
        "a revoked agent idles; it does not exit"
    );

    // The credential works again (an admin undid the revocation): it resumes.
    api.lock().unwrap().revoked = false;
    until("the scheduler restarted", || {
        sched.lock().unwrap().spawned == 2
    })
    .await;
    until("writing again", || {
        api.lock().unwrap().writes.len() > writes_at_revocation
    })
    .await;
    assert!(logs.text().contains("resuming"));

    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn fake_server_an_unreachable_server_keeps_the_persisted_assignments_running() {
    let logs = Logs::default();
    let _guard = logs.install();
    let dir = tempfile::tempdir().unwrap();
    let addr = refused_addr().await;
    let state = StateDir::open(dir.path()).unwrap();
    state
        .save_identity(&streamswarm_agent::state::Identity {
            server_url: format!("http://{addr}/"),
            agent_id: 5,
            name: "edge".into(),
            credential: secrecy::SecretString::from("ssw_agt_cred".to_owned()),
            write: streamswarm_agent::state::WriteTarget::server(),
        })
        .unwrap();
    state
        .save_assignments(&Assignments {
            etag: "\"old\"".into(),
            agent_id: 5,
            tests: vec![RawTest {
                id: 77,
                name: "kept".into(),
                updated_at_ms: None,
                kind: serde_json::json!("ping"),
                target: "192.0.2.9".into(),
                params: serde_json::json!({}),
                schedule: serde_json::json!({"interval_seconds": 30}),
            }],
        })
        .unwrap();
    let sched = Arc::new(Mutex::new(SchedulerLog::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(run_with(
        config(dir.path(), &format!("http://{addr}/"), None),
        stand_in(&sched),
        async move {
            let _ = stopped.await;
        },
    ));
    until("the persisted tests running", || {
        sched.lock().unwrap().test_sets == vec![vec![77]]
    })
    .await;
    until("the outage logged", || {
        logs.text().contains("cannot reach the server")
    })
    .await;
    // Points keep going to the spool meanwhile (self-metrics every second).
    until("points spooled", || {
        std::fs::read_dir(dir.path().join("spool"))
            .map(|d| d.count() > 0)
            .unwrap_or(false)
    })
    .await;
    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
    assert_eq!(logs.text().matches("cannot reach the server").count(), 1);
    let _ = std::io::stderr().flush();
}

#[tokio::test]
async fn not_enrolled_without_a_token_is_an_error_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let sched = Arc::new(Mutex::new(SchedulerLog::default()));
    let err = run_with(
        config(dir.path(), "http://127.0.0.1:9/", None),
        stand_in(&sched),
        std::future::pending(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("--token") && err.contains("enrol_token"),
        "{err}"
    );
    assert_eq!(sched.lock().unwrap().spawned, 0);
}

#[tokio::test]
async fn fake_server_a_refused_enrolment_token_is_an_error_saying_so() {
    let api = Arc::new(Mutex::new(Api {
        revoked: false,
        etag: "\"v1\"".into(),
        tests: serde_json::json!([]),
        writes: vec![],
    }));
    let server = FakeServer::start(handler(&api)).await;
    let dir = tempfile::tempdir().unwrap();
    let sched = Arc::new(Mutex::new(SchedulerLog::default()));
    let err = run_with(
        config(dir.path(), &server.url(), Some("ssw_enr_wrong")),
        stand_in(&sched),
        std::future::pending(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("enrolment token used up"), "{err}");
    assert!(!dir.path().join("identity.json").exists());
    server.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn fake_server_an_outage_is_logged_once_then_at_a_low_rate_and_its_end_too() {
    let logs = Logs::default();
    let _guard = logs.install();
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(Mutex::new(Api {
        revoked: false,
        etag: "\"v1\"".into(),
        tests: serde_json::json!([ping_test(12, "192.0.2.1")]),
        writes: vec![],
    }));
    let server = FakeServer::start(handler(&api)).await;
    let addr = server.addr;
    let sched = Arc::new(Mutex::new(SchedulerLog::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut cfg = config(dir.path(), &server.url(), Some("ssw_enr_token"));
    cfg.server.outage_log_interval = Duration::from_secs(2);
    let agent = tokio::spawn(run_with(cfg, stand_in(&sched), async move {
        let _ = stopped.await;
    }));
    until("running", || !sched.lock().unwrap().test_sets.is_empty()).await;

    // The server goes away; heartbeats (every second) fail.
    server.stop().await;
    until("the outage logged", || {
        logs.text().contains("cannot reach the server")
    })
    .await;
    until("a reminder", || logs.text().contains("still unreachable")).await;
    let text = logs.text();
    assert_eq!(text.matches("cannot reach the server").count(), 1, "{text}");
    assert_eq!(sched.lock().unwrap().shut_down, 0, "the tests keep running");

    let server = FakeServer::start_on(addr, handler(&api)).await;
    until("the end of the outage", || {
        logs.text().contains("reachable again")
    })
    .await;
    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn fake_server_the_heartbeat_reports_the_probe_policy_the_agent_enforces() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(Mutex::new(Api {
        revoked: false,
        etag: "\"v1\"".into(),
        tests: serde_json::json!([]),
        writes: vec![],
    }));
    let server = FakeServer::start(handler(&api)).await;
    let sched = Arc::new(Mutex::new(SchedulerLog::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut cfg = config(dir.path(), &server.url(), Some("ssw_enr_token"));
    cfg.probes.deny = vec!["169.254.0.0/16".into(), "127.0.0.0/8".into()];
    cfg.probes.allow = vec!["127.0.0.53".into()];
    let agent = tokio::spawn(run_with(cfg, stand_in(&sched), async move {
        let _ = stopped.await;
    }));
    until("a heartbeat", || {
        !server.requests_to("/api/v1/agent/heartbeat").is_empty()
    })
    .await;
    let heartbeat = server.requests_to("/api/v1/agent/heartbeat")[0].json();
    assert_eq!(
        heartbeat["facts"]["probe_policy"],
        serde_json::json!({"deny": ["169.254.0.0/16", "127.0.0.0/8"], "allow": ["127.0.0.53/32"]})
    );
    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
    server.stop().await;
}

/// The time of a line (its last field, nanoseconds).
fn line_time_ns(line: &str) -> i64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// The FAKE server answers no `/ping` here (404), so only the heartbeat that reaches it
/// again can end delivery's backoff early.
#[tokio::test(flavor = "current_thread")]
async fn fake_server_after_a_server_outage_the_spool_drains_within_2s_of_its_return() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(Mutex::new(Api {
        revoked: false,
        etag: "\"v1\"".into(),
        tests: serde_json::json!([]),
        writes: vec![],
    }));
    let server = FakeServer::start(handler(&api)).await;
    let addr = server.addr;
    let sched = Arc::new(Mutex::new(SchedulerLog::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(run_with(
        config(dir.path(), &server.url(), Some("ssw_enr_token")),
        stand_in(&sched),
        async move {
            let _ = stopped.await;
        },
    ));
    let self_sample = |l: &String| l.starts_with("agent_self,agent=42 ");
    until("self-metrics written", || {
        api.lock().unwrap().writes.iter().any(self_sample)
    })
    .await;

    // Down long enough for the write backoff (1 s doubling, with jitter) to grow: the
    // self-metrics written every second fail into it.
    server.stop().await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let returned_at_ns = Timestamp::from_system_time(std::time::SystemTime::now())
        .unwrap()
        .as_nanos();
    let server = FakeServer::start_on(addr, handler(&api)).await;
    let back = tokio::time::Instant::now();
    // The last sample taken while the server was down (one a second) has arrived.
    until("the backlog", || {
        api.lock().unwrap().writes.iter().any(|l| {
            self_sample(l) && {
                let t = line_time_ns(l);
                t <= returned_at_ns && t > returned_at_ns - 1_500_000_000
            }
        })
    })
    .await;
    let drained_after = back.elapsed();
    assert!(
        drained_after <= Duration::from_secs(2),
        "the backlog took {drained_after:?} after the server returned"
    );
    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
    server.stop().await;
}
