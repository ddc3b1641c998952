//! Network probes: each runs one kind of test against a target and turns what it saw
//! into a point of its measurement in `schema/measurements.toml`.
//!
//! - `ping` — ICMP echo (loss, RTT statistics, reply TTL) over IPv4 and IPv6.
//! - `stats` — the pure RTT statistics shared by probes (mdev, RFC 3550 jitter, percentiles).
//! - `icmp` — ICMP echo packet building and parsing, no I/O.

// The agent's scheduler, which will call the probes, is not built yet; until then only
// the tests and the `ping_once` example use them.
#![allow(dead_code)]

pub mod icmp;
pub mod ping;
pub mod stats;
