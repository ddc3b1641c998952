//! Login throttling from one address: per username and address (default 5 failures in
//! 5 minutes) and per source address (default 20), each tested on both sides of its
//! threshold, with the window moved by the manual clock. Several addresses:
//! `hardening_auth.rs`.

use crate::both_backends;
use crate::helpers::*;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use streamswarm_schema::Role;

const WINDOW_SECS: u64 = 5 * 60;

async fn attempt(app: &TestApp, user: &str, pw: &str) -> reqwest::Response {
    app.post_login(&client(), user, pw).await
}

async fn fail(app: &TestApp, user: &str) {
    let resp = attempt(app, user, "definitely-wrong-password").await;
    assert_eq!(
        resp.status(),
        401,
        "a failed login for {user} must be a 401"
    );
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .expect("429 carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds")
}

async fn assert_throttled(resp: reqwest::Response) -> u64 {
    assert_eq!(resp.status(), 429);
    assert!(
        set_cookie_header(&resp, "ssw_session").is_none(),
        "a throttled login must not sign in"
    );
    let secs = retry_after(&resp);
    assert!(
        (1..=WINDOW_SECS).contains(&secs),
        "Retry-After {secs} outside 1..={WINDOW_SECS}"
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("Too many failed sign-ins"), "{html}");
    secs
}

both_backends!(four_failures_do_not_throttle_a_user, |app| async {
    for _ in 0..4 {
        fail(&app, "ada").await;
    }
    let resp = attempt(&app, "ada", password(Role::Admin)).await;
    assert_eq!(resp.status(), 303, "4 failures are below the limit of 5");
});

both_backends!(fifth_failure_is_still_answered_normally, |app| async {
    for _ in 0..4 {
        fail(&app, "ada").await;
    }
    // The 5th failure is evaluated (401), not throttled.
    fail(&app, "ada").await;
    // The 6th attempt is throttled even with the right password.
    assert_throttled(attempt(&app, "ada", password(Role::Admin)).await).await;
});

both_backends!(
    five_failures_throttle_the_user_until_the_window_passes,
    |app| async {
        for _ in 0..5 {
            fail(&app, "ada").await;
        }
        let secs = assert_throttled(attempt(&app, "ada", password(Role::Admin)).await).await;
        assert_eq!(secs, WINDOW_SECS, "the clock has not moved");
        // Other spellings of the same name are the same user.
        for name in ["ADA", " Ada "] {
            assert_throttled(attempt(&app, name, password(Role::Admin)).await).await;
        }
        // Other users are not affected.
        assert_eq!(
            attempt(&app, "otto", password(Role::Operator))
                .await
                .status(),
            303
        );
        // Attempts while throttled neither succeed nor extend the block.
        app.clock.advance(Duration::from_secs(4 * 60));
        let secs = assert_throttled(attempt(&app, "ada", password(Role::Admin)).await).await;
        assert_eq!(secs, 60);
        fail_throttled(&app, "ada").await;
        // Once the window has passed, the right password works again.
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(
            attempt(&app, "ada", password(Role::Admin)).await.status(),
            303
        );
    }
);

async fn fail_throttled(app: &TestApp, user: &str) {
    let resp = attempt(app, user, "definitely-wrong-password").await;
    assert_eq!(resp.status(), 429);
}

both_backends!(waiting_retry_after_is_enough, |app| async {
    for _ in 0..5 {
        fail(&app, "otto").await;
    }
    let secs = assert_throttled(attempt(&app, "otto", password(Role::Operator)).await).await;
    // A client that waits exactly as long as it was told may sign in.
    app.clock.advance(Duration::from_secs(secs));
    let resp = attempt(&app, "otto", password(Role::Operator)).await;
    assert_eq!(
        resp.status(),
        303,
        "still throttled after waiting the Retry-After of {secs} s (now Retry-After: {:?})",
        resp.headers().get("retry-after")
    );
});

both_backends!(the_window_slides, |app| async {
    for _ in 0..3 {
        fail(&app, "vera").await;
    }
    app.clock.advance(Duration::from_secs(3 * 60));
    for _ in 0..2 {
        fail(&app, "vera").await;
    }
    // 5 failures within 5 minutes.
    let secs = assert_throttled(attempt(&app, "vera", password(Role::Viewer)).await).await;
    assert_eq!(secs, 2 * 60, "until the oldest failure leaves the window");
    // The first three leave the window; two remain, so three more failures are
    // answered normally (401) before the limit is reached again.
    app.clock.advance(Duration::from_secs(2 * 60 + 1));
    for _ in 0..3 {
        fail(&app, "vera").await;
    }
    assert_throttled(attempt(&app, "vera", password(Role::Viewer)).await).await;
});

both_backends!(
    nineteen_failures_from_one_address_do_not_throttle,
    |app| async {
        for i in 0..19 {
            fail(&app, &format!("intruder{i}")).await;
        }
        assert_eq!(
            attempt(&app, "ada", password(Role::Admin)).await.status(),
            303,
            "19 failures are below the address limit of 20"
        );
        // The 20th failure is still evaluated normally…
        fail(&app, "intruder19").await;
        // …after which every user is throttled from this address, right password or not.
        for role in [Role::Admin, Role::Operator, Role::Viewer] {
            assert_throttled(attempt(&app, username(role), password(role)).await).await;
        }
        assert_throttled(attempt(&app, "someone-new", "whatever-password").await).await;
        // Claiming another address in a header changes nothing: the peer address counts.
        let c = client();
        let csrf = app.login_form(&c).await;
        let resp = c
            .post(app.url("/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .header("x-real-ip", "203.0.113.9")
            .header("forwarded", "for=203.0.113.9")
            .form(&[
                ("username", "ada"),
                ("password", password(Role::Admin)),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_throttled(resp).await;
        // The window passes; the address may sign in again.
        app.clock.advance(Duration::from_secs(WINDOW_SECS + 1));
        assert_eq!(
            attempt(&app, "ada", password(Role::Admin)).await.status(),
            303
        );
    }
);

both_backends!(address_limit_follows_the_setting, |app| async {
    let admin = app.api_token(Role::Admin).await;
    let resp = app
        .with_token(Method::PATCH, "/api/v1/settings", &admin)
        .json(&json!({"login_max_failures_per_address": 3, "login_max_failures_per_user": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    fail(&app, "a1").await;
    fail(&app, "a2").await;
    assert_eq!(
        attempt(&app, "otto", password(Role::Operator))
            .await
            .status(),
        303
    );
    fail(&app, "a3").await;
    assert_throttled(attempt(&app, "otto", password(Role::Operator)).await).await;
});

both_backends!(throttled_attempts_are_not_logins, |app| async {
    for _ in 0..5 {
        fail(&app, "ada").await;
    }
    assert_throttled(attempt(&app, "ada", password(Role::Admin)).await).await;
    let audit = app.store().audit_entries(100, None).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "login.failure" && e.target == "ada")
            .count(),
        5
    );
    assert!(!audit.iter().any(|e| e.action == "login.success"));
});
