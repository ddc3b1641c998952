//! `/tests/{id}/paths[?agent=<id>]`: the traceroute path page of a test for one agent —
//! the hop table (address, name, ASN/organisation, place, loss, RTT, MPLS), a schematic
//! chain of the hops, the hops on a map (Leaflet; tiles only from `ui.map_tile_url`,
//! otherwise markers and lines on a blank map: nothing leaves the machine), and the path
//! history with the changes and their hop diffs. Data: `api::paths::load`, the same as
//! `GET /api/v1/tests/{id}/paths`.

use crate::error::Result;
use crate::http::Ctx;
use crate::http::api::paths::{TestPaths, load, parse_agent};
use serde::Deserialize;
use serde_json::{Value, json};
use warp::reply::Response;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    agent: Option<String>,
}

fn ms(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |v| json!(format!("{v:.2}")))
}

fn hops_view(p: &TestPaths) -> (Vec<Value>, Vec<Value>) {
    let mut rows = Vec::new();
    let mut markers = Vec::new();
    let Some(cur) = &p.current else {
        return (rows, markers);
    };
    for hop in &cur.hops {
        let st = hop.stats.as_ref();
        let addrs: Vec<Value> = hop
            .addresses
            .iter()
            .map(|a| {
                let i = &a.info;
                if let (Some(lat), Some(lon)) = (i.lat, i.lon) {
                    markers.push(
                        json!({"ttl": hop.ttl, "address": a.address, "lat": lat, "lon": lon,
                        "label": format!("{} {}", hop.ttl, a.address)}),
                    );
                }
                let place = [i.city.as_deref(), i.country.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                json!({
                    "address": a.address,
                    "asn": i.asn,
                    "org": i.org,
                    "place": place,
                })
            })
            .collect();
        rows.push(json!({
            "ttl": hop.ttl,
            "silent": hop.addresses.is_empty(),
            "addresses": addrs,
            "name": st.and_then(|s| s.name.clone()),
            "loss": st.and_then(|s| s.loss_percent).map(|l| format!("{l:.1}")),
            "sent": st.and_then(|s| s.sent),
            "received": st.and_then(|s| s.received),
            "avg": ms(st.and_then(|s| s.rtt_avg_ms)),
            "min": ms(st.and_then(|s| s.rtt_min_ms)),
            "max": ms(st.and_then(|s| s.rtt_max_ms)),
            "stdev": ms(st.and_then(|s| s.rtt_stdev_ms)),
            "mpls": st.and_then(|s| s.mpls.clone()),
            "reply": st.and_then(|s| s.reply.clone()),
        }));
    }
    (rows, markers)
}

fn hop_text(addrs: &Option<Vec<String>>) -> String {
    match addrs {
        None => "—".into(),
        Some(a) if a.is_empty() => "*".into(),
        Some(a) => a.join(", "),
    }
}

pub async fn page(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let q: PageQuery = ctx.query()?;
    let agent = parse_agent(q.agent.as_deref())?;
    let p = load(&ctx, id, agent).await?;
    let t = ctx.state.store.test(id).await?.expect("load checked it");
    let all_agents = ctx.state.store.list_agents().await?;
    let agents: Vec<Value> = p
        .agents
        .iter()
        .map(|a| {
            let name = all_agents
                .iter()
                .find(|x| x.id == *a)
                .map_or_else(|| format!("agent {a}"), |x| x.name.clone());
            json!({"id": a, "name": name, "selected": Some(*a) == p.agent_id})
        })
        .collect();
    let (hops, markers) = hops_view(&p);
    let current_hash = p.current.as_ref().map(|c| c.hash.clone());
    let history: Vec<Value> = p
        .history
        .iter()
        .map(|h| {
            json!({
                "hash": h.hash, "path": h.path, "first_seen": h.first_seen, "last_seen": h.last_seen,
                "runs": h.runs, "current": Some(&h.hash) == current_hash.as_ref(),
            })
        })
        .collect();
    let changes: Vec<Value> = p
        .changes
        .iter()
        .map(|c| {
            json!({
                "at": c.at, "old_hash": c.old_hash, "new_hash": c.new_hash,
                "hops": c.diff.iter().map(|d| json!({
                    "ttl": d.ttl,
                    "before": hop_text(&d.before),
                    "after": hop_text(&d.after),
                    "left": d.left.join(", "),
                    "appeared": d.appeared.join(", "),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let ui = &ctx.state.config.ui;
    let title = format!("Paths of {}", t.name);
    super::page(
        &ctx,
        "paths",
        &title,
        "tests",
        None,
        json!({
            "t": {"id": t.id, "name": t.name, "target": t.spec.target},
            "agents": agents,
            "agent_id": p.agent_id,
            "current": p.current.as_ref().map(|c| json!({"hash": c.hash, "at": c.at})),
            "hops": hops,
            "markers": serde_json::to_string(&markers).expect("markers serialise"),
            "has_markers": !markers.is_empty(),
            "history": history,
            "changes": changes,
            "geoip": {"asn": p.geoip.asn, "city": p.geoip.city},
            "tile_url": ui.map_tile_url,
            "tile_attribution": ui.map_attribution,
        }),
    )
}
