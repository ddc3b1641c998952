//! The one place where errors become HTTP responses.

use super::AppState;
use crate::error::{Error, ErrorBody, ErrorDetail};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Invalid(_) | Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthenticated | Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid",
            Error::BadRequest(_) => "bad_request",
            Error::Unauthenticated | Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::Conflict(_) => "conflict",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::TooManyRequests { .. } => "too_many_requests",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }
}

/// How a route writes its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    /// `{"error": {"code", "message", "details"?}}`: the JSON API (`/api/…`).
    Json,
    /// A small HTML page: the web UI.
    Html,
    /// InfluxDB 1.x's `{"error": "message"}`: `POST /write`, for InfluxDB 1.x clients.
    InfluxV1,
    /// InfluxDB 2.x's `{"code": "invalid", "message": "…"}`: `POST /api/v2/write`.
    InfluxV2,
    /// `{"error": "message"}`: the agent API under `/api/v1/agent/`, as
    /// `docs/agent-api.md` specifies (agents read one string).
    Agent,
}

impl ErrorFormat {
    /// The format of a path's errors unless its route says otherwise.
    pub fn for_path(path: &str) -> Self {
        if path.starts_with("/api/v1/agent/") {
            ErrorFormat::Agent
        } else if path.starts_with("/api/") {
            ErrorFormat::Json
        } else {
            ErrorFormat::Html
        }
    }
}

impl Error {
    /// InfluxDB 2.x's error code for this error (its `platform` error kinds).
    pub fn influx_code(&self) -> &'static str {
        match self {
            Error::Invalid(_) | Error::BadRequest(_) => "invalid",
            Error::Unauthenticated | Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not found",
            Error::MethodNotAllowed(_) => "method not allowed",
            Error::Conflict(_) => "conflict",
            Error::PayloadTooLarge { .. } => "request too large",
            Error::TooManyRequests { .. } => "too many requests",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal error",
        }
    }
}

/// The error as the route's clients expect it: JSON for the API, a small HTML page for
/// the UI, InfluxDB's shapes for the InfluxDB-compatible write endpoints.
pub fn respond(err: Error, format: ErrorFormat, state: &AppState) -> Response {
    let status = err.status();
    let code = err.code();
    let message = match &err {
        Error::Internal(e) => {
            // The cause goes to the log only; the client learns nothing internal.
            tracing::error!(error = %format!("{e:#}"), "request failed");
            "internal error; see the server log".to_owned()
        }
        e => e.to_string(),
    };
    let retry_after = match &err {
        Error::TooManyRequests { retry_after, .. } => Some(retry_after.as_secs().max(1)),
        _ => None,
    };
    let mut resp = match format {
        ErrorFormat::InfluxV1 | ErrorFormat::Agent => {
            json(status, &serde_json::json!({ "error": message }))
        }
        ErrorFormat::InfluxV2 => json(
            status,
            &serde_json::json!({ "code": err.influx_code(), "message": message }),
        ),
        ErrorFormat::Json => {
            let details = match err {
                Error::Invalid(v) => v,
                _ => Vec::new(),
            };
            let body = ErrorBody {
                error: ErrorDetail {
                    code,
                    message,
                    details,
                },
            };
            json(status, &body)
        }
        ErrorFormat::Html => {
            let html = state.templates.error_page(status, &message);
            let mut r = Response::new(html.into());
            *r.status_mut() = status;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
    };
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if status == StatusCode::UNAUTHORIZED && format != ErrorFormat::Html {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

pub fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    let mut r = json_bytes(serde_json::to_vec(body).expect("response types serialize"));
    *r.status_mut() = status;
    r
}

/// 200 with a body that is already JSON.
pub fn json_bytes(bytes: Vec<u8>) -> Response {
    let mut r = Response::new(bytes.into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut r = Response::new(text.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
