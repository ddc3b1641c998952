//! The audit log: who did what, when, from where. Never holds a secret: callers pass
//! names and ids, and `details` is built from fields known to be safe.
//!
//! Values often come from clients (an attempted username, a test name), so the writer
//! bounds them in one place: every string — actor, target and each string in
//! `details` — is cut to [`MAX_AUDIT_CHARS`] characters, the last one `…`, and control
//! characters in actor and target (which PostgreSQL may not store, like NUL) become
//! U+FFFD. Queries by target compare with [`fit`] of the value.

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

/// The audit actions that record a wrong password: a failed login and a failed
/// password change. Throttling counts them together (`auth::throttle`).
pub const PASSWORD_FAILURES: [&str; 2] = ["login.failure", "password.change_failed"];

/// The longest string the audit log keeps, in characters.
pub const MAX_AUDIT_CHARS: usize = 256;

/// `s` as the audit log stores an actor or target: control characters replaced with
/// U+FFFD and at most [`MAX_AUDIT_CHARS`] characters (the last one `…` when cut).
/// Applying it twice changes nothing more.
pub fn fit(s: &str) -> String {
    truncate(&s.replace(|c: char| c.is_control(), "\u{FFFD}"))
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_AUDIT_CHARS) {
        None => s.to_owned(),
        Some(_) => {
            let mut cut: String = s.chars().take(MAX_AUDIT_CHARS - 1).collect();
            cut.push('…');
            cut
        }
    }
}

/// Every string in `details` (object keys included) cut to [`MAX_AUDIT_CHARS`].
fn truncate_strings(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(truncate(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(truncate_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (truncate(&k), truncate_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

impl Store {
    pub async fn audit(&self, r: AuditRecord<'_>) -> Result<(), StoreError> {
        let details = if r.details.is_null() {
            "{}".to_owned()
        } else {
            truncate_strings(r.details).to_string()
        };
        let (actor, target) = (fit(r.actor), fit(r.target));
        let source_ip = r.source_ip.map(fit);
        self.db
            .execute(
                "INSERT INTO audit_log (at, actor, action, target, source_ip, details) VALUES ($1, $2, $3, $4, $5, $6)",
                params![self.now(), actor, r.action, target, source_ip, details],
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

    /// Wrong passwords for a username (any address) since `since_ms`: (count, oldest time).
    pub async fn login_failures_for_user(
        &self,
        username: &str,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        self.password_failures(Some(username), None, since_ms).await
    }

    /// Wrong passwords from a source address (any username) since `since_ms`.
    pub async fn login_failures_from(
        &self,
        source_ip: &str,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        self.password_failures(None, Some(source_ip), since_ms)
            .await
    }

    /// Wrong passwords for a username from one source address since `since_ms`.
    pub async fn login_failures_for_user_from(
        &self,
        username: &str,
        source_ip: &str,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        self.password_failures(Some(username), Some(source_ip), since_ms)
            .await
    }

    /// Counts the rows of [`PASSWORD_FAILURES`] actions, narrowed by target and address.
    async fn password_failures(
        &self,
        target: Option<&str>,
        source_ip: Option<&str>,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let mut sql = format!(
            "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM audit_log
             WHERE action IN ('{}', '{}') AND at >= $1",
            PASSWORD_FAILURES[0], PASSWORD_FAILURES[1]
        );
        let mut values = params![since_ms];
        for (column, value) in [("target", target), ("source_ip", source_ip)] {
            if let Some(v) = value {
                values.push(fit(v).into());
                sql.push_str(&format!(" AND {column} = ${}", values.len()));
            }
        }
        let r = self.db.query_one(&sql, values).await?;
        Ok((r.i64("n")?, r.opt_i64("oldest")?))
    }

    /// Whether `username` signed in successfully from `source_ip` since `since_ms`.
    pub async fn signed_in_from(
        &self,
        username: &str,
        source_ip: &str,
        since_ms: i64,
    ) -> Result<bool, StoreError> {
        let r = self
            .db
            .query_one(
                "SELECT COUNT(*) AS n FROM audit_log
                 WHERE action = 'login.success' AND target = $1 AND source_ip = $2 AND at >= $3",
                params![fit(username), fit(source_ip), since_ms],
            )
            .await?;
        Ok(r.i64("n")? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fit_replaces_control_characters_and_cuts_long_values_once() {
        assert_eq!(fit("admin"), "admin");
        assert_eq!(fit("admin\0\u{1b}[2J"), "admin\u{FFFD}\u{FFFD}[2J");
        let long = "é".repeat(3000);
        let cut = fit(&long);
        assert_eq!(cut.chars().count(), MAX_AUDIT_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(fit(&cut), cut);
        let exact = "x".repeat(MAX_AUDIT_CHARS);
        assert_eq!(fit(&exact), exact);
    }

    #[test]
    fn every_string_in_details_is_cut() {
        let long = "y".repeat(1000);
        let v =
            truncate_strings(json!({"name": long, "list": [long, 1], "n": 5, long.clone(): true}));
        let text = v.to_string();
        assert!(!text.contains(&"y".repeat(MAX_AUDIT_CHARS)), "{text}");
        assert_eq!(v["n"], 5);
        assert_eq!(v["name"].as_str().unwrap().chars().count(), MAX_AUDIT_CHARS);
        assert_eq!(v["list"][0], v["name"]);
    }
}
