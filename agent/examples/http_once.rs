//! Runs one HTTP test and prints the result, its line-protocol points and any schema
//! violations as one JSON object. Several URLs run one after the other in the same
//! process, one JSON line each (a long-lived agent's later runs: the lab compares
//! those with curl's later transfers of one invocation). The lab tests run it inside
//! network namespaces (`ip netns exec NS http_once …`); it is also handy by hand:
//!
//! ```sh
//! cargo run -p streamswarm-agent --example http_once -- https://example.net/ --params '{"method":"HEAD"}'
//! ```

use streamswarm_agent::probes;

use clap::Parser;
use probes::http::{self, Phases};
use probes::policy::TargetPolicy;
use streamswarm_schema::test_spec::HttpParams;
use streamswarm_tsdb::{Precision, validate_against_schema};

#[derive(Parser)]
struct Args {
    /// The URL(s), run in order.
    #[arg(required = true)]
    targets: Vec<String>,
    /// `HttpParams` as JSON; omitted keys take their defaults.
    #[arg(long, default_value = "{}")]
    params: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let params: HttpParams = serde_json::from_str(&args.params)?;
    for target in &args.targets {
        // The lab's addresses are private ones the default policy permits.
        let result = http::run(target, &params, &TargetPolicy::default()).await;
        let points = http::to_points(&result, 1, 1);
        let mut violations = Vec::new();
        let mut lines = Vec::new();
        for point in &points {
            if let Err(list) = validate_against_schema(point) {
                violations.extend(list.iter().map(|v| format!("{v:?}")));
            }
            lines.push(point.to_line(Precision::Nanoseconds)?);
        }
        let phases: Vec<Phases> = result.exchanges.iter().map(Phases::of).collect();
        let output = serde_json::json!({
            "result": result,
            "phases": phases,
            "total_ms": result.total_ms(),
            "lines": lines,
            "schema_violations": violations,
        });
        println!("{output}");
    }
    Ok(())
}
