//! TCP probe: connect to `host:port`, optionally send a few bytes and read a few, then
//! read the kernel's `TCP_INFO` for the connection, and report it as one `tcp` point.
//!
//! - **Target.** `host:port` (`[v6]:port`); the host is resolved through
//!   [`policy::resolve`] with the test's family, so a denied address gets no SYN.
//! - **Connect time.** From just before the non-blocking `connect()` (the SYN) to the
//!   moment the socket is writable with no error (the SYN-ACK arrived and the kernel
//!   sent the ACK) — the same span as curl's `time_connect − time_namelookup`. A SYN the
//!   kernel retransmits (dropped SYN, full accept queue) is inside it.
//! - **Outcomes** are distinct values of `outcome`: `connected`, `refused` (RST to the
//!   SYN, `ECONNREFUSED`), `timeout` (nothing within `timeout_ms`), `unreachable`
//!   (`EHOSTUNREACH`/`ENETUNREACH`: ICMP unreachable or no route), `unresolved`,
//!   `denied` (target policy) and `failed` (anything else, named in `error`).
//! - **Exchange.** With `send`, its text (escapes `\r`, `\n`, `\t`, `\\` decoded) is
//!   written; with `read_bytes` > 0, bytes are read until that many arrived, the peer
//!   closed, or `timeout_ms` passed (fewer bytes are not an error; none at all is).
//! - **TCP_INFO** (Linux) is read after the exchange; only what the kernel returned is
//!   reported: a field beyond the length the kernel filled in is absent, and a delivery
//!   rate of 0 (the kernel has no sample, e.g. nothing was sent) is absent, as `ss -ti`
//!   leaves it out.

use super::policy::{self, TargetPolicy};
use super::registry::{Probe, ProbeError, RunContext};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};
use streamswarm_schema::measurements::tcp;
use streamswarm_schema::test_spec::{TcpParams, TestSpec};
use streamswarm_tsdb::{Point, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[cfg(target_os = "linux")]
mod linux;

/// The TCP probe in the registry.
pub struct TcpProbe;

impl Probe for TcpProbe {
    type Params = TcpParams;
    type State = ();

    fn prepare(&self, _: &TestSpec, _: &TcpParams) -> Result<(), ProbeError> {
        Ok(())
    }

    fn natural_duration(&self, _: &TestSpec, params: &TcpParams) -> Duration {
        natural_duration(params)
    }

    async fn run(
        &self,
        ctx: RunContext<'_>,
        params: &TcpParams,
        _: &(),
    ) -> Result<Vec<Point>, ProbeError> {
        let result = run(&ctx.spec.target, params, ctx.policy).await;
        Ok(vec![
            to_point(&result, ctx.agent_id, ctx.test_id).into_dynamic(),
        ])
    }

    /// Outcome `timeout`, nothing measured, `error` saying the run was cancelled.
    fn timeout_points(&self, ctx: RunContext<'_>, _: &TcpParams, limit: Duration) -> Vec<Point> {
        vec![
            timeout_point(
                &ctx.spec.target,
                ctx.agent_id,
                ctx.test_id,
                ctx.started_at,
                limit,
            )
            .into_dynamic(),
        ]
    }
}

/// How a connect ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Connected,
    Refused,
    Timeout,
    Unreachable,
    Unresolved,
    Denied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Connected => "connected",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Unreachable => "unreachable",
            Outcome::Unresolved => "unresolved",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// What the kernel's `TCP_INFO` said; `None` for what it did not give.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TcpInfo {
    pub rtt_us: Option<u32>,
    pub rttvar_us: Option<u32>,
    pub min_rtt_us: Option<u32>,
    pub total_retrans: Option<u32>,
    pub snd_cwnd: Option<u32>,
    pub snd_mss: Option<u32>,
    pub advmss: Option<u32>,
    pub delivery_rate: Option<u64>,
}

/// Everything one run observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpResult {
    pub target: String,
    pub started_at_ns: i64,
    pub address: Option<SocketAddr>,
    pub outcome: Outcome,
    pub connect_time_ms: Option<f64>,
    pub sent_bytes: Option<u64>,
    pub received_bytes: Option<u64>,
    pub info: TcpInfo,
    pub error: Option<String>,
}

impl TcpResult {
    fn new(target: &str, started: SystemTime) -> Self {
        TcpResult {
            target: target.to_owned(),
            started_at_ns: super::unix_nanos(started),
            address: None,
            outcome: Outcome::Failed,
            connect_time_ms: None,
            sent_bytes: None,
            received_bytes: None,
            info: TcpInfo::default(),
            error: None,
        }
    }

    fn fail(&mut self, error: impl fmt::Display) {
        if self.error.is_none() {
            self.error = Some(one_line(&error.to_string()));
        }
    }
}

/// Splits `host:port` / `[v6]:port`.
pub fn split_target(target: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = target.strip_prefix('[') {
        rest.split_once("]:")?
    } else {
        target.rsplit_once(':')?
    };
    let port: u16 = port.parse().ok()?;
    (port > 0 && !host.is_empty()).then_some((host, port))
}

/// Decodes the `send` parameter's escapes: `\r`, `\n`, `\t`, `\\`; other backslashes stay.
pub fn decode_send(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let decoded = match chars.peek() {
                Some('r') => Some(b'\r'),
                Some('n') => Some(b'\n'),
                Some('t') => Some(b'\t'),
                Some('\\') => Some(b'\\'),
                _ => None,
            };
            if let Some(b) = decoded {
                chars.next();
                out.push(b);
                continue;
            }
        }
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    out
}

/// Resolution, the connect, then the exchange: sending and reading are each bounded by
/// `timeout_ms`.
pub fn natural_duration(params: &TcpParams) -> Duration {
    let timeout = Duration::from_millis(u64::from(params.timeout_ms));
    let send = u32::from(params.send.is_some());
    let read = u32::from(params.read_bytes > 0);
    policy::RESOLVE_TIMEOUT + timeout * (1 + send + read)
}

/// Classifies a connect error.
fn outcome_of(e: &io::Error) -> Outcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Outcome::Refused,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => Outcome::Unreachable,
        io::ErrorKind::TimedOut => Outcome::Timeout,
        _ => Outcome::Failed,
    }
}

/// Runs one TCP test against `target`; the connection is closed when it returns.
pub async fn run(target: &str, params: &TcpParams, policy: &TargetPolicy) -> TcpResult {
    run_keeping(target, params, policy).await.0
}

/// [`run`], handing back the connection (when there is one) so the caller decides when
/// it closes (the `tcp_once` example keeps it open for `ss -ti`).
pub async fn run_keeping(
    target: &str,
    params: &TcpParams,
    policy: &TargetPolicy,
) -> (TcpResult, Option<tokio::net::TcpStream>) {
    let mut result = TcpResult::new(target, SystemTime::now());
    let Some((host, port)) = split_target(target) else {
        result.outcome = Outcome::Unresolved;
        result.fail(format_args!(
            "{target:?} is not host:port (IPv6 as [addr]:port)"
        ));
        return (result, None);
    };
    let ip = match policy::resolve(policy, host, params.family).await {
        Ok(permitted) => permitted.ip(),
        Err(e) => {
            result.outcome = match e {
                policy::TargetError::Unresolved(_) => Outcome::Unresolved,
                _ => Outcome::Denied,
            };
            result.fail(e);
            return (result, None);
        }
    };
    let address = SocketAddr::new(ip, port);
    result.address = Some(address);
    let timeout = Duration::from_millis(u64::from(params.timeout_ms));
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    };
    let socket = match socket {
        Ok(socket) => socket,
        Err(e) => {
            result.fail(format_args!("opening a TCP socket: {e}"));
            return (result, None);
        }
    };
    let started = Instant::now();
    let connected = tokio::time::timeout(timeout, socket.connect(address)).await;
    let elapsed = started.elapsed();
    let mut stream = match connected {
        Err(_) => {
            result.outcome = Outcome::Timeout;
            result.fail(format_args!(
                "no answer from {address} within {} ms",
                timeout.as_millis()
            ));
            return (result, None);
        }
        Ok(Err(e)) => {
            result.outcome = outcome_of(&e);
            result.fail(format_args!("connecting to {address}: {e}"));
            return (result, None);
        }
        Ok(Ok(stream)) => stream,
    };
    result.outcome = Outcome::Connected;
    result.connect_time_ms = Some(elapsed.as_secs_f64() * 1e3);

    if let Some(text) = &params.send {
        let bytes = decode_send(text);
        match tokio::time::timeout(timeout, stream.write_all(&bytes)).await {
            Ok(Ok(())) => result.sent_bytes = Some(bytes.len() as u64),
            Ok(Err(e)) => result.fail(format_args!("sending to {address}: {e}")),
            Err(_) => result.fail(format_args!(
                "sending to {address} did not finish within {} ms",
                timeout.as_millis()
            )),
        }
    }
    if params.read_bytes > 0 && result.error.is_none() {
        let wanted = params.read_bytes as usize;
        let mut buf = vec![0u8; wanted];
        let mut got = 0;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut read_error = None;
        while got < wanted {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf[got..])).await {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(n)) => got += n,
                Ok(Err(e)) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        result.received_bytes = Some(got as u64);
        if let Some(e) = read_error {
            result.fail(format_args!("reading from {address}: {e}"));
        } else if got == 0 {
            result.fail(format_args!(
                "no data from {address} within {} ms (or it closed first)",
                timeout.as_millis()
            ));
        }
    }
    #[cfg(target_os = "linux")]
    match linux::tcp_info(&stream) {
        Ok(info) => result.info = info,
        Err(e) => result.fail(format_args!("reading TCP_INFO: {e}")),
    }
    (result, Some(stream))
}

/// The schema's `tcp` point of a run.
pub fn to_point(
    result: &TcpResult,
    agent_id: impl fmt::Display,
    test_id: impl fmt::Display,
) -> Point<tcp::Tcp> {
    use tcp::{fields, tags};
    let ms = |us: Option<u32>| us.map(|us| f64::from(us) / 1e3);
    let family = result
        .address
        .map(|a| if a.is_ipv4() { "ipv4" } else { "ipv6" });
    let info = &result.info;
    Point::new(tcp::MEASUREMENT)
        .tag(tags::AGENT, agent_id.to_string())
        .tag(tags::TEST, test_id.to_string())
        .tag(tags::TARGET, result.target.clone())
        .tag_opt(tags::FAMILY, family)
        .field_opt(fields::ADDRESS, result.address.map(|a| a.to_string()))
        .field(fields::OUTCOME, result.outcome.as_str())
        .field_opt(fields::CONNECT_TIME_MS, result.connect_time_ms)
        .field_opt(fields::SENT_BYTES, result.sent_bytes.map(saturating_i64))
        .field_opt(
            fields::RECEIVED_BYTES,
            result.received_bytes.map(saturating_i64),
        )
        .field_opt(fields::RTT_MS, ms(info.rtt_us))
        .field_opt(fields::RTTVAR_MS, ms(info.rttvar_us))
        .field_opt(fields::MIN_RTT_MS, ms(info.min_rtt_us))
        .field_opt(fields::RETRANSMITS, info.total_retrans.map(i64::from))
        .field_opt(fields::SND_CWND, info.snd_cwnd.map(i64::from))
        .field_opt(fields::SND_MSS_BYTES, info.snd_mss.map(i64::from))
        .field_opt(fields::ADVMSS_BYTES, info.advmss.map(i64::from))
        .field_opt(
            fields::DELIVERY_RATE_BYTES_PER_S,
            info.delivery_rate.map(saturating_i64),
        )
        .field_opt(fields::ERROR, result.error.clone())
        .timestamp(Timestamp::from_nanos(result.started_at_ns))
}

fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The point of a run cancelled at `limit`: outcome `timeout`, nothing measured.
pub fn timeout_point(
    target: &str,
    agent_id: impl fmt::Display,
    test_id: impl fmt::Display,
    started_at: SystemTime,
    limit: Duration,
) -> Point<tcp::Tcp> {
    let mut result = TcpResult::new(target, started_at);
    result.outcome = Outcome::Timeout;
    result.fail(format_args!(
        "timeout: the run did not finish within {} ms and was cancelled",
        limit.as_millis()
    ));
    to_point(&result, agent_id, test_id)
}

fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamswarm_tsdb::assert_follows_schema;

    #[test]
    fn targets_split_into_host_and_port() {
        assert_eq!(split_target("example.net:443"), Some(("example.net", 443)));
        assert_eq!(split_target("[2001:db8::1]:22"), Some(("2001:db8::1", 22)));
        assert_eq!(split_target("example.net"), None);
        assert_eq!(split_target("example.net:0"), None);
        assert_eq!(split_target(":80"), None);
    }

    #[test]
    fn send_escapes_are_decoded() {
        assert_eq!(
            decode_send(r"GET / HTTP/1.0\r\n\r\n"),
            b"GET / HTTP/1.0\r\n\r\n"
        );
        assert_eq!(decode_send(r"a\\n\x"), b"a\\n\\x");
    }

    #[test]
    fn the_limit_covers_connect_send_and_read() {
        let mut p = TcpParams {
            timeout_ms: 1000,
            ..TcpParams::default()
        };
        assert_eq!(
            natural_duration(&p),
            policy::RESOLVE_TIMEOUT + Duration::from_secs(1)
        );
        p.send = Some("x".into());
        p.read_bytes = 10;
        assert_eq!(
            natural_duration(&p),
            policy::RESOLVE_TIMEOUT + Duration::from_secs(3)
        );
    }

    #[test]
    fn timeout_point_follows_the_schema() {
        let point = timeout_point(
            "192.0.2.1:80",
            1,
            2,
            SystemTime::UNIX_EPOCH,
            Duration::from_secs(9),
        );
        assert_follows_schema(&point);
        assert!(point.field_value("connect_time_ms").is_none());
    }

    #[tokio::test]
    async fn loopback_connect_and_refusal() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let policy = TargetPolicy::permit_all();
        let result = run(&format!("127.0.0.1:{port}"), &TcpParams::default(), &policy).await;
        assert_eq!(result.outcome, Outcome::Connected, "{result:?}");
        assert!(result.connect_time_ms.is_some());
        #[cfg(target_os = "linux")]
        assert!(result.info.snd_mss.is_some(), "{result:?}");
        assert_follows_schema(&to_point(&result, 1, 2));
        drop(listener);
        let result = run(&format!("127.0.0.1:{port}"), &TcpParams::default(), &policy).await;
        assert_eq!(result.outcome, Outcome::Refused, "{result:?}");
        assert_follows_schema(&to_point(&result, 1, 2));
    }

    #[tokio::test]
    async fn a_denied_target_gets_no_syn() {
        let result = run(
            "169.254.169.254:80",
            &TcpParams::default(),
            &TargetPolicy::default(),
        )
        .await;
        assert_eq!(result.outcome, Outcome::Denied);
        assert!(result.address.is_none());
    }
}
