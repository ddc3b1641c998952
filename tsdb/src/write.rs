//! Sending line protocol to InfluxDB: the [`Writer`] used by the agent and by the
//! analytics write-back.
//!
//! Three layers, so the rules can be tested without a network:
//! - [`policy`]: what an answer means ([`classify`]) and how long to wait ([`RetryPolicy`],
//!   [`Backoff`]); pure.
//! - [`batch`]: cutting lines into requests ([`batches`], [`Batcher`]) and halving on
//!   413 ([`split_point`]); pure.
//! - this file: the HTTP requests. [`Writer::send`] makes one request;
//!   [`Writer::send_splitting`] resolves 413s by halving; [`Writer::deliver`] also
//!   batches and waits out retries until a deadline.
//!
//! Every outcome is a [`WriteEvent`], logged here once and counted in [`WriteStats`], so
//! callers (the agent's spool, `/metrics`) see exactly what was sent, dropped or kept.
//! Data is only ever dropped when the server refused it (400/422) or a single line is
//! too large even alone (413); everything else keeps it for the caller to retry.

pub mod batch;
pub mod policy;

pub use batch::{BatchLimits, Batcher, Batches, batches, count_lines, split_point};
pub use policy::{
    Backoff, RetryPolicy, RetryReason, Verdict, classify, error_message, parse_retry_after,
};

use crate::influx::{ConfigError, InfluxClient, InfluxConfig};
use crate::line_protocol::Precision;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The result of one write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Stored (2xx).
    Accepted,
    /// Refused for its content (400/422): drop the batch and count it. `dropped_lines`
    /// is set when the server said how many lines it dropped (a partial write).
    Rejected {
        message: String,
        dropped_lines: Option<usize>,
    },
    /// Keep the batch and send it again after `after`.
    Retry {
        after: Duration,
        reason: RetryReason,
    },
    /// Too large for the server (413): split it and resend the halves.
    Split,
}

/// Something that happened to lines on their way to the store. Each is logged once by
/// the writer and counted in [`WriteStats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteEvent {
    Accepted {
        lines: usize,
        bytes: usize,
    },
    /// Lines lost because the server refused them (400/422).
    Rejected {
        lines: usize,
        message: String,
    },
    /// A single line the server still found too large (413): lost.
    DroppedTooLarge {
        bytes: usize,
    },
    /// A batch of `lines` answered 413 and was split in halves.
    Split {
        lines: usize,
    },
    /// A request failed; its lines are kept and will be resent after `after`.
    Retry {
        reason: RetryReason,
        after: Duration,
    },
}

impl WriteEvent {
    /// A stable label for metrics: `accepted`, `rejected`, `dropped_too_large`,
    /// `split`, `retry`.
    pub fn label(&self) -> &'static str {
        match self {
            WriteEvent::Accepted { .. } => "accepted",
            WriteEvent::Rejected { .. } => "rejected",
            WriteEvent::DroppedTooLarge { .. } => "dropped_too_large",
            WriteEvent::Split { .. } => "split",
            WriteEvent::Retry { .. } => "retry",
        }
    }

    /// How many lines this event lost for good.
    pub fn lines_lost(&self) -> usize {
        match self {
            WriteEvent::Rejected { lines, .. } => *lines,
            WriteEvent::DroppedTooLarge { .. } => 1,
            _ => 0,
        }
    }
}

/// Running totals of a writer's events, for `/metrics`.
#[derive(Debug, Default)]
pub struct WriteStats {
    requests: AtomicU64,
    lines_accepted: AtomicU64,
    bytes_accepted: AtomicU64,
    lines_rejected: AtomicU64,
    lines_too_large: AtomicU64,
    splits: AtomicU64,
    retries: AtomicU64,
    alarms: AtomicU64,
}

/// A copy of [`WriteStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStatsSnapshot {
    /// HTTP requests made (answered or not).
    pub requests: u64,
    pub lines_accepted: u64,
    /// Uncompressed bytes of accepted batches.
    pub bytes_accepted: u64,
    /// Lines lost to 400/422 answers.
    pub lines_rejected: u64,
    /// Lines lost because even alone they were too large (413).
    pub lines_too_large: u64,
    pub splits: u64,
    /// Requests whose batch was kept for a retry.
    pub retries: u64,
    /// Of those, the ones an operator must look at (401/403/404/unexpected answers).
    pub alarms: u64,
}

impl WriteStats {
    fn record(&self, event: &WriteEvent) {
        let add = |counter: &AtomicU64, n: usize| {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        };
        match event {
            WriteEvent::Accepted { lines, bytes } => {
                add(&self.lines_accepted, *lines);
                add(&self.bytes_accepted, *bytes);
            }
            WriteEvent::Rejected { lines, .. } => add(&self.lines_rejected, *lines),
            WriteEvent::DroppedTooLarge { .. } => add(&self.lines_too_large, 1),
            WriteEvent::Split { .. } => add(&self.splits, 1),
            WriteEvent::Retry { reason, .. } => {
                add(&self.retries, 1);
                if reason.is_alarm() {
                    add(&self.alarms, 1);
                }
            }
        }
    }

    pub fn snapshot(&self) -> WriteStatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WriteStatsSnapshot {
            requests: get(&self.requests),
            lines_accepted: get(&self.lines_accepted),
            bytes_accepted: get(&self.bytes_accepted),
            lines_rejected: get(&self.lines_rejected),
            lines_too_large: get(&self.lines_too_large),
            splits: get(&self.splits),
            retries: get(&self.retries),
            alarms: get(&self.alarms),
        }
    }
}

/// What became of one batch handed to [`Writer::send_splitting`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    pub events: Vec<WriteEvent>,
    /// `Some` when a request must be retried: everything from byte `from` of the batch
    /// on is unsent (earlier parts were accepted or dropped) and should be sent again
    /// after `after`.
    pub unsent: Option<Unsent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    pub from: usize,
    pub after: Duration,
    pub reason: RetryReason,
}

/// What became of the lines handed to [`Writer::deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub events: Vec<WriteEvent>,
    /// `Some(offset)` when the deadline came first: lines from this byte on are unsent.
    pub unsent_from: Option<usize>,
}

impl Delivery {
    pub fn lines_accepted(&self) -> usize {
        self.events
            .iter()
            .map(|e| match e {
                WriteEvent::Accepted { lines, .. } => *lines,
                _ => 0,
            })
            .sum()
    }

    pub fn lines_lost(&self) -> usize {
        self.events.iter().map(WriteEvent::lines_lost).sum()
    }
}

/// Writes encoded line protocol to the configured InfluxDB.
///
/// Cheap to clone (clones share the connection pool, the statistics and the failure
/// count). The consecutive-failure count is per writer rather than per batch: it
/// describes the server's health, so a new batch does not restart the backoff while the
/// server is still down.
#[derive(Debug, Clone)]
pub struct Writer {
    client: InfluxClient,
    policy: RetryPolicy,
    gzip: bool,
    limits: BatchLimits,
    state: std::sync::Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: AtomicU32,
    stats: WriteStats,
}

/// The most of an error answer we read: enough for any InfluxDB message, and a
/// misconfigured URL pointing at a large page cannot make us buffer it.
const MAX_ERROR_BODY: usize = 64 * 1024;

impl Writer {
    /// A writer with the default [`RetryPolicy`].
    pub fn new(config: InfluxConfig) -> Result<Self, ConfigError> {
        Ok(Self::from_client(InfluxClient::new(config)?))
    }

    /// A writer sharing `client`'s connection pool (e.g. with an `InfluxReader`).
    pub fn from_client(client: InfluxClient) -> Self {
        let config = client.config();
        Writer {
            gzip: config.gzip,
            limits: config.batch_limits(),
            client,
            policy: RetryPolicy::default(),
            state: Default::default(),
        }
    }

    /// Replaces the waiting policy (tests use milliseconds).
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The precision the lines must be encoded in (it is sent as the request's
    /// `precision` parameter).
    pub fn precision(&self) -> Precision {
        self.client.config().precision
    }

    pub fn limits(&self) -> BatchLimits {
        self.limits
    }

    pub fn stats(&self) -> WriteStatsSnapshot {
        self.state.stats.snapshot()
    }

    /// Consecutive failed requests since the last answered one.
    pub fn consecutive_failures(&self) -> u32 {
        self.state.failures.load(Ordering::Relaxed)
    }

    /// `GET /ping` on the write target: a cheap "is it back?" while a batch waits out
    /// its backoff (InfluxDB and the server's embedded store both answer 204).
    pub async fn ping(&self) -> Result<(), String> {
        self.client.ping().await
    }

    /// Sends one batch as one request and says what to do next. Nothing is logged or
    /// counted here beyond the request count: callers use [`Self::send_splitting`] or
    /// [`Self::deliver`], which turn outcomes into events.
    pub async fn send(&self, batch: &[u8]) -> WriteOutcome {
        self.state.stats.requests.fetch_add(1, Ordering::Relaxed);
        let body = if self.gzip {
            gzip(batch)
        } else {
            batch.to_vec()
        };
        let verdict = match self.client.post_write(body, self.gzip).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let message = if response.status().is_success() {
                    String::new()
                } else {
                    error_message(&read_capped(response, MAX_ERROR_BODY).await)
                };
                classify(status, &message, retry_after.as_deref(), SystemTime::now())
            }
            Err(e) => Verdict::Retry {
                reason: RetryReason::Connection {
                    message: describe(&e),
                },
                retry_after: None,
            },
        };
        match verdict {
            Verdict::Accepted => {
                self.state.failures.store(0, Ordering::Relaxed);
                WriteOutcome::Accepted
            }
            Verdict::Rejected {
                message,
                dropped_lines,
            } => {
                self.state.failures.store(0, Ordering::Relaxed);
                WriteOutcome::Rejected {
                    message,
                    dropped_lines,
                }
            }
            Verdict::Split => {
                self.state.failures.store(0, Ordering::Relaxed);
                WriteOutcome::Split
            }
            Verdict::Retry {
                reason,
                retry_after,
            } => {
                let failures = self
                    .state
                    .failures
                    .fetch_add(1, Ordering::Relaxed)
                    .saturating_add(1);
                let after =
                    self.policy
                        .delay(&reason, retry_after, failures, rand::random::<f64>());
                WriteOutcome::Retry { after, reason }
            }
        }
    }

    /// Sends one batch; on 413 splits it in halves and sends those (recursively). A
    /// single line that still gets 413 is dropped and counted. Stops at the first
    /// answer that calls for a retry and reports where the unsent part starts.
    pub async fn send_splitting(&self, batch: &[u8]) -> SendReport {
        let mut events = Vec::new();
        // Ranges still to send, the next one last; they are consecutive, so when one
        // must be retried, it and everything after it form one unsent tail.
        let mut pending = vec![(0, batch.len())];
        while let Some((start, end)) = pending.pop() {
            let piece = &batch[start..end];
            let lines = count_lines(piece);
            if lines == 0 {
                continue;
            }
            let event = match self.send(piece).await {
                WriteOutcome::Accepted => WriteEvent::Accepted {
                    lines,
                    bytes: piece.len(),
                },
                WriteOutcome::Rejected {
                    message,
                    dropped_lines,
                } => WriteEvent::Rejected {
                    lines: dropped_lines.map_or(lines, |n| n.min(lines)),
                    message,
                },
                WriteOutcome::Split => match split_point(piece) {
                    Some(mid) => {
                        pending.push((start + mid, end));
                        pending.push((start, start + mid));
                        WriteEvent::Split { lines }
                    }
                    None => WriteEvent::DroppedTooLarge { bytes: piece.len() },
                },
                WriteOutcome::Retry { after, reason } => {
                    let event = WriteEvent::Retry {
                        reason: reason.clone(),
                        after,
                    };
                    self.observe(&event);
                    events.push(event);
                    return SendReport {
                        events,
                        unsent: Some(Unsent {
                            from: start,
                            after,
                            reason,
                        }),
                    };
                }
            };
            self.observe(&event);
            events.push(event);
        }
        SendReport {
            events,
            unsent: None,
        }
    }

    /// Writes all of `lines` (any number, cut into batches within the configured
    /// limits), waiting out retries, until done or until waiting would pass
    /// `deadline`. Used where there is no spool to keep unsent lines in (analytics
    /// write-back); the caller decides what to do with an unsent tail.
    pub async fn deliver(&self, lines: &[u8], deadline: tokio::time::Instant) -> Delivery {
        let mut events = Vec::new();
        let mut cut = batches(lines, self.limits);
        while let Some((start, batch)) = cut.next_with_offset() {
            let mut from = 0;
            loop {
                let report = self.send_splitting(&batch[from..]).await;
                events.extend(report.events);
                let Some(unsent) = report.unsent else { break };
                from += unsent.from;
                let wake = tokio::time::Instant::now() + unsent.after;
                if wake > deadline {
                    return Delivery {
                        events,
                        unsent_from: Some(start + from),
                    };
                }
                tokio::time::sleep_until(wake).await;
            }
        }
        Delivery {
            events,
            unsent_from: None,
        }
    }

    /// Logs and counts an event. Errors only where data was lost or an operator must
    /// act; transient trouble is a warning.
    fn observe(&self, event: &WriteEvent) {
        self.state.stats.record(event);
        let url = self.client.write_url().as_str();
        match event {
            WriteEvent::Accepted { lines, bytes } => {
                tracing::debug!(lines, bytes, "influx write accepted");
            }
            WriteEvent::Rejected { lines, message } => {
                tracing::error!(lines, %message, url, "influx refused lines; they are dropped");
            }
            WriteEvent::DroppedTooLarge { bytes } => {
                tracing::error!(
                    bytes,
                    url,
                    "influx refused a single line as too large (413); it is dropped"
                );
            }
            WriteEvent::Split { lines } => {
                tracing::info!(
                    lines,
                    url,
                    "influx said the batch is too large (413); sending it in halves"
                );
            }
            WriteEvent::Retry { reason, after } if reason.is_alarm() => {
                tracing::error!(%reason, retry_in = ?after, url, "influx write refused; check influx.url, the database/bucket and the credentials; data is kept");
            }
            WriteEvent::Retry { reason, after } => {
                tracing::warn!(%reason, retry_in = ?after, url, "influx write failed; data is kept and retried");
            }
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    // Level 1: line protocol is so repetitive that the fastest level already shrinks it
    // several times, and agents run on small hosts where CPU matters more than the
    // last few percent.
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::fast());
    encoder
        .write_all(data)
        .expect("writing into a Vec cannot fail");
    encoder.finish().expect("writing into a Vec cannot fail")
}

/// Reads at most `cap` bytes of the answer body; the rest is discarded.
pub(crate) async fn read_capped(mut response: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = cap - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == cap {
            break;
        }
    }
    body
}

/// A connection error without the URL (it is logged separately) but with its causes:
/// reqwest's top-level message alone ("error sending request") says little.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;
        let data = b"m,t=a v=1 1\n".repeat(100);
        let packed = gzip(&data);
        assert!(packed.len() < data.len() / 4);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn events_say_what_was_lost() {
        let lost: usize = [
            WriteEvent::Accepted { lines: 5, bytes: 9 },
            WriteEvent::Rejected {
                lines: 3,
                message: String::new(),
            },
            WriteEvent::DroppedTooLarge { bytes: 10 },
            WriteEvent::Split { lines: 8 },
        ]
        .iter()
        .map(WriteEvent::lines_lost)
        .sum();
        assert_eq!(lost, 4);
    }
}
