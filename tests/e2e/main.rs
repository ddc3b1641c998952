//! End to end with real processes: the `streamswarm` server, the `streamswarm-agent`
//! binary, a private InfluxDB 1.6.7 and the embedded store. Each test builds its own
//! fleet in a temporary directory (`Fleet`), so tests run in parallel.
//!
//! The outage tests count with an oracle: a ping test without jitter runs once per
//! slot of its interval, so the store must hold exactly one point per slot over the
//! whole run — outage included — and the agent's own counters (its Prometheus
//! endpoint) must agree with what the store holds.

mod deploy;
mod harness;
mod lifecycle;
mod oracle;
mod outages;

use harness::{Agent, Api, Influx, Server, free_port, wait_for};
use oracle::Store;
use serde_json::json;
use std::time::Duration;

/// The InfluxDB database of tests that write to InfluxDB.
pub const INFLUX_DB: &str = "streamswarm_e2e";

pub enum Target {
    Embedded,
    Influx,
}

/// A server, an enrolled agent and (for `Target::Influx`) an InfluxDB.
pub struct Fleet {
    // Dropped in this order: the agent, the server, InfluxDB, then their files.
    pub agent: Agent,
    pub api: Api,
    pub server: Server,
    pub influx: Option<Influx>,
    pub prometheus_port: u16,
    pub dir: tempfile::TempDir,
}

impl Fleet {
    /// `None` when InfluxDB is needed but not installed (and not under CI).
    /// `agent_env` adds agent configuration. The agent is enrolled and running, its
    /// heartbeat every second.
    pub fn start(target: Target, agent_env: &[(&str, String)]) -> Option<Fleet> {
        let dir = tempfile::tempdir().unwrap();
        let mut server_env: Vec<(&str, String)> = Vec::new();
        let influx = match target {
            Target::Embedded => None,
            Target::Influx => {
                let influx = Influx::start(dir.path())?;
                influx.create_db(INFLUX_DB);
                server_env.push(("STREAMSWARM__INFLUX__URL", influx.url()));
                server_env.push(("STREAMSWARM__INFLUX__VERSION", "1".into()));
                server_env.push(("STREAMSWARM__INFLUX__DATABASE", INFLUX_DB.into()));
                Some(influx)
            }
        };
        let server = Server::start(dir.path(), &server_env);
        let api = Api::new(&server.url(), &server.api_token("admin"));
        let (status, body) = api.send(
            reqwest::Method::PATCH,
            "/api/v1/settings",
            Some(json!({"heartbeat_interval_seconds": 1})),
        );
        assert_eq!(status, 200, "{body}");
        let prometheus_port = free_port();
        let mut env: Vec<(&str, String)> = vec![
            ("STREAMSWARM_AGENT__SELF_METRICS__INTERVAL", "1s".into()),
            (
                "STREAMSWARM_AGENT__SELF_METRICS__PROMETHEUS_LISTEN",
                format!("127.0.0.1:{prometheus_port}"),
            ),
        ];
        env.extend(agent_env.iter().cloned());
        let mut agent = Agent::new(dir.path(), &server.url(), &env);
        let token = server.enrol_token();
        agent.run(&["--token", &token]);
        wait_for("the agent to enrol", Duration::from_secs(30), || {
            agent.state_dir.join("identity.json").exists().then_some(())
        });
        Some(Fleet {
            dir,
            influx,
            server,
            api,
            agent,
            prometheus_port,
        })
    }

    pub fn store(&self) -> Store<'_> {
        match &self.influx {
            Some(i) => Store::Influx(i, INFLUX_DB.into()),
            None => Store::Embedded(self.server.data_dir.join("timeseries.db")),
        }
    }

    /// Creates a ping test of 127.0.0.1 every `interval_seconds`, no jitter, one echo
    /// per run, assigned to the agent; its id.
    pub fn ping_test(&self, name: &str, interval_seconds: u32) -> i64 {
        let body = self.api.post(
            "/api/v1/tests",
            json!({
                "name": name,
                "kind": "ping",
                "target": "127.0.0.1",
                "params": {"count": 1, "timeout_ms": 500},
                "schedule": {"interval_seconds": interval_seconds},
                "assignments": {"agents": [self.agent.id()]},
            }),
        );
        body["id"].as_i64().unwrap()
    }

    /// The agent's Prometheus metrics: `name{labels} value` → value.
    pub fn agent_metrics(&self) -> Option<std::collections::BTreeMap<String, f64>> {
        let text =
            reqwest::blocking::get(format!("http://127.0.0.1:{}/metrics", self.prometheus_port))
                .ok()?
                .text()
                .ok()?;
        Some(
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .filter_map(|l| {
                    let (k, v) = l.rsplit_once(' ')?;
                    Some((k.to_owned(), v.parse().ok()?))
                })
                .collect(),
        )
    }

    pub fn agent_metric(&self, name: &str) -> f64 {
        let m = self.agent_metrics().expect("the agent's /metrics answers");
        *m.get(name)
            .unwrap_or_else(|| panic!("{name} not among the agent's metrics: {m:?}"))
    }

    /// Waits until the agent has nothing left to send and the self-metrics sample
    /// that says so is itself at least one interval old.
    pub fn wait_until_delivered(&self, timeout: Duration) {
        wait_for("the agent's spool to drain", timeout, || {
            let m = self.agent_metrics()?;
            // A sample from a running pipeline (not the empty one served before the
            // first) that has nothing left to send.
            (m.get("streamswarm_agent_uptime_seconds")? >= &2.0
                && m.get("streamswarm_agent_spool_pending_records") == Some(&0.0))
            .then_some(())
        });
    }
}
