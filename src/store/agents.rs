//! Agents and agent groups.

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::params;
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Agent {
    pub id: i64,
    pub name: String,
    pub hostname: String,
    pub version: Option<String>,
    /// Host facts from the last heartbeat (OS, kernel, CPU, memory, interfaces…).
    pub facts: serde_json::Value,
    pub created_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub groups: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AgentGroup {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: Timestamp,
}

const AGENT_COLUMNS: &str =
    "id, name, hostname, version, facts, created_at, last_seen_at, revoked_at";

impl Store {
    pub async fn create_agent(&self, name: &str, hostname: &str) -> Result<Agent, StoreError> {
        self.create_agent_with_facts(name, hostname, None, &serde_json::json!({}))
            .await
    }

    /// A new agent as enrolment creates it: named after its host, with the facts it sent.
    pub async fn create_agent_with_facts(
        &self,
        name: &str,
        hostname: &str,
        version: Option<&str>,
        facts: &serde_json::Value,
    ) -> Result<Agent, StoreError> {
        let row = self
            .db
            .query_one(
                &format!("INSERT INTO agents (name, hostname, version, facts, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {AGENT_COLUMNS}"),
                params![name, hostname, version, facts.to_string(), self.now()],
            )
            .await?;
        agent_from_row(&row, Vec::new())
    }

    /// Stores what a heartbeat says and when (the server's clock). A revoked agent is
    /// left as it was; returns whether the agent was updated.
    pub async fn record_heartbeat(
        &self,
        id: i64,
        hostname: &str,
        version: Option<&str>,
        facts: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let changed = self
            .db
            .execute(
                "UPDATE agents SET hostname = $2, version = $3, facts = $4, last_seen_at = $5
                 WHERE id = $1 AND revoked_at IS NULL",
                params![id, hostname, version, facts.to_string(), self.now()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Sets what an agent is called in lists (its hostname is a fact and stays).
    pub async fn rename_agent(&self, id: i64, name: &str) -> Result<(), StoreError> {
        match self
            .db
            .execute(
                "UPDATE agents SET name = $2 WHERE id = $1",
                params![id, name],
            )
            .await?
        {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// Revokes an agent and every credential it holds, in one transaction; revoking
    /// twice keeps the first time.
    pub async fn revoke_agent(&self, id: i64) -> Result<(), StoreError> {
        let now = self.now();
        self.db
            .execute_all(vec![
                (
                    "UPDATE agents SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
                        .to_owned(),
                    params![id, now],
                ),
                (
                    "UPDATE api_tokens SET revoked_at = $2 WHERE agent_id = $1 AND revoked_at IS NULL"
                        .to_owned(),
                    params![id, now],
                ),
            ])
            .await
    }

    /// Deletes an agent; its credentials, memberships and direct assignments go with it.
    pub async fn delete_agent(&self, id: i64) -> Result<(), StoreError> {
        match self
            .db
            .execute("DELETE FROM agents WHERE id = $1", params![id])
            .await?
        {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    pub async fn agent(&self, id: i64) -> Result<Option<Agent>, StoreError> {
        let Some(row) = self
            .db
            .query_opt(
                &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"),
                params![id],
            )
            .await?
        else {
            return Ok(None);
        };
        let groups = self
            .db
            .query(
                "SELECT group_id FROM agent_group_members WHERE agent_id = $1 ORDER BY group_id",
                params![id],
            )
            .await?
            .iter()
            .map(|r| r.i64("group_id"))
            .collect::<Result<_, _>>()?;
        agent_from_row(&row, groups).map(Some)
    }

    pub async fn list_agents(&self) -> Result<Vec<Agent>, StoreError> {
        let rows = self
            .db
            .query(
                &format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY name, id"),
                vec![],
            )
            .await?;
        let members = self
            .db
            .query(
                "SELECT agent_id, group_id FROM agent_group_members ORDER BY group_id",
                vec![],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let id = r.i64("id")?;
                let mut groups = Vec::new();
                for m in &members {
                    if m.i64("agent_id")? == id {
                        groups.push(m.i64("group_id")?);
                    }
                }
                agent_from_row(r, groups)
            })
            .collect()
    }

    /// Replaces an agent's group memberships atomically.
    pub async fn set_agent_groups(&self, agent_id: i64, groups: &[i64]) -> Result<(), StoreError> {
        let mut stmts = vec![
            // Locks the agent's row first, so concurrent replacements run one after the
            // other; otherwise PostgreSQL's DELETE misses rows another transaction is
            // inserting, and the memberships end up a mixture of both.
            (
                "UPDATE agents SET name = name WHERE id = $1".to_owned(),
                params![agent_id],
            ),
            (
                "DELETE FROM agent_group_members WHERE agent_id = $1".to_owned(),
                params![agent_id],
            ),
        ];
        for g in groups {
            stmts.push((
                "INSERT INTO agent_group_members (agent_id, group_id) VALUES ($1, $2)".to_owned(),
                params![agent_id, *g],
            ));
        }
        self.db.execute_all(stmts).await
    }

    pub async fn create_group(
        &self,
        name: &str,
        description: &str,
    ) -> Result<AgentGroup, StoreError> {
        let row = self
            .db
            .query_one(
                "INSERT INTO agent_groups (name, description, created_at) VALUES ($1, $2, $3)
                 RETURNING id, name, description, created_at",
                params![name, description, self.now()],
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("group {name:?} already exists"))
                }
                e => e,
            })?;
        group_from_row(&row)
    }

    pub async fn list_groups(&self) -> Result<Vec<AgentGroup>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT id, name, description, created_at FROM agent_groups ORDER BY name",
                vec![],
            )
            .await?;
        rows.iter().map(group_from_row).collect()
    }

    pub async fn delete_group(&self, id: i64) -> Result<(), StoreError> {
        match self
            .db
            .execute("DELETE FROM agent_groups WHERE id = $1", params![id])
            .await?
        {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// Which of `ids` do not name an existing row of `table` (agents or agent_groups).
    pub(crate) async fn missing_ids(
        &self,
        table: &'static str,
        ids: &[i64],
    ) -> Result<Vec<i64>, StoreError> {
        let mut missing = Vec::new();
        for id in ids {
            let sql = format!("SELECT id FROM {table} WHERE id = $1");
            if self.db.query_opt(&sql, params![*id]).await?.is_none() {
                missing.push(*id);
            }
        }
        Ok(missing)
    }
}

fn agent_from_row(r: &super::db::Row, groups: Vec<i64>) -> Result<Agent, StoreError> {
    Ok(Agent {
        id: r.i64("id")?,
        name: r.text("name")?,
        hostname: r.text("hostname")?,
        version: r.opt_text("version")?,
        facts: serde_json::from_str(&r.text("facts")?)
            .map_err(|e| StoreError::Decode(e.to_string()))?,
        created_at: Timestamp(r.i64("created_at")?),
        last_seen_at: r.opt_i64("last_seen_at")?.map(Timestamp),
        revoked_at: r.opt_i64("revoked_at")?.map(Timestamp),
        groups,
    })
}

fn group_from_row(r: &super::db::Row) -> Result<AgentGroup, StoreError> {
    Ok(AgentGroup {
        id: r.i64("id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        created_at: Timestamp(r.i64("created_at")?),
    })
}
