//! Cross-site request forgery: session-authenticated state changes need the session's
//! own CSRF token and a same-origin request; the login form needs its double-submit
//! cookie; API tokens need no CSRF token.

use crate::both_backends;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use streamswarm_schema::Role;

fn ping_test(name: &str) -> Value {
    json!({
        "name": name,
        "kind": "ping",
        "target": "192.0.2.1",
        "schedule": {"interval_seconds": 60}
    })
}

/// Everything the state-changing requests below could touch.
async fn snapshot(app: &TestApp, admin: &Session) -> Value {
    let mut out = serde_json::Map::new();
    for path in [
        "/api/v1/groups",
        "/api/v1/tests",
        "/api/v1/settings",
        "/api/v1/users",
        "/api/v1/tokens",
    ] {
        let (status, body) = status_json(admin.get(app, path).send().await.unwrap()).await;
        assert_eq!(status, 200, "{path}");
        out.insert(path.into(), body);
    }
    Value::Object(out)
}

struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
}

async fn cases(app: &TestApp, admin: &Session) -> Vec<Case> {
    let (status, group) = status_json(
        admin
            .send(app, Method::POST, "/api/v1/groups")
            .json(&json!({"name": "edge"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let (status, test) = status_json(
        admin
            .send(app, Method::POST, "/api/v1/tests")
            .json(&ping_test("probe"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let vera = app.user_id("vera").await;
    vec![
        Case {
            method: Method::POST,
            path: "/api/v1/groups".into(),
            body: Some(json!({"name": "forged"})),
        },
        Case {
            method: Method::PUT,
            path: format!("/api/v1/tests/{}", test["id"]),
            body: Some(ping_test("renamed by a forger")),
        },
        Case {
            method: Method::PATCH,
            path: "/api/v1/settings".into(),
            body: Some(json!({"session_idle_timeout_minutes": 1440})),
        },
        Case {
            method: Method::PATCH,
            path: format!("/api/v1/users/{vera}"),
            body: Some(json!({"role": "admin"})),
        },
        Case {
            method: Method::POST,
            path: "/api/v1/tokens".into(),
            body: Some(json!({"kind": "api", "name": "forged", "role": "admin"})),
        },
        Case {
            method: Method::DELETE,
            path: format!("/api/v1/groups/{}", group["id"]),
            body: None,
        },
    ]
}

fn request(
    app: &TestApp,
    s: &Session,
    case: &Case,
    headers: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let mut r = s.client.request(case.method.clone(), app.url(&case.path));
    if let Some(b) = &case.body {
        r = r.json(b);
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r
}

async fn assert_refused(resp: reqwest::Response, what: &str) {
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 403, "{what}: {body}");
    assert_eq!(body["error"]["code"], "forbidden", "{what}: {body}");
}

both_backends!(
    session_writes_need_the_sessions_own_csrf_token,
    |app| async {
        let admin = app.login(Role::Admin).await;
        // A second session of the same user, and one of another user: their tokens differ.
        let admin2 = app.login(Role::Admin).await;
        let operator = app.login(Role::Operator).await;
        assert_ne!(admin.csrf, admin2.csrf);
        assert_ne!(admin.csrf, operator.csrf);
        let cases = cases(&app, &admin).await;
        let before = snapshot(&app, &admin).await;
        let wrong = "A".repeat(admin.csrf.len());
        let truncated = &admin.csrf[..admin.csrf.len() - 1];
        for case in &cases {
            let what = format!("{} {}", case.method, case.path);
            let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
                ("no token".into(), vec![]),
                ("empty token".into(), vec![("x-csrf-token", "")]),
                ("wrong token".into(), vec![("x-csrf-token", wrong.as_str())]),
                ("truncated token".into(), vec![("x-csrf-token", truncated)]),
                (
                    "token of another session of the same user".into(),
                    vec![("x-csrf-token", admin2.csrf.as_str())],
                ),
                (
                    "token of another user's session".into(),
                    vec![("x-csrf-token", operator.csrf.as_str())],
                ),
                (
                    "cross-origin Origin".into(),
                    vec![
                        ("x-csrf-token", admin.csrf.as_str()),
                        ("origin", "https://evil.example"),
                    ],
                ),
                (
                    "null Origin".into(),
                    vec![("x-csrf-token", admin.csrf.as_str()), ("origin", "null")],
                ),
                (
                    "Sec-Fetch-Site cross-site".into(),
                    vec![
                        ("x-csrf-token", admin.csrf.as_str()),
                        ("sec-fetch-site", "cross-site"),
                    ],
                ),
                (
                    "Sec-Fetch-Site same-site".into(),
                    vec![
                        ("x-csrf-token", admin.csrf.as_str()),
                        ("sec-fetch-site", "same-site"),
                    ],
                ),
            ];
            for (label, headers) in attempts {
                let resp = request(&app, &admin, case, &headers).send().await.unwrap();
                assert_refused(resp, &format!("{what} with {label}")).await;
            }
            assert_eq!(
                snapshot(&app, &admin).await,
                before,
                "{what}: a refused request changed something"
            );
        }
        // The same requests with the right token, as a same-origin browser sends them, work.
        for case in &cases {
            let resp = request(
                &app,
                &admin,
                case,
                &[
                    ("x-csrf-token", admin.csrf.as_str()),
                    ("origin", app.address.as_str()),
                    ("sec-fetch-site", "same-origin"),
                ],
            )
            .send()
            .await
            .unwrap();
            assert!(
                resp.status().is_success(),
                "{} {} → {}",
                case.method,
                case.path,
                resp.status()
            );
        }
        assert_ne!(snapshot(&app, &admin).await, before);
    }
);

both_backends!(csrf_token_as_form_field_is_checked_too, |app| async {
    // The HTML logout form sends the token as a field: a wrong one is refused.
    let (s, id) = app.login_with_id(Role::Viewer).await;
    for form in [
        vec![],
        vec![("csrf_token", "wrong")],
        vec![("csrf_token", "")],
    ] {
        let resp = s
            .client
            .post(app.url("/logout"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{form:?}");
        assert!(set_cookie_header(&resp, "ssw_session").is_none());
    }
    // Still signed in.
    let me = app
        .with_session_id(Method::GET, "/api/v1/me", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let resp = s
        .client
        .post(app.url("/logout"))
        .header("origin", "https://evil.example")
        .form(&[("csrf_token", s.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = s
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", s.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let me = app
        .with_session_id(Method::GET, "/api/v1/me", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
});

both_backends!(login_form_needs_its_double_submit_cookie, |app| async {
    let pw = password(Role::Admin);
    // The form's token, from a real GET /login.
    let c = bare_client();
    let form = c.get(app.url("/login")).send().await.unwrap();
    let cookie = set_cookie_value(&form, "ssw_login_csrf").expect("form cookie");
    let field = extract_input(&form.text().await.unwrap(), "csrf_token").unwrap();
    assert_eq!(cookie, field);
    let other = {
        let f = c.get(app.url("/login")).send().await.unwrap();
        set_cookie_value(&f, "ssw_login_csrf").unwrap()
    };
    assert_ne!(other, cookie);
    let attempts: Vec<(&str, Option<String>, Option<&str>)> = vec![
        ("neither cookie nor field", None, None),
        ("field without cookie", None, Some(field.as_str())),
        ("cookie without field", Some(cookie.clone()), None),
        ("wrong field", Some(cookie.clone()), Some("wrong")),
        ("empty cookie and field", Some(String::new()), Some("")),
        (
            "another form's cookie",
            Some(other.clone()),
            Some(field.as_str()),
        ),
    ];
    for (label, cookie_value, field_value) in attempts {
        let mut form: Vec<(&str, &str)> = vec![("username", "ada"), ("password", pw)];
        if let Some(f) = field_value {
            form.push(("csrf_token", f));
        }
        let mut req = c.post(app.url("/login")).form(&form);
        if let Some(v) = &cookie_value {
            req = req.header("cookie", format!("ssw_login_csrf={v}"));
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 403, "{label}");
        assert!(
            set_cookie_header(&resp, "ssw_session").is_none(),
            "{label}: no session may be issued"
        );
    }
    // Cross-site form posts are refused even with a matching pair.
    for (h, v) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let resp = c
            .post(app.url("/login"))
            .header("cookie", format!("ssw_login_csrf={cookie}"))
            .header(h, v)
            .form(&[
                ("username", "ada"),
                ("password", pw),
                ("csrf_token", cookie.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{h}: {v}");
        assert!(set_cookie_header(&resp, "ssw_session").is_none());
    }
    // None of these counted as a login, successful or failed.
    let audit = app.store().audit_entries(100, None).await.unwrap();
    assert!(
        !audit.iter().any(|e| e.action.starts_with("login.")),
        "{audit:?}"
    );
    // The matching pair works.
    let resp = c
        .post(app.url("/login"))
        .header("cookie", format!("ssw_login_csrf={cookie}"))
        .form(&[
            ("username", "ada"),
            ("password", pw),
            ("csrf_token", cookie.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(set_cookie_value(&resp, "ssw_session").is_some());
});

both_backends!(api_token_requests_need_no_csrf_token, |app| async {
    let token = app.api_token(Role::Admin).await;
    let (status, group) = status_json(
        app.with_token(Method::POST, "/api/v1/groups", &token)
            .json(&json!({"name": "from-automation"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{group}");
    let (status, _) = status_json(
        app.with_token(Method::PATCH, "/api/v1/settings", &token)
            .json(&json!({"session_idle_timeout_minutes": 45}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let resp = app
        .with_token(
            Method::DELETE,
            &format!("/api/v1/groups/{}", group["id"]),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // Whereas the same call with a session and no token is refused.
    let s = app.login(Role::Admin).await;
    let resp = s
        .client
        .post(app.url("/api/v1/groups"))
        .json(&json!({"name": "from-a-session"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let groups = app.store().list_groups().await.unwrap();
    assert!(groups.is_empty(), "{groups:?}");
});
