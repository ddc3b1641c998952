//! Network probes: each runs one kind of test against a target and turns what it saw
//! into a point of its measurement in `schema/measurements.toml`.
//!
//! - `host` — the agent's own host (CPU, memory, disks, network, TCP states,
//!   temperatures) as the `host_*` measurements, rates computed between samples.
//! - `ping` — ICMP echo (loss, RTT statistics, reply TTL) over IPv4 and IPv6.
//! - `stats` — the pure RTT statistics shared by probes (mdev, RFC 3550 jitter, percentiles).
//! - `icmp` — ICMP echo packet building and parsing, no I/O.

pub mod host;
pub mod icmp;
pub mod ping;
pub mod stats;
