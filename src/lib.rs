//! StreamSwarm server library. The binary (`main.rs`) only calls [`cli::main`].
//!
//! Map: [`config`] (static configuration) → [`app`] (build and run) → [`http`] (routes,
//! auth, API, UI) → [`admin`] (audited operations shared by CLI and API) → [`store`]
//! (metadata in PostgreSQL or SQLite), [`timeseries`] (the embedded time-series store).
//! See ARCHITECTURE.md.

pub mod admin;
pub mod analytics;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod geoip;
pub mod grafana;
pub mod http;
pub mod names;
pub mod paths;
pub mod settings;
pub mod store;
pub mod timeseries;

pub use app::Application;
