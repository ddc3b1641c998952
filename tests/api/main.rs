//! The integration-test binary: the real server over real SQLite and PostgreSQL.

mod helpers;

mod audit;
mod auth;
mod bad_input;
mod cli;
mod csrf;
mod ops;
mod resources;
mod secrets;
mod smoke;
mod throttle;
mod tokens;
