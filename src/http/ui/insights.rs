//! `/insights` (Open / Resolved tabs, scope and severity filters in the query string;
//! polls `GET /api/v1/insights` with the same filter) and `/insights/{id}` (the
//! insight's facts and its evidence chart: per evidence series the metric, the
//! forecast band and the anomalous points from `GET /api/v1/tests/{id}/forecast` over
//! the insight's window ± max(1 h, 2 × its duration), the window shaded; drawn by
//! `charts.js`).

use super::page;
use crate::error::Result;
use crate::http::Ctx;
use crate::http::api::insights as api;
use crate::http::api::series::MAX_CUSTOM_SPAN_MS;
use crate::store::insights::{InsightRecord, SCOPES, SEVERITIES};
use serde_json::{Value, json};
use std::collections::HashMap;
use warp::reply::Response;

/// Most evidence series charted on an insight's page.
pub const MAX_EVIDENCE_CHARTS: usize = 12;
const HOUR_MS: i64 = 3_600_000;

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Agent id → name and test id → name, for links.
struct Names {
    agents: HashMap<i64, String>,
    tests: HashMap<i64, String>,
}

impl Names {
    async fn load(ctx: &Ctx) -> Result<Self> {
        let store = &ctx.state.store;
        Ok(Names {
            agents: store
                .list_agents()
                .await?
                .into_iter()
                .map(|a| (a.id, a.name))
                .collect(),
            tests: store
                .test_names()
                .await?
                .into_iter()
                .map(|(id, name, _)| (id, name))
                .collect(),
        })
    }

    fn agent(&self, id: i64) -> Value {
        match self.agents.get(&id) {
            Some(name) => json!({"id": id, "name": name, "exists": true}),
            None => json!({"id": id, "name": format!("agent {id} (deleted)"), "exists": false}),
        }
    }

    fn test(&self, id: Option<i64>) -> Value {
        id.map_or(Value::Null, |id| match self.tests.get(&id) {
            Some(name) => json!({"id": id, "name": name}),
            None => json!({"id": id, "name": format!("test {id}")}),
        })
    }
}

/// What a page shows of an insight (both pages).
fn view(i: &InsightRecord, names: &Names, now_ms: i64) -> Value {
    let end = i.resolved_at.unwrap_or(now_ms);
    json!({
        "id": i.id,
        "kind": i.kind,
        "metric": i.metric,
        "scope": i.scope,
        "severity": i.severity,
        "critical": i.severity == "critical",
        "state": i.state,
        "open": i.state == "open",
        "summary": i.summary,
        "target": i.target,
        "test": names.test(i.test_id),
        "agents": i.agent_ids.iter().map(|a| names.agent(*a)).collect::<Vec<_>>(),
        "agents_seen": i.agent_ids.len(),
        "agents_total": i.agents_total,
        "started_at": i.started_at,
        "detected_at": i.detected_at,
        "updated_at": i.updated_at,
        "resolved_at": i.resolved_at,
        "duration_s": (end.saturating_sub(i.started_at) / 1000).max(0),
        "expected": i.expected.map(|v| format!("{v:.2} {}", i.unit)),
        "observed": i.observed.map(|v| format!("{v:.2} {}", i.unit)),
        "fingerprint": i.fingerprint,
    })
}

pub async fn list(ctx: Ctx) -> Result<Response> {
    let mut f = api::requested_filter(&ctx)?;
    if f.state.is_none() {
        f.state = Some("open".into());
    }
    let (insights, total) = api::listing(&ctx, &f).await?;
    let names = Names::load(&ctx).await?;
    let now = ctx.state.store.clock().now_ms();
    let state = f.state.clone().unwrap_or_default();
    // The query string of this view with another state (the tabs keep the filters).
    let query = |state: &str| {
        let mut q = format!("state={state}");
        for (k, v) in [
            ("scope", f.scope.clone()),
            ("severity", f.severity.clone()),
            ("test", f.test_id.map(|t| t.to_string())),
            ("agent", f.agent_id.map(|a| a.to_string())),
        ] {
            if let Some(v) = v {
                q.push_str(&format!("&{k}={}", enc(&v)));
            }
        }
        q
    };
    let option = |v: &str, selected: &Option<String>| json!({"value": v, "selected": selected.as_deref() == Some(v)});
    let rows: Vec<Value> = insights.iter().map(|i| view(i, &names, now)).collect();
    page(
        &ctx,
        "insights",
        "Insights",
        "insights",
        Some(&format!(
            "/api/v1/insights?{}&limit={}",
            query(&state),
            f.limit
        )),
        json!({
            "rows": rows,
            "total": total,
            "shown": rows.len(),
            "more": total > rows.len() as i64,
            "open_tab": state == "open",
            "state": state,
            "open_url": format!("/insights?{}", query("open")),
            "resolved_url": format!("/insights?{}", query("resolved")),
            "scopes": SCOPES.iter().map(|s| option(s, &f.scope)).collect::<Vec<_>>(),
            "severities": SEVERITIES.iter().map(|s| option(s, &f.severity)).collect::<Vec<_>>(),
            "test_id": f.test_id,
            "agent_id": f.agent_id,
            "filter_test": names.test(f.test_id),
            "filter_agent": f.agent_id.map(|a| names.agent(a)),
            "filtered": f.scope.is_some() || f.severity.is_some() || f.test_id.is_some() || f.agent_id.is_some(),
        }),
    )
}

/// The time span an insight's evidence charts show: its window (start to resolution,
/// or now while open) widened on both sides by max(1 h, 2 × its duration), never past
/// now, at most the longest custom chart range.
pub fn evidence_span(i: &InsightRecord, now_ms: i64) -> (i64, i64) {
    let end = i.resolved_at.unwrap_or(now_ms).max(i.started_at);
    let pad = end
        .saturating_sub(i.started_at)
        .saturating_mul(2)
        .max(HOUR_MS);
    let to = end
        .saturating_add(pad)
        .min(now_ms.max(end))
        .max(i.started_at + 1);
    let from = i.started_at.saturating_sub(pad).max(0);
    let from = from.max(to - MAX_CUSTOM_SPAN_MS);
    (from, to)
}

/// The evidence series to chart: each names an agent and a measurement field; a
/// series without a test takes the insight's.
fn evidence_charts(i: &InsightRecord, names: &Names, now_ms: i64) -> (Vec<Value>, usize) {
    let (from, to) = evidence_span(i, now_ms);
    let series = i.evidence["series"].as_array().cloned().unwrap_or_default();
    let mut charts = Vec::new();
    let mut skipped = 0;
    for s in &series {
        let agent = s["agent_id"].as_i64();
        let test = s["test_id"].as_i64().or(i.test_id);
        let metric = match (s["measurement"].as_str(), s["field"].as_str()) {
            (Some(m), Some(f)) => format!("{m}.{f}"),
            _ => i.metric.clone(),
        };
        let (Some(agent), Some(test)) = (agent, test) else {
            skipped += 1;
            continue;
        };
        if charts.len() == MAX_EVIDENCE_CHARTS {
            skipped += 1;
            continue;
        }
        let agent_name = names.agent(agent)["name"].clone();
        let target = s["target"].as_str().or(i.target.as_deref());
        let title = match target {
            Some(t) => format!("{} → {t}: {metric}", agent_name.as_str().unwrap_or("")),
            None => format!("{}: {metric}", agent_name.as_str().unwrap_or("")),
        };
        charts.push(json!({
            "n": charts.len(),
            "title": title,
            "url": format!(
                "/api/v1/tests/{test}/forecast?agent={agent}&field={}&from={from}&to={to}",
                enc(&metric)
            ),
        }));
    }
    (charts, skipped)
}

pub async fn detail(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let i = api::load(&ctx, id).await?;
    let names = Names::load(&ctx).await?;
    let now = ctx.state.store.clock().now_ms();
    let (charts, skipped) = evidence_charts(&i, &names, now);
    let notes: Vec<String> = i.evidence["notes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let change = i.evidence["change_percent"]
        .as_f64()
        .map(|c| format!("{c:+.1} %"));
    let title = format!("Insight {id}");
    page(
        &ctx,
        "insight",
        &title,
        "insights",
        Some(&format!("/api/v1/insights/{id}")),
        json!({
            "i": view(&i, &names, now),
            "many": charts.len() > 1,
            "charts": charts,
            "skipped": skipped,
            "notes": notes,
            "change": change,
            "window_from": i.started_at,
            "window_to": i.resolved_at,
            "evidence_json": serde_json::to_string_pretty(&i.evidence).unwrap_or_default(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insight(started: i64, resolved: Option<i64>) -> InsightRecord {
        InsightRecord {
            id: 1,
            fingerprint: "f".into(),
            kind: "latency".into(),
            metric: "ping.rtt_avg_ms".into(),
            scope: "pair".into(),
            test_id: Some(3),
            target: Some("10.0.3.1".into()),
            agent_ids: vec![1],
            agents_total: 1,
            severity: "warning".into(),
            state: if resolved.is_some() {
                "resolved"
            } else {
                "open"
            }
            .into(),
            started_at: started,
            detected_at: started,
            updated_at: started,
            resolved_at: resolved,
            expected: None,
            observed: None,
            unit: "ms".into(),
            summary: "s".into(),
            evidence: json!({}),
        }
    }

    #[test]
    fn the_evidence_span_pads_by_an_hour_or_twice_the_duration() {
        let now = 100 * HOUR_MS;
        // Resolved after 10 minutes, long ago: an hour either side.
        let i = insight(10 * HOUR_MS, Some(10 * HOUR_MS + 600_000));
        assert_eq!(
            evidence_span(&i, now),
            (9 * HOUR_MS, 11 * HOUR_MS + 600_000)
        );
        // Resolved after 3 hours: 6 hours either side.
        let i = insight(10 * HOUR_MS, Some(13 * HOUR_MS));
        assert_eq!(evidence_span(&i, now), (4 * HOUR_MS, 19 * HOUR_MS));
        // Open for 30 minutes: an hour before, and up to now.
        let i = insight(now - 1_800_000, None);
        assert_eq!(evidence_span(&i, now), (now - 1_800_000 - HOUR_MS, now));
        // Started at 0: never before 1970.
        assert_eq!(evidence_span(&insight(0, Some(1)), now).0, 0);
        // Very long: within the longest custom range.
        let i = insight(0, Some(900 * 86_400_000));
        let (from, to) = evidence_span(&i, 2000 * 86_400_000);
        assert!(to - from <= MAX_CUSTOM_SPAN_MS && from >= 0);
    }
}
