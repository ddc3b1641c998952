//! `GET /api/v1/dashboard`: the dashboard's numbers (the page at `/` polls it).

use super::agents::{AgentStatus, AgentView, views};
use crate::error::Result;
use crate::http::Ctx;
use crate::http::routes::ok;
use schemars::JsonSchema;
use serde::Serialize;
use warp::reply::Response;

#[derive(Serialize, JsonSchema, Default)]
pub struct AgentCounts {
    pub total: usize,
    pub online: usize,
    pub offline: usize,
    pub never_seen: usize,
    pub revoked: usize,
}

#[derive(Serialize, JsonSchema)]
pub struct TestCounts {
    pub total: i64,
    /// Enabled tests.
    pub active: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct Dashboard {
    pub agents: AgentCounts,
    pub tests: TestCounts,
    /// Agents that need attention (offline, or enrolled but never heard from), at most
    /// [`MAX_PROBLEMS`], longest silent first.
    pub problems: Vec<AgentView>,
    /// How many agents need attention in all.
    pub problems_total: usize,
}

pub const MAX_PROBLEMS: usize = 24;

pub async fn dashboard(ctx: &Ctx) -> Result<Dashboard> {
    let agents = views(ctx, ctx.state.store.list_agents().await?).await?;
    let mut counts = AgentCounts {
        total: agents.len(),
        ..AgentCounts::default()
    };
    let mut problems = Vec::new();
    for a in agents {
        match a.status {
            AgentStatus::Online => counts.online += 1,
            AgentStatus::Offline => counts.offline += 1,
            AgentStatus::NeverSeen => counts.never_seen += 1,
            AgentStatus::Revoked => counts.revoked += 1,
        }
        if matches!(a.status, AgentStatus::Offline | AgentStatus::NeverSeen) {
            problems.push(a);
        }
    }
    problems.sort_by_key(|a| a.agent.last_seen_at.map_or(i64::MIN, |t| t.0));
    let problems_total = problems.len();
    problems.truncate(MAX_PROBLEMS);
    let (total, active) = ctx.state.store.count_tests().await?;
    Ok(Dashboard {
        agents: counts,
        tests: TestCounts { total, active },
        problems,
        problems_total,
    })
}

pub async fn get(ctx: Ctx) -> Result<Response> {
    ok(&dashboard(&ctx).await?)
}
