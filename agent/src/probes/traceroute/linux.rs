//! The socket side of a traceroute run on Linux: raw sockets to send the probes of one
//! flow with per-probe TTLs, and to receive the ICMP (and, for TCP, the SYN-ACK / RST)
//! answers, matched to probes by [`wire::Flow::recognise`].

use super::wire::{Flow, Protocol};
use super::{Options, Reply, Sent, TracerouteResult, WINDOW, summarise};
use crate::net::socket::{
    enable_receive_info, is_permission, pass_only_echo_replies_and_errors, raw_permission_error,
    set_ttl,
};
use crate::net::{cmsg, receive};
use crate::probes::policy::Permitted;
use socket2::{Domain, Protocol as SocketProtocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Largest datagram read (an ICMP error quoting a full-size probe, with extensions).
const RECV_BUFFER: usize = 65_535 + 60;

/// One probe's bookkeeping.
struct Slot {
    ttl: u8,
    cycle: u32,
    sent_mono: Instant,
    sent_wall: SystemTime,
    answer: Option<Reply>,
}

/// The sockets of one run.
struct Sockets {
    /// Raw ICMP socket: receives every answer but TCP's; sends ICMP probes.
    icmp: AsyncFd<Socket>,
    /// Raw UDP or TCP socket that sends those probes (TCP: also receives the answers).
    transport: Option<AsyncFd<Socket>>,
    /// Holds the UDP / TCP source port so no other socket of the host takes it.
    _reservation: Option<Socket>,
    flow: Flow,
    ipv4: bool,
}

/// Runs the probes of `options` towards `address`, filling `result`'s counts, hops and
/// errors.
pub(super) async fn trace(address: Permitted, options: &Options, result: &mut TracerouteResult) {
    let sockets = match open(address.ip(), options) {
        Ok(sockets) => sockets,
        Err(e) => {
            result.fail(e);
            return;
        }
    };
    if let Err(e) = probe_all(&sockets, options, result).await {
        result.fail(format_args!("receiving answers: {e}"));
    }
}

fn open(ip: IpAddr, options: &Options) -> Result<Sockets, String> {
    let ipv4 = ip.is_ipv4();
    let domain = if ipv4 { Domain::IPV4 } else { Domain::IPV6 };
    let port = super::destination_port(options);
    // The source address (and for UDP the source port) the kernel picks for this
    // destination: connecting a UDP socket sends nothing.
    let udp = Socket::new(domain, Type::DGRAM, Some(SocketProtocol::UDP))
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    udp.connect(&SockAddr::from(SocketAddr::new(ip, port)))
        .map_err(|e| send_error(ip, &e))?;
    let local = udp
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .ok_or("cannot read the source address")?;
    let (source_port, reservation) = match options.protocol {
        Protocol::Icmp => (0, None),
        Protocol::Udp => (local.port(), Some(udp)),
        Protocol::Tcp => {
            // A bound, never-listening TCP socket: the port is ours, and the kernel
            // resets the SYN-ACKs our probes draw.
            let tcp = Socket::new(domain, Type::STREAM, Some(SocketProtocol::TCP))
                .map_err(|e| format!("cannot open a TCP socket: {e}"))?;
            tcp.bind(&SockAddr::from(SocketAddr::new(local.ip(), 0)))
                .map_err(|e| format!("cannot reserve a TCP port: {e}"))?;
            let port = tcp
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .ok_or("cannot read the TCP port")?
                .port();
            (port, Some(tcp))
        }
    };
    let flow = Flow {
        protocol: options.protocol,
        source: local.ip(),
        destination: ip,
        source_port,
        destination_port: port,
        id: rand::random(),
    };
    let icmp_protocol = if ipv4 {
        SocketProtocol::ICMPV4
    } else {
        SocketProtocol::ICMPV6
    };
    let icmp = raw(domain, icmp_protocol, "ICMP", local.ip())?;
    pass_only_echo_replies_and_errors(&icmp, !ipv4)
        .map_err(|e| format!("cannot filter the raw ICMP socket: {e}"))?;
    let transport = match options.protocol {
        Protocol::Icmp => None,
        Protocol::Udp => {
            let udp = raw(domain, SocketProtocol::UDP, "UDP", local.ip())?;
            // Send-only: it would get a copy of every UDP datagram the host receives;
            // the smallest queue the kernel allows keeps those few.
            udp.set_recv_buffer_size(0)
                .map_err(|e| format!("cannot configure the raw UDP socket: {e}"))?;
            Some(udp)
        }
        Protocol::Tcp => Some(raw(domain, SocketProtocol::TCP, "TCP", local.ip())?),
    };
    let register = |socket: Socket| {
        // SAFETY: the `Socket` owns its descriptor and nothing else closes or replaces
        // it while the `AsyncFd` holds it.
        unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|e| format!("cannot register a raw socket: {e}"))
    };
    Ok(Sockets {
        icmp: register(icmp)?,
        transport: transport.map(register).transpose()?,
        _reservation: reservation,
        flow,
        ipv4,
    })
}

/// A raw socket of `protocol`, bound to the run's source address, non-blocking, with
/// receive timestamps and TTLs on.
fn raw(
    domain: Domain,
    protocol: SocketProtocol,
    what: &str,
    source: IpAddr,
) -> Result<Socket, String> {
    let socket = Socket::new(domain, Type::RAW, Some(protocol)).map_err(|e| {
        if is_permission(&e) {
            raw_permission_error(what, &e)
        } else {
            format!("cannot open a raw {what} socket: {e}")
        }
    })?;
    let configure = || -> io::Result<()> {
        socket.set_nonblocking(true)?;
        socket.bind(&SockAddr::from(SocketAddr::new(source, 0)))?;
        enable_receive_info(&socket, domain == Domain::IPV6)
    };
    configure().map_err(|e| format!("cannot configure the raw {what} socket: {e}"))?;
    Ok(socket)
}

async fn probe_all(
    sockets: &Sockets,
    options: &Options,
    result: &mut TracerouteResult,
) -> io::Result<()> {
    let timeout = Duration::from_millis(u64::from(options.timeout_ms));
    let destination = SockAddr::from(SocketAddr::new(sockets.flow.destination, 0));
    let sender = sockets
        .transport
        .as_ref()
        .unwrap_or(&sockets.icmp)
        .get_ref();
    let ipv6 = !sockets.ipv4;
    let first = options.first_ttl.max(1);
    let mut last = options.max_ttl.max(first);
    let mut destination_ttl: Option<u8> = None;
    let mut slots: Vec<Slot> = Vec::new();
    let mut buffer = vec![0u8; RECV_BUFFER];
    let started = Instant::now();
    for cycle in 0..options.cycles.max(1) {
        let mut ttl = first;
        while ttl <= last {
            let window_end = ttl.saturating_add(WINDOW - 1).min(last);
            let window_start = slots.len();
            for t in ttl..=window_end {
                set_ttl(sender, ipv6, t)?;
                for _ in 0..options.queries.max(1) {
                    let Ok(index) = u16::try_from(slots.len()) else {
                        break;
                    };
                    let packet = sockets.flow.probe(index, options.packet_size as usize);
                    let sent_mono = Instant::now();
                    let sent_wall = SystemTime::now();
                    if let Err(e) = sender.send_to(&packet, &destination) {
                        result.fail(send_error(sockets.flow.destination, &e));
                    }
                    slots.push(Slot {
                        ttl: t,
                        cycle,
                        sent_mono,
                        sent_wall,
                        answer: None,
                    });
                }
            }
            let deadline = slots.last().map_or(started, |s| s.sent_mono) + timeout;
            // Wait for this window's answers (earlier windows' late ones count too).
            while slots[window_start..].iter().any(|s| s.answer.is_none())
                && Instant::now() < deadline
            {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline.into()) => {}
                    read = readable(&sockets.icmp) => {
                        read?;
                        drain(sockets, true, &mut buffer, &mut slots, timeout, &mut destination_ttl);
                    }
                    read = readable_opt(sockets.transport.as_ref(), options.protocol == Protocol::Tcp) => {
                        read?;
                        drain(sockets, false, &mut buffer, &mut slots, timeout, &mut destination_ttl);
                    }
                }
            }
            // Answers already queued when the deadline passed still count.
            drain(
                sockets,
                true,
                &mut buffer,
                &mut slots,
                timeout,
                &mut destination_ttl,
            );
            if options.protocol == Protocol::Tcp {
                drain(
                    sockets,
                    false,
                    &mut buffer,
                    &mut slots,
                    timeout,
                    &mut destination_ttl,
                );
            }
            if let Some(d) = destination_ttl {
                last = last.min(d);
            }
            ttl = window_end.saturating_add(1);
            if window_end == u8::MAX {
                break;
            }
        }
    }
    result.duration_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    result.probes_sent = slots.len() as u32;
    result.destination_ttl = destination_ttl;
    let sent: Vec<Sent> = slots
        .into_iter()
        .map(|s| Sent {
            ttl: s.ttl,
            cycle: s.cycle,
            answer: s.answer,
        })
        .collect();
    result.hops = summarise(&sent, first, destination_ttl.unwrap_or(last));
    Ok(())
}

async fn readable(socket: &AsyncFd<Socket>) -> io::Result<()> {
    let mut guard = socket.readable().await?;
    // `drain` reads until "would block", which clears readiness in the kernel; tokio's
    // cached readiness is cleared here so the next wait really waits.
    guard.clear_ready();
    Ok(())
}

async fn readable_opt(socket: Option<&AsyncFd<Socket>>, wanted: bool) -> io::Result<()> {
    match socket {
        Some(socket) if wanted => readable(socket).await,
        _ => std::future::pending().await,
    }
}

/// Reads every datagram queued on the ICMP (`icmp`) or TCP socket and records the
/// answers to this run's probes.
fn drain(
    sockets: &Sockets,
    icmp: bool,
    buffer: &mut [u8],
    slots: &mut [Slot],
    timeout: Duration,
    destination_ttl: &mut Option<u8>,
) {
    let socket = if icmp {
        sockets.icmp.get_ref()
    } else {
        match &sockets.transport {
            Some(s) => s.get_ref(),
            None => return,
        }
    };
    while let Ok(message) = receive(socket, buffer) {
        let data = &buffer[..message.len];
        let Some(answer) = sockets.flow.recognise(icmp, sockets.ipv4, data) else {
            continue;
        };
        let (Some(from), Some(slot)) = (message.from, slots.get_mut(usize::from(answer.probe)))
        else {
            continue;
        };
        if slot.answer.is_some() {
            continue;
        }
        let rtt = cmsg::round_trip(
            slot.sent_mono,
            slot.sent_wall,
            message.arrived_mono,
            message.kernel_time,
        );
        if rtt > timeout {
            continue;
        }
        if from == sockets.flow.destination {
            *destination_ttl = Some(destination_ttl.map_or(slot.ttl, |d| d.min(slot.ttl)));
        }
        slot.answer = Some(Reply {
            from,
            rtt_ms: rtt.as_secs_f64() * 1e3,
            reply: answer.reply.name(),
            mpls: answer.mpls.iter().map(|e| e.text()).collect(),
        });
    }
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
