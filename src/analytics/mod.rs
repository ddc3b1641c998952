//! Analytics (issue 12): forecasts, anomalies with their scope, health and causes,
//! measured on labelled incidents.
//!
//! - [`model`]: the per-series forecast (MSTL + AutoETS, augurs).
//! - [`detector`]: online scoring of points and the episode rules (latency, loss).
//! - [`engine`]: series → episodes → insights with their scope.
//! - [`agents`]: each agent as a whole — an isolation forest over its minutes' paths,
//!   loss, host and self-metrics; the host context of its insights.
//! - [`process`]: the process (lease, cycles, reads, writes); [`history`]: the minutes
//!   kept between refits, so a refit reads only what is new.
//! - [`eval`], [`score`], [`baseline`]: the labelled evaluation set, how findings are
//!   judged, and the rolling 3-sigma rule the engine is compared with.

pub mod agents;
pub mod baseline;
pub use streamswarm_stats::{detector, model, multivariate};
pub mod engine;
pub mod eval;
pub mod explain;
pub mod history;
pub mod process;
pub mod replay;
pub mod score;
pub mod sources;
