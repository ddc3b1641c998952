//! The real InfluxDB these tests use, and a private database per test.
//!
//! `scripts/test.sh` starts InfluxDB 1.6.7 (`scripts/influxdb.sh`) and exports
//! `STREAMSWARM_TEST_INFLUX_URL`. Without it the tests that need the server print
//! `SKIPPED: …` and pass — except under `CI=true`, where a missing server is a failure.

use reqwest::Url;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use streamswarm_tsdb::influxql::quote_ident;
use streamswarm_tsdb::{InfluxConfig, InfluxReader, Writer};

/// The test server's URL, or `None` (after printing `SKIPPED`) when there is none.
pub fn influx_url(test: &str) -> Option<Url> {
    match std::env::var("STREAMSWARM_TEST_INFLUX_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let url = Url::parse(url.trim()).expect("STREAMSWARM_TEST_INFLUX_URL is a URL");
            // These tests create and drop databases: never anywhere but this machine.
            assert!(
                matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
                "STREAMSWARM_TEST_INFLUX_URL must point at a loopback address, got {url}"
            );
            Some(url)
        }
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{test}: STREAMSWARM_TEST_INFLUX_URL is not set, and CI=true requires the real InfluxDB"
            )
        }
        _ => {
            println!(
                "SKIPPED: {test}: STREAMSWARM_TEST_INFLUX_URL is not set (run scripts/test.sh)"
            );
            None
        }
    }
}

/// Evaluates to the server URL, or returns from the test when there is none.
#[macro_export]
macro_rules! require_influx {
    ($test:expr) => {
        match $crate::support::influx_url($test) {
            Some(url) => url,
            None => return,
        }
    };
}

/// A randomly named database, created on the test server and dropped when the value is
/// (even when the test panics).
pub struct TestDb {
    pub url: Url,
    pub name: String,
}

impl TestDb {
    pub async fn create(url: &Url) -> TestDb {
        let name = format!("streamswarm_test_{:016x}", rand::random::<u64>());
        let db = TestDb {
            url: url.clone(),
            name,
        };
        db.admin(&format!("CREATE DATABASE {}", quote_ident(&db.name)))
            .await;
        db
    }

    /// A v1 configuration for this database.
    pub fn config(&self) -> InfluxConfig {
        InfluxConfig {
            url: self.url.to_string(),
            database: Some(self.name.clone()),
            ..InfluxConfig::default()
        }
    }

    pub fn writer(&self) -> Writer {
        Writer::new(self.config()).unwrap()
    }

    pub fn reader(&self) -> InfluxReader {
        InfluxReader::new(self.config()).unwrap()
    }

    /// Runs a statement outside the code under test (`POST /query`) and returns the JSON.
    pub async fn admin(&self, statement: &str) -> serde_json::Value {
        let response = reqwest::Client::new()
            .post(self.url.join("query").unwrap())
            .query(&[("db", self.name.as_str()), ("epoch", "ns")])
            .form(&[("q", statement)])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{statement}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Names of the server's databases.
    pub async fn databases(&self) -> Vec<String> {
        let answer = self.admin("SHOW DATABASES").await;
        answer["results"][0]["series"][0]["values"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| r[0].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Blocking and dependency-free, because Drop cannot await.
        let statement = format!("DROP DATABASE {}", quote_ident(&self.name));
        let form = Url::parse_with_params("http://x/", &[("q", statement.as_str())]).unwrap();
        let body = form.query().unwrap_or_default().to_owned();
        let host = self.url.host_str().unwrap_or("127.0.0.1");
        let port = self.url.port_or_known_default().unwrap_or(8086);
        let Ok(mut stream) = TcpStream::connect((host, port)) else {
            return;
        };
        let request = format!(
            "POST /query HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
        }
    }
}
