//! The write policy at the HTTP level, against FAKE servers (fault injection), and the
//! request shapes of both API generations (InfluxDB 2/3 cannot be installed here).

use crate::fake_server::{FakeServer, Recorded, Reply};
use std::time::Duration;
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, ReadError, Reader as _, Selector, TimeRange, Value,
};
use streamswarm_tsdb::write::{Backoff, RetryPolicy, RetryReason, WriteEvent, WriteOutcome};
use streamswarm_tsdb::{InfluxConfig, InfluxReader, InfluxVersion, Precision, Writer};

fn v1(url: &str) -> InfluxConfig {
    InfluxConfig {
        url: url.into(),
        database: Some("db".into()),
        ..InfluxConfig::default()
    }
}

fn v2(url: &str) -> InfluxConfig {
    InfluxConfig {
        url: url.into(),
        version: InfluxVersion::V2,
        org: Some("my org".into()),
        bucket: Some("b/1".into()),
        token: Some("s3cr3t".into()),
        ..InfluxConfig::default()
    }
}

/// Milliseconds instead of seconds, for the tests that really wait.
fn fast() -> RetryPolicy {
    RetryPolicy {
        transient: Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(80),
            floor: Duration::ZERO,
        },
        alarm: Backoff {
            initial: Duration::from_millis(40),
            max: Duration::from_millis(100),
            floor: Duration::from_millis(20),
        },
        retry_after_cap: Duration::from_millis(500),
    }
}

fn lines(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("m,t=a v={i}i {i}\n"))
        .collect::<String>()
        .into_bytes()
}

fn accepted_bodies(requests: &[Recorded], statuses: impl Fn(&Recorded) -> bool) -> Vec<u8> {
    requests
        .iter()
        .filter(|r| statuses(r))
        .flat_map(|r| r.body.clone())
        .collect()
}

#[tokio::test]
async fn fake_server_204_accepts_a_gzip_batch_v1() {
    let fake = FakeServer::start(|_, _| Reply::status(204)).await;
    let writer = Writer::new(v1(&fake.url())).unwrap();
    let batch = lines(3);
    assert_eq!(writer.send(&batch).await, WriteOutcome::Accepted);
    let r = &fake.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/write?db=db&precision=n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.body, batch);
    assert!(r.raw_body.starts_with(&[0x1f, 0x8b]), "gzip magic");

    let plain = Writer::new(InfluxConfig {
        gzip: false,
        ..v1(&fake.url())
    })
    .unwrap();
    assert_eq!(plain.send(&batch).await, WriteOutcome::Accepted);
    let r = &fake.requests()[1];
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.raw_body, batch);
}

#[tokio::test]
async fn fake_server_503_honours_retry_after_seconds_and_dates_capped() {
    let in_30s = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
    let values = ["7".to_owned(), in_30s, "86400".to_owned()];
    let answers = values.clone();
    let fake = FakeServer::start(move |_, i| {
        Reply::status(503).with_header("retry-after", answers[i].clone())
    })
    .await;
    let writer = Writer::new(v1(&fake.url())).unwrap();
    let batch = lines(1);

    // Our own first backoff is at most 1 s, so the server's 7 s wins exactly.
    let WriteOutcome::Retry { after, reason } = writer.send(&batch).await else {
        panic!("503 must be retried");
    };
    assert_eq!(reason, RetryReason::Throttled { status: 503 });
    assert_eq!(after, Duration::from_secs(7));

    let WriteOutcome::Retry { after, .. } = writer.send(&batch).await else {
        panic!("503 must be retried");
    };
    assert!(
        (Duration::from_secs(28)..=Duration::from_secs(30)).contains(&after),
        "HTTP-date 30 s ahead → {after:?}"
    );

    let WriteOutcome::Retry { after, .. } = writer.send(&batch).await else {
        panic!("503 must be retried");
    };
    assert_eq!(
        after,
        Duration::from_secs(300),
        "a day is capped at 5 minutes"
    );
}

#[tokio::test]
async fn fake_server_429_backs_off_exponentially_and_success_resets_it() {
    let fake = FakeServer::start(|_, i| {
        if i < 5 {
            Reply::status(429)
        } else {
            Reply::status(204)
        }
    })
    .await;
    let writer = Writer::new(v1(&fake.url())).unwrap();
    let batch = lines(2);
    let mut waits = Vec::new();
    for n in 1..=5u32 {
        let WriteOutcome::Retry { after, reason } = writer.send(&batch).await else {
            panic!("429 must be retried");
        };
        assert_eq!(reason, RetryReason::Throttled { status: 429 });
        assert!(
            after <= Backoff::TRANSIENT.ceiling(n),
            "failure {n}: {after:?} over the ceiling"
        );
        assert_eq!(writer.consecutive_failures(), n);
        waits.push(after);
    }
    assert!(waits.iter().any(|w| *w > Duration::ZERO), "{waits:?}");
    assert_eq!(writer.send(&batch).await, WriteOutcome::Accepted);
    assert_eq!(writer.consecutive_failures(), 0);
}

#[tokio::test]
async fn fake_server_413_splits_large_bodies_in_halves_until_they_fit() {
    let fake = FakeServer::start(|r, _| {
        if r.lines() > 3 {
            Reply::json(413, r#"{"error":"Request Entity Too Large"}"#)
        } else {
            Reply::status(204)
        }
    })
    .await;
    let writer = Writer::new(v1(&fake.url())).unwrap();
    let batch = lines(10);
    let report = writer.send_splitting(&batch).await;
    assert_eq!(report.unsent, None);
    let splits = report
        .events
        .iter()
        .filter(|e| matches!(e, WriteEvent::Split { .. }))
        .count();
    assert_eq!(splits, 3, "10 → 5 + 5, each 5 → 2 + 3: {:?}", report.events);
    let accepted: Vec<usize> = report
        .events
        .iter()
        .filter_map(|e| match e {
            WriteEvent::Accepted { lines, .. } => Some(*lines),
            _ => None,
        })
        .collect();
    assert_eq!(accepted, [2, 3, 2, 3]);
    // Every line arrived exactly once, in order.
    assert_eq!(accepted_bodies(&fake.requests(), |r| r.lines() <= 3), batch);
    let stats = writer.stats();
    assert_eq!(stats.lines_accepted, 10);
    assert_eq!(stats.splits, 3);
    assert_eq!(stats.requests, 7);
}

#[tokio::test]
async fn fake_server_413_for_a_single_line_drops_and_counts_it() {
    let fake = FakeServer::start(|r, _| {
        if r.body_text().contains("HUGE") {
            Reply::status(413)
        } else {
            Reply::status(204)
        }
    })
    .await;
    let writer = Writer::new(v1(&fake.url())).unwrap();
    let batch = b"m v=1 1\nm v=2 2\nm,HUGE=x v=3 3\nm v=4 4\nm v=5 5\n".to_vec();
    let report = writer.send_splitting(&batch).await;
    assert_eq!(report.unsent, None);
    let dropped: Vec<_> = report
        .events
        .iter()
        .filter(|e| matches!(e, WriteEvent::DroppedTooLarge { .. }))
        .collect();
    assert_eq!(
        dropped,
        [&WriteEvent::DroppedTooLarge {
            bytes: b"m,HUGE=x v=3 3\n".len()
        }]
    );
    let stats = writer.stats();
    assert_eq!(stats.lines_accepted, 4);
    assert_eq!(stats.lines_too_large, 1);
    let lost: usize = report.events.iter().map(WriteEvent::lines_lost).sum();
    assert_eq!(lost, 1);
}

#[tokio::test]
async fn fake_server_401_403_404_raise_the_alarm_retry_slowly_and_keep_the_data() {
    for status in [401, 403, 404] {
        let fake = FakeServer::start(move |_, _| {
            Reply::json(status, r#"{"error":"authorization failed"}"#)
        })
        .await;
        let writer = Writer::new(v1(&fake.url())).unwrap();
        let batch = lines(4);
        let report = writer.send_splitting(&batch).await;
        let unsent = report.unsent.expect("the data is kept");
        assert_eq!(unsent.from, 0);
        assert!(unsent.reason.is_alarm(), "{status}");
        assert!(unsent.reason.to_string().contains("authorization failed"));
        assert!(
            (Duration::from_secs(10)..=Duration::from_secs(30)).contains(&unsent.after),
            "{status}: slow retry, got {:?}",
            unsent.after
        );
        let stats = writer.stats();
        assert_eq!(
            (stats.retries, stats.alarms, stats.lines_rejected),
            (1, 1, 0)
        );
    }
}

#[tokio::test]
async fn fake_server_redirects_and_other_statuses_are_alarms_not_followed() {
    for reply in [
        Reply::status(301).with_header("location", "https://elsewhere.invalid/write"),
        Reply::status(405),
        Reply::status(418),
    ] {
        let fake = FakeServer::start(move |_, _| reply.clone()).await;
        let writer = Writer::new(v1(&fake.url())).unwrap();
        let WriteOutcome::Retry { reason, after } = writer.send(&lines(1)).await else {
            panic!("kept for a retry");
        };
        assert_eq!(reason.label(), "unexpected_status", "{reason}");
        assert!(after >= Duration::from_secs(10));
        assert_eq!(fake.requests().len(), 1, "not followed");
    }
}

#[tokio::test]
async fn fake_server_ping_accepts_200_and_204_only() {
    let fake = FakeServer::start(|_, i| Reply::status([204, 200, 500][i % 3])).await;
    let client = streamswarm_tsdb::InfluxClient::new(v2(&fake.url())).unwrap();
    assert_eq!(client.ping().await, Ok(()));
    assert_eq!(client.ping().await, Ok(()));
    assert!(client.ping().await.is_err());
    let r = &fake.requests()[0];
    assert_eq!((r.method.as_str(), r.target.as_str()), ("GET", "/ping"));
    assert_eq!(r.header("authorization"), Some("Token s3cr3t"));
}

#[tokio::test]
async fn fake_server_500_dropped_connections_refusals_and_timeouts_back_off() {
    let fake = FakeServer::start(|_, i| match i {
        0 => Reply::json(500, r#"{"error":"engine: boom"}"#),
        1 => Reply::status(502),
        2 => Reply::Drop,
        _ => Reply::Hang,
    })
    .await;
    let writer = Writer::new(InfluxConfig {
        request_timeout: Duration::from_millis(300),
        ..v1(&fake.url())
    })
    .unwrap();
    let batch = lines(1);

    let WriteOutcome::Retry { after, reason } = writer.send(&batch).await else {
        panic!("500 must be retried");
    };
    assert_eq!(
        reason,
        RetryReason::ServerError {
            status: 500,
            message: "engine: boom".into()
        }
    );
    assert!(after <= Duration::from_secs(1));

    let WriteOutcome::Retry { reason, after } = writer.send(&batch).await else {
        panic!("502 must be retried");
    };
    assert_eq!(reason.label(), "server_error");
    assert!(after <= Duration::from_secs(2));

    let WriteOutcome::Retry { reason, .. } = writer.send(&batch).await else {
        panic!("a dropped connection must be retried");
    };
    assert_eq!(reason.label(), "connection", "{reason}");

    let WriteOutcome::Retry { reason, after } = writer.send(&batch).await else {
        panic!("a timeout must be retried");
    };
    assert!(reason.to_string().contains("timed out"), "{reason}");
    assert!(after <= Duration::from_secs(8));
    assert_eq!(writer.consecutive_failures(), 4);

    // Nobody listening at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let nobody = Writer::new(v1(&format!("http://127.0.0.1:{port}"))).unwrap();
    let WriteOutcome::Retry { reason, .. } = nobody.send(&batch).await else {
        panic!("a refused connection must be retried");
    };
    assert!(reason.to_string().contains("cannot connect"), "{reason}");
}

#[tokio::test]
async fn fake_server_400_drops_the_batch_and_counts_it_with_the_servers_message() {
    let fake = FakeServer::start(|_, i| match i {
        0 => Reply::json(400, r#"{"error":"unable to parse 'm v=': missing field value"}"#),
        _ => Reply::json(
            400,
            r#"{"error":"partial write: field type conflict: input field \"v\" on measurement \"m\" is type float, already exists as type integer dropped=1"}"#,
        ),
    })
    .await;
    let writer = Writer::new(v1(&fake.url())).unwrap();
    let report = writer.send_splitting(&lines(3)).await;
    assert_eq!(report.unsent, None);
    assert_eq!(
        report.events,
        [WriteEvent::Rejected {
            lines: 3,
            message: "unable to parse 'm v=': missing field value".into()
        }]
    );
    let report = writer.send_splitting(&lines(3)).await;
    assert!(
        matches!(&report.events[..], [WriteEvent::Rejected { lines: 1, message }] if message.starts_with("partial write")),
        "{:?}",
        report.events
    );
    assert_eq!(writer.stats().lines_rejected, 4);
    assert_eq!(writer.consecutive_failures(), 0, "a 400 is an answer");
}

#[tokio::test]
async fn fake_server_retry_in_the_middle_of_a_split_reports_the_unsent_tail() {
    let fake = FakeServer::start(|r, i| match (r.lines(), i) {
        (n, _) if n > 2 => Reply::status(413),
        (_, 1) => Reply::status(204),
        _ => Reply::status(503),
    })
    .await;
    let writer = Writer::new(v1(&fake.url())).unwrap();
    let batch = b"m v=1 1\nm v=2 2\nm v=3 3\nm v=4 4\n".to_vec();
    let report = writer.send_splitting(&batch).await;
    let unsent = report.unsent.expect("503 keeps the rest");
    assert_eq!(&batch[unsent.from..], b"m v=3 3\nm v=4 4\n");
    assert_eq!(writer.stats().lines_accepted, 2);
}

#[tokio::test]
async fn fake_server_deliver_waits_out_retries_then_succeeds() {
    let fake = FakeServer::start(|_, i| {
        if i < 2 {
            Reply::status(503).with_header("retry-after", "0")
        } else {
            Reply::status(204)
        }
    })
    .await;
    let writer = Writer::new(v1(&fake.url())).unwrap().with_policy(fast());
    let batch = lines(5);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let delivery = writer.deliver(&batch, deadline).await;
    assert_eq!(delivery.unsent_from, None);
    assert_eq!(delivery.lines_accepted(), 5);
    let labels: Vec<_> = delivery.events.iter().map(WriteEvent::label).collect();
    assert_eq!(labels, ["retry", "retry", "accepted"]);
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn fake_server_deliver_cuts_batches_and_gives_up_at_the_deadline() {
    let fake = FakeServer::start(|_, i| {
        if i == 0 {
            Reply::status(204)
        } else {
            Reply::status(503).with_header("retry-after", "1")
        }
    })
    .await;
    let writer = Writer::new(InfluxConfig {
        max_batch_lines: 2,
        ..v1(&fake.url())
    })
    .unwrap()
    .with_policy(fast());
    let batch = lines(5);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
    let delivery = writer.deliver(&batch, deadline).await;
    let first_two = lines(2).len();
    assert_eq!(delivery.unsent_from, Some(first_two));
    assert_eq!(delivery.lines_accepted(), 2);
    assert_eq!(delivery.lines_lost(), 0);
    // Retry-After 1 s, capped at 500 ms by the policy, is past the 200 ms deadline:
    // one failed attempt, no waiting.
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.requests()[0].lines(), 2);
}

#[tokio::test]
async fn fake_server_v2_endpoint_headers_and_precision_names() {
    let fake = FakeServer::start(|_, _| Reply::status(204)).await;
    for (precision, v2_name, v1_name) in [
        (Precision::Nanoseconds, "ns", "n"),
        (Precision::Microseconds, "us", "u"),
        (Precision::Milliseconds, "ms", "ms"),
        (Precision::Seconds, "s", "s"),
    ] {
        let writer = Writer::new(InfluxConfig {
            precision,
            ..v2(&fake.url())
        })
        .unwrap();
        assert_eq!(writer.precision(), precision);
        assert_eq!(writer.send(&lines(1)).await, WriteOutcome::Accepted);
        let r = fake.requests().pop().unwrap();
        assert_eq!(
            r.target,
            format!("/api/v2/write?org=my+org&bucket=b%2F1&precision={v2_name}")
        );
        assert_eq!(r.param("org").as_deref(), Some("my org"));
        assert_eq!(r.param("bucket").as_deref(), Some("b/1"));
        assert_eq!(r.header("authorization"), Some("Token s3cr3t"));
        assert_eq!(r.header("content-encoding"), Some("gzip"));

        let writer = Writer::new(InfluxConfig {
            precision,
            retention_policy: Some("one week".into()),
            ..v1(&format!("{}/influx", fake.url()))
        })
        .unwrap();
        assert_eq!(writer.send(&lines(1)).await, WriteOutcome::Accepted);
        let r = fake.requests().pop().unwrap();
        assert_eq!(
            r.target,
            format!("/influx/write?db=db&rp=one+week&precision={v1_name}")
        );
    }

    // v1 credentials: HTTP Basic, or a token.
    let basic = Writer::new(InfluxConfig {
        username: Some("u".into()),
        password: Some("p".into()),
        ..v1(&fake.url())
    })
    .unwrap();
    basic.send(&lines(1)).await;
    let r = fake.requests().pop().unwrap();
    assert_eq!(r.header("authorization"), Some("Basic dTpw"));
    assert!(!r.target.contains("p="), "no password in the URL");

    let token = Writer::new(InfluxConfig {
        token: Some("t0k".into()),
        ..v1(&fake.url())
    })
    .unwrap();
    token.send(&lines(1)).await;
    assert_eq!(
        fake.requests().pop().unwrap().header("authorization"),
        Some("Token t0k")
    );
}

fn mean_query() -> Query {
    Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: "ping".into(),
            filters: vec![],
            range: TimeRange {
                start_ns: 0,
                end_ns: 60_000_000_000,
            },
        },
        fields: vec![("rtt_avg_ms".into(), Aggregate::Mean)],
        interval: None,
        group_by_tags: vec![],
        fill: Fill::None,
    })
}

#[tokio::test]
async fn fake_server_v2_reader_uses_the_v1_compatibility_api_with_a_token() {
    let fake = FakeServer::start(|_, _| {
        Reply::json(
            200,
            r#"{"results":[{"statement_id":0,"series":[{"name":"ping","columns":["time","mean_rtt_avg_ms"],"values":[[5,2]]}]}]}"#,
        )
    })
    .await;
    let reader = InfluxReader::new(v2(&fake.url())).unwrap();
    let series = reader.query(&mean_query()).await.unwrap();
    assert_eq!(series[0].rows[0].time_ns, 0, "range start");
    assert_eq!(series[0].rows[0].values, [Some(Value::Float(2.0))]);
    let r = &fake.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/query?db=b%2F1&epoch=ns");
    assert_eq!(r.header("authorization"), Some("Token s3cr3t"));
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x/?{}", r.body_text()))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(
        form,
        [(
            "q".to_owned(),
            r#"SELECT mean("rtt_avg_ms") AS "mean_rtt_avg_ms" FROM "ping" WHERE time >= 0 AND time < 60000000000"#.to_owned()
        )]
    );
}

#[tokio::test]
async fn fake_server_reader_errors_are_typed() {
    let fake = FakeServer::start(|_, i| match i {
        0 => Reply::json(401, r#"{"error":"authorization failed"}"#),
        1 => Reply::json(
            200,
            r#"{"results":[{"statement_id":0,"error":"database not found: db"}]}"#,
        ),
        2 => Reply::json(200, "<html>not influx</html>"),
        _ => Reply::json(400, r#"{"error":"error parsing query: bad"}"#),
    })
    .await;
    let reader = InfluxReader::new(v1(&fake.url())).unwrap();
    let q = mean_query();
    let err = reader.query(&q).await.unwrap_err();
    assert!(
        matches!(&err, ReadError::Server { status: 401, message } if message == "authorization failed"),
        "{err:?}"
    );
    let err = reader.query(&q).await.unwrap_err();
    assert!(
        matches!(&err, ReadError::Server { status: 200, message } if message == "database not found: db"),
        "{err:?}"
    );
    assert!(matches!(
        reader.query(&q).await.unwrap_err(),
        ReadError::Decode(_)
    ));
    assert!(matches!(
        reader.query(&q).await.unwrap_err(),
        ReadError::Server { status: 400, .. }
    ));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let nobody = InfluxReader::new(v1(&format!("http://127.0.0.1:{port}"))).unwrap();
    assert!(matches!(
        nobody.query(&q).await.unwrap_err(),
        ReadError::Unreachable(_)
    ));
}
