//! The `streamswarm-agent` binary: `enroll`, `run` with SIGTERM, `--help`.

use crate::fake_server::{FakeServer, Reply};
use std::process::Stdio;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_streamswarm-agent");

/// Runs a command to completion off the runtime, so the fake server keeps answering.
async fn output(command: &mut std::process::Command) -> std::process::Output {
    let mut command = std::mem::replace(command, std::process::Command::new(BIN));
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn enrol_handler(r: &crate::fake_server::Recorded) -> Reply {
    match r.path.as_str() {
        "/api/v1/agent/enrol" if r.header("authorization") == Some("Bearer ssw_enr_cli") => {
            Reply::json(
                201,
                serde_json::json!({"agent_id": 9, "name": "cli-host", "credential": "ssw_agt_clisecret",
                    "heartbeat_interval_seconds": 1, "write": {"kind": "server"}}),
            )
        }
        "/api/v1/agent/enrol" => Reply::error(401, "enrolment token revoked"),
        "/api/v1/agent/heartbeat" => Reply::json(
            200,
            serde_json::json!({"server_time_ms": 0, "heartbeat_interval_seconds": 1, "assignments_etag": "\"e\""}),
        ),
        "/api/v1/agent/assignments" => {
            Reply::json(200, serde_json::json!({"agent_id": 9, "tests": []}))
                .with_header("etag", "\"e\"")
        }
        "/api/v2/write" => Reply::status(204),
        _ => Reply::status(404),
    }
}

#[tokio::test]
async fn fake_server_enroll_prints_the_agent_id_and_never_the_credential() {
    let server = FakeServer::start(enrol_handler).await;
    let dir = tempfile::tempdir().unwrap();
    let out = output(
        std::process::Command::new(BIN)
            .args([
                "enroll",
                "--server",
                &server.url(),
                "--token",
                "ssw_enr_cli",
                "--state-dir",
            ])
            .arg(dir.path()),
    )
    .await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "9");
    assert!(!stdout.contains("ssw_agt_clisecret") && !stderr.contains("ssw_agt_clisecret"));
    assert!(!stderr.contains("ssw_enr_cli"), "{stderr}");
    assert!(dir.path().join("identity.json").exists());

    let out = output(
        std::process::Command::new(BIN)
            .args([
                "enroll",
                "--server",
                &server.url(),
                "--token",
                "ssw_enr_stale",
                "--state-dir",
            ])
            .arg(dir.path().join("other")),
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("enrolment token revoked"), "{stderr}");
    server.stop().await;
}

#[tokio::test]
async fn fake_server_run_stops_cleanly_on_sigterm() {
    let server = FakeServer::start(enrol_handler).await;
    let dir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(BIN)
        .args([
            "run",
            "--server",
            &server.url(),
            "--token",
            "ssw_enr_cli",
            "--state-dir",
        ])
        .arg(dir.path())
        .env("STREAMSWARM_AGENT__SELF_METRICS__INTERVAL", "1s")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Running: enrolled and heartbeating.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while server.requests_to("/api/v1/agent/heartbeat").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no heartbeat");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id() as i32;
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    assert!(!stderr.contains("ssw_agt_clisecret") && !stderr.contains("ssw_enr_cli"));
    server.stop().await;
}

#[test]
fn help_lists_every_flag() {
    let run = std::process::Command::new(BIN)
        .args(["run", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    for flag in ["--config", "--server", "--token", "--state-dir"] {
        assert!(text.contains(flag), "run --help lacks {flag}:\n{text}");
    }
    let enroll = std::process::Command::new(BIN)
        .args(["enroll", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&enroll.stdout);
    for flag in ["--server", "--token", "--state-dir"] {
        assert!(text.contains(flag), "enroll --help lacks {flag}:\n{text}");
    }
    let top = std::process::Command::new(BIN)
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(text.contains("--check-test") && text.contains("enroll") && text.contains("run"));
}

#[tokio::test]
async fn fake_server_kill_9_then_restart_replays_the_spool() {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let store_up = Arc::new(AtomicBool::new(false));
    let stored: Arc<Mutex<Vec<String>>> = Arc::default();
    let server = FakeServer::start({
        let (store_up, stored) = (store_up.clone(), stored.clone());
        move |r| {
            if r.path != "/api/v2/write" {
                return enrol_handler(r);
            }
            if !store_up.load(Ordering::SeqCst) {
                return Reply::error(503, "store down").with_header("retry-after", "0");
            }
            stored
                .lock()
                .unwrap()
                .extend(r.text().lines().map(str::to_owned));
            Reply::status(204)
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let start = |token: bool| {
        let mut c = std::process::Command::new(BIN);
        c.args(["run", "--server", &server.url(), "--state-dir"])
            .arg(dir.path())
            .env("STREAMSWARM_AGENT__SELF_METRICS__INTERVAL", "1s")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if token {
            c.args(["--token", "ssw_enr_cli"]);
        }
        c.spawn().unwrap()
    };
    let wait = |what: &'static str, done: Box<dyn Fn() -> bool + Send>| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };

    // First life: the store is down, so the agent_self points pile up in the spool.
    let mut first = start(true);
    let requests = server.requests.clone();
    wait(
        "two refused writes",
        Box::new(move || {
            requests
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.path == "/api/v2/write")
                .count()
                >= 2
        }),
    )
    .await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    // What the first process produced and tried to send: the oracle.
    let produced: BTreeSet<String> = server
        .requests_to("/api/v2/write")
        .iter()
        .flat_map(|r| r.text().lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(
        produced
            .iter()
            .any(|l| l.starts_with("agent_self,agent=9 "))
    );

    // Second life: the store is back; everything spooled before the kill arrives.
    store_up.store(true, Ordering::SeqCst);
    let second = start(false);
    let (p, s) = (produced.clone(), stored.clone());
    wait(
        "the replay",
        Box::new(move || {
            let got: BTreeSet<String> = s.lock().unwrap().iter().cloned().collect();
            p.is_subset(&got)
        }),
    )
    .await;
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(second.id() as i32, libc::SIGTERM) }, 0);
    let out = tokio::task::spawn_blocking(move || second.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success());
    server.stop().await;
}
