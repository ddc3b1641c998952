//! Raw storage of runtime settings as key → JSON value. Their meaning, defaults and
//! validation live in `crate::settings`.

use super::{Store, StoreError};
use crate::params;

impl Store {
    pub async fn setting_values(&self) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let rows = self
            .db
            .query("SELECT key, value FROM settings ORDER BY key", vec![])
            .await?;
        rows.iter()
            .map(|r| {
                let value = serde_json::from_str(&r.text("value")?)
                    .map_err(|e| StoreError::Decode(e.to_string()))?;
                Ok((r.text("key")?, value))
            })
            .collect()
    }

    /// Writes several settings in one transaction.
    pub async fn put_settings(
        &self,
        values: &[(String, serde_json::Value)],
        by: Option<i64>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let stmts = values
            .iter()
            .map(|(k, v)| {
                (
                    "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
                     updated_by = excluded.updated_by"
                        .to_owned(),
                    params![k.as_str(), v.to_string(), now, by],
                )
            })
            .collect();
        self.db.execute_all(stmts).await
    }
}
