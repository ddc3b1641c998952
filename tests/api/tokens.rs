//! API tokens through the JSON API: the secret is shown once, works as a Bearer
//! credential within its role, and stops working when expired, used up, revoked or
//! tampered with. Enrolment tokens are not API credentials; only admins mint tokens.

use crate::both_backends;
use crate::helpers::*;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::time::Duration;
use streamswarm::store::tokens::TokenKind;
use streamswarm_schema::Role;

async fn create(app: &TestApp, admin: &Session, body: Value) -> Value {
    let (status, created) = status_json(
        admin
            .send(app, Method::POST, "/api/v1/tokens")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn me_with(app: &TestApp, token: &str) -> (u16, Value) {
    status_json(
        app.with_token(Method::GET, "/api/v1/me", token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn list(app: &TestApp, admin: &Session) -> (String, Vec<Value>) {
    let resp = admin.get(app, "/api/v1/tokens").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let v: Vec<Value> = serde_json::from_str(&text).unwrap();
    (text, v)
}

fn assert_401(status: u16, body: &Value) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
}

both_backends!(
    created_token_is_shown_once_and_works_as_bearer,
    |app| async {
        let admin = app.login(Role::Admin).await;
        let created = create(
            &app,
            &admin,
            json!({"kind": "api", "name": "ci pipeline", "role": "operator"}),
        )
        .await;
        let secret = created["token"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("ssw_api_"), "{secret}");
        assert_eq!(secret.len(), "ssw_api_".len() + 22 + 6);
        let prefix = created["prefix"].as_str().unwrap();
        assert!(secret.starts_with(prefix) && prefix.len() < secret.len() - 20);
        assert_eq!(created["kind"], "api");
        assert_eq!(created["role"], "operator");
        assert!(created["last_used_at"].is_null());

        // The list shows the token but never its secret (nor its hash).
        let (text, tokens) = list(&app, &admin).await;
        assert!(!text.contains(&secret), "{text}");
        assert!(!text.contains(&secret[prefix.len()..]), "{text}");
        assert!(!text.contains("secret"), "{text}");
        assert!(!text.contains(&streamswarm::auth::token::hash(&secret)));
        let listed = tokens.iter().find(|t| t["id"] == created["id"]).unwrap();
        assert!(listed.get("token").is_none(), "{listed}");
        assert_eq!(listed["prefix"], prefix);
        assert!(listed["last_used_at"].is_null());

        // It authenticates, as a token with its role, without creating a session.
        let resp = app
            .with_token(Method::GET, "/api/v1/me", &secret)
            .send()
            .await
            .unwrap();
        assert!(set_cookies(&resp).is_empty());
        let (status, me) = status_json(resp).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["kind"], "token");
        assert_eq!(me["role"], "operator");
        assert_eq!(me["token"]["id"], created["id"]);
        assert!(me.get("csrf_token").is_none(), "{me}");
        assert!(!me.to_string().contains(&secret));
        let (status, _) = status_json(
            app.with_token(Method::POST, "/api/v1/groups", &secret)
                .json(&json!({"name": "made by ci"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201);

        // Its use is recorded.
        let (_, tokens) = list(&app, &admin).await;
        let listed = tokens.iter().find(|t| t["id"] == created["id"]).unwrap();
        let used = listed["last_used_at"].as_str().expect("last_used_at set");
        let now = streamswarm::clock::Timestamp(app.clock.now_ms()).rfc3339();
        assert_eq!(used, now);
    }
);

both_backends!(token_expires, |app| async {
    let admin = app.login(Role::Admin).await;
    let created = create(
        &app,
        &admin,
        json!({"kind": "api", "name": "short-lived", "expires": "1h"}),
    )
    .await;
    let secret = created["token"].as_str().unwrap();
    assert!(created["expires_at"].is_string());
    assert_eq!(me_with(&app, secret).await.0, 200);
    app.clock.advance(Duration::from_secs(59 * 60));
    assert_eq!(me_with(&app, secret).await.0, 200);
    app.clock.advance(Duration::from_secs(61 * 60));
    let (status, body) = me_with(&app, secret).await;
    assert_401(status, &body);
    // A token without expiry created at the same time still works.
    let forever = app.api_token(Role::Viewer).await;
    app.clock.advance(Duration::from_secs(365 * 86_400));
    assert_eq!(me_with(&app, &forever).await.0, 200);
});

both_backends!(token_use_count_is_enforced, |app| async {
    let admin = app.login(Role::Admin).await;
    let created = create(
        &app,
        &admin,
        json!({"kind": "api", "name": "twice", "uses": 2}),
    )
    .await;
    let secret = created["token"].as_str().unwrap();
    assert_eq!(created["uses_remaining"], 2);
    assert_eq!(me_with(&app, secret).await.0, 200);
    assert_eq!(me_with(&app, secret).await.0, 200);
    let (status, body) = me_with(&app, secret).await;
    assert_401(status, &body);
    let (status, body) = me_with(&app, secret).await;
    assert_401(status, &body);
    let (_, tokens) = list(&app, &admin).await;
    let listed = tokens.iter().find(|t| t["id"] == created["id"]).unwrap();
    assert_eq!(listed["uses_remaining"], 0);
});

both_backends!(revoked_token_stops_working, |app| async {
    let admin = app.login(Role::Admin).await;
    let created = create(&app, &admin, json!({"kind": "api", "name": "doomed"})).await;
    let secret = created["token"].as_str().unwrap();
    let keep = create(&app, &admin, json!({"kind": "api", "name": "kept"})).await;
    assert_eq!(me_with(&app, secret).await.0, 200);
    let (status, revoked) = status_json(
        admin
            .send(
                &app,
                Method::DELETE,
                &format!("/api/v1/tokens/{}", created["id"]),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    let (status, body) = me_with(&app, secret).await;
    assert_401(status, &body);
    // Only that token.
    assert_eq!(me_with(&app, keep["token"].as_str().unwrap()).await.0, 200);
    // Revoking something that does not exist is a 404.
    let resp = admin
        .send(&app, Method::DELETE, "/api/v1/tokens/999999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
});

both_backends!(tampered_or_foreign_tokens_are_refused, |app| async {
    let secret = app.api_token(Role::Admin).await;
    assert_eq!(me_with(&app, &secret).await.0, 200);
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut variants = Vec::new();
    for i in ["ssw_api_".len(), 15, secret.len() - 6, secret.len() - 1] {
        let mut b = secret.clone().into_bytes();
        b[i] = *alphabet.iter().find(|c| **c != b[i]).unwrap();
        variants.push(String::from_utf8(b).unwrap());
    }
    variants.push(secret[..secret.len() - 1].to_owned());
    variants.push(format!("{secret}x"));
    variants.push(secret.to_uppercase());
    variants.push(secret.replacen("ssw_api_", "ssw_agt_", 1));
    // Well-formed, correct checksum, but never issued.
    variants.push(
        streamswarm::auth::token::generate(TokenKind::Api)
            .secret
            .expose_secret()
            .to_owned(),
    );
    variants.push(String::new());
    for v in &variants {
        assert_ne!(v, &secret);
        let (status, body) = me_with(&app, v).await;
        assert_401(status, &body);
    }
    // Malformed Authorization headers are refused rather than ignored.
    for header in [
        format!("Basic {secret}"),
        format!("bearer{secret}"),
        secret.clone(),
    ] {
        let (status, body) = status_json(
            bare_client()
                .get(app.url("/api/v1/me"))
                .header("authorization", header.as_str())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_401(status, &body);
    }
    // The real one still works.
    assert_eq!(me_with(&app, &secret).await.0, 200);
});

both_backends!(enrolment_tokens_are_not_api_credentials, |app| async {
    let admin = app.login(Role::Admin).await;
    let created = create(&app, &admin, json!({"kind": "enrol", "name": "rack 7"})).await;
    let secret = created["token"].as_str().unwrap();
    assert!(secret.starts_with("ssw_enr_"), "{secret}");
    assert!(created["role"].is_null());
    for (method, path) in [
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/agents"),
        (Method::GET, "/api/v1/tests"),
    ] {
        let (status, body) =
            status_json(app.with_token(method, path, secret).send().await.unwrap()).await;
        assert_401(status, &body);
    }
    // Presenting it did not consume it.
    let (_, tokens) = list(&app, &admin).await;
    let listed = tokens.iter().find(|t| t["id"] == created["id"]).unwrap();
    assert!(listed["last_used_at"].is_null(), "{listed}");
});

both_backends!(token_role_limits_access, |app| async {
    let admin = app.login(Role::Admin).await;
    let viewer = create(
        &app,
        &admin,
        json!({"kind": "api", "name": "dashboards", "role": "viewer"}),
    )
    .await;
    let viewer = viewer["token"].as_str().unwrap();
    let operator = create(
        &app,
        &admin,
        json!({"kind": "api", "name": "provisioning", "role": "operator"}),
    )
    .await;
    let operator = operator["token"].as_str().unwrap();
    let test = json!({
        "name": "gateway",
        "kind": "ping",
        "target": "192.0.2.1",
        "schedule": {"interval_seconds": 60}
    });
    let (status, body) = status_json(
        app.with_token(Method::POST, "/api/v1/tests", viewer)
            .json(&test)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, page) = status_json(
        app.with_token(Method::GET, "/api/v1/tests", viewer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 0, "the refused create stored nothing");
    for path in ["/api/v1/users", "/api/v1/tokens", "/api/v1/audit"] {
        let resp = app
            .with_token(Method::GET, path, operator)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{path}");
    }
    let (status, body) = status_json(
        app.with_token(Method::POST, "/api/v1/tests", operator)
            .json(&test)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
});

both_backends!(only_admins_create_tokens, |app| async {
    let admin = app.login(Role::Admin).await;
    let before = list(&app, &admin).await.1;
    let body = json!({"kind": "api", "name": "escalation", "role": "admin"});
    for role in [Role::Operator, Role::Viewer] {
        let s = app.login(role).await;
        let (status, resp) = status_json(
            s.send(&app, Method::POST, "/api/v1/tokens")
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 403, "{role}: {resp}");
        assert_eq!(resp["error"]["code"], "forbidden");
        let token = app.api_token(role).await;
        let (status, _) = status_json(
            app.with_token(Method::POST, "/api/v1/tokens", &token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 403, "{role} token");
        let (status, _) = status_json(
            app.with_token(Method::POST, "/api/v1/tokens", &token)
                .json(&json!({"kind": "enrol", "name": "sneaky"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 403, "{role} token, enrol kind");
    }
    let after = list(&app, &admin).await.1;
    let minted_by_others: Vec<_> = after
        .iter()
        .filter(|t| t["name"] == "escalation" || t["name"] == "sneaky")
        .collect();
    assert!(minted_by_others.is_empty(), "{minted_by_others:?}");
    assert_eq!(after.len(), before.len() + 2, "only the two helper tokens");
    // Admin sessions and admin tokens may.
    create(&app, &admin, body.clone()).await;
    let admin_token = app.api_token(Role::Admin).await;
    let (status, _) = status_json(
        app.with_token(Method::POST, "/api/v1/tokens", &admin_token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
});
