//! What a write answer means and how long to wait: pure functions, no I/O, no clock
//! (callers pass "now" and the random draw), so every rule is unit-tested.
//!
//! | answer | verdict | why |
//! |---|---|---|
//! | 2xx | accepted | 1.x and 2.x say 204; some proxies and 3.x say 200 |
//! | 400, 422 | rejected: drop the batch and count it | the lines are bad (parse error, type conflict, outside retention); resending cannot help. 1.x's "partial write … dropped=N" counts N |
//! | 413 | split the batch in halves and resend | the body is over the server's limit |
//! | 401, 403, 404, other 4xx, 1xx/3xx | alarm: keep the data, retry slowly | wrong credentials, database, bucket or URL: an operator must act, and the data stays until they do |
//! | 429, 503 | throttled: wait max(own backoff, `Retry-After`), capped | the server asked for room |
//! | other 5xx, connection errors, timeouts | transient: exponential backoff with full jitter | a restart or an overload usually passes |

use std::time::{Duration, SystemTime};

/// Why a batch is kept for later rather than sent or dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryReason {
    /// 401 or 403: the credentials were refused.
    Unauthorized { status: u16, message: String },
    /// 404: the database, bucket or organisation does not exist (or the URL is wrong).
    NotFound { message: String },
    /// Any other status the policy does not expect from an InfluxDB (405, 3xx, …):
    /// most likely `influx.url` points at something else.
    UnexpectedStatus { status: u16, message: String },
    /// 429 or 503: the server asked us to slow down.
    Throttled { status: u16 },
    /// Another 5xx.
    ServerError { status: u16, message: String },
    /// No answer: refused, reset, DNS failure, TLS failure or timeout.
    Connection { message: String },
}

impl RetryReason {
    /// Whether an operator must act (wrong credentials, database or URL): logged as an
    /// error and retried slowly, because retrying fast cannot fix configuration.
    pub fn is_alarm(&self) -> bool {
        matches!(
            self,
            RetryReason::Unauthorized { .. }
                | RetryReason::NotFound { .. }
                | RetryReason::UnexpectedStatus { .. }
        )
    }

    /// A stable label for metrics: `unauthorized`, `not_found`, `unexpected_status`,
    /// `throttled`, `server_error`, `connection`.
    pub fn label(&self) -> &'static str {
        match self {
            RetryReason::Unauthorized { .. } => "unauthorized",
            RetryReason::NotFound { .. } => "not_found",
            RetryReason::UnexpectedStatus { .. } => "unexpected_status",
            RetryReason::Throttled { .. } => "throttled",
            RetryReason::ServerError { .. } => "server_error",
            RetryReason::Connection { .. } => "connection",
        }
    }
}

impl std::fmt::Display for RetryReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryReason::Unauthorized { status, message } => {
                write!(f, "credentials refused ({status}): {message}")
            }
            RetryReason::NotFound { message } => {
                write!(f, "database, bucket or URL not found (404): {message}")
            }
            RetryReason::UnexpectedStatus { status, message } => {
                write!(f, "unexpected answer {status}: {message}")
            }
            RetryReason::Throttled { status } => write!(f, "throttled ({status})"),
            RetryReason::ServerError { status, message } => {
                write!(f, "server error {status}: {message}")
            }
            RetryReason::Connection { message } => write!(f, "no answer: {message}"),
        }
    }
}

/// What to do with a batch after one answer, before any waiting is computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Drop the batch. `dropped_lines` is known when the server said how many it dropped
    /// (1.x's `partial write: … dropped=N`); otherwise the whole batch is lost.
    Rejected {
        message: String,
        dropped_lines: Option<usize>,
    },
    /// 413: too large for the server; split it.
    Split,
    Retry {
        reason: RetryReason,
        /// The server's `Retry-After`, already converted to a wait from now.
        retry_after: Option<Duration>,
    },
}

/// Classifies an HTTP answer. `message` is the server's error text (see
/// [`error_message`]), `retry_after` the raw `Retry-After` header.
pub fn classify(status: u16, message: &str, retry_after: Option<&str>, now: SystemTime) -> Verdict {
    let message = message.to_owned();
    match status {
        200..=299 => Verdict::Accepted,
        400 | 422 => Verdict::Rejected {
            dropped_lines: partial_write_dropped(&message),
            message,
        },
        413 => Verdict::Split,
        401 | 403 => Verdict::Retry {
            reason: RetryReason::Unauthorized { status, message },
            retry_after: None,
        },
        404 => Verdict::Retry {
            reason: RetryReason::NotFound { message },
            retry_after: None,
        },
        429 | 503 => Verdict::Retry {
            reason: RetryReason::Throttled { status },
            retry_after: retry_after.and_then(|v| parse_retry_after(v, now)),
        },
        500..=599 => Verdict::Retry {
            reason: RetryReason::ServerError { status, message },
            retry_after: None,
        },
        _ => Verdict::Retry {
            reason: RetryReason::UnexpectedStatus { status, message },
            retry_after: None,
        },
    }
}

/// InfluxDB 1.x answers 400 `partial write: … dropped=N` when it stored part of a batch.
fn partial_write_dropped(message: &str) -> Option<usize> {
    if !message.starts_with("partial write") {
        return None;
    }
    let rest = &message[message.rfind("dropped=")? + "dropped=".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `Retry-After` as a wait from `now`: either delay-seconds or an HTTP-date (RFC 9110
/// §10.2.3). A date in the past means "now"; anything else unreadable is ignored.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Saturate rather than fail on absurd values; the policy caps the wait anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The error text of a write or query answer body: InfluxDB 1.x and 3.x send
/// `{"error": "…"}`, 2.x sends `{"code": "…", "message": "…"}`; anything else is shown
/// as text, shortened.
pub fn error_message(body: &[u8]) -> String {
    const MAX_CHARS: usize = 1000;
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
        for key in ["error", "message"] {
            if let Some(serde_json::Value::String(text)) = map.get(key) {
                return text.chars().take(MAX_CHARS).collect();
            }
        }
    }
    String::from_utf8_lossy(body)
        .trim()
        .chars()
        .take(MAX_CHARS)
        .collect()
}

/// Exponential backoff with jitter: after the `n`-th consecutive failure, wait a random
/// time in `[floor, min(max, initial · 2^(n-1))]`.
///
/// With `floor = 0` this is "full jitter" (AWS Architecture Blog, "Exponential Backoff
/// and Jitter"): many agents that lost the same server at the same moment spread their
/// retries over the whole window instead of returning in waves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub floor: Duration,
}

impl Backoff {
    /// For server errors, throttling and connection errors: 1 s doubling up to 60 s.
    pub const TRANSIENT: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(60),
        floor: Duration::ZERO,
    };

    /// For alarms (401/403/404, unexpected answers): an operator must fix something, so
    /// retry slowly — never sooner than 10 s, at most every 5 minutes once it persists.
    pub const ALARM: Backoff = Backoff {
        initial: Duration::from_secs(30),
        max: Duration::from_secs(300),
        floor: Duration::from_secs(10),
    };

    /// The upper bound of the wait after `failures` consecutive failures (≥ 1).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.initial
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .max(self.floor)
    }

    /// The wait after `failures` consecutive failures; `unit` is a uniform random draw
    /// in `[0, 1)` (clamped), so the arithmetic stays deterministic under test.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(failures);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.floor + (ceiling - self.floor).mul_f64(unit)
    }
}

/// The whole waiting policy of the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub transient: Backoff,
    pub alarm: Backoff,
    /// The longest a `Retry-After` can make us wait: 5 minutes. A server (or a proxy in
    /// front of it) asking for an hour would otherwise stall the agent's spool that long.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            transient: Backoff::TRANSIENT,
            alarm: Backoff::ALARM,
            retry_after_cap: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before resending, after `failures` consecutive failures (≥ 1).
    /// Throttling waits `min(max(own backoff, Retry-After), cap)`: never sooner than the
    /// server asked, never longer than the cap.
    pub fn delay(
        &self,
        reason: &RetryReason,
        retry_after: Option<Duration>,
        failures: u32,
        unit: f64,
    ) -> Duration {
        if reason.is_alarm() {
            return self.alarm.delay(failures, unit);
        }
        let own = self.transient.delay(failures, unit);
        match reason {
            RetryReason::Throttled { .. } => own
                .max(retry_after.unwrap_or(Duration::ZERO))
                .min(self.retry_after_cap.max(own)),
            _ => own,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_secs(1_700_000_000);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + NOW
    }

    #[test]
    fn statuses_map_to_verdicts() {
        let v = |status| classify(status, "m", None, now());
        assert_eq!(v(204), Verdict::Accepted);
        assert_eq!(v(200), Verdict::Accepted);
        assert_eq!(
            v(400),
            Verdict::Rejected {
                message: "m".into(),
                dropped_lines: None
            }
        );
        assert!(matches!(v(422), Verdict::Rejected { .. }));
        assert_eq!(v(413), Verdict::Split);
        for (status, label, alarm) in [
            (401, "unauthorized", true),
            (403, "unauthorized", true),
            (404, "not_found", true),
            (405, "unexpected_status", true),
            (302, "unexpected_status", true),
            (429, "throttled", false),
            (503, "throttled", false),
            (500, "server_error", false),
            (502, "server_error", false),
            (504, "server_error", false),
        ] {
            let Verdict::Retry { reason, .. } = v(status) else {
                panic!("{status} must be retried");
            };
            assert_eq!(reason.label(), label, "{status}");
            assert_eq!(reason.is_alarm(), alarm, "{status}");
        }
    }

    #[test]
    fn partial_writes_count_only_the_dropped_lines() {
        let m = r#"partial write: field type conflict: input field "v" on measurement "m" is type integer, already exists as type float dropped=2"#;
        assert_eq!(
            classify(400, m, None, now()),
            Verdict::Rejected {
                message: m.into(),
                dropped_lines: Some(2)
            }
        );
        assert_eq!(partial_write_dropped("unable to parse 'x dropped=3'"), None);
    }

    #[test]
    fn retry_after_is_read_only_for_throttling() {
        assert_eq!(
            classify(503, "", Some("7"), now()),
            Verdict::Retry {
                reason: RetryReason::Throttled { status: 503 },
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            classify(500, "", Some("7"), now()),
            Verdict::Retry {
                reason: RetryReason::ServerError {
                    status: 500,
                    message: String::new()
                },
                retry_after: None
            }
        );
    }

    #[test]
    fn retry_after_seconds_and_http_dates() {
        assert_eq!(
            parse_retry_after(" 120 ", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now()),
            Some(Duration::from_secs(u64::MAX))
        );
        let in_90s = httpdate::fmt_http_date(now() + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&in_90s, now()),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now() - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::ZERO)
        );
        for bad in ["", "-5", "1.5", "soon", "12 s"] {
            assert_eq!(parse_retry_after(bad, now()), None, "{bad:?}");
        }
    }

    #[test]
    fn error_messages_from_each_server_generation() {
        assert_eq!(
            error_message(br#"{"error":"unable to parse 'x': missing fields"}"#),
            "unable to parse 'x': missing fields"
        );
        assert_eq!(
            error_message(br#"{"code":"invalid","message":"bad line"}"#),
            "bad line"
        );
        assert_eq!(error_message(b"  Bad Gateway\n"), "Bad Gateway");
        assert_eq!(error_message(&[b'x'; 5000]).len(), 1000);
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_full_jitter() {
        let b = Backoff::TRANSIENT;
        let ceilings: Vec<u64> = (1..=9).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(60));
        assert_eq!(b.delay(3, 0.0), Duration::ZERO);
        assert_eq!(b.delay(3, 0.5), Duration::from_secs(2));
        assert_eq!(b.delay(3, 1.0), Duration::from_secs(4));
        assert_eq!(b.delay(3, f64::NAN), Duration::ZERO);
        assert_eq!(b.delay(3, 7.0), Duration::from_secs(4));
    }

    #[test]
    fn alarm_backoff_is_slow_from_the_first_failure() {
        let b = Backoff::ALARM;
        assert_eq!(b.delay(1, 0.0), Duration::from_secs(10));
        assert_eq!(b.delay(1, 1.0), Duration::from_secs(30));
        assert_eq!(b.delay(20, 1.0), Duration::from_secs(300));
        assert_eq!(b.delay(20, 0.0), Duration::from_secs(10));
    }

    #[test]
    fn throttling_waits_the_longer_of_own_backoff_and_retry_after_capped() {
        let p = RetryPolicy::default();
        let throttled = RetryReason::Throttled { status: 429 };
        let secs = |d: Duration| d.as_secs_f64();
        // Retry-After longer than our own backoff wins.
        assert_eq!(
            secs(p.delay(&throttled, Some(Duration::from_secs(20)), 1, 1.0)),
            20.0
        );
        // Our own backoff longer than Retry-After wins.
        assert_eq!(
            secs(p.delay(&throttled, Some(Duration::from_secs(1)), 5, 1.0)),
            16.0
        );
        // Absurd Retry-After is capped at 5 minutes.
        assert_eq!(
            secs(p.delay(&throttled, Some(Duration::from_secs(86_400)), 1, 0.3)),
            300.0
        );
        // Without Retry-After: plain backoff.
        assert_eq!(secs(p.delay(&throttled, None, 2, 0.5)), 1.0);
        // Other reasons ignore Retry-After.
        let server = RetryReason::ServerError {
            status: 500,
            message: String::new(),
        };
        assert_eq!(
            secs(p.delay(&server, Some(Duration::from_secs(20)), 1, 1.0)),
            1.0
        );
        let alarm = RetryReason::NotFound {
            message: String::new(),
        };
        assert_eq!(secs(p.delay(&alarm, None, 1, 0.0)), 10.0);
    }
}
