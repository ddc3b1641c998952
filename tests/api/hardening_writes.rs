//! Issue 10, items 3 and 7: what an agent credential may write to the embedded store
//! (its own tag, its assigned tests, the schema, a series cap), operator tokens still
//! free-form, concurrent writes bounded (429 + `Retry-After`), and large bodies stored
//! part by part but still all or nothing.

use crate::both_backends;
use crate::both_backends_with;
use crate::helpers::{TestApp, bare_client};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};
use streamswarm_agent::probes::{host, ping};
use streamswarm_agent::self_metrics::SelfSample;
use streamswarm_schema::Role;
use streamswarm_tsdb::Precision;

/// POSTs `body` to the v1 or v2 endpoint (ns precision) with `token`.
async fn write(app: &TestApp, v2: bool, token: &str, body: impl Into<reqwest::Body>) -> Resp {
    write_with(app, v2, token, body, false).await
}

struct Resp {
    status: u16,
    retry_after: Option<String>,
    message: String,
}

async fn write_with(
    app: &TestApp,
    v2: bool,
    token: &str,
    body: impl Into<reqwest::Body>,
    gzip: bool,
) -> Resp {
    let path = if v2 {
        "/api/v2/write?org=o&bucket=b&precision=ns"
    } else {
        "/write?db=d&precision=ns"
    };
    let mut req = bare_client()
        .post(app.url(path))
        .header("authorization", format!("Token {token}"))
        .body(body);
    if gzip {
        req = req.header("content-encoding", "gzip");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    let json: Value = serde_json::from_str(&text).unwrap_or_default();
    let message = json["message"]
        .as_str()
        .or(json["error"].as_str())
        .unwrap_or(&text)
        .to_owned();
    Resp {
        status,
        retry_after,
        message,
    }
}

/// Creates a ping test assigned to `agents` and `groups`; returns its id.
async fn ping_test(app: &TestApp, name: &str, agents: &[i64], groups: &[i64]) -> i64 {
    let admin = app.login(Role::Admin).await;
    let resp = admin
        .send(app, Method::POST, "/api/v1/tests")
        .json(&json!({
            "name": name, "kind": "ping", "target": "192.0.2.1",
            "schedule": {"interval_seconds": 60},
            "assignments": {"agents": agents, "groups": groups},
        }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let t: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{t}");
    t["id"].as_i64().unwrap()
}

/// A ping result as the agent's probe makes it, as its line.
fn ping_line(agent: i64, test: i64, t_ns: i64) -> String {
    let result = ping::PingResult {
        target: "192.0.2.1".into(),
        started_at_ns: t_ns,
        resolved: Some("192.0.2.1".parse().unwrap()),
        family: Some(streamswarm_agent::probes::icmp::Family::Ipv4),
        socket: Some(ping::SocketKind::Dgram),
        sent: 3,
        received: 3,
        duplicates: 0,
        rtts_ms: vec![1.0, 2.0, 3.0],
        reply_ttl: Some(64),
        error: None,
    };
    ping::to_point(&result, agent, test)
        .to_line(Precision::Nanoseconds)
        .unwrap()
}

/// What a real agent sends: its host metrics (two samples, so rates too), its
/// self-metrics and a ping result of an assigned test, encoded by the agent's own code.
fn real_agent_batch(agent: i64, test: i64) -> String {
    let mut sampler = host::HostSampler::new().unwrap();
    let mut body = String::new();
    for _ in 0..2 {
        let sample = sampler.sample();
        for p in host::to_points(&sample, agent) {
            body += &p.to_line(Precision::Nanoseconds).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let now = UNIX_EPOCH + Duration::from_secs(1_764_100_000);
    for p in SelfSample::default().to_points(agent, now) {
        body += &p.to_line(Precision::Nanoseconds).unwrap();
    }
    body += &ping_line(agent, test, 1_764_100_000_000_000_000);
    body
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `streamswarm_timeseries_write_rejections_total{reason}` as the server counts it.
fn rejections(app: &TestApp, reason: &str) -> u64 {
    let needle = format!("streamswarm_timeseries_write_rejections_total{{reason=\"{reason}\"}} ");
    app.state
        .metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix(&needle).map(|n| n.trim().parse().unwrap()))
        .unwrap_or(0)
}

both_backends!(
    agent_credentials_write_only_their_own_schema_points_for_their_assigned_tests,
    |app| async {
        let (me, credential) = app.agent_token("honest").await;
        let (victim, _) = app.agent_token("victim").await;
        let group = app.store().create_group("edge", "").await.unwrap();
        app.store().set_agent_groups(me, &[group.id]).await.unwrap();
        let mine = ping_test(&app, "mine", &[me], &[]).await;
        let by_group = ping_test(&app, "by group", &[], &[group.id]).await;
        let theirs = ping_test(&app, "theirs", &[victim], &[]).await;

        // The real agent's batch, for a directly and a group-assigned test, is stored.
        for v2 in [false, true] {
            for test in [mine, by_group] {
                let r = write(&app, v2, &credential, real_agent_batch(me, test)).await;
                assert_eq!(r.status, 204, "{}", r.message);
            }
        }
        let stored = app.timeseries().dump().await.unwrap();
        assert!(
            stored.contains(&format!("\"test\":\"{by_group}\"")),
            "{stored}"
        );

        let good = ping_line(me, mine, 1_764_100_001_000_000_000);
        let t = 1_764_100_002_000_000_000i64;
        let cases: [(String, String); 10] = [
            // Another agent's identity: the victim's chart would show these.
            (
                ping_line(victim, theirs, t),
                format!("agent=\"{victim}\" is not this credential's agent"),
            ),
            (
                ping_line(victim, mine, t),
                "not this credential's agent".into(),
            ),
            (
                format!("host_system,agent==HYPERLINK(\"http://x\") load1=1 {t}\n"),
                "HYPERLINK".into(),
            ),
            (
                format!("host_system load1=1 {t}\n"),
                "carries the tag agent=".into(),
            ),
            // A test that is not its own, or no test at all.
            (
                ping_line(me, theirs, t),
                "not a test assigned to agent".into(),
            ),
            (ping_line(me, 999_999, t), "test=\"999999\"".into()),
            // Outside the schema.
            (
                format!("evil,agent={me} v=1 {t}\n"),
                "measurement `evil`".into(),
            ),
            (
                format!("host_system,agent={me} load1=1,bitcoin=1 {t}\n"),
                "no field `bitcoin`".into(),
            ),
            (
                // (A field the batch above did not store: a stored one's type conflict
                // would be found first, also naming the line.)
                format!(
                    "ping,agent={me},test={mine},target=x sent=3i,received=3i,duplicates=0i,error=5i {t}\n"
                ),
                "field `error` is string in the schema, not integer".into(),
            ),
            (
                format!("host_cpu,agent={me},cpu=total,rack=r1 usage_percent=1 {t}\n"),
                "no tag `rack`".into(),
            ),
        ];
        for v2 in [false, true] {
            for (bad, needle) in &cases {
                let before = app.timeseries().dump().await.unwrap();
                // The bad line is line 2 of a batch whose first line is fine.
                let body = format!("{good}{bad}{good}");
                let r = write(&app, v2, &credential, body).await;
                assert_eq!(r.status, 400, "{bad}: {}", r.message);
                assert!(r.message.starts_with("line 2: "), "{bad}: {}", r.message);
                assert!(r.message.contains(needle), "{bad}: {}", r.message);
                assert_eq!(
                    app.timeseries().dump().await.unwrap(),
                    before,
                    "a refused batch stores nothing: {bad}"
                );
            }
        }
        assert_eq!(
            rejections(&app, "agent_tag")
                + rejections(&app, "test_tag")
                + rejections(&app, "schema"),
            2 * cases.len() as u64
        );
        let dump = app.timeseries().dump().await.unwrap();
        assert!(
            !dump.contains("HYPERLINK") && !dump.contains("evil"),
            "{dump}"
        );
        assert!(!dump.contains(&format!("\"agent\":\"{victim}\"")), "{dump}");
    }
);

both_backends!(
    points_of_a_test_deleted_while_spooled_still_go_into_the_agents_existing_series,
    |app| async {
        let (me, credential) = app.agent_token("spooling").await;
        let old = ping_test(&app, "old", &[me], &[]).await;
        let current = ping_test(&app, "current", &[me], &[]).await;
        let t = 1_764_100_000_000_000_000i64;
        let r = write(&app, false, &credential, ping_line(me, old, t)).await;
        assert_eq!(r.status, 204, "{}", r.message);

        // The test goes away while the agent still holds its points in its spool: a
        // batch with them and a current test's points is stored whole, not dropped.
        let admin = app.login(Role::Admin).await;
        let resp = admin
            .send(&app, Method::DELETE, &format!("/api/v1/tests/{old}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 204);
        let body = format!(
            "{}{}",
            ping_line(me, current, t + 1_000_000_000),
            ping_line(me, old, t + 2_000_000_000)
        );
        let r = write(&app, false, &credential, body).await;
        assert_eq!(r.status, 204, "{}", r.message);
        let dump = app.timeseries().dump().await.unwrap();
        assert!(dump.contains(&format!("\"test\":\"{current}\"")), "{dump}");

        // A new series for it is not: only an assigned test creates series.
        let other_target = ping_line(me, old, t + 3_000_000_000).replace("192.0.2.1", "192.0.2.2");
        let r = write(&app, false, &credential, other_target).await;
        assert_eq!(r.status, 400, "{}", r.message);
        assert!(r.message.contains("not a test assigned"), "{}", r.message);
    }
);

both_backends!(operator_tokens_still_write_free_form_points, |app| async {
    let operator = app.api_token(Role::Operator).await;
    for v2 in [false, true] {
        let r = write(
            &app,
            v2,
            &operator,
            "imported,agent=legacy-7,site=x anything=1,label=\"a\" 1\nping,agent=1,test=999 rtt=1 2\n",
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.message);
    }
    let dump = app.timeseries().dump().await.unwrap();
    assert!(
        dump.contains("imported") && dump.contains("legacy-7"),
        "{dump}"
    );
});

both_backends_with!(
    an_agents_new_series_are_capped_with_an_error_naming_the_key,
    |c| c.timeseries.max_series_per_agent = 40,
    |app| async {
        let (me, credential) = app.agent_token("sprawling").await;
        let (other, other_credential) = app.agent_token("neighbour").await;
        let t = 1_764_100_000_000_000_000i64;
        let sensors = |agent: i64, from: usize, to: usize| -> String {
            (from..to)
                .map(|i| {
                    format!("host_temperature,agent={agent},sensor=s{i} current_celsius=40 {t}\n")
                })
                .collect()
        };
        // 30 series, then writing them again adds none.
        for _ in 0..2 {
            let r = write(&app, true, &credential, sensors(me, 0, 30)).await;
            assert_eq!(r.status, 204, "{}", r.message);
        }
        // 15 more would make 45: the batch is refused whole at its 11th new series.
        let before = app.timeseries().dump().await.unwrap();
        let r = write(&app, false, &credential, sensors(me, 30, 45)).await;
        assert_eq!(r.status, 400, "{}", r.message);
        assert!(r.message.starts_with("line 11: "), "{}", r.message);
        assert!(
            r.message.contains("40") && r.message.contains("timeseries.max_series_per_agent"),
            "{}",
            r.message
        );
        assert_eq!(app.timeseries().dump().await.unwrap(), before);
        assert_eq!(rejections(&app, "series_cap"), 1);
        // Up to the cap is fine; existing series keep taking points past it.
        let r = write(&app, true, &credential, sensors(me, 30, 40)).await;
        assert_eq!(r.status, 204, "{}", r.message);
        let r = write(&app, true, &credential, sensors(me, 39, 41)).await;
        assert_eq!(r.status, 400, "{}", r.message);
        assert!(r.message.starts_with("line 2: "), "{}", r.message);
        let r = write(&app, true, &credential, sensors(me, 0, 40)).await;
        assert_eq!(r.status, 204, "{}", r.message);
        // The cap is per agent; operator tokens have none.
        let r = write(&app, true, &other_credential, sensors(other, 0, 40)).await;
        assert_eq!(r.status, 204, "{}", r.message);
        let operator = app.api_token(Role::Operator).await;
        let r = write(&app, true, &operator, sensors(me, 100, 200)).await;
        assert_eq!(r.status, 204, "{}", r.message);
    }
);

both_backends_with!(
    writes_past_the_concurrency_limit_get_429_with_retry_after,
    |c| c.timeseries.max_concurrent_writes = 2,
    |app| async {
        let operator = app.api_token(Role::Operator).await;
        let held = [
            app.timeseries().admit_write().unwrap(),
            app.timeseries().admit_write().unwrap(),
        ];
        for v2 in [false, true] {
            let r = write(&app, v2, &operator, "m v=1 1\n").await;
            assert_eq!(r.status, 429, "{}", r.message);
            assert_eq!(r.retry_after.as_deref(), Some("1"));
            assert!(
                r.message.contains("timeseries.max_concurrent_writes"),
                "{}",
                r.message
            );
        }
        assert_eq!(rejections(&app, "busy"), 2);
        assert_eq!(app.timeseries().count_points().await.unwrap(), 0);
        drop(held);
        let r = write(&app, true, &operator, "m v=1 1\n").await;
        assert_eq!(r.status, 204, "{}", r.message);
    }
);

both_backends!(
    a_body_of_many_parts_is_stored_whole_or_not_at_all,
    |app| async {
        let operator = app.api_token(Role::Operator).await;
        // ~3 MiB inflated: several parts of WRITE_CHUNK_BYTES; string fields with
        // newlines and multi-byte characters straddle part boundaries somewhere.
        let n = 60_000usize;
        let line = |i: usize| {
            format!(
                "big,s=s{} v={i}i,note=\"ü{}\nx\" {}\n",
                i % 1000,
                "é".repeat(i % 13),
                i + 1
            )
        };
        let body: String = (0..n).map(line).collect();
        assert!(body.len() > 2 * streamswarm::timeseries::embedded::WRITE_CHUNK_BYTES);
        // A type conflict on the last line refuses the whole body, naming its line.
        let bad = format!("{body}big,s=s1 v=\"text\" 5\n");
        let r = write_with(&app, true, &operator, gzip(bad.as_bytes()), true).await;
        assert_eq!(r.status, 400, "{}", r.message);
        assert!(
            r.message.starts_with(&format!("line {}: ", 2 * n + 1)),
            "{}",
            r.message
        );
        assert!(r.message.contains("type conflict"), "{}", r.message);
        assert_eq!(app.timeseries().count_points().await.unwrap(), 0);
        assert!(
            app.timeseries()
                .dump()
                .await
                .unwrap()
                .ends_with("series: 0\nfields: 0\n")
        );
        // The good body is stored whole.
        let r = write_with(&app, false, &operator, gzip(body.as_bytes()), true).await;
        assert_eq!(r.status, 204, "{}", r.message);
        assert_eq!(app.timeseries().count_points().await.unwrap(), 2 * n as i64);
    }
);
