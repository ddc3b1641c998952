//! Operational endpoints: liveness, readiness, metrics, the OpenAPI document and
//! InfluxDB's `/ping`.

use super::Ctx;
use super::error::{json, plain};
use crate::error::Error;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

pub async fn healthz(_: Ctx) -> Result<Response, Error> {
    Ok(plain(StatusCode::OK, "ok\n"))
}

/// InfluxDB's `GET /ping`: the check InfluxDB clients (our agent's writer among them)
/// make before writing. 204 and a version header, as InfluxDB 1.x and 2.x answer.
pub async fn influx_ping(_: Ctx) -> Result<Response, Error> {
    let mut r = super::routes::no_content();
    r.headers_mut().insert(
        "x-influxdb-version",
        HeaderValue::from_static(concat!("streamswarm-", env!("CARGO_PKG_VERSION"))),
    );
    r.headers_mut()
        .insert("x-influxdb-build", HeaderValue::from_static("embedded"));
    Ok(r)
}

pub async fn readyz(ctx: Ctx) -> Result<Response, Error> {
    match ctx.state.store.ping().await {
        Ok(()) => Ok(plain(StatusCode::OK, "ready\n")),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Ok(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "database unreachable\n",
            ))
        }
    }
}

pub async fn metrics(ctx: Ctx) -> Result<Response, Error> {
    let mut r = Response::new(ctx.state.metrics.encode().into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(r)
}

pub async fn openapi(_: Ctx) -> Result<Response, Error> {
    Ok(json(StatusCode::OK, &super::openapi::document()))
}
