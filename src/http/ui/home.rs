use super::html;
use crate::auth::session;
use crate::error::Result;
use crate::http::Ctx;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

pub async fn page(ctx: Ctx) -> Result<Response> {
    let p = ctx.principal()?;
    let csrf = p
        .session()
        .map(|s| session::csrf_token(&s.id))
        .unwrap_or_default();
    let user = match p {
        crate::auth::Principal::User { user, .. } => user.username.clone(),
        crate::auth::Principal::Token { .. }
        | crate::auth::Principal::Agent { .. }
        | crate::auth::Principal::Enrolment { .. } => p.actor(),
    };
    let body = ctx.state.templates.render(
        "home",
        &json!({"username": user, "role": p.role(), "csrf_token": csrf}),
    )?;
    Ok(html(StatusCode::OK, body))
}
