//! StreamSwarm agent. This crate is a skeleton until the agent issue lands: it shares
//! the test definitions with the server (`streamswarm-schema`) and already parses
//! them, so a test the server accepts is one the agent can read.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "streamswarm-agent",
    version,
    about = "StreamSwarm agent (skeleton: enrolment and probes are not built yet)"
)]
struct Cli {
    /// Parse a test definition (JSON: kind, target, params, schedule) and print it
    /// normalised, as the agent would run it.
    #[arg(long, value_name = "JSON")]
    check_test: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(json) = cli.check_test {
        let spec = parse_spec(&json)?;
        println!("{}", serde_json::to_string_pretty(&spec)?);
    } else {
        println!(
            "streamswarm-agent {}: enrolment, scheduling and probes are not built yet",
            env!("CARGO_PKG_VERSION")
        );
    }
    Ok(())
}

fn parse_spec(json: &str) -> anyhow::Result<streamswarm_schema::TestSpec> {
    #[derive(serde::Deserialize)]
    struct Raw {
        kind: streamswarm_schema::TestKind,
        #[serde(default)]
        target: String,
        #[serde(default)]
        params: serde_json::Value,
        schedule: streamswarm_schema::Schedule,
    }
    let raw: Raw = serde_json::from_str(json)?;
    let params = streamswarm_schema::TestParams::from_json(raw.kind, raw.params)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let spec = streamswarm_schema::TestSpec {
        kind: raw.kind,
        target: raw.target,
        params,
        schedule: raw.schedule,
    };
    spec.validate().map_err(|errs| {
        anyhow::anyhow!(
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_what_the_server_accepts_and_rejects_the_rest() {
        let spec = super::parse_spec(
            r#"{"kind":"ping","target":"192.0.2.1","schedule":{"interval_seconds":10}}"#,
        )
        .unwrap();
        assert_eq!(spec.kind, streamswarm_schema::TestKind::Ping);
        let err =
            super::parse_spec(r#"{"kind":"ping","target":"","schedule":{"interval_seconds":10}}"#)
                .unwrap_err();
        assert!(err.to_string().contains("target"), "{err}");
    }
}
