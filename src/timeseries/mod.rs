//! The server's handle to its time-series store.
//!
//! The [`embedded`] store (the zero-setup default of `streamswarm up`), or with
//! `[influx]` configured the InfluxDB reader from `streamswarm-tsdb` (agents then write
//! to that InfluxDB, and the embedded store is not opened). Either way the UI and analytics only see a
//! [`Reader`](streamswarm_tsdb::query::Reader), so they never care which it is.

pub mod embedded;

use crate::config::{Config, TimeSeriesConfig};
use crate::settings::SettingsCache;
use crate::store::{Store, StoreError};
use anyhow::Context;
use embedded::{EmbeddedStore, RetentionDays};
use std::sync::Arc;
use std::time::Duration;
use streamswarm_tsdb::line_protocol::{Dynamic, Point, Precision as LineProtocolPrecision};
use streamswarm_tsdb::query::Reader;
use streamswarm_tsdb::read::InfluxReader;
use streamswarm_tsdb::write::Writer;

/// How long [`TimeSeries::write_points`] waits out InfluxDB's retries.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(30);

/// How often dirty rollup buckets are recomputed: a chart of the last hour reads at
/// most this much data raw.
pub const ROLLUP_EVERY: Duration = Duration::from_secs(5);
/// How often retention runs (every this many rollup rounds: 10 minutes).
pub const RETENTION_EVERY_ROUNDS: u32 = 120;

#[derive(Clone)]
pub enum TimeSeries {
    Embedded(EmbeddedStore),
    /// `[influx]`: reads go to InfluxDB; agents write there directly.
    Influx(InfluxReader),
}

impl TimeSeries {
    /// The configured store: InfluxDB when `influx.url` is set, else the embedded one.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        match &config.influx.0 {
            Some(target) => Ok(TimeSeries::Influx(
                InfluxReader::new(target.server.clone()).context("the [influx] configuration")?,
            )),
            None => Self::open_embedded(&config.timeseries).await,
        }
    }

    pub async fn open_embedded(config: &TimeSeriesConfig) -> anyhow::Result<Self> {
        let store = EmbeddedStore::open_with(&config.embedded_path, config.max_concurrent_writes)
            .await
            .with_context(|| {
                format!(
                    "opening the embedded time-series store {} (timeseries.embedded_path)",
                    config.embedded_path.display()
                )
            })?;
        Ok(TimeSeries::Embedded(store))
    }

    /// What the UI and analytics query.
    pub fn reader(&self) -> Arc<dyn Reader> {
        match self {
            TimeSeries::Embedded(s) => Arc::new(s.clone()),
            TimeSeries::Influx(r) => Arc::new(r.clone()),
        }
    }

    /// The embedded store, which also takes writes on the InfluxDB-compatible endpoints.
    pub fn embedded(&self) -> Option<&EmbeddedStore> {
        match self {
            TimeSeries::Embedded(s) => Some(s),
            TimeSeries::Influx(_) => None,
        }
    }

    /// One round of upkeep: rollups, and retention when `with_retention`.
    pub async fn maintain(
        &self,
        store: &Store,
        settings: &SettingsCache,
        with_retention: bool,
    ) -> Result<(), StoreError> {
        // InfluxDB keeps its own retention; only the embedded store needs upkeep.
        let TimeSeries::Embedded(ts) = self else {
            return Ok(());
        };
        let days = RetentionDays::from_settings(&settings.get(store).await?);
        let now = store.clock().now_ns();
        if with_retention {
            let trimmed = ts.maintain(now, days).await?;
            if trimmed != Default::default() {
                tracing::info!(
                    raw = trimmed.raw,
                    rollup_1m = trimmed.rollup_1m,
                    rollup_1h = trimmed.rollup_1h,
                    "time-series retention deleted old data"
                );
            }
        } else {
            ts.roll_up(days.cutoffs(now)).await?;
        }
        Ok(())
    }

    /// Writes points the server makes (the analytics findings): into the embedded store
    /// as an operator token would, or to InfluxDB with the `[influx]` credentials
    /// (waiting out retries for up to `WRITE_DEADLINE`). All of them or an error.
    pub async fn write_points(&self, points: &[Point<Dynamic>], now_ns: i64) -> anyhow::Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let encode = |precision| -> anyhow::Result<Vec<u8>> {
            let mut buf = Vec::new();
            for p in points {
                p.encode(&mut buf, precision)
                    .map_err(|e| anyhow::anyhow!("encoding a {} point: {e}", p.measurement()))?;
            }
            Ok(buf)
        };
        match self {
            TimeSeries::Embedded(s) => {
                let body = encode(LineProtocolPrecision::Nanoseconds)?;
                s.write(
                    bytes::Bytes::from(body),
                    false,
                    usize::MAX,
                    embedded::ingest::Precision::Nanoseconds,
                    now_ns,
                    embedded::policy::WritePolicy::FreeForm,
                )
                .await
                .map_err(|e| anyhow::anyhow!("writing to the embedded store: {e}"))?;
            }
            TimeSeries::Influx(r) => {
                let writer = Writer::from_client(r.client().clone());
                let body = encode(writer.precision())?;
                let lines = body.iter().filter(|b| **b == b'\n').count();
                let delivery = writer
                    .deliver(&body, tokio::time::Instant::now() + WRITE_DEADLINE)
                    .await;
                let accepted = delivery.lines_accepted();
                if accepted != lines {
                    anyhow::bail!(
                        "InfluxDB took {accepted} of {lines} lines ({} lost, unsent from byte {:?})",
                        delivery.lines_lost(),
                        delivery.unsent_from
                    );
                }
            }
        }
        Ok(())
    }

    pub fn close(&self) {
        match self {
            TimeSeries::Embedded(s) => s.close(),
            TimeSeries::Influx(_) => {}
        }
    }
}
