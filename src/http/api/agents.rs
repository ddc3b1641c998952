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

pub async fn views(ctx: &Ctx, agents: Vec<Agent>) -> Result<Vec<AgentView>> {
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

/// Optional filters of `GET /api/v1/agents`; without them every agent is listed.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Case-insensitive substring of the name, hostname, version or OS.
    pub search: Option<String>,
    /// `online`, `offline`, `never_seen` or `revoked`.
    pub status: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// One page of agents matching `q`, and how many match in all.
pub async fn filtered(ctx: &Ctx, q: &ListQuery) -> Result<(Vec<AgentView>, usize)> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some("online") => Some(AgentStatus::Online),
        Some("offline") => Some(AgentStatus::Offline),
        Some("never_seen") => Some(AgentStatus::NeverSeen),
        Some("revoked") => Some(AgentStatus::Revoked),
        Some(other) => {
            return Err(Error::invalid(
                "status",
                format!(
                    "unknown status {other:?}: expected online, offline, never_seen or revoked"
                ),
            ));
        }
    };
    if q.limit == Some(0) || q.limit.is_some_and(|l| l > 1000) {
        return Err(Error::invalid("limit", "must be between 1 and 1000"));
    }
    let search = q.search.as_deref().unwrap_or("").trim().to_lowercase();
    let all = views(ctx, ctx.state.store.list_agents().await?).await?;
    let matching: Vec<AgentView> = all
        .into_iter()
        .filter(|a| status.is_none_or(|s| a.status == s))
        .filter(|a| {
            search.is_empty() || {
                let os = a
                    .agent
                    .facts
                    .get("os")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                [
                    &a.agent.name,
                    &a.agent.hostname,
                    a.agent.version.as_deref().unwrap_or(""),
                    &os,
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(&search))
            }
        })
        .collect();
    let total = matching.len();
    let page = matching
        .into_iter()
        .skip(q.offset.unwrap_or(0))
        .take(q.limit.unwrap_or(usize::MAX))
        .collect();
    Ok((page, total))
}

/// The agents (filtered and paged by the optional query); `X-Total-Count` says how many
/// match in all.
pub async fn list(ctx: Ctx) -> Result<Response> {
    let q: ListQuery = ctx.query()?;
    let (page, total) = filtered(&ctx, &q).await?;
    let mut r = ok(&page)?;
    r.headers_mut()
        .insert("x-total-count", warp::http::HeaderValue::from(total));
    Ok(r)
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

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentUpdate {
    /// What the agent is called in lists (1–100 characters).
    pub name: String,
}

async fn existing(ctx: &Ctx, id: i64) -> Result<Agent> {
    ctx.state
        .store
        .agent(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("agent {id}")))
}

async fn audit_agent(
    ctx: &Ctx,
    action: &str,
    agent: &Agent,
    details: serde_json::Value,
) -> Result<()> {
    let actor = ctx.actor();
    ctx.state
        .store
        .audit(AuditRecord {
            actor: &actor.name,
            action,
            target: &format!("agent:{}", agent.id),
            source_ip: actor.source_ip.as_deref(),
            details,
        })
        .await?;
    Ok(())
}

pub async fn update(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let body: AgentUpdate = ctx.json()?;
    let name = crate::names::human_name(&body.name).map_err(|m| Error::invalid("name", m))?;
    let agent = existing(&ctx, id).await?;
    ctx.state.store.rename_agent(id, name).await?;
    audit_agent(
        &ctx,
        "agent.rename",
        &agent,
        serde_json::json!({"from": agent.name, "to": name}),
    )
    .await?;
    ok(&one(&ctx, id).await?)
}

/// Revokes the agent and its credential: its next request gets 401
/// `agent credential revoked`.
pub async fn revoke(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let agent = existing(&ctx, id).await?;
    ctx.state.store.revoke_agent(id).await?;
    audit_agent(
        &ctx,
        "agent.revoke",
        &agent,
        serde_json::json!({"name": agent.name, "hostname": agent.hostname}),
    )
    .await?;
    ok(&one(&ctx, id).await?)
}

pub async fn delete(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let agent = existing(&ctx, id).await?;
    ctx.state.store.delete_agent(id).await?;
    audit_agent(
        &ctx,
        "agent.delete",
        &agent,
        serde_json::json!({"name": agent.name, "hostname": agent.hostname}),
    )
    .await?;
    Ok(crate::http::routes::no_content())
}
