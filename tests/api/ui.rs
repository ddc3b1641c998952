//! The web UI's server side: embedded assets, every page for the roles that may see it
//! (user-supplied text escaped), the dashboard numbers and the agent list's filters.
//! The browser side is proven by `tests/browser/` (a real Chromium).

use crate::both_backends;
use crate::helpers::*;
use sha2::{Digest, Sha256};
use streamswarm_schema::Role;

const EVIL: &str = "<script>alert(1)</script>";

/// The `/assets/<hash>/<name>` URL a page links for `name`.
fn asset_url(html: &str, name: &str) -> String {
    let suffix = format!("/{name}\"");
    let end = html
        .find(&suffix)
        .unwrap_or_else(|| panic!("{name} not linked"));
    let start = html[..end].rfind("\"/assets/").expect("an /assets/ URL") + 1;
    html[start..end + suffix.len() - 1].to_owned()
}

both_backends!(assets_are_embedded_under_content_hash_urls, |app| async {
    let s = app.login(Role::Viewer).await;
    let home = s.get(&app, "/").send().await.unwrap().text().await.unwrap();
    for (name, source, ct) in [
        (
            "app.css",
            include_bytes!("../../src/http/ui/assets/app.css").as_slice(),
            "text/css; charset=utf-8",
        ),
        (
            "app.js",
            include_bytes!("../../src/http/ui/assets/app.js").as_slice(),
            "text/javascript; charset=utf-8",
        ),
        (
            "vendor/bootstrap.min.css",
            include_bytes!("../../src/http/ui/assets/vendor/bootstrap.min.css").as_slice(),
            "text/css; charset=utf-8",
        ),
        (
            "vendor/bootstrap.bundle.min.js",
            include_bytes!("../../src/http/ui/assets/vendor/bootstrap.bundle.min.js").as_slice(),
            "text/javascript; charset=utf-8",
        ),
    ] {
        let url = asset_url(&home, name);
        let hash = hex::encode(&Sha256::digest(source)[..6]);
        assert_eq!(url, format!("/assets/{hash}/{name}"));
        // Anonymous: the login page needs them too.
        let resp = bare_client().get(app.url(&url)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        assert_eq!(resp.headers()["content-type"], ct, "{url}");
        assert_eq!(
            resp.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), source, "{url}");
        // Another hash is not this content: 404, never the current file.
        let stale = format!("/assets/000000000000/{name}");
        let resp = bare_client().get(app.url(&stale)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{stale}");
        // Without a hash: revalidated by ETag.
        let plain = format!("/assets/{name}");
        let resp = bare_client().get(app.url(&plain)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["cache-control"], "no-cache");
        let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(etag, format!("\"{hash}\""));
        let resp = bare_client()
            .get(app.url(&plain))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 304);
    }
    for unknown in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/vendor/",
        "/assets/abc/app.css",
    ] {
        let resp = bare_client().get(app.url(unknown)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{unknown}");
    }
});

// Every page, as each role that may see it: 200, security headers, the CSRF meta tag,
// user-supplied text escaped, mutating controls only for those who may use them.
both_backends!(pages_render_escaped_and_by_role, |app| async {
    let agent = app
        .store()
        .create_agent(&format!("agent {EVIL}"), &format!("host-{EVIL}"))
        .await
        .unwrap();
    let admin = app.login(Role::Admin).await;
    let resp = admin
        .send(&app, reqwest::Method::POST, "/api/v1/tests")
        .json(&serde_json::json!({
            "name": format!("test {EVIL}"), "kind": "ping", "target": "192.0.2.1",
            "description": format!("about {EVIL}"),
            "schedule": {"interval_seconds": 60}, "assignments": {"agents": [agent.id]},
        }))
        .send()
        .await
        .unwrap();
    let (status, test) = status_json(resp).await;
    assert_eq!(status, 201, "{test}");
    let test_id = test["id"].as_i64().unwrap();
    let agent_page = format!("/agents/{}", agent.id);
    let test_page = format!("/tests/{test_id}");
    let edit_page = format!("/tests/{test_id}/edit");
    let pages: Vec<(&str, Role)> = vec![
        ("/", Role::Viewer),
        ("/agents", Role::Viewer),
        (&agent_page, Role::Viewer),
        ("/agents/enrol", Role::Admin),
        ("/tests", Role::Viewer),
        (&test_page, Role::Viewer),
        ("/tests/new", Role::Operator),
        (&edit_page, Role::Operator),
        ("/users", Role::Admin),
        ("/tokens", Role::Admin),
        ("/settings", Role::Admin),
        ("/profile", Role::Viewer),
    ];
    for role in [Role::Viewer, Role::Operator, Role::Admin] {
        let s = app.login(role).await;
        for (path, least) in &pages {
            let resp = s.get(&app, path).send().await.unwrap();
            if role < *least {
                assert_eq!(resp.status(), 403, "{path} as {role}");
                continue;
            }
            assert_eq!(resp.status(), 200, "{path} as {role}");
            let csp = resp.headers()["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"));
            let html = resp.text().await.unwrap();
            assert!(!html.contains("<script>alert"), "{path} as {role}: {html}");
            assert!(
                html.contains(&format!(r#"<meta name="csrf-token" content="{}">"#, s.csrf)),
                "{path} as {role}"
            );
            // No inline script or style: every <script> has a src, no style attributes.
            assert_eq!(
                html.matches("<script").count(),
                html.matches("<script src=\"/assets/").count(),
                "{path}"
            );
            assert!(!html.contains(" style="), "{path}");
            let mutating = html.contains("data-api-action")
                || html.contains("data-api-form")
                || html.contains("href=\"/tests/new\"");
            if role == Role::Viewer && *path != "/profile" {
                assert!(!mutating, "{path}: a viewer sees a mutating control");
                assert!(!html.contains("data-admin-link"), "{path}");
            }
            if role == Role::Admin {
                assert!(html.contains("data-admin-link"), "{path}");
            }
        }
    }
    // The escaped text is there, as text.
    let s = app.login(Role::Viewer).await;
    for path in [agent_page.as_str(), test_page.as_str(), "/agents", "/tests"] {
        let html = s
            .get(&app, path)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}: {html}"
        );
    }
    let ops = app.login(Role::Operator).await;
    let html = ops
        .get(&app, &test_page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("href=\"/tests/{test_id}/edit\"")));
});

both_backends!(dashboard_counts_agents_and_tests, |app| async {
    for i in 0..3 {
        app.store()
            .create_agent(&format!("a{i}"), &format!("h{i}"))
            .await
            .unwrap();
    }
    let admin = app.login(Role::Admin).await;
    for (name, enabled) in [("one", true), ("two", false)] {
        let resp = admin
            .send(&app, reqwest::Method::POST, "/api/v1/tests")
            .json(&serde_json::json!({
                "name": name, "kind": "dns", "target": "example.com",
                "schedule": {"interval_seconds": 60}, "enabled": enabled,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let viewer = app.login(Role::Viewer).await;
    let (status, d) =
        status_json(viewer.get(&app, "/api/v1/dashboard").send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(d["agents"]["total"], 3);
    assert_eq!(d["agents"]["online"], 0);
    assert_eq!(d["agents"]["never_seen"], 3);
    assert_eq!(d["tests"]["total"], 2);
    assert_eq!(d["tests"]["active"], 1);
    assert_eq!(d["problems_total"], 3);
    assert_eq!(d["problems"].as_array().unwrap().len(), 3);
    let html = viewer
        .get(&app, "/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"data-bind="tests.active">1<"#), "{html}");
    assert!(html.contains(r#"data-poll="/api/v1/dashboard""#));
});

both_backends!(agent_list_filters_and_pages, |app| async {
    for i in 0..5 {
        app.store()
            .create_agent(&format!("agent-{i}"), &format!("host-{i}.example"))
            .await
            .unwrap();
    }
    let s = app.login(Role::Viewer).await;
    let get = |q: &'static str| {
        let req = s.get(&app, &format!("/api/v1/agents{q}"));
        async move { req.send().await.unwrap() }
    };
    let resp = get("").await;
    assert_eq!(resp.headers()["x-total-count"], "5");
    assert_eq!(status_json(resp).await.1.as_array().unwrap().len(), 5);
    let resp = get("?limit=2&offset=3").await;
    assert_eq!(resp.headers()["x-total-count"], "5");
    let names: Vec<String> = status_json(resp)
        .await
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["agent-3", "agent-4"]);
    let resp = get("?search=HOST-2").await;
    assert_eq!(resp.headers()["x-total-count"], "1");
    let resp = get("?status=never_seen&limit=1").await;
    assert_eq!(resp.headers()["x-total-count"], "5");
    let resp = get("?status=online").await;
    assert_eq!(resp.headers()["x-total-count"], "0");
    let (status, body) = status_json(get("?status=asleep").await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"][0]["field"], "status", "{body}");
    let (status, body) = status_json(get("?limit=0").await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"][0]["field"], "limit", "{body}");
    // The page: a filter that matches nothing says so and offers the way back.
    let html = s
        .get(&app, "/agents?search=nothing-like-this")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("No agent matches this filter"), "{html}");
    let html = s
        .get(&app, "/agents?search=host-4")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("agent-4") && !html.contains("agent-3"));
    let resp = s.get(&app, "/agents?status=asleep").send().await.unwrap();
    assert_eq!(resp.status(), 400);
});
