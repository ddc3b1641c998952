//! The audit log: who did what, when, from where. Never holds a secret: callers pass
//! names and ids, and `details` is built from fields known to be safe.

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::params;
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    /// `user:<name>`, `token:<id>`, `agent:<id>`, `cli` or `system`.
    pub actor: String,
    /// Dotted verb, e.g. `login.failure`, `user.create`, `token.revoke`.
    pub action: String,
    pub target: String,
    pub source_ip: Option<String>,
    pub details: serde_json::Value,
}

/// What to record; `details` must not contain secrets.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub source_ip: Option<&'a str>,
    pub details: serde_json::Value,
}

impl Store {
    pub async fn audit(&self, r: AuditRecord<'_>) -> Result<(), StoreError> {
        let details = if r.details.is_null() {
            "{}".to_owned()
        } else {
            r.details.to_string()
        };
        self.db
            .execute(
                "INSERT INTO audit_log (at, actor, action, target, source_ip, details) VALUES ($1, $2, $3, $4, $5, $6)",
                params![self.now(), r.actor, r.action, r.target, r.source_ip, details],
            )
            .await?;
        Ok(())
    }

    /// Newest first; `before` pages backwards by id.
    pub async fn audit_entries(
        &self,
        limit: i64,
        before: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT id, at, actor, action, target, source_ip, details FROM audit_log
                 WHERE id < $1 ORDER BY id DESC LIMIT $2",
                params![before.unwrap_or(i64::MAX), limit],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.i64("id")?,
                    at: Timestamp(r.i64("at")?),
                    actor: r.text("actor")?,
                    action: r.text("action")?,
                    target: r.text("target")?,
                    source_ip: r.opt_text("source_ip")?,
                    details: serde_json::from_str(&r.text("details")?)
                        .map_err(|e| StoreError::Decode(e.to_string()))?,
                })
            })
            .collect()
    }

    /// Failed logins for a username since `since_ms`: (count, oldest time).
    pub async fn login_failures_for_user(
        &self,
        username: &str,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        self.login_failures("target", username, since_ms).await
    }

    /// Failed logins from a source address since `since_ms`: (count, oldest time).
    pub async fn login_failures_from(
        &self,
        source_ip: &str,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        self.login_failures("source_ip", source_ip, since_ms).await
    }

    /// `column` is one of two constants above, never input.
    async fn login_failures(
        &self,
        column: &'static str,
        value: &str,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let sql = format!(
            "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM audit_log
             WHERE action = 'login.failure' AND {column} = $1 AND at >= $2"
        );
        let r = self.db.query_one(&sql, params![value, since_ms]).await?;
        Ok((r.i64("n")?, r.opt_i64("oldest")?))
    }
}
