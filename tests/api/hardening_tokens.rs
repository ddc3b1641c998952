//! A token never outlives its creator's rights (issue 10, item 4): deleting a user
//! revokes the API and enrolment tokens they created, disabling suspends them, demoting
//! caps them to the new role; the tokens and the audit log keep naming the creator.
//! CLI tokens (no user) and agent credentials are not bound to a user.

use crate::both_backends;
use crate::helpers::*;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use streamswarm::store::migrate::{self, Applied};
use streamswarm::store::{DatabaseLocation, Store};
use streamswarm_schema::Role;

const ALICE_PASSWORD: &str = "alice-password-1";

/// Creates the user `alice` with `role` (as the seeded admin) and signs her in.
async fn alice(app: &TestApp, admin: &Session, role: Role) -> (i64, Session) {
    let (status, user) = status_json(
        admin
            .send(app, Method::POST, "/api/v1/users")
            .json(&json!({"username": "alice", "password": ALICE_PASSWORD, "role": role}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let (session, _) = app.sign_in("alice", ALICE_PASSWORD).await;
    (user["id"].as_i64().unwrap(), session)
}

/// Creates a token through the API as `by`; returns (id, secret).
async fn create_token(app: &TestApp, by: &Session, body: Value) -> (i64, String) {
    let (status, created) = status_json(
        by.send(app, Method::POST, "/api/v1/tokens")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    (
        created["id"].as_i64().unwrap(),
        created["token"].as_str().unwrap().to_owned(),
    )
}

async fn admin_token_of(app: &TestApp, by: &Session) -> (i64, String) {
    create_token(
        app,
        by,
        json!({"kind": "api", "name": "automation", "role": "admin"}),
    )
    .await
}

async fn enrol_token_of(app: &TestApp, by: &Session) -> (i64, String) {
    create_token(app, by, json!({"kind": "enrol", "name": "rollout"})).await
}

async fn status_with(app: &TestApp, method: Method, path: &str, token: &str) -> u16 {
    app.with_token(method, path, token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn role_of(app: &TestApp, token: &str) -> (u16, Value) {
    let (status, me) = status_json(
        app.with_token(Method::GET, "/api/v1/me", token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    (status, me["role"].clone())
}

async fn enrol(app: &TestApp, enrol_token: &str, hostname: &str) -> (u16, Value) {
    status_json(
        app.with_token(Method::POST, "/api/v1/agent/enrol", enrol_token)
            .json(&json!({"hostname": hostname}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn patch_user(app: &TestApp, admin: &Session, id: i64, body: Value) {
    let (status, user) = status_json(
        admin
            .send(app, Method::PATCH, &format!("/api/v1/users/{id}"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{user}");
}

async fn listed_token(app: &TestApp, admin: &Session, id: i64) -> Value {
    let tokens: Vec<Value> = admin
        .get(app, "/api/v1/tokens")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens.into_iter().find(|t| t["id"] == id).unwrap()
}

async fn audit_rows(app: &TestApp, admin: &Session) -> Vec<Value> {
    let v: Value = admin
        .get(app, "/api/v1/audit?limit=1000")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array()
        .or_else(|| v["entries"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("audit list: {v}"))
}

both_backends!(
    deleting_a_user_revokes_their_tokens_but_not_their_agents,
    |app| async {
        let admin = app.login(Role::Admin).await;
        let (alice_id, alice) = alice(&app, &admin, Role::Admin).await;
        let (token_id, token) = admin_token_of(&app, &alice).await;
        let (enrol_id, enrol_token) = enrol_token_of(&app, &alice).await;
        // A token made with alice's token acts for alice too.
        let (chained_id, chained) = {
            let (status, created) = status_json(
                app.with_token(Method::POST, "/api/v1/tokens", &token)
                    .json(&json!({"kind": "api", "name": "made by a token", "role": "admin"}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 201, "{created}");
            (
                created["id"].as_i64().unwrap(),
                created["token"].as_str().unwrap().to_owned(),
            )
        };
        let (status, enrolled) = enrol(&app, &enrol_token, "before.example.net").await;
        assert_eq!(status, 201, "{enrolled}");
        let credential = enrolled["credential"].as_str().unwrap().to_owned();
        assert_eq!(
            status_with(&app, Method::GET, "/api/v1/users", &token).await,
            200
        );
        assert_eq!(
            status_with(&app, Method::GET, "/api/v1/users", &chained).await,
            200
        );

        let resp = admin
            .send(&app, Method::DELETE, &format!("/api/v1/users/{alice_id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);

        for t in [&token, &chained] {
            assert_eq!(status_with(&app, Method::GET, "/api/v1/me", t).await, 401);
            assert_eq!(
                status_with(&app, Method::GET, "/api/v1/users", t).await,
                401
            );
        }
        let (status, refused) = enrol(&app, &enrol_token, "after.example.net").await;
        assert_eq!(status, 401, "{refused}");
        // The agent enrolled earlier belongs to the fleet, not to alice.
        let heartbeat = app
            .with_token(Method::POST, "/api/v1/agent/heartbeat", &credential)
            .json(&json!({"hostname": "before.example.net", "facts": {}}))
            .send()
            .await
            .unwrap();
        assert_eq!(heartbeat.status(), 200);

        // The tokens still say who made them, and the audit log says who revoked them.
        for id in [token_id, enrol_id, chained_id] {
            let listed = listed_token(&app, &admin, id).await;
            assert_eq!(listed["created_by_name"], "alice", "{listed}");
            assert!(listed["created_by"].is_null(), "{listed}");
            assert!(!listed["revoked_at"].is_null(), "{listed}");
        }
        let rows = audit_rows(&app, &admin).await;
        let find = |action: &str, target: String| {
            rows.iter()
                .find(|r| r["action"] == action && r["target"] == target)
                .unwrap_or_else(|| panic!("no {action} of {target} in {rows:?}"))
                .clone()
        };
        assert_eq!(
            find("token.create", format!("token:{token_id}"))["actor"],
            "user:alice"
        );
        let created_by_token = find("token.create", format!("token:{chained_id}"));
        assert_eq!(created_by_token["actor"], format!("token:{token_id}"));
        assert_eq!(created_by_token["details"]["created_by"], "alice");
        for id in [token_id, enrol_id, chained_id] {
            let revoked = find("token.revoke", format!("token:{id}"));
            assert_eq!(revoked["details"]["created_by"], "alice", "{revoked}");
            assert_eq!(revoked["details"]["reason"], "creator deleted", "{revoked}");
        }
        let deleted = find("user.delete", "alice".into());
        assert_eq!(
            deleted["details"]["revoked_tokens"],
            json!([token_id, enrol_id, chained_id])
        );
    }
);

both_backends!(
    disabling_a_user_suspends_their_tokens_until_enabled,
    |app| async {
        let admin = app.login(Role::Admin).await;
        let (alice_id, alice) = alice(&app, &admin, Role::Admin).await;
        let (_, token) = admin_token_of(&app, &alice).await;
        let (_, enrol_token) = enrol_token_of(&app, &alice).await;

        patch_user(&app, &admin, alice_id, json!({"disabled": true})).await;
        let resp = app
            .with_token(Method::GET, "/api/v1/users", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let body = resp.text().await.unwrap();
        assert!(body.contains("creator is disabled"), "{body}");
        let (status, refused) = enrol(&app, &enrol_token, "while-disabled.example.net").await;
        assert_eq!(status, 401, "{refused}");

        patch_user(&app, &admin, alice_id, json!({"disabled": false})).await;
        assert_eq!(
            status_with(&app, Method::GET, "/api/v1/users", &token).await,
            200
        );
        let (status, enrolled) = enrol(&app, &enrol_token, "enabled.example.net").await;
        assert_eq!(status, 201, "{enrolled}");
    }
);

both_backends!(
    demoting_a_user_caps_their_tokens_to_the_new_role,
    |app| async {
        let admin = app.login(Role::Admin).await;
        let (alice_id, alice) = alice(&app, &admin, Role::Admin).await;
        let (_, token) = admin_token_of(&app, &alice).await;
        let (_, viewer_token) = create_token(
            &app,
            &alice,
            json!({"kind": "api", "name": "dashboards", "role": "viewer"}),
        )
        .await;
        let (_, enrol_token) = enrol_token_of(&app, &alice).await;
        assert_eq!(role_of(&app, &token).await, (200, json!("admin")));

        patch_user(&app, &admin, alice_id, json!({"role": "viewer"})).await;
        assert_eq!(role_of(&app, &token).await, (200, json!("viewer")));
        assert_eq!(
            status_with(&app, Method::GET, "/api/v1/users", &token).await,
            403
        );
        assert_eq!(
            status_with(&app, Method::GET, "/api/v1/tokens", &token).await,
            403
        );
        assert_eq!(
            status_with(&app, Method::GET, "/api/v1/tests", &token).await,
            200
        );
        // Enrolling agents needs an administrator.
        let (status, refused) = enrol(&app, &enrol_token, "demoted.example.net").await;
        assert_eq!(status, 401, "{refused}");

        // The cap follows the creator's current role, and never raises a token's own.
        patch_user(&app, &admin, alice_id, json!({"role": "operator"})).await;
        assert_eq!(role_of(&app, &token).await, (200, json!("operator")));
        assert_eq!(role_of(&app, &viewer_token).await, (200, json!("viewer")));
        patch_user(&app, &admin, alice_id, json!({"role": "admin"})).await;
        assert_eq!(role_of(&app, &token).await, (200, json!("admin")));
        assert_eq!(role_of(&app, &viewer_token).await, (200, json!("viewer")));
    }
);

both_backends!(cli_tokens_name_the_cli_and_keep_working, |app| async {
    let admin = app.login(Role::Admin).await;
    let token = app.api_token(Role::Admin).await;
    let (status, me) = status_json(
        app.with_token(Method::GET, "/api/v1/me", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "admin");
    let id = me["token"]["id"].as_i64().unwrap();
    let listed = listed_token(&app, &admin, id).await;
    assert_eq!(listed["created_by_name"], "cli", "{listed}");
    // Deleting an unrelated user leaves it alone.
    let (alice_id, _) = alice(&app, &admin, Role::Admin).await;
    let resp = admin
        .send(&app, Method::DELETE, &format!("/api/v1/users/{alice_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        status_with(&app, Method::GET, "/api/v1/users", &token).await,
        200
    );
});

// ---------------------------------------------------------------------------------------
// Upgrading a database whose users were deleted under version 1

/// Applies migration 1 only, as a version-1 binary would have, recording it.
async fn migrate_to_version_1(store: &Store) {
    let v1 = match store.db().backend() {
        "sqlite" => &streamswarm_schema::migrations::SQLITE[0],
        _ => &streamswarm_schema::migrations::POSTGRES[0],
    };
    let db = store.db();
    let sql: String = v1
        .sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        db.execute(statement, vec![]).await.unwrap();
    }
    use sha2::Digest;
    let checksum = hex::encode(sha2::Sha256::digest(v1.sql.as_bytes()));
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        vec![],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
        streamswarm::params![1_i64, v1.name, checksum, 0_i64],
    )
    .await
    .unwrap();
}

async fn upgrade_names_creators_and_revokes_orphaned_tokens(backend: Backend) {
    let Some((url, _guard)) = fresh_database(backend).await else {
        return;
    };
    let location = DatabaseLocation::parse(&SecretString::from(url)).unwrap();
    let store = Store::open(&location, 2, streamswarm::clock::Clock::manual(0)).unwrap();
    migrate_to_version_1(&store).await;
    let db = store.db();
    let insert = |sql: &'static str, params: Vec<streamswarm::store::db::Value>| async move {
        let row = db.query_one(sql, params).await.unwrap();
        row.i64("id").unwrap()
    };
    // Version 1 state: bob is alive; carol was deleted (her tokens' created_by is NULL).
    let bob = insert(
        "INSERT INTO users (username, password_hash, role, created_at, updated_at)
         VALUES ('bob', 'x', 'admin', 0, 0) RETURNING id",
        vec![],
    )
    .await;
    let token = |n: i64, kind: &'static str, created_by: Option<i64>| {
        streamswarm::params![
            kind,
            format!("t{n}"),
            format!("ssw_{n}"),
            format!("hash-{n}"),
            (kind == "api").then_some("admin"),
            created_by
        ]
    };
    let sql =
        "INSERT INTO api_tokens (kind, name, prefix, secret_hash, role, created_by, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, 0) RETURNING id";
    let bobs = insert(sql, token(1, "api", Some(bob))).await;
    let carols_api = insert(sql, token(2, "api", None)).await;
    let carols_enrol = insert(sql, token(3, "enrol", None)).await;
    let clis = insert(sql, token(4, "api", None)).await;
    for (actor, id) in [
        ("user:bob", bobs),
        ("user:carol", carols_api),
        ("user:carol", carols_enrol),
        ("cli", clis),
    ] {
        db.execute(
            "INSERT INTO audit_log (at, actor, action, target) VALUES (0, $1, 'token.create', $2)",
            streamswarm::params![actor, format!("token:{id}")],
        )
        .await
        .unwrap();
    }

    // The upgrade applies 0002 (under test here) and every later migration.
    let latest = streamswarm_schema::migrations::SQLITE
        .last()
        .unwrap()
        .version;
    assert_eq!(
        migrate::run(db).await.unwrap(),
        Applied((2..=latest).collect())
    );

    let mut by_id = std::collections::BTreeMap::new();
    for t in store.list_tokens(None).await.unwrap() {
        by_id.insert(t.id, t);
    }
    let named: Vec<_> = by_id
        .values()
        .map(|t| (t.id, t.created_by_name.as_str(), t.revoked_at.is_some()))
        .collect();
    assert_eq!(
        named,
        [
            (bobs, "bob", false),
            (carols_api, "carol", true),
            (carols_enrol, "carol", true),
            (clis, "cli", false)
        ]
    );
    let mut revocations: Vec<_> = store
        .audit_entries(100, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "token.revoke")
        .map(|e| (e.actor, e.target, e.details["created_by"].clone()))
        .collect();
    revocations.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        revocations,
        [
            (
                "system".into(),
                format!("token:{carols_api}"),
                json!("carol")
            ),
            (
                "system".into(),
                format!("token:{carols_enrol}"),
                json!("carol")
            ),
        ]
    );
    store.close();
}

mod upgrade_names_creators_and_revokes_orphaned_tokens {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        upgrade_names_creators_and_revokes_orphaned_tokens(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        upgrade_names_creators_and_revokes_orphaned_tokens(Backend::Postgres).await
    }
}
