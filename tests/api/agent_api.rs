//! The agent API of `docs/agent-api.md` against the real server, on both backends:
//! enrolment (and every way an enrolment token is refused, the race on the last use),
//! heartbeats and online/offline as the clock moves, assignments with their ETag,
//! revocation and deletion, the operators' management routes, and a server configured
//! with `[influx]` that hands agents the InfluxDB and reads back what they wrote there.

use crate::both_backends;
use crate::helpers::{Backend, TestApp, bare_client, spawn_app_with, status_json};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::time::Duration;
use streamswarm::admin::{self, Actor};
use streamswarm::store::tokens::TokenKind;
use streamswarm_schema::Role;

/// An enrolment token made by the CLI's code path (`streamswarm token create --kind enrol`).
async fn enrol_token(app: &TestApp, uses: Option<i64>, expires_in: Option<Duration>) -> String {
    let created = admin::tokens::create(
        app.store(),
        &Actor::cli(),
        admin::tokens::TokenRequest {
            kind: TokenKind::Enrol,
            name: "enrolment".into(),
            role: None,
            expires_in,
            uses,
        },
    )
    .await
    .unwrap();
    created.secret.expose_secret().to_owned()
}

fn facts() -> Value {
    json!({
        "os": "Debian GNU/Linux", "os_version": "12", "kernel": "6.1.0-18-amd64",
        "arch": "x86_64", "cpu_model": "AMD EPYC 7B13", "cpu_count": 2,
        "memory_bytes": 25165824000u64,
        "interfaces": [ { "name": "eth0", "mac": "02:00:00:00:00:01", "addresses": ["10.0.0.5/24", "fe80::1/64"] } ],
        "agent_version": "0.1.0", "uptime_seconds": 86400,
        "clock_offset_ms": -1.25
    })
}

async fn enrol_with(app: &TestApp, token: &str, hostname: &str) -> (u16, Value) {
    status_json(
        bare_client()
            .post(app.url("/api/v1/agent/enrol"))
            .bearer_auth(token)
            .json(&json!({"hostname": hostname, "facts": facts()}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Enrols a new agent; returns its id and credential.
async fn enrol(app: &TestApp, hostname: &str) -> (i64, String) {
    let token = enrol_token(app, Some(1), None).await;
    let (status, body) = enrol_with(app, &token, hostname).await;
    assert_eq!(status, 201, "{body}");
    (
        body["agent_id"].as_i64().unwrap(),
        body["credential"].as_str().unwrap().to_owned(),
    )
}

async fn heartbeat_with(app: &TestApp, credential: &str, body: &Value) -> (u16, Value) {
    status_json(
        bare_client()
            .post(app.url("/api/v1/agent/heartbeat"))
            .bearer_auth(credential)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn beat(hostname: &str) -> Value {
    json!({"hostname": hostname, "facts": facts(), "sent_at_ms": 1_764_100_000_000i64})
}

async fn assignments(app: &TestApp, credential: &str, etag: Option<&str>) -> (u16, String, Value) {
    let mut req = bare_client()
        .get(app.url("/api/v1/agent/assignments"))
        .bearer_auth(credential);
    if let Some(e) = etag {
        req = req.header("if-none-match", e);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    if status == 304 {
        assert_eq!(text, "", "a 304 has no body");
    }
    (
        status,
        etag,
        serde_json::from_str(&text).unwrap_or_default(),
    )
}

async fn agent_view(app: &TestApp, id: i64) -> Value {
    let viewer = app.api_token(Role::Viewer).await;
    let (status, body) = status_json(
        app.with_token(Method::GET, &format!("/api/v1/agents/{id}"), &viewer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn agent_count(app: &TestApp) -> usize {
    app.store().list_agents().await.unwrap().len()
}

both_backends!(enrol_creates_an_agent_and_its_credential, |app| async {
    let token = enrol_token(&app, Some(2), None).await;
    let (status, body) = enrol_with(&app, &token, "edge-01").await;
    assert_eq!(status, 201, "{body}");
    let id = body["agent_id"].as_i64().unwrap();
    let credential = body["credential"].as_str().unwrap().to_owned();
    assert!(credential.starts_with("ssw_agt_"), "{credential}");
    assert_eq!(body["name"], "edge-01");
    assert_eq!(body["heartbeat_interval_seconds"], 10);
    assert_eq!(body["write"], json!({"kind": "server"}));

    // The agent exists, with the facts it sent, never seen yet.
    let view = agent_view(&app, id).await;
    assert_eq!(view["hostname"], "edge-01");
    assert_eq!(view["version"], "0.1.0");
    assert_eq!(view["facts"]["cpu_model"], "AMD EPYC 7B13");
    assert_eq!(view["status"], "never_seen");

    // Only the credential's hash is stored; it is an agent credential of this agent.
    let info = app
        .store()
        .token_by_hash(&streamswarm::auth::token::hash(&credential))
        .await
        .unwrap()
        .expect("credential stored by hash");
    assert_eq!(info.kind, TokenKind::Agent);
    assert_eq!(info.agent_id, Some(id));
    assert!(credential.starts_with(&info.prefix) && info.prefix.len() < credential.len());

    // One use consumed; the enrolment is audited, without the secret.
    let enrol = app
        .store()
        .list_tokens(Some(TokenKind::Enrol))
        .await
        .unwrap();
    assert_eq!(enrol[0].uses_remaining, Some(1));
    let admin = app.api_token(Role::Admin).await;
    let (_, audit) = status_json(
        app.with_token(Method::GET, "/api/v1/audit", &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "agent.enrol")
        .expect("enrolment audited");
    assert_eq!(entry["target"], format!("agent:{id}"));
    assert!(!audit.to_string().contains(&credential));
    assert!(!audit.to_string().contains(&token));
    let logs = crate::helpers::captured_logs();
    assert!(
        !logs.contains(&credential),
        "the credential reached the log"
    );
    assert!(
        !logs.contains(&token),
        "the enrolment token reached the log"
    );

    // The credential works on the agent routes and the embedded store's writes.
    let (status, _) = heartbeat_with(&app, &credential, &beat("edge-01")).await;
    assert_eq!(status, 200);
    let resp = bare_client()
        .post(app.url("/api/v2/write?org=streamswarm&bucket=streamswarm&precision=ns"))
        .header("authorization", format!("Token {credential}"))
        // A point of its own, as the schema has it (agent credentials write nothing else).
        .body(format!(
            "agent_drops,agent={id},reason=rejected points_total=0i 1764100000000000000"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    // A second enrolment with the same token makes a new agent.
    let (status, again) = enrol_with(&app, &token, "edge-01").await;
    assert_eq!(status, 201, "{again}");
    assert_ne!(again["agent_id"], body["agent_id"]);
    assert_ne!(again["credential"], body["credential"]);
    assert_eq!(agent_count(&app).await, 2);
});

// `streamswarm token create --kind enrol` prints a token that enrols (once, here).
both_backends!(a_cli_enrolment_token_enrols, |app| async {
    let db = app.state.config.database.url.expose_secret().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_streamswarm"))
            .env_remove("STREAMSWARM_CONFIG")
            .env("STREAMSWARM__DATABASE__URL", db)
            .args([
                "token", "create", "--kind", "enrol", "--name", "cli", "--uses", "1",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("ssw_enr_"), "{token}");
    assert!(stderr.contains("will not be shown again"), "{stderr}");
    let (status, body) = enrol_with(&app, &token, "from-cli").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = enrol_with(&app, &token, "from-cli").await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("enrolment token used up"))
    );
});

both_backends!(enrolment_refusals_say_why, |app| async {
    let expect = |what: &str, got: (u16, Value), message: &str| {
        assert_eq!(got.0, 401, "{what}: {}", got.1);
        assert_eq!(got.1["error"], message, "{what}");
    };
    // Expired.
    let expiring = enrol_token(&app, None, Some(Duration::from_secs(3600))).await;
    app.clock.advance(Duration::from_secs(3601));
    expect(
        "expired",
        enrol_with(&app, &expiring, "a").await,
        "enrolment token expired",
    );
    // Used up.
    let once = enrol_token(&app, Some(1), None).await;
    assert_eq!(enrol_with(&app, &once, "b").await.0, 201);
    expect(
        "used up",
        enrol_with(&app, &once, "c").await,
        "enrolment token used up",
    );
    // Revoked.
    let revoked = enrol_token(&app, Some(5), None).await;
    let info = app
        .store()
        .token_by_hash(&streamswarm::auth::token::hash(&revoked))
        .await
        .unwrap()
        .unwrap();
    admin::tokens::revoke(app.store(), &Actor::cli(), info.id)
        .await
        .unwrap();
    expect(
        "revoked",
        enrol_with(&app, &revoked, "d").await,
        "enrolment token revoked",
    );
    // Wrong kinds: an API token, an agent credential.
    let api = app.api_token(Role::Admin).await;
    expect(
        "api token",
        enrol_with(&app, &api, "e").await,
        "this is an api token, not an enrolment token (ssw_enr_…)",
    );
    let (_, agent) = app.agent_token("already-enrolled").await;
    expect(
        "agent credential",
        enrol_with(&app, &agent, "f").await,
        "this is an agent token, not an enrolment token (ssw_enr_…)",
    );
    // Well-formed but never issued; none at all.
    let stranger = streamswarm::auth::token::generate(TokenKind::Enrol);
    expect(
        "unknown",
        enrol_with(&app, stranger.secret.expose_secret(), "g").await,
        "unknown enrolment token",
    );
    let (status, body) = status_json(
        bare_client()
            .post(app.url("/api/v1/agent/enrol"))
            .json(&json!({"hostname": "h"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("enrolment token"));
    // Only the one good enrolment and the fixture agent exist.
    assert_eq!(agent_count(&app).await, 2);
    // Enrolment tokens open nothing else.
    let tok = enrol_token(&app, None, None).await;
    for (method, path) in [
        (Method::GET, "/api/v1/agents"),
        (Method::POST, "/api/v1/agent/heartbeat"),
        (Method::GET, "/api/v1/agent/assignments"),
    ] {
        let resp = app
            .with_token(method, path, &tok)
            .json(&beat("x"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path}");
    }
});

both_backends!(the_last_use_goes_to_exactly_one_agent, |app| async {
    for (uses, racers) in [(1, 8), (3, 10)] {
        let before = agent_count(&app).await;
        let token = enrol_token(&app, Some(uses), None).await;
        let mut tasks = Vec::new();
        for i in 0..racers {
            let (url, token) = (app.url("/api/v1/agent/enrol"), token.clone());
            tasks.push(tokio::spawn(async move {
                bare_client()
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"hostname": format!("racer-{i}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        let won = statuses.iter().filter(|s| **s == 201).count();
        let lost = statuses.iter().filter(|s| **s == 401).count();
        assert_eq!(
            (won, lost),
            (uses as usize, racers - uses as usize),
            "{statuses:?}"
        );
        assert_eq!(agent_count(&app).await, before + uses as usize);
    }
});

both_backends!(
    heartbeat_stores_facts_and_status_follows_the_clock,
    |app| async {
        let (id, credential) = enrol(&app, "edge-01").await;
        assert_eq!(agent_view(&app, id).await["status"], "never_seen");

        let mut body = beat("edge-01-renamed-host");
        body["facts"]["agent_version"] = json!("0.2.0");
        body["facts"]["interfaces"][0]["addresses"] = json!(["10.0.0.6/24"]);
        let (status, answer) = heartbeat_with(&app, &credential, &body).await;
        assert_eq!(status, 200, "{answer}");
        let now = app.clock.now_ms();
        assert_eq!(answer["server_time_ms"], now);
        assert_eq!(answer["heartbeat_interval_seconds"], 10);
        assert!(
            answer["assignments_etag"]
                .as_str()
                .unwrap()
                .starts_with('"')
        );

        let view = agent_view(&app, id).await;
        let stored = app.store().agent(id).await.unwrap().unwrap();
        assert_eq!(
            stored.last_seen_at.map(|t| t.0),
            Some(now),
            "the server's clock"
        );
        assert_eq!(view["hostname"], "edge-01-renamed-host");
        assert_eq!(
            view["name"], "edge-01",
            "a new hostname is a fact, not a rename"
        );
        assert_eq!(view["version"], "0.2.0");
        assert_eq!(
            view["facts"]["interfaces"][0]["addresses"][0],
            "10.0.0.6/24"
        );
        assert_eq!(view["facts"]["clock_offset_ms"], -1.25);
        assert_eq!(view["status"], "online");

        // Offline once silent past agent_offline_after_seconds, at read time.
        let settings = app.state.settings.get(app.store()).await.unwrap();
        let offline_after = settings.get("agent_offline_after_seconds") as u64;
        app.clock.advance(Duration::from_secs(offline_after));
        assert_eq!(agent_view(&app, id).await["status"], "online");
        app.clock.advance(Duration::from_secs(1));
        assert_eq!(agent_view(&app, id).await["status"], "offline");
        let (status, _) = heartbeat_with(&app, &credential, &body).await;
        assert_eq!(status, 200);
        assert_eq!(agent_view(&app, id).await["status"], "online");

        // The interval is the runtime setting, read on every heartbeat.
        let admin = app.api_token(Role::Admin).await;
        let resp = app
            .with_token(Method::PATCH, "/api/v1/settings", &admin)
            .json(&json!({"heartbeat_interval_seconds": 20, "agent_offline_after_seconds": 60}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        let (_, answer) = heartbeat_with(&app, &credential, &body).await;
        assert_eq!(answer["heartbeat_interval_seconds"], 20);
    }
);

both_backends!(bad_heartbeats_are_400s_naming_the_field, |app| async {
    let (id, credential) = enrol(&app, "edge-01").await;
    let mut too_many = beat("h");
    too_many["facts"]["interfaces"] = json!(
        (0..200)
            .map(|i| json!({"name": format!("veth{i:04}-{}", "x".repeat(100)), "addresses": []}))
            .collect::<Vec<_>>()
    );
    let cases: Vec<(Value, &str)> = vec![
        (json!({"facts": facts()}), "hostname"),
        (
            json!({"hostname": "has space", "facts": facts()}),
            "hostname",
        ),
        (json!({"hostname": "", "facts": facts()}), "hostname"),
        (json!({"hostname": "h"}), "facts"),
        (
            {
                let mut b = beat("h");
                b["facts"]["cpu_count"] = json!("two");
                b
            },
            "facts.cpu_count",
        ),
        (
            {
                let mut b = beat("h");
                b["facts"]["memory_bytes"] = json!(-1);
                b
            },
            "facts.memory_bytes",
        ),
        (
            {
                let mut b = beat("h");
                b["facts"]["os"] = json!("x".repeat(1000));
                b
            },
            "facts.os",
        ),
        (
            {
                let mut b = beat("h");
                b["facts"]["interfaces"][0]["addresses"] = json!([42]);
                b
            },
            "facts.interfaces[0].addresses[0]",
        ),
        (too_many, "facts"),
    ];
    for (body, field) in cases {
        let (status, answer) = heartbeat_with(&app, &credential, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["error"].as_str().expect("error is a string");
        assert!(message.contains(field), "{field} not named in {message:?}");
    }
    // Not JSON at all.
    let resp = bare_client()
        .post(app.url("/api/v1/agent/heartbeat"))
        .bearer_auth(&credential)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, answer) = status_json(resp).await;
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("malformed JSON"));
    // Nothing was recorded.
    assert_eq!(agent_view(&app, id).await["status"], "never_seen");
    // Keys a newer agent may send are ignored, not refused.
    let newer = json!({"hostname": "h", "facts": {"gpu_model": "x", "interfaces": [{"name": "lo", "speed": 1}]}, "extra": 1});
    let (status, answer) = heartbeat_with(&app, &credential, &newer).await;
    assert_eq!(status, 200, "{answer}");
});

async fn create_test(app: &TestApp, token: &str, body: Value) -> i64 {
    let (status, t) = status_json(
        app.with_token(Method::POST, "/api/v1/tests", token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{t}");
    t["id"].as_i64().unwrap()
}

both_backends!(assignments_direct_and_by_group_with_etags, |app| async {
    let (id, credential) = enrol(&app, "edge-01").await;
    let (other, _) = enrol(&app, "edge-02").await;
    let op = app.api_token(Role::Operator).await;
    let (_, group) = status_json(
        app.with_token(Method::POST, "/api/v1/groups", &op)
            .json(&json!({"name": "edge"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let group = group["id"].as_i64().unwrap();
    let resp = app
        .with_token(Method::PUT, &format!("/api/v1/agents/{id}/groups"), &op)
        .json(&json!({"groups": [group]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Nothing assigned yet: an empty list, still with an ETag.
    let (status, empty_etag, body) = assignments(&app, &credential, None).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"agent_id": id, "tests": []}));

    let schedule = json!({"interval_seconds": 60, "jitter_seconds": 5});
    let direct = create_test(
        &app,
        &op,
        json!({"name": "ping gateway", "kind": "ping", "target": "192.0.2.1",
        "params": {"count": 5}, "schedule": schedule, "assignments": {"agents": [id]}}),
    )
    .await;
    let by_group = create_test(&app, &op, json!({"name": "tcp web", "kind": "tcp", "target": "192.0.2.2:443",
        "schedule": {"interval_seconds": 30, "start_at_ms": 1764100000000i64}, "assignments": {"groups": [group]}})).await;
    let _disabled = create_test(&app, &op, json!({"name": "off", "kind": "ping", "target": "192.0.2.3",
        "schedule": schedule, "enabled": false, "assignments": {"agents": [id], "groups": [group]}})).await;
    let _elsewhere = create_test(
        &app,
        &op,
        json!({"name": "other agent", "kind": "ping", "target": "192.0.2.4",
        "schedule": schedule, "assignments": {"agents": [other]}}),
    )
    .await;

    let (status, etag, body) = assignments(&app, &credential, None).await;
    assert_eq!(status, 200);
    assert_ne!(etag, empty_etag);
    let tests = body["tests"].as_array().unwrap();
    let ids: Vec<i64> = tests.iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![direct, by_group]);
    let ping = &tests[0];
    assert_eq!(ping["name"], "ping gateway");
    assert_eq!(ping["kind"], "ping");
    assert_eq!(ping["target"], "192.0.2.1");
    assert_eq!(ping["params"]["count"], 5);
    assert_eq!(ping["schedule"]["interval_seconds"], 60);
    assert_eq!(ping["schedule"]["jitter_seconds"], 5);
    assert_eq!(ping["schedule"]["one_shot"], false);
    assert!(ping["updated_at_ms"].is_i64());
    assert_eq!(tests[1]["schedule"]["start_at_ms"], 1764100000000i64);

    // Stable, equal to the heartbeat's, and 304 when unchanged.
    let (_, again, _) = assignments(&app, &credential, None).await;
    assert_eq!(again, etag);
    let (_, answer) = heartbeat_with(&app, &credential, &beat("edge-01")).await;
    assert_eq!(answer["assignments_etag"], etag.as_str());
    let (status, same, _) = assignments(&app, &credential, Some(&etag)).await;
    assert_eq!((status, same.as_str()), (304, etag.as_str()));
    let (status, _, _) = assignments(&app, &credential, Some("\"stale\"")).await;
    assert_eq!(status, 200);

    // Editing an assigned test changes the ETag.
    app.clock.advance(Duration::from_secs(1));
    let resp = app
        .with_token(Method::PUT, &format!("/api/v1/tests/{direct}"), &op)
        .json(
            &json!({"name": "ping gateway", "kind": "ping", "target": "192.0.2.1",
            "params": {"count": 10}, "schedule": schedule, "assignments": {"agents": [id]}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, edited, body) = assignments(&app, &credential, Some(&etag)).await;
    assert_eq!(status, 200);
    assert_ne!(edited, etag);
    assert_eq!(body["tests"][0]["params"]["count"], 10);

    // Leaving the group drops the group's test and changes the ETag again.
    let resp = app
        .with_token(Method::PUT, &format!("/api/v1/agents/{id}/groups"), &op)
        .json(&json!({"groups": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, left, body) = assignments(&app, &credential, Some(&edited)).await;
    assert_eq!(status, 200);
    assert_ne!(left, edited);
    let ids: Vec<i64> = body["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![direct]);
});

/// What a refused agent gets on each of its routes.
async fn agent_refusals(app: &TestApp, credential: &str) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    let (s, b) = heartbeat_with(app, credential, &beat("h")).await;
    out.push((
        "heartbeat".into(),
        s,
        b["error"].as_str().unwrap_or("").into(),
    ));
    let resp = bare_client()
        .get(app.url("/api/v1/agent/assignments"))
        .bearer_auth(credential)
        .send()
        .await
        .unwrap();
    let (s, b) = status_json(resp).await;
    out.push((
        "assignments".into(),
        s,
        b["error"].as_str().unwrap_or("").into(),
    ));
    let resp = bare_client()
        .post(app.url("/api/v2/write?org=streamswarm&bucket=streamswarm&precision=ns"))
        .header("authorization", format!("Token {credential}"))
        .body("ping,agent=1 rtt_avg_ms=1 1764100000000000000")
        .send()
        .await
        .unwrap();
    let (s, b) = status_json(resp).await;
    out.push((
        "v2 write".into(),
        s,
        b["message"].as_str().unwrap_or("").into(),
    ));
    let resp = bare_client()
        .post(app.url("/write?db=streamswarm&precision=ns"))
        .bearer_auth(credential)
        .body("ping,agent=1 rtt_avg_ms=1 1764100000000000000")
        .send()
        .await
        .unwrap();
    let (s, b) = status_json(resp).await;
    out.push((
        "v1 write".into(),
        s,
        b["error"].as_str().unwrap_or("").into(),
    ));
    out
}

both_backends!(revoked_or_deleted_agents_get_401, |app| async {
    let op = app.api_token(Role::Operator).await;
    // Revoking the agent revokes its credential.
    let (id, credential) = enrol(&app, "edge-01").await;
    assert_eq!(heartbeat_with(&app, &credential, &beat("h")).await.0, 200);
    let (status, view) = status_json(
        app.with_token(Method::POST, &format!("/api/v1/agents/{id}/revoke"), &op)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["status"], "revoked");
    for (route, status, message) in agent_refusals(&app, &credential).await {
        assert_eq!(
            (status, message.as_str()),
            (401, "agent credential revoked"),
            "{route}"
        );
    }
    let tokens = app
        .store()
        .list_tokens(Some(TokenKind::Agent))
        .await
        .unwrap();
    let cred = tokens.iter().find(|t| t.agent_id == Some(id)).unwrap();
    assert!(cred.revoked_at.is_some(), "the credential is revoked too");

    // Revoking only the credential (DELETE /api/v1/tokens/{id}) has the same effect.
    let (id2, credential2) = enrol(&app, "edge-02").await;
    let tokens = app
        .store()
        .list_tokens(Some(TokenKind::Agent))
        .await
        .unwrap();
    let cred2 = tokens.iter().find(|t| t.agent_id == Some(id2)).unwrap();
    let admin = app.api_token(Role::Admin).await;
    let resp = app
        .with_token(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", cred2.id),
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for (route, status, message) in agent_refusals(&app, &credential2).await {
        assert_eq!(
            (status, message.as_str()),
            (401, "agent credential revoked"),
            "{route}"
        );
    }

    // A deleted agent's credential is gone with it.
    let (id3, credential3) = enrol(&app, "edge-03").await;
    let resp = app
        .with_token(Method::DELETE, &format!("/api/v1/agents/{id3}"), &op)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    for (route, status, message) in agent_refusals(&app, &credential3).await {
        assert_eq!(
            (status, message.as_str()),
            (401, "agent credential unknown"),
            "{route}"
        );
    }
    let resp = app
        .with_token(Method::GET, &format!("/api/v1/agents/{id3}"), &op)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
});

both_backends!(
    agent_management_is_audited_and_needs_operator,
    |app| async {
        let (id, credential) = enrol(&app, "edge-01").await;
        let viewer = app.api_token(Role::Viewer).await;
        let op = app.login(Role::Operator).await;
        let rename = json!({"name": "Edge router, rack 4"});
        let path = format!("/api/v1/agents/{id}");
        let revoke = format!("/api/v1/agents/{id}/revoke");
        // Viewers and the agent itself may not.
        for (method, p) in [
            (Method::PATCH, &path),
            (Method::POST, &revoke),
            (Method::DELETE, &path),
        ] {
            for token in [&viewer, &credential] {
                let resp = app
                    .with_token(method.clone(), p, token)
                    .json(&rename)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 403, "{method} {p}");
            }
        }
        // Bad names are 400s naming the field.
        let (status, body) = status_json(
            op.send(&app, Method::PATCH, &path)
                .json(&json!({"name": "  "}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["details"][0]["field"], "name");

        let (status, body) = status_json(
            op.send(&app, Method::PATCH, &path)
                .json(&rename)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["name"], "Edge router, rack 4");
        assert_eq!(body["hostname"], "edge-01");
        let resp = op.send(&app, Method::POST, &revoke).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let resp = op.send(&app, Method::DELETE, &path).send().await.unwrap();
        assert_eq!(resp.status(), 204);
        let resp = op.send(&app, Method::DELETE, &path).send().await.unwrap();
        assert_eq!(resp.status(), 404);

        let entries = app.store().audit_entries(100, None).await.unwrap();
        let target = format!("agent:{id}");
        let mine: Vec<(String, String)> = entries
            .iter()
            .filter(|e| e.target == target)
            .map(|e| (e.action.clone(), e.actor.clone()))
            .collect();
        for action in ["agent.rename", "agent.revoke", "agent.delete"] {
            assert!(
                mine.contains(&(action.to_owned(), "user:otto".to_owned())),
                "{action} by otto missing from {mine:?}"
            );
        }
        let renamed = entries.iter().find(|e| e.action == "agent.rename").unwrap();
        assert_eq!(renamed.details["from"], "edge-01");
        assert_eq!(renamed.details["to"], "Edge router, rack 4");
    }
);

// ---------------------------------------------------------------------------------------
// A server configured with `[influx]`, against the real InfluxDB 1.6.7.

async fn influx_admin(url: &url::Url, statement: &str) {
    let resp = reqwest::Client::new()
        .post(url.join("query").unwrap())
        .form(&[("q", statement)])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{statement}: {}", resp.status());
}

/// Drops the test's InfluxDB database when the test ends, passed or not.
struct DropInfluxDb(url::Url, String);

impl Drop for DropInfluxDb {
    fn drop(&mut self) {
        let (url, statement) = (
            self.0.join("query").unwrap(),
            format!("DROP DATABASE \"{}\"", self.1),
        );
        // Drop cannot await: a request on its own thread and runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let _ = reqwest::Client::new()
                    .post(url)
                    .form(&[("q", statement.as_str())])
                    .send()
                    .await;
            });
        })
        .join();
    }
}

async fn influx_configured_server_hands_agents_the_influxdb(backend: Backend) {
    let Some(url) = crate::helpers::influx_url("agent_api") else {
        return;
    };
    let db = format!("streamswarm_agent_{:016x}", rand::random::<u64>());
    influx_admin(&url, &format!("CREATE DATABASE \"{db}\"")).await;
    let _drop = DropInfluxDb(url.clone(), db.clone());
    let (server_url, server_db) = (url.to_string(), db.clone());
    let Some(app) = spawn_app_with(backend, move |config| {
        let text = format!(
            "[influx]\nurl = \"{server_url}\"\ndatabase = \"{server_db}\"\nagent_username = \"agent\"\nagent_password = \"agent-secret\"\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("influx.toml");
        std::fs::write(&path, text).unwrap();
        config.influx = streamswarm::config::Config::load(Some(&path)).unwrap().influx;
    })
    .await
    else {
        return;
    };
    assert!(
        app.state.timeseries.embedded().is_none(),
        "the embedded store is not opened"
    );

    let token = enrol_token(&app, Some(1), None).await;
    let (status, body) = enrol_with(&app, &token, "edge-01").await;
    assert_eq!(status, 201, "{body}");
    let agent = body["agent_id"].as_i64().unwrap();
    let credential = body["credential"].as_str().unwrap();
    let write = &body["write"];
    assert_eq!(write["kind"], "influx");
    assert_eq!(write["influx"]["url"], url.to_string());
    assert_eq!(write["influx"]["version"], 1);
    assert_eq!(write["influx"]["database"], db.as_str());
    assert_eq!(write["influx"]["username"], "agent");
    assert_eq!(write["influx"]["password"], "agent-secret");

    // The agent's side: `write.influx` is an `InfluxConfig` (its keys, no others). The
    // test InfluxDB runs without auth, so the handed credential is accepted as is.
    let handed: streamswarm_tsdb::InfluxConfig =
        serde_json::from_value(write["influx"].clone()).expect("write.influx is an InfluxConfig");
    let writer = streamswarm_tsdb::Writer::new(handed).unwrap();
    let t0 = app.clock.now_ms() * 1_000_000;
    let lines = format!(
        "ping,agent={agent},target=192.0.2.1 rtt_avg_ms=1.5,sent=5i {t0}\nping,agent={agent},target=192.0.2.1 rtt_avg_ms=2.25,sent=5i {}\n",
        t0 + 1_000_000_000
    );
    let delivery = writer
        .deliver(
            lines.as_bytes(),
            tokio::time::Instant::now() + Duration::from_secs(30),
        )
        .await;
    assert_eq!(delivery.unsent_from, None, "{:?}", delivery.events);
    assert_eq!(delivery.lines_lost(), 0, "{:?}", delivery.events);

    // The server reads it back through its Reader.
    use streamswarm_tsdb::query::{Query, RawQuery, Selector, TagFilter, TimeRange, Value as V};
    let q = Query::Raw(RawQuery {
        selector: Selector {
            measurement: "ping".into(),
            filters: vec![TagFilter::eq("agent", agent.to_string())],
            range: TimeRange {
                start_ns: t0,
                end_ns: t0 + 60_000_000_000,
            },
        },
        fields: vec!["rtt_avg_ms".into(), "sent".into()],
        group_by_tags: vec![],
        limit: 100,
    });
    let series = app.state.timeseries.reader().query(&q).await.unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
    let rows: Vec<(i64, Vec<Option<V>>)> = series[0]
        .rows
        .iter()
        .map(|r| (r.time_ns, r.values.clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (t0, vec![Some(V::Float(1.5)), Some(V::Integer(5))]),
            (
                t0 + 1_000_000_000,
                vec![Some(V::Float(2.25)), Some(V::Integer(5))]
            ),
        ]
    );

    // The embedded write endpoints say where writes go instead.
    let resp = bare_client()
        .post(app.url("/api/v2/write?org=streamswarm&bucket=streamswarm&precision=ns"))
        .header("authorization", format!("Token {credential}"))
        .body(format!("ping,agent={agent} rtt_avg_ms=1 {t0}"))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 404);
    assert!(
        body["message"].as_str().unwrap().contains("[influx]"),
        "{body}"
    );
    app.stop().await;
}

mod influx_configured_server_hands_agents_the_influxdb {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        influx_configured_server_hands_agents_the_influxdb(Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        influx_configured_server_hands_agents_the_influxdb(Backend::Postgres).await;
    }
}
