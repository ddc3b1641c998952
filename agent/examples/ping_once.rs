//! Runs one ping and prints the result, its line-protocol point and any schema
//! violations as one JSON object. The lab tests run it inside network namespaces
//! (`ip netns exec NS ping_once …`); it is also handy by hand:
//!
//! ```sh
//! cargo run -p streamswarm-agent --example ping_once -- 127.0.0.1 --params '{"count":3}'
//! ```

// The agent is a binary crate, so the example compiles the probe sources directly.
use streamswarm_agent::probes;

use clap::Parser;
use probes::ping::{self, SocketChoice, SocketKind};
use probes::policy::TargetPolicy;
use streamswarm_schema::test_spec::PingParams;
use streamswarm_tsdb::{Precision, validate_against_schema};

#[derive(Parser)]
struct Args {
    /// Host name or IP literal.
    target: String,
    /// `PingParams` as JSON; omitted keys take their defaults.
    #[arg(long, default_value = "{}")]
    params: String,
    /// `auto` (datagram, then raw), `dgram` or `raw`.
    #[arg(long, default_value = "auto")]
    socket: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let params: PingParams = serde_json::from_str(&args.params)?;
    let choice = match args.socket.as_str() {
        "auto" => SocketChoice::Auto,
        "dgram" => SocketChoice::Only(SocketKind::Dgram),
        "raw" => SocketChoice::Only(SocketKind::Raw),
        other => anyhow::bail!("--socket must be auto, dgram or raw, not {other}"),
    };
    // The agent's default target policy, as a freshly installed agent applies it.
    let result = ping::run_with(&args.target, &params, &TargetPolicy::default(), choice).await;
    let point = ping::to_point(&result, 1, 1);
    let violations = match validate_against_schema(&point) {
        Ok(()) => Vec::new(),
        Err(list) => list.iter().map(|v| format!("{v:?}")).collect(),
    };
    let output = serde_json::json!({
        "result": result,
        "summary": result.summary(),
        "loss_percent": result.loss_percent(),
        "line": point.to_line(Precision::Nanoseconds)?,
        "schema_violations": violations,
    });
    println!("{output}");
    Ok(())
}
