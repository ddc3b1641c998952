//! Store conformance: the same store-level tests on SQLite and on PostgreSQL, each on a
//! fresh database, with a manual clock. Whatever one backend does, the other must do
//! exactly the same: same results, same errors, same round-tripped values.

use crate::helpers::{Backend, fresh_database};
use secrecy::SecretString;
use serde_json::json;
use std::future::Future;
use std::time::Duration;
use streamswarm::clock::Clock;
use streamswarm::params;
use streamswarm::store::migrate::{self, Applied};
use streamswarm::store::tests::{Assignments, TestDraft, TestFilter, TestRecord};
use streamswarm::store::tokens::{NewToken, TokenInfo, TokenKind};
use streamswarm::store::users::Username;
use streamswarm::store::{DatabaseLocation, Store, StoreError};
use streamswarm_schema::{Role, Schedule, TestKind, TestParams, TestSpec};

/// 2026-01-01T00:00:00Z.
pub(crate) const T0: i64 = 1_767_225_600_000;
const MINUTE: Duration = Duration::from_secs(60);

pub struct Ctx {
    pub store: Store,
    pub clock: Clock,
    pub backend: Backend,
    pub location: DatabaseLocation,
    _db: crate::helpers::DbGuardHandle,
}

impl Ctx {
    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Another store over the same database (as a second replica would open it).
    async fn reopen(&self) -> Result<Store, StoreError> {
        Store::connect(&self.location, 4, self.clock.clone()).await
    }
}

/// Opens a fresh, migrated store on `backend` and runs `test` on it. PostgreSQL missing:
/// skipped locally, a failure in CI (see `fresh_database`).
pub(crate) async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((url, guard)) = fresh_database(backend).await else {
        return;
    };
    let location = DatabaseLocation::parse(&SecretString::from(url)).unwrap();
    let clock = Clock::manual(T0);
    let store = Store::connect(&location, 4, clock.clone())
        .await
        .expect("a fresh database migrates");
    let ctx = Ctx {
        store: store.clone(),
        clock,
        backend,
        location,
        _db: guard,
    };
    test(ctx).await;
    store.close();
}

/// `conformance!(a, b, …)` turns each `async fn a(ctx: Ctx)` into `a::sqlite` and
/// `a::postgres` tests.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite, super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres, super::$name).await
            }
        }
    )*};
}

conformance!(
    users_crud_and_unique_usernames,
    sessions_lifecycle_and_purge,
    tokens_lookup_use_revoke_list,
    one_use_token_is_used_once_under_concurrency,
    agents_groups_and_memberships,
    memberships_are_replaced_atomically,
    tests_round_trip_update_and_delete,
    test_search_is_literal_and_paginates,
    test_search_is_case_insensitive_beyond_ascii,
    assignments_are_replaced_atomically,
    settings_put_and_get,
    audit_paging_and_login_failure_windows,
    migrations_apply_once,
    migrations_refuse_a_newer_schema,
    migrations_refuse_an_edited_migration,
    concurrent_migrations_apply_once,
);

fn username(s: &str) -> Username {
    Username::parse(s).unwrap()
}

fn is_conflict<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

// ---------------------------------------------------------------------------------------
// Users

async fn users_crud_and_unique_usernames(ctx: Ctx) {
    let s = &ctx.store;
    assert_eq!(s.count_users().await.unwrap(), 0);
    let ada = s
        .create_user(&username("ada"), "hash-ada", Role::Admin)
        .await
        .unwrap();
    assert_eq!(
        (ada.username.as_str(), ada.role, ada.disabled),
        ("ada", Role::Admin, false)
    );
    assert_eq!((ada.created_at.0, ada.updated_at.0), (T0, T0));
    assert_eq!(ada.last_login_at, None);

    // Usernames are unique, and `Username` folds case before the store sees it.
    let dup = s.create_user(&username("ADA"), "other", Role::Viewer).await;
    match &dup {
        Err(StoreError::Conflict(m)) => assert!(m.contains("already exists"), "{m}"),
        other => panic!("duplicate username: {other:?}"),
    }
    assert_eq!(s.count_users().await.unwrap(), 1);

    let names = ["zoe", "bob", "a.b", "a_b", "a-b", "a@b", "0day"];
    for n in names {
        s.create_user(&username(n), &format!("hash-{n}"), Role::Viewer)
            .await
            .unwrap();
    }
    let listed: Vec<String> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    // Byte order, the same on both backends.
    assert_eq!(
        listed,
        ["0day", "a-b", "a.b", "a@b", "a_b", "ada", "bob", "zoe"]
    );

    // Reads.
    let got = s.user(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (got.id, got.username.as_str(), got.role),
        (ada.id, "ada", Role::Admin)
    );
    let (u, hash) = s.user_credentials(&username("ada")).await.unwrap().unwrap();
    assert_eq!((u.id, hash.as_str()), (ada.id, "hash-ada"));
    assert!(s.user_by_name(&username("nobody")).await.unwrap().is_none());
    assert!(s.user(i64::MAX).await.unwrap().is_none());
    assert!(s.user(i64::MIN).await.unwrap().is_none());

    // Updates move updated_at and round-trip booleans and roles.
    ctx.clock.advance(MINUTE);
    let bob = s.user_by_name(&username("bob")).await.unwrap().unwrap();
    s.set_role(bob.id, Role::Operator).await.unwrap();
    s.set_disabled(bob.id, true).await.unwrap();
    s.set_password_hash(bob.id, "new-hash-ünïcödé")
        .await
        .unwrap();
    s.record_login(bob.id).await.unwrap();
    let bob2 = s.user(bob.id).await.unwrap().unwrap();
    assert_eq!((bob2.role, bob2.disabled), (Role::Operator, true));
    assert_eq!(bob2.created_at, bob.created_at);
    assert_eq!(bob2.updated_at.0, T0 + 60_000);
    assert_eq!(bob2.last_login_at.map(|t| t.0), Some(T0 + 60_000));
    assert_eq!(
        s.user_credentials(&username("bob"))
            .await
            .unwrap()
            .unwrap()
            .1,
        "new-hash-ünïcödé"
    );
    s.set_disabled(bob.id, false).await.unwrap();
    assert!(!s.user(bob.id).await.unwrap().unwrap().disabled);

    // Updating or deleting someone who does not exist.
    assert!(matches!(
        s.set_role(i64::MAX, Role::Admin).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_disabled(-1, true).await,
        Err(StoreError::NotFound)
    ));

    // The last-admin guard counts enabled admins other than the one named.
    assert_eq!(s.count_other_active_admins(ada.id).await.unwrap(), 0);
    s.set_role(bob.id, Role::Admin).await.unwrap();
    assert_eq!(s.count_other_active_admins(ada.id).await.unwrap(), 1);
    s.set_disabled(bob.id, true).await.unwrap();
    assert_eq!(s.count_other_active_admins(ada.id).await.unwrap(), 0);

    s.delete_user(bob.id).await.unwrap();
    assert!(s.user(bob.id).await.unwrap().is_none());
    assert!(matches!(
        s.delete_user(bob.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.count_users().await.unwrap(), 7);
    // The name is free again.
    s.create_user(&username("bob"), "h", Role::Viewer)
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// Sessions

async fn sessions_lifecycle_and_purge(ctx: Ctx) {
    let s = &ctx.store;
    let u = s
        .create_user(&username("sam"), "h", Role::Viewer)
        .await
        .unwrap();
    let other = s
        .create_user(&username("oli"), "h", Role::Operator)
        .await
        .unwrap();
    s.create_session("s1", u.id, Some("192.0.2.7"), Some("Ünïcode-Agent/1.0 🚀"))
        .await
        .unwrap();
    s.create_session("s2", u.id, None, None).await.unwrap();
    // The id hash is the primary key.
    assert!(is_conflict(
        &s.create_session("s1", other.id, None, None).await
    ));
    // A session must belong to a user.
    assert!(is_conflict(
        &s.create_session("s3", i64::MAX, None, None).await
    ));

    let got = s.session("s1").await.unwrap().unwrap();
    assert_eq!(got.id_hash, "s1");
    assert_eq!((got.user.id, got.user.username.as_str()), (u.id, "sam"));
    assert_eq!((got.created_at, got.last_seen_at), (T0, T0));
    assert!(s.session("nope").await.unwrap().is_none());

    ctx.clock.advance(MINUTE);
    s.touch_session("s1").await.unwrap();
    let got = s.session("s1").await.unwrap().unwrap();
    assert_eq!((got.created_at, got.last_seen_at), (T0, T0 + 60_000));
    // Touching or deleting a missing session is not an error.
    s.touch_session("nope").await.unwrap();
    s.delete_session("nope").await.unwrap();

    // The session reflects the user's current state.
    s.set_disabled(u.id, true).await.unwrap();
    assert!(s.session("s1").await.unwrap().unwrap().user.disabled);
    s.set_disabled(u.id, false).await.unwrap();

    s.delete_session("s2").await.unwrap();
    assert!(s.session("s2").await.unwrap().is_none());

    // Ending a user's sessions keeps the one named, and nobody else's.
    s.create_session("s4", u.id, None, None).await.unwrap();
    s.create_session("o1", other.id, None, None).await.unwrap();
    assert_eq!(s.delete_user_sessions(u.id, Some("s1")).await.unwrap(), 1);
    assert!(s.session("s1").await.unwrap().is_some());
    assert!(s.session("s4").await.unwrap().is_none());
    assert!(s.session("o1").await.unwrap().is_some());
    assert_eq!(s.delete_user_sessions(other.id, None).await.unwrap(), 1);

    // Purge by idle time: last seen strictly before now − idle goes.
    // Now T0+1m. s1: created T0, seen T0+1m.
    s.create_session("idle", u.id, None, None).await.unwrap(); // T0+1m
    ctx.clock.advance(10 * MINUTE); // T0+11m
    s.create_session("fresh", u.id, None, None).await.unwrap(); // T0+11m
    s.touch_session("s1").await.unwrap(); // seen T0+11m
    // idle = 10 min: "idle" was last seen exactly 10 min ago: kept (not strictly older).
    assert_eq!(
        s.purge_sessions(10 * 60_000, 24 * 3_600_000).await.unwrap(),
        0
    );
    ctx.clock.advance(Duration::from_millis(1));
    assert_eq!(
        s.purge_sessions(10 * 60_000, 24 * 3_600_000).await.unwrap(),
        1
    );
    assert!(s.session("idle").await.unwrap().is_none());
    assert!(s.session("fresh").await.unwrap().is_some());

    // Purge by absolute age: s1 is active but was created 11 min ago.
    s.touch_session("s1").await.unwrap();
    s.touch_session("fresh").await.unwrap();
    assert_eq!(s.purge_sessions(3_600_000, 5 * 60_000).await.unwrap(), 1);
    assert!(s.session("s1").await.unwrap().is_none());
    assert!(s.session("fresh").await.unwrap().is_some());

    // Deleting the user ends its sessions.
    s.delete_user(u.id).await.unwrap();
    assert!(s.session("fresh").await.unwrap().is_none());
}

// ---------------------------------------------------------------------------------------
// Tokens

fn new_token<'a>(name: &'a str, hash: &'a str) -> NewToken<'a> {
    NewToken {
        kind: TokenKind::Api,
        name,
        prefix: "ssw_api_abcd",
        secret_hash: hash,
        role: Some(Role::Viewer),
        agent_id: None,
        created_by: None,
        expires_at: None,
        uses: None,
    }
}

async fn tokens_lookup_use_revoke_list(ctx: Ctx) {
    let s = &ctx.store;
    let creator = s
        .create_user(&username("tess"), "h", Role::Admin)
        .await
        .unwrap();
    let api = s
        .insert_token(NewToken {
            created_by: Some(creator.id),
            role: Some(Role::Operator),
            ..new_token("automation ünïcödé 🚀", "hash-api")
        })
        .await
        .unwrap();
    assert_eq!(api.kind, TokenKind::Api);
    assert_eq!(api.name, "automation ünïcödé 🚀");
    assert_eq!(api.prefix, "ssw_api_abcd");
    assert_eq!(api.role, Some(Role::Operator));
    assert_eq!(api.created_by, Some(creator.id));
    assert_eq!(api.created_at.0, T0);
    assert_eq!(
        (api.agent_id, api.expires_at, api.uses_remaining),
        (None, None, None)
    );
    assert_eq!((api.last_used_at, api.revoked_at), (None, None));
    assert!(api.is_active(ctx.now()));

    // Enrolment token: no role (NULL), extreme expiry and use count.
    let enrol = s
        .insert_token(NewToken {
            kind: TokenKind::Enrol,
            role: None,
            expires_at: Some(i64::MAX),
            uses: Some(i64::MAX),
            prefix: "ssw_enr_wxyz",
            ..new_token("enrol", "hash-enrol")
        })
        .await
        .unwrap();
    assert_eq!(enrol.role, None);
    assert_eq!(enrol.expires_at.map(|t| t.0), Some(i64::MAX));
    assert_eq!(enrol.uses_remaining, Some(i64::MAX));

    // An agent credential belongs to an agent.
    let agent = s.create_agent("probe", "probe.example").await.unwrap();
    let agent_token = s
        .insert_token(NewToken {
            kind: TokenKind::Agent,
            role: None,
            agent_id: Some(agent.id),
            ..new_token("agent", "hash-agent")
        })
        .await
        .unwrap();
    assert_eq!(agent_token.agent_id, Some(agent.id));
    assert!(is_conflict(
        &s.insert_token(NewToken {
            agent_id: Some(i64::MAX),
            ..new_token("orphan", "hash-orphan")
        })
        .await
    ));

    // Secret hashes are unique.
    assert!(is_conflict(
        &s.insert_token(new_token("dup", "hash-api")).await
    ));
    // A use count is never negative.
    assert!(is_conflict(
        &s.insert_token(NewToken {
            uses: Some(-1),
            ..new_token("negative", "hash-negative")
        })
        .await
    ));

    // Lookup.
    let by_hash = s.token_by_hash("hash-api").await.unwrap().unwrap();
    assert_eq!(by_hash.id, api.id);
    assert_eq!(
        serde_json::to_value(&by_hash).unwrap(),
        serde_json::to_value(&api).unwrap()
    );
    assert!(s.token_by_hash("hash-none").await.unwrap().is_none());
    assert_eq!(s.token(enrol.id).await.unwrap().unwrap().id, enrol.id);
    assert!(s.token(i64::MAX).await.unwrap().is_none());

    // Unlimited use: always true; last_used_at moves at most once a minute.
    assert!(s.use_token(&api).await.unwrap());
    let t = s.token(api.id).await.unwrap().unwrap();
    assert_eq!(t.last_used_at.map(|t| t.0), Some(T0));
    ctx.clock.advance(Duration::from_secs(30));
    assert!(s.use_token(&t).await.unwrap());
    let t = s.token(api.id).await.unwrap().unwrap();
    assert_eq!(t.last_used_at.map(|t| t.0), Some(T0));
    ctx.clock.advance(Duration::from_secs(30));
    assert!(s.use_token(&t).await.unwrap());
    let t = s.token(api.id).await.unwrap().unwrap();
    assert_eq!(t.last_used_at.map(|t| t.0), Some(T0 + 60_000));
    assert_eq!(t.uses_remaining, None);

    // Counted use decrements, down from i64::MAX too.
    assert!(s.use_token(&enrol).await.unwrap());
    let e = s.token(enrol.id).await.unwrap().unwrap();
    assert_eq!(e.uses_remaining, Some(i64::MAX - 1));
    assert_eq!(e.last_used_at.map(|t| t.0), Some(ctx.now()));

    // Two uses, then none; an expired or revoked token cannot be used.
    let two = s
        .insert_token(NewToken {
            uses: Some(2),
            ..new_token("two", "hash-two")
        })
        .await
        .unwrap();
    assert!(s.use_token(&two).await.unwrap());
    assert!(s.use_token(&two).await.unwrap());
    assert!(!s.use_token(&two).await.unwrap());
    let spent = s.token(two.id).await.unwrap().unwrap();
    assert_eq!(spent.uses_remaining, Some(0));
    assert!(!spent.is_active(ctx.now()));

    let expiring = s
        .insert_token(NewToken {
            uses: Some(5),
            expires_at: Some(ctx.now() + 1_000),
            ..new_token("expiring", "hash-expiring")
        })
        .await
        .unwrap();
    assert!(s.use_token(&expiring).await.unwrap());
    ctx.clock.advance(Duration::from_secs(1));
    assert!(!s.use_token(&expiring).await.unwrap());
    assert_eq!(
        s.token(expiring.id).await.unwrap().unwrap().uses_remaining,
        Some(4)
    );

    // Revoke: first revocation time is kept; a revoked counted token cannot be used.
    let revoked = s.revoke_token(enrol.id).await.unwrap();
    assert_eq!(revoked.revoked_at.map(|t| t.0), Some(ctx.now()));
    let revoked_at = revoked.revoked_at;
    ctx.clock.advance(MINUTE);
    assert_eq!(
        s.revoke_token(enrol.id).await.unwrap().revoked_at,
        revoked_at
    );
    assert!(!s.use_token(&enrol).await.unwrap());
    assert!(!revoked.is_active(ctx.now()));
    assert!(matches!(
        s.revoke_token(i64::MAX).await,
        Err(StoreError::NotFound)
    ));

    // Lists are ordered by id and filter by kind.
    let all: Vec<i64> = s
        .list_tokens(None)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    assert_eq!(all.len(), 5);
    let kinds = |ts: Vec<TokenInfo>| ts.iter().map(|t| (t.id, t.kind)).collect::<Vec<_>>();
    assert_eq!(
        kinds(s.list_tokens(Some(TokenKind::Enrol)).await.unwrap()),
        [(enrol.id, TokenKind::Enrol)]
    );
    assert_eq!(
        kinds(s.list_tokens(Some(TokenKind::Agent)).await.unwrap()),
        [(agent_token.id, TokenKind::Agent)]
    );
    assert_eq!(s.list_tokens(Some(TokenKind::Api)).await.unwrap().len(), 3);

    // Every token keeps its creator's name; `cli` when no user made it.
    assert_eq!(api.created_by_name, "tess");
    assert_eq!(enrol.created_by_name, "cli");
    let enrolled_by_tess = s
        .insert_token(NewToken {
            kind: TokenKind::Agent,
            role: None,
            agent_id: Some(agent.id),
            created_by: Some(creator.id),
            ..new_token("agent of tess", "hash-agent-tess")
        })
        .await
        .unwrap();
    assert_eq!(enrolled_by_tess.created_by_name, "tess");

    // Deleting the creator revokes their API and enrolment tokens in the same
    // transaction; agent credentials belong to their agent and stay. Names stay.
    ctx.clock.advance(MINUTE);
    s.delete_user(creator.id).await.unwrap();
    let api = s.token(api.id).await.unwrap().unwrap();
    assert_eq!(api.created_by, None);
    assert_eq!(api.created_by_name, "tess");
    assert_eq!(api.revoked_at.map(|t| t.0), Some(ctx.now()));
    let credential = s.token(enrolled_by_tess.id).await.unwrap().unwrap();
    assert_eq!(
        (credential.revoked_at, credential.created_by_name.as_str()),
        (None, "tess")
    );
    assert!(matches!(
        s.delete_user(creator.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn one_use_token_is_used_once_under_concurrency(ctx: Ctx) {
    const N: usize = 16;
    for round in 0..3 {
        let hash = format!("hash-once-{round}");
        let once = ctx
            .store
            .insert_token(NewToken {
                uses: Some(1),
                ..new_token("once", &hash)
            })
            .await
            .unwrap();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|_| {
                let store = ctx.store.clone();
                let token = once.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.use_token(&token).await.unwrap()
                })
            })
            .collect();
        let mut successes = 0;
        for t in tasks {
            successes += usize::from(t.await.unwrap());
        }
        assert_eq!(successes, 1, "round {round}: uses of a one-use token");
        let after = ctx.store.token(once.id).await.unwrap().unwrap();
        assert_eq!(after.uses_remaining, Some(0));
    }
}

// ---------------------------------------------------------------------------------------
// Agents, groups, memberships

async fn agents_groups_and_memberships(ctx: Ctx) {
    let s = &ctx.store;
    let b = s
        .create_agent("b-probe 東京", "tokyo.example")
        .await
        .unwrap();
    let a = s.create_agent("a-probe", "ams.example").await.unwrap();
    let a2 = s.create_agent("a-probe", "ams2.example").await.unwrap();
    assert_eq!(b.name, "b-probe 東京");
    assert_eq!(b.version, None);
    assert_eq!(b.facts, json!({}));
    assert_eq!(b.created_at.0, T0);
    assert_eq!((b.last_seen_at, b.revoked_at), (None, None));
    assert!(b.groups.is_empty());
    let got = s.agent(b.id).await.unwrap().unwrap();
    assert_eq!(
        (got.name.as_str(), got.hostname.as_str()),
        ("b-probe 東京", "tokyo.example")
    );
    assert!(s.agent(i64::MAX).await.unwrap().is_none());

    // Agents list by name then id.
    let order: Vec<i64> = s
        .list_agents()
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(order, [a.id, a2.id, b.id]);

    let g_eu = s
        .create_group("europe", "EU probes — ünïcödé")
        .await
        .unwrap();
    let g_asia = s.create_group("asia 🌏", "").await.unwrap();
    let g_all = s.create_group("All", "everything").await.unwrap();
    assert_eq!(g_eu.description, "EU probes — ünïcödé");
    assert_eq!(g_eu.created_at.0, T0);
    match s.create_group("europe", "again").await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("already exists"), "{m}"),
        other => panic!("duplicate group: {other:?}"),
    }
    // Group names are compared exactly: another case is another group.
    s.create_group("EUROPE", "").await.unwrap();
    let names: Vec<String> = s
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["All", "EUROPE", "asia 🌏", "europe"]);

    // Memberships: sorted by group id, whatever order they were given in.
    s.set_agent_groups(b.id, &[g_all.id, g_asia.id])
        .await
        .unwrap();
    s.set_agent_groups(a.id, &[g_eu.id]).await.unwrap();
    assert_eq!(
        s.agent(b.id).await.unwrap().unwrap().groups,
        [g_asia.id, g_all.id]
    );
    let listed = s.list_agents().await.unwrap();
    let groups_of = |id: i64| listed.iter().find(|x| x.id == id).unwrap().groups.clone();
    assert_eq!(groups_of(a.id), [g_eu.id]);
    assert_eq!(groups_of(a2.id), Vec::<i64>::new());
    assert_eq!(groups_of(b.id), [g_asia.id, g_all.id]);

    // Replacing, emptying.
    s.set_agent_groups(a.id, &[g_all.id]).await.unwrap();
    assert_eq!(s.agent(a.id).await.unwrap().unwrap().groups, [g_all.id]);
    s.set_agent_groups(a.id, &[]).await.unwrap();
    assert!(s.agent(a.id).await.unwrap().unwrap().groups.is_empty());

    // Deleting a group removes its memberships.
    s.delete_group(g_all.id).await.unwrap();
    assert_eq!(s.agent(b.id).await.unwrap().unwrap().groups, [g_asia.id]);
    assert!(matches!(
        s.delete_group(g_all.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn memberships_are_replaced_atomically(ctx: Ctx) {
    let s = &ctx.store;
    let agent = s.create_agent("probe", "probe.example").await.unwrap();
    let g1 = s.create_group("g1", "").await.unwrap();
    let g2 = s.create_group("g2", "").await.unwrap();
    s.set_agent_groups(agent.id, &[g1.id]).await.unwrap();
    // One bad id: nothing changes, not even the removal of g1.
    assert!(is_conflict(
        &s.set_agent_groups(agent.id, &[g2.id, i64::MAX]).await
    ));
    assert_eq!(s.agent(agent.id).await.unwrap().unwrap().groups, [g1.id]);
    // A duplicate: the whole replacement fails, the old memberships stay.
    assert!(is_conflict(
        &s.set_agent_groups(agent.id, &[g2.id, g2.id]).await
    ));
    assert_eq!(s.agent(agent.id).await.unwrap().unwrap().groups, [g1.id]);

    // Concurrent replacements: the result is one of them, never a mixture.
    let groups: Vec<i64> = {
        let mut v = Vec::new();
        for i in 0..6 {
            v.push(s.create_group(&format!("c{i}"), "").await.unwrap().id);
        }
        v
    };
    let sets: Vec<Vec<i64>> = vec![
        vec![groups[0], groups[1]],
        vec![groups[2], groups[3]],
        vec![groups[4], groups[5]],
        vec![groups[0], groups[3]],
    ];
    for round in 0..5 {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(sets.len()));
        let tasks: Vec<_> = sets
            .iter()
            .cloned()
            .map(|set| {
                let store = s.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.set_agent_groups(agent.id, &set).await
                })
            })
            .collect();
        for t in tasks {
            t.await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: a concurrent replacement failed: {e}"));
        }
        let mut got = s.agent(agent.id).await.unwrap().unwrap().groups;
        got.sort();
        assert!(
            sets.iter().any(|set| {
                let mut set = set.clone();
                set.sort();
                set == got
            }),
            "round {round}: memberships {got:?} are none of the replacements {sets:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Tests and assignments

fn draft(name: &str, kind: TestKind, target: &str) -> TestDraft {
    TestDraft {
        name: name.to_owned(),
        description: String::new(),
        spec: TestSpec {
            kind,
            target: target.to_owned(),
            params: TestParams::from_json(kind, serde_json::Value::Null).unwrap(),
            schedule: Schedule::every(60),
        },
        enabled: true,
        assignments: Assignments::default(),
    }
}

/// The parts of a record that came from the draft, to compare what was stored with what
/// was given.
fn as_draft(t: &TestRecord) -> serde_json::Value {
    json!({
        "name": t.name, "description": t.description, "spec": t.spec,
        "enabled": t.enabled, "assignments": t.assignments,
    })
}

fn draft_json(d: &TestDraft) -> serde_json::Value {
    json!({
        "name": d.name, "description": d.description, "spec": d.spec,
        "enabled": d.enabled, "assignments": d.assignments,
    })
}

async fn tests_round_trip_update_and_delete(ctx: Ctx) {
    let s = &ctx.store;
    let author = s
        .create_user(&username("tina"), "h", Role::Operator)
        .await
        .unwrap();
    let agent = s.create_agent("probe", "probe.example").await.unwrap();
    let group = s.create_group("edge", "").await.unwrap();

    // Everything non-default, extremes included.
    let mut d = draft(
        "Ünïcödé 测试 🚀 \"quoted\" 'single'",
        TestKind::Http,
        "https://example.net/ä?q=1",
    );
    d.description = "line 1\nline 2\ttab — ✓".into();
    d.spec.params = TestParams::from_json(
        TestKind::Http,
        json!({"method": "HEAD", "expected_status": [200, 204], "follow_redirects": false, "verify_tls": false, "timeout_ms": 120000}),
    )
    .unwrap();
    d.spec.schedule = Schedule {
        interval_seconds: u32::MAX,
        jitter_seconds: u32::MAX - 1,
        start_at_ms: Some(0),
        end_at_ms: Some(i64::MAX),
        one_shot: true,
    };
    d.enabled = false;
    d.assignments = Assignments {
        agents: vec![agent.id],
        groups: vec![group.id],
    };
    let t = s.create_test(&d, Some(author.id)).await.unwrap();
    assert_eq!(as_draft(&t), draft_json(&d));
    assert_eq!(t.created_by, Some(author.id));
    assert_eq!((t.created_at.0, t.updated_at.0), (T0, T0));
    let read = s.test(t.id).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&read).unwrap(),
        serde_json::to_value(&t).unwrap()
    );

    // Every kind round-trips with its default parameters; NULL creator.
    for (kind, target) in [
        (TestKind::Host, ""),
        (TestKind::Ping, "192.0.2.1"),
        (TestKind::Dns, "example.net"),
        (TestKind::Tcp, "[2001:db8::1]:443"),
        (TestKind::Traceroute, "example.net"),
    ] {
        let d = draft(&format!("{kind} test"), kind, target);
        let t = s.create_test(&d, None).await.unwrap();
        assert_eq!(
            as_draft(&s.test(t.id).await.unwrap().unwrap()),
            draft_json(&d)
        );
        assert_eq!(t.created_by, None);
    }

    // Update: everything changes but the id, author and creation time.
    ctx.clock.advance(MINUTE);
    let mut d2 = draft("renamed", TestKind::Dns, "example.org");
    d2.spec.params = TestParams::from_json(
        TestKind::Dns,
        json!({"resolvers": ["[2001:db8::53]:53"], "record_type": "AAAA", "transport": "tcp"}),
    )
    .unwrap();
    d2.assignments = Assignments {
        agents: vec![],
        groups: vec![group.id],
    };
    let u = s.update_test(t.id, &d2).await.unwrap();
    assert_eq!(as_draft(&u), draft_json(&d2));
    assert_eq!((u.id, u.created_by), (t.id, Some(author.id)));
    assert_eq!((u.created_at.0, u.updated_at.0), (T0, T0 + 60_000));
    assert!(matches!(
        s.update_test(i64::MAX, &d2).await,
        Err(StoreError::NotFound)
    ));

    // Deleting the author keeps the test; deleting the test removes its assignments.
    s.delete_user(author.id).await.unwrap();
    assert_eq!(s.test(t.id).await.unwrap().unwrap().created_by, None);
    let count_assignments = |id: i64| async move {
        s.db()
            .query_one(
                "SELECT COUNT(*) AS n FROM test_assignments WHERE test_id = $1",
                params![id],
            )
            .await
            .unwrap()
            .i64("n")
            .unwrap()
    };
    assert_eq!(count_assignments(t.id).await, 1);
    s.delete_test(t.id).await.unwrap();
    assert!(s.test(t.id).await.unwrap().is_none());
    assert_eq!(count_assignments(t.id).await, 0);
    assert!(matches!(
        s.delete_test(t.id).await,
        Err(StoreError::NotFound)
    ));
    // Deleting an agent or group removes it from assignments too.
    let mut d3 = draft("assigned", TestKind::Ping, "192.0.2.9");
    d3.assignments = Assignments {
        agents: vec![agent.id],
        groups: vec![group.id],
    };
    let t3 = s.create_test(&d3, None).await.unwrap();
    s.delete_group(group.id).await.unwrap();
    assert_eq!(
        s.test(t3.id).await.unwrap().unwrap().assignments,
        Assignments {
            agents: vec![agent.id],
            groups: vec![]
        }
    );
}

async fn names(s: &Store, search: &str) -> Vec<String> {
    let (tests, total) = s
        .list_tests(&TestFilter {
            search: Some(search.to_owned()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total as usize, tests.len(), "search {search:?}: total");
    tests.into_iter().map(|t| t.name).collect()
}

async fn test_search_is_literal_and_paginates(ctx: Ctx) {
    let s = &ctx.store;
    for (name, kind, target) in [
        ("100% uptime", TestKind::Ping, "192.0.2.1"),
        ("1000 uptime", TestKind::Ping, "192.0.2.2"),
        ("a_b", TestKind::Ping, "192.0.2.3"),
        ("axb", TestKind::Ping, "192.0.2.4"),
        ("back\\slash", TestKind::Ping, "192.0.2.5"),
        ("Mixed CASE", TestKind::Tcp, "db.example.net:5432"),
        ("web", TestKind::Http, "https://Shop.Example.com/health"),
        ("quote's", TestKind::Dns, "example.org"),
    ] {
        s.create_test(&draft(name, kind, target), None)
            .await
            .unwrap();
    }
    // LIKE wildcards in the search are literal characters.
    assert_eq!(names(s, "%").await, ["100% uptime"]);
    assert_eq!(names(s, "0%").await, ["100% uptime"]);
    assert_eq!(names(s, "_").await, ["a_b"]);
    assert_eq!(names(s, "a_b").await, ["a_b"]);
    assert_eq!(names(s, "\\").await, ["back\\slash"]);
    assert_eq!(names(s, "k\\s").await, ["back\\slash"]);
    assert_eq!(names(s, "'").await, ["quote's"]);
    // Case-insensitive, trimmed, on name or target.
    assert_eq!(names(s, "  mixed case ").await, ["Mixed CASE"]);
    assert_eq!(names(s, "UPTIME").await, ["100% uptime", "1000 uptime"]);
    assert_eq!(names(s, "shop.example").await, ["web"]);
    assert_eq!(names(s, ":5432").await, ["Mixed CASE"]);
    assert!(names(s, "no such thing").await.is_empty());
    // No search: everything, ordered by name (byte order) then id.
    assert_eq!(
        names(s, "").await,
        [
            "100% uptime",
            "1000 uptime",
            "Mixed CASE",
            "a_b",
            "axb",
            "back\\slash",
            "quote's",
            "web"
        ]
    );

    // Kind filter, alone and with a search.
    let list = |search: Option<&str>, kind: Option<TestKind>, limit: i64, offset: i64| {
        let f = TestFilter {
            search: search.map(str::to_owned),
            kind,
            limit,
            offset,
        };
        async move {
            let (tests, total) = s.list_tests(&f).await.unwrap();
            (tests.into_iter().map(|t| t.name).collect::<Vec<_>>(), total)
        }
    };
    assert_eq!(
        list(None, Some(TestKind::Ping), 100, 0).await,
        (
            vec![
                "100% uptime".to_owned(),
                "1000 uptime".into(),
                "a_b".into(),
                "axb".into(),
                "back\\slash".into()
            ],
            5
        )
    );
    assert_eq!(
        list(Some("uptime"), Some(TestKind::Http), 100, 0).await,
        (vec![], 0)
    );

    // Pagination: pages partition the result; total counts all matches.
    let mut paged = Vec::new();
    for offset in (0..10).step_by(3) {
        let (page, total) = list(None, None, 3, offset).await;
        assert_eq!(total, 8, "total at offset {offset}");
        assert!(page.len() <= 3);
        paged.extend(page);
    }
    assert_eq!(paged, names(s, "").await);
    assert_eq!(list(None, None, 3, 8).await, (vec![], 8));
    assert_eq!(
        list(Some("uptime"), None, 1, 1).await,
        (vec!["1000 uptime".into()], 2)
    );

    // Same names: ordered by id.
    let first = s
        .create_test(&draft("twin", TestKind::Ping, "192.0.2.7"), None)
        .await
        .unwrap();
    let second = s
        .create_test(&draft("twin", TestKind::Ping, "192.0.2.8"), None)
        .await
        .unwrap();
    let (twins, _) = s
        .list_tests(&TestFilter {
            search: Some("twin".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        twins.iter().map(|t| t.id).collect::<Vec<_>>(),
        [first.id, second.id]
    );
}

async fn test_search_is_case_insensitive_beyond_ascii(ctx: Ctx) {
    let s = &ctx.store;
    for name in ["Über-Check", "Ärger", "plain"] {
        s.create_test(&draft(name, TestKind::Ping, "192.0.2.1"), None)
            .await
            .unwrap();
    }
    // The server lower-cases the search with Unicode rules; the stored name must be
    // compared the same way on both backends.
    assert_eq!(names(s, "über").await, ["Über-Check"]);
    assert_eq!(names(s, "ÜBER").await, ["Über-Check"]);
    assert_eq!(names(s, "ärg").await, ["Ärger"]);
}

async fn assignments_are_replaced_atomically(ctx: Ctx) {
    let s = &ctx.store;
    let a1 = s.create_agent("a1", "a1.example").await.unwrap().id;
    let a2 = s.create_agent("a2", "a2.example").await.unwrap().id;
    let g1 = s.create_group("g1", "").await.unwrap().id;
    let mut d = draft("assigned", TestKind::Ping, "192.0.2.1");
    d.assignments = Assignments {
        agents: vec![a1],
        groups: vec![g1],
    };
    let t = s.create_test(&d, None).await.unwrap();
    let assignments = |id: i64| async move { s.test(id).await.unwrap().unwrap().assignments };

    // Replacement, with duplicates folded.
    s.replace_assignments(
        t.id,
        &Assignments {
            agents: vec![a2, a2, a1],
            groups: vec![],
        },
    )
    .await
    .unwrap();
    assert_eq!(
        assignments(t.id).await,
        Assignments {
            agents: vec![a1, a2],
            groups: vec![]
        }
    );

    // A missing agent: nothing changes.
    let bad = Assignments {
        agents: vec![a1, i64::MAX],
        groups: vec![g1],
    };
    assert!(is_conflict(&s.replace_assignments(t.id, &bad).await));
    assert_eq!(
        assignments(t.id).await,
        Assignments {
            agents: vec![a1, a2],
            groups: vec![]
        }
    );

    // An update with a bad assignment changes neither the test nor its assignments.
    let mut d2 = draft("renamed", TestKind::Tcp, "192.0.2.1:80");
    d2.assignments = bad.clone();
    assert!(is_conflict(&s.update_test(t.id, &d2).await));
    let after = s.test(t.id).await.unwrap().unwrap();
    assert_eq!(after.name, "assigned");
    assert_eq!(after.spec.kind, TestKind::Ping);
    assert_eq!(after.assignments.agents, [a1, a2]);

    // A create with a bad assignment leaves no test behind.
    let mut d3 = draft("doomed", TestKind::Ping, "192.0.2.1");
    d3.assignments = bad;
    assert!(is_conflict(&s.create_test(&d3, None).await));
    assert!(names(s, "doomed").await.is_empty());

    // Concurrent updates: the result is one of them, never a mixture.
    let agents: Vec<i64> = {
        let mut v = Vec::new();
        for i in 0..4 {
            v.push(
                s.create_agent(&format!("c{i}"), "c.example")
                    .await
                    .unwrap()
                    .id,
            );
        }
        v
    };
    let sets: Vec<Vec<i64>> = agents.iter().map(|a| vec![*a]).collect();
    // Even rounds replace only the assignments; odd rounds also update the whole test.
    for round in 0..6 {
        let writers: &[bool] = if round % 2 == 0 {
            &[false, false]
        } else {
            &[false, true]
        };
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(sets.len() * 2));
        let mut tasks = Vec::new();
        for (i, set) in sets.iter().enumerate() {
            for &via_update in writers {
                let store = s.clone();
                let barrier = barrier.clone();
                let mut d = draft(
                    &format!("round {round} writer {i}"),
                    TestKind::Ping,
                    "192.0.2.1",
                );
                d.assignments = Assignments {
                    agents: set.clone(),
                    groups: vec![],
                };
                let id = t.id;
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    if via_update {
                        store.update_test(id, &d).await.map(|_| ())
                    } else {
                        store.replace_assignments(id, &d.assignments).await
                    }
                }));
            }
        }
        for task in tasks {
            task.await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: a concurrent replacement failed: {e}"));
        }
        let got = assignments(t.id).await;
        assert!(
            got.groups.is_empty() && sets.contains(&got.agents),
            "round {round}: assignments {got:?} are none of the replacements {sets:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Settings

async fn settings_put_and_get(ctx: Ctx) {
    let s = &ctx.store;
    assert!(s.setting_values().await.unwrap().is_empty());
    let admin = s
        .create_user(&username("sally"), "h", Role::Admin)
        .await
        .unwrap();
    let values = vec![
        ("zeta".to_owned(), json!(i64::MAX)),
        ("alpha".to_owned(), json!(i64::MIN)),
        (
            "nested".to_owned(),
            json!({"list": [1, "two", null, true], "ünï": "cödé 🚀"}),
        ),
        ("nothing".to_owned(), json!(null)),
        ("flag".to_owned(), json!(false)),
    ];
    s.put_settings(&values, Some(admin.id)).await.unwrap();
    let mut expected = values.clone();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(s.setting_values().await.unwrap(), expected);

    // Upsert: changed keys change, others stay; no author is fine.
    ctx.clock.advance(MINUTE);
    s.put_settings(&[("zeta".to_owned(), json!(1))], None)
        .await
        .unwrap();
    let got = s.setting_values().await.unwrap();
    assert_eq!(got.len(), 5);
    assert!(got.contains(&("zeta".to_owned(), json!(1))));
    assert!(got.contains(&("alpha".to_owned(), json!(i64::MIN))));

    // All or nothing: an unknown author fails the whole batch.
    let batch = vec![
        ("alpha".to_owned(), json!(0)),
        ("new-key".to_owned(), json!(1)),
    ];
    assert!(is_conflict(&s.put_settings(&batch, Some(i64::MAX)).await));
    assert_eq!(s.setting_values().await.unwrap(), got);

    // Deleting the author keeps the settings.
    s.delete_user(admin.id).await.unwrap();
    assert_eq!(s.setting_values().await.unwrap(), got);
    // An empty batch is fine.
    s.put_settings(&[], None).await.unwrap();
}

// ---------------------------------------------------------------------------------------
// Audit log

async fn audit_paging_and_login_failure_windows(ctx: Ctx) {
    use streamswarm::store::audit::AuditRecord;
    let s = &ctx.store;
    assert!(s.audit_entries(10, None).await.unwrap().is_empty());
    for i in 0..25 {
        s.audit(AuditRecord {
            actor: "user:ada",
            action: "test.create",
            target: &format!("test:{i}"),
            source_ip: if i % 2 == 0 {
                Some("2001:db8::1")
            } else {
                None
            },
            details: if i == 0 {
                serde_json::Value::Null
            } else {
                json!({"i": i, "name": "ünïcödé 🚀", "big": i64::MAX, "small": i64::MIN})
            },
        })
        .await
        .unwrap();
        ctx.clock.advance(Duration::from_millis(1));
    }
    // Newest first, paged backwards by id.
    let page1 = s.audit_entries(10, None).await.unwrap();
    assert_eq!(page1.len(), 10);
    assert_eq!(page1[0].target, "test:24");
    assert!(page1.windows(2).all(|w| w[0].id > w[1].id));
    let page2 = s.audit_entries(10, Some(page1[9].id)).await.unwrap();
    assert_eq!(page2[0].target, "test:14");
    let page3 = s.audit_entries(10, Some(page2[9].id)).await.unwrap();
    assert_eq!(page3.len(), 5);
    let oldest = page3.last().unwrap();
    assert_eq!(oldest.target, "test:0");
    assert_eq!(oldest.details, json!({}));
    assert_eq!(oldest.source_ip.as_deref(), Some("2001:db8::1"));
    assert_eq!(oldest.at.0, T0);
    assert_eq!(oldest.actor, "user:ada");
    assert_eq!(oldest.action, "test.create");
    let one = &page3[3];
    assert_eq!(one.target, "test:1");
    assert_eq!(one.source_ip, None);
    assert_eq!(
        one.details,
        json!({"i": 1, "name": "ünïcödé 🚀", "big": i64::MAX, "small": i64::MIN})
    );
    assert!(
        s.audit_entries(10, Some(oldest.id))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.audit_entries(10, Some(i64::MIN))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.audit_entries(1000, Some(i64::MAX)).await.unwrap().len(),
        25
    );

    // Login failures: counted per username and per address within a window (inclusive).
    let failure = |target: &'static str, ip: Option<&'static str>| AuditRecord {
        actor: "anonymous",
        action: "login.failure",
        target,
        source_ip: ip,
        details: json!({}),
    };
    let start = ctx.now();
    s.audit(failure("alice", Some("192.0.2.1"))).await.unwrap(); // start
    ctx.clock.advance(MINUTE);
    s.audit(failure("alice", Some("192.0.2.2"))).await.unwrap(); // start+1m
    ctx.clock.advance(MINUTE);
    s.audit(failure("alice", None)).await.unwrap(); // start+2m
    s.audit(failure("bob", Some("192.0.2.1"))).await.unwrap(); // start+2m
    s.audit(AuditRecord {
        action: "login.success",
        ..failure("alice", Some("192.0.2.1"))
    })
    .await
    .unwrap();
    assert_eq!(
        s.login_failures_for_user("alice", start).await.unwrap(),
        (3, Some(start))
    );
    assert_eq!(
        s.login_failures_for_user("alice", start + 1).await.unwrap(),
        (2, Some(start + 60_000))
    );
    assert_eq!(
        s.login_failures_for_user("alice", start + 60_000)
            .await
            .unwrap(),
        (2, Some(start + 60_000))
    );
    assert_eq!(
        s.login_failures_for_user("alice", start + 180_000)
            .await
            .unwrap(),
        (0, None)
    );
    assert_eq!(
        s.login_failures_for_user("nobody", i64::MIN).await.unwrap(),
        (0, None)
    );
    assert_eq!(
        s.login_failures_from("192.0.2.1", start).await.unwrap(),
        (2, Some(start))
    );
    assert_eq!(
        s.login_failures_from("192.0.2.1", start + 1).await.unwrap(),
        (1, Some(start + 120_000))
    );
    assert_eq!(
        s.login_failures_from("192.0.2.99", i64::MIN).await.unwrap(),
        (0, None)
    );
}

// ---------------------------------------------------------------------------------------
// Migrations

async fn migrations_apply_once(ctx: Ctx) {
    // `run` connected and migrated already; running again applies nothing.
    assert_eq!(migrate::run(ctx.store.db()).await.unwrap(), Applied(vec![]));
    assert_eq!(migrate::run(ctx.store.db()).await.unwrap(), Applied(vec![]));
    let recorded: Vec<i64> = ctx
        .store
        .db()
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            vec![],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.i64("version").unwrap())
        .collect();
    let known: Vec<i64> = streamswarm_schema::migrations::SQLITE
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(recorded, known);
    // A second store over the same database starts without migrating anything.
    let again = ctx.reopen().await.unwrap();
    assert_eq!(migrate::run(again.db()).await.unwrap(), Applied(vec![]));
    again.close();

    // A database that was never migrated gets every version, once.
    let Some((url, _guard)) = fresh_database(ctx.backend).await else {
        return;
    };
    let location = DatabaseLocation::parse(&SecretString::from(url)).unwrap();
    let bare = Store::open(&location, 2, ctx.clock.clone()).unwrap();
    assert_eq!(migrate::run(bare.db()).await.unwrap(), Applied(known));
    assert_eq!(migrate::run(bare.db()).await.unwrap(), Applied(vec![]));
    bare.close();
}

async fn migrations_refuse_a_newer_schema(ctx: Ctx) {
    let binary = streamswarm_schema::migrations::SQLITE
        .last()
        .unwrap()
        .version;
    ctx.store
        .db()
        .execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
            params![binary + 1, "from the future", "0000", T0],
        )
        .await
        .unwrap();
    match migrate::run(ctx.store.db()).await {
        Err(StoreError::SchemaTooNew {
            database,
            binary: b,
        }) => {
            assert_eq!((database, b), (binary + 1, binary))
        }
        other => panic!("migrating a newer schema: {other:?}"),
    }
    match ctx.reopen().await {
        Err(e @ StoreError::SchemaTooNew { .. }) => {
            assert!(e.to_string().contains("newer than this binary"), "{e}")
        }
        other => panic!("connecting to a newer schema: {other:?}"),
    }
    // The server refuses to start on it.
    let url = match &ctx.location {
        DatabaseLocation::Sqlite(p) => format!("sqlite://{}", p.display()),
        DatabaseLocation::Postgres(u) => secrecy::ExposeSecret::expose_secret(u).to_owned(),
    };
    let config = crate::helpers::test_config(&url);
    let err = match streamswarm::Application::build_with_clock(config, ctx.clock.clone()).await {
        Ok(_) => panic!("the server started on a schema newer than it knows"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("newer than this binary"), "{err}");
    // Nothing was applied or changed by the refusals.
    let n = ctx
        .store
        .db()
        .query_one("SELECT COUNT(*) AS n FROM schema_migrations", vec![])
        .await
        .unwrap()
        .i64("n")
        .unwrap();
    assert_eq!(n, binary + 1);
}

async fn migrations_refuse_an_edited_migration(ctx: Ctx) {
    let changed = ctx
        .store
        .db()
        .execute(
            "UPDATE schema_migrations SET checksum = $1 WHERE version = $2",
            params!["edited-after-it-was-applied", 1i64],
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);
    assert!(matches!(
        migrate::run(ctx.store.db()).await,
        Err(StoreError::MigrationChanged { version: 1 })
    ));
    assert!(matches!(
        ctx.reopen().await,
        Err(StoreError::MigrationChanged { version: 1 })
    ));
    // Nothing was applied by the refusals.
    let n = ctx
        .store
        .db()
        .query_one("SELECT COUNT(*) AS n FROM schema_migrations", vec![])
        .await
        .unwrap()
        .i64("n")
        .unwrap();
    assert_eq!(n, streamswarm_schema::migrations::SQLITE.len() as i64);
}

async fn concurrent_migrations_apply_once(ctx: Ctx) {
    // Several replicas starting at once on a new database: every one succeeds and each
    // migration is applied exactly once.
    let Some((url, _guard)) = fresh_database(ctx.backend).await else {
        return;
    };
    let location = DatabaseLocation::parse(&SecretString::from(url)).unwrap();
    let stores: Vec<Store> = (0..4)
        .map(|_| Store::open(&location, 2, ctx.clock.clone()).unwrap())
        .collect();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(stores.len()));
    let tasks: Vec<_> = stores
        .iter()
        .cloned()
        .map(|s| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                migrate::run(s.db()).await
            })
        })
        .collect();
    let mut applied = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(Applied(v)) => applied.extend(v),
            Err(e) => panic!("a concurrent migration failed: {e:?}"),
        }
    }
    applied.sort();
    let known: Vec<i64> = streamswarm_schema::migrations::SQLITE
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(applied, known, "each migration applied exactly once");
    for s in stores {
        s.close();
    }
}
