//! Measures the spool's append and read throughput on this machine, per fsync policy.
//!
//! `cargo run --release -p streamswarm-agent --example spool_throughput [-- DIR]`
//! (DIR: where to put the spool, default a temporary directory, so the disk under test
//! can be chosen.)

use streamswarm_agent::spool;

use spool::{FsyncPolicy, Spool, SpoolConfig};
use std::time::{Duration, Instant};

fn main() {
    let base = std::env::args().nth(1).map(std::path::PathBuf::from);
    // A typical ping point: about 200 bytes.
    let line = "ping,agent=0f8fad5b-d9cb-469f-a165-70867728950e,target=192.0.2.1,test=7c9e6679-7425-40de-944b-e07fc1f90ae7 rtt_min_ms=0.412,rtt_avg_ms=0.531,rtt_max_ms=0.904,rtt_stddev_ms=0.101,sent=10i,received=10i,loss_pct=0.0 1764111600000000000";
    let runs = [
        ("Never", FsyncPolicy::Never, 500_000, 1),
        (
            "Interval(1s)",
            FsyncPolicy::Interval(Duration::from_secs(1)),
            500_000,
            1,
        ),
        ("EveryN(1000)", FsyncPolicy::EveryN(1000), 500_000, 1),
        ("Always", FsyncPolicy::Always, 3_000, 1),
        (
            "Always, 100 lines per append_lines",
            FsyncPolicy::Always,
            100_000,
            100,
        ),
    ];
    println!("line: {} bytes", line.len());
    for (name, fsync, records, per_call) in runs {
        let dir = match &base {
            Some(base) => tempfile::tempdir_in(base),
            None => tempfile::tempdir(),
        }
        .unwrap();
        let config = SpoolConfig {
            fsync,
            ..SpoolConfig::default()
        };
        let (mut spool, _) = Spool::open(dir.path(), config).unwrap();
        let calls = records / per_call;
        let lines = vec![line.as_bytes(); per_call];
        let start = Instant::now();
        for _ in 0..calls {
            spool.append_lines(lines.iter().copied()).unwrap();
        }
        let append = start.elapsed();
        let start = Instant::now();
        let mut read = 0;
        while let Some(batch) = spool.next_batch(5000, 1 << 20).unwrap() {
            read += batch.len();
            spool.ack(batch.cursor()).unwrap();
        }
        let drain = start.elapsed();
        assert_eq!(read, calls * per_call);
        let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
        println!(
            "{name:<36} append {:>10.0} records/s ({:>6.1} MB/s)   read+ack {:>10.0} records/s",
            rate(read, append),
            rate(read * line.len(), append) / 1e6,
            rate(read, drain),
        );
    }
}
