//! StreamSwarm agent as a library: the `streamswarm-agent` binary is a thin CLI over it,
//! and `streamswarm up` embeds it to run a local agent in the server process.
//!
//! - `probes` — one module per test kind; each run yields its schema point(s).
//! - `spool` — the on-disk spool every encoded line passes through before delivery.

pub mod probes;
pub mod schedule;
pub mod spool;
