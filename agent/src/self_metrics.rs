//! The agent's report on itself: every interval one `agent_self` point and one
//! `agent_drops` point per reason (zero included), exactly as `schema/measurements.toml`
//! defines them, written through the same spool as the probes' points; and the same
//! numbers on a local Prometheus endpoint (`GET /metrics`), when configured.
//!
//! Every number is read from its source: the pipeline's counters, the spool's own
//! statistics (bytes, oldest unsent record, `spool_full` drops) and the scheduler's
//! statistics. The endpoint serves the latest sample, so both views always agree.

use crate::delivery::CountersSnapshot;
use crate::scheduler_seam::SchedulerStats;
use crate::spool::SpoolStats;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use streamswarm_schema::measurements::{agent_drops, agent_self};
use streamswarm_tsdb::line_protocol::{Point, Timestamp};
use warp::Filter as _;

/// The drop reasons of the schema's `reason` tag, in its order.
pub const DROP_REASONS: [&str; 3] = ["spool_full", "rejected", "encode_error"];

/// One sample of the agent's state.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SelfSample {
    pub counters: CountersSnapshot,
    pub spool: SpoolStats,
    pub scheduler: SchedulerStats,
    pub uptime: Duration,
    /// The server's clock minus the agent's (ms), from the last answered heartbeat.
    pub clock_offset_ms: Option<f64>,
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl SelfSample {
    /// Points dropped for `reason` (one of [`DROP_REASONS`]).
    pub fn dropped(&self, reason: &str) -> u64 {
        match reason {
            "spool_full" => self.spool.dropped_spool_full,
            "rejected" => self.counters.dropped_rejected,
            "encode_error" => self.counters.dropped_encode_error,
            _ => 0,
        }
    }

    pub fn oldest_unsent_age_s(&self) -> f64 {
        self.spool
            .oldest_pending_age
            .map_or(0.0, |age| age.as_secs_f64())
    }

    /// The `agent_self` point and one `agent_drops` point per reason, stamped `time`.
    pub fn to_points(&self, agent_id: i64, time: SystemTime) -> Vec<Point> {
        let ts = Timestamp::from_system_time(time).expect("the clock is within 1677..2262");
        let agent = agent_id.to_string();
        let c = &self.counters;
        let mut points = vec![
            Point::new(agent_self::MEASUREMENT)
                .tag(agent_self::tags::AGENT, agent.clone())
                .field(
                    agent_self::fields::POINTS_PRODUCED_TOTAL,
                    int(c.points_produced),
                )
                .field(agent_self::fields::POINTS_SENT_TOTAL, int(c.points_sent))
                .field(agent_self::fields::BATCHES_SENT_TOTAL, int(c.batches_sent))
                .field(
                    agent_self::fields::BATCHES_RETRIED_TOTAL,
                    int(c.batches_retried),
                )
                .field(
                    agent_self::fields::SPOOL_BYTES,
                    int(self.spool.bytes_on_disk),
                )
                .field(
                    agent_self::fields::OLDEST_UNSENT_AGE_S,
                    self.oldest_unsent_age_s(),
                )
                .field(
                    agent_self::fields::PROBE_ERRORS_TOTAL,
                    int(self.scheduler.probe_errors_total),
                )
                .field(
                    agent_self::fields::SCHEDULE_LAG_MAX_MS,
                    self.scheduler.schedule_lag_max_ms,
                )
                .field(agent_self::fields::UPTIME_S, int(self.uptime.as_secs()))
                .field_opt(agent_self::fields::CLOCK_OFFSET_MS, self.clock_offset_ms)
                .timestamp(ts)
                .into_dynamic(),
        ];
        for reason in DROP_REASONS {
            points.push(
                Point::new(agent_drops::MEASUREMENT)
                    .tag(agent_drops::tags::AGENT, agent.clone())
                    .tag(agent_drops::tags::REASON, reason)
                    .field(agent_drops::fields::POINTS_TOTAL, int(self.dropped(reason)))
                    .timestamp(ts)
                    .into_dynamic(),
            );
        }
        points
    }

    /// The sample in the Prometheus text exposition format (OpenMetrics).
    pub fn to_prometheus(&self) -> String {
        let mut registry = Registry::with_prefix("streamswarm_agent");
        let c = &self.counters;
        let counters: [(&str, &str, u64); 6] = [
            (
                "points_produced",
                "Points the probes produced and the encoder accepted",
                c.points_produced,
            ),
            (
                "points_sent",
                "Points the time-series store acknowledged",
                c.points_sent,
            ),
            (
                "batches_sent",
                "Write requests the time-series store acknowledged",
                c.batches_sent,
            ),
            (
                "batches_retried",
                "Write requests sent again after a failure",
                c.batches_retried,
            ),
            (
                "probe_errors",
                "Probe runs that failed inside the agent",
                self.scheduler.probe_errors_total,
            ),
            (
                "spool_corrupt_records",
                "Damaged spool records skipped",
                self.spool.corrupt_records,
            ),
        ];
        for (name, help, value) in counters {
            registry.register(name, help, ConstCounter::new(value));
        }
        registry.register(
            "spool_append_errors",
            "Points lost because the spool could not be written",
            ConstCounter::new(c.append_errors),
        );
        let drops =
            Family::<Vec<(String, String)>, prometheus_client::metrics::counter::Counter>::default(
            );
        for reason in DROP_REASONS {
            drops
                .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
                .inc_by(self.dropped(reason));
        }
        registry.register("points_dropped", "Points discarded, by reason", drops);
        registry.register(
            "spool_bytes",
            "Size of the on-disk spool",
            ConstGauge::new(int(self.spool.bytes_on_disk)),
        );
        registry.register(
            "spool_pending_records",
            "Records waiting to be sent",
            ConstGauge::new(int(self.spool.records_pending)),
        );
        let age: Gauge<f64, AtomicU64> = Gauge::default();
        age.set(self.oldest_unsent_age_s());
        registry.register(
            "oldest_unsent_age_seconds",
            "Age of the oldest point not yet acknowledged (0 when nothing is waiting)",
            age,
        );
        let lag: Gauge<f64, AtomicU64> = Gauge::default();
        lag.set(self.scheduler.schedule_lag_max_ms);
        registry.register(
            "schedule_lag_max_milliseconds",
            "Largest delay between a run's scheduled and actual start in the last interval",
            lag,
        );
        if let Some(offset) = self.clock_offset_ms {
            let g: Gauge<f64, AtomicU64> = Gauge::default();
            g.set(offset / 1000.0);
            registry.register(
                "clock_offset_seconds",
                "The server's clock minus the agent's, estimated at the last heartbeat",
                g,
            );
        }
        registry.register(
            "uptime_seconds",
            "Time since the agent process started",
            ConstGauge::new(int(self.uptime.as_secs())),
        );
        let mut text = String::new();
        encode(&mut text, &registry).expect("writing to a String does not fail");
        text
    }
}

/// The latest sample, shared with the Prometheus endpoint.
pub type Latest = Arc<RwLock<SelfSample>>;

/// Serves `GET /metrics` on `addr` until `shutdown`; returns the bound address.
pub async fn serve_prometheus(
    addr: SocketAddr,
    latest: Latest,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let route = warp::path!("metrics").and(warp::get()).map(move || {
        let text = latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .to_prometheus();
        warp::http::Response::builder()
            .header(
                "content-type",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
            .body(text)
    });
    let task = tokio::spawn(
        warp::serve(route)
            .incoming(listener)
            .graceful(shutdown)
            .run(),
    );
    Ok((bound, task))
}
