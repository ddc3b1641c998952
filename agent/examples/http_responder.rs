//! The HTTP lab's server (agent/tests/http_lab.rs): HTTP/1.1 and HTTP/2 (ALPN over
//! TLS, both on cleartext by preface) with a few routes that make behaviour known:
//!
//! - `/` — 200, body `hello from the streamswarm lab`
//! - `/delay/<ms>` — waits `<ms>` before answering 200 (a visible time to first byte)
//! - `/size/<n>` — 200 with an `n`-byte body
//! - `/redirect/<n>` — 302 to `/redirect/<n-1>`; `/redirect/0` answers 200 `landed`
//! - `/to/<url>` — 302 to `<url>` (percent-decoded), for cross-host redirects
//! - `/status/<code>` — that status
//! - `/echo` — 200 with `<METHOD> <body>`
//!
//! With `--proxy` it is instead a minimal HTTP proxy: `CONNECT host:port` tunnels,
//! an absolute-form request is forwarded to its host as received.
//!
//! ```sh
//! http_responder --listen 10.73.0.2:8443 --cert cert.pem --key key.pem
//! ```
//! Prints `READY` on stdout once every listener is bound.

use clap::Parser;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser)]
struct Args {
    /// Address to listen on; repeat for several.
    #[arg(long, required = true)]
    listen: Vec<SocketAddr>,
    /// PEM certificate chain; with --key, serve HTTPS.
    #[arg(long)]
    cert: Option<String>,
    #[arg(long)]
    key: Option<String>,
    /// Offer only HTTP/1.1 in ALPN.
    #[arg(long)]
    h1_only: bool,
    /// Be an HTTP proxy instead.
    #[arg(long)]
    proxy: bool,
}

async fn route(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    use http_body_util::BodyExt;
    let path = request.uri().path().to_owned();
    let method = request.method().to_string();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let reply = |status: u16, body: Vec<u8>| {
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let redirect = |to: String| {
        Response::builder()
            .status(302)
            .header("location", to)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (first, rest) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    Ok(match first {
        "" => reply(200, b"hello from the streamswarm lab".to_vec()),
        "delay" => {
            let ms: u64 = rest.parse().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            reply(200, b"delayed".to_vec())
        }
        "size" => reply(200, vec![b'x'; rest.parse().unwrap_or(0)]),
        "redirect" => match rest.parse::<u32>().unwrap_or(0) {
            0 => reply(200, b"landed".to_vec()),
            n => redirect(format!("/redirect/{}", n - 1)),
        },
        "to" => redirect(
            url::form_urlencoded::parse(rest.as_bytes())
                .map(|(k, v)| format!("{k}{v}"))
                .collect(),
        ),
        "status" => reply(rest.parse().unwrap_or(500), Vec::new()),
        "echo" => {
            let mut out = format!("{method} ").into_bytes();
            out.extend_from_slice(&body);
            reply(200, out)
        }
        _ => reply(404, b"not found".to_vec()),
    })
}

async fn proxy(mut client: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method == "CONNECT" {
        let mut upstream = TcpStream::connect(target).await?;
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    } else {
        let url = url::Url::parse(target).map_err(std::io::Error::other)?;
        let authority = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(80)
        );
        let mut upstream = TcpStream::connect(authority).await?;
        upstream.write_all(&head).await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
            let key = PrivateKeyDer::from_pem_file(key)?;
            let provider = rustls::crypto::aws_lc_rs::default_provider();
            // The crypto library's one-time initialisation, before READY: otherwise the
            // first client's handshake would wait for it.
            let _ = provider.secure_random.fill(&mut [0u8; 16]);
            for group in provider.kx_groups.iter() {
                let _ = group.start();
            }
            let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(chain, key)?;
            config.alpn_protocols = if args.h1_only {
                vec![b"http/1.1".to_vec()]
            } else {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            };
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
        }
        _ => None,
    };
    let mut listeners = Vec::new();
    for address in &args.listen {
        listeners.push(TcpListener::bind(address).await?);
    }
    println!("READY");
    std::io::stdout().flush()?;
    let proxy_mode = args.proxy;
    let h1_only = args.h1_only;
    for listener in listeners {
        let tls = tls.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let tls = tls.clone();
                tokio::spawn(async move {
                    if proxy_mode {
                        let _ = proxy(stream).await;
                        return;
                    }
                    let mut builder = auto::Builder::new(TokioExecutor::new());
                    if h1_only {
                        builder = builder.http1_only();
                    }
                    let service = hyper::service::service_fn(route);
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
    }
    // Serves until killed.
    std::future::pending::<()>().await;
    Ok(())
}
