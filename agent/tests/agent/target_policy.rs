//! The outbound target policy (`[probes] deny` / `allow`): its configuration, and its
//! enforcement at run time on the resolved address through the real dispatch
//! (`probes::run_test`) and the real scheduler. The heartbeat side is in `runtime.rs`.

use std::time::Duration;
use streamswarm_agent::config::AgentConfig;
use streamswarm_agent::probes::policy::TargetPolicy;
use streamswarm_agent::probes::{self, ping};
use streamswarm_agent::schedule::{self, AssignedTest, SchedulerConfig};
use streamswarm_schema::test_spec::{AddressFamily, PingParams, Schedule, TestKind};
use streamswarm_schema::{TestParams, TestSpec};
use streamswarm_tsdb::assert_follows_schema;
use streamswarm_tsdb::line_protocol::{FieldValue, Point};

fn load_toml(text: &str, vars: &[(&str, &str)]) -> Result<AgentConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, text).unwrap();
    let env = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    AgentConfig::load_from(Some(&path), Some(env)).map_err(|e| e.to_string())
}

fn policy(deny: &[&str], allow: &[&str]) -> TargetPolicy {
    TargetPolicy::new("probes", deny, allow).unwrap()
}

fn quick_ping() -> PingParams {
    PingParams {
        count: 2,
        interval_ms: 10,
        timeout_ms: 1_000,
        ..PingParams::default()
    }
}

fn ping_spec(target: &str, params: PingParams) -> TestSpec {
    TestSpec {
        kind: TestKind::Ping,
        target: target.into(),
        params: TestParams::Ping(params),
        schedule: Schedule::every(1),
    }
}

/// One run through the real dispatch; its single `ping` point.
async fn run_ping(target: &str, params: PingParams, policy: &TargetPolicy) -> Point {
    let spec = ping_spec(target, params);
    let state = probes::prepare(&spec).unwrap();
    let mut points = probes::run_test(3, 9, &spec, &state, policy).await.unwrap();
    assert_eq!(points.len(), 1);
    let point = points.remove(0);
    assert_follows_schema(&point);
    point
}

fn error_of(point: &Point) -> Option<String> {
    match point.field_value("error") {
        Some(FieldValue::String(e)) => Some(e.clone()),
        None => None,
        other => panic!("error is not a string: {other:?}"),
    }
}

#[test]
fn probe_policy_default_denies_link_local_and_cloud_metadata_and_the_example_documents_it() {
    let policy = AgentConfig::default().target_policy().unwrap();
    let report = policy.report();
    for network in [
        "169.254.0.0/16",
        "fe80::/10",
        "fd00:ec2::254/128",
        "100.100.100.200/32",
        "0.0.0.0/8",
        "::/128",
    ] {
        assert!(report.deny.iter().any(|d| d == network), "{network}");
    }
    assert!(report.allow.is_empty());
    // Loopback stays reachable: `streamswarm up` pings 127.0.0.1 by default.
    for permitted in ["127.0.0.1", "::1", "10.0.0.1", "192.0.2.1"] {
        assert!(
            policy.check(permitted.parse().unwrap()).is_ok(),
            "{permitted}"
        );
    }
    let example = load_toml(include_str!("../../streamswarm-agent.example.toml"), &[]).unwrap();
    assert_eq!(example.target_policy().unwrap(), policy);
}

#[test]
fn probe_policy_custom_lists_come_from_the_file_or_one_environment_string() {
    let cfg = load_toml(
        "[probes]\ndeny = [\"10.0.0.0/8\", \"::1\"]\nallow = [\"10.1.0.0/16\"]\n",
        &[],
    )
    .unwrap();
    let report = cfg.target_policy().unwrap().report();
    assert_eq!(report.deny, ["10.0.0.0/8", "::1/128"]);
    assert_eq!(report.allow, ["10.1.0.0/16"]);

    let cfg = load_toml(
        "",
        &[(
            "STREAMSWARM_AGENT__PROBES__DENY",
            "127.0.0.0/8, 169.254.0.0/16",
        )],
    )
    .unwrap();
    assert_eq!(
        cfg.target_policy().unwrap().report().deny,
        ["127.0.0.0/8", "169.254.0.0/16"]
    );
    // An empty list denies nothing.
    let cfg = load_toml("[probes]\ndeny = []\n", &[]).unwrap();
    assert!(cfg.target_policy().unwrap().report().deny.is_empty());
}

#[test]
fn probe_policy_a_bad_network_is_refused_naming_its_key_and_entry() {
    for (file, key) in [
        (
            "[probes]\ndeny = [\"169.254.0.0/16\", \"metadata\"]\n",
            "probes.deny[1] \"metadata\"",
        ),
        (
            "[probes]\ndeny = [\"10.0.0.0/33\"]\n",
            "probes.deny[0] \"10.0.0.0/33\"",
        ),
        ("[probes]\nallow = [\"10.0.0.5/8\"]\n", "probes.allow[0]"),
    ] {
        let err = load_toml(file, &[]).expect_err(file);
        assert!(err.contains(key), "{file:?}: {err:?} should name {key}");
    }
}

#[tokio::test]
async fn probe_policy_ping_to_the_metadata_address_is_an_error_point_naming_the_rule() {
    let point = run_ping("169.254.169.254", quick_ping(), &TargetPolicy::default()).await;
    assert_eq!(
        error_of(&point).as_deref(),
        Some("169.254.169.254, denied by probes.deny 169.254.0.0/16")
    );
    assert_eq!(point.tag_value("target"), Some("169.254.169.254"));
    assert_eq!(point.field_value("sent"), Some(&FieldValue::Integer(0)));
    assert!(point.field_value("loss_percent").is_none());
    // The check comes before any socket: with none opened, no packet can have left.
    let result = ping::run("169.254.169.254", &quick_ping(), &TargetPolicy::default()).await;
    assert_eq!(
        (result.socket, result.sent, result.resolved),
        (None, 0, None)
    );
    // The IPv4-mapped spelling of the same address is the same address.
    let point = run_ping(
        "::ffff:169.254.169.254",
        quick_ping(),
        &TargetPolicy::default(),
    )
    .await;
    let error = error_of(&point).unwrap();
    assert!(
        error.ends_with("denied by probes.deny 169.254.0.0/16 (it reaches 169.254.169.254)"),
        "{error}"
    );
}

#[tokio::test]
async fn probe_policy_a_name_resolving_to_a_denied_address_is_denied() {
    // No /etc/hosts edit: `localhost` resolves to loopback, denied in this policy.
    let loopback_denied = policy(&["127.0.0.0/8", "::1/128"], &[]);
    let params = PingParams {
        family: AddressFamily::Ipv4,
        ..quick_ping()
    };
    let point = run_ping("localhost", params, &loopback_denied).await;
    assert_eq!(
        error_of(&point).as_deref(),
        Some("localhost resolved to 127.0.0.1, denied by probes.deny 127.0.0.0/8")
    );
    assert_eq!(point.field_value("sent"), Some(&FieldValue::Integer(0)));
    // 0.0.0.0 reaches loopback too, so it cannot stand in for it.
    let point = run_ping("0.0.0.0", quick_ping(), &policy(&["127.0.0.0/8"], &[])).await;
    assert!(
        error_of(&point)
            .unwrap()
            .contains("denied by probes.deny 127.0.0.0/8"),
        "{point:?}"
    );
}

#[tokio::test]
async fn probe_policy_permitted_and_allowed_targets_still_run() {
    // The default permits loopback.
    let point = run_ping("127.0.0.1", quick_ping(), &TargetPolicy::default()).await;
    assert_eq!(error_of(&point), None, "{point:?}");
    assert_eq!(point.field_value("received"), Some(&FieldValue::Integer(2)));
    // `allow` is an exception inside a denied network.
    let one_allowed = policy(&["127.0.0.0/8"], &["127.0.0.1/32"]);
    let point = run_ping("127.0.0.1", quick_ping(), &one_allowed).await;
    assert_eq!(point.field_value("received"), Some(&FieldValue::Integer(2)));
    let point = run_ping("127.0.0.2", quick_ping(), &one_allowed).await;
    assert_eq!(
        error_of(&point).as_deref(),
        Some("127.0.0.2, denied by probes.deny 127.0.0.0/8")
    );
}

/// The configured policy reaches the real scheduler's runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_policy_the_scheduler_runs_every_test_under_the_configured_policy() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Point>>(64);
    let config = SchedulerConfig {
        target_policy: std::sync::Arc::new(policy(&["127.0.0.0/8"], &[])),
        ..SchedulerConfig::new(7)
    };
    let scheduler = schedule::spawn(config, tx);
    scheduler.set_tests(vec![AssignedTest {
        id: 1,
        name: "loopback".into(),
        spec: ping_spec("127.0.0.1", quick_ping()),
    }]);
    // A guard against hanging, not a measurement: the first run starts within a second.
    let batch = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("a run within 30 s")
        .unwrap();
    scheduler.shutdown().await;
    assert_eq!(batch.len(), 1);
    assert_eq!(
        error_of(&batch[0]).as_deref(),
        Some("127.0.0.1, denied by probes.deny 127.0.0.0/8")
    );
}
