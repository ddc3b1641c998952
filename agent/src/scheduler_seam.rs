//! The seam between the agent's lifecycle (`runtime`) and its scheduler (`schedule`).
//! The runtime only needs to start a scheduler, hand it tests, read its statistics and
//! stop it; it does so through [`Scheduler`] and a [`SpawnScheduler`] function, so its
//! tests can drive it with a stand-in. [`default_spawner`] is the real one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use streamswarm_tsdb::line_protocol::Point;
use tokio::sync::mpsc;

pub use crate::schedule::{AssignedTest, SchedulerConfig};

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

/// The real scheduler, `schedule::spawn`.
pub fn default_spawner() -> SpawnScheduler {
    Arc::new(|config, points| Box::new(crate::schedule::spawn(config, points)))
}

impl Scheduler for crate::schedule::SchedulerHandle {
    fn set_tests(&self, tests: Vec<AssignedTest>) {
        crate::schedule::SchedulerHandle::set_tests(self, tests)
    }

    fn stats(&self) -> SchedulerStats {
        let s = crate::schedule::SchedulerHandle::stats(self);
        SchedulerStats {
            probe_errors_total: s.probe_errors + s.probe_timeouts,
            schedule_lag_max_ms: self.take_interval_max_lag_ms(),
        }
    }

    fn shutdown(self: Box<Self>) -> BoxFuture {
        Box::pin(crate::schedule::SchedulerHandle::shutdown(*self))
    }
}
