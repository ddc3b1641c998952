//! Userspace ICMP echo responder with a fixed delay: the network lab's ground truth for
//! "known delay" (netem is not available here). Run it in a target namespace whose
//! kernel ignores echo requests (`sysctl -w net.ipv4.icmp_echo_ignore_all=1`):
//!
//! ```sh
//! ip netns exec B sysctl -w net.ipv4.icmp_echo_ignore_all=1
//! ip netns exec B target/debug/examples/echo_responder --delay-us 20000
//! ```
//!
//! A raw IPv4 ICMP socket still receives echo requests the kernel ignores. Each request
//! is answered `delay` after the kernel received it (its `SO_TIMESTAMPNS` stamp, so this
//! process's own wake-up latency does not add to the delay), by a sender thread that
//! sleeps to within two milliseconds of the due time and spins the rest. Both threads
//! ask for `SCHED_FIFO` (best effort; we are root in the lab) so a busy machine does not
//! preempt them. The added delay is then exact to a few microseconds. It prints `ready`
//! once listening.

// Only the reply builder of the shared ICMP module is used here.
#[allow(dead_code)]
#[path = "../src/probes/icmp.rs"]
mod icmp;

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<()> {
    responder::main()
}

/// The lab is Linux (namespaces, raw sockets, `SO_TIMESTAMPNS`).
#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("echo_responder runs on Linux only");
    std::process::exit(1);
}

#[cfg(target_os = "linux")]
mod responder {
    use clap::Parser;
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    use std::io::Write;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::os::fd::AsRawFd;
    use std::sync::mpsc;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// `SO_TIMESTAMPNS` on x86-64 and aarch64 Linux.
    const SO_TIMESTAMPNS: libc::c_int = 35;

    #[derive(Parser)]
    struct Args {
        /// Delay added before each echo reply, in microseconds.
        #[arg(long, default_value_t = 20_000)]
        delay_us: u64,
        /// Replies sent per request; 2 or more makes duplicates the probe must count.
        #[arg(long, default_value_t = 1)]
        copies: u32,
    }

    pub fn main() -> anyhow::Result<()> {
        let args = Args::parse();
        let delay = Duration::from_micros(args.delay_us);
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?;
        let on: libc::c_int = 1;
        // SAFETY: a pointer to a live c_int and its size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_TIMESTAMPNS,
                (&raw const on).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        let sender = socket.try_clone()?;
        let (queue, due_replies) = mpsc::channel::<(Instant, SockAddr, Vec<u8>)>();
        real_time_priority();
        std::thread::spawn(move || {
            real_time_priority();
            // Constant delay keeps the queue in due order, so FIFO is enough.
            for (due, to, packet) in due_replies {
                sleep_until(due);
                if let Err(e) = sender.send_to(&packet, &to) {
                    eprintln!("echo_responder: send: {e}");
                }
            }
        });
        println!("ready");
        std::io::stdout().flush()?;
        let mut buffer = vec![0u8; 65_535 + 60];
        loop {
            let (len, kernel_stamp) = receive(&socket, &mut buffer)?;
            // The request's age when we got to it, per the kernel's stamp.
            let age = kernel_stamp
                .and_then(|stamp| SystemTime::now().duration_since(stamp).ok())
                .unwrap_or_default();
            let arrived = Instant::now() - age;
            let datagram = &buffer[..len];
            let Some(&first) = datagram.first() else {
                continue;
            };
            let header_len = usize::from(first & 0x0f) * 4;
            if datagram.len() < header_len || header_len < 20 {
                continue;
            }
            let source = Ipv4Addr::new(datagram[12], datagram[13], datagram[14], datagram[15]);
            if let Some(reply) =
                crate::icmp::reply_to_request(crate::icmp::Family::Ipv4, &datagram[header_len..])
            {
                let to = SockAddr::from(SocketAddr::new(IpAddr::V4(source), 0));
                for _ in 0..args.copies {
                    queue.send((arrived + delay, to.clone(), reply.clone()))?;
                }
            }
        }
    }

    /// Reads one datagram and the kernel's receive time of it.
    fn receive(socket: &Socket, buffer: &mut [u8]) -> std::io::Result<(usize, Option<SystemTime>)> {
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        // SAFETY: all-zero is a valid msghdr; the pointers set below outlive the call.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_iov = &raw mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = size_of_val(&control) as _;
        // SAFETY: `message` describes live buffers of the stated lengths.
        let len = unsafe { libc::recvmsg(socket.as_raw_fd(), &raw mut message, 0) };
        if len < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut stamp = None;
        // SAFETY: walks the control buffer the kernel filled, within msg_controllen.
        unsafe {
            let mut header = libc::CMSG_FIRSTHDR(&raw const message);
            while !header.is_null() {
                if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == SO_TIMESTAMPNS
                {
                    let ts: libc::timespec =
                        std::ptr::read_unaligned(libc::CMSG_DATA(header).cast());
                    stamp = Some(UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
                }
                header = libc::CMSG_NXTHDR(&raw const message, header);
            }
        }
        Ok((len as usize, stamp))
    }

    /// Asks for `SCHED_FIFO` for the calling thread; without it (not root) timing is merely
    /// less robust under load, so failure is ignored.
    fn real_time_priority() {
        let param = libc::sched_param { sched_priority: 10 };
        // SAFETY: plain syscall on the calling thread with a valid parameter.
        unsafe {
            libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &raw const param);
        }
    }

    /// Sleeps coarsely, then spins: `thread::sleep` alone overshoots by the timer slack
    /// (50 µs by default, more under load).
    fn sleep_until(due: Instant) {
        loop {
            let now = Instant::now();
            if now >= due {
                return;
            }
            let left = due - now;
            if left > Duration::from_millis(3) {
                std::thread::sleep(left - Duration::from_millis(2));
            } else {
                std::hint::spin_loop();
            }
        }
    }
}
