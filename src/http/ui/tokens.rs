//! `/tokens` (admin): API and enrolment tokens — create (the secret shown once, with a
//! copy button), revoke, last used; through `/api/v1/tokens` (which the page polls).

use super::page;
use crate::error::Result;
use crate::http::Ctx;
use serde_json::json;
use warp::reply::Response;

pub async fn list(ctx: Ctx) -> Result<Response> {
    let now = ctx.state.store.clock().now_ms();
    let tokens = ctx.state.store.list_tokens(None).await?;
    let rows: Vec<_> = tokens
        .iter()
        .map(|t| json!({"t": t, "active": t.is_active(now)}))
        .collect();
    page(
        &ctx,
        "tokens",
        "API tokens",
        "tokens",
        Some("/api/v1/tokens"),
        json!({"rows": rows}),
    )
}
