//! HTTP(S) probe: one run requests the test's URL (following redirects up to the limit,
//! every hop over a connection of its own), times each phase as curl's `-w` variables
//! do, and reports the final response (`http`) and each followed redirect
//! (`http_redirect`, one point per hop, tag `step`).
//!
//! # Timings
//!
//! Per request, cumulative marks from its start as curl names them (`client::Marks`):
//! namelookup, connect, appconnect (TLS done), starttransfer (response head), total
//! (body read). The points store the *phases* (dns, connect, tls, wait, transfer: their
//! sum is the request's duration) for waterfalls and stacked charts, and beside them
//! the two cumulative marks people quote (`ttfb_ms` = time_starttransfer, `total_ms` =
//! time_total). `redirect_ms` is the time before the final request started (curl's
//! time_redirect); the run's `total_ms` includes it. Unlike curl, which reuses a
//! connection for a redirect to the same host, every hop opens its own, so every hop
//! has all its phases.
//!
//! # TLS
//!
//! rustls (aws-lc-rs provider) with the system's CAs plus `ca_file`. The chain is
//! verified by rustls' webpki verifier through a recording wrapper (`tls.rs`), so an
//! invalid certificate still yields subject, issuer and expiry, and the error names the
//! problem (`expired`, `wrong host`, `unknown CA`). With `verify_tls` such a run fails
//! before any request is sent; without it the run goes on and reports `cert_valid =
//! false` with the reason.
//!
//! # Addresses and proxy
//!
//! Every hop's host is resolved through `probes::policy::resolve` (the test's family,
//! the agent's deny list). With a `proxy`, the proxy's address is resolved and checked,
//! and the proxy resolves the target (a target given as an address is checked too):
//! `https://` goes through `CONNECT` (its time counts in `tls_ms`, as curl counts it in
//! time_appconnect), `http://` as an absolute-form request.

mod client;
pub mod tls;

use client::Outgoing;
pub use client::{Exchange, Marks, TlsInfo};
use hyper::Method;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use serde::Serialize;
use std::fmt;
use std::time::{Duration, SystemTime};
use streamswarm_schema::measurements::{http, http_redirect};
use streamswarm_schema::test_spec::{HttpMethod, HttpParams, TestSpec};
use streamswarm_tsdb::{Point, Timestamp};
use url::Url;

use super::policy::TargetPolicy;
use super::registry::{Probe, ProbeError, RunContext};

/// Everything one run observed: the requests in order, the last one the final.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpResult {
    /// The target exactly as configured.
    pub target: String,
    /// When the run started, nanoseconds since the Unix epoch: the points' timestamp.
    pub started_at_ns: i64,
    pub exchanges: Vec<Exchange>,
    /// Whether the final status is an expected one; `None` without a response.
    pub status_ok: Option<bool>,
    /// Whether the body matched `body_match`; `None` when not asked or no body read.
    pub body_matched: Option<bool>,
    /// Why the run failed, one line.
    pub error: Option<String>,
}

impl HttpResult {
    fn new(target: &str, started: SystemTime) -> Self {
        HttpResult {
            target: target.to_owned(),
            started_at_ns: super::unix_nanos(started),
            exchanges: Vec::new(),
            status_ok: None,
            body_matched: None,
            error: None,
        }
    }

    fn fail(&mut self, error: impl fmt::Display) {
        if self.error.is_none() {
            self.error = Some(one_line(&error.to_string()));
        }
    }

    /// The final request (the last one made), if any was made.
    pub fn last(&self) -> Option<&Exchange> {
        self.exchanges.last()
    }

    /// Redirects followed: every request but the last.
    pub fn redirects(&self) -> usize {
        self.exchanges.len().saturating_sub(1)
    }

    /// Time from the run's start to the end of the final body (curl's time_total).
    pub fn total_ms(&self) -> Option<f64> {
        let last = self.last()?;
        Some(last.started_ms + last.marks.total?)
    }

    fn family(&self) -> Option<&'static str> {
        let address = self.exchanges.iter().rev().find_map(|e| e.address)?;
        Some(if address.is_ipv4() { "ipv4" } else { "ipv6" })
    }
}

/// The HTTP probe in the registry.
pub struct HttpProbe;

impl Probe for HttpProbe {
    type Params = HttpParams;
    type State = ();

    fn prepare(&self, _: &TestSpec, _: &HttpParams) -> Result<(), ProbeError> {
        Ok(())
    }

    /// The whole run (resolution, every hop) is bounded by `timeout_ms`.
    fn natural_duration(&self, _: &TestSpec, params: &HttpParams) -> Duration {
        Duration::from_millis(u64::from(params.timeout_ms))
    }

    async fn run(
        &self,
        ctx: RunContext<'_>,
        params: &HttpParams,
        _: &(),
    ) -> Result<Vec<Point>, ProbeError> {
        let result = run(&ctx.spec.target, params, ctx.policy).await;
        Ok(to_points(&result, ctx.agent_id, ctx.test_id))
    }

    /// The `http` point of a run that did not finish: no response known, an `error`.
    fn timeout_points(&self, ctx: RunContext<'_>, _: &HttpParams, limit: Duration) -> Vec<Point> {
        let mut result = HttpResult::new(&ctx.spec.target, ctx.started_at);
        result.fail(format_args!(
            "timeout: the run did not finish within {} ms and was cancelled",
            limit.as_millis()
        ));
        to_points(&result, ctx.agent_id, ctx.test_id)
    }
}

/// Runs one HTTP test against `target` (a URL).
pub async fn run(target: &str, params: &HttpParams, policy: &TargetPolicy) -> HttpResult {
    let mut result = HttpResult::new(target, SystemTime::now());
    let limit = Duration::from_millis(u64::from(params.timeout_ms));
    if tokio::time::timeout(limit, run_inner(&mut result, params, policy))
        .await
        .is_err()
    {
        let phase = result.last().map_or("before the first request", |e| {
            let m = &e.marks;
            if m.namelookup.is_none() {
                "resolving the host"
            } else if m.connect.is_none() {
                "connecting"
            } else if e.url.starts_with("https:") && m.appconnect.is_none() {
                "in the TLS handshake"
            } else if m.starttransfer.is_none() {
                "waiting for the response"
            } else {
                "reading the body"
            }
        });
        let url = result.last().map(|e| e.url.clone()).unwrap_or_default();
        result.error = None;
        result.fail(format_args!(
            "timeout: no complete answer within {} ms ({phase}, {url})",
            params.timeout_ms
        ));
        // The unfinished request's partial marks stay; its own error is the timeout.
        if let Some(last) = result.exchanges.last_mut() {
            last.error = result.error.clone();
        }
    }
    result
}

fn parse_headers(lines: &[String]) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    lines
        .iter()
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("header {line:?} is not `Name: value`"))?;
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|e| format!("header name {:?}: {e}", name.trim()))?;
            let value = HeaderValue::from_str(value.trim())
                .map_err(|e| format!("header {name} value: {e}"))?;
            Ok((name, value))
        })
        .collect()
}

fn parse_url(text: &str, what: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{what} {text:?} is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "{what} {text:?}: scheme {other} is not http or https"
        )),
    }
}

async fn run_inner(result: &mut HttpResult, params: &HttpParams, policy: &TargetPolicy) {
    let setup = (|| {
        let url = parse_url(&result.target, "the target")?;
        let headers = parse_headers(&params.headers)?;
        let body_match = params
            .body_match
            .as_deref()
            .map(|re| regex::bytes::Regex::new(re).map_err(|e| format!("body_match {re:?}: {e}")))
            .transpose()?;
        let proxy = params
            .proxy
            .as_deref()
            .map(|p| {
                let proxy = parse_url(p, "proxy")?;
                if proxy.scheme() != "http" {
                    return Err(format!("proxy {p:?}: only http:// proxies are supported"));
                }
                Ok(proxy)
            })
            .transpose()?;
        Ok::<_, String>((url, headers, body_match, proxy))
    })();
    let (mut url, headers, body_match, proxy) = match setup {
        Ok(setup) => setup,
        Err(e) => return result.fail(e),
    };
    let mut method = match params.method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Post => Method::POST,
    };
    let mut body = params.body.clone().map(Bytes::from);
    let mut roots = None;
    let mut run_start = None;
    loop {
        if url.scheme() == "https" && roots.is_none() {
            match tls::roots(params.ca_file.as_deref()) {
                Ok(store) => roots = Some(store),
                Err(e) => return result.fail(e),
            }
        }
        let outgoing = Outgoing {
            url: &url,
            method: method.clone(),
            headers: &headers,
            body: body.clone(),
            version: params.http_version,
            verify_tls: params.verify_tls,
            roots: roots.clone(),
            proxy: proxy.as_ref(),
            family: params.family,
            max_body_bytes: u64::from(params.max_body_bytes),
            keep_body: body_match.is_some(),
            policy,
        };
        result.exchanges.push(Exchange {
            url: url.to_string(),
            method: method.to_string(),
            ..Exchange::default()
        });
        let exchange = result.exchanges.last_mut().expect("just pushed");
        client::exchange(&outgoing, &mut run_start, exchange).await;
        if let Some(error) = exchange.error.clone() {
            return result.fail(error);
        }
        let status = exchange.status.expect("a completed exchange has a status");
        let redirect = (300..400).contains(&status) && params.follow_redirects;
        if let (true, Some(location)) = (redirect, exchange.location.clone()) {
            if result.redirects() as u32 >= params.max_redirects {
                result.status_ok = Some(false);
                return result.fail(format_args!(
                    "too many redirects: {url} answered {status} after {} redirects (max_redirects {})",
                    result.redirects(),
                    params.max_redirects
                ));
            }
            let next = match url.join(&location) {
                Ok(next) if matches!(next.scheme(), "http" | "https") => next,
                Ok(next) => {
                    return result.fail(format_args!(
                        "{url} redirects to {next}, which is not http or https"
                    ));
                }
                Err(e) => {
                    return result.fail(format_args!(
                        "{url} redirects to {location:?}, not a URL: {e}"
                    ));
                }
            };
            // As curl and browsers: 303 turns into GET, and so do 301/302 after a
            // POST; 307/308 repeat the request as it was.
            if status == 303 && method != Method::HEAD
                || matches!(status, 301 | 302) && method == Method::POST
            {
                method = Method::GET;
                body = None;
            }
            url = next;
            continue;
        }
        break;
    }
    let last = result.exchanges.last().expect("at least one request");
    let status = last.status.expect("a completed exchange has a status");
    let last_url = last.url.clone();
    let ok = if params.expected_status.is_empty() {
        (200..400).contains(&status)
    } else {
        params.expected_status.contains(&status)
    };
    result.status_ok = Some(ok);
    if let Some(re) = &body_match {
        result.body_matched = Some(re.is_match(&last.body));
        // The body was kept only for this match.
        if let Some(last) = result.exchanges.last_mut() {
            last.body = Vec::new();
        }
    }
    if !ok {
        let expected = if params.expected_status.is_empty() {
            "any 2xx or 3xx".to_owned()
        } else {
            params
                .expected_status
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        result.fail(format_args!(
            "unexpected status {status} from {last_url} (expected {expected})"
        ));
    } else if result.body_matched == Some(false) {
        result.fail(format_args!(
            "the body of {last_url} does not match {:?}",
            params.body_match.as_deref().unwrap_or_default()
        ));
    }
}

/// Phases of one request in milliseconds, derived from its marks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Phases {
    pub dns_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    pub wait_ms: Option<f64>,
    pub transfer_ms: Option<f64>,
}

impl Phases {
    pub fn of(exchange: &Exchange) -> Phases {
        let m = exchange.marks;
        let diff = |later: Option<f64>, earlier: Option<f64>| Some(later? - earlier?);
        let ready = m.appconnect.or(m.connect);
        Phases {
            dns_ms: m.namelookup,
            connect_ms: diff(m.connect, m.namelookup),
            tls_ms: diff(m.appconnect, m.connect),
            wait_ms: diff(m.starttransfer, ready),
            transfer_ms: if exchange.body_truncated == Some(true) {
                None
            } else {
                diff(m.total, m.starttransfer)
            },
        }
    }
}

/// The run's points: one `http`, then one `http_redirect` per followed redirect.
pub fn to_points(
    result: &HttpResult,
    agent_id: impl fmt::Display,
    test_id: impl fmt::Display,
) -> Vec<Point> {
    let (agent, test) = (agent_id.to_string(), test_id.to_string());
    let timestamp = Timestamp::from_nanos(result.started_at_ns);
    let family = result.family();
    let mut points = Vec::with_capacity(result.exchanges.len().max(1));
    let last = result.last();
    let phases = last.map(Phases::of).unwrap_or_default();
    let tls = last.and_then(|e| e.tls.as_ref());
    let cert = tls.and_then(|t| t.cert.as_ref());
    {
        use http::{fields, tags};
        let point = Point::new(http::MEASUREMENT)
            .tag(tags::AGENT, agent.clone())
            .tag(tags::TEST, test.clone())
            .tag(tags::TARGET, result.target.clone())
            .tag_opt(tags::FAMILY, family)
            .field_opt(fields::URL, last.map(|e| e.url.clone()))
            .field_opt(
                fields::RESOLVED_ADDRESS,
                last.and_then(|e| e.address).map(|a| a.ip().to_string()),
            )
            .field_opt(fields::STATUS, last.and_then(|e| e.status).map(i64::from))
            .field_opt(fields::STATUS_OK, result.status_ok)
            .field_opt(fields::BODY_MATCHED, result.body_matched)
            .field_opt(
                fields::HTTP_VERSION,
                last.and_then(|e| e.http_version).map(str::to_owned),
            )
            .field(fields::REDIRECTS, result.redirects() as i64)
            .field(fields::REDIRECT_MS, last.map_or(0.0, |e| e.started_ms))
            .field_opt(fields::DNS_MS, phases.dns_ms)
            .field_opt(fields::CONNECT_MS, phases.connect_ms)
            .field_opt(fields::TLS_MS, phases.tls_ms)
            .field_opt(fields::WAIT_MS, phases.wait_ms)
            .field_opt(fields::TRANSFER_MS, phases.transfer_ms)
            .field_opt(fields::TTFB_MS, last.and_then(|e| e.marks.starttransfer))
            .field_opt(fields::TOTAL_MS, result.total_ms())
            .field_opt(
                fields::BODY_BYTES,
                last.and_then(|e| e.body_bytes).map(|b| b as i64),
            )
            .field_opt(fields::BODY_TRUNCATED, last.and_then(|e| e.body_truncated))
            .field_opt(fields::TLS_VERSION, tls.and_then(|t| t.version.clone()))
            .field_opt(fields::TLS_CIPHER, tls.and_then(|t| t.cipher.clone()))
            .field_opt(fields::CERT_SUBJECT, cert.map(|c| c.subject.clone()))
            .field_opt(fields::CERT_ISSUER, cert.map(|c| c.issuer.clone()))
            .field_opt(fields::CERT_NOT_AFTER, cert.map(|c| c.not_after.clone()))
            .field_opt(fields::CERT_DAYS_LEFT, cert.map(|c| c.days_left))
            .field_opt(fields::CERT_VALID, tls.and_then(|t| t.verified))
            .field_opt(fields::CERT_ERROR, tls.and_then(|t| t.cert_error.clone()))
            .field_opt(fields::ERROR, result.error.clone())
            .timestamp(timestamp);
        points.push(point.into_dynamic());
    }
    let hops = &result.exchanges[..result.redirects()];
    for (index, hop) in hops.iter().enumerate() {
        use http_redirect::{fields, tags};
        let phases = Phases::of(hop);
        let point = Point::new(http_redirect::MEASUREMENT)
            .tag(tags::AGENT, agent.clone())
            .tag(tags::TEST, test.clone())
            .tag(tags::TARGET, result.target.clone())
            .tag(tags::STEP, (index + 1).to_string())
            .tag_opt(tags::FAMILY, family)
            .field(fields::URL, hop.url.clone())
            .field(
                fields::RESOLVED_ADDRESS,
                hop.address.map(|a| a.ip().to_string()).unwrap_or_default(),
            )
            .field(fields::STATUS, i64::from(hop.status.unwrap_or_default()))
            .field(fields::LOCATION, hop.location.clone().unwrap_or_default())
            .field(
                fields::HTTP_VERSION,
                hop.http_version.unwrap_or_default().to_owned(),
            )
            .field(fields::DNS_MS, phases.dns_ms.unwrap_or_default())
            .field(fields::CONNECT_MS, phases.connect_ms.unwrap_or_default())
            .field_opt(fields::TLS_MS, phases.tls_ms)
            .field(fields::WAIT_MS, phases.wait_ms.unwrap_or_default())
            .field(fields::TOTAL_MS, hop.marks.total.unwrap_or_default())
            .timestamp(timestamp);
        points.push(point.into_dynamic());
    }
    points
}

/// Line protocol string fields cannot hold newlines; error texts become one line.
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
    use streamswarm_tsdb::{Precision, assert_follows_schema};

    fn exchange(url: &str, status: u16, started_ms: f64) -> Exchange {
        Exchange {
            url: url.into(),
            method: "GET".into(),
            started_ms,
            address: Some("192.0.2.7:443".parse().unwrap()),
            marks: Marks {
                namelookup: Some(1.0),
                connect: Some(3.0),
                appconnect: Some(7.0),
                starttransfer: Some(17.0),
                total: Some(18.5),
            },
            status: Some(status),
            location: (status == 302).then(|| "/next".to_owned()),
            http_version: Some("2"),
            body_bytes: Some(10),
            body_truncated: Some(false),
            body: Vec::new(),
            tls: Some(TlsInfo {
                version: Some("TLSv1.3".into()),
                cipher: Some("TLS_AES_128_GCM_SHA256".into()),
                alpn: Some("h2".into()),
                cert: None,
                verified: Some(true),
                cert_error: None,
            }),
            error: None,
        }
    }

    fn two_hops() -> HttpResult {
        HttpResult {
            target: "https://example.net/start?session=1".into(),
            started_at_ns: 1_700_000_000_000_000_000,
            exchanges: vec![
                exchange("https://example.net/start?session=1", 302, 0.0),
                exchange("https://example.net/next", 200, 20.0),
            ],
            status_ok: Some(true),
            body_matched: None,
            error: None,
        }
    }

    #[test]
    fn phases_are_differences_of_curl_style_marks() {
        let phases = Phases::of(&two_hops().exchanges[1]);
        assert_eq!(phases.dns_ms, Some(1.0));
        assert_eq!(phases.connect_ms, Some(2.0));
        assert_eq!(phases.tls_ms, Some(4.0));
        assert_eq!(phases.wait_ms, Some(10.0));
        assert_eq!(phases.transfer_ms, Some(1.5));
        let mut plain = two_hops().exchanges[1].clone();
        plain.marks.appconnect = None;
        let phases = Phases::of(&plain);
        assert_eq!((phases.tls_ms, phases.wait_ms), (None, Some(14.0)));
    }

    #[test]
    fn a_redirected_run_makes_one_http_point_and_one_point_per_hop() {
        let result = two_hops();
        assert_eq!(result.total_ms(), Some(38.5));
        let points = to_points(&result, 3, 14);
        assert_eq!(points.len(), 2);
        for point in &points {
            assert_follows_schema(point);
        }
        let line = points[0].to_line(Precision::Nanoseconds).unwrap();
        for field in [
            "redirects=1i",
            "redirect_ms=20.0",
            "ttfb_ms=17.0",
            "total_ms=38.5",
            "url=\"https://example.net/next\"",
            "cert_valid=true",
        ] {
            assert!(line.contains(field), "{field} missing from {line}");
        }
        let hop = points[1].to_line(Precision::Nanoseconds).unwrap();
        assert!(
            hop.starts_with("http_redirect,agent=3,family=ipv4,step=1,"),
            "{hop}"
        );
        assert!(hop.contains("location=\"/next\""), "{hop}");
        // The hop's URL (query string and all) is a field, never a tag.
        assert!(
            hop.contains("url=\"https://example.net/start?session=1\""),
            "{hop}"
        );
    }

    #[test]
    fn a_cancelled_run_reports_a_timeout_error_point() {
        use streamswarm_schema::test_spec::{Schedule, TestParams};
        let spec = TestSpec {
            kind: streamswarm_schema::test_spec::TestKind::Http,
            target: "https://example.net/".into(),
            params: TestParams::Http(HttpParams::default()),
            schedule: Schedule::every(60),
        };
        let ctx = RunContext {
            agent_id: 1,
            test_id: 2,
            spec: &spec,
            policy: &TargetPolicy::permit_all(),
            started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        };
        let points =
            HttpProbe.timeout_points(ctx, &HttpParams::default(), Duration::from_millis(12_000));
        assert_eq!(points.len(), 1);
        assert_follows_schema(&points[0]);
        let line = points[0].to_line(Precision::Nanoseconds).unwrap();
        assert!(
            line.contains("error=\"timeout: the run did not finish within 12000 ms"),
            "{line}"
        );
        assert!(line.trim_end().ends_with(" 1700000000000000000"), "{line}");
    }

    #[tokio::test]
    async fn a_target_that_is_not_a_url_is_an_error_point() {
        let result = run(
            "ftp://example.net/",
            &HttpParams::default(),
            &TargetPolicy::permit_all(),
        )
        .await;
        let error = result.error.clone().unwrap();
        assert!(error.contains("is not http or https"), "{error}");
        let points = to_points(&result, 1, 2);
        assert_eq!(points.len(), 1);
        assert_follows_schema(&points[0]);
        assert!(points[0].field_value("status").is_none());
    }

    #[tokio::test]
    async fn a_denied_address_is_refused_before_connecting() {
        let result = run(
            "http://169.254.169.254/latest/meta-data/",
            &HttpParams::default(),
            &TargetPolicy::default(),
        )
        .await;
        let error = result.error.unwrap();
        assert!(error.contains("denied"), "{error}");
        assert!(result.exchanges[0].address.is_none());
    }
}
