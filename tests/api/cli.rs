//! The `streamswarm` binary as users run it: `up`, `migrate`, `user`, `token`,
//! configuration errors.

use crate::helpers::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_streamswarm"));
    c.env_remove("STREAMSWARM_CONFIG")
        .env("STREAMSWARM__LOG__LEVEL", "info");
    c
}

fn run(args: &[&str], data_dir: &std::path::Path, stdin: Option<&str>) -> (bool, String, String) {
    let mut child = bin()
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut i = child.stdin.take().unwrap();
        // The command may exit (bad argument) before reading its input.
        if let Some(s) = stdin
            && let Err(e) = i.write_all(s.as_bytes())
        {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["up", "--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["user", "--help"],
        vec!["user", "add", "--help"],
        vec!["user", "list", "--help"],
        vec!["user", "passwd", "--help"],
        vec!["user", "disable", "--help"],
        vec!["token", "--help"],
        vec!["token", "create", "--help"],
        vec!["token", "list", "--help"],
        vec!["token", "revoke", "--help"],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[test]
fn user_and_token_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, out, _) = run(&["migrate"], d, None);
    let versions: Vec<i64> = streamswarm_schema::migrations::SQLITE
        .iter()
        .map(|m| m.version)
        .collect();
    assert!(
        ok && out.contains(&format!("applied migrations {versions:?}")),
        "{out}"
    );
    let (ok, out, _) = run(&["migrate"], d, None);
    assert!(
        ok && out.contains("up to date"),
        "running migrate twice is safe: {out}"
    );

    let (ok, out, err) = run(
        &[
            "user",
            "add",
            "Carol",
            "--role",
            "operator",
            "--password-stdin",
        ],
        d,
        Some("carols-password-9\n"),
    );
    assert!(ok, "{err}");
    assert!(out.contains("created user carol (operator)"), "{out}");
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "carol",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        d,
        Some("another-password-9\n"),
    );
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(
        &["user", "add", "dave", "--role", "root", "--password-stdin"],
        d,
        Some("x\n"),
    );
    assert!(!ok && err.contains("admin, operator, viewer"), "{err}");
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "dave",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        d,
        Some("short\n"),
    );
    assert!(!ok && err.contains("password must be at least"), "{err}");
    let (ok, _, err) = run(&["user", "add", "dave", "--role", "viewer"], d, None);
    assert!(
        !ok && err.contains("--password-stdin"),
        "without a terminal the error names the flag: {err}"
    );
    let (ok, _, err) = run(
        &["user", "passwd", "carol", "--password-stdin"],
        d,
        Some("carols-new-password\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["user", "disable", "carol"], d, None);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&["user", "list"], d, None);
    assert!(
        ok && out
            .lines()
            .any(|l| l.contains("carol") && l.contains("operator") && l.contains("disabled")),
        "{out}"
    );

    let (ok, out, err) = run(
        &[
            "token",
            "create",
            "--kind",
            "enrol",
            "--name",
            "lab",
            "--expires",
            "30d",
            "--uses",
            "3",
        ],
        d,
        None,
    );
    assert!(ok, "{err}");
    let token = out.trim().to_owned();
    assert!(
        token.starts_with("ssw_enr_") && token.len() == 36,
        "{token}"
    );
    assert!(err.contains("will not be shown again"));
    let (ok, out, _) = run(
        &[
            "token", "create", "--kind", "api", "--name", "grafana", "--role", "viewer",
        ],
        d,
        None,
    );
    assert!(ok && out.trim().starts_with("ssw_api_"));
    let (ok, _, err) = run(
        &[
            "token",
            "create",
            "--kind",
            "enrol",
            "--name",
            "x",
            "--expires",
            "soon",
        ],
        d,
        None,
    );
    assert!(!ok && err.contains("--expires"), "{err}");
    let (ok, _, err) = run(
        &["token", "create", "--kind", "agent", "--name", "x"],
        d,
        None,
    );
    assert!(!ok && err.contains("enrolment"), "{err}");
    let (ok, out, _) = run(&["token", "list"], d, None);
    assert!(
        ok && out.contains("lab") && out.contains("grafana"),
        "{out}"
    );
    assert!(!out.contains(&token), "token list never prints a secret");
    let (ok, out, _) = run(&["token", "revoke", "1"], d, None);
    assert!(ok && out.contains("revoked token 1"), "{out}");
    let (ok, out, _) = run(&["token", "list"], d, None);
    assert!(
        ok && out
            .lines()
            .any(|l| l.contains("lab") && l.contains("revoked")),
        "{out}"
    );
    let (ok, _, err) = run(&["token", "revoke", "99"], d, None);
    assert!(!ok && err.contains("token 99 not found"), "{err}");
}

#[test]
fn invalid_configuration_names_the_key() {
    // 78 (EX_CONFIG): the systemd unit and the container entrypoint do not restart on it.
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .env("STREAMSWARM__DATABASE__POOL_SIZE", "0")
        .arg("--data-dir")
        .arg(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.pool_size"));
    let out = bin()
        .env("STREAMSWARM__DATABASE__URL", "mysql://x")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("database.url must start with sqlite:// or postgres://")
    );
    let out = bin()
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml: no such file"));
}

/// Starts `up`, returns its child and the printed lines up to "Press Ctrl-C".
fn start_up(data_dir: &std::path::Path) -> (std::process::Child, Vec<String>) {
    let mut child = bin()
        // No traffic to a real gateway from tests: host metrics and localhost only.
        .args([
            "up",
            "--no-gateway-ping",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "up exited early: {lines:?}"
        );
        let done = line.contains("Press Ctrl-C");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    (child, lines)
}

fn stop(child: std::process::Child) -> (bool, String) {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_creates_a_random_admin_once_and_reuses_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let (child, lines) = start_up(dir.path());
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("StreamSwarm is running at "))
        .expect("prints the URL")
        .to_owned();
    let password = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("first run prints the admin password")
        .to_owned();
    assert!(
        password.len() >= 16,
        "random, not a fixed default: {password}"
    );
    assert_ne!(password, "admin");

    let c = client();
    let html = c
        .get(format!("{url}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = extract_input(&html, "csrf_token").unwrap();
    let resp = c
        .post(format!("{url}/login"))
        .form(&[
            ("username", "admin"),
            ("password", password.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "the printed credentials work");
    let home = c.get(format!("{url}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);

    // The local agent: enrolled, heartbeating, running the default tests, its points
    // in the embedded store.
    let agent_line = lines
        .iter()
        .find_map(|l| l.strip_prefix("Local agent: id "))
        .expect("prints the local agent")
        .to_owned();
    let get = |path: &str| {
        let c = c.clone();
        let url = format!("{url}{path}");
        async move {
            let r = c.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let tests = get("/api/v1/tests").await;
    let mut kinds: Vec<(String, String)> = tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap().into(),
                t["target"].as_str().unwrap().into(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("host".into(), "".into()),
            ("ping".into(), "127.0.0.1".into())
        ],
        "{tests}"
    );
    let agents = get("/api/v1/agents").await;
    let agent_id = agents[0]["id"].as_i64().expect("one agent");
    assert!(
        agent_line.starts_with(&format!("{agent_id} ")),
        "{agent_line}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let a = get(&format!("/api/v1/agents/{agent_id}")).await;
        if a["status"] == "online" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "agent never online: {a}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let ts_path = dir.path().join("timeseries.db");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let store = streamswarm::timeseries::embedded::EmbeddedStore::open(&ts_path)
            .await
            .unwrap();
        let q = streamswarm_tsdb::query::Query::Raw(streamswarm_tsdb::query::RawQuery {
            selector: streamswarm_tsdb::query::Selector {
                measurement: "ping".into(),
                filters: vec![streamswarm_tsdb::query::TagFilter::eq(
                    "agent",
                    agent_id.to_string(),
                )],
                range: streamswarm_tsdb::query::TimeRange {
                    start_ns: 0,
                    end_ns: i64::MAX,
                },
            },
            fields: vec!["received".into()],
            group_by_tags: Vec::new(),
            limit: 10,
        });
        let series = store.run(&q).await.unwrap();
        if series.iter().any(|s| !s.rows.is_empty()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no ping point from the local agent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    let (clean, stderr) = stop(child);
    assert!(clean, "SIGTERM stops it cleanly: {stderr}");
    for store in ["streamswarm.db", "timeseries.db"] {
        assert!(
            dir.path().join(store).exists(),
            "the embedded stores live in the data dir: {store}"
        );
    }
    assert!(
        !stderr.contains(&password),
        "the password is printed once on stdout, never logged"
    );

    let (child, lines) = start_up(dir.path());
    assert!(
        !lines.iter().any(|l| l.contains("password")),
        "second run reuses the data dir: {lines:?}"
    );
    assert!(
        lines.contains(&format!("Local agent: id {agent_line}")),
        "the same local agent, not a new enrolment: {lines:?}"
    );
    let (clean, stderr) = stop(child);
    assert!(
        clean,
        "SIGTERM right after start stops it cleanly: {stderr}"
    );
}
