//! Password-guess throttling for sign-in and password change: it stops a guesser
//! without letting a stranger lock the real user out.
//!
//! A wrong password is a `login.failure` or `password.change_failed` row of the audit
//! log (one pool: both are guesses at the same password), so the limits hold across
//! server replicas and restarts. Within the window (`login_failure_window_minutes`) an
//! attempt gets 429 with `Retry-After` — right password or not, and before any password
//! is checked — when:
//!
//! 1. its source address has `login_max_failures_per_address` failures (any usernames):
//!    one address guessing many accounts;
//! 2. its address has `login_max_failures_per_user_and_address` failures for this
//!    username: one address guessing one account;
//! 3. the username is under attack — `login_max_failures_per_user` failures from all
//!    addresses together — and its address has already failed once for this username
//!    and is not a known address of the user (one that signed in as them within
//!    `login_known_address_days`): many addresses guessing one account each get a
//!    single guess per window.
//!
//! Failures for a username never refuse an address that has not itself failed: the owner
//! signing in from another address passes whatever a stranger sends, and from a known
//! address keeps the whole per-(username, address) budget even during an attack.
//! `Retry-After` is when the oldest failure that triggered the refusal leaves the window.

use crate::error::Error;
use crate::settings::RuntimeSettings;
use crate::store::Store;
use std::time::Duration;

/// Why an attempt is refused before its password is checked; `Ok` lets it through.
pub async fn check(
    store: &Store,
    settings: &RuntimeSettings,
    username: &str,
    source_ip: Option<&str>,
) -> Result<(), Error> {
    let window_ms = settings.login_failure_window().as_millis() as i64;
    let now = store.clock().now_ms();
    // A failure counts while it is less than a window old, so that at `oldest + window`
    // (what Retry-After announces) it no longer does.
    let since = now - window_ms + 1;
    let Some(ip) = source_ip else {
        // Without a peer address (never the case over TCP) only the username is known;
        // refusing on it alone would let anyone lock the user out, so nothing is refused.
        return Ok(());
    };
    let from_address = store.login_failures_from(ip, since).await?;
    let pair = store
        .login_failures_for_user_from(username, ip, since)
        .await?;
    let mut limits = vec![
        (from_address, settings.get("login_max_failures_per_address")),
        (
            pair,
            settings.get("login_max_failures_per_user_and_address"),
        ),
    ];
    if pair.0 >= 1 {
        let (all_addresses, _) = store.login_failures_for_user(username, since).await?;
        if all_addresses >= settings.get("login_max_failures_per_user") {
            let known_since = now - settings.known_address_period().as_millis() as i64;
            if !store.signed_in_from(username, ip, known_since).await? {
                limits.push((pair, 1));
            }
        }
    }
    let retry_at = limits
        .into_iter()
        .filter(|((count, _), max)| count >= max)
        .filter_map(|((_, oldest), _)| oldest.map(|o| o + window_ms))
        .max();
    match retry_at {
        None => Ok(()),
        Some(at) => {
            let secs = ((at - now).max(1000) as u64).div_ceil(1000);
            Err(Error::TooManyRequests {
                message: "too many wrong passwords; try again later".into(),
                retry_after: Duration::from_secs(secs),
            })
        }
    }
}
