//! How fast the analytics process fits and scores (bench/analytics.sh runs it; numbers
//! in bench/README.md). 1,000 ping series (40 agents × 25 targets) × 8 days of
//! 1-minute summaries from the evaluation generator are written to the store under
//! test — a fresh embedded store, and with `BENCH_INFLUX_URL` a fresh InfluxDB
//! database — then, as the process does at a start:
//!
//! - **full fit**: for each test, one read of the last 7 days of 1-minute aggregates
//!   (`analytics::process::read_minutes`, the process's own code path) and a model fit
//!   per series (MSTL + AutoETS, with the backtests that seed its calibration);
//! - **online**: the next 60 minutes scored point by point, all series, with the scope
//!   regrouped after each minute; reported per point;
//! - the peak resident memory of the process (VmHWM) after each store.
//!
//! ```sh
//! cargo run --release --example analytics_bench            # embedded store only
//! BENCH_INFLUX_URL=http://127.0.0.1:18086 cargo run --release --example analytics_bench
//! ```

use std::time::{Duration, Instant};
use streamswarm::analytics::engine::{Engine, EngineConfig};
use streamswarm::analytics::eval::{EvalConfig, EvalSet, generate};
use streamswarm::analytics::process::read_minutes;
use streamswarm::timeseries::TimeSeries;
use streamswarm::timeseries::embedded::EmbeddedStore;
use streamswarm::timeseries::embedded::ingest::Precision;
use streamswarm::timeseries::embedded::policy::WritePolicy;
use streamswarm_tsdb::{InfluxConfig, InfluxReader};

const DAY: i64 = 86_400;

fn vm_hwm_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

struct Run {
    store: &'static str,
    read: Duration,
    fit: Duration,
    fits: usize,
    online_points: usize,
    online: Duration,
}

async fn run(store: &'static str, ts: &TimeSeries, set: &EvalSet) -> anyhow::Result<Run> {
    let fit_at = set.config.start_s + 7 * DAY;
    let mut engine = Engine::new(EngineConfig {
        history_days: 7,
        ..EngineConfig::default()
    });
    let (mut read, mut fit, mut fits) = (Duration::ZERO, Duration::ZERO, 0);
    for t in 0..set.config.targets {
        let test = EvalSet::test_id(t).to_string();
        let started = Instant::now();
        let history = read_minutes(ts, fit_at - 7 * DAY, fit_at, Some(("ping", &test))).await?;
        read += started.elapsed();
        let started = Instant::now();
        for (key, samples) in &history {
            engine.add_series(key);
            engine.refit(key, samples, fit_at);
            fits += 1;
        }
        fit += started.elapsed();
    }
    // The next hour, scored as it arrives.
    let next = read_minutes(ts, fit_at, fit_at + 3600, None).await?;
    let started = Instant::now();
    let mut online_points = 0;
    for m in 0..60 {
        let minute = fit_at + m * 60;
        for (key, samples) in &next {
            if let Some(s) = samples.iter().find(|s| s.time_s == minute) {
                engine.observe(key, s);
                online_points += 1;
            }
        }
        engine.tick(minute + 60);
    }
    Ok(Run {
        store,
        read,
        fit,
        fits,
        online_points,
        online: started.elapsed(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let set = generate(&EvalConfig {
        agents: 40,
        targets: 25,
        days: 8,
        training_days: 7,
        incidents_per_kind: 2,
        ..EvalConfig::default()
    });
    let chunks = set.line_protocol(5_000);
    eprintln!(
        "set: {} series × {} days ({:.1} s)",
        set.series.len(),
        set.config.days,
        started.elapsed().as_secs_f64()
    );
    let mut runs = Vec::new();

    let dir = tempfile::tempdir()?;
    let embedded = EmbeddedStore::open(&dir.path().join("timeseries.db")).await?;
    let started = Instant::now();
    for chunk in &chunks {
        embedded
            .write(
                bytes::Bytes::from(chunk.clone()),
                false,
                usize::MAX,
                Precision::Seconds,
                0,
                WritePolicy::FreeForm,
            )
            .await?;
    }
    let days = streamswarm::timeseries::embedded::RetentionDays {
        raw: 3650,
        rollup_1m: 3650,
        rollup_1h: 3650,
    };
    embedded
        .roll_up(days.cutoffs((set.config.start_s + 9 * DAY) * 1_000_000_000))
        .await?;
    eprintln!(
        "embedded: written and rolled up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let ts = TimeSeries::Embedded(embedded);
    runs.push(run("embedded", &ts, &set).await?);
    let hwm_embedded = vm_hwm_mib();
    ts.close();

    let mut hwm_influx = None;
    if let Ok(url) = std::env::var("BENCH_INFLUX_URL") {
        let db = format!("analytics_bench_{:08x}", rand::random::<u32>());
        let client = reqwest::Client::new();
        let base = url::Url::parse(&url)?;
        client
            .post(base.join("query")?)
            .form(&[("q", format!("CREATE DATABASE \"{db}\""))])
            .send()
            .await?
            .error_for_status()?;
        let started = Instant::now();
        for chunk in &chunks {
            client
                .post(base.join("write")?)
                .query(&[("db", db.as_str()), ("precision", "s")])
                .body(chunk.clone())
                .send()
                .await?
                .error_for_status()?;
        }
        eprintln!(
            "influxdb: written in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let reader = InfluxReader::new(InfluxConfig {
            url: url.clone(),
            database: Some(db.clone()),
            request_timeout: Duration::from_secs(300),
            ..InfluxConfig::default()
        })?;
        let ts = TimeSeries::Influx(reader);
        runs.push(run("InfluxDB 1.6.7", &ts, &set).await?);
        hwm_influx = Some(vm_hwm_mib());
        client
            .post(base.join("query")?)
            .form(&[("q", format!("DROP DATABASE \"{db}\""))])
            .send()
            .await?;
    }

    println!(
        "| store | series | full fit (read + fit) | of which read | fits | per fit | online per point | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &runs {
        let hwm = if r.store == "embedded" {
            hwm_embedded
        } else {
            hwm_influx.unwrap_or(f64::NAN)
        };
        println!(
            "| {} | {} | {:.1} s | {:.1} s | {} | {:.1} ms | {:.1} µs | {:.0} MiB |",
            r.store,
            r.fits,
            (r.read + r.fit).as_secs_f64(),
            r.read.as_secs_f64(),
            r.fits,
            r.fit.as_secs_f64() * 1000.0 / r.fits.max(1) as f64,
            r.online.as_secs_f64() * 1e6 / r.online_points.max(1) as f64,
            hwm
        );
    }
    Ok(())
}
