//! `/`: the dashboard. Polls `GET /api/v1/dashboard`.

use super::page;
use crate::error::Result;
use crate::http::Ctx;
use crate::http::api::dashboard as api;
use serde_json::json;
use warp::reply::Response;

pub async fn dashboard(ctx: Ctx) -> Result<Response> {
    let d = api::dashboard(&ctx).await?;
    let more = d.problems_total.saturating_sub(d.problems.len());
    let more_insights = d.insights.open.saturating_sub(d.insights.latest.len());
    page(
        &ctx,
        "home",
        "Dashboard",
        "dashboard",
        Some("/api/v1/dashboard"),
        json!({"d": d, "more_problems": more, "more_insights": more_insights, "no_agents": d.agents.total == 0, "operator": super::can_operate(&ctx)}),
    )
}
