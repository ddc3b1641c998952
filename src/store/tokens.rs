//! API tokens: enrolment tokens, automation (API) tokens and per-agent credentials.
//! Only a SHA-256 of the secret is stored; the `prefix` identifies a token in lists.

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::params;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use streamswarm_schema::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Lets a new agent enrol once (or `uses` times); exchanged for an agent credential.
    Enrol,
    /// Automation access to `/api/v1` with the token's role.
    Api,
    /// An enrolled agent's own credential.
    Agent,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Enrol => "enrol",
            TokenKind::Api => "api",
            TokenKind::Agent => "agent",
        }
    }
}

impl std::str::FromStr for TokenKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "enrol" | "enroll" => Ok(TokenKind::Enrol),
            "api" => Ok(TokenKind::Api),
            "agent" => Ok(TokenKind::Agent),
            other => Err(format!(
                "unknown token kind {other:?}: expected enrol or api"
            )),
        }
    }
}

/// A token's metadata; never its secret.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub kind: TokenKind,
    pub name: String,
    /// The first characters of the token, enough to recognise it.
    pub prefix: String,
    /// For API tokens: the role the token acts with.
    pub role: Option<Role>,
    pub agent_id: Option<i64>,
    pub created_by: Option<i64>,
    /// Who created the token: the user's name, kept after the user is deleted, or `cli`
    /// for tokens made without a user (the `streamswarm` command).
    pub created_by_name: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// Remaining uses; unlimited when absent.
    pub uses_remaining: Option<i64>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl TokenInfo {
    /// Usable at `now`: not revoked, not expired, uses left.
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none()
            && self.expires_at.is_none_or(|t| t.0 > now)
            && self.uses_remaining.is_none_or(|n| n > 0)
    }
}

pub struct NewToken<'a> {
    pub kind: TokenKind,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub role: Option<Role>,
    pub agent_id: Option<i64>,
    pub created_by: Option<i64>,
    pub expires_at: Option<i64>,
    pub uses: Option<i64>,
}

const TOKEN_COLUMNS: &str = "id, kind, name, prefix, role, agent_id, created_by, created_by_name, created_at, expires_at, uses_remaining, last_used_at, revoked_at";

/// `last_used_at` is refreshed at most this often, so a busy automation token costs
/// reads, not a write per request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

impl TokenInfo {
    fn from_row(r: &super::db::Row) -> Result<Self, StoreError> {
        let kind = match r.text("kind")?.as_str() {
            "enrol" => TokenKind::Enrol,
            "api" => TokenKind::Api,
            "agent" => TokenKind::Agent,
            other => return Err(StoreError::Decode(format!("unknown token kind {other:?}"))),
        };
        Ok(TokenInfo {
            id: r.i64("id")?,
            kind,
            name: r.text("name")?,
            prefix: r.text("prefix")?,
            role: r
                .opt_text("role")?
                .map(|s| s.parse())
                .transpose()
                .map_err(StoreError::Decode)?,
            agent_id: r.opt_i64("agent_id")?,
            created_by: r.opt_i64("created_by")?,
            created_by_name: r.text("created_by_name")?,
            created_at: Timestamp(r.i64("created_at")?),
            expires_at: r.opt_i64("expires_at")?.map(Timestamp),
            uses_remaining: r.opt_i64("uses_remaining")?,
            last_used_at: r.opt_i64("last_used_at")?.map(Timestamp),
            revoked_at: r.opt_i64("revoked_at")?.map(Timestamp),
        })
    }
}

impl Store {
    pub async fn insert_token(&self, t: NewToken<'_>) -> Result<TokenInfo, StoreError> {
        let row = self
            .db
            .query_one(
                &format!(
                    "INSERT INTO api_tokens (kind, name, prefix, secret_hash, role, agent_id, created_by, created_by_name, created_at, expires_at, uses_remaining)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE((SELECT username FROM users WHERE id = $7), 'cli'), $8, $9, $10)
                     RETURNING {TOKEN_COLUMNS}"
                ),
                params![
                    t.kind.as_str(),
                    t.name,
                    t.prefix,
                    t.secret_hash,
                    t.role.map(|r| r.as_str()),
                    t.agent_id,
                    t.created_by,
                    self.now(),
                    t.expires_at,
                    t.uses
                ],
            )
            .await?;
        TokenInfo::from_row(&row)
    }

    pub async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenInfo>, StoreError> {
        let row = self
            .db
            .query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = $1"),
                params![secret_hash],
            )
            .await?;
        row.as_ref().map(TokenInfo::from_row).transpose()
    }

    pub async fn token(&self, id: i64) -> Result<Option<TokenInfo>, StoreError> {
        let row = self
            .db
            .query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"),
                params![id],
            )
            .await?;
        row.as_ref().map(TokenInfo::from_row).transpose()
    }

    /// Records one use of an active token. Tokens with a use count are decremented
    /// atomically, so two concurrent uses of the last remaining use cannot both succeed.
    /// Returns false when the token is no longer usable.
    pub async fn use_token(&self, token: &TokenInfo) -> Result<bool, StoreError> {
        let now = self.now();
        if token.uses_remaining.is_some() {
            let changed = self
                .db
                .execute(
                    "UPDATE api_tokens SET uses_remaining = uses_remaining - 1, last_used_at = $2
                     WHERE id = $1 AND revoked_at IS NULL AND uses_remaining > 0
                       AND (expires_at IS NULL OR expires_at > $2)",
                    params![token.id, now],
                )
                .await?;
            return Ok(changed == 1);
        }
        if token
            .last_used_at
            .is_none_or(|t| now - t.0 >= LAST_USED_RESOLUTION_MS)
        {
            // Conditional, so a burst of requests at the window's edge writes once.
            self.db
                .execute(
                    "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1
                     AND (last_used_at IS NULL OR last_used_at <= $3)",
                    params![token.id, now, now - LAST_USED_RESOLUTION_MS],
                )
                .await?;
        }
        Ok(true)
    }

    /// Returns one use to a token whose use was consumed by an enrolment that then
    /// failed.
    pub async fn give_back_use(&self, id: i64) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE api_tokens SET uses_remaining = uses_remaining + 1
                 WHERE id = $1 AND uses_remaining IS NOT NULL",
                params![id],
            )
            .await?;
        Ok(())
    }

    pub async fn list_tokens(&self, kind: Option<TokenKind>) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = match kind {
            Some(k) => {
                self.db
                    .query(
                        &format!(
                            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE kind = $1 ORDER BY id"
                        ),
                        params![k.as_str()],
                    )
                    .await?
            }
            None => {
                self.db
                    .query(
                        &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"),
                        vec![],
                    )
                    .await?
            }
        };
        rows.iter().map(TokenInfo::from_row).collect()
    }

    /// The tokens `user_id` created, of every kind and state.
    pub async fn tokens_created_by(&self, user_id: i64) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = self
            .db
            .query(
                &format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE created_by = $1 ORDER BY id"
                ),
                params![user_id],
            )
            .await?;
        rows.iter().map(TokenInfo::from_row).collect()
    }

    /// Revokes a token; revoking twice keeps the first revocation time.
    pub async fn revoke_token(&self, id: i64) -> Result<TokenInfo, StoreError> {
        self.db
            .execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                params![id, self.now()],
            )
            .await?;
        self.token(id).await?.ok_or(StoreError::NotFound)
    }
}
