//! Static configuration: a TOML file (`--config PATH`) overridden by environment
//! variables `STREAMSWARM__SECTION__KEY` (e.g. `STREAMSWARM__DATABASE__URL`).
//!
//! Every key is documented in `streamswarm.example.toml`. Invalid values refuse to start
//! with a message naming the key and what is allowed. Secrets are `SecretString`, whose
//! `Debug` prints `[REDACTED]`.

use crate::store::DatabaseLocation;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use streamswarm_tsdb::influx::InfluxConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub timeseries: TimeSeriesConfig,
    /// `[influx]`: an InfluxDB instead of the embedded time-series store.
    #[serde(default)]
    pub influx: InfluxSection,
    /// `[geoip]`: offline ASN and city/country databases for traceroute hops.
    #[serde(default)]
    pub geoip: crate::geoip::GeoIpConfig,
    /// `[paths]`: the traceroute path tracker.
    #[serde(default)]
    pub paths: PathsConfig,
    /// `[ui]`: web UI options.
    #[serde(default)]
    pub ui: UiConfig,
    /// `[analytics]`: the analytics process (forecasts, anomalies, insights).
    #[serde(default)]
    pub analytics: AnalyticsConfig,
}

/// `[analytics]`: the analytics process (`crate::analytics::process`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// Run it inside `serve` too (`up` always does unless `--no-analytics`). With the
    /// embedded time-series store it must run in the server; with InfluxDB it can be
    /// its own process, `streamswarm analytics`.
    pub in_server: bool,
    /// Seconds between two cycles (read new points, score, write findings).
    pub poll_seconds: u64,
    /// Minutes between refits of a series' model.
    pub refit_minutes: u64,
    /// Days of history a refit reads (the weekly season needs 14).
    pub history_days: u64,
    /// Seconds after a minute ends before it is scored (points still arriving).
    pub lateness_seconds: u64,
    /// Seconds a process holds the analytics lease without renewing it; another
    /// process takes over after that.
    pub lease_seconds: u64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            in_server: false,
            poll_seconds: 30,
            refit_minutes: 60,
            history_days: 14,
            lateness_seconds: 90,
            lease_seconds: 120,
        }
    }
}

/// `[paths]`: how the server tracks traceroute paths (`crate::paths`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathsConfig {
    /// Distinct paths kept per (agent, test), the most recently seen.
    pub keep: usize,
    /// Seconds between two reads of new traceroute points.
    pub poll_seconds: u64,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            keep: 20,
            poll_seconds: 10,
        }
    }
}

/// `[ui]`: web UI options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// A map tile URL template (`https://tile.example.org/{z}/{x}/{y}.png`). Unset: the
    /// path map draws no tiles and the browser fetches nothing from anywhere else.
    pub map_tile_url: Option<String>,
    /// The attribution the tile provider asks for, shown on the map.
    pub map_attribution: Option<String>,
}

impl UiConfig {
    /// The tile server's origin (`https://tile.example.org`), for the page's
    /// Content-Security-Policy; `None` without a tile URL.
    pub fn map_tile_origin(&self) -> Option<String> {
        let u = self.map_tile_url.as_deref()?;
        // `{s}`/`{z}` placeholders are not valid in a host; parse with them filled in.
        let filled = u.replace("{s}", "a").replace(['{', '}'], "");
        let parsed = url::Url::parse(&filled).ok()?;
        let host = parsed.host_str()?;
        let host = if u.contains("{s}.") {
            // Leaflet's subdomains a, b, c.
            format!("*.{}", host.split_once('.').map_or(host, |(_, rest)| rest))
        } else {
            host.to_owned()
        };
        Some(match parsed.port() {
            Some(p) => format!("{}://{host}:{p}", parsed.scheme()),
            None => format!("{}://{host}", parsed.scheme()),
        })
    }
}

/// `[influx]`: the keys of `streamswarm_tsdb::InfluxConfig` (`tsdb/influx.example.toml`)
/// plus what agents are handed at enrolment (`agent_url`, `agent_token`,
/// `agent_username` + `agent_password`; each defaults to the server's own). Absent
/// `influx.url` means the embedded store. Validated while loading: an error names its key.
#[derive(Debug, Clone, Default)]
pub struct InfluxSection(pub Option<InfluxTarget>);

/// A configured InfluxDB.
#[derive(Debug, Clone)]
pub struct InfluxTarget {
    /// How the server reaches it (its reads).
    pub server: InfluxConfig,
    /// What enrolment hands agents to write with: the server's settings with
    /// `agent_url` and the agent credential in place of the server's.
    pub agents: InfluxConfig,
}

#[derive(Deserialize)]
struct RawInflux {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    agent_url: Option<String>,
    #[serde(default, deserialize_with = "text_or_number")]
    agent_username: Option<String>,
    #[serde(default, deserialize_with = "text_or_number")]
    agent_password: Option<String>,
    #[serde(default, deserialize_with = "text_or_number")]
    agent_token: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// Environment values are parsed (`try_parsing`), so a numeric password arrives as a
/// number; secrets and names are text either way.
fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.and_then(|v| match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }))
}

fn blank_to_none(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

impl<'de> Deserialize<'de> for InfluxSection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawInflux::deserialize(d)?;
        InfluxSection::build(raw).map_err(serde::de::Error::custom)
    }
}

impl InfluxSection {
    fn build(raw: RawInflux) -> Result<Self, String> {
        let agent_url = blank_to_none(raw.agent_url);
        let agent_username = blank_to_none(raw.agent_username);
        let agent_password = blank_to_none(raw.agent_password);
        let agent_token = blank_to_none(raw.agent_token);
        let Some(url) = blank_to_none(raw.url) else {
            let mut set: Vec<String> = raw.rest.keys().cloned().collect();
            for (k, v) in [
                ("agent_url", &agent_url),
                ("agent_username", &agent_username),
                ("agent_password", &agent_password),
                ("agent_token", &agent_token),
            ] {
                if v.is_some() {
                    set.push(k.into());
                }
            }
            if set.is_empty() {
                return Ok(InfluxSection(None));
            }
            return Err(format!(
                "influx.url is required when other influx keys are set ({}); without influx.url the embedded store is used",
                set.join(", ")
            ));
        };
        let mut map = raw.rest;
        for key in [
            "username",
            "password",
            "token",
            "database",
            "retention_policy",
            "org",
            "bucket",
        ] {
            if let Some(v) = map.get_mut(key)
                && (v.is_number() || v.is_boolean())
            {
                *v = serde_json::Value::String(v.to_string());
            }
        }
        map.insert("url".into(), serde_json::Value::String(url));
        let server: InfluxConfig = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| format!("influx: {e}"))?;
        server.validate().map_err(|e| e.to_string())?;
        let mut agents = server.clone();
        if let Some(u) = agent_url {
            agents.url = u;
        }
        match (&agent_username, &agent_password) {
            (Some(_), None) => {
                return Err(
                    "influx.agent_password is required when influx.agent_username is set".into(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    "influx.agent_username is required when influx.agent_password is set".into(),
                );
            }
            _ => {}
        }
        if agent_username.is_some() || agent_token.is_some() {
            agents.username = agent_username;
            agents.password = agent_password.map(SecretString::from);
            agents.token = agent_token.map(SecretString::from);
        }
        agents.validate().map_err(|e| match e.key {
            "url" | "username" | "password" | "token" => {
                format!(
                    "influx.agent_{} {} (the write target handed to agents)",
                    e.key, e.message
                )
            }
            _ => e.to_string(),
        })?;
        Ok(InfluxSection(Some(InfluxTarget { server, agents })))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// The URL users reach the server at (scheme, host, port). Used to print links and to
    /// check the `Origin` of state-changing requests. Derived from `bind` when absent.
    pub public_url: Option<String>,
    /// `auto` (secure cookies when `public_url` is https), `always` or `never`.
    pub secure_cookies: SecureCookies,
    /// Largest accepted request body for the JSON API and forms, in bytes.
    pub max_body_bytes: usize,
    /// When set, `GET /metrics` answers only `Authorization: Bearer <metrics_token>`
    /// (401 otherwise); when absent it is public. Never logged.
    #[serde(deserialize_with = "secret_text_or_number")]
    pub metrics_token: Option<SecretString>,
}

/// A secret from the file or the environment, where a numeric value arrives as a number.
fn secret_text_or_number<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SecretString>, D::Error> {
    Ok(text_or_number(d)?.map(SecretString::from))
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 5000)),
            public_url: None,
            secure_cookies: SecureCookies::Auto,
            max_body_bytes: 64 * 1024,
            metrics_token: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookies {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (embedded, the default) or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    pub url: SecretString,
    /// Most connections held open.
    pub pool_size: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: SecretString::from("sqlite://./data/streamswarm.db"),
            pool_size: 16,
        }
    }
}

/// The time-series store: the embedded one, and the limits of the InfluxDB-compatible
/// write endpoints (`POST /write`, `POST /api/v2/write`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeSeriesConfig {
    /// The embedded store's SQLite file (its own, not the metadata database).
    pub embedded_path: PathBuf,
    /// Largest write body as sent (compressed, if gzip), in bytes. InfluxDB's default.
    pub max_write_bytes: usize,
    /// Largest write body after gunzip, in bytes: the cap that defuses gzip bombs.
    pub max_decompressed_bytes: usize,
    /// Most series one agent credential may create (series tagged with its agent id).
    pub max_series_per_agent: usize,
    /// Writes in progress or waiting at once; one more gets 429 with `Retry-After`.
    pub max_concurrent_writes: usize,
}

impl Default for TimeSeriesConfig {
    fn default() -> Self {
        TimeSeriesConfig {
            embedded_path: PathBuf::from("./data/timeseries.db"),
            max_write_bytes: 25 * 1024 * 1024,
            max_decompressed_bytes: 100 * 1024 * 1024,
            // A large host writes a few hundred host series (one per CPU, mount, device,
            // interface, sensor, TCP state), a ping test one or two: room for thousands
            // of tests per agent, far below what a runaway or hostile agent would create.
            max_series_per_agent: 10_000,
            max_concurrent_writes: crate::timeseries::embedded::DEFAULT_MAX_CONCURRENT_WRITES,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A level (`error`, `warn`, `info`, `debug`, `trace`) for our own crates, third-party
    /// crates staying at `info` at most (see [`LogConfig::filter`]); or a full `tracing`
    /// filter, taken as given when it contains `=` (`info,streamswarm=debug,hyper=debug`).
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// The crates of this workspace: `log.level = "debug"` raises these and no others.
pub const OUR_CRATES: &[&str] = &[
    "streamswarm",
    "streamswarm_agent",
    "streamswarm_tsdb",
    "streamswarm_schema",
];

/// The `tracing` filter directives of a `log.level`. A bare level more verbose than
/// `info` applies to [`OUR_CRATES`] only, everything else staying at `info`: at `debug`,
/// third-party crates log what passes through them (handlebars logs the data of every
/// page it renders: users, agent facts, token metadata). A bare `info` or quieter level
/// applies to everything. A filter containing `=` is taken as given, so an operator can
/// still raise one crate deliberately.
pub fn log_filter_directives(level: &str) -> String {
    let bare = level.trim();
    if bare.contains('=') || !matches!(bare.to_ascii_lowercase().as_str(), "debug" | "trace") {
        return level.to_owned();
    }
    let mut out = String::from("info");
    for krate in OUR_CRATES {
        out.push_str(&format!(",{krate}={bare}"));
    }
    out
}

impl LogConfig {
    /// The filter of `log.level` (see [`log_filter_directives`]).
    pub fn filter(&self) -> Result<tracing_subscriber::EnvFilter, String> {
        tracing_subscriber::EnvFilter::try_new(log_filter_directives(&self.level))
            .map_err(|e| format!("invalid configuration: log.level {:?}: {e}", self.level))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Loads the file (if given) and the environment, then validates.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        Self::load_with_env(file, None)
    }

    /// As `load`, reading `STREAMSWARM__…` variables from `env` instead of the process
    /// environment when given (tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, String> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.exists() {
                return Err(format!("--config {}: no such file", path.display()));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("STREAMSWARM")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(env),
        );
        let cfg: Config = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| format!("invalid configuration: {e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), String> {
        DatabaseLocation::parse(&self.database.url)
            .map_err(|e| format!("invalid configuration: database.url {e}"))?;
        if !(1..=1024).contains(&self.database.pool_size) {
            return Err(format!(
                "invalid configuration: database.pool_size must be between 1 and 1024, got {}",
                self.database.pool_size
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.server.max_body_bytes) {
            return Err(format!(
                "invalid configuration: server.max_body_bytes must be between 1024 and 67108864, got {}",
                self.server.max_body_bytes
            ));
        }
        if let Some(u) = &self.server.public_url {
            let parsed = url::Url::parse(u)
                .map_err(|e| format!("invalid configuration: server.public_url {u:?}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                return Err(format!(
                    "invalid configuration: server.public_url {u:?} must be an http:// or https:// URL"
                ));
            }
        }
        if let Some(t) = &self.server.metrics_token {
            use secrecy::ExposeSecret;
            let t = t.expose_secret();
            if t.chars().count() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(
                    "invalid configuration: server.metrics_token must be at least 16 characters without spaces (e.g. `openssl rand -hex 32`)"
                        .into(),
                );
            }
        }
        let ts = &self.timeseries;
        if ts.embedded_path.as_os_str().is_empty() {
            return Err(
                "invalid configuration: timeseries.embedded_path must name a file, e.g. ./data/timeseries.db"
                    .into(),
            );
        }
        const GIB: usize = 1024 * 1024 * 1024;
        if !(1024..=GIB).contains(&ts.max_write_bytes) {
            return Err(format!(
                "invalid configuration: timeseries.max_write_bytes must be between 1024 and {GIB}, got {}",
                ts.max_write_bytes
            ));
        }
        if !(ts.max_write_bytes..=4 * GIB).contains(&ts.max_decompressed_bytes) {
            return Err(format!(
                "invalid configuration: timeseries.max_decompressed_bytes must be between timeseries.max_write_bytes ({}) and {}, got {}",
                ts.max_write_bytes,
                4 * GIB,
                ts.max_decompressed_bytes
            ));
        }
        if !(1..=100_000_000).contains(&ts.max_series_per_agent) {
            return Err(format!(
                "invalid configuration: timeseries.max_series_per_agent must be between 1 and 100000000, got {}",
                ts.max_series_per_agent
            ));
        }
        if !(1..=10_000).contains(&ts.max_concurrent_writes) {
            return Err(format!(
                "invalid configuration: timeseries.max_concurrent_writes must be between 1 and 10000, got {}",
                ts.max_concurrent_writes
            ));
        }
        if !(1..=1000).contains(&self.paths.keep) {
            return Err(format!(
                "invalid configuration: paths.keep must be between 1 and 1000, got {}",
                self.paths.keep
            ));
        }
        let a = &self.analytics;
        for (key, value, range) in [
            ("analytics.poll_seconds", a.poll_seconds, 1..=3600),
            ("analytics.refit_minutes", a.refit_minutes, 5..=1440),
            ("analytics.history_days", a.history_days, 1..=60),
            ("analytics.lateness_seconds", a.lateness_seconds, 0..=3600),
            ("analytics.lease_seconds", a.lease_seconds, 10..=3600),
        ] {
            if !range.contains(&value) {
                return Err(format!(
                    "invalid configuration: {key} must be between {} and {}, got {value}",
                    range.start(),
                    range.end()
                ));
            }
        }
        if a.lease_seconds <= a.poll_seconds {
            return Err(format!(
                "invalid configuration: analytics.lease_seconds ({}) must be longer than analytics.poll_seconds ({}), or the lease lapses between cycles",
                a.lease_seconds, a.poll_seconds
            ));
        }
        if !(1..=3600).contains(&self.paths.poll_seconds) {
            return Err(format!(
                "invalid configuration: paths.poll_seconds must be between 1 and 3600, got {}",
                self.paths.poll_seconds
            ));
        }
        if let Some(u) = &self.ui.map_tile_url {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && ["{z}", "{x}", "{y}"].iter().all(|p| u.contains(p))
                && !u.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || c == '\'' || c == '"' || c == ';'
                })
                && self.ui.map_tile_origin().is_some();
            if !ok {
                return Err(format!(
                    "invalid configuration: ui.map_tile_url {u:?} must be an http(s) URL template with {{z}}, {{x}} and {{y}}, e.g. https://tile.example.org/{{z}}/{{x}}/{{y}}.png"
                ));
            }
        }
        // A configured database that cannot be opened is a startup error naming its key.
        self.geoip.open()?;
        self.log.filter()?;
        Ok(())
    }

    pub fn database_location(&self) -> DatabaseLocation {
        DatabaseLocation::parse(&self.database.url).expect("validated at load")
    }

    /// Whether cookies get `Secure` and the `__Host-` prefix.
    pub fn secure_cookies(&self) -> bool {
        match self.server.secure_cookies {
            SecureCookies::Always => true,
            SecureCookies::Never => false,
            SecureCookies::Auto => self
                .server
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn load_toml(s: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, s).unwrap();
        Config::load(Some(&path))
    }

    #[test]
    fn defaults_are_valid_and_the_example_file_loads() {
        let example = include_str!("../streamswarm.example.toml");
        let cfg = load_toml(example).unwrap();
        assert_eq!(cfg.server.bind.to_string(), "127.0.0.1:5000");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("[database]\nurl = \"mysql://x\"", "database.url"),
            ("[database]\npool_size = 0", "database.pool_size"),
            ("[server]\nbind = \"nowhere\"", "bind"),
            ("[server]\npublic_url = \"ftp://x\"", "server.public_url"),
            ("[server]\nsecure_cookies = \"maybe\"", "secure_cookies"),
            ("[server]\nbnid = \"127.0.0.1:1\"", "bnid"),
            ("[log]\nformat = \"xml\"", "format"),
            (
                "[timeseries]\nembedded_path = \"\"",
                "timeseries.embedded_path",
            ),
            (
                "[timeseries]\nmax_write_bytes = 10",
                "timeseries.max_write_bytes",
            ),
            (
                "[timeseries]\nmax_write_bytes = 2048\nmax_decompressed_bytes = 1024",
                "timeseries.max_decompressed_bytes",
            ),
            ("[timeseries]\nmax_bytes = 1", "max_bytes"),
            (
                "[timeseries]\nmax_series_per_agent = 0",
                "timeseries.max_series_per_agent",
            ),
            (
                "[timeseries]\nmax_concurrent_writes = 0",
                "timeseries.max_concurrent_writes",
            ),
            ("[analytics]\nrefit_minutes = 1", "analytics.refit_minutes"),
            ("[analytics]\nhistory_days = 0", "analytics.history_days"),
            (
                "[analytics]\npoll_seconds = 60\nlease_seconds = 60",
                "analytics.lease_seconds",
            ),
            ("[analytics]\nrefit = 5", "refit"),
        ];
        for (toml, key) in cases {
            let err = load_toml(toml).unwrap_err();
            assert!(err.contains(key), "{toml:?} → {err}");
        }
    }

    #[test]
    fn influx_absent_means_the_embedded_store() {
        assert!(load_toml("").unwrap().influx.0.is_none());
        assert!(load_toml("[influx]\n").unwrap().influx.0.is_none());
        // A blank URL (an empty environment variable) is no URL.
        assert!(
            load_toml("[influx]\nurl = \"\"")
                .unwrap()
                .influx
                .0
                .is_none()
        );
    }

    #[test]
    fn influx_section_and_what_agents_are_handed() {
        let cfg = load_toml(
            "[influx]\nurl = \"http://127.0.0.1:8086\"\ndatabase = \"metrics\"\nusername = \"server\"\npassword = \"server-pw\"\n",
        )
        .unwrap();
        let t = cfg.influx.0.expect("configured");
        assert_eq!(t.server.url, "http://127.0.0.1:8086");
        assert_eq!(t.server.database.as_deref(), Some("metrics"));
        // Agents get the server's own settings and credential by default…
        assert_eq!(t.agents.url, t.server.url);
        assert_eq!(t.agents.username.as_deref(), Some("server"));
        assert_eq!(
            t.agents.password.as_ref().unwrap().expose_secret(),
            "server-pw"
        );
        assert!(!format!("{t:?}").contains("server-pw"));

        // …or their own URL and credential.
        let cfg = load_toml(
            "[influx]\nurl = \"http://127.0.0.1:8086\"\ndatabase = \"metrics\"\nusername = \"server\"\npassword = \"server-pw\"\n\
             agent_url = \"https://influx.example.net\"\nagent_username = \"agents\"\nagent_password = \"agents-pw\"\n",
        )
        .unwrap();
        let t = cfg.influx.0.unwrap();
        assert_eq!(t.server.username.as_deref(), Some("server"));
        assert_eq!(t.agents.url, "https://influx.example.net");
        assert_eq!(t.agents.username.as_deref(), Some("agents"));
        assert_eq!(
            t.agents.password.as_ref().unwrap().expose_secret(),
            "agents-pw"
        );
        assert!(t.agents.token.is_none());

        // Version 2 with an agent token in place of the server's.
        let cfg = load_toml(
            "[influx]\nurl = \"http://127.0.0.1:8086\"\nversion = 2\norg = \"acme\"\nbucket = \"b\"\ntoken = \"server-tok\"\nagent_token = \"agent-tok\"\n",
        )
        .unwrap();
        let t = cfg.influx.0.unwrap();
        assert_eq!(
            t.server.token.as_ref().unwrap().expose_secret(),
            "server-tok"
        );
        assert_eq!(
            t.agents.token.as_ref().unwrap().expose_secret(),
            "agent-tok"
        );
    }

    #[test]
    fn influx_from_the_environment() {
        let env = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let cfg = Config::load_with_env(
            None,
            env(&[
                ("STREAMSWARM__INFLUX__URL", "http://127.0.0.1:18086"),
                ("STREAMSWARM__INFLUX__DATABASE", "fromenv"),
                ("STREAMSWARM__INFLUX__USERNAME", "u"),
                ("STREAMSWARM__INFLUX__PASSWORD", "12345"),
                ("STREAMSWARM__INFLUX__AGENT_TOKEN", "67890"),
            ]),
        )
        .unwrap();
        let t = cfg.influx.0.unwrap();
        assert_eq!(t.server.url, "http://127.0.0.1:18086");
        assert_eq!(t.server.database.as_deref(), Some("fromenv"));
        // Numeric secrets stay text.
        assert_eq!(t.server.password.as_ref().unwrap().expose_secret(), "12345");
        assert_eq!(t.agents.token.as_ref().unwrap().expose_secret(), "67890");
        assert!(t.agents.username.is_none());
        let err = Config::load_with_env(
            None,
            env(&[
                ("STREAMSWARM__INFLUX__URL", "http://127.0.0.1:18086"),
                ("STREAMSWARM__INFLUX__VERSION", "3"),
            ]),
        )
        .unwrap_err();
        assert!(err.contains("influx.version"), "{err}");
    }

    #[test]
    fn influx_errors_name_their_key() {
        let url = "[influx]\nurl = \"http://127.0.0.1:8086\"\n";
        let cases = [
            ("[influx]\ndatabase = \"x\"".to_owned(), "influx.url"),
            ("[influx]\nagent_token = \"x\"".to_owned(), "influx.url"),
            (url.to_owned(), "influx.database"),
            (
                format!("{url}database = \"d\"\nversion = 3"),
                "influx.version",
            ),
            (
                format!("{url}database = \"d\"\nusername = \"u\""),
                "influx.password",
            ),
            (
                format!("{url}version = 2\norg = \"o\"\nbucket = \"b\""),
                "influx.token",
            ),
            (format!("{url}database = \"d\"\nurll = \"x\""), "urll"),
            (
                format!("{url}database = \"d\"\nagent_username = \"a\""),
                "influx.agent_password",
            ),
            (
                format!("{url}database = \"d\"\nagent_password = \"a\""),
                "influx.agent_username",
            ),
            (
                format!("{url}database = \"d\"\nagent_url = \"ftp://x\""),
                "influx.agent_url",
            ),
            (
                "[influx]\nurl = \"not a url\"\ndatabase = \"d\"".to_owned(),
                "influx.url",
            ),
        ];
        for (toml, key) in cases {
            let err = load_toml(&toml).unwrap_err();
            assert!(err.contains(key), "{toml:?} → {err}");
        }
    }

    #[test]
    fn debug_raises_our_crates_only_and_full_filters_are_taken_as_given() {
        let d = log_filter_directives("debug");
        assert_eq!(
            d,
            "info,streamswarm=debug,streamswarm_agent=debug,streamswarm_tsdb=debug,streamswarm_schema=debug"
        );
        assert_eq!(
            log_filter_directives("TRACE"),
            "info,streamswarm=TRACE,streamswarm_agent=TRACE,streamswarm_tsdb=TRACE,streamswarm_schema=TRACE"
        );
        for given in [
            "info",
            "warn",
            "error",
            "off",
            "debug,handlebars=debug",
            "hyper=trace",
        ] {
            assert_eq!(log_filter_directives(given), given);
        }
        let err = load_toml("[log]\nlevel = \"streamswarm=loud\"").unwrap_err();
        assert!(err.contains("log.level"), "{err}");
        assert!(load_toml("[log]\nlevel = \"debug\"").is_ok());
    }

    #[test]
    fn metrics_token_is_a_secret_of_some_length() {
        let cfg = load_toml("[server]\nmetrics_token = \"0123456789abcdef0123\"").unwrap();
        assert_eq!(
            cfg.server.metrics_token.as_ref().unwrap().expose_secret(),
            "0123456789abcdef0123"
        );
        assert!(!format!("{cfg:?}").contains("0123456789abcdef0123"));
        let err = load_toml("[server]\nmetrics_token = \"short\"").unwrap_err();
        assert!(err.contains("server.metrics_token"), "{err}");
        // A numeric token from the environment stays text.
        let cfg = Config::load_with_env(
            None,
            Some(
                [(
                    "STREAMSWARM__SERVER__METRICS_TOKEN".to_owned(),
                    "1234567890123456".to_owned(),
                )]
                .into_iter()
                .collect(),
            ),
        )
        .unwrap();
        assert_eq!(
            cfg.server.metrics_token.unwrap().expose_secret(),
            "1234567890123456"
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let cfg = load_toml("[database]\nurl = \"postgres://u:hunter2@localhost/db\"").unwrap();
        assert_eq!(
            cfg.database.url.expose_secret(),
            "postgres://u:hunter2@localhost/db"
        );
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}
