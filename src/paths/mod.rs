//! The path tracker: reads the agents' `traceroute` points back from the time-series
//! store (through its `Reader`, so the embedded store and InfluxDB alike) and records,
//! per (agent, test), the distinct paths and every change between successive runs'
//! paths with the hop diff ([`diff`]). Incremental: the metadata store keeps how far it
//! has read (`path_tracker`) and the newest run taken in per (agent, test)
//! (`path_state`), so a restart goes on where it stopped and nothing is counted twice.
//!
//! Each poll reads from the stored position minus [`LOOKBACK`] (points that reached the
//! store late, from an agent's spool after an outage, are still taken in while they are
//! no older than that) to a little past now. Runs older than an (agent, test)'s newest
//! recorded run are skipped: a change is always between two runs in time order. A run
//! with an `error` field says nothing reliable about the path and is skipped too.

pub mod diff;

use crate::http::AppState;
use crate::store::paths::PathRun;
use std::time::Duration;
use streamswarm_tsdb::query::{Query, RawQuery, ReadError, Selector, TimeRange, Value};

/// The measurement and fields read (declared in `schema/kinds/traceroute.toml`).
pub const MEASUREMENT: &str = "traceroute";
pub const HOP_MEASUREMENT: &str = "traceroute_hop";
const FIELDS: [&str; 3] = ["path", "path_hash", "error"];

/// How far before the stored position each poll reads again (late points).
pub const LOOKBACK: Duration = Duration::from_secs(120);
/// Where a tracker that never ran starts: this long before now.
pub const FIRST_START: Duration = Duration::from_secs(3600);
/// How far past now a poll reads (agents' clocks a little ahead of the server's).
pub const AHEAD: Duration = Duration::from_secs(60);
/// Most runs read per (agent, test) and poll; a series cut there is read on from its
/// newest run taken in at the next poll.
pub const ROWS_PER_POLL: usize = 10_000;

/// One poll at a time per process (the background task and a caller such as a test).
static POLL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    #[error("reading traceroute points: {0}")]
    Read(#[from] ReadError),
    #[error("metadata store: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollStats {
    pub runs: usize,
    pub changes: usize,
}

fn ns(d: Duration) -> i64 {
    d.as_nanos() as i64
}

/// Reads the new `traceroute` points and records their paths and changes.
pub async fn poll_once(state: &AppState) -> Result<PollStats, TrackError> {
    let _one = POLL.lock().await;
    let store = &state.store;
    let keep = state.config.paths.keep as i64;
    let now = store.clock().now_ns();
    let start = match store.path_tracker_position().await? {
        Some(p) => p.saturating_sub(ns(LOOKBACK)),
        None => now.saturating_sub(ns(FIRST_START)),
    }
    .max(0);
    let q = Query::Raw(RawQuery {
        selector: Selector {
            measurement: MEASUREMENT.into(),
            filters: vec![],
            range: TimeRange {
                start_ns: start,
                end_ns: now.saturating_add(ns(AHEAD)),
            },
        },
        fields: FIELDS.iter().map(|f| f.to_string()).collect(),
        group_by_tags: vec!["agent".into(), "test".into()],
        limit: ROWS_PER_POLL,
    });
    let series = state.timeseries.reader().query(&q).await?;
    let mut stats = PollStats::default();
    let mut next_position = now;
    for s in series {
        let (Some(agent), Some(test)) = (
            s.tags.get("agent").and_then(|a| a.parse::<i64>().ok()),
            s.tags.get("test").and_then(|t| t.parse::<i64>().ok()),
        ) else {
            continue;
        };
        if !store.agent_and_test_exist(agent, test).await? {
            continue;
        }
        let col = |name: &str| s.columns.iter().position(|c| c == name);
        let (Some(pc), Some(hc)) = (col("path"), col("path_hash")) else {
            continue;
        };
        let ec = col("error");
        let mut prev = store.path_state(agent, test).await?;
        let first_ttl = store.test_first_ttl(test).await?;
        let truncated = s.rows.len() >= ROWS_PER_POLL;
        let mut newest = prev.as_ref().map(|p| p.last_time_ns);
        for row in &s.rows {
            if prev.as_ref().is_some_and(|p| row.time_ns <= p.last_time_ns) {
                continue;
            }
            let text = |i: usize| match row.values.get(i) {
                Some(Some(Value::String(v))) => Some(v.as_str()),
                _ => None,
            };
            if ec.and_then(text).is_some_and(|e| !e.is_empty()) {
                continue;
            }
            let (Some(path), Some(hash)) = (text(pc), text(hc)) else {
                continue;
            };
            if path.trim().is_empty() || hash.is_empty() {
                continue;
            }
            let change = match &prev {
                Some(p) if p.hash != hash => Some((
                    p.hash.as_str(),
                    p.path.as_str(),
                    serde_json::to_string(&diff::diff(&p.path, path, first_ttl))
                        .expect("a diff serialises"),
                )),
                _ => None,
            };
            let changed = change.is_some();
            store
                .record_path_run(
                    &PathRun {
                        agent_id: agent,
                        test_id: test,
                        time_ns: row.time_ns,
                        hash,
                        path,
                        change,
                    },
                    keep,
                )
                .await?;
            stats.runs += 1;
            stats.changes += usize::from(changed);
            newest = Some(row.time_ns);
            prev = Some(crate::store::paths::PathState {
                last_time_ns: row.time_ns,
                hash: hash.to_owned(),
                path: path.to_owned(),
            });
        }
        if truncated && let Some(t) = newest {
            next_position = next_position.min(t.saturating_add(ns(LOOKBACK)));
        }
    }
    store.set_path_tracker_position(next_position).await?;
    Ok(stats)
}

/// The background task: a poll every `paths.poll_seconds`.
pub async fn track(state: std::sync::Arc<AppState>) {
    let mut tick =
        tokio::time::interval(Duration::from_secs(state.config.paths.poll_seconds.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match poll_once(&state).await {
            Ok(s) if s.changes > 0 => {
                tracing::info!(
                    runs = s.runs,
                    changes = s.changes,
                    "traceroute path changes recorded"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "path tracker poll failed; retrying"),
        }
    }
}
