use crate::admin::tokens::{self, TokenRequest};
use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::routes::{created, ok};
use crate::store::tokens::{TokenInfo, TokenKind};
use schemars::JsonSchema;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use streamswarm_schema::Role;
use warp::reply::Response;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// `enrol` (lets agents enrol) or `api` (automation access).
    pub kind: TokenKind,
    pub name: String,
    /// For API tokens: the role it acts with (default viewer).
    pub role: Option<Role>,
    /// Lifetime such as `30d`, `12h`; never expires when absent.
    pub expires: Option<String>,
    /// How many times it can be used; unlimited when absent.
    pub uses: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
pub struct CreatedToken {
    /// The token itself. Shown only in this response; store it now.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

pub async fn list(ctx: Ctx) -> Result<Response> {
    ok(&ctx.state.store.list_tokens(None).await?)
}

pub async fn create(ctx: Ctx) -> Result<Response> {
    let body: NewToken = ctx.json()?;
    let expires_in = body
        .expires
        .as_deref()
        .map(|s| {
            humantime::parse_duration(s)
                .map_err(|e| Error::invalid("expires", format!("{e} (e.g. 30d, 12h)")))
        })
        .transpose()?;
    let created_token = tokens::create(
        &ctx.state.store,
        &ctx.actor(),
        TokenRequest {
            kind: body.kind,
            name: body.name,
            role: body.role,
            expires_in,
            uses: body.uses,
        },
    )
    .await?;
    created(&CreatedToken {
        token: created_token.secret.expose_secret().to_owned(),
        info: created_token.info,
    })
}

pub async fn revoke(ctx: Ctx) -> Result<Response> {
    ok(&tokens::revoke(&ctx.state.store, &ctx.actor(), ctx.id("id")?).await?)
}
