//! Test definitions: what a test measures (`TestKind` + `TestParams`), against what
//! (`target`) and when (`Schedule`).
//!
//! The server validates every definition with [`TestSpec::validate`] before storing it,
//! and the agent parses the same types, so a test the server accepted is one the agent
//! can run. Parameters are per kind and reject unknown keys, so a typo in an API call is
//! an error instead of a silently ignored option.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::kinds::{ParamFormat, ParamType, TargetSyntax};

/// One rejected field: which field (JSON path, e.g. `params.count`) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

include!(concat!(env!("OUT_DIR"), "/kinds.rs"));

impl TestKind {
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for TestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The generated parameter structs: which kind they belong to, and how to get them out
/// of a [`TestParams`]. Code generic over kinds (the agent's probe registry) uses it.
pub trait KindParams:
    Clone + fmt::Debug + PartialEq + Default + Serialize + Send + Sync + 'static
{
    const KIND: TestKind;
    /// These parameters, when `params` are of this kind.
    fn of(params: &TestParams) -> Option<&Self>;
}

fn parse_params<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
) -> Result<T, ValidationError> {
    serde_json::from_value(v).map_err(|e| ValidationError::new("params", e.to_string()))
}

impl TestParams {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("test parameters always serialize")
    }

    fn validate(&self, errors: &mut Vec<ValidationError>) {
        self.check_limits(errors);
    }
}

fn check_range(errors: &mut Vec<ValidationError>, field: &str, value: u64, lo: u64, hi: u64) {
    if !(lo..=hi).contains(&value) {
        errors.push(ValidationError::new(
            format!("params.{field}"),
            format!("must be between {lo} and {hi}, got {value}"),
        ));
    }
}

fn check_items(errors: &mut Vec<ValidationError>, field: &str, len: usize, max: usize) {
    if len > max {
        errors.push(ValidationError::new(
            format!("params.{field}"),
            format!("at most {max} items, got {len}"),
        ));
    }
}

fn check_len(errors: &mut Vec<ValidationError>, field: &str, value: &str, max: usize) {
    let len = value.chars().count();
    if len > max {
        errors.push(ValidationError::new(
            format!("params.{field}"),
            format!("at most {max} characters, got {len}"),
        ));
    }
}

/// Regular expressions are compiled under this size limit, on the server and the agent.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn check_format(errors: &mut Vec<ValidationError>, field: &str, value: &str, format: ParamFormat) {
    let problem = match format {
        ParamFormat::Resolver => {
            let ok = value.parse::<std::net::IpAddr>().is_ok()
                || value.parse::<std::net::SocketAddr>().is_ok()
                || (value.starts_with("https://") && validate_url(value).is_ok());
            (!ok).then(|| {
                format!(
                    "{value:?} must be an IP address, optionally with a port (192.0.2.53, [2001:db8::53]:53), or an https:// URL"
                )
            })
        }
        ParamFormat::Header => match value.split_once(':') {
            Some((name, v))
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
                    && !v.contains(['\r', '\n']) =>
            {
                None
            }
            _ => Some(format!("{value:?} must be a header line `Name: value`")),
        },
        ParamFormat::Regex => regex::RegexBuilder::new(value)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .err()
            .map(|e| format!("not a valid regular expression: {e}")),
        ParamFormat::Url => validate_url(value).err(),
    };
    if let Some(message) = problem {
        errors.push(ValidationError::new(format!("params.{field}"), message));
    }
}

/// When a test runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Seconds between runs (1–86400). For a one-shot test, the deadline of its single run.
    pub interval_seconds: u32,
    /// Per-agent random offset added to each run, in seconds (0 ≤ jitter < interval).
    #[serde(default)]
    pub jitter_seconds: u32,
    /// Runs start at or after this time (Unix milliseconds), on the grid `start_at_ms +
    /// k·interval`. When absent the grid is aligned to the wall clock (multiples of the
    /// interval since the Unix epoch, as SmokePing does), so the first run comes within
    /// one interval and every agent runs the test in step.
    #[serde(default)]
    pub start_at_ms: Option<i64>,
    /// No run starts at or after this time (Unix milliseconds); open-ended when absent.
    #[serde(default)]
    pub end_at_ms: Option<i64>,
    /// Run once (at `start_at_ms` or as soon as assigned) instead of recurring.
    #[serde(default)]
    pub one_shot: bool,
}

impl Schedule {
    /// Every `interval_seconds`, for good: no jitter, no window, on the wall-clock grid.
    pub fn every(interval_seconds: u32) -> Schedule {
        Schedule {
            interval_seconds,
            jitter_seconds: 0,
            start_at_ms: None,
            end_at_ms: None,
            one_shot: false,
        }
    }
}

/// Everything the agent needs to run a test.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TestSpec {
    pub kind: TestKind,
    /// What the test measures: a host name or address (ping, traceroute), `host:port`
    /// (tcp), a DNS name (dns), an `http(s)://` URL (http); empty for `host`.
    pub target: String,
    pub params: TestParams,
    pub schedule: Schedule,
}

impl TestSpec {
    /// Checks every field and returns all problems at once, each naming its field.
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut errors = Vec::new();
        if self.params.kind() != self.kind {
            errors.push(ValidationError::new(
                "params",
                format!("parameters are not those of a {} test", self.kind),
            ));
        }
        self.params.validate(&mut errors);
        if let Err(message) = validate_target(self.kind, &self.target) {
            errors.push(ValidationError::new("target", message));
        }
        let s = &self.schedule;
        if !(1..=86_400).contains(&s.interval_seconds) {
            errors.push(ValidationError::new(
                "schedule.interval_seconds",
                format!("must be between 1 and 86400, got {}", s.interval_seconds),
            ));
        }
        if s.jitter_seconds >= s.interval_seconds.max(1) {
            errors.push(ValidationError::new(
                "schedule.jitter_seconds",
                "must be less than interval_seconds",
            ));
        }
        if let (Some(start), Some(end)) = (s.start_at_ms, s.end_at_ms)
            && end <= start
        {
            errors.push(ValidationError::new(
                "schedule.end_at_ms",
                "must be after start_at_ms",
            ));
        }
        for (field, v) in [
            ("schedule.start_at_ms", s.start_at_ms),
            ("schedule.end_at_ms", s.end_at_ms),
        ] {
            if v.is_some_and(|v| v < 0) {
                errors.push(ValidationError::new(
                    field,
                    "must be a Unix time in milliseconds (≥ 0)",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn validate_target(kind: TestKind, target: &str) -> Result<(), String> {
    match kind.def().target {
        TargetSyntax::None => {
            if target.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{kind} tests measure the agent itself; leave target empty"
                ))
            }
        }
        TargetSyntax::Host => host_or_ip(target),
        TargetSyntax::DnsName => {
            if is_hostname(target.trim_end_matches('.'))
                || target.parse::<std::net::IpAddr>().is_ok()
            {
                Ok(())
            } else {
                Err(format!("{target:?} is not a DNS name"))
            }
        }
        TargetSyntax::HostPort => {
            let (host, port) = split_host_port(target)
                .ok_or_else(|| format!("{target:?} must be host:port (IPv6 as [addr]:port)"))?;
            host_or_ip(host)?;
            match port.parse::<u16>() {
                Ok(p) if p > 0 => Ok(()),
                _ => Err(format!("port {port:?} must be 1–65535")),
            }
        }
        TargetSyntax::Url => validate_url(target),
    }
}

/// An absolute `http://` or `https://` URL with a host name or IP address.
fn validate_url(target: &str) -> Result<(), String> {
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
        .ok_or_else(|| format!("{target:?} must start with http:// or https://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = split_host_port(authority)
        .map(|(h, _)| h)
        .unwrap_or(authority);
    host_or_ip(host.trim_start_matches('[').trim_end_matches(']'))
}

fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        Some((host, port))
    } else {
        let (host, port) = s.rsplit_once(':')?;
        (!host.contains(':')).then_some((host, port))
    }
}

fn host_or_ip(s: &str) -> Result<(), String> {
    if s.parse::<std::net::IpAddr>().is_ok() || is_hostname(s) {
        Ok(())
    } else {
        Err(format!("{s:?} is not a host name or IP address"))
    }
}

/// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(
        kind: TestKind,
        target: &str,
        params: serde_json::Value,
    ) -> Result<TestSpec, ValidationError> {
        Ok(TestSpec {
            kind,
            target: target.into(),
            params: TestParams::from_json(kind, params)?,
            schedule: Schedule {
                jitter_seconds: 5,
                ..Schedule::every(60)
            },
        })
    }

    #[test]
    fn defaults_are_valid_for_every_kind() {
        for kind in TestKind::ALL {
            let target = match kind {
                TestKind::Host => "",
                TestKind::Tcp => "example.net:443",
                TestKind::Http => "https://example.net/health",
                _ => "example.net",
            };
            spec(kind, target, serde_json::Value::Null)
                .unwrap()
                .validate()
                .unwrap();
            assert_eq!(TestKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn unknown_parameter_is_rejected_by_name() {
        let err = spec(TestKind::Ping, "192.0.2.1", json!({"cuont": 3})).unwrap_err();
        assert_eq!(err.field, "params");
        assert!(err.message.contains("cuont"), "{err}");
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let s = spec(TestKind::Ping, "192.0.2.1", json!({"count": 0, "dscp": 64})).unwrap();
        let errs = s.validate().unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["params.count", "params.dscp"]);
    }

    #[test]
    fn targets_are_checked_per_kind() {
        let bad = [
            (TestKind::Ping, "exa mple.net"),
            (TestKind::Tcp, "example.net"),
            (TestKind::Tcp, "example.net:0"),
            (TestKind::Http, "ftp://example.net"),
            (TestKind::Host, "example.net"),
            (TestKind::Ping, "<script>"),
        ];
        for (kind, target) in bad {
            let errs = spec(kind, target, json!({}))
                .unwrap()
                .validate()
                .unwrap_err();
            assert_eq!(errs[0].field, "target", "{kind} {target}");
        }
        for (kind, target) in [
            (TestKind::Tcp, "[2001:db8::1]:22"),
            (TestKind::Ping, "2001:db8::1"),
            (TestKind::Http, "http://[::1]:8080/x"),
        ] {
            spec(kind, target, json!({})).unwrap().validate().unwrap();
        }
    }

    #[test]
    fn schedule_rules() {
        let mut s = spec(TestKind::Ping, "192.0.2.1", json!({})).unwrap();
        s.schedule.jitter_seconds = 60;
        s.schedule.start_at_ms = Some(2_000);
        s.schedule.end_at_ms = Some(1_000);
        let errs = s.validate().unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["schedule.jitter_seconds", "schedule.end_at_ms"]);
    }
}
