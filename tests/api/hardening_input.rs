//! Issue 10, item 8: NUL and control characters. NUL is refused with a 400 naming the
//! field by every reader of client text (JSON bodies, forms, query strings) before the
//! store; every human-entered name follows one rule (`streamswarm::names`); a malformed
//! username at sign-in is a failed login that is audited and counted; the audit log
//! bounds what it stores; store errors carry their cause.

use crate::both_backends;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use streamswarm_schema::Role;

/// Everything the refused requests below could have changed, as the API lists it.
const LISTED: &[&str] = &[
    "/api/v1/groups",
    "/api/v1/tests",
    "/api/v1/users",
    "/api/v1/tokens",
    "/api/v1/agents",
    "/api/v1/settings",
];

async fn listing(app: &TestApp, token: &str) -> Value {
    crate::helpers::listing(app, token, LISTED).await
}

/// Sends `body` (JSON text as given) and returns the status and the refused fields.
async fn send_json(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: &str,
) -> (u16, Vec<String>, Value) {
    let (status, body) = status_json(
        app.with_token(method, path, token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap(),
    )
    .await;
    let fields = body["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (status, fields, body)
}

fn test_body(name: &str) -> String {
    json!({
        "name": name,
        "kind": "tcp",
        "target": "192.0.2.7:443",
        "schedule": {"interval_seconds": 30}
    })
    .to_string()
}

/// An agent to rename.
async fn agent(app: &TestApp) -> i64 {
    app.store()
        .create_agent("probe-1", "probe.example.net")
        .await
        .unwrap()
        .id
}

/// Every endpoint that takes a human-entered name, as (method, path, field, body).
fn name_endpoints(agent: i64, name: &str) -> Vec<(Method, String, &'static str, String)> {
    vec![
        (
            Method::POST,
            "/api/v1/tests".into(),
            "name",
            test_body(name),
        ),
        (
            Method::POST,
            "/api/v1/groups".into(),
            "name",
            json!({"name": name}).to_string(),
        ),
        (
            Method::PATCH,
            format!("/api/v1/agents/{agent}"),
            "name",
            json!({"name": name}).to_string(),
        ),
        (
            Method::POST,
            "/api/v1/tokens".into(),
            "name",
            json!({"kind": "api", "name": name, "role": "viewer"}).to_string(),
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            "username",
            json!({"username": name, "password": "a-long-enough-password", "role": "viewer"})
                .to_string(),
        ),
    ]
}

both_backends!(
    nul_in_any_json_field_is_a_400_naming_the_field_and_stores_nothing,
    |app| async {
        let admin = app.api_token(Role::Admin).await;
        let agent = agent(&app).await;
        let before = listing(&app, &admin).await;
        for (method, path, field, body) in name_endpoints(agent, "core\u{0}switch") {
            let (status, fields, answer) = send_json(&app, &admin, method, &path, &body).await;
            assert_eq!(status, 400, "{path}: {answer}");
            assert_eq!(fields, vec![field.to_owned()], "{path}: {answer}");
            assert!(
                answer["error"]["details"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("NUL"),
                "{answer}"
            );
        }
        // Anywhere in the document: a nested field, a description, a password.
        let mut nested: Value = serde_json::from_str(&test_body("ok")).unwrap();
        nested["schedule"]["interval_seconds"] = json!(30);
        nested["description"] = json!("a\u{0}");
        let (status, fields, _) = send_json(
            &app,
            &admin,
            Method::POST,
            "/api/v1/tests",
            &nested.to_string(),
        )
        .await;
        assert_eq!((status, fields), (400, vec!["description".to_owned()]));
        let (status, fields, _) = send_json(
            &app,
            &admin,
            Method::PATCH,
            "/api/v1/settings",
            r#"{"login_max_failures_per_user\u0000": 3}"#,
        )
        .await;
        assert_eq!(
            (status, fields),
            (400, vec!["login_max_failures_per_user\\0".to_owned()])
        );
        assert_eq!(listing(&app, &admin).await, before, "nothing changed");
        // An escaped backslash followed by `u0000` is text, not NUL.
        let (status, _, answer) = send_json(
            &app,
            &admin,
            Method::POST,
            "/api/v1/groups",
            r#"{"name": "literal \\u0000"}"#,
        )
        .await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["name"], "literal \\u0000");
    }
);

both_backends!(
    nul_in_a_query_string_is_a_400_naming_the_parameter,
    |app| async {
        let viewer = app.api_token(Role::Viewer).await;
        for path in [
            "/api/v1/tests?search=%00",
            "/api/v1/agents?search=a%00b",
            "/api/v1/tests?limit=10&search=%00",
        ] {
            let (status, body) = status_json(
                app.with_token(Method::GET, path, &viewer)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 400, "{path}: {body}");
            assert_eq!(body["error"]["details"][0]["field"], "search", "{path}");
        }
        let session = app.login(Role::Viewer).await;
        let resp = session.get(&app, "/tests?search=%00").send().await.unwrap();
        assert_eq!(resp.status(), 400);
        assert!(resp.text().await.unwrap().contains("search"));
    }
);

both_backends!(every_human_entered_name_follows_one_rule, |app| async {
    let admin = app.api_token(Role::Admin).await;
    let agent = agent(&app).await;
    let before = listing(&app, &admin).await;
    for bad in [
        "\u{202E}gnp.exe",
        "left\u{2066}isolate",
        "\u{200B}\u{200C}\u{200D}",
        "\u{FEFF}",
        "red\u{1B}[31m",
        "two\nlines",
        "",
        "   ",
        &"x".repeat(101),
    ] {
        for (method, path, field, body) in name_endpoints(agent, bad) {
            let (status, fields, answer) = send_json(&app, &admin, method, &path, &body).await;
            assert_eq!(status, 400, "{bad:?} at {path}: {answer}");
            assert!(
                fields.contains(&field.to_owned()),
                "{bad:?} at {path}: {answer}"
            );
        }
    }
    assert_eq!(listing(&app, &admin).await, before, "nothing changed");
    // A visible name of up to 100 characters in any script is accepted (trimmed).
    let good = format!(" Zürich ✓ {} ", "é".repeat(80));
    for (method, path, _, body) in name_endpoints(agent, &good) {
        if path == "/api/v1/users" {
            continue; // usernames have their own, stricter alphabet
        }
        let (status, _, answer) = send_json(&app, &admin, method, &path, &body).await;
        assert!(status == 200 || status == 201, "{path}: {answer}");
        assert_eq!(answer["name"].as_str(), Some(good.trim()), "{path}");
    }
});

/// Submits the login form with these exact values.
async fn login_raw(app: &TestApp, c: &reqwest::Client, user: &str) -> reqwest::Response {
    app.post_login(c, user, "whatever-password").await
}

both_backends!(
    a_nul_in_the_login_username_is_a_400_audited_and_counted,
    |app| async {
        let admin = app.api_token(Role::Admin).await;
        let before = listing(&app, &admin).await;
        for _ in 0..5 {
            let resp = login_raw(&app, &client(), "ada\u{0}").await;
            assert_eq!(resp.status(), 400);
            assert!(set_cookie_header(&resp, "ssw_session").is_none());
            let html = resp.text().await.unwrap();
            assert!(html.contains("username must not contain"), "{html}");
        }
        let failures: Vec<_> = app
            .store()
            .audit_entries(100, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "login.failure")
            .collect();
        assert_eq!(failures.len(), 5);
        assert_eq!(failures[0].target, "ada\u{FFFD}");
        assert_eq!(failures[0].source_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(failures[0].details["reason"], "unreadable username");
        // Counted: the sixth attempt is throttled like any other guessing.
        let resp = login_raw(&app, &client(), "ada\u{0}").await;
        assert_eq!(resp.status(), 429);
        assert_eq!(listing(&app, &admin).await, before, "nothing changed");
    }
);

both_backends!(
    an_overlong_login_username_is_a_400_audited_truncated_and_counted,
    |app| async {
        let long = "a".repeat(3000);
        for _ in 0..5 {
            let resp = login_raw(&app, &client(), &long).await;
            assert_eq!(resp.status(), 400);
            let html = resp.text().await.unwrap();
            assert!(
                html.contains("username must be at most 64 characters, got 3000"),
                "{html}"
            );
        }
        let failures: Vec<_> = app
            .store()
            .audit_entries(100, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "login.failure")
            .collect();
        assert_eq!(failures.len(), 5);
        let target = &failures[0].target;
        assert_eq!(target.chars().count(), 256, "the audit log bounds values");
        assert!(target.ends_with('…'));
        assert_eq!(
            login_raw(&app, &client(), &long).await.status(),
            429,
            "the failures count"
        );
        // A name that is merely not a username stays the generic 401.
        assert_eq!(login_raw(&app, &client(), "bad name!").await.status(), 401);
    }
);

both_backends!(
    store_errors_name_their_cause_without_the_values,
    |app| async {
        // Only reachable by calling the store directly now that every reader refuses
        // NUL: PostgreSQL cannot store it in text.
        let result = app.store().create_group("secret\u{0}value", "").await;
        match app.backend {
            Backend::Postgres => {
                let message = result.unwrap_err().to_string();
                assert!(message.contains("SQLSTATE 22021"), "{message}");
                assert!(message.contains("invalid byte sequence"), "{message}");
                assert!(!message.contains("secret"), "{message}");
            }
            Backend::Sqlite => {
                result.unwrap();
            }
        }
    }
);

both_backends!(
    nul_in_an_agent_heartbeat_is_a_400_naming_the_fact,
    |app| async {
        let (id, credential) = app.agent_token("edge-01").await;
        let viewer = app.api_token(Role::Viewer).await;
        let agent = |app: &TestApp| {
            app.with_token(Method::GET, &format!("/api/v1/agents/{id}"), &viewer)
                .send()
        };
        let (_, before) = status_json(agent(&app).await.unwrap()).await;
        let (status, answer) = status_json(
            bare_client()
                .post(app.url("/api/v1/agent/heartbeat"))
                .bearer_auth(&credential)
                .json(&json!({
                    "hostname": "edge-01",
                    "facts": {"os": "Debian\u{0}", "agent_version": "0.1.0"},
                    "sent_at_ms": 1_764_100_000_000i64
                }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(
            message.contains("facts.os") && message.contains("NUL"),
            "{message}"
        );
        let (_, after) = status_json(agent(&app).await.unwrap()).await;
        assert_eq!(after, before, "nothing stored changed");
    }
);
