//! StreamSwarm's time-series core.
//!
//! - [`line_protocol`]: the InfluxDB line-protocol encoder. Pure: no I/O, no clock.
//! - [`schema_check`]: compares points with `schema/measurements.toml`
//!   (`streamswarm_schema::measurements`), the check every writer's tests run.
//! - [`query`]: the product's query set as data, answered by InfluxDB and the embedded store alike.

pub mod line_protocol;
pub mod query;
pub mod schema_check;

pub use line_protocol::{EncodeError, FieldValue, Point, Precision, Timestamp};
pub use schema_check::{assert_follows_schema, validate_against_schema};
