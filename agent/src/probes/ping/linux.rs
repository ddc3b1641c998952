//! ICMP echo over Linux sockets: opening (datagram, then raw), options (TTL, DSCP,
//! receive timestamps and TTLs), and the send/receive loop of one run. The module doc
//! of [`super`] explains the timing and matching rules implemented here.

use super::{PingResult, SocketChoice, SocketKind};
use crate::net::socket::{SO_TIMESTAMPNS, is_permission, set_int_option};
use crate::net::{Received, receive};
use crate::probes::icmp::{self, Family};
use crate::probes::policy::Permitted;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};
use streamswarm_schema::test_spec::PingParams;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

/// Queue sizes asked for on a shared raw socket (a 5,000-reply burst is ~5 MiB of
/// kernel buffers).
const SHARED_RCVBUF: libc::c_int = 16 << 20;
const SHARED_SNDBUF: libc::c_int = 4 << 20;
/// Largest ICMP message plus an IPv4 header with options.
const RECV_BUFFER: usize = 65_535 + 60;

thread_local! {
    /// The receive buffer of every run on this thread: a datagram is read and recorded
    /// without an `.await` in between, so runs never need their own. (One 64 KiB buffer
    /// per run made 5,000 concurrent runs hold 320 MiB.)
    static RECEIVE_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; RECV_BUFFER]);
}

/// Opens (or joins) a socket for `ip`'s family and runs the echoes, recording
/// everything (socket kind, counts, RTTs, errors) in `result`.
pub(super) async fn exchange(
    address: Permitted,
    params: &PingParams,
    choice: SocketChoice,
    result: &mut PingResult,
) {
    let ip = address.ip();
    let wire = match open_wire(Family::of(ip), params, choice) {
        Ok(wire) => wire,
        Err(e) => {
            result.fail(e);
            return;
        }
    };
    result.socket = Some(wire.kind());
    if let Err(e) = echo_run(wire, ip, params, result).await {
        result.fail(format_args!("receiving from {ip}: {e}"));
    }
}

/// The run's way to the network: a datagram socket of its own (configured:
/// non-blocking, kernel receive timestamps, reply TTL reporting, the test's TTL and
/// DSCP), or its route on the shared raw socket of its family, TTL and DSCP.
fn open_wire(family: Family, params: &PingParams, choice: SocketChoice) -> Result<Wire, String> {
    let (domain, protocol) = match family {
        Family::Ipv4 => (Domain::IPV4, Protocol::ICMPV4),
        Family::Ipv6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    let mut dgram_error = None;
    if matches!(
        choice,
        SocketChoice::Auto | SocketChoice::Only(SocketKind::Dgram)
    ) {
        match Socket::new(domain, Type::DGRAM, Some(protocol)) {
            Ok(socket) => {
                configure(&socket, family, params)
                    .map_err(|e| format!("cannot configure the ICMP socket: {e}"))?;
                // SAFETY: the `Socket` owns its descriptor and nothing else closes or
                // replaces it while the `AsyncFd` holds it.
                let socket = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
                    .map_err(|e| format!("cannot register the ICMP socket: {e}"))?;
                return Ok(Wire::Own(socket));
            }
            Err(e) if choice == SocketChoice::Auto => dgram_error = Some(e),
            Err(e) if is_permission(&e) => return Err(permission_error(Some(&e), None)),
            Err(e) => return Err(format!("cannot open an ICMP socket: {e}")),
        }
    }
    match SharedRaw::get(family, params) {
        Ok(shared) => Ok(Wire::Shared(SharedRaw::join(shared)?)),
        Err(RawError::Open(raw)) if is_permission(&raw) => {
            Err(permission_error(dgram_error.as_ref(), Some(&raw)))
        }
        Err(RawError::Open(raw)) => Err(format!("cannot open an ICMP socket: {raw}")),
        Err(RawError::Configure(e)) => Err(format!("cannot configure the ICMP socket: {e}")),
    }
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

/// The one-line error that tells an operator how to let the agent ping.
fn permission_error(dgram: Option<&io::Error>, raw: Option<&io::Error>) -> String {
    let exe = crate::net::socket::current_exe_for_advice();
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
    mut wire: Wire,
    ip: IpAddr,
    params: &PingParams,
    result: &mut PingResult,
) -> io::Result<()> {
    let cookie: [u8; 16] = rand::random();
    let count = params.count;
    let mut replies = Replies {
        ip,
        family: Family::of(ip),
        kind: wire.kind(),
        identifier: wire.identifier(),
        payload: (0..params.payload_size as usize)
            .map(|i| cookie[i % cookie.len()])
            .collect(),
        timeout: Duration::from_millis(u64::from(params.timeout_ms)),
        slots: Vec::with_capacity(count as usize),
    };
    let destination = SockAddr::from(SocketAddr::new(ip, 0));
    let interval = Duration::from_millis(u64::from(params.interval_ms));
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
            if let Err(e) = wire.socket().send_to(&packet, &destination) {
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
                // Replies already queued still count if they came in time (their kernel
                // stamps say when): a run polled late, on a busy agent, must not call
                // them lost.
                wire.take_queued(&mut replies, result);
                break;
            }
            last_sent + replies.timeout
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {}
            received = wire.receive(&mut replies, result) => received?,
        }
    }
    result.rtts_ms = replies.slots.iter().filter_map(|s| s.rtt_ms).collect();
    Ok(())
}

/// How a run sends and receives; see [`open_wire`].
enum Wire {
    /// A datagram socket of the run's own: the kernel gives it an identifier and
    /// delivers it only the replies carrying that identifier.
    Own(AsyncFd<Socket>),
    /// The run's identifier on a shared raw socket, and the datagrams routed to it.
    Shared(Route),
}

impl Wire {
    fn kind(&self) -> SocketKind {
        match self {
            Wire::Own(_) => SocketKind::Dgram,
            Wire::Shared(_) => SocketKind::Raw,
        }
    }

    /// The identifier to put in requests: the route's on a shared raw socket; on a
    /// datagram socket any (the kernel replaces it with the socket's own).
    fn identifier(&self) -> u16 {
        match self {
            Wire::Own(_) => rand::random(),
            Wire::Shared(route) => route.identifier,
        }
    }

    /// Records every datagram already received, without waiting.
    fn take_queued(&mut self, replies: &mut Replies, result: &mut PingResult) {
        match self {
            Wire::Own(socket) => RECEIVE_BUFFER.with_borrow_mut(|buffer| {
                // The socket is non-blocking: this ends at "would block".
                while let Ok(message) = receive(socket.get_ref(), buffer) {
                    replies.record(&buffer[..message.len], &message, result);
                }
            }),
            Wire::Shared(route) => {
                // The reader may not have run yet: route what the socket holds now.
                route.shared.route_queued();
                let datagrams = std::mem::take(&mut lock(&route.inbox.datagrams).0);
                for datagram in &datagrams {
                    replies.record(&datagram.data, &datagram.message, result);
                }
            }
        }
    }

    fn socket(&self) -> &Socket {
        match self {
            Wire::Own(socket) => socket.get_ref(),
            Wire::Shared(route) => route.shared.socket.get_ref(),
        }
    }

    /// Waits for at least one datagram, then records every one already there. Cancel
    /// safe: nothing is read before the wait ends.
    async fn receive(&mut self, replies: &mut Replies, result: &mut PingResult) -> io::Result<()> {
        match self {
            Wire::Own(socket) => {
                let mut guard = socket.readable().await?;
                // The buffer is the thread's: no `.await` while it is borrowed.
                RECEIVE_BUFFER.with_borrow_mut(|buffer| {
                    loop {
                        match guard.try_io(|fd| receive(fd.get_ref(), buffer)) {
                            Ok(Ok(message)) => {
                                replies.record(&buffer[..message.len], &message, result);
                            }
                            // A pending socket error (an ICMP error for an earlier
                            // send): note it, keep listening.
                            Ok(Err(e)) => {
                                result.fail(format_args!("receiving from {}: {e}", replies.ip));
                                break;
                            }
                            Err(_would_block) => break,
                        }
                    }
                });
                Ok(())
            }
            Wire::Shared(route) => {
                loop {
                    let (datagrams, closed) = {
                        let mut inbox = lock(&route.inbox.datagrams);
                        (std::mem::take(&mut inbox.0), inbox.1)
                    };
                    if !datagrams.is_empty() {
                        for datagram in &datagrams {
                            replies.record(&datagram.data, &datagram.message, result);
                        }
                        return Ok(());
                    }
                    if closed {
                        return Err(io::Error::other(
                            "the shared raw ICMP socket failed (see the agent log)",
                        ));
                    }
                    // `notify_one` keeps a permit when the run is not waiting yet, so a
                    // datagram routed between the check and here still wakes it.
                    route.inbox.ready.notified().await;
                }
            }
        }
    }
}

/// How long the reader of an unused shared raw socket waits before it checks whether
/// any run still holds the socket (and closes it if none does).
const SHARED_IDLE_CHECK: Duration = Duration::from_secs(1);

/// Raw sockets the runs share, by [`RawKey`]; a socket lives while a run or its reader
/// holds it.
static SHARED_RAW: LazyLock<Mutex<HashMap<RawKey, Weak<SharedRaw>>>> =
    LazyLock::new(Mutex::default);

/// Shared raw sockets opened, by key, for tests to count.
#[cfg(test)]
static SHARED_RAW_OPENED: Mutex<Vec<RawKey>> = Mutex::new(Vec::new());

/// What a shared raw socket is shared by: runs of one Tokio runtime (its reader task
/// runs there), one family, and the same socket options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RawKey {
    runtime: tokio::runtime::Id,
    family: Family,
    ttl: Option<u8>,
    dscp: Option<u8>,
}

/// A raw ICMP socket every raw run with the same [`RawKey`] sends and receives through.
///
/// A raw ICMP socket receives a copy of every ICMP datagram that reaches the host. With
/// one socket per run, N concurrent runs cost the kernel N copies of every reply, wake
/// N tasks per reply, and fill every socket's receive queue with the other runs'
/// traffic until replies are dropped (self-inflicted loss: 1,000 loopback targets at a
/// 1-second interval lost a third of their echoes). Shared, each reply is copied once
/// and a reader task routes it, by the identifier the run put in its requests (an
/// ICMP error: the identifier of the request it quotes), to that run. The run still
/// matches source, sequence and payload itself ([`Replies::record`]).
struct SharedRaw {
    key: RawKey,
    socket: AsyncFd<Socket>,
    /// The runs in flight, by identifier.
    routes: Mutex<HashMap<u16, Arc<Inbox>>>,
}

/// Where the reader leaves a run's datagrams. (A Tokio channel per run would allocate
/// a 32-slot block per run: 15 MiB more with 5,000 runs in flight.)
#[derive(Default)]
struct Inbox {
    /// Datagrams not yet taken, and whether the socket failed (no more will come).
    datagrams: Mutex<(Vec<Datagram>, bool)>,
    ready: Notify,
}

impl Inbox {
    fn put(&self, datagram: Option<Datagram>) {
        let mut inbox = lock(&self.datagrams);
        match datagram {
            Some(datagram) => inbox.0.push(datagram),
            None => inbox.1 = true,
        }
        drop(inbox);
        self.ready.notify_one();
    }
}

/// A datagram the reader routed to a run.
struct Datagram {
    data: Vec<u8>,
    message: Received,
}

/// Why a shared raw socket could not be had.
enum RawError {
    Open(io::Error),
    Configure(io::Error),
}

/// A run's place on a shared raw socket; dropping it frees the identifier.
struct Route {
    shared: Arc<SharedRaw>,
    identifier: u16,
    inbox: Arc<Inbox>,
}

impl Drop for Route {
    fn drop(&mut self) {
        lock(&self.shared.routes).remove(&self.identifier);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps stay consistent whatever panicked while holding them.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl SharedRaw {
    /// The shared socket for `family` and `params`' options on this runtime, opened
    /// (with its reader task) when there is none.
    fn get(family: Family, params: &PingParams) -> Result<Arc<SharedRaw>, RawError> {
        let key = RawKey {
            runtime: tokio::runtime::Handle::current().id(),
            family,
            ttl: params.ttl,
            dscp: params.dscp,
        };
        // Held while opening, so concurrent first runs open one socket, not several;
        // the reader retires a socket under this lock too (see `retire`).
        let mut registry = lock(&SHARED_RAW);
        if let Some(shared) = registry.get(&key).and_then(Weak::upgrade) {
            return Ok(shared);
        }
        let (domain, protocol) = match family {
            Family::Ipv4 => (Domain::IPV4, Protocol::ICMPV4),
            Family::Ipv6 => (Domain::IPV6, Protocol::ICMPV6),
        };
        let socket = Socket::new(domain, Type::RAW, Some(protocol)).map_err(RawError::Open)?;
        configure(&socket, family, params).map_err(RawError::Configure)?;
        configure_shared_raw(&socket, family).map_err(RawError::Configure)?;
        // SAFETY: the `Socket` owns its descriptor and nothing else closes or replaces it
        // while the `AsyncFd` holds it.
        let socket = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|e| RawError::Configure(e.into()))?;
        let shared = Arc::new(SharedRaw {
            key,
            socket,
            routes: Mutex::default(),
        });
        registry.retain(|_, weak| weak.strong_count() > 0);
        registry.insert(key, Arc::downgrade(&shared));
        drop(registry);
        #[cfg(test)]
        lock(&SHARED_RAW_OPENED).push(key);
        tokio::spawn(read_shared(Arc::clone(&shared)));
        Ok(shared)
    }

    /// Gives a run an identifier no other run on this socket has, and its datagrams.
    fn join(shared: Arc<SharedRaw>) -> Result<Route, String> {
        let inbox = Arc::new(Inbox::default());
        let mut routes = lock(&shared.routes);
        if routes.len() >= usize::from(u16::MAX) {
            return Err(
                "cannot send: 65,535 raw ICMP runs with these options are in flight (every ICMP identifier is taken)"
                    .to_owned(),
            );
        }
        let identifier = loop {
            let candidate: u16 = rand::random();
            if !routes.contains_key(&candidate) {
                break candidate;
            }
        };
        routes.insert(identifier, Arc::clone(&inbox));
        drop(routes);
        Ok(Route {
            shared,
            identifier,
            inbox,
        })
    }

    /// Hands one received datagram to the run whose identifier it carries; anything
    /// that is neither an echo reply nor an ICMP error quoting an echo request (our
    /// own requests on loopback, other ICMP) is dropped here.
    fn route(&self, data: &[u8], message: Received) {
        let Some(identifier) = routed_identifier(self.key.family, data) else {
            return;
        };
        let run = lock(&self.routes).get(&identifier).map(Arc::clone);
        if let Some(run) = run {
            run.put(Some(Datagram {
                data: data.to_vec(),
                message,
            }));
        }
    }

    /// Routes every datagram the socket holds now, without waiting (the reader does
    /// the same when the socket becomes readable).
    fn route_queued(&self) {
        RECEIVE_BUFFER.with_borrow_mut(|buffer| {
            while let Ok(message) = receive(self.socket.get_ref(), buffer) {
                let len = message.len;
                self.route(&buffer[..len], message);
            }
        });
    }

    /// Removes this socket from the registry when no run holds it (the reader's `Arc`
    /// is the only one left); `true` when it did. Runs take the socket under the same
    /// lock, so none can take it between the check and the removal.
    fn retire(self: &Arc<Self>) -> bool {
        let mut registry = lock(&SHARED_RAW);
        if Arc::strong_count(self) > 1 {
            return false;
        }
        if registry
            .get(&self.key)
            .is_some_and(|weak| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(self)))
        {
            registry.remove(&self.key);
        }
        true
    }
}

/// The identifier a shared raw socket routes `data` by: an echo reply's, or that of
/// the echo request an ICMP error quotes. Raw IPv4 sockets deliver the IP header.
fn routed_identifier(family: Family, data: &[u8]) -> Option<u16> {
    let with_ip_header = family == Family::Ipv4;
    icmp::parse_echo_reply(family, with_ip_header, data)
        .map(|reply| reply.identifier)
        .or_else(|| icmp::parse_echo_error(family, with_ip_header, data).map(|e| e.identifier))
}

/// The reader of a shared raw socket: routes what arrives until no run holds the
/// socket any more (checked whenever it wakes, at least every [`SHARED_IDLE_CHECK`]).
async fn read_shared(shared: Arc<SharedRaw>) {
    loop {
        tokio::select! {
            ready = shared.socket.readable() => match ready {
                Ok(mut guard) => RECEIVE_BUFFER.with_borrow_mut(|buffer| {
                    loop {
                        match guard.try_io(|fd| receive(fd.get_ref(), buffer)) {
                            Ok(Ok(message)) => {
                                let len = message.len;
                                shared.route(&buffer[..len], message);
                            }
                            // A pending socket error: unconnected raw sockets without
                            // IP_RECVERR get none; it is not any one run's.
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "shared raw ICMP socket error");
                                break;
                            }
                            Err(_would_block) => break,
                        }
                    }
                }),
                Err(e) => {
                    // Runs waiting on it are told, and report an error.
                    tracing::error!(error = %e, "the shared raw ICMP socket failed");
                    for (_, run) in lock(&shared.routes).drain() {
                        run.put(None);
                    }
                    let _ = shared.retire();
                    lock(&SHARED_RAW).remove(&shared.key);
                    return;
                }
            },
            () = tokio::time::sleep(SHARED_IDLE_CHECK) => {}
        }
        if Arc::strong_count(&shared) == 1 && shared.retire() {
            return;
        }
    }
}

/// Options only the shared raw socket needs: kernel-side filtering of ICMP types no
/// run wants (on loopback every request we send arrives too), and queues large enough
/// for a burst of replies to thousands of runs started in the same instant.
fn configure_shared_raw(socket: &Socket, family: Family) -> io::Result<()> {
    crate::net::socket::pass_only_echo_replies_and_errors(socket, family == Family::Ipv6)?;
    for (force, plain, bytes) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, SHARED_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, SHARED_SNDBUF),
    ] {
        // Beyond `net.core.{r,w}mem_max` only with CAP_NET_ADMIN; otherwise the
        // kernel caps the plain request at that maximum.
        if set_int_option(socket, libc::SOL_SOCKET, force, bytes).is_err() {
            set_int_option(socket, libc::SOL_SOCKET, plain, bytes)?;
        }
    }
    Ok(())
}

/// The RTT of a reply (see [`crate::net::cmsg::round_trip`]).
fn round_trip(slot: &Slot, arrived_mono: Instant, kernel_time: Option<SystemTime>) -> Duration {
    crate::net::cmsg::round_trip(slot.sent_mono, slot.sent_wall, arrived_mono, kernel_time)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::policy::TargetPolicy;
    use std::net::Ipv4Addr;

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

    #[test]
    fn the_shared_socket_routes_replies_and_errors_by_identifier_and_drops_requests() {
        let request = icmp::echo_request(Family::Ipv4, 4242, 3, b"cookie");
        let ipv4 = |ttl: u8, icmp: &[u8]| {
            let mut datagram = vec![0x45, 0, 0, 0, 0, 0, 0, 0, ttl, 1, 0, 0];
            datagram.extend_from_slice(&[192, 0, 2, 7, 192, 0, 2, 1]);
            datagram.extend_from_slice(icmp);
            datagram
        };
        let reply = icmp::reply_to_request(Family::Ipv4, &request).unwrap();
        assert_eq!(
            routed_identifier(Family::Ipv4, &ipv4(61, &reply)),
            Some(4242)
        );
        // Our own request, seen on loopback: nobody's.
        assert_eq!(routed_identifier(Family::Ipv4, &ipv4(64, &request)), None);
        // Host unreachable from a router, quoting the request (IP header + 8 bytes).
        let mut error = vec![3, 1, 0, 0, 0, 0, 0, 0];
        error.extend(ipv4(64, &request[..8]));
        assert_eq!(
            routed_identifier(Family::Ipv4, &ipv4(63, &error)),
            Some(4242)
        );
        // IPv6 raw sockets deliver no IP header.
        let request6 = icmp::echo_request(Family::Ipv6, 77, 0, b"x");
        let reply6 = icmp::reply_to_request(Family::Ipv6, &request6).unwrap();
        assert_eq!(routed_identifier(Family::Ipv6, &reply6), Some(77));
        assert_eq!(routed_identifier(Family::Ipv6, &request6), None);
    }

    /// Whether this process may open raw ICMP sockets. Without the capability the
    /// shared-socket test skips locally and fails under `CI=true` (CI runs as root).
    fn raw_sockets_allowed() -> bool {
        match Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)) {
            Ok(_) => true,
            Err(e) if is_permission(&e) && std::env::var_os("CI").is_none() => {
                eprintln!("SKIPPED: raw ICMP sockets need CAP_NET_RAW ({e})");
                false
            }
            Err(e) => panic!("raw ICMP sockets are required when CI=true: {e}"),
        }
    }

    /// 300 raw runs at once to 300 loopback addresses: one socket, opened once, and
    /// every run gets exactly its own three replies; when the last run has ended the
    /// reader closes the socket.
    #[tokio::test]
    async fn concurrent_raw_runs_share_one_socket_and_each_gets_only_its_own_replies() {
        if !raw_sockets_allowed() {
            return;
        }
        let params = PingParams {
            count: 3,
            interval_ms: 10,
            timeout_ms: 2_000,
            ..PingParams::default()
        };
        let runs: Vec<_> = (0..300u32)
            .map(|n| {
                let target = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 1, 1)) + n);
                let params = params.clone();
                tokio::spawn(async move {
                    let target = target.to_string();
                    super::super::run_with(
                        &target,
                        &params,
                        &TargetPolicy::permit_all(),
                        SocketChoice::Only(SocketKind::Raw),
                    )
                    .await
                })
            })
            .collect();
        for run in runs {
            let result = run.await.unwrap();
            assert_eq!(result.socket, Some(SocketKind::Raw), "{result:?}");
            assert_eq!(result.error, None, "{result:?}");
            assert_eq!(
                (result.sent, result.received, result.duplicates),
                (3, 3, 0),
                "{result:?}"
            );
            assert_eq!(result.rtts_ms.len(), 3);
        }
        let runtime = tokio::runtime::Handle::current().id();
        let opened = lock(&SHARED_RAW_OPENED)
            .iter()
            .filter(|key| key.runtime == runtime)
            .count();
        assert_eq!(opened, 1, "one shared raw socket for all 300 runs");
        let key = RawKey {
            runtime,
            family: Family::Ipv4,
            ttl: None,
            dscp: None,
        };
        // A guard against hanging, not a measurement: the reader checks once a second.
        tokio::time::timeout(Duration::from_secs(30), async {
            while lock(&SHARED_RAW)
                .get(&key)
                .is_some_and(|weak| weak.strong_count() > 0)
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the unused shared socket is closed");
    }
}
