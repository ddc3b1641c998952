//! The one error type of StreamSwarm's operations. Expected failures are variants; the
//! HTTP layer maps each to a status in exactly one place (`http::error`), and the CLI
//! prints its message.

use crate::store::StoreError;
use schemars::JsonSchema;
use serde::Serialize;
use std::time::Duration;
use streamswarm_schema::ValidationError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that cannot be accepted; every problem names its field.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ValidationError>),
    /// The request body is not what the endpoint reads (bad JSON, wrong content type).
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after: Duration,
    },
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![ValidationError::new(field, message)])
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound("record".into()),
            StoreError::Conflict(m) => Error::Conflict(m),
            StoreError::Closed | StoreError::Pool(_) => Error::Unavailable(e.to_string()),
            e => Error::Internal(anyhow::Error::new(e)),
        }
    }
}

impl From<crate::timeseries::embedded::ingest::WriteError> for Error {
    fn from(e: crate::timeseries::embedded::ingest::WriteError) -> Self {
        use crate::timeseries::embedded::ingest::WriteError as W;
        match e {
            W::TooLarge { limit } => Error::PayloadTooLarge { limit },
            e @ W::Busy { .. } => Error::TooManyRequests {
                message: e.to_string(),
                retry_after: Duration::from_secs(1),
            },
            W::Store(e) => Error::from(e),
            e @ (W::Parse { .. }
            | W::TypeConflict { .. }
            | W::Precision(_)
            | W::BadRequest(_)
            | W::Refused { .. }
            | W::SeriesCap { .. }) => Error::BadRequest(e.to_string()),
        }
    }
}

/// The JSON body of every API error: `{"error": {"code", "message", "details"?}}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid`, `not_found`, `forbidden`.
    pub code: &'static str,
    /// What was wrong, for a human.
    pub message: String,
    /// For `invalid`: each rejected field and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ValidationError>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
