//! Users and their credentials.

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::params;
use schemars::JsonSchema;
use serde::Serialize;
use streamswarm_schema::Role;

/// Longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// A login name: a name under the shared rule of [`crate::names`], and further
/// lower-cased and 1–64 of `a-z 0-9 . _ @ -`.
/// Lower-casing at the boundary makes `Alice` and `alice` the same user everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, String> {
        let chars = s.trim().chars().count();
        if chars == 0 || chars > MAX_USERNAME_CHARS {
            return Err(format!(
                "username must be 1–{MAX_USERNAME_CHARS} characters, got {chars}"
            ));
        }
        let s = crate::names::human_name(s)
            .map_err(|m| format!("username {m}"))?
            .to_lowercase();
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
        {
            return Err("username may contain only letters, digits and . _ @ -".into());
        }
        Ok(Username(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

const USER_COLUMNS: &str = "id, username, role, disabled, created_at, updated_at, last_login_at";

impl User {
    pub(super) fn from_row(r: &super::db::Row) -> Result<Self, StoreError> {
        Ok(User {
            id: r.i64("id")?,
            username: r.text("username")?,
            role: r.parse("role")?,
            disabled: r.bool("disabled")?,
            created_at: Timestamp(r.i64("created_at")?),
            updated_at: Timestamp(r.i64("updated_at")?),
            last_login_at: r.opt_i64("last_login_at")?.map(Timestamp),
        })
    }
}

impl Store {
    pub async fn create_user(
        &self,
        username: &Username,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError> {
        let now = self.now();
        let row = self
            .db
            .query_one(
                &format!(
                    "INSERT INTO users (username, password_hash, role, disabled, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING {USER_COLUMNS}"
                ),
                params![username.as_str(), password_hash, role.as_str(), false, now],
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => StoreError::Conflict(format!("user {username} already exists")),
                e => e,
            })?;
        User::from_row(&row)
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = self
            .db
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
                params![id],
            )
            .await?;
        row.as_ref().map(User::from_row).transpose()
    }

    /// The user and their password hash, for login.
    pub async fn user_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<(User, String)>, StoreError> {
        let row = self
            .db
            .query_opt(
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"),
                params![username.as_str()],
            )
            .await?;
        row.map(|r| Ok((User::from_row(&r)?, r.text("password_hash")?)))
            .transpose()
    }

    pub async fn user_by_name(&self, username: &Username) -> Result<Option<User>, StoreError> {
        Ok(self.user_credentials(username).await?.map(|(u, _)| u))
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = self
            .db
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"),
                vec![],
            )
            .await?;
        rows.iter().map(User::from_row).collect()
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        self.db
            .query_one("SELECT COUNT(*) AS n FROM users", vec![])
            .await?
            .i64("n")
    }

    /// Enabled administrators other than `except`; guards against locking everyone out.
    pub async fn count_other_active_admins(&self, except: i64) -> Result<i64, StoreError> {
        self.db
            .query_one(
                "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = $1 AND id <> $2",
                params![false, except],
            )
            .await?
            .i64("n")
    }

    pub async fn set_password_hash(&self, id: i64, hash: &str) -> Result<(), StoreError> {
        self.update_user("password_hash = $2", params![id, hash])
            .await
    }

    pub async fn set_role(&self, id: i64, role: Role) -> Result<(), StoreError> {
        self.update_user("role = $2", params![id, role.as_str()])
            .await
    }

    pub async fn set_disabled(&self, id: i64, disabled: bool) -> Result<(), StoreError> {
        self.update_user("disabled = $2", params![id, disabled])
            .await
    }

    pub async fn record_login(&self, id: i64) -> Result<(), StoreError> {
        let now = self.now();
        self.db
            .execute(
                "UPDATE users SET last_login_at = $2 WHERE id = $1",
                params![id, now],
            )
            .await?;
        Ok(())
    }

    async fn update_user(
        &self,
        set: &str,
        mut params: Vec<super::db::Value>,
    ) -> Result<(), StoreError> {
        let n = params.len() + 1;
        params.push(self.now().into());
        let changed = self
            .db
            .execute(
                &format!("UPDATE users SET {set}, updated_at = ${n} WHERE id = $1"),
                params,
            )
            .await?;
        if changed == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Deletes a user and, in the same transaction, revokes the API and enrolment tokens
    /// they created: a token never outlives its creator's rights. Agent credentials stay
    /// (they belong to their agent). The tokens keep `created_by_name`.
    pub async fn delete_user(&self, id: i64) -> Result<(), StoreError> {
        let counts = self
            .db
            .execute_all_counted(vec![
                (
                    "UPDATE api_tokens SET revoked_at = $2
                     WHERE created_by = $1 AND kind <> 'agent' AND revoked_at IS NULL"
                        .to_owned(),
                    params![id, self.now()],
                ),
                ("DELETE FROM users WHERE id = $1".to_owned(), params![id]),
            ])
            .await?;
        if counts[1] == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Username;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(Username::parse("  Alice ").unwrap().as_str(), "alice");
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("<script>").is_err());
        assert!(Username::parse(&"x".repeat(65)).is_err());
    }
}
