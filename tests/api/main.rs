//! The integration-test binary: the real server over real SQLite and PostgreSQL.

mod helpers;

mod authz;
mod openapi;
mod smoke;
mod store_conformance;
