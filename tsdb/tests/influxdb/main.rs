//! The InfluxDB client at its boundary: against a REAL InfluxDB 1.6.7 (writes, reads,
//! injection) and against FAKE servers for the answers a real one cannot be made to give
//! on demand (`fake_server_*` tests).

mod fake_server;
mod support;

mod injection;
mod read_real;
mod write_fake;
mod write_real;
