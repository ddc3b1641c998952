//! The time-series benchmark behind `bench/timeseries.sh`: the embedded store against
//! InfluxDB 1.6.7, in the same run on the same machine. See `bench/README.md`.
//!
//! - `ingest`: pre-generated, gzipped 5,000-line batches (the product's `ping` and
//!   `host_*` points from `schema/measurements.toml`, 4,000 series, nanosecond
//!   timestamps), cut per agent or fleet-wide ([`Shape`]), are POSTed to the embedded
//!   store's `/write` (a running `streamswarm serve`) and to InfluxDB's `/write` by 1 and
//!   by 4 concurrent clients, for a fixed time per run. The two stores take turns on every
//!   data set (order swapped each round), so load from other processes falls on both
//!   alike. Every request must answer 204.
//! - `verify`: after the server has stopped, counts what each store holds per
//!   measurement through the product's readers; each must equal what it acknowledged.
//! - `query`: one day of 1-second `ping` points of one series (86,400 points) in an
//!   in-process embedded store (read through its `Reader`, as the server does) and in
//!   InfluxDB (read through `InfluxReader`, over HTTP and JSON); times the product's
//!   "1-minute means over that day" query on both, interleaved, before and after the
//!   embedded store's rollups exist. Both answers are compared before anything is timed.
//!
//! The API token for the embedded store comes from `STREAMSWARM_BENCH_TOKEN`, never from
//! the command line.

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, Subcommand};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use streamswarm::config::TimeSeriesConfig;
use streamswarm::timeseries::embedded::ingest::Precision as IngestPrecision;
use streamswarm::timeseries::embedded::{EmbeddedStore, RetentionDays};
use streamswarm_schema::measurements::{
    host_cpu, host_disk, host_diskio, host_memory, host_net, host_system, host_tcp, ping,
    tag_values,
};
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, Reader, Selector, Series, TagFilter, TimeRange, Value,
};
use streamswarm_tsdb::write::batches;
use streamswarm_tsdb::{BatchLimits, InfluxConfig, InfluxReader, Point, Precision, Timestamp};
use streamswarm_tsdb::{Writer, influxql::quote_ident};

const S: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * S;
/// Lines per write request: InfluxData's recommendation and the `Writer`'s batch size.
const BATCH_LINES: usize = BatchLimits::MAX_LINES;
/// Simulated agents; each writes 16 points per second (4 pings, 12 host points).
const AGENTS: usize = 250;
const LINES_PER_AGENT: usize = 16;

#[derive(Parser)]
#[command(about = "Embedded time-series store vs InfluxDB 1.6.7 (bench/timeseries.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest throughput over HTTP, both stores interleaved.
    Ingest {
        /// Base URL of `streamswarm serve` (token in STREAMSWARM_BENCH_TOKEN).
        #[arg(long)]
        embedded: String,
        /// Base URL of the InfluxDB 1.x.
        #[arg(long)]
        influx: String,
        #[arg(long, default_value = "bench_ingest")]
        influx_db: String,
        /// How requests are cut from the fleet's data.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "agent,fleet")]
        shapes: Vec<Shape>,
        /// Concurrent clients per case.
        #[arg(long, value_delimiter = ',', default_value = "1,4")]
        clients: Vec<usize>,
        /// Length of each timed run.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Runs per store and client count (the order of the stores alternates).
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// Process ids whose CPU time is reported per run.
        #[arg(long)]
        embedded_pid: Option<u32>,
        #[arg(long)]
        influx_pid: Option<u32>,
        /// Where to write what was sent, for `verify`.
        #[arg(long)]
        expect_out: PathBuf,
    },
    /// Counts what both stores hold; must equal what `ingest` sent.
    Verify {
        /// The embedded store's file (its server stopped).
        #[arg(long)]
        embedded_file: PathBuf,
        #[arg(long)]
        influx: String,
        #[arg(long, default_value = "bench_ingest")]
        influx_db: String,
        #[arg(long)]
        expect: PathBuf,
    },
    /// Query latency of "one day of 1-second data → 1-minute means".
    Query {
        #[arg(long)]
        influx: String,
        #[arg(long, default_value = "bench_query")]
        influx_db: String,
        /// Directory for the in-process embedded store (fresh).
        #[arg(long)]
        dir: PathBuf,
        /// Timed repetitions per store and phase.
        #[arg(long, default_value_t = 200)]
        reps: usize,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Ingest {
            embedded,
            influx,
            influx_db,
            shapes,
            clients,
            seconds,
            rounds,
            embedded_pid,
            influx_pid,
            expect_out,
        } => {
            let token = std::env::var("STREAMSWARM_BENCH_TOKEN")
                .context("STREAMSWARM_BENCH_TOKEN must hold an operator API token")?;
            create_database(&influx, &influx_db).await?;
            let targets = [
                Target {
                    name: "embedded",
                    url: write_url(&embedded, "bench")?,
                    auth: Some(format!("Token {token}")),
                    pid: embedded_pid,
                },
                Target {
                    name: "influxdb",
                    url: write_url(&influx, &influx_db)?,
                    auth: None,
                    pid: influx_pid,
                },
            ];
            ingest(
                &targets,
                &shapes,
                &clients,
                seconds,
                rounds.max(1),
                &expect_out,
            )
            .await
        }
        Command::Verify {
            embedded_file,
            influx,
            influx_db,
            expect,
        } => verify(&embedded_file, &influx, &influx_db, &expect).await,
        Command::Query {
            influx,
            influx_db,
            dir,
            reps,
        } => query_latency(&influx, &influx_db, &dir, reps.max(1)).await,
    }
}

// ---------------------------------------------------------------------------------------
// Data

/// How the fleet's lines are cut into requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Shape {
    /// Each request is one agent's next 5,000 lines (its 16 series over ~5 minutes), as
    /// an agent's `Writer` sends from its spool; requests go round the agents.
    Agent,
    /// Each request is the next 5,000 lines of the whole fleet in time order (all 4,000
    /// series over ~1.25 s), as a relay gathering many agents' points would send.
    Fleet,
}

impl Shape {
    fn describe(self) -> &'static str {
        match self {
            Shape::Agent => {
                "per-agent batches (one agent's 16 series, ~5 min of its data per request)"
            }
            Shape::Fleet => {
                "fleet-wide batches (all 4,000 series, ~1.25 s of fleet time per request)"
            }
        }
    }
}

/// Deterministic fleet data: every call continues where the last one stopped. Agent
/// `a` writes 16 points per second of its own time; line `c` of its stream is kind
/// `c % 16` at second `c / 16`.
struct Fleet {
    rng: StdRng,
    start_ns: i64,
    shape: Shape,
    /// Lines produced so far, in total and per agent.
    produced: usize,
    cursors: Vec<usize>,
    /// Per agent, a fixed offset within the second (agents' clocks are not aligned).
    offsets: Vec<i64>,
    /// Lines and field values of the batch being built, per measurement.
    counts: BTreeMap<&'static str, u64>,
    values: u64,
}

impl Fleet {
    fn new(start_ns: i64, shape: Shape) -> Self {
        let mut rng = StdRng::seed_from_u64(0x0057_5741_524d);
        let offsets = (0..AGENTS).map(|_| rng.random_range(0..S)).collect();
        Fleet {
            rng,
            start_ns,
            shape,
            produced: 0,
            cursors: vec![0; AGENTS],
            offsets,
            counts: BTreeMap::new(),
            values: 0,
        }
    }

    /// The time just past the last line produced.
    fn end_ns(&self) -> i64 {
        let ticks = self.cursors.iter().max().copied().unwrap_or(0) / LINES_PER_AGENT;
        self.start_ns + ticks as i64 * S + 2 * S
    }

    /// Appends the next line of `agent`'s stream to `buf`.
    fn next_line(&mut self, agent: usize, buf: &mut Vec<u8>) {
        let (tick, kind) = (
            self.cursors[agent] / LINES_PER_AGENT,
            self.cursors[agent] % LINES_PER_AGENT,
        );
        self.cursors[agent] += 1;
        self.produced += 1;
        let (name, point) = self.point(agent, tick, kind);
        *self.counts.entry(name).or_default() += 1;
        self.values += point.fields().count() as u64;
        point
            .encode(buf, Precision::Nanoseconds)
            .expect("generated points are valid");
    }

    /// Point `kind` (0–15) of `agent` at second `tick`, with its measurement name.
    fn point(&mut self, agent: usize, tick: usize, kind: usize) -> (&'static str, Point) {
        let t = self.start_ns + tick as i64 * S + self.offsets[agent] + kind as i64 * 1_000;
        let ts = Timestamp::from_nanos(t);
        let a = format!("{}", agent + 1);
        let r = &mut self.rng;
        // Values are rounded as probes report them (ms with µs resolution, etc.).
        let round = |x: f64, digits: i32| {
            let k = 10f64.powi(digits);
            (x * k).round() / k
        };
        match kind {
            0..=3 => {
                let base = 0.3 + 2.0 * kind as f64 + r.random_range(0.0..0.5);
                let rtt: Vec<f64> = (0..4)
                    .map(|_| round(base + r.random_range(0.0..0.4), 3))
                    .collect();
                let received = if r.random_range(0..100) == 0 { 4 } else { 5 };
                let point = Point::new(ping::MEASUREMENT)
                    .tag(ping::tags::AGENT, a)
                    .tag(ping::tags::TEST, format!("{}", kind + 1))
                    .tag(ping::tags::TARGET, format!("10.0.{kind}.1"))
                    .tag(ping::tags::FAMILY, tag_values::family::IPV4)
                    .field(ping::fields::SENT, 5i64)
                    .field(ping::fields::RECEIVED, received as i64)
                    .field(
                        ping::fields::LOSS_PERCENT,
                        100.0 * (5 - received) as f64 / 5.0,
                    )
                    .field(ping::fields::DUPLICATES, 0i64)
                    .field(ping::fields::RTT_MIN_MS, rtt[0])
                    .field(ping::fields::RTT_AVG_MS, rtt[1])
                    .field(ping::fields::RTT_MAX_MS, rtt[2])
                    .field(ping::fields::RTT_MDEV_MS, round(rtt[3] / 10.0, 3))
                    .field(ping::fields::JITTER_MS, round(rtt[3] / 7.0, 3))
                    .field(ping::fields::RTT_P50_MS, rtt[1])
                    .field(ping::fields::RTT_P90_MS, rtt[2])
                    .field(ping::fields::RTT_P99_MS, rtt[2])
                    .field(ping::fields::TTL, 64i64)
                    .timestamp(ts)
                    .into_dynamic();
                ("ping", point)
            }
            4..=6 => {
                let cpu = match kind {
                    4 => "total".to_owned(),
                    _ => format!("cpu{}", kind - 5),
                };
                let point = Point::new(host_cpu::MEASUREMENT)
                    .tag(host_cpu::tags::AGENT, a)
                    .tag(host_cpu::tags::CPU, cpu)
                    .field(
                        host_cpu::fields::USAGE_PERCENT,
                        round(r.random_range(0.0..100.0), 2),
                    )
                    .timestamp(ts)
                    .into_dynamic();
                ("host_cpu", point)
            }
            7 => {
                let point = Point::new(host_system::MEASUREMENT)
                    .tag(host_system::tags::AGENT, a)
                    .field(
                        host_system::fields::LOAD1,
                        round(r.random_range(0.0..4.0), 2),
                    )
                    .field(
                        host_system::fields::LOAD5,
                        round(r.random_range(0.0..4.0), 2),
                    )
                    .field(
                        host_system::fields::LOAD15,
                        round(r.random_range(0.0..4.0), 2),
                    )
                    .field(host_system::fields::PROCESSES, r.random_range(150..400i64))
                    .field(host_system::fields::UPTIME_S, 86_400 + tick as i64)
                    .timestamp(ts)
                    .into_dynamic();
                ("host_system", point)
            }
            8 => {
                let total = 8_i64 << 30;
                let used = r.random_range(1_i64 << 30..6 << 30);
                let point = Point::new(host_memory::MEASUREMENT)
                    .tag(host_memory::tags::AGENT, a)
                    .field(host_memory::fields::TOTAL_BYTES, total)
                    .field(host_memory::fields::USED_BYTES, used)
                    .field(host_memory::fields::AVAILABLE_BYTES, total - used)
                    .field(
                        host_memory::fields::USED_PERCENT,
                        round(100.0 * used as f64 / total as f64, 2),
                    )
                    .timestamp(ts)
                    .into_dynamic();
                ("host_memory", point)
            }
            9 | 10 => {
                let point = Point::new(host_net::MEASUREMENT)
                    .tag(host_net::tags::AGENT, a)
                    .tag(
                        host_net::tags::INTERFACE,
                        if kind == 9 { "eth0" } else { "lo" },
                    )
                    .field(
                        host_net::fields::RX_BYTES_PER_S,
                        round(r.random_range(0.0..1e7), 1),
                    )
                    .field(
                        host_net::fields::TX_BYTES_PER_S,
                        round(r.random_range(0.0..1e7), 1),
                    )
                    .field(
                        host_net::fields::RX_PACKETS_PER_S,
                        round(r.random_range(0.0..1e4), 1),
                    )
                    .field(
                        host_net::fields::TX_PACKETS_PER_S,
                        round(r.random_range(0.0..1e4), 1),
                    )
                    .field(host_net::fields::RX_ERRORS_PER_S, 0.0)
                    .field(host_net::fields::TX_ERRORS_PER_S, 0.0)
                    .timestamp(ts)
                    .into_dynamic();
                ("host_net", point)
            }
            11 => {
                let total = 100_i64 << 30;
                let used = (40_i64 << 30) + tick as i64 * 4096;
                let point = Point::new(host_disk::MEASUREMENT)
                    .tag(host_disk::tags::AGENT, a)
                    .tag(host_disk::tags::MOUNT, "/")
                    .field(host_disk::fields::TOTAL_BYTES, total)
                    .field(host_disk::fields::USED_BYTES, used)
                    .field(host_disk::fields::FREE_BYTES, total - used)
                    .field(
                        host_disk::fields::USED_PERCENT,
                        round(100.0 * used as f64 / total as f64, 2),
                    )
                    .timestamp(ts)
                    .into_dynamic();
                ("host_disk", point)
            }
            12 => {
                let point = Point::new(host_diskio::MEASUREMENT)
                    .tag(host_diskio::tags::AGENT, a)
                    .tag(host_diskio::tags::DEVICE, "vda")
                    .field(
                        host_diskio::fields::READ_BYTES_PER_S,
                        round(r.random_range(0.0..5e6), 1),
                    )
                    .field(
                        host_diskio::fields::WRITE_BYTES_PER_S,
                        round(r.random_range(0.0..5e6), 1),
                    )
                    .field(
                        host_diskio::fields::READ_OPS_PER_S,
                        round(r.random_range(0.0..500.0), 1),
                    )
                    .field(
                        host_diskio::fields::WRITE_OPS_PER_S,
                        round(r.random_range(0.0..500.0), 1),
                    )
                    .timestamp(ts)
                    .into_dynamic();
                ("host_diskio", point)
            }
            _ => {
                let state = [
                    tag_values::state::ESTABLISHED,
                    tag_values::state::LISTEN,
                    tag_values::state::TIME_WAIT,
                ][kind - 13];
                let point = Point::new(host_tcp::MEASUREMENT)
                    .tag(host_tcp::tags::AGENT, a)
                    .tag(host_tcp::tags::STATE, state)
                    .field(host_tcp::fields::CONNECTIONS, r.random_range(0..200i64))
                    .timestamp(ts)
                    .into_dynamic();
                ("host_tcp", point)
            }
        }
    }

    /// The next `n` batches of `BATCH_LINES` lines, gzipped as the `Writer` sends them.
    fn batches(&mut self, n: usize) -> DataSet {
        let mut bodies = Vec::with_capacity(n);
        let mut raw_bytes = 0;
        let mut buf = Vec::with_capacity(1 << 20);
        for _ in 0..n {
            buf.clear();
            self.counts.clear();
            self.values = 0;
            match self.shape {
                Shape::Agent => {
                    let agent = (self.produced / BATCH_LINES) % AGENTS;
                    for _ in 0..BATCH_LINES {
                        self.next_line(agent, &mut buf);
                    }
                }
                Shape::Fleet => {
                    for _ in 0..BATCH_LINES {
                        let agent = (self.produced / LINES_PER_AGENT) % AGENTS;
                        self.next_line(agent, &mut buf);
                    }
                }
            }
            // The writer's batcher would cut exactly here: 5,000 lines, under its byte cap.
            let mut cut = batches(&buf, BatchLimits::DEFAULT);
            assert_eq!(cut.next().map(<[u8]>::len), Some(buf.len()));
            raw_bytes += buf.len();
            bodies.push(Batch {
                body: bytes::Bytes::from(gzip(&buf)),
                counts: std::mem::take(&mut self.counts),
                values: self.values,
            });
        }
        DataSet { bodies, raw_bytes }
    }
}

/// The `Writer`'s compression: gzip at the fastest level.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::fast());
    encoder.write_all(data).expect("writing into a Vec");
    encoder.finish().expect("writing into a Vec")
}

struct Batch {
    body: bytes::Bytes,
    /// Lines per measurement.
    counts: BTreeMap<&'static str, u64>,
    values: u64,
}

struct DataSet {
    bodies: Vec<Batch>,
    /// Uncompressed bytes of all bodies.
    raw_bytes: usize,
}

impl DataSet {
    fn gzipped_bytes(&self) -> usize {
        self.bodies.iter().map(|b| b.body.len()).sum()
    }
}

// ---------------------------------------------------------------------------------------
// Ingest

struct Target {
    name: &'static str,
    url: reqwest::Url,
    auth: Option<String>,
    pid: Option<u32>,
}

fn write_url(base: &str, db: &str) -> Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(base)
        .with_context(|| format!("{base} is not a URL"))?
        .join("write")?;
    url.query_pairs_mut()
        .append_pair("db", db)
        .append_pair("precision", "ns");
    Ok(url)
}

async fn create_database(influx: &str, db: &str) -> Result<()> {
    let url = reqwest::Url::parse(influx)?.join("query")?;
    let statement = format!("CREATE DATABASE {}", quote_ident(db));
    let response = reqwest::Client::new()
        .post(url)
        .form(&[("q", statement.as_str())])
        .send()
        .await?;
    ensure!(
        response.status().is_success(),
        "{statement}: {}",
        response.status()
    );
    Ok(())
}

/// What one run measured.
struct Run {
    seconds: f64,
    /// Batches stored (the first `batches` of the data set).
    batches: usize,
    lines: u64,
    values: u64,
    /// CPU seconds of the store's process during the run.
    store_cpu: Option<f64>,
    /// Bytes the store's process handed to write(2) during the run (WAL, data files).
    store_written: Option<u64>,
    load_before: String,
    load_after: String,
}

impl Run {
    fn points_per_second(&self) -> f64 {
        self.lines as f64 / self.seconds
    }
}

/// Sends the batches of `data` in order to `target` with `clients` concurrent clients
/// (each takes the next unsent batch) until `limit` has passed or the batches run out;
/// requests in flight at the limit finish and count. Any answer but 204 aborts.
async fn send_all(
    http: &reqwest::Client,
    target: &Target,
    data: &Arc<DataSet>,
    clients: usize,
    limit: Option<Duration>,
) -> Result<Run> {
    let next = Arc::new(AtomicUsize::new(0));
    let load_before = loadavg();
    let cpu_before = target.pid.and_then(process_cpu_seconds);
    let written_before = target.pid.and_then(process_written_bytes);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, next, data) = (http.clone(), next.clone(), data.clone());
        let (url, auth) = (target.url.clone(), target.auth.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                if limit.is_some_and(|l| started.elapsed() >= l) {
                    return Ok::<_, anyhow::Error>(());
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = data.bodies.get(i) else {
                    return Ok(());
                };
                let mut request = http
                    .post(url.clone())
                    .header("content-type", "text/plain; charset=utf-8")
                    .header("content-encoding", "gzip")
                    .body(batch.body.clone());
                if let Some(auth) = &auth {
                    request = request.header("authorization", auth);
                }
                let response = request.send().await?;
                let status = response.status();
                if status != reqwest::StatusCode::NO_CONTENT {
                    let text = response.text().await.unwrap_or_default();
                    bail!("batch {i}: {status}: {text}");
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_after = target.pid.and_then(process_cpu_seconds);
    let written_after = target.pid.and_then(process_written_bytes);
    // Every batch taken was answered 204: the stored ones are a prefix.
    let batches = next.load(Ordering::Relaxed).min(data.bodies.len());
    let sent = &data.bodies[..batches];
    Ok(Run {
        seconds,
        batches,
        lines: (batches * BATCH_LINES) as u64,
        values: sent.iter().map(|b| b.values).sum(),
        store_cpu: cpu_before.zip(cpu_after).map(|(a, b)| b - a),
        store_written: written_before
            .zip(written_after)
            .map(|(a, b)| b.saturating_sub(a)),
        load_before,
        load_after: loadavg(),
    })
}

/// Sums over the timed runs of one case and store.
#[derive(Default, Clone, Copy)]
struct Totals {
    lines: u64,
    seconds: f64,
    cpu: f64,
    written: u64,
}

impl Totals {
    fn add(&mut self, run: &Run) {
        self.lines += run.lines;
        self.seconds += run.seconds;
        self.cpu += run.store_cpu.unwrap_or(f64::NAN);
        self.written += run.store_written.unwrap_or(0);
    }

    fn rate(&self) -> f64 {
        self.lines as f64 / self.seconds
    }

    fn cpu_us_per_point(&self) -> f64 {
        self.cpu * 1e6 / self.lines as f64
    }

    fn written_per_point(&self) -> f64 {
        self.written as f64 / self.lines as f64
    }
}

/// Lines per measurement that each store was sent, for `verify`.
#[derive(Default)]
struct Sent {
    per_store: [BTreeMap<&'static str, u64>; 2],
}

impl Sent {
    fn add(&mut self, store: usize, batches: &[Batch]) {
        for b in batches {
            for (m, n) in &b.counts {
                *self.per_store[store].entry(m).or_default() += n;
            }
        }
    }
}

async fn ingest(
    targets: &[Target; 2],
    shapes: &[Shape],
    clients: &[usize],
    seconds: f64,
    rounds: usize,
    expect_out: &std::path::Path,
) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?;
    let limit = Duration::from_secs_f64(seconds);
    let series = AGENTS * LINES_PER_AGENT;
    println!(
        "data: {AGENTS} agents × {LINES_PER_AGENT} points per second = {series} series \
         (ping ×4, host_cpu ×3, host_system, host_memory, host_net ×2, host_disk, host_diskio, host_tcp ×3)"
    );
    println!(
        "      {BATCH_LINES} lines per request, nanosecond timestamps, gzip (fastest level, as the Writer)"
    );
    println!(
        "      each run: {seconds} s of requests from the same pre-generated batches in the same order \
         (the faster store gets further); the two stores take turns, order swapped every round"
    );
    // Days ago, so every point is well inside the default retention; each shape has
    // its own day, so no run overwrites another's points.
    let today = now_ns() / DAY * DAY;
    let mut sent = Sent::default();
    let mut ends = Vec::new();
    // Creates every series in both stores first: a series' first write costs more than
    // the steady state measured here.
    let mut create = Fleet::new(today - 4 * DAY, Shape::Fleet);
    let first = Arc::new(create.batches(1));
    for (i, t) in targets.iter().enumerate() {
        let run = send_all(&http, t, &first, 1, None).await?;
        sent.add(i, &first.bodies[..run.batches]);
    }
    ends.push(create.end_ns());
    println!("      ({series} series created in both stores before timing)");
    println!();
    println!(
        "{:<9} {:<6} {:>7} {:>5} {:>9} {:>7} {:>11} {:>12} {:>9} {:>9} {:>9}  load before → after",
        "store",
        "shape",
        "clients",
        "round",
        "points",
        "seconds",
        "points/s",
        "values/s",
        "store cpu",
        "µs cpu/pt",
        "B writ/pt"
    );
    let mut summary = Vec::new();
    // The best rate of any timed run so far: a floor for sizing the next case's data.
    let mut best_any: f64 = 0.0;
    for (k, &shape) in shapes.iter().enumerate() {
        let mut fleet = Fleet::new(today - (2 + k as i64) * DAY, shape);
        let label = format!("{shape:?}").to_lowercase();
        for &c in clients {
            // Warm-up (a quarter of a run), also to size the data sets.
            let warm = Arc::new(fleet.batches(8 * c.max(1)));
            let mut fastest: f64 = best_any / 2.0;
            for (i, t) in targets.iter().enumerate() {
                let run = send_all(&http, t, &warm, c, Some(limit / 4)).await?;
                sent.add(i, &warm.bodies[..run.batches]);
                println!(
                    "{:<9} {:<6} {:>7} {:>5} {:>9} {:>7.2} {:>11.0}   (warm-up, not counted)",
                    t.name,
                    label,
                    c,
                    "-",
                    run.lines,
                    run.seconds,
                    run.points_per_second()
                );
                fastest = fastest.max(run.points_per_second());
            }
            let mut totals = [Totals::default(); 2];
            for round in 0..rounds {
                // Enough for the faster store at 1.5 times the best rate seen so far in
                // this case (the warm-up underestimates it): a run that still uses every
                // batch ends early and says so.
                let n = ((1.5 * fastest * seconds) / BATCH_LINES as f64).ceil() as usize;
                let n = n.clamp(4 * c, 4_000);
                let generating = Instant::now();
                let data = Arc::new(fleet.batches(n));
                let generated = generating.elapsed().as_secs_f64();
                let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
                for i in order {
                    let t = &targets[i];
                    let run = send_all(&http, t, &data, c, Some(limit)).await?;
                    sent.add(i, &data.bodies[..run.batches]);
                    let cpu = run.store_cpu.map_or("-".into(), |s| format!("{s:.1} s"));
                    let per_point = run
                        .store_cpu
                        .map_or("-".into(), |s| format!("{:.1}", s * 1e6 / run.lines as f64));
                    let written = run.store_written.map_or("-".into(), |b| {
                        format!("{:.0}", b as f64 / run.lines as f64)
                    });
                    println!(
                        "{:<9} {:<6} {:>7} {:>5} {:>9} {:>7.2} {:>11.0} {:>12.0} {:>9} {:>9} {:>9}  {} → {}{}",
                        t.name,
                        label,
                        c,
                        round + 1,
                        run.lines,
                        run.seconds,
                        run.points_per_second(),
                        run.values as f64 / run.seconds,
                        cpu,
                        per_point,
                        written,
                        run.load_before,
                        run.load_after,
                        if run.batches == n {
                            "  (used every batch: the run ended early)"
                        } else {
                            ""
                        }
                    );
                    totals[i].add(&run);
                    fastest = fastest.max(run.points_per_second());
                    best_any = best_any.max(run.points_per_second());
                }
                println!(
                    "          (data set: {n} requests, {:.1} MB of line protocol, {:.1} MB gzipped, generated in {generated:.1} s before the runs)",
                    data.raw_bytes as f64 / 1e6,
                    data.gzipped_bytes() as f64 / 1e6
                );
            }
            summary.push((shape, c, totals));
        }
        ends.push(fleet.end_ns());
    }
    println!();
    println!(
        "ingest summary (points/s over all timed runs of a case; ratio = embedded / influxdb):"
    );
    for (shape, c, t) in summary {
        println!(
            "  {:<6} {c} client(s): embedded {:>7.0} points/s, influxdb {:>7.0} points/s, ratio {:.2}; \
             per point: CPU {:.1} vs {:.1} µs, written {:.0} vs {:.0} bytes",
            format!("{shape:?}").to_lowercase(),
            t[0].rate(),
            t[1].rate(),
            t[0].rate() / t[1].rate(),
            t[0].cpu_us_per_point(),
            t[1].cpu_us_per_point(),
            t[0].written_per_point(),
            t[1].written_per_point(),
        );
    }
    for shape in shapes {
        println!(
            "  {:<6} = {}",
            format!("{shape:?}").to_lowercase(),
            shape.describe()
        );
    }
    let expect = serde_json::json!({
        "start_ns": today - 5 * DAY,
        "end_ns": ends.iter().max(),
        "embedded": sent.per_store[0],
        "influxdb": sent.per_store[1],
    });
    std::fs::write(expect_out, serde_json::to_vec_pretty(&expect)?)?;
    Ok(())
}

/// An always-present field per measurement, for counting points.
fn count_field(measurement: &str) -> Option<&'static str> {
    Some(match measurement {
        "ping" => "sent",
        "host_cpu" => "usage_percent",
        "host_system" => "processes",
        "host_memory" => "total_bytes",
        "host_net" => "rx_bytes_per_s",
        "host_disk" => "total_bytes",
        "host_diskio" => "read_ops_per_s",
        "host_tcp" => "connections",
        _ => return None,
    })
}

fn count_query(measurement: &str, field: &str, range: TimeRange) -> Query {
    Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: measurement.into(),
            filters: vec![],
            range,
        },
        fields: vec![(field.into(), Aggregate::Count)],
        interval: None,
        group_by_tags: vec![],
        fill: Fill::None,
    })
}

fn single_integer(series: &[Series]) -> Option<i64> {
    match series {
        [s] => match s.rows.as_slice() {
            [row] => match row.values.as_slice() {
                [Some(Value::Integer(n))] => Some(*n),
                _ => None,
            },
            _ => None,
        },
        [] => Some(0),
        _ => None,
    }
}

async fn verify(
    embedded_file: &std::path::Path,
    influx: &str,
    influx_db: &str,
    expect: &std::path::Path,
) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Expect {
        start_ns: i64,
        end_ns: i64,
        embedded: BTreeMap<String, u64>,
        influxdb: BTreeMap<String, u64>,
    }
    let expect: Expect = serde_json::from_slice(&std::fs::read(expect)?)?;
    let range = TimeRange {
        start_ns: expect.start_ns - S,
        end_ns: expect.end_ns + S,
    };
    let embedded = EmbeddedStore::open(embedded_file).await?;
    let influx = InfluxReader::new(InfluxConfig {
        url: influx.into(),
        database: Some(influx_db.into()),
        request_timeout: Duration::from_secs(300),
        ..InfluxConfig::default()
    })?;
    let mut bad = false;
    println!(
        "  {:<12} {:>10} {:>10} {:>10} {:>10}",
        "measurement", "embedded", "holds", "influxdb", "holds"
    );
    println!(
        "  {:<12} {:>10} {:>10} {:>10} {:>10}",
        "", "sent", "", "sent", ""
    );
    let mut names: Vec<&String> = expect
        .embedded
        .keys()
        .chain(expect.influxdb.keys())
        .collect();
    names.sort();
    names.dedup();
    for measurement in names {
        let field = count_field(measurement).context("unknown measurement")?;
        let q = count_query(measurement, field, range);
        let e = single_integer(&embedded.query(&q).await?);
        let i = single_integer(&influx.query(&q).await?);
        let sent_e = expect.embedded.get(measurement).copied().unwrap_or(0);
        let sent_i = expect.influxdb.get(measurement).copied().unwrap_or(0);
        let ok = e == Some(sent_e as i64) && i == Some(sent_i as i64);
        bad |= !ok;
        let show = |n: Option<i64>| n.map_or("?".into(), |n| n.to_string());
        println!(
            "  {measurement:<12} {sent_e:>10} {:>10} {sent_i:>10} {:>10}  {}",
            show(e),
            show(i),
            if ok { "ok" } else { "MISMATCH" }
        );
    }
    embedded.close();
    ensure!(!bad, "a store does not hold what was sent");
    println!("  both stores hold every point sent");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Query latency

async fn query_latency(
    influx: &str,
    influx_db: &str,
    dir: &std::path::Path,
    reps: usize,
) -> Result<()> {
    create_database(influx, influx_db).await?;
    std::fs::create_dir_all(dir)?;
    let store = EmbeddedStore::open(&dir.join("timeseries.db")).await?;
    let influx_config = InfluxConfig {
        url: influx.into(),
        database: Some(influx_db.into()),
        ..InfluxConfig::default()
    };
    let writer = Writer::new(influx_config.clone())?;
    let reader = InfluxReader::new(influx_config)?;

    // Yesterday (UTC), one point per second of one ping series.
    let now = now_ns();
    let day = (now / DAY - 1) * DAY;
    let (agent, test, target) = ("1", "1", "10.0.0.1");
    let mut rng = StdRng::seed_from_u64(86_400);
    let mut lines = Vec::with_capacity(86_400 * 300);
    for sec in 0..86_400i64 {
        let rtt = ((1.0 + rng.random_range(0.0..0.5f64)) * 1000.0).round() / 1000.0;
        Point::new(ping::MEASUREMENT)
            .tag(ping::tags::AGENT, agent)
            .tag(ping::tags::TEST, test)
            .tag(ping::tags::TARGET, target)
            .tag(ping::tags::FAMILY, tag_values::family::IPV4)
            .field(ping::fields::SENT, 5i64)
            .field(ping::fields::RECEIVED, 5i64)
            .field(ping::fields::LOSS_PERCENT, 0.0)
            .field(ping::fields::RTT_MIN_MS, rtt - 0.1)
            .field(ping::fields::RTT_AVG_MS, rtt)
            .field(ping::fields::RTT_MAX_MS, rtt + 0.2)
            .timestamp(Timestamp::from_nanos(day + sec * S))
            .encode(&mut lines, Precision::Nanoseconds)?;
    }
    let mut embedded_points = 0;
    for batch in batches(&lines, BatchLimits::DEFAULT) {
        let written = store
            .write(
                bytes::Bytes::from(gzip(batch)),
                true,
                TimeSeriesConfig::default().max_decompressed_bytes,
                IngestPrecision::Nanoseconds,
                now,
                streamswarm::timeseries::embedded::policy::WritePolicy::FreeForm,
            )
            .await?;
        embedded_points += written.points;
    }
    let delivery = writer
        .deliver(
            &lines,
            tokio::time::Instant::now() + Duration::from_secs(120),
        )
        .await;
    ensure!(
        embedded_points == 86_400 && delivery.lines_accepted() == 86_400,
        "seeding: embedded took {embedded_points}, influxdb {} of 86400 points",
        delivery.lines_accepted()
    );
    println!(
        "seeded 86,400 points (one ping series, 1 s apart, {}) into both stores",
        fmt_day(day)
    );

    let q = Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: ping::NAME.into(),
            filters: vec![
                TagFilter::eq("agent", agent),
                TagFilter::eq("test", test),
                TagFilter::eq("target", target),
            ],
            range: TimeRange {
                start_ns: day,
                end_ns: day + DAY,
            },
        },
        fields: vec![("rtt_avg_ms".into(), Aggregate::Mean)],
        interval: Some(Duration::from_secs(60)),
        group_by_tags: vec![],
        fill: Fill::None,
    });
    println!("query: mean(rtt_avg_ms) of that series over the day, GROUP BY time(1m) → 1,440 rows");
    println!(
        "embedded: in-process through EmbeddedStore's Reader (as the server reads it); \
         influxdb: InfluxReader, InfluxQL over HTTP + JSON on loopback"
    );

    let influx_answer = reader.query(&q).await?;
    check_same(&store.query(&q).await?, &influx_answer).context("raw answer")?;
    let before = store.scan_counts();
    store.query(&q).await?;
    let after = store.scan_counts();
    ensure!(
        after.raw_values - before.raw_values == 86_400
            && after.rollup_1m_rows == before.rollup_1m_rows,
        "without rollups the query should read the 86,400 raw values"
    );
    let (raw, influx_1) = time_pair(&store, &reader, &q, reps).await?;

    let rolled = store
        .roll_up(
            RetentionDays {
                raw: 30,
                rollup_1m: 90,
                rollup_1h: 730,
            }
            .cutoffs(now),
        )
        .await?;
    ensure!(store.pending_rollups().await? == 0, "rollups left dirty");
    check_same(&store.query(&q).await?, &influx_answer).context("rollup answer")?;
    let before = store.scan_counts();
    store.query(&q).await?;
    let after = store.scan_counts();
    ensure!(
        after.raw_values == before.raw_values
            && after.rollup_1m_rows - before.rollup_1m_rows == 1_440,
        "after the rollup worker the query should read 1,440 one-minute rollup rows"
    );
    println!(
        "rollup worker: {rolled} buckets computed; the query now reads 1,440 rollup rows instead of 86,400 points"
    );
    let (rollup, influx_2) = time_pair(&store, &reader, &q, reps).await?;
    store.close();

    println!();
    println!("latency over {reps} repetitions each (ms), the two stores alternating:");
    println!(
        "  {:<34} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "", "p50", "p95", "p99", "mean", "min"
    );
    for (name, d) in [
        ("embedded, raw points", &raw),
        ("influxdb (interleaved with raw)", &influx_1),
        ("embedded, 1-minute rollups", &rollup),
        ("influxdb (interleaved with rollups)", &influx_2),
    ] {
        let s = Stats::of(d);
        println!(
            "  {name:<34} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            s.p50, s.p95, s.p99, s.mean, s.min
        );
    }
    let (r, i1, u, i2) = (
        Stats::of(&raw),
        Stats::of(&influx_1),
        Stats::of(&rollup),
        Stats::of(&influx_2),
    );
    println!(
        "  ratio embedded/influxdb of p50: raw {:.2}, rollups {:.2}; of p99: raw {:.2}, rollups {:.2}",
        r.p50 / i1.p50,
        u.p50 / i2.p50,
        r.p99 / i1.p99,
        u.p99 / i2.p99
    );
    Ok(())
}

/// Times `q` `reps` times on each store, alternating which goes first, after a warm-up.
async fn time_pair(
    store: &EmbeddedStore,
    reader: &InfluxReader,
    q: &Query,
    reps: usize,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    for _ in 0..5 {
        store.query(q).await?;
        reader.query(q).await?;
    }
    let (mut e, mut i) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    for rep in 0..reps {
        for which in if rep % 2 == 0 { [0, 1] } else { [1, 0] } {
            let started = Instant::now();
            let answer = if which == 0 {
                store.query(q).await?
            } else {
                reader.query(q).await?
            };
            let took = started.elapsed();
            ensure!(
                answer.first().map_or(0, |s| s.rows.len()) == 1_440,
                "short answer"
            );
            if which == 0 {
                e.push(took)
            } else {
                i.push(took)
            }
        }
    }
    Ok((e, i))
}

/// The two answers must agree: same rows and times, means within 1e-9 relative.
fn check_same(embedded: &[Series], influx: &[Series]) -> Result<()> {
    ensure!(
        embedded.len() == 1 && influx.len() == 1,
        "expected one series from each store"
    );
    let (e, i) = (&embedded[0], &influx[0]);
    ensure!(
        e.rows.len() == 1_440,
        "embedded answered {} rows",
        e.rows.len()
    );
    ensure!(
        i.rows.len() == 1_440,
        "influxdb answered {} rows",
        i.rows.len()
    );
    for (a, b) in e.rows.iter().zip(&i.rows) {
        ensure!(
            a.time_ns == b.time_ns,
            "row times differ: {} vs {}",
            a.time_ns,
            b.time_ns
        );
        match (&a.values[..], &b.values[..]) {
            ([Some(Value::Float(x))], [Some(Value::Float(y))])
                if (x - y).abs() <= 1e-9 * x.abs().max(y.abs()) => {}
            (x, y) => bail!("at {}: embedded {x:?}, influxdb {y:?}", a.time_ns),
        }
    }
    Ok(())
}

struct Stats {
    p50: f64,
    p95: f64,
    p99: f64,
    mean: f64,
    min: f64,
}

impl Stats {
    /// Nearest-rank percentiles, in milliseconds.
    fn of(durations: &[Duration]) -> Stats {
        let mut ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let rank =
            |p: f64| ms[((p / 100.0 * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        Stats {
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            mean: ms.iter().sum::<f64>() / ms.len() as f64,
            min: ms[0],
        }
    }
}

// ---------------------------------------------------------------------------------------
// Machine

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos() as i64
}

fn fmt_day(day_ns: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day_ns / S)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| day_ns.to_string())
}

/// The 1-, 5- and 15-minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Bytes a process passed to write(2) and friends so far (`wchar` of `/proc/PID/io`).
fn process_written_bytes(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}

/// User + system CPU seconds of a process (Linux `/proc/PID/stat`).
fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" closing the command name start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    // The script passes `getconf CLK_TCK`; 100 on every Linux the project targets.
    std::env::var("BENCH_CLK_TCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::io::Read as _;
    use streamswarm::timeseries::embedded::ingest;

    #[test]
    fn every_generated_point_follows_the_schema() {
        let mut fleet = Fleet::new(0, Shape::Agent);
        for kind in 0..LINES_PER_AGENT {
            let (name, point) = fleet.point(7, 3, kind);
            assert_eq!(point.measurement(), name);
            streamswarm_tsdb::assert_follows_schema(&point);
        }
    }

    /// Each request is 5,000 lines within the `Writer`'s byte cap, parses with the
    /// server's own parser, and holds what its counts say; the shapes cut as described.
    #[test]
    fn batches_are_what_the_benchmark_says_they_are() {
        for (shape, agents_per_batch) in [(Shape::Agent, 1), (Shape::Fleet, AGENTS)] {
            let mut fleet = Fleet::new(1_700_000_000 * S, shape);
            let data = fleet.batches(3);
            assert_eq!(data.bodies.len(), 3);
            let mut agents_seen = BTreeSet::new();
            for batch in &data.bodies {
                let mut text = String::new();
                flate2::read::GzDecoder::new(&batch.body[..])
                    .read_to_string(&mut text)
                    .unwrap();
                assert!(text.len() <= BatchLimits::DEFAULT.max_bytes);
                let points =
                    ingest::parse_batch(&text, IngestPrecision::Nanoseconds, 0, |_, _| None)
                        .unwrap();
                assert_eq!(points.len(), BATCH_LINES);
                let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
                let mut agents = BTreeSet::new();
                let mut values = 0;
                for p in &points {
                    *counts.entry(p.measurement.as_ref()).or_default() += 1;
                    values += p.fields.len() as u64;
                    let agent = p.tags.iter().find(|(k, _)| k == "agent").unwrap();
                    agents.insert(agent.1.to_string());
                }
                assert_eq!(counts, batch.counts);
                assert_eq!(values, batch.values);
                assert_eq!(agents.len(), agents_per_batch, "{shape:?}");
                agents_seen.extend(agents);
            }
            // Per-agent requests go round the agents.
            if shape == Shape::Agent {
                assert_eq!(agents_seen.len(), 3);
            }
        }
    }

    /// Two data sets never share a (series, time): later ones continue the streams.
    #[test]
    fn successive_data_sets_do_not_overwrite_each_other() {
        let mut fleet = Fleet::new(1_700_000_000 * S, Shape::Fleet);
        let mut keys = BTreeSet::new();
        for _ in 0..2 {
            for batch in &fleet.batches(2).bodies {
                let mut text = String::new();
                flate2::read::GzDecoder::new(&batch.body[..])
                    .read_to_string(&mut text)
                    .unwrap();
                for p in ingest::parse_batch(&text, IngestPrecision::Nanoseconds, 0, |_, _| None)
                    .unwrap()
                {
                    let key = format!("{}{:?}{}", p.measurement, p.tags, p.time_ns);
                    assert!(keys.insert(key), "a point was generated twice");
                }
            }
        }
        assert_eq!(keys.len(), 4 * BATCH_LINES);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let d: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = Stats::of(&d);
        assert_eq!((s.p50, s.p95, s.p99, s.min), (50.0, 95.0, 99.0, 1.0));
        assert_eq!(s.mean, 50.5);
        let one = Stats::of(&[Duration::from_millis(7)]);
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
    }
}
