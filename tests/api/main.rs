//! The integration-test binary: the real server over real SQLite and PostgreSQL.

mod helpers;

mod cli;
mod ops;
mod resources;
mod smoke;
