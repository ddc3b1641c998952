use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::routes::{created, no_content, ok};
use crate::store::audit::AuditRecord;
use schemars::JsonSchema;
use serde::Deserialize;
use warp::reply::Response;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

pub async fn list(ctx: Ctx) -> Result<Response> {
    ok(&ctx.state.store.list_groups().await?)
}

impl NewGroup {
    /// Checks the input; returns the name as stored (trimmed).
    pub(crate) fn validate(&self) -> Result<&str> {
        let name = crate::names::human_name(&self.name).map_err(|m| Error::invalid("name", m))?;
        if self.description.chars().count() > 1000 {
            return Err(Error::invalid(
                "description",
                "must be at most 1000 characters",
            ));
        }
        Ok(name)
    }
}

pub async fn create(ctx: Ctx) -> Result<Response> {
    let body: NewGroup = ctx.json()?;
    let name = body.validate()?;
    let group = ctx
        .state
        .store
        .create_group(name, &body.description)
        .await?;
    let actor = ctx.actor();
    ctx.state
        .store
        .audit(AuditRecord {
            actor: &actor.name,
            action: "group.create",
            target: &format!("group:{}", group.id),
            source_ip: actor.source_ip.as_deref(),
            details: serde_json::json!({"name": group.name}),
        })
        .await?;
    created(&group)
}

pub async fn delete(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    ctx.state
        .store
        .delete_group(id)
        .await
        .map_err(|_| Error::NotFound(format!("group {id}")))?;
    let actor = ctx.actor();
    ctx.state
        .store
        .audit(AuditRecord {
            actor: &actor.name,
            action: "group.delete",
            target: &format!("group:{id}"),
            source_ip: actor.source_ip.as_deref(),
            details: serde_json::Value::Null,
        })
        .await?;
    Ok(no_content())
}
