use crate::error::Result;
use crate::http::Ctx;
use crate::http::routes::ok;
use serde::Deserialize;
use warp::reply::Response;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    limit: Option<i64>,
    before: Option<i64>,
}

pub async fn list(ctx: Ctx) -> Result<Response> {
    let page: Page = ctx.query()?;
    let limit = page.limit.unwrap_or(100).clamp(1, 1000);
    ok(&ctx.state.store.audit_entries(limit, page.before).await?)
}
