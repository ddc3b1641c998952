//! What the StreamSwarm server and agent share.
//!
//! - [`role`]: user roles, ordered by privilege.
//! - [`test_spec`]: test kinds, their parameters and schedules, validated in one place
//!   so the server rejects what the agent could not run.
//! - [`migrations`]: the metadata-store migrations for PostgreSQL and SQLite (SQL files
//!   under `schema/migrations/`).
//! - [`measurements`]: every time series StreamSwarm writes (measurements, tags, fields,
//!   types, units), generated from `schema/measurements.toml`.

pub mod kinds;
pub mod measurements;
pub mod migrations;
pub mod role;
pub mod target_policy;
pub mod test_spec;

pub use role::Role;
pub use test_spec::{Schedule, TestKind, TestParams, TestSpec, ValidationError};
