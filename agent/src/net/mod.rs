//! Linux socket plumbing shared by the probes that work below TCP/UDP sockets (ping,
//! traceroute, and later MTU discovery and DSCP checks): opening ICMP/raw sockets with
//! an error that names the fix when permission is missing, `setsockopt` helpers, and
//! `recvmsg` with its control messages (kernel receive timestamps, TTL / hop limit,
//! source address). Pure byte work on ICMP packets stays in `probes::icmp`.
//!
//! - `socket` — opening and configuring sockets; permission errors.
//! - `cmsg` — `recvmsg` and the ancillary data the probes read.

pub mod cmsg;
pub mod socket;

pub use cmsg::{Received, receive};
