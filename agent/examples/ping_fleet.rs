//! The agent's ping-fleet benchmark: the real scheduler running N ping tests (one per
//! loopback address 127.0.0.2, 127.0.0.3, … — all of 127/8 answers on Linux loopback)
//! every `--interval` seconds, plus a host test every `--host-every` seconds, for
//! `--duration` seconds. Every point is encoded as line protocol and appended to a real
//! [`Spool`] in a temporary directory (as the agent does), and a reader takes batches
//! back out and acknowledges them once a second (the delivery side, without HTTP).
//!
//! ```sh
//! cargo run --release -p streamswarm-agent --example ping_fleet -- --targets 100 --duration 300
//! ```
//!
//! At the end it prints a summary and one `RESULT {json}` line with: runs started and
//! expected, ping points, echo requests sent and replies received, **self-inflicted
//! loss** (on loopback every lost echo is the agent's own doing), runs with an error,
//! slots skipped because the previous run was still going, the largest schedule lag,
//! probe errors and timeouts, the process's peak resident memory (`VmHWM`), its resident
//! memory at the end (`VmRSS`) and the CPU time (user + system, `getrusage`) it used
//! over the measured window as a percentage of one core.
//!
//! Options (all `--name value`):
//! - `--targets N` (100) ping tests, one address each;
//! - `--duration S` (60) measured seconds, after `--warmup S` (0) unmeasured ones;
//! - `--interval S` (1) seconds between runs of each ping test;
//! - `--count C` (1), `--ping-interval-ms MS` (200), `--timeout-ms MS` (1000): the ping
//!   parameters (the schema's defaults are count 5, 200 ms, 1000 ms);
//! - `--host-every S` (10) host test interval, 0 for none;
//! - `--max-concurrent M` (targets + 1): `SchedulerConfig::max_concurrent`; every ping run
//!   holds a permit for its whole duration, so fewer permits than targets means lag;
//! - `--workers W` (0): Tokio worker threads; 0 is a current-thread runtime.
//!
//! Linux only (ICMP sockets, `/proc/self/status`, `getrusage`). Run it as root or with
//! `net.ipv4.ping_group_range` covering your group; check `ulimit -n` when N is large.

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("ping_fleet measures Linux ICMP sockets and /proc; it runs on Linux only");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use std::net::Ipv4Addr;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use streamswarm_agent::schedule::{self, AssignedTest, SchedulerConfig, SchedulerStats};
    use streamswarm_agent::spool::{FsyncPolicy, Spool, SpoolConfig};
    use streamswarm_schema::TestKind;
    use streamswarm_schema::test_spec::{HostParams, PingParams, Schedule, TestParams, TestSpec};
    use streamswarm_tsdb::{FieldValue, Point, Precision};
    use tokio::sync::mpsc;

    #[derive(Debug, Clone)]
    struct Options {
        targets: u32,
        duration: u64,
        warmup: u64,
        interval: u32,
        count: u32,
        ping_interval_ms: u32,
        timeout_ms: u32,
        host_every: u32,
        max_concurrent: Option<usize>,
        workers: usize,
    }

    fn parse_options() -> Result<Options, String> {
        let mut o = Options {
            targets: 100,
            duration: 60,
            warmup: 0,
            interval: 1,
            count: 1,
            ping_interval_ms: 200,
            timeout_ms: 1_000,
            host_every: 10,
            max_concurrent: None,
            workers: 0,
        };
        let mut args = std::env::args().skip(1);
        while let Some(name) = args.next() {
            let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            let number = |what: &str| -> Result<u64, String> {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{what} must be a whole number, got {value:?}"))
            };
            let small = |what: &str| -> Result<u32, String> {
                u32::try_from(number(what)?).map_err(|_| format!("{what} is too large"))
            };
            match name.as_str() {
                "--targets" => o.targets = small("--targets")?,
                "--duration" => o.duration = number("--duration")?,
                "--warmup" => o.warmup = number("--warmup")?,
                "--interval" => o.interval = small("--interval")?,
                "--count" => o.count = small("--count")?,
                "--ping-interval-ms" => o.ping_interval_ms = small("--ping-interval-ms")?,
                "--timeout-ms" => o.timeout_ms = small("--timeout-ms")?,
                "--host-every" => o.host_every = small("--host-every")?,
                "--max-concurrent" => o.max_concurrent = Some(number("--max-concurrent")? as usize),
                "--workers" => o.workers = number("--workers")? as usize,
                other => return Err(format!("unknown option {other}")),
            }
        }
        if o.targets == 0 || o.targets > 16_000_000 {
            return Err("--targets must be between 1 and 16,000,000".into());
        }
        if o.duration == 0 {
            return Err("--duration must be at least 1 second".into());
        }
        Ok(o)
    }

    pub fn main() {
        let options = match parse_options() {
            Ok(o) => o,
            Err(e) => {
                eprintln!("ping_fleet: {e}");
                std::process::exit(2);
            }
        };
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "error".into()),
            )
            .with_writer(std::io::stderr)
            .init();
        let runtime = if options.workers == 0 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(options.workers)
                .enable_all()
                .build()
        }
        .expect("a Tokio runtime");
        let code = runtime.block_on(run(options));
        std::process::exit(code);
    }

    /// The `n`-th loopback target (n from 0): 127.0.0.2 onwards, skipping nothing but
    /// 127.255.255.255 (the broadcast address), which `--targets` cannot reach.
    fn target(n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 2)) + n)
    }

    fn tests(o: &Options) -> Vec<AssignedTest> {
        let schedule = Schedule::every;
        let params = PingParams {
            count: o.count,
            interval_ms: o.ping_interval_ms,
            timeout_ms: o.timeout_ms,
            ..PingParams::default()
        };
        let mut tests: Vec<AssignedTest> = (0..o.targets)
            .map(|n| AssignedTest {
                id: i64::from(n) + 1,
                name: format!("ping {}", target(n)),
                spec: TestSpec {
                    kind: TestKind::Ping,
                    target: target(n).to_string(),
                    params: TestParams::Ping(params.clone()),
                    schedule: schedule(o.interval),
                },
            })
            .collect();
        if o.host_every > 0 {
            tests.push(AssignedTest {
                id: i64::from(o.targets) + 1,
                name: "host".into(),
                spec: TestSpec {
                    kind: TestKind::Host,
                    target: String::new(),
                    params: TestParams::Host(HostParams {}),
                    schedule: schedule(o.host_every),
                },
            });
        }
        tests
    }

    /// What the consumer saw in the points.
    #[derive(Debug, Default, Clone)]
    struct Tally {
        batches: u64,
        points: u64,
        ping_points: u64,
        host_points: u64,
        sent: i64,
        received: i64,
        /// Ping points with an `error` field, and the first few texts.
        ping_errors: u64,
        error_samples: Vec<String>,
        lines_appended: u64,
        bytes_appended: u64,
        encode_errors: u64,
        spool_errors: u64,
    }

    impl Tally {
        fn count(&mut self, point: &Point) {
            self.points += 1;
            if point.measurement() == "ping" {
                self.ping_points += 1;
                if let Some(FieldValue::Integer(n)) = point.field_value("sent") {
                    self.sent += n;
                }
                if let Some(FieldValue::Integer(n)) = point.field_value("received") {
                    self.received += n;
                }
                if let Some(FieldValue::String(e)) = point.field_value("error") {
                    self.ping_errors += 1;
                    if self.error_samples.len() < 5 {
                        self.error_samples.push(e.clone());
                    }
                }
            } else if point.measurement().starts_with("host_") {
                self.host_points += 1;
            }
        }
    }

    /// Peak (`VmHWM`) and current (`VmRSS`) resident memory in KiB.
    fn memory_kib() -> (u64, u64) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// User + system CPU time of the whole process so far.
    fn cpu_time() -> Duration {
        // SAFETY: `getrusage` fills the struct it is given; all-zero is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer to a live rusage.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut usage) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }

    async fn run(o: Options) -> i32 {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (spool, _) = Spool::open(dir.path(), SpoolConfig::default()).expect("the spool opens");
        debug_assert!(matches!(spool.config().fsync, FsyncPolicy::Interval(_)));
        let spool = Arc::new(Mutex::new(spool));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let measuring = Arc::new(std::sync::atomic::AtomicBool::new(o.warmup == 0));

        // The consumer: encode each run's points, append them to the spool off the
        // async workers (the spool is synchronous file I/O).
        let (tx, mut rx) = mpsc::channel::<Vec<Point>>(1_024);
        let consumer = {
            let (spool, tally, measuring) = (
                Arc::clone(&spool),
                Arc::clone(&tally),
                Arc::clone(&measuring),
            );
            tokio::spawn(async move {
                let mut buffer = String::new();
                let mut runs: Vec<Vec<Point>> = Vec::new();
                // Everything queued is encoded and appended together: one blocking
                // hand-off per wake-up, not one per run.
                while rx.recv_many(&mut runs, 4_096).await > 0 {
                    buffer.clear();
                    let mut encode_errors = 0;
                    for point in runs.iter().flatten() {
                        if point.encode(&mut buffer, Precision::Nanoseconds).is_err() {
                            encode_errors += 1;
                        }
                    }
                    let lines = std::mem::take(&mut buffer);
                    let spool = Arc::clone(&spool);
                    let (lines, appended) = tokio::task::spawn_blocking(move || {
                        let mut spool = spool.lock().unwrap_or_else(|e| e.into_inner());
                        let appended = spool.append_lines(lines.lines().map(str::as_bytes));
                        (lines, appended)
                    })
                    .await
                    .expect("the append task");
                    let mut t = tally.lock().unwrap();
                    if measuring.load(std::sync::atomic::Ordering::Relaxed) {
                        t.batches += runs.len() as u64;
                        for point in runs.iter().flatten() {
                            t.count(point);
                        }
                        t.encode_errors += encode_errors;
                        match appended {
                            Ok(()) => {
                                t.lines_appended += lines.lines().count() as u64;
                                t.bytes_appended += lines.len() as u64;
                            }
                            Err(e) => {
                                t.spool_errors += 1;
                                eprintln!("ping_fleet: spool append failed: {e}");
                            }
                        }
                    }
                    drop(t);
                    runs.clear();
                    buffer = lines;
                }
            })
        };
        // The delivery side without HTTP: every second, read everything pending and
        // acknowledge it, as the writer does after InfluxDB accepted a batch.
        let reader = {
            let spool = Arc::clone(&spool);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let spool = Arc::clone(&spool);
                    tokio::task::spawn_blocking(move || {
                        let mut spool = spool.lock().unwrap_or_else(|e| e.into_inner());
                        let _ = spool.sync();
                        while let Ok(Some(batch)) = spool.next_batch(5_000, 1 << 20) {
                            if spool.ack(batch.cursor()).is_err() {
                                break;
                            }
                        }
                    })
                    .await
                    .expect("the read task");
                }
            })
        };

        let config = SchedulerConfig {
            max_concurrent: o.max_concurrent.unwrap_or(o.targets as usize + 1),
            ..SchedulerConfig::new(1)
        };
        let max_concurrent = config.max_concurrent;
        let scheduler = schedule::spawn(config, tx);
        let tests = tests(&o);
        scheduler.set_tests(tests);
        eprintln!(
            "ping_fleet: {} ping targets every {} s (count {}), host every {} s, \
             max_concurrent {max_concurrent}, {} workers, warm-up {} s, measuring {} s",
            o.targets, o.interval, o.count, o.host_every, o.workers, o.warmup, o.duration
        );
        if o.warmup > 0 {
            tokio::time::sleep(Duration::from_secs(o.warmup)).await;
            measuring.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let before: SchedulerStats = scheduler.stats();
        let _ = scheduler.take_interval_max_lag_ms();
        let (cpu0, wall0) = (cpu_time(), Instant::now());
        let mut max_in_flight = 0;
        let end = wall0 + Duration::from_secs(o.duration);
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(100)).await;
            max_in_flight = max_in_flight.max(scheduler.stats().runs_in_flight);
        }
        let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
        let (peak_kib, rss_kib) = memory_kib();
        let window_max_lag_ms = scheduler.take_interval_max_lag_ms();
        let at_end = scheduler.stats();
        // Let the runs started in the window finish and their points arrive.
        scheduler.shutdown().await;
        consumer.await.expect("the consumer");
        reader.abort();
        let spool_dropped = spool.lock().unwrap().stats().dropped_spool_full;
        let t = tally.lock().unwrap().clone();
        report(
            &o,
            &Window {
                max_concurrent,
                before,
                at_end,
                wall,
                cpu,
                peak_kib,
                rss_kib,
                window_max_lag_ms,
                max_in_flight,
                spool_dropped,
            },
            &t,
        )
    }

    struct Window {
        max_concurrent: usize,
        before: SchedulerStats,
        at_end: SchedulerStats,
        wall: Duration,
        cpu: Duration,
        peak_kib: u64,
        rss_kib: u64,
        window_max_lag_ms: f64,
        max_in_flight: u64,
        spool_dropped: u64,
    }

    /// Prints the summary and the `RESULT` line; the exit code is 0 when the run was
    /// clean (no loss, no skipped slot, no error), 1 otherwise.
    fn report(o: &Options, w: &Window, t: &Tally) -> i32 {
        let d = |f: fn(&SchedulerStats) -> u64| f(&w.at_end) - f(&w.before);
        let runs_started = d(|s| s.runs_started);
        let skipped = d(|s| s.overlaps_skipped);
        let probe_errors = d(|s| s.probe_errors);
        let probe_timeouts = d(|s| s.probe_timeouts);
        let concurrency_waits = d(|s| s.concurrency_waits);
        let expected_ping_runs = u64::from(o.targets) * o.duration / u64::from(o.interval.max(1));
        let lost = t.sent - t.received;
        let loss_percent = if t.sent > 0 {
            lost as f64 * 100.0 / t.sent as f64
        } else {
            0.0
        };
        let cpu_percent = w.cpu.as_secs_f64() * 100.0 / w.wall.as_secs_f64();
        let clean = lost == 0
            && t.sent > 0
            && skipped == 0
            && t.ping_errors == 0
            && probe_errors == 0
            && probe_timeouts == 0
            && t.spool_errors == 0
            && t.encode_errors == 0;
        println!("targets                 {}", o.targets);
        println!("window                  {:.1} s", w.wall.as_secs_f64());
        println!("max_concurrent          {}", w.max_concurrent);
        println!(
            "runs started            {runs_started} (ping runs expected ≈ {expected_ping_runs})"
        );
        println!("ping points             {}", t.ping_points);
        println!("host points             {}", t.host_points);
        println!("echo requests sent      {}", t.sent);
        println!("echo replies received   {}", t.received);
        println!("self-inflicted loss     {lost} ({loss_percent:.4} %)");
        println!("ping points with error  {}", t.ping_errors);
        for e in &t.error_samples {
            println!("  e.g. {e}");
        }
        println!("slots skipped (overlap) {skipped}");
        println!("max schedule lag        {:.3} ms", w.window_max_lag_ms);
        println!("concurrency waits       {concurrency_waits}");
        println!("max runs in flight      {}", w.max_in_flight);
        println!("probe errors / timeouts {probe_errors} / {probe_timeouts}");
        println!(
            "spool                   {} lines, {} bytes appended; {} dropped",
            t.lines_appended, t.bytes_appended, w.spool_dropped
        );
        println!(
            "memory                  peak {:.1} MiB (VmHWM), at end {:.1} MiB (VmRSS)",
            w.peak_kib as f64 / 1024.0,
            w.rss_kib as f64 / 1024.0
        );
        println!(
            "cpu                     {:.2} s over {:.1} s = {cpu_percent:.2} % of one core",
            w.cpu.as_secs_f64(),
            w.wall.as_secs_f64()
        );
        println!("clean                   {clean}");
        let json = serde_json::json!({
            "targets": o.targets,
            "count": o.count,
            "interval_s": o.interval,
            "host_every_s": o.host_every,
            "max_concurrent": w.max_concurrent,
            "workers": o.workers,
            "window_s": w.wall.as_secs_f64(),
            "runs_started": runs_started,
            "expected_ping_runs": expected_ping_runs,
            "ping_points": t.ping_points,
            "host_points": t.host_points,
            "sent": t.sent,
            "received": t.received,
            "lost": lost,
            "loss_percent": loss_percent,
            "ping_errors": t.ping_errors,
            "overlaps_skipped": skipped,
            "max_lag_ms": w.window_max_lag_ms,
            "concurrency_waits": concurrency_waits,
            "max_in_flight": w.max_in_flight,
            "probe_errors": probe_errors,
            "probe_timeouts": probe_timeouts,
            "lines_appended": t.lines_appended,
            "spool_errors": t.spool_errors,
            "spool_dropped": w.spool_dropped,
            "peak_rss_kib": w.peak_kib,
            "end_rss_kib": w.rss_kib,
            "cpu_s": w.cpu.as_secs_f64(),
            "cpu_percent_of_one_core": cpu_percent,
            "clean": clean,
        });
        println!("RESULT {json}");
        i32::from(!clean)
    }
}
