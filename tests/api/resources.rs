//! The JSON API's resources end to end: users, settings, groups, agents, tests.

use crate::both_backends;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use streamswarm_schema::Role;

async fn body(r: reqwest::Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

both_backends!(users_crud_and_last_admin_guard, |app| async {
    let s = app.login(Role::Admin).await;
    let u = body(
        s.send(&app, Method::POST, "/api/v1/users")
            .json(&json!({"username": "Zoe", "password": "zoes-password-1", "role": "viewer"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(u["username"], "zoe");
    let id = u["id"].as_i64().unwrap();
    let list = body(s.get(&app, "/api/v1/users").send().await.unwrap(), 200).await;
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert!(
        list.to_string().find("password").is_none(),
        "no password hash in user listings"
    );
    let u = body(
        s.send(&app, Method::PATCH, &format!("/api/v1/users/{id}"))
            .json(&json!({"role": "operator"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(u["role"], "operator");
    body(
        s.send(&app, Method::POST, "/api/v1/users")
            .json(&json!({"username": "zoe", "password": "zoes-password-1", "role": "viewer"}))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;

    // The only admin cannot demote or disable themself, nor be deleted by the last admin.
    let me = body(s.get(&app, "/api/v1/me").send().await.unwrap(), 200).await;
    let my_id = me["user"]["id"].as_i64().unwrap();
    body(
        s.send(&app, Method::PATCH, &format!("/api/v1/users/{my_id}"))
            .json(&json!({"role": "viewer"}))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    body(
        s.send(&app, Method::DELETE, &format!("/api/v1/users/{my_id}"))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;

    body(
        s.send(&app, Method::DELETE, &format!("/api/v1/users/{id}"))
            .send()
            .await
            .unwrap(),
        204,
    )
    .await;
    body(
        s.get(&app, &format!("/api/v1/users/{id}"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
});

both_backends!(own_password_change_ends_other_sessions, |app| async {
    let a = app.login(Role::Viewer).await;
    let b = app.login(Role::Viewer).await;
    body(
        a.send(&app, Method::POST, "/api/v1/me/password")
            .json(&json!({"current_password": "wrong-password", "new_password": "a-brand-new-password"}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    body(
        a.send(&app, Method::POST, "/api/v1/me/password")
            .json(&json!({"current_password": password(Role::Viewer), "new_password": "a-brand-new-password"}))
            .send()
            .await
            .unwrap(),
        204,
    )
    .await;
    body(a.get(&app, "/api/v1/me").send().await.unwrap(), 200).await;
    body(b.get(&app, "/api/v1/me").send().await.unwrap(), 401).await;
    let c = client();
    assert_eq!(
        app.post_login(&c, username(Role::Viewer), "a-brand-new-password")
            .await
            .status(),
        303
    );
});

both_backends!(settings_read_and_change, |app| async {
    let s = app.login(Role::Admin).await;
    let all = body(s.get(&app, "/api/v1/settings").send().await.unwrap(), 200).await;
    let idle = all
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "session_idle_timeout_minutes")
        .unwrap();
    assert_eq!(idle["value"], 30);
    assert_eq!(idle["default"], 30);
    let next = body(
        s.send(&app, Method::PATCH, "/api/v1/settings")
            .json(&json!({"session_idle_timeout_minutes": 45}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(
        next.as_array()
            .unwrap()
            .iter()
            .any(|v| v["key"] == "session_idle_timeout_minutes" && v["value"] == 45)
    );
    let err = body(
        s.send(&app, Method::PATCH, "/api/v1/settings")
            .json(&json!({"heartbeat_interval_seconds": 0}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(
        err["error"]["details"][0]["field"],
        "heartbeat_interval_seconds"
    );
    let again = body(s.get(&app, "/api/v1/settings").send().await.unwrap(), 200).await;
    assert!(
        again
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["key"] == "heartbeat_interval_seconds" && v["value"] == 10),
        "a rejected change changes nothing"
    );
});

both_backends!(tests_groups_and_assignments, |app| async {
    let s = app.login(Role::Operator).await;
    let agent = app
        .store()
        .create_agent("edge-1", "edge-1.example")
        .await
        .unwrap();
    let group = body(
        s.send(&app, Method::POST, "/api/v1/groups")
            .json(&json!({"name": "branch offices"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let gid = group["id"].as_i64().unwrap();
    let a = body(
        s.send(
            &app,
            Method::PUT,
            &format!("/api/v1/agents/{}/groups", agent.id),
        )
        .json(&json!({"groups": [gid]}))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(a["groups"], json!([gid]));
    assert_eq!(a["status"], "never_seen");

    let input = json!({
        "name": "gateway ping",
        "kind": "ping",
        "target": "192.0.2.1",
        "params": {"count": 10, "dscp": 46},
        "schedule": {"interval_seconds": 30, "jitter_seconds": 3},
        "assignments": {"agents": [agent.id], "groups": [gid]}
    });
    let t = body(
        s.send(&app, Method::POST, "/api/v1/tests")
            .json(&input)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let id = t["id"].as_i64().unwrap();
    assert_eq!(t["params"]["count"], 10);
    assert_eq!(
        t["params"]["interval_ms"], 200,
        "omitted parameters take their defaults"
    );
    assert_eq!(
        t["assignments"],
        json!({"agents": [agent.id], "groups": [gid]})
    );
    assert_eq!(t["enabled"], true);

    for i in 0..3 {
        let mut other = input.clone();
        other["name"] = json!(format!("dns {i}"));
        other["kind"] = json!("dns");
        other["target"] = json!("example.net");
        other["params"] = json!({"record_type": "AAAA"});
        body(
            s.send(&app, Method::POST, "/api/v1/tests")
                .json(&other)
                .send()
                .await
                .unwrap(),
            201,
        )
        .await;
    }
    let page = body(
        s.get(&app, "/api/v1/tests?kind=dns&limit=2")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["tests"].as_array().unwrap().len(), 2);
    let page = body(
        s.get(&app, "/api/v1/tests?search=GATEWAY")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(page["total"], 1);

    let mut edited = input.clone();
    edited["schedule"]["interval_seconds"] = json!(60);
    edited["enabled"] = json!(false);
    edited["assignments"] = json!({"agents": [], "groups": [gid]});
    let t = body(
        s.send(&app, Method::PUT, &format!("/api/v1/tests/{id}"))
            .json(&edited)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(t["schedule"]["interval_seconds"], 60);
    assert_eq!(t["enabled"], false);
    assert_eq!(t["assignments"], json!({"agents": [], "groups": [gid]}));

    // Deleting the group removes it from the test's assignments.
    body(
        s.send(&app, Method::DELETE, &format!("/api/v1/groups/{gid}"))
            .send()
            .await
            .unwrap(),
        204,
    )
    .await;
    let t = body(
        s.get(&app, &format!("/api/v1/tests/{id}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(t["assignments"], json!({"agents": [], "groups": []}));

    body(
        s.send(&app, Method::DELETE, &format!("/api/v1/tests/{id}"))
            .send()
            .await
            .unwrap(),
        204,
    )
    .await;
    body(
        s.get(&app, &format!("/api/v1/tests/{id}"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let agents = body(s.get(&app, "/api/v1/agents").send().await.unwrap(), 200).await;
    assert_eq!(agents[0]["name"], "edge-1");
});
