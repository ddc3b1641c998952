//! Takes two host samples one second apart and prints the second as line protocol,
//! the way the agent will write it (rates cover that second):
//!
//! ```sh
//! cargo run -p streamswarm-agent --example host_once -- --agent 1
//! ```

// The agent is a binary crate, so the example compiles the probe sources directly.
use streamswarm_agent::probes;

use std::time::Duration;

use clap::Parser;
use probes::host::{HostSampler, to_points};
use streamswarm_tsdb::{Precision, validate_against_schema};

#[derive(Parser)]
struct Args {
    /// Agent id for the `agent` tag.
    #[arg(long, default_value = "0")]
    agent: String,
    /// Seconds between the two samples.
    #[arg(long, default_value = "1")]
    interval: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut sampler = HostSampler::new()?;
    sampler.sample();
    std::thread::sleep(Duration::from_secs_f64(args.interval));
    let sample = sampler.sample();
    let mut out = String::new();
    for point in to_points(&sample, &args.agent) {
        if let Err(violations) = validate_against_schema(&point) {
            eprintln!(
                "schema violations in {}: {violations:?}",
                point.measurement()
            );
        }
        point.encode(&mut out, Precision::Nanoseconds)?;
    }
    print!("{out}");
    Ok(())
}
