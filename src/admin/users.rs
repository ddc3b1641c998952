//! Creating users, changing their password, role and state, deleting them.

use super::Actor;
use crate::auth::password;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::audit::AuditRecord;
use crate::store::users::{User, Username};
use secrecy::SecretString;
use serde_json::json;
use streamswarm_schema::Role;

pub async fn create(
    store: &Store,
    actor: &Actor,
    username: &str,
    password: SecretString,
    role: Role,
) -> Result<User> {
    let username = check_new_user(username, &password)?;
    let hash = password::hash(password).await;
    let user = store.create_user(&username, &hash, role).await?;
    audit(
        store,
        actor,
        "user.create",
        &user.username,
        json!({"id": user.id, "role": role}),
    )
    .await?;
    Ok(user)
}

/// The checks of a new user's name and password, before anything is hashed or stored.
pub fn check_new_user(username: &str, password: &SecretString) -> Result<Username> {
    let username = Username::parse(username).map_err(|m| Error::invalid("username", m))?;
    password::check_policy(password).map_err(|m| Error::invalid("password", m))?;
    Ok(username)
}

pub async fn find(store: &Store, username: &str) -> Result<User> {
    let name = Username::parse(username).map_err(|m| Error::invalid("username", m))?;
    store
        .user_by_name(&name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {name}")))
}

pub async fn get(store: &Store, id: i64) -> Result<User> {
    store
        .user(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {id}")))
}

/// Sets a new password and ends the user's other sessions (`keep_session` stays).
pub async fn set_password(
    store: &Store,
    actor: &Actor,
    user: &User,
    password: SecretString,
    keep_session: Option<&str>,
) -> Result<()> {
    password::check_policy(&password).map_err(|m| Error::invalid("password", m))?;
    let hash = password::hash(password).await;
    store.set_password_hash(user.id, &hash).await?;
    store.delete_user_sessions(user.id, keep_session).await?;
    audit(
        store,
        actor,
        "user.password",
        &user.username,
        json!({"id": user.id}),
    )
    .await
}

/// Changes role and/or disabled state. Refuses to leave no enabled administrator.
pub async fn update(
    store: &Store,
    actor: &Actor,
    user: &User,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<User> {
    let demotes = role.is_some_and(|r| r != Role::Admin) || disabled == Some(true);
    if user.role == Role::Admin
        && !user.disabled
        && demotes
        && store.count_other_active_admins(user.id).await? == 0
    {
        return Err(Error::Conflict(
            "this is the last enabled administrator; promote another user first".into(),
        ));
    }
    if let Some(r) = role.filter(|r| *r != user.role) {
        store.set_role(user.id, r).await?;
        store.delete_user_sessions(user.id, None).await?;
        audit(
            store,
            actor,
            "user.role",
            &user.username,
            json!({"id": user.id, "from": user.role, "to": r}),
        )
        .await?;
    }
    if let Some(d) = disabled.filter(|d| *d != user.disabled) {
        store.set_disabled(user.id, d).await?;
        if d {
            store.delete_user_sessions(user.id, None).await?;
        }
        let action = if d { "user.disable" } else { "user.enable" };
        audit(store, actor, action, &user.username, json!({"id": user.id})).await?;
    }
    get(store, user.id).await
}

pub async fn delete(store: &Store, actor: &Actor, user: &User) -> Result<()> {
    if actor.user_id == Some(user.id) {
        return Err(Error::Conflict("you cannot delete your own account".into()));
    }
    if user.role == Role::Admin
        && !user.disabled
        && store.count_other_active_admins(user.id).await? == 0
    {
        return Err(Error::Conflict(
            "this is the last enabled administrator; promote another user first".into(),
        ));
    }
    let revoked_tokens = super::tokens::delete_creator(store, actor, user).await?;
    audit(
        store,
        actor,
        "user.delete",
        &user.username,
        json!({"id": user.id, "revoked_tokens": revoked_tokens}),
    )
    .await
}

pub(super) async fn audit(
    store: &Store,
    actor: &Actor,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<()> {
    store
        .audit(AuditRecord {
            actor: &actor.name,
            action,
            target,
            source_ip: actor.source_ip.as_deref(),
            details,
        })
        .await?;
    Ok(())
}
