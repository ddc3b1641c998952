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

/// The kinds of test an agent can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// Host health of the agent itself (CPU, memory, disks, interfaces). No target.
    Host,
    /// ICMP echo.
    Ping,
    /// DNS resolution of a name.
    Dns,
    /// TCP connect to `host:port`.
    Tcp,
    /// HTTP(S) request to a URL.
    Http,
    /// Hop-by-hop path to a host.
    Traceroute,
}

impl TestKind {
    pub const ALL: [TestKind; 6] = [
        TestKind::Host,
        TestKind::Ping,
        TestKind::Dns,
        TestKind::Tcp,
        TestKind::Http,
        TestKind::Traceroute,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::Host => "host",
            TestKind::Ping => "ping",
            TestKind::Dns => "dns",
            TestKind::Tcp => "tcp",
            TestKind::Http => "http",
            TestKind::Traceroute => "traceroute",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for TestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Address family a probe resolves its target to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AddressFamily {
    #[default]
    Any,
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HostParams {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PingParams {
    /// Echo requests per run (1–1000).
    pub count: u32,
    /// Gap between echo requests in milliseconds (10–10000).
    pub interval_ms: u32,
    /// ICMP payload bytes (0–65000).
    pub payload_size: u32,
    /// How long to wait for each reply in milliseconds (10–60000).
    pub timeout_ms: u32,
    /// IP TTL / hop limit (1–255); the system default when absent.
    pub ttl: Option<u8>,
    /// DSCP code point (0–63) to mark echo requests with.
    pub dscp: Option<u8>,
    pub family: AddressFamily,
}

impl Default for PingParams {
    fn default() -> Self {
        PingParams {
            count: 5,
            interval_ms: 200,
            payload_size: 56,
            timeout_ms: 1000,
            ttl: None,
            dscp: None,
            family: AddressFamily::Any,
        }
    }
}

// TEMPORARY (branch i11/dns): DnsParams/TcpParams in the shape `schema/kinds/{dns,tcp}.toml`
// declares, standing in for the generated structs until the "kinds declared once" commit
// lands on main; at that merge this block is replaced by main's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsRecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
    Soa,
    Ptr,
    Srv,
    Caa,
}

impl DnsRecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            DnsRecordType::A => "A",
            DnsRecordType::Aaaa => "AAAA",
            DnsRecordType::Cname => "CNAME",
            DnsRecordType::Mx => "MX",
            DnsRecordType::Txt => "TXT",
            DnsRecordType::Ns => "NS",
            DnsRecordType::Soa => "SOA",
            DnsRecordType::Ptr => "PTR",
            DnsRecordType::Srv => "SRV",
            DnsRecordType::Caa => "CAA",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DnsTransport {
    Udp,
    Tcp,
    Dot,
    Doh,
}

impl DnsTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            DnsTransport::Udp => "udp",
            DnsTransport::Tcp => "tcp",
            DnsTransport::Dot => "dot",
            DnsTransport::Doh => "doh",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DnsParams {
    pub resolvers: Vec<String>,
    pub record_type: DnsRecordType,
    pub transport: DnsTransport,
    pub recursion_desired: bool,
    pub timeout_ms: u32,
    pub retries: u32,
    pub expected: Vec<String>,
    pub tls_name: Option<String>,
}

impl Default for DnsParams {
    fn default() -> Self {
        DnsParams {
            resolvers: Vec::new(),
            record_type: DnsRecordType::A,
            transport: DnsTransport::Udp,
            recursion_desired: true,
            timeout_ms: 2000,
            retries: 1,
            expected: Vec::new(),
            tls_name: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TcpParams {
    pub timeout_ms: u32,
    pub send: Option<String>,
    pub read_bytes: u32,
    pub family: AddressFamily,
}

impl Default for TcpParams {
    fn default() -> Self {
        TcpParams {
            timeout_ms: 3000,
            send: None,
            read_bytes: 0,
            family: AddressFamily::Any,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HttpParams {
    pub method: HttpMethod,
    /// Status codes that count as success; any 2xx/3xx when empty.
    pub expected_status: Vec<u16>,
    pub follow_redirects: bool,
    /// Verify the server certificate chain and name (HTTPS).
    pub verify_tls: bool,
    pub timeout_ms: u32,
}

impl Default for HttpParams {
    fn default() -> Self {
        HttpParams {
            method: HttpMethod::Get,
            expected_status: Vec::new(),
            follow_redirects: true,
            verify_tls: true,
            timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TracerouteProtocol {
    Icmp,
    Udp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TracerouteParams {
    /// Highest TTL probed (1–64).
    pub max_hops: u8,
    /// Probes per hop (1–100).
    pub probes_per_hop: u32,
    pub protocol: TracerouteProtocol,
    pub timeout_ms: u32,
    pub family: AddressFamily,
}

impl Default for TracerouteParams {
    fn default() -> Self {
        TracerouteParams {
            max_hops: 30,
            probes_per_hop: 3,
            protocol: TracerouteProtocol::Icmp,
            timeout_ms: 1000,
            family: AddressFamily::Any,
        }
    }
}

/// Parameters, one variant per [`TestKind`].
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum TestParams {
    Host(HostParams),
    Ping(PingParams),
    Dns(DnsParams),
    Tcp(TcpParams),
    Http(HttpParams),
    Traceroute(TracerouteParams),
}

impl TestParams {
    /// Parses `params` as the parameters of `kind`; `null` means all defaults.
    pub fn from_json(kind: TestKind, params: serde_json::Value) -> Result<Self, ValidationError> {
        let params = if params.is_null() {
            serde_json::json!({})
        } else {
            params
        };
        fn parse<T: serde::de::DeserializeOwned>(
            v: serde_json::Value,
        ) -> Result<T, ValidationError> {
            serde_json::from_value(v).map_err(|e| ValidationError::new("params", e.to_string()))
        }
        Ok(match kind {
            TestKind::Host => TestParams::Host(parse(params)?),
            TestKind::Ping => TestParams::Ping(parse(params)?),
            TestKind::Dns => TestParams::Dns(parse(params)?),
            TestKind::Tcp => TestParams::Tcp(parse(params)?),
            TestKind::Http => TestParams::Http(parse(params)?),
            TestKind::Traceroute => TestParams::Traceroute(parse(params)?),
        })
    }

    pub fn kind(&self) -> TestKind {
        match self {
            TestParams::Host(_) => TestKind::Host,
            TestParams::Ping(_) => TestKind::Ping,
            TestParams::Dns(_) => TestKind::Dns,
            TestParams::Tcp(_) => TestKind::Tcp,
            TestParams::Http(_) => TestKind::Http,
            TestParams::Traceroute(_) => TestKind::Traceroute,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("test parameters always serialize")
    }

    fn validate(&self, errors: &mut Vec<ValidationError>) {
        let mut range = |field: &str, value: u64, lo: u64, hi: u64| {
            if !(lo..=hi).contains(&value) {
                errors.push(ValidationError::new(
                    format!("params.{field}"),
                    format!("must be between {lo} and {hi}, got {value}"),
                ));
            }
        };
        match self {
            TestParams::Host(_) => {}
            TestParams::Ping(p) => {
                range("count", p.count.into(), 1, 1000);
                range("interval_ms", p.interval_ms.into(), 10, 10_000);
                range("payload_size", p.payload_size.into(), 0, 65_000);
                range("timeout_ms", p.timeout_ms.into(), 10, 60_000);
                if let Some(ttl) = p.ttl {
                    range("ttl", ttl.into(), 1, 255);
                }
                if let Some(dscp) = p.dscp {
                    range("dscp", dscp.into(), 0, 63);
                }
            }
            TestParams::Dns(p) => {
                range("timeout_ms", p.timeout_ms.into(), 10, 60_000);
                for r in &p.resolvers {
                    let ok = r.parse::<std::net::IpAddr>().is_ok()
                        || r.parse::<std::net::SocketAddr>().is_ok();
                    if !ok {
                        errors.push(ValidationError::new(
                            "params.resolver",
                            "must be an IP address, optionally with a port (e.g. 192.0.2.53 or [2001:db8::53]:53)",
                        ));
                    }
                }
            }
            TestParams::Tcp(p) => range("timeout_ms", p.timeout_ms.into(), 10, 60_000),
            TestParams::Http(p) => {
                range("timeout_ms", p.timeout_ms.into(), 10, 120_000);
                for s in &p.expected_status {
                    range("expected_status", (*s).into(), 100, 599);
                }
            }
            TestParams::Traceroute(p) => {
                range("max_hops", p.max_hops.into(), 1, 64);
                range("probes_per_hop", p.probes_per_hop.into(), 1, 100);
                range("timeout_ms", p.timeout_ms.into(), 10, 10_000);
            }
        }
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
    match kind {
        TestKind::Host => {
            if target.is_empty() {
                Ok(())
            } else {
                Err("host tests measure the agent itself; leave target empty".into())
            }
        }
        TestKind::Ping | TestKind::Traceroute => host_or_ip(target),
        TestKind::Dns => {
            if is_hostname(target.trim_end_matches('.'))
                || target.parse::<std::net::IpAddr>().is_ok()
            {
                Ok(())
            } else {
                Err(format!("{target:?} is not a DNS name"))
            }
        }
        TestKind::Tcp => {
            let (host, port) = split_host_port(target)
                .ok_or_else(|| format!("{target:?} must be host:port (IPv6 as [addr]:port)"))?;
            host_or_ip(host)?;
            match port.parse::<u16>() {
                Ok(p) if p > 0 => Ok(()),
                _ => Err(format!("port {port:?} must be 1–65535")),
            }
        }
        TestKind::Http => {
            let rest = target
                .strip_prefix("http://")
                .or_else(|| target.strip_prefix("https://"))
                .ok_or_else(|| format!("{target:?} must start with http:// or https://"))?;
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = split_host_port(authority)
                .map(|(h, _)| h)
                .unwrap_or(authority);
            host_or_ip(host.trim_start_matches('[').trim_end_matches(']'))
        }
    }
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
