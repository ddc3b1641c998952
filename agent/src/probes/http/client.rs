//! One HTTP request over a connection of its own, every phase timed here: resolution
//! (through the target policy), TCP connect, a proxy's CONNECT, the TLS handshake,
//! then hyper's connection API (`hyper::client::conn::http1` / `http2`) on that stream
//! for the request, the response head and the body.
//!
//! The marks are curl's (`-w` variables), cumulative from the request's start:
//! `namelookup` when the address is known, `connect` when the TCP handshake completed,
//! `appconnect` when the TLS handshake completed (after the proxy tunnel), then
//! `starttransfer` when the response head arrived and `total` when the body's last
//! byte was read. As in curl, the request's clock starts once it is set up (URL, TLS
//! configuration), right before resolution.

use super::tls::{self, CertInfo, RecordingVerifier};
use crate::probes::policy::{self, TargetPolicy};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::RootCertStore;
use rustls::pki_types::ServerName;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use streamswarm_schema::test_spec::{AddressFamily, HttpVersion};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// curl's cumulative marks in milliseconds from the request's start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Marks {
    pub namelookup: Option<f64>,
    pub connect: Option<f64>,
    pub appconnect: Option<f64>,
    pub starttransfer: Option<f64>,
    pub total: Option<f64>,
}

/// TLS as negotiated, and what the certificate verification said.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TlsInfo {
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub alpn: Option<String>,
    pub cert: Option<CertInfo>,
    pub verified: Option<bool>,
    pub cert_error: Option<String>,
}

/// One request and what came back.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Exchange {
    pub url: String,
    pub method: String,
    /// Milliseconds from the run's start to this request's start.
    pub started_ms: f64,
    pub address: Option<SocketAddr>,
    pub marks: Marks,
    pub status: Option<u16>,
    pub location: Option<String>,
    /// `1.1` or `2`.
    pub http_version: Option<&'static str>,
    pub body_bytes: Option<u64>,
    pub body_truncated: Option<bool>,
    /// The body bytes read, kept only when the run checks `body_match`.
    #[serde(skip)]
    pub body: Vec<u8>,
    pub tls: Option<TlsInfo>,
    pub error: Option<String>,
}

/// Everything one request needs.
pub struct Outgoing<'a> {
    pub url: &'a Url,
    pub method: Method,
    pub headers: &'a [(HeaderName, HeaderValue)],
    pub body: Option<Bytes>,
    pub version: HttpVersion,
    pub verify_tls: bool,
    pub roots: Option<Arc<RootCertStore>>,
    pub proxy: Option<&'a Url>,
    pub family: AddressFamily,
    pub max_body_bytes: u64,
    pub keep_body: bool,
    pub policy: &'a TargetPolicy,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Aborts the spawned connection task when the request is done or dropped (timeout).
struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Host as the URL spells it without IPv6 brackets.
fn bare_host(url: &Url) -> Option<&str> {
    let host = url.host_str()?;
    Some(
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host),
    )
}

/// `host[:port]` as it belongs in `Host` and `CONNECT`.
fn authority(url: &Url, always_port: bool) -> String {
    let host = url.host_str().unwrap_or_default();
    match (url.port(), always_port) {
        (Some(port), _) => format!("{host}:{port}"),
        (None, true) => format!("{host}:{}", url.port_or_known_default().unwrap_or(443)),
        (None, false) => host.to_owned(),
    }
}

/// Runs one request; fills `out` as it goes (so a timeout leaves the marks reached) and
/// sets `out.error` when the request did not complete.
/// `run_start` is the run's clock: set by the first request when its own clock starts.
pub async fn exchange(req: &Outgoing<'_>, run_start: &mut Option<Instant>, out: &mut Exchange) {
    if let Err(error) = exchange_inner(req, run_start, out).await {
        out.error = Some(error);
    }
}

async fn exchange_inner(
    req: &Outgoing<'_>,
    run_start: &mut Option<Instant>,
    out: &mut Exchange,
) -> Result<(), String> {
    let url = req.url;
    let https = url.scheme() == "https";
    let host = bare_host(url).ok_or_else(|| format!("{url} has no host"))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("{url} has no port"))?;
    let (connect_host, connect_port) = match req.proxy {
        Some(proxy) => (
            bare_host(proxy).ok_or_else(|| format!("proxy {proxy} has no host"))?,
            proxy.port_or_known_default().unwrap_or(8080),
        ),
        None => (host, port),
    };
    // Set-up before the clock starts, as curl's: the TLS configuration.
    let tls_setup = if https {
        let roots = req
            .roots
            .clone()
            .ok_or("internal: no trusted roots for an https request")?;
        let verifier = RecordingVerifier::new(roots)?;
        let mut config = rustls::ClientConfig::builder_with_provider(tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        config.alpn_protocols = match req.version {
            HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
            HttpVersion::Http2 => vec![b"h2".to_vec()],
        };
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host} is not a TLS server name: {e}"))?;
        Some((
            tokio_rustls::TlsConnector::from(Arc::new(config)),
            verifier,
            name,
        ))
    } else {
        None
    };

    let start = Instant::now();
    let run_start = *run_start.get_or_insert(start);
    out.started_ms = start.duration_since(run_start).as_secs_f64() * 1000.0;
    // Through a proxy the proxy resolves the target; the policy still applies to a
    // target given as an address.
    if req.proxy.is_some()
        && let Ok(ip) = host.parse()
    {
        req.policy.check(ip).map_err(|denied| denied.to_string())?;
    }
    let permitted = policy::resolve(req.policy, connect_host, req.family)
        .await
        .map_err(|e| e.to_string())?;
    out.marks.namelookup = Some(ms_since(start));
    let address = SocketAddr::new(permitted.ip(), connect_port);
    out.address = Some(address);

    let tcp = TcpStream::connect(address)
        .await
        .map_err(|e| format!("connecting to {address}: {e}"))?;
    out.marks.connect = Some(ms_since(start));
    // curl sets TCP_NODELAY too; without it a small request can wait for an ACK.
    let _ = tcp.set_nodelay(true);
    let mut tcp: Box<dyn Io> = Box::new(tcp);

    if https && req.proxy.is_some() {
        tunnel(&mut tcp, &authority(url, true)).await?;
    }

    let (io, h2): (Box<dyn Io>, bool) = match tls_setup {
        Some((connector, verifier, name)) => {
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {address}: {e}"))?;
            out.marks.appconnect = Some(ms_since(start));
            let connection = stream.get_ref().1;
            let recorded = verifier.take();
            let alpn = connection
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            let info = TlsInfo {
                version: connection.protocol_version().map(tls::version_name),
                cipher: connection.negotiated_cipher_suite().map(tls::cipher_name),
                alpn: alpn.clone(),
                cert: recorded
                    .end_entity
                    .as_ref()
                    .and_then(|der| CertInfo::parse(der, tls::now_unix())),
                verified: recorded.outcome.as_ref().map(Option::is_none),
                cert_error: recorded.outcome.clone().flatten(),
            };
            let rejected = info.cert_error.clone();
            out.tls = Some(info);
            if req.verify_tls
                && let Some(why) = rejected
            {
                return Err(format!("certificate rejected: {why}"));
            }
            let h2 = match alpn.as_deref() {
                Some("h2") => true,
                Some(_) => false,
                None if req.version == HttpVersion::Http2 => {
                    return Err(format!(
                        "{address} did not offer HTTP/2 (no ALPN h2), which the test asks for"
                    ));
                }
                None => false,
            };
            (Box::new(stream), h2)
        }
        // Cleartext HTTP/2 only when asked for: prior knowledge (RFC 9113 §3.3).
        None => (tcp, req.version == HttpVersion::Http2),
    };

    let request = build_request(req, h2)?;
    let io = TokioIo::new(io);
    let (response, _conn) = if h2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| format!("HTTP/2 handshake with {address}: {e}"))?;
        let conn = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no HTTP/2 response from {address}: {e}"))?;
        (response, conn)
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| format!("HTTP/1.1 with {address}: {e}"))?;
        let conn = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no HTTP/1.1 response from {address}: {e}"))?;
        (response, conn)
    };
    out.marks.starttransfer = Some(ms_since(start));
    out.status = Some(response.status().as_u16());
    out.http_version = Some(match response.version() {
        hyper::Version::HTTP_2 => "2",
        hyper::Version::HTTP_10 => "1.0",
        _ => "1.1",
    });
    out.location = response
        .headers()
        .get(hyper::header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());

    let mut body = response.into_body();
    let mut read: u64 = 0;
    let mut truncated = false;
    out.body_bytes = Some(0);
    out.body_truncated = Some(false);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the body from {address}: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let room = req.max_body_bytes - read;
        let take = (data.len() as u64).min(room);
        if req.keep_body {
            out.body.extend_from_slice(&data[..take as usize]);
        }
        read += take;
        out.body_bytes = Some(read);
        if take < data.len() as u64 {
            truncated = true;
            break;
        }
    }
    out.body_truncated = Some(truncated);
    out.marks.total = Some(ms_since(start));
    Ok(())
}

fn build_request(req: &Outgoing<'_>, h2: bool) -> Result<Request<Full<Bytes>>, String> {
    let url = req.url;
    // HTTP/2 and a plain-HTTP proxy take the absolute URI; HTTP/1.1 the origin form.
    let uri = if h2 || (req.proxy.is_some() && url.scheme() == "http") {
        url.as_str().to_owned()
    } else {
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    };
    let mut builder = Request::builder().method(req.method.clone()).uri(uri);
    if h2 {
        builder = builder.version(hyper::Version::HTTP_2);
    }
    let has = |name: &HeaderName| req.headers.iter().any(|(n, _)| n == name);
    if !h2 && !has(&hyper::header::HOST) {
        builder = builder.header(hyper::header::HOST, authority(url, false));
    }
    if !has(&hyper::header::USER_AGENT) {
        builder = builder.header(
            hyper::header::USER_AGENT,
            concat!("streamswarm-agent/", env!("CARGO_PKG_VERSION")),
        );
    }
    if !has(&hyper::header::ACCEPT) {
        builder = builder.header(hyper::header::ACCEPT, "*/*");
    }
    for (name, value) in req.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(req.body.clone().unwrap_or_default()))
        .map_err(|e| format!("building the request: {e}"))
}

/// `CONNECT authority` through an HTTP proxy; the stream is the tunnel afterwards.
async fn tunnel(io: &mut Box<dyn Io>, authority: &str) -> Result<(), String> {
    let request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    io.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("sending CONNECT to the proxy: {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    // Byte by byte: the TLS handshake's first bytes must stay in the stream.
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err("the proxy's CONNECT answer is longer than 16 KiB".into());
        }
        let n = io
            .read(&mut byte)
            .await
            .map_err(|e| format!("reading the proxy's CONNECT answer: {e}"))?;
        if n == 0 {
            return Err("the proxy closed the connection after CONNECT".into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or_default();
    let status = status_line.split_whitespace().nth(1).unwrap_or_default();
    if !status.starts_with('2') {
        return Err(format!(
            "the proxy refused CONNECT {authority}: {status_line}"
        ));
    }
    Ok(())
}
