//! The tests the server assigns to this agent (`GET /api/v1/agent/assignments`): the
//! answer as received (persisted in `assignments.json` with its ETag) and its reading
//! into [`AssignedTest`]s for the scheduler. A test this agent cannot run is skipped
//! with a warning naming why; the others still run.

use crate::scheduler_seam::AssignedTest;
use serde::{Deserialize, Serialize};
use streamswarm_schema::{Schedule, TestKind, TestParams, TestSpec};

/// The last assignments answer and its ETag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignments {
    pub etag: String,
    pub agent_id: i64,
    pub tests: Vec<RawTest>,
}

/// One test as the server sent it; read by [`parse_test`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawTest {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at_ms: Option<i64>,
    /// Kept as JSON so one test of a kind this agent does not know skips only itself.
    pub kind: serde_json::Value,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub params: serde_json::Value,
    pub schedule: serde_json::Value,
}

/// The body of a `200` answer.
#[derive(Debug, Deserialize)]
pub struct AssignmentsBody {
    pub agent_id: i64,
    pub tests: Vec<RawTest>,
}

impl Assignments {
    /// The tests this agent can run; the others are logged and left out.
    pub fn runnable(&self) -> Vec<AssignedTest> {
        self.tests
            .iter()
            .filter_map(|raw| match parse_test(raw) {
                Ok(test) => Some(test),
                Err(why) => {
                    tracing::warn!(test = raw.id, name = %raw.name, %why, "skipping an assigned test this agent cannot run");
                    None
                }
            })
            .collect()
    }
}

/// Reads one assigned test as the agent will run it, validated again.
pub fn parse_test(raw: &RawTest) -> Result<AssignedTest, String> {
    let spec = parse_spec(
        raw.kind.clone(),
        raw.target.clone(),
        raw.params.clone(),
        raw.schedule.clone(),
    )?;
    Ok(AssignedTest {
        id: raw.id,
        name: raw.name.clone(),
        spec,
    })
}

/// A test definition (kind, target, params, schedule) read and validated exactly as the
/// server does it.
pub fn parse_spec(
    kind: serde_json::Value,
    target: String,
    params: serde_json::Value,
    schedule: serde_json::Value,
) -> Result<TestSpec, String> {
    let kind: TestKind = serde_json::from_value(kind).map_err(|e| format!("kind: {e}"))?;
    let schedule: Schedule =
        serde_json::from_value(schedule).map_err(|e| format!("schedule: {e}"))?;
    let params = TestParams::from_json(kind, params).map_err(|e| e.to_string())?;
    let spec = TestSpec {
        kind,
        target,
        params,
        schedule,
    };
    spec.validate().map_err(|errs| {
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    Ok(spec)
}
