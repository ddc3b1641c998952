//! The audit log records who did what, from where: logins (both outcomes), user,
//! token, settings and test changes. It never holds a password or a token secret.

use crate::both_backends;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use streamswarm_schema::Role;

async fn audit(app: &TestApp, admin: &Session) -> Vec<Value> {
    let (status, entries) = status_json(
        admin
            .get(app, "/api/v1/audit?limit=1000")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{entries}");
    entries.as_array().unwrap().clone()
}

/// The entries with `action` and `target`, oldest first.
fn find<'a>(entries: &'a [Value], action: &str, target: &str) -> Vec<&'a Value> {
    let mut found: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == action && e["target"] == target)
        .collect();
    found.reverse();
    found
}

fn one<'a>(entries: &'a [Value], action: &str, target: &str) -> &'a Value {
    let found = find(entries, action, target);
    assert_eq!(
        found.len(),
        1,
        "expected one {action} {target} entry in {entries:#?}"
    );
    found[0]
}

both_backends!(every_security_relevant_action_is_audited, |app| async {
    let new_password = "carol-first-password";
    let reset_password = "carol-reset-password";
    let ada_new_password = "ada-changed-password";
    // Logins: one failure with a wrong password, one for an unknown user, one success.
    let c = client();
    assert_eq!(
        app.post_login(&c, "ada", "wrong-password-for-ada")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.post_login(&c, "mallory", "mallory-password")
            .await
            .status(),
        401
    );
    let admin = app.login(Role::Admin).await;
    // Users.
    let (status, carol) = status_json(
        admin
            .send(&app, Method::POST, "/api/v1/users")
            .json(&json!({"username": "carol", "password": new_password, "role": "viewer"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{carol}");
    let carol_path = format!("/api/v1/users/{}", carol["id"]);
    for change in [
        json!({"role": "operator"}),
        json!({"disabled": true}),
        json!({"password": reset_password}),
    ] {
        let resp = admin
            .send(&app, Method::PATCH, &carol_path)
            .json(&change)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{change}");
    }
    let resp = admin
        .send(&app, Method::POST, "/api/v1/me/password")
        .json(&json!({"current_password": password(Role::Admin), "new_password": ada_new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // Tokens.
    let (status, token) = status_json(
        admin
            .send(&app, Method::POST, "/api/v1/tokens")
            .json(&json!({"kind": "api", "name": "audited", "role": "operator"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let secret = token["token"].as_str().unwrap().to_owned();
    let token_target = format!("token:{}", token["id"]);
    let resp = admin
        .send(
            &app,
            Method::DELETE,
            &format!("/api/v1/tokens/{}", token["id"]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Settings.
    let resp = admin
        .send(&app, Method::PATCH, "/api/v1/settings")
        .json(&json!({"session_idle_timeout_minutes": 20}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Tests.
    let (status, test) = status_json(
        admin
            .send(&app, Method::POST, "/api/v1/tests")
            .json(&json!({
                "name": "uplink",
                "kind": "tcp",
                "target": "192.0.2.7:443",
                "schedule": {"interval_seconds": 30}
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let test_target = format!("test:{}", test["id"]);
    let resp = admin
        .send(
            &app,
            Method::DELETE,
            &format!("/api/v1/tests/{}", test["id"]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    let entries = audit(&app, &admin).await;
    let here = Some("127.0.0.1");
    let failures = find(&entries, "login.failure", "ada");
    assert_eq!(failures.len(), 1, "{entries:#?}");
    assert_eq!(failures[0]["actor"], "anonymous");
    assert_eq!(failures[0]["source_ip"].as_str(), here);
    let unknown = one(&entries, "login.failure", "mallory");
    assert_eq!(unknown["source_ip"].as_str(), here);
    let success = one(&entries, "login.success", "ada");
    assert_eq!(success["actor"], "user:ada");
    assert_eq!(success["source_ip"].as_str(), here);

    let e = one(&entries, "user.create", "carol");
    assert_eq!(e["actor"], "user:ada");
    assert_eq!(e["source_ip"].as_str(), here);
    assert_eq!(e["details"]["role"], "viewer");
    let e = one(&entries, "user.role", "carol");
    assert_eq!(e["actor"], "user:ada");
    assert_eq!(e["details"]["from"], "viewer");
    assert_eq!(e["details"]["to"], "operator");
    assert_eq!(one(&entries, "user.disable", "carol")["actor"], "user:ada");
    assert_eq!(one(&entries, "user.password", "carol")["actor"], "user:ada");
    assert_eq!(one(&entries, "user.password", "ada")["actor"], "user:ada");

    let e = one(&entries, "token.create", &token_target);
    assert_eq!(e["actor"], "user:ada");
    assert_eq!(e["details"]["kind"], "api");
    assert_eq!(e["details"]["role"], "operator");
    assert_eq!(e["details"]["prefix"], token["prefix"]);
    assert_eq!(
        one(&entries, "token.revoke", &token_target)["actor"],
        "user:ada"
    );

    let e = one(&entries, "settings.update", "settings");
    assert_eq!(e["actor"], "user:ada");
    assert_eq!(
        e["details"]["session_idle_timeout_minutes"],
        json!({"from": 30, "to": 20})
    );

    let e = one(&entries, "test.create", &test_target);
    assert_eq!(e["actor"], "user:ada");
    assert_eq!(e["details"]["name"], "uplink");
    assert_eq!(
        one(&entries, "test.delete", &test_target)["actor"],
        "user:ada"
    );

    // Newest first, with times from the server's clock.
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let now = streamswarm::clock::Timestamp(app.clock.now_ms()).rfc3339();
    assert!(entries.iter().all(|e| e["at"] == now.as_str()));

    // No secret anywhere in the log, through the API or straight from the store.
    let through_api = serde_json::to_string(&entries).unwrap();
    let from_store =
        serde_json::to_string(&app.store().audit_entries(10_000, None).await.unwrap()).unwrap();
    assert!(from_store.contains("carol") && through_api.contains("carol"));
    for secret in [
        password(Role::Admin),
        "wrong-password-for-ada",
        "mallory-password",
        new_password,
        reset_password,
        ada_new_password,
        secret.as_str(),
        &secret["ssw_api_".len()..],
        admin.csrf.as_str(),
    ] {
        assert!(
            !through_api.contains(secret),
            "audit (API) holds {secret:?}"
        );
        assert!(
            !from_store.contains(secret),
            "audit (store) holds {secret:?}"
        );
    }
});

both_backends!(audit_log_is_for_admins_only, |app| async {
    for role in [Role::Operator, Role::Viewer] {
        let s = app.login(role).await;
        let resp = s.get(&app, "/api/v1/audit").send().await.unwrap();
        assert_eq!(resp.status(), 403, "{role}");
    }
    let admin = app.login(Role::Admin).await;
    let entries = audit(&app, &admin).await;
    assert_eq!(find(&entries, "login.success", "otto").len(), 1);
    assert_eq!(find(&entries, "login.success", "vera").len(), 1);
    // Paging backwards with `before`.
    let newest = entries[0]["id"].as_i64().unwrap();
    let (status, older) = status_json(
        admin
            .get(&app, &format!("/api/v1/audit?limit=1&before={newest}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(older.as_array().unwrap().len(), 1);
    assert_eq!(older[0]["id"], entries[1]["id"]);
});

both_backends!(refused_actions_leave_no_success_record, |app| async {
    let admin = app.login(Role::Admin).await;
    let operator = app.login(Role::Operator).await;
    let before = app.store().audit_entries(1000, None).await.unwrap().len();
    // Forbidden, invalid and CSRF-less attempts.
    let attempts = [
        operator
            .send(&app, Method::POST, "/api/v1/users")
            .json(&json!({"username": "eve", "password": "eve-password-1", "role": "admin"})),
        admin
            .send(&app, Method::POST, "/api/v1/users")
            .json(&json!({"username": "eve", "password": "short", "role": "admin"})),
        admin
            .client
            .post(app.url("/api/v1/tokens"))
            .json(&json!({"kind": "api", "name": "no csrf"})),
    ];
    for a in attempts {
        let status = a.send().await.unwrap().status();
        assert!(status.is_client_error(), "{status}");
    }
    let after = app.store().audit_entries(1000, None).await.unwrap();
    assert_eq!(after.len(), before, "{after:#?}");
});
