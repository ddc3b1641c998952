//! The connection to an InfluxDB: its configuration (`[influx]`) and the HTTP client the
//! [`Writer`](crate::write::Writer) and [`InfluxReader`](crate::read::InfluxReader)
//! share.
//!
//! Two API generations, picked by `influx.version`, because that is what decides the
//! write endpoint and the credentials:
//!
//! | | `version = 1` (InfluxDB 1.x) | `version = 2` (InfluxDB 2.x, 3.x) |
//! |---|---|---|
//! | write | `POST /write?db=&rp=&precision=n\|u\|ms\|s` | `POST /api/v2/write?org=&bucket=&precision=ns\|us\|ms\|s` |
//! | read | `POST /query?db=&rp=&epoch=ns` (InfluxQL) | the same, through the v1 compatibility API; `db` is `influx.database` or else the bucket |
//! | credentials | `username` + `password` (HTTP Basic) or `token`, or none | `token` (`Authorization: Token …`) |
//!
//! Reads use InfluxQL everywhere: every version answers it (2.x through its DBRP
//! mapping, 3.x natively), whereas Flux exists only in 2.x.
//!
//! Every key is documented in `tsdb/influx.example.toml` (a test loads it).
//!
//! Credentials go in headers, never in the URL, so they cannot end up in access logs;
//! they are `SecretString`s, so `Debug` prints `[REDACTED]`.

use crate::line_protocol::Precision;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{RequestBuilder, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use std::sync::Arc;
use std::time::Duration;

/// The InfluxDB API generation to speak. Written as the integer `1` or `2` in
/// configuration (InfluxDB 3 speaks the version 2 write API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InfluxVersion {
    #[default]
    V1,
    V2,
}

impl InfluxVersion {
    pub fn number(self) -> u8 {
        match self {
            InfluxVersion::V1 => 1,
            InfluxVersion::V2 => 2,
        }
    }
}

impl<'de> Deserialize<'de> for InfluxVersion {
    /// Accepts `1`/`2` as numbers or strings: TOML writes a number, while environment
    /// variables arrive as text.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        let n = match Raw::deserialize(d)? {
            Raw::Number(n) => n.to_string(),
            Raw::Text(t) => t.trim().to_owned(),
        };
        match n.as_str() {
            "1" => Ok(InfluxVersion::V1),
            "2" => Ok(InfluxVersion::V2),
            other => Err(serde::de::Error::custom(format!(
                "influx.version must be 1 or 2, got {other:?}"
            ))),
        }
    }
}

/// `[influx]`: where the time series go and how to get there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InfluxConfig {
    /// Base URL, e.g. `http://127.0.0.1:8086` or `https://host/influx/` behind a proxy.
    pub url: String,
    pub version: InfluxVersion,
    /// Version 1: the database (required). Version 2: the database name of the bucket's
    /// DBRP mapping used for InfluxQL reads; the bucket name when absent.
    pub database: Option<String>,
    /// The retention policy to write to and read from; the database default when absent.
    pub retention_policy: Option<String>,
    /// Version 2 only (required there).
    pub org: Option<String>,
    /// Version 2 only (required there).
    pub bucket: Option<String>,
    /// Version 1: HTTP Basic credentials (both or neither).
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// Sent as `Authorization: Token …`. Required for version 2; for version 1 an
    /// alternative to username/password (InfluxDB 3's v1 API, token-checking proxies).
    pub token: Option<SecretString>,
    /// Unit of the written timestamps: `ns`, `us`, `ms` or `s`. Nanoseconds by default,
    /// because two points of one series in the same unit overwrite each other.
    #[serde(deserialize_with = "deserialize_precision")]
    pub precision: Precision,
    /// Time allowed to open a connection (humantime, e.g. `5s`).
    #[serde(deserialize_with = "deserialize_duration")]
    pub connect_timeout: Duration,
    /// Time allowed for one whole request, answer included (humantime, e.g. `30s`).
    #[serde(deserialize_with = "deserialize_duration")]
    pub request_timeout: Duration,
    /// Compress request bodies (`Content-Encoding: gzip`); every InfluxDB accepts it.
    pub gzip: bool,
    /// Most lines per write request (1–5000; InfluxData recommends 5,000).
    pub max_batch_lines: usize,
    /// Most uncompressed bytes per write request (1 KiB–16 MiB). InfluxDB 1.x refuses
    /// bodies over 25 MB by default and hosted services have lower limits.
    pub max_batch_bytes: usize,
}

impl Default for InfluxConfig {
    fn default() -> Self {
        InfluxConfig {
            url: "http://127.0.0.1:8086".into(),
            version: InfluxVersion::V1,
            database: None,
            retention_policy: None,
            org: None,
            bucket: None,
            username: None,
            password: None,
            token: None,
            precision: Precision::Nanoseconds,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            gzip: true,
            max_batch_lines: crate::write::BatchLimits::MAX_LINES,
            max_batch_bytes: crate::write::BatchLimits::DEFAULT.max_bytes,
        }
    }
}

fn deserialize_precision<'de, D: Deserializer<'de>>(d: D) -> Result<Precision, D::Error> {
    let s = String::deserialize(d)?;
    Precision::ALL
        .into_iter()
        .find(|p| p.query_param() == s.trim())
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "influx.precision must be one of ns, us, ms, s; got {s:?}"
            ))
        })
}

fn deserialize_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(s.trim())
        .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a duration like \"5s\": {e}")))
}

/// A configuration value that cannot work, named by its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("influx.{key} {message}")]
pub struct ConfigError {
    pub key: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(key: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            key,
            message: message.into(),
        }
    }
}

/// `Some` only when present and not blank: an environment variable set to an empty
/// string means "not set".
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.trim().is_empty())
}

fn given_secret(value: &Option<SecretString>) -> Option<&SecretString> {
    value
        .as_ref()
        .filter(|s| !s.expose_secret().trim().is_empty())
}

impl InfluxConfig {
    /// Checks every rule that a server would otherwise only reveal on the first write.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.base_url()?;
        let v = self.version.number();
        let needs = |key: &'static str| {
            ConfigError::new(key, format!("is required when influx.version = {v}"))
        };
        let unused = |key: &'static str, hint: &str| {
            ConfigError::new(key, format!("is not used when influx.version = {v}{hint}"))
        };
        for (key, value) in [
            ("database", &self.database),
            ("retention_policy", &self.retention_policy),
            ("org", &self.org),
            ("bucket", &self.bucket),
            ("username", &self.username),
        ] {
            if value.as_ref().is_some_and(|s| s.trim().is_empty()) {
                return Err(ConfigError::new(
                    key,
                    "is empty; remove the key or give it a value",
                ));
            }
        }
        match self.version {
            InfluxVersion::V1 => {
                if given(&self.database).is_none() {
                    return Err(needs("database"));
                }
                if given(&self.org).is_some() {
                    return Err(unused("org", "; use influx.database"));
                }
                if given(&self.bucket).is_some() {
                    return Err(unused("bucket", "; use influx.database"));
                }
                match (given(&self.username), given_secret(&self.password)) {
                    (Some(_), None) => {
                        return Err(ConfigError::new(
                            "password",
                            "is required when influx.username is set",
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(ConfigError::new(
                            "username",
                            "is required when influx.password is set",
                        ));
                    }
                    (Some(_), Some(_)) if given_secret(&self.token).is_some() => {
                        return Err(ConfigError::new(
                            "token",
                            "cannot be combined with influx.username/password; use one",
                        ));
                    }
                    _ => {}
                }
            }
            InfluxVersion::V2 => {
                if given(&self.org).is_none() {
                    return Err(needs("org"));
                }
                if given(&self.bucket).is_none() {
                    return Err(needs("bucket"));
                }
                if given_secret(&self.token).is_none() {
                    return Err(needs("token"));
                }
                if given(&self.username).is_some() {
                    return Err(unused("username", "; use influx.token"));
                }
                if given_secret(&self.password).is_some() {
                    return Err(unused("password", "; use influx.token"));
                }
            }
        }
        if let Some(token) = given_secret(&self.token)
            && HeaderValue::from_str(&format!("Token {}", token.expose_secret())).is_err()
        {
            return Err(ConfigError::new(
                "token",
                "contains characters an HTTP header cannot carry (control characters?)",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::new("connect_timeout", "must be more than 0s"));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::new("request_timeout", "must be more than 0s"));
        }
        let max_lines = crate::write::BatchLimits::MAX_LINES;
        if !(1..=max_lines).contains(&self.max_batch_lines) {
            return Err(ConfigError::new(
                "max_batch_lines",
                format!(
                    "must be between 1 and {max_lines}, got {}",
                    self.max_batch_lines
                ),
            ));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_batch_bytes) {
            return Err(ConfigError::new(
                "max_batch_bytes",
                format!(
                    "must be between 1024 and 16777216, got {}",
                    self.max_batch_bytes
                ),
            ));
        }
        Ok(())
    }

    /// The URL with a path ending in `/`, so that endpoints join below it.
    fn base_url(&self) -> Result<Url, ConfigError> {
        let mut url = Url::parse(self.url.trim())
            .map_err(|e| ConfigError::new("url", format!("{:?} is not a URL: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ConfigError::new(
                "url",
                format!("{:?} must be an http:// or https:// URL", self.url),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::new(
                "url",
                format!("{:?} must not have a query or fragment", self.url),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConfigError::new(
                "url",
                "must not contain credentials; use influx.username/password or influx.token",
            ));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(url)
    }

    pub(crate) fn batch_limits(&self) -> crate::write::BatchLimits {
        crate::write::BatchLimits {
            max_lines: self.max_batch_lines,
            max_bytes: self.max_batch_bytes,
        }
    }
}

/// A validated configuration with a connection pool, cheap to clone: the writer and
/// the reader of one process share it.
#[derive(Clone)]
pub struct InfluxClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: InfluxConfig,
    write_url: Url,
    query_url: Url,
    ping_url: Url,
}

impl std::fmt::Debug for InfluxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfluxClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl InfluxClient {
    /// Validates the configuration and builds the HTTP client.
    pub fn new(config: InfluxConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let base = config.base_url()?;
        let join = |path: &str| {
            base.join(path)
                .expect("relative paths join onto an http URL")
        };

        let mut write_url;
        match config.version {
            InfluxVersion::V1 => {
                write_url = join("write");
                let mut q = write_url.query_pairs_mut();
                q.append_pair("db", given(&config.database).expect("validated"));
                if let Some(rp) = given(&config.retention_policy) {
                    q.append_pair("rp", rp);
                }
                q.append_pair("precision", config.precision.v1_query_param());
            }
            InfluxVersion::V2 => {
                write_url = join("api/v2/write");
                let mut q = write_url.query_pairs_mut();
                q.append_pair("org", given(&config.org).expect("validated"));
                q.append_pair("bucket", given(&config.bucket).expect("validated"));
                q.append_pair("precision", config.precision.query_param());
            }
        }

        let mut query_url = join("query");
        {
            let mut q = query_url.query_pairs_mut();
            q.append_pair("db", config.read_database());
            if let Some(rp) = given(&config.retention_policy) {
                q.append_pair("rp", rp);
            }
            q.append_pair("epoch", "ns");
        }
        let ping_url = join("ping");

        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("streamswarm/", env!("CARGO_PKG_VERSION")))
            // A redirect means `influx.url` is wrong (http → https, a login page); it is
            // reported as an unexpected answer rather than followed with the batch.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::new("url", format!("cannot build an HTTP client: {e}")))?;

        Ok(InfluxClient {
            inner: Arc::new(Inner {
                http,
                config,
                write_url,
                query_url,
                ping_url,
            }),
        })
    }

    pub fn config(&self) -> &InfluxConfig {
        &self.inner.config
    }

    /// The write endpoint with its query string (no credentials in it).
    pub fn write_url(&self) -> &Url {
        &self.inner.write_url
    }

    /// The InfluxQL endpoint with `db`, `rp` and `epoch=ns` (no credentials in it).
    pub fn query_url(&self) -> &Url {
        &self.inner.query_url
    }

    /// `GET /ping`: whether something answers like an InfluxDB (1.x and 2.x say 204,
    /// 3.x says 200). For readiness checks; writes do not depend on it.
    pub async fn ping(&self) -> Result<(), String> {
        let response = self
            .authorize(self.inner.http.get(self.inner.ping_url.clone()))
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        match response.status().as_u16() {
            200 | 204 => Ok(()),
            status => Err(format!("GET /ping answered {status}")),
        }
    }

    pub(crate) fn post_write(&self, body: Vec<u8>, gzip: bool) -> RequestBuilder {
        let mut request = self
            .inner
            .http
            .post(self.inner.write_url.clone())
            .header("content-type", "text/plain; charset=utf-8");
        if gzip {
            request = request.header("content-encoding", "gzip");
        }
        self.authorize(request.body(body))
    }

    pub(crate) fn post_query(&self, influxql: &str) -> RequestBuilder {
        self.authorize(
            self.inner
                .http
                .post(self.inner.query_url.clone())
                .form(&[("q", influxql)]),
        )
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        let config = &self.inner.config;
        if let Some(token) = given_secret(&config.token) {
            let mut value = HeaderValue::from_str(&format!("Token {}", token.expose_secret()))
                .expect("validated: the token fits in a header");
            value.set_sensitive(true);
            request.header(AUTHORIZATION, value)
        } else if let (Some(user), Some(password)) =
            (given(&config.username), given_secret(&config.password))
        {
            request.basic_auth(user, Some(password.expose_secret()))
        } else {
            request
        }
    }
}

impl InfluxConfig {
    /// The `db` of InfluxQL reads: the database, or for version 2 the bucket when no
    /// DBRP database name is configured.
    fn read_database(&self) -> &str {
        given(&self.database)
            .or_else(|| given(&self.bucket))
            .expect("validated: version 1 has a database, version 2 a bucket")
    }

    /// The retention policy, when one is configured.
    pub fn retention_policy(&self) -> Option<&str> {
        given(&self.retention_policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<InfluxConfig, String> {
        let config: InfluxConfig = serde_json::from_value(json).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    #[test]
    fn the_example_file_loads_and_is_valid() {
        #[derive(Deserialize)]
        struct File {
            influx: InfluxConfig,
        }
        let file: File = toml::from_str(include_str!("../influx.example.toml")).unwrap();
        file.influx.validate().unwrap();
        let defaults = InfluxConfig {
            database: Some("streamswarm".into()),
            ..InfluxConfig::default()
        };
        assert_eq!(
            format!("{:?}", file.influx),
            format!("{defaults:?}"),
            "the example shows the defaults"
        );
    }

    /// The server loads configuration with the `config` crate, environment variables
    /// included; they arrive as text or as parsed numbers and booleans.
    #[test]
    fn loads_from_environment_variables_through_the_config_crate() {
        #[derive(Deserialize)]
        struct File {
            influx: InfluxConfig,
        }
        let env: std::collections::HashMap<String, String> = [
            ("STREAMSWARM__INFLUX__VERSION", "2"),
            ("STREAMSWARM__INFLUX__ORG", "acme"),
            ("STREAMSWARM__INFLUX__BUCKET", "metrics"),
            ("STREAMSWARM__INFLUX__TOKEN", "tok-123"),
            ("STREAMSWARM__INFLUX__GZIP", "false"),
            ("STREAMSWARM__INFLUX__MAX_BATCH_LINES", "1000"),
            ("STREAMSWARM__INFLUX__REQUEST_TIMEOUT", "2m"),
            ("STREAMSWARM__INFLUX__PRECISION", "s"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let file: File = config::Config::builder()
            .add_source(
                config::Environment::with_prefix("STREAMSWARM")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(env)),
            )
            .build()
            .and_then(|c| c.try_deserialize())
            .unwrap();
        let c = file.influx;
        c.validate().unwrap();
        assert_eq!(c.version, InfluxVersion::V2);
        assert_eq!(
            c.token.as_ref().map(|t| t.expose_secret().to_owned()),
            Some("tok-123".into())
        );
        assert!(!c.gzip);
        assert_eq!(c.max_batch_lines, 1000);
        assert_eq!(c.request_timeout, Duration::from_secs(120));
        assert_eq!(c.precision, Precision::Seconds);
    }

    #[test]
    fn v1_minimal_and_urls() {
        let config = parse(serde_json::json!({"database": "stream swarm"})).unwrap();
        let client = InfluxClient::new(config).unwrap();
        assert_eq!(
            client.write_url().as_str(),
            "http://127.0.0.1:8086/write?db=stream+swarm&precision=n"
        );
        assert_eq!(
            client.query_url().as_str(),
            "http://127.0.0.1:8086/query?db=stream+swarm&epoch=ns"
        );
    }

    #[test]
    fn v2_urls_use_org_bucket_and_v2_precision_names() {
        let config = parse(serde_json::json!({
            "url": "https://influx.example/base", "version": 2, "org": "acme",
            "bucket": "b&1", "token": "t0k", "precision": "us", "retention_policy": "week",
        }))
        .unwrap();
        let client = InfluxClient::new(config).unwrap();
        assert_eq!(
            client.write_url().as_str(),
            "https://influx.example/base/api/v2/write?org=acme&bucket=b%261&precision=us"
        );
        assert_eq!(
            client.query_url().as_str(),
            "https://influx.example/base/query?db=b%261&rp=week&epoch=ns"
        );
    }

    #[test]
    fn version_accepts_numbers_and_text_only_1_or_2() {
        for (v, want) in [
            (serde_json::json!(1), InfluxVersion::V1),
            (serde_json::json!("2"), InfluxVersion::V2),
        ] {
            let got: InfluxVersion = serde_json::from_value(v).unwrap();
            assert_eq!(got, want);
        }
        let err = serde_json::from_value::<InfluxVersion>(serde_json::json!(3)).unwrap_err();
        assert!(
            err.to_string().contains("influx.version must be 1 or 2"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        use serde_json::json;
        let cases = [
            (
                json!({}),
                "influx.database is required when influx.version = 1",
            ),
            (
                json!({"version": 2, "bucket": "b", "token": "t"}),
                "influx.org is required when influx.version = 2",
            ),
            (
                json!({"version": 2, "org": "o", "token": "t"}),
                "influx.bucket is required when influx.version = 2",
            ),
            (
                json!({"version": 2, "org": "o", "bucket": "b"}),
                "influx.token is required when influx.version = 2",
            ),
            (
                json!({"version": 2, "org": "o", "bucket": "b", "token": "t", "username": "u"}),
                "influx.username is not used when influx.version = 2",
            ),
            (
                json!({"database": "d", "bucket": "b"}),
                "influx.bucket is not used when influx.version = 1",
            ),
            (
                json!({"database": "d", "username": "u"}),
                "influx.password is required when influx.username is set",
            ),
            (
                json!({"database": "d", "username": "u", "password": "p", "token": "t"}),
                "influx.token cannot be combined",
            ),
            (json!({"database": ""}), "influx.database is empty"),
            (json!({"database": "d", "url": "ftp://x"}), "influx.url"),
            (
                json!({"database": "d", "url": "http://u:p@x"}),
                "influx.url",
            ),
            (json!({"database": "d", "url": "nonsense"}), "influx.url"),
            (
                json!({"database": "d", "precision": "n"}),
                "influx.precision",
            ),
            (
                json!({"database": "d", "request_timeout": "0s"}),
                "influx.request_timeout",
            ),
            (
                json!({"database": "d", "connect_timeout": "soon"}),
                "\"soon\"",
            ),
            (
                json!({"database": "d", "max_batch_lines": 5001}),
                "influx.max_batch_lines",
            ),
            (
                json!({"database": "d", "max_batch_bytes": 10}),
                "influx.max_batch_bytes",
            ),
            (json!({"database": "d", "dtabase": "x"}), "dtabase"),
            (
                json!({"database": "d", "token": "a\nb"}),
                "influx.token contains",
            ),
        ];
        for (json, want) in cases {
            let err = parse(json.clone()).unwrap_err();
            assert!(err.contains(want), "{json} → {err}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let config = parse(serde_json::json!({
            "database": "d", "username": "u", "password": "hunter2",
        }))
        .unwrap();
        let client = InfluxClient::new(config).unwrap();
        assert!(!format!("{client:?}").contains("hunter2"));
        assert!(!client.write_url().as_str().contains("hunter2"));
    }
}
