//! `/users` (admin): list, create, change role, disable/enable, delete — through
//! `/api/v1/users` (which the page polls).

use super::page;
use crate::error::Result;
use crate::http::Ctx;
use serde_json::json;
use warp::reply::Response;

pub async fn list(ctx: Ctx) -> Result<Response> {
    let me = ctx.principal()?.user_id();
    let users = ctx.state.store.list_users().await?;
    let rows: Vec<_> = users
        .iter()
        .map(|u| {
            let roles: Vec<_> = ["viewer", "operator", "admin"]
                .iter()
                .map(|r| json!({"value": r, "selected": u.role.to_string() == *r}))
                .collect();
            json!({"u": u, "me": Some(u.id) == me, "roles": roles})
        })
        .collect();
    page(
        &ctx,
        "users",
        "Users",
        "users",
        Some("/api/v1/users"),
        json!({"rows": rows}),
    )
}
