//! DNS probe: one run asks every resolver of the test (or, with none configured, every
//! `nameserver` of the agent's `/etc/resolv.conf`) for the target name and record type,
//! concurrently, and makes one `dns` point per resolver.
//!
//! # Library
//!
//! Messages are built, sent and parsed by hickory (`hickory-net`, with `hickory-proto`
//! re-exported as `hickory_net::proto`): its UDP, TCP, DNS-over-TLS and DNS-over-HTTPS
//! client streams, without the resolver layer (no cache, no search list, no server
//! rotation — a probe must see each server's own answer). No wire format is written here.
//! DoT and DoH use rustls with the aws-lc-rs provider (the one reqwest already brings)
//! and the platform's certificate store (`rustls-platform-verifier`), or with the test's
//! `ca_file` the system roots plus that file's CAs.
//!
//! # Semantics
//!
//! - **Query.** The target as an absolute name (no search domains, like dig); for PTR an
//!   IP literal target becomes its `in-addr.arpa` / `ip6.arpa` name. EDNS(0) with a
//!   1,232-byte payload (hickory's default and dig's), RD as the test says.
//! - **Attempts.** Each attempt waits `timeout_ms`; after a timeout (or a network error
//!   such as ICMP port unreachable) the query is sent again, `retries` times at most.
//!   A UDP answer with TC set is asked again once over TCP (as dig does); `truncated`
//!   records the TC bit, `transport` becomes `tcp`.
//! - **Time.** `resolution_time_ms` spans the answered query: from just before the query
//!   is handed to the socket task to the parsed answer — on an open connection for TCP,
//!   DoT and DoH, as dig's `Query time` does; opening that connection (TCP connect, TLS
//!   handshake, HTTP/2 setup) is `connect_time_ms`. After a truncated UDP answer it is the
//!   UDP exchange plus the TCP query, and `connect_time_ms` the TCP connect. Reading
//!   `/etc/resolv.conf`, parsing resolvers, policy checks and loading the certificate
//!   store come before any clock starts.
//! - **Answers.** Any answer is a result, whatever its rcode (NXDOMAIN, SERVFAIL and
//!   REFUSED are facts about the name or the server, not probe failures); `error` is set
//!   only when no answer came.
//! - **Policy.** A resolver address (and a DoH URL's host after resolution) is checked
//!   against the agent's target policy like any target; a denied resolver is an error
//!   point and gets no packet.

use super::policy::{self, TargetPolicy};
use super::registry::{Probe, ProbeError, RunContext};
use futures_util::StreamExt;
use hickory_net::proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Query, ResponseCode};
use hickory_net::proto::rr::{Name, RData, RecordType};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::xfer::DnsExchange;
use hickory_net::{DnsHandle, NetError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use streamswarm_schema::measurements::dns;
use streamswarm_schema::test_spec::{DnsParams, DnsRecordType, DnsTransport, TestSpec};
use streamswarm_tsdb::{Point, Timestamp};

/// The DNS probe in the registry.
pub struct DnsProbe;

impl Probe for DnsProbe {
    type Params = DnsParams;
    type State = ();

    fn prepare(&self, _: &TestSpec, _: &DnsParams) -> Result<(), ProbeError> {
        Ok(())
    }

    fn natural_duration(&self, _: &TestSpec, params: &DnsParams) -> Duration {
        natural_duration(params)
    }

    async fn run(
        &self,
        ctx: RunContext<'_>,
        params: &DnsParams,
        _: &(),
    ) -> Result<Vec<Point>, ProbeError> {
        let results = run(&ctx.spec.target, params, ctx.policy).await;
        Ok(to_points(&results, ctx.agent_id, ctx.test_id)
            .into_iter()
            .map(Point::into_dynamic)
            .collect())
    }

    /// One point per configured resolver (`system` when the test uses the system's),
    /// nothing measured, `error` saying the run was cancelled.
    fn timeout_points(
        &self,
        ctx: RunContext<'_>,
        params: &DnsParams,
        limit: Duration,
    ) -> Vec<Point> {
        timeout_points(
            &ctx.spec.target,
            params,
            ctx.agent_id,
            ctx.test_id,
            ctx.started_at,
            limit,
        )
        .into_iter()
        .map(Point::into_dynamic)
        .collect()
    }
}

/// Where the system's resolvers are read from.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The `answers` field is cut at this many bytes (at an answer boundary).
pub const ANSWERS_MAX_BYTES: usize = 1024;

/// EDNS(0) UDP payload size advertised (dig's and hickory's default, DNS flag day 2020).
const EDNS_PAYLOAD: u16 = 1232;

/// What one resolver answered in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsResult {
    /// The test's target exactly as configured.
    pub target: String,
    /// The resolver as configured (or the address from resolv.conf): the `resolver` tag.
    pub resolver: String,
    /// When the run started, nanoseconds since the Unix epoch.
    pub started_at_ns: i64,
    pub time_ms: Option<f64>,
    pub connect_time_ms: Option<f64>,
    pub rcode: Option<String>,
    pub answer_count: Option<u32>,
    /// Answer data in server order, presentation form.
    pub answers: Vec<String>,
    pub min_ttl_s: Option<u32>,
    pub truncated: Option<bool>,
    pub server: Option<String>,
    /// `udp`, `tcp`, `dot` or `doh`: the transport of the last query sent.
    pub transport: String,
    pub attempts: u32,
    pub expected_match: Option<bool>,
    pub error: Option<String>,
}

impl DnsResult {
    fn new(target: &str, resolver: &str, started_at_ns: i64, transport: DnsTransport) -> Self {
        DnsResult {
            target: target.to_owned(),
            resolver: resolver.to_owned(),
            started_at_ns,
            time_ms: None,
            connect_time_ms: None,
            rcode: None,
            answer_count: None,
            answers: Vec::new(),
            min_ttl_s: None,
            truncated: None,
            server: None,
            transport: transport.as_str().to_owned(),
            attempts: 0,
            expected_match: None,
            error: None,
        }
    }

    fn fail(&mut self, error: impl fmt::Display) {
        if self.error.is_none() {
            self.error = Some(one_line(&error.to_string()));
        }
    }
}

/// A resolver to ask, parsed from its configured form.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    /// UDP, TCP or DoT: an address (the port defaults per transport).
    Socket(SocketAddr),
    /// DoH: host (IP literal or name), port, path.
    Https {
        host: String,
        port: u16,
        path: String,
    },
}

/// Parses a configured resolver (`ip`, `ip:port`, `[ipv6]:port`, `https://host[:port]/path`)
/// for `transport`.
fn parse_resolver(text: &str, transport: DnsTransport) -> Result<Endpoint, String> {
    let default_port = match transport {
        DnsTransport::Udp | DnsTransport::Tcp => 53,
        DnsTransport::Dot => 853,
        DnsTransport::Doh => 443,
    };
    if let Some(rest) = text.strip_prefix("https://") {
        if transport != DnsTransport::Doh {
            return Err(format!(
                "resolver {text} is a URL, which needs transport doh (the test asks for {})",
                transport.as_str()
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/dns-query"),
        };
        let (host, port) = split_authority(authority, default_port)
            .ok_or_else(|| format!("resolver URL {text} has no valid host[:port]"))?;
        return Ok(Endpoint::Https {
            host,
            port,
            path: path.to_owned(),
        });
    }
    let address = if let Ok(ip) = text.parse::<IpAddr>() {
        SocketAddr::new(ip, default_port)
    } else if let Ok(address) = text.parse::<SocketAddr>() {
        address
    } else {
        return Err(format!(
            "resolver {text:?} is not an IP address, ip:port, or an https:// URL"
        ));
    };
    Ok(match transport {
        DnsTransport::Doh => Endpoint::Https {
            host: address.ip().to_string(),
            port: if text.parse::<IpAddr>().is_ok() {
                443
            } else {
                address.port()
            },
            path: "/dns-query".into(),
        },
        _ => Endpoint::Socket(address),
    })
}

fn split_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_owned(), port.parse().ok()?)),
        Some(_) => None,
        None if authority.is_empty() => None,
        None => Some((authority.to_owned(), default_port)),
    }
}

/// The `nameserver` addresses of a resolv.conf text, in order. Like glibc, a file
/// without any means the local host (127.0.0.1).
pub fn system_resolvers(resolv_conf: &str) -> Vec<String> {
    let mut found: Vec<String> = resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        .map(|s| s.to_owned())
        .collect();
    if found.is_empty() {
        found.push("127.0.0.1".into());
    }
    found
}

/// The longest one run takes: the resolvers are asked concurrently. Over UDP each
/// attempt waits one timeout, and a truncated answer's TCP retry two more (connect, then
/// the answer); over TCP, DoT and DoH each attempt may wait two (connection, then the
/// answer). A DoH URL's host name is resolved first.
pub fn natural_duration(params: &DnsParams) -> Duration {
    let timeout = Duration::from_millis(u64::from(params.timeout_ms));
    let attempts = params.retries.saturating_add(1);
    match params.transport {
        DnsTransport::Udp => timeout * attempts + timeout * 2,
        DnsTransport::Tcp | DnsTransport::Dot => timeout * 2 * attempts,
        DnsTransport::Doh => policy::RESOLVE_TIMEOUT + timeout * 2 * attempts,
    }
}

/// Runs one DNS test: every resolver concurrently, results in resolver order.
pub async fn run(target: &str, params: &DnsParams, policy: &TargetPolicy) -> Vec<DnsResult> {
    let started = SystemTime::now();
    let started_at_ns = super::unix_nanos(started);
    let resolvers = if params.resolvers.is_empty() {
        match tokio::fs::read_to_string(RESOLV_CONF).await {
            Ok(text) => system_resolvers(&text),
            // glibc treats a missing file like an empty one.
            Err(_) => system_resolvers(""),
        }
    } else {
        params.resolvers.clone()
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (index, resolver) in resolvers.into_iter().enumerate() {
        let (target, params, policy) = (target.to_owned(), params.clone(), policy.clone());
        tasks.spawn(async move {
            let result = ask(&target, &resolver, &params, &policy, started_at_ns).await;
            (index, result)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(pair) => results.push(pair),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Asks one resolver.
async fn ask(
    target: &str,
    resolver: &str,
    params: &DnsParams,
    policy: &TargetPolicy,
    started_at_ns: i64,
) -> DnsResult {
    let mut result = DnsResult::new(target, resolver, started_at_ns, params.transport);
    let query = match query_for(target, params.record_type) {
        Ok(query) => query,
        Err(e) => {
            result.fail(e);
            return result;
        }
    };
    let endpoint = match parse_resolver(resolver, params.transport) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            result.fail(e);
            return result;
        }
    };
    // The resolver is a destination like any target: the policy decides first.
    let address = match &endpoint {
        Endpoint::Socket(address) => match policy.check(address.ip()) {
            Ok(_) => *address,
            Err(denied) => {
                result.fail(format_args!("resolver {denied}"));
                return result;
            }
        },
        Endpoint::Https { host, port, .. } => {
            match policy::resolve(
                policy,
                host,
                streamswarm_schema::test_spec::AddressFamily::Any,
            )
            .await
            {
                Ok(permitted) => SocketAddr::new(permitted.ip(), *port),
                Err(e) => {
                    result.fail(format_args!("resolver {e}"));
                    return result;
                }
            }
        }
    };
    // The certificates are loaded before any clock starts.
    let tls = if matches!(params.transport, DnsTransport::Dot | DnsTransport::Doh) {
        match tls_config(params.ca_file.as_deref()) {
            Ok(config) => Some(config),
            Err(e) => {
                result.fail(e);
                return result;
            }
        }
    } else {
        None
    };
    let mut options = DnsRequestOptions::default();
    options.recursion_desired = params.recursion_desired;
    options.use_edns = true;
    options.edns_payload_len = EDNS_PAYLOAD;
    let timeout = Duration::from_millis(u64::from(params.timeout_ms));
    let attempts = params.retries.saturating_add(1);
    let mut last_error = None;
    for _ in 0..attempts {
        result.attempts += 1;
        let answer = exchange(
            &endpoint,
            address,
            params,
            tls.as_ref(),
            query.clone(),
            options,
            timeout,
        )
        .await;
        match answer {
            Ok(udp) if params.transport == DnsTransport::Udp && udp.response.truncation => {
                // Truncated: ask again over TCP, as dig and stub resolvers do.
                result.truncated = Some(true);
                result.attempts += 1;
                result.transport = DnsTransport::Tcp.as_str().to_owned();
                let provider = TokioRuntimeProvider::new();
                let tcp = tcp_exchange(address, query.clone(), options, timeout, &provider).await;
                match tcp {
                    Ok(tcp) => {
                        let both = Answer {
                            query: udp.query + tcp.query,
                            ..tcp
                        };
                        record(&mut result, &both, &endpoint, address, params);
                        result.truncated = Some(true);
                        return result;
                    }
                    Err(e) => {
                        last_error = Some(format!(
                            "the UDP answer was truncated and the TCP retry failed: {e}"
                        ));
                        break;
                    }
                }
            }
            Ok(answer) => {
                record(&mut result, &answer, &endpoint, address, params);
                return result;
            }
            Err(e) => last_error = Some(e),
        }
    }
    result.fail(last_error.unwrap_or_else(|| "no query was sent".into()));
    result
}

fn query_for(target: &str, record_type: DnsRecordType) -> Result<Query, String> {
    let record_type = record_type_of(record_type);
    let mut name = match (record_type, target.parse::<IpAddr>()) {
        (RecordType::PTR, Ok(ip)) => Name::from(ip),
        _ => Name::from_ascii(target).map_err(|e| format!("{target:?} is not a DNS name: {e}"))?,
    };
    name.set_fqdn(true);
    Ok(Query::query(name, record_type))
}

fn record_type_of(t: DnsRecordType) -> RecordType {
    match t {
        DnsRecordType::A => RecordType::A,
        DnsRecordType::Aaaa => RecordType::AAAA,
        DnsRecordType::Cname => RecordType::CNAME,
        DnsRecordType::Mx => RecordType::MX,
        DnsRecordType::Txt => RecordType::TXT,
        DnsRecordType::Ns => RecordType::NS,
        DnsRecordType::Soa => RecordType::SOA,
        DnsRecordType::Ptr => RecordType::PTR,
        DnsRecordType::Srv => RecordType::SRV,
        DnsRecordType::Caa => RecordType::CAA,
    }
}

/// One attempt over the test's transport; `Err` is the reason no answer came.
async fn exchange(
    endpoint: &Endpoint,
    address: SocketAddr,
    params: &DnsParams,
    tls: Option<&Arc<rustls::ClientConfig>>,
    query: Query,
    options: DnsRequestOptions,
    timeout: Duration,
) -> Result<Answer, String> {
    let tls = || {
        tls.cloned()
            .ok_or_else(|| "no TLS configuration".to_owned())
    };
    // The provider owns the tasks driving the connection (a JoinSet aborted on drop), so
    // it lives until the answer is in.
    let provider = TokioRuntimeProvider::new();
    match params.transport {
        DnsTransport::Udp => {
            let exchange = hickory_net::udp::UdpClientStream::builder(address, provider.clone())
                // The attempt's timeout is ours (in `send`); hickory's own only backs it.
                .with_timeout(Some(timeout * 2))
                // One datagram per attempt; the retries are ours (after a timeout).
                .with_max_retries(1)
                .exchange();
            let started = Instant::now();
            let response = send(exchange, query, options, timeout).await?;
            Ok(Answer {
                response,
                connect: None,
                query: started.elapsed(),
            })
        }
        DnsTransport::Tcp => tcp_exchange(address, query, options, timeout, &provider).await,
        DnsTransport::Dot => {
            let server_name = tls_server_name(params.tls_name.as_deref(), address.ip())?;
            let config = (*tls()?).clone();
            let connecting = Instant::now();
            let connect = hickory_net::tls::tls_exchange(
                address,
                server_name,
                config,
                timeout,
                None,
                provider.clone(),
            );
            let exchange = tokio::time::timeout(timeout, connect)
                .await
                .map_err(|_| format!("no TLS connection to {address} within {timeout:?}"))?
                .map_err(|e| format!("DoT connection to {address}: {e}"))?;
            timed_send(exchange, connecting, query, options, timeout).await
        }
        DnsTransport::Doh => {
            let Endpoint::Https { host, path, .. } = endpoint else {
                return Err("DoH needs an https:// resolver".into());
            };
            let server_name: Arc<str> = params.tls_name.as_deref().unwrap_or(host).into();
            let mut builder = hickory_net::h2::HttpsClientStream::builder(tls()?, provider.clone());
            builder.request_timeout(timeout);
            let connecting = Instant::now();
            let connect = builder.exchange(address, server_name, path.as_str().into());
            let exchange = tokio::time::timeout(timeout, connect)
                .await
                .map_err(|_| format!("no HTTPS connection to {address} within {timeout:?}"))?
                .map_err(|e| format!("DoH connection to {address}: {e}"))?;
            timed_send(exchange, connecting, query, options, timeout).await
        }
    }
}

/// The TLS client configuration of DoT and DoH. Without `ca_file`: the platform's
/// certificate store (on Linux the system bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR`
/// when set), built once per process and shared by every run. With it: the system's
/// roots plus that file's CAs, read every run as the HTTP probe reads its `ca_file`
/// (so a replaced file takes effect), before any clock starts.
fn tls_config(ca_file: Option<&str>) -> Result<Arc<rustls::ClientConfig>, String> {
    static PLATFORM: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>> =
        std::sync::OnceLock::new();
    let Some(path) = ca_file else {
        return PLATFORM
            .get_or_init(|| {
                hickory_net::tls::client_config()
                    .map(Arc::new)
                    .map_err(|e| format!("TLS configuration: {e}"))
            })
            .clone();
    };
    let roots = super::http::tls::roots(Some(path))?;
    let config = rustls::ClientConfig::builder_with_provider(super::http::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn tcp_exchange(
    address: SocketAddr,
    query: Query,
    options: DnsRequestOptions,
    timeout: Duration,
    provider: &TokioRuntimeProvider,
) -> Result<Answer, String> {
    let connecting = Instant::now();
    let connect =
        hickory_net::tcp::TcpClientStream::exchange(address, None, timeout, None, provider.clone());
    let exchange = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| format!("no TCP connection to {address} within {timeout:?}"))?
        .map_err(|e| format!("TCP connection to {address}: {e}"))?;
    timed_send(exchange, connecting, query, options, timeout).await
}

/// An answer and the times it took.
struct Answer {
    response: DnsResponse,
    /// Opening the connection (TCP, DoT, DoH); `None` for UDP.
    connect: Option<Duration>,
    /// From sending the query to its answer.
    query: Duration,
}

/// Sends the query on a connection opened since `connecting`.
async fn timed_send(
    exchange: DnsExchange<TokioRuntimeProvider>,
    connecting: Instant,
    query: Query,
    options: DnsRequestOptions,
    timeout: Duration,
) -> Result<Answer, String> {
    let connect = connecting.elapsed();
    let started = Instant::now();
    let response = send(exchange, query, options, timeout).await?;
    Ok(Answer {
        response,
        connect: Some(connect),
        query: started.elapsed(),
    })
}

fn tls_server_name(
    tls_name: Option<&str>,
    ip: IpAddr,
) -> Result<rustls_pki_types::ServerName<'static>, String> {
    match tls_name {
        Some(name) => rustls_pki_types::ServerName::try_from(name.to_owned())
            .map_err(|e| format!("tls_name {name:?}: {e}")),
        None => Ok(rustls_pki_types::ServerName::IpAddress(ip.into())),
    }
}

async fn send(
    exchange: DnsExchange<TokioRuntimeProvider>,
    query: Query,
    options: DnsRequestOptions,
    timeout: Duration,
) -> Result<DnsResponse, String> {
    let request = DnsRequest::from_query(query, options);
    let mut responses = exchange.send(request);
    match tokio::time::timeout(timeout, responses.next()).await {
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        Ok(None) => Err("the connection closed without an answer".into()),
        Ok(Some(Err(NetError::Timeout))) => {
            Err(format!("no answer within {} ms", timeout.as_millis()))
        }
        Ok(Some(Err(e))) => Err(e.to_string()),
        Ok(Some(Ok(response))) => Ok(response),
    }
}

fn record(
    result: &mut DnsResult,
    answer: &Answer,
    endpoint: &Endpoint,
    address: SocketAddr,
    params: &DnsParams,
) {
    let response = &answer.response;
    result.time_ms = Some(answer.query.as_secs_f64() * 1e3);
    result.connect_time_ms = answer.connect.map(|d| d.as_secs_f64() * 1e3);
    result.rcode = Some(rcode_name(response.response_code));
    result.truncated = Some(response.truncation);
    result.answer_count = Some(u32::try_from(response.answers.len()).unwrap_or(u32::MAX));
    result.answers = response
        .answers
        .iter()
        .map(|record| presentation(&record.data))
        .collect();
    result.min_ttl_s = response.answers.iter().map(|r| r.ttl).min();
    result.server = Some(match endpoint {
        Endpoint::Https { host, port, path } => {
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            format!("https://{host}:{port}{path}")
        }
        Endpoint::Socket(_) => address.to_string(),
    });
    if !params.expected.is_empty() {
        result.expected_match = Some(expected_match(&params.expected, &result.answers));
    }
}

/// Response codes as dig prints them.
pub fn rcode_name(code: ResponseCode) -> String {
    let name = match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        ResponseCode::BADVERS => "BADVERS",
        ResponseCode::BADKEY => "BADKEY",
        ResponseCode::BADTIME => "BADTIME",
        ResponseCode::BADMODE => "BADMODE",
        ResponseCode::BADNAME => "BADNAME",
        ResponseCode::BADALG => "BADALG",
        ResponseCode::BADTRUNC => "BADTRUNC",
        ResponseCode::BADCOOKIE => "BADCOOKIE",
        other => return format!("RESERVED{}", u16::from(other)),
    };
    name.to_owned()
}

/// A record's data in presentation form, as `dig +short` prints it. hickory's own
/// formatting matches dig's except for TXT, whose strings dig quotes one by one.
pub fn presentation(data: &RData) -> String {
    match data {
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| quote_character_string(s))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// RFC 1035 §5.1 quoting: `"` and `\` escaped, bytes outside printable ASCII as `\DDD`.
fn quote_character_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

/// Whether every expected value is among the answers (names without the trailing dot,
/// case-insensitive, TXT with or without its quotes).
pub fn expected_match(expected: &[String], answers: &[String]) -> bool {
    fn normal(s: &str) -> String {
        let s = s.trim();
        let s = s
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(s);
        s.trim_end_matches('.').to_lowercase()
    }
    let answers: Vec<String> = answers.iter().map(|a| normal(a)).collect();
    expected.iter().all(|e| answers.contains(&normal(e)))
}

/// The answers joined by `; `; past [`ANSWERS_MAX_BYTES`] cut (at a character boundary)
/// and ended with ` …`.
pub fn answers_text(answers: &[String]) -> Option<String> {
    if answers.is_empty() {
        return None;
    }
    let mut text = one_line(&answers.join("; "));
    if text.len() > ANSWERS_MAX_BYTES {
        let mut cut = ANSWERS_MAX_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" …");
    }
    Some(text)
}

/// The schema's `dns` points of a run, one per resolver.
pub fn to_points(
    results: &[DnsResult],
    agent_id: impl fmt::Display,
    test_id: impl fmt::Display,
) -> Vec<Point<dns::Dns>> {
    results
        .iter()
        .map(|r| to_point(r, &agent_id, &test_id))
        .collect()
}

pub fn to_point(
    result: &DnsResult,
    agent_id: impl fmt::Display,
    test_id: impl fmt::Display,
) -> Point<dns::Dns> {
    use dns::{fields, tags};
    Point::new(dns::MEASUREMENT)
        .tag(tags::AGENT, agent_id.to_string())
        .tag(tags::TEST, test_id.to_string())
        .tag(tags::TARGET, result.target.clone())
        .tag(tags::RESOLVER, result.resolver.clone())
        .field_opt(fields::RESOLUTION_TIME_MS, result.time_ms)
        .field_opt(fields::CONNECT_TIME_MS, result.connect_time_ms)
        .field_opt(fields::RCODE, result.rcode.clone())
        .field_opt(fields::ANSWER_COUNT, result.answer_count.map(i64::from))
        .field_opt(fields::ANSWERS, answers_text(&result.answers))
        .field_opt(fields::MIN_TTL_S, result.min_ttl_s.map(i64::from))
        .field_opt(fields::TRUNCATED, result.truncated)
        .field_opt(fields::SERVER, result.server.clone())
        .field(fields::TRANSPORT, result.transport.clone())
        .field(fields::ATTEMPTS, i64::from(result.attempts))
        .field_opt(fields::EXPECTED_MATCH, result.expected_match)
        .field_opt(fields::ERROR, result.error.clone())
        .timestamp(Timestamp::from_nanos(result.started_at_ns))
}

/// The points of a run cancelled at `limit`: one per configured resolver (or one tagged
/// `system` when the test uses the system's), with nothing measured and a timeout error.
pub fn timeout_points(
    target: &str,
    params: &DnsParams,
    agent_id: impl fmt::Display,
    test_id: impl fmt::Display,
    started_at: SystemTime,
    limit: Duration,
) -> Vec<Point<dns::Dns>> {
    let started_at_ns = super::unix_nanos(started_at);
    let resolvers = if params.resolvers.is_empty() {
        vec!["system".to_owned()]
    } else {
        params.resolvers.clone()
    };
    let results: Vec<DnsResult> = resolvers
        .iter()
        .map(|resolver| {
            let mut r = DnsResult::new(target, resolver, started_at_ns, params.transport);
            r.fail(format_args!(
                "timeout: the run did not finish within {} ms and was cancelled",
                limit.as_millis()
            ));
            r
        })
        .collect();
    to_points(&results, agent_id, test_id)
}

/// Line protocol string fields cannot hold newlines; texts become one line.
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
    fn resolvers_parse_with_default_ports_per_transport() {
        let udp = DnsTransport::Udp;
        assert_eq!(
            parse_resolver("192.0.2.53", udp),
            Ok(Endpoint::Socket("192.0.2.53:53".parse().unwrap()))
        );
        assert_eq!(
            parse_resolver("[2001:db8::1]:5353", DnsTransport::Tcp),
            Ok(Endpoint::Socket("[2001:db8::1]:5353".parse().unwrap()))
        );
        assert_eq!(
            parse_resolver("2001:db8::1", DnsTransport::Dot),
            Ok(Endpoint::Socket("[2001:db8::1]:853".parse().unwrap()))
        );
        assert_eq!(
            parse_resolver("https://dns.example/q", DnsTransport::Doh),
            Ok(Endpoint::Https {
                host: "dns.example".into(),
                port: 443,
                path: "/q".into()
            })
        );
        assert_eq!(
            parse_resolver("https://[2001:db8::1]:8443", DnsTransport::Doh),
            Ok(Endpoint::Https {
                host: "2001:db8::1".into(),
                port: 8443,
                path: "/dns-query".into()
            })
        );
        assert!(parse_resolver("https://dns.example/q", udp).is_err());
        assert!(parse_resolver("dns.example", udp).is_err());
    }

    #[test]
    fn system_resolvers_come_from_nameserver_lines_or_default_to_localhost() {
        let text = "# c\nsearch lan\nnameserver 10.0.0.1\nnameserver  fd00::1 \noptions x\n";
        assert_eq!(system_resolvers(text), vec!["10.0.0.1", "fd00::1"]);
        assert_eq!(system_resolvers("search lan\n"), vec!["127.0.0.1"]);
    }

    #[test]
    fn ptr_of_an_address_asks_the_reverse_name() {
        let q = query_for("192.0.2.10", DnsRecordType::Ptr).unwrap();
        assert_eq!(q.name().to_string(), "10.2.0.192.in-addr.arpa.");
        let q = query_for("example.net", DnsRecordType::Aaaa).unwrap();
        assert_eq!(q.name().to_string(), "example.net.");
        assert!(query_for("bad name..x", DnsRecordType::A).is_err());
    }

    #[test]
    fn txt_is_quoted_like_dig_and_answers_are_bounded() {
        assert_eq!(
            quote_character_string(b"a \"b\"\\\x01"),
            "\"a \\\"b\\\"\\\\\\001\""
        );
        let many: Vec<String> = (0..200).map(|i| format!("192.0.2.{i}")).collect();
        let text = answers_text(&many).unwrap();
        assert_eq!(text.len(), ANSWERS_MAX_BYTES + " …".len());
        assert!(text.ends_with(" …"), "{text}");
        assert!(text.starts_with("192.0.2.0; 192.0.2.1; "), "{text}");
        assert_eq!(answers_text(&[]), None);
    }

    #[test]
    fn expected_values_match_in_normal_form() {
        let answers = vec!["Mail.Example.NET.".to_owned(), "\"hello world\"".to_owned()];
        assert!(expected_match(&["mail.example.net".into()], &answers));
        assert!(expected_match(&["hello world".into()], &answers));
        assert!(!expected_match(&["other".into()], &answers));
    }

    #[test]
    fn the_limit_covers_every_attempt_and_the_tcp_retry() {
        let p = |transport| DnsParams {
            timeout_ms: 1000,
            retries: 2,
            transport,
            ..DnsParams::default()
        };
        let s = Duration::from_secs;
        assert_eq!(natural_duration(&p(DnsTransport::Udp)), s(3 + 2));
        assert_eq!(natural_duration(&p(DnsTransport::Tcp)), s(6));
        assert_eq!(natural_duration(&p(DnsTransport::Dot)), s(6));
        assert_eq!(
            natural_duration(&p(DnsTransport::Doh)),
            policy::RESOLVE_TIMEOUT + s(6)
        );
    }

    #[test]
    fn rcodes_are_named_as_dig_names_them() {
        assert_eq!(rcode_name(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode_name(ResponseCode::Refused), "REFUSED");
        assert_eq!(rcode_name(ResponseCode::ServFail), "SERVFAIL");
    }

    #[test]
    fn timeout_points_follow_the_schema() {
        let params = DnsParams {
            resolvers: vec!["192.0.2.1".into(), "192.0.2.2".into()],
            ..DnsParams::default()
        };
        let points = timeout_points(
            "example.net",
            &params,
            1,
            2,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            Duration::from_secs(5),
        );
        assert_eq!(points.len(), 2);
        for point in &points {
            assert_follows_schema(point);
            assert!(point.field_value("resolution_time_ms").is_none());
        }
        assert_eq!(points[1].tag_value("resolver"), Some("192.0.2.2"));
    }

    #[tokio::test]
    async fn a_denied_resolver_gets_no_query_and_an_error_point() {
        let params = DnsParams {
            resolvers: vec!["169.254.169.254".into()],
            ..DnsParams::default()
        };
        let results = run("example.net", &params, &TargetPolicy::default()).await;
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].attempts, 0);
        let error = results[0].error.clone().unwrap();
        assert!(error.contains("denied"), "{error}");
        assert_follows_schema(&to_point(&results[0], 1, 2));
    }
}
