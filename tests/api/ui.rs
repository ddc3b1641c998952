//! The web UI's server side: embedded assets, every page for the roles that may see it
//! (user-supplied text escaped), the dashboard numbers and the agent list's filters.
//! The browser side is proven by `tests/browser/` (a real Chromium).

use crate::both_backends;
use crate::helpers::*;
use sha2::{Digest, Sha256};
use streamswarm_schema::Role;
use streamswarm_schema::TestKind;

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
    // The agent's page lists the tests it runs: assigned directly or through a group.
    let resp = admin
        .send(&app, reqwest::Method::POST, "/api/v1/groups")
        .json(&serde_json::json!({"name": "edge"}))
        .send()
        .await
        .unwrap();
    let (status, group) = status_json(resp).await;
    assert_eq!(status, 201, "{group}");
    let resp = admin
        .send(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/agents/{}/groups", agent.id),
        )
        .json(&serde_json::json!({"groups": [group["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut via_group = 0;
    for (name, assignments) in [
        ("by group", serde_json::json!({"groups": [group["id"]]})),
        ("elsewhere", serde_json::json!({})),
    ] {
        let resp = admin
            .send(&app, reqwest::Method::POST, "/api/v1/tests")
            .json(&serde_json::json!({
                "name": name, "kind": "dns", "target": "example.com",
                "schedule": {"interval_seconds": 60}, "assignments": assignments,
            }))
            .send()
            .await
            .unwrap();
        let (status, t) = status_json(resp).await;
        assert_eq!(status, 201);
        if name == "by group" {
            via_group = t["id"].as_i64().unwrap();
        }
    }
    let html = s
        .get(&app, &agent_page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("href=\"/tests/{test_id}\"")),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"/tests/{via_group}\"")),
        "{html}"
    );
    assert!(!html.contains("elsewhere"), "{html}");
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

/// Writes as an operator API token (an importer): these lines stand for agents' points
/// but name tests not assigned to them and leave out schema fields, which the agents'
/// own credentials may not write (`timeseries::embedded::policy`). The agent
/// credentials only show which agent the lines stand for.
async fn write_lines(app: &TestApp, _agent_credential: &str, body: String) {
    let token = app.api_token(Role::Operator).await;
    let resp = bare_client()
        .post(app.url("/write?db=d&precision=ms"))
        .header("authorization", format!("Token {token}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap());
}

fn ping_line(agent: i64, test: i64, t_ms: i64, min: f64, max: f64, p50: f64, loss: f64) -> String {
    format!(
        "ping,agent={agent},test={test},target=192.0.2.1 sent=5i,received=5i,rtt_min_ms={min},rtt_max_ms={max},rtt_p50_ms={p50},loss_percent={loss} {t_ms}\n"
    )
}

both_backends!(test_series_are_aggregated_per_agent, |app| async {
    let admin = app.login(Role::Admin).await;
    let mut ids = Vec::new();
    for (name, kind, target) in [("p", "ping", "192.0.2.1"), ("d", "dns", "example.com")] {
        let resp = admin
            .send(&app, reqwest::Method::POST, "/api/v1/tests")
            .json(&serde_json::json!({
                "name": name, "kind": kind, "target": target, "schedule": {"interval_seconds": 60},
            }))
            .send()
            .await
            .unwrap();
        let (status, t) = status_json(resp).await;
        assert_eq!(status, 201, "{t}");
        ids.push(t["id"].as_i64().unwrap());
    }
    let (ping_id, dns_id) = (ids[0], ids[1]);
    let (a1, tok1) = app.agent_token("first").await;
    let (a2, tok2) = app.agent_token("second").await;
    let now = app.store().clock().now_ms();
    // A 10 s bucket start half an hour ago (the 1 h range has 10 s buckets).
    let base = (now - 30 * 60_000) / 10_000 * 10_000;
    let mut body = String::new();
    body += &ping_line(a1, ping_id, base + 1_000, 1.0, 5.0, 2.0, 0.0);
    body += &ping_line(a1, ping_id, base + 2_000, 0.5, 9.0, 4.0, 20.0);
    body += &ping_line(a1, ping_id, base + 60_000, 2.0, 3.0, 2.5, 0.0);
    // Two hours ago: outside 1 h, inside 6 h.
    body += &ping_line(a1, ping_id, now - 2 * 3_600_000, 7.0, 8.0, 7.5, 0.0);
    // Another test's results are not this test's.
    body += &ping_line(a1, ping_id + 1000, base + 1_000, 99.0, 99.0, 99.0, 99.0);
    write_lines(&app, &tok1, body).await;
    write_lines(
        &app,
        &tok2,
        ping_line(a2, ping_id, base + 1_000, 10.0, 12.0, 11.0, 100.0),
    )
    .await;

    let viewer = app.login(Role::Viewer).await;
    let get = |q: String| {
        let req = viewer.get(&app, &format!("/api/v1/tests/{ping_id}/series{q}"));
        async move { req.send().await.unwrap() }
    };
    let (status, d) = status_json(get("?range=1h".into()).await).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["interval_seconds"], 10);
    let span = d["end"].as_i64().unwrap() - d["start"].as_i64().unwrap();
    assert_eq!(span, 3_600_000);
    assert!(
        d["end"].as_i64().unwrap() > now,
        "the newest bucket is included"
    );
    let series = d["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{d}");
    // The charts the ping kind declares (schema/kinds/ping.toml), a series per agent.
    let keys: Vec<&str> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["rtt", "loss"], "{d}");
    let rtt = &d["panels"][0];
    assert_eq!(rtt["style"], "band");
    let labels: Vec<&str> = rtt["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "first min",
            "first median",
            "first max",
            "second min",
            "second median",
            "second max"
        ]
    );
    assert_eq!(
        rtt["lines"][0]["points"],
        serde_json::json!([{"t": base, "v": 0.5}, {"t": base + 60_000, "v": 2.0}])
    );
    assert_eq!(
        d["panels"][1]["lines"][1]["points"],
        serde_json::json!([{"t": base, "v": 100.0}])
    );
    let by_agent = |id: i64| {
        series
            .iter()
            .find(|s| s["agent"].as_str() == Some(id.to_string().as_str()))
            .unwrap_or_else(|| panic!("no series for agent {id}: {d}"))
    };
    let s1 = by_agent(a1);
    assert_eq!(s1["agent_name"], "first");
    assert_eq!(
        s1["points"],
        serde_json::json!([
            {"t": base, "min": 0.5, "max": 9.0, "p50": 3.0, "loss": 10.0, "sent": 5.0},
            {"t": base + 60_000, "min": 2.0, "max": 3.0, "p50": 2.5, "loss": 0.0, "sent": 5.0},
        ])
    );
    assert_eq!(
        by_agent(a2)["points"],
        serde_json::json!([{"t": base, "min": 10.0, "max": 12.0, "p50": 11.0, "loss": 100.0, "sent": 5.0}])
    );
    // 6 h: 30 s buckets, and the older run is in.
    let (_, d6) = status_json(get("?range=6h".into()).await).await;
    assert_eq!(d6["interval_seconds"], 30);
    let pts: usize = d6["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["points"].as_array().unwrap().len())
        .sum();
    assert_eq!(pts, 4, "{d6}");
    // Every range stays within 1,000 buckets.
    for r in ["1h", "6h", "24h", "7d", "30d"] {
        let (status, d) = status_json(get(format!("?range={r}")).await).await;
        assert_eq!(status, 200, "{r}: {d}");
        let buckets = (d["end"].as_i64().unwrap() - d["start"].as_i64().unwrap())
            / (d["interval_seconds"].as_i64().unwrap() * 1000);
        assert!(buckets <= 1000, "{r}: {buckets} buckets");
    }
    // CSV: a header and one line per point.
    let resp = get("?range=1h&format=csv".into()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "time,agent,agent_name,rtt_min_ms,rtt_max_ms,rtt_p50_mean_ms,loss_percent_mean"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines.contains(
            &format!(
                "{},{a2},second,10,12,11,100",
                streamswarm::clock::Timestamp(base).rfc3339()
            )
            .as_str()
        ),
        "{csv}"
    );
    // A custom range: whole buckets of the smallest width within 1,000 points.
    let (status, c) =
        status_json(get(format!("?from={}&to={}", base - 5 * 60_000, base + 30_000)).await).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["range"], "custom");
    assert_eq!(c["interval_seconds"], 10);
    assert_eq!(c["start"], base - 5 * 60_000);
    assert_eq!(c["end"], base + 30_000);
    let pts: Vec<i64> = c["series"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["t"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(
        pts,
        vec![base, base],
        "one bucket per agent, the later run is outside: {c}"
    );
    // A year: wide buckets, still at most 1,000.
    let (status, y) =
        status_json(get(format!("?from={}&to={}", now - 365 * 86_400_000, now)).await).await;
    assert_eq!(status, 200, "{y}");
    let buckets = (y["end"].as_i64().unwrap() - y["start"].as_i64().unwrap())
        / (y["interval_seconds"].as_i64().unwrap() * 1000);
    assert!(buckets <= 1000, "{buckets} buckets");
    assert_eq!(y["interval_seconds"], 43_200);
    // The custom CSV has the same rows.
    let resp = get(format!("?from={}&to={}&format=csv", base, base + 1000)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap().lines().count(), 3);
    for (q, field, says) in [
        (format!("?from={now}&to={}", now - 1), "from", "before to"),
        (format!("?from={now}&to={now}"), "from", "before to"),
        (format!("?from={now}"), "to", "both from and to"),
        (format!("?to={now}"), "from", "both from and to"),
        (format!("?range=1h&from=1&to={now}"), "range", "not both"),
        (format!("?from=-5&to={now}"), "from", "1970"),
        (
            format!("?from=0&to={}", 1001 * 86_400_000i64),
            "to",
            "at most 1000 days",
        ),
    ] {
        let (status, e) = status_json(get(q.clone()).await).await;
        assert_eq!(status, 400, "{q}: {e}");
        assert_eq!(e["error"]["details"][0]["field"], field, "{q}: {e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(says),
            "{q}: {e}"
        );
    }
    let (status, e) = status_json(get("?from=yesterday&to=1".into()).await).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["details"][0]["field"], "from", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unix milliseconds"),
        "{e}"
    );
    // Bad input names what was wrong.
    let (status, e) = status_json(get("?range=2h".into()).await).await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["details"][0]["field"], "range");
    let (status, e) = status_json(get("?format=xml".into()).await).await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["details"][0]["field"], "format");
    // A kind without results yet: its declared charts, empty.
    let (status, d) = status_json(
        viewer
            .get(&app, &format!("/api/v1/tests/{dns_id}/series?range=1h"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(d["series"], serde_json::json!([]));
    let keys: Vec<&str> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    let declared: Vec<&str> = TestKind::Dns.def().charts.iter().map(|c| c.key).collect();
    assert_eq!(keys, declared);
    assert!(
        d["panels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["lines"] == serde_json::json!([])),
        "{d}"
    );
    let resp = viewer
        .get(&app, "/api/v1/tests/999999/series")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
});

both_backends!(agent_host_series_per_panel, |app| async {
    let (a1, tok1) = app.agent_token("host-one").await;
    let (a2, tok2) = app.agent_token("host-two").await;
    let now = app.store().clock().now_ms();
    let base = (now - 10 * 60_000) / 10_000 * 10_000;
    let mut body = String::new();
    for (dt, total, core0, mem, eth_rx, lo_rx) in [
        (1_000, 10.0, 90.0, 40.0, 1000.0, 5.0),
        (3_000, 30.0, 70.0, 60.0, 3000.0, 7.0),
    ] {
        let t = base + dt;
        body += &format!("host_cpu,agent={a1},cpu=total usage_percent={total} {t}\n");
        body += &format!("host_cpu,agent={a1},cpu=cpu0 usage_percent={core0} {t}\n");
        body += &format!("host_memory,agent={a1} used_percent={mem},used_bytes=1i {t}\n");
        body += &format!(
            "host_net,agent={a1},interface=eth0 rx_bytes_per_s={eth_rx},tx_bytes_per_s=1 {t}\n"
        );
        body += &format!(
            "host_net,agent={a1},interface=lo rx_bytes_per_s={lo_rx},tx_bytes_per_s=2 {t}\n"
        );
    }
    body += &format!(
        "host_disk,agent={a1},mount=/ used_percent=55 {}\n",
        base + 1_000
    );
    write_lines(&app, &tok1, body).await;
    // Another agent's metrics are not this agent's.
    write_lines(
        &app,
        &tok2,
        format!(
            "host_cpu,agent={a2},cpu=total usage_percent=99 {}\n",
            base + 1_000
        ),
    )
    .await;
    let s = app.login(Role::Viewer).await;
    let (status, d) = status_json(
        s.get(&app, &format!("/api/v1/agents/{a1}/series?range=1h"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{d}");
    let panel = |key: &str| {
        d["panels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == key)
            .unwrap_or_else(|| panic!("no panel {key}: {d}"))
            .clone()
    };
    // CPU: the machine total only (mean of 10 and 30), not cpu0.
    assert_eq!(
        panel("cpu")["lines"],
        serde_json::json!([{"label": "CPU", "series": "", "field": "usage_percent", "points": [{"t": base, "v": 20.0}]}])
    );
    assert_eq!(panel("memory")["lines"][0]["points"][0]["v"], 50.0);
    assert_eq!(
        panel("disk")["lines"],
        serde_json::json!([{"label": "/", "series": "/", "field": "used_percent", "points": [{"t": base, "v": 55.0}]}])
    );
    let net = panel("network");
    assert_eq!(net["unit"], "bytes/s");
    let labels: Vec<&str> = net["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["eth0 in", "eth0 out", "lo in", "lo out"]);
    assert_eq!(net["lines"][0]["points"][0]["v"], 2000.0);
    assert_eq!(net["lines"][2]["points"][0]["v"], 6.0);
    // An agent without metrics has empty panels; bad input is named.
    let (_, d2) = status_json(
        s.get(&app, &format!("/api/v1/agents/{a2}/series?range=1h"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(d2["panels"][1]["lines"], serde_json::json!([]));
    assert_eq!(d2["panels"][0]["lines"][0]["points"][0]["v"], 99.0);
    let (status, e) = status_json(
        s.get(&app, &format!("/api/v1/agents/{a1}/series?range=1y"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["details"][0]["field"], "range");
    let resp = s
        .get(&app, "/api/v1/agents/424242/series")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
});

both_backends!(dashboard_reads_the_agents_own_metrics, |app| async {
    let (a1, tok1) = app.agent_token("busy").await;
    let (a2, tok2) = app.agent_token("calm").await;
    let (a3, tok3) = app.agent_token("failing").await;
    let now = app.store().clock().now_ms();
    let line = |agent: i64, sent: i64, spool: i64, age: f64, errors: i64, t: i64| {
        format!(
            "agent_self,agent={agent} points_sent_total={sent}i,spool_bytes={spool}i,oldest_unsent_age_s={age},probe_errors_total={errors}i {t}\n"
        )
    };
    // busy: 100 → 250 in the hour (and 40 before it, outside), a 600 s old backlog now.
    let mut b = line(a1, 40, 0, 0.0, 0, now - 2 * 3_600_000);
    b += &line(a1, 100, 0, 0.0, 2, now - 50 * 60_000);
    b += &line(a1, 250, 12_345, 600.0, 2, now - 60_000);
    write_lines(&app, &tok1, b).await;
    // calm: 10 → 30, no backlog, no errors.
    let mut b = line(a2, 10, 0, 0.0, 5, now - 20 * 60_000);
    b += &line(a2, 30, 512, 3.0, 5, now - 30_000);
    write_lines(&app, &tok2, b).await;
    // failing: 3 → 7 probe errors inside the last 15 minutes.
    let mut b = line(a3, 0, 0, 0.0, 3, now - 10 * 60_000);
    b += &line(a3, 5, 0, 0.0, 7, now - 60_000);
    write_lines(&app, &tok3, b).await;
    // Ping results of two agents for the fleet chart (its buckets are minutes).
    let base = (now - 10 * 60_000) / 60_000 * 60_000;
    write_lines(
        &app,
        &tok1,
        ping_line(a1, 1, base + 1_000, 1.0, 4.0, 2.0, 0.0),
    )
    .await;
    write_lines(
        &app,
        &tok2,
        ping_line(a2, 2, base + 2_000, 3.0, 9.0, 6.0, 50.0),
    )
    .await;

    let viewer = app.login(Role::Viewer).await;
    let (status, d) =
        status_json(viewer.get(&app, "/api/v1/dashboard").send().await.unwrap()).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["points_last_hour"], 150 + 20 + 5, "{d}");
    assert_eq!(d["timeseries_error"], serde_json::Value::Null);
    let health = d["health"].as_array().unwrap();
    assert_eq!(health.len(), 2, "{d}");
    assert_eq!(health[0]["id"], a1);
    assert_eq!(health[0]["spool_bytes"], 12_345);
    assert_eq!(health[0]["oldest_unsent_age_s"], 600.0);
    assert_eq!(health[0]["probe_errors"], 0);
    assert_eq!(
        health[0]["problem"],
        "spool backlog: oldest unsent point 600 s old, 12345 bytes waiting"
    );
    assert_eq!(health[1]["id"], a3);
    assert_eq!(health[1]["problem"], "4 probe errors in the last 15 min");
    let html = viewer
        .get(&app, "/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"data-bind="points_last_hour">175<"#),
        "{html}"
    );
    assert!(html.contains("4 probe errors in the last 15 min"), "{html}");
    assert!(html.contains(r#"data-series-url="/api/v1/dashboard/series""#));

    // The fleet chart: one series over every agent and test.
    let (status, f) = status_json(
        viewer
            .get(&app, "/api/v1/dashboard/series?range=1h")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(
        f["series"],
        serde_json::json!([{"agent": "all", "agent_name": "all agents", "points": [
            {"t": base, "min": 1.0, "max": 9.0, "p50": 4.0, "loss": 25.0, "sent": 5.0}
        ]}])
    );
    let (status, e) = status_json(
        viewer
            .get(&app, "/api/v1/dashboard/series?range=5m")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["details"][0]["field"], "range");
});
