//! How fast the analytics process fits and scores (bench/analytics.sh runs it; numbers
//! in bench/README.md). Two steps, each its own process so that the peak memory
//! reported is the analytics' own, not the loader's:
//!
//! - `load`: 1,000 ping series (40 agents × 25 targets) of 1-minute summaries from the
//!   evaluation generator, 7 days and the hour after, written to a fresh embedded store
//!   and/or a fresh InfluxDB database. Only the fields the process reads (`sent`,
//!   `received`, `rtt_avg_ms`) are written: the reads are per field, and writing the
//!   other eight would make the embedded load take half an hour.
//! - `fit`: as the process does at a start — for each test one read of the last 7 days
//!   of 1-minute aggregates (`analytics::process::read_minutes`, the process's own code
//!   path) and the refit of its series on every core (`engine::fit_all`: MSTL + AutoETS
//!   and the two backtests that seed a new series' calibration); then the next 60
//!   minutes scored point by point, all series, scope regrouped after each minute; then
//!   each agent's isolation forest fitted on a week of rows; the peak resident memory
//!   (VmHWM). Prints one Markdown table row.
//!
//! ```sh
//! cargo run --release --example analytics_bench -- load --embedded /tmp/b/timeseries.db \
//!     --influx http://127.0.0.1:18086 --db analytics_bench
//! cargo run --release --example analytics_bench -- fit --embedded /tmp/b/timeseries.db
//! cargo run --release --example analytics_bench -- fit --influx http://127.0.0.1:18086 --db analytics_bench
//! ```

use clap::{Parser, Subcommand};
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use streamswarm::analytics::engine::{self, Engine, EngineConfig};
use streamswarm::analytics::eval::{EvalConfig, EvalSet, generate};
use streamswarm::analytics::process::read_minutes;
use streamswarm::timeseries::TimeSeries;
use streamswarm::timeseries::embedded::EmbeddedStore;
use streamswarm::timeseries::embedded::ingest::Precision;
use streamswarm::timeseries::embedded::policy::WritePolicy;
use streamswarm_stats::multivariate::{self, FEATURES, Row};
use streamswarm_tsdb::{InfluxConfig, InfluxReader};

const DAY: i64 = 86_400;
const WEEK_MINUTES: usize = 7 * 1440;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    step: Step,
}

#[derive(Subcommand)]
enum Step {
    /// Write the set to the stores named.
    Load(Stores),
    /// Fit and score from the store named (one of them).
    Fit(Stores),
}

#[derive(clap::Args)]
struct Stores {
    /// The embedded store's file (created by `load`).
    #[arg(long)]
    embedded: Option<PathBuf>,
    /// InfluxDB 1.x base URL.
    #[arg(long, requires = "db")]
    influx: Option<String>,
    /// InfluxDB database (created by `load`).
    #[arg(long)]
    db: Option<String>,
    /// Agents (× 25 targets = series); fewer for a quick trial.
    #[arg(long, default_value_t = 40)]
    agents: usize,
}

fn config(agents: usize) -> EvalConfig {
    EvalConfig {
        agents,
        targets: 25,
        days: 8,
        training_days: 7,
        incidents_per_kind: 2,
        ..EvalConfig::default()
    }
}

/// When the full fit happens: after 7 days.
fn fit_at(config: &EvalConfig) -> i64 {
    config.start_s + 7 * DAY
}

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

async fn load(stores: &Stores) -> anyhow::Result<()> {
    let started = Instant::now();
    let set = generate(&config(stores.agents));
    let chunks = set.line_protocol_analysed(50_000, fit_at(&set.config) + 3600);
    let lines: usize = chunks.iter().map(|c| c.lines().count()).sum();
    eprintln!(
        "set: {} series, {lines} points ({:.1} s)",
        set.series.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &stores.embedded {
        let store = EmbeddedStore::open(path).await?;
        let started = Instant::now();
        for chunk in &chunks {
            store
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
        store
            .roll_up(days.cutoffs((set.config.start_s + 9 * DAY) * 1_000_000_000))
            .await?;
        store.close();
        eprintln!(
            "embedded: written and rolled up in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if let (Some(url), Some(db)) = (&stores.influx, &stores.db) {
        let client = reqwest::Client::new();
        let base = url::Url::parse(url)?;
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
    }
    Ok(())
}

struct Run {
    read: Duration,
    fit: Duration,
    fits: usize,
    online_points: usize,
    online: Duration,
    forests: usize,
    forest: Duration,
}

async fn fit(ts: &TimeSeries, config: &EvalConfig) -> anyhow::Result<Run> {
    let fit_at = fit_at(config);
    let mut engine = Engine::new(EngineConfig {
        history_days: 7,
        ..EngineConfig::default()
    });
    let (mut read, mut fit, mut fits) = (Duration::ZERO, Duration::ZERO, 0);
    for t in 0..config.targets {
        let test = EvalSet::test_id(t).to_string();
        let started = Instant::now();
        let history = read_minutes(ts, fit_at - 7 * DAY, fit_at, Some(("ping", &test))).await?;
        read += started.elapsed();
        let started = Instant::now();
        let jobs = history
            .into_iter()
            .map(|(key, samples)| {
                engine.add_series(&key);
                engine.refit_job(&key, samples, fit_at)
            })
            .collect();
        for f in engine::fit_all(jobs) {
            engine.install(f);
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
    let online = started.elapsed();
    // Each agent's forest on a week of rows (synthetic: the fit's cost depends on the
    // number of rows, not on their values).
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let started = Instant::now();
    for _ in 0..config.agents {
        let rows: Vec<Row> = (0..WEEK_MINUTES)
            .map(|_| std::array::from_fn::<f64, FEATURES, _>(|_| rng.random::<f64>()))
            .collect();
        multivariate::fit(&rows)?;
    }
    Ok(Run {
        read,
        fit,
        fits,
        online_points,
        online,
        forests: config.agents,
        forest: started.elapsed(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.step {
        Step::Load(stores) => load(&stores).await,
        Step::Fit(stores) => {
            let config = config(stores.agents);
            let (name, ts) = match (&stores.embedded, &stores.influx, &stores.db) {
                (Some(path), None, _) => (
                    "embedded",
                    TimeSeries::Embedded(EmbeddedStore::open(path).await?),
                ),
                (None, Some(url), Some(db)) => (
                    "InfluxDB 1.6.7",
                    TimeSeries::Influx(InfluxReader::new(InfluxConfig {
                        url: url.clone(),
                        database: Some(db.clone()),
                        request_timeout: Duration::from_secs(300),
                        ..InfluxConfig::default()
                    })?),
                ),
                _ => anyhow::bail!("fit: name one store, --embedded or --influx with --db"),
            };
            let r = fit(&ts, &config).await?;
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            println!(
                "| {name} | {} | {:.1} s | {:.1} s | {:.1} s ({threads} threads, {:.1} ms per series) | {:.1} µs | {} in {:.1} s | {:.0} MiB |",
                r.fits,
                (r.read + r.fit).as_secs_f64(),
                r.read.as_secs_f64(),
                r.fit.as_secs_f64(),
                r.fit.as_secs_f64() * 1000.0 / r.fits.max(1) as f64,
                r.online.as_secs_f64() * 1e6 / r.online_points.max(1) as f64,
                r.forests,
                r.forest.as_secs_f64(),
                vm_hwm_mib()
            );
            ts.close();
            Ok(())
        }
    }
}
