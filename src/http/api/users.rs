use crate::admin::users;
use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::routes::{created, no_content, ok};
use schemars::JsonSchema;
use secrecy::SecretString;
use serde::Deserialize;
use streamswarm_schema::Role;
use warp::reply::Response;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    /// At least 10 characters.
    pub password: String,
    pub role: Role,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// Sets a new password and ends the user's sessions.
    pub password: Option<String>,
}

impl UserUpdate {
    /// The new password, if any, once it passes the password policy.
    pub(crate) fn checked_password(&self) -> Result<Option<SecretString>> {
        let password = self.password.clone().map(SecretString::from);
        if let Some(pw) = &password {
            crate::auth::password::check_policy(pw).map_err(|m| Error::invalid("password", m))?;
        }
        Ok(password)
    }
}

pub async fn list(ctx: Ctx) -> Result<Response> {
    ok(&ctx.state.store.list_users().await?)
}

pub async fn create(ctx: Ctx) -> Result<Response> {
    let body: NewUser = ctx.json()?;
    let user = users::create(
        &ctx.state.store,
        &ctx.actor(),
        &body.username,
        SecretString::from(body.password),
        body.role,
    )
    .await?;
    created(&user)
}

pub async fn get(ctx: Ctx) -> Result<Response> {
    ok(&users::get(&ctx.state.store, ctx.id("id")?).await?)
}

pub async fn update(ctx: Ctx) -> Result<Response> {
    let body: UserUpdate = ctx.json()?;
    let store = &ctx.state.store;
    let actor = ctx.actor();
    let user = users::get(store, ctx.id("id")?).await?;
    if actor.user_id == Some(user.id)
        && (body.role.is_some_and(|r| r != user.role) || body.disabled == Some(true))
    {
        return Err(Error::Conflict(
            "you cannot change your own role or disable yourself".into(),
        ));
    }
    // A refused request must change nothing: check the new password first, apply role
    // and state (which may be refused: last administrator), and only then the password.
    let password = body.checked_password()?;
    let updated = users::update(store, &actor, &user, body.role, body.disabled).await?;
    match password {
        Some(pw) => {
            users::set_password(store, &actor, &updated, pw, None).await?;
            ok(&users::get(store, updated.id).await?)
        }
        None => ok(&updated),
    }
}

pub async fn delete(ctx: Ctx) -> Result<Response> {
    let user = users::get(&ctx.state.store, ctx.id("id")?).await?;
    users::delete(&ctx.state.store, &ctx.actor(), &user).await?;
    Ok(no_content())
}
