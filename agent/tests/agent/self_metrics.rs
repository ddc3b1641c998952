use std::time::{Duration, SystemTime};
use streamswarm_agent::delivery::CountersSnapshot;
use streamswarm_agent::scheduler_seam::SchedulerStats;
use streamswarm_agent::self_metrics::{DROP_REASONS, SelfSample};
use streamswarm_agent::spool::SpoolStats;
use streamswarm_tsdb::line_protocol::FieldValue;
use streamswarm_tsdb::schema_check::assert_follows_schema;

fn sample() -> SelfSample {
    SelfSample {
        counters: CountersSnapshot {
            points_produced: 1200,
            points_sent: 1100,
            batches_sent: 11,
            batches_retried: 4,
            dropped_rejected: 10,
            dropped_encode_error: 2,
            append_errors: 0,
        },
        spool: SpoolStats {
            bytes_on_disk: 65536,
            segments: 2,
            records_pending: 90,
            oldest_pending_age: Some(Duration::from_millis(2500)),
            appended: 1200,
            acked: 1110,
            dropped_spool_full: 0,
            corrupt_records: 1,
        },
        scheduler: SchedulerStats {
            probe_errors_total: 3,
            schedule_lag_max_ms: 12.5,
        },
        uptime: Duration::from_secs(3600),
        clock_offset_ms: Some(-1250.5),
    }
}

#[test]
fn self_metrics_points_follow_the_schema_and_carry_the_sampled_numbers() {
    let points = sample().to_points(7, SystemTime::now());
    for p in &points {
        assert_follows_schema(p);
        assert_eq!(p.tag_value("agent"), Some("7"));
    }
    let me = points
        .iter()
        .find(|p| p.measurement() == "agent_self")
        .unwrap();
    let int = |k: &str| match me.field_value(k) {
        Some(FieldValue::Integer(v)) => *v,
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!(int("points_produced_total"), 1200);
    assert_eq!(int("points_sent_total"), 1100);
    assert_eq!(int("batches_sent_total"), 11);
    assert_eq!(int("batches_retried_total"), 4);
    assert_eq!(int("spool_bytes"), 65536);
    assert_eq!(int("probe_errors_total"), 3);
    assert_eq!(int("uptime_s"), 3600);
    assert_eq!(
        me.field_value("oldest_unsent_age_s"),
        Some(&FieldValue::Float(2.5))
    );
    assert_eq!(
        me.field_value("schedule_lag_max_ms"),
        Some(&FieldValue::Float(12.5))
    );
    assert_eq!(
        me.field_value("clock_offset_ms"),
        Some(&FieldValue::Float(-1250.5))
    );

    // Every reason, every interval, zero included.
    let drops: Vec<(String, i64)> = points
        .iter()
        .filter(|p| p.measurement() == "agent_drops")
        .map(|p| {
            let Some(FieldValue::Integer(n)) = p.field_value("points_total") else {
                panic!()
            };
            (p.tag_value("reason").unwrap().to_owned(), *n)
        })
        .collect();
    assert_eq!(
        drops,
        vec![
            ("spool_full".into(), 0),
            ("rejected".into(), 10),
            ("encode_error".into(), 2)
        ]
    );
    assert_eq!(DROP_REASONS.len(), 3);
}

#[test]
fn an_empty_spool_reports_zero_age() {
    let mut s = sample();
    s.spool.oldest_pending_age = None;
    let points = s.to_points(1, SystemTime::now());
    assert_eq!(
        points[0].field_value("oldest_unsent_age_s"),
        Some(&FieldValue::Float(0.0))
    );
}

#[test]
fn no_clock_offset_is_reported_before_a_heartbeat_was_answered() {
    let mut s = sample();
    s.clock_offset_ms = None;
    let points = s.to_points(1, SystemTime::now());
    assert_follows_schema(&points[0]);
    assert_eq!(points[0].field_value("clock_offset_ms"), None);
    assert!(!s.to_prometheus().contains("clock_offset"));
}

#[test]
fn the_prometheus_text_shows_the_same_numbers() {
    let text = sample().to_prometheus();
    for expected in [
        "streamswarm_agent_points_produced_total 1200",
        "streamswarm_agent_points_sent_total 1100",
        "streamswarm_agent_batches_retried_total 4",
        "streamswarm_agent_points_dropped_total{reason=\"rejected\"} 10",
        "streamswarm_agent_points_dropped_total{reason=\"spool_full\"} 0",
        "streamswarm_agent_points_dropped_total{reason=\"encode_error\"} 2",
        "streamswarm_agent_spool_bytes 65536",
        "streamswarm_agent_oldest_unsent_age_seconds 2.5",
        "streamswarm_agent_probe_errors_total 3",
        "streamswarm_agent_spool_corrupt_records_total 1",
        "streamswarm_agent_uptime_seconds 3600",
        "streamswarm_agent_clock_offset_seconds -1.2505",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[tokio::test]
async fn the_prometheus_endpoint_serves_the_latest_sample() {
    use std::sync::{Arc, RwLock};
    let latest = Arc::new(RwLock::new(SelfSample::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, task) = streamswarm_agent::self_metrics::serve_prometheus(
        "127.0.0.1:0".parse().unwrap(),
        latest.clone(),
        async move {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    *latest.write().unwrap() = sample();
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains("streamswarm_agent_points_sent_total 1100"),
        "{text}"
    );
    let missing = reqwest::get(format!("http://{addr}/other")).await.unwrap();
    assert_eq!(missing.status(), 404);
    stop.send(()).unwrap();
    task.await.unwrap();
}
