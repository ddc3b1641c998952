//! The agent's static configuration: a TOML file (`--config PATH`, else
//! `/etc/streamswarm/agent.toml` when it exists) plus `STREAMSWARM_AGENT__SECTION__KEY`
//! environment variables, which win. Validated at load; every error names its key.
//! Every key is documented in `agent/streamswarm-agent.example.toml` (a test loads it).

use crate::probes::policy::{DEFAULT_DENY, TargetPolicy};
use crate::spool::{FsyncPolicy, SpoolConfig};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The configuration file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/streamswarm/agent.toml";
/// The state directory when `state.dir` is not given.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/streamswarm-agent";
/// The environment prefix: `STREAMSWARM_AGENT__SERVER__URL` sets `server.url`.
pub const ENV_PREFIX: &str = "STREAMSWARM_AGENT";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    pub server: ServerSection,
    pub state: StateSection,
    pub spool: SpoolSection,
    pub probes: ProbesSection,
    pub self_metrics: SelfMetricsSection,
    pub log: LogSection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Base URL of the StreamSwarm server, e.g. `https://streamswarm.example.net`.
    pub url: Option<String>,
    /// Enrolment token (`ssw_enr_…`), used only when the state directory holds no
    /// identity yet.
    pub enrol_token: Option<SecretString>,
    /// Time allowed for one request to the server.
    #[serde(deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// How often a revoked agent checks whether its credential works again.
    #[serde(deserialize_with = "duration")]
    pub revoked_recheck_interval: Duration,
    /// How often an outage of the server is logged again while it lasts.
    #[serde(deserialize_with = "duration")]
    pub outage_log_interval: Duration,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            url: None,
            enrol_token: None,
            request_timeout: Duration::from_secs(15),
            revoked_recheck_interval: Duration::from_secs(300),
            outage_log_interval: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateSection {
    pub dir: PathBuf,
}

impl Default for StateSection {
    fn default() -> Self {
        StateSection {
            dir: PathBuf::from(DEFAULT_STATE_DIR),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolSection {
    /// `<state.dir>/spool` when absent.
    pub dir: Option<PathBuf>,
    pub max_bytes: u64,
    pub segment_bytes: u64,
    /// `always`, `never`, `every:<n records>` or `interval:<duration>`.
    pub fsync: String,
}

impl Default for SpoolSection {
    fn default() -> Self {
        let d = SpoolConfig::default();
        SpoolSection {
            dir: None,
            max_bytes: d.max_bytes,
            segment_bytes: d.segment_bytes,
            fsync: "interval:1s".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbesSection {
    /// Most probe runs at once, over all tests.
    pub max_concurrent: usize,
    /// Added to a test's own timeout before its run is abandoned.
    #[serde(deserialize_with = "duration")]
    pub timeout_margin: Duration,
    /// Networks no probe may reach (checked on the resolved address of every run);
    /// [`DEFAULT_DENY`] when absent. A list, or one comma-separated string (environment).
    #[serde(deserialize_with = "networks")]
    pub deny: Vec<String>,
    /// Networks probes may reach even inside a `deny` network.
    #[serde(deserialize_with = "networks")]
    pub allow: Vec<String>,
}

impl Default for ProbesSection {
    fn default() -> Self {
        ProbesSection {
            max_concurrent: 1024,
            timeout_margin: Duration::from_secs(2),
            deny: DEFAULT_DENY.iter().map(|s| (*s).to_owned()).collect(),
            allow: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfMetricsSection {
    /// How often `agent_self` and `agent_drops` points are written.
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// Where to serve `GET /metrics` (Prometheus text); not served when absent.
    pub prometheus_listen: Option<String>,
}

impl Default for SelfMetricsSection {
    fn default() -> Self {
        SelfMetricsSection {
            interval: Duration::from_secs(10),
            prometheus_listen: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// A `tracing` filter, e.g. `info` or `streamswarm_agent=debug`.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            level: "info".into(),
        }
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(s.trim())
        .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a duration like \"10s\": {e}")))
}

/// A list of networks: a TOML array, or one string of comma-separated networks (what
/// an environment variable can hold; an empty string is an empty list).
fn networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Networks {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Networks::deserialize(d)? {
        Networks::List(list) => list,
        Networks::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// A configuration value that cannot work, named by its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid agent configuration: {0}")]
pub struct ConfigError(pub String);

impl AgentConfig {
    /// Loads `file` (or the default file when it exists) and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match file {
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        Self::load_from(file.as_deref(), None)
    }

    /// Loads `file` and environment variables; `env` replaces the process environment
    /// when given (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: Option<config::Map<String, String>>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "--config {}: no such file",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .source(env),
        );
        let cfg: AgentConfig = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every rule; the message names the key to change.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        if let Some(url) = &self.server.url {
            parse_server_url(url).map_err(|m| ConfigError(format!("server.url {m}")))?;
        }
        if let Some(token) = &self.server.enrol_token
            && token.expose_secret().trim().is_empty()
        {
            return err("server.enrol_token is empty; remove the key or give it a value".into());
        }
        if self.server.request_timeout.is_zero() {
            return err("server.request_timeout must be more than 0s".into());
        }
        if self.server.revoked_recheck_interval.is_zero() {
            return err("server.revoked_recheck_interval must be more than 0s".into());
        }
        if self.state.dir.as_os_str().is_empty() {
            return err("state.dir must name a directory".into());
        }
        if self
            .spool
            .dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            return err("spool.dir is empty; remove the key or name a directory".into());
        }
        self.spool_config()?;
        if !(1..=100_000).contains(&self.probes.max_concurrent) {
            return err(format!(
                "probes.max_concurrent must be between 1 and 100000, got {}",
                self.probes.max_concurrent
            ));
        }
        self.target_policy()?;
        if self.self_metrics.interval < Duration::from_secs(1) {
            return err(format!(
                "self_metrics.interval must be at least 1s, got {:?}",
                self.self_metrics.interval
            ));
        }
        self.prometheus_listen()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError(format!("log.level {:?}: {e}", self.log.level)))?;
        Ok(())
    }

    /// The spool directory: `spool.dir`, else `<state.dir>/spool`.
    pub fn spool_dir(&self) -> PathBuf {
        self.spool
            .dir
            .clone()
            .unwrap_or_else(|| self.state.dir.join("spool"))
    }

    pub fn spool_config(&self) -> Result<SpoolConfig, ConfigError> {
        let fsync =
            parse_fsync(&self.spool.fsync).map_err(|m| ConfigError(format!("spool.fsync {m}")))?;
        let min_segment = 4096;
        if self.spool.segment_bytes < min_segment {
            return Err(ConfigError(format!(
                "spool.segment_bytes must be at least {min_segment}, got {}",
                self.spool.segment_bytes
            )));
        }
        if self.spool.max_bytes < 2 * self.spool.segment_bytes {
            return Err(ConfigError(format!(
                "spool.max_bytes must be at least twice spool.segment_bytes ({}), got {}",
                2 * self.spool.segment_bytes,
                self.spool.max_bytes
            )));
        }
        Ok(SpoolConfig {
            max_bytes: self.spool.max_bytes,
            segment_bytes: self.spool.segment_bytes,
            fsync,
        })
    }

    /// The outbound target policy of `probes.deny` and `probes.allow`.
    pub fn target_policy(&self) -> Result<TargetPolicy, ConfigError> {
        TargetPolicy::new("probes", &self.probes.deny, &self.probes.allow)
            .map_err(|e| ConfigError(e.to_string()))
    }

    pub fn prometheus_listen(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.self_metrics
            .prometheus_listen
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim().parse::<SocketAddr>().map_err(|e| {
                    ConfigError(format!(
                        "self_metrics.prometheus_listen {s:?} is not an address like 127.0.0.1:9469: {e}"
                    ))
                })
            })
            .transpose()
    }

    /// The server URL, parsed (validated at load).
    pub fn server_url(&self) -> Option<url::Url> {
        self.server
            .url
            .as_deref()
            .map(|u| parse_server_url(u).expect("validated at load"))
    }
}

/// An `http(s)://` URL without credentials, query or fragment, path ending in `/`.
pub fn parse_server_url(s: &str) -> Result<url::Url, String> {
    let mut url = url::Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{s:?} must be an http:// or https:// URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{s:?} must not contain credentials; the agent authenticates with its token"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{s:?} must not have a query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn parse_fsync(s: &str) -> Result<FsyncPolicy, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "{s:?} must be always, never, every:<records> (e.g. every:100) or interval:<duration> (e.g. interval:1s)"
        )
    };
    match s {
        "always" => Ok(FsyncPolicy::Always),
        "never" => Ok(FsyncPolicy::Never),
        _ => {
            if let Some(n) = s.strip_prefix("every:") {
                let n: u32 = n.trim().parse().map_err(|_| bad())?;
                if n == 0 {
                    return Err(bad());
                }
                Ok(FsyncPolicy::EveryN(n))
            } else if let Some(d) = s.strip_prefix("interval:") {
                let d = humantime::parse_duration(d.trim()).map_err(|_| bad())?;
                if d.is_zero() {
                    return Err(bad());
                }
                Ok(FsyncPolicy::Interval(d))
            } else {
                Err(bad())
            }
        }
    }
}
