//! `recvmsg` with ancillary data. socket2 has no control-message parser, so this reads
//! `SCM_TIMESTAMPNS`, `IP_TTL` and `IPV6_HOPLIMIT` itself (asked for with
//! [`super::socket::enable_receive_info`]).

use super::socket::SO_TIMESTAMPNS;
use socket2::Socket;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One datagram and what the kernel told us about it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Bytes written into the buffer.
    pub len: usize,
    /// The sender's address.
    pub from: Option<IpAddr>,
    /// Monotonic time right after `recvmsg` returned.
    pub arrived_mono: Instant,
    /// The kernel's receive stamp (wall clock), when `SO_TIMESTAMPNS` is on.
    pub kernel_time: Option<SystemTime>,
    /// TTL / hop limit the datagram arrived with, when asked for.
    pub ttl: Option<u8>,
}

/// Reads one datagram into `buffer` with its control messages. Non-blocking sockets
/// return `WouldBlock` when nothing is queued.
pub fn receive(socket: &Socket, buffer: &mut [u8]) -> io::Result<Received> {
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

/// The IP address in a socket address the kernel filled in.
pub fn source_address(address: &libc::sockaddr_storage) -> Option<IpAddr> {
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

/// The RTT of a reply: the kernel's receive stamp minus the wall-clock send time, unless
/// the wall clock evidently stepped (then the monotonic difference, which includes the
/// wake-up latency but cannot be wrong by a clock step).
pub fn round_trip(
    sent_mono: Instant,
    sent_wall: SystemTime,
    arrived_mono: Instant,
    kernel_time: Option<SystemTime>,
) -> Duration {
    let monotonic = arrived_mono.saturating_duration_since(sent_mono);
    kernel_time
        .and_then(|k| k.duration_since(sent_wall).ok())
        .filter(|stamped| *stamped <= monotonic)
        .unwrap_or(monotonic)
}
