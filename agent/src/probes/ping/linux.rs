//! ICMP echo over Linux sockets: opening (datagram, then raw), options (TTL, DSCP,
//! receive timestamps and TTLs), and the send/receive loop of one run. The module doc
//! of [`super`] explains the timing and matching rules implemented here.

use super::{PingResult, SocketChoice, SocketKind};
use crate::probes::icmp::{self, Family};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use streamswarm_schema::test_spec::PingParams;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// `SO_TIMESTAMPNS` on the Linux architectures the agent ships for (x86-64, aarch64).
const SO_TIMESTAMPNS: libc::c_int = 35;
/// Largest ICMP message plus an IPv4 header with options.
const RECV_BUFFER: usize = 65_535 + 60;

/// Opens a socket for `ip`'s family and runs the echoes, recording everything (socket
/// kind, counts, RTTs, errors) in `result`.
pub(super) async fn exchange(
    ip: IpAddr,
    params: &PingParams,
    choice: SocketChoice,
    result: &mut PingResult,
) {
    let (socket, kind) = match open_socket(Family::of(ip), params, choice) {
        Ok(opened) => opened,
        Err(e) => {
            result.fail(e);
            return;
        }
    };
    result.socket = Some(kind);
    if let Err(e) = echo_run(socket, kind, ip, params, result).await {
        result.fail(format_args!("receiving from {ip}: {e}"));
    }
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
            self.record_error(data, with_ip_header, message, result);
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

impl Replies {
    /// A router's ICMP error about one of our requests becomes the run's error (the
    /// request stays lost): "host unreachable (ICMP from 10.1.1.2)" says more than "no
    /// echo reply".
    fn record_error(
        &self,
        data: &[u8],
        with_ip_header: bool,
        message: &Received,
        result: &mut PingResult,
    ) {
        let Some(error) = icmp::parse_echo_error(self.family, with_ip_header, data) else {
            return;
        };
        let ours = error.quoted_destination == self.ip
            && (self.kind != SocketKind::Raw || error.identifier == self.identifier)
            && usize::from(error.sequence) < self.slots.len();
        if ours {
            let from = message
                .from
                .map_or_else(|| "an unknown host".to_owned(), |ip| ip.to_string());
            result.fail(format_args!("{} (ICMP from {from})", error.reason));
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut result = PingResult::new("192.0.2.7", SystemTime::now());
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
}
