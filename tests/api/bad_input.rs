//! Bad input gets a precise 4xx and changes nothing: malformed JSON, wrong types,
//! unknown fields, wrong content types, oversized bodies (with and without
//! Content-Length), unknown routes and methods, and invalid test definitions.

use crate::both_backends;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use streamswarm_schema::Role;

const LIMIT: usize = 64 * 1024;

/// What the requests below could change, as the API lists it.
const LISTED: &[&str] = &[
    "/api/v1/groups",
    "/api/v1/tests",
    "/api/v1/users",
    "/api/v1/tokens",
    "/api/v1/settings",
    "/api/v1/audit",
];

async fn listing(app: &TestApp, token: &str) -> Value {
    crate::helpers::listing(app, token, LISTED).await
}

fn raw(app: &TestApp, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.with_token(method, path, token)
}

fn json_body(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: &str,
) -> reqwest::RequestBuilder {
    raw(app, token, method, path)
        .header("content-type", "application/json")
        .body(body.to_owned())
}

fn error_fields(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

both_backends!(malformed_json_says_where, |app| async {
    let token = app.api_token(Role::Admin).await;
    let before = listing(&app, &token).await;
    for (body, at) in [
        (
            "{\"name\": \"x\",\n  \"description\": }",
            "line 2 column 18",
        ),
        ("{\"name\": \"x\"", "line 1 column 12"),
        ("{\"name\" \"x\"}", "line 1 column 9"),
        ("", "line 1 column 0"),
    ] {
        let (status, err) = status_json(
            json_body(&app, &token, Method::POST, "/api/v1/groups", body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{body:?}: {err}");
        assert_eq!(err["error"]["code"], "bad_request", "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(at), "{body:?}: {message} should say {at}");
    }
    assert_eq!(listing(&app, &token).await, before);
});

both_backends!(wrong_field_type_names_the_field, |app| async {
    let token = app.api_token(Role::Admin).await;
    let before = listing(&app, &token).await;
    for (path, body, field) in [
        ("/api/v1/groups", json!({"name": 5}), "name"),
        (
            "/api/v1/groups",
            json!({"name": "ok", "description": ["x"]}),
            "description",
        ),
        (
            "/api/v1/users",
            json!({"username": "zed", "password": "long-enough-pw", "role": "root"}),
            "role",
        ),
        (
            "/api/v1/tests",
            json!({"name": "t", "kind": "ping", "target": "192.0.2.1",
                   "schedule": {"interval_seconds": "sixty"}}),
            "schedule.interval_seconds",
        ),
        (
            "/api/v1/tests",
            json!({"name": "t", "kind": "ping", "target": "192.0.2.1",
                   "schedule": {"interval_seconds": -5}}),
            "schedule.interval_seconds",
        ),
        (
            "/api/v1/tests",
            json!({"name": "t", "kind": "smoke-signal", "target": "192.0.2.1",
                   "schedule": {"interval_seconds": 60}}),
            "kind",
        ),
        (
            "/api/v1/tokens",
            json!({"kind": "api", "name": "t", "uses": "many"}),
            "uses",
        ),
    ] {
        let (status, err) = status_json(
            raw(&app, &token, Method::POST, path)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"]["code"], "invalid", "{body}: {err}");
        assert_eq!(error_fields(&err), [field], "{body}: {err}");
    }
    assert_eq!(listing(&app, &token).await, before);
});

both_backends!(unknown_fields_are_refused, |app| async {
    let token = app.api_token(Role::Admin).await;
    let before = listing(&app, &token).await;
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/groups",
            json!({"name": "g", "colour": "red"}),
        ),
        (
            Method::POST,
            "/api/v1/users",
            json!({"username": "zed", "password": "long-enough-pw", "role": "viewer", "is_admin": true}),
        ),
        (
            Method::POST,
            "/api/v1/tests",
            json!({"name": "t", "kind": "ping", "target": "192.0.2.1",
                   "schedule": {"interval_seconds": 60, "colour": "red"}}),
        ),
        (
            Method::POST,
            "/api/v1/tokens",
            json!({"kind": "api", "name": "t", "colour": "red"}),
        ),
        (Method::PATCH, "/api/v1/settings", json!({"colour": 5})),
    ] {
        let (status, err) = status_json(
            raw(&app, &token, method.clone(), path)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{method} {path} {body}: {err}");
        let said = err.to_string();
        assert!(
            said.contains("colour") || said.contains("is_admin"),
            "the error should name the unknown field: {err}"
        );
    }
    assert_eq!(listing(&app, &token).await, before);
});

both_backends!(wrong_content_type_is_refused, |app| async {
    let token = app.api_token(Role::Admin).await;
    let before = listing(&app, &token).await;
    let body = r#"{"name": "typed"}"#;
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut req = raw(&app, &token, Method::POST, "/api/v1/groups").body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let (status, err) = status_json(req.send().await.unwrap()).await;
        assert_eq!(status, 400, "{ct:?}: {err}");
        assert_eq!(err["error"]["code"], "bad_request");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{err}"
        );
    }
    assert_eq!(listing(&app, &token).await, before);
    // The same body with the right type works.
    let resp = json_body(&app, &token, Method::POST, "/api/v1/groups", body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = json_body(
        &app,
        &token,
        Method::POST,
        "/api/v1/groups",
        r#"{"name":"utf"}"#,
    )
    .header("content-type", "application/json; charset=utf-8")
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
});

/// A JSON group whose serialisation is exactly `len` bytes.
fn group_of_len(len: usize) -> String {
    let skeleton = r#"{"name":"big","description":""}"#;
    let pad = len - skeleton.len();
    let body = format!(r#"{{"name":"big","description":"{}"}}"#, "d".repeat(pad));
    assert_eq!(body.len(), len);
    body
}

both_backends!(
    bodies_over_the_limit_get_413_with_content_length,
    |app| async {
        let token = app.api_token(Role::Admin).await;
        let before = listing(&app, &token).await;
        // Exactly at the limit: read and judged on its content (a too-long description).
        let (status, err) = status_json(
            json_body(
                &app,
                &token,
                Method::POST,
                "/api/v1/groups",
                &group_of_len(LIMIT),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{err}");
        assert_eq!(error_fields(&err), ["description"]);
        // One byte over: refused before it is parsed.
        for len in [LIMIT + 1, 4 * LIMIT] {
            let (status, err) = status_json(
                json_body(
                    &app,
                    &token,
                    Method::POST,
                    "/api/v1/groups",
                    &group_of_len(len),
                )
                .send()
                .await
                .unwrap(),
            )
            .await;
            assert_eq!(status, 413, "{len} bytes: {err}");
            assert_eq!(err["error"]["code"], "payload_too_large", "{err}");
        }
        // Also before authentication, and on the public login form.
        let resp = bare_client()
            .post(app.url("/api/v1/groups"))
            .header("content-type", "application/json")
            .body(group_of_len(LIMIT + 1))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413);
        let resp = bare_client()
            .post(app.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a".repeat(LIMIT + 1))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413);
        assert_eq!(listing(&app, &token).await, before);
    }
);

/// `total` bytes of JSON in `chunk`-byte pieces, sent without a Content-Length; with
/// `then_stall` the stream never ends after them (a client still "sending").
fn chunked(total: usize, chunk: usize, then_stall: bool) -> reqwest::Body {
    use futures_util::StreamExt;
    let body = group_of_len(total).into_bytes();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(chunk).map(|c| Ok(c.to_vec())).collect();
    let stream = futures_util::stream::iter(chunks);
    if then_stall {
        reqwest::Body::wrap_stream(stream.chain(futures_util::stream::pending()))
    } else {
        reqwest::Body::wrap_stream(stream)
    }
}

both_backends!(bodies_over_the_limit_get_413_when_chunked, |app| async {
    let token = app.api_token(Role::Admin).await;
    let before = listing(&app, &token).await;
    // A body that ends just past the limit; and bodies that pass the limit and then
    // keep the request open: the server answers as soon as the limit is crossed,
    // without waiting for (or buffering) the rest.
    for (total, chunk, stall) in [
        (LIMIT + 1, 4096, false),
        (LIMIT + 1, 1000, true),
        (2 * LIMIT, 65_536, true),
    ] {
        let resp = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            raw(&app, &token, Method::POST, "/api/v1/groups")
                .header("content-type", "application/json")
                .body(chunked(total, chunk, stall))
                .send(),
        )
        .await
        .expect("the server answers once the limit is crossed")
        .unwrap();
        assert!(resp.headers().get("content-type").is_some());
        let (status, err) = status_json(resp).await;
        assert_eq!(status, 413, "{total} bytes in {chunk}-byte chunks: {err}");
        assert_eq!(err["error"]["code"], "payload_too_large");
    }
    assert_eq!(listing(&app, &token).await, before);
    // A chunked body under the limit is read normally.
    let small = r#"{"name":"chunky"}"#.as_bytes().to_vec();
    let parts: Vec<Result<Vec<u8>, std::io::Error>> =
        small.chunks(3).map(|c| Ok(c.to_vec())).collect();
    let resp = raw(&app, &token, Method::POST, "/api/v1/groups")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            parts,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
});

both_backends!(unknown_routes_and_methods, |app| async {
    let token = app.api_token(Role::Admin).await;
    for (client_token, method, path) in [
        (Some(&token), Method::GET, "/api/v1/nope"),
        (Some(&token), Method::GET, "/api/v2/me"),
        (Some(&token), Method::POST, "/api/v1/tests/1/run"),
        (None, Method::GET, "/api/v1/nope"),
    ] {
        let req = match client_token {
            Some(t) => raw(&app, t, method.clone(), path),
            None => bare_client().request(method.clone(), app.url(path)),
        };
        let resp = req.send().await.unwrap();
        assert_eq!(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        let (status, err) = status_json(resp).await;
        assert_eq!(status, 404, "{method} {path}: {err}");
        assert_eq!(err["error"]["code"], "not_found", "{err}");
    }
    for (method, path) in [
        (Method::PUT, "/api/v1/me"),
        (Method::DELETE, "/api/v1/settings"),
        (Method::POST, "/api/v1/tokens/1"),
        (Method::PATCH, "/api/v1/tests"),
    ] {
        let (status, err) = status_json(
            raw(&app, &token, method.clone(), path)
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 405, "{method} {path}: {err}");
        assert_eq!(err["error"]["code"], "method_not_allowed", "{err}");
    }
    // A non-numeric id is a 404 too, not a 500.
    let (status, _) = status_json(
        raw(&app, &token, Method::GET, "/api/v1/tests/abc")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
});

fn valid_test() -> Value {
    json!({
        "name": "gateway",
        "kind": "ping",
        "target": "192.0.2.1",
        "params": {"count": 3},
        "schedule": {"interval_seconds": 60, "jitter_seconds": 5}
    })
}

/// `valid_test()` with the keys of `patch` replaced (`schedule` merged key by key).
fn with(patch: Value) -> Value {
    let mut t = valid_test();
    for (k, v) in patch.as_object().unwrap() {
        match (t.get_mut(k), v) {
            (Some(Value::Object(base)), Value::Object(extra)) if k == "schedule" => {
                for (k2, v2) in extra {
                    base.insert(k2.clone(), v2.clone());
                }
            }
            _ => {
                t[k] = v.clone();
            }
        }
    }
    t
}

both_backends!(invalid_test_definitions_name_each_field, |app| async {
    let token = app.api_token(Role::Operator).await;
    let admin = app.api_token(Role::Admin).await;
    // One existing test, so that PUT can be tried too.
    let (status, existing) = status_json(
        raw(&app, &token, Method::POST, "/api/v1/tests")
            .json(&valid_test())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{existing}");
    let put_path = format!("/api/v1/tests/{}", existing["id"]);
    let before = listing(&app, &admin).await;
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "bad target",
            with(json!({"target": "exa mple.net"})),
            vec!["target"],
        ),
        (
            "tcp target without port",
            with(json!({"kind": "tcp", "target": "example.net", "params": {}})),
            vec!["target"],
        ),
        (
            "http target with another scheme",
            with(json!({"kind": "http", "target": "ftp://example.net", "params": {}})),
            vec!["target"],
        ),
        (
            "out-of-range params",
            with(json!({"params": {"count": 0, "timeout_ms": 1, "dscp": 64}})),
            vec!["params.count", "params.timeout_ms", "params.dscp"],
        ),
        (
            "unknown param key",
            with(json!({"params": {"cuont": 3}})),
            vec!["params"],
        ),
        (
            "param of another kind",
            with(json!({"params": {"max_ttl": 3}})),
            vec!["params"],
        ),
        (
            "jitter equal to interval",
            with(json!({"schedule": {"interval_seconds": 60, "jitter_seconds": 60}})),
            vec!["schedule.jitter_seconds"],
        ),
        (
            "jitter above interval",
            with(json!({"schedule": {"interval_seconds": 60, "jitter_seconds": 600}})),
            vec!["schedule.jitter_seconds"],
        ),
        (
            "interval out of range",
            with(json!({"schedule": {"interval_seconds": 86_401, "jitter_seconds": 0}})),
            vec!["schedule.interval_seconds"],
        ),
        (
            "end before start",
            with(json!({"schedule": {"start_at_ms": 2_000_000, "end_at_ms": 1_000_000}})),
            vec!["schedule.end_at_ms"],
        ),
        (
            "end equal to start",
            with(json!({"schedule": {"start_at_ms": 2_000_000, "end_at_ms": 2_000_000}})),
            vec!["schedule.end_at_ms"],
        ),
        (
            "nonexistent agent",
            with(json!({"assignments": {"agents": [424242]}})),
            vec!["assignments.agents"],
        ),
        (
            "nonexistent group",
            with(json!({"assignments": {"groups": [424242]}})),
            vec!["assignments.groups"],
        ),
        ("empty name", with(json!({"name": "  "})), vec!["name"]),
        (
            "everything at once",
            with(json!({
                "name": "",
                "target": "not a host",
                "params": {"count": 5000},
                "schedule": {"interval_seconds": 10, "jitter_seconds": 10,
                             "start_at_ms": 5, "end_at_ms": 4},
                "assignments": {"agents": [424242]}
            })),
            vec![
                "name",
                "params.count",
                "target",
                "schedule.jitter_seconds",
                "schedule.end_at_ms",
                "assignments.agents",
            ],
        ),
    ];
    for (label, body, fields) in &cases {
        for (method, path) in [
            (Method::POST, "/api/v1/tests"),
            (Method::PUT, put_path.as_str()),
        ] {
            let (status, err) = status_json(
                raw(&app, &token, method.clone(), path)
                    .json(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 400, "{label} ({method}): {err}");
            assert_eq!(err["error"]["code"], "invalid", "{label}: {err}");
            let mut got = error_fields(&err);
            let mut want: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{label} ({method}): {err}");
            for d in err["error"]["details"].as_array().unwrap() {
                assert!(
                    !d["message"].as_str().unwrap().is_empty(),
                    "{label}: every problem says why: {err}"
                );
            }
        }
        assert_eq!(
            listing(&app, &admin).await,
            before,
            "{label}: a rejected request changed something"
        );
    }
    // Assignments to agents and groups that exist are accepted.
    let agent = app
        .store()
        .create_agent("edge-1", "edge-1.lan")
        .await
        .unwrap();
    let group = app.store().create_group("edge", "").await.unwrap();
    let (status, created) = status_json(
        raw(&app, &token, Method::POST, "/api/v1/tests")
            .json(&with(
                json!({"assignments": {"agents": [agent.id], "groups": [group.id]}}),
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["assignments"]["agents"], json!([agent.id]));
});

both_backends!(rejected_user_changes_change_nothing, |app| async {
    let token = app.api_token(Role::Admin).await;
    let before = listing(&app, &token).await;
    let vera = app.user_id("vera").await;
    let otto = app.user_id("otto").await;
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/users".to_owned(),
            json!({"username": "zed", "password": "short", "role": "viewer"}),
        ),
        (
            Method::POST,
            "/api/v1/users".to_owned(),
            json!({"username": "no spaces", "password": "long-enough-pw", "role": "viewer"}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{vera}"),
            json!({"password": "short", "role": "admin"}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{otto}"),
            json!({"role": "admin", "password": "long-enough-but", "disabled": "yes"}),
        ),
        (
            Method::PATCH,
            "/api/v1/settings".to_owned(),
            json!({"session_idle_timeout_minutes": 0, "raw_retention_days": 7}),
        ),
        (
            Method::PATCH,
            "/api/v1/settings".to_owned(),
            json!({"heartbeat_interval_seconds": 60}),
        ),
        (
            Method::POST,
            "/api/v1/tokens".to_owned(),
            json!({"kind": "api", "name": "t", "expires": "soon"}),
        ),
        (
            Method::POST,
            "/api/v1/tokens".to_owned(),
            json!({"kind": "enrol", "name": "t", "role": "admin"}),
        ),
        (
            Method::POST,
            "/api/v1/tokens".to_owned(),
            json!({"kind": "agent", "name": "t"}),
        ),
    ] {
        let (status, err) = status_json(
            raw(&app, &token, method.clone(), &path)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{method} {path} {body}: {err}");
        assert!(!error_fields(&err).is_empty(), "{err}");
        assert_eq!(
            listing(&app, &token).await,
            before,
            "{method} {path} {body} changed something"
        );
    }
    // The refused password change did not take: the old password still works.
    let c = client();
    assert_eq!(
        app.post_login(&c, "vera", password(Role::Viewer))
            .await
            .status(),
        303
    );
});

both_backends!(conflicting_user_update_applies_nothing, |app| async {
    // An admin token (acting for no user) tries to set the only admin's password and
    // disable her: disabling the last admin is refused, so the password must not change
    // either, and her sessions must survive.
    let token = app.api_token(Role::Admin).await;
    let (_s, ada_session) = app.login_with_id(Role::Admin).await;
    let ada = app.user_id("ada").await;
    let (status, err) = status_json(
        raw(&app, &token, Method::PATCH, &format!("/api/v1/users/{ada}"))
            .json(&json!({"password": "a-brand-new-password", "disabled": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 409, "{err}");
    let c = client();
    assert_eq!(
        app.post_login(&c, "ada", password(Role::Admin))
            .await
            .status(),
        303,
        "the refused update changed the password"
    );
    let resp = app
        .with_session_id(Method::GET, "/api/v1/me", &ada_session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the refused update ended her sessions");
    let audit = app.store().audit_entries(100, None).await.unwrap();
    assert!(
        !audit.iter().any(|e| e.action == "user.password"),
        "{audit:?}"
    );
});
