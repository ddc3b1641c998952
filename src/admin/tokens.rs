//! Creating and revoking enrolment and API tokens.

use super::Actor;
use super::users::audit;
use crate::auth::token;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::tokens::{NewToken, TokenInfo, TokenKind};
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;
use streamswarm_schema::Role;

pub struct TokenRequest {
    pub kind: TokenKind,
    pub name: String,
    /// API tokens act with this role (default viewer); not allowed for enrolment tokens.
    pub role: Option<Role>,
    pub expires_in: Option<Duration>,
    pub uses: Option<i64>,
}

/// A created token: the secret is returned exactly once.
pub struct Created {
    pub info: TokenInfo,
    pub secret: SecretString,
}

pub async fn create(store: &Store, actor: &Actor, req: TokenRequest) -> Result<Created> {
    let name = crate::names::human_name(&req.name).map_err(|m| Error::invalid("name", m))?;
    let role = match req.kind {
        TokenKind::Api => Some(req.role.unwrap_or(Role::Viewer)),
        TokenKind::Enrol if req.role.is_some() => {
            return Err(Error::invalid(
                "role",
                "enrolment tokens have no role; they only enrol agents",
            ));
        }
        TokenKind::Enrol => None,
        TokenKind::Agent => {
            return Err(Error::invalid(
                "kind",
                "agent credentials are issued by enrolment",
            ));
        }
    };
    if let Some(n) = req.uses
        && !(1..=1_000_000).contains(&n)
    {
        return Err(Error::invalid("uses", "must be between 1 and 1000000"));
    }
    let expires_at = match req.expires_in {
        Some(d) if d.is_zero() => {
            return Err(Error::invalid("expires", "must be a positive duration"));
        }
        Some(d) if d > Duration::from_secs(10 * 365 * 86_400) => {
            return Err(Error::invalid("expires", "must be at most 10 years"));
        }
        Some(d) => Some(store.clock().now_ms() + d.as_millis() as i64),
        None => None,
    };
    let generated = token::generate(req.kind);
    let info = store
        .insert_token(NewToken {
            kind: req.kind,
            name,
            prefix: &generated.prefix,
            secret_hash: &generated.hash,
            role,
            agent_id: None,
            created_by: actor.user_id,
            expires_at,
            uses: req.uses,
        })
        .await?;
    audit(
        store,
        actor,
        "token.create",
        &format!("token:{}", info.id),
        json!({"kind": info.kind, "name": info.name, "prefix": info.prefix, "role": info.role}),
    )
    .await?;
    Ok(Created {
        info,
        secret: generated.secret,
    })
}

pub async fn revoke(store: &Store, actor: &Actor, id: i64) -> Result<TokenInfo> {
    if store.token(id).await?.is_none() {
        return Err(Error::NotFound(format!("token {id}")));
    }
    let info = store.revoke_token(id).await?;
    audit(
        store,
        actor,
        "token.revoke",
        &format!("token:{id}"),
        json!({"kind": info.kind, "name": info.name, "prefix": info.prefix}),
    )
    .await?;
    Ok(info)
}
