//! Traceroute paths per (agent, test): the last N distinct paths, the changes between
//! successive runs' paths (with their hop diff), and the path tracker's positions.
//! Written by `crate::paths` (the tracker), read by the paths API and page.

use super::{Store, StoreError};
use crate::params;
use schemars::JsonSchema;
use serde::Serialize;

/// Most change events kept per (agent, test); older ones are deleted as new ones come.
pub const MAX_CHANGES_KEPT: i64 = 500;

/// One distinct path of an (agent, test).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PathRecord {
    pub hash: String,
    pub path: String,
    /// Unix ms of the first and the last run that took this path.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Runs that took this path.
    pub runs: i64,
}

/// A run whose path differed from the previous run's.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PathChangeRecord {
    pub id: i64,
    /// Unix ms of the run with the new path.
    pub at: i64,
    pub old_hash: String,
    pub new_hash: String,
    pub old_path: String,
    pub new_path: String,
    /// Per TTL that changed: addresses before/after, which left and which appeared.
    pub diff: Vec<crate::paths::diff::HopChange>,
}

/// Where the tracker is for one (agent, test).
#[derive(Debug, Clone, PartialEq)]
pub struct PathState {
    pub last_time_ns: i64,
    pub hash: String,
    pub path: String,
}

/// One run taken in by the tracker.
#[derive(Debug, Clone)]
pub struct PathRun<'a> {
    pub agent_id: i64,
    pub test_id: i64,
    pub time_ns: i64,
    pub hash: &'a str,
    pub path: &'a str,
    /// The change from the previous run's path, when there was a previous run and its
    /// hash differs: (old hash, old path, diff JSON).
    pub change: Option<(&'a str, &'a str, String)>,
}

impl Store {
    /// The tracker's global read position (time-series ns), if it ever ran.
    pub async fn path_tracker_position(&self) -> Result<Option<i64>, StoreError> {
        self.db
            .query_opt(
                "SELECT scanned_to_ns FROM path_tracker WHERE id = 1",
                vec![],
            )
            .await?
            .map(|r| r.i64("scanned_to_ns"))
            .transpose()
    }

    pub async fn set_path_tracker_position(&self, ns: i64) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO path_tracker (id, scanned_to_ns) VALUES (1, $1)
                 ON CONFLICT (id) DO UPDATE SET scanned_to_ns = excluded.scanned_to_ns",
                params![ns],
            )
            .await?;
        Ok(())
    }

    pub async fn path_state(
        &self,
        agent_id: i64,
        test_id: i64,
    ) -> Result<Option<PathState>, StoreError> {
        self.db
            .query_opt(
                "SELECT last_time_ns, hash, path FROM path_state WHERE agent_id = $1 AND test_id = $2",
                params![agent_id, test_id],
            )
            .await?
            .map(|r| {
                Ok(PathState {
                    last_time_ns: r.i64("last_time_ns")?,
                    hash: r.text("hash")?,
                    path: r.text("path")?,
                })
            })
            .transpose()
    }

    /// Whether the agent and the test both exist (points can name deleted ones).
    pub async fn agent_and_test_exist(
        &self,
        agent_id: i64,
        test_id: i64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .db
            .query_opt(
                "SELECT 1 AS one FROM agents a, tests t WHERE a.id = $1 AND t.id = $2",
                params![agent_id, test_id],
            )
            .await?
            .is_some())
    }

    /// The first TTL a test probes (its `first_ttl` parameter; 1 when it has none).
    pub async fn test_first_ttl(&self, test_id: i64) -> Result<u32, StoreError> {
        let row = self
            .db
            .query_opt("SELECT params FROM tests WHERE id = $1", params![test_id])
            .await?;
        let ttl = row
            .and_then(|r| r.text("params").ok())
            .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
            .and_then(|v| v.get("first_ttl").and_then(|t| t.as_u64()))
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(1);
        Ok(ttl)
    }

    /// Takes in one run in one transaction: the distinct path's counters, the tracker's
    /// state, the change event if any, and trimming to the newest `keep` distinct paths
    /// and [`MAX_CHANGES_KEPT`] changes.
    pub async fn record_path_run(&self, run: &PathRun<'_>, keep: i64) -> Result<(), StoreError> {
        let ms = run.time_ns.div_euclid(1_000_000);
        let (a, t) = (run.agent_id, run.test_id);
        let mut stmts = vec![
            (
                "INSERT INTO paths (agent_id, test_id, hash, path, first_seen, last_seen, runs)
                 VALUES ($1, $2, $3, $4, $5, $5, 1)
                 ON CONFLICT (agent_id, test_id, hash) DO UPDATE SET
                   path = excluded.path, last_seen = excluded.last_seen, runs = paths.runs + 1"
                    .to_owned(),
                params![a, t, run.hash, run.path, ms],
            ),
            (
                "INSERT INTO path_state (agent_id, test_id, last_time_ns, hash, path)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (agent_id, test_id) DO UPDATE SET
                   last_time_ns = excluded.last_time_ns, hash = excluded.hash, path = excluded.path"
                    .to_owned(),
                params![a, t, run.time_ns, run.hash, run.path],
            ),
            (
                "DELETE FROM paths WHERE agent_id = $1 AND test_id = $2 AND hash NOT IN (
                   SELECT hash FROM paths WHERE agent_id = $1 AND test_id = $2
                   ORDER BY last_seen DESC, hash LIMIT $3)"
                    .to_owned(),
                params![a, t, keep],
            ),
        ];
        if let Some((old_hash, old_path, diff)) = &run.change {
            stmts.push((
                "INSERT INTO path_changes (agent_id, test_id, at, old_hash, new_hash, old_path, new_path, diff)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    .to_owned(),
                params![a, t, ms, *old_hash, run.hash, *old_path, run.path, diff.as_str()],
            ));
            stmts.push((
                "DELETE FROM path_changes WHERE agent_id = $1 AND test_id = $2 AND id NOT IN (
                   SELECT id FROM path_changes WHERE agent_id = $1 AND test_id = $2
                   ORDER BY at DESC, id DESC LIMIT $3)"
                    .to_owned(),
                params![a, t, MAX_CHANGES_KEPT],
            ));
        }
        self.db.execute_all(stmts).await
    }

    /// The distinct paths of an (agent, test), most recently seen first.
    pub async fn paths_of(
        &self,
        agent_id: i64,
        test_id: i64,
    ) -> Result<Vec<PathRecord>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT hash, path, first_seen, last_seen, runs FROM paths
                 WHERE agent_id = $1 AND test_id = $2 ORDER BY last_seen DESC, hash",
                params![agent_id, test_id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PathRecord {
                    hash: r.text("hash")?,
                    path: r.text("path")?,
                    first_seen: r.i64("first_seen")?,
                    last_seen: r.i64("last_seen")?,
                    runs: r.i64("runs")?,
                })
            })
            .collect()
    }

    /// The newest `limit` path changes of an (agent, test), newest first.
    pub async fn path_changes_of(
        &self,
        agent_id: i64,
        test_id: i64,
        limit: i64,
    ) -> Result<Vec<PathChangeRecord>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT id, at, old_hash, new_hash, old_path, new_path, diff FROM path_changes
                 WHERE agent_id = $1 AND test_id = $2 ORDER BY at DESC, id DESC LIMIT $3",
                params![agent_id, test_id, limit],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PathChangeRecord {
                    id: r.i64("id")?,
                    at: r.i64("at")?,
                    old_hash: r.text("old_hash")?,
                    new_hash: r.text("new_hash")?,
                    old_path: r.text("old_path")?,
                    new_path: r.text("new_path")?,
                    diff: serde_json::from_str(&r.text("diff")?)
                        .map_err(|e| StoreError::Decode(format!("path_changes.diff: {e}")))?,
                })
            })
            .collect()
    }

    /// Agents with a recorded path for a test, by id.
    pub async fn path_agents(&self, test_id: i64) -> Result<Vec<i64>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT agent_id FROM path_state WHERE test_id = $1 ORDER BY agent_id",
                params![test_id],
            )
            .await?;
        rows.iter().map(|r| r.i64("agent_id")).collect()
    }
}
