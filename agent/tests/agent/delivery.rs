//! Delivery through the spool against a FAKE write endpoint, with an oracle: every line
//! produced is compared with what the endpoint accepted.

use crate::fake_server::{FakeServer, Reply, refused_addr};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use streamswarm_agent::delivery::{DeliveryExit, Pipeline};
use streamswarm_agent::spool::{FsyncPolicy, SpoolConfig};
use streamswarm_tsdb::influx::{InfluxConfig, InfluxVersion};
use streamswarm_tsdb::line_protocol::{Point, Precision, Timestamp};
use streamswarm_tsdb::write::{Backoff, RetryPolicy, Writer};
use tokio::sync::watch;

const BASE_NS: i64 = 1_764_100_000_000_000_000;

fn point(i: usize) -> Point {
    Point::new_dynamic("oracle")
        .tag_dynamic("agent", "1")
        .field_dynamic("seq", i as i64)
        .timestamp(Timestamp::from_nanos(BASE_NS + i as i64))
}

fn line(i: usize) -> String {
    point(i)
        .to_line(Precision::Nanoseconds)
        .unwrap()
        .trim_end()
        .to_owned()
}

fn writer(addr: SocketAddr, max_batch_lines: usize) -> Writer {
    let fast = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        floor: Duration::ZERO,
    };
    Writer::new(InfluxConfig {
        url: format!("http://{addr}/"),
        version: InfluxVersion::V2,
        org: Some("streamswarm".into()),
        bucket: Some("streamswarm".into()),
        token: Some(SecretString::from("ssw_agt_test".to_owned())),
        max_batch_lines,
        ..InfluxConfig::default()
    })
    .unwrap()
    .with_policy(RetryPolicy {
        transient: fast,
        alarm: fast,
        retry_after_cap: Duration::from_secs(2),
    })
}

fn spool_config() -> SpoolConfig {
    SpoolConfig {
        max_bytes: 1 << 20,
        segment_bytes: 4096,
        fsync: FsyncPolicy::Never,
    }
}

/// Lines the fake accepted, in arrival order.
type Accepted = Arc<Mutex<Vec<String>>>;

fn accept_into(accepted: &Accepted, body: &str) {
    accepted
        .lock()
        .unwrap()
        .extend(body.lines().map(str::to_owned));
}

/// Waits until `done` holds; the deadline only stops a broken build from hanging.
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

async fn produce(pipeline: &Pipeline, range: std::ops::Range<usize>) {
    let points: Vec<usize> = range.collect();
    for run in points.chunks(10) {
        pipeline
            .append_points(run.iter().map(|&i| point(i)).collect())
            .await;
    }
}

#[tokio::test]
async fn fake_server_down_then_up_every_line_arrives_exactly_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let addr = refused_addr().await;
    let (pipeline, _) = Pipeline::open(dir.path(), spool_config()).await.unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn({
        let (p, w) = (pipeline.clone(), writer(addr, 50));
        async move { p.deliver(w, stop_rx).await }
    });

    // Down: nothing listens. Points keep being produced, plus one the encoder refuses.
    produce(&pipeline, 0..300).await;
    pipeline
        .append_points(vec![
            Point::new_dynamic("oracle").timestamp(Timestamp::from_nanos(BASE_NS)),
        ])
        .await;
    let counters = pipeline.counters().clone();
    until("connection retries", || {
        counters.snapshot().batches_retried >= 2
    })
    .await;

    // Up again on the same port, first throttling three requests with Retry-After.
    let accepted: Accepted = Arc::default();
    let throttled = Arc::new(Mutex::new(0));
    let server = FakeServer::start_on(addr, {
        let (accepted, throttled) = (accepted.clone(), throttled.clone());
        move |r| {
            assert_eq!(r.header("authorization"), Some("Token ssw_agt_test"));
            assert_eq!(r.query, "org=streamswarm&bucket=streamswarm&precision=ns");
            let mut t = throttled.lock().unwrap();
            if *t < 3 {
                *t += 1;
                return Reply::error(503, "busy").with_header("retry-after", "0");
            }
            accept_into(&accepted, &r.text());
            Reply::status(204)
        }
    })
    .await;
    produce(&pipeline, 300..500).await;
    until("all lines", || accepted.lock().unwrap().len() >= 500).await;

    let expected: Vec<String> = (0..500).map(line).collect();
    assert_eq!(
        *accepted.lock().unwrap(),
        expected,
        "exactly once, in order"
    );
    let c = counters.snapshot();
    assert_eq!(c.points_produced, 500);
    assert_eq!(c.points_sent, 500);
    assert_eq!(c.dropped_encode_error, 1);
    assert_eq!(c.dropped_rejected, 0);
    assert!(c.batches_retried >= 5, "{c:?}");
    assert_eq!(
        c.batches_sent,
        server.requests_to("/api/v2/write").len() as u64 - 3
    );
    let spool = pipeline.spool_stats().await;
    assert_eq!((spool.records_pending, spool.dropped_spool_full), (0, 0));

    stop.send(true).unwrap();
    assert_eq!(task.await.unwrap(), DeliveryExit::Stopped);
    server.stop().await;
}

#[tokio::test]
async fn fake_server_400_drops_that_batch_and_counts_it_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let accepted: Accepted = Arc::default();
    let refused: Accepted = Arc::default();
    let server = FakeServer::start({
        let (accepted, refused) = (accepted.clone(), refused.clone());
        move |r| {
            let body = r.text();
            if body.contains("seq=13i") || body.contains("seq=47i") {
                accept_into(&refused, &body);
                return Reply::json(
                    400,
                    serde_json::json!({"code": "invalid", "message": "bad line"}),
                );
            }
            accept_into(&accepted, &body);
            Reply::status(204)
        }
    })
    .await;
    let (pipeline, _) = Pipeline::open(dir.path(), spool_config()).await.unwrap();
    produce(&pipeline, 0..100).await;
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn({
        let (p, w) = (pipeline.clone(), writer(server.addr, 10));
        async move { p.deliver(w, stop_rx).await }
    });
    until("everything answered", || {
        accepted.lock().unwrap().len() + refused.lock().unwrap().len() >= 100
    })
    .await;
    until("the spool drained", || {
        pipeline.counters().snapshot().points_sent == 80
    })
    .await;
    let refused_lines = refused.lock().unwrap().clone();
    assert_eq!(refused_lines.len(), 20, "two batches of 10");
    let expected: Vec<String> = (0..100)
        .map(line)
        .filter(|l| !refused_lines.contains(l))
        .collect();
    assert_eq!(*accepted.lock().unwrap(), expected);
    let c = pipeline.counters().snapshot();
    assert_eq!(
        (c.dropped_rejected, c.points_sent, c.batches_retried),
        (20, 80, 0)
    );
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(pipeline.spool_stats().await.records_pending, 0);
    server.stop().await;
}

#[tokio::test]
async fn fake_server_401_stops_delivery_keeps_the_data_and_a_restart_replays_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start(|_| {
        Reply::json(
            401,
            serde_json::json!({"code": "unauthorized", "message": "agent credential revoked"}),
        )
    })
    .await;
    {
        let (pipeline, _) = Pipeline::open(dir.path(), spool_config()).await.unwrap();
        produce(&pipeline, 0..120).await;
        let (_stop, stop_rx) = watch::channel(false);
        let exit = pipeline.deliver(writer(server.addr, 50), stop_rx).await;
        let DeliveryExit::Unauthorized { message } = exit else {
            panic!("expected the revoked path, got {exit:?}")
        };
        assert!(message.contains("401"), "{message}");
        assert_eq!(
            server.requests_to("/api/v2/write").len(),
            1,
            "no retry loop on 401"
        );
        let spool = pipeline.spool_stats().await;
        assert_eq!(spool.records_pending, 120, "nothing dropped");
        assert_eq!(pipeline.counters().snapshot().points_sent, 0);
    }

    // A new process (new credential) opens the same spool and sends it all.
    let accepted: Accepted = Arc::default();
    server.set_handler({
        let accepted = accepted.clone();
        move |r| {
            accept_into(&accepted, &r.text());
            Reply::status(204)
        }
    });
    let (pipeline, report) = Pipeline::open(dir.path(), spool_config()).await.unwrap();
    assert_eq!(report.records_pending, 120);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn({
        let (p, w) = (pipeline.clone(), writer(server.addr, 50));
        async move { p.deliver(w, stop_rx).await }
    });
    until("the replay", || accepted.lock().unwrap().len() >= 120).await;
    assert_eq!(
        *accepted.lock().unwrap(),
        (0..120).map(line).collect::<Vec<_>>()
    );
    stop.send(true).unwrap();
    task.await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn fake_server_a_full_spool_drops_exactly_what_it_counts() {
    let dir = tempfile::tempdir().unwrap();
    let addr = refused_addr().await;
    let config = SpoolConfig {
        max_bytes: 3 * 4096,
        segment_bytes: 4096,
        fsync: FsyncPolicy::Never,
    };
    let (pipeline, _) = Pipeline::open(dir.path(), config).await.unwrap();
    // The store is down while far more than the cap is produced.
    produce(&pipeline, 0..1000).await;
    let dropped = pipeline.spool_stats().await.dropped_spool_full;
    assert!(dropped > 0, "the cap was reached");

    let accepted: Accepted = Arc::default();
    let server = FakeServer::start_on(addr, {
        let accepted = accepted.clone();
        move |r| {
            accept_into(&accepted, &r.text());
            Reply::status(204)
        }
    })
    .await;
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn({
        let (p, w) = (pipeline.clone(), writer(addr, 100));
        async move { p.deliver(w, stop_rx).await }
    });
    until("the rest delivered", || {
        accepted.lock().unwrap().len() as u64 + dropped >= 1000
    })
    .await;
    let received = accepted.lock().unwrap().clone();
    // The oldest were dropped: what arrived is exactly the newest 1000 − dropped, in order.
    let expected: Vec<String> = (dropped as usize..1000).map(line).collect();
    assert_eq!(received, expected);
    assert_eq!(received.len() as u64 + dropped, 1000);
    assert_eq!(pipeline.spool_stats().await.dropped_spool_full, dropped);
    stop.send(true).unwrap();
    task.await.unwrap();
    server.stop().await;
}
