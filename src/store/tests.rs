//! Tests (what to measure, against what, when) and their assignments to agents and
//! groups.

use super::db::{Row, Value};
use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::params;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use streamswarm_schema::{Schedule, TestKind, TestParams, TestSpec};

/// Which agents run a test: listed agents plus every member of listed groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignments {
    #[serde(default)]
    pub agents: Vec<i64>,
    #[serde(default)]
    pub groups: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TestRecord {
    pub id: i64,
    pub name: String,
    pub description: String,
    #[serde(flatten)]
    pub spec: TestSpec,
    pub enabled: bool,
    pub assignments: Assignments,
    pub created_by: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A validated test definition ready to store.
#[derive(Debug, Clone)]
pub struct TestDraft {
    pub name: String,
    pub description: String,
    pub spec: TestSpec,
    pub enabled: bool,
    pub assignments: Assignments,
}

#[derive(Debug, Clone, Default)]
pub struct TestFilter {
    pub search: Option<String>,
    pub kind: Option<TestKind>,
    pub limit: i64,
    pub offset: i64,
}

const TEST_COLUMNS: &str = "id, name, description, kind, target, params, interval_ms, jitter_ms, start_at, end_at, \
                            one_shot, enabled, created_by, created_at, updated_at";

fn test_from_row(r: &Row, assignments: Assignments) -> Result<TestRecord, StoreError> {
    let kind_text = r.text("kind")?;
    let kind = TestKind::parse(&kind_text)
        .ok_or_else(|| StoreError::Decode(format!("unknown test kind {kind_text:?}")))?;
    let params: serde_json::Value =
        serde_json::from_str(&r.text("params")?).map_err(|e| StoreError::Decode(e.to_string()))?;
    let params =
        TestParams::from_json(kind, params).map_err(|e| StoreError::Decode(e.to_string()))?;
    Ok(TestRecord {
        id: r.i64("id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        spec: TestSpec {
            kind,
            target: r.text("target")?,
            params,
            schedule: Schedule {
                interval_seconds: (r.i64("interval_ms")? / 1000) as u32,
                jitter_seconds: (r.i64("jitter_ms")? / 1000) as u32,
                start_at_ms: r.opt_i64("start_at")?,
                end_at_ms: r.opt_i64("end_at")?,
                one_shot: r.bool("one_shot")?,
            },
        },
        enabled: r.bool("enabled")?,
        assignments,
        created_by: r.opt_i64("created_by")?,
        created_at: Timestamp(r.i64("created_at")?),
        updated_at: Timestamp(r.i64("updated_at")?),
    })
}

fn spec_params(d: &TestDraft) -> Vec<Value> {
    let s = &d.spec.schedule;
    params![
        d.name.as_str(),
        d.description.as_str(),
        d.spec.kind.as_str(),
        d.spec.target.as_str(),
        d.spec.params.to_json().to_string(),
        i64::from(s.interval_seconds) * 1000,
        i64::from(s.jitter_seconds) * 1000,
        s.start_at_ms,
        s.end_at_ms,
        s.one_shot,
        d.enabled
    ]
}

impl Store {
    /// Checks that every assigned agent and group exists; returns the offending field.
    pub async fn check_assignments(&self, a: &Assignments) -> Result<(), (String, String)> {
        let missing_agents = self
            .missing_ids("agents", &a.agents)
            .await
            .map_err(|e| ("assignments".into(), e.to_string()))?;
        if !missing_agents.is_empty() {
            return Err((
                "assignments.agents".into(),
                format!("no such agent: {missing_agents:?}"),
            ));
        }
        let missing_groups = self
            .missing_ids("agent_groups", &a.groups)
            .await
            .map_err(|e| ("assignments".into(), e.to_string()))?;
        if !missing_groups.is_empty() {
            return Err((
                "assignments.groups".into(),
                format!("no such group: {missing_groups:?}"),
            ));
        }
        Ok(())
    }

    pub async fn create_test(
        &self,
        draft: &TestDraft,
        created_by: Option<i64>,
    ) -> Result<TestRecord, StoreError> {
        let now = self.now();
        let mut p = spec_params(draft);
        p.extend(params![created_by, now]);
        let row = self
            .db
            .query_one(
                "INSERT INTO tests (name, description, kind, target, params, interval_ms, jitter_ms, start_at, end_at,
                                    one_shot, enabled, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
                p,
            )
            .await?;
        let id = row.i64("id")?;
        if let Err(e) = self.replace_assignments(id, &draft.assignments).await {
            // An agent or group vanished between validation and insert: undo the test.
            self.db
                .execute("DELETE FROM tests WHERE id = $1", params![id])
                .await?;
            return Err(e);
        }
        self.test(id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn update_test(&self, id: i64, draft: &TestDraft) -> Result<TestRecord, StoreError> {
        let mut p = spec_params(draft);
        p.extend(params![self.now(), id]);
        let sql = "UPDATE tests SET name = $1, description = $2, kind = $3, target = $4, params = $5, interval_ms = $6,
                   jitter_ms = $7, start_at = $8, end_at = $9, one_shot = $10, enabled = $11, updated_at = $12
                   WHERE id = $13";
        let mut stmts = vec![(sql.to_owned(), p)];
        stmts.extend(assignment_statements(id, &draft.assignments));
        if self.test(id).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        self.db.execute_all(stmts).await?;
        self.test(id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn replace_assignments(
        &self,
        test_id: i64,
        a: &Assignments,
    ) -> Result<(), StoreError> {
        self.db.execute_all(assignment_statements(test_id, a)).await
    }

    pub async fn test(&self, id: i64) -> Result<Option<TestRecord>, StoreError> {
        let Some(row) = self
            .db
            .query_opt(
                &format!("SELECT {TEST_COLUMNS} FROM tests WHERE id = $1"),
                params![id],
            )
            .await?
        else {
            return Ok(None);
        };
        let assignments = self.assignments(id).await?;
        test_from_row(&row, assignments).map(Some)
    }

    /// Every test's id, name and target, by id (the insights' links and the health of
    /// every test).
    pub async fn test_names(&self) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows = self
            .db
            .query("SELECT id, name, target FROM tests ORDER BY id", vec![])
            .await?;
        rows.iter()
            .map(|r| Ok((r.i64("id")?, r.text("name")?, r.text("target")?)))
            .collect()
    }

    /// The tests assigned to an agent directly or through one of its groups, disabled
    /// ones included, by id.
    pub async fn tests_for_agent(&self, agent_id: i64) -> Result<Vec<TestRecord>, StoreError> {
        let rows = self
            .db
            .query(
                &format!(
                    "SELECT {TEST_COLUMNS} FROM tests WHERE id IN (
                         SELECT test_id FROM test_assignments WHERE agent_id = $1
                         UNION
                         SELECT a.test_id FROM test_assignments a
                           JOIN agent_group_members m ON m.group_id = a.group_id
                          WHERE m.agent_id = $1)
                     ORDER BY id"
                ),
                params![agent_id],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let assignments = self.assignments(r.i64("id")?).await?;
            out.push(test_from_row(r, assignments)?);
        }
        Ok(out)
    }

    /// The ids of the tests assigned to an agent directly or through one of its groups,
    /// disabled ones included: what its credential may tag time-series points with
    /// (`timeseries::embedded::policy`). Read-only, one query.
    pub async fn test_ids_for_agent(&self, agent_id: i64) -> Result<Vec<i64>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT test_id FROM test_assignments WHERE agent_id = $1 AND test_id IS NOT NULL
                 UNION
                 SELECT a.test_id FROM test_assignments a
                   JOIN agent_group_members m ON m.group_id = a.group_id
                  WHERE m.agent_id = $1",
                params![agent_id],
            )
            .await?;
        rows.iter().map(|r| r.i64("test_id")).collect()
    }

    async fn assignments(&self, test_id: i64) -> Result<Assignments, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT agent_id, group_id FROM test_assignments WHERE test_id = $1 ORDER BY id",
                params![test_id],
            )
            .await?;
        let mut a = Assignments::default();
        for r in rows {
            if let Some(agent) = r.opt_i64("agent_id")? {
                a.agents.push(agent);
            }
            if let Some(group) = r.opt_i64("group_id")? {
                a.groups.push(group);
            }
        }
        Ok(a)
    }

    /// One page of tests matching the filter, and how many match in total.
    pub async fn list_tests(&self, f: &TestFilter) -> Result<(Vec<TestRecord>, i64), StoreError> {
        let search = f
            .search
            .as_deref()
            .map(str::trim)
            .unwrap_or("")
            .to_lowercase();
        let pattern = format!(
            "%{}%",
            search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let kind = f.kind.map(|k| k.as_str()).unwrap_or("");
        let filter = "WHERE ($1 = '' OR lower(name) LIKE $2 ESCAPE '\\' OR lower(target) LIKE $2 ESCAPE '\\')
                      AND ($3 = '' OR kind = $3)";
        let total = self
            .db
            .query_one(
                &format!("SELECT COUNT(*) AS n FROM tests {filter}"),
                params![search.as_str(), pattern.as_str(), kind],
            )
            .await?
            .i64("n")?;
        let rows = self
            .db
            .query(
                &format!(
                    "SELECT {TEST_COLUMNS} FROM tests {filter} ORDER BY name, id LIMIT $4 OFFSET $5"
                ),
                params![search.as_str(), pattern.as_str(), kind, f.limit, f.offset],
            )
            .await?;
        let mut tests = Vec::with_capacity(rows.len());
        for r in &rows {
            let assignments = self.assignments(r.i64("id")?).await?;
            tests.push(test_from_row(r, assignments)?);
        }
        Ok((tests, total))
    }

    pub async fn delete_test(&self, id: i64) -> Result<(), StoreError> {
        match self
            .db
            .execute("DELETE FROM tests WHERE id = $1", params![id])
            .await?
        {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

fn assignment_statements(test_id: i64, a: &Assignments) -> Vec<(String, Vec<Value>)> {
    let mut stmts = vec![
        // Locks the test's row first so concurrent replacements serialize (see
        // `set_agent_groups`).
        (
            "UPDATE tests SET updated_at = updated_at WHERE id = $1".to_owned(),
            params![test_id],
        ),
        (
            "DELETE FROM test_assignments WHERE test_id = $1".to_owned(),
            params![test_id],
        ),
    ];
    for agent in dedup(&a.agents) {
        stmts.push((
            "INSERT INTO test_assignments (test_id, agent_id) VALUES ($1, $2)".to_owned(),
            params![test_id, agent],
        ));
    }
    for group in dedup(&a.groups) {
        stmts.push((
            "INSERT INTO test_assignments (test_id, group_id) VALUES ($1, $2)".to_owned(),
            params![test_id, group],
        ));
    }
    stmts
}

fn dedup(ids: &[i64]) -> Vec<i64> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

impl Store {
    /// How many tests exist, and how many of them are enabled.
    pub async fn count_tests(&self) -> Result<(i64, i64), StoreError> {
        let row = self
            .db
            .query_one(
                "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN enabled THEN 1 ELSE 0 END), 0) AS enabled FROM tests",
                vec![],
            )
            .await?;
        Ok((row.i64("total")?, row.i64("enabled")?))
    }
}
