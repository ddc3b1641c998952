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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 5000)),
            public_url: None,
            secure_cookies: SecureCookies::Auto,
            max_body_bytes: 64 * 1024,
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
}

impl Default for TimeSeriesConfig {
    fn default() -> Self {
        TimeSeriesConfig {
            embedded_path: PathBuf::from("./data/timeseries.db"),
            max_write_bytes: 25 * 1024 * 1024,
            max_decompressed_bytes: 100 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `streamswarm=debug,warp=info`.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Loads the file (if given) and the environment, then validates.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
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
                .try_parsing(true),
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
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| format!("invalid configuration: log.level {:?}: {e}", self.log.level))?;
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
        ];
        for (toml, key) in cases {
            let err = load_toml(toml).unwrap_err();
            assert!(err.contains(key), "{toml:?} → {err}");
        }
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
