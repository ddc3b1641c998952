//! `/agents` (list: search, status filter, server-side pages; polls
//! `GET /api/v1/agents` with the same query) and `/agents/{id}` (facts, groups, its
//! tests, the targets it refuses to probe, and the rename / revoke / delete actions for
//! operators). Both show each agent's health from the open analytics insights.

use super::{can_operate, page, page_offset};
use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::api::agent::ProbePolicy;
use crate::http::api::agents::{ListQuery, filtered, views};
use crate::store::insights::{HealthState, SubjectHealth, health};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use warp::reply::Response;

pub const PAGE_SIZE: usize = 50;

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    search: String,
    #[serde(default)]
    status: String,
    page: Option<i64>,
}

/// A host fact as display text: strings as they are, anything else as compact JSON.
pub fn fact_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The targets an agent refuses to probe, as it reported them in its heartbeat facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedTargets {
    pub policy: ProbePolicy,
    /// Where the list comes from, for the reader.
    pub note: &'static str,
}

impl RefusedTargets {
    /// From an agent's stored heartbeat facts (`{}` before its first heartbeat).
    pub fn of(facts: &Value) -> Self {
        match facts.get("probe_policy") {
            Some(v) => RefusedTargets {
                // Validated when the heartbeat was accepted.
                policy: serde_json::from_value(v.clone()).unwrap_or_default(),
                note: "as the agent reports it ([probes] deny / allow)",
            },
            None => RefusedTargets {
                policy: ProbePolicy::agent_default(),
                // Enrolment facts carry no policy; the first heartbeat does.
                note: "not reported yet: the default of this agent version (agents older than the policy refuse nothing)",
            },
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"deny": self.policy.deny, "allow": self.policy.allow, "note": self.note})
    }
}

/// A health badge: the state, and for an unhealthy subject the link to its open
/// insights (`filter` is their query: `agent=3`, `test=5`) and their summaries.
pub fn health_badge(h: Option<&SubjectHealth>, filter: &str) -> Value {
    match h {
        Some(h) if h.state != HealthState::Healthy => json!({
            "state": h.state.as_str(),
            "url": format!("/insights?state=open&{filter}"),
            "count": h.insights.len(),
            "title": h.insights.iter().map(|i| i.summary.as_str()).collect::<Vec<_>>().join("\n"),
            "insights": h.insights,
        }),
        _ => {
            json!({"state": "healthy", "url": null, "count": 0, "title": "No open insight", "insights": []})
        }
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn group_names(ctx: &Ctx) -> Result<HashMap<i64, String>> {
    Ok(ctx
        .state
        .store
        .list_groups()
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect())
}

pub async fn list(ctx: Ctx) -> Result<Response> {
    let q: PageQuery = ctx.query()?;
    let (page_no, offset) = page_offset(q.page, PAGE_SIZE as i64)?;
    let offset =
        usize::try_from(offset).map_err(|_| Error::invalid("page", "is beyond any list"))?;
    let api_query = ListQuery {
        search: Some(q.search.clone()),
        status: Some(q.status.clone()),
        limit: Some(PAGE_SIZE),
        offset: Some(offset),
    };
    let (agents, total) = filtered(&ctx, &api_query).await?;
    let groups = group_names(&ctx).await?;
    let report = health(&ctx.state.store.open_insights().await?);
    let rows: Vec<Value> = agents
        .iter()
        .map(|a| {
            json!({
                "a": a,
                "health": health_badge(report.agents.get(&a.agent.id), &format!("agent={}", a.agent.id)),
                "os": a.agent.facts.get("os").map(fact_text).unwrap_or_default(),
                "groups": a.agent.groups.iter().map(|g| groups.get(g).cloned().unwrap_or_else(|| format!("#{g}"))).collect::<Vec<_>>(),
            })
        })
        .collect();
    let pages = total.div_ceil(PAGE_SIZE).max(1) as i64;
    let base = format!(
        "/agents?search={}&status={}",
        enc(&q.search),
        enc(&q.status)
    );
    let poll = format!(
        "/api/v1/agents?search={}&status={}&limit={PAGE_SIZE}&offset={}",
        enc(&q.search),
        enc(&q.status),
        offset
    );
    let statuses: Vec<Value> = ["", "online", "offline", "never_seen", "revoked"]
        .iter()
        .map(|s| json!({"value": s, "label": if s.is_empty() { "any status" } else { s }, "selected": *s == q.status}))
        .collect();
    page(
        &ctx,
        "agents",
        "Agents",
        "agents",
        Some(&poll),
        json!({
            "rows": rows,
            "total": total,
            "search": q.search,
            "statuses": statuses,
            "filtered": !q.search.is_empty() || !q.status.is_empty(),
            "page": page_no,
            "pages": pages,
            "prev": (page_no > 1).then(|| format!("{base}&page={}", page_no - 1)),
            "next": (page_no < pages).then(|| format!("{base}&page={}", page_no + 1)),
        }),
    )
}

pub async fn detail(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let agent = ctx
        .state
        .store
        .agent(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("agent {id}")))?;
    let view = views(&ctx, vec![agent]).await?.remove(0);
    let groups = group_names(&ctx).await?;
    let mut all_groups: Vec<Value> = groups
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name, "selected": view.agent.groups.contains(id)}))
        .collect();
    all_groups.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let refused = RefusedTargets::of(&view.agent.facts).to_json();
    let facts: Vec<Value> = match &view.agent.facts {
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| k.as_str() != "probe_policy")
            .map(|(k, v)| json!({"key": k, "value": fact_text(v)}))
            .collect(),
        _ => Vec::new(),
    };
    let report = health(&ctx.state.store.open_insights().await?);
    let mut tests = ctx.state.store.tests_for_agent(id).await?;
    tests.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let title = format!("Agent {}", view.agent.name);
    page(
        &ctx,
        "agent",
        &title,
        "agents",
        Some(&format!("/api/v1/agents/{id}")),
        json!({
            "a": view,
            "health": health_badge(report.agents.get(&id), &format!("agent={id}")),
            "facts": facts,
            "refused": refused,
            "groups": view.agent.groups.iter().map(|g| groups.get(g).cloned().unwrap_or_else(|| format!("#{g}"))).collect::<Vec<_>>(),
            "tests": tests,
            "all_groups": all_groups,
            "operator": can_operate(&ctx),
        }),
    )
}
