//! The InfluxDB-compatible write endpoints of the embedded time-series store:
//! `POST /write` (InfluxDB 1.x: `db`, `rp`, `precision`) and `POST /api/v2/write`
//! (InfluxDB 2.x: `org`, `bucket`, `precision`), so an agent writes here exactly as it
//! writes to a real InfluxDB.
//!
//! | outcome | status | body (v1 / v2) |
//! |---|---|---|
//! | stored | 204 | none |
//! | bad line, type conflict, bad precision, missing `db`/`bucket`, bad gzip | 400 | `{"error": "line 3: …"}` / `{"code": "invalid", "message": "line 3: …"}` |
//! | agent credential: a line with another agent's tag, a test not assigned to it, or outside `schema/measurements.toml`; a new series past `timeseries.max_series_per_agent` | 400 | as above, naming the line |
//! | no, invalid, revoked credentials; credentials in the URL | 401 | same shapes, `unauthorized` |
//! | a session, or an API token below operator | 403 | `forbidden` |
//! | body over `timeseries.max_write_bytes`, or over `max_decompressed_bytes` once gunzipped | 413 | `request too large` |
//! | more than `timeseries.max_concurrent_writes` writes in progress | 429 + `Retry-After: 1` | `too many requests` |
//!
//! What a caller may write is `timeseries::embedded::policy`: operator API tokens
//! anything (importers), agent credentials only their own schema points.
//!
//! A refused write stores nothing (see `timeseries::embedded`). The embedded store is a
//! single database: the `db`/`rp`/`org`/`bucket` names are required where InfluxDB
//! requires them but all write to the same store.

use super::routes::no_content;
use super::{AppState, Ctx};
use crate::auth::Access;
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::timeseries::embedded::WriteAdmission;
use crate::timeseries::embedded::ingest::{Dialect, Precision, WriteError};
use crate::timeseries::embedded::policy::{AgentScope, WritePolicy};
use warp::http::header;
use warp::reply::Response;

/// A place among the writes in progress (`timeseries.max_concurrent_writes`), taken by
/// the dispatcher for the write routes before it reads their body; 429 when none is
/// free. `None` for other routes and without the embedded store.
pub fn admit(state: &AppState, access: Access) -> Result<Option<WriteAdmission>> {
    let (Access::TimeSeriesWrite, Some(store)) = (access, state.timeseries.embedded()) else {
        return Ok(None);
    };
    store.admit_write().map(Some).map_err(|e| {
        state.metrics.timeseries_rejected("busy");
        tracing::debug!(error = %e, "time-series write refused");
        Error::from(e)
    })
}

pub async fn v1(ctx: Ctx) -> Result<Response> {
    write(ctx, Dialect::V1).await
}

pub async fn v2(ctx: Ctx) -> Result<Response> {
    write(ctx, Dialect::V2).await
}

async fn write(ctx: Ctx, dialect: Dialect) -> Result<Response> {
    let param = |name: &str| {
        url::form_urlencoded::parse(ctx.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    match dialect {
        Dialect::V1 if param("db").is_none_or(|d| d.is_empty()) => {
            return Err(Error::BadRequest("database is required".into()));
        }
        Dialect::V2 if param("bucket").is_none_or(|b| b.is_empty()) => {
            return Err(Error::BadRequest("bucket is required".into()));
        }
        _ => {}
    }
    let precision = Precision::parse(param("precision").as_deref(), dialect)?;
    let gzip = match ctx
        .headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => false,
        Some("gzip") => true,
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "unsupported Content-Encoding {other:?}: send gzip or identity"
            )));
        }
    };
    let Some(store) = ctx.state.timeseries.embedded() else {
        return Err(Error::NotFound(
            "the embedded time-series store (disabled: this server is configured with \
             [influx], so points go to that InfluxDB; the enrolment answer's `write` says where)"
                .into(),
        ));
    };
    let policy = match &ctx.principal {
        // The access rule let in only agents and operator (or admin) API tokens.
        Some(Principal::Agent { agent_id, .. }) => WritePolicy::Agent(AgentScope::new(
            *agent_id,
            ctx.state.store.test_ids_for_agent(*agent_id).await?,
            ctx.state.config.timeseries.max_series_per_agent,
        )),
        _ => WritePolicy::FreeForm,
    };
    let now = ctx.state.store.clock().now_ns();
    let written = store
        .write(
            ctx.body.clone(),
            gzip,
            ctx.state.config.timeseries.max_decompressed_bytes,
            precision,
            now,
            policy,
        )
        .await
        .inspect_err(|e| {
            let reason = match e {
                WriteError::Parse { .. } => "parse",
                WriteError::TypeConflict { .. } => "type_conflict",
                WriteError::TooLarge { .. } => "too_large",
                WriteError::Precision(_) | WriteError::BadRequest(_) => "bad_request",
                WriteError::Refused { reason, .. } => *reason,
                WriteError::SeriesCap { .. } => "series_cap",
                WriteError::Busy { .. } => "busy",
                WriteError::Store(_) => "store",
            };
            ctx.state.metrics.timeseries_rejected(reason);
            tracing::debug!(reason, error = %e, caller = %ctx.actor().name, "time-series write refused");
        })?;
    ctx.state
        .metrics
        .timeseries_written(written.points, written.values);
    tracing::debug!(
        points = written.points,
        values = written.values,
        caller = %ctx.actor().name,
        "time series written"
    );
    Ok(no_content())
}
