//! `/agents/enrol`: create an enrolment token (`POST /api/v1/tokens`, kind `enrol`; the
//! secret is shown once) and the command to run on the new host.

use super::page;
use crate::error::Result;
use crate::http::Ctx;
use serde_json::json;
use warp::reply::Response;

pub async fn form(ctx: Ctx) -> Result<Response> {
    let server = ctx.state.public_origin.clone();
    page(
        &ctx,
        "enrol",
        "Enrol an agent",
        "agents",
        None,
        json!({"server": server}),
    )
}
