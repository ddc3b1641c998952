//! Network probes: each runs one kind of test against a target and turns what it saw
//! into a point of its measurement in `schema/measurements.toml`.
//!
//! - `host` — the agent's own host (CPU, memory, disks, network, TCP states,
//!   temperatures) as the `host_*` measurements, rates computed between samples.
//! - `ping` — ICMP echo (loss, RTT statistics, reply TTL) over IPv4 and IPv6.
//! - `stats` — the pure RTT statistics shared by probes (mdev, RFC 3550 jitter, percentiles).
//! - `icmp` — ICMP echo packet building and parsing, no I/O.
//! - `dns` — DNS queries per resolver (UDP with TCP fallback, TCP, DoT, DoH) as `dns`.
//! - `tcp` — TCP connect, outcome, small exchange and the kernel's TCP_INFO as `tcp`.
//! - `traceroute` — traceroute / MTR (Paris-style flows; ICMP, UDP, TCP SYN) as the
//!   `traceroute` and `traceroute_hop` measurements.
//! - `policy` — the outbound target policy (`[probes] deny` / `allow`): every network
//!   probe gets its addresses from it, checked at run time on the resolved address.
//!
//! - `registry` — the [`Probe`] trait every kind implements and the one table of probes
//!   ([`registry::PROBES`]), keyed by test kind.
//!
//! How to add a kind: `ARCHITECTURE.md` ("Adding a test kind"). The functions below are
//! what the scheduler calls, for any kind: [`prepare`] (can this agent run the test, and
//! the state it keeps between runs), [`run`] (one run → its points),
//! [`natural_duration`] (how long a run may take) and [`timeout_points`] (what a run
//! cancelled at its limit reports). A network probe resolves its target through
//! [`policy::resolve`] (its socket code takes a [`policy::Permitted`] address), so a
//! denied target becomes the probe's error point before any packet leaves.

pub mod dns;
pub mod host;
pub mod http;
pub mod icmp;
pub mod ping;
pub mod policy;
pub mod registry;
pub mod stats;
pub mod tcp;
pub mod traceroute;

use std::time::{Duration, SystemTime};

use streamswarm_schema::test_spec::TestSpec;
use streamswarm_tsdb::Point;

pub use policy::TargetPolicy;
pub use registry::{Probe, ProbeError, ProbeState, RunContext, probe_for};

/// Checks that this agent can run `spec` and makes the state its runs share.
pub fn prepare(spec: &TestSpec) -> Result<ProbeState, ProbeError> {
    probe_for(spec.kind)?.prepare(spec)
}

/// The longest one run of `spec` takes by its own parameters; the scheduler adds its
/// margin and cancels a run that exceeds the sum. A test this agent cannot run (never
/// scheduled) is bounded by its interval.
pub fn natural_duration(spec: &TestSpec) -> Duration {
    probe_for(spec.kind)
        .and_then(|p| p.natural_duration(spec))
        .unwrap_or(Duration::from_secs(u64::from(
            spec.schedule.interval_seconds,
        )))
}

/// Runs a test once and returns its points. Probes report target failures inside
/// their points (`error` fields), a target the policy denies included; `Err` means the
/// agent itself could not measure.
pub async fn run(ctx: RunContext<'_>, state: &ProbeState) -> Result<Vec<Point>, ProbeError> {
    probe_for(ctx.spec.kind)?.run(ctx, state).await
}

/// [`run`] started now: what tests and `--check-test` call.
pub async fn run_test(
    agent_id: i64,
    test_id: i64,
    spec: &TestSpec,
    state: &ProbeState,
    policy: &TargetPolicy,
) -> Result<Vec<Point>, ProbeError> {
    let ctx = RunContext {
        agent_id,
        test_id,
        spec,
        policy,
        started_at: SystemTime::now(),
    };
    run(ctx, state).await
}

/// The points of a run the scheduler cancelled after `limit`, stamped `started_at`
/// (each probe documents what its cancelled run reports).
pub fn timeout_points(
    agent_id: i64,
    test_id: i64,
    spec: &TestSpec,
    started_at: SystemTime,
    limit: Duration,
) -> Vec<Point> {
    // A cancelled run sends nothing more; its points need no policy.
    static UNUSED: std::sync::LazyLock<TargetPolicy> =
        std::sync::LazyLock::new(TargetPolicy::default);
    let ctx = RunContext {
        agent_id,
        test_id,
        spec,
        policy: &UNUSED,
        started_at,
    };
    match probe_for(spec.kind) {
        Ok(probe) => probe.timeout_points(ctx, limit),
        Err(_) => Vec::new(),
    }
}

/// A run's start as Unix nanoseconds for its result (`started_at_ns`); 0 for a clock
/// outside what `i64` nanoseconds hold (before 1677 or after 2262).
pub(crate) fn unix_nanos(time: std::time::SystemTime) -> i64 {
    use streamswarm_tsdb::Timestamp;
    Timestamp::from_system_time(time).map_or(0, Timestamp::as_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamswarm_schema::test_spec::{
        DnsParams, HostParams, PingParams, Schedule, TestKind, TestParams,
    };
    use streamswarm_tsdb::{FieldValue, Timestamp, assert_follows_schema};

    fn spec(params: TestParams, target: &str) -> TestSpec {
        TestSpec {
            kind: params.kind(),
            target: target.into(),
            params,
            schedule: Schedule::every(60),
        }
    }

    #[test]
    fn registered_kinds_are_runnable_and_refusals_say_why() {
        assert!(prepare(&spec(TestParams::Host(HostParams {}), "")).is_ok());
        assert!(prepare(&spec(TestParams::Ping(PingParams::default()), "h")).is_ok());
        assert!(prepare(&spec(TestParams::Dns(DnsParams::default()), "example.net")).is_ok());
        // A kind without a probe (while there is one) is refused by name.
        if let Some(kind) = TestKind::ALL.into_iter().find(|k| probe_for(*k).is_err()) {
            let params = TestParams::from_json(kind, serde_json::Value::Null).unwrap();
            let error = prepare(&spec(params, "example.net"))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(&format!(
                    "{kind} tests are not supported by this agent version"
                )),
                "{error}"
            );
        }
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
