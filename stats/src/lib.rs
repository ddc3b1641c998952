//! The numeric core of StreamSwarm's analytics (`streamswarm::analytics` drives it):
//! [`model`], the per-series forecast (MSTL + AutoETS from augurs); [`detector`], the
//! online scoring rules (latency against the forecast, loss as binomial);
//! [`multivariate`], an isolation forest per agent over its minutes' features; and
//! [`trend`], when a series will cross a threshold (capacity questions).
//!
//! A crate of its own so that it is optimised in debug builds too
//! (`[profile.dev.package.streamswarm-stats]`): augurs' MSTL is generic over its trend
//! model and is instantiated — and compiled — in the crate that calls it; unoptimised,
//! one fit of two weeks of 1-minute points takes ~330 ms instead of ~30 ms.

pub mod detector;
pub mod model;
pub mod multivariate;
pub mod trend;
