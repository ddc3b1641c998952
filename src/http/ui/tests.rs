//! `/tests` (list with search and kind filter; polls `GET /api/v1/tests`),
//! `/tests/new` and `/tests/{id}/edit` (one form, a fieldset per test kind generated
//! from the kind catalogue; `app.js`
//! sends it to `POST`/`PUT /api/v1/tests` and puts the API's per-field errors next to
//! the fields; under the target, the networks the agents refuse to probe and, for an
//! address target, which assigned agents refuse it), `/tests/{id}` (the definition;
//! polls `GET /api/v1/tests/{id}`).

use super::agents::{RefusedTargets, health_badge};
use super::{can_operate, page, page_offset};
use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::store::agents::Agent;
use crate::store::insights::health;
use crate::store::tests::{Assignments, TestFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::IpAddr;
use streamswarm_schema::kinds::{ParamDef, ParamType, TargetSyntax};
use streamswarm_schema::target_policy::TargetPolicy;
use streamswarm_schema::{TestKind, TestParams};
use warp::reply::Response;

pub const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    search: String,
    #[serde(default)]
    kind: String,
    page: Option<i64>,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The kinds for the kind filter and the test form, each with its parameters as form
/// inputs: everything comes from the kind catalogue (`schema/kinds/*.toml`).
fn kinds(selected: &str) -> Vec<Value> {
    streamswarm_schema::kinds::all()
        .iter()
        .map(|k| {
            let kind = k.kind.as_str();
            json!({
                "value": kind,
                "label": k.label,
                "description": k.description,
                "selected": kind == selected,
                "target_hint": target_hint(k.target),
                "params": k.params.iter().map(|p| param_input(kind, p)).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn target_hint(target: TargetSyntax) -> &'static str {
    match target {
        TargetSyntax::None => "none: the agent measures itself",
        TargetSyntax::Host => "host name or IP address",
        TargetSyntax::HostPort => "host:port, e.g. example.net:443 or [2001:db8::1]:22",
        TargetSyntax::DnsName => "DNS name to resolve (an IP address for PTR)",
        TargetSyntax::Url => "http:// or https:// URL",
    }
}

/// One parameter as the form's input: which control, its `data-type` for `app.js`, and
/// the limits the browser can show (the API checks them again).
fn param_input(kind: &str, p: &ParamDef) -> Value {
    let control = match (p.param_type, p.items) {
        (ParamType::Bool, _) => "checkbox",
        (ParamType::Enum, _) => "select",
        (ParamType::List, Some(ParamType::String)) => "lines",
        (ParamType::U8 | ParamType::U16 | ParamType::U32, _) => "number",
        _ => "text",
    };
    let data_type = match (p.param_type, p.items) {
        (ParamType::Bool, _) => "bool",
        (ParamType::List, Some(ParamType::String)) => "lines",
        (ParamType::List, _) => "int-list",
        (ParamType::U8 | ParamType::U16 | ParamType::U32, _) => "int",
        _ if p.optional => "optional",
        _ => "text",
    };
    let mut label = p.label.to_owned();
    if p.optional {
        label.push_str(" (optional)");
    }
    json!({
        "id": format!("p-{kind}-{}", p.name),
        "name": format!("params.{}", p.name),
        "label": label,
        "description": p.description,
        "control": control,
        "data_type": data_type,
        "options": p.values,
        "min": p.min,
        "max": p.max,
        "max_len": p.max_len,
        "wide": control == "lines" || p.param_type == ParamType::String,
    })
}

pub async fn list(ctx: Ctx) -> Result<Response> {
    let q: PageQuery = ctx.query()?;
    let kind = match q.kind.as_str() {
        "" => None,
        k => Some(
            TestKind::parse(k)
                .ok_or_else(|| Error::invalid("kind", format!("unknown test kind {k:?}")))?,
        ),
    };
    let (page_no, offset) = page_offset(q.page, PAGE_SIZE)?;
    let filter = TestFilter {
        search: Some(q.search.clone()),
        kind,
        limit: PAGE_SIZE,
        offset,
    };
    let (tests, total) = ctx.state.store.list_tests(&filter).await?;
    let report = health(&ctx.state.store.open_insights().await?);
    let rows: Vec<Value> = tests
        .iter()
        .map(|t| {
            let mut row = serde_json::to_value(t).map_err(|e| Error::Internal(e.into()))?;
            row["health"] = health_badge(report.tests.get(&t.id), &format!("test={}", t.id));
            Ok(row)
        })
        .collect::<Result<_>>()?;
    let pages = (total.max(0) as u64).div_ceil(PAGE_SIZE as u64).max(1) as i64;
    let base = format!("/tests?search={}&kind={}", enc(&q.search), enc(&q.kind));
    let poll = format!(
        "/api/v1/tests?search={}&kind={}&limit={PAGE_SIZE}&offset={}",
        enc(&q.search),
        enc(&q.kind),
        filter.offset
    );
    page(
        &ctx,
        "tests",
        "Tests",
        "tests",
        Some(&poll),
        json!({
            "tests": rows,
            "total": total,
            "search": q.search,
            "kinds": kinds(&q.kind),
            "filtered": !q.search.is_empty() || kind.is_some(),
            "page": page_no,
            "pages": pages,
            "prev": (page_no > 1).then(|| format!("{base}&page={}", page_no - 1)),
            "next": (page_no < pages).then(|| format!("{base}&page={}", page_no + 1)),
            "operator": can_operate(&ctx),
        }),
    )
}

/// Default parameters of every kind, for the form to fill in when the kind changes.
fn defaults() -> Value {
    Value::Object(
        TestKind::ALL
            .iter()
            .map(|k| {
                let p = TestParams::from_json(*k, json!({}))
                    .expect("defaults are valid")
                    .to_json();
                (k.as_str().to_owned(), p)
            })
            .collect(),
    )
}

/// Most agent names shown per refusal line before "and N more".
const NAMES_SHOWN: usize = 5;

fn names_text(names: &[&str]) -> String {
    match names.len() {
        0 => "New agents".to_owned(),
        n if n <= NAMES_SHOWN => names.join(", "),
        n => format!(
            "{} and {} more",
            names[..NAMES_SHOWN].join(", "),
            n - NAMES_SHOWN
        ),
    }
}

/// The networks agents refuse, one line per distinct policy with the agents that hold
/// it (with no agent yet: what a new agent refuses by default).
fn target_policies(agents: &[Agent]) -> Vec<Value> {
    let mut lines: Vec<(RefusedTargets, Vec<&str>)> = Vec::new();
    for agent in agents.iter().filter(|a| a.revoked_at.is_none()) {
        let refused = RefusedTargets::of(&agent.facts);
        match lines.iter_mut().find(|(r, _)| *r == refused) {
            Some((_, names)) => names.push(&agent.name),
            None => lines.push((refused, vec![&agent.name])),
        }
    }
    if lines.is_empty() {
        lines.push((RefusedTargets::of(&json!({})), Vec::new()));
    }
    lines
        .into_iter()
        .map(|(refused, names)| {
            let mut v = refused.to_json();
            v["agents"] = json!(names_text(&names));
            v
        })
        .collect()
}

/// For a target that is an address: the assigned agents whose policy refuses it, and
/// why. A host name is resolved by each agent at run time, so it is not judged here.
fn refusing_agents(target: &str, assignments: &Assignments, agents: &[Agent]) -> Vec<Value> {
    let host = target
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(target);
    let Ok(ip) = host.trim().parse::<IpAddr>() else {
        return Vec::new();
    };
    agents
        .iter()
        .filter(|a| {
            assignments.agents.contains(&a.id)
                || a.groups.iter().any(|g| assignments.groups.contains(g))
        })
        .filter_map(|a| {
            let refused = RefusedTargets::of(&a.facts);
            let policy =
                TargetPolicy::new("probes", &refused.policy.deny, &refused.policy.allow).ok()?;
            let denied = policy.check(ip).err()?;
            Some(json!({"agent": a.name, "reason": denied.to_string()}))
        })
        .collect()
}

async fn form_page(ctx: &Ctx, test: Option<Value>, id: Option<i64>) -> Result<Response> {
    let agents = ctx.state.store.list_agents().await?;
    let groups = ctx.state.store.list_groups().await?;
    let initial = test.unwrap_or_else(|| {
        json!({
            "name": "", "description": "", "kind": "ping", "target": "",
            "params": defaults()["ping"],
            "schedule": {"interval_seconds": 60, "jitter_seconds": 0, "one_shot": false},
            "enabled": true,
            "assignments": {"agents": [], "groups": []},
        })
    });
    let title = match id {
        Some(id) => format!("Edit test {id}"),
        None => "New test".to_owned(),
    };
    let assignments: Assignments =
        serde_json::from_value(initial["assignments"].clone()).unwrap_or_default();
    let refusing = refusing_agents(
        initial["target"].as_str().unwrap_or_default(),
        &assignments,
        &agents,
    );
    page(
        ctx,
        "test_form",
        &title,
        "tests",
        None,
        json!({
            "id": id,
            "method": if id.is_some() { "PUT" } else { "POST" },
            "action": id.map_or("/api/v1/tests".to_owned(), |i| format!("/api/v1/tests/{i}")),
            "initial_json": initial.to_string(),
            "defaults_json": defaults().to_string(),
            "kinds": kinds(""),
            "agents": agents.iter().map(|a| json!({"id": a.id, "name": a.name, "hostname": a.hostname})).collect::<Vec<_>>(),
            "groups": groups,
            "target_policies": target_policies(&agents),
            "refusing": refusing,
        }),
    )
}

pub async fn new(ctx: Ctx) -> Result<Response> {
    form_page(&ctx, None, None).await
}

async fn load(ctx: &Ctx) -> Result<crate::store::tests::TestRecord> {
    let id = ctx.id("id")?;
    ctx.test(id).await
}

pub async fn edit(ctx: Ctx) -> Result<Response> {
    let t = load(&ctx).await?;
    let v = serde_json::to_value(&t).map_err(|e| Error::Internal(e.into()))?;
    form_page(&ctx, Some(v), Some(t.id)).await
}

pub async fn detail(ctx: Ctx) -> Result<Response> {
    let t = load(&ctx).await?;
    let agents = ctx.state.store.list_agents().await?;
    let groups = ctx.state.store.list_groups().await?;
    let assigned_agents: Vec<Value> = agents
        .iter()
        .filter(|a| t.assignments.agents.contains(&a.id))
        .map(|a| json!({"id": a.id, "name": a.name}))
        .collect();
    let assigned_groups: Vec<Value> = groups
        .iter()
        .filter(|g| t.assignments.groups.contains(&g.id))
        .map(|g| json!({"id": g.id, "name": g.name}))
        .collect();
    // The capacity form: the agents that run the test (directly or through a group) and
    // the numeric fields its kind writes, the key field first chosen.
    let running: Vec<Value> = agents
        .iter()
        .filter(|a| {
            a.revoked_at.is_none()
                && (t.assignments.agents.contains(&a.id)
                    || a.groups.iter().any(|g| t.assignments.groups.contains(g)))
        })
        .map(|a| json!({"id": a.id, "name": a.name}))
        .collect();
    let (fields, key) = crate::http::api::insights::numeric_fields(t.spec.kind);
    let trend_fields: Vec<Value> = fields
        .iter()
        .map(|(name, unit)| json!({"name": name, "unit": unit, "key": Some(name) == key.as_ref()}))
        .collect();
    let params: Vec<Value> = match t.spec.params.to_json() {
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| json!({"key": k, "value": super::agents::fact_text(&v)}))
            .collect(),
        _ => Vec::new(),
    };
    let title = format!("Test {}", t.name);
    let id = t.id;
    let report = health(&ctx.state.store.open_insights().await?);
    let health = health_badge(report.tests.get(&id), &format!("test={id}"));
    page(
        &ctx,
        "test",
        &title,
        "tests",
        Some(&format!("/api/v1/tests/{id}")),
        json!({
            "t": t,
            "params": params,
            "agents": assigned_agents,
            "groups": assigned_groups,
            "unassigned": assigned_agents.is_empty() && assigned_groups.is_empty(),
            "health": health,
            "operator": can_operate(&ctx),
            "traceroute": t.spec.kind == streamswarm_schema::TestKind::Traceroute,
            "trend_agents": running,
            "trend_fields": trend_fields,
        }),
    )
}
