//! A fleet benchmark for any test kind: the real scheduler runs `--tests N` tests of
//! `--kind` (through the probe registry, so every registered kind works) against one
//! `--target` with `--params` (JSON, the kind's parameters), each every `--interval`
//! seconds, their starts spread evenly over the interval (N tests every 60 s = N runs a
//! minute at a steady rate), for `--duration` seconds. Points are counted, not stored
//! (`ping_fleet` measures the spool).
//!
//! ```sh
//! cargo run --release -p streamswarm-agent --example probe_fleet -- \
//!     --kind dns --target www.lab.test --params '{"resolvers":["10.72.0.2"]}' --tests 1000
//! ```
//!
//! Prints a summary and one `RESULT {json}` line: runs started and expected, points,
//! points with an `error` field (and a few of their texts), the largest schedule lag,
//! probe errors and timeouts, peak (`VmHWM`) and final (`VmRSS`) resident memory, and the
//! CPU time (user + system) over the window as a percentage of one core.
//! `bench/probes.sh` runs it in a lab namespace beside `dig`/`curl` doing the same work.
//!
//! Options (all `--name value`): `--kind` (dns), `--target`, `--params` ({}), `--tests`
//! (100), `--interval` (60), `--duration` (60), `--warmup` (0), `--workers` (0: a
//! current-thread runtime), `--max-concurrent` (tests + 1).

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("probe_fleet reads /proc and getrusage; it runs on Linux only");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use std::time::{Duration, Instant, SystemTime};

    use streamswarm_agent::schedule::{self, AssignedTest, SchedulerConfig};
    use streamswarm_schema::TestKind;
    use streamswarm_schema::test_spec::{Schedule, TestParams, TestSpec};
    use streamswarm_tsdb::{FieldValue, Point};
    use tokio::sync::mpsc;

    struct Options {
        kind: TestKind,
        target: String,
        params: serde_json::Value,
        tests: u32,
        interval: u32,
        duration: u64,
        warmup: u64,
        workers: usize,
        max_concurrent: Option<usize>,
    }

    fn parse_options() -> Result<Options, String> {
        let mut o = Options {
            kind: TestKind::Dns,
            target: String::new(),
            params: serde_json::json!({}),
            tests: 100,
            interval: 60,
            duration: 60,
            warmup: 0,
            workers: 0,
            max_concurrent: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(name) = args.next() {
            let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{name} must be a whole number, got {value:?}"))
            };
            match name.as_str() {
                "--kind" => {
                    o.kind = TestKind::parse(&value).ok_or_else(|| format!("no kind {value}"))?
                }
                "--target" => o.target = value.clone(),
                "--params" => {
                    o.params = serde_json::from_str(&value).map_err(|e| format!("--params: {e}"))?
                }
                "--tests" => o.tests = number()? as u32,
                "--interval" => o.interval = number()? as u32,
                "--duration" => o.duration = number()?,
                "--warmup" => o.warmup = number()?,
                "--workers" => o.workers = number()? as usize,
                "--max-concurrent" => o.max_concurrent = Some(number()? as usize),
                other => return Err(format!("unknown option {other}")),
            }
        }
        if o.tests == 0 || o.interval == 0 || o.duration == 0 {
            return Err("--tests, --interval and --duration must be at least 1".into());
        }
        Ok(o)
    }

    pub fn main() {
        let o = match parse_options() {
            Ok(o) => o,
            Err(e) => {
                eprintln!("probe_fleet: {e}");
                std::process::exit(2);
            }
        };
        let runtime = if o.workers == 0 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(o.workers)
                .enable_all()
                .build()
        }
        .expect("a Tokio runtime");
        std::process::exit(runtime.block_on(run(o)));
    }

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

    fn cpu_time() -> Duration {
        // SAFETY: `getrusage` fills the struct it is given; all-zero is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer to a live rusage.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut usage) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }

    #[derive(Default)]
    struct Tally {
        points: u64,
        error_points: u64,
        samples: Vec<String>,
    }

    async fn run(o: Options) -> i32 {
        let params = match TestParams::from_json(o.kind, o.params.clone()) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("probe_fleet: {e}");
                return 2;
            }
        };
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_millis() as i64;
        let interval_ms = i64::from(o.interval) * 1_000;
        let tests: Vec<AssignedTest> = (0..o.tests)
            .map(|n| AssignedTest {
                id: i64::from(n) + 1,
                name: format!("{} {n}", o.kind),
                spec: TestSpec {
                    kind: o.kind,
                    target: o.target.clone(),
                    params: params.clone(),
                    schedule: Schedule {
                        // Spread evenly: test n starts n/N of an interval after the first.
                        start_at_ms: Some(
                            now_ms + 1_000 + interval_ms * i64::from(n) / i64::from(o.tests),
                        ),
                        ..Schedule::every(o.interval)
                    },
                },
            })
            .collect();
        let (tx, mut rx) = mpsc::channel::<Vec<Point>>(4_096);
        let tally = std::sync::Arc::new(std::sync::Mutex::new(Tally::default()));
        let measuring = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(o.warmup == 0));
        let consumer = {
            let (tally, measuring) = (tally.clone(), measuring.clone());
            tokio::spawn(async move {
                while let Some(points) = rx.recv().await {
                    if !measuring.load(std::sync::atomic::Ordering::Relaxed) {
                        continue;
                    }
                    let mut t = tally.lock().unwrap();
                    for point in &points {
                        t.points += 1;
                        if let Some(FieldValue::String(e)) = point.field_value("error") {
                            t.error_points += 1;
                            if t.samples.len() < 5 {
                                t.samples.push(e.clone());
                            }
                        }
                    }
                }
            })
        };
        let config = SchedulerConfig {
            max_concurrent: o.max_concurrent.unwrap_or(o.tests as usize + 1),
            ..SchedulerConfig::new(1)
        };
        let scheduler = schedule::spawn(config, tx);
        scheduler.set_tests(tests);
        // The spread starts one second from now.
        tokio::time::sleep(Duration::from_secs(1 + o.warmup)).await;
        measuring.store(true, std::sync::atomic::Ordering::Relaxed);
        let before = scheduler.stats();
        let _ = scheduler.take_interval_max_lag_ms();
        let (cpu0, wall0) = (cpu_time(), Instant::now());
        tokio::time::sleep(Duration::from_secs(o.duration)).await;
        let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
        let (peak_kib, rss_kib) = memory_kib();
        let max_lag_ms = scheduler.take_interval_max_lag_ms();
        let after = scheduler.stats();
        scheduler.shutdown().await;
        consumer.await.expect("the consumer");
        let t = tally.lock().unwrap();
        let runs_started = after.runs_started - before.runs_started;
        let expected = u64::from(o.tests) * o.duration / u64::from(o.interval);
        let cpu_percent = cpu.as_secs_f64() * 100.0 / wall.as_secs_f64();
        println!("kind {} tests {} every {} s", o.kind, o.tests, o.interval);
        println!("runs started {runs_started} (expected ≈ {expected})");
        println!("points {} (with error {})", t.points, t.error_points);
        for e in &t.samples {
            println!("  e.g. {e}");
        }
        println!("max schedule lag {max_lag_ms:.3} ms");
        println!(
            "probe errors / timeouts {} / {}",
            after.probe_errors - before.probe_errors,
            after.probe_timeouts - before.probe_timeouts
        );
        println!(
            "memory peak {:.1} MiB, end {:.1} MiB",
            peak_kib as f64 / 1024.0,
            rss_kib as f64 / 1024.0
        );
        println!(
            "cpu {:.2} s over {:.1} s = {cpu_percent:.2} % of one core",
            cpu.as_secs_f64(),
            wall.as_secs_f64()
        );
        let json = serde_json::json!({
            "kind": o.kind.as_str(),
            "tests": o.tests,
            "interval_s": o.interval,
            "window_s": wall.as_secs_f64(),
            "runs_started": runs_started,
            "expected_runs": expected,
            "points": t.points,
            "error_points": t.error_points,
            "max_lag_ms": max_lag_ms,
            "probe_errors": after.probe_errors - before.probe_errors,
            "probe_timeouts": after.probe_timeouts - before.probe_timeouts,
            "peak_rss_kib": peak_kib,
            "end_rss_kib": rss_kib,
            "cpu_s": cpu.as_secs_f64(),
            "cpu_percent_of_one_core": cpu_percent,
        });
        println!("RESULT {json}");
        i32::from(t.error_points > 0 || after.probe_errors > before.probe_errors)
    }
}
