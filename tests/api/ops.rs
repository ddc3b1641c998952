//! Operational endpoints and lifecycle: health, readiness, metrics, graceful shutdown.

use crate::both_backends;
use crate::helpers::*;
use streamswarm_schema::Role;

both_backends!(health_ready_and_metrics, |app| async {
    let c = client();
    let r = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token = app.api_token(Role::Viewer).await;
    for _ in 0..3 {
        let r = c
            .get(app.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    c.get(app.url("/no/such/route")).send().await.unwrap();
    let text = c
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("streamswarm_http_requests_total{")
                && l.contains("route=\"/api/v1/me\"")
                && l.contains("status=\"200\"")
                && l.ends_with(" 3")),
        "{text}"
    );
    assert!(
        text.contains("route=\"unmatched\""),
        "unknown paths are counted under one label, not by path"
    );
    assert!(text.contains("streamswarm_http_request_duration_seconds_bucket{"));
    let backend = if app.backend == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    assert!(
        text.contains(&format!(
            "streamswarm_db_pool_max_connections{{backend=\"{backend}\"}} 4"
        )),
        "{text}"
    );
});

both_backends!(readiness_fails_when_the_database_is_gone, |app| async {
    app.store().close();
    let r = client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let r = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the process is still alive");
});

/// A request in flight when shutdown starts still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let c = client();
    let url = app.url("/api/v1/users");
    let s = app.login(Role::Admin).await;
    // A slow request: creating a user hashes a password (Argon2) on the blocking pool.
    let body = serde_json::json!({"username": "late", "password": "a-long-enough-password", "role": "viewer"});
    let in_flight = tokio::spawn({
        let req = s
            .client
            .post(&url)
            .header("x-csrf-token", &s.csrf)
            .json(&body);
        async move { req.send().await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let store = app.store().clone();
    app.stop().await;
    let resp = in_flight
        .await
        .unwrap()
        .expect("in-flight request answered");
    assert_eq!(resp.status(), 201);
    assert!(
        c.get(&url).send().await.is_err(),
        "the listener is closed after shutdown"
    );
    drop(store);
}
