//! StreamSwarm's time-series core.
//!
//! - [`line_protocol`]: the InfluxDB line-protocol encoder. Pure: no I/O, no clock.
//! - [`schema_check`]: compares points with `schema/measurements.toml`
//!   (`streamswarm_schema::measurements`), the check every writer's tests run.
//! - [`query`]: the product's query set as data, answered by InfluxDB and the embedded store alike.
//! - [`influx`]: `[influx]` configuration and the HTTP client shared by writer and reader.
//! - [`write`](mod@write): the [`Writer`] (batches, gzip, the status/backoff policy) used by the
//!   agent and the analytics write-back.
//! - [`influxql`]: renders [`query::Query`] as InfluxQL, quoting every name and value.
//! - [`read`]: the [`InfluxReader`], `query::Reader` over InfluxQL `/query`.

pub mod influx;
pub mod influxql;
pub mod line_protocol;
pub mod query;
pub mod read;
pub mod schema_check;
pub mod write;

pub use influx::{ConfigError, InfluxClient, InfluxConfig, InfluxVersion};
pub use line_protocol::{EncodeError, FieldValue, Point, Precision, Timestamp};
pub use read::InfluxReader;
pub use schema_check::{assert_follows_schema, validate_against_schema};
pub use write::{BatchLimits, Batcher, RetryPolicy, WriteEvent, WriteOutcome, Writer};
