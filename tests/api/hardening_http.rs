//! Issue 10, the HTTP surface: a closed set of metric labels, checked arithmetic on
//! every client number (chart ranges, pages, limits), origin trust with
//! `server.public_url`, HSTS, and the optional `/metrics` token.

use crate::helpers::*;
use crate::{both_backends, both_backends_with};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use streamswarm_schema::Role;

/// The series of a `/metrics` scrape: every sample line without its value.
async fn metric_series(app: &TestApp) -> BTreeSet<String> {
    let text = bare_client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            l.rsplit_once(' ')
                .map_or(l, |(series, _)| series)
                .to_owned()
        })
        .collect()
}

async fn send_made_up(client: &reqwest::Client, app: &TestApp, i: usize) -> u16 {
    let method = Method::from_bytes(format!("XM{i}").as_bytes()).unwrap();
    // Alternately an unknown path and a known one (405), so both label shapes occur
    // (under /api/ the errors are JSON: no page to render, so the flood is quick).
    let path = if i.is_multiple_of(2) {
        format!("/api/made-up/{i}")
    } else {
        "/api/v1/me".to_owned()
    };
    client
        .request(method, app.url(&path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

both_backends!(
    made_up_methods_and_paths_do_not_grow_the_metrics,
    |app| async {
        let client = bare_client();
        // Every label shape the flood below can produce exists once before the baseline.
        for i in 0..4 {
            send_made_up(&client, &app, i).await;
        }
        metric_series(&app).await;
        let before = metric_series(&app).await;
        let statuses: Vec<u16> = futures_util::stream::iter(4..10_004)
            .map(|i| {
                let client = client.clone();
                let app = &app;
                async move { send_made_up(&client, app, i).await }
            })
            .buffer_unordered(32)
            .collect()
            .await;
        assert!(statuses.iter().all(|s| *s == 404 || *s == 405));
        let after = metric_series(&app).await;
        let new: Vec<&String> = after.difference(&before).collect();
        assert!(new.is_empty(), "new series after 10,000 requests: {new:?}");
        assert!(
            after
                .iter()
                .any(|s| s.contains("method=\"other\"") && s.contains("route=\"unmatched\"")),
            "{after:?}"
        );
    }
);

/// Creates a ping test through the API and returns its id.
async fn ping_test(app: &TestApp) -> i64 {
    let token = app.api_token(Role::Operator).await;
    let (status, body) = status_json(
        app.with_token(Method::POST, "/api/v1/tests", &token)
            .json(&json!({
                "name": "hardening",
                "kind": "ping",
                "target": "192.0.2.1",
                "schedule": {"interval_seconds": 60}
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

const DAY_MS: i64 = 86_400_000;

both_backends!(
    custom_ranges_up_to_the_maximum_span_answer_within_the_bucket_limit,
    |app| async {
        let id = ping_test(&app).await;
        let s = app.login(Role::Viewer).await;
        // Spans just under, at and around the longest allowed, aligned and not.
        for (from, to) in [
            (0, 1000 * DAY_MS),
            (0, 999 * DAY_MS + 1),
            (0, 999 * DAY_MS + DAY_MS / 2),
            (DAY_MS / 3, DAY_MS / 3 + 1000 * DAY_MS),
            (12_345, 12_345 + 1000 * DAY_MS - 1),
            (1_700_000_000_000, 1_700_000_000_000 + 1000 * DAY_MS),
        ] {
            for path in [
                format!("/api/v1/tests/{id}/series?from={from}&to={to}"),
                format!("/api/v1/dashboard/series?from={from}&to={to}"),
            ] {
                let (status, body) = status_json(s.get(&app, &path).send().await.unwrap()).await;
                assert_eq!(status, 200, "{path}: {body}");
                let (start, end) = (
                    body["start"].as_i64().unwrap(),
                    body["end"].as_i64().unwrap(),
                );
                let step_ms = body["interval_seconds"].as_i64().unwrap() * 1000;
                assert!(start <= from && end >= to, "{path}: {body}");
                assert!((end - start) / step_ms <= 1000, "{path}: {body}");
            }
        }
        let csv = s
            .get(
                &app,
                &format!(
                    "/api/v1/tests/{id}/series?from=0&to={}&format=csv",
                    1000 * DAY_MS
                ),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(csv.status(), 200);
    }
);

both_backends!(
    out_of_range_times_pages_and_offsets_are_400_naming_the_parameter,
    |app| async {
        let id = ping_test(&app).await;
        let s = app.login(Role::Admin).await;
        let max = i64::MAX;
        let umax = u64::MAX;
        let cases: Vec<(String, &str)> = vec![
            (
                format!("/api/v1/tests/{id}/series?from=9223372036854775000&to={max}"),
                "to",
            ),
            (
                format!("/api/v1/dashboard/series?from=9223372036854775000&to={max}"),
                "to",
            ),
            (format!("/api/v1/tests/{id}/series?from=0&to={max}"), "to"),
            (format!("/api/v1/tests/{id}/series?from=0&to={umax}"), "to"),
            (format!("/api/v1/tests/{id}/series?from=-1&to=5"), "from"),
            (
                format!("/api/v1/tests/{id}/series?from={}&to=5", i64::MIN),
                "from",
            ),
            (format!("/tests?page={max}"), "page"),
            (format!("/tests?page={umax}"), "page"),
            ("/tests?page=-3".to_owned(), "page"),
            (format!("/agents?page={umax}"), "page"),
            (format!("/agents?page={max}"), "page"),
            ("/agents?page=-1".to_owned(), "page"),
            (format!("/api/v1/tests?offset={umax}"), "offset"),
            ("/api/v1/tests?offset=-1".to_owned(), "offset"),
            (format!("/api/v1/tests?limit={max}"), "limit"),
            ("/api/v1/agents?limit=-1".to_owned(), "limit"),
            (format!("/api/v1/audit?limit={umax}"), "limit"),
            ("/api/v1/audit?before=x".to_owned(), "before"),
        ];
        for (path, param) in cases {
            let resp = s.get(&app, &path).send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            assert_eq!(status, 400, "{path}: {text}");
            assert!(text.contains(param), "{path} must name {param}: {text}");
        }
        // The largest page and offset that are in range still answer (an empty page).
        for path in [
            "/tests?page=1000000".to_owned(),
            "/agents?page=1000000".to_owned(),
            format!("/api/v1/tests?offset={max}"),
            format!("/api/v1/agents?offset={umax}"),
        ] {
            let resp = s.get(&app, &path).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
        }
    }
);

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts panics of any thread of this test process (nextest runs each test in its own
/// process), on top of the default hook.
fn count_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// Client numbers as an attacker writes them: any i64 or u64, digits beyond them,
/// signs, blanks and junk.
fn number_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        (0i64..4_000_000_000_000).prop_map(|v| v.to_string()),
        "[0-9]{18,40}",
        "-[0-9]{1,30}",
        "[+ 0-9eE.x-]{0,8}",
        Just(i64::MAX.to_string()),
        Just(i64::MIN.to_string()),
        Just(u64::MAX.to_string()),
    ]
}

const ENDPOINTS: &[&str] = &[
    "/api/v1/tests/{test}/series?from={a}&to={b}",
    "/api/v1/tests/{test}/series?from={a}&to={b}&format=csv",
    "/api/v1/dashboard/series?from={a}&to={b}",
    "/api/v1/agents/{agent}/series?from={a}&to={b}",
    "/tests?page={a}",
    "/agents?page={a}",
    "/api/v1/tests?limit={a}&offset={b}",
    "/api/v1/agents?limit={a}&offset={b}",
    "/api/v1/audit?limit={a}&before={b}",
    "/api/v1/tests/{a}",
    "/api/v1/agents/{a}/series?range=24h",
    "/api/v1/insights?limit={a}&since={b}",
    "/api/v1/insights?test={a}&agent={b}",
    "/api/v1/insights/{a}",
    "/api/v1/tests/{test}/forecast?agent={agent}&from={a}&to={b}",
    "/api/v1/tests/{test}/forecast?agent={a}&range=1h",
    "/insights?limit={a}&since={b}",
    "/insights/{a}",
];

fn arbitrary_numbers_never_fail_the_server(backend: Backend) {
    use proptest::test_runner::{Config, TestRunner};
    count_panics();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(app) = rt.block_on(spawn_app(backend)) else {
        return;
    };
    let (test, agent, session) = rt.block_on(async {
        let test = ping_test(&app).await;
        let (agent, _) = app.agent_token("prop").await;
        (test, agent, app.login(Role::Admin).await)
    });
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..ENDPOINTS.len(), number_text(), number_text());
    runner
        .run(&strategy, |(endpoint, a, b)| {
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let path = ENDPOINTS[endpoint]
                .replace("{test}", &test.to_string())
                .replace("{agent}", &agent.to_string())
                .replace("{a}", &enc(&a))
                .replace("{b}", &enc(&b));
            let panics_before = PANICS.load(Ordering::SeqCst);
            let status = rt.block_on(async {
                match session.get(&app, &path).send().await {
                    Ok(resp) => Ok(resp.status().as_u16()),
                    Err(e) => Err(format!("{path}: no answer: {e}")),
                }
            });
            let status = status.map_err(proptest::test_runner::TestCaseError::fail)?;
            proptest::prop_assert!(status < 500, "{} answered {}", path, status);
            proptest::prop_assert_eq!(
                PANICS.load(Ordering::SeqCst),
                panics_before,
                "{} panicked",
                path
            );
            Ok(())
        })
        .unwrap();
    rt.block_on(app.stop());
}

mod arbitrary_numbers_never_fail_the_server {
    use super::*;
    #[test]
    fn sqlite() {
        arbitrary_numbers_never_fail_the_server(Backend::Sqlite);
    }
    #[test]
    fn postgres() {
        arbitrary_numbers_never_fail_the_server(Backend::Postgres);
    }
}

const PUBLIC_URL: &str = "https://streamswarm.example";

both_backends_with!(
    with_public_url_only_its_origin_is_trusted,
    |c| c.server.public_url = Some(PUBLIC_URL.into()),
    |app| async {
        let token = app.api_token(Role::Operator).await;
        let group = |name: &str, host: &str, origin: &str| {
            app.with_token(Method::POST, "/api/v1/groups", &token)
                .header("host", host)
                .header("origin", origin)
                .json(&json!({"name": name}))
        };
        // A Host the attacker chose and the matching Origin: refused.
        let resp = group("evil", "attacker.example", "https://attacker.example")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert!(resp.text().await.unwrap().contains("Origin"));
        // The same through the login form.
        let resp = bare_client()
            .post(app.url("/login"))
            .header("host", "attacker.example")
            .header("origin", "https://attacker.example")
            .form(&[("username", "ada"), ("password", "admin-password-1")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert!(resp.text().await.unwrap().contains("Origin"));
        // The configured origin is accepted, whatever the Host.
        let resp = group("good", "attacker.example", PUBLIC_URL)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let groups: Value = app
            .with_token(Method::GET, "/api/v1/groups", &token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = groups
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["good"]);
    }
);

both_backends!(
    without_public_url_the_host_origin_is_still_trusted,
    |app| async {
        let token = app.api_token(Role::Operator).await;
        let resp = app
            .with_token(Method::POST, "/api/v1/groups", &token)
            .header("host", "monitor.lan:5000")
            .header("origin", "http://monitor.lan:5000")
            .json(&json!({"name": "lan"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let resp = app
            .with_token(Method::POST, "/api/v1/groups", &token)
            .header("origin", "http://attacker.example")
            .json(&json!({"name": "evil"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
    }
);

async fn hsts(app: &TestApp, path: &str) -> Option<String> {
    bare_client()
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .headers()
        .get("strict-transport-security")
        .map(|v| v.to_str().unwrap().to_owned())
}

both_backends_with!(
    https_public_url_sends_strict_transport_security,
    |c| c.server.public_url = Some(PUBLIC_URL.into()),
    |app| async {
        for path in ["/login", "/healthz", "/api/v1/me", "/no-such-page"] {
            assert_eq!(
                hsts(&app, path).await.as_deref(),
                Some("max-age=31536000; includeSubDomains"),
                "{path}"
            );
        }
    }
);

both_backends_with!(
    http_or_absent_public_url_sends_no_strict_transport_security,
    |c| c.server.public_url = Some("http://streamswarm.example".into()),
    |app| async {
        assert_eq!(hsts(&app, "/login").await, None);
    }
);

both_backends!(
    without_public_url_no_strict_transport_security,
    |app| async {
        assert_eq!(hsts(&app, "/login").await, None);
    }
);

const METRICS_TOKEN: &str = "scrape-0123456789abcdef";

both_backends_with!(
    metrics_token_guards_the_metrics,
    |c| c.server.metrics_token = Some(METRICS_TOKEN.to_owned().into()),
    |app| async {
        let get = || bare_client().get(app.url("/metrics"));
        let ok = get().bearer_auth(METRICS_TOKEN).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        assert!(
            ok.text()
                .await
                .unwrap()
                .contains("streamswarm_db_pool_connections")
        );
        let admin_token = app.api_token(Role::Admin).await;
        let admin = app.login(Role::Admin).await;
        for (what, resp) in [
            ("no credentials", get().send().await.unwrap()),
            (
                "wrong token",
                get()
                    .bearer_auth("scrape-0123456789abcdeX")
                    .send()
                    .await
                    .unwrap(),
            ),
            (
                "a prefix",
                get().bearer_auth("scrape-").send().await.unwrap(),
            ),
            (
                "empty bearer",
                get()
                    .header("authorization", "Bearer ")
                    .send()
                    .await
                    .unwrap(),
            ),
            (
                "basic",
                get()
                    .basic_auth("x", Some(METRICS_TOKEN))
                    .send()
                    .await
                    .unwrap(),
            ),
            (
                "admin API token",
                get().bearer_auth(&admin_token).send().await.unwrap(),
            ),
            (
                "admin session",
                admin.get(&app, "/metrics").send().await.unwrap(),
            ),
        ] {
            assert_eq!(resp.status(), 401, "{what}");
        }
        assert!(!captured_logs().contains(METRICS_TOKEN));
    }
);

both_backends!(without_metrics_token_the_metrics_stay_public, |app| async {
    let resp = bare_client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
});

both_backends_with!(
    non_loopback_bind_without_metrics_token_warns_at_startup,
    |c| c.server.bind = "0.0.0.0:0".parse().unwrap(),
    |app| async {
        // Served once this answers, so the startup lines are logged.
        let resp = bare_client().get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let logs = captured_logs();
        assert!(
            logs.lines()
                .any(|l| l.contains("WARN") && l.contains("/metrics is public")),
            "{logs}"
        );
    }
);
