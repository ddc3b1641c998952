//! The agent's lifecycle and delivery against fakes and real files: configuration,
//! the state directory, the server client, delivery through the spool, self-metrics
//! and the run loop, recovery after outages, and the outbound target policy.
//! Fault-injection tests are named `fake_server_*`.

mod cli;
mod config;
mod delivery;
mod facts;
mod fake_server;
mod recovery;
mod runtime;
mod self_metrics;
mod server_client;
mod state;
mod target_policy;
