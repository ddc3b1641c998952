//! Login throttling: too many failed logins for one username, or from one source
//! address, within the window → 429 with `Retry-After` until the oldest failure in the
//! window ages out. Failures are counted from the audit log, so the limit holds across
//! server replicas and restarts.

use crate::error::Error;
use crate::settings::RuntimeSettings;
use crate::store::Store;
use std::time::Duration;

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
    let mut checks = vec![(
        store.login_failures_for_user(username, since).await?,
        settings.get("login_max_failures_per_user"),
    )];
    if let Some(ip) = source_ip {
        checks.push((
            store.login_failures_from(ip, since).await?,
            settings.get("login_max_failures_per_address"),
        ));
    }
    let retry_at = checks
        .into_iter()
        .filter(|((count, _), max)| count >= max)
        .filter_map(|((_, oldest), _)| oldest.map(|o| o + window_ms))
        .max();
    match retry_at {
        None => Ok(()),
        Some(at) => {
            let secs = ((at - now).max(1000) as u64).div_ceil(1000);
            Err(Error::TooManyRequests {
                message: "too many failed logins; try again later".into(),
                retry_after: Duration::from_secs(secs),
            })
        }
    }
}
