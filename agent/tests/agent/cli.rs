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
