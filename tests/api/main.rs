//! The integration-test binary: the real server over real SQLite and PostgreSQL.

mod helpers;

mod agent_api;
mod agent_delivery;
mod analytics;
mod audit;
mod auth;
mod authz;
mod bad_input;
mod cli;
mod csrf;
mod flux_kit;
mod grafana;
mod hardening_agent;
mod hardening_auth;
mod hardening_http;
mod hardening_input;
mod hardening_tokens;
mod hardening_writes;
mod influxql_differential;
mod insights;
mod openapi;
mod ops;
mod paths;
mod resources;
mod secrets;
mod smoke;
mod store_conformance;
mod throttle;
mod timeseries_clients;
mod timeseries_differential;
mod timeseries_influxql;
mod timeseries_query;
mod timeseries_write;
mod tokens;
mod ui;
