//! Server-side login sessions. Only the SHA-256 of a session id is stored.

use super::users::User;
use super::{Store, StoreError};
use crate::params;

#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user: User,
    pub created_at: i64,
    pub last_seen_at: i64,
}

impl Store {
    pub async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        source_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        self.db
            .execute(
                "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, source_ip, user_agent)
                 VALUES ($1, $2, $3, $3, $4, $5)",
                params![id_hash, user_id, now, source_ip, user_agent],
            )
            .await?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<Session>, StoreError> {
        let row = self
            .db
            .query_opt(
                "SELECT s.id_hash, s.created_at AS session_created_at, s.last_seen_at,
                        u.id, u.username, u.role, u.disabled, u.created_at, u.updated_at, u.last_login_at
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
                params![id_hash],
            )
            .await?;
        row.map(|r| {
            Ok(Session {
                id_hash: r.text("id_hash")?,
                user: User::from_row(&r)?,
                created_at: r.i64("session_created_at")?,
                last_seen_at: r.i64("last_seen_at")?,
            })
        })
        .transpose()
    }

    pub async fn touch_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let now = self.now();
        self.db
            .execute(
                "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1",
                params![id_hash, now],
            )
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.db
            .execute("DELETE FROM sessions WHERE id_hash = $1", params![id_hash])
            .await?;
        Ok(())
    }

    /// Ends every session of a user (password change, disable, role change), except `keep`.
    pub async fn delete_user_sessions(
        &self,
        user_id: i64,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        self.db
            .execute(
                "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2",
                params![user_id, keep.unwrap_or("")],
            )
            .await
    }

    /// Deletes sessions past either timeout; returns how many.
    pub async fn purge_sessions(&self, idle_ms: i64, absolute_ms: i64) -> Result<u64, StoreError> {
        let now = self.now();
        self.db
            .execute(
                "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2",
                params![now - idle_ms, now - absolute_ms],
            )
            .await
    }
}
