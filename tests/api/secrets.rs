//! No secret at rest or in the logs: after logins, password changes and token
//! creation, no table of the database and no line of the app's log holds a password,
//! a token secret or a session id in plain text.

use crate::both_backends;
use crate::helpers::*;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::json;
use std::path::PathBuf;
use streamswarm_schema::Role;

/// A random secret-looking string that cannot occur by chance.
fn random(label: &str) -> String {
    let mut b = [0u8; 12];
    rand::fill(&mut b);
    format!("{label}-{}", hex::encode(b))
}

/// Every row of every table, rendered as text, plus (for SQLite) the raw bytes of the
/// database files, so that even freed pages are searched.
async fn dump_database(app: &TestApp) -> String {
    let url = app.state.config.database.url.expose_secret().to_owned();
    let mut out = String::new();
    match app.backend {
        Backend::Sqlite => {
            let path = PathBuf::from(url.strip_prefix("sqlite://").unwrap());
            let conn = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(tables.len() >= 10, "{tables:?}");
            for table in tables {
                let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
                let n = stmt.column_count();
                let mut rows = stmt.query([]).unwrap();
                while let Some(row) = rows.next().unwrap() {
                    out.push_str(&table);
                    for i in 0..n {
                        let v = match row.get_ref(i).unwrap() {
                            rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                            rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                            rusqlite::types::ValueRef::Real(v) => v.to_string(),
                            rusqlite::types::ValueRef::Text(t)
                            | rusqlite::types::ValueRef::Blob(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                        };
                        out.push('|');
                        out.push_str(&v);
                    }
                    out.push('\n');
                }
            }
            drop(conn);
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                if let Ok(bytes) = std::fs::read(&file) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
        }
        Backend::Postgres => {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let tables: Vec<String> = client
                .query(
                    "SELECT table_schema || '.' || quote_ident(table_name)
                     FROM information_schema.tables
                     WHERE table_type = 'BASE TABLE'
                       AND table_schema NOT IN ('pg_catalog', 'information_schema')",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert!(tables.len() >= 10, "{tables:?}");
            for table in tables {
                for row in client
                    .query(&format!("SELECT t::text FROM {table} t"), &[])
                    .await
                    .unwrap()
                {
                    let text: String = row.get(0);
                    out.push_str(&table);
                    out.push('|');
                    out.push_str(&text);
                    out.push('\n');
                }
            }
        }
    }
    out
}

both_backends!(no_secret_is_stored_or_logged, |app| async {
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut keep = |what: &str, s: &str| secrets.push((what.to_owned(), s.to_owned()));
    for (_, _, pw) in PASSWORDS {
        keep("seeded password", pw);
    }

    // Logins, failed and successful; the session ids and CSRF tokens they yield.
    let wrong = random("wrong-password");
    assert_eq!(app.post_login(&client(), "ada", &wrong).await.status(), 401);
    keep("wrong password", &wrong);
    let (admin, admin_id) = app.login_with_id(Role::Admin).await;
    keep("admin session id", &admin_id);
    keep("admin csrf token", &admin.csrf);

    // A user created with a password, who signs in and changes it, then has it reset.
    let first = random("first-password");
    let second = random("second-password");
    let third = random("third-password");
    for pw in [&first, &second, &third] {
        keep("user password", pw);
    }
    let (status, dora) = status_json(
        admin
            .send(&app, Method::POST, "/api/v1/users")
            .json(&json!({"username": "dora", "password": first, "role": "operator"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{dora}");
    let c = client();
    let resp = app.post_login(&c, "dora", &first).await;
    assert_eq!(resp.status(), 303);
    let dora_id = set_cookie_value(&resp, "ssw_session").unwrap();
    keep("dora session id", &dora_id);
    let me: serde_json::Value = c
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dora_csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let resp = c
        .post(app.url("/api/v1/me/password"))
        .header("x-csrf-token", &dora_csrf)
        .json(&json!({"current_password": first, "new_password": second}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // A wrong current password is refused without echoing it.
    let resp = c
        .post(app.url("/api/v1/me/password"))
        .header("x-csrf-token", &dora_csrf)
        .json(&json!({"current_password": first, "new_password": third}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body = resp.text().await.unwrap();
    assert!(!body.contains(&first) && !body.contains(&third), "{body}");
    let resp = admin
        .send(
            &app,
            Method::PATCH,
            &format!("/api/v1/users/{}", dora["id"]),
        )
        .json(&json!({"password": third}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.post_login(&client(), "dora", &third).await.status(),
        303
    );
    assert_eq!(
        app.post_login(&client(), "dora", &second).await.status(),
        401
    );

    // Tokens of both kinds through the API, and one through the admin module; one is used.
    let mut token_hashes = Vec::new();
    for body in [
        json!({"kind": "api", "name": "secret-check", "role": "admin"}),
        json!({"kind": "enrol", "name": "secret-check-enrol", "uses": 3}),
    ] {
        let (status, created) = status_json(
            admin
                .send(&app, Method::POST, "/api/v1/tokens")
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let secret = created["token"].as_str().unwrap();
        keep("token secret", secret);
        keep("token secret body", &secret[8..]);
        token_hashes.push(streamswarm::auth::token::hash(secret));
    }
    let cli_token = app.api_token(Role::Operator).await;
    keep("token secret", &cli_token);
    token_hashes.push(streamswarm::auth::token::hash(&cli_token));
    let api_secret = secrets
        .iter()
        .find(|(w, s)| w == "token secret" && s.starts_with("ssw_api_"))
        .unwrap()
        .1
        .clone();
    let resp = app
        .with_token(Method::GET, "/api/v1/me", &api_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // And a token that is refused: a typo of a real one.
    let mut typo = api_secret.clone().into_bytes();
    typo[10] = if typo[10] == b'x' { b'y' } else { b'x' };
    let typo = String::from_utf8(typo).unwrap();
    let resp = app
        .with_token(Method::GET, "/api/v1/me", &typo)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    secrets.push(("mistyped token".into(), typo));

    // The database: every table, every row.
    let dump = dump_database(&app).await;
    // The dump does see what is stored (so a secret stored in clear would be found):
    // usernames, token prefixes, the tokens' SHA-256 and the session's SHA-256.
    assert!(dump.contains("dora"), "the dump reads the users table");
    for h in &token_hashes {
        assert!(dump.contains(h.as_str()), "the dump reads api_tokens");
    }
    assert!(
        dump.contains(&streamswarm::auth::session::hash_id(&admin_id)),
        "the dump reads sessions"
    );
    assert!(dump.contains("$argon2id$"), "passwords are Argon2id hashes");
    for (what, secret) in &secrets {
        assert!(
            !dump.contains(secret.as_str()),
            "the {:?} database holds a {what} in plain text: {secret:?}",
            app.backend
        );
    }

    // The logs (debug level) of every app in this process, this one included.
    let logs = captured_logs();
    let port = app.address.rsplit(':').next().unwrap();
    assert!(
        logs.contains(&format!("127.0.0.1:{port}")),
        "this app's log lines are captured"
    );
    for (what, secret) in &secrets {
        let line = logs.lines().find(|l| l.contains(secret.as_str()));
        assert!(line.is_none(), "the log holds a {what}: {line:?}");
    }
});

both_backends!(responses_never_carry_stored_secrets, |app| async {
    // Whatever an admin can read back about users and tokens carries no hash either.
    let admin = app.login(Role::Admin).await;
    let token = app.api_token(Role::Viewer).await;
    let _ = app
        .with_token(Method::GET, "/api/v1/me", &token)
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    let vera_path = format!("/api/v1/users/{}", app.user_id("vera").await);
    for path in [
        "/api/v1/users",
        "/api/v1/tokens",
        "/api/v1/audit",
        "/api/v1/me",
        vera_path.as_str(),
    ] {
        let resp = admin.get(&app, path).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        seen.push_str(&resp.text().await.unwrap());
    }
    let me = app
        .with_token(Method::GET, "/api/v1/me", &token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    seen.push_str(&me);
    assert!(seen.contains("vera"));
    let token_hash = streamswarm::auth::token::hash(&token);
    for needle in [
        "argon2",
        "password_hash",
        "secret_hash",
        token_hash.as_str(),
        token.as_str(),
        password(Role::Viewer),
    ] {
        assert!(!seen.contains(needle), "a response holds {needle:?}");
    }
});
