//! `/settings` (admin): the runtime settings, saved with `PATCH /api/v1/settings`.

use super::page;
use crate::error::Result;
use crate::http::Ctx;
use crate::settings::{DEFINITIONS, RuntimeSettings};
use serde_json::json;
use warp::reply::Response;

pub async fn form(ctx: Ctx) -> Result<Response> {
    let s = RuntimeSettings::load(&ctx.state.store).await?;
    let rows: Vec<_> = DEFINITIONS
        .iter()
        .map(|d| json!({"d": d, "value": s.get(d.key)}))
        .collect();
    page(
        &ctx,
        "settings",
        "Settings",
        "settings",
        None,
        json!({"rows": rows}),
    )
}
