//! `streamswarm up`: the zero-setup path. The server with its embedded stores, plus a
//! local agent in the same process (enrolled on the first run, with a small default
//! set of tests), stopped together on Ctrl-C. A second run reuses the data directory.

use crate::admin::{self, Actor};
use crate::config::Config;
use crate::store::Store;
use crate::store::tests::{Assignments, TestDraft};
use crate::store::tokens::TokenKind;
use anyhow::Context;
use clap::Args;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use streamswarm_agent::config::AgentConfig;
use streamswarm_agent::state::StateDir;
use streamswarm_schema::test_spec::{HostParams, PingParams};
use streamswarm_schema::{Role, Schedule, TestKind, TestParams, TestSpec};

#[derive(Args)]
pub struct UpArgs {
    /// Where the embedded stores live; created if missing, reused on the next run.
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub bind: SocketAddr,
    /// Run without the local agent.
    #[arg(long)]
    pub no_agent: bool,
    /// On the first run, do not create the test that pings the default gateway (the
    /// other default tests stay: host metrics and ping of localhost).
    #[arg(long)]
    pub no_gateway_ping: bool,
    /// Do not run the analytics process (forecasts, anomalies, insights) in the server.
    #[arg(long)]
    pub no_analytics: bool,
}

/// How long the local agent gets to hand over what it measured when stopping.
const AGENT_STOP_DEADLINE: Duration = Duration::from_secs(10);

pub async fn run(mut config: Config, args: &UpArgs) -> anyhow::Result<()> {
    config.server.bind = args.bind;
    config.analytics.in_server = !args.no_analytics;
    // Before anything is printed: a signal sent as soon as the URL appears stops cleanly.
    let shutdown = crate::app::shutdown_signal();
    let app = crate::Application::build(config).await?;
    let store = app.state().store.clone();
    let first_admin = if store.count_users().await? == 0 {
        let password = random_password();
        admin::users::create(
            &store,
            &Actor::system(),
            "admin",
            password.clone(),
            Role::Admin,
        )
        .await?;
        Some(password)
    } else {
        None
    };
    let url = app.url();
    // The server serves while the agent enrols; it stops when `server_stop` fires.
    let (server_stop, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = server_stopped.await;
    }));
    let agent = if args.no_agent {
        None
    } else {
        Some(LocalAgent::start(&store, &url, &args.data_dir, !args.no_gateway_ping).await?)
    };
    println!("StreamSwarm is running at {url}");
    println!("Data directory: {}", args.data_dir.display());
    if let Some(a) = &agent {
        println!(
            "Local agent: id {} (state in {})",
            a.id,
            a.state_dir.display()
        );
    }
    if let Some(pw) = first_admin {
        println!();
        println!("First run: created administrator");
        println!("  username: admin");
        println!("  password: {}", pw.expose_secret());
        println!("This password is shown only once. Change it after signing in.");
    }
    println!();
    println!("Grafana: an InfluxDB datasource (query language InfluxQL) with URL {url},");
    println!("  database streamswarm and the HTTP header \"Authorization: Token <token>\",");
    println!("  a read-only token from:");
    println!(
        "    streamswarm --data-dir {} token create --kind api --role viewer --name grafana",
        args.data_dir.display()
    );
    println!("  (grafana/provisioning-embedded/ provisions it and the bundled dashboards).");
    println!("Press Ctrl-C to stop.");
    shutdown.await;
    // The agent first, while the server can still take what it measured.
    if let Some(a) = agent {
        a.stop().await;
    }
    let _ = server_stop.send(());
    server.await.context("the server task failed")?;
    Ok(())
}

/// The agent `up` runs in-process.
struct LocalAgent {
    id: i64,
    state_dir: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl LocalAgent {
    /// Enrols on the first run (and creates the default tests for it), then runs it.
    async fn start(
        store: &Store,
        url: &str,
        data_dir: &Path,
        gateway: bool,
    ) -> anyhow::Result<Self> {
        let state_dir = data_dir.join("agent");
        let state = StateDir::open(&state_dir)?;
        let timeout = Duration::from_secs(15);
        let identity = match state.load_identity()? {
            Some(identity) => identity,
            None => {
                let token = admin::tokens::create(
                    store,
                    &Actor::system(),
                    admin::tokens::TokenRequest {
                        kind: TokenKind::Enrol,
                        name: "local agent (streamswarm up)".into(),
                        role: None,
                        expires_in: Some(Duration::from_secs(300)),
                        uses: Some(1),
                    },
                )
                .await?;
                let server = url::Url::parse(url)?;
                let identity =
                    streamswarm_agent::runtime::enrol(&server, &token.secret, &state, timeout)
                        .await
                        .map_err(|e| anyhow::anyhow!("enrolling the local agent: {e}"))?;
                create_default_tests(store, identity.agent_id, gateway).await?;
                identity
            }
        };
        let mut config = AgentConfig::default();
        config.server.url = Some(url.to_owned());
        config.state.dir = state_dir.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(streamswarm_agent::run(config, async {
            let _ = stopped.await;
        }));
        Ok(LocalAgent {
            id: identity.agent_id,
            state_dir,
            stop,
            task,
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        match tokio::time::timeout(AGENT_STOP_DEADLINE, self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "the local agent stopped with an error"),
            Ok(Err(e)) => tracing::error!(error = %e, "the local agent task failed"),
            Err(_) => tracing::warn!("the local agent did not stop in time"),
        }
    }
}

/// Host metrics every 10 s, ping of localhost every 10 s and, when the host has one,
/// ping of the default IPv4 gateway every 10 s — all assigned to the local agent.
async fn create_default_tests(store: &Store, agent_id: i64, gateway: bool) -> anyhow::Result<()> {
    let every = Schedule::every;
    let mut tests = vec![
        (
            "Host metrics (local agent)".to_owned(),
            TestSpec {
                kind: TestKind::Host,
                target: String::new(),
                params: TestParams::Host(HostParams {}),
                schedule: every(10),
            },
        ),
        (
            "Ping localhost (local agent)".to_owned(),
            TestSpec {
                kind: TestKind::Ping,
                target: "127.0.0.1".into(),
                params: TestParams::Ping(PingParams::default()),
                schedule: every(10),
            },
        ),
    ];
    if gateway
        && let Some(gw) = std::fs::read_to_string("/proc/net/route")
            .ok()
            .and_then(|t| default_gateway(&t))
    {
        tests.push((
            "Ping default gateway (local agent)".to_owned(),
            TestSpec {
                kind: TestKind::Ping,
                target: gw.to_string(),
                params: TestParams::Ping(PingParams::default()),
                schedule: every(10),
            },
        ));
    }
    for (name, spec) in tests {
        spec.validate()
            .map_err(|e| anyhow::anyhow!("default test {name}: {e:?}"))?;
        store
            .create_test(
                &TestDraft {
                    name,
                    description: "Created by `streamswarm up` for its local agent.".into(),
                    spec,
                    enabled: true,
                    assignments: Assignments {
                        agents: vec![agent_id],
                        groups: Vec::new(),
                    },
                },
                None,
            )
            .await?;
    }
    Ok(())
}

/// The default IPv4 gateway from `/proc/net/route`: the first up (`RTF_UP`) gateway
/// (`RTF_GATEWAY`) route to 0.0.0.0/0. Addresses there are hex in host byte order.
fn default_gateway(route_table: &str) -> Option<Ipv4Addr> {
    const RTF_UP: u32 = 0x1;
    const RTF_GATEWAY: u32 = 0x2;
    route_table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (dest, gw, flags, mask) = (f.get(1)?, f.get(2)?, f.get(3)?, f.get(7)?);
        let flags = u32::from_str_radix(flags, 16).ok()?;
        let default = *dest == "00000000" && *mask == "00000000";
        if !default || flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY {
            return None;
        }
        let gw = u32::from_str_radix(gw, 16).ok()?;
        Some(Ipv4Addr::from(gw.to_le_bytes()))
    })
}

/// 20 characters from a 62-letter alphabet: ~119 bits.
fn random_password() -> SecretString {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    SecretString::from(
        (0..20)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect::<String>(),
    )
}

#[cfg(test)]
mod tests {
    use super::default_gateway;
    use std::net::Ipv4Addr;

    #[test]
    fn finds_the_default_gateway_in_the_kernel_route_table() {
        // A real table's shape: a link route, then the default route via 10.0.2.2.
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert_eq!(default_gateway(table), Some(Ipv4Addr::new(10, 0, 2, 2)));
        // A default route that is down, or has no gateway, is not one.
        let down = "h\neth0\t00000000\t0202000A\t0002\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert_eq!(default_gateway(down), None);
        let direct = "h\nwg0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert_eq!(default_gateway(direct), None);
        assert_eq!(default_gateway(""), None);
    }
}
