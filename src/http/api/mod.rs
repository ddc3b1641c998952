//! JSON API v1 handlers, one file per resource.

pub mod agent;
pub mod agents;
pub mod audit;
pub mod dashboard;
pub mod grafana;
pub mod groups;
pub mod insights;
pub mod me;
pub mod paths;
pub mod series;
pub mod settings;
pub mod tests;
pub mod tokens;
pub mod trend;
pub mod users;
