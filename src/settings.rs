//! Runtime settings: values admins change from the UI or API without a restart
//! (session timeouts, heartbeat and offline thresholds, retention, login throttling).
//!
//! All settings are integers with a unit and a range, described once in [`DEFINITIONS`];
//! the API, the validation and the defaults all come from that table.

use crate::store::{Store, StoreError};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct Definition {
    pub key: &'static str,
    pub unit: &'static str,
    pub min: i64,
    pub max: i64,
    pub default: i64,
    pub description: &'static str,
}

pub const DEFINITIONS: &[Definition] = &[
    Definition {
        key: "session_idle_timeout_minutes",
        unit: "min",
        min: 1,
        max: 1440,
        default: 30,
        description: "A session ends after this long without a request.",
    },
    Definition {
        key: "session_absolute_timeout_hours",
        unit: "h",
        min: 1,
        max: 720,
        default: 12,
        description: "A session ends this long after login, however active.",
    },
    Definition {
        key: "heartbeat_interval_seconds",
        unit: "s",
        min: 1,
        max: 3600,
        default: 10,
        description: "How often agents report in.",
    },
    Definition {
        key: "agent_offline_after_seconds",
        unit: "s",
        min: 2,
        max: 86400,
        default: 30,
        description: "An agent silent for this long is shown offline (at least twice the heartbeat interval).",
    },
    Definition {
        key: "raw_retention_days",
        unit: "d",
        min: 1,
        max: 3650,
        default: 30,
        description: "Raw measurements older than this are deleted from the embedded store.",
    },
    Definition {
        key: "rollup_1m_retention_days",
        unit: "d",
        min: 1,
        max: 3650,
        default: 90,
        description: "1-minute summaries (count, sum, min, max) older than this are deleted from the embedded store.",
    },
    Definition {
        key: "rollup_1h_retention_days",
        unit: "d",
        min: 1,
        max: 36500,
        default: 730,
        description: "1-hour summaries older than this are deleted from the embedded store.",
    },
    Definition {
        key: "login_max_failures_per_user_and_address",
        unit: "failures",
        min: 1,
        max: 1000,
        default: 5,
        description: "Wrong passwords for one username from one source address within the window before that address gets 429 for that username.",
    },
    Definition {
        key: "login_max_failures_per_address",
        unit: "failures",
        min: 1,
        max: 100000,
        default: 20,
        description: "Wrong passwords from one source address (any usernames) within the window before that address gets 429.",
    },
    Definition {
        key: "login_max_failures_per_user",
        unit: "failures",
        min: 1,
        max: 100000,
        default: 10,
        description: "Wrong passwords for one username from all addresses within the window after which every address that is not known for the user gets one try per window (the owner is never refused from an address that has not failed).",
    },
    Definition {
        key: "login_known_address_days",
        unit: "d",
        min: 1,
        max: 3650,
        default: 30,
        description: "An address the user signed in from within this many days keeps its whole per-address budget while the username is under attack.",
    },
    Definition {
        key: "login_failure_window_minutes",
        unit: "min",
        min: 1,
        max: 1440,
        default: 5,
        description: "The window over which wrong passwords (sign-in and password change) are counted.",
    },
];

/// The effective value of every setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeSettings(BTreeMap<&'static str, i64>);

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings(DEFINITIONS.iter().map(|d| (d.key, d.default)).collect())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SettingError {
    pub key: String,
    pub message: String,
}

impl RuntimeSettings {
    pub fn get(&self, key: &str) -> i64 {
        self.0[key]
    }

    fn minutes(&self, key: &str) -> Duration {
        Duration::from_secs(self.get(key) as u64 * 60)
    }

    pub fn session_idle_timeout(&self) -> Duration {
        self.minutes("session_idle_timeout_minutes")
    }
    pub fn session_absolute_timeout(&self) -> Duration {
        Duration::from_secs(self.get("session_absolute_timeout_hours") as u64 * 3600)
    }
    pub fn login_failure_window(&self) -> Duration {
        self.minutes("login_failure_window_minutes")
    }
    pub fn known_address_period(&self) -> Duration {
        Duration::from_secs(self.get("login_known_address_days") as u64 * 86_400)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&'static str, i64)> + '_ {
        self.0.iter().map(|(k, v)| (*k, *v))
    }

    /// Applies `changes` on top of `self`, checking each key, range and the rules
    /// between keys. Nothing is applied unless everything is valid.
    pub fn with_changes(
        &self,
        changes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, SettingError> {
        let mut next = self.clone();
        for (key, value) in changes {
            let def = DEFINITIONS
                .iter()
                .find(|d| d.key == key)
                .ok_or_else(|| SettingError {
                    key: key.clone(),
                    message: format!(
                        "unknown setting; known settings are {}",
                        DEFINITIONS
                            .iter()
                            .map(|d| d.key)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
            let v = value.as_i64().ok_or_else(|| SettingError {
                key: key.clone(),
                message: "must be an integer".into(),
            })?;
            if !(def.min..=def.max).contains(&v) {
                return Err(SettingError {
                    key: key.clone(),
                    message: format!(
                        "must be between {} and {} {}, got {v}",
                        def.min, def.max, def.unit
                    ),
                });
            }
            next.0.insert(def.key, v);
        }
        if next.get("agent_offline_after_seconds") < 2 * next.get("heartbeat_interval_seconds") {
            return Err(SettingError {
                key: "agent_offline_after_seconds".into(),
                message: "must be at least twice heartbeat_interval_seconds".into(),
            });
        }
        Ok(next)
    }

    /// Defaults overlaid with stored values; stored values that no longer validate
    /// (a range tightened by an upgrade) fall back to the default with a warning.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let mut s = RuntimeSettings::default();
        for (key, value) in store.setting_values().await? {
            let mut one = serde_json::Map::new();
            one.insert(key.clone(), value);
            match s.with_changes(&one) {
                Ok(next) => s = next,
                Err(e) => tracing::warn!(setting = %key, error = %e, "ignoring stored setting"),
            }
        }
        Ok(s)
    }
}

/// Settings read from the store at most every few seconds, so that every request does
/// not cost a query, while a change made on another replica still applies promptly.
pub struct SettingsCache {
    cached: RwLock<Option<(RuntimeSettings, Instant)>>,
}

const CACHE_TTL: Duration = Duration::from_secs(5);

impl SettingsCache {
    pub fn new() -> Self {
        SettingsCache {
            cached: RwLock::new(None),
        }
    }

    pub async fn get(&self, store: &Store) -> Result<RuntimeSettings, StoreError> {
        if let Some((s, at)) = self.cached.read().expect("settings lock").as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return Ok(s.clone());
        }
        let fresh = RuntimeSettings::load(store).await?;
        *self.cached.write().expect("settings lock") = Some((fresh.clone(), Instant::now()));
        Ok(fresh)
    }

    /// Forgets the cached values after a local change.
    pub fn invalidate(&self) {
        *self.cached.write().expect("settings lock") = None;
    }
}

impl Default for SettingsCache {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn changes(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn defaults_satisfy_their_own_ranges() {
        for d in DEFINITIONS {
            assert!((d.min..=d.max).contains(&d.default), "{}", d.key);
        }
        RuntimeSettings::default()
            .with_changes(&serde_json::Map::new())
            .unwrap();
    }

    #[test]
    fn invalid_changes_name_the_key_and_change_nothing() {
        let s = RuntimeSettings::default();
        let e = s
            .with_changes(&changes(json!({"session_idle_timeout_minutes": 0})))
            .unwrap_err();
        assert_eq!(e.key, "session_idle_timeout_minutes");
        let e = s
            .with_changes(&changes(json!({"sesion_idle": 5})))
            .unwrap_err();
        assert_eq!(e.key, "sesion_idle");
        let e = s
            .with_changes(&changes(json!({"heartbeat_interval_seconds": "10"})))
            .unwrap_err();
        assert!(e.message.contains("integer"));
        let e = s
            .with_changes(&changes(json!({"heartbeat_interval_seconds": 60})))
            .unwrap_err();
        assert_eq!(e.key, "agent_offline_after_seconds");
        let ok = s
            .with_changes(&changes(
                json!({"heartbeat_interval_seconds": 60, "agent_offline_after_seconds": 180}),
            ))
            .unwrap();
        assert_eq!(ok.get("heartbeat_interval_seconds"), 60);
    }
}
