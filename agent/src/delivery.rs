//! From probe points to the time-series store, losing nothing:
//!
//! ```text
//! scheduler ──Vec<Point>──▶ encoder task ──lines──▶ Spool (disk) ──▶ delivery task ──▶ Writer
//!                          (ns precision)          append           next_batch → send_splitting → ack
//! ```
//!
//! - The encoder writes each point as one line in nanosecond precision and appends the
//!   lines of one run with one `append_lines` (on the blocking pool: the spool is
//!   synchronous file I/O). A point the encoder refuses is counted (`encode_error`).
//! - The delivery task reads the oldest unacknowledged lines, sends them with
//!   [`Writer::send_splitting`] and acknowledges exactly what the store accepted or
//!   refused for good: 400/422 drops the batch (counted `rejected`), 413 splits it,
//!   429/503/5xx and connection errors keep it and wait as the writer's policy says.
//! - 401/403 means the credential is revoked: the task returns
//!   [`DeliveryExit::Unauthorized`] with the data still in the spool.
//! - **Back as soon as the store is.** When the store did not answer at all (connection
//!   refused, reset, timeout; or a gateway's 502/504), the wait is cut short by either
//!   sign that it is back: the runtime's heartbeat reaching the server again
//!   ([`Pipeline::store_reachable`]), or the store answering `GET /ping` (tried every
//!   [`REACHABILITY_PROBE_INTERVAL`] while waiting, each try bounded by
//!   [`REACHABILITY_PROBE_TIMEOUT`]). After a retry that `/ping` triggered fails the same
//!   way, `/ping` must be seen failing before it may trigger another, so a store that
//!   answers `/ping` but drops writes is retried on the backoff, not every second. A
//!   store that answered (throttling, other 5xx, an alarm) is waited out as it asked.
//! - A full spool drops its oldest segment; the spool counts those (`spool_full`).

use crate::spool::{OpenReport, Spool, SpoolConfig, SpoolError, SpoolStats};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use streamswarm_tsdb::line_protocol::{Point, Precision};
use streamswarm_tsdb::write::{RetryReason, WriteEvent, Writer};
use tokio::sync::{Notify, mpsc, watch};

/// How often a waiting delivery asks the store `GET /ping` while it does not answer.
pub const REACHABILITY_PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The longest one `GET /ping` may take (a blackholed host never answers).
pub const REACHABILITY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Every line goes out in nanoseconds: two points of one series measured within the
/// same coarser unit would overwrite each other.
pub const PRECISION: Precision = Precision::Nanoseconds;

/// Counters of the pipeline since the process started (the spool keeps its own).
#[derive(Debug, Default)]
pub struct Counters {
    pub points_produced: AtomicU64,
    pub points_sent: AtomicU64,
    pub batches_sent: AtomicU64,
    pub batches_retried: AtomicU64,
    pub dropped_rejected: AtomicU64,
    pub dropped_encode_error: AtomicU64,
    /// Points lost because the spool could not be written (disk errors); logged and
    /// shown on `/metrics` (the schema's drop reasons do not name this one).
    pub append_errors: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    pub points_produced: u64,
    pub points_sent: u64,
    pub batches_sent: u64,
    pub batches_retried: u64,
    pub dropped_rejected: u64,
    pub dropped_encode_error: u64,
    pub append_errors: u64,
}

impl Counters {
    pub fn snapshot(&self) -> CountersSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CountersSnapshot {
            points_produced: g(&self.points_produced),
            points_sent: g(&self.points_sent),
            batches_sent: g(&self.batches_sent),
            batches_retried: g(&self.batches_retried),
            dropped_rejected: g(&self.dropped_rejected),
            dropped_encode_error: g(&self.dropped_encode_error),
            append_errors: g(&self.append_errors),
        }
    }
}

/// The spool shared by the encoder and the delivery task, with the counters.
#[derive(Debug, Clone)]
pub struct Pipeline {
    spool: Arc<Mutex<Spool>>,
    counters: Arc<Counters>,
    appended: Arc<Notify>,
    reachable: Arc<Notify>,
}

/// How the delivery task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryExit {
    /// Asked to stop.
    Stopped,
    /// The store refused the credential (401/403); the unsent data stays spooled.
    Unauthorized { message: String },
}

impl Pipeline {
    /// Opens (or creates) the spool in `dir`; what it found is logged and returned.
    pub async fn open(
        dir: impl AsRef<Path>,
        config: SpoolConfig,
    ) -> Result<(Self, OpenReport), SpoolError> {
        let dir = dir.as_ref().to_owned();
        let (spool, report) = tokio::task::spawn_blocking(move || Spool::open(dir, config))
            .await
            .expect("spool open does not panic")?;
        if report.records_pending > 0 || report.corrupt_records_skipped > 0 {
            tracing::info!(
                pending = report.records_pending,
                corrupt_skipped = report.corrupt_records_skipped,
                dropped_spool_full = report.dropped_spool_full,
                "spool opened with data from an earlier run; sending it first"
            );
        }
        Ok((
            Pipeline {
                spool: Arc::new(Mutex::new(spool)),
                counters: Arc::default(),
                appended: Arc::default(),
                reachable: Arc::default(),
            },
            report,
        ))
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Tells the delivery task the store is probably reachable again (the server
    /// answered a heartbeat after an outage): a wait for an unreachable store ends now.
    /// When no wait is in progress the next one ends at once (one early retry at most).
    pub fn store_reachable(&self) {
        self.reachable.notify_one();
    }

    async fn with_spool<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Spool) -> T + Send + 'static,
    ) -> T {
        let spool = self.spool.clone();
        tokio::task::spawn_blocking(move || f(&mut spool.lock().unwrap_or_else(|e| e.into_inner())))
            .await
            .expect("spool work does not panic")
    }

    pub async fn spool_stats(&self) -> SpoolStats {
        self.with_spool(|s| s.stats()).await
    }

    /// Syncs the spool to disk (shutdown, fsync interval).
    pub async fn sync(&self) -> Result<(), SpoolError> {
        self.with_spool(|s| s.sync()).await
    }

    /// Encodes `points` and appends their lines to the spool. Returns how many were
    /// appended.
    pub async fn append_points(&self, points: Vec<Point>) -> usize {
        let mut buf = String::new();
        let mut count = 0;
        for point in &points {
            match point.encode(&mut buf, PRECISION) {
                Ok(()) => count += 1,
                Err(e) => {
                    self.counters
                        .dropped_encode_error
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(measurement = point.measurement(), error = %e, "the encoder refused a point; it is dropped");
                }
            }
        }
        if count == 0 {
            return 0;
        }
        let result = self
            .with_spool(move |s| s.append_lines(buf.lines().map(str::as_bytes)))
            .await;
        match result {
            Ok(()) => {
                self.counters
                    .points_produced
                    .fetch_add(count as u64, Ordering::Relaxed);
                self.appended.notify_one();
                count
            }
            Err(e) => {
                self.counters
                    .append_errors
                    .fetch_add(count as u64, Ordering::Relaxed);
                tracing::error!(points = count, error = %e, "cannot append to the spool; these points are lost");
                0
            }
        }
    }

    /// Appends every batch of points from `points` until the channel closes (all
    /// senders dropped), then returns.
    pub fn spawn_encoder(
        &self,
        mut points: mpsc::Receiver<Vec<Point>>,
    ) -> tokio::task::JoinHandle<()> {
        let pipeline = self.clone();
        tokio::spawn(async move {
            // Every run's points already queued go to the spool together: one blocking
            // hand-off (and under `fsync = "always"` one sync) per wake-up, not per run,
            // which is what keeps thousands of runs a second cheap (bench/README.md).
            let mut runs = Vec::new();
            while points.recv_many(&mut runs, 1024).await > 0 {
                pipeline
                    .append_points(runs.drain(..).flatten().collect())
                    .await;
            }
        })
    }

    fn count(&self, events: &[WriteEvent]) {
        for event in events {
            match event {
                WriteEvent::Accepted { lines, .. } => {
                    self.counters
                        .points_sent
                        .fetch_add(*lines as u64, Ordering::Relaxed);
                    self.counters.batches_sent.fetch_add(1, Ordering::Relaxed);
                }
                WriteEvent::Rejected { lines, .. } => {
                    self.counters
                        .dropped_rejected
                        .fetch_add(*lines as u64, Ordering::Relaxed);
                }
                WriteEvent::DroppedTooLarge { .. } => {
                    self.counters
                        .dropped_rejected
                        .fetch_add(1, Ordering::Relaxed);
                }
                WriteEvent::Retry { .. } => {
                    self.counters
                        .batches_retried
                        .fetch_add(1, Ordering::Relaxed);
                }
                WriteEvent::Split { .. } => {}
            }
        }
    }

    /// Sends the oldest unsent batch once and acknowledges what the store took.
    /// `Ok(None)`: nothing to send; `Ok(Some(None))`: done; `Ok(Some(Some((reason,
    /// after))))`: the rest must wait.
    async fn send_one(
        &self,
        writer: &Writer,
    ) -> Result<Option<Option<(RetryReason, Duration)>>, SpoolError> {
        let limits = writer.limits();
        let batch = self
            .with_spool(move |s| s.next_batch(limits.max_lines, limits.max_bytes))
            .await?;
        let Some(batch) = batch else {
            return Ok(None);
        };
        let report = writer.send_splitting(batch.lines()).await;
        self.count(&report.events);
        let (cursor, retry) = match report.unsent {
            None => (Some(batch.cursor()), None),
            Some(unsent) => (
                batch.cursor_before(unsent.from),
                Some((unsent.reason, unsent.after)),
            ),
        };
        match cursor {
            Some(cursor) => self.with_spool(move |s| s.ack(cursor)).await?,
            None => self.with_spool(|s| s.release().map(|()| 0)).await?,
        };
        Ok(Some(retry))
    }

    /// The delivery loop: runs until `stop` turns true or the credential is refused.
    pub async fn deliver(&self, writer: Writer, mut stop: watch::Receiver<bool>) -> DeliveryExit {
        // Whether an answered `/ping` may end the next wait (see the module doc).
        let mut ping_trusted = true;
        let mut woken = Woken::Timer;
        loop {
            if *stop.borrow() {
                return DeliveryExit::Stopped;
            }
            let (wait, unreachable) = match self.send_one(&writer).await {
                Ok(None) => {
                    tokio::select! {
                        _ = self.appended.notified() => {}
                        _ = stop.changed() => {}
                        // Appends from another process are not notified; poll now and then.
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
                Ok(Some(None)) => {
                    // The store took the batch: whatever woke us was right.
                    ping_trusted = true;
                    woken = Woken::Timer;
                    continue;
                }
                Ok(Some(Some((RetryReason::Unauthorized { status, message }, _)))) => {
                    return DeliveryExit::Unauthorized {
                        message: format!("{status}: {message}"),
                    };
                }
                Ok(Some(Some((reason, after)))) => (after, unanswered(&reason)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the spool; retrying in 5 s");
                    (Duration::from_secs(5), false)
                }
            };
            if unreachable {
                if woken == Woken::Ping {
                    ping_trusted = false;
                }
                woken = self
                    .wait_until_reachable(&writer, wait, &mut stop, &mut ping_trusted)
                    .await;
            } else {
                woken = Woken::Timer;
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Waits out `wait` after the store did not answer, unless it is back sooner: the
    /// runtime says so ([`Self::store_reachable`]) or it answers `GET /ping` (only after
    /// failing one first, unless `ping_trusted`; a failed `/ping` restores the trust).
    async fn wait_until_reachable(
        &self,
        writer: &Writer,
        wait: Duration,
        stop: &mut watch::Receiver<bool>,
        ping_trusted: &mut bool,
    ) -> Woken {
        let deadline = tokio::time::Instant::now() + wait;
        let trusted = AtomicBool::new(*ping_trusted);
        let answers_ping = async {
            loop {
                tokio::time::sleep(REACHABILITY_PROBE_INTERVAL).await;
                match tokio::time::timeout(REACHABILITY_PROBE_TIMEOUT, writer.ping()).await {
                    Ok(Ok(())) if trusted.load(Ordering::Relaxed) => return,
                    Ok(Ok(())) => {}
                    _ => trusted.store(true, Ordering::Relaxed),
                }
            }
        };
        let woken = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => Woken::Timer,
            _ = self.reachable.notified() => {
                tracing::debug!("the server is reachable again; sending the backlog now");
                Woken::Heartbeat
            }
            _ = answers_ping => {
                tracing::debug!("the write target answers /ping again; sending the backlog now");
                Woken::Ping
            }
            _ = stop.changed() => Woken::Timer,
        };
        *ping_trusted = trusted.load(Ordering::Relaxed);
        woken
    }

    /// At shutdown: sends what it can until the store asks to wait, the spool is empty
    /// or `deadline` passes. The rest stays spooled for the next start.
    pub async fn flush(&self, writer: &Writer, deadline: tokio::time::Instant) {
        loop {
            match tokio::time::timeout_at(deadline, self.send_one(writer)).await {
                Ok(Ok(Some(None))) => continue,
                Ok(Ok(None)) => return,
                Ok(Ok(Some(Some(_)))) | Ok(Err(_)) | Err(_) => {
                    let pending = self.spool_stats().await.records_pending;
                    if pending > 0 {
                        tracing::info!(
                            pending,
                            "shutting down with unsent points; they stay in the spool for the next start"
                        );
                    }
                    return;
                }
            }
        }
    }
}

/// What ended a wait for an unreachable store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woken {
    /// Its time was up (or the task is stopping).
    Timer,
    /// The runtime's heartbeat reached the server again.
    Heartbeat,
    /// The store answered `GET /ping`.
    Ping,
}

/// Whether a retry reason means the store did not answer at all (so its return is worth
/// watching for), as opposed to answering "wait" or "fix me".
fn unanswered(reason: &RetryReason) -> bool {
    match reason {
        RetryReason::Connection { .. } => true,
        // A gateway saying its backend is down or silent.
        RetryReason::ServerError { status, .. } => matches!(status, 502 | 504),
        _ => false,
    }
}
