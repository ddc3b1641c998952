//! Runs one TCP test and prints the result, its line-protocol point and any schema
//! violations as one JSON object. The lab tests run it inside network namespaces
//! (`ip netns exec NS tcp_once …`); by hand:
//!
//! ```sh
//! cargo run -p streamswarm-agent --example tcp_once -- 127.0.0.1:22 --params '{"read_bytes":64}'
//! ```

use clap::Parser;
use streamswarm_agent::probes::{policy::TargetPolicy, tcp};
use streamswarm_schema::test_spec::TcpParams;
use streamswarm_tsdb::{Precision, validate_against_schema};

#[derive(Parser)]
struct Args {
    /// `host:port` (IPv6 as `[addr]:port`).
    target: String,
    /// `TcpParams` as JSON; omitted keys take their defaults.
    #[arg(long, default_value = "{}")]
    params: String,
    /// Run the test this many times in a row (one JSON line each).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Keep the (last) connection open this long after printing, so `ss -ti` can be read
    /// beside the probe's TCP_INFO.
    #[arg(long, default_value_t = 0)]
    hold_ms: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let params: TcpParams = serde_json::from_str(&args.params)?;
    for _ in 0..args.repeat {
        // The agent's default target policy, as a freshly installed agent applies it.
        let (result, connection) =
            tcp::run_keeping(&args.target, &params, &TargetPolicy::default()).await;
        let point = tcp::to_point(&result, 1, 1);
        let violations = match validate_against_schema(&point) {
            Ok(()) => Vec::new(),
            Err(list) => list.iter().map(|v| format!("{v:?}")).collect(),
        };
        let output = serde_json::json!({
            "result": result,
            "line": point.to_line(Precision::Nanoseconds)?,
            "fields": point.fields().map(|(name, _)| name).collect::<Vec<_>>(),
            "schema_violations": violations,
        });
        println!("{output}");
        std::io::Write::flush(&mut std::io::stdout())?;
        if args.hold_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(args.hold_ms)).await;
        }
        drop(connection);
    }
    Ok(())
}
