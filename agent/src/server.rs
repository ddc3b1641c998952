//! The agent's client for the server's agent API (`docs/agent-api.md`): enrolment,
//! heartbeat and assignments. One `reqwest` client (the workspace's HTTP stack);
//! credentials only in `Authorization: Bearer …`, never in URLs or logs.

use crate::assignments::{Assignments, AssignmentsBody};
use crate::facts::HostFacts;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a request to the server did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServerError {
    /// 401: the token or credential was refused (revoked, deleted, expired, used up).
    #[error("the server refused the credential (401): {message}")]
    Unauthorized { message: String },
    /// No answer, 429 or 5xx: try again later (after `retry_after` when the server
    /// said so).
    #[error("the server is unavailable: {message}")]
    Unavailable {
        status: Option<u16>,
        retry_after: Option<Duration>,
        message: String,
    },
    /// Another 4xx or an unexpected status: something an operator must fix.
    #[error("the server refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// A success status with a body that does not follow the contract.
    #[error("the server's answer does not follow the agent API: {0}")]
    BadAnswer(String),
}

impl ServerError {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ServerError::Unauthorized { .. })
    }
}

/// `201` answer to `POST /api/v1/agent/enrol`.
#[derive(Debug, Clone, Deserialize)]
pub struct Enrolment {
    pub agent_id: i64,
    pub name: String,
    pub credential: SecretString,
    pub heartbeat_interval_seconds: u64,
    pub write: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
struct EnrolRequest<'a> {
    hostname: &'a str,
    facts: &'a HostFacts,
}

#[derive(Debug, Clone, Serialize)]
struct HeartbeatRequest<'a> {
    hostname: &'a str,
    facts: &'a HostFacts,
    sent_at_ms: i64,
}

/// `200` answer to `POST /api/v1/agent/heartbeat`, with the clock offset estimated
/// from this exchange.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Heartbeat {
    pub server_time_ms: i64,
    pub heartbeat_interval_seconds: u64,
    #[serde(default)]
    pub assignments_etag: Option<String>,
    /// `server_time_ms − (sent + received) / 2` on the agent's wall clock.
    #[serde(skip)]
    pub clock_offset_ms: f64,
}

/// Answer to `GET /api/v1/agent/assignments`.
#[derive(Debug, Clone, PartialEq)]
pub enum AssignmentsAnswer {
    /// `304`: the ETag sent is current.
    NotModified,
    Changed(Assignments),
}

#[derive(Debug, Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    base: url::Url,
}

/// The clock offset of one exchange: the server's time minus the midpoint of the
/// request on the agent's clock.
pub fn clock_offset_ms(server_time_ms: i64, sent_ms: i64, received_ms: i64) -> f64 {
    server_time_ms as f64 - (sent_ms as f64 + received_ms as f64) / 2.0
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl ServerClient {
    /// `base` is the server's base URL (path ending in `/`).
    pub fn new(base: url::Url, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("streamswarm-agent/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(ServerClient { http, base })
    }

    pub fn base(&self) -> &url::Url {
        &self.base
    }

    fn url(&self, path: &str) -> url::Url {
        self.base.join(path).expect("relative paths join")
    }

    fn bearer(token: &SecretString) -> String {
        format!("Bearer {}", token.expose_secret())
    }

    /// `POST /api/v1/agent/enrol` with an enrolment token.
    pub async fn enrol(
        &self,
        token: &SecretString,
        hostname: &str,
        facts: &HostFacts,
    ) -> Result<Enrolment, ServerError> {
        let response = self
            .http
            .post(self.url("api/v1/agent/enrol"))
            .header(AUTHORIZATION, Self::bearer(token))
            .json(&EnrolRequest { hostname, facts })
            .send()
            .await
            .map_err(connection)?;
        let response = expect(response, &[StatusCode::CREATED, StatusCode::OK]).await?;
        json(response).await
    }

    /// `POST /api/v1/agent/heartbeat`.
    pub async fn heartbeat(
        &self,
        credential: &SecretString,
        hostname: &str,
        facts: &HostFacts,
    ) -> Result<Heartbeat, ServerError> {
        let sent = now_ms();
        let response = self
            .http
            .post(self.url("api/v1/agent/heartbeat"))
            .header(AUTHORIZATION, Self::bearer(credential))
            .json(&HeartbeatRequest {
                hostname,
                facts,
                sent_at_ms: sent,
            })
            .send()
            .await
            .map_err(connection)?;
        let response = expect(response, &[StatusCode::OK]).await?;
        let mut answer: Heartbeat = json(response).await?;
        let received = now_ms();
        answer.clock_offset_ms = clock_offset_ms(answer.server_time_ms, sent, received);
        if answer.heartbeat_interval_seconds == 0 {
            return Err(ServerError::BadAnswer(
                "heartbeat_interval_seconds is 0".into(),
            ));
        }
        Ok(answer)
    }

    /// `GET /api/v1/agent/assignments`, with `If-None-Match: etag` when given.
    pub async fn assignments(
        &self,
        credential: &SecretString,
        etag: Option<&str>,
    ) -> Result<AssignmentsAnswer, ServerError> {
        let mut request = self
            .http
            .get(self.url("api/v1/agent/assignments"))
            .header(AUTHORIZATION, Self::bearer(credential));
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let response = request.send().await.map_err(connection)?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(AssignmentsAnswer::NotModified);
        }
        let response = expect(response, &[StatusCode::OK]).await?;
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| ServerError::BadAnswer("assignments answer without an ETag".into()))?;
        let body: AssignmentsBody = json(response).await?;
        Ok(AssignmentsAnswer::Changed(Assignments {
            etag,
            agent_id: body.agent_id,
            tests: body.tests,
        }))
    }
}

fn connection(e: reqwest::Error) -> ServerError {
    ServerError::Unavailable {
        status: None,
        retry_after: None,
        message: e.without_url().to_string(),
    }
}

/// Passes an expected status through; turns the others into errors carrying the
/// server's `{"error": …}` message.
async fn expect(
    response: reqwest::Response,
    ok: &[StatusCode],
) -> Result<reqwest::Response, ServerError> {
    let status = response.status();
    if ok.contains(&status) {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| streamswarm_tsdb::write::parse_retry_after(v, SystemTime::now()));
    let body = read_capped(response, MAX_ERROR_BODY)
        .await
        .map(|(body, _)| body)
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_owned()
        });
    let message = if message.is_empty() {
        status.to_string()
    } else {
        message
    };
    Err(match status.as_u16() {
        401 => ServerError::Unauthorized { message },
        429 | 500..=599 => ServerError::Unavailable {
            status: Some(status.as_u16()),
            retry_after,
            message,
        },
        s => ServerError::Refused { status: s, message },
    })
}

/// The most of an error answer read: enough for any `{"error": …}`.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// The most of a success answer read; assignments of thousands of tests fit easily.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Reads at most `cap` bytes of the body; the flag says whether there was more.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - out.len();
        if chunk.len() > room {
            out.extend_from_slice(&chunk[..room]);
            return Ok((out, true));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, false))
}

async fn json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, ServerError> {
    let (body, truncated) =
        read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| ServerError::Unavailable {
                status: None,
                retry_after: None,
                message: e.without_url().to_string(),
            })?;
    if truncated {
        return Err(ServerError::BadAnswer(format!(
            "the answer is larger than {MAX_ANSWER_BYTES} bytes"
        )));
    }
    serde_json::from_slice(&body).map_err(|e| ServerError::BadAnswer(e.to_string()))
}
