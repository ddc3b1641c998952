//! The writer against the REAL InfluxDB 1.6.7.

use crate::require_influx;
use crate::support::TestDb;
use std::time::Duration;
use streamswarm_schema::measurements::ping;
use streamswarm_tsdb::query::{Query, RawQuery, Reader as _, Selector, TimeRange, Value};
use streamswarm_tsdb::write::{RetryReason, WriteEvent, WriteOutcome};
use streamswarm_tsdb::{InfluxConfig, Point, Precision, Timestamp, Writer, assert_follows_schema};

const T0: i64 = 1_700_000_000_123_456_789;

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(30)
}

fn raw_all(measurement: &str, fields: &[&str]) -> Query {
    Query::Raw(RawQuery {
        selector: Selector {
            measurement: measurement.into(),
            filters: vec![],
            range: TimeRange {
                start_ns: 0,
                end_ns: i64::MAX - 1,
            },
        },
        fields: fields.iter().map(|f| f.to_string()).collect(),
        group_by_tags: vec![],
        limit: 100_000,
    })
}

#[tokio::test]
async fn real_writer_gzip_batches_are_accepted_and_read_back_exactly() {
    let url = require_influx!("real_writer_gzip_batches_are_accepted_and_read_back_exactly");
    let db = TestDb::create(&url).await;
    // Small batches, so that one delivery makes several gzip requests.
    let writer = Writer::new(InfluxConfig {
        max_batch_lines: 100,
        ..db.config()
    })
    .unwrap();
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1_000i64 {
        let time = T0 + i * 1_000_000_007;
        let rtt = 0.125 * i as f64 + 1.0 / 3.0;
        let point = Point::new(ping::MEASUREMENT)
            .tag(ping::tags::AGENT, "7")
            .tag(ping::tags::TEST, "3")
            .tag(ping::tags::TARGET, "example.net")
            .field(ping::fields::SENT, i)
            .field(ping::fields::RECEIVED, i - 1)
            .field(ping::fields::DUPLICATES, 0i64)
            .field(ping::fields::RTT_AVG_MS, rtt)
            .field(
                ping::fields::RESOLVED_ADDRESS,
                format!("192.0.2.{} \"q\" \\", i % 250),
            )
            .timestamp(Timestamp::from_nanos(time));
        assert_follows_schema(&point);
        point.encode(&mut lines, writer.precision()).unwrap();
        expected.push((time, i, rtt, format!("192.0.2.{} \"q\" \\", i % 250)));
    }
    let delivery = writer.deliver(&lines, deadline()).await;
    assert_eq!(delivery.unsent_from, None, "{:?}", delivery.events);
    assert_eq!(delivery.lines_accepted(), 1_000);
    assert_eq!(
        delivery
            .events
            .iter()
            .filter(|e| matches!(e, WriteEvent::Accepted { .. }))
            .count(),
        10
    );
    assert_eq!(writer.stats().requests, 10);

    let series = db
        .reader()
        .query(&raw_all(
            "ping",
            &["sent", "rtt_avg_ms", "resolved_address"],
        ))
        .await
        .unwrap();
    assert_eq!(series.len(), 1);
    let rows = &series[0].rows;
    assert_eq!(rows.len(), 1_000);
    for (row, (time, sent, rtt, address)) in rows.iter().zip(&expected) {
        assert_eq!(row.time_ns, *time);
        assert_eq!(
            row.values,
            [
                Some(Value::Integer(*sent)),
                Some(Value::Float(*rtt)),
                Some(Value::String(address.clone()))
            ]
        );
    }
}

#[tokio::test]
async fn real_influxdb_answers_ping() {
    let url = require_influx!("real_influxdb_answers_ping");
    let db = TestDb::create(&url).await;
    let client = streamswarm_tsdb::InfluxClient::new(db.config()).unwrap();
    assert_eq!(client.ping().await, Ok(()));
}

#[tokio::test]
async fn real_writer_400_drops_the_batch_with_the_servers_message() {
    let url = require_influx!("real_writer_400_drops_the_batch_with_the_servers_message");
    let db = TestDb::create(&url).await;
    let writer = db.writer();
    let report = writer.send_splitting(b"m v= 1\n").await;
    assert_eq!(report.unsent, None);
    match &report.events[..] {
        [WriteEvent::Rejected { lines: 1, message }] => {
            assert!(message.contains("unable to parse"), "{message}");
            assert!(message.contains("m v= 1"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    // A type conflict inside a batch: InfluxDB stores the good line, drops the other and
    // says how many it dropped.
    let first = writer.send(b"conflict v=1i 1000\n").await;
    assert_eq!(first, WriteOutcome::Accepted);
    let report = writer
        .send_splitting(b"conflict v=2.5 2000\nconflict v=3i 3000\n")
        .await;
    match &report.events[..] {
        [WriteEvent::Rejected { lines: 1, message }] => {
            assert!(message.starts_with("partial write"), "{message}");
            assert!(message.contains("field type conflict"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let stats = writer.stats();
    assert_eq!((stats.lines_rejected, stats.lines_accepted), (2, 0));
    let series = db
        .reader()
        .query(&raw_all("conflict", &["v"]))
        .await
        .unwrap();
    let values: Vec<_> = series[0].rows.iter().map(|r| r.values[0].clone()).collect();
    assert_eq!(values, [Some(Value::Integer(1)), Some(Value::Integer(3))]);
}

#[tokio::test]
async fn real_writer_unknown_database_raises_the_alarm_and_keeps_the_data() {
    let url = require_influx!("real_writer_unknown_database_raises_the_alarm_and_keeps_the_data");
    let writer = Writer::new(InfluxConfig {
        url: url.to_string(),
        database: Some(format!("streamswarm_absent_{:x}", rand::random::<u64>())),
        ..InfluxConfig::default()
    })
    .unwrap();
    let report = writer.send_splitting(b"m v=1 1\n").await;
    let unsent = report.unsent.expect("kept");
    assert_eq!(unsent.from, 0);
    assert!(
        matches!(&unsent.reason, RetryReason::NotFound { message } if message.contains("database not found")),
        "{:?}",
        unsent.reason
    );
    assert!(unsent.after >= Duration::from_secs(10));
    assert_eq!(writer.stats().alarms, 1);
}

#[tokio::test]
async fn real_writer_each_precision_lands_on_the_right_nanosecond() {
    let url = require_influx!("real_writer_each_precision_lands_on_the_right_nanosecond");
    let db = TestDb::create(&url).await;
    for (i, precision) in Precision::ALL.into_iter().enumerate() {
        let writer = Writer::new(InfluxConfig {
            precision,
            ..db.config()
        })
        .unwrap();
        let measurement = format!("precision_{i}");
        let line = Point::new_dynamic(measurement.clone())
            .field_dynamic("v", 1.5)
            .timestamp(Timestamp::from_nanos(T0))
            .to_line(writer.precision())
            .unwrap();
        assert_eq!(writer.send(line.as_bytes()).await, WriteOutcome::Accepted);
        let series = db
            .reader()
            .query(&raw_all(&measurement, &["v"]))
            .await
            .unwrap();
        let unit = precision.nanos_per_unit();
        assert_eq!(
            series[0].rows[0].time_ns,
            T0.div_euclid(unit) * unit,
            "{precision:?}"
        );
    }
}
