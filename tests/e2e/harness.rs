//! Real processes for the end-to-end tests: a private InfluxDB 1.6.7 that can be stopped
//! and started again on the same port and data, the `streamswarm` server binary, and the
//! `streamswarm-agent` binary — each in its own temporary directory, on loopback only.
//! Every process is killed when its handle drops.

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `true` under CI, where a missing component fails the test instead of skipping it.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A free TCP port on 127.0.0.1, with the port above it free too (InfluxDB also binds
/// `port + 1`), chosen below the kernel's ephemeral range: the kernel never hands such
/// a port to another socket (an outgoing connection, a listener on port 0), so it is
/// still free when a test restarts a process it stopped there. A port one of the tests
/// running side by side took meanwhile is skipped by the bind check.
pub fn free_port() -> u16 {
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let first: u16 = 10_000;
    assert!(low > first + 100, "ephemeral ports start at {low}");
    let span = low - 1 - first;
    let start = rand::random_range(0..span);
    (0..span)
        .map(|i| first + (start + i) % span)
        .find(|&p| {
            TcpListener::bind(("127.0.0.1", p)).is_ok()
                && TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        })
        .expect("a free loopback port below the ephemeral range")
}

/// The repository root (this crate's manifest directory).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn server_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_streamswarm"))
}

/// The agent binary, built by the same `cargo build`/`nextest` run as this test (it is
/// another package of the workspace, so Cargo gives no `CARGO_BIN_EXE_` for it).
pub fn agent_bin() -> PathBuf {
    let p = server_bin().with_file_name("streamswarm-agent");
    assert!(
        p.exists(),
        "{} is missing: build the workspace first (`cargo build --workspace`)",
        p.display()
    );
    p
}

/// Polls `f` every 100 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < until,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A child process whose output goes to a log file, killed on drop.
pub struct Proc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child: Some(child),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// SIGTERM, then waits up to 20 s (SIGKILL after that); returns the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Some(s) = child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// SIGKILL, as `kill -9` does.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Everything the process wrote so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn wait_for_log(&self, what: &str, timeout: Duration) {
        wait_for(&format!("{} to log {what:?}", self.name), timeout, || {
            self.log().contains(what).then_some(())
        });
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            let log = self.log();
            let tail: String = log
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            eprintln!(
                "----- last lines of {} ({}) -----\n{tail}",
                self.name,
                self.log.display()
            );
        }
    }
}

/// A private InfluxDB 1.6.7: configured by `scripts/influxdb.sh` (loopback only, no
/// reporting), run directly so the test can stop and restart it on the same data.
pub struct Influx {
    dir: PathBuf,
    pub port: u16,
    proc: Option<Proc>,
}

impl Influx {
    /// `None` (after saying so) when `influxd` is not installed, except under CI.
    pub fn start(dir: &Path) -> Option<Influx> {
        let installed = Command::new("sh")
            .args(["-c", "command -v influxd"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !installed {
            assert!(
                !ci(),
                "influxd is required when CI=true (scripts/test.sh installs it)"
            );
            eprintln!("SKIPPED: influxd is not installed");
            return None;
        }
        let dir = dir.join("influx");
        // The script writes the configuration and starts a first instance; keep its
        // configuration, stop it, and run our own child on it. A port taken by another
        // test between `free_port` and the start is retried with a new one.
        let mut attempt = 0;
        let port = loop {
            attempt += 1;
            let port = free_port();
            let script = format!(
                ". '{}/scripts/influxdb.sh' && start_influxdb '{}' {port} >/dev/null && stop_influxdb '{}'",
                repo().display(),
                dir.display(),
                dir.display()
            );
            let out = Command::new("bash").args(["-c", &script]).output().unwrap();
            if out.status.success() {
                break port;
            }
            assert!(
                attempt < 3,
                "configuring InfluxDB in {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let mut influx = Influx {
            dir,
            port,
            proc: None,
        };
        influx.resume();
        Some(influx)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and data; waits for `/ping`.
    pub fn resume(&mut self) {
        let mut cmd = Command::new("influxd");
        cmd.arg("run")
            .arg("-config")
            .arg(self.dir.join("influxdb.conf"));
        self.proc = Some(Proc::spawn(
            "influxd",
            cmd,
            self.dir.join("influxd-e2e.log"),
        ));
        let url = format!("{}/ping", self.url());
        let client = http();
        wait_for("InfluxDB to answer /ping", Duration::from_secs(30), || {
            client
                .get(&url)
                .send()
                .ok()
                .filter(|r| r.status().as_u16() == 204)
                .map(|_| ())
        });
    }

    pub fn pause(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    /// Runs InfluxQL; the JSON answer.
    pub fn query(&self, db: &str, q: &str) -> serde_json::Value {
        let r = http()
            .get(format!("{}/query", self.url()))
            .query(&[("db", db), ("q", q), ("epoch", "ns")])
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{q}: {}", r.status());
        r.json().unwrap()
    }

    pub fn create_db(&self, db: &str) {
        let r = http()
            .post(format!("{}/query", self.url()))
            .query(&[("q", format!("CREATE DATABASE \"{db}\""))])
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }
}

/// The `streamswarm` server on a fixed loopback port with its data directory, so it can
/// be stopped and started again where agents expect it.
pub struct Server {
    pub data_dir: PathBuf,
    pub port: u16,
    env: Vec<(String, String)>,
    proc: Option<Proc>,
}

impl Server {
    /// A server with embedded stores in `dir/server`; `env` adds configuration
    /// (`STREAMSWARM__SECTION__KEY`).
    pub fn start(dir: &Path, env: &[(&str, String)]) -> Server {
        let data_dir = dir.join("server");
        std::fs::create_dir_all(&data_dir).unwrap();
        let mut s = Server {
            data_dir,
            port: free_port(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            proc: None,
        };
        s.run_cli(&["migrate"]);
        s.resume();
        s
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self) -> Command {
        let mut c = Command::new(server_bin());
        c.env_remove("STREAMSWARM_CONFIG")
            .env(
                "STREAMSWARM__SERVER__BIND",
                format!("127.0.0.1:{}", self.port),
            )
            .env("STREAMSWARM__LOG__LEVEL", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("--data-dir")
            .arg(&self.data_dir);
        c
    }

    /// Runs a CLI command against the same data directory; its stdout.
    pub fn run_cli(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "streamswarm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn resume(&mut self) {
        let mut cmd = self.command();
        cmd.arg("serve");
        self.proc = Some(Proc::spawn(
            "streamswarm serve",
            cmd,
            self.data_dir.join("server.log"),
        ));
        let url = format!("{}/readyz", self.url());
        let client = http();
        wait_for("the server to be ready", Duration::from_secs(30), || {
            client
                .get(&url)
                .send()
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        });
    }

    pub fn pause(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let status = p.stop();
            assert!(
                status.is_some_and(|s| s.success()),
                "server did not stop cleanly: {status:?}"
            );
        }
    }

    pub fn log(&self) -> String {
        self.proc.as_ref().map(|p| p.log()).unwrap_or_default()
    }

    /// A new API token with `role` (the secret).
    pub fn api_token(&self, role: &str) -> String {
        self.run_cli(&[
            "token", "create", "--kind", "api", "--role", role, "--name", "e2e",
        ])
        .trim()
        .to_owned()
    }

    /// A new enrolment token (the secret).
    pub fn enrol_token(&self) -> String {
        self.run_cli(&["token", "create", "--kind", "enrol", "--name", "e2e"])
            .trim()
            .to_owned()
    }
}

/// The `streamswarm-agent` binary with its own state directory.
pub struct Agent {
    pub state_dir: PathBuf,
    env: Vec<(String, String)>,
    proc: Option<Proc>,
    starts: u32,
}

impl Agent {
    /// Configuration through `STREAMSWARM_AGENT__…` variables; the server URL and state
    /// directory are set here.
    pub fn new(dir: &Path, server_url: &str, env: &[(&str, String)]) -> Agent {
        let state_dir = dir.join("agent");
        let mut all = vec![
            (
                "STREAMSWARM_AGENT__SERVER__URL".to_owned(),
                server_url.to_owned(),
            ),
            (
                "STREAMSWARM_AGENT__STATE__DIR".to_owned(),
                state_dir.display().to_string(),
            ),
            (
                "STREAMSWARM_AGENT__LOG__LEVEL".to_owned(),
                "info".to_owned(),
            ),
        ];
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
        Agent {
            state_dir,
            env: all,
            proc: None,
            starts: 0,
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(agent_bin());
        c.env_remove("STREAMSWARM_AGENT_CONFIG")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// `streamswarm-agent enroll`; its stdout.
    pub fn enroll(&self, server_url: &str, token: &str) -> String {
        let out = self
            .command()
            .args(["enroll", "--server", server_url, "--token", token])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "enroll: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `streamswarm-agent run` in the background (`extra` flags appended).
    pub fn run(&mut self, extra: &[&str]) {
        self.starts += 1;
        let mut cmd = self.command();
        cmd.arg("run").args(extra);
        std::fs::create_dir_all(&self.state_dir).unwrap();
        self.proc = Some(Proc::spawn(
            "streamswarm-agent",
            cmd,
            self.state_dir
                .with_file_name(format!("agent-{}.log", self.starts)),
        ));
    }

    pub fn proc(&mut self) -> &mut Proc {
        self.proc.as_mut().expect("agent running")
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let status = p.stop();
            assert!(
                status.is_some_and(|s| s.success()),
                "agent did not stop cleanly: {status:?}"
            );
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    pub fn log(&self) -> String {
        self.proc.as_ref().map(|p| p.log()).unwrap_or_default()
    }

    /// The agent id from `identity.json`.
    pub fn id(&self) -> i64 {
        let text = std::fs::read_to_string(self.state_dir.join("identity.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["agent_id"].as_i64().expect("identity.json has agent_id")
    }
}

/// A JSON API client with a bearer token.
pub struct Api {
    pub base: String,
    token: String,
    client: reqwest::blocking::Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        Api {
            base: base.to_owned(),
            token: token.to_owned(),
            client: http(),
        }
    }

    pub fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        let (s, v) = self.send(reqwest::Method::GET, path, None);
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    pub fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (s, v) = self.send(reqwest::Method::POST, path, Some(body));
        assert!((200..300).contains(&s), "POST {path}: {s} {v}");
        v
    }

    pub fn put(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (s, v) = self.send(reqwest::Method::PUT, path, Some(body));
        assert!((200..300).contains(&s), "PUT {path}: {s} {v}");
        v
    }
}
