//! Issue 10, outbound targets policy (server side): agents report the networks they
//! refuse to probe in their heartbeat facts (`facts.probe_policy`); the server checks
//! every entry, and the agent page and the test form show what each agent refuses.

use crate::both_backends;
use crate::helpers::{TestApp, bare_client, status_json};
use reqwest::Method;
use serde_json::{Value, json};
use streamswarm_schema::Role;

async fn heartbeat(app: &TestApp, credential: &str, facts: Value) -> (u16, Value) {
    status_json(
        bare_client()
            .post(app.url("/api/v1/agent/heartbeat"))
            .bearer_auth(credential)
            .json(&json!({"hostname": "edge-policy.example.net", "facts": facts}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn page(app: &TestApp, path: &str) -> String {
    let s = app.login(Role::Operator).await;
    let resp = s.get(app, path).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.text().await.unwrap()
}

/// The text of the element with `id` up to its closing `</dd>` or `</div>` (enough
/// for the assertions; the pages are server-rendered).
fn element<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let rest = &html[start..];
    let end = rest.find("</dd>").or_else(|| rest.find("</ul>")).unwrap();
    &rest[..end]
}

async fn create_test(app: &TestApp, target: &str, agent: i64) -> i64 {
    let s = app.login(Role::Operator).await;
    let (status, body) = status_json(
        s.send(app, Method::POST, "/api/v1/tests")
            .json(&json!({
                "name": format!("ping {target}"), "kind": "ping", "target": target,
                "schedule": {"interval_seconds": 60}, "assignments": {"agents": [agent]},
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

both_backends!(
    agent_probe_policy_from_the_heartbeat_shows_on_the_agent_page_and_in_the_test_form,
    |app| async {
        let (id, credential) = app.agent_token("edge-policy").await;

        // Before its first heartbeat the agent page shows the agent default, saying so.
        let html = page(&app, &format!("/agents/{id}")).await;
        let refused = element(&html, "agent-refused-targets");
        assert!(
            refused.contains("<code class=\"me-2\">169.254.0.0/16</code>"),
            "{refused}"
        );
        assert!(refused.contains("not reported yet"), "{refused}");

        let (status, body) = heartbeat(
            &app,
            &credential,
            json!({"agent_version": "0.1.0", "probe_policy": {
                "deny": ["169.254.0.0/16", "127.0.0.0/8"], "allow": ["127.0.0.53/32"]}}),
        )
        .await;
        assert_eq!(status, 200, "{body}");

        let html = page(&app, &format!("/agents/{id}")).await;
        let refused = element(&html, "agent-refused-targets");
        for shown in [
            "169.254.0.0/16",
            "127.0.0.0/8",
            "except",
            "127.0.0.53/32",
            "as the agent reports it",
        ] {
            assert!(refused.contains(shown), "{shown} missing from {refused}");
        }
        // Not repeated as raw JSON among the host facts.
        assert!(!html.contains(">probe_policy<"), "{html}");

        // The form lists what each agent refuses.
        let html = page(&app, "/tests/new").await;
        let policies = element(&html, "f-target-policy");
        assert!(policies.contains("edge-policy"), "{policies}");
        assert!(
            policies.contains("<code class=\"me-1\">127.0.0.0/8</code>"),
            "{policies}"
        );
        assert!(!html.contains("id=\"f-target-refused\""));

        // Editing a test whose address target an assigned agent refuses says which, and why.
        let denied = create_test(&app, "169.254.169.254", id).await;
        let html = page(&app, &format!("/tests/{denied}/edit")).await;
        let warning = element(&html, "f-target-refused");
        assert!(
            warning.contains("edge-policy")
                && warning.contains("169.254.169.254, denied by probes.deny 169.254.0.0/16"),
            "{warning}"
        );
        let permitted = create_test(&app, "192.0.2.1", id).await;
        let html = page(&app, &format!("/tests/{permitted}/edit")).await;
        assert!(!html.contains("id=\"f-target-refused\""));
    }
);

both_backends!(
    agent_probe_policy_a_bad_network_in_the_heartbeat_is_a_400_naming_it,
    |app| async {
        let (id, credential) = app.agent_token("edge-bad").await;
        for (policy, field) in [
            (
                json!({"deny": ["169.254.0.0/16", "metadata"]}),
                "facts.probe_policy.deny[1]",
            ),
            (
                json!({"allow": ["10.0.0.5/8"]}),
                "facts.probe_policy.allow[0]",
            ),
            (
                json!({"deny": vec!["10.0.0.0/8"; 65]}),
                "facts.probe_policy.deny[64]",
            ),
            (
                json!({"deny": ["10.0.0.0/8\u{0}"]}),
                "facts.probe_policy.deny[0]",
            ),
            (json!({"deny": "169.254.0.0/16"}), "facts.probe_policy.deny"),
        ] {
            let (status, body) = heartbeat(
                &app,
                &credential,
                json!({"agent_version": "0.1.0", "probe_policy": policy}),
            )
            .await;
            assert_eq!(status, 400, "{policy}: {body}");
            let error = body["error"].as_str().unwrap_or_default();
            assert!(
                error.starts_with(field),
                "{policy}: {error:?} should name {field}"
            );
        }
        // Nothing refused was stored: the page still shows the default.
        let html = page(&app, &format!("/agents/{id}")).await;
        assert!(element(&html, "agent-refused-targets").contains("not reported yet"));
    }
);
