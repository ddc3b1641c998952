//! Authentication: login, the generic failure, disabled users, session rotation,
//! logout, idle and absolute timeouts, cookie attributes, what unauthenticated callers
//! get, and the `next` redirect after login.

use crate::helpers::*;
use crate::{both_backends, both_backends_with};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use streamswarm::auth::session::hash_id;
use streamswarm::config::SecureCookies;
use streamswarm_schema::Role;

const MIN: u64 = 60;

/// The text of the login page's error message.
fn alert(html: &str) -> Option<String> {
    let at = html.find("role=\"alert\"")?;
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find('<')?;
    Some(html[start..end].to_owned())
}

async fn me_status(app: &TestApp, id: &str) -> u16 {
    app.with_session_id(Method::GET, "/api/v1/me", id)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

both_backends!(login_succeeds_with_the_right_password, |app| async {
    let c = client();
    let resp = app.post_login(&c, "ada", password(Role::Admin)).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/");
    assert!(set_cookie_value(&resp, "ssw_session").is_some());
    let (status, me) = status_json(c.get(app.url("/api/v1/me")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(me["kind"], "user");
    assert_eq!(me["user"]["username"], "ada");
    assert_eq!(me["role"], "admin");
    // Usernames are case-insensitive and trimmed.
    let c2 = client();
    let resp = app.post_login(&c2, "  ADA ", password(Role::Admin)).await;
    assert_eq!(resp.status(), 303);
    // The navbar names the signed-in user.
    let home = c.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(
        home.text()
            .await
            .unwrap()
            .contains(r#"<span id="nav-username">ada</span>"#)
    );
});

both_backends!(
    wrong_user_and_wrong_password_get_the_same_answer,
    |app| async {
        let mut pages = Vec::new();
        for (user, pw) in [
            ("ada", "not-the-right-password"),
            ("nobody", password(Role::Admin)),
            ("ada", ""),
            ("bad name!", "whatever-password"),
        ] {
            let c = client();
            let resp = app.post_login(&c, user, pw).await;
            assert_eq!(resp.status(), 401, "{user}/{pw}");
            assert!(
                set_cookie_value(&resp, "ssw_session").is_none(),
                "a failed login must not set a session"
            );
            let html = resp.text().await.unwrap();
            let csrf = extract_input(&html, "csrf_token").unwrap();
            let echoed = extract_input(&html, "username").unwrap();
            // Apart from the fresh form token and the echoed name, the pages are identical.
            let normalised = html
                .replace(&csrf, "CSRF")
                .replace(&format!("value=\"{echoed}\""), "value=\"USER\"");
            assert_eq!(
                alert(&html).as_deref(),
                Some("Invalid username or password."),
                "{user}"
            );
            pages.push(normalised);
            let me = c.get(app.url("/api/v1/me")).send().await.unwrap();
            assert_eq!(me.status(), 401);
        }
        for p in &pages[1..] {
            assert_eq!(p, &pages[0]);
        }
    }
);

both_backends!(
    disabled_user_cannot_log_in_and_loses_sessions,
    |app| async {
        let admin = app.login(Role::Admin).await;
        let (_vera, vera_id) = app.login_with_id(Role::Viewer).await;
        assert_eq!(me_status(&app, &vera_id).await, 200);
        let vera = app.user_id("vera").await;
        let path = format!("/api/v1/users/{vera}");
        let resp = admin
            .send(&app, Method::PATCH, &path)
            .json(&json!({"disabled": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        // Her open session ends…
        assert_eq!(me_status(&app, &vera_id).await, 401);
        // …and the right password gets exactly the generic failure.
        let c = client();
        let resp = app.post_login(&c, "vera", password(Role::Viewer)).await;
        assert_eq!(resp.status(), 401);
        assert!(set_cookie_value(&resp, "ssw_session").is_none());
        assert_eq!(
            alert(&resp.text().await.unwrap()).as_deref(),
            Some("Invalid username or password.")
        );
        // Enabled again, she can sign in.
        let resp = admin
            .send(&app, Method::PATCH, &path)
            .json(&json!({"disabled": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let resp = app.post_login(&c, "vera", password(Role::Viewer)).await;
        assert_eq!(resp.status(), 303);
    }
);

both_backends!(
    disabling_in_the_store_ends_the_session_at_once,
    |app| async {
        // Even when the flag is set behind the API's back, the session check refuses it.
        let (_s, id) = app.login_with_id(Role::Operator).await;
        assert_eq!(me_status(&app, &id).await, 200);
        let otto = app.user_id("otto").await;
        app.store().set_disabled(otto, true).await.unwrap();
        assert_eq!(me_status(&app, &id).await, 401);
        assert!(app.store().session(&hash_id(&id)).await.unwrap().is_none());
    }
);

both_backends!(session_id_is_rotated_at_login, |app| async {
    // A session id planted before login (session fixation) is not adopted.
    let bare = bare_client();
    let form = bare.get(app.url("/login")).send().await.unwrap();
    let csrf = set_cookie_value(&form, "ssw_login_csrf").unwrap();
    let planted = "AAAAAAAAAAAAAAAAAAAAAA";
    let resp = bare
        .post(app.url("/login"))
        .header(
            "cookie",
            format!("ssw_login_csrf={csrf}; ssw_session={planted}"),
        )
        .form(&[
            ("username", "otto"),
            ("password", password(Role::Operator)),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let first = set_cookie_value(&resp, "ssw_session").unwrap();
    assert_ne!(first, planted);
    assert_eq!(me_status(&app, planted).await, 401);
    assert_eq!(me_status(&app, &first).await, 200);

    // Signing in again from a browser that holds `first` issues a new id and ends the
    // old session.
    let c = client();
    let csrf = app.login_form(&c).await;
    let resp = c
        .post(app.url("/login"))
        .header(
            "cookie",
            format!("ssw_login_csrf={csrf}; ssw_session={first}"),
        )
        .form(&[
            ("username", "otto"),
            ("password", password(Role::Operator)),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let second = set_cookie_value(&resp, "ssw_session").unwrap();
    assert_ne!(first, second);
    assert_eq!(me_status(&app, &first).await, 401);
    assert!(
        app.store()
            .session(&hash_id(&first))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(me_status(&app, &second).await, 200);

    // Two independent logins get different ids too, and both work.
    let (_a, a) = app.login_with_id(Role::Viewer).await;
    let (_b, b) = app.login_with_id(Role::Viewer).await;
    assert_ne!(a, b);
    assert_eq!(me_status(&app, &a).await, 200);
    assert_eq!(me_status(&app, &b).await, 200);
    // Ids are 128-bit random values, not guessable counters.
    assert!(a.len() >= 22, "{a}");
});

both_backends!(logout_deletes_the_server_side_session, |app| async {
    let (s, id) = app.login_with_id(Role::Viewer).await;
    assert!(app.store().session(&hash_id(&id)).await.unwrap().is_some());
    let resp = s
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", s.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login");
    let cleared = set_cookie_header(&resp, "ssw_session").expect("logout clears the cookie");
    assert!(cleared.starts_with("ssw_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The server forgot the session: replaying the old cookie value fails.
    assert!(app.store().session(&hash_id(&id)).await.unwrap().is_none());
    assert_eq!(me_status(&app, &id).await, 401);
    let resp = app
        .with_session_id(Method::GET, "/", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/login"));
});

both_backends!(idle_timeout_ends_a_quiet_session, |app| async {
    let (_s, id) = app.login_with_id(Role::Viewer).await;
    // Activity keeps it alive: just under 30 minutes of quiet, twice.
    app.clock.advance(Duration::from_secs(30 * MIN - 1));
    assert_eq!(me_status(&app, &id).await, 200);
    app.clock.advance(Duration::from_secs(30 * MIN - 1));
    assert_eq!(me_status(&app, &id).await, 200);
    // Just over 30 minutes of quiet ends it, for good.
    app.clock.advance(Duration::from_secs(30 * MIN + 1));
    assert_eq!(me_status(&app, &id).await, 401);
    assert!(app.store().session(&hash_id(&id)).await.unwrap().is_none());
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(me_status(&app, &id).await, 401);
});

both_backends!(idle_timeout_follows_the_setting, |app| async {
    let admin = app.login(Role::Admin).await;
    let (_s, id) = app.login_with_id(Role::Viewer).await;
    let resp = admin
        .send(&app, Method::PATCH, "/api/v1/settings")
        .json(&json!({"session_idle_timeout_minutes": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    app.clock.advance(Duration::from_secs(5 * MIN - 1));
    assert_eq!(me_status(&app, &id).await, 200);
    app.clock.advance(Duration::from_secs(5 * MIN + 1));
    assert_eq!(me_status(&app, &id).await, 401);
});

both_backends!(absolute_timeout_ends_even_a_busy_session, |app| async {
    let (_s, id) = app.login_with_id(Role::Viewer).await;
    // A request every 25 minutes for 11 h 40 min, then at 11 h 59 min: still signed in.
    for _ in 0..28 {
        app.clock.advance(Duration::from_secs(25 * MIN));
        assert_eq!(me_status(&app, &id).await, 200);
    }
    app.clock.advance(Duration::from_secs(19 * MIN));
    assert_eq!(me_status(&app, &id).await, 200);
    // Past 12 hours since login it ends, although it was never idle.
    app.clock.advance(Duration::from_secs(MIN + 1));
    assert_eq!(me_status(&app, &id).await, 401);
    assert!(app.store().session(&hash_id(&id)).await.unwrap().is_none());
});

both_backends!(
    cookies_are_httponly_samesite_strict_and_not_secure_by_default,
    |app| async {
        let c = client();
        let form = c.get(app.url("/login")).send().await.unwrap();
        let csrf_cookie = set_cookie_header(&form, "ssw_login_csrf").expect("login form cookie");
        for attr in [
            "; Path=/",
            "; HttpOnly",
            "; SameSite=Strict",
            "; Max-Age=3600",
        ] {
            assert!(csrf_cookie.contains(attr), "{csrf_cookie} lacks {attr}");
        }
        assert!(!csrf_cookie.contains("Secure"), "{csrf_cookie}");
        let resp = app.post_login(&c, "ada", password(Role::Admin)).await;
        assert_eq!(resp.status(), 303);
        let session = set_cookie_header(&resp, "ssw_session").expect("session cookie");
        for attr in ["; Path=/", "; HttpOnly", "; SameSite=Strict"] {
            assert!(session.contains(attr), "{session} lacks {attr}");
        }
        assert!(!session.contains("Secure"), "{session}");
        assert!(!session.contains("Domain"), "{session}");
        // A browser-session cookie: the server decides when it ends.
        assert!(!session.contains("Max-Age"), "{session}");
        assert!(!session.contains("Expires"), "{session}");
        // The login-form cookie is spent.
        let spent = set_cookie_header(&resp, "ssw_login_csrf").expect("login csrf cookie cleared");
        assert!(spent.contains("Max-Age=0"), "{spent}");
    }
);

both_backends_with!(
    secure_cookies_use_the_host_prefix,
    |c: &mut streamswarm::config::Config| c.server.secure_cookies = SecureCookies::Always,
    |app| async {
        let c = bare_client();
        let form = c.get(app.url("/login")).send().await.unwrap();
        assert!(set_cookie_header(&form, "ssw_login_csrf").is_none());
        let csrf_cookie =
            set_cookie_header(&form, "__Host-ssw_login_csrf").expect("prefixed form cookie");
        assert!(csrf_cookie.contains("; Secure"), "{csrf_cookie}");
        assert!(csrf_cookie.contains("; Path=/"), "{csrf_cookie}");
        let csrf = set_cookie_value(&form, "__Host-ssw_login_csrf").unwrap();
        assert_eq!(
            extract_input(&form.text().await.unwrap(), "csrf_token").unwrap(),
            csrf
        );
        // The unprefixed login cookie is not accepted in its place.
        let resp = c
            .post(app.url("/login"))
            .header("cookie", format!("ssw_login_csrf={csrf}"))
            .form(&[
                ("username", "ada"),
                ("password", password(Role::Admin)),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        let resp = c
            .post(app.url("/login"))
            .header("cookie", format!("__Host-ssw_login_csrf={csrf}"))
            .form(&[
                ("username", "ada"),
                ("password", password(Role::Admin)),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        assert!(set_cookie_header(&resp, "ssw_session").is_none());
        let session = set_cookie_header(&resp, "__Host-ssw_session").expect("prefixed session");
        for attr in ["; Path=/", "; HttpOnly", "; SameSite=Strict", "; Secure"] {
            assert!(session.contains(attr), "{session} lacks {attr}");
        }
        assert!(!session.contains("Domain"), "{session}");
        let id = set_cookie_value(&resp, "__Host-ssw_session").unwrap();
        let ok = c
            .get(app.url("/api/v1/me"))
            .header("cookie", format!("__Host-ssw_session={id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        // Only the prefixed name carries the session.
        let unprefixed = c
            .get(app.url("/api/v1/me"))
            .header("cookie", format!("ssw_session={id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(unprefixed.status(), 401);
    }
);

both_backends!(unauthenticated_pages_redirect_to_login, |app| async {
    let c = bare_client();
    for (path, next) in [("/", "%2F"), ("/logout", "%2Flogout")] {
        let resp = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 303, "{path}");
        assert_eq!(location(&resp), format!("/login?next={next}"), "{path}");
    }
    // A stale or forged cookie is treated the same way.
    let resp = app
        .with_session_id(Method::GET, "/", "not-a-session")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login?next=%2F");
    // The login form carries `next` through, and login goes there.
    let c = client();
    let page = c
        .get(app.url("/login?next=%2Flogout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(extract_input(&page, "next").as_deref(), Some("/logout"));
    let csrf = extract_input(&page, "csrf_token").unwrap();
    let resp = c
        .post(app.url("/login"))
        .form(&[
            ("username", "vera"),
            ("password", password(Role::Viewer)),
            ("csrf_token", csrf.as_str()),
            ("next", "/logout"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/logout");
    let resp = c.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
});

both_backends!(unauthenticated_api_calls_get_401_json, |app| async {
    let c = bare_client();
    for (method, path) in [
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/users"),
        (Method::GET, "/api/v1/tests"),
        (Method::POST, "/api/v1/groups"),
        (Method::DELETE, "/api/v1/tokens/1"),
    ] {
        let resp = c
            .request(method.clone(), app.url(path))
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{method} {path}"
        );
        assert_eq!(
            resp.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 401, "{method} {path}");
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    // A forged session cookie on an API call: 401 too, never a redirect.
    let resp = app
        .with_session_id(Method::GET, "/api/v1/me", "forged")
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(app.store().list_groups().await.unwrap().is_empty());
});

/// Targets that must never send the browser off-site after login.
const HOSTILE_NEXT: &[&str] = &[
    "https://evil.example/",
    "http://evil.example",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\t\\evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "evil.example",
];

/// Resolves a `Location` the way a browser does and checks it stays on this server.
fn assert_same_origin(app: &TestApp, loc: &str, next: &str) {
    let base = url::Url::parse(&app.url("/login")).unwrap();
    let target = base
        .join(loc)
        .unwrap_or_else(|e| panic!("next={next:?} → unparsable Location {loc:?}: {e}"));
    assert_eq!(
        target.origin(),
        base.origin(),
        "next={next:?} redirected off-site to {target} (Location {loc:?})"
    );
}

both_backends!(next_cannot_redirect_off_site, |app| async {
    for next in HOSTILE_NEXT {
        let c = client();
        let page = c
            .get(app.url("/login"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = extract_input(&page, "csrf_token").unwrap();
        let resp = c
            .post(app.url("/login"))
            .form(&[
                ("username", "vera"),
                ("password", password(Role::Viewer)),
                ("csrf_token", csrf.as_str()),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "{next:?}");
        assert_same_origin(&app, &location(&resp), next);
        // Nor is it carried into the login form.
        let carried = extract_input(&page, "next").unwrap();
        assert_eq!(carried, "/", "the form must not carry {next:?}");
        // Already signed in, GET /login?next=… redirects at once: same rule.
        let resp = c
            .get(app.url("/login"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "{next:?}");
        assert_same_origin(&app, &location(&resp), next);
    }
    // Same-site paths are kept, query included.
    let c = client();
    let csrf = app.login_form(&c).await;
    let resp = c
        .post(app.url("/login"))
        .form(&[
            ("username", "vera"),
            ("password", password(Role::Viewer)),
            ("csrf_token", csrf.as_str()),
            ("next", "/api/v1/tests?search=web"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp), "/api/v1/tests?search=web");
});

both_backends!(password_changes_end_other_sessions, |app| async {
    let (s1, id1) = app.login_with_id(Role::Operator).await;
    let (_s2, id2) = app.login_with_id(Role::Operator).await;
    let new_password = "operator-password-2";
    let resp = s1
        .send(&app, Method::POST, "/api/v1/me/password")
        .json(&json!({"current_password": password(Role::Operator), "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // The session that changed it stays; the other one ends.
    assert_eq!(me_status(&app, &id1).await, 200);
    assert_eq!(me_status(&app, &id2).await, 401);
    assert_eq!(
        app.post_login(&client(), "otto", password(Role::Operator))
            .await
            .status(),
        401
    );
    assert_eq!(
        app.post_login(&client(), "otto", new_password)
            .await
            .status(),
        303
    );
    // An administrator's reset ends all of the user's sessions.
    let admin = app.login(Role::Admin).await;
    let otto = app.user_id("otto").await;
    let resp = admin
        .send(&app, Method::PATCH, &format!("/api/v1/users/{otto}"))
        .json(&json!({"password": "operator-password-3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(me_status(&app, &id1).await, 401);
});

both_backends!(reflected_input_is_html_escaped, |app| async {
    let evil = "<script>alert(1)</script>\"'";
    let c = client();
    let resp = app.post_login(&c, evil, "whatever-password").await;
    assert_eq!(resp.status(), 401);
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
    let page = c
        .get(app.url("/login"))
        .query(&[("next", "/\"><script>alert(2)</script>")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert(2)"), "{page}");
    assert!(!page.contains("\"><"), "{page}");
});

both_backends!(responses_carry_security_headers, |app| async {
    let c = bare_client();
    let token = app.api_token(Role::Viewer).await;
    for (method, path, with_token, api) in [
        (Method::GET, "/login", false, false),
        (Method::GET, "/", false, false),
        (Method::GET, "/no-such-page", false, false),
        (Method::DELETE, "/login", false, false),
        (Method::GET, "/api/v1/me", true, true),
        (Method::GET, "/api/v1/me", false, true),
        (Method::GET, "/api/v1/no-such-thing", true, true),
        (Method::DELETE, "/api/v1/me", true, true),
    ] {
        let mut req = c.request(method.clone(), app.url(path));
        if with_token {
            req = req.bearer_auth(&token);
        }
        let resp = req.send().await.unwrap();
        let h = resp.headers();
        let what = format!("{method} {path} → {}", resp.status());
        let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(get("x-content-type-options"), Some("nosniff"), "{what}");
        assert_eq!(get("x-frame-options"), Some("DENY"), "{what}");
        assert_eq!(get("cache-control"), Some("no-store"), "{what}");
        assert_eq!(get("referrer-policy"), Some("same-origin"), "{what}");
        if !api {
            let csp = get("content-security-policy").unwrap_or_default();
            assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp:?}");
            assert!(csp.contains("script-src 'self'"), "{what}: {csp:?}");
        }
    }
});
