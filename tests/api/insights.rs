//! Analytics insights (issue 12), the metadata-store, API and page side: the insights
//! table (opened and updated by fingerprint, resolved, one open per fingerprint), the
//! leases that keep one analytics process working, its state, the filters; the JSON API
//! (`/api/v1/insights`, `/api/v1/insights/{id}`, `/api/v1/health`, the forecast of a
//! test's series, the insights of chart answers) with its 400s; the pages. Store tests
//! run on fresh SQLite and PostgreSQL databases (`store_conformance::run`), API tests
//! on the real server over both.

use crate::both_backends;
use crate::helpers::{Backend, TestApp, bare_client, status_json};
use crate::store_conformance::{Ctx, T0, run};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use streamswarm::params;
use streamswarm::store::insights::{HealthState, InsightFilter, InsightRecord, NewInsight};
use streamswarm::store::tests::{Assignments, TestDraft};
use streamswarm::store::{Store, StoreError};
use streamswarm_schema::{Role, Schedule, TestKind, TestParams, TestSpec};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// `insights_store!(a, b, …)` turns each `async fn a(ctx: Ctx)` into `a::sqlite` and
/// `a::postgres` tests on a fresh, migrated store.
macro_rules! insights_store {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                run(Backend::Sqlite, super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                run(Backend::Postgres, super::$name).await
            }
        }
    )*};
}

insights_store!(
    upsert_updates_the_open_insight_and_resolve_ends_it,
    one_open_insight_per_fingerprint,
    concurrent_upserts_open_one_insight,
    the_schema_refuses_what_an_insight_cannot_be,
    filters_order_and_windows,
    a_lease_has_one_holder_until_it_expires,
    racing_processes_never_both_take_a_lease,
    analytics_state_round_trips,
);

async fn ping_test(s: &Store, name: &str, target: &str) -> i64 {
    let kind = TestKind::Ping;
    let draft = TestDraft {
        name: name.to_owned(),
        description: String::new(),
        spec: TestSpec {
            kind,
            target: target.to_owned(),
            params: TestParams::from_json(kind, Value::Null).unwrap(),
            schedule: Schedule::every(60),
        },
        enabled: true,
        assignments: Assignments::default(),
    };
    s.create_test(&draft, None).await.unwrap().id
}

/// A latency insight of `test` towards `target`, seen by `agents`, starting at `start`.
fn latency(
    fingerprint: &str,
    test: Option<i64>,
    target: &str,
    agents: &[i64],
    start: i64,
) -> NewInsight {
    NewInsight {
        fingerprint: fingerprint.to_owned(),
        kind: "latency".into(),
        metric: "ping.rtt_avg_ms".into(),
        scope: "target".into(),
        test_id: test,
        target: Some(target.to_owned()),
        agent_ids: agents.to_vec(),
        agents_total: 6,
        severity: "warning".into(),
        started_at: start,
        detected_at: start + 2 * MINUTE,
        expected: Some(72.916_666_666_666_67),
        observed: Some(107.5),
        unit: "ms".into(),
        summary: format!(
            "{} of 6 agents see RTT to {target} +35 ms (+48 %) above forecast",
            agents.len()
        ),
        evidence: json!({
            "series": agents.iter().map(|a| json!({"agent_id": a, "test_id": test, "target": target,
                "measurement": "ping", "field": "rtt_avg_ms"})).collect::<Vec<_>>(),
            "window": {"from": start, "to": null},
            "change_percent": 48.0,
            "notes": ["seasonal forecast (MSTL + ETS)", "ünïcode ✓"],
        }),
    }
}

async fn count(s: &Store, fingerprint: &str) -> (i64, i64) {
    let r = s
        .db()
        .query_one(
            "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END), 0) AS open
             FROM insights WHERE fingerprint = $1",
            params![fingerprint],
        )
        .await
        .unwrap();
    (r.i64("n").unwrap(), r.i64("open").unwrap())
}

fn is_conflict<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

async fn upsert_updates_the_open_insight_and_resolve_ends_it(ctx: Ctx) {
    let s = &ctx.store;
    let test = ping_test(s, "web", "10.0.3.1").await;
    let fp = format!("latency|ping.rtt_avg_ms|target|test={test}|target=10.0.3.1");
    let first = latency(&fp, Some(test), "10.0.3.1", &[5, 1, 4], T0);
    let (id, created) = s.upsert_insight(&first, T0 + 2 * MINUTE).await.unwrap();
    assert!(created);
    let stored = s.insight(id).await.unwrap().unwrap();
    let expected = InsightRecord {
        id,
        fingerprint: fp.clone(),
        kind: "latency".into(),
        metric: "ping.rtt_avg_ms".into(),
        scope: "target".into(),
        test_id: Some(test),
        target: Some("10.0.3.1".into()),
        agent_ids: vec![1, 4, 5],
        agents_total: 6,
        severity: "warning".into(),
        state: "open".into(),
        started_at: T0,
        detected_at: T0 + 2 * MINUTE,
        updated_at: T0 + 2 * MINUTE,
        resolved_at: None,
        expected: Some(72.916_666_666_666_67),
        observed: Some(107.5),
        unit: "ms".into(),
        summary: first.summary.clone(),
        evidence: first.evidence.clone(),
    };
    assert_eq!(stored, expected, "floats and JSON round-trip exactly");

    // The same fingerprint again: the open insight is updated, not duplicated; what it
    // was at the start stays.
    let mut second = latency(&fp, Some(test), "10.0.3.1", &[6, 1, 4, 5], T0 + 5 * MINUTE);
    second.severity = "critical".into();
    second.scope = "pair".into();
    second.agents_total = 7;
    second.expected = Some(1.0);
    second.observed = None;
    second.detected_at = T0 + 9 * MINUTE;
    second.evidence = json!({"series": [], "window": {"from": T0, "to": null}, "notes": []});
    let (again, created) = s.upsert_insight(&second, T0 + 10 * MINUTE).await.unwrap();
    assert_eq!((again, created), (id, false));
    let updated = s.insight(id).await.unwrap().unwrap();
    assert_eq!(
        updated,
        InsightRecord {
            scope: "pair".into(),
            agent_ids: vec![1, 4, 5, 6],
            agents_total: 7,
            severity: "critical".into(),
            updated_at: T0 + 10 * MINUTE,
            observed: None,
            summary: second.summary.clone(),
            evidence: second.evidence.clone(),
            ..expected.clone()
        }
    );
    assert_eq!(count(s, &fp).await, (1, 1));

    // Resolving ends it once; another fingerprint is untouched.
    assert_eq!(
        s.resolve_insight(&fp, T0 + 20 * MINUTE).await.unwrap(),
        Some(id)
    );
    assert_eq!(
        s.resolve_insight(&fp, T0 + 21 * MINUTE).await.unwrap(),
        None
    );
    assert_eq!(s.resolve_insight("never|opened", T0).await.unwrap(), None);
    let resolved = s.insight(id).await.unwrap().unwrap();
    assert_eq!(
        (
            resolved.state.as_str(),
            resolved.resolved_at,
            resolved.updated_at
        ),
        ("resolved", Some(T0 + 20 * MINUTE), T0 + 20 * MINUTE)
    );
    assert!(s.open_insights().await.unwrap().is_empty());

    // The same problem later is a new insight; the resolved one stays as it was.
    let (reopened, created) = s.upsert_insight(&first, T0 + HOUR).await.unwrap();
    assert!(created);
    assert_ne!(reopened, id);
    assert_eq!(count(s, &fp).await, (2, 1));
    assert_eq!(s.insight(id).await.unwrap().unwrap(), resolved);
    assert_eq!(
        s.open_insights()
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        vec![reopened]
    );
    assert_eq!(s.insight(reopened + 1000).await.unwrap(), None);

    // An insight without a test (agent scope) and with no agents is fine too.
    let mut agent_wide = latency("latency|ping.rtt_avg_ms|agent|agent=3", None, "x", &[], T0);
    agent_wide.scope = "agent".into();
    agent_wide.target = None;
    let (aw, _) = s.upsert_insight(&agent_wide, T0).await.unwrap();
    let aw = s.insight(aw).await.unwrap().unwrap();
    assert_eq!((aw.test_id, aw.target, aw.agent_ids), (None, None, vec![]));

    // Deleting a test deletes its insights.
    s.delete_test(test).await.unwrap();
    assert_eq!(count(s, &fp).await, (0, 0));
    assert_eq!(s.open_insights().await.unwrap().len(), 1);
}

async fn one_open_insight_per_fingerprint(ctx: Ctx) {
    let s = &ctx.store;
    let test = ping_test(s, "web", "10.0.3.1").await;
    let fp = "loss|ping.loss_percent|pair|test=1|agent=2";
    let (id, _) = s
        .upsert_insight(&latency(fp, Some(test), "10.0.3.1", &[2], T0), T0)
        .await
        .unwrap();
    // A second open row with the same fingerprint, written behind the store's back:
    // the partial unique index refuses it.
    let insert = |state: &'static str, resolved: Option<i64>| {
        s.db().execute(
            "INSERT INTO insights (fingerprint, kind, metric, scope, test_id, target, agent_ids,
               agents_total, severity, state, started_at, detected_at, updated_at, resolved_at,
               expected, observed, unit, summary, evidence)
             VALUES ($1, 'loss', 'ping.loss_percent', 'pair', $2, NULL, '[2]', 1, 'warning', $3,
               $4, $4, $4, $5, NULL, NULL, '%', 'dup', '{}')",
            params![fp, test, state, T0, resolved],
        )
    };
    assert!(
        is_conflict(&insert("open", None).await),
        "a second open row"
    );
    // Resolved rows of the same fingerprint are history: any number of them.
    insert("resolved", Some(T0 + 1)).await.unwrap();
    insert("resolved", Some(T0 + 2)).await.unwrap();
    assert_eq!(count(s, fp).await, (3, 1));
    // The upsert still finds the one open row.
    let (again, created) = s
        .upsert_insight(&latency(fp, Some(test), "10.0.3.1", &[2], T0), T0 + 1)
        .await
        .unwrap();
    assert_eq!((again, created), (id, false));
}

async fn concurrent_upserts_open_one_insight(ctx: Ctx) {
    const N: usize = 16;
    let test = ping_test(&ctx.store, "web", "10.0.3.1").await;
    for round in 0..3 {
        let fp = format!("latency|race|{round}");
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let store = ctx.store.clone();
                let barrier = barrier.clone();
                let insight = latency(&fp, Some(test), "10.0.3.1", &[i as i64 + 1], T0);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.upsert_insight(&insight, T0 + i as i64).await.unwrap()
                })
            })
            .collect();
        let mut ids = BTreeSet::new();
        let mut created = 0;
        for t in tasks {
            let (id, c) = t.await.unwrap();
            ids.insert(id);
            created += usize::from(c);
        }
        assert_eq!(created, 1, "round {round}: exactly one upsert opened it");
        assert_eq!(
            ids.len(),
            1,
            "round {round}: every upsert reached the same insight"
        );
        assert_eq!(count(&ctx.store, &fp).await, (1, 1), "round {round}");
    }
}

async fn the_schema_refuses_what_an_insight_cannot_be(ctx: Ctx) {
    let s = &ctx.store;
    let test = ping_test(s, "web", "10.0.3.1").await;
    let good = latency("fp", Some(test), "10.0.3.1", &[1], T0);
    let mut bad_severity = good.clone();
    bad_severity.severity = "info".into();
    assert!(is_conflict(&s.upsert_insight(&bad_severity, T0).await));
    let mut bad_scope = good.clone();
    bad_scope.scope = "global".into();
    assert!(is_conflict(&s.upsert_insight(&bad_scope, T0).await));
    let mut no_test = good.clone();
    no_test.test_id = Some(test + 1000);
    assert!(is_conflict(&s.upsert_insight(&no_test, T0).await));
    assert_eq!(count(s, "fp").await, (0, 0), "nothing was stored");
    // An open row must not carry a resolution time, a resolved one must.
    let (id, _) = s.upsert_insight(&good, T0).await.unwrap();
    let r = s
        .db()
        .execute(
            "UPDATE insights SET resolved_at = $1 WHERE id = $2",
            params![T0, id],
        )
        .await;
    assert!(is_conflict(&r), "{r:?}");
    let r = s
        .db()
        .execute(
            "UPDATE insights SET state = 'resolved' WHERE id = $1",
            params![id],
        )
        .await;
    assert!(is_conflict(&r), "{r:?}");
}

async fn filters_order_and_windows(ctx: Ctx) {
    let s = &ctx.store;
    let web = ping_test(s, "web", "10.0.3.1").await;
    let dns = ping_test(s, "dns", "10.0.3.53").await;
    // a: open warning, target scope, web, agents 1 and 11, started T0.
    // b: open critical, pair scope, dns, agent 11, started T0 + 1 h.
    // c: resolved warning, agent scope, web, agent 1, T0 - 3 h to T0 - 2 h.
    // d: resolved critical, target scope, dns, agents 2 and 3, T0 - 1 h to T0 + 30 min.
    let mut put = Vec::new();
    for (name, test, agents, start, severity, scope, resolved) in [
        ("a", web, vec![1, 11], T0, "warning", "target", None),
        ("b", dns, vec![11], T0 + HOUR, "critical", "pair", None),
        (
            "c",
            web,
            vec![1],
            T0 - 3 * HOUR,
            "warning",
            "agent",
            Some(T0 - 2 * HOUR),
        ),
        (
            "d",
            dns,
            vec![2, 3],
            T0 - HOUR,
            "critical",
            "target",
            Some(T0 + 30 * MINUTE),
        ),
    ] {
        let mut i = latency(name, Some(test), "t", &agents, start);
        i.severity = severity.into();
        i.scope = scope.into();
        let (id, _) = s.upsert_insight(&i, start).await.unwrap();
        if let Some(at) = resolved {
            s.resolve_insight(name, at).await.unwrap();
        }
        put.push((name, id));
    }
    let id = |n: &str| put.iter().find(|(m, _)| *m == n).unwrap().1;
    let names = |list: Vec<InsightRecord>| -> Vec<String> {
        list.into_iter()
            .map(|i| put.iter().find(|(_, id)| *id == i.id).unwrap().0.to_owned())
            .collect()
    };
    let list = |f: InsightFilter| async move {
        let listed = s.list_insights(&f).await.unwrap();
        let total = s
            .count_insights(&InsightFilter { limit: 1, ..f })
            .await
            .unwrap();
        (listed, total)
    };
    let all = InsightFilter::default();
    let (l, n) = list(all.clone()).await;
    assert_eq!(
        (names(l), n),
        (vec!["b".into(), "a".into(), "d".into(), "c".into()], 4),
        "newest started first"
    );
    for (f, want) in [
        (
            InsightFilter {
                state: Some("open".into()),
                ..all.clone()
            },
            vec!["b", "a"],
        ),
        (
            InsightFilter {
                state: Some("resolved".into()),
                ..all.clone()
            },
            vec!["d", "c"],
        ),
        (
            InsightFilter {
                scope: Some("target".into()),
                ..all.clone()
            },
            vec!["a", "d"],
        ),
        (
            InsightFilter {
                severity: Some("critical".into()),
                ..all.clone()
            },
            vec!["b", "d"],
        ),
        (
            InsightFilter {
                test_id: Some(web),
                ..all.clone()
            },
            vec!["a", "c"],
        ),
        // Agent 1 sees a and c; agent 11's insights are not agent 1's.
        (
            InsightFilter {
                agent_id: Some(1),
                ..all.clone()
            },
            vec!["a", "c"],
        ),
        (
            InsightFilter {
                agent_id: Some(11),
                ..all.clone()
            },
            vec!["b", "a"],
        ),
        (
            InsightFilter {
                agent_id: Some(3),
                ..all.clone()
            },
            vec!["d"],
        ),
        (
            InsightFilter {
                agent_id: Some(4),
                ..all.clone()
            },
            vec![],
        ),
        // Open at some time since T0: a, b (open) and d (resolved after T0).
        (
            InsightFilter {
                since: Some(T0),
                ..all.clone()
            },
            vec!["b", "a", "d"],
        ),
        (
            InsightFilter {
                since: Some(T0 + HOUR),
                ..all.clone()
            },
            vec!["b", "a"],
        ),
        (
            InsightFilter {
                state: Some("open".into()),
                severity: Some("warning".into()),
                agent_id: Some(11),
                test_id: Some(web),
                ..all.clone()
            },
            vec!["a"],
        ),
        (
            InsightFilter {
                state: Some("resolved".into()),
                test_id: Some(web),
                scope: Some("pair".into()),
                ..all.clone()
            },
            vec![],
        ),
    ] {
        let label = format!("{f:?}");
        let (l, n) = list(f).await;
        assert_eq!(names(l), want, "{label}");
        assert_eq!(n, want.len() as i64, "{label}");
    }
    // The limit cuts the newest first; the count does not.
    let (l, n) = list(InsightFilter {
        limit: 2,
        ..all.clone()
    })
    .await;
    assert_eq!((names(l), n), (vec!["b".into(), "a".into()], 4));
    assert!(
        s.list_insights(&InsightFilter {
            limit: 0,
            ..all.clone()
        })
        .await
        .unwrap()
        .is_empty()
    );
    // Open ones: newest first.
    assert_eq!(names(s.open_insights().await.unwrap()), vec!["b", "a"]);
    assert_eq!(s.open_insight_count().await.unwrap(), 2);
    // What charts mark: open at some time in [from, to).
    let between = |test, agent, from, to| async move {
        names(
            s.insights_between(test, agent, from, to, 100)
                .await
                .unwrap(),
        )
    };
    assert_eq!(
        between(None, None, T0 - 10 * HOUR, T0 - 5 * HOUR).await,
        Vec::<String>::new()
    );
    assert_eq!(
        between(None, None, T0 - 150 * MINUTE, T0 - 30 * MINUTE).await,
        vec!["d", "c"]
    );
    assert_eq!(
        between(Some(web), None, T0 - 150 * MINUTE, T0 + 1).await,
        vec!["a", "c"]
    );
    assert_eq!(
        between(Some(dns), None, T0 + 31 * MINUTE, T0 + 2 * HOUR).await,
        vec!["b"]
    );
    assert_eq!(
        between(None, Some(1), T0 - 10 * HOUR, T0 + 10 * HOUR).await,
        vec!["a", "c"]
    );
    assert_eq!(between(Some(web), Some(11), T0, T0 + HOUR).await, vec!["a"]);
    // An insight starting exactly at the end is outside; one resolved exactly at the
    // start is inside.
    assert_eq!(
        between(None, None, T0 + 30 * MINUTE, T0 + HOUR).await,
        vec!["a", "d"]
    );
    assert_eq!(
        s.insights_between(None, None, i64::MIN, i64::MAX, 1)
            .await
            .unwrap()[0]
            .id,
        id("b")
    );
}

async fn a_lease_has_one_holder_until_it_expires(ctx: Ctx) {
    let s = &ctx.store;
    let ttl = 30_000;
    assert!(s.try_lease("analytics", "host-a:1", ttl, T0).await.unwrap());
    assert!(
        !s.try_lease("analytics", "host-b:2", ttl, T0 + 1)
            .await
            .unwrap()
    );
    // The holder renews (the expiry moves on); the other still cannot take it.
    assert!(
        s.try_lease("analytics", "host-a:1", ttl, T0 + 20_000)
            .await
            .unwrap()
    );
    assert!(
        !s.try_lease("analytics", "host-b:2", ttl, T0 + 40_000)
            .await
            .unwrap()
    );
    // Another lease name is independent.
    assert!(s.try_lease("other", "host-b:2", ttl, T0).await.unwrap());
    // Expired (T0 + 20 s + 30 s): the other takes it, and the first has lost it.
    assert!(
        s.try_lease("analytics", "host-b:2", ttl, T0 + 50_000)
            .await
            .unwrap()
    );
    assert!(
        !s.try_lease("analytics", "host-a:1", ttl, T0 + 50_001)
            .await
            .unwrap()
    );
    // Releasing: only the holder's release counts.
    s.release_lease("analytics", "host-a:1").await.unwrap();
    assert!(
        !s.try_lease("analytics", "host-a:1", ttl, T0 + 50_002)
            .await
            .unwrap()
    );
    s.release_lease("analytics", "host-b:2").await.unwrap();
    assert!(
        s.try_lease("analytics", "host-a:1", ttl, T0 + 50_003)
            .await
            .unwrap()
    );
    // A huge TTL does not overflow.
    assert!(s.try_lease("forever", "x", i64::MAX, T0).await.unwrap());
    assert!(!s.try_lease("forever", "y", 1, i64::MAX - 1).await.unwrap());
}

async fn racing_processes_never_both_take_a_lease(ctx: Ctx) {
    const N: usize = 12;
    let ttl = 10_000;
    // Round 0: nobody holds it. Later rounds: the previous holder's lease has expired.
    for round in 0..4i64 {
        let now = T0 + round * 2 * ttl;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let store = ctx.store.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let holder = format!("process-{round}-{i}");
                    let won = store
                        .try_lease("analytics", &holder, ttl, now)
                        .await
                        .unwrap();
                    (holder, won)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            let (holder, won) = t.await.unwrap();
            if won {
                winners.push(holder);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let stored = ctx
            .store
            .db()
            .query_one(
                "SELECT holder, expires_at FROM leases WHERE name = 'analytics'",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(stored.text("holder").unwrap(), winners[0]);
        assert_eq!(stored.i64("expires_at").unwrap(), now + ttl);
    }
}

async fn analytics_state_round_trips(ctx: Ctx) {
    let s = &ctx.store;
    assert_eq!(s.analytics_state("position").await.unwrap(), None);
    s.set_analytics_state("position", "12345").await.unwrap();
    let big =
        json!({"models": (0..500).map(|i| json!({"series": i, "level": 1.5})).collect::<Vec<_>>()})
            .to_string();
    s.set_analytics_state("models", &big).await.unwrap();
    s.set_analytics_state("position", "67890").await.unwrap();
    assert_eq!(
        s.analytics_state("position").await.unwrap().as_deref(),
        Some("67890")
    );
    assert_eq!(s.analytics_state("models").await.unwrap(), Some(big));
}

// ---------------------------------------------------------------------------------------
// The JSON API

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    status_json(
        app.with_token(Method::GET, path, token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Two tests on two agents and three insights: (web test, dns test, agent a, agent b,
/// open critical on web seen by a, open warning on dns seen by a and b, resolved warning
/// on web seen by b).
async fn seeded(app: &TestApp) -> (i64, i64, i64, i64, i64, i64, i64) {
    let s = app.store();
    let web = ping_test(s, "web", "10.0.3.1").await;
    let dns = ping_test(s, "dns", "10.0.3.53").await;
    let a = s.create_agent("edge-a", "a.example").await.unwrap().id;
    let b = s.create_agent("edge-b", "b.example").await.unwrap().id;
    let now = app.clock.now_ms();
    let mut crit = latency("crit", Some(web), "10.0.3.1", &[a], now - 30 * MINUTE);
    crit.severity = "critical".into();
    crit.scope = "pair".into();
    crit.summary = "edge-a sees RTT to 10.0.3.1 +80 ms (+200 %) above forecast".into();
    let (crit, _) = s.upsert_insight(&crit, now - 28 * MINUTE).await.unwrap();
    let mut warn = latency("warn", Some(dns), "10.0.3.53", &[a, b], now - 20 * MINUTE);
    warn.kind = "loss".into();
    warn.metric = "ping.loss_percent".into();
    warn.unit = "%".into();
    warn.summary = "2 of 2 agents lose 12 % of echo requests to 10.0.3.53".into();
    let (warn, _) = s.upsert_insight(&warn, now - 18 * MINUTE).await.unwrap();
    let (old, _) = s
        .upsert_insight(
            &latency("old", Some(web), "10.0.3.1", &[b], now - 3 * HOUR),
            now - 3 * HOUR,
        )
        .await
        .unwrap();
    s.resolve_insight("old", now - 2 * HOUR).await.unwrap();
    (web, dns, a, b, crit, warn, old)
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

both_backends!(the_insights_api_lists_filters_and_finds, |app| async {
    let (web, dns, a, b, crit, warn, old) = seeded(&app).await;
    let viewer = app.api_token(Role::Viewer).await;
    let resp = app
        .with_token(Method::GET, "/api/v1/insights", &viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-total-count"], "3");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), vec![warn, crit, old]);
    let one = &body[1];
    assert_eq!(one["severity"], "critical");
    assert_eq!(one["agent_ids"], json!([a]));
    assert_eq!(
        one["evidence"]["series"][0]["measurement"], "ping",
        "evidence is an object"
    );
    assert_eq!(one["evidence"]["change_percent"], 48.0);
    assert_eq!(one["resolved_at"], Value::Null);
    for (query, want) in [
        ("?state=open", vec![warn, crit]),
        ("?state=resolved", vec![old]),
        ("?severity=critical", vec![crit]),
        ("?scope=target", vec![warn, old]),
        (&format!("?test={web}") as &str, vec![crit, old]),
        (&format!("?test={dns}&state=open"), vec![warn]),
        (&format!("?agent={b}"), vec![warn, old]),
        (&format!("?agent={a}&severity=warning"), vec![warn]),
        ("?limit=1", vec![warn]),
        (
            &format!("?since={}", app.clock.now_ms() - HOUR),
            vec![warn, crit],
        ),
        ("?state=&scope=", vec![warn, crit, old]),
    ] {
        let (status, body) = get(&app, &viewer, &format!("/api/v1/insights{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), want, "{query}");
    }
    let (status, body) = get(&app, &viewer, &format!("/api/v1/insights/{crit}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], crit);
    assert_eq!(
        body["summary"],
        "edge-a sees RTT to 10.0.3.1 +80 ms (+200 %) above forecast"
    );
    for missing in [
        "/api/v1/insights/999999",
        "/api/v1/insights/abc",
        "/api/v1/insights/-1",
    ] {
        let (status, body) = get(&app, &viewer, missing).await;
        assert_eq!(status, 404, "{missing}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{missing}");
    }
});

both_backends!(
    bad_insight_queries_are_400s_naming_the_parameter,
    |app| async {
        let (_, _, _, _, _, _, _) = seeded(&app).await;
        let viewer = app.api_token(Role::Viewer).await;
        let session = app.login(Role::Viewer).await;
        for (query, field, says) in [
            ("state=closed", "state", "expected one of open, resolved"),
            (
                "scope=global",
                "scope",
                "expected one of pair, target, agent",
            ),
            (
                "severity=info",
                "severity",
                "expected one of warning, critical",
            ),
            ("test=web", "test", "positive integer"),
            ("test=0", "test", "positive integer"),
            ("agent=-1", "agent", "positive integer"),
            ("agent=99999999999999999999", "agent", "positive integer"),
            ("since=yesterday", "since", "Unix milliseconds"),
            ("since=-5", "since", "Unix milliseconds"),
            ("limit=0", "limit", "from 1 to 1000"),
            ("limit=1001", "limit", "from 1 to 1000"),
            ("limit=ten", "limit", "from 1 to 1000"),
        ] {
            for path in ["/api/v1/insights", "/insights"] {
                let resp = if path.starts_with("/api") {
                    app.with_token(Method::GET, &format!("{path}?{query}"), &viewer)
                        .send()
                        .await
                        .unwrap()
                } else {
                    session
                        .get(&app, &format!("{path}?{query}"))
                        .send()
                        .await
                        .unwrap()
                };
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap();
                assert_eq!(status, 400, "{path}?{query}: {text}");
                if path.starts_with("/api") {
                    let body: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(body["error"]["code"], "invalid", "{query}");
                    assert_eq!(
                        body["error"]["details"][0]["field"], field,
                        "{query}: {body}"
                    );
                    let message = body["error"]["details"][0]["message"].as_str().unwrap();
                    assert!(message.contains(says), "{query}: {message}");
                } else {
                    assert!(
                        text.contains(field) && text.contains(says),
                        "{path}?{query}: {text}"
                    );
                }
            }
        }
        let (status, body) = get(&app, &viewer, "/api/v1/insights?colour=red").await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("colour"),
            "{body}"
        );
    }
);

both_backends!(health_covers_every_agent_and_test, |app| async {
    let (web, dns, a, b, crit, warn, _) = seeded(&app).await;
    let idle = app
        .store()
        .create_agent("edge-idle", "c.example")
        .await
        .unwrap()
        .id;
    let quiet = ping_test(app.store(), "quiet", "10.9.9.9").await;
    let viewer = app.api_token(Role::Viewer).await;
    let (status, h) = get(&app, &viewer, "/api/v1/health").await;
    assert_eq!(status, 200, "{h}");
    let state = |kind: &str, key: String| {
        h[kind][&key]["state"]
            .as_str()
            .unwrap_or("absent")
            .to_owned()
    };
    assert_eq!(state("agents", a.to_string()), "failing");
    assert_eq!(state("agents", b.to_string()), "degraded");
    assert_eq!(state("agents", idle.to_string()), "healthy");
    assert_eq!(state("tests", web.to_string()), "failing");
    assert_eq!(state("tests", dns.to_string()), "degraded");
    assert_eq!(state("tests", quiet.to_string()), "healthy");
    assert_eq!(state("targets", "10.0.3.1".into()), "failing");
    assert_eq!(state("targets", "10.0.3.53".into()), "degraded");
    assert_eq!(
        state("targets", "10.9.9.9".into()),
        "absent",
        "only targets with open insights"
    );
    assert_eq!(
        ids(&h["agents"][a.to_string()]["insights"]),
        vec![crit, warn],
        "critical first"
    );
    assert_eq!(
        h["agents"][a.to_string()]["insights"][0]["severity"],
        "critical"
    );
    assert_eq!(h["agents"][idle.to_string()]["insights"], json!([]));
    // Resolved: everything healthy again, no targets listed.
    app.store()
        .resolve_insight("crit", app.clock.now_ms())
        .await
        .unwrap();
    app.store()
        .resolve_insight("warn", app.clock.now_ms())
        .await
        .unwrap();
    let (_, h) = get(&app, &viewer, "/api/v1/health").await;
    for kind in ["agents", "tests"] {
        for (_, v) in h[kind].as_object().unwrap() {
            assert_eq!(v["state"], "healthy", "{h}");
        }
    }
    assert_eq!(h["targets"], json!({}));
    // The pure function agrees with the endpoint.
    let report = streamswarm::store::insights::health(&app.store().open_insights().await.unwrap());
    assert_eq!(report.agent(a), HealthState::Healthy);
});

/// Line protocol written with an operator token into the embedded store.
async fn write(app: &TestApp, body: String) {
    let token = app.api_token(Role::Operator).await;
    let resp = bare_client()
        .post(app.url("/write?db=d&precision=ms"))
        .header("authorization", format!("Token {token}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(status, 204, "{}", resp.text().await.unwrap());
}

both_backends!(
    the_forecast_of_a_series_has_its_band_values_and_anomalies,
    |app| async {
        let (web, dns, a, b, crit, _, _) = seeded(&app).await;
        let now = app.clock.now_ms() / MINUTE * MINUTE;
        let mut lines = Vec::new();
        let metric = "ping.rtt_avg_ms";
        for m in 0..30 {
            let t = now - (30 - m) * MINUTE;
            let rtt = if m >= 20 {
                110.0
            } else {
                20.0 + m as f64 / 10.0
            };
            lines.push(format!(
                "ping,agent={a},test={web},target=10.0.3.1 rtt_avg_ms={rtt},loss_percent=0 {t}"
            ));
            // Another agent's and another test's series must not leak in.
            lines.push(format!(
                "ping,agent={b},test={web},target=10.0.3.1 rtt_avg_ms=999 {t}"
            ));
            lines.push(format!(
            "forecast,agent={a},test={web},target=10.0.3.1,metric={metric} expected=21,lower=15,upper=27,level_percent=95 {t}"
        ));
            lines.push(format!(
            "forecast,agent={a},test={web},target=10.0.3.1,metric=ping.loss_percent expected=0,lower=0,upper=1,level_percent=95 {t}"
        ));
            lines.push(format!(
            "forecast,agent={a},test={dns},target=10.0.3.53,metric={metric} expected=500,lower=400,upper=600,level_percent=95 {t}"
        ));
            if m >= 20 {
                lines.push(format!(
                "anomaly,agent={a},test={web},target=10.0.3.1,metric={metric},scope=pair observed={rtt},expected=21,score=9.5,insight_id={crit}i {t}"
            ));
            }
        }
        write(&app, lines.join("\n")).await;
        let viewer = app.api_token(Role::Viewer).await;
        let from = now - HOUR;
        let to = now + MINUTE;
        let path = format!("/api/v1/tests/{web}/forecast?agent={a}&from={from}&to={to}");
        let (status, f) = get(&app, &viewer, &path).await;
        assert_eq!(status, 200, "{f}");
        assert_eq!(f["metric"], metric);
        assert_eq!(f["unit"], "ms");
        assert_eq!(
            (f["test_id"].as_i64(), f["agent_id"].as_i64()),
            (Some(web), Some(a))
        );
        assert_eq!(f["range"], "custom");
        let points = f["points"].as_array().unwrap();
        assert_eq!(points.len(), 30, "{f}");
        assert!(
            points
                .iter()
                .all(|p| p["expected"] == 21.0 && p["lower"] == 15.0 && p["upper"] == 27.0)
        );
        assert_eq!(points[0]["t"], now - 30 * MINUTE);
        let observed = f["observed"].as_array().unwrap();
        assert_eq!(observed.len(), 30);
        assert_eq!(observed[29]["v"], 110.0);
        assert_eq!(observed[0]["v"], 20.0);
        let anomalies = f["anomalies"].as_array().unwrap();
        assert_eq!(anomalies.len(), 10);
        assert_eq!(
            anomalies[0],
            json!({"t": now - 10 * MINUTE, "observed": 110.0, "expected": 21.0, "score": 9.5, "insight_id": crit})
        );
        // Another field of the same test; a named range.
        let (status, f) = get(
            &app,
            &viewer,
            &format!("/api/v1/tests/{web}/forecast?agent={a}&field=ping.loss_percent&range=1h"),
        )
        .await;
        assert_eq!(status, 200, "{f}");
        assert_eq!(
            (f["metric"].as_str(), f["unit"].as_str()),
            (Some("ping.loss_percent"), Some("%"))
        );
        assert_eq!(f["points"].as_array().unwrap().len(), 30);
        assert_eq!(f["points"][0]["upper"], 1.0);
        assert_eq!(f["anomalies"], json!([]));
        // Nothing written for this agent: empty, not an error.
        let (status, f) = get(
            &app,
            &viewer,
            &format!("/api/v1/tests/{web}/forecast?agent={b}&range=1h"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(f["points"], json!([]));
        assert_eq!(f["observed"].as_array().unwrap().len(), 30, "b's own RTT");
        // Bad requests.
        for (query, field) in [
            ("", "agent"),
            ("agent=x", "agent"),
            ("agent=1&field=nope", "field"),
            ("agent=1&field=ping.error", "field"),
            ("agent=1&field=traceroute.duration_ms", "field"),
            ("agent=1&range=2h", "range"),
            ("agent=1&range=1h&from=0&to=5", "range"),
            ("agent=1&from=5", "to"),
            ("agent=1&from=9&to=5", "from"),
        ] {
            let (status, body) = get(
                &app,
                &viewer,
                &format!("/api/v1/tests/{web}/forecast?{query}"),
            )
            .await;
            assert_eq!(status, 400, "{query}: {body}");
            assert_eq!(
                body["error"]["details"][0]["field"], field,
                "{query}: {body}"
            );
        }
        let (status, _) = get(&app, &viewer, "/api/v1/tests/999999/forecast?agent=1").await;
        assert_eq!(status, 404);
        let (status, body) = get(
            &app,
            &viewer,
            &format!("/api/v1/tests/{web}/forecast?agent=1&colour=red"),
        )
        .await;
        assert_eq!(status, 400, "{body}");
    }
);

both_backends!(
    chart_answers_carry_the_insights_of_their_range,
    |app| async {
        let (web, dns, a, b, crit, warn, old) = seeded(&app).await;
        let viewer = app.api_token(Role::Viewer).await;
        let insights_of = |v: &Value| ids(&v["insights"]);
        let (status, s) = get(
            &app,
            &viewer,
            &format!("/api/v1/tests/{web}/series?range=24h"),
        )
        .await;
        assert_eq!(status, 200, "{s}");
        assert_eq!(insights_of(&s), vec![crit, old]);
        let marked = &s["insights"][1];
        assert_eq!(marked["severity"], "warning");
        assert_eq!(marked["agent_ids"], json!([b]));
        assert_eq!(marked["resolved_at"], app.clock.now_ms() - 2 * HOUR);
        assert_eq!(marked["scope"], "target");
        assert_eq!(marked["metric"], "ping.rtt_avg_ms");
        assert!(marked["summary"].as_str().unwrap().contains("10.0.3.1"));
        // The resolved one ended two hours ago: not in the last hour.
        let (_, s) = get(
            &app,
            &viewer,
            &format!("/api/v1/tests/{web}/series?range=1h"),
        )
        .await;
        assert_eq!(insights_of(&s), vec![crit]);
        let (_, s) = get(
            &app,
            &viewer,
            &format!("/api/v1/tests/{dns}/series?range=1h"),
        )
        .await;
        assert_eq!(insights_of(&s), vec![warn]);
        let now = app.clock.now_ms();
        let (_, s) = get(
            &app,
            &viewer,
            &format!(
                "/api/v1/tests/{web}/series?from={}&to={}",
                now - 10 * HOUR,
                now - 5 * HOUR
            ),
        )
        .await;
        assert_eq!(insights_of(&s), Vec::<i64>::new());
        // An agent's host charts: the insights it sees; the fleet chart: every test's.
        let (_, s) = get(
            &app,
            &viewer,
            &format!("/api/v1/agents/{a}/series?range=24h"),
        )
        .await;
        assert_eq!(insights_of(&s), vec![warn, crit]);
        let (_, s) = get(
            &app,
            &viewer,
            &format!("/api/v1/agents/{b}/series?range=1h"),
        )
        .await;
        assert_eq!(insights_of(&s), vec![warn]);
        let (_, s) = get(&app, &viewer, "/api/v1/dashboard/series?range=24h").await;
        assert_eq!(insights_of(&s), vec![warn, crit, old]);
        // The dashboard's numbers.
        let (_, d) = get(&app, &viewer, "/api/v1/dashboard").await;
        let i = &d["insights"];
        assert_eq!(
            (
                i["open"].as_i64(),
                i["critical"].as_i64(),
                i["warning"].as_i64()
            ),
            (Some(2), Some(1), Some(1))
        );
        assert_eq!(i["agents"], json!({"failing": 1, "degraded": 1}));
        assert_eq!(i["tests"], json!({"failing": 1, "degraded": 1}));
        assert_eq!(i["targets"], json!({"failing": 1, "degraded": 1}));
        assert_eq!(ids(&i["latest"]), vec![warn, crit]);
    }
);

/// `s` as handlebars escapes it in a page (`&` and `=` too).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('=', "&#x3D;")
}

both_backends!(the_insight_pages_and_health_badges_render, |app| async {
    let (web, dns, a, b, crit, warn, old) = seeded(&app).await;
    let session = app.login(Role::Viewer).await;
    let page = |path: String| {
        let session = &session;
        let app = &app;
        async move {
            let resp = session.get(app, &path).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        }
    };
    let (status, html) = page("/insights".into()).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("edge-a sees RTT to 10.0.3.1 +80 ms (+200 %) above forecast"));
    assert!(html.contains("2 of 2 agents lose 12 % of echo requests to 10.0.3.53"));
    assert!(
        !html.contains(&format!("href=\"/insights/{old}\"")),
        "resolved ones are on their own tab"
    );
    assert!(
        html.contains(&format!("href=\"/agents/{a}\""))
            && html.contains(&format!("href=\"/tests/{web}\""))
    );
    let poll = format!(
        "data-poll=\"{}\"",
        esc("/api/v1/insights?state=open&limit=100")
    );
    assert!(html.contains(&poll), "{html}");
    assert!(html.contains("id=\"nav-insights\""));
    let (_, html) = page("/insights?state=resolved".into()).await;
    assert!(html.contains(&format!("href=\"/insights/{old}\"")));
    assert!(!html.contains(&format!("href=\"/insights/{crit}\"")));
    let (_, html) = page("/insights?severity=critical&scope=pair".into()).await;
    assert!(
        html.contains(&format!("href=\"/insights/{crit}\""))
            && !html.contains(&format!("href=\"/insights/{warn}\""))
    );
    let (_, html) = page(format!("/insights?agent={b}")).await;
    assert!(
        html.contains(&format!("href=\"/insights/{warn}\""))
            && !html.contains(&format!("href=\"/insights/{crit}\""))
    );
    let (_, html) = page("/insights?severity=critical&test=999999".into()).await;
    assert!(html.contains("id=\"no-insights\""));

    let (status, html) = page(format!("/insights/{crit}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("edge-a sees RTT to 10.0.3.1 +80 ms (+200 %) above forecast"));
    assert!(html.contains("data-evidence"));
    assert!(
        html.contains(&esc(&format!(
            "/api/v1/tests/{web}/forecast?agent={a}&field=ping.rtt_avg_ms&from="
        ))),
        "{html}"
    );
    assert!(html.contains("ünïcode ✓"), "notes are shown");
    assert!(html.contains("+48.0 %"));
    let (status, _) = page("/insights/999999".into()).await;
    assert_eq!(status, 404);

    // Health badges: agents list, tests list, the agent and test pages, the dashboard.
    let (_, html) = page("/agents".into()).await;
    assert!(
        html.contains(&format!(
            "data-health=\"failing\" href=\"{}\"",
            esc(&format!("/insights?state=open&agent={a}"))
        )),
        "{html}"
    );
    assert!(html.contains(&format!(
        "data-health=\"degraded\" href=\"{}\"",
        esc(&format!("/insights?state=open&agent={b}"))
    )));
    let (_, html) = page("/tests".into()).await;
    assert!(
        html.contains(&format!(
            "data-health=\"failing\" href=\"{}\"",
            esc(&format!("/insights?state=open&test={web}"))
        )),
        "{html}"
    );
    assert!(html.contains(&format!(
        "data-health=\"degraded\" href=\"{}\"",
        esc(&format!("/insights?state=open&test={dns}"))
    )));
    let (_, html) = page(format!("/agents/{a}")).await;
    assert!(
        html.contains("id=\"open-insights\"")
            && html.contains(&format!("href=\"/insights/{crit}\""))
    );
    let (_, html) = page(format!("/tests/{dns}")).await;
    assert!(
        html.contains("id=\"open-insights\"")
            && html.contains(&format!("href=\"/insights/{warn}\""))
    );
    assert!(html.contains("data-insight-list"));
    let (_, html) = page("/".into()).await;
    assert!(
        html.contains("id=\"latest-insights\"")
            && html.contains(&format!("href=\"/insights/{crit}\"")),
        "{html}"
    );
    // Nothing open: healthy everywhere, no list.
    for fp in ["crit", "warn"] {
        app.store()
            .resolve_insight(fp, app.clock.now_ms())
            .await
            .unwrap();
    }
    let (_, html) = page("/agents".into()).await;
    assert!(!html.contains("data-health=\"failing\"") && html.contains("data-health=\"healthy\""));
    let (_, html) = page("/".into()).await;
    assert!(html.contains("id=\"no-open-insights\""));
    let (_, html) = page("/insights".into()).await;
    assert!(html.contains("id=\"no-insights\""));
});

both_backends!(
    the_trend_of_a_growing_series_says_when_it_crosses_a_threshold,
    |app| async {
        let (web, _, a, b, _, _, _) = seeded(&app).await;
        let now = app.clock.now_ms() / HOUR * HOUR;
        // Ten days of hourly RTT growing 0.1 ms an hour from 20 ms (44 ms now), with a
        // small daily cycle; written at a few points per hour.
        let mut lines = Vec::new();
        for h in 0..240i64 {
            for m in [0, 20, 40] {
                let t = now - (240 - h) * HOUR + m * MINUTE;
                let x = h as f64 + m as f64 / 60.0;
                let rtt = 20.0 + 0.1 * x + (x / 24.0 * std::f64::consts::TAU).sin();
                lines.push(format!(
                    "ping,agent={a},test={web},target=10.0.3.1 rtt_avg_ms={rtt} {t}"
                ));
            }
        }
        write(&app, lines.join("\n")).await;
        let viewer = app.api_token(Role::Viewer).await;
        let path = format!(
            "/api/v1/tests/{web}/trend?agent={a}&threshold=60&history_days=10&horizon_days=14"
        );
        let (status, f) = get(&app, &viewer, &path).await;
        assert_eq!(status, 200, "{f}");
        assert_eq!(f["metric"], "ping.rtt_avg_ms");
        assert_eq!(f["direction"], "rising");
        assert_eq!(f["level_percent"], 95.0);
        assert_eq!(f["history"].as_array().unwrap().len(), 240);
        assert_eq!(f["forecast"].as_array().unwrap().len(), 14 * 24);
        assert_eq!(f["forecast"][0]["t"], now);
        // 60 ms is (60 − 44) / 0.1 = 160 hours ahead on the trend.
        let c = &f["crossing"];
        let expected = c["expected"].as_i64().expect("crosses within 14 days");
        let hours = (expected - now) / HOUR;
        assert!((120..=200).contains(&hours), "{hours} h: {c}");
        let earliest = c["earliest"].as_i64().unwrap();
        assert!(earliest <= expected, "{c}");
        if let Some(latest) = c["latest"].as_i64() {
            assert!(latest >= expected, "{c}");
        }
        let summary = f["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("ping.rtt_avg_ms is expected to rise to 60 ms at "),
            "{summary}"
        );
        // Far away: not within the horizon.
        let (status, f) = get(
            &app,
            &viewer,
            &format!(
                "/api/v1/tests/{web}/trend?agent={a}&threshold=500&history_days=10&horizon_days=2"
            ),
        )
        .await;
        assert_eq!(status, 200, "{f}");
        assert_eq!(f["crossing"]["expected"], Value::Null, "{f}");
        // An agent without enough history: 409 saying how much there is.
        let (status, body) = get(
            &app,
            &viewer,
            &format!("/api/v1/tests/{web}/trend?agent={b}&threshold=60"),
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("has 0 hours of ping.rtt_avg_ms"),
            "{body}"
        );
        for (query, field) in [
            ("threshold=60", "agent"),
            ("agent=1", "threshold"),
            ("agent=1&threshold=x", "threshold"),
            ("agent=1&threshold=NaN", "threshold"),
            ("agent=1&threshold=1&horizon_days=0", "horizon_days"),
            ("agent=1&threshold=1&history_days=91", "history_days"),
            ("agent=1&threshold=1&field=ping.error", "field"),
        ] {
            let (status, body) =
                get(&app, &viewer, &format!("/api/v1/tests/{web}/trend?{query}")).await;
            assert_eq!(status, 400, "{query}: {body}");
            assert_eq!(
                body["error"]["details"][0]["field"], field,
                "{query}: {body}"
            );
        }
        let (status, _) = get(
            &app,
            &viewer,
            "/api/v1/tests/999999/trend?agent=1&threshold=1",
        )
        .await;
        assert_eq!(status, 404);
    }
);
