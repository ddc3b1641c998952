//! The server's handle to its time-series store.
//!
//! Today that is always the [`embedded`] store (the zero-setup default of
//! `streamswarm up`); with InfluxDB configured it will be the InfluxDB client from
//! `streamswarm-tsdb`. Either way the UI and analytics only see a
//! [`Reader`](streamswarm_tsdb::query::Reader), so they never care which it is.

pub mod embedded;

use crate::config::TimeSeriesConfig;
use crate::settings::SettingsCache;
use crate::store::{Store, StoreError};
use anyhow::Context;
use embedded::{EmbeddedStore, RetentionDays};
use std::sync::Arc;
use std::time::Duration;
use streamswarm_tsdb::query::Reader;

/// How often dirty rollup buckets are recomputed: a chart of the last hour reads at
/// most this much data raw.
pub const ROLLUP_EVERY: Duration = Duration::from_secs(5);
/// How often retention runs (every this many rollup rounds: 10 minutes).
pub const RETENTION_EVERY_ROUNDS: u32 = 120;

#[derive(Clone)]
pub enum TimeSeries {
    Embedded(EmbeddedStore),
}

impl TimeSeries {
    pub async fn open(config: &TimeSeriesConfig) -> anyhow::Result<Self> {
        let store = EmbeddedStore::open(&config.embedded_path)
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
        }
    }

    /// The embedded store, which also takes writes on the InfluxDB-compatible endpoints.
    pub fn embedded(&self) -> Option<&EmbeddedStore> {
        match self {
            TimeSeries::Embedded(s) => Some(s),
        }
    }

    /// One round of upkeep: rollups, and retention when `with_retention`.
    pub async fn maintain(
        &self,
        store: &Store,
        settings: &SettingsCache,
        with_retention: bool,
    ) -> Result<(), StoreError> {
        let TimeSeries::Embedded(ts) = self;
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

    pub fn close(&self) {
        match self {
            TimeSeries::Embedded(s) => s.close(),
        }
    }
}
