use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::routes::ok;
use crate::settings::RuntimeSettings;
use crate::store::agents::Agent;
use crate::store::audit::AuditRecord;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::reply::Response;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Online,
    Offline,
    NeverSeen,
    Revoked,
}

/// An agent with its status computed from heartbeat age at read time.
#[derive(Serialize, JsonSchema)]
pub struct AgentView {
    #[serde(flatten)]
    pub agent: Agent,
    pub status: AgentStatus,
}

pub fn status(agent: &Agent, settings: &RuntimeSettings, now_ms: i64) -> AgentStatus {
    let offline_after = settings.get("agent_offline_after_seconds") * 1000;
    match (agent.revoked_at, agent.last_seen_at) {
        (Some(_), _) => AgentStatus::Revoked,
        (None, None) => AgentStatus::NeverSeen,
        (None, Some(seen)) if now_ms - seen.0 <= offline_after => AgentStatus::Online,
        (None, Some(_)) => AgentStatus::Offline,
    }
}

async fn views(ctx: &Ctx, agents: Vec<Agent>) -> Result<Vec<AgentView>> {
    let settings = ctx.state.settings.get(&ctx.state.store).await?;
    let now = ctx.state.store.clock().now_ms();
    Ok(agents
        .into_iter()
        .map(|a| AgentView {
            status: status(&a, &settings, now),
            agent: a,
        })
        .collect())
}

pub async fn list(ctx: Ctx) -> Result<Response> {
    let agents = ctx.state.store.list_agents().await?;
    ok(&views(&ctx, agents).await?)
}

async fn one(ctx: &Ctx, id: i64) -> Result<AgentView> {
    let agent = ctx
        .state
        .store
        .agent(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("agent {id}")))?;
    Ok(views(ctx, vec![agent]).await?.remove(0))
}

pub async fn get(ctx: Ctx) -> Result<Response> {
    ok(&one(&ctx, ctx.id("id")?).await?)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupIds {
    pub groups: Vec<i64>,
}

pub async fn set_groups(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let body: GroupIds = ctx.json()?;
    let store = &ctx.state.store;
    let agent = store
        .agent(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("agent {id}")))?;
    let missing = store.missing_ids("agent_groups", &body.groups).await?;
    if !missing.is_empty() {
        return Err(Error::invalid(
            "groups",
            format!("no such group: {missing:?}"),
        ));
    }
    store.set_agent_groups(id, &body.groups).await?;
    let actor = ctx.actor();
    store
        .audit(AuditRecord {
            actor: &actor.name,
            action: "agent.groups",
            target: &format!("agent:{}", agent.id),
            source_ip: actor.source_ip.as_deref(),
            details: serde_json::json!({"from": agent.groups, "to": body.groups}),
        })
        .await?;
    ok(&one(&ctx, id).await?)
}
