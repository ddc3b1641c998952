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
        json!({"kind": info.kind, "name": info.name, "prefix": info.prefix, "role": info.role,
               "created_by": info.created_by_name}),
    )
    .await?;
    Ok(Created {
        info,
        secret: generated.secret,
    })
}

/// What a token's creator allows it to do now. A token never exceeds its creator's
/// current rights: it acts with at most the creator's role, and not at all while the
/// creator is disabled. Deleting a user revokes their tokens (`users::delete`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Made without a user (the `streamswarm` command): bounded only by its own role.
    NoCreator,
    /// The creator is enabled with this role.
    AtMost(Role),
    /// The creator is disabled, or was deleted a moment ago.
    Suspended,
}

impl Standing {
    /// The role an API token whose own role is `own` acts with; `None` when suspended.
    pub fn cap(self, own: Role) -> Option<Role> {
        match self {
            Standing::NoCreator => Some(own),
            Standing::AtMost(creator) => Some(own.min(creator)),
            Standing::Suspended => None,
        }
    }
}

/// Reads the standing of `token`'s creator. Agent credentials belong to their agent,
/// not to the user whose enrolment token made them, and are not bounded by it.
pub async fn standing(store: &Store, token: &TokenInfo) -> Result<Standing> {
    let Some(id) = token.created_by.filter(|_| token.kind != TokenKind::Agent) else {
        return Ok(Standing::NoCreator);
    };
    Ok(match store.user(id).await? {
        Some(user) if !user.disabled => Standing::AtMost(user.role),
        _ => Standing::Suspended,
    })
}

/// Deletes `user`, which revokes the API and enrolment tokens they created in the same
/// transaction, then audits each revocation naming the creator. Returns their ids.
pub(super) async fn delete_creator(
    store: &Store,
    actor: &Actor,
    user: &crate::store::users::User,
) -> Result<Vec<i64>> {
    let now = store.clock().now_ms();
    let revoked: Vec<TokenInfo> = store
        .tokens_created_by(user.id)
        .await?
        .into_iter()
        .filter(|t| t.kind != TokenKind::Agent && t.is_active(now))
        .collect();
    store.delete_user(user.id).await?;
    for t in &revoked {
        audit(
            store,
            actor,
            "token.revoke",
            &format!("token:{}", t.id),
            json!({"kind": t.kind, "name": t.name, "prefix": t.prefix,
                   "created_by": user.username, "reason": "creator deleted"}),
        )
        .await?;
    }
    Ok(revoked.iter().map(|t| t.id).collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_acts_with_at_most_its_creators_current_role() {
        for own in Role::ALL {
            assert_eq!(Standing::NoCreator.cap(own), Some(own));
            assert_eq!(Standing::Suspended.cap(own), None);
            for creator in Role::ALL {
                let acts = Standing::AtMost(creator).cap(own).unwrap();
                assert!(acts <= own && acts <= creator, "{own} by {creator}: {acts}");
                assert!(acts == own || acts == creator);
            }
        }
    }
}
