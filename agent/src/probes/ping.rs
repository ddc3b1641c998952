//! ICMP echo ("ping") probe: one run sends `count` echo requests `interval_ms` apart
//! without waiting for replies (as iputils `ping` does), collects replies until each
//! request's `timeout_ms` has passed, and summarises the run as one `ping` point.
//!
//! # Why ICMP over `socket2` rather than surge-ping
//!
//! surge-ping 0.9 was tried first (STACK.md). Its send time is taken *after*
//! `send_to`, so on loopback it reports 0 ns; its receive task hands the first reply
//! for an (address, identifier, sequence) to the waiting pinger and drops later ones,
//! so duplicates cannot be counted; it reads into a 2,048-byte buffer (larger payloads
//! are lost) and sets neither DSCP nor receive timestamps. Echo over one `socket2`
//! socket is a few hundred lines and gives us all of it:
//! - **Timing.** The send time is read (monotonic [`Instant`] and wall clock) right before
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
//! # Counting
//!
//! - `sent` counts every echo request the probe tried to send, including ones the host
//!   refused to route (`ENETUNREACH`): from the user's side those requests were lost, so
//!   an unreachable target reads 100 % loss with an `error`, never a missing point.
//! - When the target does not resolve, or no socket opens, nothing is sent: `sent` = 0,
//!   `loss_percent` is absent (the schema's rule for "nothing was sent") and `error` says
//!   why.
//! - A reply arriving more than `timeout_ms` after its request counts as lost.
//! - The run ends when every request has its reply, or `timeout_ms` after the last
//!   send, whichever comes first (iputils does the same), so duplicates of the very
//!   last answers can arrive too late to be counted.

use super::icmp::{self, Family};
use super::stats::{self, RttSummary};
use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use streamswarm_schema::measurements::ping;
use streamswarm_schema::test_spec::{AddressFamily, PingParams};
use streamswarm_tsdb::{Point, Timestamp};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// How long name resolution may take before the run fails with an error.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// `SO_TIMESTAMPNS` on the Linux architectures the agent ships for (x86-64, aarch64).
const SO_TIMESTAMPNS: libc::c_int = 35;
/// Largest ICMP message plus an IPv4 header with options.
const RECV_BUFFER: usize = 65_535 + 60;

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
            started_at_ns: Timestamp::from_system_time(started)
                .map(Timestamp::as_nanos)
                .unwrap_or(0),
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

/// Runs one ping against `target` (host name or IP literal, resolved now, every run).
pub async fn run(target: &str, params: &PingParams) -> PingResult {
    run_with(target, params, SocketChoice::Auto).await
}

/// [`run`] with the socket kind chosen by the caller.
pub async fn run_with(target: &str, params: &PingParams, choice: SocketChoice) -> PingResult {
    let mut result = PingResult::new(target, SystemTime::now());
    let ip = match resolve(target, params.family).await {
        Ok(ip) => ip,
        Err(e) => {
            result.fail(e);
            return result;
        }
    };
    let family = Family::of(ip);
    result.resolved = Some(ip);
    result.family = Some(family);
    let (socket, kind) = match open_socket(family, params, choice) {
        Ok(opened) => opened,
        Err(e) => {
            result.fail(e);
            return result;
        }
    };
    result.socket = Some(kind);
    if let Err(e) = echo_run(socket, kind, ip, params, &mut result).await {
        result.fail(format_args!("receiving from {ip}: {e}"));
    }
    if result.received == 0 {
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

/// Resolves `target` to one address of the wanted family: an IP literal as is, a name
/// through the system resolver (`getaddrinfo`, so `/etc/hosts` and the host's resolver
/// order apply), taking its first answer of the family.
async fn resolve(target: &str, family: AddressFamily) -> Result<IpAddr, String> {
    let host = target
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(target);
    let fits = |ip: &IpAddr| match family {
        AddressFamily::Any => true,
        AddressFamily::Ipv4 => ip.is_ipv4(),
        AddressFamily::Ipv6 => ip.is_ipv6(),
    };
    let wanted = match family {
        AddressFamily::Any => "IP",
        AddressFamily::Ipv4 => "IPv4",
        AddressFamily::Ipv6 => "IPv6",
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return if fits(&ip) {
            Ok(ip)
        } else {
            Err(format!(
                "{ip} is not an {wanted} address, which the test's family asks for"
            ))
        };
    }
    let answers = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| {
            format!(
                "{host} did not resolve within {} s",
                RESOLVE_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("{host} did not resolve: {e}"))?;
    let addresses: Vec<IpAddr> = answers.map(|a| a.ip()).collect();
    addresses
        .iter()
        .copied()
        .find(fits)
        .ok_or_else(|| format!("{host} has no {wanted} address (it resolved to {addresses:?})"))
}

/// Opens and configures the run's socket: non-blocking, kernel receive timestamps,
/// reply TTL reporting, and the test's TTL and DSCP.
fn open_socket(
    family: Family,
    params: &PingParams,
    choice: SocketChoice,
) -> Result<(Socket, SocketKind), String> {
    let (domain, protocol) = match family {
        Family::Ipv4 => (Domain::IPV4, Protocol::ICMPV4),
        Family::Ipv6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    let open = |kind| {
        let ty = match kind {
            SocketKind::Dgram => Type::DGRAM,
            SocketKind::Raw => Type::RAW,
        };
        Socket::new(domain, ty, Some(protocol))
    };
    let (socket, kind) = match choice {
        SocketChoice::Only(kind) => match open(kind) {
            Ok(s) => (s, kind),
            Err(e) if is_permission(&e) => return Err(permission_error(Some(&e), None)),
            Err(e) => return Err(format!("cannot open an ICMP socket: {e}")),
        },
        SocketChoice::Auto => match open(SocketKind::Dgram) {
            Ok(s) => (s, SocketKind::Dgram),
            Err(dgram) => match open(SocketKind::Raw) {
                Ok(s) => (s, SocketKind::Raw),
                Err(raw) if is_permission(&raw) => {
                    return Err(permission_error(Some(&dgram), Some(&raw)));
                }
                Err(raw) => return Err(format!("cannot open an ICMP socket: {raw}")),
            },
        },
    };
    configure(&socket, family, params)
        .map_err(|e| format!("cannot configure the ICMP socket: {e}"))?;
    Ok((socket, kind))
}

fn configure(socket: &Socket, family: Family, params: &PingParams) -> io::Result<()> {
    socket.set_nonblocking(true)?;
    set_int_option(socket, libc::SOL_SOCKET, SO_TIMESTAMPNS, 1)?;
    match family {
        Family::Ipv4 => {
            set_int_option(socket, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)?;
            if let Some(ttl) = params.ttl {
                socket.set_ttl_v4(u32::from(ttl))?;
            }
            if let Some(dscp) = params.dscp {
                // DSCP is the upper six bits of the TOS byte; the ECN bits stay 0.
                socket.set_tos_v4(u32::from(dscp) << 2)?;
            }
        }
        Family::Ipv6 => {
            set_int_option(socket, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
            if let Some(ttl) = params.ttl {
                socket.set_unicast_hops_v6(u32::from(ttl))?;
            }
            if let Some(dscp) = params.dscp {
                set_int_option(
                    socket,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_TCLASS,
                    libc::c_int::from(dscp) << 2,
                )?;
            }
        }
    }
    Ok(())
}

fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES))
}

/// The one-line error that tells an operator how to let the agent ping.
fn permission_error(dgram: Option<&io::Error>, raw: Option<&io::Error>) -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/path/to/streamswarm-agent".to_owned());
    let mut why = Vec::new();
    if let Some(e) = dgram {
        why.push(format!(
            "unprivileged ICMP sockets are not allowed for this group ({e})"
        ));
    }
    if let Some(e) = raw {
        why.push(format!("raw ICMP sockets need CAP_NET_RAW ({e})"));
    }
    format!(
        "cannot open an ICMP socket: {}; fix: allow unprivileged ping with \
         `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"` or grant the capability \
         with `setcap cap_net_raw+ep {exe}`",
        why.join("; ")
    )
}

/// One request's bookkeeping.
struct Slot {
    sent_mono: Instant,
    sent_wall: SystemTime,
    rtt_ms: Option<f64>,
}

/// What makes a datagram a reply of this run, and where its outcome is recorded.
struct Replies {
    ip: IpAddr,
    family: Family,
    kind: SocketKind,
    /// Ours on raw sockets; datagram sockets get one from the kernel, which also
    /// filters on it, so it is not compared there.
    identifier: u16,
    /// Per-run random bytes: a reply must echo them exactly.
    payload: Vec<u8>,
    timeout: Duration,
    slots: Vec<Slot>,
}

impl Replies {
    /// Records one received datagram: ignored unless it is an echo reply from the
    /// target to one of this run's requests within the timeout; a second reply to an
    /// answered sequence is a duplicate.
    fn record(&mut self, data: &[u8], message: &Received, result: &mut PingResult) {
        let with_ip_header = self.kind == SocketKind::Raw && self.family == Family::Ipv4;
        let Some(reply) = icmp::parse_echo_reply(self.family, with_ip_header, data) else {
            return;
        };
        if message.from != Some(self.ip)
            || (self.kind == SocketKind::Raw && reply.identifier != self.identifier)
            || reply.payload != self.payload.as_slice()
        {
            return;
        }
        let Some(slot) = self.slots.get_mut(usize::from(reply.sequence)) else {
            return;
        };
        let rtt = round_trip(slot, message.arrived_mono, message.kernel_time);
        if rtt > self.timeout {
            return;
        }
        if slot.rtt_ms.is_some() {
            result.duplicates += 1;
        } else {
            slot.rtt_ms = Some(rtt.as_secs_f64() * 1e3);
            result.received += 1;
            result.reply_ttl = message.ttl.or(reply.header_ttl);
        }
    }
}

/// Sends the echoes and collects replies into `result`. Errors returned are receive
/// failures that end the run early; send failures are recorded and the run goes on.
async fn echo_run(
    socket: Socket,
    kind: SocketKind,
    ip: IpAddr,
    params: &PingParams,
    result: &mut PingResult,
) -> io::Result<()> {
    // SAFETY: the `Socket` owns its descriptor and nothing else closes or replaces it
    // while the `AsyncFd` holds it.
    let socket = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE)? };
    let cookie: [u8; 16] = rand::random();
    let count = params.count;
    let mut replies = Replies {
        ip,
        family: Family::of(ip),
        kind,
        identifier: rand::random(),
        payload: (0..params.payload_size as usize)
            .map(|i| cookie[i % cookie.len()])
            .collect(),
        timeout: Duration::from_millis(u64::from(params.timeout_ms)),
        slots: Vec::with_capacity(count as usize),
    };
    let destination = SockAddr::from(SocketAddr::new(ip, 0));
    let interval = Duration::from_millis(u64::from(params.interval_ms));
    let mut buffer = vec![0u8; RECV_BUFFER];
    let start = Instant::now();
    loop {
        // Sequence numbers are the request's index: `count` is at most 1,000 (validated
        // by the schema), far below the 16-bit wrap.
        let next = replies.slots.len() as u32;
        let next_send = start + interval * next;
        if next < count && Instant::now() >= next_send {
            let packet = icmp::echo_request(
                replies.family,
                replies.identifier,
                next as u16,
                &replies.payload,
            );
            let sent_mono = Instant::now();
            let sent_wall = SystemTime::now();
            if let Err(e) = socket.get_ref().send_to(&packet, &destination) {
                result.fail(send_error(ip, &e));
            }
            replies.slots.push(Slot {
                sent_mono,
                sent_wall,
                rtt_ms: None,
            });
            result.sent += 1;
            continue;
        }
        let wake = if next < count {
            next_send
        } else if result.received == count {
            break;
        } else {
            let last_sent = replies.slots.last().map_or(start, |s| s.sent_mono);
            if Instant::now() >= last_sent + replies.timeout {
                break;
            }
            last_sent + replies.timeout
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {}
            ready = socket.readable() => {
                let mut guard = ready?;
                // Drain everything queued before sleeping again.
                loop {
                    match guard.try_io(|fd| receive(fd.get_ref(), &mut buffer)) {
                        Ok(Ok(message)) => {
                            replies.record(&buffer[..message.len], &message, result);
                        }
                        // A pending socket error (an ICMP error for an earlier send):
                        // note it, keep listening.
                        Ok(Err(e)) => {
                            result.fail(format_args!("receiving from {ip}: {e}"));
                            break;
                        }
                        Err(_would_block) => break,
                    }
                }
            }
        }
    }
    result.rtts_ms = replies.slots.iter().filter_map(|s| s.rtt_ms).collect();
    Ok(())
}

/// The RTT of a reply: the kernel's receive stamp minus the wall-clock send time, unless
/// the wall clock evidently stepped (then the monotonic difference, which includes the
/// wake-up latency but cannot be wrong by a clock step).
fn round_trip(slot: &Slot, arrived_mono: Instant, kernel_time: Option<SystemTime>) -> Duration {
    let monotonic = arrived_mono.saturating_duration_since(slot.sent_mono);
    kernel_time
        .and_then(|k| k.duration_since(slot.sent_wall).ok())
        .filter(|stamped| *stamped <= monotonic)
        .unwrap_or(monotonic)
}

fn send_error(ip: IpAddr, e: &io::Error) -> String {
    let what = match e.raw_os_error() {
        Some(libc::ENETUNREACH) => "network unreachable (no route)".to_owned(),
        Some(libc::EHOSTUNREACH) => "host unreachable".to_owned(),
        Some(libc::EACCES) => "not permitted (broadcast address or firewall)".to_owned(),
        _ => e.to_string(),
    };
    format!("sending to {ip}: {what}")
}

/// One datagram and what the kernel told us about it.
struct Received {
    len: usize,
    from: Option<IpAddr>,
    arrived_mono: Instant,
    kernel_time: Option<SystemTime>,
    ttl: Option<u8>,
}

/// `recvmsg` with ancillary data: socket2 has no control-message parser, so this reads
/// `SCM_TIMESTAMPNS`, `IP_TTL` and `IPV6_HOPLIMIT` itself.
fn receive(socket: &Socket, buffer: &mut [u8]) -> io::Result<Received> {
    // SAFETY: all-zero is a valid value of these plain C structs.
    let mut address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut control = [0u64; 32];
    let mut iov = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len(),
    };
    // SAFETY: as above.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_name = (&raw mut address).cast();
    message.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    message.msg_iov = &raw mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = size_of_val(&control) as _;
    // SAFETY: every pointer in `message` points at a live buffer of the stated length.
    let len = unsafe { libc::recvmsg(socket.as_raw_fd(), &raw mut message, 0) };
    let arrived_mono = Instant::now();
    if len < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut received = Received {
        len: len as usize,
        from: source_address(&address),
        arrived_mono,
        kernel_time: None,
        ttl: None,
    };
    // SAFETY: the CMSG_* helpers walk the control buffer the kernel just filled, within
    // `msg_controllen`; payloads are read unaligned.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&raw const message);
        while !header.is_null() {
            let data = libc::CMSG_DATA(header);
            match ((*header).cmsg_level, (*header).cmsg_type) {
                (libc::SOL_SOCKET, SO_TIMESTAMPNS) => {
                    let ts: libc::timespec = std::ptr::read_unaligned(data.cast());
                    received.kernel_time = u64::try_from(ts.tv_sec)
                        .ok()
                        .map(|secs| UNIX_EPOCH + Duration::new(secs, ts.tv_nsec as u32));
                }
                (libc::IPPROTO_IP, libc::IP_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    let value: libc::c_int = std::ptr::read_unaligned(data.cast());
                    received.ttl = u8::try_from(value).ok();
                }
                _ => {}
            }
            header = libc::CMSG_NXTHDR(&raw const message, header);
        }
    }
    Ok(received)
}

fn source_address(address: &libc::sockaddr_storage) -> Option<IpAddr> {
    match libc::c_int::from(address.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4 = unsafe { &*(std::ptr::from_ref(address).cast::<libc::sockaddr_in>()) };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6 = unsafe { &*(std::ptr::from_ref(address).cast::<libc::sockaddr_in6>()) };
            Some(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

fn set_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
        let result = run("127.0.0.1", &params).await;
        assert_eq!((result.sent, result.received), (0, 0));
        assert_eq!(result.loss_percent(), None);
        let error = result.error.clone().unwrap();
        assert!(error.contains("not an IPv6 address"), "{error}");
        let point = to_point(&result, 1, 2);
        assert_follows_schema(&point);
        assert!(point.field_value("loss_percent").is_none());
        assert!(point.tag_value("family").is_none());
    }

    #[tokio::test]
    async fn literals_and_bracketed_ipv6_resolve_without_lookup() {
        assert_eq!(
            resolve("[::1]", AddressFamily::Any).await.unwrap(),
            "::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            resolve("10.0.0.1", AddressFamily::Ipv4).await.unwrap(),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert!(resolve("10.0.0.1", AddressFamily::Ipv6).await.is_err());
    }

    #[test]
    fn permission_error_names_both_fixes_on_one_line() {
        let e = io::Error::from_raw_os_error(libc::EPERM);
        let text = permission_error(Some(&e), Some(&e));
        assert!(text.contains("net.ipv4.ping_group_range"), "{text}");
        assert!(text.contains("setcap cap_net_raw+ep"), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn kernel_stamp_is_preferred_unless_the_wall_clock_stepped() {
        let slot = Slot {
            sent_mono: Instant::now(),
            sent_wall: SystemTime::now(),
            rtt_ms: None,
        };
        let arrived = slot.sent_mono + Duration::from_micros(500);
        let stamped = slot.sent_wall + Duration::from_micros(40);
        assert_eq!(
            round_trip(&slot, arrived, Some(stamped)),
            Duration::from_micros(40)
        );
        // A stamp before the send (clock stepped back) or after the monotonic arrival
        // (stepped forward) falls back to the monotonic RTT.
        let before = slot.sent_wall - Duration::from_millis(5);
        assert_eq!(
            round_trip(&slot, arrived, Some(before)),
            Duration::from_micros(500)
        );
        let after = slot.sent_wall + Duration::from_secs(3);
        assert_eq!(
            round_trip(&slot, arrived, Some(after)),
            Duration::from_micros(500)
        );
        assert_eq!(round_trip(&slot, arrived, None), Duration::from_micros(500));
    }

    #[test]
    fn replies_are_matched_and_duplicates_counted() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let slot = || Slot {
            sent_mono: now,
            sent_wall: wall,
            rtt_ms: None,
        };
        let target: IpAddr = "192.0.2.7".parse().unwrap();
        let mut replies = Replies {
            ip: target,
            family: Family::Ipv4,
            kind: SocketKind::Dgram,
            identifier: 77,
            payload: b"cookie".to_vec(),
            timeout: Duration::from_millis(100),
            slots: vec![slot(), slot()],
        };
        let mut result = answered();
        result.received = 0;
        result.duplicates = 0;
        result.reply_ttl = None;
        let message = |ms: u64, from: IpAddr| Received {
            len: 0,
            from: Some(from),
            arrived_mono: now + Duration::from_millis(ms),
            kernel_time: None,
            ttl: Some(60),
        };
        let reply = |seq: u16, payload: &[u8]| {
            icmp::reply_to_request(
                Family::Ipv4,
                &icmp::echo_request(Family::Ipv4, 1, seq, payload),
            )
            .unwrap()
        };
        replies.record(&reply(0, b"cookie"), &message(5, target), &mut result);
        replies.record(&reply(0, b"cookie"), &message(6, target), &mut result);
        // Another host, a foreign payload, an unknown sequence and a late reply: ignored.
        replies.record(
            &reply(1, b"cookie"),
            &message(5, "192.0.2.8".parse().unwrap()),
            &mut result,
        );
        replies.record(&reply(1, b"other!"), &message(5, target), &mut result);
        replies.record(&reply(9, b"cookie"), &message(5, target), &mut result);
        replies.record(&reply(1, b"cookie"), &message(101, target), &mut result);
        assert_eq!((result.received, result.duplicates), (1, 1));
        assert_eq!(replies.slots[0].rtt_ms, Some(5.0));
        assert_eq!(replies.slots[1].rtt_ms, None);
        assert_eq!(result.reply_ttl, Some(60));
        // Raw IPv4 sockets deliver the IP header and see every host's echoes, so the
        // identifier must match too.
        replies.kind = SocketKind::Raw;
        let with_header = |identifier: u16| {
            let mut datagram = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 61, 1, 0, 0];
            datagram.extend_from_slice(&[192, 0, 2, 7, 192, 0, 2, 1]);
            let request = icmp::echo_request(Family::Ipv4, identifier, 1, b"cookie");
            datagram.extend(icmp::reply_to_request(Family::Ipv4, &request).unwrap());
            datagram
        };
        let mut raw_message = message(7, target);
        raw_message.ttl = None;
        replies.record(&with_header(1), &raw_message, &mut result);
        assert_eq!(result.received, 1);
        replies.record(&with_header(77), &raw_message, &mut result);
        assert_eq!(result.received, 2);
        assert_eq!(result.reply_ttl, Some(61), "TTL from the IP header");
    }

    #[test]
    fn errors_become_one_line() {
        assert_eq!(one_line("a\nb\r\n c"), "a b c");
    }
}
