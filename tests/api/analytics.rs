//! The analytics process (issue 12) against the real stores: a labelled evaluation set
//! (3 agents × 3 targets × 16 days of 1-minute ping summaries, one incident of each
//! kind in the last two days) is written to the embedded store or to the real InfluxDB
//! 1.6.7, the process is cycled over the last two days as it would run live, and:
//!
//! - it finds the injected incidents (scored by `analytics::score` from the insight
//!   rows it wrote, not from its own memory) and writes `anomaly` points carrying their
//!   insight id, `forecast` points and `health` points through the same store;
//! - a second process against the same database stands by while the first holds the
//!   lease (no double reporting);
//! - a process stopped in the middle of an incident and a new one started from the
//!   stored position continue the same insight row: no duplicate insight.

use crate::helpers::{Backend, TestApp, influx_url, spawn_app_with};
use std::collections::{BTreeMap, BTreeSet};
use streamswarm::analytics::eval::{self, EvalConfig, EvalSet};
use streamswarm::analytics::process::{Analytics, CycleStats, POSITION_KEY};
use streamswarm::analytics::score::{Finding, score};
use streamswarm::config::{AnalyticsConfig, Config};
use streamswarm::store::insights::{InsightFilter, InsightRecord};
use streamswarm::store::tests::{Assignments, TestDraft};
use streamswarm_schema::{Schedule, TestKind, TestParams, TestSpec};
use streamswarm_tsdb::query::{Aggregate, AggregateQuery, Fill, Query, Selector, TimeRange};

const DAY: i64 = 86_400;

/// The set, ending a day before now (inside every retention), starting on a Monday.
fn eval_set() -> EvalSet {
    let now_days = time::OffsetDateTime::now_utc().unix_timestamp() / DAY;
    let mut start_day = now_days - 17;
    // 1970-01-01 was a Thursday: Mondays are the days with (day + 3) % 7 == 0.
    start_day -= (start_day + 3).rem_euclid(7);
    eval::generate(&EvalConfig {
        agents: 3,
        targets: 3,
        days: 16,
        training_days: 14,
        incidents_per_kind: 1,
        start_s: start_day * DAY,
        ..EvalConfig::default()
    })
}

fn set_end(set: &EvalSet) -> i64 {
    set.config.start_s + i64::from(set.config.days) * DAY
}

/// The ping tests 1..=targets the set's points are tagged with.
async fn create_tests(app: &TestApp, set: &EvalSet) {
    create_ping_tests(app, set.config.targets).await;
}

/// Ping tests 1..=`targets` towards the set's target names.
async fn create_ping_tests(app: &TestApp, targets: usize) {
    for t in 0..targets {
        let draft = TestDraft {
            name: format!("ping {}", EvalSet::target_name(t)),
            description: String::new(),
            spec: TestSpec {
                kind: TestKind::Ping,
                target: EvalSet::target_name(t),
                params: TestParams::from_json(TestKind::Ping, serde_json::Value::Null).unwrap(),
                schedule: Schedule::every(60),
            },
            enabled: true,
            assignments: Assignments::default(),
        };
        let id = app.store().create_test(&draft, None).await.unwrap().id;
        assert_eq!(
            id,
            EvalSet::test_id(t),
            "tests are numbered as the set tags them"
        );
    }
}

async fn write_embedded(app: &TestApp, set: &EvalSet) {
    write_embedded_lines(app, set.line_protocol(20_000), set_end(set)).await;
}

async fn write_embedded_lines(app: &TestApp, chunks: Vec<String>, end_s: i64) {
    use streamswarm::timeseries::embedded::ingest::Precision;
    use streamswarm::timeseries::embedded::policy::WritePolicy;
    for chunk in chunks {
        app.timeseries()
            .write(
                bytes::Bytes::from(chunk),
                false,
                usize::MAX,
                Precision::Seconds,
                0,
                WritePolicy::FreeForm,
            )
            .await
            .unwrap();
    }
    // The history reads 1-minute aggregates: let the rollups be there, as they are
    // within seconds on a running server.
    let days = streamswarm::timeseries::embedded::RetentionDays {
        raw: 3650,
        rollup_1m: 3650,
        rollup_1h: 3650,
    };
    app.timeseries()
        .roll_up(days.cutoffs(end_s * 1_000_000_000))
        .await
        .unwrap();
}

async fn write_influx(url: &url::Url, db: &str, set: &EvalSet) {
    write_influx_lines(url, db, set.line_protocol(20_000)).await;
}

async fn write_influx_lines(url: &url::Url, db: &str, chunks: Vec<String>) {
    let client = reqwest::Client::new();
    for chunk in chunks {
        let resp = client
            .post(url.join("write").unwrap())
            .query(&[("db", db), ("precision", "s")])
            .body(chunk)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    }
}

fn config() -> AnalyticsConfig {
    AnalyticsConfig {
        lateness_seconds: 0,
        ..AnalyticsConfig::default()
    }
}

/// Cycles `a` at `now_s` until it has scored everything before it; what each cycle did.
async fn catch_up(a: &mut Analytics, now_s: i64) -> Vec<CycleStats> {
    let mut cycles = Vec::new();
    for _ in 0..10_000 {
        let s = a.cycle(now_s).await.unwrap();
        assert!(s.leader, "the only process holds the lease");
        cycles.push(s);
        if !s.behind {
            return cycles;
        }
    }
    panic!("never caught up");
}

/// A process reads a test's whole history for its first refits and then, refit after
/// refit, only the minutes since the previous read (`analytics::history`).
fn reads_only_what_is_new(cycles: &[CycleStats], series: usize) {
    let refits: Vec<&CycleStats> = cycles.iter().filter(|c| c.fits > 0).collect();
    assert!(refits.len() >= 2, "{cycles:?}");
    // The first: a day or more of every series (the set's training days).
    assert!(refits[0].history_read >= series * 1440, "{:?}", refits[0]);
    // The later ones: about a refit interval (an hour) of the series refitted.
    for c in &refits[1..] {
        assert!(c.history_read <= series * 2 * 60, "{c:?}");
        assert!(c.history_read > 0, "{c:?}");
    }
}

async fn all_insights(app: &TestApp) -> Vec<InsightRecord> {
    app.store()
        .list_insights(&InsightFilter {
            limit: 1000,
            ..InsightFilter::default()
        })
        .await
        .unwrap()
}

/// An insight row as the scorer's finding: its evidence series, its scope, when it
/// was raised.
fn finding(r: &InsightRecord) -> Finding {
    let series: Vec<(usize, usize)> = r.evidence["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let agent = s["agent_id"].as_i64().unwrap() as usize - 1;
            let test = s["test_id"].as_i64().unwrap() as usize - 1;
            (agent, test)
        })
        .collect();
    let scope = match r.scope.as_str() {
        "pair" => eval::Scope::Pair {
            agent: series[0].0,
            target: series[0].1,
        },
        "target" => eval::Scope::Target {
            target: series[0].1,
            agents: series
                .iter()
                .map(|s| s.0)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        },
        "agent" => eval::Scope::Agent { agent: series[0].0 },
        other => panic!("scope {other}"),
    };
    Finding {
        series,
        scope,
        detected_s: r.detected_at / 1000,
    }
}

async fn count(app: &TestApp, measurement: &str, field: &str, set: &EvalSet) -> i64 {
    let q = Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: measurement.into(),
            filters: vec![],
            range: TimeRange {
                start_ns: set.config.start_s * 1_000_000_000,
                end_ns: (set_end(set) + DAY) * 1_000_000_000,
            },
        },
        fields: vec![(field.into(), Aggregate::Count)],
        interval: None,
        group_by_tags: vec![],
        fill: Fill::None,
    });
    let series = app.state.timeseries.reader().query(&q).await.unwrap();
    series
        .iter()
        .flat_map(|s| &s.rows)
        .filter_map(|r| match r.values.first().cloned().flatten() {
            Some(streamswarm_tsdb::query::Value::Integer(n)) => Some(n),
            _ => None,
        })
        .sum()
}

/// The whole check, on whatever store `app` has.
async fn finds_incidents_and_resumes_without_duplicates(app: TestApp, set: EvalSet) {
    let store = app.store().clone();
    let training_end = set.config.start_s + i64::from(set.config.training_days) * DAY;
    store
        .set_analytics_state(POSITION_KEY, &training_end.to_string())
        .await
        .unwrap();
    // Stop in the middle of the first incident long enough to still be open then.
    let long = set
        .incidents
        .iter()
        .find(|i| i.end_s - i.start_s >= 40 * 60)
        .expect("an incident of 40 minutes or more");
    let mid = long.start_s + 20 * 60;

    let mut first = Analytics::new(store.clone(), app.state.timeseries.clone(), config());
    let cycles = catch_up(&mut first, mid).await;
    reads_only_what_is_new(&cycles, set.series.len());
    // A second process against the same database stands by.
    let mut standby = Analytics::new(store.clone(), app.state.timeseries.clone(), config());
    let s = standby.cycle(mid).await.unwrap();
    assert!(!s.leader, "{s:?}");
    assert_eq!(s.minutes, 0);

    let open_at_mid: Vec<InsightRecord> = store.open_insights().await.unwrap();
    let carried: Vec<&InsightRecord> = open_at_mid
        .iter()
        .filter(|r| finding(r).series.iter().any(|s| long.series.contains(s)))
        .collect();
    assert!(
        !carried.is_empty(),
        "incident {long:?} open at the stop; open insights: {open_at_mid:#?}"
    );
    let carried_ids: BTreeMap<String, i64> = carried
        .iter()
        .map(|r| (r.fingerprint.clone(), r.id))
        .collect();

    // The first process stops without a word (its lease lapses); a new one takes over
    // from the stored position.
    drop(first);
    let end = set_end(&set);
    let mut second = Analytics::new(store.clone(), app.state.timeseries.clone(), config());
    assert!(end - mid > 120, "past the first process's lease");
    // It starts with nothing kept: its first refits read everything again.
    let cycles = catch_up(&mut second, end).await;
    reads_only_what_is_new(&cycles, set.series.len());

    let rows = all_insights(&app).await;
    // No duplicate: the insight open at the stop is the same row after it, and no
    // other row of its fingerprint overlaps it in time.
    for (fingerprint, id) in &carried_ids {
        let same: Vec<&InsightRecord> = rows
            .iter()
            .filter(|r| &r.fingerprint == fingerprint)
            .collect();
        let row = same
            .iter()
            .find(|r| r.id == *id)
            .expect("the carried row is kept");
        let until = row.resolved_at.unwrap_or(i64::MAX);
        for other in same.iter().filter(|r| r.id != *id) {
            let overlaps =
                other.started_at < until && other.resolved_at.unwrap_or(i64::MAX) > row.started_at;
            assert!(!overlaps, "duplicate of {row:#?}: {other:#?}");
        }
        assert!(
            row.updated_at / 1000 > mid,
            "the new process updated it: {row:#?}"
        );
    }

    let findings: Vec<Finding> = rows.iter().map(finding).collect();
    let s = score(&set, &findings);
    assert!(
        s.recall >= 5.0 / 6.0,
        "recall {:.2}: {s:#?}\n{rows:#?}",
        s.recall
    );
    assert!(
        s.precision >= 0.5,
        "precision {:.2}: {s:#?}\n{rows:#?}",
        s.precision
    );
    for r in &rows {
        assert!(!r.summary.is_empty());
        assert!(["warning", "critical"].contains(&r.severity.as_str()));
    }

    // The findings are ordinary measurements in the same store.
    let anomalies = count(&app, "anomaly", "insight_id", &set).await;
    assert!(anomalies > 0, "anomaly points with insight ids");
    let forecasts = count(&app, "forecast", "expected", &set).await;
    assert!(
        forecasts >= 9 * 60,
        "a forecast for every series: {forecasts}"
    );
    let health = count(&app, "health", "level", &set).await;
    assert!(health > 0, "health points");
    app.stop().await;
}

async fn app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    spawn_app_with(backend, adjust).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_store() {
    let app = app_with(Backend::Sqlite, |_| {}).await.unwrap();
    let set = eval_set();
    create_tests(&app, &set).await;
    write_embedded(&app, &set).await;
    finds_incidents_and_resumes_without_duplicates(app, set).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_influxdb_with_postgres() {
    let Some((app, influx)) = app_on_influx(Backend::Postgres).await else {
        return;
    };
    let set = eval_set();
    create_tests(&app, &set).await;
    write_influx(&influx.0, &influx.1, &set).await;
    finds_incidents_and_resumes_without_duplicates(app, set).await;
}

/// An app whose time series are a fresh database of the test InfluxDB (dropped with
/// the returned guard); `None` when InfluxDB or the metadata backend is not available
/// outside CI.
async fn app_on_influx(backend: Backend) -> Option<(TestApp, crate::helpers::DropDb)> {
    let url = influx_url("analytics")?;
    let db = format!("streamswarm_analytics_{:016x}", rand::random::<u64>());
    let create = reqwest::Client::new()
        .post(url.join("query").unwrap())
        .form(&[("q", format!("CREATE DATABASE \"{db}\""))])
        .send()
        .await
        .unwrap();
    assert!(create.status().is_success());
    let guard = crate::helpers::DropDb(url.clone(), db.clone());
    let (u, d) = (url.to_string(), db);
    let app = app_with(backend, move |config| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("influx.toml");
        std::fs::write(
            &path,
            format!("[influx]\nurl = \"{u}\"\ndatabase = \"{d}\"\n"),
        )
        .unwrap();
        config.influx = Config::load(Some(&path)).unwrap().influx;
    })
    .await?;
    Some((app, guard))
}

/// One agent, three ping tests: two days of calm RTT history, then six scored hours
/// with its host metrics (`host_cpu`, `host_net` on two interfaces, `agent_self`); in
/// hour 5 its host saturates for 15 minutes (CPU 97 %, probe scheduling lag 2 s) while
/// its paths stay as they were. Line protocol in chunks, and the hour the scored
/// period starts.
fn saturated_host_lines() -> (Vec<String>, i64, i64) {
    let end = (time::OffsetDateTime::now_utc().unix_timestamp() / 3600 - 2) * 3600;
    let scored_from = end - 6 * 3600;
    let start = scored_from - 2 * DAY;
    let busy = |t: i64| t >= scored_from + 5 * 3600 && t < scored_from + 5 * 3600 + 15 * 60;
    let mut x: u64 = 11;
    let mut noise = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut lines = Vec::new();
    let mut t = start;
    while t < end {
        for test in 1..=3 {
            let target = EvalSet::target_name(test - 1);
            let rtt = 10.0 * test as f64 + noise();
            lines.push(format!(
                "ping,agent=1,test={test},target={target} sent=5i,received=5i,rtt_avg_ms={rtt} {t}"
            ));
        }
        if t >= scored_from {
            let (cpu, lag) = if busy(t) {
                (97.0, 2000.0)
            } else {
                (10.0 + 10.0 * noise(), 2.0 + 3.0 * noise())
            };
            lines.push(format!(
                "host_cpu,agent=1,cpu=total usage_percent={cpu} {t}"
            ));
            lines.push(format!("host_cpu,agent=1,cpu=cpu0 usage_percent=1 {t}"));
            for i in ["eth0", "eth1"] {
                lines.push(format!(
                    "host_net,agent=1,interface={i} rx_errors_per_s=0,tx_errors_per_s=0,rx_drops_per_s=0,tx_drops_per_s=0 {t}"
                ));
            }
            lines.push(format!(
                "agent_self,agent=1 schedule_lag_max_ms={lag},oldest_unsent_age_s={} {t}",
                5.0 + 5.0 * noise()
            ));
        }
        t += 60;
    }
    let chunks = lines.chunks(20_000).map(|c| c.join("\n")).collect();
    (chunks, scored_from, end)
}

/// The process reads the agent's host minutes through the store and raises the
/// saturation as one multivariate agent insight whose notes name the host columns.
async fn finds_a_saturated_host(app: TestApp, scored_from: i64, end: i64) {
    let store = app.store().clone();
    store
        .set_analytics_state(POSITION_KEY, &scored_from.to_string())
        .await
        .unwrap();
    let mut a = Analytics::new(store, app.state.timeseries.clone(), config());
    catch_up(&mut a, end).await;
    let rows = all_insights(&app).await;
    let multivariate: Vec<&InsightRecord> =
        rows.iter().filter(|r| r.kind == "multivariate").collect();
    assert_eq!(
        multivariate.len(),
        1,
        "{:#?}",
        rows.iter().map(|r| &r.summary).collect::<Vec<_>>()
    );
    let r = multivariate[0];
    assert_eq!(r.scope, "agent");
    assert_eq!(r.agent_ids, vec![1]);
    let saturated = scored_from + 5 * 3600;
    assert_eq!(r.started_at / 1000, saturated, "{r:#?}");
    assert!(r.detected_at / 1000 <= saturated + 5 * 60, "{r:#?}");
    assert_eq!(
        r.state, "resolved",
        "15 calm minutes after the 15 busy ones"
    );
    let notes: Vec<&str> = r.evidence["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("host CPU 97 % (usual 1")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("probe scheduling lag 2000 ms")),
        "{notes:?}"
    );
    assert!(r.summary.contains("unusual as a whole"), "{}", r.summary);
    assert_eq!(
        rows.iter().filter(|r| r.kind != "multivariate").count(),
        0,
        "the paths did not change: {:#?}",
        rows.iter().map(|r| &r.summary).collect::<Vec<_>>()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_host_on_the_embedded_store() {
    let app = app_with(Backend::Sqlite, |_| {}).await.unwrap();
    create_ping_tests(&app, 3).await;
    let (chunks, scored_from, end) = saturated_host_lines();
    write_embedded_lines(&app, chunks, end).await;
    finds_a_saturated_host(app, scored_from, end).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_host_on_influxdb() {
    let Some((app, influx)) = app_on_influx(Backend::Sqlite).await else {
        return;
    };
    create_ping_tests(&app, 3).await;
    let (chunks, scored_from, end) = saturated_host_lines();
    write_influx_lines(&influx.0, &influx.1, chunks).await;
    finds_a_saturated_host(app, scored_from, end).await;
}
