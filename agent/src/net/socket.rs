//! Opening and configuring sockets: `setsockopt` for plain values, the receive options
//! every probe wants (kernel timestamps, reply TTL), and permission errors that tell the
//! operator what to change.

use socket2::Socket;
use std::io;
use std::os::fd::AsRawFd;

/// `SO_TIMESTAMPNS` on the Linux architectures the agent ships for (x86-64, aarch64).
pub const SO_TIMESTAMPNS: libc::c_int = 35;
/// `SOL_RAW` and its `ICMP_FILTER` option (linux/icmp.h), and IPv6's `ICMP6_FILTER`
/// (linux/icmpv6.h); the libc crate does not export them.
pub const SOL_RAW: libc::c_int = 255;
pub const ICMP_FILTER: libc::c_int = 1;
pub const ICMP6_FILTER: libc::c_int = 1;

/// Whether a socket call failed for lack of permission (no `CAP_NET_RAW`, a group
/// outside `net.ipv4.ping_group_range`).
pub fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES))
}

/// The path of the running binary for `setcap` advice.
pub fn current_exe_for_advice() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/path/to/streamswarm-agent".to_owned())
}

/// The one-line error for a raw socket the agent may not open: names the capability and
/// how to grant it.
pub fn raw_permission_error(what: &str, e: &io::Error) -> String {
    format!(
        "cannot open a raw {what} socket: raw sockets need CAP_NET_RAW ({e}); fix: grant the \
         capability with `setcap cap_net_raw+ep {}` or run the agent with it \
         (systemd: AmbientCapabilities=CAP_NET_RAW)",
        current_exe_for_advice()
    )
}

pub fn set_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_option(socket, level, name, &value)
}

/// `setsockopt` with any plain value.
pub fn set_option<T: Copy>(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live value and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(value).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks for what [`super::receive`] reads: kernel receive timestamps
/// (`SO_TIMESTAMPNS`) and the TTL / hop limit of each datagram.
pub fn enable_receive_info(socket: &Socket, ipv6: bool) -> io::Result<()> {
    set_int_option(socket, libc::SOL_SOCKET, SO_TIMESTAMPNS, 1)?;
    if ipv6 {
        set_int_option(socket, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)
    } else {
        set_int_option(socket, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)
    }
}

/// Kernel-side filter of a raw ICMP socket: only echo replies, destination unreachable
/// and time exceeded reach it (a raw ICMP socket otherwise gets a copy of every ICMP
/// message the host receives).
pub fn pass_only_echo_replies_and_errors(socket: &Socket, ipv6: bool) -> io::Result<()> {
    if ipv6 {
        // `struct icmp6_filter`: 256 bits, a set bit blocks that type. Keep
        // destination unreachable (1), time exceeded (3) and echo reply (129).
        let mut blocked = [u32::MAX; 8];
        for kind in [1u8, 3, 129] {
            blocked[usize::from(kind >> 5)] &= !(1u32 << (kind & 31));
        }
        set_option(socket, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &blocked)
    } else {
        // `struct icmp_filter`: a set bit drops that type. Keep echo reply (0),
        // destination unreachable (3) and time exceeded (11).
        let pass: u32 = (1 << 0) | (1 << 3) | (1 << 11);
        set_int_option(socket, SOL_RAW, ICMP_FILTER, !pass as libc::c_int)
    }
}

/// Sets the TTL (IPv4) or unicast hop limit (IPv6) of the datagrams sent next.
pub fn set_ttl(socket: &Socket, ipv6: bool, ttl: u8) -> io::Result<()> {
    if ipv6 {
        socket.set_unicast_hops_v6(u32::from(ttl))
    } else {
        socket.set_ttl_v4(u32::from(ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_permission_error_names_the_fix_on_one_line() {
        let e = io::Error::from_raw_os_error(libc::EPERM);
        let text = raw_permission_error("ICMP", &e);
        assert!(text.contains("setcap cap_net_raw+ep"), "{text}");
        assert!(!text.contains('\n'));
        assert!(is_permission(&e));
        assert!(!is_permission(&io::Error::from_raw_os_error(libc::ENOENT)));
    }
}
