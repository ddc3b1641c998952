//! Wall-clock time, injectable so tests can move it (session timeouts, token expiry,
//! login throttling windows) without sleeping.

use schemars::JsonSchema;
use serde::{Serialize, Serializer};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    /// A clock that only moves when told to.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn manual(start_ms: i64) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    /// Unix time in milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => {
                let now = time::OffsetDateTime::now_utc();
                (now.unix_timestamp_nanos() / 1_000_000) as i64
            }
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Unix time in nanoseconds: the time a point written without a timestamp gets.
    /// A manual clock has millisecond resolution.
    pub fn now_ns(&self) -> i64 {
        match self {
            Clock::System => time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64,
            Clock::Manual(t) => t.load(Ordering::SeqCst).saturating_mul(1_000_000),
        }
    }

    /// Moves a manual clock forward; the system clock cannot be moved.
    pub fn advance(&self, by: Duration) {
        match self {
            Clock::System => panic!("cannot advance the system clock"),
            Clock::Manual(t) => {
                t.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
            }
        }
    }
}

/// A Unix-millisecond time that serializes as RFC 3339 (`2026-11-25T20:52:33.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn rfc3339(self) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "date-time" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now_ms(), 3_000);
        assert_eq!(
            Timestamp(1_764_103_953_123).rfc3339(),
            "2025-11-25T20:52:33.123Z"
        );
    }
}
