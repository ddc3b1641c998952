//! Issue 10, items 2 and 6: password guessing is stopped where it comes from without
//! letting a stranger lock the owner out, and a password change with a wrong current
//! password is audited and throttled with failed logins.
//!
//! Clients bind to distinct loopback addresses (127.0.0.N) so the server sees each as
//! its own source address.

use crate::both_backends;
use crate::helpers::*;
use reqwest::Method;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use streamswarm_schema::Role;

const WINDOW: Duration = Duration::from_secs(5 * 60);
const WRONG: &str = "definitely-wrong-password";

/// A cookie-keeping client whose requests come from 127.0.0.`n`.
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .build()
        .unwrap()
}

/// The status of one sign-in as `user` from 127.0.0.`n`.
async fn login_from(app: &TestApp, n: u8, user: &str, pw: &str) -> u16 {
    let resp = app.post_login(&client_from(n), user, pw).await;
    let status = resp.status().as_u16();
    if status == 429 {
        assert!(
            resp.headers().contains_key("retry-after"),
            "a 429 says when to retry"
        );
    }
    status
}

fn ada() -> (&'static str, &'static str) {
    (username(Role::Admin), password(Role::Admin))
}

async fn failures(app: &TestApp, action: &str, target: &str) -> Vec<Option<String>> {
    app.store()
        .audit_entries(1000, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action && e.target == target)
        .map(|e| e.source_ip)
        .collect()
}

both_backends!(
    a_stranger_cannot_lock_the_owner_out_but_is_stopped_himself,
    |app| async {
        let (user, pw) = ada();
        // The stranger at 127.0.0.2 guesses until refused.
        for _ in 0..5 {
            assert_eq!(login_from(&app, 2, user, WRONG).await, 401);
        }
        // From his address every further attempt is refused before the password is
        // checked: the right password does not get him in, a wrong one is not evaluated.
        assert_eq!(login_from(&app, 2, user, pw).await, 429);
        assert_eq!(login_from(&app, 2, user, WRONG).await, 429);
        // The owner, at an address that has not failed (and never signed in before),
        // still gets in with the right password.
        assert_eq!(login_from(&app, 1, user, pw).await, 303);
        // The stranger keeps trying through the window; the owner is never refused.
        for _ in 0..10 {
            assert_eq!(login_from(&app, 2, user, WRONG).await, 429);
            app.clock.advance(Duration::from_secs(20));
        }
        assert_eq!(login_from(&app, 1, user, pw).await, 303);
        assert_eq!(
            failures(&app, "login.failure", user).await.len(),
            5,
            "refused attempts are not evaluated"
        );
    }
);

both_backends!(
    a_distributed_guesser_gets_one_guess_per_address_once_the_user_is_under_attack,
    |app| async {
        let (user, pw) = ada();
        let admin = app.api_token(Role::Admin).await;
        let resp = app
            .with_token(Method::PATCH, "/api/v1/settings", &admin)
            .json(&json!({"login_max_failures_per_user": 6}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        // The owner's usual address: a successful sign-in makes it known.
        assert_eq!(login_from(&app, 1, user, pw).await, 303);
        // Below the per-user limit an address has its normal budget: each of three
        // addresses guesses twice, and every guess is evaluated (401).
        for n in 10..13 {
            for _ in 0..2 {
                assert_eq!(login_from(&app, n, user, WRONG).await, 401, "127.0.0.{n}");
            }
        }
        // Six failures for ada from all addresses: she is under attack. Each address
        // that has failed is now refused, right password or not…
        for n in 10..13 {
            assert_eq!(login_from(&app, n, user, pw).await, 429, "127.0.0.{n}");
        }
        // …and every new address gets one guess per window.
        for n in 20..30 {
            assert_eq!(login_from(&app, n, user, WRONG).await, 401, "127.0.0.{n}");
            assert_eq!(login_from(&app, n, user, pw).await, 429, "127.0.0.{n}");
        }
        assert_eq!(failures(&app, "login.failure", user).await.len(), 16);
        // The owner is not refused: from her known address a typo is forgiven…
        assert_eq!(login_from(&app, 1, user, WRONG).await, 401);
        assert_eq!(login_from(&app, 1, user, pw).await, 303);
        // …and from an address she never used, the right password gets her in.
        assert_eq!(login_from(&app, 40, user, pw).await, 303);
        // Other users are not under attack.
        let (otto, otto_pw) = (username(Role::Operator), password(Role::Operator));
        assert_eq!(login_from(&app, 41, otto, WRONG).await, 401);
        assert_eq!(login_from(&app, 41, otto, otto_pw).await, 303);
        // Once the window has passed, the guessers' failures no longer count.
        app.clock.advance(WINDOW);
        assert_eq!(login_from(&app, 20, user, pw).await, 303);
    }
);

both_backends!(
    a_wrong_current_password_is_audited_and_throttled_with_failed_logins,
    |app| async {
        let vera = app.login(Role::Viewer).await;
        let change = |current: &str| {
            vera.send(&app, Method::POST, "/api/v1/me/password")
                .json(&json!({"current_password": current, "new_password": "a-brand-new-password"}))
                .send()
        };
        for _ in 0..5 {
            let (status, body) = status_json(change(WRONG).await.unwrap()).await;
            assert_eq!(status, 400, "{body}");
            assert_eq!(body["error"]["details"][0]["field"], "current_password");
        }
        let audited = failures(&app, "password.change_failed", "vera").await;
        assert_eq!(audited, vec![Some("127.0.0.1".to_owned()); 5]);
        let entry = app.store().audit_entries(1, None).await.unwrap().remove(0);
        assert_eq!(entry.actor, "user:vera");
        assert!(
            !entry.details.to_string().contains(WRONG),
            "the guess is not recorded"
        );
        // The sixth attempt is refused before the password is checked, right or wrong.
        let resp = change(password(Role::Viewer)).await.unwrap();
        assert_eq!(resp.status(), 429);
        assert!(resp.headers().contains_key("retry-after"));
        let resp = change(WRONG).await.unwrap();
        assert_eq!(resp.status(), 429);
        assert_eq!(
            failures(&app, "password.change_failed", "vera").await.len(),
            5
        );
        // One pool of guesses: sign-in from the same address is refused too, while the
        // owner at another address is not.
        let (user, pw) = (username(Role::Viewer), password(Role::Viewer));
        assert_eq!(login_from(&app, 1, user, pw).await, 429);
        assert_eq!(login_from(&app, 2, user, pw).await, 303);
        // The window passes: the change goes through.
        app.clock.advance(WINDOW);
        assert_eq!(change(password(Role::Viewer)).await.unwrap().status(), 204);
    }
);

both_backends!(failed_logins_count_against_password_changes, |app| async {
    let vera = app.login(Role::Viewer).await;
    let (user, _) = (username(Role::Viewer), password(Role::Viewer));
    for _ in 0..5 {
        assert_eq!(login_from(&app, 1, user, WRONG).await, 401);
    }
    let resp = vera
        .send(&app, Method::POST, "/api/v1/me/password")
        .json(&json!({"current_password": password(Role::Viewer), "new_password": "a-brand-new-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
});

/// Two guesses for `user` from two strangers' addresses.
async fn attack(app: &TestApp, user: &str) {
    for n in [10, 11] {
        assert_eq!(login_from(app, n, user, WRONG).await, 401);
    }
}

both_backends!(
    an_address_stops_being_known_after_login_known_address_days,
    |app| async {
        let (user, pw) = ada();
        let admin = app.api_token(Role::Admin).await;
        let resp = app
            .with_token(Method::PATCH, "/api/v1/settings", &admin)
            .json(&json!({"login_max_failures_per_user": 2, "login_known_address_days": 30}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(login_from(&app, 1, user, pw).await, 303);
        // 29 days later the address is still known: a typo during an attack is forgiven.
        app.clock.advance(Duration::from_secs(29 * 86_400));
        attack(&app, user).await;
        assert_eq!(login_from(&app, 1, user, WRONG).await, 401);
        assert_eq!(login_from(&app, 1, user, pw).await, 303);
        // 31 days after its last sign-in the address is a stranger's again: one guess.
        app.clock.advance(Duration::from_secs(31 * 86_400));
        attack(&app, user).await;
        assert_eq!(login_from(&app, 1, user, WRONG).await, 401);
        assert_eq!(login_from(&app, 1, user, pw).await, 429);
    }
);
