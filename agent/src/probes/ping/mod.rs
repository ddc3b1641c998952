//! ICMP echo ("ping") probe: one run sends `count` echo requests `interval_ms` apart
//! without waiting for replies (as iputils `ping` does), collects replies until each
//! request's `timeout_ms` has passed, and summarises the run as one `ping` point.
//!
//! # Why ICMP over `socket2` rather than surge-ping
//!
//! surge-ping 0.9 was tried first (STACK.md). Its send time is taken *after*
//! `send_to`, so on loopback it reports 0 ns. Its source, read for this choice, shows
//! more: the receive task hands the first reply for an (address, identifier, sequence)
//! to the waiting pinger and drops later ones, so duplicates cannot be counted; it
//! reads into a 2,048-byte buffer (larger echoes are lost); it sets neither DSCP nor
//! receive timestamps. Echo over one `socket2` socket is a few hundred lines and gives
//! us all of it:
//! - **Timing.** The send time is read (monotonic `Instant` and wall clock) right before
//!   `send_to`. The receive time is the kernel's `SO_TIMESTAMPNS` stamp of the reply, so
//!   the task wake-up latency is not part of the RTT — the same method iputils uses,
//!   which is why the two agree within microseconds on loopback. The kernel stamp is on
//!   the wall clock; if that clock stepped during the run (the stamped RTT is negative or
//!   longer than the monotonic one) the monotonic RTT, read after `recvmsg`, is used.
//! - **Matching.** Replies are matched by identifier (raw sockets; the kernel matches it
//!   for datagram sockets), sequence, source address and a per-run random payload, so
//!   stale replies and other pingers' replies never count.
//! - **Duplicates and TTL.** A second reply to an answered sequence is a duplicate; the
//!   reply's TTL / hop limit comes from `IP_RECVTTL` / `IPV6_RECVHOPLIMIT`.
//!
//! # Sockets
//!
//! Unprivileged ICMP datagram sockets are tried first (least privilege; Linux allows them
//! to groups in `net.ipv4.ping_group_range`, which also governs IPv6), raw sockets second
//! (need `CAP_NET_RAW`). When neither opens, the error names both fixes.
//!
//! A datagram socket is the run's own: the kernel gives it an identifier and delivers it
//! only replies carrying it. A raw socket receives every ICMP datagram the host gets, so
//! runs do not open one each (N concurrent runs would cost N copies of every reply and
//! overflow each other's receive queues): runs with the same family, TTL and DSCP on
//! one Tokio runtime share one raw socket, whose reader task routes each echo reply (or
//! ICMP error) by identifier to the run that sent the request; the socket closes once
//! no run uses it. Both paths reach thousands of targets a second (`bench/README.md`).
//!
//! On raw sockets a router's ICMP error about one of our requests (destination
//! unreachable, TTL exceeded) becomes the run's `error`, naming the router. Datagram
//! sockets deliver those only through the socket error queue, which is not read, so
//! there the error stays "no echo reply".
//!
//! # Counting
//!
//! - `sent` counts every echo request the probe tried to send, including ones the host
//!   refused to route (`ENETUNREACH`): from the user's side those requests were lost, so
//!   an unreachable target reads 100 % loss with an `error`, never a missing point.
//! - When the target does not resolve, resolves to an address the agent's target policy
//!   denies (`super::policy`), or no socket opens, nothing is sent: `sent` = 0,
//!   `loss_percent` is absent (the schema's rule for "nothing was sent") and `error` says
//!   why.
//! - A reply arriving more than `timeout_ms` after its request counts as lost.
//! - The run ends when every request has its reply, or `timeout_ms` after the last
//!   send, whichever comes first (iputils does the same), so duplicates of the very
//!   last answers can arrive too late to be counted.

use super::icmp::Family;
use super::policy::TargetPolicy;
use super::registry::{Probe, ProbeError, RunContext};
use super::stats::{self, RttSummary};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};
use streamswarm_schema::measurements::ping;
use streamswarm_schema::test_spec::{PingParams, TestSpec};
use streamswarm_tsdb::{Point, Timestamp};

/// The socket side: Linux ICMP sockets, `recvmsg` control messages, the send/receive loop.
#[cfg(target_os = "linux")]
mod linux;

/// Which kind of ICMP socket a run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SocketKind {
    /// Unprivileged ICMP datagram socket (`SOCK_DGRAM`, `IPPROTO_ICMP`).
    Dgram,
    /// Raw ICMP socket (`SOCK_RAW`), needs `CAP_NET_RAW`.
    Raw,
}

/// Which socket kinds a run may use; [`run`] uses `Auto`. Tests and the `ping_once`
/// example force one kind to exercise both paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SocketChoice {
    /// Datagram first, raw when datagram sockets are not allowed.
    #[default]
    Auto,
    Only(SocketKind),
}

/// Everything one run observed. Statistics are derived on demand ([`PingResult::summary`])
/// so the raw RTTs stay the single source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingResult {
    /// The target exactly as configured.
    pub target: String,
    /// When the run started, nanoseconds since the Unix epoch: the point's timestamp.
    pub started_at_ns: i64,
    pub resolved: Option<IpAddr>,
    pub family: Option<Family>,
    pub socket: Option<SocketKind>,
    pub sent: u32,
    /// Distinct sequence numbers answered in time.
    pub received: u32,
    pub duplicates: u32,
    /// RTTs in milliseconds in sending order, one per answered request.
    pub rtts_ms: Vec<f64>,
    /// TTL / hop limit of the last reply that arrived.
    pub reply_ttl: Option<u8>,
    /// Why the run failed, one line; `None` when at least one reply arrived and nothing
    /// went wrong.
    pub error: Option<String>,
}

impl PingResult {
    fn new(target: &str, started: SystemTime) -> Self {
        PingResult {
            target: target.to_owned(),
            started_at_ns: super::unix_nanos(started),
            resolved: None,
            family: None,
            socket: None,
            sent: 0,
            received: 0,
            duplicates: 0,
            rtts_ms: Vec::new(),
            reply_ttl: None,
            error: None,
        }
    }

    pub fn summary(&self) -> Option<RttSummary> {
        stats::summarize(&self.rtts_ms)
    }

    pub fn loss_percent(&self) -> Option<f64> {
        stats::loss_percent(self.sent, self.received)
    }

    fn fail(&mut self, error: impl fmt::Display) {
        // The first error is the cause; later ones are usually its echoes.
        if self.error.is_none() {
            self.error = Some(one_line(&error.to_string()));
        }
    }
}

/// The longest a ping run spends resolving its target (the policy's resolve timeout).
const RESOLVE_BOUND: Duration = super::policy::RESOLVE_TIMEOUT;

/// The `ping` kind: one `ping` point per run.
pub struct PingProbe;

impl Probe for PingProbe {
    type Params = PingParams;
    type State = ();

    fn prepare(&self, _: &TestSpec, _: &PingParams) -> Result<(), ProbeError> {
        Ok(())
    }

    /// Resolution, the gaps between requests, then the last request's reply timeout.
    fn natural_duration(&self, _: &TestSpec, p: &PingParams) -> Duration {
        RESOLVE_BOUND
            + Duration::from_millis(u64::from(p.count.saturating_sub(1)) * u64::from(p.interval_ms))
            + Duration::from_millis(u64::from(p.timeout_ms))
    }

    async fn run(
        &self,
        ctx: RunContext<'_>,
        params: &PingParams,
        _: &(),
    ) -> Result<Vec<Point>, ProbeError> {
        let result = run(&ctx.spec.target, params, ctx.policy).await;
        Ok(vec![
            to_point(&result, ctx.agent_id, ctx.test_id).into_dynamic(),
        ])
    }

    /// The schema's failed-run point: `sent` is the run's `count` (its limit leaves time
    /// for every request to go out), nothing received (replies the cancelled run may have
    /// had are not known, so none count), loss 100 %, and an `error` saying so.
    fn timeout_points(
        &self,
        ctx: RunContext<'_>,
        params: &PingParams,
        limit: Duration,
    ) -> Vec<Point> {
        let result = PingResult {
            target: ctx.spec.target.clone(),
            started_at_ns: super::unix_nanos(ctx.started_at),
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
        vec![to_point(&result, ctx.agent_id, ctx.test_id).into_dynamic()]
    }
}

/// Runs one ping against `target` (host name or IP literal, resolved now, every run,
/// and checked against `policy` before any packet is sent).
pub async fn run(target: &str, params: &PingParams, policy: &TargetPolicy) -> PingResult {
    run_with(target, params, policy, SocketChoice::Auto).await
}

/// [`run`] with the socket kind chosen by the caller.
pub async fn run_with(
    target: &str,
    params: &PingParams,
    policy: &TargetPolicy,
    choice: SocketChoice,
) -> PingResult {
    let mut result = PingResult::new(target, SystemTime::now());
    let address = match super::policy::resolve(policy, target, params.family).await {
        Ok(address) => address,
        Err(e) => {
            result.fail(e);
            return result;
        }
    };
    let ip = address.ip();
    let family = Family::of(ip);
    result.resolved = Some(ip);
    result.family = Some(family);
    #[cfg(target_os = "linux")]
    linux::exchange(address, params, choice, &mut result).await;
    #[cfg(not(target_os = "linux"))]
    {
        let _ = choice;
        result.fail("ICMP ping is implemented for Linux only so far");
    }
    if result.received == 0 {
        // Only reached with a resolved address; an earlier, more specific error wins.
        result.fail(format_args!(
            "no echo reply from {ip} within {} ms",
            params.timeout_ms
        ));
    }
    result
}

/// Builds the schema's `ping` point for a run. `agent_id` and `test_id` are the server's
/// ids (decimal).
pub fn to_point(
    result: &PingResult,
    agent_id: impl fmt::Display,
    test_id: impl fmt::Display,
) -> Point<ping::Ping> {
    use ping::{fields, tags};
    let summary = result.summary();
    Point::new(ping::MEASUREMENT)
        .tag(tags::AGENT, agent_id.to_string())
        .tag(tags::TEST, test_id.to_string())
        .tag(tags::TARGET, result.target.clone())
        .tag_opt(tags::FAMILY, result.family.map(Family::tag_value))
        .field(fields::SENT, i64::from(result.sent))
        .field(fields::RECEIVED, i64::from(result.received))
        .field_opt(fields::LOSS_PERCENT, result.loss_percent())
        .field(fields::DUPLICATES, i64::from(result.duplicates))
        .field_opt(fields::RTT_MIN_MS, summary.map(|s| s.min_ms))
        .field_opt(fields::RTT_AVG_MS, summary.map(|s| s.avg_ms))
        .field_opt(fields::RTT_MAX_MS, summary.map(|s| s.max_ms))
        .field_opt(fields::RTT_MDEV_MS, summary.map(|s| s.mdev_ms))
        .field_opt(fields::JITTER_MS, summary.and_then(|s| s.jitter_ms))
        .field_opt(fields::RTT_P50_MS, summary.map(|s| s.p50_ms))
        .field_opt(fields::RTT_P90_MS, summary.map(|s| s.p90_ms))
        .field_opt(fields::RTT_P99_MS, summary.map(|s| s.p99_ms))
        .field_opt(fields::TTL, result.reply_ttl.map(i64::from))
        .field_opt(fields::ERROR, result.error.clone())
        .field_opt(
            fields::RESOLVED_ADDRESS,
            result.resolved.map(|ip| ip.to_string()),
        )
        .timestamp(Timestamp::from_nanos(result.started_at_ns))
}

/// Line protocol string fields cannot hold newlines; error texts become one line.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamswarm_schema::test_spec::AddressFamily;
    use streamswarm_tsdb::{Precision, assert_follows_schema};

    fn answered() -> PingResult {
        PingResult {
            target: "example.net".into(),
            started_at_ns: 1_700_000_000_000_000_000,
            resolved: Some("192.0.2.7".parse().unwrap()),
            family: Some(Family::Ipv4),
            socket: Some(SocketKind::Raw),
            sent: 4,
            received: 3,
            duplicates: 1,
            rtts_ms: vec![1.0, 3.0, 2.0],
            reply_ttl: Some(57),
            error: None,
        }
    }

    #[test]
    fn point_of_a_run_with_replies_carries_every_statistic() {
        let point = to_point(&answered(), 3, 14);
        assert_follows_schema(&point);
        let line = point.to_line(Precision::Nanoseconds).unwrap();
        assert!(
            line.starts_with("ping,agent=3,family=ipv4,target=example.net,test=14 "),
            "{line}"
        );
        for field in [
            "sent=4i",
            "received=3i",
            "loss_percent=25.0",
            "duplicates=1i",
            "rtt_min_ms=1.0",
            "rtt_avg_ms=2.0",
            "rtt_max_ms=3.0",
            "rtt_p50_ms=2.0",
            "rtt_p90_ms=3.0",
            "rtt_p99_ms=3.0",
            "ttl=57i",
            "resolved_address=\"192.0.2.7\"",
            "jitter_ms=",
            "rtt_mdev_ms=",
        ] {
            assert!(line.contains(field), "{field} missing from {line}");
        }
        assert!(!line.contains("error="), "{line}");
        assert!(line.trim_end().ends_with(" 1700000000000000000"), "{line}");
    }

    #[test]
    fn unreachable_run_still_makes_a_point_with_full_loss_and_an_error() {
        let mut result = answered();
        result.received = 0;
        result.duplicates = 0;
        result.rtts_ms.clear();
        result.reply_ttl = None;
        result.fail("sending to 192.0.2.7: network unreachable (no route)\nsecond line");
        let point = to_point(&result, "1", "2");
        assert_follows_schema(&point);
        let line = point.to_line(Precision::Nanoseconds).unwrap();
        assert!(line.contains("loss_percent=100.0"), "{line}");
        assert!(
            line.contains(
                "error=\"sending to 192.0.2.7: network unreachable (no route) second line\""
            ),
            "{line}"
        );
        assert!(!line.contains("rtt_"), "{line}");
    }

    #[tokio::test]
    async fn resolution_failure_sends_nothing_and_leaves_loss_out() {
        let params = PingParams {
            family: AddressFamily::Ipv6,
            ..PingParams::default()
        };
        // An IPv4 literal with family ipv6 fails before any network traffic.
        let result = run("127.0.0.1", &params, &TargetPolicy::permit_all()).await;
        assert_eq!((result.sent, result.received), (0, 0));
        assert_eq!(result.loss_percent(), None);
        let error = result.error.clone().unwrap();
        assert!(error.contains("not an IPv6 address"), "{error}");
        let point = to_point(&result, 1, 2);
        assert_follows_schema(&point);
        assert!(point.field_value("loss_percent").is_none());
        assert!(point.tag_value("family").is_none());
    }

    #[test]
    fn errors_become_one_line() {
        assert_eq!(one_line("a\nb\r\n c"), "a b c");
    }
}
