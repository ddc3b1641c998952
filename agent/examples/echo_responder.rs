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
//! is answered `delay` after it was read, by a sender thread that sleeps to within a
//! millisecond of the due time and spins the rest, so the added delay is exact to a few
//! microseconds whatever the timer slack. It prints `ready` once listening.

// Only the reply builder of the shared ICMP module is used here.
#[allow(dead_code)]
#[path = "../src/probes/icmp.rs"]
mod icmp;

use clap::Parser;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Delay added before each echo reply, in microseconds.
    #[arg(long, default_value_t = 20_000)]
    delay_us: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let delay = Duration::from_micros(args.delay_us);
    let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?;
    let sender = socket.try_clone()?;
    let (queue, due_replies) = mpsc::channel::<(Instant, SockAddr, Vec<u8>)>();
    std::thread::spawn(move || {
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
        let len = (&socket).read(&mut buffer)?;
        let arrived = Instant::now();
        let datagram = &buffer[..len];
        let Some(&first) = datagram.first() else {
            continue;
        };
        let header_len = usize::from(first & 0x0f) * 4;
        if datagram.len() < header_len || header_len < 20 {
            continue;
        }
        let source = Ipv4Addr::new(datagram[12], datagram[13], datagram[14], datagram[15]);
        if let Some(reply) = icmp::reply_to_request(icmp::Family::Ipv4, &datagram[header_len..]) {
            let to = SockAddr::from(SocketAddr::new(IpAddr::V4(source), 0));
            queue.send((arrived + delay, to, reply))?;
        }
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
        if left > Duration::from_millis(2) {
            std::thread::sleep(left - Duration::from_millis(1));
        } else {
            std::hint::spin_loop();
        }
    }
}
