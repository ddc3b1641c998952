//! `streamswarm-agent`: a thin CLI over the `streamswarm_agent` library.
//!
//! - `enroll --server URL --token TOKEN` enrols and exits, printing the agent id (never
//!   the credential).
//! - `run` runs the agent until SIGINT/SIGTERM (enrolling first when given a token and
//!   not enrolled yet).
//! - `--check-test JSON` parses a test definition as the agent would run it.
//!
//! Exit status 78 (EX_CONFIG) means the configuration or enrolment must change; the
//! systemd unit does not restart on it.

use clap::{Parser, Subcommand};
use secrecy::SecretString;
use std::path::PathBuf;
use std::process::ExitCode;
use streamswarm_agent::config::{AgentConfig, DEFAULT_STATE_DIR, parse_server_url};
use streamswarm_agent::runtime::{self, EnrolError, Fatal};
use streamswarm_agent::state::StateDir;

#[derive(Parser)]
#[command(
    name = "streamswarm-agent",
    version,
    about = "StreamSwarm agent: enrols with a StreamSwarm server, runs the tests it assigns and writes the measurements to the time-series store"
)]
struct Cli {
    /// Parse a test definition (JSON: kind, target, params, schedule) and print it
    /// normalised, as the agent would run it.
    #[arg(long, value_name = "JSON")]
    check_test: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Enrol with a server using an enrolment token, store the identity in the state
    /// directory (replacing an earlier one) and exit, printing the agent id.
    Enroll {
        /// The server's base URL, e.g. https://streamswarm.example.net.
        #[arg(long, value_name = "URL")]
        server: String,
        /// An enrolment token (`ssw_enr_…`) from `streamswarm token create --kind enrol`.
        /// Also read from STREAMSWARM_AGENT_TOKEN, which keeps it out of `ps`.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "STREAMSWARM_AGENT_TOKEN",
            hide_env_values = true
        )]
        token: String,
        /// Where the identity is kept [default: /var/lib/streamswarm-agent].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Run the agent until SIGINT or SIGTERM.
    Run {
        /// Configuration file [default: /etc/streamswarm/agent.toml when it exists].
        /// STREAMSWARM_AGENT__SECTION__KEY environment variables override it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The server's base URL (overrides server.url).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// Enrolment token, used only when not enrolled yet (overrides
        /// server.enrol_token). Also read from STREAMSWARM_AGENT_TOKEN.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "STREAMSWARM_AGENT_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
        /// The state directory (overrides state.dir).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(json) = cli.check_test {
        return match parse_spec(&json) {
            Ok(spec) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&spec).expect("a spec serialises")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(command) = cli.command else {
        eprintln!("streamswarm-agent: give a command (`enroll` or `run`); see --help");
        return ExitCode::from(2);
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(async move {
            match command {
                Command::Enroll {
                    server,
                    token,
                    state_dir,
                } => enroll(server, token, state_dir).await,
                Command::Run {
                    config,
                    server,
                    token,
                    state_dir,
                } => run(config, server, token, state_dir).await,
            }
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<Fatal>().is_some()
                || e.downcast_ref::<streamswarm_agent::config::ConfigError>()
                    .is_some()
            {
                ExitCode::from(78)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A bare level more verbose than `info` raises only our crates (third-party ones log
/// what passes through them at debug); a filter containing `=` is taken as given. The
/// same rule as the server's `log.level`.
fn init_logging(level: &str) {
    let bare = level.trim();
    let directives =
        if bare.contains('=') || !matches!(bare.to_ascii_lowercase().as_str(), "debug" | "trace") {
            level.to_owned()
        } else {
            [
                "streamswarm",
                "streamswarm_agent",
                "streamswarm_tsdb",
                "streamswarm_schema",
            ]
            .iter()
            .fold(String::from("info"), |out, krate| {
                format!("{out},{krate}={bare}")
            })
        };
    let filter = tracing_subscriber::EnvFilter::try_new(directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, not in journald or log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn enroll(server: String, token: String, state_dir: Option<PathBuf>) -> anyhow::Result<()> {
    init_logging("info");
    let server = parse_server_url(&server).map_err(|m| Fatal(format!("--server {m}")))?;
    if token.trim().is_empty() {
        return Err(Fatal("--token is empty".into()).into());
    }
    let state = StateDir::open(state_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)))?;
    let token = SecretString::from(token);
    let identity = runtime::enrol(&server, &token, &state, std::time::Duration::from_secs(15))
        .await
        .map_err(|e| match e {
            EnrolError::Fatal(m) => anyhow::Error::new(Fatal(m)),
            EnrolError::Unavailable(e) => anyhow::anyhow!("cannot reach the server: {e}"),
        })?;
    println!("{}", identity.agent_id);
    eprintln!(
        "enrolled as agent {} ({}); identity stored in {}",
        identity.agent_id,
        identity.name,
        state.path().display()
    );
    Ok(())
}

async fn run(
    config: Option<PathBuf>,
    server: Option<String>,
    token: Option<String>,
    state_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut config = AgentConfig::load(config.as_deref())?;
    if let Some(server) = server {
        config.server.url = Some(server);
    }
    if let Some(token) = token {
        config.server.enrol_token = Some(SecretString::from(token));
    }
    if let Some(dir) = state_dir {
        config.state.dir = dir;
    }
    config.validate()?;
    init_logging(&config.log.level);
    streamswarm_agent::run(config, shutdown_signal()).await
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutdown signal received");
}

fn parse_spec(json: &str) -> anyhow::Result<streamswarm_schema::TestSpec> {
    #[derive(serde::Deserialize)]
    struct Raw {
        kind: serde_json::Value,
        #[serde(default)]
        target: String,
        #[serde(default)]
        params: serde_json::Value,
        schedule: serde_json::Value,
    }
    let raw: Raw = serde_json::from_str(json)?;
    streamswarm_agent::assignments::parse_spec(raw.kind, raw.target, raw.params, raw.schedule)
        .map_err(|e| anyhow::anyhow!(e))
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
