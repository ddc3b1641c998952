//! Recovery after an outage of the write target (FAKE store): the spooled backlog goes
//! as soon as the store is back, not when a grown backoff ends, and waiting for it
//! costs a bounded number of requests. The run loop's side (a heartbeat that reaches the
//! server again wakes delivery) is in `runtime.rs`.

use crate::fake_server::{FakeServer, Recorded, Reply, refused_addr};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use streamswarm_agent::delivery::{DeliveryExit, Pipeline};
use streamswarm_agent::spool::{FsyncPolicy, SpoolConfig};
use streamswarm_tsdb::influx::{InfluxConfig, InfluxVersion};
use streamswarm_tsdb::line_protocol::{Point, Timestamp};
use streamswarm_tsdb::write::{Backoff, RetryPolicy, Writer};
use tokio::io::AsyncReadExt as _;
use tokio::sync::watch;
use tokio::time::Instant;

/// The bound the issue states: the backlog is sent within 2 s of the store's return.
const DRAIN_BOUND: Duration = Duration::from_secs(2);

/// A backoff that has already grown: every wait is at least 10 s (up to 60 s), so a
/// sender that only waits it out cannot drain within [`DRAIN_BOUND`].
fn grown_backoff() -> RetryPolicy {
    let grown = Backoff {
        initial: Duration::from_secs(10),
        max: Duration::from_secs(60),
        floor: Duration::from_secs(10),
    };
    RetryPolicy {
        transient: grown,
        alarm: grown,
        retry_after_cap: Duration::from_secs(60),
    }
}

fn writer(addr: SocketAddr, policy: RetryPolicy) -> Writer {
    Writer::new(InfluxConfig {
        url: format!("http://{addr}/"),
        version: InfluxVersion::V2,
        org: Some("streamswarm".into()),
        bucket: Some("streamswarm".into()),
        token: Some(SecretString::from("ssw_agt_test".to_owned())),
        ..InfluxConfig::default()
    })
    .unwrap()
    .with_policy(policy)
}

fn spool_config() -> SpoolConfig {
    SpoolConfig {
        max_bytes: 1 << 20,
        segment_bytes: 4096,
        fsync: FsyncPolicy::Never,
    }
}

/// Appends points `range` (one spool record each).
async fn produce(pipeline: &Pipeline, range: std::ops::Range<usize>) {
    let expected = range.len();
    let points: Vec<Point> = range
        .map(|i| {
            Point::new_dynamic("oracle")
                .tag_dynamic("agent", "1")
                .field_dynamic("seq", i as i64)
                .timestamp(Timestamp::from_nanos(1_764_100_000_000_000_000 + i as i64))
        })
        .collect();
    assert_eq!(pipeline.append_points(points).await, expected);
}

/// The delivery task over `pipeline`, stopped by the returned sender.
fn deliver(
    pipeline: &Pipeline,
    writer: Writer,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<DeliveryExit>) {
    let (stop, stop_rx) = watch::channel(false);
    let pipeline = pipeline.clone();
    let task = tokio::spawn(async move { pipeline.deliver(writer, stop_rx).await });
    (stop, task)
}

/// A store that accepts every write and answers `/ping` 204, counting accepted lines.
fn healthy_store(
    accepted: &Arc<Mutex<usize>>,
) -> impl Fn(&Recorded) -> Reply + Send + Sync + 'static {
    let accepted = accepted.clone();
    move |r| match r.path.as_str() {
        "/ping" => Reply::status(204),
        "/api/v2/write" => {
            *accepted.lock().unwrap() += r.text().lines().count();
            Reply::status(204)
        }
        other => Reply::error(404, other),
    }
}

/// Waits until `done` holds; the deadline only stops a broken build from hanging.
async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn fake_server_the_backlog_drains_within_2s_of_the_store_returning_after_outages_of_any_length()
 {
    let dir = tempfile::tempdir().unwrap();
    let addr = refused_addr().await;
    let (pipeline, _) = Pipeline::open(dir.path(), spool_config()).await.unwrap();
    let (stop, task) = deliver(&pipeline, writer(addr, grown_backoff()));
    let accepted: Arc<Mutex<usize>> = Arc::default();
    let mut produced = 0;
    for outage in [1, 3, 6].map(Duration::from_secs) {
        // Down (nothing listens): points pile up and writes fail into the backoff.
        let failed_before = pipeline.counters().snapshot().batches_retried;
        produce(&pipeline, produced..produced + 500).await;
        produced += 500;
        until("a failed write", Duration::from_secs(30), || {
            pipeline.counters().snapshot().batches_retried > failed_before
        })
        .await;
        tokio::time::sleep(outage).await;

        let server = FakeServer::start_on(addr, healthy_store(&accepted)).await;
        let back = Instant::now();
        until("the backlog", Duration::from_secs(120), || {
            *accepted.lock().unwrap() == produced
        })
        .await;
        // The store counts a batch when it receives it; the spool acknowledges it once
        // the answer is back: drained means both.
        let deadline = Instant::now() + Duration::from_secs(30);
        while pipeline.spool_stats().await.records_pending != 0 {
            assert!(
                Instant::now() < deadline,
                "the spool acknowledges the batches"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let drained_after = back.elapsed();
        assert!(
            drained_after <= DRAIN_BOUND,
            "after a {outage:?} outage the backlog took {drained_after:?} after the store returned"
        );
        server.stop().await;
    }
    stop.send(true).unwrap();
    assert_eq!(task.await.unwrap(), DeliveryExit::Stopped);
}

/// One request as the "dead" store saw it before dropping the connection.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Ping,
    Write,
    Other(String),
}

/// A store whose process accepts connections and closes them unanswered (the sender
/// sees a connection error, like a refused one), recording each request's first line.
async fn dead_store(addr: SocketAddr) -> (Arc<Mutex<Vec<Seen>>>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = vec![0; 1024];
            let n = tokio::time::timeout(Duration::from_millis(500), socket.read(&mut head))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
            let line = String::from_utf8_lossy(&head[..n])
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            log.lock().unwrap().push(if line.starts_with("GET /ping") {
                Seen::Ping
            } else if line.starts_with("POST /api/v2/write") {
                Seen::Write
            } else {
                Seen::Other(line)
            });
        }
    });
    (seen, task)
}

#[tokio::test]
async fn fake_server_while_the_store_is_down_the_sender_asks_about_once_a_second_not_in_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let addr = refused_addr().await;
    let (seen, dead) = dead_store(addr).await;
    let (pipeline, _) = Pipeline::open(dir.path(), spool_config()).await.unwrap();
    produce(&pipeline, 0..100).await;
    // Waits of 2 s or more (doubling, with jitter above that floor).
    let floor = Backoff {
        initial: Duration::from_secs(2),
        max: Duration::from_secs(60),
        floor: Duration::from_secs(2),
    };
    let policy = RetryPolicy {
        transient: floor,
        alarm: floor,
        retry_after_cap: Duration::from_secs(60),
    };
    let (stop, task) = deliver(&pipeline, writer(addr, policy));
    let outage = Duration::from_secs(6);
    tokio::time::sleep(outage).await;
    let requests = seen.lock().unwrap().clone();
    let pings = requests.iter().filter(|s| **s == Seen::Ping).count();
    let writes = requests.iter().filter(|s| **s == Seen::Write).count();
    assert!(
        !requests.iter().any(|s| matches!(s, Seen::Other(_))),
        "{requests:?}"
    );
    // One `/ping` per second of waiting at most, and the writes the backoff allows
    // (at t = 0, then 2 s apart or more: at most 4 in 6 s); nothing in between.
    assert!(pings <= 6, "{pings} pings in {outage:?}: {requests:?}");
    assert!(writes <= 4, "{writes} writes in {outage:?}: {requests:?}");
    assert!(
        pings >= 2,
        "the sender watches for the return: {requests:?}"
    );

    dead.abort();
    let _ = dead.await;
    let accepted: Arc<Mutex<usize>> = Arc::default();
    let server = FakeServer::start_on(addr, healthy_store(&accepted)).await;
    let back = Instant::now();
    until("the backlog", Duration::from_secs(120), || {
        *accepted.lock().unwrap() == 100
    })
    .await;
    assert!(back.elapsed() <= DRAIN_BOUND, "{:?}", back.elapsed());
    stop.send(true).unwrap();
    task.await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn fake_server_a_store_answering_ping_but_failing_writes_is_retried_on_the_backoff() {
    let dir = tempfile::tempdir().unwrap();
    // A gateway whose `/ping` answers while writes fail with 502 (backend down).
    let server = FakeServer::start(|r| match r.path.as_str() {
        "/ping" => Reply::status(204),
        _ => Reply::error(502, "bad gateway"),
    })
    .await;
    let (pipeline, _) = Pipeline::open(dir.path(), spool_config()).await.unwrap();
    produce(&pipeline, 0..10).await;
    let (stop, task) = deliver(&pipeline, writer(server.addr, grown_backoff()));
    tokio::time::sleep(Duration::from_secs(5)).await;
    // The first write, at most one early retry when `/ping` answered, then the 10 s
    // backoff: not one write per second.
    let writes = server.requests_to("/api/v2/write").len();
    assert!((1..=2).contains(&writes), "{writes} writes in 5 s");
    stop.send(true).unwrap();
    task.await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn fake_server_store_reachable_ends_the_wait_when_ping_cannot_tell() {
    let dir = tempfile::tempdir().unwrap();
    let accepted: Arc<Mutex<usize>> = Arc::default();
    let up = Arc::new(Mutex::new(false));
    // A gateway that does not route `/ping`; writes fail with 502 until the backend is up.
    let server = FakeServer::start({
        let (accepted, up) = (accepted.clone(), up.clone());
        move |r| match r.path.as_str() {
            "/api/v2/write" if *up.lock().unwrap() => {
                *accepted.lock().unwrap() += r.text().lines().count();
                Reply::status(204)
            }
            "/api/v2/write" => Reply::error(502, "bad gateway"),
            _ => Reply::error(502, "no route"),
        }
    })
    .await;
    let (pipeline, _) = Pipeline::open(dir.path(), spool_config()).await.unwrap();
    produce(&pipeline, 0..50).await;
    let (stop, task) = deliver(&pipeline, writer(server.addr, grown_backoff()));
    until("a failed write", Duration::from_secs(30), || {
        pipeline.counters().snapshot().batches_retried > 0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    *up.lock().unwrap() = true;
    let back = Instant::now();
    // What the run loop does when a heartbeat reaches the server after an outage.
    pipeline.store_reachable();
    until("the backlog", Duration::from_secs(120), || {
        *accepted.lock().unwrap() == 50
    })
    .await;
    assert!(back.elapsed() <= DRAIN_BOUND, "{:?}", back.elapsed());
    stop.send(true).unwrap();
    task.await.unwrap();
    server.stop().await;
}
