use crate::fake_server::{FakeServer, Reply, refused_addr};
use secrecy::SecretString;
use std::time::Duration;
use streamswarm_agent::facts;
use streamswarm_agent::server::{AssignmentsAnswer, ServerClient, ServerError, clock_offset_ms};

fn client(url: &str) -> ServerClient {
    ServerClient::new(url::Url::parse(url).unwrap(), Duration::from_secs(5)).unwrap()
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[tokio::test]
async fn fake_server_enrol_sends_the_token_as_bearer_and_the_facts() {
    let server = FakeServer::start(|r| {
        assert_eq!(r.path, "/api/v1/agent/enrol");
        if r.header("authorization") != Some("Bearer ssw_enr_good") {
            return Reply::error(401, "enrolment token expired");
        }
        Reply::json(
            201,
            serde_json::json!({
                "agent_id": 7, "name": "edge-01", "credential": "ssw_agt_c",
                "heartbeat_interval_seconds": 10, "write": {"kind": "server"}
            }),
        )
    })
    .await;
    let facts = facts::collect(None);
    let answer = client(&server.url())
        .enrol(&secret("ssw_enr_good"), "edge-01", &facts)
        .await
        .unwrap();
    assert_eq!(answer.agent_id, 7);
    let sent = &server.requests_to("/api/v1/agent/enrol")[0];
    assert_eq!(sent.method, "POST");
    let body = sent.json();
    assert_eq!(body["hostname"], "edge-01");
    assert_eq!(body["facts"]["agent_version"], env!("CARGO_PKG_VERSION"));
    assert!(body["facts"]["cpu_count"].as_u64().unwrap() >= 1);
    // Loopback is on every Linux host: its address comes with a prefix.
    let interfaces = body["facts"]["interfaces"].as_array().unwrap();
    let lo = interfaces.iter().find(|i| i["name"] == "lo").expect("lo");
    assert!(
        lo["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "127.0.0.1/8"),
        "{lo}"
    );

    let err = client(&server.url())
        .enrol(&secret("ssw_enr_bad"), "edge-01", &facts)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ServerError::Unauthorized {
            message: "enrolment token expired".into()
        }
    );
    server.stop().await;
}

#[tokio::test]
async fn fake_server_heartbeat_estimates_the_clock_offset_and_401_means_revoked() {
    // The fake's clock runs 5 s ahead of ours.
    let server = FakeServer::start(|r| {
        if r.header("authorization") == Some("Bearer ssw_agt_revoked") {
            return Reply::error(401, "agent credential revoked");
        }
        let sent = r.json()["sent_at_ms"].as_i64().unwrap();
        Reply::json(
            200,
            serde_json::json!({
                "server_time_ms": sent + 5_000,
                "heartbeat_interval_seconds": 3,
                "assignments_etag": "\"e1\""
            }),
        )
    })
    .await;
    let facts = facts::collect(Some(-1.5));
    let hb = client(&server.url())
        .heartbeat(&secret("ssw_agt_ok"), "h", &facts)
        .await
        .unwrap();
    assert_eq!(hb.heartbeat_interval_seconds, 3);
    assert_eq!(hb.assignments_etag.as_deref(), Some("\"e1\""));
    // server_time − (sent + received)/2 = 5000 − (received − sent)/2: within the
    // round trip's half below 5 s.
    assert!(
        hb.clock_offset_ms <= 5_000.0 && hb.clock_offset_ms > 0.0,
        "{}",
        hb.clock_offset_ms
    );
    let body = server.requests_to("/api/v1/agent/heartbeat")[0].json();
    assert_eq!(body["facts"]["clock_offset_ms"], -1.5);

    let err = client(&server.url())
        .heartbeat(&secret("ssw_agt_revoked"), "h", &facts)
        .await
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    server.stop().await;
}

#[test]
fn the_clock_offset_is_the_server_time_minus_the_midpoint() {
    assert_eq!(clock_offset_ms(1_000, 900, 1_000), 50.0);
    assert_eq!(clock_offset_ms(1_000, 1_000, 1_000), 0.0);
    assert_eq!(clock_offset_ms(0, 10, 20), -15.0);
}

#[tokio::test]
async fn fake_server_503_with_retry_after_and_connection_refused_are_unavailable() {
    let server =
        FakeServer::start(|_| Reply::error(503, "starting up").with_header("retry-after", "7"))
            .await;
    let facts = facts::collect(None);
    let err = client(&server.url())
        .heartbeat(&secret("c"), "h", &facts)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ServerError::Unavailable {
            status: Some(503),
            retry_after: Some(Duration::from_secs(7)),
            message: "starting up".into()
        }
    );
    server.stop().await;

    let addr = refused_addr().await;
    let err = client(&format!("http://{addr}/"))
        .heartbeat(&secret("c"), "h", &facts)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServerError::Unavailable { status: None, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn fake_server_assignments_use_if_none_match_and_304() {
    let body = serde_json::json!({
        "agent_id": 7,
        "tests": [
            {"id": 12, "name": "ping gw", "updated_at_ms": 1, "kind": "ping", "target": "192.0.2.1",
             "params": {"count": 3}, "schedule": {"interval_seconds": 60}},
            {"id": 13, "name": "from the future", "kind": "teleport", "target": "x",
             "params": {}, "schedule": {"interval_seconds": 60}}
        ]
    });
    let server = FakeServer::start(move |r| {
        if r.header("if-none-match") == Some("\"v1\"") {
            return Reply::status(304).with_header("etag", "\"v1\"");
        }
        Reply::json(200, body.clone()).with_header("etag", "\"v1\"")
    })
    .await;
    let c = client(&server.url());
    let AssignmentsAnswer::Changed(a) = c.assignments(&secret("c"), None).await.unwrap() else {
        panic!("expected a body")
    };
    assert_eq!(a.etag, "\"v1\"");
    assert_eq!(a.tests.len(), 2);
    // The test of an unknown kind is skipped; the other still runs.
    let runnable = a.runnable();
    assert_eq!(runnable.iter().map(|t| t.id).collect::<Vec<_>>(), vec![12]);
    assert_eq!(
        c.assignments(&secret("c"), Some("\"v1\"")).await.unwrap(),
        AssignmentsAnswer::NotModified
    );
    let sent = server.requests_to("/api/v1/agent/assignments");
    assert_eq!(sent[0].header("if-none-match"), None);
    assert_eq!(sent[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(sent[1].header("authorization"), Some("Bearer c"));
    server.stop().await;
}

#[tokio::test]
async fn fake_server_an_oversized_answer_is_refused_not_buffered() {
    let huge = "x".repeat(streamswarm_agent::server::MAX_ANSWER_BYTES + 10);
    let server = FakeServer::start(move |_| Reply {
        status: 200,
        headers: vec![("etag", "\"big\"".into())],
        body: format!("{{\"agent_id\": 1, \"tests\": [], \"pad\": \"{huge}\"}}"),
    })
    .await;
    let err = client(&server.url())
        .assignments(&secret("c"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServerError::BadAnswer(m) if m.contains("larger than")),
        "{err:?}"
    );
    server.stop().await;
}
