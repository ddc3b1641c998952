//! A FAKE StreamSwarm server for fault injection: the agent API and the write endpoint
//! as small closures over shared state, on a loopback port, recording every request.
//! It answers what real servers cannot be made to answer on demand (401 at a chosen
//! moment, 503 + Retry-After, 400 for a batch). Tests that use it are named
//! `fake_server_*`; end-to-end tests against the real server come with the merge.

use flate2::read::GzDecoder;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use warp::Filter as _;
use warp::http::StatusCode;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// After gzip decoding.
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: vec![],
            body: String::new(),
        }
    }

    pub fn error(status: u16, message: &str) -> Self {
        Self::json(status, serde_json::json!({ "error": message }))
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct FakeServer {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    handler: Arc<Mutex<Arc<Handler>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeServer {
    /// Starts on a free loopback port below the ephemeral range (see [`refused_addr`]),
    /// so a test that stops it can start it again on the same port.
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_on(refused_addr().await, handler).await
    }

    /// Starts on `addr` (a port a test reserved earlier, to come back "up").
    pub async fn start_on(
        addr: SocketAddr,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Arc<Mutex<Arc<Handler>>> = Arc::new(Mutex::new(Arc::new(handler)));
        let (r, h) = (requests.clone(), handler.clone());
        let route = warp::method()
            .and(warp::path::full())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .map(
                move |method: warp::http::Method,
                      path: warp::path::FullPath,
                      query: String,
                      headers: warp::http::HeaderMap,
                      body: bytes::Bytes| {
                    let headers: Vec<(String, String)> = headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    let gzip = headers
                        .iter()
                        .any(|(k, v)| k == "content-encoding" && v == "gzip");
                    let body = if gzip {
                        let mut out = Vec::new();
                        GzDecoder::new(&body[..]).read_to_end(&mut out).unwrap();
                        out
                    } else {
                        body.to_vec()
                    };
                    let recorded = Recorded {
                        method: method.to_string(),
                        path: path.as_str().to_owned(),
                        query,
                        headers,
                        body,
                    };
                    let handler = h.lock().unwrap().clone();
                    let reply = handler(&recorded);
                    r.lock().unwrap().push(recorded);
                    let mut response = warp::http::Response::builder()
                        .status(StatusCode::from_u16(reply.status).unwrap());
                    for (name, value) in reply.headers {
                        response = response.header(name, value);
                    }
                    response.body(reply.body).unwrap()
                },
            );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(
            warp::serve(route)
                .incoming(listener)
                .graceful(async move {
                    let _ = stopped.await;
                })
                .run(),
        );
        FakeServer {
            addr,
            requests,
            handler,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Replaces the behaviour.
    pub fn set_handler(&self, handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        *self.handler.lock().unwrap() = Arc::new(handler);
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Stops listening (connections are refused afterwards).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// A loopback address nothing listens on: connections to it are refused. Its port is
/// below the kernel's ephemeral range, which the kernel never hands to another socket
/// (an outgoing connection, a listener on port 0), so a test that later starts a fake
/// there finds it still free; a port a test running side by side took is skipped.
pub async fn refused_addr() -> SocketAddr {
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let first: u16 = 10_000;
    assert!(low > first + 100, "ephemeral ports start at {low}");
    let span = low - first;
    let start = rand::random_range(0..span);
    for i in 0..span {
        let addr = SocketAddr::from(([127, 0, 0, 1], first + (start + i) % span));
        if tokio::net::TcpListener::bind(addr).await.is_ok() {
            return addr;
        }
    }
    panic!("no free loopback port below the ephemeral range")
}
