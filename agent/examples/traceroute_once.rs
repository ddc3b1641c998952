//! Runs one traceroute and prints the result, its line-protocol points and any schema
//! violations as one JSON object. The lab tests run it inside network namespaces
//! (`ip netns exec NS traceroute_once …`); it is also handy by hand:
//!
//! ```sh
//! cargo run -p streamswarm-agent --example traceroute_once -- 127.0.0.1 --params '{"protocol":"udp"}'
//! ```

use streamswarm_agent::probes;

use clap::Parser;
use probes::policy::TargetPolicy;
use probes::traceroute::{self, Options};
use streamswarm_tsdb::{Precision, validate_against_schema};

#[derive(Parser)]
struct Args {
    /// Host name or IP literal.
    target: String,
    /// The test's parameters as JSON (`schema/kinds/traceroute.toml`); omitted keys
    /// take their defaults.
    #[arg(long, default_value = "{}")]
    params: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let options: Options = serde_json::from_str(&args.params)?;
    // The agent's default target policy, as a freshly installed agent applies it.
    let result = traceroute::run(&args.target, &options, &TargetPolicy::default()).await;
    let points = traceroute::to_points(&result, 1, 1);
    let mut lines = Vec::new();
    let mut violations = Vec::new();
    for point in &points {
        lines.push(point.to_line(Precision::Nanoseconds)?);
        if let Err(list) = validate_against_schema(point) {
            violations.extend(list.iter().map(|v| format!("{v:?}")));
        }
    }
    let output = serde_json::json!({
        "result": result,
        "path": result.path(),
        "path_hash": result.path_hash(),
        "lines": lines,
        "schema_violations": violations,
    });
    println!("{output}");
    Ok(())
}
