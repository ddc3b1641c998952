//! `/groups`: the agent groups with their agent counts; operators create and delete
//! them (through `/api/v1/groups`). Agents join groups on their own page, tests are
//! assigned to groups in the test form.

use super::{can_operate, page};
use crate::error::Result;
use crate::http::Ctx;
use serde_json::json;
use std::collections::HashMap;
use warp::reply::Response;

pub async fn list(ctx: Ctx) -> Result<Response> {
    let mut groups = ctx.state.store.list_groups().await?;
    groups.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let mut members: HashMap<i64, usize> = HashMap::new();
    for a in ctx.state.store.list_agents().await? {
        for g in a.groups {
            *members.entry(g).or_default() += 1;
        }
    }
    let rows: Vec<_> = groups
        .iter()
        .map(|g| json!({"g": g, "agents": members.get(&g.id).copied().unwrap_or(0)}))
        .collect();
    page(
        &ctx,
        "groups",
        "Groups",
        "groups",
        None,
        json!({"rows": rows, "operator": can_operate(&ctx)}),
    )
}
