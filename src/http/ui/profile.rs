//! `/profile`: who you are, and changing your own password
//! (`POST /api/v1/me/password`).

use super::page;
use crate::auth::Principal;
use crate::error::Result;
use crate::http::Ctx;
use serde_json::json;
use warp::reply::Response;

pub async fn form(ctx: Ctx) -> Result<Response> {
    let user = match ctx.principal()? {
        Principal::User { user, .. } => Some(user.clone()),
        _ => None,
    };
    page(
        &ctx,
        "profile",
        "Profile",
        "profile",
        None,
        json!({"user": user}),
    )
}
