//! Runs one DNS test and prints its results, their line-protocol points and any schema
//! violations as one JSON object. The lab tests run it inside network namespaces
//! (`ip netns exec NS dns_once …`); by hand:
//!
//! ```sh
//! cargo run -p streamswarm-agent --example dns_once -- example.net \
//!     --params '{"resolvers":["127.0.0.1"],"record_type":"AAAA"}'
//! ```

use clap::Parser;
use streamswarm_agent::probes::{dns, policy::TargetPolicy};
use streamswarm_schema::test_spec::DnsParams;
use streamswarm_tsdb::{Precision, validate_against_schema};

#[derive(Parser)]
struct Args {
    /// The name to query (an IP literal for PTR).
    target: String,
    /// `DnsParams` as JSON; omitted keys take their defaults.
    #[arg(long, default_value = "{}")]
    params: String,
    /// Run the test this many times in this process and print the last run (the first
    /// run of a process pays one-time setup a long-running agent does not).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let params: DnsParams = serde_json::from_str(&args.params)?;
    // The agent's default target policy, as a freshly installed agent applies it.
    let mut results = Vec::new();
    for _ in 0..args.repeat.max(1) {
        results = dns::run(&args.target, &params, &TargetPolicy::default()).await;
    }
    let points = dns::to_points(&results, 1, 1);
    let mut violations = Vec::new();
    let mut lines = Vec::new();
    for point in &points {
        if let Err(list) = validate_against_schema(point) {
            violations.extend(list.iter().map(|v| format!("{v:?}")));
        }
        lines.push(point.to_line(Precision::Nanoseconds)?);
    }
    let output = serde_json::json!({
        "results": results,
        "lines": lines,
        "fields": points
            .iter()
            .map(|p| p.fields().map(|(name, _)| name.to_owned()).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        "schema_violations": violations,
    });
    println!("{output}");
    Ok(())
}
