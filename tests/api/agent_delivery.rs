//! The agent's delivery (`streamswarm_agent::delivery`) writing through its spool to
//! the REAL embedded store's `/api/v2/write` with a real agent credential, as an agent
//! enrolled with `write.kind = "server"` does; and a refused credential keeping the
//! data. (Enrolment, heartbeat and assignments end to end come with the agent routes.)

use crate::both_backends;
use secrecy::SecretString;
use std::time::{Duration, UNIX_EPOCH};
use streamswarm_agent::delivery::{DeliveryExit, Pipeline};
use streamswarm_agent::self_metrics::SelfSample;
use streamswarm_agent::spool::{FsyncPolicy, SpoolConfig};
use streamswarm_agent::state::WriteTarget;
use streamswarm_tsdb::query::{Query, RawQuery, Selector, TimeRange};
use streamswarm_tsdb::write::Writer;
use tokio::sync::watch;

fn spool_config() -> SpoolConfig {
    SpoolConfig {
        max_bytes: 1 << 20,
        segment_bytes: 64 * 1024,
        fsync: FsyncPolicy::Never,
    }
}

fn writer(app: &crate::helpers::TestApp, credential: &str) -> Writer {
    let server = url::Url::parse(&app.url("/")).unwrap();
    let config = WriteTarget::server()
        .influx_config(&server, &SecretString::from(credential.to_owned()))
        .unwrap();
    Writer::new(config).unwrap()
}

/// (agent tag, reason tag, value) of every stored `agent_drops.points_total`.
async fn stored_drops(app: &crate::helpers::TestApp) -> Vec<(String, String, i64)> {
    let q = Query::Raw(RawQuery {
        selector: Selector {
            measurement: "agent_drops".into(),
            filters: vec![],
            range: TimeRange {
                start_ns: i64::MIN + 2,
                end_ns: i64::MAX - 1,
            },
        },
        fields: vec!["points_total".into()],
        group_by_tags: vec!["agent".into(), "reason".into()],
        limit: 1_000_000,
    });
    let mut out = Vec::new();
    for s in app.state.timeseries.reader().query(&q).await.unwrap() {
        for r in s.rows {
            let v = match r.values[0].clone().unwrap() {
                streamswarm_tsdb::query::Value::Integer(i) => i,
                other => panic!("{other:?}"),
            };
            out.push((s.tags["agent"].clone(), s.tags["reason"].clone(), v));
        }
    }
    out.sort();
    out
}

both_backends!(
    agent_delivery_writes_self_metrics_to_the_embedded_store,
    |app| async {
        let (agent_id, credential) = app.agent_token("edge-01").await;
        let dir = tempfile::tempdir().unwrap();
        let (pipeline, _) = Pipeline::open(dir.path(), spool_config()).await.unwrap();
        // Ten samples a second apart, each with distinct drop counts.
        let start = UNIX_EPOCH + Duration::from_secs(1_764_100_000);
        let mut expected = Vec::new();
        for i in 0..10u64 {
            let mut sample = SelfSample::default();
            sample.counters.dropped_rejected = i;
            sample.counters.dropped_encode_error = 100 + i;
            sample.spool.dropped_spool_full = 200 + i;
            let points = sample.to_points(agent_id, start + Duration::from_secs(i));
            for p in &points {
                streamswarm_tsdb::schema_check::assert_follows_schema(p);
            }
            pipeline.append_points(points).await;
            for (reason, v) in [
                ("encode_error", 100 + i),
                ("rejected", i),
                ("spool_full", 200 + i),
            ] {
                expected.push((agent_id.to_string(), reason.to_owned(), v as i64));
            }
        }
        expected.sort();

        // A refused credential: delivery stops with the data still spooled.
        let (_keep, stop_rx) = watch::channel(false);
        let exit = pipeline
            .deliver(writer(&app, "ssw_agt_notavalidcredential"), stop_rx)
            .await;
        assert!(
            matches!(exit, DeliveryExit::Unauthorized { .. }),
            "{exit:?}"
        );
        assert_eq!(pipeline.spool_stats().await.records_pending, 40);
        assert!(stored_drops(&app).await.is_empty());

        // The real credential: everything arrives.
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn({
            let (p, w) = (pipeline.clone(), writer(&app, &credential));
            async move { p.deliver(w, stop_rx).await }
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while pipeline.counters().snapshot().points_sent < 40 {
            assert!(tokio::time::Instant::now() < deadline, "not delivered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        assert_eq!(task.await.unwrap(), DeliveryExit::Stopped);
        assert_eq!(stored_drops(&app).await, expected);
        assert_eq!(pipeline.spool_stats().await.records_pending, 0);
    }
);
