//! Traceroute / MTR probe: sends probes with increasing TTL (IPv6 hop limit) towards the
//! target and records who answered at each TTL, how often and how fast, as one
//! `traceroute` point per run and one `traceroute_hop` point per TTL.
//!
//! # How a run probes
//!
//! - **Protocols.** ICMP echo, UDP to a port (33434 by default) or TCP SYN to a port (80
//!   by default), over IPv4 or IPv6, through raw sockets (`CAP_NET_RAW`; without it the
//!   run's `error` names the fix).
//! - **One flow (Paris traceroute).** Every probe of a run has the same addresses,
//!   ports and ICMP checksum, so routers that balance per flow send them all one way and
//!   the path is a real path, not a mix of several (see [`wire`]).
//! - **Cycles and windows.** A run makes `cycles` rounds (MTR's cycles). A round sends
//!   `queries` probes to each TTL, eight TTLs at a time, and waits for the answers (or
//!   `timeout_ms` after the last probe of the window). When the destination answers, no
//!   higher TTL is probed any more: later windows and rounds stop at the destination's
//!   TTL. Probes already sent beyond it count in `probes_sent` but make no hop.
//! - **Timing.** The RTT is the kernel's receive timestamp of the answer minus the
//!   wall-clock time read right before the send (`crate::net`).
//!
//! # What a run reports
//!
//! One hop per TTL from `first_ttl` to the destination's TTL (or `max_ttl` when it was
//! not reached), silent TTLs included (`*`: no address, 100 % loss). A hop's `address`
//! is the one that answered most often, others are listed; RTT statistics are mtr's
//! (population standard deviation). The run's `path` lists each hop's addresses (`*`
//! when silent) and `path_hash` is the first 16 hex digits of its SHA-256, so equal
//! paths have equal hashes and a changed path shows in the time series.
//!
//! Reverse names (`reverse_dns`) come from the system resolver (`getnameinfo`, so
//! `/etc/hosts` applies), all hops at once on blocking threads, bounded by `timeout_ms`:
//! a name not known in time is absent.

use super::icmp::Family;
use super::policy::TargetPolicy;
use super::registry::{Probe, ProbeError, RunContext};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};
use streamswarm_schema::measurements::{traceroute, traceroute_hop};
use streamswarm_schema::test_spec::{TestSpec, TracerouteParams};
use streamswarm_tsdb::{Point, Timestamp};

#[cfg(target_os = "linux")]
mod linux;
pub mod wire;

pub use wire::Protocol;

/// How many TTLs a round probes at once before waiting for their answers.
pub const WINDOW: u8 = 8;

/// The parameters of one traceroute test (generated from `schema/kinds/traceroute.toml`).
pub type Options = TracerouteParams;

/// The destination port of UDP and TCP probes.
pub fn destination_port(options: &Options) -> u16 {
    options.port.unwrap_or(match options.protocol {
        Protocol::Tcp => 80,
        _ => 33_434,
    })
}

fn probe_timeout(options: &Options) -> Duration {
    Duration::from_millis(u64::from(options.timeout_ms))
}

/// The longest a run takes by its parameters: resolution, every window of every round
/// waiting its full timeout, and the reverse lookups.
pub fn natural_duration(options: &Options) -> Duration {
    let ttls = u32::from(options.max_ttl.saturating_sub(options.first_ttl)) + 1;
    let windows = ttls.div_ceil(u32::from(WINDOW));
    super::policy::RESOLVE_TIMEOUT
        + probe_timeout(options) * (windows * options.cycles.max(1))
        + if options.reverse_dns {
            probe_timeout(options)
        } else {
            Duration::ZERO
        }
}

/// The traceroute probe in the agent's table (`registry::PROBES`).
pub struct TracerouteProbe;

impl Probe for TracerouteProbe {
    type Params = TracerouteParams;
    type State = ();

    fn prepare(&self, _: &TestSpec, _: &TracerouteParams) -> Result<(), ProbeError> {
        Ok(())
    }

    fn natural_duration(&self, _: &TestSpec, params: &TracerouteParams) -> Duration {
        natural_duration(params)
    }

    async fn run(
        &self,
        ctx: RunContext<'_>,
        params: &TracerouteParams,
        _: &(),
    ) -> Result<Vec<Point>, ProbeError> {
        let result = run(&ctx.spec.target, params, ctx.policy).await;
        Ok(to_points(&result, ctx.agent_id, ctx.test_id))
    }

    fn timeout_points(
        &self,
        ctx: RunContext<'_>,
        params: &TracerouteParams,
        limit: Duration,
    ) -> Vec<Point> {
        timeout_points(
            &ctx.spec.target,
            params.protocol,
            ctx.agent_id,
            ctx.test_id,
            ctx.started_at,
            limit,
        )
    }
}

/// One answer to one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub from: IpAddr,
    pub rtt_ms: f64,
    pub reply: String,
    /// MPLS label stack entries, `label/exp/s/ttl`, top first.
    pub mpls: Vec<String>,
}

/// One probe of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sent {
    pub ttl: u8,
    pub cycle: u32,
    pub answer: Option<Reply>,
}

/// One TTL of a run, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    pub ttl: u8,
    /// The address that answered most often; `None` for `*`.
    pub address: Option<IpAddr>,
    /// Further addresses, ascending.
    pub other_addresses: Vec<IpAddr>,
    pub name: Option<String>,
    pub sent: u32,
    pub received: u32,
    /// RTTs in sending order.
    pub rtts_ms: Vec<f64>,
    pub reply: Option<String>,
    pub mpls: Vec<String>,
}

impl Hop {
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        100.0 * f64::from(self.sent - self.received) / f64::from(self.sent)
    }

    /// min, avg, max, population standard deviation (mtr's StDev).
    pub fn rtt_stats(&self) -> Option<(f64, f64, f64, f64)> {
        let n = self.rtts_ms.len();
        if n == 0 {
            return None;
        }
        let min = self.rtts_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self
            .rtts_ms
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let avg = self.rtts_ms.iter().sum::<f64>() / n as f64;
        let var = self.rtts_ms.iter().map(|r| (r - avg).powi(2)).sum::<f64>() / n as f64;
        Some((min, avg, max, var.sqrt()))
    }

    /// Every address that answered, ascending; empty for `*`.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut all: Vec<IpAddr> = self.address.iter().copied().collect();
        all.extend(&self.other_addresses);
        all.sort();
        all
    }
}

/// Everything one run observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracerouteResult {
    pub target: String,
    pub protocol: Protocol,
    pub started_at_ns: i64,
    pub destination: Option<IpAddr>,
    pub family: Option<Family>,
    pub probes_sent: u32,
    /// TTL at which the destination answered.
    pub destination_ttl: Option<u8>,
    pub hops: Vec<Hop>,
    pub duration_ms: Option<f64>,
    pub error: Option<String>,
}

impl TracerouteResult {
    fn new(target: &str, protocol: Protocol, started: SystemTime) -> Self {
        TracerouteResult {
            target: target.to_owned(),
            protocol,
            started_at_ns: super::unix_nanos(started),
            destination: None,
            family: None,
            probes_sent: 0,
            destination_ttl: None,
            hops: Vec::new(),
            duration_ms: None,
            error: None,
        }
    }

    pub fn reached(&self) -> bool {
        self.destination_ttl.is_some()
    }

    /// The path: each hop's addresses joined by `,`, `*` when silent, space-separated.
    /// `None` when nothing was probed.
    pub fn path(&self) -> Option<String> {
        if self.hops.is_empty() {
            return None;
        }
        let hops: Vec<String> = self
            .hops
            .iter()
            .map(|hop| {
                let addresses = hop.addresses();
                if addresses.is_empty() {
                    "*".to_owned()
                } else {
                    addresses
                        .iter()
                        .map(IpAddr::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                }
            })
            .collect();
        Some(hops.join(" "))
    }

    pub fn path_hash(&self) -> Option<String> {
        self.path().map(|path| path_hash(&path))
    }

    pub fn responding_hops(&self) -> usize {
        self.hops.iter().filter(|h| h.received > 0).count()
    }

    fn fail(&mut self, error: impl fmt::Display) {
        if self.error.is_none() {
            self.error = Some(one_line(&error.to_string()));
        }
    }
}

/// First 16 hex digits of the SHA-256 of `path`.
pub fn path_hash(path: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(path.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Builds the hops from the probes: one per TTL from `first_ttl` to `last_ttl`.
pub fn summarise(probes: &[Sent], first_ttl: u8, last_ttl: u8) -> Vec<Hop> {
    (first_ttl..=last_ttl)
        .map(|ttl| {
            let mut hop = Hop {
                ttl,
                address: None,
                other_addresses: Vec::new(),
                name: None,
                sent: 0,
                received: 0,
                rtts_ms: Vec::new(),
                reply: None,
                mpls: Vec::new(),
            };
            let mut counts: BTreeMap<IpAddr, u32> = BTreeMap::new();
            for probe in probes.iter().filter(|p| p.ttl == ttl) {
                hop.sent += 1;
                if let Some(answer) = &probe.answer {
                    hop.received += 1;
                    hop.rtts_ms.push(answer.rtt_ms);
                    *counts.entry(answer.from).or_default() += 1;
                    hop.reply = Some(answer.reply.clone());
                    if !answer.mpls.is_empty() {
                        hop.mpls.clone_from(&answer.mpls);
                    }
                }
            }
            // Most answers first; ties to the lower address (BTreeMap order).
            let mut ranked: Vec<(IpAddr, u32)> = counts.into_iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut addresses = ranked.into_iter().map(|(ip, _)| ip);
            hop.address = addresses.next();
            hop.other_addresses = addresses.collect();
            hop.other_addresses.sort();
            hop
        })
        .collect()
}

/// Runs one traceroute against `target` (resolved now, checked against `policy`
/// before any probe is sent).
pub async fn run(target: &str, options: &Options, policy: &TargetPolicy) -> TracerouteResult {
    let mut result = TracerouteResult::new(target, options.protocol, SystemTime::now());
    let address = match super::policy::resolve(policy, target, options.family).await {
        Ok(address) => address,
        Err(e) => {
            result.fail(e);
            return result;
        }
    };
    let ip = address.ip();
    result.destination = Some(ip);
    result.family = Some(Family::of(ip));
    #[cfg(target_os = "linux")]
    linux::trace(address, options, &mut result).await;
    #[cfg(not(target_os = "linux"))]
    result.fail("traceroute is implemented for Linux only so far");
    if options.reverse_dns {
        reverse_names(&mut result.hops, probe_timeout(options)).await;
    }
    if result.error.is_none() && !result.reached() && result.probes_sent > 0 {
        result.fail(format_args!(
            "{ip} did not answer within {} hops",
            options.max_ttl
        ));
    }
    result
}

/// Looks up every hop's name at once, each on a blocking thread, within `limit`.
async fn reverse_names(hops: &mut [Hop], limit: Duration) {
    let lookups: Vec<_> = hops
        .iter()
        .map(|hop| {
            hop.address.map(|ip| {
                tokio::time::timeout(limit, tokio::task::spawn_blocking(move || name_of(ip)))
            })
        })
        .collect();
    for (hop, lookup) in hops.iter_mut().zip(lookups) {
        if let Some(lookup) = lookup {
            // A lookup still running at the limit finishes on its thread, unread.
            if let Ok(Ok(name)) = lookup.await {
                hop.name = name;
            }
        }
    }
}

/// The system resolver's name for `ip` (`getnameinfo` with `NI_NAMEREQD`).
#[cfg(target_os = "linux")]
fn name_of(ip: IpAddr) -> Option<String> {
    let address = socket2::SockAddr::from(std::net::SocketAddr::new(ip, 0));
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `address` is a valid socket address of the stated length; `host` is a
    // writable buffer of the stated length; no service buffer is asked for.
    let rc = unsafe {
        libc::getnameinfo(
            address.as_ptr().cast(),
            address.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string into `host`.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    Some(name.to_string_lossy().into_owned()).filter(|n| !n.is_empty())
}

#[cfg(not(target_os = "linux"))]
fn name_of(_ip: IpAddr) -> Option<String> {
    None
}

/// The run's `traceroute` point and one `traceroute_hop` point per hop.
pub fn to_points(
    result: &TracerouteResult,
    agent_id: impl fmt::Display,
    test_id: impl fmt::Display,
) -> Vec<Point> {
    let agent = agent_id.to_string();
    let test = test_id.to_string();
    let time = Timestamp::from_nanos(result.started_at_ns);
    let family = result.family.map(Family::tag_value);
    let probed = result.probes_sent > 0;
    let mut points = Vec::with_capacity(result.hops.len() + 1);
    {
        use traceroute::{fields, tags};
        points.push(
            Point::new(traceroute::MEASUREMENT)
                .tag(tags::AGENT, agent.clone())
                .tag(tags::TEST, test.clone())
                .tag(tags::TARGET, result.target.clone())
                .tag(tags::PROTOCOL, result.protocol.as_str())
                .tag_opt(tags::FAMILY, family)
                .field_opt(
                    fields::DESTINATION,
                    result.destination.map(|ip| ip.to_string()),
                )
                .field(fields::REACHED, result.reached())
                .field_opt(fields::HOP_COUNT, result.destination_ttl.map(i64::from))
                .field_opt(
                    fields::RESPONDING_HOPS,
                    probed.then(|| result.responding_hops() as i64),
                )
                .field_opt(fields::PATH, result.path())
                .field_opt(fields::PATH_HASH, result.path_hash())
                .field(fields::PROBES_SENT, i64::from(result.probes_sent))
                .field_opt(fields::DURATION_MS, result.duration_ms)
                .field_opt(fields::ERROR, result.error.clone())
                .timestamp(time)
                .into_dynamic(),
        );
    }
    use traceroute_hop::{fields, tags};
    for hop in &result.hops {
        let stats = hop.rtt_stats();
        let others = (!hop.other_addresses.is_empty()).then(|| {
            hop.other_addresses
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        });
        points.push(
            Point::new(traceroute_hop::MEASUREMENT)
                .tag(tags::AGENT, agent.clone())
                .tag(tags::TEST, test.clone())
                .tag(tags::TARGET, result.target.clone())
                .tag(tags::PROTOCOL, result.protocol.as_str())
                .tag(tags::HOP, hop.ttl.to_string())
                .tag_opt(tags::FAMILY, family)
                .field_opt(fields::ADDRESS, hop.address.map(|ip| ip.to_string()))
                .field_opt(fields::OTHER_ADDRESSES, others)
                .field_opt(fields::NAME, hop.name.clone())
                .field(fields::SENT, i64::from(hop.sent))
                .field(fields::RECEIVED, i64::from(hop.received))
                .field(fields::LOSS_PERCENT, hop.loss_percent())
                .field_opt(fields::RTT_MIN_MS, stats.map(|s| s.0))
                .field_opt(fields::RTT_AVG_MS, stats.map(|s| s.1))
                .field_opt(fields::RTT_MAX_MS, stats.map(|s| s.2))
                .field_opt(fields::RTT_STDEV_MS, stats.map(|s| s.3))
                .field_opt(fields::REPLY, hop.reply.clone())
                .field_opt(
                    fields::MPLS,
                    (!hop.mpls.is_empty()).then(|| hop.mpls.join(" ")),
                )
                .timestamp(time)
                .into_dynamic(),
        );
    }
    points
}

/// The points of a run cancelled at `limit`: the run point with a `timeout:` error.
pub fn timeout_points(
    target: &str,
    protocol: Protocol,
    agent_id: impl fmt::Display,
    test_id: impl fmt::Display,
    started_at: SystemTime,
    limit: Duration,
) -> Vec<Point> {
    use traceroute::{fields, tags};
    let error = format!(
        "timeout: the run did not finish within {} ms and was cancelled",
        limit.as_millis()
    );
    // How many probes went out before the cancel is not known: `probes_sent` is absent.
    vec![
        Point::new(traceroute::MEASUREMENT)
            .tag(tags::AGENT, agent_id.to_string())
            .tag(tags::TEST, test_id.to_string())
            .tag(tags::TARGET, target.to_owned())
            .tag(tags::PROTOCOL, protocol.as_str())
            .field(fields::REACHED, false)
            .field(fields::ERROR, error)
            .timestamp(Timestamp::from_system_time(started_at).unwrap_or(Timestamp::from_nanos(0)))
            .into_dynamic(),
    ]
}

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
    use streamswarm_tsdb::{FieldValue, Precision, assert_follows_schema};

    fn answer(from: &str, rtt_ms: f64) -> Option<Reply> {
        Some(Reply {
            from: from.parse().unwrap(),
            rtt_ms,
            reply: "time_exceeded".into(),
            mpls: Vec::new(),
        })
    }

    #[test]
    fn hops_rank_addresses_count_loss_and_keep_silent_ttls() {
        let sent = |ttl, answer| Sent {
            ttl,
            cycle: 0,
            answer,
        };
        let probes = vec![
            sent(1, answer("10.0.0.1", 1.0)),
            sent(1, answer("10.0.0.1", 3.0)),
            sent(2, None),
            sent(2, None),
            sent(3, answer("10.0.3.9", 2.0)),
            sent(3, answer("10.0.3.1", 4.0)),
            sent(3, answer("10.0.3.9", 6.0)),
            sent(3, None),
        ];
        let hops = summarise(&probes, 1, 3);
        assert_eq!(hops.len(), 3);
        assert_eq!(hops[0].rtt_stats(), Some((1.0, 2.0, 3.0, 1.0)));
        assert_eq!(hops[1].address, None);
        assert_eq!(hops[1].loss_percent(), 100.0);
        assert_eq!(hops[2].address, Some("10.0.3.9".parse().unwrap()));
        assert_eq!(
            hops[2].other_addresses,
            ["10.0.3.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(hops[2].loss_percent(), 25.0);
        let result = TracerouteResult {
            hops,
            probes_sent: 8,
            ..TracerouteResult::new("t", Protocol::Udp, SystemTime::UNIX_EPOCH)
        };
        assert_eq!(result.path().unwrap(), "10.0.0.1 * 10.0.3.1,10.0.3.9");
        assert_eq!(result.path_hash().unwrap().len(), 16);
        assert_eq!(result.responding_hops(), 2);
    }

    #[test]
    fn path_hash_is_the_first_16_hex_digits_of_sha256() {
        // sha256("abc") = ba7816bf8f01cfea…
        assert_eq!(path_hash("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn points_follow_the_schema_with_and_without_answers() {
        let mut hop = summarise(
            &[
                Sent {
                    ttl: 1,
                    cycle: 0,
                    answer: answer("10.0.0.1", 1.5),
                },
                Sent {
                    ttl: 2,
                    cycle: 0,
                    answer: None,
                },
            ],
            1,
            2,
        );
        hop[0].mpls = vec!["16005/0/1/1".into()];
        hop[0].name = Some("r1.lab".into());
        let result = TracerouteResult {
            destination: Some("10.0.0.2".parse().unwrap()),
            family: Some(Family::Ipv4),
            probes_sent: 2,
            hops: hop,
            duration_ms: Some(3.0),
            ..TracerouteResult::new("t", Protocol::Icmp, SystemTime::UNIX_EPOCH)
        };
        let points = to_points(&result, 1, 2);
        assert_eq!(points.len(), 3);
        for point in &points {
            assert_follows_schema(point);
        }
        let line = points[1].to_line(Precision::Nanoseconds).unwrap();
        assert!(line.contains("mpls=\"16005/0/1/1\""), "{line}");
        assert!(line.contains(",hop=1,"), "{line}");
        assert_eq!(
            points[2].field_value("loss_percent"),
            Some(&FieldValue::Float(100.0))
        );
        let cancelled = timeout_points(
            "t",
            Protocol::Tcp,
            1,
            2,
            SystemTime::UNIX_EPOCH,
            Duration::from_secs(9),
        );
        assert_eq!(cancelled.len(), 1);
        assert_follows_schema(&cancelled[0]);
        match cancelled[0].field_value("error") {
            Some(FieldValue::String(e)) => assert!(e.starts_with("timeout: "), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_limit_covers_every_window_of_every_cycle_and_the_names() {
        let params = TracerouteParams {
            first_ttl: 1,
            max_ttl: 30,
            cycles: 3,
            timeout_ms: 500,
            reverse_dns: true,
            ..TracerouteParams::default()
        };
        // 30 TTLs = 4 windows of 8, × 3 cycles, + resolution + one lookup timeout.
        assert_eq!(
            natural_duration(&params),
            crate::probes::policy::RESOLVE_TIMEOUT + Duration::from_millis(12 * 500 + 500)
        );
        assert_eq!(destination_port(&params), 33_434);
        let tcp = TracerouteParams {
            protocol: Protocol::Tcp,
            ..TracerouteParams::default()
        };
        assert_eq!(destination_port(&tcp), 80);
        let kind = crate::probes::probe_for(streamswarm_schema::test_spec::TestKind::Traceroute)
            .expect("traceroute is registered");
        assert_eq!(
            kind.kind(),
            streamswarm_schema::test_spec::TestKind::Traceroute
        );
    }

    #[tokio::test]
    async fn a_denied_target_sends_nothing_and_says_why() {
        let options = Options {
            family: AddressFamily::Ipv6,
            ..Options::default()
        };
        let result = run("127.0.0.1", &options, &TargetPolicy::permit_all()).await;
        assert_eq!(result.probes_sent, 0);
        assert!(result.error.unwrap().contains("not an IPv6 address"));
        // The agent's default policy denies cloud metadata: nothing is sent.
        let denied = run(
            "169.254.169.254",
            &TracerouteParams::default(),
            &TargetPolicy::default(),
        )
        .await;
        assert_eq!(denied.probes_sent, 0);
        let error = denied.error.clone().unwrap();
        assert!(error.contains("denied"), "{error}");
        let points = to_points(&denied, 1, 2);
        assert_eq!(points.len(), 1);
        assert_follows_schema(&points[0]);
        assert!(points[0].field_value("path").is_none());
    }
}
