//! Network probes: each runs one kind of test against a target and turns what it saw
//! into a point of its measurement in `schema/measurements.toml`.
//!
//! - `host` — the agent's own host (CPU, memory, disks, network, TCP states,
//!   temperatures) as the `host_*` measurements, rates computed between samples.
//! - `ping` — ICMP echo (loss, RTT statistics, reply TTL) over IPv4 and IPv6.
//! - `stats` — the pure RTT statistics shared by probes (mdev, RFC 3550 jitter, percentiles).
//! - `icmp` — ICMP echo packet building and parsing, no I/O.
//! - `policy` — the outbound target policy (`[probes] deny` / `allow`): every network
//!   probe gets its addresses from it, checked at run time on the resolved address.
//!
//! This file is the dispatch the scheduler calls: [`prepare`] (can this agent run the
//! test, and the state it keeps between runs), [`run_test`] (one run → its points),
//! [`natural_duration`] (how long a run may take) and [`timeout_points`] (what a run
//! cancelled at its limit reports). A new probe adds one arm to each. [`run_test`] takes
//! the agent's [`TargetPolicy`]: a network probe resolves its target through
//! [`policy::resolve`] (its socket code takes a [`policy::Permitted`] address), so
//! a denied target becomes the probe's error point before any packet leaves.

pub mod dns;
pub mod host;
pub mod icmp;
pub mod ping;
pub mod policy;
pub mod stats;
pub mod tcp;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use streamswarm_schema::test_spec::{PingParams, TestKind, TestParams, TestSpec};
use streamswarm_tsdb::{Point, Timestamp};

pub use policy::TargetPolicy;

/// The longest a ping run spends resolving its target (the policy's resolve timeout).
const PING_RESOLVE_BOUND: Duration = policy::RESOLVE_TIMEOUT;

/// How long one host sample may take: it reads `/proc` and walks the process table,
/// normally in milliseconds; seconds mean the host is in trouble.
const HOST_SAMPLE_BOUND: Duration = Duration::from_secs(10);

/// Why a probe could not run or produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "{0} tests are not supported by this agent version ({version}); the test is not scheduled",
        version = env!("CARGO_PKG_VERSION")
    )]
    Unsupported(TestKind),
    #[error("the parameters are not those of a {0} test")]
    ParamsMismatch(TestKind),
    #[error(transparent)]
    HostUnavailable(#[from] host::HostUnavailable),
    #[error("the host sample failed: {0}")]
    HostSample(String),
}

/// What a test keeps between its runs. Cheap to clone: the scheduler hands a clone to
/// every run.
#[derive(Debug, Clone)]
pub enum ProbeState {
    Ping,
    /// The test's own sampler, so rates span the time since this test's previous run.
    /// Created on the first run (on a blocking thread); `None` until then.
    Host(Arc<Mutex<Option<host::HostSampler>>>),
}

/// Checks that this agent can run `spec` and makes the state its runs share.
pub fn prepare(spec: &TestSpec) -> Result<ProbeState, ProbeError> {
    match (spec.kind, &spec.params) {
        (TestKind::Host, TestParams::Host(_)) => Ok(ProbeState::Host(Arc::default())),
        (TestKind::Ping, TestParams::Ping(_)) => Ok(ProbeState::Ping),
        (kind @ (TestKind::Host | TestKind::Ping), _) => Err(ProbeError::ParamsMismatch(kind)),
        (kind @ (TestKind::Dns | TestKind::Tcp | TestKind::Http | TestKind::Traceroute), _) => {
            Err(ProbeError::Unsupported(kind))
        }
    }
}

/// The longest one run of `spec` takes by its own parameters; the scheduler adds its
/// margin and cancels a run that exceeds the sum.
pub fn natural_duration(spec: &TestSpec) -> Duration {
    match &spec.params {
        TestParams::Ping(p) => ping_duration(p),
        TestParams::Host(_) => HOST_SAMPLE_BOUND,
        // Not runnable yet (see `prepare`); a bound for completeness.
        _ => Duration::from_secs(u64::from(spec.schedule.interval_seconds)),
    }
}

/// Resolution, the gaps between requests, then the last request's reply timeout.
fn ping_duration(p: &PingParams) -> Duration {
    PING_RESOLVE_BOUND
        + Duration::from_millis(u64::from(p.count.saturating_sub(1)) * u64::from(p.interval_ms))
        + Duration::from_millis(u64::from(p.timeout_ms))
}

/// Runs `spec` once and returns its points. Probes report target failures inside
/// their points (`error` fields), a target `policy` denies included; `Err` means the
/// agent itself could not measure.
pub async fn run_test(
    agent_id: i64,
    test_id: i64,
    spec: &TestSpec,
    state: &ProbeState,
    policy: &TargetPolicy,
) -> Result<Vec<Point>, ProbeError> {
    match (&spec.params, state) {
        (TestParams::Ping(params), ProbeState::Ping) => {
            let result = ping::run(&spec.target, params, policy).await;
            Ok(vec![
                ping::to_point(&result, agent_id, test_id).into_dynamic(),
            ])
        }
        (TestParams::Host(_), ProbeState::Host(sampler)) => {
            let sampler = Arc::clone(sampler);
            // sysinfo and `/proc` reads block; they run off the async workers.
            tokio::task::spawn_blocking(move || {
                // A sample that panicked left nothing half-updated worth refusing.
                let mut guard = sampler.lock().unwrap_or_else(|e| e.into_inner());
                let sampler = match &mut *guard {
                    Some(sampler) => sampler,
                    None => guard.insert(host::HostSampler::new()?),
                };
                Ok(host::to_points(&sampler.sample(), agent_id))
            })
            .await
            .map_err(|e| ProbeError::HostSample(e.to_string()))?
        }
        _ => Err(prepare(spec)
            .err()
            .unwrap_or(ProbeError::ParamsMismatch(spec.kind))),
    }
}

/// The points of a run the scheduler cancelled after `limit`, stamped `started_at`.
///
/// - ping: the schema's failed-run point — `sent` is the run's `count` (its limit leaves
///   time for every request to go out), nothing received (replies the cancelled run may
///   have had are not known, so none count), loss 100 %, and an `error` saying so.
/// - host: none. The `host_*` measurements have no `error` field and no value of a
///   sample that never finished is known; the scheduler counts and logs the timeout.
pub fn timeout_points(
    agent_id: i64,
    test_id: i64,
    spec: &TestSpec,
    started_at: SystemTime,
    limit: Duration,
) -> Vec<Point> {
    match &spec.params {
        TestParams::Ping(params) => {
            let result = ping::PingResult {
                target: spec.target.clone(),
                started_at_ns: Timestamp::from_system_time(started_at)
                    .map(Timestamp::as_nanos)
                    .unwrap_or(0),
                resolved: None,
                family: None,
                socket: None,
                sent: params.count,
                received: 0,
                duplicates: 0,
                rtts_ms: Vec::new(),
                reply_ttl: None,
                error: Some(format!(
                    "timeout: the run did not finish within {} ms and was cancelled",
                    limit.as_millis()
                )),
            };
            vec![ping::to_point(&result, agent_id, test_id).into_dynamic()]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamswarm_schema::test_spec::{DnsParams, HostParams, Schedule};
    use streamswarm_tsdb::{FieldValue, assert_follows_schema};

    fn spec(params: TestParams, target: &str) -> TestSpec {
        TestSpec {
            kind: params.kind(),
            target: target.into(),
            params,
            schedule: Schedule::every(60),
        }
    }

    #[test]
    fn only_host_and_ping_are_runnable_and_refusals_say_why() {
        assert!(prepare(&spec(TestParams::Host(HostParams {}), "")).is_ok());
        assert!(prepare(&spec(TestParams::Ping(PingParams::default()), "h")).is_ok());
        let dns = spec(TestParams::Dns(DnsParams::default()), "example.net");
        let error = prepare(&dns).unwrap_err().to_string();
        assert!(
            error.contains("dns tests are not supported by this agent version"),
            "{error}"
        );
        let mut mismatched = spec(TestParams::Host(HostParams {}), "");
        mismatched.kind = TestKind::Ping;
        assert!(matches!(
            prepare(&mismatched),
            Err(ProbeError::ParamsMismatch(TestKind::Ping))
        ));
    }

    #[test]
    fn ping_limit_covers_resolution_sends_and_the_last_timeout() {
        let p = PingParams {
            count: 10,
            interval_ms: 200,
            timeout_ms: 1_500,
            ..PingParams::default()
        };
        let s = spec(TestParams::Ping(p), "h");
        assert_eq!(
            natural_duration(&s),
            Duration::from_millis(5_000 + 1_800 + 1_500)
        );
    }

    #[test]
    fn a_cancelled_ping_is_a_point_with_full_loss_and_a_timeout_error() {
        let p = PingParams {
            count: 4,
            ..PingParams::default()
        };
        let s = spec(TestParams::Ping(p), "192.0.2.1");
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let points = timeout_points(3, 9, &s, started, Duration::from_millis(7_600));
        assert_eq!(points.len(), 1);
        let point = &points[0];
        assert_follows_schema(point);
        assert_eq!(point.tag_value("test"), Some("9"));
        assert_eq!(point.tag_value("target"), Some("192.0.2.1"));
        assert_eq!(
            point.field_value("loss_percent"),
            Some(&FieldValue::Float(100.0))
        );
        assert_eq!(point.field_value("sent"), Some(&FieldValue::Integer(4)));
        assert_eq!(point.field_value("received"), Some(&FieldValue::Integer(0)));
        match point.field_value("error") {
            Some(FieldValue::String(e)) => assert!(e.starts_with("timeout: "), "{e}"),
            other => panic!("no error field: {other:?}"),
        }
        assert!(point.field_value("rtt_avg_ms").is_none());
        assert_eq!(point.time(), Timestamp::from_system_time(started));
        // A host sample that never finished has no honest points.
        let host = spec(TestParams::Host(HostParams {}), "");
        assert!(timeout_points(3, 9, &host, started, Duration::from_secs(1)).is_empty());
    }
}
