//! StreamSwarm agent as a library: the `streamswarm-agent` binary is a thin CLI over it,
//! and `streamswarm up` embeds it ([`runtime::run`]) to run a local agent in the server
//! process.
//!
//! - `config` — TOML file + `STREAMSWARM_AGENT__…` environment, validated at load.
//! - `state` — the state directory: identity (credential, write target) and the last
//!   assignments, written atomically.
//! - `server` — the client of the server's agent API; `facts` the host facts it sends.
//! - `assignments` — assigned tests as received, read into scheduler input.
//! - `runtime` — the lifecycle: enrol, heartbeat, assignments, revocation, shutdown.
//! - `delivery` — points → encoder → spool → writer, acknowledging only what was stored.
//! - `self_metrics` — `agent_self` / `agent_drops` points and the Prometheus endpoint.
//! - `scheduler_seam` — the interface the runtime drives the scheduler through.
//! - `probes` — one module per test kind; each run yields its schema point(s).
//! - `net` — Linux raw/ICMP socket plumbing and `recvmsg` control messages the probes share.
//! - `spool` — the on-disk spool every encoded line passes through before delivery.

pub mod assignments;
pub mod config;
pub mod delivery;
pub mod facts;
#[cfg(target_os = "linux")]
pub mod net;
pub mod probes;
pub mod runtime;
pub mod schedule;
pub mod scheduler_seam;
pub mod self_metrics;
pub mod server;
pub mod spool;
pub mod state;

pub use runtime::run;
