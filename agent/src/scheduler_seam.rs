//! The seam between the agent's lifecycle (`runtime`) and its scheduler
//! (`agent/src/schedule/`, built on its own branch). The runtime only needs to start a
//! scheduler, hand it tests, read its statistics and stop it; it does so through
//! [`Scheduler`] and a [`SpawnScheduler`] function, so it is built and tested without
//! the real scheduler.
//!
//! The types mirror the scheduler's interface (`schedule::{AssignedTest,
//! SchedulerConfig, spawn, SchedulerHandle}`). **When the scheduler lands**, these
//! types become re-exports of `crate::schedule`'s, `impl Scheduler for
//! schedule::SchedulerHandle` maps its stats, and [`default_spawner`] returns
//! `schedule::spawn`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use streamswarm_tsdb::line_protocol::Point;
use tokio::sync::mpsc;

/// A test the server assigned, read and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignedTest {
    pub id: i64,
    pub name: String,
    pub spec: streamswarm_schema::TestSpec,
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub agent_id: i64,
    pub max_concurrent: usize,
    pub probe_timeout_margin: Duration,
}

/// What the self-metrics need from the scheduler.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SchedulerStats {
    /// Probe runs that failed inside the agent (panics, timeouts), since start.
    pub probe_errors_total: u64,
    /// Largest delay between a run's scheduled and actual start since the previous
    /// call, in milliseconds.
    pub schedule_lag_max_ms: f64,
}

pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running scheduler.
pub trait Scheduler: Send + Sync {
    /// Replaces the set of tests to run.
    fn set_tests(&self, tests: Vec<AssignedTest>);
    fn stats(&self) -> SchedulerStats;
    /// Stops scheduling, waits for runs in progress, and drops the points sender.
    fn shutdown(self: Box<Self>) -> BoxFuture;
}

/// Starts a scheduler that sends the points of every run into the given channel.
pub type SpawnScheduler =
    Arc<dyn Fn(SchedulerConfig, mpsc::Sender<Vec<Point>>) -> Box<dyn Scheduler> + Send + Sync>;

/// The scheduler this build runs. This branch carries no scheduler yet, so it is one
/// that runs nothing and says so once; the merge with the scheduler branch replaces it
/// with `schedule::spawn`.
pub fn default_spawner() -> SpawnScheduler {
    Arc::new(|_config, _points| {
        tracing::warn!(
            "this build has no test scheduler: assignments are received and kept but not run"
        );
        Box::new(NoScheduler)
    })
}

struct NoScheduler;

impl Scheduler for NoScheduler {
    fn set_tests(&self, tests: Vec<AssignedTest>) {
        tracing::warn!(
            tests = tests.len(),
            "assignments received; this build has no scheduler to run them"
        );
    }

    fn stats(&self) -> SchedulerStats {
        SchedulerStats::default()
    }

    fn shutdown(self: Box<Self>) -> BoxFuture {
        Box::pin(async {})
    }
}
