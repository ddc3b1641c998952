use crate::admin;
use crate::auth::{Principal, throttle};
use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::routes::{no_content, ok};
use crate::store::audit::AuditRecord;
use crate::store::tokens::TokenInfo;
use crate::store::users::User;
use schemars::JsonSchema;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use streamswarm_schema::Role;
use warp::reply::Response;

/// The caller: a signed-in user or an API token.
#[derive(Serialize, JsonSchema)]
pub struct Me {
    pub kind: &'static str,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenInfo>,
    /// For sessions: the token to send as `X-CSRF-Token` with state-changing requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

pub async fn get(ctx: Ctx) -> Result<Response> {
    let me = match ctx.principal()? {
        Principal::User { user, session } => Me {
            kind: "user",
            role: user.role,
            user: Some(user.clone()),
            token: None,
            csrf_token: Some(crate::auth::session::csrf_token(&session.id)),
        },
        Principal::Token { token, role } => Me {
            kind: "token",
            role: *role,
            user: None,
            token: Some(token.clone()),
            csrf_token: None,
        },
        // The access rule refuses agents before this handler runs.
        Principal::Agent { .. } | Principal::Enrolment { .. } => {
            return Err(Error::Forbidden(
                "agent credentials only write time series".into(),
            ));
        }
    };
    ok(&me)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Users change their own password, proving the current one. Other sessions end.
/// A wrong current password is audited (`password.change_failed`) and throttled with
/// failed logins (`auth::throttle`): a stolen session is no unlimited password oracle.
pub async fn change_password(ctx: Ctx) -> Result<Response> {
    let Principal::User { user, session } = ctx.principal()? else {
        return Err(Error::Forbidden("API tokens have no password".into()));
    };
    let body: PasswordChange = ctx.json()?;
    let store = &ctx.state.store;
    let settings = ctx.state.settings.get(store).await?;
    let source_ip = ctx.source_ip();
    throttle::check(store, &settings, &user.username, source_ip.as_deref()).await?;
    let (_, hash) = store
        .user_credentials(
            &crate::store::users::Username::parse(&user.username).map_err(Error::BadRequest)?,
        )
        .await?
        .ok_or_else(|| Error::NotFound("user".into()))?;
    let verdict =
        crate::auth::password::verify(SecretString::from(body.current_password), Some(hash)).await;
    if verdict == crate::auth::password::Verdict::Invalid {
        store
            .audit(AuditRecord {
                actor: &ctx.actor().name,
                action: "password.change_failed",
                target: &user.username,
                source_ip: source_ip.as_deref(),
                details: serde_json::json!({}),
            })
            .await?;
        return Err(Error::invalid(
            "current_password",
            "is not your current password",
        ));
    }
    let keep = crate::auth::session::hash_id(&session.id);
    admin::users::set_password(
        &ctx.state.store,
        &ctx.actor(),
        user,
        SecretString::from(body.new_password),
        Some(&keep),
    )
    .await?;
    Ok(no_content())
}
